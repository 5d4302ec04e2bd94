"""Commits a kill left half done: finished (or rolled back) by the next transaction or recover()."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from renderers import OutputTransaction, recover
from renderers.atomic import LOCK_SUFFIX
from renderers.recovery import InterruptedCommitError

ROOT = Path(__file__).resolve().parents[2]

# A transaction writing "new NAME" into each file named on the command line,
# SIGKILLed right after the first of its renames.
_KILLED_COMMIT = """
import os, signal, sys
from pathlib import Path
import renderers.atomic as atomic
real_apply = atomic.apply
def apply(entry):
    real_apply(entry)
    os.kill(os.getpid(), signal.SIGKILL)
atomic.apply = apply
with atomic.OutputTransaction() as tx:
    for name in sys.argv[1:]:
        tx.open_text(Path(name)).write("new " + Path(name).name + "\\n")
    tx.commit()
"""


def _killed_between_renames(*targets: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_COMMIT, *map(str, targets)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr


def _contents(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.iterdir())}


@pytest.fixture
def half_done(tmp_path: Path) -> Path:
    """Three old outputs, of which a killed commit replaced only the first."""
    for name in ("a.nt", "b.csv", "c.html"):
        (tmp_path / name).write_text(f"old {name}\n")
    _killed_between_renames(tmp_path / "a.nt", tmp_path / "b.csv", tmp_path / "c.html")
    files = _contents(tmp_path)
    assert files["a.nt"] == "new a.nt\n"
    assert files["b.csv"] == "old b.csv\n"  # one output new, the others old: a mixed set
    assert sum(name.endswith(".commit") for name in files) == 1
    assert sum(name.endswith(".old") for name in files) == 3  # the previous files, kept
    assert sum(name.endswith(".tmp") for name in files) == 2  # b and c, written and synced
    return tmp_path


def test_recover_completes_a_commit_killed_between_its_renames(
    half_done: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="renderers"):
        assert recover([half_done / "a.nt", half_done / "b.csv", half_done / "c.html"]) == []
    assert _contents(half_done) == {
        "a.nt": "new a.nt\n",
        "b.csv": "new b.csv\n",
        "c.html": "new c.html\n",
    }
    assert "the commit of a run that was stopped between its renames" in caplog.text
    assert "was completed: a.nt, b.csv, c.html" in caplog.text


def test_the_next_transaction_completes_it_before_writing(half_done: Path) -> None:
    # The next run on any one of the outputs finishes the whole set first.
    with OutputTransaction() as tx:
        tx.claim([half_done / "a.nt"])
        assert _contents(half_done) == {
            "a.nt": "new a.nt\n",
            "b.csv": "new b.csv\n",
            "c.html": "new c.html\n",
            f".a.nt{LOCK_SUFFIX}": tx._info_bytes.decode(),
        }
        tx.open_text(half_done / "a.nt").write("newer a.nt\n")
        tx.commit()
    assert sorted(_contents(half_done)) == ["a.nt", "b.csv", "c.html"]


def test_a_commit_whose_new_file_is_lost_is_rolled_back(half_done: Path) -> None:
    # Without every new file, completing is impossible: the previous set comes back.
    (lost,) = half_done.glob(".b.csv.*.tmp")
    lost.unlink()
    recover([half_done / "c.html"])
    assert _contents(half_done) == {
        "a.nt": "old a.nt\n",
        "b.csv": "old b.csv\n",
        "c.html": "old c.html\n",
    }


def test_a_new_output_is_removed_by_the_rollback(tmp_path: Path) -> None:
    (tmp_path / "a.nt").write_text("old a.nt\n")  # b.csv is new in this commit
    _killed_between_renames(tmp_path / "a.nt", tmp_path / "b.csv")
    (lost,) = tmp_path.glob(".b.csv.*.tmp")
    lost.unlink()
    recover([tmp_path / "a.nt"])
    assert _contents(tmp_path) == {"a.nt": "old a.nt\n"}


def test_a_journal_whose_outputs_a_live_run_holds_is_left_to_it(half_done: Path) -> None:
    def unlocked(files: dict[str, str]) -> dict[str, str]:
        return {name: text for name, text in files.items() if not name.endswith(LOCK_SUFFIX)}

    before = _contents(half_done)
    with OutputTransaction() as holder:
        holder.lock(half_done / "b.csv")  # as a run in its commit holds it (no settling)
        recover([half_done / "a.nt"])
        assert unlocked(_contents(half_done)) == unlocked(before)
    recover([half_done / "a.nt"])
    assert sorted(_contents(half_done)) == ["a.nt", "b.csv", "c.html"]


def test_a_journal_naming_another_folder_is_refused_for_its_outputs(tmp_path: Path) -> None:
    # Outputs in two folders, then a spec that writes only one of them: the set
    # cannot be finished from one side, and the run must not write over it.
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    (first / "a.nt").write_text("old a.nt\n")
    (second / "b.csv").write_text("old b.csv\n")
    _killed_between_renames(first / "a.nt", second / "b.csv")
    # (and the lock file of the killed run)
    assert sorted(p.suffix for p in first.iterdir()) == [".commit", ".nt", ".old", LOCK_SUFFIX]
    with OutputTransaction() as tx, pytest.raises(InterruptedCommitError) as caught:
        tx.claim([first / "a.nt"])
    assert f"also wrote in {second}" in str(caught.value)
    assert len(recover([first / "a.nt"])) == 1  # a plan says so too, and changes nothing
    recover([first / "a.nt", second / "b.csv"])  # the spec that wrote both folders
    assert _contents(first) == {"a.nt": "new a.nt\n"}
    assert _contents(second) == {"b.csv": "new b.csv\n"}


def test_an_unreadable_journal_of_a_stopped_run_is_removed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    journal = tmp_path / f".a.nt.{dead.pid}.abcdefgh.commit"
    journal.write_text("{not json")
    (tmp_path / "a.nt").write_text("a\n")
    with caplog.at_level(logging.WARNING, logger="renderers"):
        recover([tmp_path / "a.nt"])
    assert "not a commit journal the engine can read" in caplog.text
    assert _contents(tmp_path) == {"a.nt": "a\n"}


def test_a_journal_cannot_name_files_that_are_not_the_engines(tmp_path: Path) -> None:
    # A planted journal must not rename arbitrary files onto an output.
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / "a.nt").write_text("a\n")
    (tmp_path / "secret").write_text("secret\n")
    journal = tmp_path / f".a.nt.{dead.pid}.abcdefgh.commit"
    journal.write_text(
        json.dumps(
            {
                "format": "specengine-commit/1",
                "journals": [str(journal)],
                "entries": [{"target": str(tmp_path / "a.nt"), "temp": "secret", "backup": None}],
            }
        )
    )
    recover([tmp_path / "a.nt"])
    assert _contents(tmp_path) == {"a.nt": "a\n", "secret": "secret\n"}
