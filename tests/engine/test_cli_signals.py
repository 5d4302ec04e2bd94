"""Ctrl-C and SIGTERM at any moment: a message, exit 130 or 143, outputs intact, no traceback."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine import interrupts
from engine.cli import main
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


def _signal_caught(pid: int, signum: int) -> bool:
    """Whether the process has a handler for ``signum`` (Linux: SigCgt in /proc)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    found = re.search(r"^SigCgt:\s*([0-9a-f]+)$", status, re.MULTILINE)
    return found is not None and bool(int(found.group(1), 16) >> (signum - 1) & 1)


@pytest.mark.parametrize("as_json", [False, True])
def test_sigterm_stops_a_run_like_ctrl_c(tmp_path: Path, as_json: bool) -> None:
    specs = write_specs(tmp_path)
    out = tmp_path / "out"
    assert run("run", "-q", specs["a"].name, cwd=tmp_path).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    process = start("run", "-q", *(["--json"] if as_json else []), specs["b"].name, cwd=tmp_path)
    try:
        wait_for(lambda: locked(out), what="the run's lock")  # past start-up, reading
        os.kill(process.pid, signal.SIGSTOP)  # the signal then lands mid-run, surely
        process.send_signal(signal.SIGTERM)
    finally:
        os.kill(process.pid, signal.SIGCONT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    message = "terminated (SIGTERM); previous outputs left as they were"
    assert stderr.splitlines()[-1] == f"engine: {message}"
    assert "Traceback" not in stderr
    if as_json:
        error = json.loads(stdout)["error"]
        assert error == {"kind": "interrupted", "message": message, "exit_code": 143}
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert transient(tmp_path) == []


def test_sigterm_before_any_output_leaves_no_folder(tmp_path: Path) -> None:
    specs = write_specs(tmp_path)
    process = start("run", "-q", specs["a"].name, cwd=tmp_path)
    try:
        wait_for(lambda: locked(tmp_path / "out"), what="the run's lock")
        os.kill(process.pid, signal.SIGSTOP)
        process.send_signal(signal.SIGTERM)
    finally:
        os.kill(process.pid, signal.SIGCONT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["killa.yaml", "killb.yaml"]


@pytest.mark.parametrize("script", [True, False], ids=["console-script", "python-m-engine"])
def test_ctrl_c_during_start_up_prints_no_traceback(tmp_path: Path, script: bool) -> None:
    # From the engine's first line on (its SIGTERM handler is the sign of it), through
    # the imports of pydantic, numpy and the rest, and into the run itself.
    specs = write_specs(tmp_path)
    for delay in (0.0, 0.01, 0.03, 0.06, 0.1, 0.15, 0.2, 0.3, 0.45, 0.7, 1.0):
        process = start("run", "-q", specs["a"].name, cwd=tmp_path, script=script)
        wait_for(
            lambda pid=process.pid: _signal_caught(pid, signal.SIGTERM),
            what="the engine's start",
        )
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
        assert "Traceback" not in stderr, f"after {delay} s:\n{stderr}"
        if process.returncode == 130:
            assert stderr.splitlines()[-1].startswith("engine: interrupted"), stderr
        else:
            # Done already: the run ended (0), or Python was shutting down (killed by
            # SIGINT then, as Python does once its handlers are gone).
            assert process.returncode in (0, -signal.SIGINT), f"after {delay} s:\n{stderr}"
            assert stderr == ""
    assert transient(tmp_path) == []


_INTERRUPT_DURING_IMPORT = """
import importlib.abc, runpy, signal, sys
module = sys.argv[1]

class Interrupt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == module:
            signal.raise_signal(signal.SIGINT)
        return None

sys.meta_path.insert(0, Interrupt())
sys.argv = [sys.argv[2], *sys.argv[3:]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.parametrize("module", ["json", "engine.errors", "engine.kinds", "pydantic", "yaml"])
def test_ctrl_c_while_a_module_is_imported_prints_no_traceback(tmp_path: Path, module: str) -> None:
    script = Path(sys.executable).parent / "engine"
    done = subprocess.run(
        [sys.executable, "-c", _INTERRUPT_DURING_IMPORT, module, str(script), "validate", "x"],
        cwd=tmp_path,
        env=environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stderr == "engine: interrupted\n"
    assert done.returncode == 130


@pytest.mark.parametrize("module", ["engine.alignment.kind", "schemas.alignment", "numpy"])
def test_ctrl_c_while_a_kind_is_loaded_prints_no_traceback(tmp_path: Path, module: str) -> None:
    # A kind is imported when its first spec is read, after the start-up: main() ends it.
    # numpy comes with the alignment's plan (the command line itself imports no kind).
    script = Path(sys.executable).parent / "engine"
    spec = Path(__file__).resolve().parents[2] / "specs" / "seed-people.yaml"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _INTERRUPT_DURING_IMPORT,
            module,
            str(script),
            "plan",
            str(spec),
        ],
        cwd=tmp_path,
        env=environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stderr == "engine: interrupted\n"
    assert done.returncode == 130


def test_an_interrupt_after_the_commit_says_the_outputs_were_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    specs = write_specs(tmp_path)
    monkeypatch.chdir(tmp_path)
    real_replace = os.replace

    def replace(src: str, dst: str) -> None:
        real_replace(src, dst)
        if os.path.basename(dst) == "links.csv":  # between two renames of the commit
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(os, "replace", replace)
    assert main(["run", "-q", specs["a"].name]) == 130
    assert capsys.readouterr().err == "engine: interrupted just after the outputs were written\n"
    assert transient(tmp_path / "out") == []
    monkeypatch.undo()
    sets = OutputSets()
    sets.learn("a", tmp_path / "out")
    assert sets.whose(tmp_path / "out") == "a"


def test_main_puts_the_sigterm_handler_back(monkeypatch: pytest.MonkeyPatch) -> None:
    before = signal.getsignal(signal.SIGTERM)

    def terminated(*args: object) -> int:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
        return 0

    monkeypatch.setattr("engine.cli._dispatch", terminated)
    started = time.monotonic()
    assert main(["validate", "x.yaml"]) == interrupts.EXIT_TERMINATED == 143
    assert time.monotonic() - started < 5
    assert signal.getsignal(signal.SIGTERM) == before


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupt_a_library_turns_into_its_own_error_is_still_an_interrupt(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], signum: int, code: int
) -> None:
    # pydantic-core catches the KeyboardInterrupt raised while it builds a model's
    # validator and raises a SchemaError instead: that was exit 70 ("a bug").
    from engine import cli

    def dispatch(args: object, parser: object) -> int:
        try:
            os.kill(os.getpid(), signum)
            time.sleep(5)  # the handler raises here
        except KeyboardInterrupt:
            raise RuntimeError("SchemaError: ... KeyboardInterrupt:") from None
        return 0

    monkeypatch.setattr(cli, "_dispatch", dispatch)
    assert main(["validate", "x.yaml"]) == code
    err = capsys.readouterr().err
    assert "internal error" not in err and err.startswith("engine: ")
    # A later error of the same process is a bug again: the signal was this command's.
    monkeypatch.setattr(cli, "_dispatch", lambda args, parser: 1 / 0)
    assert main(["validate", "x.yaml"]) == 70


def test_an_interrupt_a_finalizer_swallows_is_raised_again_not_printed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A Ctrl-C that lands in a finalizer during start-up printed "Exception ignored ...
    # Traceback" (seen once in a fresh-clone CI run): the program raises it again where
    # it can propagate.
    import _thread
    import types

    raised: list[int] = []
    printed: list[object] = []
    monkeypatch.setattr(_thread, "interrupt_main", raised.append)
    monkeypatch.setattr(interrupts, "_PREVIOUS_UNRAISABLE", printed.append)

    def info(kind: type[BaseException]) -> types.SimpleNamespace:
        return types.SimpleNamespace(exc_type=kind, exc_value=kind(), exc_traceback=None)

    interrupts._quiet_unraisable(info(KeyboardInterrupt))
    interrupts._quiet_unraisable(info(interrupts.Terminated))
    assert raised == [signal.SIGINT, signal.SIGTERM] and not printed
    interrupts._quiet_unraisable(info(ValueError))
    assert len(printed) == 1  # anything else: as Python prints it
