"""The value pools of person records: the word lists of ``data/`` and synthetic names built
from their parts, each with the weights of a realistic frequency (a few common values, a long
tail), drawn once per task from its generator so that a seed fixes them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from engine.generate import data
from engine.generate.arrays import (
    FloatArray,
    IntArray,
    ObjArray,
    Rng,
    cdf,
    draw,
    objects,
    pick,
    zipf,
)

# --------------------------------------------------------------------------------------------
# Word lists (data/)
# --------------------------------------------------------------------------------------------

_FEMALE: Final = data.words("given-names-female.txt")
_MALE: Final = data.words("given-names-male.txt")
_SURNAMES_COMMON: Final = data.words("surnames-common.txt")
_SURNAMES_MORE: Final = data.words("surnames-more.txt")
_SURNAMES_SPACED: Final = data.lines("surnames-spaced.txt")
_STREET_WORDS: Final = data.words("street-words.txt")
_STREET_TYPES: Final = tuple((r["type"], float(r["share"])) for r in data.rows("street-types.csv"))
_PROPERTY_WORDS: Final = tuple(w.replace("-", " ") for w in data.words("property-words.txt"))
_PROPERTY_SUFFIXES: Final = data.lines("property-suffixes.txt")
_SUBURBS: Final = tuple((r["state"], r["suburb"]) for r in data.rows("suburbs.csv"))


@dataclass(frozen=True)
class _Origin:
    """The parts of the synthetic surnames of one origin: prefix + root + middle + suffix."""

    weight: float
    prefixes: tuple[str, ...]
    roots: tuple[str, ...]
    middles: tuple[str, ...]
    suffixes: tuple[str, ...]


_NAME_PARTS_FILE: Final = data.mapping(data.table("name-parts.json"), "name-parts.json")


def _name_parts() -> dict[str, tuple[str, ...]]:
    return {k: data.strings(v, k) for k, v in _NAME_PARTS_FILE.items() if k != "surname_origins"}


def _origins() -> tuple[_Origin, ...]:
    entries = _NAME_PARTS_FILE.get("surname_origins")
    if not isinstance(entries, list):
        raise ValueError("engine/generate/data: surname_origins must be a list")
    out = []
    for entry in entries:
        e = data.mapping(entry, "a surname origin")
        where = f"surname_origins {e.get('origin')}"
        out.append(
            _Origin(
                weight=data.number(e.get("weight"), f"{where} weight"),
                prefixes=data.strings(e.get("prefixes"), f"{where} prefixes"),
                roots=data.strings(e.get("roots"), f"{where} roots"),
                middles=data.strings(e.get("middles"), f"{where} middles"),
                suffixes=data.strings(e.get("suffixes"), f"{where} suffixes"),
            )
        )
    return tuple(out)


# Morphemes of the name builders: a name is prefix + root + (middle) + suffix, per origin, so
# that hundreds of thousands of distinct names still look like names of that origin. An empty
# part (repeated to weigh it) stands for nothing.
_SURNAME_ORIGINS: Final = _origins()
_NAME_PARTS: Final = _name_parts()
_ASIAN_INITIALS: Final = _NAME_PARTS["asian_initials"]
_ASIAN_FINALS: Final = _NAME_PARTS["asian_finals"]
_GIVEN_ENDINGS_F: Final = _NAME_PARTS["given_endings_female"]
_GIVEN_ENDINGS_M: Final = _NAME_PARTS["given_endings_male"]
_AU_ONSETS: Final = _NAME_PARTS["au_onsets"]
_AU_VOWELS: Final = _NAME_PARTS["au_vowels"]
_AU_MEDIALS: Final = _NAME_PARTS["au_medials"]
_AU_FINALS: Final = _NAME_PARTS["au_finals"]
_EN_PLACE_ROOTS: Final = _NAME_PARTS["en_place_roots"]
_EN_PLACE_ENDS: Final = _NAME_PARTS["en_place_ends"]
_SUBURB_PREFIXES: Final = _NAME_PARTS["suburb_prefixes"]
_SUBURB_SUFFIXES: Final = _NAME_PARTS["suburb_suffixes"]
_SUBURB_ENDS: Final = _NAME_PARTS["suburb_ends"]
_UNIT_WORDS: Final = _NAME_PARTS["unit_words"]

_STATE_SHARES: Final = (
    ("nsw", 0.32),
    ("vic", 0.26),
    ("qld", 0.20),
    ("wa", 0.10),
    ("sa", 0.07),
    ("tas", 0.02),
    ("act", 0.02),
    ("nt", 0.01),
)
STATES: Final = tuple(s for s, _ in _STATE_SHARES)
"""The states of the ``state`` column (Febrl's lower-case abbreviations)."""

# Postcode ranges of each state (inclusive); NT's start with a zero ("0800").
_POSTCODE_RANGES: Final[Mapping[str, tuple[tuple[int, int], ...]]] = {
    "nsw": ((2000, 2599), (2619, 2899), (2921, 2999)),
    "act": ((2600, 2618), (2900, 2920)),
    "vic": ((3000, 3999),),
    "qld": ((4000, 4999),),
    "sa": ((5000, 5799),),
    "wa": ((6000, 6797),),
    "tas": ((7000, 7799),),
    "nt": ((800, 899),),
}

# --------------------------------------------------------------------------------------------
# Name builders (vectorised: numpy object arrays concatenate strings element-wise)
# --------------------------------------------------------------------------------------------


def _build_surnames(rng: Rng, m: int) -> list[str]:
    """``m`` synthetic surnames of several origins (may repeat; deduplicated by the caller)."""
    weights = [o.weight for o in _SURNAME_ORIGINS] + [0.04]
    origin = draw(rng, cdf(weights), m)
    out = np.empty(m, dtype=object)
    for k, o in enumerate(_SURNAME_ORIGINS):
        rows = np.flatnonzero(origin == k)
        r = len(rows)
        name = pick(rng, o.prefixes, r) + pick(rng, o.roots, r)
        out[rows] = name + pick(rng, o.middles, r) + pick(rng, o.suffixes, r)
    rows = np.flatnonzero(origin == len(_SURNAME_ORIGINS))
    out[rows] = pick(rng, _ASIAN_INITIALS, len(rows)) + pick(rng, _ASIAN_FINALS, len(rows))
    return [s for s in out.tolist() if 3 <= len(s) <= 18 and not _TRIPLE.search(s)]


_TRIPLE: Final = re.compile(r"(.)\1\1|[aeiou]{3}|(.{3,})\2")  # "rrr", "aoe", "fieldfield"


def _build_given(rng: Rng, m: int, names: Sequence[str], endings: Sequence[str]) -> list[str]:
    """Names from the stem of a known name and a typical ending (mic + ara -> micara)."""
    stems = objects([n[:3] if len(n) > 4 else n[:2] for n in names])
    stem = stems[rng.integers(0, len(stems), m)]
    out = []
    for s, e in zip(stem.tolist(), pick(rng, endings, m).tolist(), strict=True):
        if s[-1] in "aeiouy" and e[0] in "aeiouy":
            s = s[:-1]
        out.append(s + e)
    return [s for s in out if len(s) >= 3 and not _TRIPLE.search(s)]


def _build_au_words(rng: Rng, m: int) -> ObjArray:
    """Words in the style of Australian place names (willaroo, booroondoo, kurrajong)."""
    out = pick(rng, _AU_ONSETS, m) + pick(rng, _AU_VOWELS, m)
    out = out + pick(rng, _AU_MEDIALS, m) + pick(rng, _AU_VOWELS, m)
    three = rng.random(m) < 0.4
    more = pick(rng, _AU_MEDIALS, m) + pick(rng, _AU_VOWELS, m)
    return out + np.where(three, more, "") + pick(rng, _AU_FINALS, m)  # type: ignore[no-any-return]


def _build_en_places(rng: Rng, m: int) -> ObjArray:
    """English-style place words (ashdale, glenbrook, fernleigh)."""
    return pick(rng, _EN_PLACE_ROOTS, m) + pick(rng, _EN_PLACE_ENDS, m)  # type: ignore[no-any-return]


def _unique(values: Sequence[str], exclude: set[str], limit: int) -> list[str]:
    out = [v for v in dict.fromkeys(values) if v not in exclude and not _TRIPLE.search(v)]
    return out[:limit]


# --------------------------------------------------------------------------------------------
# The pools
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pools:
    """The values of each column of person records and the weights they are drawn with."""

    female: ObjArray
    female_cdf: FloatArray
    male: ObjArray
    male_cdf: FloatArray
    surnames: ObjArray
    surname_cdf: FloatArray
    streets: ObjArray
    street_cdf: FloatArray
    street_types: ObjArray
    street_type_cdf: FloatArray
    properties: ObjArray
    property_cdf: FloatArray
    suburbs: ObjArray
    suburb_cdf: FloatArray
    suburb_postcode: IntArray
    suburb_state: ObjArray
    state_names: ObjArray


def _given_pool(
    rng: Rng, builtin: Sequence[str], endings: Sequence[str]
) -> tuple[ObjArray, FloatArray]:
    names = list(dict.fromkeys(builtin))
    synthetic = _unique(_build_given(rng, 4000, names, endings), set(names), 2500)
    w = np.concatenate([0.965 * zipf(len(names), 6.0) / zipf(len(names), 6.0).sum(),
                        np.full(len(synthetic), 0.035 / max(len(synthetic), 1))])  # fmt: skip
    return objects(names + synthetic), cdf(w)


def _postcodes(rng: Rng, states: Sequence[str]) -> IntArray:
    out = np.empty(len(states), dtype=np.int64)
    st = np.asarray(states, dtype=object)
    for state, ranges in _POSTCODE_RANGES.items():
        rows = np.flatnonzero(st == state)
        lows = np.array([lo for lo, _ in ranges])
        sizes = np.array([hi - lo + 1 for lo, hi in ranges])
        which = draw(rng, cdf(sizes), len(rows))
        out[rows] = lows[which] + (rng.random(len(rows)) * sizes[which]).astype(np.int64)
    return out


def people_pools(rng: Rng, n: int) -> Pools:
    """The pools of a task of ``n`` records: the word lists, and synthetic names in proportion."""
    female, female_cdf = _given_pool(rng, _FEMALE, _GIVEN_ENDINGS_F)
    male, male_cdf = _given_pool(rng, _MALE, _GIVEN_ENDINGS_M)

    common = list(dict.fromkeys(_SURNAMES_COMMON))
    more = [s for s in dict.fromkeys(_SURNAMES_MORE) if s not in common]
    more += list(_SURNAMES_SPACED)
    n_synth = int(np.clip(n // 2, 3000, 350_000))
    synthetic = _unique(_build_surnames(rng, int(n_synth * 1.5) + 100), set(common + more), n_synth)
    mixed = more + synthetic[:3000]
    mixed = [mixed[i] for i in rng.permutation(len(mixed))]
    surnames = objects(common + mixed + synthetic[3000:])
    surname_cdf = cdf(zipf(len(surnames), 12.0))

    words = list(dict.fromkeys(_STREET_WORDS))
    streets = np.concatenate([objects(words), surnames[: max(2000, len(surnames) // 2)]])
    w = np.concatenate([np.full(len(words), 3.0), zipf(len(streets) - len(words), 50.0) * 60])
    street_types = objects([t for t, _ in _STREET_TYPES])
    street_type_cdf = cdf([p for _, p in _STREET_TYPES])

    n_prop = int(np.clip(n // 5, 2000, 300_000))
    au = _build_au_words(rng, n_prop)
    with_suffix = rng.random(n_prop) < 0.45
    props = au + np.where(with_suffix, " " + pick(rng, _PROPERTY_SUFFIXES, n_prop), "")
    units = [f"{u} {k}" for u in _UNIT_WORDS for k in range(1, 60)]
    prop_list = _unique(list(_PROPERTY_WORDS) + units[:40] + list(props) + units[40:], set(), 10**7)
    properties = objects(prop_list)
    property_cdf = cdf(zipf(len(properties), 30.0, 0.9))

    order = rng.permutation(len(_SUBURBS))
    suburb_names = [_SUBURBS[i][1] for i in order]
    suburb_states = [_SUBURBS[i][0] for i in order]
    n_sub = int(np.clip(n // 25, 1500, 20_000))
    u = rng.random(n_sub)
    real = objects([x for x in common + more if " " not in x])
    named = real[rng.integers(0, len(real), n_sub)]
    named = named + np.where(rng.random(n_sub) < 0.5, pick(rng, _SUBURB_ENDS, n_sub), "")
    base = np.where(u < 0.5, _build_au_words(rng, n_sub),
                    np.where(u < 0.8, _build_en_places(rng, n_sub), named))  # fmt: skip
    v = rng.random(n_sub)
    extra = np.where(v < 0.25, pick(rng, _SUBURB_SUFFIXES, n_sub), "")
    pre = np.where(v > 0.9, pick(rng, _SUBURB_PREFIXES, n_sub), "")
    synth_sub = _unique(list(pre + base + extra), set(suburb_names), n_sub)
    state_cdf = cdf([p for _, p in _STATE_SHARES])
    synth_states = [STATES[i] for i in draw(rng, state_cdf, len(synth_sub))]
    all_sub = suburb_names + synth_sub
    all_states = objects(suburb_states + synth_states)
    # Within a state, a few suburbs are big and most are small; states keep their shares.
    suburb_w = np.zeros(len(all_sub))
    for state, share in _STATE_SHARES:
        rows = np.flatnonzero(all_states == state)
        z = zipf(len(rows), 15.0, 0.9)
        suburb_w[rows] = share * z / z.sum()
    return Pools(
        female=female,
        female_cdf=female_cdf,
        male=male,
        male_cdf=male_cdf,
        surnames=surnames,
        surname_cdf=surname_cdf,
        streets=streets,
        street_cdf=cdf(w),
        street_types=street_types,
        street_type_cdf=street_type_cdf,
        properties=properties,
        property_cdf=property_cdf,
        suburbs=objects(all_sub),
        suburb_cdf=cdf(suburb_w),
        suburb_postcode=_postcodes(rng, all_states.tolist()),
        suburb_state=all_states,
        state_names=objects(list(STATES)),
    )
