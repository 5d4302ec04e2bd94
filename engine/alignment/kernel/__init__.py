"""A compiled comparison kernel for loose candidate pairs.

Each side's attribute values are encoded once per run: the distinct strings of
every attribute as code points in one array with offsets (code points renumbered
into a small dense alphabet), each record as the index of its value, and numeric
attributes as floats. ``engine.alignment.kernel.loops.pairs`` then computes, in
one compiled pass per chunk, every attribute's distance of each pair and its
weighted sum, and leaves a pair as soon as the partial sum passes the threshold.

The kernel covers the leading attributes of a task (heaviest first) whose
metric it knows: ``levenshtein`` (whole values, or token-aware on values of
several tokens), ``jaro_winkler``, ``exact``, ``temporal``, ``euclidean`` (up
to 4 columns) and ``geographic``; the attributes after the first it does not
know go through the metrics' own ``compute`` on the pairs left, from the
kernel's partial sums, exactly as ``engine.alignment.compare`` does without
it. The results are the same floats as the metrics' (rapidfuzz's and numpy's
arithmetic, repeated in the same order; for ``geographic`` numpy's arcsin
finishes the kept pairs, see ``finish``). A chunk's pairs are shared between
threads (``run``): the loop releases the GIL.

numba compiles the loop on first use and caches the machine code on disk
(``engine.alignment.compiled``: beside the module, or a writable fallback);
``make demo`` fills the cache (``engine.alignment.warm``). numba is imported
only once a chunk is large enough for the kernel (``MIN_PAIRS``).
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.alignment.compiled import load

__all__ = [
    "MIN_PAIRS",
    "PIECE",
    "KernelPlan",
    "cores",
    "finish",
    "kernel_plan",
    "margin",
    "run",
]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

#: Until a chunk has this many pairs, chunks go through the metrics: importing numba
#: and encoding both sides (~0.5 s) pays from about this many pairs on.
MIN_PAIRS = 400_000

# As in kernel.loops (not imported here: it imports numba).
_LEVENSHTEIN, _JARO_WINKLER, _EXACT, _NUMBER, _EUCLIDEAN, _GEOGRAPHIC, _TOKENS = range(7)
_NUMERIC = (_NUMBER, _EUCLIDEAN, _GEOGRAPHIC)
#: The most columns of a euclidean attribute the kernel sums as numpy does.
_WIDEST = 4
_UNIT_DAYS = {"days": 1.0, "months": 30.5, "years": 365.25}  # as in metrics.numbers


@dataclass(frozen=True)
class _Side:
    starts: Ints  # record r's string values are chars[starts[r]:], one after another
    lens: npt.NDArray[np.int32]  # records x string attributes: letters, -1 missing
    chars: npt.NDArray[Any]  # the letters in the dense alphabet (uint8 when it fits)
    numbers: Floats  # records x numeric attributes, NaN missing


@dataclass(frozen=True)
class KernelPlan:
    """The encoded sides and, per covered attribute, what the loop computes."""

    count: int  # the task's first ``count`` attributes are covered
    kinds: Ints
    rows: Ints
    param: Floats
    scale: Floats
    weight: Floats
    fill: Floats
    a: _Side
    b: _Side
    alphabet: int
    longest: int
    space: int  # the letter between tokens in the dense alphabet, -1 if none
    #: Covered rows the loop leaves as sqrt(h) (geographic): ``finish`` makes them distances.
    roots: tuple[int, ...] = ()

    @property
    def exact(self) -> bool:
        """True when the loop's distances and sums are the metrics' very floats."""
        return not self.roots


_IMPORT_LOCK = threading.Lock()


@dataclass(frozen=True)
class _Joined:
    """A StringColumn's values as their whitespace tokens joined by one space."""

    uniques: list[str]
    codes: Ints


def _string_column(metric: str, options: Any, prepared: Any) -> tuple[bool, Any] | None:
    """(token-aware, the StringColumn behind a prepared string attribute), or None.

    A token-aware attribute whose values are single tokens is compared whole (the
    same distance, and faster); otherwise its values are given as their tokens.
    """
    if metric == "exact":
        return False, prepared
    column = getattr(prepared, "column", None)
    if column is None:
        return None
    if metric == "levenshtein" and getattr(options, "tokens", False):
        for value in column.uniques:
            if value and value.split() != [value]:
                joined = [" ".join(v.split()) for v in column.uniques]
                return True, _Joined(joined, column.codes)
    return False, column


def _job(job: Any, align: Any, target: Any) -> tuple[int, float, float, Any, Any] | None:
    """(kind, param, scale, align side, target side) of an attribute, or None if not covered.

    Numeric sides are float matrices (records x columns); string sides StringColumns.
    """
    options = job.options
    scale = getattr(options, "scale", None)
    scale = np.nan if scale is None else float(scale)
    if job.metric == "temporal":
        unit = _UNIT_DAYS[options.unit]
        return _NUMBER, unit, scale, align.reshape(-1, 1), target.reshape(-1, 1)
    if job.metric == "euclidean":
        width = align.shape[1]
        # numpy sums up to 8 columns left to right (past that, in another order).
        if width != target.shape[1] or not 1 <= width <= _WIDEST:
            return None
        return _EUCLIDEAN, float(width), scale, align, target
    if job.metric == "geographic":
        return _GEOGRAPHIC, 1.0 if options.units == "km" else 1000.0, scale, align, target
    if job.metric in ("levenshtein", "jaro_winkler", "exact"):
        found_a = _string_column(job.metric, options, align)
        found_b = _string_column(job.metric, options, target)
        if found_a is None or found_b is None:
            return None
        (tokens_a, ca), (tokens_b, cb) = found_a, found_b
        if tokens_a or tokens_b:  # a side of single tokens is its own joined form
            return _TOKENS, 1.0 if options.normalised else 0.0, np.nan, ca, cb
        if job.metric == "levenshtein":
            kind, param = _LEVENSHTEIN, 1.0 if options.normalised else 0.0
        elif job.metric == "jaro_winkler":
            kind, param = _JARO_WINKLER, float(options.prefix_weight)
        else:
            kind, param = _EXACT, 0.0
        return kind, param, np.nan, ca, cb
    return None


def _code_points(columns: Sequence[Any]) -> tuple[npt.NDArray[np.uint32], Ints, Ints]:
    """Every distinct value of the columns in one array: code points, starts, and value bases."""
    uniques = [u for column in columns for u in column.uniques]
    lengths = np.fromiter(map(len, uniques), dtype=np.int64, count=len(uniques))
    starts = np.zeros(len(uniques) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    chars = np.frombuffer("".join(uniques).encode("utf-32-le"), dtype=np.uint32)
    bases = np.zeros(len(columns), dtype=np.int64)
    np.cumsum([len(c.uniques) for c in columns[:-1]], out=bases[1:])
    return chars, starts, bases


def _codes(columns: Sequence[Any], bases: Ints, records: int) -> Ints:
    codes = np.full((len(columns), records), -1, dtype=np.int64)
    for row, (column, base) in enumerate(zip(columns, bases, strict=True)):
        present = column.codes >= 0
        codes[row, present] = column.codes[present] + base
    return codes


def _side(
    columns: Sequence[Any],
    encoded: tuple[npt.NDArray[np.uint32], Ints, Ints],
    numbers: Sequence[Floats],
    records: int,
    dense: Any,
    wide: bool,
) -> _Side:
    loops = _loops()
    chars, value_starts, bases = encoded
    codes = _codes(columns, bases, records)
    value_lens = np.diff(value_starts).astype(np.int32)
    lens = np.where(codes >= 0, value_lens[np.maximum(codes, 0)], -1).T.astype(np.int32)
    starts = np.zeros(records + 1, dtype=np.int64)
    np.cumsum(np.maximum(lens, 0).sum(axis=1), out=starts[1:])
    out = np.empty(int(starts[-1]), dtype=np.int32 if wide else np.uint8)
    loops.pack(codes, value_starts, dense[chars], starts, out)
    if numbers:
        nums = np.ascontiguousarray(np.hstack(numbers), dtype=np.float64)
    else:
        nums = np.full((records, 0), np.nan)
    return _Side(starts, np.ascontiguousarray(lens), out, nums)


def _records(prepared: Any) -> int:
    column = getattr(prepared, "column", prepared)
    codes = getattr(column, "codes", None)
    return len(codes if codes is not None else prepared)


def kernel_plan(
    jobs: Sequence[Any], align: dict[str, Any], target: dict[str, Any]
) -> KernelPlan | None:
    """The plan of the task's leading covered attributes; None when the first is not covered."""
    covered: list[tuple[Any, tuple[int, float, float, Any, Any]]] = []
    for job in jobs:
        found = _job(job, align[job.name], target[job.name])
        if found is None:
            break
        covered.append((job, found))
    if not covered:
        return None
    strings = [(f[3], f[4]) for _, f in covered if f[0] not in _NUMERIC]
    numbers = [(f[3], f[4]) for _, f in covered if f[0] in _NUMERIC]
    rows, string_row, number_row = [], 0, 0
    for _, found in covered:
        if found[0] in _NUMERIC:
            rows.append(number_row)  # its first column
            number_row += found[3].shape[1]
        else:
            rows.append(string_row)
            string_row += 1
    first = align[covered[0][0].name], target[covered[0][0].name]
    na, nb = _records(first[0]), _records(first[1])
    columns_a, columns_b = [s[0] for s in strings], [s[1] for s in strings]
    encoded_a, encoded_b = _code_points(columns_a), _code_points(columns_b)
    (chars_a, starts_a, _), (chars_b, starts_b, _) = encoded_a, encoded_b
    # One dense alphabet for both sides: the bit-parallel loops index a table by letter.
    top = int(max(chars_a.max(initial=0), chars_b.max(initial=0)))
    used = np.zeros(top + 1, dtype=np.bool_)
    used[chars_a] = True
    used[chars_b] = True
    dense = (np.cumsum(used) - 1).astype(np.int32)
    space = int(dense[32]) if top >= 32 and used[32] else -1  # between tokens (TOKENS)
    alphabet = int(used.sum()) + 1
    lengths = np.concatenate([np.diff(starts_a), np.diff(starts_b), [0]])
    # The sides on two threads: packing (compiled, without the GIL) is most of the time.
    side_b = _pool().submit(
        _side, columns_b, encoded_b, [n[1] for n in numbers], nb, dense, alphabet > 256
    )
    a = _side(columns_a, encoded_a, [n[0] for n in numbers], na, dense, alphabet > 256)
    b = side_b.result()
    return KernelPlan(
        count=len(covered),
        kinds=np.array([f[0] for _, f in covered], dtype=np.int64),
        rows=np.array(rows, dtype=np.int64),
        param=np.array([f[1] for _, f in covered], dtype=np.float64),
        scale=np.array([f[2] for _, f in covered], dtype=np.float64),
        weight=np.array([job.weight for job, _ in covered], dtype=np.float64),
        fill=np.array([job.fill for job, _ in covered], dtype=np.float64),
        a=a,
        b=b,
        alphabet=alphabet,
        longest=int(lengths.max()),
        space=space,
        roots=tuple(row for row, (_, f) in enumerate(covered) if f[0] == _GEOGRAPHIC),
    )


def _loops() -> ModuleType:
    """The compiled loops, imported once (numba with it) into a writable cache."""
    return load("engine.alignment.kernel.loops")


def margin(limit: float) -> float:
    """The limit a plan that is not ``exact`` prunes with: a little above the true one.

    Its sums may differ from the metrics' by an ulp or two; the pairs it keeps
    are summed again from the finished distances and held to ``limit`` itself.
    """
    return limit + 1e-9 * max(1.0, abs(limit))


def finish(plan: KernelPlan, jobs: Sequence[Any], distances: dict[str, Floats]) -> None:
    """Turn the rows the loop left as sqrt(h) into the metrics' distances, in place."""
    from engine.alignment.metrics.numbers import haversine_distance

    for row in plan.roots:
        job = jobs[row]
        distances[job.name] = haversine_distance(distances[job.name], job.options)


#: Pairs per piece of a chunk: threads take pieces in turn, so that a thread slowed
#: by others still leaves its share to the rest (a call costs a few µs).
PIECE = 1 << 16

_POOL: list[ThreadPoolExecutor] = []


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _pool() -> ThreadPoolExecutor:
    """The threads that take pieces of a chunk beside the calling thread (one per other core)."""
    with _IMPORT_LOCK:
        if not _POOL:
            _POOL.append(ThreadPoolExecutor(max(1, cores() - 1), "kernel"))
        return _POOL[0]


def run(
    plan: KernelPlan, ia: Ints, ib: Ints, limit: float, threads: int = 0
) -> tuple[Floats, Floats, Any]:
    """Distances (covered attributes x pairs), partial sums, and the pairs still under ``limit``.

    The loop releases the GIL: a chunk of several pieces (``PIECE``) is shared by
    the calling thread and up to ``threads - 1`` others (0: one per core). Each pair's
    results depend on that pair alone, so they are the same however it is cut.
    """
    loops = _loops()
    n = len(ia)
    distances = np.empty((plan.count, n), dtype=np.float64)
    total = np.empty(n, dtype=np.float64)
    keep = np.empty(n, dtype=np.bool_)
    a, b = plan.a, plan.b
    pieces = -(-n // PIECE)
    taken = itertools.count()  # next() on it is atomic: each piece goes to one thread

    def work() -> None:
        while (piece := next(taken)) < pieces:
            loops.pairs(
                ia,
                ib,
                piece * PIECE,
                min(n, (piece + 1) * PIECE),
                plan.kinds,
                plan.rows,
                plan.param,
                plan.scale,
                plan.weight,
                plan.fill,
                limit,
                a.starts,
                a.lens,
                a.chars,
                a.numbers,
                b.starts,
                b.lens,
                b.chars,
                b.numbers,
                plan.alphabet,
                plan.longest,
                plan.space,
                distances,
                total,
                keep,
            )

    helpers = min((threads or cores()) - 1, pieces - 1)
    others = [_pool().submit(work) for _ in range(max(0, helpers))]
    work()
    for other in others:
        other.result()
    return distances, total, keep
