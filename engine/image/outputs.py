"""Put a built image into the output folder, in the run's journaled commit."""

from __future__ import annotations

import json
from pathlib import Path

from engine.errors import DataError
from engine.image.recipe import MANIFEST
from engine.image.state import ImageState
from engine.image.steps import WriteOutputs
from renderers import OutputTransaction

__all__ = ["handle_write"]


def _previous_files(folder: Path) -> set[str]:
    """The files an earlier run wrote into ``folder``, as its manifest lists them."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        names = {*manifest["artefacts"], "packages.tsv", MANIFEST}
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    # Only plain names: a manifest edited by hand must not reach out of the folder.
    return {
        name
        for name in names
        if isinstance(name, str) and name == Path(name).name and not name.startswith(".")
    }


def handle_write(step: WriteOutputs, state: ImageState) -> None:
    """Put the cache entry's files and the manifest into the output folder, in the run's commit.

    The files are hard links to the cache entry where it shares the output's
    file system; files of an earlier run that this recipe no longer makes (a
    format dropped) are removed in the same commit.
    """
    if state.dry_run or state.cache is None:
        return
    if state.transaction is None:  # called outside execute(): a commit of its own
        with OutputTransaction() as own:
            state.transaction = own
            try:
                handle_write(step, state)
                own.commit()
            finally:
                state.transaction = None
        return
    folder = Path(step.folder)
    try:
        for name in step.files:
            if name == MANIFEST:
                handle = state.transaction.open_text(folder / MANIFEST, newline="\n")
                handle.write(json.dumps(state.manifest, indent=2) + "\n")
            else:
                state.transaction.place(state.cache / name, folder / name)
        for name in sorted(_previous_files(folder) - set(step.files)):
            state.transaction.remove(folder / name)
    except OSError as exc:
        raise DataError(str(folder), f"cannot write the image outputs: {exc}") from None
    state.written = [str(folder / name) for name in step.files]
