"""The image kind (``kind: image``): Debian images for OpenStack, built from a recipe.

A recipe is built by ``playbooks/image-build.yml`` into a content-addressed
cache entry (the hash of everything that shapes the image: Debian, packages,
customisation, formats, the playbook itself and the engine version), so an
unchanged recipe is never built twice; ``--force`` builds again. The entry is
then checked (boot under QEMU), uploaded to Glance by
``playbooks/image-upload.yml``, and only then copied into the output folder: a
failed check or upload leaves it as it was.

Modules: ``recipe`` (the hash, the packages, the mmdebstrap command line),
``steps`` (the plan), ``state``, ``build`` (build and boot-check the cache
entry), ``boot`` (the QEMU boot checks), ``upload`` (Glance), ``outputs``
(the output folder), ``report`` (the texts) and ``kind`` (what the engine
drives it through).
"""

from engine.image.recipe import (
    ARTEFACTS,
    BASE_PACKAGES,
    MANIFEST,
    mmdebstrap_argv,
    packages,
    recipe_hash,
)
from engine.image.state import ImageState
from engine.image.steps import Build, Upload, Verify, WriteOutputs, steps

__all__ = [
    "ARTEFACTS",
    "BASE_PACKAGES",
    "MANIFEST",
    "Build",
    "ImageState",
    "Upload",
    "Verify",
    "WriteOutputs",
    "mmdebstrap_argv",
    "packages",
    "recipe_hash",
    "steps",
]
