"""Screenshots of every page of a running demo, at each of its users' screens.

Look as the user does: run ``posplugin demo --data DIR > DIR.out`` for a
while (20 minutes shows what fixtures miss), then

    python3 dev/screenshots.py DIR.out OUT_FOLDER [--phone "+47 412 34 999"]

reads the demo's banner for the pages and their tokens, joins on /join as a
customer (the code is read from the demo's console), and writes
``OUT_FOLDER/PAGE-WIDTHxHEIGHT.png`` for /till, /floor, /hq, /join and /me at
the six screen sizes the browser tests use. The pages follow the demo's
language, so run one demo per language.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from helpers import SCREENS  # noqa: E402  (the sizes the browser tests check)

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def pages_of(console: str) -> dict[str, str]:
    """The demo banner's page URLs, by path (``till``, ``floor``, ``hq``, ``join``, ``me``)."""
    found = {}
    for url in re.findall(r"https?://\S+", console):
        path = re.match(r"https?://[^/]+/(\w+)", url)
        if path and path.group(1) in ("till", "floor", "hq", "join", "me") and path.group(1) not in found:
            found[path.group(1)] = url
    missing = {"till", "floor", "hq", "join", "me"} - found.keys()
    if missing:
        raise SystemExit(f"the console names no page for {', '.join(sorted(missing))}: is it a demo's output?")
    return found


def code_for(console_path: Path, tail: str, after: int, timeout_s: float = 30) -> str:
    """The join code the demo's console shows for a number ending in ``tail``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = console_path.read_text(encoding="utf-8", errors="replace")[after:]
        for line in reversed(text.splitlines()):
            found = re.search(r"(\d{6})\D.*" + re.escape(tail), line)
            if found:
                return found.group(1)
        time.sleep(0.3)
    raise SystemExit("the demo's console showed no join code within 30 s")


def shoot(page, out: Path, name: str, full_page: bool = False) -> None:
    """``name-WIDTHxHEIGHT.png`` at each screen: what its user sees without
    scrolling, or (``full_page``) the whole page, for pages read by scrolling."""
    for label, viewport in SCREENS.items():
        page.set_viewport_size(viewport)
        page.wait_for_timeout(400)
        page.screenshot(path=str(out / f"{name}-{label}.png"), full_page=full_page)


def join(page, url: str, console_path: Path, phone: str) -> None:
    """Join as a customer does, up to the last step (then /me is signed in)."""
    page.goto(url)
    page.wait_for_selector("#step-identify:not([hidden])")
    page.fill("#identifier", phone)
    seen = len(console_path.read_text(encoding="utf-8", errors="replace"))
    page.click("#identify-form button[type=submit]")
    page.wait_for_selector("#step-code:not([hidden])")
    page.fill("#code", code_for(console_path, phone[-2:], seen))
    page.click("#code-form button[type=submit]")
    page.wait_for_selector("#step-consent:not([hidden])")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("console", type=Path, help="the file the demo's console went to")
    parser.add_argument("out", type=Path, help="folder for the PNG files")
    parser.add_argument("--phone", default="+47 412 34 999", help="the number to join with")
    args = parser.parse_args()
    urls = pages_of(args.console.read_text(encoding="utf-8", errors="replace"))
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        for name in ("till", "floor", "hq"):
            page.goto(urls[name])
            page.wait_for_timeout(1500)  # the live stream's first events
            shoot(page, args.out, name, full_page=name == "hq")
        page.goto(urls["me"])
        shoot(page, args.out, "me-signed-out")
        join(page, urls["join"], args.console, args.phone)
        shoot(page, args.out, "join-consent")
        page.click("#agree")
        page.wait_for_selector("#step-done:not([hidden])")
        shoot(page, args.out, "join-done")
        page.goto(urls["me"])
        page.wait_for_timeout(1000)
        shoot(page, args.out, "me")
        browser.close()
    print(f"{len(list(args.out.glob('*.png')))} screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
