"""The alignment kind, as the generic engine drives it (engine.kinds).

The pipeline's modules are imported when a plan is made or run, not when
the kind is looked up: validating a spec needs its model only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import DataError, EngineError
from engine.kinds import Check, Handler, Kind, Plan
from schemas.alignment import AlignmentSpec, RdfOutput, cross_checks, output_kind, output_path

if TYPE_CHECKING:
    from engine.environment import Environment

__all__ = ["KIND", "AlignmentKind"]


def _size(path: Path) -> str:
    """`` (12.3 MiB)``: the size of a file about to be read, or nothing."""
    try:
        size = float(path.stat().st_size)
    except OSError:
        return ""
    if size < 1024:
        return f" ({int(size):,} bytes)"
    for unit in ("KiB", "MiB", "GiB"):
        size /= 1024
        if size < 1024 or unit == "GiB":
            break
    return f" ({size:,.1f} {unit})"


def _source(spec: Any) -> str:
    """Where an alignment source reads from, with the size of a file."""
    if spec == "same":
        return "the align records (deduplication)"
    for key in ("csv", "tsv"):
        path = getattr(spec, key, None)
        if path is not None:
            return f"{key} {path}{_size(Path(path))}"
    if getattr(spec, "rdf", None):
        return "rdf " + ", ".join(f"{p}{_size(Path(p))}" for p in spec.rdf)
    if getattr(spec, "sparql", None) is not None:
        return f"SPARQL endpoint {spec.sparql}"
    if getattr(spec, "rql", None) is not None:
        return f"CubicWeb RQL {spec.rql}"
    return "inline rows"


class AlignmentKind(Kind):
    """Alignment jobs: record linkage between two sources, to owl:sameAs links."""

    name = "alignment"
    model = AlignmentSpec
    evaluates = True
    fits = True
    reviews = True

    # ------------------------------------------------------------------ plan and state

    def steps(self, spec: Any) -> Sequence[Any]:
        from engine.alignment.steps import steps

        return steps(spec)

    def new_state(
        self, plan: Plan, spec: Any, *, progress: bool, force: bool, environment: Environment
    ) -> Any:
        from engine.alignment.state import AlignmentState

        if not spec.fitted:  # before reading anything: nothing could score the pairs
            from engine.spec_reader import spec_error

            raise spec_error(
                plan.spec_file,
                [
                    (
                        ("threshold",),
                        "the spec has neither a threshold nor a model: run"
                        f" `engine fit {plan.spec_file}` first (or give a threshold and weights)",
                    )
                ],
            )
        return AlignmentState(
            spec=spec, spec_file=plan.spec_file, progress=progress, environment=environment
        )

    def handlers(self) -> Mapping[type, Handler]:
        from engine.alignment.handlers import HANDLERS

        return HANDLERS

    def cross_checks(self, spec: Any, spec_file: Path) -> list[Check]:
        return cross_checks(spec, spec_file)

    def check_sources(self, spec: Any, spec_file: Path) -> None:
        from engine.alignment.headers import check_sources

        check_sources(spec, spec_file)

    # ------------------------------------------------------------------ the executor

    def is_work(self, step: Any, plan: Plan) -> bool:
        # A plan reads and blocks; when the spec publishes it computes the links
        # too, and its publish step only compares them with what is published.
        from engine.alignment.steps import Compare, Identity, Match, Publish, Write

        if isinstance(step, Write):
            return True
        publishes = any(isinstance(s, Publish) for s in plan.steps)
        return not publishes and isinstance(step, Compare | Match | Identity | Publish)

    def is_output(self, step: Any) -> bool:
        from engine.alignment.steps import Publish, Write

        return isinstance(step, Write | Publish)

    def irreversible(self, step: Any) -> bool:
        from engine.alignment.steps import Publish

        return isinstance(step, Publish)

    def output_files(self, plan: Plan, spec: Any) -> list[Path]:
        from engine.alignment.steps import Write

        paths: list[Path] = []
        for step in plan.steps:
            if isinstance(step, Write):
                paths.append(Path(step.path))
                output = spec.outputs[step.output]
                if isinstance(output, RdfOutput) and output.void is not None:
                    paths.append(Path(output.void))
        return paths

    def with_outputs_in(self, spec: Any, folder: Path) -> Any:
        outputs = []
        for output in spec.outputs:
            update: dict[str, Path] = {output_kind(output): folder / output_path(output).name}
            if isinstance(output, RdfOutput) and output.void is not None:
                update["void"] = folder / output.void.name
            outputs.append(output.model_copy(update=update))
        return spec.model_copy(update={"outputs": outputs})

    def after_commit(self, state: Any) -> None:
        # A failed publish is reported once the files are in place.
        if state.publish_error is not None:
            raise DataError(*state.publish_error)

    # ------------------------------------------------------------------ texts

    def plan_text(self, plan: Plan, state: Any) -> str:
        from engine.alignment.report import plan_text

        return plan_text(plan, state)

    def summary_text(self, state: Any, seconds: float) -> str:
        from engine.alignment.report import summary_text

        return summary_text(state, seconds)

    def pending_changes(self, state: Any) -> bool:
        # Publishing would change the store's graph; without ``publish:`` a run
        # only rewrites its own files, whatever they hold.
        return state.publish_diff is not None and bool(state.publish_diff.changes)

    def refusal(self, state: Any) -> EngineError | None:
        refusal: EngineError | None = state.refusal
        return refusal

    def describe_before(self, step: Any, state: Any) -> str | None:
        from engine.alignment import steps as pipeline

        if isinstance(step, pipeline.ReadSource):
            return f"read the {step.role} source: {_source(getattr(state.spec.sources, step.role))}"
        if isinstance(step, pipeline.Prepare):
            return f"normalise and prepare {len(step.attributes)} attribute(s): {', '.join(step.attributes)}"
        if isinstance(step, pipeline.Block):
            return f"blocking: {step.description}"
        if isinstance(step, pipeline.Compare):
            return f"compare about {state.estimated_pairs:,} candidate pairs (threshold {step.threshold:g})"
        if isinstance(step, pipeline.Match):
            return f"matching: {step.mode}"
        if isinstance(step, pipeline.Identity):
            return step.describe()
        if isinstance(step, pipeline.Write):
            return f"write {step.format} -> {step.path}"
        if isinstance(step, pipeline.Publish):
            return f"publish to <{step.graph}> ({step.protocol} {step.endpoint})"
        return None

    def describe_after(self, step: Any, state: Any) -> str | None:
        from engine.alignment import steps as pipeline

        if isinstance(step, pipeline.ReadSource):
            records = state.sides[step.role].records
            skipped = f", {len(records.skipped):,} rows skipped" if records.skipped else ""
            return f"{records.source}: {len(records):,} records{skipped}"
        if isinstance(step, pipeline.Block):
            return f"about {state.estimated_pairs:,} candidate pairs"
        if isinstance(step, pipeline.Compare):
            return (
                f"compared {state.compared_pairs:,} pairs ({state.executor}),"
                f" {state.under_threshold:,} under the threshold"
            )
        if isinstance(step, pipeline.Match):
            return f"{0 if state.links is None else len(state.links):,} links"
        if isinstance(step, pipeline.Identity):
            from engine.alignment.report import identity_line

            return identity_line(state)
        if isinstance(step, pipeline.Publish):
            if state.published is not None:
                return f"published {state.published:,} links"
            if state.publish_diff is not None:
                return f"against what is published: {state.publish_diff.lines()[0]}"
        return None

    def step_text(self, step: Any) -> str:
        from engine.alignment import steps as pipeline

        if isinstance(step, pipeline.ReadSource):
            return f"read the {step.role} source"
        if isinstance(step, pipeline.Prepare):
            return "normalise " + ", ".join(step.attributes)
        if isinstance(step, pipeline.Block):
            return f"blocking: {step.description}"
        if isinstance(step, pipeline.Compare):
            return "compare the candidate pairs"
        if isinstance(step, pipeline.Match):
            return f"match ({step.mode}, threshold {step.threshold:g})"
        if isinstance(step, pipeline.Identity):
            return step.describe()
        if isinstance(step, pipeline.Write):
            return f"write {Path(step.path).name} ({step.format})"
        if isinstance(step, pipeline.Publish):
            return f"publish to {step.graph}"
        return type(step).__name__

    # ------------------------------------------------------------------ JSON documents

    def plan_figures(self, plan: Plan, state: Any) -> dict[str, Any]:
        from engine.alignment.summary_json import plan_figures

        return plan_figures(plan, state)

    def run_figures(self, state: Any) -> dict[str, Any]:
        from engine.alignment.summary_json import run_figures

        return run_figures(state)

    def written(self, state: Any) -> list[str]:
        return list(state.written)

    # ------------------------------------------------------------------ eval and web

    def eval_text(self, state: Any, gold: Path | None, steps: int | list[float]) -> str:
        from engine.alignment.report import eval_text

        return eval_text(state, gold, steps)

    def eval_figures(
        self, state: Any, gold: Path | None, steps: int | list[float]
    ) -> dict[str, Any]:
        from engine.alignment.summary_json import eval_figures

        return eval_figures(state, gold, steps)

    def fit(
        self,
        spec: Any,
        spec_file: Path,
        *,
        gold: Path | None,
        out: Path | None,
        options: Mapping[str, Any],
    ) -> tuple[str, dict[str, Any]]:
        from engine.alignment.fit.job import fit
        from engine.alignment.fit.spec_file import write_model
        from engine.alignment.fit.summary import fit_figures, fit_text

        result = fit(spec, spec_file, gold=gold, term_frequency=options.get("term_frequency", ()))
        written = write_model(spec_file, result.model, out)
        return fit_text(result, written), fit_figures(result, written)

    def output_paths(self, spec: Any) -> list[Path]:
        paths: list[Path] = []
        for output in spec.outputs:
            for path in (output_path(output), getattr(output, "void", None)):
                if isinstance(path, Path):
                    paths.append(path)
        return paths

    def review_queue(self, spec: Any, curation: list[Path], near_misses: Path) -> Any:
        from engine.alignment.review_queue import review_queue

        outputs = [o.review for o in spec.outputs if output_kind(o) == "review"]
        outputs.sort(key=lambda p: p.suffix.lower() != ".csv")
        if spec.review is None:
            outputs = [near_misses]
        return review_queue(outputs, curation, symmetric=spec.dedup)

    def curation_files(self, spec: Any) -> list[Path]:
        return list(spec.curation)

    def near_miss_spec(self, spec: Any, output: Path) -> Any | None:
        from engine.alignment.review_queue import near_miss_spec

        return near_miss_spec(spec, output)

    def curate(
        self, spec: Any, target: Path, pair: tuple[str, str], accept: bool, author: str, date: str
    ) -> bool:
        from engine.alignment.curation_write import Decision, append_decision

        decision = Decision(pair[0], pair[1], accept, author, date, "engine serve review page")
        return append_decision(
            target, decision, set_id=f"urn:specengine:{spec.name}:curation", symmetric=spec.dedup
        )

    def name_curation(self, spec_file: Path, target: Path) -> bool:
        from engine.alignment.curation_write import name_curation

        return name_curation(spec_file, target)


KIND = AlignmentKind()
