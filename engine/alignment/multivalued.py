"""Records with several values per attribute: the best distance over their rows.

A source that keeps every value of a column (``values: all`` on RDF, SPARQL and
RQL sources, ``split`` on CSV and TSV columns) gives a record one row per
combination of its values (:func:`engine.alignment.records.expand_rows`). Rows
are blocked and compared like records; then :func:`collapse_pairs` keeps, for
each pair of records, the pair of rows with the smallest distance, named by the
records' representative rows. Each attribute's distance is thus the best over
all pairs of values (Silk's rule), the global distance too: the smallest sum of
independent terms is the sum of their smallest values.
"""

from __future__ import annotations

import numpy as np

from engine.alignment.records import Records
from engine.alignment.state import Pairs

__all__ = ["collapse_pairs"]


def collapse_pairs(pairs: Pairs, align: Records, target: Records, *, dedup: bool) -> Pairs:
    """One pair per pair of records: its rows' smallest total, at the representative rows.

    Pairs come back ordered by align then target index. In a deduplication
    (``dedup``), the rows of one record never pair with each other, and each
    pair of records is counted once (smaller index first).
    """
    rep_a, rep_b = align.representatives(), target.representatives()
    if (rep_a is None and rep_b is None) or not len(pairs):
        return pairs
    ia = pairs.ia if rep_a is None else rep_a[pairs.ia]
    ib = pairs.ib if rep_b is None else rep_b[pairs.ib]
    keep = np.ones(len(pairs), dtype=bool)
    if dedup:
        ia, ib = np.minimum(ia, ib), np.maximum(ia, ib)
        keep = ia != ib  # two values of one record: not a pair
    # Smallest total first within each (align, target) group; stable on the row order.
    order = np.lexsort((pairs.total, ib, ia))
    order = order[keep[order]]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (ia[order][1:] != ia[order][:-1]) | (ib[order][1:] != ib[order][:-1])
    chosen = order[first]
    return Pairs(
        ia[chosen],
        ib[chosen],
        pairs.total[chosen],
        {name: d[chosen] for name, d in pairs.distances.items()},
    )
