import numpy as np

from engine.alignment.fit.supervised import choose_threshold, folds, m_from_matches, out_of_fold


def test_m_from_matches_counts_levels_and_never_gives_zero() -> None:
    levels = np.array([[0, 0], [0, 1], [0, -1]], dtype=np.int8)
    m = m_from_matches(levels, [2, 3])
    assert m[0][0] > 0.8 and m[0][1] > 0
    assert np.isclose(m[1].sum(), 1.0) and m[1][2] > 0


def test_folds_are_balanced_and_seeded() -> None:
    f = folds(10, 5)
    assert np.bincount(f).tolist() == [2] * 5
    assert np.array_equal(f, folds(10, 5))


def test_the_threshold_keeps_the_expected_matches_that_the_labels_recall() -> None:
    # 10 sure matches, 2 doubtful pairs, 100 surely not: the model expects ~11 matches.
    candidates = np.r_[np.full(10, 0.999), [0.6, 0.4], np.full(100, 0.0001)]
    labelled = np.full(5, 0.999)  # a sample of the matches, all scored high out of fold
    choice = choose_threshold(candidates, labelled)
    assert 0.0001 < choice.threshold < 0.999
    assert choice.recall == 1.0 and choice.f1 > 0.9


def test_labelled_matches_scored_low_pull_the_threshold_down() -> None:
    candidates = np.r_[np.full(10, 0.99), np.full(10, 0.3), np.full(1000, 0.001)]
    high = choose_threshold(candidates, np.full(10, 0.99))
    low = choose_threshold(candidates, np.r_[np.full(5, 0.99), np.full(5, 0.3)])
    assert low.threshold < 0.3 < high.threshold


def test_out_of_fold_scores_use_the_other_folds() -> None:
    u = [np.array([0.01, 0.99]), np.array([0.1, 0.9])]
    matches = np.array([[0, 0]] * 8 + [[1, 1]] * 2, dtype=np.int8)
    match_folds = np.array([0, 1, 2, 3, 4, 0, 1, 2, 3, 4])
    scores = out_of_fold(matches, match_folds, u, 0.01)
    # Fold 3 holds a disagreeing match: the others see fewer, and score agreement higher.
    assert scores[3] > scores[0] > 0.8 and (scores[8:] < 0.001).all()


def test_the_printed_recall_precision_and_f1_agree() -> None:
    # Every labelled match scores 0.99, but the model expects more matches (2.98) than the
    # two pairs it keeps at 0.99: the recall of all matches there is 2 / 2.98, not 1.
    candidates = np.r_[np.full(2, 0.99), np.full(100, 0.01)]
    choice = choose_threshold(candidates, np.full(10, 0.99))
    assert choice.precision == 1.0
    assert abs(choice.recall - 2 / 2.98) < 1e-9
    harmonic = 2 * choice.precision * choice.recall / (choice.precision + choice.recall)
    assert abs(choice.f1 - harmonic) < 1e-9
