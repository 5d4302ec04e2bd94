"""specengine: declarative, spec-driven alignment jobs, image recipes and volume pools.

The public API, for programs that run specs without the command line::

    import engine

    spec = engine.load_spec("specs/people.yaml")
    plan = engine.build_plan(spec, "specs/people.yaml")
    print(engine.explain(plan, engine.run(plan, spec, dry_run=True)))   # engine plan
    state = engine.run(plan, spec)                                       # engine run
    print(engine.summary(plan, state, seconds=1.0))

Errors a user can act on are :class:`EngineError`\\ s: :class:`SpecError` (an
invalid spec, each :class:`Problem` at its file:line:column), :class:`DataError`
(bad data, an output that cannot be written), :class:`UsageError`. Kinds of
spec are in :mod:`engine.kinds`.

Importing this package costs nothing: each name loads its module when it is
first used (the command line installs its interrupt handling before any of
them, see engine.interrupts).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from engine.environment import Environment
    from engine.errors import DataError, EngineError, Problem, SpecError, UsageError
    from engine.kinds import Plan
    from engine.version import __version__

__all__ = [
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

_LAZY = {
    "DataError": "engine.errors",
    "EngineError": "engine.errors",
    "Problem": "engine.errors",
    "SpecError": "engine.errors",
    "UsageError": "engine.errors",
    "Plan": "engine.kinds",
    "__version__": "engine.version",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)


def load_spec(path: str | Path, *, check_files: bool = True, expand_env: bool = True) -> Any:
    """Read and validate a spec file: the model of its kind.

    Relative paths in the spec resolve against its folder; ``check_files``
    checks that the files it reads exist; ``expand_env`` replaces
    ``${VAR}`` with the process's environment. Raises :class:`SpecError`
    listing every problem, each at its line.
    """
    from pathlib import Path

    from engine.loader import load_spec as load

    return load(Path(path), check_files=check_files, expand_env=expand_env)


def build_plan(spec: Any, spec_file: str | Path) -> Plan:
    """The plan of a validated spec: its kind's steps, as plain data (no I/O)."""
    from engine.plan import build_plan as build

    return build(spec, str(spec_file))


def run(
    plan: Plan,
    spec: Any,
    *,
    dry_run: bool = False,
    write: bool = True,
    progress: bool = False,
    force: bool = False,
    environment: Environment | None = None,
    before_step: Callable[[int, Any], None] | None = None,
) -> Any:
    """Carry the plan out; returns the state its steps filled in.

    ``dry_run``: what ``engine plan`` does (reads, writes and changes
    nothing). Without ``write``: every step but those that write or publish
    (``engine eval``). ``progress``: progress bars on stderr; ``force``:
    build again what is cached. ``environment``: where the variables the spec
    names for its credentials are read (None: the process's environment).
    ``before_step``: see :func:`engine.execute.execute`. Raises
    :class:`DataError` when the run fails, its previous outputs left intact.
    """
    from engine.execute import execute, new_state

    state = new_state(plan, spec, progress=progress, force=force, environment=environment)
    return execute(plan, state, dry_run=dry_run, write=write, before_step=before_step)


def explain(plan: Plan, state: Any) -> str:
    """The plan's text after a dry run (``engine plan``): what a run would do."""
    from engine import kinds

    return kinds.get(plan.kind).plan_text(plan, state)


def summary(plan: Plan, state: Any, seconds: float) -> str:
    """The summary of a run (``engine run``), which took ``seconds``."""
    from engine import kinds

    return kinds.get(plan.kind).summary_text(state, seconds)


def with_outputs_in(spec: Any, folder: str | Path) -> Any:
    """The spec with every output written into ``folder`` instead, under its own name."""
    from pathlib import Path

    from engine.execute import with_outputs_in as moved

    return moved(spec, Path(folder))
