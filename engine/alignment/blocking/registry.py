"""Text about blocking rules: one line per rule for plans and reports, and why a rule found no pair.

Pure functions of the spec and of the rules' keys; the pipeline builds the rules.
"""

from __future__ import annotations

from typing import Any

from engine.alignment.blocking import minhash_bands
from schemas.base import Ref

__all__ = ["describe_blocking", "minhash_split", "why_no_pairs"]

#: Blocking rules on points (coordinates), whose keys are tuples.
POINT_RULES = ("kdtree", "balltree", "kmeans")


def describe_blocking(blocking: Ref) -> str:
    """One line describing a blocking spec (groups nest in parentheses)."""
    name, options = blocking.name, blocking.options
    if name == "none":
        return "none (every align record meets every target record)"
    if name in ("union", "pipeline"):
        parts = [
            f"({describe_blocking(r)})" if r.name in ("union", "pipeline") else describe_blocking(r)
            for r in options
        ]
        if name == "union":
            text = "union of: " + "; ".join(parts)
        else:
            text = "pipeline: " + parts[0] + "".join(f"; kept if {p}" for p in parts[1:])
        budget = getattr(options, "max_pairs", None)
        return text + (f"; max_pairs {budget:,}" if budget is not None else "")

    def columns(ref: Any) -> str:
        return ",".join(str(c) for c in ref) if isinstance(ref, list) else str(ref)

    source = (
        f"attribute{'s' if isinstance(options.attribute, list) else ''} {columns(options.attribute)}"
        if options.attribute
        else f"columns {columns(options.align)}/{columns(options.target if options.target is not None else options.align)}"
    )
    chain = " | ".join(r.name for r in options.normalise)
    text = f"{name} on {source}" + (f" ({chain})" if chain else "")
    if name == "sorted_neighbourhood":
        text += f", window {options.window}"
    elif name == "qgram":
        padded = " padded" if options.padding else ""
        text += (
            f", {options.q}-grams{padded}, min_common {options.min_common},"
            f" max_block {options.max_block:,}"
        )
    elif name == "minhash":
        bands, rows = minhash_split(options)
        shingles = "tokens" if options.shingles == "tokens" else f"{options.q}-grams"
        text += f", {shingles}, {bands} bands x {rows} rows"
        if options.bands is None:
            text += f" (threshold {options.threshold:g})"
    elif name == "tfidf":
        low, high = options.ngrams
        text += f", top {options.top_k} by char {low}-{high}-gram cosine"
        if options.min_similarity:
            text += f" >= {options.min_similarity:g}"
        if options.max_df < 1:
            text += f", max_df {options.max_df:g}"
    elif name in ("kdtree", "balltree"):
        if options.radius_km is not None:
            text += f", within {options.radius_km:g} km (haversine, {options.order})"
        else:
            text += f", within {options.radius:g} (euclidean)"
    elif name == "kmeans":
        text += f", {options.clusters:,} clusters, nearest {options.nearest}"
        if options.coordinates:
            text += f" (coordinates {options.coordinates})"
    if options.max_pairs is not None:
        text += f", max_pairs {options.max_pairs:,}"
    return text


def minhash_split(options: Any) -> tuple[int, int]:
    """The ``(bands, rows)`` of a minhash rule: given, or chosen for its threshold."""
    if options.bands is not None:
        return int(options.bands), int(options.rows)
    return minhash_bands(options.threshold, options.num_perm)


def _shown_key(value: Any) -> str:
    if isinstance(value, tuple | list):
        return "(" + ", ".join(str(v) for v in value) + ")"
    return repr(value)


def why_no_pairs(name: str, align: list[Any], target: list[Any]) -> str:
    """Why a leaf rule named ``name`` found no pair, from what its keys look like on each side."""
    samples: list[str] = []
    for role, keys in (("align", align), ("target", target)):
        first = next((k for k in keys if k is not None and k != ""), None)
        if first is None:
            return f"every {role} record's blocking key is missing"
        what = "points" if name in POINT_RULES else "keys"
        samples.append(f"{role} {what} look like {_shown_key(first)}")
    looks = ", ".join(samples)
    if name == "key":
        return f"the two sources share no key ({looks})"
    if name in ("kdtree", "balltree"):
        return (
            f"no align point is within reach of a target point ({looks});"
            " check the order of the coordinate columns on each side"
        )
    return f"no align key comes close enough to a target key ({looks})"
