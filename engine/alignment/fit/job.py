"""``engine fit`` for an alignment spec: read and block as a run does, fit, report.

The sides are read, prepared and blocked by the run's own handlers; the
distances per attribute come from the compare stage (``compare_chunk``), with
every weight 0 so that no pair is pruned. Without labels, an align side of
more than ``FIT_RECORDS`` records (not a deduplication's) is first cut to a
seeded sample of that many, against the whole target side: the matches among
them teach m as well as all would, u and the prior are shares of pairs, and a
fit stays cheaper than a run of the same spec (issue 15). Then:

* u from the record pairs whose values are equal, counted exactly, and from
  random pairs whose values differ (``u.stratified_frequencies``, seeded);
* without gold links, m by EM, one session per blocking rule of the spec (the
  members of a ``union``; the whole blocking otherwise), each holding out the
  attributes its rule reads (``em.fit``); the prior over every candidate pair;
* with gold links (``--gold``, or else the must-links of the spec's
  ``curation``), m from the labelled matches and the threshold by
  cross-validation (``supervised``).

The fitted model is returned as :class:`~engine.alignment.fit.model.Model`;
``engine.alignment.fit.spec_file`` writes it into the spec.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from engine.alignment import evaluate
from engine.alignment.batches import batches
from engine.alignment.blocking import BlockingRule
from engine.alignment.compare import CompareTask, compare_batch, compare_chunk, compare_task
from engine.alignment.curation import read_curation
from engine.alignment.fit import em, supervised
from engine.alignment.fit.em import pattern_weights
from engine.alignment.fit.levels import MISSING, cut, default_cuts
from engine.alignment.fit.model import AttributeModel, Model, probability_of, rounded, weight_of
from engine.alignment.fit.u import (
    SAMPLE,
    SEED,
    UNEQUAL_SAMPLE,
    equal_pairs,
    level_frequencies,
    random_pairs,
    shared_codes,
    stratified_frequencies,
)
from engine.alignment.handlers import HANDLERS
from engine.alignment.metrics import METRICS
from engine.alignment.records import Records
from engine.alignment.state import AlignmentState, Pairs
from engine.alignment.steps import Block, Prepare, ReadSource, steps
from engine.errors import DataError, UsageError
from schemas.alignment import AlignmentSpec, Attribute, leaf_rules

__all__ = ["FitResult", "fit"]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.int8]

#: An unsupervised fit of a larger align side (not a deduplication) samples this many of its
#: records (see the module's docstring).
FIT_RECORDS = 10_000
#: Pairs compared at once when computing distances.
CHUNK = 200_000
#: The match-probability threshold of an unsupervised fit (a pair more likely a match than not),
#: unless the spec's model already has one (the user's choice is kept).
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class FitResult:
    """The fitted model and what the user should know about the fit."""

    model: Model
    mode: str
    candidates: int
    sampled: int
    notes: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)


def _sample(records: Records, size: int, seed: int = SEED) -> Records:
    """``size`` records drawn at random (seeded; every row of a record drawn kept), in order."""
    first = records.representatives()
    record = np.arange(len(records)) if first is None else first
    starts = np.unique(record)
    chosen = np.sort(np.random.default_rng(seed).choice(starts, size=size, replace=False))
    return records.take(np.isin(record, chosen))


def _read_and_block(spec: AlignmentSpec, spec_file: Path, *, sample: bool) -> AlignmentState:
    """Read, prepare and block as a run does (a fit publishes nothing: no store credentials).

    ``sample``: an align side of more than :data:`FIT_RECORDS` records is cut
    to a seeded sample of that many, before it is prepared and blocked (see
    :func:`fit`).
    """
    state = AlignmentState(spec=spec.model_copy(update={"publish": None}), spec_file=str(spec_file))
    for step in steps(spec):
        if isinstance(step, ReadSource | Prepare | Block):
            HANDLERS[type(step)](step, state)
        if isinstance(step, ReadSource) and step.role == "align" and step.session is None:
            side = state.sides["align"]
            count = side.records.record_count
            if sample and not spec.dedup and count > FIT_RECORDS:
                side.records = _sample(side.records, FIT_RECORDS)
                state.warnings.append(
                    f"fitted on {FIT_RECORDS:,} of the {count:,} records of the align side,"
                    " drawn at random (seeded) against the whole target side: their matches"
                    " are enough to learn the model"
                )
    return state


def _cuts(spec: AlignmentSpec, attribute: Attribute) -> tuple[float, ...]:
    """The attribute's cut points: those of the spec's model if it has one, else the default."""
    if spec.model is not None and attribute.name in spec.model.attributes:
        return tuple(spec.model.attributes[attribute.name].levels)
    metric = METRICS[attribute.metric.name].func()
    return default_cuts(attribute.metric.name, metric.bounded(attribute.metric.options))


def _layout(records: Records) -> tuple[Ints, Ints]:
    """Each row's record's first row, and each row's record's number of rows.

    Records with several values are several contiguous rows (``values: all``,
    ``split``); the others are one row each.
    """
    first = records.representatives()
    if first is None:
        rows = np.arange(len(records), dtype=np.int64)
        return rows, np.ones(len(records), dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, first[1:] != first[:-1]])
    counts = np.diff(np.r_[starts, len(first)])
    return first.astype(np.int64), np.repeat(counts, counts).astype(np.int64)


class _Levels:
    """Comparison levels of pairs of records.

    A record with several rows (several values) is compared through every
    pair of its rows, and keeps the closest (the smallest sum of levels), as a
    run keeps the pair of rows that scores best.
    """

    def __init__(self, state: AlignmentState, cuts: Sequence[tuple[float, ...]]) -> None:
        spec = state.spec
        self.attributes = [a.model_copy(update={"weight": 0.0}) for a in spec.attributes]
        self.cuts = cuts
        self.task: CompareTask = compare_task(
            self.attributes,
            state.sides["align"].prepared,
            state.sides["target"].prepared,
            0.0,
            spec.dedup,
        )
        self.dedup = spec.dedup
        self.first_a, self.count_a = _layout(state.records("align"))
        self.first_b, self.count_b = _layout(state.records("target"))
        #: How far each level is, for choosing among a record pair's rows (missing: halfway).
        self.scale = [np.r_[np.arange(len(c) + 1) / max(1, len(c)), 0.5] for c in cuts]

    @property
    def single(self) -> bool:
        """Whether every record is one row (one value per attribute)."""
        return bool((self.count_a == 1).all() and (self.count_b == 1).all())

    def distances(self, a: int, ia: Ints, ib: Ints) -> Floats:
        """The ``a``-th attribute's distances of pairs of rows (``ia < ib`` in a dedup)."""
        job = self.task.attributes[a]
        metric = METRICS[job.metric].func()
        d: Floats = metric.compute(
            self.task.align[job.name], self.task.target[job.name], ia, ib, job.options
        )
        return d

    def records(self, side: str) -> Ints:
        """The first row of each record of a side: the row that stands for the record."""
        first = self.first_a if side == "align" else self.first_b
        return np.flatnonzero(first == np.arange(len(first))).astype(np.int64)

    def _rows(self, ia: Ints, ib: Ints) -> Matrix:
        if self.dedup:  # the compare stage takes a deduplication's pairs as i < j
            ia, ib = np.minimum(ia, ib), np.maximum(ia, ib)
        out = np.zeros((len(ia), len(self.attributes)), dtype=np.int8)
        for start in range(0, len(ia), CHUNK):
            part = compare_chunk(self.task, ia[start : start + CHUNK], ib[start : start + CHUNK])
            for a, attribute in enumerate(self.attributes):
                d = part.distances[attribute.name]
                out[start : start + len(d), a] = cut(d, self.cuts[a])
        return out

    def _closest(self, group: Ints, levels: Matrix) -> tuple[Ints, Matrix]:
        """Per group (sorted group numbers), the index of its closest row pair, and its levels."""
        score = np.zeros(len(levels))
        for a, scale in enumerate(self.scale):
            score += scale[levels[:, a].astype(np.int64)]  # MISSING (-1): the last entry
        order = np.lexsort((score, group))
        first = np.r_[True, group[order][1:] != group[order][:-1]]
        chosen = order[first]
        return chosen, levels[chosen]

    def of(self, ia: Ints, ib: Ints) -> Matrix:
        """The levels of pairs of records, given by their first rows (distinct records)."""
        if self.dedup:
            keep = ia != ib
            ia, ib = ia[keep], ib[keep]
        if self.single:
            return self._rows(ia, ib)
        ca, cb = self.count_a[ia], self.count_b[ib]
        n = ca * cb
        group = np.repeat(np.arange(len(ia), dtype=np.int64), n)
        k = np.arange(int(n.sum()), dtype=np.int64) - np.repeat(np.cumsum(n) - n, n)
        rows_a = ia[group] + k // cb[group]
        rows_b = ib[group] + k % cb[group]
        _, levels = self._closest(group, self._rows(rows_a, rows_b))
        return levels

    def candidates(self, rule: BlockingRule) -> tuple[Pairs, Matrix]:
        """Every candidate pair of records of ``rule`` (each once, by first rows) and its levels.

        Compared batch by batch with this object's task, whose encoding of
        the sides (the compiled kernel's) is then made once for the whole fit.
        """
        ia, ib, rows = [], [], []
        for batch in batches(rule, dedup=self.dedup):
            part = compare_batch(self.task, batch)
            ia.append(part.ia)
            ib.append(part.ib)
            matrix = np.zeros((len(part.ia), len(self.attributes)), dtype=np.int8)
            for a, attribute in enumerate(self.attributes):
                matrix[:, a] = cut(part.distances[attribute.name], self.cuts[a])
            rows.append(matrix)
        if not rows:
            empty = np.zeros(0, np.int64)
            return Pairs(empty, empty, np.zeros(0)), np.zeros((0, len(self.attributes)), np.int8)
        left, right = self.first_a[np.concatenate(ia)], self.first_b[np.concatenate(ib)]
        levels = np.concatenate(rows)
        if self.single:
            return Pairs(left, right, np.zeros(len(left))), levels
        if self.dedup:  # rows of one record are no pair; each pair of records once
            left, right = np.minimum(left, right), np.maximum(left, right)
            keep = left != right
            left, right, levels = left[keep], right[keep], levels[keep]
        _, group = np.unique(left * len(self.first_b) + right, return_inverse=True)
        chosen, levels = self._closest(group.ravel().astype(np.int64), levels)
        return Pairs(left[chosen], right[chosen], np.zeros(len(chosen))), levels


@dataclass(frozen=True)
class _U:
    """u per attribute, the random pairs drawn, and the attributes whose levels vary."""

    u: list[Floats]
    sampled: int
    varied: list[bool]


def _u(state: AlignmentState, levels: _Levels) -> _U:
    """u per attribute (``engine.alignment.fit.u``): equal values counted, the rest sampled.

    Records with several values (several rows) are compared as a run compares
    them, by their closest rows: there, every level comes from a larger sample.
    """
    spec = state.spec
    firsts_a, firsts_b = levels.records("align"), levels.records("target")
    counts = [len(c) + 1 for c in levels.cuts]
    if not levels.single:
        ra, rb = random_pairs(len(firsts_a), len(firsts_b), dedup=spec.dedup, size=SAMPLE)
        sample = levels.of(firsts_a[ra], firsts_b[rb])
        u = [level_frequencies(sample[:, a], c) for a, c in enumerate(counts)]
        varied = [len(np.unique(column[column != MISSING])) > 1 for column in sample.T]
        return _U(u, len(ra), varied)
    ra, rb = random_pairs(len(firsts_a), len(firsts_b), dedup=spec.dedup, size=UNEQUAL_SAMPLE)
    sample = levels.of(ra, rb)
    u, varied = [], []
    for a, attribute in enumerate(spec.attributes):
        codes_a, codes_b = shared_codes(
            state.sides["align"].normalised[attribute.name],
            None if spec.dedup else state.sides["target"].normalised[attribute.name],
        )
        equal = equal_pairs(codes_a, codes_b, dedup=spec.dedup)
        equal_levels = cut(levels.distances(a, equal.ia, equal.ib), levels.cuts[a])
        differ = (codes_a[ra] >= 0) & (codes_b[rb] >= 0) & (codes_a[ra] != codes_b[rb])
        unequal_levels = sample[differ, a]
        u.append(stratified_frequencies(equal, equal_levels, unequal_levels, counts[a]))
        seen = np.r_[equal_levels[equal.pairs > 0], unequal_levels]
        varied.append(len(np.unique(seen[seen != MISSING])) > 1)
    return _U(u, len(ra), varied)


def _sessions(
    state: AlignmentState, pairs: Pairs, levels: Matrix, u: Sequence[Floats]
) -> list[em.Session]:
    """One training session per blocking rule, each with the attributes it reads held out.

    Also held out: the attributes that go with the rule's key (``em.goes_with_key``).

    A rule's pairs are the candidates it contains (the union compared them once).
    """
    spec, rule = state.spec, state.rule
    assert rule is not None
    if spec.blocking.name == "union":
        members = list(zip(spec.blocking.options, rule.rules, strict=True))  # type: ignore[attr-defined]
    else:
        members = [(spec.blocking, rule)]
    names = [a.name for a in spec.attributes]
    out = []
    for ref, member in members:
        used = {
            name for leaf in leaf_rules(ref) for name in getattr(leaf.options, "attributes", [])
        }
        mine = member.contains(pairs.ia, pairs.ib)
        if spec.dedup:  # a rule sees the records twice: a pair either way round is its pair
            mine |= member.contains(pairs.ib, pairs.ia)
        rows, counts = em.patterns(levels[mine])
        blocked = tuple(name in used for name in names)
        along = em.goes_with_key(rows, counts, u, blocked)
        held = tuple(b or a for b, a in zip(blocked, along, strict=True))
        out.append(em.Session(member.label, rows, counts, held, along))
    return out


def _total_pairs(levels: _Levels) -> int:
    n_align, n_target = len(levels.records("align")), len(levels.records("target"))
    return n_align * (n_align - 1) // 2 if levels.dedup else n_align * n_target


def _doubts(names: Sequence[str], m: Sequence[Floats], u: Sequence[Floats]) -> list[str]:
    """What makes an unsupervised fit doubtful, for the user to read."""
    doubts = []
    if len(names) < 3:
        doubts.append(
            f"only {len(names)} attribute(s): EM needs at least three to tell matches from"
            " non-matches (with fewer the model is not identifiable); fit with --gold"
        )
    bits = [
        np.abs(np.log2(np.maximum(a, 1e-12) / np.maximum(b, 1e-12)))
        for a, b in zip(m, u, strict=True)
    ]
    if all(float(b.max()) < 1.0 for b in bits):
        doubts.append(
            "no level is evidence either way (m = u): the candidate pairs look like random"
            " pairs; block on something the matches share, add attributes, or fit with --gold"
        )
    return doubts


def _nothing_to_fit(
    spec: AlignmentSpec, spec_file: Path, candidates: int, varied: Sequence[bool]
) -> None:
    """A data error when the sources give the fit nothing to learn from (no model is written)."""
    sources = f"{spec_file} (its sources as read and blocked)"
    if not candidates:
        raise DataError(
            sources,
            "no candidate pairs: the blocking proposes no pair of records, so there is nothing"
            " to fit the model from; check the blocking keys (do the sides share any value?)",
        )
    if not any(varied):
        raise DataError(
            sources,
            "the records do not differ: random pairs of records compare at the same level on"
            " every attribute, so no attribute can tell matches from non-matches and there is"
            " nothing to fit the model from",
        )


def _term_frequency(spec: AlignmentSpec, asked: Sequence[str]) -> set[str]:
    """The attributes adjusted for term frequency: those asked for, and those the model was."""
    names = [a.name for a in spec.attributes]
    for name in asked:
        if name not in names:
            raise UsageError(
                f"--term-frequency: no attribute '{name}' (attributes: {', '.join(names)})"
            )
    kept = (
        set()
        if spec.model is None
        else {name for name, levels in spec.model.attributes.items() if levels.term_frequency}
    )
    return (set(asked) | kept) & set(names)


def fit(
    spec: AlignmentSpec,
    spec_file: Path,
    *,
    gold: Path | None = None,
    term_frequency: Sequence[str] = (),
) -> FitResult:
    """Fit the spec's model (see the module's docstring).

    ``term_frequency``: attributes whose exact agreements weigh by the value's
    frequency (besides those the spec's model already adjusts).
    """
    adjusted = _term_frequency(spec, term_frequency)
    # Labels name records: a supervised fit reads them all.
    state = _read_and_block(spec, spec_file, sample=gold is None and not spec.curation)
    cuts = [_cuts(spec, a) for a in spec.attributes]
    levels = _Levels(state, cuts)
    names = [a.name for a in spec.attributes]
    random = _u(state, levels)
    u = random.u
    assert state.rule is not None
    pairs, candidate_levels = levels.candidates(state.rule)
    _nothing_to_fit(spec, spec_file, len(pairs), random.varied)
    everything = em.patterns(candidate_levels)
    total = _total_pairs(levels)
    notes: list[str] = list(state.warnings)
    scores: dict[str, float] = {}
    if gold is None and not spec.curation:
        fitted = em.fit(_sessions(state, pairs, candidate_levels, u), everything, u, names, total)
        m, prior = fitted.m, fitted.prior
        notes += fitted.notes
        threshold = spec.model.threshold if spec.model is not None else DEFAULT_THRESHOLD
        mode = "unsupervised (EM)"
        notes += _doubts(names, m, u)
    else:
        m, prior, threshold, scores = _supervised(
            state, levels, gold, pairs.ia, pairs.ib, everything, u, total, notes
        )
        mode = "supervised" if gold is not None else "supervised (the curation's must-links)"
    model = Model(
        tuple(
            AttributeModel(
                name,
                cuts[a],
                tuple(float(x) for x in m[a]),
                tuple(float(x) for x in u[a]),
                name in adjusted and bool(cuts[a]) and cuts[a][0] == 0,
            )
            for a, name in enumerate(names)
        ),
        prior,
        threshold,
    )
    return FitResult(rounded(model), mode, len(pairs), random.sampled, notes, scores)


def _labels(
    state: AlignmentState, gold_file: Path | None, notes: list[str]
) -> tuple[Ints, Ints, str]:
    """The matches to learn from: the gold file's links and the curation's must-links.

    A cannot-link is never learnt from as a match (it is taken out of the gold
    links), but not as a non-match either: the fit takes no pair for a
    non-match, the candidates' prior stands for them.
    """
    spec = state.spec
    align, target = state.records("align"), state.records("target")
    target_source = spec.sources.align if spec.dedup else spec.sources.target
    assert not isinstance(target_source, str)
    ia, ib = np.zeros(0, np.int64), np.zeros(0, np.int64)
    sources = []
    if gold_file is not None:
        gold = evaluate.read_gold(
            gold_file, align, target, spec.sources.align.id, target_source.id, spec.dedup
        )
        warning = gold.warning()
        if warning is not None:
            notes.append(warning)
        ia, ib = gold.ia.astype(np.int64), gold.ib.astype(np.int64)
        sources.append(str(gold_file))
    if spec.curation:
        curation = read_curation(
            spec.curation, align, target, spec.sources.align.id, target_source.id, dedup=spec.dedup
        )
        ma, mb = curation.arrays("must")
        ca, cb = curation.arrays("cannot")
        width = max(len(target), 1)
        keys = np.union1d(ia * width + ib, ma * width + mb)
        keys = np.setdiff1d(keys, ca * width + cb)
        ia, ib = keys // width, keys % width
        sources.append(", ".join(str(p) for p in spec.curation))
        notes.append(
            f"labels: {len(ma):,} must-links of the curation"
            + (
                f" besides the gold links; its {len(ca):,} cannot-links are not matches"
                if gold_file
                else f"; its {len(ca):,} cannot-links are not matches"
            )
        )
    return ia, ib, " and ".join(sources)


def _supervised(
    state: AlignmentState,
    levels: _Levels,
    gold_file: Path | None,
    ia: Ints,
    ib: Ints,
    everything: tuple[Matrix, Floats],
    u: list[Floats],
    total: int,
    notes: list[str],
) -> tuple[list[Floats], float, float, dict[str, float]]:
    """m from the gold links, the prior over the candidates, the threshold by cross-validation.

    See ``supervised``: the gold links are matches, perhaps a sample of them.
    """
    spec = state.spec
    target = state.records("target")
    ga, gb, source = _labels(state, gold_file, notes)
    if spec.dedup:
        ga, gb = np.minimum(ga, gb), np.maximum(ga, gb)
        keep = ga < gb
        ga, gb = ga[keep], gb[keep]
    width = max(len(target), 1)
    codes = np.unique(ga * width + gb)
    ga, gb = codes // width, codes % width
    if not len(ga):
        raise DataError(source, "no gold link names records of the sources: nothing to learn from")
    match_levels = levels.of(ga, gb)
    counts = [len(x) for x in u]
    m = supervised.m_from_matches(match_levels, counts)
    rows, weights = everything
    prior = em.random_prior(rows, weights, m, u, total)
    # Recall from the gold links scored out of fold, precision from the model's expectation.
    match_folds = supervised.folds(len(ga))
    held_out = supervised.out_of_fold(match_levels, match_folds, u, prior)
    scored = probability_of(pattern_weights(rows, m, u, [True] * len(u)) + weight_of(prior))
    candidates = np.repeat(scored, weights.astype(np.int64))
    choice = supervised.choose_threshold(candidates, held_out)
    codes_found = ia * width + ib
    missed = int((~np.isin(codes, codes_found)).sum())
    if missed:
        notes.append(
            f"{missed:,} of the {len(codes):,} gold links are not candidate pairs"
            " (the blocking never proposes them): no threshold can find them"
        )
    scores = {
        "gold_links": float(len(codes)),
        "estimated_f1": choice.f1,
        "estimated_precision": choice.precision,
        "estimated_recall": choice.recall,
        "gold_links_recall": choice.labelled_recall,
    }
    return m, prior, choice.threshold, scores
