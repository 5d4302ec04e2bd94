"""Person records with the columns of the Febrl data sets, and their corrupted duplicates.

:func:`people` writes a task: originals, duplicates corrupted after :class:`ErrorRates`
(most with 1 to 3 modified fields, as in Febrl 4), fresh records, and the gold links.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

from engine.generate.arrays import (
    CHUNK,
    BoolArray,
    IntArray,
    Rng,
    Table,
    bools,
    cdf,
    concat,
    draw,
    ints,
    n_digits,
    objects,
    strs,
    take,
)
from engine.generate.noise import STRING_KINDS, apply_strings, force_change
from engine.generate.output import (
    Formatter,
    GeneratedTask,
    check_args,
    id_column,
    number_column,
    text_column,
    write_csv,
)
from engine.generate.pools import STATES, Pools, people_pools
from engine.generate.rates import FIELD_KINDS, PEOPLE_FIELDS, ErrorRates

PEOPLE_COLUMNS: Final = ("rec_id", *PEOPLE_FIELDS)
"""The columns of ``people-a.csv`` and ``people-b.csv``, as in Febrl."""

_NUMERIC: Final = frozenset({"street_number", "postcode", "date_of_birth", "soc_sec_id"})

_DAY0: Final = np.datetime64("1910-01-01", "D")
_DAYS: Final = int((np.datetime64("2010-12-31", "D") - _DAY0).astype(np.int64)) + 1


def _days_to_ymd(days: NDArray[np.datetime64]) -> IntArray:
    months = days.astype("datetime64[M]")
    y = days.astype("datetime64[Y]").astype(np.int64) + 1970
    m = months.astype(np.int64) % 12 + 1
    d = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
    return ints(y * 10000 + m * 100 + d)


def _ymd_to_days(v: IntArray) -> NDArray[np.datetime64]:
    y, m, d = v // 10000, v // 100 % 100, v % 100
    months = (y - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (m - 1)
    days: NDArray[np.datetime64] = months.astype("datetime64[D]") + (d - 1).astype("timedelta64[D]")
    return days


def _valid_ymd(v: IntArray) -> BoolArray:
    y, m, d = v // 10000, v // 100 % 100, v % 100
    ok = (m >= 1) & (m <= 12) & (d >= 1) & (d <= 31) & (y >= 1000) & (y <= 2999)
    safe = np.where(ok, v, 20000101)
    return bools(ok & (_days_to_ymd(_ymd_to_days(safe)) == safe))


def _draw_people(rng: Rng, m: int, pools: Pools, rates: ErrorRates) -> Table:
    """``m`` fresh person records as columns (strings; numbers as int64 with -1 when missing)."""
    t: Table = {}
    female = rng.random(m) < 0.5
    given = np.empty(m, dtype=object)
    given[female] = pools.female[draw(rng, pools.female_cdf, int(female.sum()))]
    given[~female] = pools.male[draw(rng, pools.male_cdf, int((~female).sum()))]
    t["female"] = female
    t["given_name"] = given
    t["surname"] = pools.surnames[draw(rng, pools.surname_cdf, m)]
    t["street_number"] = np.clip(np.exp(rng.normal(3.0, 1.15, m)), 1, 2999).astype(np.int64)
    t["address_1"] = (
        pools.streets[draw(rng, pools.street_cdf, m)]
        + " "
        + pools.street_types[draw(rng, pools.street_type_cdf, m)]
    )
    t["address_2"] = np.where(
        rng.random(m) < 0.3, "", pools.properties[draw(rng, pools.property_cdf, m)]
    ).astype(object)
    sub = draw(rng, pools.suburb_cdf, m)
    t["suburb"] = pools.suburbs[sub]
    t["postcode"] = pools.suburb_postcode[sub]
    t["state"] = pools.suburb_state[sub]
    days = _DAY0 + rng.integers(0, _DAYS, m).astype("timedelta64[D]")
    t["date_of_birth"] = _days_to_ymd(days)
    t["soc_sec_id"] = rng.integers(1_000_000, 10_000_000, m, dtype=np.int64)
    p = rates.missing_in_originals
    for name, share in (("given_name", p), ("surname", p / 2), ("street_number", 1.5 * p),
                        ("address_1", p), ("suburb", p / 2), ("state", p / 2),
                        ("date_of_birth", p)):  # fmt: skip
        gone = rng.random(m) < share
        t[name][gone] = -1 if name in _NUMERIC else ""
    return t


def _present(t: Table, name: str) -> BoolArray:
    col = t[name]
    return bools(col >= 0) if name in _NUMERIC else bools(col != "")


def _wrong_digit(rng: Rng, v: IntArray, width: int | None) -> IntArray:
    """One digit replaced by another one (never a leading zero when ``width`` is None)."""
    n = len(v)
    length = np.full(n, width, dtype=np.int64) if width else n_digits(v)
    p = (rng.random(n) * length).astype(np.int64)
    pw = 10**p
    d = v // pw % 10
    nd = (d + rng.integers(1, 10, n)) % 10
    if width is None:
        lead = (p == length - 1) & (nd == 0)
        nd = np.where(lead, np.where(d == 1, 2, 1), nd)
    return ints(v + (nd - d) * pw)


def _transpose_digits(rng: Rng, v: IntArray, width: int | None) -> IntArray:
    n = len(v)
    length = np.full(n, width, dtype=np.int64) if width else n_digits(v)
    ok = length >= 2
    p = (rng.random(n) * np.maximum(length - 1, 1)).astype(np.int64)
    pw = 10**p
    a, b = v // pw % 10, v // (pw * 10) % 10
    out = v + (b - a) * pw + (a - b) * pw * 10
    if width is None:
        ok &= ~((p + 1 == length - 1) & (a == 0))
    return np.where(ok, out, v)


def _shift_days(v: IntArray, delta: IntArray) -> IntArray:
    return _days_to_ymd(_ymd_to_days(v) + delta.astype("timedelta64[D]"))


def _date_errors(rng: Rng, v: IntArray, kind: str) -> IntArray:
    n = len(v)
    y, mo, d = v // 10000, v // 100 % 100, v % 100
    day_off = _shift_days(v, np.where(rng.random(n) < 0.5, -1, 1))
    if kind == "swap_day_month":
        out = np.where((d <= 12) & (d != mo), y * 10000 + d * 100 + mo, day_off)
    elif kind == "off_by_one":
        year_off = v + np.where(rng.random(n) < 0.5, -10000, 10000)
        out = np.where(rng.random(n) < 0.5, year_off, day_off)
    else:  # a wrong digit: a year digit (decade or unit), the month or day unit
        pos = np.array([0, 2, 4, 5])[rng.integers(0, 4, n)]
        pw = 10**pos
        dg = v // pw % 10
        out = v + ((dg + rng.integers(1, 10, n)) % 10 - dg) * pw
    return np.where(_valid_ymd(out) & (out != v), out, day_off)


def _numeric_error(rng: Rng, name: str, v: IntArray, kind: str) -> IntArray:
    n = len(v)
    width = 4 if name == "postcode" else None
    if kind == "missing":
        return np.full(n, -1, dtype=np.int64)
    if name == "date_of_birth":
        return _date_errors(rng, v, kind)
    if kind == "digit":
        return _wrong_digit(rng, v, width)
    if kind == "transpose":
        return _transpose_digits(rng, v, width)
    if kind == "neighbour":
        if name == "postcode":
            step = rng.integers(1, 6, n) * np.where(rng.random(n) < 0.5, -1, 1)
            return np.clip(v + step, 0, 9999)  # type: ignore[no-any-return]
        step = np.array([-2, -1, 1, 2])[rng.integers(0, 4, n)]
        return np.where(v + step >= 1, v + step, v + 2)
    if kind == "replace":
        if name == "soc_sec_id":
            return rng.integers(1_000_000, 10_000_000, n, dtype=np.int64)
        return np.clip(np.exp(rng.normal(3.0, 1.15, n)), 1, 2999).astype(np.int64)
    raise AssertionError(kind)  # pragma: no cover


def _replace_string(rng: Rng, t: Table, name: str, rows: IntArray, pools: Pools) -> None:
    m = len(rows)
    if name == "surname":
        t[name][rows] = pools.surnames[draw(rng, pools.surname_cdf, m)]
    elif name == "given_name":
        fem = pools.female[draw(rng, pools.female_cdf, m)]
        mal = pools.male[draw(rng, pools.male_cdf, m)]
        t[name][rows] = np.where(t["female"][rows], fem, mal)
    elif name == "suburb":
        t[name][rows] = pools.suburbs[draw(rng, pools.suburb_cdf, m)]
    elif name == "state":
        cur = t[name][rows]
        new = pools.state_names[rng.integers(0, len(STATES), m)]
        same = new == cur
        new[same] = pools.state_names[(rng.integers(1, len(STATES), int(same.sum())))]
        t[name][rows] = new
    else:  # pragma: no cover
        raise AssertionError(name)


def _select_fields(rng: Rng, t: Table, rates: ErrorRates) -> BoolArray:
    """Which fields of each duplicate are modified (a weighted draw without replacement)."""
    m = len(t["surname"])
    k = draw(rng, cdf(rates.modified_fields), m)
    fw = np.array([rates.field_weights.get(f, 0.0) for f in PEOPLE_FIELDS])
    selected = np.zeros((m, len(PEOPLE_FIELDS)), dtype=np.bool_)
    present = np.stack([_present(t, f) for f in PEOPLE_FIELDS], axis=1)
    for start in range(0, m, CHUNK):
        stop = min(start + CHUNK, m)
        w = fw[None, :] * present[start:stop]
        keys = np.full(w.shape, np.inf)
        np.divide(rng.standard_exponential(w.shape), w, out=keys, where=w > 0)
        rank = np.argsort(np.argsort(keys, axis=1, kind="stable"), axis=1, kind="stable")
        selected[start:stop] = (rank < k[start:stop, None]) & (w > 0)
    return selected


def _corrupt_people(rng: Rng, t: Table, pools: Pools, rates: ErrorRates) -> None:
    """Corrupt the duplicates ``t`` in place, grouped by field and error kind."""
    original = {f: t[f].copy() for f in PEOPLE_FIELDS}
    selected = _select_fields(rng, t, rates)
    plans: dict[str, tuple[IntArray, NDArray[np.str_]]] = {}
    for j, name in enumerate(PEOPLE_FIELDS):
        rows = np.flatnonzero(selected[:, j])
        kinds = FIELD_KINDS[name]
        w = [rates.kind_weight(k) for k in kinds]
        if sum(w) > 0:
            chosen = np.asarray(kinds)[draw(rng, cdf(w), len(rows))]
        else:
            chosen = np.full(len(rows), "force")
        plans[name] = (rows, chosen)

    # Swapped names modify both fields; they take precedence over the other errors of either.
    g_rows, g_kind = plans["given_name"]
    s_rows, s_kind = plans["surname"]
    swapped = np.zeros(len(selected), dtype=np.bool_)
    swapped[g_rows[g_kind == "swap_names"]] = True
    swapped[s_rows[s_kind == "swap_names"]] = True
    swap = np.flatnonzero(swapped)
    given, surname = t["given_name"], t["surname"]
    given[swap], surname[swap] = surname[swap], given[swap].copy()
    for name in ("given_name", "surname"):
        rows, chosen = plans[name]
        keep = ~swapped[rows]
        plans[name] = (rows[keep], chosen[keep])

    for name in PEOPLE_FIELDS:
        rows, chosen = plans[name]
        col = t[name]
        for kind in dict.fromkeys(chosen.tolist()):
            sub = rows[chosen == kind]
            if name in _NUMERIC:
                col[sub] = _numeric_error(rng, name, col[sub], kind)
            elif kind == "missing":
                col[sub] = ""
            elif kind == "replace":
                _replace_string(rng, t, name, sub, pools)
            else:
                apply_strings(rng, col, sub, STRING_KINDS[kind])

    # A modified field must differ from its original: force the few that came out unchanged.
    for j, name in enumerate(PEOPLE_FIELDS):
        if name in ("given_name", "surname"):
            rows = np.flatnonzero(selected[:, j] | swapped)
        else:
            rows = np.flatnonzero(selected[:, j])
        same = rows[t[name][rows] == original[name][rows]]
        if len(same) == 0:
            continue
        if name == "date_of_birth":
            t[name][same] = _shift_days(t[name][same], np.ones(len(same), dtype=np.int64))
        elif name in _NUMERIC:
            t[name][same] = _wrong_digit(rng, t[name][same], 4 if name == "postcode" else None)
        elif name == "state":
            _replace_string(rng, t, name, same, pools)
        else:
            apply_strings(rng, t[name], same, force_change)


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------

_POSTCODE_TEXT: Final = objects([f"{i:04d}" for i in range(10000)] + [""])


def _postcode_text(col: IntArray) -> Formatter:
    return lambda idx: strs(_POSTCODE_TEXT[np.where(col[idx] < 0, 10000, col[idx])])


def _people_columns(t: Table, num: IntArray, dup: BoolArray) -> list[Formatter]:
    cols: list[Formatter] = [id_column("rec", num, dup)]
    for name in PEOPLE_FIELDS:
        if name == "postcode":
            cols.append(_postcode_text(t[name]))
        elif name in _NUMERIC:
            cols.append(number_column(t[name]))
        else:
            cols.append(text_column(t[name]))
    return cols


def people(
    n: int,
    seed: int,
    out_dir: Path,
    *,
    duplicates: float = 1.0,
    errors: ErrorRates | None = None,
) -> GeneratedTask:
    """Write a Febrl-like person linkage task to ``out_dir``; return its files and sizes.

    ``people-a.csv`` holds ``n`` originals (``rec-<i>-org``, ``i`` in ``0..n-1``).
    ``people-b.csv`` holds ``n`` records: one corrupted duplicate (``rec-<i>-dup-0``) for a
    random share ``duplicates`` of the originals (see :class:`ErrorRates`), and fresh
    records (``rec-<j>-org``, ``j >= n``) that match nothing. Rows of both files are shuffled.
    ``people-gold.csv`` lists the true links (``rec_id_a,rec_id_b``, by original number).

    Values look like Febrl's: lower-case names, date of birth as ``YYYYMMDD`` (1910-2010),
    postcode as four digits consistent with the state (``0800`` in NT), 7-digit soc_sec_id,
    ``address_2`` often empty, and a few missing values in the originals too.
    The same ``(n, seed, duplicates, errors)`` always writes byte-identical files.
    """
    check_args(n, duplicates)
    rates = errors if errors is not None else ErrorRates()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    pools = people_pools(rng, n)
    a = _draw_people(rng, n, pools, rates)
    n_dup = round(n * duplicates)
    src = np.sort(rng.choice(n, size=n_dup, replace=False)).astype(np.int64)
    dups = take(a, src)
    _corrupt_people(rng, dups, pools, rates)
    fresh = _draw_people(rng, n - n_dup, pools, rates)
    b = concat(dups, fresh)
    num_a = np.arange(n, dtype=np.int64)
    num_b = np.concatenate([src, np.arange(n, 2 * n - n_dup, dtype=np.int64)])
    dup_b = np.arange(n) < n_dup
    order_a, order_b = rng.permutation(n), rng.permutation(n)

    paths = (out_dir / "people-a.csv", out_dir / "people-b.csv", out_dir / "people-gold.csv")
    write_csv(paths[0], PEOPLE_COLUMNS, _people_columns(a, num_a, np.zeros(n, np.bool_)), order_a)
    del a
    write_csv(paths[1], PEOPLE_COLUMNS, _people_columns(b, num_b, dup_b), order_b)
    del b, dups
    false = np.zeros(n_dup, dtype=np.bool_)
    gold = [id_column("rec", src, false), id_column("rec", src, ~false)]
    write_csv(paths[2], ("rec_id_a", "rec_id_b"), gold, np.arange(n_dup))
    return GeneratedTask(*paths, n_align=n, n_target=n, n_links=n_dup)
