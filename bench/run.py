"""Benchmark harness: whole-process wall time and peak memory of `engine run` on specs.

Usage: python bench/run.py [--repeat N] [--write] [SPEC ...]

Each run is a fresh process (imports included, as a user sees it), timed with
os.wait4 so the peak RSS is the child's own. Prints a Markdown table; --write
replaces the table between the markers in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
DEFAULT_SPECS = ["specs/febrl4.yaml", "specs/seed-people.yaml"]


def run_once(spec: str) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one `engine run -q SPEC` process."""
    engine = Path(sys.executable).parent / "engine"
    with tempfile.TemporaryDirectory() as cwd:
        started = time.perf_counter()
        proc = subprocess.Popen([str(engine), "run", "-q", str(ROOT / spec)], cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"engine run {spec} failed")
    return wall, usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("specs", nargs="*", default=DEFAULT_SPECS)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    rows = [
        "| spec | runs | wall s (median) | wall s (min) | peak RSS MiB |",
        "|---|---|---|---|---|",
    ]
    for spec in args.specs:
        results = [run_once(spec) for _ in range(args.repeat)]
        walls = [w for w, _ in results]
        rss = max(r for _, r in results) / 1024
        rows.append(
            f"| {spec} | {args.repeat} | {statistics.median(walls):.2f} | {min(walls):.2f} | {rss:.0f} |"
        )
        print(rows[-1], flush=True)
    machine = (
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores"
    )
    table = "\n".join(rows) + f"\n\nMeasured {time.strftime('%Y-%m-%d')} on {machine}.\n"
    print(table)
    if args.write:
        text = DOC.read_text(encoding="utf-8")
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        DOC.write_text(f"{head}{BEGIN}\n{table}{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    main()
