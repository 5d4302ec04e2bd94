"""The steps of an image recipe's plan: build, check, upload, write the outputs.

A recipe is built by ``playbooks/image-build.yml`` into its cache entry
(engine.image.recipe) unless the entry exists (``--force`` builds again). The
entry is then checked (boot under QEMU), uploaded to Glance by
``playbooks/image-upload.yml``, and only then copied into the output folder: a
failed check or upload leaves it as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.hosts.ansible import PlaybookRun
from engine.image.recipe import ARTEFACTS, MANIFEST, cache_root, mmdebstrap_argv, recipe_hash
from schemas.image import ImageSpec, parse_size

__all__ = ["Build", "Upload", "Verify", "WriteOutputs", "steps"]


@dataclass(frozen=True)
class Build:
    """Build the recipe (unless its cache entry exists)."""

    recipe: str
    cache: str
    run: PlaybookRun


@dataclass(frozen=True)
class Verify:
    """Boot each built format under QEMU: login prompt on the console, SSH banner."""

    formats: tuple[str, ...]


@dataclass(frozen=True)
class WriteOutputs:
    """Put the artefacts and the manifest into the output folder (one journaled commit)."""

    folder: str
    files: tuple[str, ...]


@dataclass(frozen=True)
class Upload:
    """Upload the artefacts to Glance (reusing images with the same name and checksum)."""

    url: str
    names: tuple[str, ...]


def steps(spec: ImageSpec) -> list[Any]:
    """The plan of an image recipe, as plain data."""
    recipe = recipe_hash(spec)
    cache = cache_root(spec) / recipe[:16]
    work = f"{cache}.work"
    files = tuple(name for fmt in spec.formats for name in ARTEFACTS[fmt])
    extravars = {
        "work": work,
        "out": f"{cache}.partial",
        "label": spec.root.label,
        "formats": list(spec.formats),
        "minimise": spec.root.minimise,
        "disk_size_mb": parse_size(spec.root.disk_size) >> 20,
        "min_free_mb": 3 * (parse_size(spec.root.disk_size) >> 20) + 2048,
        "mmdebstrap_argv": mmdebstrap_argv(spec, f"{work}/root"),
    }
    run = PlaybookRun("image-build.yml", extravars, spec.build.host, spec.build.inventory)
    out: list[Any] = [Build(recipe, str(cache), run)]
    if spec.verify.boot:
        out.append(Verify(tuple(f for f in spec.formats if f in ("uec", "qcow2", "raw"))))
    if spec.upload is not None:
        prefix = spec.upload.glance.name or spec.name
        names = tuple(f"{prefix}-{name}" for name in files)
        out.append(Upload(spec.upload.glance.url, names))
    # Last: a failed check or upload leaves the previous outputs as they were.
    out.append(WriteOutputs(str(spec.output), (*files, "packages.tsv", MANIFEST)))
    return out
