"""The executor: one loop that walks any plan's steps and hands each to its kind's handler.

Three ways to walk a plan, the same for every kind:

- a run: every step, inside one output transaction. The outputs replace the
  previous ones only when every step has succeeded, so a failed run leaves
  them intact. The transaction locks the outputs before the first step (a
  second run of the same outputs fails at once, naming the run that holds
  them) and finishes what a killed run left beside them (renderers.atomic);
- a dry run (``engine plan``): ``state.dry_run`` is set and the steps the
  kind calls work are skipped; the others only read (a killed run's commit
  is finished first);
- without writing (``engine eval``): every step but those that write outputs
  or publish.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine import kinds, profiling
from engine.environment import Environment
from engine.errors import DataError
from engine.kinds import Kind, Plan
from engine.steplog import run_step
from renderers import OutputError, OutputTransaction, is_transient, recover

__all__ = ["execute", "new_state", "output_files", "with_outputs_in"]

log = logging.getLogger(__name__)

#: Called with a step's number (from 1) and the step before it runs, and with
#: ``len(steps) + 1`` and None before a run's outputs are committed.
BeforeStep = Callable[[int, Any], None]


def with_outputs_in(spec: Any, folder: Path) -> Any:
    """The spec with every output written into ``folder`` under its own file name."""
    return kinds.get(spec.kind).with_outputs_in(spec, folder)


def new_state(
    plan: Plan,
    spec: Any,
    *,
    progress: bool = False,
    force: bool = False,
    environment: Environment | None = None,
) -> Any:
    """The state a plan's handlers fill in (``force``: build again what is cached).

    ``environment``: where the variables the spec names for its credentials are
    read (see :mod:`engine.environment`); None is the process's, as the command
    line has it. The web interface always gives its own.
    """
    env = Environment.of_process() if environment is None else environment
    kind = kinds.get(plan.kind)
    return kind.new_state(plan, spec, progress=progress, force=force, environment=env)


def output_files(plan: Plan, spec: Any) -> list[Path]:
    """Every file a run of the plan writes (alignment outputs and VoID files, image artefacts)."""
    return kinds.get(plan.kind).output_files(plan, spec)


def _claim(transaction: OutputTransaction, paths: list[Path]) -> None:
    """Lock the run's outputs before its first step; finish what a killed run left."""
    for path in paths:
        try:
            transaction.lock(path)
        except OutputError as exc:
            raise DataError(str(path), exc.reason) from None
        except OSError as exc:
            raise DataError(str(path), f"cannot write: {exc.strerror or exc}") from None
    try:
        transaction.settle()
    except OutputError as exc:
        raise DataError(str(exc.target), exc.reason) from None


def _commit(transaction: OutputTransaction, paths: list[Path]) -> None:
    """Put the outputs in place; a DataError if the file system refuses (they are all put back)."""
    try:
        transaction.commit()
    except OSError as exc:
        where = exc.filename2 or exc.filename or (paths[0].parent if paths else "outputs")
        if is_transient(Path(where).name):  # a temporary's name says nothing to the user
            where = Path(where).parent
        notes = getattr(exc, "__notes__", None) or ["the previous outputs are left as they were"]
        reason = f"cannot write the outputs: {exc.strerror or exc}; {'; '.join(notes)}"
        raise DataError(str(where), reason) from None


def _walk(
    plan: Plan,
    state: Any,
    kind: Kind,
    skip: Callable[[Any], bool],
    before_step: BeforeStep | None,
) -> None:
    """The loop: each step not skipped, to its handler, logged (engine.steplog)."""
    total = len(plan.steps)
    profile = profiling.from_environment()  # SPECENGINE_PROFILE: bench/profile.py
    for number, step in enumerate(plan.steps, 1):
        if skip(step):
            continue
        if before_step is not None:
            before_step(number, step)
        handler = kind.handler(step)

        def carry_out(number: int = number, step: Any = step, handler: Any = handler) -> None:
            run_step(number, total, step, state, handler, kind.describe_before, kind.describe_after)

        if profile is None:
            carry_out()
        else:
            profile.run(step, carry_out)


def execute(
    plan: Plan,
    state: Any,
    *,
    dry_run: bool = False,
    write: bool = True,
    before_step: BeforeStep | None = None,
) -> Any:
    """Carry out the plan with its kind's handlers; returns the state.

    ``dry_run`` (``engine plan``) skips the steps the kind calls work (an
    alignment that publishes computes its links, and its publish step only
    compares them with what is published). Without ``write`` (evaluation)
    every step runs but those that write or publish. ``before_step`` is
    called with the step's number (from 1) and the step before each step,
    and in a run with ``len(steps) + 1`` and None before the outputs are
    committed; an exception it raises abandons the run, outputs untouched.
    """
    kind = kinds.get(plan.kind)
    paths = kind.output_files(plan, state.spec)
    if dry_run:  # a killed run's commit is finished (or rolled back) before the plan reads
        recover(paths)
    state.dry_run = dry_run
    with kind.running(state):
        if dry_run:
            _walk(plan, state, kind, lambda step: kind.is_work(step, plan), before_step)
            return state
        if not write:
            _walk(plan, state, kind, kind.is_output, before_step)
            return state
        with OutputTransaction() as transaction:
            _claim(transaction, paths)
            state.transaction = transaction
            _walk(plan, state, kind, lambda step: False, before_step)
            if before_step is not None:
                before_step(len(plan.steps) + 1, None)
            _commit(transaction, paths)
            if paths:
                written = len(kind.written(state))
                log.info("every step done: %d output(s) renamed into place", written)
        state.transaction = None
    kind.after_commit(state)
    return state
