import numpy as np

from engine.alignment.fit.tf import frequencies, pair_frequencies


def test_frequencies_count_both_sides_and_leave_missing_values_out() -> None:
    tf_a, tf_b = frequencies(["smith", "smith", "zed", None], ["smith", "ann"])
    assert tf_a[:3].tolist() == [0.6, 0.6, 0.2] and np.isnan(tf_a[3])
    assert tf_b.tolist() == [0.6, 0.2]


def test_a_deduplication_counts_its_records_once() -> None:
    tf_a, tf_b = frequencies(["a", "a", "b", "c"])
    assert tf_a.tolist() == [0.5, 0.5, 0.25, 0.25] and tf_b is tf_a


def test_pair_frequencies_take_the_align_records_value() -> None:
    align = {"name": ["a", "b", ["x", "y"]]}
    target = {"name": ["a", "a", ["x", "y"]]}
    out = pair_frequencies(["name"], align, target, np.array([0, 2, 1]))
    assert out["name"].tolist() == [0.5, 2 / 6, 1 / 6]
