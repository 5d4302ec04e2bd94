"""The distributed path against the local run: identical links, the driver's memory, per-stage figures.

Usage: .venv/bin/python bench/distributed.py [--size 1m] [--workers 2] [--json FILE]

The task is ``bench/peers.py``'s (``engine.generate.people(n, seed=0)`` in
``bench/data/<size>/``, generated on first use; ``bench/data/`` is not committed) with
its spec (``specs/febrl4.yaml``'s attributes, union of six key rules, threshold and
one-to-one matching). Two fresh ``engine run -q`` processes run it:

- ``local``: the spec as written (the local executor, every core);
- ``distributed``: the same spec with ``executor: {dask: {address: ...}}`` pointing at a
  ``LocalCluster`` of ``--workers`` worker processes (one thread each) that this script
  starts, so that the workers are not the driver's children.

Each run's driver is measured on its own: ``SPECENGINE_PROFILE`` gives each step's wall
time and peak RSS (``engine.profiling``), and the driver's RSS is also sampled every
50 ms from ``/proc/<pid>/status``; its peak is the larger of the two. The distributed
run's workers report their seconds per stage (summed over tasks: CPU-bound, one thread
per worker) and each worker's peak RSS. The links files must be byte-identical, and the
count of pairs under the threshold the same (the distributed run keeps those pairs on the
workers: its driver holds O(records), see ``engine.alignment.distributed.match``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
# This file's name is the dask package's: bench/ goes to the end of the path, after it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
from distributed import Client, LocalCluster  # noqa: E402

sys.path.append(str(HERE))
import peers  # noqa: E402  (bench/ is not a package: found through sys.path)

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / ".venv" / "bin" / "engine"


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run(spec: Path, out: Path) -> dict[str, Any]:
    """One ``engine run -q`` of ``spec``: wall time, each step's time and peak, the driver's peak."""
    profile = out.with_suffix(".jsonl")
    profile.unlink(missing_ok=True)
    env = {**os.environ, "SPECENGINE_PROFILE": str(profile)}
    started = time.perf_counter()
    child = subprocess.Popen(
        [str(ENGINE), "run", "-q", "--json", "--out-dir", str(out), str(spec)],
        env=env,
        stdout=subprocess.PIPE,
    )
    sampled = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal sampled
        while not done.is_set():
            sampled = max(sampled, _rss_kib(child.pid))
            time.sleep(0.05)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    printed, _ = child.communicate()
    code = child.returncode
    done.set()
    watcher.join()
    seconds = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"engine run {spec} failed with exit code {code}")
    steps: list[dict[str, Any]] = []
    workers: dict[str, float] = {}
    for line in profile.read_text().splitlines():
        row = json.loads(line)
        if row["step"] == "distributed":
            workers = row["workers"]
        else:
            steps.append(row)
    stages: dict[str, float] = {}
    for row in steps:
        stage = {"ReadSource": "read"}.get(row["step"], row["step"].lower())
        stages[stage] = stages.get(stage, 0.0) + row["seconds"]
    peak = max([sampled, *(row["peak_rss_kib"] or 0 for row in steps)])
    summary = json.loads(printed)["alignment"]
    return {
        "seconds": round(seconds, 2),
        "under_threshold": summary["under_threshold"],
        "stages": {k: round(v, 2) for k, v in stages.items()},
        "driver_peak_mib": round(peak / 1024),
        "steps": [
            {
                "step": r["step"],
                "seconds": r["seconds"],
                "peak_mib": round((r["peak_rss_kib"] or 0) / 1024),
            }
            for r in steps
        ],
        "workers_s": {k.removesuffix(" (worker s)"): round(v, 2) for k, v in workers.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1m", choices=sorted(peers.SIZES))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--keep", type=Path, help="run in this folder and keep the outputs and profiles there"
    )
    args = parser.parse_args()

    task = peers.task(args.size, wait=False)
    if task is None:
        raise SystemExit("engine.generate is missing")
    spec_path = peers.write_spec(task)
    spec = yaml.safe_load(spec_path.read_text())
    for role in ("align", "target"):
        spec["sources"][role]["csv"] = str((task.folder / spec["sources"][role]["csv"]).resolve())
    with tempfile.TemporaryDirectory(prefix="specengine-distributed-") as tmp:
        folder = Path(tmp) if args.keep is None else args.keep
        folder.mkdir(parents=True, exist_ok=True)
        local_spec = folder / "local.yaml"
        local_spec.write_text(yaml.safe_dump(spec, sort_keys=False))
        print(f"local run of {args.size} ...", flush=True)
        local = run(local_spec, folder / "local")
        print(json.dumps(local), flush=True)
        with (
            LocalCluster(
                n_workers=args.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                memory_limit=0,
            ) as cluster,
            Client(cluster) as client,
        ):
            spec["executor"] = {"dask": {"address": cluster.scheduler_address, "timeout": "60s"}}
            dask_spec = folder / "distributed.yaml"
            dask_spec.write_text(yaml.safe_dump(spec, sort_keys=False))
            print(f"distributed run of {args.size} on {args.workers} workers ...", flush=True)
            distributed = run(dask_spec, folder / "distributed")
            peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
            distributed["worker_peak_mib"] = sorted(round(kib / 1024) for kib in peaks.values())
        print(json.dumps(distributed), flush=True)
        names = sorted(p.name for p in (folder / "local").iterdir())
        identical = all(
            (folder / "local" / n).read_bytes() == (folder / "distributed" / n).read_bytes()
            for n in names
        )
        links = (folder / "local" / "specengine.csv").read_bytes().count(b"\n") - 1
    # The pairs under the threshold: counted on the workers, never gathered on the driver.
    identical &= local["under_threshold"] == distributed["under_threshold"]
    ratio = distributed["driver_peak_mib"] / local["driver_peak_mib"]
    result = {
        "size": args.size,
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "links": links,
        "identical": identical,
        "local": local,
        "distributed": distributed,
        "driver_peak_ratio": round(ratio, 3),
    }
    print(json.dumps(result, indent=2))
    print(
        f"{args.size}: links {'byte-identical' if identical else 'DIFFER'} ({links:,};"
        f" {local['under_threshold']:,} vs {distributed['under_threshold']:,} pairs under"
        " the threshold);"
        f" driver peak {distributed['driver_peak_mib']:,} MiB distributed vs"
        f" {local['driver_peak_mib']:,} MiB local ({ratio:.2f}x);"
        f" wall {distributed['seconds']} s vs {local['seconds']} s"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if not identical:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
