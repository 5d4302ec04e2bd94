"""Executors: where the compare stage's chunks run.

``local`` (the default) runs chunks on a thread pool sized to the machine's
cores: rapidfuzz and numpy release the GIL in their hot loops, so threads
share the prepared columns without copying them. ``dask`` ships the same
``CompareTask`` once to every worker of a dask.distributed cluster and runs
the chunks there. Both return results in chunk order, so outputs are
byte-identical whichever runs them.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from engine.alignment.batches import Batch
from engine.alignment.compare import ChunkResult, CompareTask, compare_batch
from engine.errors import DataError
from schemas.base import Ref

__all__ = ["DaskExecutor", "Executor", "LocalExecutor", "make_executor"]


class Executor(Protocol):
    """Runs ``compare_batch`` over batches of candidate pairs, yielding results in order."""

    description: str

    def map(self, task: CompareTask, chunks: Iterable[Batch]) -> Iterator[ChunkResult]:
        """Results of every batch, in the order of ``chunks``."""

    def close(self) -> None:
        """Release threads, connections or clusters."""


class LocalExecutor:
    """Chunks on a thread pool in this process (every core by default)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.description = f"local, {self.workers} thread{'s' if self.workers != 1 else ''}"
        self._pool = ThreadPoolExecutor(max_workers=self.workers) if self.workers > 1 else None

    def map(self, task: CompareTask, chunks: Iterable[Batch]) -> Iterator[ChunkResult]:
        if self._pool is None:
            for batch in chunks:
                yield compare_batch(task, batch)
            return
        # A bounded window of chunks in flight: memory stays at a few chunks.
        window: deque[Future[ChunkResult]] = deque()
        for batch in chunks:
            window.append(self._pool.submit(compare_batch, task, batch))
            if len(window) >= 2 * self.workers:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """Chunks as tasks on a dask.distributed cluster (``address``), or a local cluster."""

    def __init__(self, address: str | None, timeout_s: float, workers: int | None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise DataError(
                "executor dask",
                "dask is not installed: pip install 'specengine[dask]' (dask[distributed])",
            ) from None
        self._cluster: Any = None
        self._client: Any = None
        try:
            if address:
                self._client = Client(address, timeout=f"{timeout_s}s", set_as_default=False)
                self.description = f"dask at {address}"
            else:
                self._cluster = LocalCluster(
                    n_workers=workers or 2,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                )
                self._client = Client(self._cluster, set_as_default=False)
                self.description = f"dask, local cluster of {workers or 2} workers"
        except (OSError, TimeoutError) as exc:
            if self._cluster is not None:
                self._cluster.close()
            raise DataError(
                "executor dask", f"cannot reach the dask scheduler at {address}: {exc}"
            ) from None
        self.timeout_s = timeout_s

    @property
    def client(self) -> Any:
        """The dask.distributed client (the distributed path submits its own tasks)."""
        return self._client

    def map(self, task: CompareTask, chunks: Iterable[Batch]) -> Iterator[ChunkResult]:
        client: Any = self._client
        try:
            (shared,) = client.scatter([task], broadcast=True)
            window: deque[Any] = deque()
            limit = 2 * max(1, len(client.scheduler_info().get("workers", {})))
            for batch in chunks:
                window.append(client.submit(compare_batch, shared, batch, pure=False, retries=2))
                if len(window) >= limit:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        except DataError:
            raise
        except Exception as exc:
            raise DataError(
                "executor dask", f"the cluster failed during the run: {type(exc).__name__}: {exc}"
            ) from None

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(ref: Ref) -> Executor:
    """The executor a spec asks for."""
    if ref.name == "dask":
        options = ref.options
        return DaskExecutor(options.address, options.timeout_s, options.workers)
    return LocalExecutor(ref.option("workers"))
