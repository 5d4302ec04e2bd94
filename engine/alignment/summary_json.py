"""The figures of an alignment's plan, run and evaluation as plain data, for ``--json``.

Built from the state the steps filled in, with the same figures as the text of
``engine plan``, ``engine run`` and ``engine eval``; the CLI wraps them in its
document (``engine.documents``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.alignment import identity
from engine.alignment.blocking import Union, describe
from engine.alignment.state import AlignmentState

if TYPE_CHECKING:
    from engine.kinds import Plan

__all__ = ["eval_figures", "plan_figures", "run_figures"]


def _side(state: AlignmentState, role: str) -> dict[str, Any]:
    records = state.records(role)
    side: dict[str, Any] = {"source": records.source, "records": records.record_count}
    if records.record is not None:  # records with several values: a row per combination
        side["rows"] = len(records)
    side["skipped"] = [{"row": skip.row, "reason": skip.reason} for skip in records.skipped]
    return side


def _sources(state: AlignmentState) -> dict[str, Any]:
    return {role: _side(state, role) for role in ("align", "target") if role in state.sides}


def _pairs(pairs: list[tuple[str, str]]) -> list[list[str]]:
    return [[a, b] for a, b in pairs]


def _diff(diff: Any) -> dict[str, Any] | None:
    """A publish difference: every added, removed and re-scored link, and the counts."""
    if diff is None:
        return None
    return {
        "added": _pairs(diff.added),
        "removed": _pairs(diff.removed),
        "rescored": _pairs(diff.rescored),
        "unchanged": diff.unchanged,
        "foreign": diff.foreign,
        "changes": bool(diff.changes),
    }


def _members(blocking: Any) -> list[Any]:
    options = blocking.options
    return list(options) if isinstance(options, list) else list(getattr(options, "rules", []))


def _blocking(state: AlignmentState) -> dict[str, Any] | None:
    if state.rule is None:
        return None
    spec = state.spec
    n_align, n_target = len(state.records("align")), len(state.records("target"))
    full = n_align * (n_align - 1) // 2 if spec.dedup else n_align * n_target
    rules = [
        {"description": describe(ref), "estimated_pairs": member.estimate()}
        for ref, member in zip(
            _members(spec.blocking), getattr(state.rule, "rules", []), strict=False
        )
    ]
    return {
        "description": describe(spec.blocking),
        "estimated_pairs": state.estimated_pairs,
        "all_pairs": full,
        "rules": rules,
        "warnings": list(state.rule.warnings),
    }


def _publish(state: AlignmentState) -> dict[str, Any] | None:
    publish = state.spec.publish
    if publish is None:
        return None
    return {
        "graph": publish.graph,
        "endpoint": publish.graph_store or publish.update,
        "links": None if state.links is None else len(state.links),
        "published": state.published,
        "diff": _diff(state.publish_diff),
    }


def _model(spec: Any) -> dict[str, Any] | None:
    """A fitted model: prior, threshold, and per attribute each level's m, u and match weight."""
    if spec.model is None:
        return None
    from engine.alignment.fit.model import Model, weight_of

    model = Model.from_data(spec.model.model_dump())
    return {
        "prior": model.prior,
        "prior_weight": weight_of(model.prior),
        "threshold": model.threshold,
        "attributes": [
            {
                "name": a.name,
                "term_frequency": a.term_frequency,
                "levels": [
                    {"level": name, "upper": upper, "m": m, "u": u, "weight": float(bits)}
                    for name, upper, m, u, bits in zip(
                        a.names(), [*a.cuts, None], a.m, a.u, a.bits(), strict=True
                    )
                ],
            }
            for a in model.attributes
        ],
    }


def _review(state: AlignmentState) -> dict[str, Any] | None:
    """The review band (as the spec gives it) and how many pairs a run sent for review."""
    band = state.spec.review
    if band is None:
        return None
    pairs = None if state.review is None else len(state.review)
    return {"from": band.start, "to": band.end, "pairs": pairs}


def plan_figures(plan: Plan, state: AlignmentState) -> dict[str, Any]:
    """What ``engine plan`` found: records per side, blocking estimate, publish difference."""
    spec = state.spec
    return {
        "sources": _sources(state),
        "dedup": spec.dedup,
        "attributes": [
            {
                "name": a.name,
                "align": [str(c) for c in a.align_columns],
                "target": [str(c) for c in a.target_columns],
                "normalise": a.normaliser_names,
                "metric": a.metric.name,
                "weight": a.weight,
                "missing": a.missing,
            }
            for a in spec.attributes
        ],
        "blocking": _blocking(state),
        "threshold": spec.threshold,
        "matching": spec.matching,
        "warnings": list(state.warnings),
        "model": _model(spec),
        "review": _review(state),
        "publish": _publish(state),
    }


def run_figures(state: AlignmentState) -> dict[str, Any]:
    """The summary of a run: records, comparisons, links, publishing, timings."""
    return {
        "sources": _sources(state),
        "estimated_pairs": state.estimated_pairs,
        "compared_pairs": state.compared_pairs,
        "under_threshold": state.under_threshold,
        "links": 0 if state.links is None else len(state.links),
        "matching": state.spec.matching,
        "model": _model(state.spec),
        "review": _review(state),
        "executor": state.executor,
        "warnings": [*state.warnings, *(state.rule.warnings if state.rule else [])],
        "publish": _publish(state),
        "clusters": identity.figures(state),
        "timings": {name: round(seconds, 6) for name, seconds in state.timings.items()},
    }


def _scores(scores: Any) -> dict[str, Any]:
    return {
        "found": scores.found,
        "gold": scores.gold,
        "true_positives": scores.true_positives,
        "precision": scores.precision,
        "recall": scores.recall,
        "f1": scores.f1,
    }


def eval_figures(
    state: AlignmentState, gold_path: Path | None, steps: int | list[float] = 10
) -> dict[str, Any]:
    """Precision, recall, F1, each blocking rule's quality and the threshold sweep.

    The same figures as ``engine eval``'s text (report.eval_text), from the same functions.
    """
    from engine.alignment import evaluate
    from engine.alignment.report import sweep_pairs

    spec = state.spec
    align, target = state.records("align"), state.records("target")
    gold, curation = evaluate.eval_gold(state, gold_path)
    assert state.pairs is not None and state.rule is not None
    ia, ib, distance = state.pairs.ia, state.pairs.ib, state.pairs.total
    (_, final), *_ = evaluate.sweep(
        ia, ib, distance, gold, [spec.threshold], spec.matching, len(target), spec.dedup
    )
    rules: list[tuple[str, object]] = []
    if isinstance(state.rule, Union):
        descriptions = [describe(r) for r in spec.blocking.options]
        rules.extend(zip(descriptions, state.rule.rules, strict=True))
        rules.append(("union", state.rule))
    else:
        rules.append((describe(spec.blocking), state.rule))
    blocking = []
    for quality in evaluate.blocking_quality(rules, gold, len(align), len(target), spec.dedup):
        candidates, reduction = quality.candidates, quality.reduction_ratio
        if quality.description == "union":
            # The compare step counted the union's distinct pairs exactly.
            full = len(align) * (len(align) - 1) // 2 if spec.dedup else len(align) * len(target)
            candidates = state.compared_pairs
            reduction = 1 - candidates / full if full else 0.0
        blocking.append(
            {
                "rule": quality.description,
                "candidates": candidates,
                "reduction_ratio": reduction,
                "pair_completeness": quality.pair_completeness,
            }
        )
    model = spec.model is not None
    steps = evaluate.distance_steps(steps, model)  # with a model, --steps are probabilities
    sa, sb, sd = sweep_pairs(state, evaluate.sweep_reach(steps, spec.threshold))
    thresholds = evaluate.sweep_thresholds(steps, spec.threshold, sd)
    sweep = [
        {
            "threshold": threshold,
            **({"probability": round(1 - threshold, 12)} if model else {}),
            "spec_threshold": math.isclose(threshold, spec.threshold, abs_tol=1e-12),
            **_scores(scores),
        }
        for threshold, scores in evaluate.sweep(
            sa, sb, sd, gold, thresholds, spec.matching, len(target), spec.dedup
        )
    ]
    return {
        "gold": {
            "path": gold.path,
            "links": len(gold.ia),
            "pairs_read": gold.read,
            "unresolved": [{"line": line, "id": value} for line, value in gold.unresolved],
            "warning": gold.warning(),
        },
        "threshold": spec.threshold,
        "matching": spec.matching,
        "links": _scores(final),
        "curation": None if curation is None else curation.figures(),
        "blocking": blocking,
        "sweep": sweep,
    }
