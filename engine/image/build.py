"""Build a recipe into its cache entry, and check that the entry boots.

One build (or boot check) in a cache at a time: the entry appears whole or
not at all, and a second run of the same recipe waits for the first, then
finds the entry it made.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.hosts.ansible import run_playbook
from engine.image.recipe import ARTEFACTS, MANIFEST
from engine.image.state import ImageState
from engine.image.steps import Build, Verify
from engine.version import __version__

__all__ = ["entry_lock", "handle_build", "handle_verify", "say"]

log = logging.getLogger("engine.image")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def say(state: ImageState, text: str) -> None:
    """A progress line: logged at INFO (``-v``), else printed on a terminal."""
    if log.isEnabledFor(logging.INFO):
        log.info("%s", text)
    elif state.progress:
        print(text, file=sys.stderr, flush=True)


def _manifest(state: ImageState, folder: Path, recipe: str) -> dict[str, Any]:
    spec = state.spec
    spec_path = Path(state.spec_file)
    try:
        spec_digest = hashlib.sha256(spec_path.read_bytes()).hexdigest()
    except OSError:
        spec_digest = "unknown"
    artefacts = {}
    for fmt in spec.formats:
        for name in ARTEFACTS[fmt]:
            path = folder / name
            artefacts[name] = {
                "format": fmt,
                "size": path.stat().st_size,
                "sha256": _sha256(path),
            }
    rows = (folder / "packages.tsv").read_text(encoding="utf-8").splitlines()
    installed = [dict(zip(("name", "version", "arch"), r.split("\t"), strict=False)) for r in rows]
    build = json.loads((folder / "build.json").read_text(encoding="utf-8"))
    return {
        "name": spec.name,
        "recipe": recipe,
        "spec_file": str(spec_path),
        "spec_sha256": spec_digest,
        "engine_version": __version__,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "debian": spec.debian.model_dump(mode="json"),
        "root": {"label": spec.root.label, "used_mib": build.get("root_used_mb")},
        "artefacts": artefacts,
        "packages": installed,
    }


def _save_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    temp = folder / f".{MANIFEST}.tmp"
    temp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    temp.replace(folder / MANIFEST)


@contextlib.contextmanager
def entry_lock(cache: Path) -> Iterator[None]:
    """Hold the image cache's lock: one build (or boot check) in a cache at a time.

    Two runs of the same recipe at once (two terminals, two test workers) would
    otherwise build it twice into the same ``.partial`` folder. The second waits,
    then finds the entry the first made. The lock is an flock on the cache
    folder itself: it dies with its process (a killed build leaves no stale
    lock) and leaves no file behind.
    """
    cache.parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(cache.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("%s: another run is building in this cache; waiting for it", cache.parent)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)


def handle_build(step: Build, state: ImageState) -> None:
    """Build into the cache entry unless it exists (or ``--force``)."""
    if state.dry_run:
        _build(step, state)
        return
    with entry_lock(Path(step.cache)):
        _build(step, state)


def _build(step: Build, state: ImageState) -> None:
    cache = Path(step.cache)
    state.cache = cache
    manifest = cache / MANIFEST
    if manifest.is_file() and not state.force:
        state.cached = True
        state.manifest = json.loads(manifest.read_text(encoding="utf-8"))
        return
    if state.dry_run:
        return
    partial = Path(str(step.run.extravars["out"]))
    shutil.rmtree(partial, ignore_errors=True)
    started = time.perf_counter()
    try:
        result = run_playbook(step.run, progress=lambda task: say(state, f"build: {task}"))
        state.timings.update({f"build: {k}": v for k, v in result.seconds.items()})
        state.manifest = _manifest(state, partial, step.recipe)
        _save_manifest(partial, state.manifest)
        (partial / "build.json").unlink(missing_ok=True)
        # The entry appears whole or not at all.
        old = cache.with_name(cache.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if cache.exists():
            cache.rename(old)
        partial.rename(cache)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
        shutil.rmtree(Path(str(step.run.extravars["work"])), ignore_errors=True)
    state.timings["build"] = time.perf_counter() - started


def handle_verify(step: Verify, state: ImageState) -> None:
    """Boot the built formats; the results go into the manifest."""
    from engine.image.boot import boot_checks

    if state.dry_run or state.cache is None:
        return
    done = state.manifest.get("boot", {})
    if state.cached and not state.force and all(fmt in done for fmt in step.formats):
        return  # this very build booted before: its figures are in the cache entry
    with entry_lock(state.cache):
        manifest = state.cache / MANIFEST
        if manifest.is_file() and not state.force:  # booted by another run meanwhile?
            state.manifest = json.loads(manifest.read_text(encoding="utf-8"))
            done = state.manifest.get("boot", {})
            if all(fmt in done for fmt in step.formats):
                return
        started = time.perf_counter()
        results = boot_checks(
            state.cache, step.formats, state.spec, progress=lambda t: say(state, f"verify: {t}")
        )
        state.manifest["boot"] = {**done, **results}
        _save_manifest(state.cache, state.manifest)
    state.timings["verify"] = time.perf_counter() - started
