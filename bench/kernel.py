"""Throughput of the compare stage on a task's candidate pairs: compiled kernel vs metrics.

Usage: python bench/kernel.py [--size 200k] [--cap 3000000] [--cold]

Run it with the project's interpreter (``.venv/bin/python``). The candidate pairs are the
first ``--cap`` pairs of ``specs/febrl4.yaml``'s blocking on the task (``bench/peers.py``'s
``candidate_pairs``), compared on the spec's nine attributes, prepared once per side:

- ``metrics``: ``compare_chunk`` with the kernel off (rapidfuzz ``cpdist`` per attribute,
  with the distinct-value tables and de-duplication the metrics use);
- ``kernel``: ``engine.alignment.kernel.run`` on one thread.

Each is run without a threshold (every attribute of every pair: the rate is attribute
distances per second) and with the spec's threshold (pairs leave early: the rate is the
pairs' nominal attribute count per second). Times are CPU seconds of the whole process
(``time.process_time``, every thread: rapidfuzz uses both cores), so the rates are per core
whatever else runs on the machine; best of 3. ``--cold`` also times the kernel's first
run in a fresh process with an empty numba cache (the compilation) against a warm one.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers  # bench/ is not a package: found through sys.path

COLD = """
import time
started = time.perf_counter()
import numpy as np
from engine.alignment.kernel import loops
z = np.zeros(1, np.int64)
f = np.full(1, 1.0)
loops.pairs(z, z, 0, 1, z, z, f, f, f, f, 1.0, np.zeros(2, np.int64), np.zeros((1, 1), np.int32),
            np.zeros(1, np.uint8), np.zeros((1, 0)), np.zeros(2, np.int64),
            np.zeros((1, 1), np.int32), np.zeros(1, np.uint8), np.zeros((1, 0)), 2, 1, -1,
            np.zeros((1, 1)), np.zeros(1), np.zeros(1, np.bool_))
loops.pack(np.zeros((1, 1), np.int64), np.zeros(2, np.int64), np.zeros(1, np.int32),
           np.zeros(2, np.int64), np.zeros(1, np.uint8))
print(time.perf_counter() - started)
"""


def cpu_best(fn: Callable[[], Any], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        fn()
        best = min(best, time.process_time() - started)
    return best


def first_run(cache: str) -> float:
    """Seconds to import the kernel and run it once in a fresh process with this numba cache."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    done = subprocess.run(
        [sys.executable, "-c", COLD], env=env, capture_output=True, text=True, check=True
    )
    return float(done.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="200k", choices=tuple(peers.SIZES))
    parser.add_argument("--cap", type=int, default=3_000_000)
    parser.add_argument("--cold", action="store_true", help="time the first (compiling) run")
    args = parser.parse_args()

    from engine.alignment import kernel
    from engine.alignment.compare import compare_chunk, compare_task
    from engine.alignment.metrics import METRICS
    from engine.loader import load_spec

    t = peers.task(args.size, wait=False)
    if t is None:
        raise SystemExit(f"no data for {args.size}")
    ia, ib, estimate, ra, rb = peers.candidate_pairs(t, args.cap)
    attributes = load_spec(peers.SPEC).attributes
    align, target = {}, {}
    for attribute in attributes:
        metric = METRICS[attribute.metric.name].func()
        options = attribute.metric.options
        align[attribute.name] = metric.prepare([r[attribute.name] or None for r in ra], options)
        target[attribute.name] = metric.prepare([r[attribute.name] or None for r in rb], options)
    n, k = len(ia), len(attributes)
    print(
        f"{args.size}: {n:,} candidate pairs (of about {estimate:,}), {k} attributes",
        file=sys.stderr,
    )
    rows = []
    for label, limit in (("no threshold", float("inf")), ("threshold 5.5", 5.5)):
        task = compare_task(attributes, align, target, limit, False)
        kernel.MIN_PAIRS = 10**12
        metrics_s = cpu_best(lambda task=task: compare_chunk(task, ia, ib))
        kernel.MIN_PAIRS = 0
        compare_chunk(task, ia[:10], ib[:10])  # the plan (encoding), made once per run
        plan = task.kernel[0]
        assert plan is not None and plan.count == k
        kernel_s = cpu_best(lambda plan=plan, task=task: kernel.run(plan, ia, ib, task.limit, 1))
        rows.append((label, "metrics (rapidfuzz cpdist)", metrics_s))
        rows.append((label, "compiled kernel", kernel_s))
    print("| pairs | implementation | CPU s | pairs/s per core | attribute distances/s per core |")
    print("|---|---|---|---|---|")
    for label, impl, secs in rows:
        print(
            f"| {label} | {impl} | {secs:.2f} | {n / secs / 1e6:.2f}M | {n * k / secs / 1e6:.1f}M |"
        )
    if args.cold:
        with tempfile.TemporaryDirectory() as cache:
            cold = first_run(cache)
            warm = first_run(cache)
        print(f"\nfirst run, empty numba cache: {cold:.2f} s; next run, cache filled: {warm:.2f} s")


if __name__ == "__main__":
    main()
