"""LinkTable validation and the canonical link order."""

from __future__ import annotations

import random

import numpy as np
import pytest

from renderers import LinkTable, sorted_links


def test_columns_are_coerced_to_float64() -> None:
    table = LinkTable(["a"], ["b"], [1], {"name": [0.5]})  # type: ignore[arg-type, dict-item]
    assert table.distance.dtype == np.float64
    assert table.attributes["name"].dtype == np.float64
    assert len(table) == 1


@pytest.mark.parametrize(
    ("targets", "distance", "attributes"),
    [
        (["x"], [0.1, 0.2], {}),  # too few targets
        (["x", "y"], [0.1], {}),  # too few distances
        (["x", "y"], [0.1, 0.2], {"name": [0.3]}),  # attribute column too short
    ],
)
def test_mismatched_lengths_are_rejected(
    targets: list[str], distance: list[float], attributes: dict[str, list[float]]
) -> None:
    with pytest.raises(ValueError):
        LinkTable(["a", "b"], targets, distance, attributes)  # type: ignore[arg-type]


def test_sorted_by_align_then_target_with_rows_kept_together() -> None:
    table = LinkTable(
        align_ids=["http://e/b", "http://e/a", "http://e/b", "http://e/a"],
        target_ids=["http://t/1", "http://t/2", "http://t/0", "http://t/1"],
        distance=np.array([0.1, 0.2, 0.3, 0.4]),
        attributes={"name": np.array([1.0, 2.0, 3.0, np.nan])},
    )
    result = sorted_links(table)
    assert result.align_ids == ["http://e/a", "http://e/a", "http://e/b", "http://e/b"]
    assert result.target_ids == ["http://t/1", "http://t/2", "http://t/0", "http://t/1"]
    np.testing.assert_array_equal(result.distance, [0.4, 0.2, 0.3, 0.1])
    np.testing.assert_array_equal(result.attributes["name"], [np.nan, 2.0, 3.0, 1.0])


def test_order_is_independent_of_input_order_even_for_duplicates() -> None:
    rows = [(f"http://e/{i % 7}", f"http://t/{i % 5}", float(i)) for i in range(60)]
    expected = None
    rng = random.Random(1)
    for _ in range(5):
        rng.shuffle(rows)
        table = LinkTable(
            [r[0] for r in rows], [r[1] for r in rows], np.array([r[2] for r in rows])
        )
        result = sorted_links(table)
        current = (result.align_ids, result.target_ids, result.distance.tolist())
        assert expected is None or current == expected
        expected = current


def test_sorted_table_is_returned_as_is_and_nan_distances_sort_last() -> None:
    table = LinkTable(
        ["http://e/a", "http://e/a", "http://e/a"],
        ["http://t/1", "http://t/1", "http://t/1"],
        np.array([np.nan, 0.5, 0.1]),
    )
    result = sorted_links(table)
    np.testing.assert_array_equal(result.distance, [0.1, 0.5, np.nan])
    assert sorted_links(result) is result
