"""The compiled kernel gives the metrics' very floats (rapidfuzz's and numpy's), bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from engine.alignment import kernel
from engine.alignment.compare import AttributeJob, CompareTask, compare_chunk
from engine.alignment.metrics import METRICS
from schemas.alignment import METRICS as OPTIONS

RNG = np.random.default_rng(17)
#: Short and long values, empty ones, letters past Latin-1 and past the BMP, near misses.
WORDS = [
    "martha",
    "marhta",
    "dwayne",
    "duane",
    "dixon",
    "dicksonx",
    "a",
    "b",
    "ab",
    "ba",
    "",
    "Zoë",
    "Zoe",
    "Ørsted",
    "東京都",
    "東京",
    "😀x",
    "x😀",
    "abcdefghij" * 7,  # 70 letters: past one machine word
    "abcdefghij" * 7 + "k",
    "bcdefghija" * 7,
    "2001-01-01",
    "2001-10-01",
    "1 smith street",
    "1 smyth street",
    None,
]
DATES = ["2001-01-01", "2001-01-03", "1999-12-31", "1850-06-30", None]
#: Points close together, far apart, antipodal, on the poles; missing ones (either order).
POINTS = [
    ("48.8566", "2.3522"),
    ("48.8567", "2.3524"),
    ("45.7640", "4.8357"),
    ("-48.8566", "-87.6478"),
    ("90", "0"),
    ("-90", "90"),
    ("0", "-90"),
    ("0", "90"),
    ("12.5", "80.25"),
    ("12.5000001", "80.25"),
    (None, "3"),
    None,
]
#: Several tokens (Nazca's multi-word distance), odd whitespace, long tokens, one token.
PHRASES = [
    "paul dupont",
    "dupond paul",
    "victor hugo",
    "albert camus",
    " victor  hugo ",
    "victor\thugo\u00a0x",
    "saint étienne du rouvray",
    "st etienne",
    "東京 都",
    "😀 x",
    "abcdefghij" * 7 + " abc",
    "abc " + "bcdefghija" * 7,
    "one",
    "",
    "   ",
    None,
]
NUMBERS = ["3", "5", "-2.5", "1e6", "0.1", "0.30000000000000004", None]
VECTORS = [("0", "0", "1"), ("3", "4", "0"), ("0.1", "0.2", "0.3"), ("1e-3", "7", "-2"), None]


def _values(choices: list[str | None], n: int) -> list[str | None]:
    return [choices[i] for i in RNG.integers(0, len(choices), n)]


SPECS = [
    ("lev", "levenshtein", {"normalised": True, "tokens": False}, 1.0, 0.5, WORDS),
    ("jw", "jaro_winkler", {}, 1.5, 0.5, WORDS),
    ("jw2", "jaro_winkler", {"prefix_weight": 0.25}, 0.5, 0.25, WORDS),
    ("raw", "levenshtein", {"normalised": False, "tokens": False}, 0.1, 1.0, WORDS),
    ("same", "exact", {}, 0.5, 1.0, WORDS),
    ("born", "temporal", {"unit": "years"}, 0.0, 1.0, DATES),
    ("born10", "temporal", {"unit": "days", "scale": 10}, 1.0, 1.0, DATES),
    ("one", "levenshtein", {"normalised": True}, 1.0, 1.0, ["ab", "abc", "", "xyz", None]),
    ("km", "geographic", {}, 0.001, 1.0, POINTS),
    ("m", "geographic", {"unit": "m", "scale": 20_000, "coordinates": "lonlat"}, 0.5, 0.5, POINTS),
    ("x", "euclidean", {}, 0.01, 1.0, NUMBERS),
    ("xyz", "euclidean", {"scale": 5}, 0.5, 1.0, VECTORS),
    ("words", "levenshtein", {}, 0.5, 1.0, PHRASES),
    ("edits", "levenshtein", {"normalised": False}, 0.05, 0.5, PHRASES),
    ("mixed", "levenshtein", {}, 0.5, 1.0, WORDS),  # single tokens: compared whole
    ("ratio", "ratio", {}, 1.0, 1.0, WORDS),  # not covered: the metric finishes the pairs
    ("after", "jaro_winkler", {}, 1.0, 1.0, WORDS),  # after an uncovered one: the metric too
]


def _task(n_a: int, n_b: int, limit: float) -> CompareTask:
    jobs, align, target = [], {}, {}
    for name, metric_name, options, weight, fill, choices in SPECS:
        model = OPTIONS[metric_name](**options)
        metric = METRICS[metric_name].func()
        align[name] = metric.prepare(_values(choices, n_a), model)
        target[name] = metric.prepare(_values(choices, n_b), model)
        jobs.append(AttributeJob(name, metric_name, model, weight, fill))
    return CompareTask(tuple(jobs), align, target, limit, False)


def _same(a: object, b: object) -> None:
    assert np.array_equal(a.ia, b.ia)  # type: ignore[attr-defined]
    assert np.array_equal(a.ib, b.ib)  # type: ignore[attr-defined]
    assert a.total.tobytes() == b.total.tobytes()  # type: ignore[attr-defined]
    assert list(a.distances) == list(b.distances)  # type: ignore[attr-defined]
    for name, values in a.distances.items():  # type: ignore[attr-defined]
        assert values.tobytes() == b.distances[name].tobytes(), name  # type: ignore[attr-defined]


@pytest.mark.parametrize("limit", [np.inf, 6.0, 3.0, 0.5])
@pytest.mark.parametrize("by_align", [False, True])
def test_the_kernel_gives_the_metrics_floats(
    limit: float, by_align: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    n_a, n_b, pairs = 300, 250, 40_000
    task = _task(n_a, n_b, limit)
    ia = RNG.integers(0, n_a, pairs)
    ib = RNG.integers(0, n_b, pairs)
    if by_align:  # as blocking gives them: an align record's pairs one after another
        ia = np.sort(ia)
    monkeypatch.setattr(kernel, "MIN_PAIRS", 10**12)
    expected = compare_chunk(task, ia, ib)
    monkeypatch.setattr(kernel, "MIN_PAIRS", 0)
    found = compare_chunk(task, ia, ib)
    assert task.kernel and task.kernel[0] is not None
    assert task.kernel[0].count == 15  # up to the first metric the kernel does not know
    _same(expected, found)


def test_token_aware_levenshtein_by_tokens_only_where_a_value_has_several() -> None:
    model = OPTIONS["levenshtein"]()  # tokens: true
    metric = METRICS["levenshtein"].func()
    job = AttributeJob("n", "levenshtein", model, 1.0, 1.0)
    single = metric.prepare(["ab", "abc", None, ""], model)
    several = metric.prepare(["ab", "victor hugo"], model)
    whole = kernel.kernel_plan([job], {"n": single}, {"n": single})
    tokens = kernel.kernel_plan([job], {"n": single}, {"n": several})
    assert whole is not None and tokens is not None
    assert whole.kinds.tolist() == [0] and tokens.kinds.tolist() == [6]  # loops.TOKENS


@pytest.mark.parametrize("dedup", [False, True])
def test_small_blocks_through_the_kernel_keep_the_batch_order(
    dedup: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.alignment import compare
    from engine.alignment.batches import Batch, Block

    n = 300
    task = _task(n, n, 6.0)
    if dedup:
        task = CompareTask(task.attributes, task.align, task.align, task.limit, True)

    def rows(size: int) -> np.ndarray:  # type: ignore[type-arg]
        return np.sort(RNG.choice(n, size, replace=False)).astype(np.int64)

    blocks = []
    for k in range(40):  # small and large blocks interleaved, some masked
        size_a, size_b = (60, 50) if k % 7 == 3 else (int(RNG.integers(1, 9)), 8)
        a, b = rows(size_a), rows(size_b)
        keep = RNG.random((size_a, size_b)) < 0.7 if k % 3 == 0 else None
        blocks.append(Block(a, b, keep))
    batch = Batch(tuple(blocks), RNG.integers(0, n, 5000), RNG.integers(0, n, 5000))
    monkeypatch.setattr(kernel, "MIN_PAIRS", 10**12)
    expected = compare.compare_batch(task, batch)
    monkeypatch.setattr(kernel, "MIN_PAIRS", 0)
    found = compare.compare_batch(task, batch)
    assert found.compared == expected.compared
    _same(expected, found)


def test_a_task_with_its_plan_travels_to_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    import pickle

    task = _task(100, 100, 6.0)
    ia, ib = RNG.integers(0, 100, 3000), RNG.integers(0, 100, 3000)
    monkeypatch.setattr(kernel, "MIN_PAIRS", 0)
    here = compare_chunk(task, ia, ib)  # the plan is made here, then shipped with the task
    there = pickle.loads(pickle.dumps(task))
    assert there.kernel and there.kernel[0] is not None
    _same(here, compare_chunk(there, ia, ib))


def test_a_chunk_is_shared_between_threads_with_the_same_floats(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading
    import time

    loops = kernel._loops()
    task = _task(300, 250, 6.0)
    ia, ib = RNG.integers(0, 300, 20_000), RNG.integers(0, 250, 20_000)
    monkeypatch.setattr(kernel, "MIN_PAIRS", 0)
    alone = compare_chunk(CompareTask(*_fields(task), threads=1), ia, ib)
    seen: list[tuple[int, int, int]] = []
    pairs = loops.pairs

    def spy(*args: object) -> None:
        seen.append((threading.get_ident(), args[2], args[3]))  # type: ignore[arg-type]
        pairs(*args)
        time.sleep(0.002)  # the other thread surely takes a piece meanwhile

    monkeypatch.setattr(loops, "pairs", spy)
    monkeypatch.setattr(kernel, "PIECE", 1000)
    monkeypatch.setattr(kernel, "cores", lambda: 2)
    shared = compare_chunk(CompareTask(*_fields(task)), ia, ib)
    assert sorted((lo, hi) for _, lo, hi in seen) == [(k, k + 1000) for k in range(0, 20_000, 1000)]
    assert len({thread for thread, _, _ in seen}) == 2
    _same(alone, shared)


def _fields(task: CompareTask) -> tuple[object, ...]:
    return task.attributes, task.align, task.target, task.limit, task.dedup


def _random_strings(n: int, alphabet: str, longest: int) -> list[str | None]:
    """Random values over a small alphabet (so that letters match), empty and missing ones."""
    values: list[str | None] = []
    for _ in range(n):
        size = int(RNG.integers(0, longest + 1))
        values.append("".join(alphabet[i] for i in RNG.integers(0, len(alphabet), size)))
    values[::17] = [None] * len(values[::17])
    return values


@pytest.mark.parametrize(
    ("alphabet", "longest"),
    [("abcd", 8), ("abcdefgh", 20), ("abé東😀", 12), ("ab", 70), ("abcdefghijklmnop", 140)],
)
@pytest.mark.parametrize("limit", [np.inf, 2.0])
def test_random_strings_give_rapidfuzz_s_floats(
    alphabet: str, longest: int, limit: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Short, long (past one machine word), unicode, empty, equal values; pairs sorted by
    # the align record (their tables reused) and a tail of repeated pairs.
    n_a, n_b, pairs = 150, 120, 30_000
    jobs, align, target = [], {}, {}
    for name, metric_name, options in (
        ("jw", "jaro_winkler", {}),
        ("lev", "levenshtein", {"normalised": True, "tokens": False}),
        ("jw4", "jaro_winkler", {"prefix_weight": 0.25}),
        ("raw", "levenshtein", {"normalised": False, "tokens": False}),
        ("same", "exact", {}),
    ):
        model = OPTIONS[metric_name](**options)
        metric = METRICS[metric_name].func()
        values = _random_strings(n_a + n_b, alphabet, longest)
        align[name] = metric.prepare(values[:n_a], model)
        target[name] = metric.prepare(values[n_a:] + values[: n_b // 4], model)
        jobs.append(AttributeJob(name, metric_name, model, 0.5, 0.5))
    task = CompareTask(tuple(jobs), align, target, limit, False)
    ia = np.sort(RNG.integers(0, n_a, pairs))
    ib = RNG.integers(0, n_b + n_b // 4, pairs)
    ia[-500:], ib[-500:] = ia[-501], ib[-501]
    monkeypatch.setattr(kernel, "MIN_PAIRS", 10**12)
    expected = compare_chunk(task, ia, ib)
    monkeypatch.setattr(kernel, "MIN_PAIRS", 0)
    _same(expected, compare_chunk(task, ia, ib))
