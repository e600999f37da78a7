"""What IAM evaluation in the local AWS costs: `make demo` and the integration tests, timed
with IAM on and with it off (SANDBOX_IAM=off), side by side.

    .venv/bin/python bench/iam_cost.py [--runs 1] [--tests tests/e2e] [--skip-tests]

Each measurement is a fresh process (python -m scripts.demo; python -m pytest <tests>), so
Terraform, the local AWS and the functions start cold each time, as they do for a user. The
order alternates (on, off, off, on, ...) so drift hits both alike. Prints a Markdown table for
docs/benchmarks.md, with the command.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed(command: list[str], iam: bool) -> float:
    env = dict(os.environ, SANDBOX_IAM="on" if iam else "off")
    started = time.monotonic()
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise SystemExit(f"{' '.join(command)} failed with IAM {'on' if iam else 'off'}")
    return elapsed


def measure(name: str, command: list[str], runs: int) -> tuple[str, list[float], list[float]]:
    on: list[float] = []
    off: list[float] = []
    for run in range(runs):
        order = (True, False) if run % 2 == 0 else (False, True)
        for iam in order:
            (on if iam else off).append(timed(command, iam))
            print(
                f"{name}: IAM {'on' if iam else 'off'} {(on if iam else off)[-1]:.1f} s", flush=True
            )
    return name, on, off


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--tests", default="tests/e2e")
    parser.add_argument("--skip-tests", action="store_true")
    args = parser.parse_args()
    python = sys.executable
    rows = [measure("make demo", [python, "-m", "scripts.demo"], args.runs)]
    if not args.skip_tests:
        rows.append(
            measure(
                f"pytest {args.tests}",
                [python, "-m", "pytest", args.tests, "-q", "-p", "no:randomly"],
                args.runs,
            )
        )
    print(f"\n`{' '.join([Path(python).name, *sys.argv])}`, {args.runs} run(s) each, median:\n")
    print("| what | IAM on | IAM off | cost |")
    print("| --- | --- | --- | --- |")
    for name, on, off in rows:
        a, b = statistics.median(on), statistics.median(off)
        print(f"| {name} | {a:.1f} s | {b:.1f} s | {a - b:+.1f} s ({(a / b - 1) * 100:+.0f}%) |")


if __name__ == "__main__":
    main()
