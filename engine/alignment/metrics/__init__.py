"""Distance metrics, registered by name, computed vectorised over candidate pairs.

``base``: what a metric offers and the table of metrics (``METRICS``);
``strings`` and ``numbers``: the metrics themselves. Importing this package
registers every metric.
"""

from __future__ import annotations

from engine.alignment.metrics import numbers, strings
from engine.alignment.metrics.base import METRICS, Metric, block, distance, distance_matrix
from engine.alignment.metrics.strings import StringColumn, clear_tables

__all__ = [
    "METRICS",
    "Metric",
    "StringColumn",
    "block",
    "clear_tables",
    "distance",
    "distance_matrix",
    "numbers",
    "strings",
]
