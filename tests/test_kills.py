"""Killed and concurrent runs: every output set on disk is one run's, and nothing is left behind.

Each run is an ``engine run`` process over the Febrl 4 data writing five
outputs (tests/febrl_runs.py); two variants of the spec tell the sets apart.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.febrl_runs import (
    OutputSets,
    environment,
    locked,
    run,
    start,
    transient,
    wait_for,
    write_specs,
)

OTHER = {"a": "b", "b": "a"}


@pytest.fixture
def project(tmp_path: Path) -> tuple[dict[str, Path], OutputSets]:
    """Both variants' specs, each run once (variant b's outputs on disk)."""
    specs = write_specs(tmp_path)
    sets = OutputSets()
    for variant in ("a", "b"):
        done = run("run", "-q", specs[variant].name, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        sets.learn(variant, tmp_path / "out")
        assert sets.whose(tmp_path / "out") == variant
    return specs, sets


@pytest.mark.slow
def test_sigkill_at_random_moments_leaves_one_runs_outputs(
    tmp_path: Path, project: tuple[dict[str, Path], OutputSets]
) -> None:
    specs, sets = project
    out = tmp_path / "out"
    rng = random.Random(13)
    on_disk, kills, finished_by_plan = "b", 0, 0
    for _ in range(60):
        new = OTHER[on_disk]
        process = start("run", "-q", specs[new].name, cwd=tmp_path)
        # From the start-up to past the commit (a run takes about a second here).
        time.sleep(rng.uniform(0.0, 1.4))
        process.kill()
        _, err = process.communicate(timeout=60)
        if process.returncode == 0:
            assert sets.whose(out) == new  # it finished before the kill
        else:
            assert process.returncode == -signal.SIGKILL, err
            kills += 1
            whose = sets.whose(out)
            if whose is None:  # killed between two renames: the journal is there
                assert any(name.endswith(".commit") for name in transient(out)), transient(out)
                planned = run("plan", specs[new].name, cwd=tmp_path)
                assert planned.returncode == 0, planned.stderr
                assert "was completed" in planned.stderr
                finished_by_plan += 1
                whose = sets.whose(out)
            assert whose in (on_disk, new), f"after kill {kills}: outputs of no single run"
            on_disk = whose
        # The next run: the other variant's outputs, complete, and nothing left behind.
        following = OTHER[on_disk]
        done = run("run", "-q", specs[following].name, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert sets.whose(out) == following
        assert transient(out) == []
        assert sorted(p.name for p in tmp_path.iterdir()) == ["killa.yaml", "killb.yaml", "out"]
        on_disk = following
        if kills >= 24:
            break
    assert kills >= 24


# `engine run`, SIGKILLed just after links.csv, the second of its five outputs,
# was renamed into place.
_KILLED_BETWEEN_RENAMES = """
import os, signal, sys
real_replace = os.replace
def replace(src, dst):
    real_replace(src, dst)
    if os.path.basename(dst) == "links.csv":
        os.kill(os.getpid(), signal.SIGKILL)
os.replace = replace
from engine.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _killed_between_renames(spec: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_BETWEEN_RENAMES, "run", "-q", spec.name],
        cwd=spec.parent,
        env=environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr


@pytest.mark.parametrize("then", ["plan", "run"])
def test_a_kill_between_the_renames_is_finished_by_the_next_plan_or_run(
    tmp_path: Path, project: tuple[dict[str, Path], OutputSets], then: str
) -> None:
    specs, sets = project
    out = tmp_path / "out"
    _killed_between_renames(specs["a"])
    assert sets.whose(out) is None  # two outputs of run a, three of run b
    assert [name for name in transient(out) if name.endswith(".commit")]
    if then == "plan":  # finishes the commit, then plans
        done = run("plan", specs["b"].name, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "the commit of a run that was stopped between its renames" in done.stderr
        assert sets.whose(out) == "a"
    else:  # finishes the commit, then writes its own outputs over it
        done = run("run", "-q", specs["b"].name, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert sets.whose(out) == "b"
    assert transient(out) == []


def test_a_second_run_of_the_same_outputs_fails_at_once_naming_the_first(
    tmp_path: Path, project: tuple[dict[str, Path], OutputSets]
) -> None:
    specs, sets = project
    out = tmp_path / "out"
    first = start("run", "-q", specs["a"].name, cwd=tmp_path)
    try:
        wait_for(lambda: locked(out), what="the first run's lock")
        os.kill(first.pid, signal.SIGSTOP)  # holds its lock as long as we like
        started = time.monotonic()
        second = run("run", "-q", specs["b"].name, cwd=tmp_path)
        assert time.monotonic() - started < 20  # no waiting for the first
        assert second.returncode == 1
        assert "another run is writing this output" in second.stderr
        assert f"pid {first.pid} on host {socket.gethostname()}, started 2" in second.stderr
        assert "engine run -q killa.yaml" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        os.kill(first.pid, signal.SIGCONT)
    _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert sets.whose(out) == "a"
    assert transient(out) == []
