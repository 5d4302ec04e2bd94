"""The error model of person duplicates: which fields get modified, and how (:class:`ErrorRates`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

PEOPLE_FIELDS: Final = (
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
)
"""The compared fields of a person record (every column but ``rec_id``)."""

_DEFAULT_FIELD_WEIGHTS: Final[Mapping[str, float]] = {
    "given_name": 0.16,
    "surname": 0.16,
    "street_number": 0.08,
    "address_1": 0.19,
    "address_2": 0.21,
    "suburb": 0.12,
    "postcode": 0.08,
    "state": 0.025,
    "date_of_birth": 0.045,
    "soc_sec_id": 0.045,
}

FIELD_KINDS: Final[Mapping[str, tuple[str, ...]]] = {
    "given_name": ("typo", "ocr", "phonetic", "edit", "missing", "nickname", "swap_names", "replace"),
    "surname": ("typo", "ocr", "phonetic", "edit", "missing", "swap_names", "replace"),
    "street_number": ("digit", "transpose", "neighbour", "missing", "replace"),
    "address_1": ("typo", "ocr", "phonetic", "edit", "missing", "tokens"),
    "address_2": ("typo", "ocr", "edit", "missing", "tokens"),
    "suburb": ("typo", "ocr", "phonetic", "edit", "missing", "tokens", "replace"),
    "postcode": ("digit", "transpose", "neighbour", "missing"),
    "state": ("typo", "missing", "replace"),
    "date_of_birth": ("swap_day_month", "off_by_one", "digit", "missing"),
    "soc_sec_id": ("digit", "transpose", "missing", "replace"),
}  # fmt: skip
"""The error kinds that apply to each field."""


@dataclass(frozen=True)
class ErrorRates:
    """How the duplicates of ``people`` are corrupted (defaults look like Febrl 4).

    Each duplicate first draws how many fields to modify (``modified_fields[k]`` is the relative
    frequency of ``k`` modified fields), then which ones (``field_weights``, only among the
    fields that are not empty in its original), then for each chosen field one *error kind*
    among those that apply to the field, with the relative weights below (renormalised per
    field). A modified field always differs from its original; swapping given name and surname
    modifies both.

    Error kinds:

    - ``typo``: a keyboard slip (a neighbouring key replaces or joins a character);
    - ``ocr``: an OCR slip (0/o, 1/l, 5/s, rn/m, cl/d, vv/w, li/h...);
    - ``phonetic``: a spelling that sounds alike (ph/f, c/k, ie/y, mc/mac, doubled letters...);
    - ``edit``: a character inserted, deleted, transposed or doubled, or a space inserted;
    - ``missing``: the value is left empty;
    - ``nickname``: a given name replaced by a nickname or formal form (william/bill);
    - ``swap_names``: given name and surname swapped;
    - ``replace``: another value of the same field (a surname after marriage, a new number);
    - ``tokens``: address tokens abbreviated (street/st), dropped, swapped, joined or split;
    - ``digit``: one wrong digit (numbers, postcodes, dates);
    - ``transpose``: two adjacent digits swapped;
    - ``neighbour``: a close number (street number, neighbouring postcode);
    - ``swap_day_month``: day and month swapped in a date when the result is a valid date;
    - ``off_by_one``: a date one year or one day off.

    ``missing_in_originals`` is the share of empty values in the originals (given name,
    street number, address, date of birth; half as many for surname, suburb and state).
    """

    modified_fields: tuple[float, ...] = (0.0, 0.31, 0.34, 0.22, 0.09, 0.03, 0.01)
    field_weights: Mapping[str, float] = field(
        default_factory=lambda: dict(_DEFAULT_FIELD_WEIGHTS), hash=False
    )
    typo: float = 0.25
    ocr: float = 0.07
    phonetic: float = 0.10
    edit: float = 0.23
    missing: float = 0.10
    nickname: float = 0.30
    swap_names: float = 0.05
    replace: float = 0.06
    tokens: float = 0.30
    digit: float = 0.35
    transpose: float = 0.20
    neighbour: float = 0.25
    swap_day_month: float = 0.20
    off_by_one: float = 0.30
    missing_in_originals: float = 0.02

    def __post_init__(self) -> None:
        if not self.modified_fields or any(p < 0 for p in self.modified_fields):
            raise ValueError("modified_fields must hold non-negative frequencies")
        if sum(self.modified_fields) <= 0:
            raise ValueError("modified_fields must not be all zero")
        unknown = sorted(set(self.field_weights) - set(PEOPLE_FIELDS))
        if unknown:
            raise ValueError(f"unknown fields in field_weights: {', '.join(unknown)}")
        if any(w < 0 for w in self.field_weights.values()):
            raise ValueError("field_weights must be non-negative")
        for kind in _ALL_KINDS:
            if self.kind_weight(kind) < 0:
                raise ValueError(f"the weight of {kind} must be non-negative")
        if not 0 <= self.missing_in_originals <= 0.5:
            raise ValueError("missing_in_originals must be within [0, 0.5]")

    def kind_weight(self, kind: str) -> float:
        """The relative weight of one error kind."""
        return float(getattr(self, kind))


_ALL_KINDS: Final = tuple(dict.fromkeys(k for kinds in FIELD_KINDS.values() for k in kinds))
