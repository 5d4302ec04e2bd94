"""The executor: walks a plan's steps and hands each to its handler.

Outputs are written inside one transaction: they replace the previous ones
only when every step has succeeded, so a failed run leaves them intact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.alignment import pipeline
from engine.alignment.pipeline import AlignmentState
from engine.plan import Plan
from renderers import OutputTransaction
from schemas.alignment import RdfOutput

__all__ = ["execute", "new_state", "with_outputs_in"]

#: Step types a dry run (``engine plan``) stops at: they compare, match or write.
WORK_STEPS: tuple[type, ...] = (pipeline.Compare, pipeline.Match, pipeline.Write)


def with_outputs_in(spec: Any, folder: Path) -> Any:
    """The spec with every output written into ``folder`` under its own file name."""
    outputs = []
    for output in spec.outputs:
        key = "rdf" if isinstance(output, RdfOutput) else "csv"
        outputs.append(output.model_copy(update={key: folder / getattr(output, key).name}))
    return spec.model_copy(update={"outputs": outputs})


def new_state(plan: Plan, spec: Any, *, progress: bool = False) -> AlignmentState:
    """The state a plan's handlers fill in."""
    return AlignmentState(spec=spec, spec_file=plan.spec_file, progress=progress)


def execute(
    plan: Plan, state: AlignmentState, *, dry_run: bool = False, write: bool = True
) -> AlignmentState:
    """Carry out the plan: up to the first work step when ``dry_run``; all but the
    writes when not ``write`` (evaluation)."""
    handlers = pipeline.HANDLERS
    if dry_run or not write:
        stop = WORK_STEPS if dry_run else (pipeline.Write,)
        for step in plan.steps:
            if isinstance(step, stop):
                break
            handlers[type(step)](step, state)
        return state
    with OutputTransaction() as transaction:
        state.transaction = transaction
        for step in plan.steps:
            handlers[type(step)](step, state)
        transaction.commit()
    state.transaction = None
    return state
