"""Benchmark of a volume pool on the lab storage host: 100 volumes, plan + apply, then no change.

    .venv/bin/python bench/pool.py [VOLUMES]   (default 100)

Boots the lab storage host (specs/lab/storage-host.yaml, built when not
cached) in a temporary folder with a fresh pool disk, prepares it with
``engine setup``, then times, for a pool of VOLUMES exported 16 MiB volumes:
the first ``engine plan``, the ``engine run`` that creates and exports them
all, the second (no-change) ``engine plan`` and ``engine run``, and as a
floor the same number of create + export commands sent directly over one
paramiko connection (no Ansible). Prints a
Markdown table with the wall times, the SSH round trips of the engine's own
connection, and the commands applied (the figures of docs/benchmarks.md).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine import build_plan, load_spec, run  # noqa: E402
from engine.cli import main as engine  # noqa: E402
from engine.hosts.ssh import Session  # noqa: E402
from engine.lab import start, stop  # noqa: E402
from tests.lab import lab_image  # noqa: E402


def _timed(spec: Path, dry_run: bool) -> tuple[float, Any]:
    loaded = load_spec(spec)
    plan = build_plan(loaded, spec)
    started = time.perf_counter()
    state = run(plan, loaded, dry_run=dry_run)
    return time.perf_counter() - started, state


def _floor(data: dict[str, Any], count: int, port: int, key: Path) -> tuple[str, float, int, int]:
    """The same kind of commands sent one by one over one paramiko connection, no Ansible.

    What the storage host itself costs (the wrapper's start, zfs, tgtadm in a
    TCG guest): the floor Ansible's raw tasks are compared with.
    """
    base = data["zfs"]["base"]
    owner = f"org.specengine:spec={data['name']}"
    known = Path(data["host"]["known_hosts"])
    started = time.perf_counter()
    with Session("127.0.0.1", port, "root", key, known) as session:
        for n in range(count):
            dataset = f"{base}/raw-{n:03d}"
            session.run(["zfs", "create", "-V", str(16 << 20), "-o", owner, dataset])
            iqn = f"{data['iscsi']['iqn_prefix']}raw-{n:03d}"
            session.run(["specengine-export", dataset, str(1000 + n), iqn, "10.0.2.2"])
        trips = session.round_trips
    return ("floor: the same commands over paramiko", time.perf_counter() - started, trips, 0)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    with tempfile.TemporaryDirectory(prefix="bench-pool-") as temporary:
        work = Path(temporary)
        started = time.perf_counter()
        lab = start(lab_image(), work / "lab")
        boot = time.perf_counter() - started
        try:
            env = dict(
                line.split("=", 1) for line in (lab.folder / "lab.env").read_text().splitlines()
            )
            data = yaml.safe_load((ROOT / "specs/lab/pool.yaml").read_text())
            data["host"].update(
                port=lab.ssh_port, key=env["LAB_ENGINE_KEY"], known_hosts=env["LAB_KNOWN_HOSTS"]
            )
            data["iscsi"]["portal"] = f"127.0.0.1:{lab.iscsi_port}"
            data["setup"]["admin_key"] = env["LAB_ADMIN_KEY"]
            data["volumes"] = [{"name": f"vol-{n:03d}", "size": "16M"} for n in range(count)]
            spec = work / "pool.yaml"
            spec.write_text(yaml.safe_dump(data, sort_keys=False))
            started = time.perf_counter()
            assert engine(["setup", "-q", str(spec)]) == 0
            setup = time.perf_counter() - started
            rows = []
            for label, dry_run in (
                ("plan, empty pool", True),
                ("run: create + export all", False),
                ("plan, no change", True),
                ("run, no change", False),
            ):
                seconds, state = _timed(spec, dry_run)
                rows.append((label, seconds, state.round_trips, len(state.applied)))
            rows.append(_floor(data, count, lab.ssh_port, Path(env["LAB_ENGINE_KEY"])))
        finally:
            stop(lab.folder)
    print(f"lab boot to SSH {boot:.1f} s; engine setup {setup:.1f} s; {count} volumes")
    print()
    print("| step | wall s | SSH round trips (engine's connection) | commands applied |")
    print("|---|---:|---:|---:|")
    for label, seconds, trips, applied in rows:
        print(f"| {label} | {seconds:.1f} | {trips} | {applied} |")


if __name__ == "__main__":
    main()
