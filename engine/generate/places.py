"""Place records clustered around cities, and duplicates with jittered coordinates.

:func:`places` writes a geographic task: places named in the styles of several countries
(``data/place-styles.json``) around cities anchored near real ones (``data/place-anchors.csv``),
duplicates with moved coordinates and spelling variants of their names, and the gold links.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np

from engine.generate import data
from engine.generate.arrays import (
    BoolArray,
    FloatArray,
    IntArray,
    ObjArray,
    Rng,
    Table,
    cdf,
    concat,
    draw,
    n_digits,
    objects,
    pick,
    syllables,
    take,
    zipf,
)
from engine.generate.noise import apply_strings, edit, phonetic, typo
from engine.generate.output import (
    Formatter,
    GeneratedTask,
    check_args,
    id_column,
    number_column,
    text_column,
    write_csv,
)

PLACES_COLUMNS: Final = ("id", "name", "country", "lat", "long", "population")
"""The columns of ``places-a.csv`` and ``places-b.csv``."""


@dataclass(frozen=True)
class _Style:
    prefixes: tuple[str, ...]  # a prefix ending in a letter is glued to the root
    prefix_p: float
    onsets: tuple[str, ...]
    vowels: tuple[str, ...]
    codas: tuple[str, ...]
    suffixes: tuple[str, ...]
    suffix_p: float


def _styles() -> dict[str, _Style]:
    out = {}
    for name, entry in data.mapping(data.table("place-styles.json"), "place-styles.json").items():
        e = data.mapping(entry, name)
        out[name] = _Style(
            prefixes=data.strings(e.get("prefixes"), f"{name} prefixes"),
            prefix_p=data.number(e.get("prefix_p"), f"{name} prefix_p"),
            onsets=data.strings(e.get("onsets"), f"{name} onsets"),
            vowels=data.strings(e.get("vowels"), f"{name} vowels"),
            codas=data.strings(e.get("codas"), f"{name} codas"),
            suffixes=data.strings(e.get("suffixes"), f"{name} suffixes"),
            suffix_p=data.number(e.get("suffix_p"), f"{name} suffix_p"),
        )
    return out


_STYLES: Final[Mapping[str, _Style]] = _styles()

# (country, style, lat, long, weight): anchors of the generated cities.
_ANCHORS: Final = tuple(
    (r["country"], r["style"], float(r["lat"]), float(r["long"]), float(r["weight"]))
    for r in data.rows("place-anchors.csv")
)

_KM_PER_DEG: Final = 111.195
_UNACCENT: Final = str.maketrans(
    {
        "é": "e", "è": "e", "ê": "e", "ë": "e", "à": "a", "â": "a", "ä": "a", "á": "a", "ã": "a",
        "å": "a", "ô": "o", "ö": "o", "ó": "o", "ò": "o", "ø": "o", "î": "i", "í": "i", "ì": "i",
        "ü": "u", "û": "u", "ú": "u", "ç": "c", "ñ": "n", "ß": "ss", "æ": "ae", "É": "E",
    }
)  # fmt: skip
_PLACE_ABBREV_RE: Final = re.compile(
    r"\b(Saint-|Saint |Sainte-|Sankt |Mount |Fort |Santa |San |Sint-|Port |North |South |Great )"
)
_PLACE_ABBREV: Final[Mapping[str, tuple[str, ...]]] = {
    "Saint-": ("St-", "St.-", "S.-"), "Saint ": ("St ", "St. "), "Sainte-": ("Ste-", "Ste."),
    "Sankt ": ("St. ", "St "), "Mount ": ("Mt ", "Mt. "), "Fort ": ("Ft ", "Ft. "),
    "Santa ": ("Sta. ", "Sta "), "San ": ("S. ",), "Sint-": ("St.-", "St-"), "Port ": ("Pt ",),
    "North ": ("N. ", "Nth "), "South ": ("S. ", "Sth "), "Great ": ("Gt ",),
}  # fmt: skip


def _place_variant(s: str, u: float, v: float, w: float) -> str:
    """A spelling variant of a place name: accents removed, Saint -> St, a typo..."""
    kinds: list[int] = []
    weights: list[float] = []
    if s.translate(_UNACCENT) != s:
        kinds.append(0)
        weights.append(3.0)
    if _PLACE_ABBREV_RE.search(s):
        kinds.append(1)
        weights.append(3.0)
    if "-" in s or " " in s:
        kinds.append(2)
        weights.append(1.0)
    kinds += [3, 4, 5, 6]
    weights += [1.5, 1.5, 1.0, 0.4]
    x = u * sum(weights)
    kind = kinds[-1]
    for k, wt in zip(kinds, weights, strict=True):
        if x < wt:
            kind = k
            break
        x -= wt
    if kind == 0:
        return s.translate(_UNACCENT)
    if kind == 1:
        m = _PLACE_ABBREV_RE.search(s)
        assert m is not None
        options = _PLACE_ABBREV[m.group()]
        return s[: m.start()] + options[int(v * len(options))] + s[m.end() :]
    if kind == 2:
        return s.replace("-", " ") if "-" in s else s.replace(" ", "-", 1)
    if kind == 3:
        return typo(s, v, w, u)
    if kind == 4:
        return edit(s, v, w, u)
    if kind == 5:
        return phonetic(s, v, w, u)
    return s.upper() if v < 0.5 else s.lower()


def _place_names(rng: Rng, style: _Style, m: int) -> ObjArray:
    """``m`` place names of one style: optional prefix, one or two syllables, optional suffix."""
    prefix = np.where(rng.random(m) < style.prefix_p, pick(rng, style.prefixes, m), "")
    glued = np.array([p != "" and p[-1].isalpha() for p in prefix.tolist()], dtype=np.bool_)
    onset = pick(rng, style.onsets, m)
    cap = objects([o[:1].upper() + o[1:] for o in style.onsets])[
        rng.integers(0, len(style.onsets), m)
    ]
    onset = np.where(glued, onset, cap)
    root = onset + pick(rng, style.vowels, m) + pick(rng, style.codas, m)
    two = rng.random(m) < 0.6
    root = root + np.where(two, syllables(rng, m, style.onsets, style.vowels, ("",)), "")
    suffix = np.where(rng.random(m) < style.suffix_p, pick(rng, style.suffixes, m), "")
    return prefix + root + suffix  # type: ignore[no-any-return]


@dataclass(frozen=True)
class _Cities:
    lat: FloatArray
    lon: FloatArray
    spread: FloatArray  # km
    country: ObjArray
    style: IntArray
    cdf: FloatArray


_STYLE_NAMES: Final = tuple(_STYLES)


def _offset(lat: FloatArray, lon: FloatArray, east_km: FloatArray,
            north_km: FloatArray) -> tuple[FloatArray, FloatArray]:  # fmt: skip
    new_lat = np.clip(lat + north_km / _KM_PER_DEG, -89.999, 89.999)
    coslat = np.maximum(np.cos(np.radians(new_lat)), 1e-6)
    new_lon = lon + east_km / (_KM_PER_DEG * coslat)
    return new_lat, (new_lon + 180.0) % 360.0 - 180.0


def _cities(rng: Rng, n: int) -> _Cities:
    k = max(8, n // 150)
    anchor_w = np.array([a[4] for a in _ANCHORS], dtype=np.float64)
    which = draw(rng, cdf(anchor_w), k)
    a_lat = np.array([a[2] for a in _ANCHORS])[which]
    a_lon = np.array([a[3] for a in _ANCHORS])[which]
    dist = np.abs(rng.normal(0.0, 150.0, k))
    angle = rng.uniform(0.0, 2 * np.pi, k)
    lat, lon = _offset(a_lat, a_lon, dist * np.sin(angle), dist * np.cos(angle))
    country = objects([a[0] for a in _ANCHORS])[which]
    style = np.array([_STYLE_NAMES.index(a[1]) for a in _ANCHORS], dtype=np.int64)[which]
    spread = 2.0 + 10.0 * rng.random(k)
    return _Cities(lat, lon, spread, country, style, cdf(zipf(k, 5.0, 0.8)))


def _draw_places(rng: Rng, m: int, cities: _Cities) -> Table:
    c = draw(rng, cities.cdf, m)
    sigma = cities.spread[c]
    lat, lon = _offset(cities.lat[c], cities.lon[c], rng.normal(0.0, 1.0, m) * sigma,
                       rng.normal(0.0, 1.0, m) * sigma)  # fmt: skip
    names = np.empty(m, dtype=object)
    style = cities.style[c]
    for k, sname in enumerate(_STYLE_NAMES):
        rows = np.flatnonzero(style == k)
        names[rows] = _place_names(rng, _STYLES[sname], len(rows))
    population = np.maximum(np.exp(rng.normal(7.0, 1.6, m)), 10).astype(np.int64)
    return {"name": names, "country": cities.country[c], "lat": lat, "long": lon,
            "population": population}  # fmt: skip


def _corrupt_places(rng: Rng, t: Table, max_jitter_km: float) -> None:
    m = len(t["name"])
    dist = 0.1 + (max_jitter_km - 0.1) * rng.random(m) ** 2
    angle = rng.uniform(0.0, 2 * np.pi, m)
    t["lat"], t["long"] = _offset(t["lat"], t["long"], dist * np.sin(angle),
                                  dist * np.cos(angle))  # fmt: skip
    u = rng.random(m)
    named = np.flatnonzero(u < 0.7)
    apply_strings(rng, t["name"], named, _place_variant)
    again = named[rng.random(len(named)) < 0.15]
    apply_strings(rng, t["name"], again, _place_variant)
    pop = t["population"]
    u = rng.random(m)
    drift = np.maximum(np.rint(pop * (1.0 + rng.normal(0.0, 0.05, m))), 1).astype(np.int64)
    digits = np.maximum(n_digits(pop) - 2, 0)
    rounded = np.maximum(np.rint(pop / 10.0**digits) * 10**digits, 1).astype(np.int64)
    t["population"] = np.where(
        u < 0.6, pop, np.where(u < 0.85, drift, np.where(u < 0.95, rounded, -1))
    )
    t["country"] = np.where(rng.random(m) < 0.02, "", t["country"]).astype(object)


def _coords(col: FloatArray) -> Formatter:
    return lambda idx: [f"{x:.5f}" for x in col[idx].tolist()]


def _place_ids(num: IntArray, dup: BoolArray) -> Formatter:
    return id_column("pl", num, dup)


def _places_columns(t: Table, num: IntArray, dup: BoolArray) -> list[Formatter]:
    return [_place_ids(num, dup), text_column(t["name"]), text_column(t["country"]), _coords(t["lat"]),
            _coords(t["long"]), number_column(t["population"])]  # fmt: skip


def places(
    n: int,
    seed: int,
    out_dir: Path,
    *,
    duplicates: float = 1.0,
    max_jitter_km: float = 2.0,
) -> GeneratedTask:
    """Write a geographic linkage task to ``out_dir``; return its files and sizes.

    ``places-a.csv`` holds ``n`` places (``pl-<i>-org``) with ``id,name,country,lat,long,
    population``, clustered around generated cities (a few hundred metres to tens of
    kilometres apart) in several countries and naming styles (accents, Saint-, San, -burg...).
    ``places-b.csv`` holds a duplicate (``pl-<i>-dup-0``) of a random share ``duplicates`` of
    them, with coordinates moved by 100 m up to ``max_jitter_km`` (most under 1 km), spelling
    variants of most names (accents removed, Saint -> St, hyphens, typos, case) and a drifted,
    rounded or missing population; plus fresh places around the same cities. Rows are shuffled;
    ``places-gold.csv`` lists the true links (``id_a,id_b``). Deterministic by seed.
    """
    check_args(n, duplicates)
    if not 0.1 < max_jitter_km <= 50.0:
        raise ValueError(f"max_jitter_km must be within (0.1, 50], not {max_jitter_km!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    cities = _cities(rng, n)
    a = _draw_places(rng, n, cities)
    n_dup = round(n * duplicates)
    src = np.sort(rng.choice(n, size=n_dup, replace=False)).astype(np.int64)
    dups = take(a, src)
    _corrupt_places(rng, dups, max_jitter_km)
    b = concat(dups, _draw_places(rng, n - n_dup, cities))
    num_b = np.concatenate([src, np.arange(n, 2 * n - n_dup, dtype=np.int64)])
    dup_b = np.arange(n) < n_dup
    order_a, order_b = rng.permutation(n), rng.permutation(n)

    paths = (out_dir / "places-a.csv", out_dir / "places-b.csv", out_dir / "places-gold.csv")
    no_dup = np.zeros(n, dtype=np.bool_)
    write_csv(paths[0], PLACES_COLUMNS, _places_columns(a, np.arange(n), no_dup), order_a)
    write_csv(paths[1], PLACES_COLUMNS, _places_columns(b, num_b, dup_b), order_b)
    false = np.zeros(n_dup, dtype=np.bool_)
    gold = [_place_ids(src, false), _place_ids(src, ~false)]
    write_csv(paths[2], ("id_a", "id_b"), gold, np.arange(n_dup))
    return GeneratedTask(*paths, n_align=n, n_target=n, n_links=n_dup)
