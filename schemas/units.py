"""Quantities of the spec language: a quantity is written with its unit, in its value.

Durations ``500ms``, ``60s``, ``5min``, ``2h``, ``1d``; sizes ``512M``, ``2G``
(powers of 1024); lengths ``500 m``, ``3 km``. Each has a maximum, so that a
typo cannot overflow a clock or a counter deep in a run: a duration at most
``365d`` (a timeout or a wait between attempts at most ``1d``), a size at
most ``1024T``, a length at most ``20038 km``. A key never carries a unit
(no ``timeout_s``, ``memory_mb``, ``radius_km``): the value says it.

The models keep each quantity in one unit for the engine (a duration in
seconds, a length in kilometres, a memory in MiB). A number without a unit is
refused in a spec file (the loader says so in its validation context,
:data:`FROM_SPEC`); Python callers building a model pass the number in that
unit.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ValidationInfo, WithJsonSchema
from pydantic_core import PydanticCustomError

__all__ = [
    "DAY",
    "FROM_SPEC",
    "YEAR",
    "Duration",
    "Length",
    "MemorySize",
    "Size",
    "Wait",
    "parse_duration",
    "parse_length",
    "parse_size",
]

#: The validation context key the loader sets: values come from a spec file.
FROM_SPEC = "from_spec"

_NUMBER = r"(\d+(?:\.\d+)?|\.\d+)"
_DURATION = re.compile(rf"^\s*{_NUMBER}\s*(ms|s|min|h|d)\s*$")
_SECONDS = {"ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_LENGTH = re.compile(rf"^\s*{_NUMBER}\s*(m|km)\s*$")
_KILOMETRES = {"m": 0.001, "km": 1.0}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)
_BYTES = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}

#: Seconds in a day: the longest timeout or wait between attempts.
DAY = 86400.0
#: Seconds in a year (365 days): the longest duration of any kind (e.g. ``cache_ttl``).
YEAR = 365 * DAY
#: The longest length on the Earth (half its circumference), in kilometres.
_EARTH_HALF_KM = 20038.0
#: The largest size (a disk, a volume, a memory): 1024T.
_SIZE_MAX = 1 << 50


def parse_duration(text: str) -> float:
    """Seconds of a duration such as ``60s``, ``500ms``, ``5min``, ``2h``, ``1d``."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"'{text}' is not a duration (e.g. 60s, 500ms, 5min, 2h, 1d)")
    seconds = float(match.group(1)) * _SECONDS[match.group(2)]
    if not math.isfinite(seconds):  # 400 digits: the maxima are checked by the types
        raise ValueError(f"'{text}' is too long: a duration is at most 365d")
    return seconds


def parse_length(text: str) -> float:
    """Kilometres of a length such as ``3 km`` or ``500 m``."""
    match = _LENGTH.match(text)
    if match is None:
        raise ValueError(f"'{text}' is not a length (e.g. 3 km, 500 m)")
    km = float(match.group(1)) * _KILOMETRES[match.group(2)]
    if not math.isfinite(km):
        raise ValueError(f"'{text}' is too long: a length is at most 20038 km")
    return km


def parse_size(text: str) -> int:
    """Bytes of a size such as ``2G``, ``512M``, ``1.5GiB`` (powers of 1024)."""
    match = _SIZE.match(text)
    if match is None:
        raise ValueError(f"'{text}' is not a size (e.g. 2G, 512M)")
    unit = (match.group(2) or "").lower()[:1]
    size = float(match.group(1)) * _BYTES[unit]
    if not size <= _SIZE_MAX:  # int() of an infinite float would overflow
        raise ValueError(f"'{text}' is too large: a size is at most 1024T")
    return int(size)


def _from_spec(info: ValidationInfo) -> bool:
    return bool((info.context or {}).get(FROM_SPEC))


def _quantity(parse: Any, example: str, what: str) -> Any:
    def convert(value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            try:
                return parse(value)
            except ValueError as exc:
                raise PydanticCustomError("unit", "{error}", {"error": str(exc)}) from None
        if isinstance(value, int | float) and not isinstance(value, bool) and _from_spec(info):
            raise PydanticCustomError(
                "unit",
                "{what} is written with its unit, e.g. {example} (got {value})",
                {"what": what, "example": example, "value": value},
            )
        return value  # a number from Python, in the model's unit

    return convert


def _string_schema(pattern: str, example: str) -> Any:
    return WithJsonSchema({"type": "string", "pattern": pattern, "examples": [example]})


def _at_most(limit: float, written: str, what: str) -> Any:
    """Refuse a quantity above ``limit`` (or not finite), naming the maximum as written.

    Without a maximum, a huge value (``timeout: 100000000d``) overflowed the
    platform's clocks deep in the run (``socket.settimeout``, ``time.sleep``).
    """

    def check(value: float) -> float:
        if not value <= limit:  # also refuses nan and inf
            raise PydanticCustomError(
                "unit_max", "{what} is at most {written}", {"what": what, "written": written}
            )
        return value

    return AfterValidator(check)


#: A duration, held in seconds: ``60s``, ``500ms``, ``5min``, ``2h``, ``1d``; at most 365d.
Duration = Annotated[
    float,
    BeforeValidator(_quantity(parse_duration, "60s", "a duration")),
    _at_most(YEAR, "365d", "a duration"),
    _string_schema(_DURATION.pattern, "60s"),
]
#: A timeout or a wait between attempts, held in seconds: as :data:`Duration`, at most 1d.
Wait = Annotated[
    float,
    BeforeValidator(_quantity(parse_duration, "60s", "a duration")),
    _at_most(DAY, "1d", "a timeout or wait"),
    _string_schema(_DURATION.pattern, "60s"),
]
#: A length on the Earth, held in kilometres: ``3 km``, ``500 m``; at most 20038 km.
Length = Annotated[
    float,
    BeforeValidator(_quantity(parse_length, "3 km", "a length")),
    _at_most(_EARTH_HALF_KM, "20038 km (half the Earth's circumference)", "a length"),
    _string_schema(_LENGTH.pattern, "3 km"),
]


def _mebibytes(text: str) -> int:
    return parse_size(text) >> 20


#: A memory size, held in MiB: ``1G``, ``512M``; at most 1024T.
MemorySize = Annotated[
    int,
    BeforeValidator(_quantity(_mebibytes, "1G", "a memory size")),
    _at_most(_SIZE_MAX >> 20, "1024T", "a memory size"),
    _string_schema(_SIZE.pattern, "1G"),
]


def _size(value: str) -> str:
    try:
        size = parse_size(value)
        if size <= 0:
            raise ValueError("a size must be positive")
        if size > _SIZE_MAX:
            raise ValueError("a size is at most 1024T")
    except ValueError as exc:
        raise PydanticCustomError("size", "{error}", {"error": str(exc)}) from None
    return value


#: A size kept as written (``20G``), checked: the engine reads it with :func:`parse_size`.
Size = Annotated[str, AfterValidator(_size)]
