"""Composing an alignment spec in steps: drafts, previews and the YAML they become.

A draft is plain data in the spec language (``sources``, ``attributes``...) plus
what the pages need (a preview of each source), kept as JSON in
``DIR/.specengine/drafts/``. Its YAML is written for a git diff: one top-level
key per line, sources in block style, one line per attribute and per output.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from engine.alignment.metrics import distance_matrix
from engine.alignment.normalise import NormaliseError, normalise_value
from engine.alignment.sources import read_source
from engine.environment import NO_ENVIRONMENT
from engine.errors import EngineError
from engine.loader import load_yaml
from engine.web.paths import DamagedFileError, atomic_write
from schemas.alignment import Attribute, Source
from schemas.units import parse_duration

__all__ = [
    "DRAFT_MAX_AGE_DAYS",
    "NAME_LENGTH",
    "Draft",
    "DraftStore",
    "PreviewError",
    "attribute_preview",
    "check_columns",
    "finite_number",
    "flow_yaml",
    "parse_yaml_value",
    "source_preview",
    "spec_yaml",
]

#: Rows of a source shown in its preview (and used as sample values for attributes).
PREVIEW_ROWS = 10
#: Sample values per side in an attribute's live preview.
SAMPLE_VALUES = 5
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
#: Longest spec name offered: NAME.yaml and the temporaries beside it stay short file names.
NAME_LENGTH = 100
#: What a draft id looks like (``uuid4().hex[:12]``); anything else names no draft.
_DRAFT_ID = re.compile(r"[0-9a-f]{12}")
#: Drafts untouched for this long are deleted when a new draft is made.
DRAFT_MAX_AGE_DAYS = 30


class PreviewError(Exception):
    """A source or attribute that cannot be previewed, with what to fix."""


@dataclass
class Draft:
    """An alignment spec being composed."""

    id: str
    name: str
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    previews: dict[str, dict[str, Any]] = field(default_factory=dict)
    attributes: list[dict[str, Any]] = field(default_factory=list)
    blocking: Any = "none"
    threshold: int | float | None = None  # an int stays an int in the YAML
    matching: str = "best"
    outputs: list[dict[str, Any]] = field(default_factory=list)
    saved_sha256: str | None = None

    @property
    def file(self) -> str:
        """Where the spec is saved: ``NAME.yaml`` at the top of the served folder."""
        return f"{self.name}.yaml"

    def spec(self) -> dict[str, Any]:
        """The draft as a spec (a mapping in the spec language, keys in reading order)."""
        out: dict[str, Any] = {"kind": "alignment", "name": self.name}
        out["sources"] = {
            role: self.sources[role] for role in ("align", "target") if role in self.sources
        }
        out["attributes"] = self.attributes
        out["blocking"] = self.blocking
        if self.threshold is not None:
            out["threshold"] = self.threshold
        out["matching"] = self.matching
        out["outputs"] = self.outputs
        return out

    def columns(self, role: str) -> list[str]:
        """The detected columns of one side (from its preview)."""
        return list(self.previews.get(role, {}).get("columns", []))


def _no_constant(name: str) -> Any:
    # NaN and Infinity are no JSON, and a NaN threshold never reads back from YAML.
    raise ValueError(f"{name} is not a number a spec can hold")


class DraftStore:
    """Drafts of one served folder, as JSON files (atomic writes).

    Drafts are never finished on purpose: those untouched for ``max_age_days``
    are deleted when a new one is made, so the folder does not fill up.
    """

    def __init__(self, root: Path, *, max_age_days: float = DRAFT_MAX_AGE_DAYS) -> None:
        self.root = root
        self.folder = root / ".specengine" / "drafts"
        self.max_age_days = max_age_days

    @staticmethod
    def check_name(name: str) -> None:
        """ValueError for a name the spec language refuses, or too long for a file name."""
        if not _NAME.match(name):
            raise ValueError(
                "a name starts with a letter or digit, then letters, digits, '_', '.' or '-'"
            )
        if len(name) > NAME_LENGTH:
            raise ValueError(f"a name has at most {NAME_LENGTH} characters")

    def new(self, name: str) -> Draft:
        """A new, empty draft; ValueError for a name the spec language refuses."""
        self.check_name(name)
        self.prune()
        draft = Draft(uuid.uuid4().hex[:12], name)
        self.save(draft)
        return draft

    def prune(self) -> None:
        """Delete the drafts not written for ``max_age_days``."""
        if not self.folder.is_dir():
            return
        oldest = time.time() - self.max_age_days * 86400
        for path in self.folder.glob("*.json"):
            with contextlib.suppress(OSError):  # deleted meanwhile: as good
                if path.stat().st_mtime < oldest:
                    path.unlink()

    def get(self, draft_id: str) -> Draft | None:
        """A draft by id, or None; DamagedFileError when its file cannot be read as a draft."""
        if not _DRAFT_ID.fullmatch(draft_id):
            return None
        path = self.folder / f"{draft_id}.json"
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
            return _DRAFT.validate_python(data)
        except (OSError, ValueError) as exc:  # ValidationError is a ValueError
            raise DamagedFileError(self.root, path, exc) from None

    def save(self, draft: Draft) -> None:
        """Write the draft (atomically); ValueError for a value JSON cannot hold."""
        data = json.dumps(asdict(draft), indent=2, allow_nan=False) + "\n"  # key order: the YAML's
        atomic_write(self.folder / f"{draft.id}.json", data.encode("utf-8"))


#: A draft read back from its JSON: wrong types are a damaged file, not a 500 later.
_DRAFT = TypeAdapter(Draft)


# --------------------------------------------------------------------------- YAML


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (queries) as literal blocks; never aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def flow_yaml(value: Any) -> str:
    """One value on one line, in YAML flow style."""
    text = yaml.dump(
        value, Dumper=_Dumper, default_flow_style=True, sort_keys=False, width=math.inf
    )
    return text.removesuffix("\n...\n").rstrip("\n")


def _block(value: Any, indent: int) -> str:
    text = yaml.dump(value, Dumper=_Dumper, default_flow_style=False, sort_keys=False, width=100)
    pad = " " * indent
    return "".join(pad + line + "\n" for line in text.splitlines())


def spec_yaml(spec: dict[str, Any]) -> str:
    """A spec mapping as YAML laid out for a git diff (and read back to the same data)."""
    lines: list[str] = []
    for key, value in spec.items():
        if key == "sources":
            lines.append("sources:\n")
            for role, source in value.items():
                lines.append(f"  {role}:\n")
                for skey, svalue in source.items():
                    if isinstance(svalue, str) and "\n" in svalue:
                        lines.append(f"    {skey}: |\n")
                        lines.extend(f"      {line}\n" for line in svalue.splitlines())
                    else:
                        lines.append(f"    {skey}: {flow_yaml(svalue)}\n")
        elif isinstance(value, list):
            if not value:
                lines.append(f"{key}: []\n")
                continue
            lines.append(f"{key}:\n")
            lines.extend(f"  - {flow_yaml(item)}\n" for item in value)
        else:
            lines.append(f"{key}: {flow_yaml(value)}\n")
    text = "".join(lines)
    if yaml.safe_load(text) != spec:  # never save YAML that means something else
        raise ValueError("internal error: the YAML does not read back as the draft")
    return text


def parse_yaml_value(text: str, what: str) -> Any:
    """A value typed in a form as YAML (``{unit: days}``, ``[lowercase]``); empty is None.

    PreviewError for a value a draft cannot keep: it is stored as JSON and
    written back as YAML, so no dates, no NaN or infinity, only text keys.
    """
    if not text.strip():
        return None
    try:
        value = load_yaml(text)  # as the loader reads specs: `no` is Norwegian, not false
    except yaml.YAMLError as exc:
        raise PreviewError(f"{what}: not valid YAML ({exc})") from None
    problem = _not_plain(value)
    if problem:
        raise PreviewError(f"{what}: {problem} (write it quoted if it is text)")
    return value


def _not_plain(value: Any) -> str | None:
    """What makes ``value`` more than plain JSON-like data, or None."""
    if value is None or isinstance(value, bool | int | str):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value} is not a finite number"
    if isinstance(value, list):
        return next((p for p in map(_not_plain, value) if p), None)
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"the key {key!r} is not text"
            problem = _not_plain(item)
            if problem:
                return problem
        return None
    return f"{value!r} is a {type(value).__name__}, not a number, text, list or mapping"


def finite_number(text: str, what: str) -> float:
    """A number typed in a form; ValueError (saying ``what``) unless it is finite."""
    try:
        number = float(text.strip())
    except ValueError:
        raise ValueError(f"{what}: {text.strip()!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{what}: {text.strip()!r} is not a finite number")
    return number


# --------------------------------------------------------------------------- previews


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in error["loc"][1:]) or "source"
        parts.append(f"{loc}: {error['msg']}")
    return "; ".join(parts)


def source_preview(source: dict[str, Any], role: str, base_dir: Path) -> dict[str, Any]:
    """Read a source as a run would and keep its columns and first rows.

    A remote source is read in one request (no paging), without retries and
    with a short timeout.
    Raises PreviewError with the engine's message when it cannot be read.
    """
    data = dict(source)
    if "sparql" in data or "rql" in data:
        data["retries"], data["page_size"] = 0, None
        # Ten seconds at most, whatever the source's timeout (a duration: 60s, 2min).
        with contextlib.suppress(ValueError):
            seconds = parse_duration(str(data.get("timeout", "10s")))
            data["timeout"] = f"{min(seconds, 10.0):g}s"
    try:
        model = TypeAdapter(Source).validate_python(
            data, context={"base_dir": base_dir, "check_files": True}
        )
    except ValidationError as exc:
        raise PreviewError(_validation_message(exc)) from None
    try:
        # No credentials: the form sets no auth, and the web never reads the environment.
        records = read_source(model, role, environment=NO_ENVIRONMENT)
    except EngineError as exc:
        raise PreviewError(exc.render()) from None
    rows = [
        [records.ids[i], *(records.columns[n][i] for n in records.names)]
        for i in range(min(PREVIEW_ROWS, len(records)))
    ]
    return {"columns": list(records.names), "rows": rows, "count": len(records)}


def _values(preview: dict[str, Any], columns: list[str]) -> list[Any]:
    names = preview.get("columns", [])
    out: list[Any] = []
    for row in preview.get("rows", [])[:SAMPLE_VALUES]:
        cells = [row[1 + names.index(c)] for c in columns]
        out.append(cells[0] if len(cells) == 1 else tuple(cells))
    return out


def check_columns(columns: list[str], names: list[str]) -> None:
    """PreviewError naming the first of ``columns`` not among ``names`` (a side's columns)."""
    _columns(columns, "", names)


def _columns(ref: Any, default: str, names: list[str]) -> list[str]:
    refs = ref if isinstance(ref, list) else [default if ref is None else ref]
    out = []
    for item in refs:
        name = names[item] if isinstance(item, int) and 0 <= item < len(names) else item
        if name not in names:
            raise PreviewError(f"no column {item!r} (the columns are: {', '.join(names)})")
        out.append(str(name))
    return out


def attribute_preview(draft: Draft, attribute: dict[str, Any]) -> dict[str, Any]:
    """An attribute on the sources' sample values: normalised values and their distances.

    Raises PreviewError (the attribute is invalid, a column is unknown, a value
    cannot be normalised or compared).
    """
    try:
        attr = TypeAdapter(Attribute).validate_python(attribute)
    except ValidationError as exc:
        raise PreviewError(_validation_message(exc)) from None
    sides: dict[str, list[Any]] = {}
    for role, ref in (("align", attr.align), ("target", attr.target)):
        preview = draft.previews.get(role)
        if not preview:
            raise PreviewError(f"preview the {role} source first")
        raw = _values(preview, _columns(ref, attr.name, preview["columns"]))
        values: list[Any] = []
        for value in raw:
            if isinstance(value, tuple):
                values.append(value)
                continue
            try:
                values.append(normalise_value(value, attr.chain(role)))
            except NormaliseError as exc:
                raise PreviewError(f"{role} value {value!r}: {exc}") from None
        sides[role] = values
        sides[f"{role}_raw"] = raw
    try:
        matrix = distance_matrix(
            attr.metric.name, sides["align"], sides["target"], attr.metric.options
        )
    except (NormaliseError, ValueError) as exc:
        raise PreviewError(f"metric {attr.metric.name}: {exc}") from None
    weighted = [
        [None if math.isnan(d) else round(float(d) * attr.weight, 6) for d in row] for row in matrix
    ]
    return {
        "align": list(zip(sides["align_raw"], sides["align"], strict=True)),
        "target": list(zip(sides["target_raw"], sides["target"], strict=True)),
        "distances": weighted,
        "metric": attr.metric.name,
        "weight": attr.weight,
    }
