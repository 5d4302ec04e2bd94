"""m probabilities and the prior by expectation–maximisation, u held fixed.

The pairs are given as a matrix of comparison levels (one row a pair, one
column an attribute, :data:`~engine.alignment.fit.levels.MISSING` for a missing
value). EM runs on the distinct rows (level patterns) weighted by how many
pairs share them, so its cost does not grow with the number of pairs.

Splink's training sessions are followed: each blocking rule's pairs make one
session, in which the attributes the rule blocks on are *held out* (their
values agree on almost every pair of the rule, match or not, so the rule's
pairs say nothing about how often they agree among matches). An attribute's
m is the mean of its estimates over the sessions that did not hold it out.
An attribute every session holds out (one rule blocking on it, say) is
estimated last, over all the candidate pairs, from the posteriors the other
attributes give: that m is biased towards agreement (matches that disagree on
it were never paired), which :func:`fit` reports among its notes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from engine.alignment.fit.levels import MISSING

__all__ = [
    "EmResult",
    "Fitted",
    "Session",
    "agreement",
    "em",
    "fit",
    "goes_with_key",
    "initial_m",
    "pattern_weights",
    "patterns",
    "random_prior",
]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Matrix = npt.NDArray[np.int8]

#: The smallest m or u a level can have in a weight (log of zero is infinite).
FLOOR = 1e-6


def patterns(levels: Matrix) -> tuple[Matrix, Floats]:
    """The distinct rows of a level matrix and how many pairs have each (rows in order)."""
    if not len(levels):
        return levels.reshape(0, levels.shape[1] if levels.ndim == 2 else 0), np.zeros(0)
    width = levels.shape[1]
    base = int(levels.max()) + 2  # MISSING (-1) is digit 0
    if base**width < 2**62:
        # One integer per row (mixed radix): np.unique on integers, not on rows, is fast.
        digits = levels.astype(np.int64) + 1
        weights = base ** np.arange(width - 1, -1, -1, dtype=np.int64)
        codes, counts = np.unique(digits @ weights, return_counts=True)
        rows = (codes[:, None] // weights[None, :]) % base - 1
        return rows.astype(np.int8), counts.astype(np.float64)
    rows, counts = np.unique(levels, axis=0, return_counts=True)
    return rows.astype(np.int8), counts.astype(np.float64)


def initial_m(count: int) -> Floats:
    """Starting m for ``count`` levels: most matches agree exactly, few are far apart."""
    if count == 1:
        return np.ones(1)
    m = np.full(count, 0.1 / (count - 1))
    m[0] = 0.9
    return m


def pattern_weights(
    rows: Matrix, m: Sequence[Floats], u: Sequence[Floats], evidence: Sequence[bool]
) -> Floats:
    """Each pattern's summed log2 Bayes factor over the attributes giving ``evidence``."""
    total = np.zeros(len(rows))
    for a, use in enumerate(evidence):
        if not use:
            continue
        bits = np.log2(np.maximum(m[a], FLOOR) / np.maximum(u[a], FLOOR))
        column = rows[:, a].astype(np.int64)
        known = column != MISSING
        total[known] += bits[column[known]]
    return total


def _posterior(bits: Floats, prior: float) -> Floats:
    prior = min(max(prior, 1e-12), 1 - 1e-12)
    logit = bits + np.log2(prior / (1 - prior))
    post: Floats = 1.0 / (1.0 + np.exp2(-np.clip(logit, -1000, 1000)))
    return post


@dataclass(frozen=True)
class EmResult:
    """The m per attribute, the share of matches among the pairs, and the iterations run."""

    m: list[Floats]
    prior: float
    iterations: int


def em(
    rows: Matrix,
    counts: Floats,
    u: Sequence[Floats],
    m: Sequence[Floats],
    prior: float,
    *,
    evidence: Sequence[bool],
    update: Sequence[bool] | None = None,
    iterations: int = 200,
    tolerance: float = 1e-7,
) -> EmResult:
    """EM over level patterns: the posteriors from the ``evidence`` attributes, then new m.

    Only the attributes in ``update`` (by default those giving evidence) get
    new m; the others keep theirs. The prior is the share of matches among
    these pairs. Stops when no m nor the prior moves more than ``tolerance``.
    """
    update = evidence if update is None else update
    m = [np.asarray(x, dtype=np.float64).copy() for x in m]
    done = 0
    for done in range(1, iterations + 1):  # noqa: B007 - the count is returned
        post = _posterior(pattern_weights(rows, m, u, evidence), prior) * counts
        moved = 0.0
        for a, use in enumerate(update):
            if not use:
                continue
            column = rows[:, a].astype(np.int64)
            known = column != MISSING
            sums = np.bincount(column[known], weights=post[known], minlength=len(m[a]))
            if sums.sum() > 0:
                new = sums / sums.sum()
                moved = max(moved, float(np.abs(new - m[a]).max()))
                m[a] = new
        new_prior = float(post.sum() / counts.sum()) if counts.sum() else prior
        moved = max(moved, abs(new_prior - prior))
        prior = new_prior
        if moved < tolerance:
            break
    return EmResult(m, prior, done)


def random_prior(
    rows: Matrix,
    counts: Floats,
    m: Sequence[Floats],
    u: Sequence[Floats],
    total_pairs: int,
    *,
    iterations: int = 200,
) -> float:
    """P(match) for two random records: the expected matches among the candidates / all pairs.

    The pairs the blocking never proposed are taken as non-matches. The prior
    and the candidates' posteriors depend on each other: iterated to a fixed point.
    """
    if not total_pairs or not counts.sum():
        return 0.0
    bits = pattern_weights(rows, m, u, [True] * len(m))
    prior = float(counts.sum()) / total_pairs / 2
    for _ in range(iterations):
        new = float((_posterior(bits, prior) * counts).sum()) / total_pairs
        if abs(new - prior) <= 1e-12 + 1e-9 * prior:
            return new
        prior = new
    return prior


@dataclass(frozen=True)
class Session:
    """One training session: a blocking rule's pairs (as level patterns) and what it holds out.

    ``along``: the attributes held out because they go with the rule's key (see
    :func:`goes_with_key`), besides those the rule reads.
    """

    label: str
    rows: Matrix
    counts: Floats
    held_out: tuple[bool, ...]
    along: tuple[bool, ...] = ()


#: An attribute goes with a rule's key when more than this share of the rule's pairs agree on it...
ALONG_SHARE = 0.5
#: ...that is more than this many times the share of random pairs that agree on it...
ALONG_OVER_RANDOM = 20.0
#: ...and more than this many times the (median) share of the rule's other discriminating
#: attributes, an upper bound on the matches among the pairs: they cannot explain it.
ALONG_OVER_OTHERS = 3.0
#: An attribute is discriminating when fewer than this share of random pairs agree on it.
DISCRIMINATING = 0.05
#: A close level holding more than this share of a session's pairs: the attribute is constant there.
CONSTANT = 0.99


def agreement(rows: Matrix, counts: Floats, a: int, far: int) -> tuple[float, Floats]:
    """The share of the pairs not at the attribute's far level (``far``), and the level shares.

    Pairs missing the attribute are left out.
    """
    column = rows[:, a].astype(np.int64)
    known = column != MISSING
    total = float(counts[known].sum())
    if not total:
        return 0.0, np.zeros(far + 1)
    shares = np.bincount(column[known], weights=counts[known], minlength=far + 1) / total
    return float(1.0 - shares[far]), shares


def goes_with_key(
    rows: Matrix, counts: Floats, u: Sequence[Floats], held: Sequence[bool]
) -> tuple[bool, ...]:
    """The attributes a rule's pairs agree on because of its key, not because they match.

    A suburb goes with a postcode key, a country with a radius: nearly every pair
    of the rule agrees on it, match or not, so the rule's pairs say nothing of its
    m (and EM, seeing every pair agree on a rare value, takes every pair for a
    match). Such an attribute agrees on far more of the rule's pairs than random
    pairs do and than the rule's other discriminating attributes do (which agree
    on about as many pairs as there are matches), or is constant among them.
    """
    agrees: list[float] = []
    constant: list[bool] = []
    for a, levels in enumerate(u):
        agree, shares = agreement(rows, counts, a, len(levels) - 1)
        agrees.append(agree)
        # Nearly every pair at one close level (nearly all far apart is the usual, informative case).
        constant.append(bool(shares[:-1].max(initial=0.0) > CONSTANT))
    random_agree = [1.0 - float(levels[-1]) for levels in u]
    out = []
    for a in range(len(u)):
        if held[a]:
            out.append(False)
            continue
        others = [
            agrees[b]
            for b in range(len(u))
            if b != a and not held[b] and random_agree[b] < DISCRIMINATING
        ]
        outlier = (
            bool(others)
            and agrees[a] > ALONG_SHARE
            and agrees[a] > ALONG_OVER_RANDOM * random_agree[a]
            and agrees[a] > ALONG_OVER_OTHERS * float(np.median(others))
        )
        out.append(outlier or constant[a])
    return tuple(out)


@dataclass(frozen=True)
class Fitted:
    """What :func:`fit` learned: m per attribute, the random-pair prior, notes for the user."""

    m: list[Floats]
    prior: float
    notes: list[str] = field(default_factory=list)


def fit(
    sessions: Sequence[Session],
    everything: tuple[Matrix, Floats],
    u: Sequence[Floats],
    names: Sequence[str],
    total_pairs: int,
) -> Fitted:
    """m per attribute from the sessions, and the prior over ``everything`` (all candidates).

    See the module's docstring for the sessions and the attributes every
    session holds out.
    """
    count = len(u)
    estimates: list[list[Floats]] = [[] for _ in range(count)]
    notes: list[str] = []
    for session in sessions:
        free = [not h for h in session.held_out]
        if not any(free) or not session.counts.sum():
            continue
        along = [names[a] for a, flag in enumerate(session.along) if flag]
        if along:
            notes.append(
                f"{session.label}: its pairs nearly all agree on {', '.join(along)}, match or"
                " not (it goes with the rule's key, or is constant there): its m is not learnt"
                " from them but from the other rules' pairs, or else from the other"
                " attributes' evidence"
            )
        left = [names[a] for a in range(count) if free[a]]
        if len(left) < 3:
            notes.append(
                f"{session.label}: EM is left {len(left)} attribute(s) carrying evidence"
                f" ({', '.join(left)}): with fewer than three, matches and non-matches may not"
                " be told apart; check the fitted model with engine eval, or fit with --gold"
            )
        result = em(
            session.rows,
            session.counts,
            u,
            [initial_m(len(x)) for x in u],
            0.5,
            evidence=free,
        )
        for a in range(count):
            if free[a]:
                estimates[a].append(result.m[a])
    m = [np.mean(e, axis=0) if e else initial_m(len(u[a])) for a, e in enumerate(estimates)]
    known = [bool(e) for e in estimates]
    rows, counts = everything
    if not all(known) and any(known) and counts.sum():
        last = [names[a] for a in range(count) if not known[a]]
        notes.append(
            "every blocking rule uses " + ", ".join(last) + " (reads it, or goes with its key):"
            " its m was estimated over all"
            " candidate pairs, from the other attributes' evidence (biased towards agreement:"
            " matches that disagree on it were never compared)"
        )
        result = em(
            rows,
            counts,
            u,
            m,
            0.5,
            evidence=known,
            update=[not k for k in known],
        )
        m = result.m
    elif not any(known):
        notes.append("no attribute is left out of every blocking rule: m kept at its start values")
    prior = random_prior(rows, counts, m, u, total_pairs)
    return Fitted(m, prior, notes)
