"""Compile the numba loops once, ahead of the first large run: ``python -m engine.alignment.warm``.

A run compiles the compare kernel (``engine.alignment.kernel``) and the
matching's loops (``engine.alignment.match_loops``) the first time it needs
them, and numba caches the machine code on disk: the first run at 200k
records or more paid about 5 s for it. ``make demo`` runs this module, so a
fresh set-up pays it there. It runs the loops on a few made-up records, with
each kind of text the kernel encodes (one byte or four a character) and every
metric it covers; a signature left out here would only be compiled at first
use, as before.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from engine.alignment import kernel
from engine.alignment.compare import compare_task
from engine.alignment.compiled import load
from engine.alignment.metrics import METRICS
from schemas.alignment import Attribute

__all__ = ["main", "warm"]

#: Attributes covering the kernel's metrics, with the values each side gets.
_ATTRIBUTES: list[tuple[str, object, list[Any]]] = [
    ("name", {"levenshtein": {"normalised": True}}, ["anna maria", "ann", None]),
    ("plain", "levenshtein", ["bob", "rob", "robert"]),
    ("first", "jaro_winkler", ["carla", "karla", None]),
    ("state", "exact", ["nsw", "vic", "nsw"]),
    ("born", {"temporal": {"unit": "days", "scale": 10}}, ["2001-01-01", None, "1999-12-31"]),
    ("size", {"euclidean": {"scale": 5}}, ["1.5", "2", None]),
    ("where", "geographic", [("48.85", "2.35"), ("51.5", "-0.12"), None]),
]


def _attribute(name: str, metric: object) -> Attribute:
    return Attribute.model_validate({"name": name, "metric": metric, "weight": 1.0})


def _kernel(wide: bool) -> None:
    """The kernel on every covered metric, with one-byte or four-byte characters."""
    attributes, side = [], {}
    for name, metric, values in _ATTRIBUTES:
        attribute = _attribute(name, metric)
        if wide and attribute.metric.name in ("levenshtein", "jaro_winkler", "exact"):
            values = [None if v is None else f"{v}東" for v in values]
        func = METRICS[attribute.metric.name].func()
        side[name] = func.prepare(values, attribute.metric.options, [])
        attributes.append(attribute)
    task = compare_task(attributes, side, side, 100.0, False)
    plan = kernel.kernel_plan(task.attributes, task.align, task.target)
    if plan is None:
        raise AssertionError("the kernel covers every one of these metrics")
    ia = np.array([0, 0, 1, 2], dtype=np.int64)
    ib = np.array([0, 1, 2, 1], dtype=np.int64)
    kernel.run(plan, ia, ib, task.limit)


def _matching() -> None:
    """The matching's loops on a few pairs."""
    loops = load("engine.alignment.match_loops")
    a = np.array([0, 1, 1], dtype=np.int64)
    b = np.array([0, 0, 1], dtype=np.int64)
    d = np.array([0.1, 0.2, 0.3])
    use = np.ones(3, dtype=bool)
    loops.link(3, *loops.rows(a, 2, d, b, use), *loops.rows(b, 2, d, a, use))
    loops.in_large(a, b, 2, 2, 1)


def warm() -> float:
    """Compile (or load from the cache) every loop; the seconds it took."""
    started = time.perf_counter()
    _kernel(wide=False)
    _kernel(wide=True)
    _matching()
    return time.perf_counter() - started


def main() -> int:
    """Warm the cache and say how long it took."""
    print(f"numba loops compiled or loaded from the cache in {warm():.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
