"""What ``engine fit`` prints: the model as a table people can read, and as JSON figures."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.alignment.fit.model import Model, weight_of
from engine.alignment.fit.supervised import FOLDS

if TYPE_CHECKING:
    from engine.alignment.fit.job import FitResult

__all__ = ["attribute_text", "fit_figures", "fit_text", "threshold_text"]


def attribute_text(model: Model, name: str) -> str:
    """An attribute's levels in a plan: ``exact +7.7, <= 0.08 +6.7, > 0.08 -2.7`` (match weights)."""
    for attribute in model.attributes:
        if attribute.name == name:
            levels = zip(attribute.names(), attribute.bits(), strict=True)
            tf = " (exact: by term frequency)" if attribute.term_frequency else ""
            return "levels " + ", ".join(f"{level} {bits:+.1f}" for level, bits in levels) + tf
    return "no levels in the model"


def threshold_text(model: Model) -> str:
    """The model's decision in a plan: its threshold and prior."""
    return (
        f"keep pairs with match probability >= {model.threshold:g} (a fitted model: prior"
        f" {model.prior:.4g}; the distance of a pair is 1 - its probability)"
    )


def fit_text(result: FitResult, written: Path) -> str:
    """The fitted model: per attribute and level, m, u and the match weight (bits)."""
    model = result.model
    lines = [
        f"fitted ({result.mode}) from {result.candidates:,} candidate pairs"
        f" and {result.sampled:,} random pairs",
        "",
        f"{'attribute':<16} {'level':<10} {'m':>10} {'u':>12} {'weight':>8}",
    ]
    previous = ""
    adjusted = model.term_frequency()
    for name, level, m, u, bits in model.table():
        shown = name if name != previous else ""
        if name in adjusted and shown:
            level += " (tf)"
        previous = name
        lines.append(f"{shown:<16} {level:<10} {m:>10.4g} {u:>12.4g} {bits:>+8.2f}")
    lines += [
        "",
        f"prior (two random records match): {model.prior:.4g}"
        f" (match weight {weight_of(model.prior):+.2f})",
        f"threshold: match probability >= {model.threshold:g}"
        f" (match weight {weight_of(model.threshold):+.2f})",
    ]
    if result.scores:
        s = result.scores
        lines.append(
            f"threshold chosen on {int(s['gold_links']):,} gold links for the best estimated F1:"
            f" F1 {s['estimated_f1']:.4f}, the harmonic mean of precision"
            f" {s['estimated_precision']:.4f} (the matches the model expects among the pairs kept)"
            f" and recall {s['estimated_recall']:.4f} (of the matches the model expects among"
            f" the candidates); the gold links kept, {int(FOLDS)}-fold cross-validated:"
            f" {s['gold_links_recall']:.4f}"
        )
    if adjusted:
        lines.append(
            "(tf): an exact agreement weighs log2(m / the share of records with that value)"
            " instead of the weight shown"
        )
    lines += [f"note: {note}" for note in result.notes]
    lines.append(f"wrote the model into {written}")
    return "\n".join(lines)


def fit_figures(result: FitResult, written: Path) -> dict[str, Any]:
    """``engine fit --json``: the model, how it was fitted, where it was written."""
    return {
        "mode": result.mode,
        "candidates": result.candidates,
        "random_pairs": result.sampled,
        "model": result.model.to_data(),
        "scores": result.scores,
        "notes": result.notes,
        "written": str(written),
    }
