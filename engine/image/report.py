"""The texts of an image recipe: its plan, and the summary of a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.image.recipe import packages
from engine.image.state import ImageState
from engine.image.steps import Build, Upload, Verify, WriteOutputs

__all__ = ["plan_text", "summary_text"]


def plan_text(steps_: tuple[Any, ...], state: ImageState, spec_file: str) -> str:
    """What a run would do: the steps, the artefacts, whether the build is cached."""
    spec = state.spec
    lines = [f"plan for image '{spec.name}' ({spec_file})"]
    for number, step in enumerate(steps_, 1):
        if isinstance(step, Build):
            status = "cached, not built again" if state.cached else "to build"
            if state.cached and state.force:
                status = "cached, built again (--force)"
            lines.append(
                f"{number}. build Debian {spec.debian.suite}/{spec.debian.arch}"
                f" ({', '.join(spec.formats)}) with {step.run.playbook}"
                f" on {step.run.host}: {status}"
            )
            lines.append(f"   recipe {step.recipe[:16]}, cache {step.cache}")
            lines.append(f"   packages: {', '.join(packages(spec))}")
            if spec.hooks:
                lines.append(f"   {len(spec.hooks)} customisation hook(s)")
        elif isinstance(step, Verify):
            lines.append(
                f"{number}. boot under QEMU: {', '.join(step.formats)}"
                f" (login prompt and SSH within {spec.verify.timeout_s:g} s each)"
            )
        elif isinstance(step, WriteOutputs):
            lines.append(f"{number}. write into {step.folder}: {', '.join(step.files)}")
        elif isinstance(step, Upload):
            lines.append(f"{number}. upload to Glance {step.url}: {', '.join(step.names)}")
    return "\n".join(lines)


def summary_text(state: ImageState, seconds: float) -> str:
    """The end-of-run summary."""
    spec = state.spec
    lines = [f"image '{spec.name}': " + ("reused the cached build" if state.cached else "built")]
    for name, facts in state.manifest.get("artefacts", {}).items():
        lines.append(
            f"  {name}: {facts['size'] / (1 << 20):,.1f} MiB sha256 {facts['sha256'][:16]}"
        )
    for fmt, facts in state.manifest.get("boot", {}).items():
        lines.append(
            f"  boot {fmt}: login prompt after {facts['login_s']} s, SSH after {facts['ssh_s']} s"
        )
    lines.extend(f"uploaded {name} ({image_id})" for name, image_id in state.uploaded.items())
    lines.extend(f"reused {name} (same name and checksum in Glance)" for name in state.reused)
    if state.written:
        lines.append(f"wrote {Path(state.written[0]).parent}")
    lines.append(f"done in {seconds:.1f} s")
    return "\n".join(lines)
