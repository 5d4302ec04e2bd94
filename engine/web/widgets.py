"""Form widgets generated from the spec language: options of metrics, normalisers, blocking.

Each options model of ``schemas.alignment`` (``TemporalOptions``...) becomes a
list of :class:`OptionField`: a ``Literal`` is a select, a ``bool`` a checkbox,
an ``int`` or ``float`` a number input (bounds from the schema), a ``str`` a text
input. A widget left at "default" writes nothing in the spec, so the YAML holds
only what the user chose (``{temporal: {unit: days, dayfirst: true}}``).

Field names in the form: ``metric.NAME.FIELD`` for the options of metric NAME;
``normaliser`` (the chosen names, in the order of the chain) and
``normaliser.N.FIELD`` for the options of the N-th (from 0: the same normaliser
may come twice); ``blocking.NAME.FIELD`` for the options of blocking rule NAME.
"""

from __future__ import annotations

import functools
import inspect
import types
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from engine.web.compose import PreviewError, finite_number
from schemas.alignment import BLOCKINGS, METRICS, NORMALISERS

__all__ = [
    "NORMALISER_PREFIX",
    "RULE_INPUTS",
    "OptionField",
    "Vocabulary",
    "blocking_entry",
    "metric_entry",
    "named_value",
    "normaliser_entries",
    "option_fields",
    "read_options",
]


@dataclass(frozen=True)
class OptionField:
    """One option of a metric or normaliser, as a form widget."""

    name: str
    kind: Literal["select", "checkbox", "number", "text", "advanced"]
    default: Any
    required: bool
    description: str
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    integer: bool = False
    #: A number, or a quantity with its unit (``0.5``, ``3 km``): typed as text.
    quantity: bool = False

    @property
    def default_text(self) -> str:
        """The default as shown in the form ("none" for None)."""
        if self.required:
            return ""
        if self.default is None:
            return "none"
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        if self.default == "":
            return '""'
        return _number(self.default) if isinstance(self.default, float) else str(self.default)

    @property
    def min_text(self) -> str:
        """The ``min`` of a number input, or empty."""
        return "" if self.minimum is None else _number(self.minimum)

    @property
    def max_text(self) -> str:
        """The ``max`` of a number input, or empty."""
        return "" if self.maximum is None else _number(self.maximum)

    @property
    def step(self) -> str:
        """The ``step`` of a number input."""
        return "1" if self.integer else "any"

    @property
    def hint(self) -> str:
        """The description, the bounds and the default, for the form."""
        parts = [self.description] if self.description else []
        bounds = []
        if self.minimum is not None:
            bounds.append(f"{'>' if self.exclusive_minimum else '≥'} {_number(self.minimum)}")
        if self.maximum is not None:
            bounds.append(f"{'<' if self.exclusive_maximum else '≤'} {_number(self.maximum)}")
        if bounds:
            parts.append(", ".join(bounds))
        if self.required:
            parts.append("required")
        elif self.kind != "advanced":
            parts.append(f"default: {self.default_text}")
        return "; ".join(parts)


@dataclass(frozen=True)
class Vocabulary:
    """A metric or normaliser offered by the form: its name, what it does, its fields."""

    name: str
    doc: str
    fields: tuple[OptionField, ...]
    prefix: str  # of its fields' names in the form
    model: type[BaseModel]

    @property
    def takes_options(self) -> bool:
        """Whether it has any option."""
        return bool(self.fields)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The type without ``None`` and whether None is allowed."""
    origin = get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        args = [a for a in get_args(annotation) if a is not type(None)]
        nullable = len(args) != len(get_args(annotation))
        if len(args) == 1:
            return args[0], nullable
        return Union[tuple(args)], nullable  # noqa: UP007 - built at run time
    return annotation, False


def _field_order(model: type[BaseModel]) -> list[str]:
    """A model's fields, its own first, then those it inherits (``unit`` before ``dayfirst``)."""
    names: list[str] = []
    for cls in model.__mro__:
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
            continue
        for name in inspect.get_annotations(cls):
            if name in model.model_fields and name not in names:
                names.append(name)
    names.extend(n for n in model.model_fields if n not in names)
    return names


def option_fields(model: type[BaseModel]) -> tuple[OptionField, ...]:
    """The form widgets of an options model, own fields first."""
    out: list[OptionField] = []
    for name in _field_order(model):
        info = model.model_fields[name]
        kind_type, _ = _unwrap(info.annotation)
        required = info.is_required()
        default = None if required else info.get_default(call_default_factory=True)
        common: dict[str, Any] = {
            # The key a spec writes: the alias where the model keeps another name.
            "name": info.validation_alias if isinstance(info.validation_alias, str) else name,
            "default": default,
            "required": required,
            "description": info.description or "",
        }
        if get_origin(kind_type) is Literal:
            out.append(OptionField(kind="select", choices=get_args(kind_type), **common))
        elif kind_type is bool:
            out.append(OptionField(kind="checkbox", **common))
        elif kind_type in (int, float):
            bounds: dict[str, Any] = {}
            for item in info.metadata:
                for key, target, exclusive in (
                    ("ge", "minimum", False),
                    ("gt", "minimum", True),
                    ("le", "maximum", False),
                    ("lt", "maximum", True),
                ):
                    value = getattr(item, key, None)
                    if value is not None:
                        bounds[target] = float(value)
                        bounds[f"exclusive_{target}"] = exclusive
            out.append(OptionField(kind="number", integer=kind_type is int, **bounds, **common))
        elif set(get_args(kind_type)) == {float, str}:
            out.append(OptionField(kind="text", quantity=True, **common))
        elif kind_type is str:
            out.append(OptionField(kind="text", **common))
        else:  # a list, a tuple, a union: only the advanced (YAML) box can say it
            out.append(OptionField(kind="advanced", **common))
    return tuple(out)


def _doc(model: type[BaseModel]) -> str:
    return (model.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")


def _plain(doc: str) -> str:
    return doc.replace("``", "")


@functools.cache
def metric_entry(name: str) -> Vocabulary:
    """The form of one metric (KeyError when the spec language has no such metric)."""
    from engine.alignment.metrics import METRICS as REGISTRY

    model = METRICS[name]
    doc = REGISTRY[name].doc if name in REGISTRY else ""
    return Vocabulary(
        name, _plain(doc or _doc(model)), option_fields(model), f"metric.{name}", model
    )


#: The prefix of a normaliser's fields in the page: the page's script numbers each
#: chosen one (``normaliser.0``, ``normaliser.1``...) as the chain is reordered.
NORMALISER_PREFIX = "normaliser.__i__"


@functools.cache
def normaliser_entries() -> tuple[Vocabulary, ...]:
    """Every normaliser of the spec language, in the order of its table."""
    from engine.alignment.normalise import NORMALISERS as REGISTRY

    out = []
    for name, model in NORMALISERS.items():
        doc = REGISTRY[name].doc if name in REGISTRY else ""
        out.append(
            Vocabulary(
                name, _plain(doc or _doc(model)), option_fields(model), NORMALISER_PREFIX, model
            )
        )
    return tuple(out)


#: What a blocking rule reads (an attribute, columns) and its key normalisers: the
#: settings page has its own widgets for these, or the YAML box.
RULE_INPUTS = ("attribute", "align", "target", "normalise")


@functools.cache
def blocking_entry(name: str) -> Vocabulary:
    """The form of one blocking rule, without its inputs (KeyError for no such rule)."""
    model = BLOCKINGS[name]
    fields = tuple(f for f in option_fields(model) if f.name not in RULE_INPUTS)
    # The whole docstring: it says which option means what (a radius as a length or a number).
    doc = " ".join((model.__doc__ or "").split())
    return Vocabulary(name, _plain(doc), fields, f"blocking.{name}", model)


# --------------------------------------------------------------------------- reading the form


def _message(field: OptionField | None, error: Any, model: type[BaseModel]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        valid = (
            ", ".join(
                info.validation_alias if isinstance(info.validation_alias, str) else name
                for name, info in model.model_fields.items()
            )
            or "none"
        )
        return f"not an option (the options are: {valid})"
    if kind == "literal_error" and field is not None:
        return "must be one of " + ", ".join(str(c) for c in field.choices)
    if kind == "missing":
        return "required"
    text = str(error["msg"])
    if text.startswith("Input should be"):
        text = "must be" + text.removeprefix("Input should be")
    if text.startswith("Value error, "):
        text = text.removeprefix("Value error, ")
    return text


def _read(field: OptionField, form: FormData, key: str) -> tuple[bool, Any]:
    """Whether the form sets this option (not left at default), and to what.

    ValueError (with the message only) for a value of the wrong kind.
    """
    if field.kind == "checkbox":
        values = [str(v) for v in form.getlist(key)]
        if not values:
            return False, None
        value = "true" in values
        return value != field.default, value
    raw = form.get(key)
    text = "" if raw is None else str(raw)
    if field.kind == "text":
        if field.quantity and text.strip():
            try:  # a number stays a number (radius: 0.5); else a quantity (radius: 3 km)
                return True, finite_number(text.strip(), "")
            except ValueError:
                return True, text.strip()
        return (True, text) if text else (False, None)
    text = text.strip()
    if not text:
        return False, None
    if field.kind == "select":
        for choice in field.choices:
            if str(choice) == text:
                return True, choice
        raise ValueError("must be one of " + ", ".join(str(c) for c in field.choices))
    if field.kind == "number":
        try:
            number = finite_number(text, "")
        except ValueError as exc:
            raise ValueError(str(exc).removeprefix(": ")) from None
        if field.integer:
            if not number.is_integer():
                raise ValueError(f"{text!r} is not a whole number")
            return True, int(number)
        return True, int(number) if number.is_integer() else number
    return False, None  # advanced: never in the form


def read_options(
    entry: Vocabulary,
    form: FormData,
    label: str,
    extra: dict[str, Any] | None = None,
    *,
    prefix: str | None = None,
) -> dict[str, Any]:
    """The options set in the form for ``entry`` (then ``extra``, from the YAML box), checked.

    ``prefix``: of the fields' names in the form, when not the entry's own
    (``normaliser.2`` for the third normaliser of a chain).
    PreviewError naming each bad field: ``birthdate › unit: must be one of days, months, years``.
    """
    model = entry.model
    by_name = {f.name: f for f in entry.fields}
    options: dict[str, Any] = {}
    problems: list[str] = []
    for field in entry.fields:
        try:
            given, value = _read(field, form, f"{prefix or entry.prefix}.{field.name}")
        except ValueError as exc:
            problems.append(f"{label} › {field.name}: {exc}")
            continue
        if given:
            options[field.name] = value
    if problems:
        raise PreviewError("; ".join(problems))
    options.update(extra or {})
    try:
        model.model_validate(options)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            where = str(error["loc"][0]) if error["loc"] else ""
            message = _message(by_name.get(where), error, model)
            problems.append(f"{label} › {where}: {message}" if where else f"{label}: {message}")
        raise PreviewError("; ".join(problems)) from None
    return options


def named_value(entry: Vocabulary, options: dict[str, Any]) -> Any:
    """How the spec names an entry with these options: ``lowercase``, ``{prefix: 3}``, ``{temporal: {...}}``."""
    if not options:
        return entry.name
    shorthand = getattr(entry.model, "shorthand", None)
    if isinstance(shorthand, str) and list(options) == [shorthand]:
        return {entry.name: options[shorthand]}
    return {entry.name: options}
