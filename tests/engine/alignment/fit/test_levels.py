import numpy as np

from engine.alignment.fit.levels import MISSING, cut, default_cuts, level_names


def test_cut_puts_each_distance_in_its_level_and_nan_in_missing() -> None:
    d = np.array([0.0, 0.05, 0.1, 0.1000000001, 0.2, 0.9, np.nan])
    assert cut(d, (0.0, 0.1)).tolist() == [0, 1, 1, 1, 2, 2, MISSING]


def test_default_cuts_depend_on_the_metric() -> None:
    assert default_cuts("exact", True) == (0.0,)
    assert default_cuts("jaro_winkler", True)[0] == 0.0
    assert len(default_cuts("levenshtein", True)) == 3
    assert default_cuts("geo", False) == (0.0,)


def test_level_names() -> None:
    assert level_names((0.0, 0.1)) == ["exact", "<= 0.1", "> 0.1"]
