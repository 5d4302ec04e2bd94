"""Shared building blocks of the spec models.

``StrictModel`` forbids unknown keys. ``named_union`` builds the type of a field
that names one entry of a vocabulary (a metric, a normaliser, a blocking rule),
either bare (``levenshtein``) or with options (``{temporal: {unit: days}}``).
An unknown name is rejected with the list of valid names and the closest one.
"""

from __future__ import annotations

import difflib
import os
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    RootModel,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    create_model,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "SCALE_MIN",
    "InputPath",
    "OutputDir",
    "OutputPath",
    "Ref",
    "StrictModel",
    "check_scale",
    "closest",
    "keys_at",
    "named_union",
]


class StrictModel(BaseModel):
    """Base of every spec model: unknown keys are errors, values are frozen, numbers finite.

    ``allow_inf_nan=False`` makes every float field of the spec language refuse
    ``.inf``, ``.nan`` and numbers YAML reads as infinite (``1e309``), at their line.
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False
    )


#: The smallest ``scale`` of a metric: below, dividing a distance by it overflows.
SCALE_MIN = 1e-6


def check_scale(value: float | None) -> float | None:
    """A metric's ``scale`` (the distance read as 1) is at least :data:`SCALE_MIN`.

    A field validator rather than ``ge=``: the field stays ``gt=0`` (its message
    for 0 and the compose page's number widget), this refuses a denormal such as
    ``1e-320``, which overflowed numpy at run.
    """
    if value is not None and value < SCALE_MIN:
        raise PydanticCustomError(
            "scale", "a scale is at least 1e-6 (got {value})", {"value": value}
        )
    return value


class NoOptions(StrictModel):
    """Options of a vocabulary entry that takes none."""


@dataclass(frozen=True)
class Ref:
    """A validated reference to a vocabulary entry: its name and its options."""

    name: str
    options: Any

    def option(self, key: str, default: Any = None) -> Any:
        """One option by name, or ``default`` when the options have no such field."""
        return getattr(self.options, key, default)


def keys_at(model: Any, loc: tuple[Any, ...]) -> list[str] | None:
    """The keys valid in the mapping at ``loc`` (a validation error's location) of ``model``.

    ``loc`` is walked through fields (by key), list items, and union members
    (by tag, or by the first member that holds the rest of the path). None when
    no model stands there: a did-you-mean hint then offers nothing rather than
    a key valid elsewhere in the language.
    """
    found = _model_at(model, tuple(loc))
    if found is None:
        return None
    return sorted(
        {key for name, info in found.model_fields.items() for key in _aliases(info) or [name]}
    )


def _model_at(tp: Any, loc: tuple[Any, ...]) -> type[BaseModel] | None:
    origin = get_origin(tp)
    if origin is Annotated:
        return _model_at(get_args(tp)[0], loc)
    if isinstance(tp, type) and issubclass(tp, RootModel):
        return _model_at(tp.model_fields["root"].annotation, loc)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if not loc:
            return tp
        for name, info in tp.model_fields.items():
            if loc[0] == name or loc[0] in _aliases(info):
                return _model_at(info.annotation, loc[1:])
        return None
    if origin in (Union, types.UnionType):
        members = get_args(tp)
        if loc:
            for member in members:
                if get_origin(member) is Annotated and any(
                    isinstance(m, Tag) and m.tag == loc[0] for m in get_args(member)[1:]
                ):
                    return _model_at(member, loc[1:])
        # An untagged member: its location part is the member's type, or nothing.
        for rest in (loc, loc[1:]) if loc else (loc,):
            for member in members:
                found = _model_at(member, rest)
                if found is not None:
                    return found
        return None
    if origin in (list, tuple, set, frozenset) and loc and isinstance(loc[0], int):
        args = [a for a in get_args(tp) if a is not Ellipsis]
        index = loc[0] if origin is tuple and len(args) > 1 else 0
        return _model_at(args[min(index, len(args) - 1)], loc[1:]) if args else None
    if origin is dict and loc:
        return _model_at(get_args(tp)[1], loc[1:])
    return None


def _aliases(info: Any) -> list[str]:
    alias = info.validation_alias
    if isinstance(alias, str):
        return [alias]
    if alias is not None and hasattr(alias, "choices"):
        return [c for c in alias.choices if isinstance(c, str)]
    return []


def closest(name: str, names: list[str]) -> str:
    """A ' did you mean X?' hint for an unknown name, or '' when nothing is close."""
    match = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else ""


def _takes_no_argument(model: Any) -> bool:
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return False
    return all(not f.is_required() for f in model.model_fields.values())


def named_union(label: str, table: dict[str, Any]) -> Any:
    """The type of a field naming one entry of ``table`` (name -> options type).

    Accepted forms: ``name`` (when the options all have defaults), ``{name: {...}}``,
    and ``{name: value}`` when the options model declares a ``shorthand`` field
    (``{remove_after: "("}``). Validation yields a :class:`Ref`.
    """
    names = sorted(table)
    bare = [n for n in names if _takes_no_argument(table[n])]

    members: list[Any] = []
    if bare:
        members.append(Annotated[Literal[tuple(bare)], Tag("__bare__")])
    for name in names:
        options = table[name]
        shorthand = getattr(options, "shorthand", None)
        field_type: Any = options
        if isinstance(shorthand, str):
            field_type = Annotated[options, BeforeValidator(_expand_shorthand(shorthand))]
        default: Any = ...
        if _takes_no_argument(options):
            field_type = Annotated[field_type, BeforeValidator(_none_to_empty)]
        wrapper = create_model(  # type: ignore[call-overload]
            f"{_camel(label)}{_camel(name)}",
            __base__=StrictModel,
            **{name: (field_type, default)},
        )
        members.append(Annotated[wrapper, Tag(name)])

    def reject(value: Any) -> Any:
        valid = ", ".join(names)
        if isinstance(value, str):
            if value in table:
                raise PydanticCustomError(
                    "needs_options",
                    "{label} '{name}' needs options: write {{{name}: {{...}}}}",
                    {"label": label, "name": value},
                )
            raise PydanticCustomError(
                "unknown_name",
                "unknown {label} '{name}'{hint} (valid: {valid})",
                {"label": label, "name": value, "hint": closest(value, names), "valid": valid},
            )
        if isinstance(value, dict) and len(value) == 1:
            key = str(next(iter(value)))
            raise PydanticCustomError(
                "unknown_name",
                "unknown {label} '{name}'{hint} (valid: {valid})",
                {"label": label, "name": key, "hint": closest(key, names), "valid": valid},
            )
        raise PydanticCustomError(
            "named_entry",
            "expected a {label}: one of {valid}, or a mapping with one of them as its only key",
            {"label": label, "valid": valid},
        )

    members.append(
        Annotated[Any, AfterValidator(reject), WithJsonSchema({"not": {}}), Tag("__invalid__")]
    )

    def discriminate(value: Any) -> str:
        if isinstance(value, str):
            return "__bare__" if value in bare else "__invalid__"
        if isinstance(value, dict) and len(value) == 1:
            key = next(iter(value))
            return key if key in table else "__invalid__"
        if isinstance(value, BaseModel):  # already validated (model_copy, defaults)
            return next(iter(type(value).model_fields))
        return "__invalid__"

    def to_ref(value: Any) -> Ref:
        if isinstance(value, str):
            options = table[value]
            return Ref(value, options() if _takes_no_argument(options) else None)
        name = next(iter(type(value).model_fields))
        return Ref(name, getattr(value, name))

    return Annotated[
        Union[tuple(members)],  # noqa: UP007 - built at run time
        Discriminator(discriminate),
        AfterValidator(to_ref),
    ]


def _camel(text: str) -> str:
    return "".join(
        part.capitalize() for part in text.replace("-", "_").replace(" ", "_").split("_")
    )


def _none_to_empty(value: Any) -> Any:
    return {} if value is None else value


def _expand_shorthand(field: str) -> Any:
    def expand(value: Any) -> Any:
        return value if isinstance(value, dict) else {field: value}

    return expand


#: The longest path and file name Linux accepts (PATH_MAX, NAME_MAX), in bytes.
_PATH_MAX, _NAME_MAX = 4096, 255


def _resolve(value: str, info: ValidationInfo) -> Path:
    try:
        path = Path(value).expanduser()
    except RuntimeError:  # ~user of no such user, or no home folder to expand ~ to
        user = value[1:].split("/", 1)[0]
        raise PydanticCustomError(
            "path_home",
            "cannot expand {start}: {who}",
            {
                "start": value.split("/", 1)[0],
                "who": f"there is no user '{user}'" if user else "no home folder is known",
            },
        ) from None
    base = (info.context or {}).get("base_dir")
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    # normpath, not resolve(): "specs/../out" becomes "out" but symlinks are kept.
    path = Path(os.path.normpath(path))
    # Checked here, not left to the system: a too long name is an error of the spec
    # (at its line), not of whichever call first touches the file.
    try:
        longest = max((len(os.fsencode(part)) for part in path.parts), default=0)
        total = len(os.fsencode(path))
    except UnicodeEncodeError:  # a lone surrogate: no file name holds one
        raise PydanticCustomError(
            "path_chars", "a file name cannot hold a lone surrogate (\\ud800-\\udfff)"
        ) from None
    if longest > _NAME_MAX or total > _PATH_MAX:
        raise PydanticCustomError(
            "path_too_long",
            "path too long: a file name holds at most {name} bytes and a path {path}",
            {"name": _NAME_MAX, "path": _PATH_MAX},
        )
    return path


def _is(test: str, path: Path) -> bool:
    """``path.is_file()`` (or ``is_dir``, ``exists``), False where the system cannot tell."""
    try:
        return bool(getattr(path, test)())
    except (OSError, ValueError):  # a name the file system refuses, say
        return False


def _input_path(value: Any, info: ValidationInfo) -> Path:
    if not isinstance(value, str | Path) or not str(value):
        raise PydanticCustomError("path_type", "expected a file path")
    path = _resolve(str(value), info)
    if (info.context or {}).get("check_files", True) and not _is("is_file", path):
        raise PydanticCustomError(
            "file_missing",
            "file not found: {path}{what}",
            {"path": str(path), "what": " (it is a directory)" if _is("is_dir", path) else ""},
        )
    return path


def _output_path(value: Any, info: ValidationInfo) -> Path:
    if not isinstance(value, str | Path) or not str(value):
        raise PydanticCustomError("path_type", "expected a file path")
    path = _resolve(str(value), info)
    if _is("is_dir", path):
        raise PydanticCustomError(
            "path_is_dir", "{path} is a directory, not a file", {"path": str(path)}
        )
    return path


def _output_dir(value: Any, info: ValidationInfo) -> Path:
    if not isinstance(value, str | Path) or not str(value):
        raise PydanticCustomError("path_type", "expected a folder path")
    path = _resolve(str(value), info)
    if _is("exists", path) and not _is("is_dir", path):
        raise PydanticCustomError(
            "path_is_file", "{path} is a file, not a folder", {"path": str(path)}
        )
    return path


#: A folder the job writes into; relative to the spec's folder.
OutputDir = Annotated[Path, BeforeValidator(_output_dir), WithJsonSchema({"type": "string"})]
#: A file the job reads; relative to the spec's folder; must exist.
InputPath = Annotated[Path, BeforeValidator(_input_path), WithJsonSchema({"type": "string"})]
#: A file the job writes; relative to the spec's folder.
OutputPath = Annotated[Path, BeforeValidator(_output_path), WithJsonSchema({"type": "string"})]
