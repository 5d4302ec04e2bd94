"""Blocking rules against naive set computations.

Every rule is checked the same way (:func:`_check`): its pairs are exactly the
naive ones, each once, the same whatever the chunk size, ``contains`` agrees
with ``pairs`` on every possible pair, and ``estimate`` is exact or an upper
bound as the rule documents.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.alignment.blocking import (
    EARTH_RADIUS_KM,
    BlockingValueError,
    KeyRule,
    KMeansRule,
    MinHashRule,
    NoBlocking,
    Pipeline,
    QGramRule,
    RadiusRule,
    SortedNeighbourhoodRule,
    TfidfRule,
    Union,
    minhash_bands,
    qgrams,
)
from engine.alignment.normalise import normalise_column
from engine.cli import main
from schemas.alignment import SoundexOptions
from schemas.base import Ref

Pair = tuple[int, int]


def _pairs(rule: Any, chunk: int = 1 << 20) -> list[Pair]:
    out: list[Pair] = []
    for ia, ib in rule.pairs(chunk):
        assert ia.dtype == np.int64 and ib.dtype == np.int64
        out.extend(zip(ia.tolist(), ib.tolist(), strict=True))
    return out


def _check(rule: Any, expected: set[Pair], n_a: int, n_b: int, exact: bool = True) -> list[Pair]:
    """The contract every rule follows, against the naive pairs ``expected``."""
    got = _pairs(rule)
    assert len(got) == len(set(got)), "a pair yielded twice"
    assert set(got) == expected
    for chunk in (1, 7, 50):
        assert _pairs(rule, chunk) == got, f"chunk {chunk} changed the pairs or their order"
    if exact:
        assert rule.estimate() == len(expected)
    else:
        assert rule.estimate() >= len(expected)
    ia = np.repeat(np.arange(n_a, dtype=np.int64), n_b)
    ib = np.tile(np.arange(n_b, dtype=np.int64), n_a)
    contained = rule.contains(ia, ib)
    naive = np.array([(i, j) in expected for i, j in zip(ia.tolist(), ib.tolist(), strict=True)])
    assert (contained == naive).all(), "contains disagrees with pairs"
    return got


def _keys(rng: random.Random, n: int) -> list[str | None]:
    return [None if rng.random() < 0.1 else rng.choice("abcdefg") for _ in range(n)]


WORDS = ["anna", "annie", "bob", "bobby", "carl", "karl", "dora", "doris", "ed", "eddie", "jo"]


def _names(rng: random.Random, n: int) -> list[str | None]:
    out: list[str | None] = []
    for _ in range(n):
        if rng.random() < 0.1:
            out.append(None)
        else:
            out.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3))))
    return out


# --------------------------------------------------------------------------- simple rules


def test_no_blocking_is_the_cross_product() -> None:
    rule = NoBlocking(3, 4)
    got = _pairs(rule, chunk=5)
    assert sorted(got) == [(i, j) for i in range(3) for j in range(4)]
    assert rule.estimate() == 12
    assert rule.contains(np.array([0]), np.array([3])).all()
    assert rule.warnings == []


@pytest.mark.parametrize("chunk", [1, 7, 1 << 20])
def test_key_rule_pairs_equal_keys_only(chunk: int) -> None:
    rng = random.Random(1)
    a, b = _keys(rng, 80), _keys(rng, 90)
    rule = KeyRule(a, b)
    got = _pairs(rule, chunk)
    expected = {
        (i, j) for i, x in enumerate(a) for j, y in enumerate(b) if x is not None and x == y
    }
    assert len(got) == len(set(got)) == len(expected)
    assert set(got) == expected
    assert rule.estimate() == len(expected)
    ia = np.array([p[0] for p in got] + [0], dtype=np.int64)
    ib = np.array([p[1] for p in got] + [0], dtype=np.int64)
    contained = rule.contains(ia, ib)
    assert contained[:-1].all()
    assert contained[-1] == (a[0] is not None and a[0] == b[0])


def test_key_rule_contract() -> None:
    rng = random.Random(11)
    a, b = _keys(rng, 40), _keys(rng, 30)
    expected = {(i, j) for i, x in enumerate(a) for j, y in enumerate(b) if x and x == y}
    _check(KeyRule(a, b), expected, 40, 30)


def test_key_rule_with_no_common_key() -> None:
    rule = KeyRule(["a", None], ["b", "c"])
    assert _pairs(rule) == []
    assert rule.estimate() == 0


def test_phonetic_key_is_a_key_on_soundex_codes() -> None:
    chain = [Ref("soundex", SoundexOptions())]
    a = ["Robert", "Smith", None, "Tymczak", "Lee"]
    b = ["Rupert", "Smyth", "Tymczak", "Ashcraft", "Robert"]
    rule = KeyRule(normalise_column(a, chain), normalise_column(b, chain), label="phonetic")
    expected = {(0, 0), (0, 4), (1, 1), (3, 2)}
    _check(rule, expected, len(a), len(b))


def test_a_giant_key_block_is_reported() -> None:
    a = ["same"] * 400 + ["x", None]
    b = ["same"] * 300 + ["y"]
    rule = KeyRule(a, b, label="key on attribute city")
    assert len(rule.warnings) == 1
    warning = rule.warnings[0]
    assert "key on attribute city" in warning and "'same'" in warning
    assert "400 x 300 = 120,000 pairs" in warning
    # Small blocks are not worth a warning, however large their share.
    assert KeyRule(["a", "a"], ["a"]).warnings == []


def test_sorted_neighbourhood_window() -> None:
    a = ["m", "a", None, "z"]
    b = ["a", "b", "c", "n", "o", "y", "z"]
    rule = SortedNeighbourhoodRule(a, b, window=3)
    got = set(_pairs(rule))
    by_align: dict[int, set[str]] = {}
    for i, j in got:
        by_align.setdefault(i, set()).add(b[j])
    assert by_align[0] == {"c", "n", "o"}  # 'm' sorts between c and n
    assert by_align[1] == {"a", "b", "c"}
    assert by_align[3] == {"o", "y", "z"}
    assert 2 not in by_align
    assert rule.estimate() == len(got) == 9
    ia = np.array([i for i, _ in got], dtype=np.int64)
    ib = np.array([j for _, j in got], dtype=np.int64)
    assert rule.contains(ia, ib).all()
    assert not rule.contains(np.array([1]), np.array([6])).any()


# --------------------------------------------------------------------------- q-grams


def _naive_qgrams(key: str | None, q: int, padding: bool) -> set[str]:
    if not key:
        return set()
    if padding:
        key = "#" * (q - 1) + key + "#" * (q - 1)
    if len(key) < q:
        return {key}
    return {key[i : i + q] for i in range(len(key) - q + 1)}


def test_qgrams_of_a_key() -> None:
    assert qgrams("abcd", 3) == ["abc", "bcd"]
    assert qgrams("ab", 3) == ["ab"]
    assert qgrams("ab", 2, padding=True) == ["#a", "ab", "b#"]
    assert qgrams("aaaa", 2) == ["aa"]
    assert qgrams(None, 3) == [] and qgrams("", 3) == []


@pytest.mark.parametrize(
    ("q", "padding", "min_common"), [(2, False, 1), (2, True, 2), (3, False, 1), (3, True, 3)]
)
@pytest.mark.parametrize("prefix_filter", [False, True])
def test_qgram_rule_against_naive_overlap(
    q: int, padding: bool, min_common: int, prefix_filter: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.alignment.blocking as blocking

    # The prefix filter (for min_common > 1) is used when it saves work; force either way.
    monkeypatch.setattr(blocking, "_VERIFY_COST", 0 if prefix_filter else 10**9)
    rng = random.Random(q * 10 + min_common)
    a, b = _names(rng, 45), _names(rng, 55)
    grams_a = [_naive_qgrams(k, q, padding) for k in a]
    grams_b = [_naive_qgrams(k, q, padding) for k in b]
    expected = {
        (i, j)
        for i, x in enumerate(grams_a)
        for j, y in enumerate(grams_b)
        if len(x & y) >= min_common
    }
    rule = QGramRule(a, b, q=q, padding=padding, min_common=min_common)
    assert rule.prefix_filter == (prefix_filter and min_common > 1)
    got = _check(rule, expected, len(a), len(b))  # small: the estimate is counted exactly
    assert got == sorted(got), "pairs come sorted by align, then target index"
    assert rule.skipped == 0 and rule.warnings == []


def test_qgram_rule_skips_grams_over_max_block() -> None:
    rng = random.Random(3)
    a = [f"{rng.choice(WORDS)} street" for _ in range(30)] + [None]
    b = [f"{rng.choice(WORDS)} street" for _ in range(20)]
    rule = QGramRule(a, b, q=3, max_block=25, label="qgram on attribute address")
    common = _naive_qgrams("street", 3, False) | {"rle", "ly ", " st"}
    grams_a = [_naive_qgrams(k, 3, False) for k in a]
    grams_b = [_naive_qgrams(k, 3, False) for k in b]
    skipped = {
        g
        for g in set().union(*grams_a)
        if sum(g in x for x in grams_a) > 25 or sum(g in y for y in grams_b) > 25
    }
    assert skipped and skipped <= common
    expected = {
        (i, j) for i, x in enumerate(grams_a) for j, y in enumerate(grams_b) if (x & y) - skipped
    }
    _check(rule, expected, len(a), len(b))
    assert rule.skipped == len(skipped)
    assert "qgram on attribute address: skipped" in rule.warnings[0]
    assert "more than 25 records" in rule.warnings[0]


def test_qgram_estimate_is_a_bound_above_the_exact_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.alignment.blocking as blocking

    monkeypatch.setattr(blocking, "EXACT_COUNT_LIMIT", 0)
    rng = random.Random(8)
    a, b = _names(rng, 40), _names(rng, 40)
    rule = QGramRule(a, b, q=2)
    exact = len(_pairs(rule))
    assert rule.estimate() >= exact
    assert rule.estimate() == int(rule.bound.sum())


# --------------------------------------------------------------------------- minhash


def _fnv(text: str, q: int) -> int:
    h = 0xCBF29CE484222325
    for c in [ord(x) for x in text] + [0x1FFFFF] * (q - len(text)):
        h = ((h ^ c) * 0x100000001B3) % (1 << 64)
    return (h ^ (h >> 32)) & 0xFFFFFFFF


def _naive_minhash_bands(
    keys: list[str | None], kind: str, q: int, bands: int, rows: int, seed: int
) -> list[list[tuple[int, ...]] | None]:
    """Band values of each key with Python integers (no numpy arithmetic)."""
    import hashlib

    p = (1 << 31) - 1
    rng = np.random.default_rng(seed)
    a = [int(x) for x in rng.integers(1, p, size=bands * rows, dtype=np.uint64)]
    b = [int(x) for x in rng.integers(0, p, size=bands * rows, dtype=np.uint64)]
    out: list[list[tuple[int, ...]] | None] = []
    for key in keys:
        if not key:
            out.append(None)
            continue
        if kind == "tokens":  # blake2b of the token's UTF-8
            hashes = [
                int.from_bytes(hashlib.blake2b(s.encode(), digest_size=4).digest(), "little") % p
                for s in set(key.split())
            ]
        else:  # FNV-1a of the q-gram's code points, padded to q with 0x1FFFFF
            hashes = [_fnv(gram, q) % p for gram in _naive_qgrams(key, q, False)]
        signature = [min((a[k] * h + b[k]) % p for h in hashes) for k in range(bands * rows)]
        out.append([tuple(signature[j * rows : (j + 1) * rows]) for j in range(bands)])
    return out


@pytest.mark.parametrize(("kind", "bands", "rows"), [("tokens", 4, 2), ("qgrams", 6, 3)])
def test_minhash_pairs_share_a_band_computed_naively(kind: str, bands: int, rows: int) -> None:
    rng = random.Random(bands)
    a, b = _names(rng, 40), _names(rng, 50)
    band_a = _naive_minhash_bands(a, kind, 3, bands, rows, seed=7)
    band_b = _naive_minhash_bands(b, kind, 3, bands, rows, seed=7)
    expected = {
        (i, j)
        for i, x in enumerate(band_a)
        for j, y in enumerate(band_b)
        if x is not None and y is not None and any(u == v for u, v in zip(x, y, strict=True))
    }
    rule = MinHashRule(a, b, kind=kind, q=3, bands=bands, rows=rows, seed=7)
    _check(rule, expected, len(a), len(b))


def test_minhash_identical_shingle_sets_always_pair() -> None:
    rng = random.Random(4)
    a = _names(rng, 60)
    # Same token sets in another order (and repeated tokens): identical shingle sets.
    b = [None if k is None else " ".join(reversed(k.split() + k.split()[:1])) for k in a]
    rule = MinHashRule(a, b, kind="tokens", bands=20, rows=5)
    got = set(_pairs(rule))
    assert all((i, i) in got for i, k in enumerate(a) if k is not None)
    assert not any(i == j and a[i] is None for i, j in got)


@pytest.mark.parametrize("shared", [0, 10, 16])
def test_minhash_candidate_rate_follows_the_s_curve(shared: int) -> None:
    # Pairs of 20-token sets sharing `shared` tokens: Jaccard s = shared / (40 - shared).
    bands, rows, n = 10, 2, 300
    a = [" ".join(f"t{i}-{k}" for k in range(20)) for i in range(n)]
    b = [
        " ".join([f"t{i}-{k}" for k in range(shared)] + [f"u{i}-{k}" for k in range(20 - shared)])
        for i in range(n)
    ]
    rule = MinHashRule(a, b, kind="tokens", bands=bands, rows=rows, seed=11)
    index = np.arange(n, dtype=np.int64)
    rate = rule.contains(index, index).mean()
    s = shared / (40 - shared)
    assert abs(rate - (1 - (1 - s**rows) ** bands)) < 0.1


def test_minhash_is_deterministic_and_seeded() -> None:
    rng = random.Random(5)
    a, b = _names(rng, 50), _names(rng, 50)
    first = _pairs(MinHashRule(a, b, kind="qgrams", bands=8, rows=2, seed=3))
    assert _pairs(MinHashRule(a, b, kind="qgrams", bands=8, rows=2, seed=3)) == first


def test_minhash_bands_for_a_threshold() -> None:
    for threshold in (0.3, 0.5, 0.8):
        bands, rows = minhash_bands(threshold, 128)
        assert bands * rows <= 128
        # The S-curve's steepest point (1/b)^(1/r) sits near the threshold.
        assert abs((1 / bands) ** (1 / rows) - threshold) < 0.15
    assert minhash_bands(0.9, 1) == (1, 1)


# --------------------------------------------------------------------------- TF-IDF


@pytest.mark.parametrize(("top_k", "min_similarity"), [(1, 0.0), (3, 0.0), (5, 0.3)])
def test_tfidf_top_k_by_brute_force_cosine(top_k: int, min_similarity: float) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    rng = random.Random(top_k)
    a, b = _names(rng, 30), _names(rng, 40)
    rule = TfidfRule(a, b, top_k=top_k, min_similarity=min_similarity)
    got = _pairs(rule)
    assert got == sorted(got) and len(got) == len(set(got))
    # Brute force: dense cosine of every pair.
    rows_a = [i for i, k in enumerate(a) if k]
    rows_b = [j for j, k in enumerate(b) if k]
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3), lowercase=False)
    vectorizer.fit([a[i] for i in rows_a] + [b[j] for j in rows_b])
    va = vectorizer.transform([a[i] for i in rows_a]).toarray()
    vb = vectorizer.transform([b[j] for j in rows_b]).toarray()
    sims = np.zeros((len(a), len(b)))
    sims[np.ix_(rows_a, rows_b)] = va @ vb.T
    chosen: dict[int, set[int]] = {}
    for i, j in got:
        chosen.setdefault(i, set()).add(j)
    for i in range(len(a)):
        eligible = [j for j in range(len(b)) if sims[i, j] > 1e-12 and sims[i, j] >= min_similarity]
        mine = chosen.get(i, set())
        assert len(mine) == min(top_k, len(eligible))
        assert mine <= set(eligible)
        if mine:
            worst_kept = min(sims[i, j] for j in mine)
            best_left = max((sims[i, j] for j in eligible if j not in mine), default=-1.0)
            assert worst_kept >= best_left - 1e-9
    assert rule.estimate() == len(rows_a) * min(top_k, len(rows_b)) >= len(got)
    expected = set(got)
    _check(rule, expected, len(a), len(b), exact=False)


def test_tfidf_finds_the_misspelt_name() -> None:
    a = ["jonathan smith", "mary o'brien", None]
    b = ["mary obrien", "jon smith", "jonathan smyth", "peter pan"]
    rule = TfidfRule(a, b, top_k=1)
    assert _pairs(rule) == [(0, 2), (1, 0)]


def test_tfidf_without_any_ngram() -> None:
    rule = TfidfRule(["a"], ["b"], top_k=3, ngrams=(2, 3))
    assert _pairs(rule) == [] and not rule.contains(np.array([0]), np.array([0])).any()


# --------------------------------------------------------------------------- points


def _haversine_km(p: tuple[float, float], r: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*p, *r))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, h)))


def _places(rng: random.Random, n: int) -> list[tuple[str, str] | None]:
    return [
        None if rng.random() < 0.05 else (f"{rng.uniform(43, 46):.5f}", f"{rng.uniform(3, 7):.5f}")
        for _ in range(n)
    ]


@pytest.mark.parametrize("name", ["kdtree", "balltree"])
def test_radius_km_against_brute_force_haversine(name: str) -> None:
    rng = random.Random(21)
    a, b = _places(rng, 120), _places(rng, 150)
    radius = 25.0
    expected = {
        (i, j)
        for i, x in enumerate(a)
        for j, y in enumerate(b)
        if x is not None
        and y is not None
        and _haversine_km((float(x[0]), float(x[1])), (float(y[0]), float(y[1]))) <= radius
    }
    assert 0 < len(expected) < len(a) * len(b) / 4
    rule = RadiusRule(a, b, radius_km=radius, tree=name)
    got = _check(rule, expected, len(a), len(b))
    assert got == sorted(got)
    # The same points as long/lat pairs give the same pairs.
    swap = [None if p is None else (p[1], p[0]) for p in a]
    swap_b = [None if p is None else (p[1], p[0]) for p in b]
    assert _pairs(RadiusRule(swap, swap_b, radius_km=radius, order="lonlat")) == got


@pytest.mark.parametrize("name", ["kdtree", "balltree"])
def test_radius_on_numbers_against_brute_force_euclidean(name: str) -> None:
    rng = random.Random(22)
    a = [tuple(rng.uniform(0, 10) for _ in range(3)) for _ in range(80)] + [None]
    b = [tuple(rng.uniform(0, 10) for _ in range(3)) for _ in range(90)]
    expected = {
        (i, j)
        for i, x in enumerate(a)
        for j, y in enumerate(b)
        if x is not None and y is not None and math.dist(x, y) <= 2.0
    }
    _check(RadiusRule(a, b, radius=2.0, tree=name), expected, len(a), len(b))


def test_radius_on_one_numeric_column() -> None:
    a = ["1.0", "5", None, "10"]
    b = ["1.5", "4.0", "9.9", "20"]
    expected = {(0, 0), (1, 1), (3, 2)}
    _check(RadiusRule(a, b, radius=1.0), expected, 4, 4)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (("95", "2.3"), "latitude 95 is outside [-90, 90]"),
        (("45", "-190"), "longitude -190 is outside [-180, 180]"),
        (("north", "2.3"), "not a number: ('north', '2.3')"),
        (("45", "2", "7"), "expected 2 values"),
    ],
)
def test_bad_coordinates_name_the_value(value: tuple[str, ...], message: str) -> None:
    good: list[Any] = [("45", "2")] * 3
    with pytest.raises(BlockingValueError) as caught:
        RadiusRule(good, [good[0], value], radius_km=10)
    assert caught.value.side == "target"
    assert caught.value.index == 1
    assert message in caught.value.message
    with pytest.raises(BlockingValueError, match="coordinates need two columns"):
        RadiusRule(["45", "46"], ["45"], radius_km=10)


@pytest.mark.parametrize("empty", [[], [None, None]], ids=["no record", "no value"])
def test_a_side_without_points_pairs_with_nothing(empty: list[Any]) -> None:
    # Not "coordinates need two columns, found 1": an empty source has no columns to count.
    points: list[Any] = [("48.85", "2.35"), ("45.76", "4.83")]
    numbers: list[Any] = [("1", "2"), ("3", "4")]
    rules = [
        RadiusRule(points, empty, radius_km=10),
        RadiusRule(empty, points, radius_km=10, tree="balltree"),
        RadiusRule(numbers, empty, radius=1.0),
        RadiusRule(empty, numbers, radius=1.0),
        KMeansRule(points, empty, clusters=2, coordinates="latlon"),
        KMeansRule(empty, numbers, clusters=2),
    ]
    for rule in rules:
        assert rule.estimate() == 0
        assert _pairs(rule) == []


@pytest.mark.parametrize(
    "blocking",
    [
        "{kdtree: {attribute: place, radius_km: 5}}",
        "{kmeans: {attribute: place, clusters: 2, coordinates: latlon}}",
    ],
)
def test_a_run_on_a_header_only_source_names_it(
    blocking: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.csv").write_text("id,lat,lon\n1,48.85,2.35\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("id,lat,lon\n", encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"""kind: alignment
name: empty-target
sources:
  align: {{csv: a.csv, id: {{template: "http://a/{{id}}"}}}}
  target: {{csv: b.csv, id: {{template: "http://b/{{id}}"}}}}
attributes:
  - {{name: place, align: [lat, lon], metric: geographic}}
blocking: {blocking}
threshold: 1
outputs:
  - {{csv: out/links.csv}}
""",
        encoding="utf-8",
    )
    assert main(["run", "-q", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "b.csv has no records" in err
    assert "coordinates need" not in err
    assert not (tmp_path / "out").exists()


def test_kmeans_assigns_the_nearest_centroids_and_pairs_shared_clusters() -> None:
    rng = random.Random(31)
    a = [(rng.gauss(c, 1), rng.gauss(c, 1)) for c in (0, 10, 20) for _ in range(30)] + [None]
    b = [(rng.gauss(c, 1), rng.gauss(c, 1)) for c in (0, 10, 20) for _ in range(25)]
    for nearest in (1, 2):
        rule = KMeansRule(a, b, clusters=4, nearest=nearest, seed=0)
        assert rule.clusters == 4 and rule.centres.shape == (4, 2)
        for points, assign in ((a, rule.assign_a), (b, rule.assign_b)):
            for index, point in enumerate(points):
                if point is None:
                    assert (assign[:, index] == -1).all()
                    continue
                d = np.linalg.norm(rule.centres - np.array(point), axis=1)
                assert set(assign[:, index].tolist()) == set(np.argsort(d)[:nearest].tolist())
        expected = {
            (i, j)
            for i in range(len(a))
            for j in range(len(b))
            if a[i] is not None and set(rule.assign_a[:, i]) & set(rule.assign_b[:, j])
        }
        _check(rule, expected, len(a), len(b))
        if nearest == 1:
            one = expected
        else:
            assert expected >= one, "a second centroid only adds pairs"


def test_kmeans_on_coordinates_and_too_many_clusters() -> None:
    a = [("48.85", "2.35"), ("48.86", "2.34"), ("45.76", "4.83")]
    b = [("48.85", "2.35"), ("45.76", "4.84"), None]
    rule = KMeansRule(a, b, clusters=10, coordinates="latlon", label="kmeans on places")
    assert rule.clusters == 4  # distinct points (one is on both sides)
    assert "10 clusters asked, 4 distinct points" in rule.warnings[0]
    got = set(_pairs(rule))
    assert (0, 0) in got  # the same point always pairs
    again = KMeansRule(a, b, clusters=10, coordinates="latlon")
    assert _pairs(again) == sorted(got)
    with pytest.raises(BlockingValueError, match="latitude 99"):
        KMeansRule([("99", "0")], b, clusters=2, coordinates="latlon")


# --------------------------------------------------------------------------- groups


def test_union_yields_each_pair_once() -> None:
    rng = random.Random(5)
    a1, b1 = _keys(rng, 60), _keys(rng, 70)
    a2, b2 = _keys(rng, 60), _keys(rng, 70)
    r1, r2 = KeyRule(a1, b1), KeyRule(a2, b2)
    r3 = SortedNeighbourhoodRule(a1, b2, window=4)
    union = Union([r1, r2, r3])
    got = _pairs(union, chunk=13)
    expected = set(_pairs(r1)) | set(_pairs(r2)) | set(_pairs(r3))
    assert len(got) == len(set(got))
    assert set(got) == expected
    assert union.estimate() >= len(expected)


def test_pipeline_refines_the_first_rule() -> None:
    rng = random.Random(6)
    n_a, n_b = 50, 60
    zone_a, zone_b = _keys(rng, n_a), _keys(rng, n_b)
    name_a, name_b = _names(rng, n_a), _names(rng, n_b)
    key, gram = KeyRule(zone_a, zone_b), QGramRule(name_a, name_b, q=3, min_common=2)
    expected = set(_pairs(key)) & set(_pairs(gram))
    rule = Pipeline([key, gram])
    _check(rule, expected, n_a, n_b, exact=False)
    assert rule.estimate() == min(key.estimate(), gram.estimate())


def test_groups_nest() -> None:
    rng = random.Random(7)
    n_a, n_b = 40, 45
    zone_a, zone_b = _keys(rng, n_a), _keys(rng, n_b)
    other_a, other_b = _keys(rng, n_a), _keys(rng, n_b)
    name_a, name_b = _names(rng, n_a), _names(rng, n_b)
    k1, k2 = KeyRule(zone_a, zone_b), KeyRule(other_a, other_b)
    gram = QGramRule(name_a, name_b, q=2, min_common=3)
    s1, s2, s3 = set(_pairs(k1)), set(_pairs(k2)), set(_pairs(gram))
    # A union inside a pipeline: (k1 or k2) and gram.
    inner = Pipeline([Union([k1, k2]), gram])
    _check(inner, (s1 | s2) & s3, n_a, n_b, exact=False)
    # A pipeline inside a union: k2 or (k1 and gram).
    outer = Union([k2, Pipeline([k1, gram])])
    _check(outer, s2 | (s1 & s3), n_a, n_b, exact=False)
    assert outer.warnings == [] and inner.label == "pipeline"


def test_group_warnings_gather_their_rules() -> None:
    giant = KeyRule(["x"] * 500, ["x"] * 400, label="giant key")
    rule = Pipeline([Union([KeyRule(["a"], ["a"]), giant]), KeyRule(["x"] * 500, ["x"] * 400)])
    assert len(rule.warnings) == 2 and rule.warnings[0].startswith("giant key:")


def test_band_codes_survive_a_mixing_collision(monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.alignment.blocking as blocking

    values = np.array(
        [[3, 1, 3, 2, 1], [7, 5, 7, 7, 5], [1 << 40, 0, 1 << 40, 0, 0]], dtype=np.uint64
    )
    codes = blocking._row_codes(values)
    assert codes[0] == codes[2] and codes[1] == codes[4] and len(set(codes.tolist())) == 3
    monkeypatch.setattr(blocking, "_MIX", np.uint64(0))  # every column mixes to 0
    collided = blocking._row_codes(values)
    assert ((collided[:, None] == collided) == (codes[:, None] == codes)).all()


@pytest.mark.parametrize(("q", "padding"), [(1, False), (2, True), (3, False), (4, True)])
def test_the_vectorised_qgrams_are_the_reference_ones(q: int, padding: bool) -> None:
    import engine.alignment.blocking as blocking

    keys = ["ab", "Hélène Łódź", "x", "aaaa", "naïve café 🙂🙂", "abc", "a b"]
    table = blocking._gram_table(keys, q, padding)
    for row, key in enumerate(keys):
        ids = table.indices[table.indptr[row] : table.indptr[row + 1]]
        assert sorted(table.name(int(g)) for g in ids) == sorted(qgrams(key, q, padding))
    assert table.indptr[-1] == table.indptr[-2]  # the last row: a missing key, no grams
    hashes = table.hashes()
    assert len(set(hashes.tolist())) == table.n_grams  # distinct grams, distinct hashes here
