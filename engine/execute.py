"""The executor: walks a plan's steps and hands each to its handler.

Outputs are written inside one transaction: they replace the previous ones
only when every step has succeeded, so a failed run leaves them intact. The
transaction locks the outputs before the first step (a second run of the same
outputs fails at once, naming the run that holds them) and finishes what a
killed run left beside them (renderers.atomic); a dry run only finishes that.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine import image, pool
from engine.alignment import pipeline
from engine.alignment.outputs import HANDLERS
from engine.alignment.pipeline import AlignmentState
from engine.environment import Environment
from engine.errors import DataError
from engine.image import ImageState
from engine.plan import Plan
from engine.pool import PoolState
from engine.steplog import run_step
from renderers import OutputError, OutputTransaction, is_transient, recover
from schemas.alignment import RdfOutput, output_kind, output_path
from schemas.image import ImageSpec

__all__ = ["execute", "new_state", "output_files", "with_outputs_in"]

log = logging.getLogger(__name__)

#: Step types a dry run (``engine plan``) stops at: they compare, match or write.
WORK_STEPS: tuple[type, ...] = (
    pipeline.Compare,
    pipeline.Match,
    pipeline.Write,
    pipeline.Publish,
)


def with_outputs_in(spec: Any, folder: Path) -> Any:
    """The spec with every output written into ``folder`` under its own file name."""
    if isinstance(spec, ImageSpec):
        return spec.model_copy(update={"output": folder})
    if not hasattr(spec, "outputs"):  # a volume pool writes no files
        return spec
    outputs = []
    for output in spec.outputs:
        update: dict[str, Path] = {output_kind(output): folder / output_path(output).name}
        if isinstance(output, RdfOutput) and output.void is not None:
            update["void"] = folder / output.void.name
        outputs.append(output.model_copy(update=update))
    return spec.model_copy(update={"outputs": outputs})


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
    if plan.kind == "image":
        return ImageState(
            spec=spec, spec_file=plan.spec_file, progress=progress, force=force, environment=env
        )
    if plan.kind == "volume-pool":
        return PoolState(spec=spec, spec_file=plan.spec_file, progress=progress)
    return AlignmentState(spec=spec, spec_file=plan.spec_file, progress=progress, environment=env)


def output_files(plan: Plan, spec: Any) -> list[Path]:
    """Every file a run of the plan writes (alignment outputs and VoID files, image artefacts)."""
    paths: list[Path] = []
    for step in plan.steps:
        if isinstance(step, pipeline.Write):
            paths.append(Path(step.path))
            output = spec.outputs[step.output]
            if isinstance(output, RdfOutput) and output.void is not None:
                paths.append(Path(output.void))
        elif isinstance(step, image.WriteOutputs):
            paths += [Path(step.folder) / name for name in step.files]
    return paths


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


def _execute_image(plan: Plan, state: ImageState, dry_run: bool) -> ImageState:
    state.dry_run = dry_run
    if dry_run:
        for number, step in enumerate(plan.steps, 1):
            run_step(number, len(plan.steps), step, state, image.HANDLERS[type(step)])
        return state
    paths = output_files(plan, state.spec)
    with OutputTransaction() as transaction:
        _claim(transaction, paths)
        state.transaction = transaction
        for number, step in enumerate(plan.steps, 1):
            run_step(number, len(plan.steps), step, state, image.HANDLERS[type(step)])
        _commit(transaction, paths)
    state.transaction = None
    return state


def execute(
    plan: Plan,
    state: Any,
    *,
    dry_run: bool = False,
    write: bool = True,
    before_step: Callable[[int, Any], None] | None = None,
) -> Any:
    """Carry out the plan.

    ``dry_run`` (``engine plan``) stops at the first work step, unless the plan
    publishes: then it computes the links too and the publish step only
    compares them with what is published. Without ``write`` (evaluation)
    every step runs but the writes and the publishing. ``before_step`` is
    called with the step's number (from 1) and the step before each step of
    an alignment run, and with ``len(steps) + 1`` and None before the outputs
    are committed; an exception it raises abandons the run, outputs untouched.
    """
    if dry_run:  # a killed run's commit is finished (or rolled back) before the plan reads
        recover(output_files(plan, state.spec))
    if isinstance(state, ImageState):
        return _execute_image(plan, state, dry_run)
    if isinstance(state, PoolState):
        state.dry_run = dry_run
        return pool.execute_pool(plan.steps, state)
    state.dry_run = dry_run
    if dry_run or not write:
        publishes = any(isinstance(step, pipeline.Publish) for step in plan.steps)
        for number, step in enumerate(plan.steps, 1):
            if dry_run and not publishes and isinstance(step, WORK_STEPS):
                break
            if isinstance(step, pipeline.Write) or (
                isinstance(step, pipeline.Publish) and not dry_run
            ):
                continue
            run_step(number, len(plan.steps), step, state, HANDLERS[type(step)])
        return state
    paths = output_files(plan, state.spec)
    with OutputTransaction() as transaction:
        _claim(transaction, paths)
        state.transaction = transaction
        for number, step in enumerate(plan.steps, 1):
            if before_step is not None:
                before_step(number, step)
            run_step(number, len(plan.steps), step, state, HANDLERS[type(step)])
        if before_step is not None:
            before_step(len(plan.steps) + 1, None)
        _commit(transaction, paths)
        log.info("every step done: %d output(s) renamed into place", len(state.written))
    state.transaction = None
    if state.publish_error is not None:
        raise DataError(*state.publish_error)
    return state
