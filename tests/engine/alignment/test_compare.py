"""The compare stage: whole blocks (cdist) give exactly what pairs (cpdist) give."""

from __future__ import annotations

import numpy as np
import pytest

from engine.alignment.batches import Batch, Block, batches
from engine.alignment.blocking import KeyRule, NoBlocking, Union
from engine.alignment.compare import AttributeJob, CompareTask, compare_batch, compare_chunk
from engine.alignment.metrics import METRICS
from schemas.alignment import METRICS as OPTIONS

RNG = np.random.default_rng(12)
NAMES = ["anna", "anne", "ana maria", "bob", "rob", "robert james", "carla", "karla", None]
DATES = ["2001-01-01", "2001-01-03", "1999-12-31", None]


def _values(choices: list[str | None], n: int) -> list[str | None]:
    return [choices[i] for i in RNG.integers(0, len(choices), n)]


def _task(n_a: int, n_b: int, dedup: bool, limit: float) -> CompareTask:
    specs = [
        ("name", "levenshtein", {"normalised": True}, 1.0, 1.0),  # token-aware: multi-word values
        ("plain", "jaro_winkler", {}, 1.0, 0.5),
        ("same", "exact", {}, 0.5, 1.0),
        ("born", "temporal", {"unit": "days", "scale": 10}, 1.0, 1.0),
        ("ratio", "ratio", {}, 0.0, 1.0),
    ]
    columns_a = {"name": _values(NAMES, n_a), "born": _values(DATES, n_a)}
    columns_b = {"name": _values(NAMES, n_b), "born": _values(DATES, n_b)}
    if dedup:
        columns_b = columns_a
    jobs, align, target = [], {}, {}
    for name, metric_name, options, weight, fill in specs:
        model = OPTIONS[metric_name](**options)
        metric = METRICS[metric_name].func()
        source = "born" if name == "born" else "name"
        align[name] = metric.prepare(columns_a[source], model)
        target[name] = metric.prepare(columns_b[source], model)
        jobs.append(AttributeJob(name, metric_name, model, weight, fill))
    return CompareTask(tuple(jobs), align, target, limit, dedup)


def _as_dict(result: object) -> dict[tuple[int, int], tuple[float, ...]]:
    r = result  # ChunkResult
    out = {}
    for k, (a, b) in enumerate(zip(r.ia.tolist(), r.ib.tolist(), strict=True)):  # type: ignore[attr-defined]
        values = (r.total[k], *(r.distances[n][k] for n in sorted(r.distances)))  # type: ignore[attr-defined]
        out[(a, b)] = tuple(round(float(v), 9) if not np.isnan(v) else -1.0 for v in values)
    return out


@pytest.mark.parametrize("dedup", [False, True])
@pytest.mark.parametrize("limit", [0.4, 2.0, 10.0])
def test_blocks_equal_pairs(dedup: bool, limit: float) -> None:
    n_a, n_b = 60, 60 if dedup else 50
    task = _task(n_a, n_b, dedup, limit)
    rows_a = np.arange(n_a, dtype=np.int64)
    rows_b = np.arange(n_b, dtype=np.int64)
    mask = RNG.random((n_a, n_b)) < 0.7
    blocked = compare_batch(
        task,
        Batch(
            (Block(rows_a[:30], rows_b), Block(rows_a[30:], rows_b, mask[30:])),
        ),
    )
    ia = np.repeat(rows_a, n_b)
    ib = np.tile(rows_b, n_a)
    keep = np.ones(len(ia), dtype=bool)
    keep[30 * n_b :] = mask[30:].ravel()
    paired = compare_chunk(task, ia[keep], ib[keep])
    assert _as_dict(blocked) == _as_dict(paired)
    assert blocked.compared == paired.compared


def test_key_batches_cover_exactly_the_rule_pairs() -> None:
    keys_a = [f"k{i % 7}" if i % 11 else None for i in range(300)]
    keys_b = [f"k{i % 5}" for i in range(200)] + ["solo"]
    keys_a[0] = "solo"
    first, second = KeyRule(keys_a, keys_b), KeyRule([k and k[:1] for k in keys_a], keys_b)
    for rule in (first, Union([first, second]), NoBlocking(30, 20)):
        expected = set()
        for ia, ib in rule.pairs(97):
            expected |= set(zip(ia.tolist(), ib.tolist(), strict=True))
        got: list[tuple[int, int]] = []
        for batch in batches(rule, 97):
            got += list(zip(batch.ia.tolist(), batch.ib.tolist(), strict=True))
            for block in batch.blocks:
                cells = (
                    np.ones((len(block.rows_a), len(block.rows_b)), bool)
                    if block.keep is None
                    else block.keep
                )
                i, j = np.nonzero(cells)
                got += list(zip(block.rows_a[i].tolist(), block.rows_b[j].tolist(), strict=True))
        assert len(got) == len(set(got))
        assert set(got) == expected


def test_dedup_batches_turn_one_way_pairs_round() -> None:
    from engine.alignment.blocking import SortedNeighbourhoodRule

    keys = ["b", "a", "c", "a", "d", "b"]
    rule = SortedNeighbourhoodRule(keys, keys, window=2)  # one-directional
    produced = set()
    for ia, ib in rule.pairs():
        produced |= {
            (min(a, b), max(a, b)) for a, b in zip(ia.tolist(), ib.tolist(), strict=True) if a != b
        }
    got = []
    for batch in batches(rule, dedup=True):
        got += list(zip(batch.ia.tolist(), batch.ib.tolist(), strict=True))
    assert all(a < b for a, b in got)
    assert len(got) == len(set(got))
    assert set(got) == produced


def test_a_task_without_the_kernel_never_encodes_the_sides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from engine.alignment import compare, kernel
    from schemas.alignment import Attribute

    monkeypatch.setattr(kernel, "MIN_PAIRS", 1)
    values = _values(NAMES, 60)
    metric = METRICS["jaro_winkler"].func()
    model = OPTIONS["jaro_winkler"]()
    side = {"name": metric.prepare(values, model)}
    attributes = [Attribute(name="name", metric="jaro_winkler", weight=1.0)]
    ia, ib = RNG.integers(0, 60, 500), RNG.integers(0, 60, 500)
    compiled = compare.compare_task(attributes, side, side, 1.0, False)
    plain = compare.compare_task(attributes, side, side, 1.0, False, compiled=False)
    with_kernel = compare_chunk(compiled, ia, ib)
    without = compare_chunk(plain, ia, ib)
    assert compiled.kernel and compiled.kernel[0] is not None  # the kernel ran there
    assert plain.kernel == [None]
    assert _as_dict(without) == _as_dict(with_kernel)
