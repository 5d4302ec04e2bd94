import numpy as np

from engine.alignment.fit.supervised import best_threshold, cross_validate, folds, m_from_matches


def test_m_from_matches_counts_levels_and_never_gives_zero() -> None:
    levels = np.array([[0, 0], [0, 1], [0, -1]], dtype=np.int8)
    m = m_from_matches(levels, [2, 3])
    assert m[0][0] > 0.8 and m[0][1] > 0
    assert np.isclose(m[1].sum(), 1.0) and m[1][2] > 0


def test_folds_are_balanced_and_seeded() -> None:
    f = folds(10, 5)
    assert np.bincount(f).tolist() == [2] * 5
    assert np.array_equal(f, folds(10, 5))


def test_best_threshold_separates_and_sits_between() -> None:
    p = np.array([0.99, 0.9, 0.2, 0.8, 0.1])
    y = np.array([True, True, False, True, False])
    choice = best_threshold(p, y)
    assert choice.f1 == 1.0
    assert 0.2 < choice.threshold < 0.8


def test_cross_validation_scores_held_out_pairs() -> None:
    u = [np.array([0.01, 0.99]), np.array([0.1, 0.9])]
    matches = np.array([[0, 0]] * 8 + [[0, 1], [1, 0]], dtype=np.int8)
    pairs = np.concatenate([matches, np.array([[1, 1]] * 10 + [[1, 0]] * 3, dtype=np.int8)])
    labels = np.r_[np.ones(10, bool), np.zeros(13, bool)]
    match_folds = folds(10, 5)
    pair_folds = np.r_[match_folds, folds(13, 5)]
    choice = cross_validate(matches, match_folds, pairs, labels, pair_folds, u, 0.01)
    assert choice.f1 >= 0.9
