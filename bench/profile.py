"""Per-stage profile of `engine run`: wall time and peak memory of each stage, per task.

Usage: python bench/profile.py [--sizes febrl4,50k,200k,places] [--repeat N] [--json FILE] [--src DIR]

Run it with the project's interpreter (``.venv/bin/python``). The tasks are those of
``bench/peers.py`` (``febrl4`` is ``data/febrl/``; ``50k``, ``200k`` and ``1m`` are generated
with ``engine.generate.people(n, seed=0)`` into ``bench/data/<size>/`` and run with the spec
``bench/peers.py`` writes: ``specs/febrl4.yaml``'s attributes, blocking and threshold;
``places``, the geographic task, with ``specs/places-geographic.yaml``).

Each run is a fresh ``engine run -q --out-dir TMP SPEC`` process with ``SPECENGINE_PROFILE``
set (``engine.profiling``): the executor appends one line per step with its wall time and its
own peak resident memory (the kernel's high-water mark, reset before each step). Steps of a
stage are summed (time) or maxed (memory): read (both sources), prepare, block, compare,
match, write (every output), publish. ``other`` is the rest of the process's wall time:
interpreter start-up, imports, spec loading and the commit of the outputs. The whole
process is timed with ``perf_counter``; its peak RSS is the largest of the stages' peaks and
of ``os.wait4``'s (which only sees the time after the last reset). With
``--repeat N`` the run with the median wall time is shown.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers  # bench/ is not a package: found through sys.path

#: Step class -> stage, in the order of the table.
STAGES = {
    "ReadSource": "read",
    "Prepare": "prepare",
    "Block": "block",
    "Compare": "compare",
    "Match": "match",
    "Write": "write",
    "Publish": "publish",
}


def run(size: str, src: Path | None = None) -> dict[str, Any]:
    """One profiled run of the task ``size``: stage -> seconds and peak MiB, and the totals.

    ``src``: run the engine from this source tree instead (``python -m engine`` with it
    first on ``PYTHONPATH``), to profile another version side by side.
    """
    t = peers.task(size, wait=False)
    if t is None:
        raise SystemExit(f"no data for {size}: engine.generate is missing")
    spec = peers.write_spec(t)
    with tempfile.TemporaryDirectory() as tmp:
        lines = Path(tmp) / "profile.jsonl"
        env = {**os.environ, "SPECENGINE_PROFILE": str(lines)}
        engine = [str(peers.engine_bin())]
        if src is not None:
            env["PYTHONPATH"] = str(src.resolve())
            engine = [sys.executable, "-m", "engine"]
        cmd = [*engine, "run", "-q", "--out-dir", str(Path(tmp) / "out"), str(spec)]
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=t.folder, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{' '.join(cmd)} failed")
        steps = [json.loads(line) for line in lines.read_text(encoding="utf-8").splitlines()]
    stages: dict[str, dict[str, float]] = {}
    for step in steps:
        stage = stages.setdefault(STAGES.get(step["step"], step["step"]), {"s": 0.0, "mib": 0.0})
        stage["s"] += step["seconds"]
        stage["mib"] = max(stage["mib"], step["peak_rss_kib"] / 1024)
    return {
        "size": size,
        "wall_s": wall,
        # Resetting the high-water mark also resets what wait4 reports: the process's
        # peak is the largest of the stages' and what came after the last reset.
        "peak_rss_mib": max([usage.ru_maxrss / 1024, *(s["mib"] for s in stages.values())]),
        "other_s": wall - sum(s["s"] for s in stages.values()),
        "stages": stages,
        "reset": all(step["reset"] for step in steps),
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "load": os.getloadavg()[0],
    }


def table(results: list[dict[str, Any]]) -> str:
    """The runs as a Markdown table: one row per task, time (s) / peak (MiB) per stage."""
    names = list(dict.fromkeys(STAGES.values()))
    present = [n for n in names if any(n in r["stages"] for r in results)]
    head = ["task", *present, "other s", "whole s", "peak MiB"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        cells = [r["size"]]
        for n in present:
            s = r["stages"].get(n)
            cells.append("-" if s is None else f"{s['s']:.2f} s / {s['mib']:.0f}")
        cells += [f"{r['other_s']:.2f}", f"{r['wall_s']:.2f}", f"{r['peak_rss_mib']:.0f}"]
        rows.append("| " + " | ".join(cells) + " |")
    machine = f"{platform.python_implementation()} {platform.python_version()}"
    loads = ", ".join(f"{r['load']:.1f}" for r in results)
    note = (
        f"\nEach stage: wall s / its own peak RSS MiB. Measured {results[-1]['when']}"
        f" on {machine}, {os.cpu_count()} cores, load average after each run {loads}.\n"
    )
    return "\n".join(rows) + "\n" + note


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=peers.csv_list(peers.TASKS), default=["febrl4"])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the runs as JSON")
    parser.add_argument("--src", type=Path, help="run the engine from this source tree")
    args = parser.parse_args()
    results = []
    for size in args.sizes:
        runs = sorted((run(size, args.src) for _ in range(args.repeat)), key=lambda r: r["wall_s"])
        results.append(runs[len(runs) // 2])
        walls = [r["wall_s"] for r in runs]
        print(f"{size}: {statistics.median(walls):.2f} s median of {len(runs)}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(table(results))


if __name__ == "__main__":
    main()
