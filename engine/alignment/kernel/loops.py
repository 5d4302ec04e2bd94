"""The compiled loop: every attribute of every loose pair in one pass, leaving a pair early.

Compiled by numba on first use and cached on disk (``engine.alignment.kernel``
chooses the cache folder before numba is imported). The arithmetic repeats
rapidfuzz's and numpy's operation for operation, in the same order, so the
distances and weighted sums are the same floats (``tests/engine/alignment/kernel``
compares them bit for bit).
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
import numpy.typing as npt
from llvmlite import ir  # type: ignore[import-untyped]
from numba.core import cgutils, types
from numba.extending import intrinsic

__all__ = [
    "EUCLIDEAN",
    "EXACT",
    "GEOGRAPHIC",
    "JARO_WINKLER",
    "LEVENSHTEIN",
    "NUMBER",
    "TOKENS",
    "pack",
    "pairs",
]

#: What an attribute's row of the plan computes.
LEVENSHTEIN, JARO_WINKLER, EXACT, NUMBER, EUCLIDEAN, GEOGRAPHIC, TOKENS = 0, 1, 2, 3, 4, 5, 6
#: Twice the earth's radius in km, as engine.alignment.metrics.numbers has it.
_EARTH_DIAMETER_KM = 2 * 6371.0088

_CGUTILS: Any = cgutils  # untyped

#: How many pairs ahead the loop asks for a record's memory: pairs read records at
#: random, and at 200k records a cache miss per attribute costs more than the distance.
_AHEAD = 8


def _prefetch_intrinsic(typingctx: Any, array: Any, index: Any) -> Any:
    """Ask the processor for the cache line of ``array.flat[index]`` without waiting for it."""
    signature = types.void(array, index)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        # A flat index into a C-contiguous array: data + index * itemsize.
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        byte_pointer, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        itemsize = context.get_abi_sizeof(context.get_data_type(sig.args[0].dtype))
        offset = builder.mul(args[1], ir.Constant(args[1].type, itemsize))
        pointer = builder.gep(builder.bitcast(ary.data, byte_pointer), [offset])
        function = _CGUTILS.get_or_insert_function(
            builder.module,
            ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]),
            "llvm.prefetch.p0",
        )
        # read, keep in every cache level, data
        builder.call(function, [builder.bitcast(pointer, byte_pointer), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return signature, codegen


#: Typed Any: numba's intrinsic wrapper takes the typing context mypy would ask for.
_prefetch: Any = intrinsic(_prefetch_intrinsic)


def _trailing_zeros_intrinsic(typingctx: Any, word: Any) -> Any:
    """The index of the lowest set bit of a uint64 (64 for 0): one instruction."""
    signature = types.uint64(word)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        i64 = ir.IntType(64)
        function = _CGUTILS.get_or_insert_function(
            builder.module, ir.FunctionType(i64, [i64, ir.IntType(1)]), "llvm.cttz.i64"
        )
        return builder.call(function, [args[0], ir.Constant(ir.IntType(1), 0)])

    return signature, codegen


_trailing_zeros: Any = intrinsic(_trailing_zeros_intrinsic)

_ONE = np.uint64(1)
_ZERO = np.uint64(0)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


@numba.njit(cache=True, nogil=True, inline="always")
def _levenshtein(
    c1: npt.NDArray[np.int32],
    o1: int,
    m: int,
    c2: npt.NDArray[np.int32],
    o2: int,
    n: int,
    peq: npt.NDArray[np.uint64],
    base: int,
    built: bool,
) -> int:
    """Unit-cost edit distance of ``c1[o1:o1 + m]`` and ``c2[o2:o2 + n]``, ``0 < m <= 64``.

    Hyyrö's bit-parallel form (one machine word per column). ``peq[base + letter]``
    holds the pattern's positions of each letter: ``built`` when the caller has
    set them (and clears them), else set and cleared here. Indices, not slices:
    a slice costs a reference count per pair.
    """
    if not built:
        for i in range(m):
            peq[base + c1[o1 + i]] |= _ONE << np.uint64(i)
    vp = _ALL
    vn = _ZERO
    last = _ONE << np.uint64(m - 1)
    score = m
    for j in range(n):
        x = peq[base + c2[o2 + j]] | vn
        d0 = (((x & vp) + vp) ^ vp) | x
        hp = vn | ~(d0 | vp)
        hn = vp & d0
        # Branch-free: a mispredicted branch per letter costs more than the rest.
        score += int((hp & last) != _ZERO) - int((hn & last) != _ZERO)
        hp = (hp << _ONE) | _ONE
        hn = hn << _ONE
        vp = hn | ~(d0 | hp)
        vn = hp & d0
    if not built:
        for i in range(m):
            peq[base + c1[o1 + i]] = _ZERO
    return score


@numba.njit(cache=True, nogil=True)
def _levenshtein_long(
    c1: npt.NDArray[np.int32],
    o1: int,
    m: int,
    c2: npt.NDArray[np.int32],
    o2: int,
    n: int,
    row: npt.NDArray[np.int64],
) -> int:
    """The same distance by the textbook dynamic programme, for values past 64 letters."""
    for i in range(m + 1):
        row[i] = i
    for j in range(1, n + 1):
        diagonal = row[0]
        row[0] = j
        for i in range(1, m + 1):
            above = row[i]
            cost = 0 if c1[o1 + i - 1] == c2[o2 + j - 1] else 1
            best = diagonal + cost
            if above + 1 < best:
                best = above + 1
            if row[i - 1] + 1 < best:
                best = row[i - 1] + 1
            row[i] = best
            diagonal = above
    return int(row[m])


@numba.njit(cache=True, nogil=True, inline="always")
def _jaro_bits(
    p: npt.NDArray[np.int32],
    po: int,
    p_end: int,
    t: npt.NDArray[np.int32],
    to: int,
    t_end: int,
    bound: int,
    peq: npt.NDArray[np.uint64],
    base: int,
    built: bool,
) -> tuple[int, int]:
    """Common letters and (unhalved) transpositions of Jaro, with one word per side.

    Each letter of ``p`` takes the leftmost unmatched equal letter of ``t`` within
    the window, as the textbook loop does, found as the lowest bit of a mask.
    ``peq[base + letter]``: t's positions of each letter, set here unless ``built``
    (then for the whole of t: the windows never reach past ``t_end``).
    """
    if not built:
        for j in range(t_end):
            peq[base + t[to + j]] |= _ONE << np.uint64(j)
    taken_t = _ZERO
    taken_p = _ZERO
    for i in range(p_end):
        lo = max(0, i - bound)
        hi = min(t_end, i + bound + 1)
        if hi <= lo:
            continue
        window = (_ALL >> np.uint64(64 - (hi - lo))) << np.uint64(lo)
        candidates = peq[base + p[po + i]] & window & ~taken_t
        lowest = candidates & (~candidates + _ONE)
        taken_t |= lowest
        taken_p |= np.uint64(lowest != _ZERO) << np.uint64(i)
    if not built:
        for j in range(t_end):
            peq[base + t[to + j]] = _ZERO
    # The k-th matched letter of p against the k-th of t, lowest bits first.
    common = 0
    transpositions = 0
    while taken_p:
        i = _trailing_zeros(taken_p)
        j = _trailing_zeros(taken_t)
        transpositions += int(p[po + i] != t[to + j])
        common += 1
        taken_p &= taken_p - _ONE
        taken_t &= taken_t - _ONE
    return common, transpositions


@numba.njit(cache=True, nogil=True)
def _jaro_flags(
    p: npt.NDArray[np.int32],
    po: int,
    p_end: int,
    t: npt.NDArray[np.int32],
    to: int,
    t_end: int,
    bound: int,
    flag_p: npt.NDArray[np.bool_],
    flag_t: npt.NDArray[np.bool_],
) -> tuple[int, int]:
    """The same counts by the textbook loop, for values past 64 letters."""
    for j in range(t_end):
        flag_t[j] = False
    common = 0
    for i in range(p_end):
        flag_p[i] = False
        lo = max(0, i - bound)
        hi = min(t_end, i + bound + 1)
        for j in range(lo, hi):
            if not flag_t[j] and p[po + i] == t[to + j]:
                flag_t[j] = True
                flag_p[i] = True
                common += 1
                break
    transpositions = 0
    j = 0
    for i in range(p_end):
        if flag_p[i]:
            while not flag_t[j]:
                j += 1
            if p[po + i] != t[to + j]:
                transpositions += 1
            j += 1
    return common, transpositions


@numba.njit(cache=True, nogil=True, inline="always")
def _jaro_winkler(
    p: npt.NDArray[np.int32],
    po: int,
    p_len: int,
    t: npt.NDArray[np.int32],
    to: int,
    t_len: int,
    prefix_weight: float,
    peq: npt.NDArray[np.uint64],
    base: int,
    built: bool,
    flag_p: npt.NDArray[np.bool_],
    flag_t: npt.NDArray[np.bool_],
) -> float:
    """rapidfuzz's JaroWinkler.normalized_distance of ``p[po:po + p_len]``, ``t[to:to + t_len]``."""
    max_prefix = min(min(p_len, t_len), 4)
    prefix = 0
    while prefix < max_prefix and p[po + prefix] == t[to + prefix]:
        prefix += 1
    if p_len == 0 and t_len == 0:
        sim = 1.0
    elif p_len == 0 or t_len == 0:
        sim = 0.0
    elif p_len == 1 and t_len == 1:
        sim = 1.0 if p[po] == t[to] else 0.0
    else:
        bound = max(p_len, t_len) // 2 - 1
        # Characters past the window of every position of the other side never match.
        p_end = min(p_len, t_len + bound)
        t_end = min(t_len, p_len + bound)
        if t_end <= 64 and p_end <= 64:
            common, transpositions = _jaro_bits(p, po, p_end, t, to, t_end, bound, peq, base, built)
        else:
            common, transpositions = _jaro_flags(p, po, p_end, t, to, t_end, bound, flag_p, flag_t)
        if common == 0:
            sim = 0.0
        else:
            transpositions //= 2
            sim = 0.0
            sim += common / p_len
            sim += common / t_len
            sim += (common - transpositions) / common
            sim = sim / 3.0
    if sim > 0.7:
        sim += prefix * prefix_weight * (1.0 - sim)
    return 1.0 - sim


@numba.njit(cache=True, nogil=True, inline="always")
def _edit(
    c1: npt.NDArray[Any],
    o1: int,
    l1: int,
    c2: npt.NDArray[Any],
    o2: int,
    l2: int,
    peq: npt.NDArray[np.uint64],
    base: int,
    row: npt.NDArray[np.int64],
) -> int:
    """Unit-cost edit distance of two values, the shorter one as the bit-parallel pattern."""
    if l1 == 0 or l2 == 0:
        return l1 + l2
    if l1 <= l2 and l1 <= 64:
        return _levenshtein(c1, o1, l1, c2, o2, l2, peq, base, False)
    if l2 < l1 and l2 <= 64:
        return _levenshtein(c2, o2, l2, c1, o1, l1, peq, base, False)
    return _levenshtein_long(c1, o1, l1, c2, o2, l2, row)


@numba.njit(cache=True, nogil=True, inline="always")
def _edit_distance(
    c1: npt.NDArray[Any],
    o1: int,
    l1: int,
    c2: npt.NDArray[Any],
    o2: int,
    l2: int,
    normalised: bool,
    peq: npt.NDArray[np.uint64],
    base: int,
    row: npt.NDArray[np.int64],
) -> float:
    """rapidfuzz's Levenshtein distance, or normalized_distance (over the longer length)."""
    n = _edit(c1, o1, l1, c2, o2, l2, peq, base, row)
    if normalised:
        longer = max(l1, l2)
        return n / longer if longer else 0.0
    return float(n)


@numba.njit(cache=True, nogil=True)
def _split(
    chars: npt.NDArray[Any], o: int, length: int, space: int, starts: npt.NDArray[np.int64]
) -> int:
    """Tokens of a value whose tokens are joined by one space: their starts (and an end)."""
    count = 0
    starts[0] = o
    for i in range(length):
        if chars[o + i] == space:
            count += 1
            starts[count] = o + i + 1
    if length:
        count += 1
        starts[count] = o + length + 1  # each token ends one before the next start
    return count


@numba.njit(cache=True, nogil=True)
def _tokens(
    c1: npt.NDArray[Any],
    o1: int,
    l1: int,
    c2: npt.NDArray[Any],
    o2: int,
    l2: int,
    space: int,
    normalised: bool,
    peq: npt.NDArray[np.uint64],
    base: int,
    row: npt.NDArray[np.int64],
    starts_1: npt.NDArray[np.int64],
    starts_2: npt.NDArray[np.int64],
    column_min: npt.NDArray[np.float64],
) -> float:
    """The metrics' token-aware distance (engine.alignment.metrics.strings._token_aware).

    The shorter token list is padded with empty tokens to a square; the distance
    is the largest of the row minima and the column minima of the token distances.
    """
    n1 = _split(c1, o1, l1, space, starts_1)
    n2 = _split(c2, o2, l2, space, starts_2)
    m = max(n1, n2, 1)
    for j in range(m):
        column_min[j] = math.inf
    worst = -math.inf
    for i in range(m):
        t1 = starts_1[i] if i < n1 else 0
        k1 = starts_1[i + 1] - 1 - t1 if i < n1 else 0
        row_min = math.inf
        for j in range(m):
            t2 = starts_2[j] if j < n2 else 0
            k2 = starts_2[j + 1] - 1 - t2 if j < n2 else 0
            same = k1 == k2
            if same:
                for x in range(k1):
                    if c1[t1 + x] != c2[t2 + x]:
                        same = False
                        break
            d = 0.0 if same else _edit_distance(c1, t1, k1, c2, t2, k2, normalised, peq, base, row)
            if d < row_min:
                row_min = d
            if d < column_min[j]:
                column_min[j] = d
        if row_min > worst:
            worst = row_min
    for j in range(m):
        if column_min[j] > worst:
            worst = column_min[j]
    return worst


@numba.njit(cache=True, nogil=True)
def pairs(
    ia: npt.NDArray[np.int64],
    ib: npt.NDArray[np.int64],
    lo: int,
    hi: int,
    kinds: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64],
    param: npt.NDArray[np.float64],
    scale: npt.NDArray[np.float64],
    weight: npt.NDArray[np.float64],
    fill: npt.NDArray[np.float64],
    limit: float,
    starts_a: npt.NDArray[np.int64],
    lens_a: npt.NDArray[np.int32],
    chars_a: npt.NDArray[Any],
    numbers_a: npt.NDArray[np.float64],
    starts_b: npt.NDArray[np.int64],
    lens_b: npt.NDArray[np.int32],
    chars_b: npt.NDArray[Any],
    numbers_b: npt.NDArray[np.float64],
    alphabet: int,
    longest: int,
    space: int,
    distances: npt.NDArray[np.float64],
    total: npt.NDArray[np.float64],
    keep: npt.NDArray[np.bool_],
) -> None:
    """Distances (attributes x pairs), weighted sums and which pairs stay at or under ``limit``.

    Only the pairs ``lo:hi`` are computed (threads share the output arrays, each
    on its own range). Attributes come in the task's order (heaviest first); a pair whose partial sum
    passes the limit leaves at once, its remaining distances left unset (the caller
    drops it). ``kinds``/``rows``/``param``/``scale`` describe each attribute (see
    ``engine.alignment.kernel``); NaN stands for a missing value, counted as ``fill``.
    """
    attributes = len(kinds)
    # One table of letter positions per attribute, for the align record's value, kept
    # while pairs share that record (they come sorted by it: 4 pairs a record at 200k);
    # then one for values set and cleared per pair (``scratch``).
    peq = np.zeros((attributes + 1) * alphabet, dtype=np.uint64)
    scratch = attributes * alphabet
    built_for = np.full(attributes, -1, dtype=np.int64)  # the record each table holds
    built_at = np.zeros(attributes, dtype=np.int64)  # and where its value lies
    built_len = np.zeros(attributes, dtype=np.int64)
    row = np.zeros(longest + 1, dtype=np.int64)
    flag_p = np.zeros(longest + 1, dtype=np.bool_)
    flag_t = np.zeros(longest + 1, dtype=np.bool_)
    starts_1 = np.zeros(longest + 2, dtype=np.int64)  # token starts, for TOKENS
    starts_2 = np.zeros(longest + 2, dtype=np.int64)
    column_min = np.zeros(longest + 1, dtype=np.float64)
    count = hi
    for k in range(lo, hi):
        if k + 2 * _AHEAD < count:  # the records' index and lengths two steps ahead
            far_a, far_b = ia[k + 2 * _AHEAD], ib[k + 2 * _AHEAD]
            _prefetch(starts_a, far_a)
            _prefetch(starts_b, far_b)
            _prefetch(lens_a, far_a * lens_a.shape[1])
            _prefetch(lens_b, far_b * lens_b.shape[1])
            if numbers_a.shape[1]:
                _prefetch(numbers_a, far_a * numbers_a.shape[1])
                _prefetch(numbers_b, far_b * numbers_b.shape[1])
        if k + _AHEAD < count:  # their letters one step ahead (the index is there by then)
            near_a, near_b = ia[k + _AHEAD], ib[k + _AHEAD]
            _prefetch(chars_a, starts_a[near_a])
            _prefetch(chars_b, starts_b[near_b])
        a, b = ia[k], ib[k]
        # A record's string values lie one after the other from starts[record].
        pa, pb = starts_a[a], starts_b[b]
        sum_ = 0.0
        alive = True
        for at in range(len(kinds)):
            kind = kinds[at]
            r = rows[at]
            d = math.nan
            if kind == NUMBER:
                x, y = numbers_a[a, r], numbers_b[b, r]
                if not (math.isnan(x) or math.isnan(y)):
                    d = abs(x - y) / param[at]
                    if not math.isnan(scale[at]):
                        d = min(d / scale[at], 1.0)
            elif kind == EUCLIDEAN:  # numpy's sum of a few columns: left to right
                diff = numbers_a[a, r] - numbers_b[b, r]
                squares = diff * diff
                for c in range(1, int(param[at])):
                    diff = numbers_a[a, r + c] - numbers_b[b, r + c]
                    squares += diff * diff
                d = math.sqrt(squares)
                if not (math.isnan(d) or math.isnan(scale[at])):
                    d = min(d / scale[at], 1.0)
            elif kind == GEOGRAPHIC:
                lat1, lon1 = numbers_a[a, r], numbers_a[a, r + 1]
                lat2, lon2 = numbers_b[b, r], numbers_b[b, r + 1]
                s_lat = math.sin((lat2 - lat1) / 2)
                s_lon = math.sin((lon2 - lon1) / 2)
                h = s_lat * s_lat + math.cos(lat1) * math.cos(lat2) * (s_lon * s_lon)
                if not math.isnan(h):
                    root = math.sqrt(min(max(h, 0.0), 1.0))
                    # The row keeps sqrt(h): the caller finishes with numpy's arcsin, whose
                    # last bit the C library's need not share (the sum here may differ
                    # by an ulp: the caller gives the limit a margin and sums again).
                    distances[at, k] = root
                    d = _EARTH_DIAMETER_KM * math.asin(root) * param[at]
                    if not math.isnan(scale[at]):
                        d = min(d / scale[at], 1.0)
            else:
                l1, l2 = lens_a[a, r], lens_b[b, r]
                o1, o2 = pa, pb
                pa += max(l1, 0)
                pb += max(l2, 0)
                if l1 >= 0 and l2 >= 0:
                    same = l1 == l2
                    if same:
                        for i in range(l1):
                            if chars_a[o1 + i] != chars_b[o2 + i]:
                                same = False
                                break
                    reuse = kind in (LEVENSHTEIN, JARO_WINKLER) and 0 < l1 <= 64
                    if not same and reuse and built_for[at] != a:
                        base = at * alphabet
                        for i in range(built_len[at]):  # the previous record's letters
                            peq[base + chars_a[built_at[at] + i]] = _ZERO
                        for i in range(l1):
                            peq[base + chars_a[o1 + i]] |= _ONE << np.uint64(i)
                        built_for[at], built_at[at], built_len[at] = a, o1, l1
                    if same:
                        d = 0.0  # every metric here gives exactly 0 for equal values
                    elif kind == LEVENSHTEIN and reuse and l2 > 0:
                        # The align value as the pattern: the distance is symmetric.
                        n = _levenshtein(chars_a, o1, l1, chars_b, o2, l2, peq, at * alphabet, True)
                        d = n / max(l1, l2) if param[at] > 0 else float(n)  # normalised?
                    elif kind == LEVENSHTEIN:
                        d = _edit_distance(
                            chars_a, o1, l1, chars_b, o2, l2, param[at] > 0, peq, scratch, row
                        )
                    elif kind == TOKENS:
                        d = _tokens(
                            chars_a,
                            o1,
                            l1,
                            chars_b,
                            o2,
                            l2,
                            space,
                            param[at] > 0,
                            peq,
                            scratch,
                            row,
                            starts_1,
                            starts_2,
                            column_min,
                        )
                    elif kind == JARO_WINKLER and reuse:
                        # The align value as t, its table built: rapidfuzz's Jaro-Winkler
                        # is symmetric, to the last bit (the sum's two terms swap).
                        d = _jaro_winkler(
                            chars_b,
                            o2,
                            l2,
                            chars_a,
                            o1,
                            l1,
                            param[at],
                            peq,
                            at * alphabet,
                            True,
                            flag_p,
                            flag_t,
                        )
                    elif kind == JARO_WINKLER:
                        d = _jaro_winkler(
                            chars_a,
                            o1,
                            l1,
                            chars_b,
                            o2,
                            l2,
                            param[at],
                            peq,
                            scratch,
                            False,
                            flag_p,
                            flag_t,
                        )
                    else:
                        d = 1.0  # exact, and the values differ
            if kind != GEOGRAPHIC or math.isnan(d):
                distances[at, k] = d
            if weight[at] > 0:
                sum_ += weight[at] * (fill[at] if math.isnan(d) else d)
                if not sum_ <= limit:
                    alive = False
                    break
        total[k] = sum_
        keep[k] = alive


@numba.njit(cache=True, nogil=True)
def pack(
    codes: npt.NDArray[np.int64],
    value_starts: npt.NDArray[np.int64],
    value_chars: npt.NDArray[np.int32],
    starts: npt.NDArray[np.int64],
    out: npt.NDArray[Any],
) -> None:
    """Lay each record's string values (``codes``: attributes x records) one after another.

    A pair then reads its records' letters from one or two cache lines per side
    instead of one per attribute: at 200k records and more, the misses cost
    more than the distances.
    """
    for record in range(codes.shape[1]):
        p = starts[record]
        for attribute in range(codes.shape[0]):
            c = codes[attribute, record]
            if c >= 0:
                for i in range(value_starts[c], value_starts[c + 1]):
                    out[p] = value_chars[i]
                    p += 1
