"""Blocking: candidate pairs without an N x M matrix.

One module per rule (``keys``: none and key, ``sorted_neighbourhood``,
``qgram``, ``minhash``, ``tfidf``, ``spatial``: radius (a KD or ball tree),
``kmeans``, ``combine``: union and pipeline), what they share in ``base`` and
``tokens``, and the registry of rules by name (``registry``): importing this
package registers every rule.
"""

from __future__ import annotations

from engine.alignment.blocking.base import (
    DEFAULT_CHUNK,
    BlockingRule,
    BlockingValueError,
    CodedKeys,
    GroupKind,
    RuleKind,
    codes,
    expand,
    factorise,
    first_appearance,
)
from engine.alignment.blocking.combine import Pipeline, Union
from engine.alignment.blocking.keys import KeyRule, NoBlocking
from engine.alignment.blocking.kmeans import KMeansRule
from engine.alignment.blocking.minhash import MinHashRule, minhash_bands, minhash_split, shingles
from engine.alignment.blocking.qgram import QGramRule, qgrams
from engine.alignment.blocking.registry import (
    RULES,
    build,
    describe,
    is_group,
    reads_codes,
    reads_points,
    reads_values,
    why_no_pairs,
)
from engine.alignment.blocking.sorted_neighbourhood import SortedNeighbourhoodRule
from engine.alignment.blocking.spatial import EARTH_RADIUS_KM, RadiusRule
from engine.alignment.blocking.tfidf import TfidfRule
from engine.alignment.blocking.tokens import SharedTokenRule

__all__ = [
    "DEFAULT_CHUNK",
    "EARTH_RADIUS_KM",
    "RULES",
    "BlockingRule",
    "BlockingValueError",
    "CodedKeys",
    "GroupKind",
    "KMeansRule",
    "KeyRule",
    "MinHashRule",
    "NoBlocking",
    "Pipeline",
    "QGramRule",
    "RadiusRule",
    "RuleKind",
    "SharedTokenRule",
    "SortedNeighbourhoodRule",
    "TfidfRule",
    "Union",
    "build",
    "codes",
    "describe",
    "expand",
    "factorise",
    "first_appearance",
    "is_group",
    "minhash_bands",
    "minhash_split",
    "qgrams",
    "reads_codes",
    "reads_points",
    "reads_values",
    "shingles",
    "why_no_pairs",
]
