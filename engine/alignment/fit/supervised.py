"""The model from labelled matches: m from them, the threshold by cross-validation.

u still comes from random pairs (``engine.alignment.fit.u``) and the prior
from the candidates (``em.random_prior``); the labels give m directly: the
level frequencies among the labelled matches, wherever the blocking put them.

The labels are matches only, and may be a sample of them (10% of the links,
say): a pair not among them is not known to be a non-match. So the threshold
is chosen for the best *estimated* F1, from two halves that need no negative
label:

* recall at a threshold: the share of labelled matches scored at or above it,
  each scored out of fold (``k`` folds: a fold's matches are scored with the m
  of the other folds), an estimate of the share of all matches;
* precision: the matches that recall finds, ``recall x E``, among the
  candidate pairs at or above the threshold, where ``E`` is the number of
  matches the model expects among the candidates (the sum of their
  probabilities).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.alignment.fit.em import pattern_weights
from engine.alignment.fit.levels import MISSING
from engine.alignment.fit.model import probability_of, weight_of

__all__ = ["Choice", "choose_threshold", "folds", "m_from_matches", "out_of_fold"]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
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


def out_of_fold(matches: Matrix, match_folds: Ints, u: Sequence[Floats], prior: float) -> Floats:
    """Each labelled match's probability under the m of the other folds."""
    counts = [len(x) for x in u]
    scores = np.zeros(len(matches))
    for fold in np.unique(match_folds):
        here = match_folds == fold
        train = matches[~here] if (~here).any() else matches
        m = m_from_matches(train, counts)
        bits = pattern_weights(matches[here], m, u, [True] * len(u)) + weight_of(prior)
        scores[here] = probability_of(bits)
    return scores


@dataclass(frozen=True)
class Choice:
    """The chosen threshold (a probability) and the estimated scores there.

    ``recall`` and ``precision`` are of all matches (the found matches, ``recall
    x E`` capped at the pairs kept, over ``E`` and over the pairs kept), and ``f1``
    is their harmonic mean; ``labelled_recall`` is the labelled matches' share at or
    above the threshold (out of fold), from which they are estimated.
    """

    threshold: float
    f1: float
    precision: float
    recall: float
    labelled_recall: float = 0.0


def choose_threshold(candidates: Floats, matches: Floats) -> Choice:
    """The threshold of the best estimated F1 (see the module's docstring).

    ``candidates``: every candidate pair's probability; ``matches``: the
    labelled matches' out-of-fold probabilities. The threshold sits halfway
    (in match weight) between the last candidate kept and the next one, within
    +-``LIMIT_BITS`` bits.
    """
    expected = float(candidates.sum())
    if not len(candidates) or not len(matches) or expected <= 0:
        return Choice(0.5, 0.0, 0.0, 0.0)
    p = np.sort(candidates)[::-1]
    last = np.r_[p[1:] != p[:-1], True]  # cut only between distinct probabilities
    found = np.arange(1, len(p) + 1, dtype=np.float64)
    labelled = np.sort(matches)
    recall = (len(labelled) - np.searchsorted(labelled, p, side="left")) / len(labelled)
    true = np.minimum(recall * expected, found)
    f1 = np.where(last, 2 * true / (found + expected), -1.0)
    best = int(np.argmax(f1))
    bits = np.log2(np.maximum(p, 1e-300)) - np.log2(np.maximum(1 - p, 1e-300))
    upper = bits[best]
    lower = bits[best + 1] if best + 1 < len(p) else upper - 2.0
    middle = float(np.clip((upper + lower) / 2, -LIMIT_BITS, LIMIT_BITS))
    threshold = float(probability_of(np.asarray([middle]))[0])
    precision = float(true[best] / found[best])
    # The recall F1 is made of: the labelled matches' recall, unless more matches are
    # expected than the pairs kept could hold (then those pairs are all taken for matches).
    estimated = float(true[best] / expected)
    return Choice(threshold, float(f1[best]), precision, estimated, float(recall[best]))
