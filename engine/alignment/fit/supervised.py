"""The model from labelled pairs: m from the known matches, the threshold by cross-validation.

u still comes from random pairs (``engine.alignment.fit.u``) and the prior
from the candidates (``em.random_prior``); the labels give m directly: the
level frequencies among the labelled matches, wherever the blocking put them.

The labels may cover only some of the records (10% of the links, say). The
threshold is chosen where those labels are complete: among the pairs that
touch a labelled record, a labelled pair is a match and any other pair is
not. Each labelled match is put in one of ``k`` folds; a fold's pairs are
scored with the m of the other folds, and the threshold is the one that gives
the best F1 over these out-of-fold scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.alignment.fit.em import pattern_weights
from engine.alignment.fit.levels import MISSING
from engine.alignment.fit.model import probability_of, weight_of

__all__ = ["Choice", "best_threshold", "cross_validate", "folds", "m_from_matches"]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Matrix = npt.NDArray[np.int8]

#: Folds of the cross-validation.
FOLDS = 5
#: The threshold's match weight stays within +-LIMIT_BITS (a probability written
#: with six digits must still read back on the same side of every pair).
LIMIT_BITS = 20.0


def m_from_matches(levels: Matrix, counts: Sequence[int], *, floor: float = 0.5) -> list[Floats]:
    """Per attribute, the level frequencies among labelled matches (a level never seen: ``floor``)."""
    m = []
    for a, count in enumerate(counts):
        column = levels[:, a].astype(np.int64)
        seen = np.bincount(column[column != MISSING], minlength=count)[:count].astype(np.float64)
        seen = np.maximum(seen, floor)
        m.append(seen / seen.sum())
    return m


def folds(size: int, k: int = FOLDS, seed: int = 15) -> Ints:
    """A fold number in ``0..k-1`` for each of ``size`` items, balanced and seeded."""
    rng = np.random.default_rng(seed)
    return rng.permutation(np.arange(size) % max(1, k)).astype(np.int64)


@dataclass(frozen=True)
class Choice:
    """The chosen threshold (a probability) and the scores it gives on the held-out pairs."""

    threshold: float
    f1: float
    precision: float
    recall: float


def best_threshold(probabilities: Floats, labels: Bools) -> Choice:
    """The threshold with the best F1 when pairs at or above it are called matches.

    It sits halfway (in match weight) between the last pair called a match and
    the next one, within +-``LIMIT_BITS`` bits.
    """
    positives = int(labels.sum())
    if not len(probabilities) or not positives:
        return Choice(0.5, 0.0, 0.0, 0.0)
    order = np.argsort(-probabilities, kind="stable")
    p, y = probabilities[order], labels[order]
    tp = np.cumsum(y)
    called = np.arange(1, len(p) + 1)
    last = np.r_[p[1:] != p[:-1], True]  # cut only between distinct probabilities
    f1 = np.where(last, 2 * tp / (called + positives), -1.0)
    best = int(np.argmax(f1))
    weights = np.log2(np.maximum(p, 1e-300)) - np.log2(np.maximum(1 - p, 1e-300))
    upper = weights[best]
    lower = weights[best + 1] if best + 1 < len(p) else upper - 2.0
    middle = float(np.clip((upper + lower) / 2, -LIMIT_BITS, LIMIT_BITS))
    threshold = float(probability_of(np.asarray([middle]))[0])
    precision = float(tp[best] / called[best])
    recall = float(tp[best] / positives)
    return Choice(threshold, float(f1[best]), precision, recall)


def cross_validate(
    matches: Matrix,
    match_folds: Ints,
    pairs: Matrix,
    pair_labels: Bools,
    pair_folds: Ints,
    u: Sequence[Floats],
    prior: float,
) -> Choice:
    """The threshold chosen on out-of-fold scores (see the module's docstring).

    ``matches`` are the labelled matches' levels and their folds; ``pairs``
    the pairs scored (those touching a labelled record), their labels and the
    fold of the labelled record they touch.
    """
    counts = [len(x) for x in u]
    scores = np.zeros(len(pairs))
    for fold in np.unique(pair_folds):
        train = matches[match_folds != fold]
        if not len(train):
            train = matches
        m = m_from_matches(train, counts)
        here = pair_folds == fold
        bits = pattern_weights(pairs[here], m, u, [True] * len(u)) + weight_of(prior)
        scores[here] = probability_of(bits)
    return best_threshold(scores, pair_labels)
