import numpy as np

from engine.alignment.fit.em import (
    Session,
    em,
    fit,
    goes_with_key,
    initial_m,
    patterns,
    random_prior,
)

U = [np.array([0.01, 0.99]), np.array([0.05, 0.95]), np.array([0.1, 0.9])]
M = [np.array([0.9, 0.1]), np.array([0.8, 0.2]), np.array([0.95, 0.05])]


def simulate(matches: int, others: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = []
    for probabilities, n in ((M, matches), (U, others)):
        columns = [rng.choice(2, size=n, p=p) for p in probabilities]
        rows.append(np.stack(columns, axis=1))
    return np.concatenate(rows).astype(np.int8)


def test_em_recovers_m_and_the_share_of_matches() -> None:
    rows, counts = patterns(simulate(3000, 7000))
    result = em(rows, counts, U, [initial_m(2)] * 3, 0.5, evidence=[True] * 3)
    assert abs(result.prior - 0.3) < 0.02
    for got, want in zip(result.m, M, strict=True):
        assert abs(got[0] - want[0]) < 0.03


def test_missing_values_are_no_evidence() -> None:
    rows = np.array([[0, -1, 0], [1, 1, 1]], dtype=np.int8)
    result = em(rows, np.ones(2), U, M, 0.5, evidence=[True] * 3, iterations=1)
    # The missing value changes no m level count of its attribute: only row 2 counts.
    assert result.m[1][1] == 1.0


def test_fit_holds_out_the_blocked_attribute_and_estimates_it_last() -> None:
    levels = simulate(3000, 7000)
    blocked = levels[levels[:, 0] == 0]  # a rule blocking on attribute 0
    rows, counts = patterns(blocked)
    session = Session("key on a", rows, counts, (True, False, False))
    fitted = fit([session], patterns(blocked), U, ["a", "b", "c"], 10_000)
    assert any("every blocking rule uses a" in note for note in fitted.notes)
    assert abs(fitted.m[1][0] - 0.8) < 0.05
    # The prior is the share of matches among all 10,000 pairs (the blocked ones only count).
    assert 0.2 < fitted.prior < 0.35


def test_random_prior_counts_the_pairs_never_compared_as_non_matches() -> None:
    # Strong evidence: every compared pair is surely a match, 100 of 100,000 pairs.
    rows, counts = patterns(np.zeros((100, 3), dtype=np.int8))
    assert 0.0009 < random_prior(rows, counts, M, U, 100_000) <= 0.001


def test_patterns_are_the_distinct_rows_with_their_counts() -> None:
    levels = np.array([[0, -1, 2], [1, 1, 0], [0, -1, 2], [-1, -1, -1]], dtype=np.int8)
    rows, counts = patterns(levels)
    assert rows.tolist() == [[-1, -1, -1], [0, -1, 2], [1, 1, 0]]
    assert counts.tolist() == [1, 2, 1]
    wide = np.zeros((3, 40), dtype=np.int8)  # too many digits for one integer: rows compared
    wide[1, 39] = 3
    rows, counts = patterns(wide)
    assert counts.tolist() == [2, 1] and rows[1, 39] == 3


def along_the_key(seed: int = 3) -> tuple[np.ndarray, list[np.ndarray]]:
    """A rule's pairs blocked on ``key``: ``along`` agrees on nearly all of them, match or not
    (a suburb with a postcode key), ``x``, ``y``, ``z`` on the matches (500 of 10,000)."""
    rng = np.random.default_rng(seed)
    u = [np.array([0.001, 0.999])] * 2 + [np.array([0.01, 0.99])] * 3
    parts = []
    for n, along, agree in ((500, 0.97, 0.9), (9500, 0.9, 0.01)):
        columns = [np.zeros(n, dtype=np.int64), rng.choice(2, size=n, p=[along, 1 - along])]
        columns += [rng.choice(2, size=n, p=[agree, 1 - agree]) for _ in range(3)]
        parts.append(np.stack(columns, axis=1))
    return np.concatenate(parts).astype(np.int8), u


def test_an_attribute_that_goes_with_the_key_is_held_out_of_its_session() -> None:
    levels, u = along_the_key()
    rows, counts = patterns(levels)
    blocked = (True, False, False, False, False)
    along = goes_with_key(rows, counts, u, blocked)
    assert along == (False, True, False, False, False)
    held = tuple(b or a for b, a in zip(blocked, along, strict=True))
    names = ["key", "along", "x", "y", "z"]
    fitted = fit(
        [Session("key on key", rows, counts, held, along)], (rows, counts), u, names, 10**6
    )
    assert any("nearly all agree on along" in note for note in fitted.notes)
    # Learnt with along as evidence, every pair of the rule looked like a match (m of x 0.06).
    assert all(abs(fitted.m[a][0] - 0.9) < 0.05 for a in (2, 3, 4))


def test_a_session_left_with_fewer_than_three_attributes_is_warned_of() -> None:
    levels, u = along_the_key()
    rows, counts = patterns(levels[:, [0, 1, 2, 3]])
    held = (True, True, False, False)
    fitted = fit(
        [Session("key on key", rows, counts, held)], (rows, counts), u[:4], list("kaxy"), 10**6
    )
    assert any("EM is left 2 attribute(s) carrying evidence (x, y)" in n for n in fitted.notes)
