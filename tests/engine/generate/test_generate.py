"""The deterministic generator of Febrl-like linkage tasks (engine.generate: people, places, main)."""

from __future__ import annotations

import csv
import hashlib
import math
import random
import re
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from engine.generate import (
    NICKNAMES,
    PEOPLE_FIELDS,
    ErrorRates,
    GeneratedTask,
    main,
    people,
    places,
)

N = 2000
FEBRL_COLUMNS = [
    "rec_id",
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
]
POSTCODE_RANGES = {
    "nsw": ((2000, 2599), (2619, 2899), (2921, 2999)),
    "act": ((2600, 2618), (2900, 2920)),
    "vic": ((3000, 3999),),
    "qld": ((4000, 4999),),
    "sa": ((5000, 5799),),
    "wa": ((6000, 6797),),
    "tas": ((7000, 7799),),
    "nt": ((800, 899),),
}
NO_ERRORS = {
    "typo": 0.0, "ocr": 0.0, "phonetic": 0.0, "edit": 0.0, "missing": 0.0, "nickname": 0.0,
    "swap_names": 0.0, "replace": 0.0, "tokens": 0.0, "digit": 0.0, "transpose": 0.0,
    "neighbour": 0.0, "swap_day_month": 0.0, "off_by_one": 0.0,
}  # fmt: skip


def _only(fields: dict[str, float], **kinds: float) -> ErrorRates:
    """Exactly one modified field per duplicate, among ``fields``, with only ``kinds``."""
    return ErrorRates(modified_fields=(0.0, 1.0), field_weights=fields, **{**NO_ERRORS, **kinds})


def _targeted(task: GeneratedTask, field: str) -> list[tuple[dict[str, str], dict[str, str]]]:
    """Pairs whose original has ``field``; the others have nothing to modify and stay equal."""
    pairs = _pairs(task)
    assert all(not _modified(o, d) for o, d in pairs if not o[field])
    return [(o, d) for o, d in pairs if o[field]]


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def _pairs(task: GeneratedTask, key: str = "rec_id") -> list[tuple[dict[str, str], dict[str, str]]]:
    """(original, duplicate) rows of every gold link."""
    a = {r[key]: r for r in _read(task.align)[1]}
    b = {r[key]: r for r in _read(task.target)[1]}
    _, gold = _read(task.gold)
    cols = list(gold[0])
    return [(a[g[cols[0]]], b[g[cols[1]]]) for g in gold]


def _modified(orig: dict[str, str], dup: dict[str, str]) -> list[str]:
    return [f for f in PEOPLE_FIELDS if orig[f] != dup[f]]


def _levenshtein(s: str, t: str) -> int:
    prev = list(range(len(t) + 1))
    for i, c in enumerate(s, 1):
        cur = [i]
        for j, d in enumerate(t, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (c != d)))
        prev = cur
    return prev[-1]


def _haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


@pytest.fixture(scope="module")
def task(tmp_path_factory: pytest.TempPathFactory) -> GeneratedTask:
    return people(N, 11, tmp_path_factory.mktemp("people"))


@pytest.fixture(scope="module")
def pairs(task: GeneratedTask) -> list[tuple[dict[str, str], dict[str, str]]]:
    return _pairs(task)


@pytest.fixture(scope="module")
def place_task(tmp_path_factory: pytest.TempPathFactory) -> GeneratedTask:
    return places(N, 11, tmp_path_factory.mktemp("places"))


# -- people: files, determinism ---------------------------------------------------------------


def test_people_is_deterministic_by_seed(tmp_path: Path) -> None:
    one = people(N, 5, tmp_path / "one")
    two = people(N, 5, tmp_path / "two")
    other = people(N, 6, tmp_path / "other")
    for name in ("people-a.csv", "people-b.csv", "people-gold.csv"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    assert one == GeneratedTask(
        tmp_path / "one" / "people-a.csv",
        tmp_path / "one" / "people-b.csv",
        tmp_path / "one" / "people-gold.csv",
        n_align=N,
        n_target=N,
        n_links=N,
    )
    assert two.n_links == other.n_links == N
    assert one.align.read_bytes() != other.align.read_bytes()
    assert one.target.read_bytes() != other.target.read_bytes()


def test_people_files_are_utf8_csv_with_unix_line_endings(task: GeneratedTask) -> None:
    for path in (task.align, task.target, task.gold):
        data = path.read_bytes()
        data.decode("utf-8")
        assert b"\r" not in data
        assert data.endswith(b"\n")


def test_people_headers_and_row_counts(task: GeneratedTask) -> None:
    header_a, rows_a = _read(task.align)
    header_b, rows_b = _read(task.target)
    header_g, gold = _read(task.gold)
    assert header_a == header_b == FEBRL_COLUMNS
    assert header_g == ["rec_id_a", "rec_id_b"]
    assert len(rows_a) == len(rows_b) == len(gold) == N
    assert (task.n_align, task.n_target, task.n_links) == (N, N, N)
    assert all(None not in r and len(r) == len(FEBRL_COLUMNS) for r in rows_a + rows_b)


def test_gold_links_are_consistent(task: GeneratedTask) -> None:
    ids_a = [r["rec_id"] for r in _read(task.align)[1]]
    ids_b = [r["rec_id"] for r in _read(task.target)[1]]
    _, gold = _read(task.gold)
    assert len(set(ids_a)) == len(ids_a)
    assert len(set(ids_b)) == len(ids_b)
    assert all(re.fullmatch(r"rec-\d+-org", i) for i in ids_a)
    assert {g["rec_id_a"] for g in gold} <= set(ids_a)
    assert {g["rec_id_b"] for g in gold} <= set(ids_b)
    assert len({g["rec_id_a"] for g in gold}) == len({g["rec_id_b"] for g in gold}) == len(gold)
    for g in gold:
        assert g["rec_id_b"] == g["rec_id_a"].replace("-org", "-dup-0")


def test_rows_are_shuffled(task: GeneratedTask) -> None:
    for path in (task.align, task.target):
        numbers = [int(r["rec_id"].split("-")[1]) for r in _read(path)[1]]
        assert numbers != sorted(numbers)
        assert sorted(numbers) == list(range(N))


def test_partial_duplicates_fill_b_with_fresh_records(tmp_path: Path) -> None:
    t = people(N, 3, tmp_path, duplicates=0.25)
    ids_a = {r["rec_id"] for r in _read(t.align)[1]}
    ids_b = [r["rec_id"] for r in _read(t.target)[1]]
    _, gold = _read(t.gold)
    dups = [i for i in ids_b if i.endswith("-dup-0")]
    fresh = [i for i in ids_b if i.endswith("-org")]
    assert len(ids_b) == N and t.n_target == N
    assert len(gold) == len(dups) == t.n_links == N // 4
    assert len(fresh) == N - N // 4
    assert not ids_a & set(fresh)  # fresh records never share an id with an original
    assert all(int(i.split("-")[1]) >= N for i in fresh)


def test_no_duplicates_at_all(tmp_path: Path) -> None:
    t = people(300, 3, tmp_path, duplicates=0.0)
    assert t.n_links == 0
    assert t.gold.read_text() == "rec_id_a,rec_id_b\n"
    assert all(r["rec_id"].endswith("-org") for r in _read(t.target)[1])


# -- people: values ---------------------------------------------------------------------------


def test_postcodes_keep_leading_zeros_and_match_the_state(task: GeneratedTask) -> None:
    rows_a = _read(task.align)[1]
    rows_b = _read(task.target)[1]
    codes = [r["postcode"] for r in rows_a + rows_b if r["postcode"]]
    assert all(re.fullmatch(r"\d{4}", c) for c in codes)
    assert any(c.startswith("0") for c in codes)
    for r in rows_a:
        if r["state"]:
            code = int(r["postcode"])
            assert any(lo <= code <= hi for lo, hi in POSTCODE_RANGES[r["state"]]), r
    states = Counter(r["state"] for r in rows_a)
    assert set(states) <= {*POSTCODE_RANGES, ""}
    assert states["nsw"] > states["vic"] > states["tas"] > 0


def test_dates_of_birth_are_valid(task: GeneratedTask) -> None:
    rows_a = _read(task.align)[1]
    rows_b = _read(task.target)[1]
    for r in rows_a + rows_b:
        if r["date_of_birth"]:
            assert re.fullmatch(r"\d{8}", r["date_of_birth"]), r
            datetime.strptime(r["date_of_birth"], "%Y%m%d")  # raises when invalid
    years = [int(r["date_of_birth"][:4]) for r in rows_a if r["date_of_birth"]]
    assert 1910 <= min(years) < 1915 and 2005 < max(years) <= 2010


def test_numbers_and_names_look_like_febrl(task: GeneratedTask) -> None:
    rows = _read(task.align)[1]
    assert all(re.fullmatch(r"[1-9]\d{6}", r["soc_sec_id"]) for r in rows)
    numbers = [r["street_number"] for r in rows if r["street_number"]]
    assert all(re.fullmatch(r"[1-9]\d{0,3}", n) for n in numbers)
    assert 0.5 < sum(len(n) == 2 for n in numbers) / len(numbers) < 0.9
    for f in ("given_name", "surname", "address_1", "address_2", "suburb"):
        assert all(re.fullmatch(r"[a-z0-9 ]*", r[f]) for r in rows), f
    types = Counter(r["address_1"].split()[-1] for r in rows if r["address_1"])
    assert types.most_common(1)[0][0] == "street"
    assert {"crescent", "place", "circuit", "avenue"} <= set(types)


def test_missing_values_in_both_files(task: GeneratedTask) -> None:
    rows_a = _read(task.align)[1]
    rows_b = _read(task.target)[1]

    def empty(rows: list[dict[str, str]], f: str) -> int:
        return sum(not r[f] for r in rows)

    for f in ("given_name", "surname", "street_number", "address_1", "date_of_birth"):
        assert empty(rows_a, f) > 0, f
        assert empty(rows_b, f) > empty(rows_a, f), f
    assert 0.15 < empty(rows_a, "address_2") / N < 0.5  # often empty, as in Febrl
    assert empty(rows_a, "soc_sec_id") == empty(rows_a, "postcode") == 0


def test_surnames_have_common_names_and_a_long_tail(tmp_path: Path) -> None:
    t = people(20_000, 4, tmp_path, duplicates=0.0)
    names = Counter(r["surname"] for r in _read(t.align)[1] if r["surname"])
    total = sum(names.values())
    top = names.most_common(10)
    assert 0.003 < top[0][1] / total < 0.03
    assert sum(c for _, c in top) / total < 0.15
    assert len(names) > 3000
    assert sum(1 for c in names.values() if c == 1) > 0.3 * len(names)
    given = Counter(r["given_name"] for r in _read(t.align)[1])
    assert 300 < len(given) < 5000


# -- people: the error model ------------------------------------------------------------------


def test_every_duplicate_is_modified_mostly_in_one_to_three_fields(
    pairs: list[tuple[dict[str, str], dict[str, str]]],
) -> None:
    counts = Counter(len(_modified(o, d)) for o, d in pairs)
    assert counts[0] == 0
    share_1_3 = (counts[1] + counts[2] + counts[3]) / len(pairs)
    assert 0.75 < share_1_3 < 0.95
    assert counts[1] > 0.2 * len(pairs) and counts[2] > 0.2 * len(pairs)
    assert sum(c for k, c in counts.items() if k >= 4) > 0.05 * len(pairs)
    fields = Counter(f for o, d in pairs for f in _modified(o, d))
    assert set(fields) == set(PEOPLE_FIELDS)
    assert fields["address_1"] > fields["postcode"] > fields["state"]


def test_exact_duplicates_when_asked(tmp_path: Path) -> None:
    t = people(500, 8, tmp_path, errors=ErrorRates(modified_fields=(1.0,)))
    assert all(not _modified(o, d) for o, d in _pairs(t))


def test_task_is_solvable_but_not_trivial(
    task: GeneratedTask, pairs: list[tuple[dict[str, str], dict[str, str]]]
) -> None:
    exact = sum(not _modified(o, d) for o, d in pairs)
    assert exact < 0.5 * len(pairs)
    agree = [len(PEOPLE_FIELDS) - len(_modified(o, d)) for o, d in pairs]
    assert sum(a >= 6 for a in agree) > 0.9 * len(pairs)
    rows_a = _read(task.align)[1]
    rng = random.Random(0)
    other = [
        sum(rng.choice(rows_a)[f] == d[f] for f in PEOPLE_FIELDS if d[f]) for _, d in pairs[:500]
    ]
    assert sum(other) / len(other) < 1.5 < sum(agree) / len(agree)


def test_surname_typos_are_single_keyboard_slips(tmp_path: Path) -> None:
    t = people(600, 2, tmp_path, errors=_only({"surname": 1.0}, typo=1.0))
    keyboard = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
    for o, d in _targeted(t, "surname"):
        assert _modified(o, d) == ["surname"]
        assert _levenshtein(o["surname"], d["surname"]) == 1
        if len(o["surname"]) == len(d["surname"]):  # a substitution: by a neighbouring key
            (i,) = [
                k for k, (x, y) in enumerate(zip(o["surname"], d["surname"], strict=True)) if x != y
            ]
            x, y = o["surname"][i], d["surname"][i]
            rx = next(r for r, row in enumerate(keyboard) if x in row)
            ry = next(r for r, row in enumerate(keyboard) if y in row)
            assert abs(rx - ry) <= 1 and abs(keyboard[rx].index(x) - keyboard[ry].index(y)) <= 1


def test_ocr_slips(tmp_path: Path) -> None:
    t = people(600, 2, tmp_path, errors=_only({"surname": 1.0}, ocr=1.0))
    ocr_like = 0
    pairs = _targeted(t, "surname")
    for o, d in pairs:
        assert _modified(o, d) == ["surname"]
        a, b = o["surname"], d["surname"]
        i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
        j = 0
        while j < min(len(a), len(b)) - i and a[len(a) - 1 - j] == b[len(b) - 1 - j]:
            j += 1
        pair = (a[i : len(a) - j], b[i : len(b) - j])
        ocr_like += pair in {
            ("o", "0"), ("l", "1"), ("i", "1"), ("s", "5"), ("b", "8"), ("z", "2"), ("g", "9"),
            ("rn", "m"), ("m", "rn"), ("cl", "d"), ("d", "cl"), ("w", "vv"), ("h", "li"),
            ("e", "c"), ("c", "e"), ("l", "i"), ("i", "l"), ("b", "h"), ("g", "q"), ("u", "ii"),
            ("ri", "n"), ("nn", "m"), ("li", "h"), ("h", "b"), ("n", "ri"), ("m", "nn"),
        }  # fmt: skip
    assert ocr_like > 0.9 * len(pairs)


def test_nicknames(tmp_path: Path) -> None:
    formal = {k for k, v in NICKNAMES.items() if any(len(s) < len(k) for s in v)}
    assert len(formal) >= 40
    assert "bill" in NICKNAMES["william"] and "william" in NICKNAMES["bill"]
    assert "liz" in NICKNAMES["elizabeth"] and "kate" in NICKNAMES["katherine"]
    t = people(N, 2, tmp_path, errors=_only({"given_name": 1.0}, nickname=1.0))
    swapped = 0
    for o, d in _targeted(t, "given_name"):
        assert _modified(o, d) == ["given_name"]
        if o["given_name"] in NICKNAMES:
            assert d["given_name"] in NICKNAMES[o["given_name"]]
            swapped += 1
    assert swapped > 0.2 * N


def test_swapped_names(tmp_path: Path) -> None:
    t = people(500, 2, tmp_path, errors=_only({"given_name": 1.0, "surname": 1.0}, swap_names=1.0))
    for o, d in _pairs(t):
        assert (d["given_name"], d["surname"]) == (o["surname"], o["given_name"])


def test_address_token_errors(tmp_path: Path) -> None:
    t = people(N, 2, tmp_path, errors=_only({"address_1": 1.0}, tokens=1.0))
    abbreviated = dropped = 0
    for o, d in _targeted(t, "address_1"):
        assert _modified(o, d) == ["address_1"]
        a, b = o["address_1"].split(), d["address_1"].split()
        same_letters = sorted(o["address_1"].replace(" ", "")) == sorted(
            d["address_1"].replace(" ", "")
        )  # tokens swapped, joined or split
        one_token = len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) == 1
        one_dropped = len(b) == len(a) - 1 and any(a[:k] + a[k + 1 :] == b for k in range(len(a)))
        assert same_letters or one_token or one_dropped, (o["address_1"], d["address_1"])
        abbreviated += one_token and b[-1] in {"st", "str", "cres", "cr", "pl", "cct"}
        dropped += b == a[:-1]
    assert abbreviated > 0.05 * N and dropped > 0.05 * N


def test_missing_errors_empty_the_field(tmp_path: Path) -> None:
    t = people(500, 2, tmp_path, errors=_only({"date_of_birth": 1.0}, missing=1.0))
    pairs = _targeted(t, "date_of_birth")
    assert len(pairs) > 400
    assert all(d["date_of_birth"] == "" for _, d in pairs)


def test_date_errors(tmp_path: Path) -> None:
    t = people(N, 2, tmp_path, errors=_only({"date_of_birth": 1.0}, swap_day_month=1.0))
    swapped = 0
    for o, d in _targeted(t, "date_of_birth"):
        y, m, day = o["date_of_birth"][:4], o["date_of_birth"][4:6], o["date_of_birth"][6:]
        assert d["date_of_birth"] != o["date_of_birth"]
        if int(day) <= 12 and day != m:
            assert d["date_of_birth"] == y + day + m
            swapped += 1
    assert swapped > 0.3 * N
    t = people(N, 2, tmp_path / "off", errors=_only({"date_of_birth": 1.0}, off_by_one=1.0))
    for o, d in _targeted(t, "date_of_birth"):
        before = datetime.strptime(o["date_of_birth"], "%Y%m%d")
        after = datetime.strptime(d["date_of_birth"], "%Y%m%d")
        assert abs((after - before).days) == 1 or abs(after.year - before.year) == 1


def test_postcode_errors_stay_four_digits(tmp_path: Path) -> None:
    t = people(N, 2, tmp_path, errors=_only({"postcode": 1.0}, digit=1.0, neighbour=1.0))
    near = 0
    for o, d in _pairs(t):
        assert _modified(o, d) == ["postcode"]
        assert re.fullmatch(r"\d{4}", d["postcode"])
        close = abs(int(o["postcode"]) - int(d["postcode"])) <= 5
        one_digit = sum(x != y for x, y in zip(o["postcode"], d["postcode"], strict=True)) == 1
        assert close or one_digit
        near += close
    assert 0.3 * N < near < N


def test_error_rates_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown fields"):
        ErrorRates(field_weights={"bogus": 1.0})
    with pytest.raises(ValueError, match="typo"):
        ErrorRates(typo=-1.0)
    with pytest.raises(ValueError, match="modified_fields"):
        ErrorRates(modified_fields=(0.0, 0.0))
    with pytest.raises(ValueError, match="n must be"):
        people(0, 1, tmp_path)
    with pytest.raises(ValueError, match="duplicates"):
        people(10, 1, tmp_path, duplicates=1.5)
    with pytest.raises(ValueError, match="max_jitter_km"):
        places(10, 1, tmp_path, max_jitter_km=0.0)


# -- places -----------------------------------------------------------------------------------


def test_places_is_deterministic_by_seed(tmp_path: Path) -> None:
    one = places(N, 5, tmp_path / "one")
    places(N, 5, tmp_path / "two")
    other = places(N, 6, tmp_path / "other")
    for name in ("places-a.csv", "places-b.csv", "places-gold.csv"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    assert one.align.read_bytes() != other.align.read_bytes()
    assert one.target.read_bytes() != other.target.read_bytes()


def test_places_files(place_task: GeneratedTask) -> None:
    header_a, rows_a = _read(place_task.align)
    header_b, rows_b = _read(place_task.target)
    header_g, gold = _read(place_task.gold)
    assert header_a == header_b == ["id", "name", "country", "lat", "long", "population"]
    assert header_g == ["id_a", "id_b"]
    assert len(rows_a) == len(rows_b) == len(gold) == N == place_task.n_links
    ids_a, ids_b = {r["id"] for r in rows_a}, {r["id"] for r in rows_b}
    assert len(ids_a) == len(ids_b) == N
    assert {g["id_a"] for g in gold} == ids_a and {g["id_b"] for g in gold} == ids_b
    for r in rows_a + rows_b:
        assert -90 <= float(r["lat"]) <= 90 and -180 <= float(r["long"]) <= 180
        assert re.fullmatch(r"-?\d+\.\d{5}", r["lat"]) and re.fullmatch(r"-?\d+\.\d{5}", r["long"])
        assert r["population"] == "" or int(r["population"]) > 0
    assert all(r["name"] and re.fullmatch(r"[A-Z]{2}", r["country"]) for r in rows_a)
    assert len({r["country"] for r in rows_a}) >= 5


def test_place_duplicates_are_close_to_their_original(place_task: GeneratedTask) -> None:
    d = [
        _haversine_km(float(o["lat"]), float(o["long"]), float(p["lat"]), float(p["long"]))
        for o, p in _pairs(place_task, "id")
    ]
    assert max(d) <= 3.0
    assert min(d) > 0.05
    assert 0.2 < sorted(d)[len(d) // 2] < 1.2  # a few hundred metres typically


def test_place_jitter_follows_the_option(tmp_path: Path) -> None:
    t = places(500, 1, tmp_path, max_jitter_km=0.5)
    d = [
        _haversine_km(float(o["lat"]), float(o["long"]), float(p["lat"]), float(p["long"]))
        for o, p in _pairs(t, "id")
    ]
    assert max(d) <= 0.55 and min(d) > 0.05


def test_places_are_clustered_around_cities(place_task: GeneratedTask) -> None:
    rows = _read(place_task.align)[1]
    points = [(float(r["lat"]), float(r["long"])) for r in rows]
    sample = random.Random(1).sample(points, 100)
    near = [sum(_haversine_km(*p, *q) < 25 for q in points) - 1 for p in sample]
    assert sum(near) / len(near) > 10  # uniform points on land would give ~0


def test_place_names_have_realistic_variants(place_task: GeneratedTask) -> None:
    pairs = _pairs(place_task, "id")
    accented = [(o, d) for o, d in pairs if re.search(r"[^\x00-\x7f]", o["name"])]
    assert len(accented) > 0.05 * len(pairs)
    assert any(re.search(r"[^\x00-\x7f]", d["name"]) is None for _, d in accented)
    assert any(o["name"].startswith("Saint") and d["name"].startswith("St") for o, d in pairs)
    changed = sum(o["name"] != d["name"] for o, d in pairs)
    assert 0.4 * len(pairs) < changed < 0.9 * len(pairs)
    exact = sum(all(o[c] == d[c] for c in ("name", "lat", "long")) for o, d in pairs)
    assert exact < 0.5 * len(pairs)


# -- command line -----------------------------------------------------------------------------


def test_cli_writes_the_same_files_as_the_api(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["people", "--size", "300", "--seed", "3", "--out", str(tmp_path / "cli")]) == 0
    assert "300 links" in capsys.readouterr().out
    people(300, 3, tmp_path / "api")
    for name in ("people-a.csv", "people-b.csv", "people-gold.csv"):
        assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "api" / name).read_bytes()
    assert main(["places", "--size", "200", "--out", str(tmp_path / "pl")]) == 0
    assert (tmp_path / "pl" / "places-b.csv").exists()


def test_cli_rejects_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["people", "--size", "0", "--out", str(tmp_path)]) == 2
    assert main(["animals", "--size", "10", "--out", str(tmp_path)]) == 2
    assert main(["people", "--size", "10", "--out", str(tmp_path), "--duplicates", "2"]) == 2
    assert "duplicates" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


# Digests of tasks written by the generator as it was when its word lists moved to data files
# (issue 14): the same arguments and seed must keep writing the same bytes, or every benchmark
# figure and every saved task silently changes.
PINNED = [
    (["people", "--size", "2000", "--seed", "11"],
     "521f54baba4744a709255ba6ff5e71ad5f04845ba9f6450d382ba02d4071fc34"),
    (["people", "--size", "500", "--duplicates", "0.3"],
     "04dc4a1844dbf8a26e515a9035c98ea5d0ac71c72e8bd59601912a5bb66db023"),
    (["places", "--size", "2000", "--seed", "11"],
     "944d10a0c0428928fd823cc16f96bde6dc715d3d9541c516cc276800d90b84d1"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "digest"), PINNED, ids=[" ".join(a) for a, _ in PINNED])
def test_engine_generate_writes_the_same_bytes_as_ever(
    tmp_path: Path, args: list[str], digest: str
) -> None:
    from engine.cli import main as engine_main

    assert engine_main(["generate", *args, "--out", str(tmp_path)]) == 0
    h = hashlib.sha256()
    for suffix in ("a", "b", "gold"):
        path = tmp_path / f"{args[0]}-{suffix}.csv"
        h.update(path.name.encode())
        h.update(path.read_bytes())
    assert h.hexdigest() == digest


def test_people_with_other_error_rates_writes_the_same_bytes_as_ever(tmp_path: Path) -> None:
    rates = ErrorRates(missing_in_originals=0.2, nickname=2.0, tokens=2.0)
    task = people(3000, 7, tmp_path, errors=rates)
    h = hashlib.sha256()
    for path in (task.align, task.target, task.gold):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    assert h.hexdigest() == "fdbd993cb5baa8a642ff900f15720e6ba846ee29757b6b68f5bfb78a8b72ab4d"
