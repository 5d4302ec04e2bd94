"""What every blocking rule offers, the helpers they share, and the simplest rule.

Each rule turns the key values of both sides into candidate pairs, streamed in
chunks of about ``chunk`` pairs. A rule can also say whether it produces a
given pair (``contains``), which lets a union drop the pairs an earlier rule
already produced without keeping a set of every pair in memory, and lets a
pipeline refine one rule's pairs by the others.

Every rule offers:

- ``estimate()``: its number of pairs, exact where that is cheap, else an upper
  bound (each class says which);
- ``pairs(chunk)``: ``(align index, target index)`` int64 arrays, each pair once,
  in a deterministic order; memory grows with the records and one chunk;
- ``contains(ia, ib)``: whether each given pair is one of its pairs;
- ``label`` (what the plan calls it) and ``warnings`` (giant blocks, skipped
  q-grams...: what a user should know before a long run).

A missing key (``None``) is in no block. Each rule class is also a
:class:`RuleKind`: it builds itself from its spec options and describes itself
(``engine.alignment.blocking.registry`` holds them by name).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar, Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "ARROW_MIN",
    "DEFAULT_CHUNK",
    "BlockingRule",
    "BlockingValueError",
    "CodedKeys",
    "GroupKind",
    "RuleKind",
    "budget_text",
    "codes",
    "expand",
    "factorise",
    "first_appearance",
    "giant_warnings",
    "input_text",
    "no_pairs",
    "objects",
    "slices",
]

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]
Keys = Sequence[str | None]
#: Values of rules on points: a number, a tuple of numbers (or their strings), or None.
Values = Sequence[Any]

DEFAULT_CHUNK = 1 << 21

#: From this many values on, codes come from pyarrow even when pandas is not imported yet
#: (pyarrow imports pandas, about 0.4 s, the first time it builds an array from Python
#: objects: worth it only where its hash table saves more than that).
ARROW_MIN = 1_000_000

#: A block (one key, q-gram, cluster...) is reported as giant above GIANT_PAIRS pairs,
#: or above GIANT_SHARE of all pairs once it has GIANT_MIN_PAIRS (small inputs are
#: cheap however they block).
GIANT_PAIRS = 50_000_000
GIANT_SHARE = 0.2
GIANT_MIN_PAIRS = 100_000


class BlockingRule(Protocol):
    """What a blocking rule offers the pipeline."""

    label: str
    warnings: list[str]

    def estimate(self) -> int:
        """How many candidate pairs the rule yields (exact, or an upper bound)."""

    def pairs(self, chunk: int = DEFAULT_CHUNK) -> Iterator[tuple[Ints, Ints]]:
        """Candidate pairs ``(align index, target index)`` in chunks."""

    def contains(self, ia: Ints, ib: Ints) -> Bools:
        """Whether each pair is one of this rule's candidates."""


class BlockingValueError(ValueError):
    """A value a rule cannot use (not a number, a latitude out of range).

    ``side`` (``align`` or ``target``) and ``index`` locate the record, so that
    the pipeline can name its source and row.
    """

    def __init__(self, side: str, index: int, message: str) -> None:
        super().__init__(message)
        self.side, self.index, self.message = side, index, message
        #: The description of the rule that met the value (set by the registry's ``build``).
        self.rule = ""


# --------------------------------------------------------------------------- rule kinds


class RuleKind:
    """A rule on values, as the registry sees it: built from options, described in one line.

    ``options`` is the rule's validated spec model (``schemas.alignment``);
    ``align`` and ``target`` are each side's keys: strings (normalised values),
    or, when :attr:`points` is set, numbers or tuples of numbers.
    """

    #: The rule reads points (tuples of numbers, WKT points) rather than strings.
    points: ClassVar[bool] = False
    #: The rule reads no values at all (every record meets every record).
    reads_values: ClassVar[bool] = True
    #: The rule takes its keys as :class:`CodedKeys` (it only compares them for equality).
    reads_codes: ClassVar[bool] = False

    @classmethod
    def from_options(
        cls, name: str, options: Any, align: Values, target: Values, label: str
    ) -> BlockingRule:
        """The rule on both sides' keys, as the spec's ``options`` ask."""
        raise NotImplementedError

    @classmethod
    def describe(cls, name: str, options: Any) -> str:
        """One line for plans and reports: what the rule reads, its options, its budget."""
        return input_text(name, options) + budget_text(options)

    @classmethod
    def no_pairs(cls, looks: str) -> str:
        """Why the rule found no pair, given what its keys look like on each side."""
        return f"no align key comes close enough to a target key ({looks})"


class GroupKind:
    """A rule made of rules (``union``, ``pipeline``): built from its built members."""

    @classmethod
    def from_rules(
        cls, name: str, options: Any, rules: list[BlockingRule], label: str
    ) -> BlockingRule:
        """The group of the already built ``rules``."""
        raise NotImplementedError

    @classmethod
    def describe_group(cls, name: str, options: Any, parts: list[str]) -> str:
        """One line from the members' descriptions (groups among them in parentheses)."""
        raise NotImplementedError


def _columns(ref: Any) -> str:
    return ",".join(str(c) for c in ref) if isinstance(ref, list) else str(ref)


def input_text(name: str, options: Any) -> str:
    """``NAME on attribute(s) X`` or ``NAME on columns A/T``, with the key's normalisers."""
    if options.attribute:
        plural = "s" if isinstance(options.attribute, list) else ""
        source = f"attribute{plural} {_columns(options.attribute)}"
    else:
        target = options.target if options.target is not None else options.align
        source = f"columns {_columns(options.align)}/{_columns(target)}"
    chain = " | ".join(r.name for r in options.normalise)
    return f"{name} on {source}" + (f" ({chain})" if chain else "")


def budget_text(options: Any) -> str:
    """``, max_pairs N`` when the rule has a pair budget."""
    budget = getattr(options, "max_pairs", None)
    return f", max_pairs {budget:,}" if budget is not None else ""


# --------------------------------------------------------------------------- helpers


def factorise(values: Sequence[Any]) -> tuple[Ints, list[Any]]:
    """Codes of the distinct values in order of first appearance (``None``: -1), and those values.

    Strings go through pyarrow's hash table (C, a few times faster than a dict
    filled from Python); anything pyarrow cannot take as a string (tuples, lone
    surrogates) through a dict. Equal strings get equal codes either way.
    """
    if not len(values):
        return np.zeros(0, np.int64), []
    try:
        if not _arrow_pays(len(values)):
            raise ImportError  # the dict below: no import for a small input
        import pyarrow as pa
        import pyarrow.compute as pc

        pool = pa.system_memory_pool()
        array = pa.array(values, type=pa.string(), memory_pool=pool)
        encoded = pc.dictionary_encode(array, memory_pool=pool)
    except (ImportError, TypeError, ValueError, UnicodeError, OverflowError):
        # pyarrow's errors (ArrowTypeError, ArrowInvalid) are TypeError and ValueError.
        distinct = dict.fromkeys(values)
        distinct.pop(None, None)
        index: dict[Any, int] = {v: i for i, v in enumerate(distinct)}
        index[None] = -1
        codes_ = np.fromiter(map(index.__getitem__, values), dtype=np.int64, count=len(values))
        return codes_, list(distinct)
    indices = pc.if_else(
        pc.is_null(encoded.indices, memory_pool=pool), -1, encoded.indices, memory_pool=pool
    ).to_numpy(zero_copy_only=False)
    codes_ = indices.astype(np.int64)
    # The distinct values as the objects already in ``values`` (not new strings from
    # pyarrow's dictionary): a code is new where it exceeds every code before it.
    seen = np.maximum.accumulate(codes_)
    firsts = np.flatnonzero(codes_[1:] > seen[:-1]) + 1
    if len(codes_) and codes_[0] >= 0:
        firsts = np.concatenate([[0], firsts])
    return codes_, [values[i] for i in firsts.tolist()]


def _arrow_pays(size: int) -> bool:
    """Whether to use pyarrow for ``size`` values: free to use already, or enough to repay it."""
    # Importing pyarrow costs about 0.25 s and 100 MiB of resident memory (its
    # libraries), and its first array built from Python objects imports pandas
    # (about 0.4 s more): worth it when both are loaded already, or for large inputs.
    loaded = "pyarrow" in sys.modules and "pandas" in sys.modules
    return loaded or size >= ARROW_MIN


def first_appearance(values: Ints) -> tuple[Ints, int]:
    """Codes of integers in order of first appearance (negative ones: -1), and their count."""
    if _arrow_pays(len(values)):
        import pyarrow as pa
        import pyarrow.compute as pc

        # pyarrow's hash table numbers values as they come: half the time of a stable
        # sort. The system allocator: pyarrow's own pool keeps freed memory.
        pool = pa.system_memory_pool()
        encoded = pc.dictionary_encode(pa.array(values, mask=values < 0, memory_pool=pool))
        codes_ = pc.if_else(
            pc.is_null(encoded.indices, memory_pool=pool), -1, encoded.indices, memory_pool=pool
        ).to_numpy(zero_copy_only=False)
        return codes_.astype(np.int64), len(encoded.dictionary)
    # One stable sort: equal values become neighbours, each run's first entry is
    # its first appearance, and the runs are ranked by it.
    valid = np.flatnonzero(values >= 0)
    out = np.full(len(values), -1, dtype=np.int64)
    if not len(valid):
        return out, 0
    order = valid[np.argsort(values[valid], kind="stable")]
    ranked = values[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = ranked[1:] != ranked[:-1]
    starts = np.flatnonzero(new)
    rank = np.empty(len(starts), dtype=np.int64)
    rank[np.argsort(order[starts], kind="stable")] = np.arange(len(starts), dtype=np.int64)
    out[order] = rank[np.cumsum(new) - 1]
    return out, len(starts)


class CodedKeys(Sequence[Any]):
    """Keys held as integer codes of distinct keys (-1: missing), shared with the other side.

    Rules on equal keys read :attr:`codes` directly and never build the key
    strings; ``key(code)`` builds one key when a message names it, and
    iterating (other rules, messages) builds every key once. ``vocabulary``
    is the same object for both sides of a rule: their codes are comparable.
    ``ordered``: codes already number the keys in order of first appearance
    over the align side, then the target side.
    """

    def __init__(
        self, codes_: Ints, key: Callable[[int], Any], vocabulary: object, *, ordered: bool
    ) -> None:
        self.codes = codes_
        self.key = key
        self.vocabulary = vocabulary
        self.ordered = ordered
        self._values: list[Any] | None = None

    def __len__(self) -> int:
        return len(self.codes)

    def _all(self) -> list[Any]:
        if self._values is None:
            used = np.unique(self.codes[self.codes >= 0])
            table = np.empty(int(used[-1]) + 2 if len(used) else 1, dtype=object)
            for code in used.tolist():  # a loop per distinct key, not per record
                table[code] = self.key(code)
            # -1 (missing) indexes the last cell, which stays None.
            self._values = table[self.codes].tolist()
        return self._values

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return self._all()[index]
        code = int(self.codes[index])
        return None if code < 0 else self.key(code)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._all())


def codes(align: Keys, target: Keys) -> tuple[Ints, Ints, int]:
    """Shared integer codes of both sides' keys (-1 for a missing key) and their count.

    Codes number the distinct keys in order of first appearance (align side first).
    """
    if (
        isinstance(align, CodedKeys)
        and isinstance(target, CodedKeys)
        and align.vocabulary is target.vocabulary
    ):
        both = np.concatenate([align.codes, target.codes])
        if align.ordered and target.ordered:
            count = int(both.max()) + 1 if len(both) else 0
        else:
            both, count = first_appearance(both)
    else:
        both, distinct = factorise([*align, *target])
        count = len(distinct)
    return both[: len(align)], both[len(align) :], max(count, 0)


def objects(values: list[str | None]) -> npt.NDArray[np.object_]:
    """A numpy array of Python objects (strings compare as Python compares them)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def slices(weights: Ints, chunk: int) -> Iterator[tuple[int, int]]:
    """Consecutive ranges of items whose summed weight stays near ``chunk``."""
    total = np.cumsum(weights)
    start = 0
    while start < len(weights):
        base = total[start - 1] if start else 0
        stop = int(np.searchsorted(total, base + chunk, side="right"))
        stop = max(stop, start + 1)
        yield start, stop
        start = stop


def expand(rows: Ints, reps: Ints, first: Ints, order: Ints) -> tuple[Ints, Ints]:
    """Pairs of each row with ``reps`` consecutive entries of ``order`` from ``first``."""
    ia = np.repeat(rows, reps)
    ends = np.cumsum(reps)
    local = np.arange(int(ends[-1]) if len(ends) else 0, dtype=np.int64) - np.repeat(
        ends - reps, reps
    )
    ib = order[np.repeat(first, reps) + local]
    return ia, ib


def no_pairs() -> tuple[Ints, Ints]:
    """An empty chunk of pairs."""
    return np.zeros(0, np.int64), np.zeros(0, np.int64)


def giant_warnings(
    label: str,
    what: str,
    count_a: Ints,
    count_b: Ints,
    full: int,
    name: Callable[[int], str],
) -> list[str]:
    """Warnings about the blocks (one per key/token) big enough to stall a run."""
    sizes = count_a.astype(np.int64) * count_b.astype(np.int64)
    big = (sizes > GIANT_PAIRS) | ((sizes >= GIANT_MIN_PAIRS) & (sizes > GIANT_SHARE * full))
    flagged = np.flatnonzero(big)
    if not len(flagged):
        return []
    flagged = flagged[np.argsort(-sizes[flagged], kind="stable")]
    out = [
        f"{label}: the {what} {name(int(t))!r} makes one block of {int(count_a[t]):,} x"
        f" {int(count_b[t]):,} = {int(sizes[t]):,} pairs ({sizes[t] / full:.0%} of all pairs)"
        for t in flagged[:3]
    ]
    if len(flagged) > 3:
        out.append(f"{label}: ... and {len(flagged) - 3:,} more {what}s with blocks that large")
    return out
