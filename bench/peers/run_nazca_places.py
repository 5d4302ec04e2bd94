"""Nazca 3.2.2 on a geographic task: its ``KdTreeBlocking``, then names and distances.

The configuration is ``specs/places-geographic.yaml`` read by the harness
(``peers.places_config``, JSON): the kd-tree radius, each attribute's weight, the
names' normalisation and the threshold. As in the reference's cities example, each record
is ``[id, name, (lat, long)]`` and ``KdTreeBlocking`` builds scipy kd-trees on the
``(lat, long)`` tuples (euclidean on degrees) and pairs each align place with the target
places within the radius: the very pairs of the spec's ``radius`` rule. Names go through
Nazca's normalizers (``UnicodeNormalizer``: accents off and lower case, then
``SimplifyNormalizer`` without stopwords: punctuation to spaces, and a regular expression
replacement, as the spec's chain ``unaccent, simplify, regex_replace``), then Nazca's
``LevenshteinProcessing`` (raw edits, the spec's ``levenshtein``): Nazca's ``levenshtein``
splits values with a space into tokens, so for the spec's ``tokens: false`` the spaces of
the normalised names become ``_`` (which ``simplify`` leaves in no name) and the whole names
are compared, edit for edit as the engine does; points its ``GeographicalProcessing`` in km. Pairs whose weighted distance is within the spec's
threshold are linked one-to-one greedily (closest first); Nazca itself offers only
best-per-record (``unique=True``).
"""

from __future__ import annotations

import csv
import re
import sys
import time
from pathlib import Path
from typing import Any

from common import args, nazca_links
from nazca.rl.aligner import BaseAligner
from nazca.rl.blocking import KdTreeBlocking
from nazca.utils.distances import GeographicalProcessing, LevenshteinProcessing
from nazca.utils.normalize import (
    BaseNormalizer,
    NormalizerPipeline,
    SimplifyNormalizer,
    UnicodeNormalizer,
)

NAME, POINT = 1, 2  # record = [id, name, (lat, long)]


def read(path: Path, name: str, point: list[str]) -> list[list[Any]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [
            [row["id"], row[name], (float(row[point[0]]), float(row[point[1]]))]
            for row in csv.DictReader(fh)
        ]


def _whole(value: str) -> str:
    return value.replace(" ", "_")


def normalizer(chain: list[list[Any]], tokens: bool) -> NormalizerPipeline:
    """The spec's normalisation of names, with Nazca's normalizers."""
    steps: list[BaseNormalizer] = []
    for step, options in chain:
        if step == "unaccent":
            # lunormalize: unormalize and lower case; every letter of the generated names has
            # an ASCII form there (the substitute is never used).
            steps.append(UnicodeNormalizer(NAME, substitute=" "))
        elif step == "lowercase":
            steps.append(BaseNormalizer(str.lower, NAME))
        elif step == "simplify":
            steps.append(SimplifyNormalizer(NAME, remove_stopwords=False))
        elif step == "regex_replace":
            pattern = re.compile(options["pattern"])
            replacement = options.get("replacement", "")
            steps.append(BaseNormalizer(lambda s, p=pattern, r=replacement: p.sub(r, s), NAME))
        else:
            raise SystemExit(f"unknown normalisation {step!r}")
    if not tokens:
        steps.append(BaseNormalizer(_whole, NAME))
    return NormalizerPipeline(steps)


def main() -> None:
    align, target, out, config = args()
    t0 = time.perf_counter()
    (name,) = {a["field"] for a in config["attributes"] if a["kind"] == "levenshtein"}
    refset = read(align, name, config["points"])
    targetset = read(target, name, config["points"])
    processings = []
    chain: list[list[Any]] = []
    tokens = True
    for a in config["attributes"]:
        if a["kind"] == "levenshtein":
            chain, tokens = a["normalise"], a["tokens"]
            processings.append(LevenshteinProcessing(NAME, NAME, weight=a["weight"]))
        elif a["kind"] == "geographic":
            if a["fields"] != config["points"]:
                raise SystemExit("the geographic attribute must be the kd-tree's columns")
            processings.append(
                GeographicalProcessing(POINT, POINT, units=a["unit"], weight=a["weight"])
            )
        else:
            raise SystemExit(f"unknown attribute kind {a['kind']!r}")
    aligner = BaseAligner(threshold=config["threshold"], processings=processings)
    aligner.register_ref_normalizer(normalizer(chain, tokens))
    aligner.register_target_normalizer(normalizer(chain, tokens))
    aligner.register_blocking(KdTreeBlocking(POINT, POINT, threshold=config["radius"]))
    nazca_links(aligner, refset, targetset, out, t0)


if __name__ == "__main__":
    sys.exit(main())
