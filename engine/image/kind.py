"""The image kind, as the generic engine drives it (engine.kinds)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from engine.environment import Environment
from engine.image import report
from engine.image.build import handle_build, handle_verify
from engine.image.outputs import handle_write
from engine.image.recipe import packages
from engine.image.state import ImageState
from engine.image.steps import Build, Upload, Verify, WriteOutputs, steps
from engine.image.upload import handle_upload
from engine.kinds import Handler, Kind, Plan
from schemas.image import ImageSpec

__all__ = ["KIND", "ImageKind"]

_ENGINE_RUN = "run it with `engine run` instead"


class ImageKind(Kind):
    """Image recipes: build (cached), boot-check, upload to Glance, write the artefacts."""

    name = "image"
    model = ImageSpec
    confirm = True

    def steps(self, spec: Any) -> Sequence[Any]:
        return steps(spec)

    def new_state(
        self, plan: Plan, spec: Any, *, progress: bool, force: bool, environment: Environment
    ) -> ImageState:
        return ImageState(
            spec=spec,
            spec_file=plan.spec_file,
            progress=progress,
            force=force,
            environment=environment,
        )

    def handlers(self) -> Mapping[type, Handler]:
        return {
            Build: handle_build,
            Verify: handle_verify,
            WriteOutputs: handle_write,
            Upload: handle_upload,
        }

    def irreversible(self, step: Any) -> bool:
        return isinstance(step, Upload)

    def output_files(self, plan: Plan, spec: Any) -> list[Path]:
        return [
            Path(step.folder) / name
            for step in plan.steps
            if isinstance(step, WriteOutputs)
            for name in step.files
        ]

    def with_outputs_in(self, spec: Any, folder: Path) -> Any:
        return spec.model_copy(update={"output": folder})

    def plan_text(self, plan: Plan, state: Any) -> str:
        return report.plan_text(plan.steps, state, plan.spec_file)

    def summary_text(self, state: Any, seconds: float) -> str:
        return report.summary_text(state, seconds)

    def pending_changes(self, state: Any) -> bool:
        # Not built yet: a run builds it (the outputs are the run's own files).
        return not state.cached

    def describe_before(self, step: Any, state: Any) -> str | None:
        if isinstance(step, Build):
            return f"build recipe {step.recipe[:16]} with {step.run.playbook} on {step.run.host}"
        return None

    def describe_after(self, step: Any, state: Any) -> str | None:
        if isinstance(step, Build):
            if state.cached:
                return f"cached in {state.cache}: not built again"
            return "not built (plan)" if state.dry_run else f"built into {state.cache}"
        if isinstance(step, Upload) and (state.uploaded or state.reused):
            return f"{len(state.uploaded)} uploaded, {len(state.reused)} reused"
        if isinstance(step, WriteOutputs) and state.written:
            return f"wrote {len(state.written)} file(s) into {Path(state.written[0]).parent}"
        return None

    def plan_figures(self, plan: Plan, state: Any) -> dict[str, Any]:
        spec = state.spec
        return {
            "cached": state.cached,
            "cache": None if state.cache is None else str(state.cache),
            "formats": list(spec.formats),
            "packages": packages(spec),
            "output": str(spec.output),
        }

    def run_figures(self, state: Any) -> dict[str, Any]:
        return {
            "cached": state.cached,
            "cache": None if state.cache is None else str(state.cache),
            "artefacts": state.manifest.get("artefacts", {}),
            "boot": state.manifest.get("boot", {}),
            "uploaded": state.uploaded,
            "reused": state.reused,
        }

    def written(self, state: Any) -> list[str]:
        return list(state.written)

    def known_digests(self, state: Any) -> dict[str, str]:
        artefacts = state.manifest.get("artefacts", {})
        return {name: facts["sha256"] for name, facts in artefacts.items()}

    def web_refusal(self, spec: Any) -> str | None:
        if spec.hooks:
            return (
                "has hooks: hooks run shell commands on the build host;"
                f" the web interface never runs them: {_ENGINE_RUN}"
            )
        return None

    def web_path_refusal(self, spec: Any) -> str | None:
        if spec.cache is None:
            return (
                "has no cache: the default (~/.cache/specengine/images) is outside the"
                " served folder; set `cache:` to a folder inside it (such as `cache: cache`),"
                f" or {_ENGINE_RUN}"
            )
        return None

    def output_paths(self, spec: Any) -> list[Path]:
        return [spec.output]


KIND = ImageKind()
