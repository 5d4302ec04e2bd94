"""The state of an alignment run: pairs with their distances, taken together."""

from __future__ import annotations

import numpy as np

from engine.alignment.state import Pairs


def test_pairs_take_every_column_alike() -> None:
    pairs = Pairs(
        np.array([0, 1, 2], dtype=np.int64),
        np.array([5, 6, 7], dtype=np.int64),
        np.array([0.5, 0.1, 0.9]),
        {"name": np.array([0.2, np.nan, 0.4]), "city": np.array([0.3, 0.1, 0.5])},
    )
    taken = pairs.take(np.array([2, 0]))
    assert len(taken) == 2 and taken.ia.tolist() == [2, 0] and taken.ib.tolist() == [7, 5]
    assert taken.total.tolist() == [0.9, 0.5]
    assert list(taken.distances) == ["name", "city"]
    assert taken.distances["name"].tolist() == [0.4, 0.2]
    masked = pairs.take(pairs.total < 0.6)
    assert masked.ia.tolist() == [0, 1] and np.isnan(masked.distances["name"][1])
