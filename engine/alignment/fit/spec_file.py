"""The fitted model written into the spec file, keeping its comments and layout.

The file is edited as round-trip YAML (ruamel.yaml): the ``model:`` section
takes the place of the top-level ``threshold`` (or goes before ``matching``,
``outputs`` or at the end), and the attributes lose their ``weight`` and
``missing``, which a model makes meaningless. Everything else (comments,
order, flow or block style) stays as written. The file is replaced atomically;
the same model gives the same bytes.
"""

from __future__ import annotations

import io
import os
import re
import stat
import tempfile
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from engine.alignment.fit.model import Model
from engine.errors import DataError
from renderers.atomic import OutputTransaction

__all__ = ["with_model", "write_model"]

#: Keys of an attribute that a model replaces.
_REPLACED = ("weight", "missing")
#: Top-level keys the model section goes before, when the spec has no threshold.
_BEFORE = ("matching", "outputs", "publish", "executor", "allow_empty")


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.width = 4096  # never fold a long flow mapping of an attribute
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.preserve_quotes = True
    return yaml


def _flow(values: list[float]) -> CommentedSeq:
    seq = CommentedSeq(values)
    seq.fa.set_flow_style()
    return seq


def _section(model: Model) -> CommentedMap:
    data = model.to_data()
    section = CommentedMap()
    section["prior"] = data["prior"]
    section["threshold"] = data["threshold"]
    attributes = CommentedMap()
    for name, levels in data["attributes"].items():
        entry = CommentedMap()
        for key in ("levels", "m", "u"):
            entry[key] = _flow(levels[key])
        if levels.get("term_frequency"):
            entry["term_frequency"] = True
        attributes[name] = entry
    section["attributes"] = attributes
    return section


def with_model(text: str, model: Model, source: str) -> str:
    """The spec's text with ``model`` written in (see the module's docstring)."""
    yaml = _yaml()
    try:
        data = yaml.load(text)
    except Exception as exc:  # the loader accepted it: only a ruamel/PyYAML difference
        raise DataError(source, f"cannot edit the spec as YAML: {exc}") from None
    if not isinstance(data, CommentedMap):
        raise DataError(source, "the spec is not a mapping")
    keys = list(data.keys())
    if "threshold" in data:
        position = keys.index("threshold")
        del data["threshold"]
    elif "model" in data:
        position = keys.index("model")
    else:
        position = next((keys.index(k) for k in _BEFORE if k in data), len(keys))
    if "model" in data:
        del data["model"]
        position = min(position, len(data))
    data.insert(position, "model", _section(model))
    for attribute in data.get("attributes") or []:
        if isinstance(attribute, dict):
            for key in _REPLACED:
                if key in attribute:
                    del attribute[key]
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def write_model(spec_file: Path, model: Model, out: Path | None = None) -> Path:
    """Write the spec with its model to ``out`` (default: the spec itself), atomically.

    A symbolic link is written through (its target changes, the link stays), and a
    file replaced keeps its mode: a private spec stays private.
    """
    try:
        text = spec_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(str(spec_file), f"cannot read: {exc.strerror or exc}") from None
    target = spec_file if out is None else out
    if target.is_symlink():
        target = Path(os.path.realpath(target))
    folder = target.parent
    if not folder.is_dir():
        raise DataError(
            str(target), f"cannot write: the folder {folder} does not exist (create it first)"
        )
    moved = folder.resolve() != spec_file.resolve().parent
    try:
        mode: int | None = stat.S_IMODE(target.stat().st_mode) if target.exists() else None
    except OSError:
        mode = None
    new = with_model(text, model, str(spec_file))
    _check(new, spec_file, target, moved)
    try:
        with OutputTransaction() as transaction:
            transaction.open_text(target, newline="\n", mode=mode).write(new)
            transaction.commit()
    except OSError as exc:
        raise DataError(str(target), f"cannot write: {exc.strerror or exc}") from None
    return target


def _undotted(path: str) -> tuple[str | int, ...]:
    """``outputs[2].threshold`` -> ``("outputs", 2, "threshold")`` (a problem's field path)."""
    parts: list[str | int] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        parts.append(int(index) if index else name)
    return tuple(parts)


def _check(text: str, spec_file: Path, target: Path, moved: bool = False) -> None:
    """Refuse to write a fitted spec the loader would refuse (nothing is written then).

    A spec may hold values on the scale of its hand-set weights (a clusters threshold,
    a review band of distances) that mean nothing once the model scores by match
    probability: the user removes or rewrites them, the fit does not guess. Each problem
    is shown where the field is in the spec as the user wrote it. A copy written into
    another folder (``moved``) must also find its files from there: relative paths
    resolve from the spec's own folder, and the fit does not rewrite them.
    """
    from engine.errors import Problem, SpecError
    from engine.spec_reader import read_document, validate
    from schemas.alignment import AlignmentSpec, cross_checks

    handle, name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".fit-check", dir=target.parent
    )
    trial = Path(name)
    files = False
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        # Validated as the loader would (the text is an alignment spec: no kind to look up).
        document = read_document(trial, expand_env=False)
        validate(document, trial, "alignment", AlignmentSpec, cross_checks, check_files=False)
        if moved:
            files = True
            validate(document, trial, "alignment", AlignmentSpec, cross_checks, check_files=True)
    except SpecError as exc:
        written = read_document(spec_file, expand_env=False)
        problems = []
        for problem in exc.problems:
            if problem.file.endswith(trial.name):
                line, column = written.position(_undotted(problem.path))
                problem = Problem(str(spec_file), line, column, problem.path, problem.message)
            problems.append(problem)
        if files:
            message = (
                f"--out writes the spec into {target.parent}, not the spec's folder"
                f" ({spec_file.resolve().parent}): relative paths in a spec resolve from the"
                " spec's own folder, so from there the files above would not be found; nothing"
                " was written. Write the copy beside the spec, or make those paths absolute"
            )
            problems.append(Problem(str(spec_file), 1, 1, "--out", message))
            raise SpecError(problems) from None
        problems.append(
            Problem(
                str(spec_file),
                1,
                1,
                "model",
                "with the fitted model the spec would not be valid (above), so nothing was"
                " written: a value on the scale of the hand-set weights (a distance) means"
                " nothing once a model scores pairs by match probability; remove it, or write"
                " it as 1 - probability",
            )
        )
        raise SpecError(problems) from None
    except OSError as exc:
        raise DataError(str(target), f"cannot write: {exc.strerror or exc}") from None
    finally:
        trial.unlink(missing_ok=True)
