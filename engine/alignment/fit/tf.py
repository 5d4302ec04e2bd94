"""Term frequencies: how common each record's value of an attribute is.

A record's term frequency is the share of the records (both sides; one in a
deduplication) whose normalised value is the same; a missing value has none
(NaN). The model uses it to weigh an exact agreement (``model.AttributeModel``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["frequencies", "pair_frequencies"]

Floats = npt.NDArray[np.float64]


def _key(value: object) -> Hashable | None:
    if value is None:
        return None
    if isinstance(value, list):
        return tuple(value)
    return value if isinstance(value, Hashable) else repr(value)


def frequencies(
    align: Sequence[object], target: Sequence[object] | None = None
) -> tuple[Floats, Floats]:
    """Each align record's and each target record's term frequency (``target`` None: a dedup)."""
    keys_a = [_key(v) for v in align]
    keys_b = keys_a if target is None else [_key(v) for v in target]
    counts = Counter(k for k in keys_a if k is not None)
    if target is not None:
        counts.update(k for k in keys_b if k is not None)
    total = sum(counts.values())

    def shares(keys: list[Hashable | None]) -> Floats:
        return np.fromiter(
            (np.nan if k is None or not total else counts[k] / total for k in keys),
            dtype=np.float64,
            count=len(keys),
        )

    tf_a = shares(keys_a)
    return tf_a, (tf_a if target is None else shares(keys_b))


def pair_frequencies(
    names: Sequence[str],
    align: Mapping[str, Sequence[object]],
    target: Mapping[str, Sequence[object]] | None,
    ia: npt.NDArray[np.int64],
) -> dict[str, Floats]:
    """Per attribute of ``names``, each pair's term frequency: its align record's value's.

    The frequency matters only where the values agree exactly, where either
    record's value is the same. ``target`` is None in a deduplication.
    """
    out = {}
    for name in names:
        tf_a, _ = frequencies(align[name], None if target is None else target[name])
        out[name] = tf_a[ia]
    return out
