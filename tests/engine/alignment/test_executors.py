"""Executors: local threads and a real dask.distributed cluster give identical results."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import distributed
import numpy as np
import pytest

from engine.alignment.batches import Batch
from engine.alignment.compare import AttributeJob, CompareTask, compare_chunk
from engine.alignment.executors import DaskExecutor, LocalExecutor
from engine.alignment.metrics import METRICS
from engine.cli import main
from engine.errors import DataError
from schemas.alignment import EditOptions

ROOT = Path(__file__).resolve().parents[3]


def _task(dedup: bool = False) -> tuple[CompareTask, list[tuple[np.ndarray, np.ndarray]]]:
    rng = np.random.default_rng(4)
    words = np.array(["anna", "anne", "bob", "rob", "carla", "karla", "dan", "don"], dtype=object)
    a_values = list(rng.choice(words, 300))
    b_values = list(rng.choice(words, 300))
    metric = METRICS["levenshtein"].func()
    options = EditOptions(tokens=False, normalised=True)
    task = CompareTask(
        attributes=(AttributeJob("name", "levenshtein", options, 1.0, 1.0),),
        align={"name": metric.prepare(a_values, options)},
        target={"name": metric.prepare(b_values, options)},
        limit=0.3,
        dedup=dedup,
    )
    chunks = [
        (rng.integers(0, 300, 5000).astype(np.int64), rng.integers(0, 300, 5000).astype(np.int64))
        for _ in range(7)
    ]
    return task, chunks


def _flatten(results: Iterator[object]) -> list[tuple[list[int], list[int], list[float]]]:
    return [(r.ia.tolist(), r.ib.tolist(), r.total.tolist()) for r in results]  # type: ignore[attr-defined]


@pytest.mark.parametrize("dedup", [False, True])
def test_local_threads_match_serial(dedup: bool) -> None:
    task, chunks = _task(dedup)
    serial = _flatten(iter([compare_chunk(task, ia, ib) for ia, ib in chunks]))
    for workers in (1, 2, 3):
        executor = LocalExecutor(workers)
        try:
            assert _flatten(executor.map(task, [Batch((), ia, ib) for ia, ib in chunks])) == serial
        finally:
            executor.close()
    assert all(all(a <= 0.3 + 1e-9 for a in chunk[2]) for chunk in serial)
    if dedup:
        assert all(a < b for chunk in serial for a, b in zip(chunk[0], chunk[1], strict=True))


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as local:
        yield str(local.scheduler_address)


def test_dask_matches_local(cluster: str) -> None:
    task, chunks = _task()
    serial = _flatten(iter([compare_chunk(task, ia, ib) for ia, ib in chunks]))
    executor = DaskExecutor(cluster, timeout_s=10, workers=None)
    try:
        assert _flatten(executor.map(task, [Batch((), ia, ib) for ia, ib in chunks])) == serial
    finally:
        executor.close()


def test_spec_outputs_byte_identical_on_both_executors(cluster: str, tmp_path: Path) -> None:
    spec = (ROOT / "specs" / "febrl4.yaml").read_text()
    spec = spec.replace("../data/", str(ROOT / "data") + "/").replace("../out/", "")
    outputs = {}
    for name, executor in (
        ("local", "{local: {workers: 2}}"),
        ("dask", f"{{dask: {{address: '{cluster}'}}}}"),
    ):
        folder = tmp_path / name
        folder.mkdir()
        path = folder / "febrl4.yaml"
        path.write_text(spec + f"executor: {executor}\n")
        assert main(["run", "-q", str(path)]) == 0
        outputs[name] = {p.name: p.read_bytes() for p in folder.iterdir() if p.suffix != ".yaml"}
    assert set(outputs["local"]) == {"febrl4.nt", "febrl4.csv"}
    assert outputs["local"] == outputs["dask"]


def test_unreachable_scheduler_is_a_clear_error(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(DataError, match=r"cannot reach the dask scheduler at tcp://127\.0\.0\.1:9"):
        DaskExecutor("tcp://127.0.0.1:9", timeout_s=2, workers=None)
    assert time.monotonic() - started < 30


def test_dask_cluster_dying_mid_run_is_an_error() -> None:
    task, chunks = _task()
    local = distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    executor = DaskExecutor(str(local.scheduler_address), timeout_s=5, workers=None)
    results = executor.map(task, iter([Batch((), ia, ib) for ia, ib in chunks]))
    next(results)
    local.close()
    with pytest.raises(DataError, match="the cluster failed during the run"):
        for _ in results:
            pass
    executor.close()
