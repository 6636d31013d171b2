#!/usr/bin/env python3
"""A small mutation run: change one token of one line of a core module (a
comparison, a boolean operator, a sign, a constant, min/max, a ``not``), run
that module's tests, and count the mutants the tests kill.

    python3 dev/mutate.py                 # every module, a fixed sample per module
    python3 dev/mutate.py --per-module 0  # every mutant (slow: hundreds of test runs)
    python3 dev/mutate.py --module store/auth.py --show-survivors

Each mutant runs in a copy of the checkout, so the working tree is never
touched. A line that ends in ``# no mutate`` is skipped: keep that for tuning
constants no test can observe (a network timeout), and say why beside it.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import tokenize
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Module (under posplugin/) → the tests that should catch a bug in it.
TARGETS = {
    "tiers/policy.py": ["test_policy.py", "test_store.py"],
    "tiers/identity.py": ["test_identity.py", "test_tiers.py"],
    "store/baseline.py": ["test_baseline.py", "test_erlang.py", "test_queues.py"],
    "store/erlang.py": ["test_erlang.py", "test_queues.py"],
    "tiers/feed.py": ["test_feed.py", "test_sync.py"],
    "store/sync.py": ["test_sync.py"],
    "store/outbox.py": ["test_outbox.py", "test_hq.py"],
    "webhooks.py": ["test_webhooks.py", "test_hooks_after_sale.py", "test_hooks_qminder.py",
                    "test_hooks_waitwhile.py", "test_hooks_lightspeed.py", "test_hooks_axis_counter.py"],
    "web/ratelimit.py": ["test_ratelimit.py", "test_web.py"],
    "store/auth.py": ["test_auth.py", "test_web.py"],
}

SWAPS = {">=": ">", ">": ">=", "<=": "<", "<": "<=", "==": "!=", "!=": "==", "+": "-", "-": "+",
         "*": "/", "and": "or", "or": "and", "True": "False", "False": "True", "min": "max", "max": "min",
         "is": "is not", "in": "not in"}


@dataclass(frozen=True)
class Mutant:
    module: str
    line: int
    col: int
    old: str
    new: str

    def apply(self, source: str) -> str:
        lines = source.splitlines(keepends=True)
        text = lines[self.line - 1]
        assert text[self.col:self.col + len(self.old)] == self.old
        lines[self.line - 1] = text[:self.col] + self.new + text[self.col + len(self.old):]
        return "".join(lines)

    def __str__(self) -> str:
        return f"{self.module}:{self.line}: {self.old!r} -> {self.new!r}"


def mutants(module: str, source: str) -> list[Mutant]:
    """Every one-token mutant of ``source`` outside strings, comments, docstrings,
    logging calls and lines marked ``# no mutate``."""
    lines = source.splitlines()
    out = []
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    for i, tok in enumerate(tokens):
        row, col = tok.start
        if row > len(lines) or tok.type in (tokenize.STRING, tokenize.COMMENT):
            continue
        text = lines[row - 1]
        stripped = text.strip()
        if "# no mutate" in text or stripped.startswith(("log.", "import ", "from ", "@")):
            continue
        prev = tokens[i - 1].string if i else ""
        nxt = tokens[i + 1].string if i + 1 < len(tokens) else ""
        if tok.type == tokenize.OP and tok.string in SWAPS:
            if tok.string == "*" and (prev in ("(", ",") or nxt in (")", ",")):
                continue  # a bare * among parameters, not a product
            if tok.string in ("-", "+") and prev in ("(", ",", "=", "[", "return", ":", "->"):
                continue  # a sign, not an operator
            out.append(Mutant(module, row, col, tok.string, SWAPS[tok.string]))
        elif tok.type == tokenize.NAME and tok.string in SWAPS:
            if tok.string == "is" and nxt == "not":
                continue
            if tok.string == "in" and (prev == "not" or stripped.startswith("for ") or " for " in text):
                continue
            out.append(Mutant(module, row, col, tok.string, SWAPS[tok.string]))
        elif tok.type == tokenize.NAME and tok.string == "not" and nxt != "in" and prev != "is":
            out.append(Mutant(module, row, col, "not ", ""))
        elif tok.type == tokenize.NUMBER and prev != "." and not text.lstrip().startswith("@"):
            value = tok.string.replace("_", "")
            try:
                bumped = str(int(value) + 1) if value.isdigit() else repr(float(value) * 1.1)
            except ValueError:
                continue
            out.append(Mutant(module, row, col, tok.string, bumped))
    return [m for m in out if m.old != m.new]


def copy_checkout(into: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout.split()
    for name in files:
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, target)


def run_tests(checkout: Path, tests: list[str], timeout: float, quick: bool = False) -> str:
    """``killed``, ``survived`` or ``timeout`` (a hang counts as killed)."""
    marks = "not slow and not browser" if quick else "not browser"
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", marks,
               *[f"tests/{t}" for t in tests]]
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSPLUGIN_")}
    env["PYTHONPATH"] = str(checkout)
    try:
        done = subprocess.run(command, cwd=checkout, env=env, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout"
    return "survived" if done.returncode == 0 else "killed"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", action="append", help="a module under posplugin/ (default: all targets)")
    parser.add_argument("--per-module", type=int, default=12, help="mutants sampled per module; 0 for all")
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=240, help="seconds per test run")
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument("--quick", action="store_true", help="leave out the tests marked slow")
    parser.add_argument("--show-survivors", action="store_true")
    parser.add_argument("--rerun", metavar="FILE",
                        help="run only the mutants listed as 'survived: …' in an earlier run's output")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    chosen: list[Mutant] = []
    wanted = None
    if args.rerun:
        wanted = {line.split("survived: ", 1)[1].strip()
                  for line in Path(args.rerun).read_text().splitlines() if line.startswith("survived: ")}
    for module in args.module or list(TARGETS):
        if wanted is not None:
            every = mutants(module, (REPO / "posplugin" / module).read_text(encoding="utf-8"))
            chosen += [m for m in every if str(m) in wanted]
            continue
        every = mutants(module, (REPO / "posplugin" / module).read_text(encoding="utf-8"))
        picked = every if args.per_module <= 0 or len(every) <= args.per_module else \
            sorted(rng.sample(every, args.per_module), key=lambda m: (m.line, m.col))
        print(f"{module}: {len(every)} mutants, running {len(picked)}", file=sys.stderr)
        chosen += picked
    if args.list:
        print("\n".join(map(str, chosen)))
        return 0
    results: dict[str, list[Mutant]] = {"killed": [], "survived": [], "timeout": []}
    with tempfile.TemporaryDirectory(prefix="posplugin-mutate-") as tmp:
        checkout = Path(tmp)
        copy_checkout(checkout)
        # The unmutated code must pass, or every mutant would look killed.
        baseline = {t for m in chosen for t in TARGETS[m.module]}
        if run_tests(checkout, sorted(baseline), args.timeout * 2, args.quick) != "survived":
            print("the tests fail without any mutation; fix them first", file=sys.stderr)
            return 2
        for n, mutant in enumerate(chosen, 1):
            path = checkout / "posplugin" / mutant.module
            original = path.read_text(encoding="utf-8")
            path.write_text(mutant.apply(original), encoding="utf-8")
            started = time.monotonic()
            try:
                outcome = run_tests(checkout, TARGETS[mutant.module], args.timeout, args.quick)
            finally:
                path.write_text(original, encoding="utf-8")
            results[outcome].append(mutant)
            print(f"[{n}/{len(chosen)}] {outcome:8} {time.monotonic() - started:5.1f}s  {mutant}", file=sys.stderr)
    killed = len(results["killed"]) + len(results["timeout"])
    total = sum(map(len, results.values()))
    print(f"{killed}/{total} mutants killed ({100 * killed / max(total, 1):.1f}%), "
          f"{len(results['timeout'])} by a timeout")
    if args.show_survivors or results["survived"]:
        for mutant in results["survived"]:
            print(f"survived: {mutant}")
    return 0 if not results["survived"] else 1


if __name__ == "__main__":
    sys.exit(main())
