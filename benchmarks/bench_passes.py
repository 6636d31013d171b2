"""Identify by a scanned pass beside the plain identify, in the same run.

The store verifies a pass offline (Ed25519 signature, chain, expiry) before
the same lookup a typed identifier gets. Figures, each per call, in-process:

* floor: HMAC + indexed SELECT on the same list (what a typed identifier costs
  at the least), and a bare Ed25519 verify with the same library;
* plain identify by email, customer on the list, prompt already made;
* identify by pass, the same customers, prompt already made;
* the pass parser alone (decode + verify), valid passes and refused ones.

Run: python benchmarks/bench_passes.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import io
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from posplugin.config import Settings
from posplugin.errors import PassRefused
from posplugin.store.service import Store
from posplugin.tiers import feed, passes
from posplugin.tiers.lists import import_csv

KEY = "benchmark-identifier-key-0123456789"


def tier_csv(rows: int) -> io.StringIO:
    out = io.StringIO()
    out.write("identifier_type,identifier,followers,engagement_rate,niches,consent\n")
    for i in range(rows):
        out.write(f"email,customer{i}@example.com,{4000 + i % 5000},0.06,running;coffee,yes\n")
    out.seek(0)
    return out


def per_call(fn, items) -> float:
    t = time.perf_counter()
    for i, item in enumerate(items):
        fn(i, item)
    return (time.perf_counter() - t) / len(items)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=5_000)
    args = parser.parse_args()
    signing = Ed25519PrivateKey.generate()
    with tempfile.TemporaryDirectory() as work:
        store = Store(Settings(data_dir=Path(work), id_key=KEY, hq_public_key=feed.public_key_text(signing),
                               verify_level="murdoch"))
        import_csv(store.tiers, tier_csv(args.rows), store.hasher)
        emails = [f"customer{(i * 104729) % args.rows}@example.com" for i in range(args.calls)]
        now = time.time()
        scanned = [passes.issue(signing, store.hasher("email", e), now=now) for e in emails]
        lanes = 8

        def plain(i, email):
            store.identify(str(i % lanes), "email", email)

        def by_pass(i, text):
            store.identify(str(i % lanes), "pass", text)

        # Make every prompt first, so both measured rounds give an existing one back.
        per_call(by_pass, scanned)
        key, conn = KEY.encode(), sqlite3.connect(str(store.tiers.current_file()))

        def floor(i, email):
            h = hmac.new(key, ("email:" + email.strip().casefold()).encode(), hashlib.sha256).digest()
            conn.execute("SELECT followers, engagement_rate, niches FROM tiers WHERE hash = ?", (h,)).fetchone()

        public = signing.public_key()
        signed = [(passes.CONTEXT + e.encode(), signing.sign(passes.CONTEXT + e.encode())) for e in emails]

        def bare_verify(i, item):
            public.verify(item[1], item[0])

        verifier = passes.PassVerifier(feed.public_key_text(signing))

        def parse(i, text):
            verifier.verify(text, now=now)

        forged = [t[:40] + ("A" if t[40] != "A" else "B") + t[41:] for t in scanned]

        def refuse(i, text):
            try:
                verifier.verify(text, now=now)
            except PassRefused:
                pass

        figures = {name: per_call(fn, items) for name, fn, items in (
            ("floor", floor, emails), ("bare", bare_verify, signed), ("plain", plain, emails),
            ("pass", by_pass, scanned), ("parse", parse, scanned), ("refuse", refuse, forged))}
        store.close()
    us = {k: v * 1e6 for k, v in figures.items()}
    print(f"{args.rows:,}-row list, {args.calls:,} calls each, in-process, prompt already made")
    print(f"floor: HMAC + indexed SELECT {us['floor']:.1f} µs | bare Ed25519 verify {us['bare']:.1f} µs")
    print(f"identify by email (typed):     {us['plain']:.1f} µs | {us['plain'] / us['floor']:.2f}× HMAC floor")
    print(f"identify by pass (scanned):    {us['pass']:.1f} µs | {us['pass'] / us['plain']:.2f}× typed identify, "
          f"+{us['pass'] - us['plain']:.1f} µs")
    print(f"pass parser, valid:            {us['parse']:.1f} µs | {us['parse'] / us['bare']:.2f}× bare verify")
    print(f"pass parser, forged (refused): {us['refuse']:.1f} µs | {us['refuse'] / us['bare']:.2f}× bare verify")


if __name__ == "__main__":
    main()
