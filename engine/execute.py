"""The executor: walks a plan's steps and hands each to its handler.

Outputs are written inside one transaction: they replace the previous ones
only when every step has succeeded, so a failed run leaves them intact.
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
from renderers import OutputTransaction
from schemas.alignment import RdfOutput, output_kind, output_path
from schemas.image import ImageSpec

__all__ = ["execute", "new_state", "with_outputs_in"]

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


def _execute_image(plan: Plan, state: ImageState, dry_run: bool) -> ImageState:
    state.dry_run = dry_run
    for number, step in enumerate(plan.steps, 1):
        run_step(number, len(plan.steps), step, state, image.HANDLERS[type(step)])
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
    with OutputTransaction() as transaction:
        state.transaction = transaction
        for number, step in enumerate(plan.steps, 1):
            if before_step is not None:
                before_step(number, step)
            run_step(number, len(plan.steps), step, state, HANDLERS[type(step)])
        if before_step is not None:
            before_step(len(plan.steps) + 1, None)
        transaction.commit()
        log.info("every step done: %d output(s) renamed into place", len(state.written))
    state.transaction = None
    if state.publish_error is not None:
        raise DataError(*state.publish_error)
    return state
