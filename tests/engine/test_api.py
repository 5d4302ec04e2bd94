"""engine/__init__.py: the public API, what it is named, and what importing it costs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import engine

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "specs" / "seed-people.yaml"


def test_the_public_names_are_pinned() -> None:
    assert engine.__all__ == [
        "DataError",
        "EngineError",
        "Plan",
        "Problem",
        "SpecError",
        "UsageError",
        "__version__",
        "build_plan",
        "explain",
        "load_spec",
        "run",
        "summary",
        "with_outputs_in",
    ]
    for name in engine.__all__:
        value = getattr(engine, name)
        assert name == "__version__" or value.__doc__, name
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = engine.nothing


def test_plan_run_and_texts_through_the_api(tmp_path: Path) -> None:
    spec = engine.with_outputs_in(engine.load_spec(SEED), tmp_path)
    plan = engine.build_plan(spec, SEED)
    assert isinstance(plan, engine.Plan) and plan.spec_file == str(SEED)
    planned = engine.run(plan, spec, dry_run=True)
    assert engine.explain(plan, planned).startswith("plan for alignment 'seed-people'")
    assert list(tmp_path.iterdir()) == []
    state = engine.run(plan, spec)
    assert sorted(Path(p).parent for p in state.written) == [tmp_path] * len(state.written)
    assert engine.summary(plan, state, 0.5).splitlines()[-1].startswith("done in 0.5")


def test_errors_are_the_engine_s(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: alignment\nname: x\n")
    with pytest.raises(engine.SpecError) as caught:
        engine.load_spec(bad)
    assert isinstance(caught.value, engine.EngineError)
    assert all(isinstance(p, engine.Problem) for p in caught.value.problems)


def _modules_after(code: str) -> list[str]:
    """The modules of the engine and of its heavy dependencies loaded by ``code``."""
    probe = (
        f"import sys\n{code}\n"
        "print(__import__('json').dumps(sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('engine', 'schemas', 'renderers', 'pydantic', 'numpy', 'paramiko', 'ansible_runner'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded: list[str] = json.loads(result.stdout)
    return loaded


def test_importing_the_engine_costs_nothing() -> None:
    # The command line installs its interrupt handling first (engine.interrupts):
    # the package it imports on the way must load nothing else.
    assert _modules_after("import engine") == ["engine"]


def test_a_run_loads_only_its_own_kind(tmp_path: Path) -> None:
    loaded = _modules_after(
        "import engine\n"
        f"spec = engine.with_outputs_in(engine.load_spec({str(SEED)!r}), {str(tmp_path)!r})\n"
        f"engine.run(engine.build_plan(spec, {str(SEED)!r}), spec)"
    )
    assert "engine.alignment.kind" in loaded
    assert not [m for m in loaded if m.startswith(("engine.image", "engine.volume_pool"))]
    assert not [m for m in loaded if m.startswith(("paramiko", "ansible_runner", "engine.web"))]


def test_importing_the_command_line_loads_no_kind() -> None:
    # Every command imports engine.cli: what it loads, `engine validate` of an image
    # recipe pays too. A kind (and numpy with the alignment) is loaded when it runs.
    loaded = _modules_after("import engine.cli")
    assert "engine.cli" in loaded
    assert not [m for m in loaded if m.startswith(("engine.alignment", "engine.image"))]
    assert not [m for m in loaded if m.startswith(("engine.volume_pool", "engine.web"))]
    assert not [m for m in loaded if m.startswith(("numpy", "pydantic", "paramiko", "renderers"))]
