"""Nazca 3.2.2 on a Febrl-like task: the spec's keys, Nazca's processings, a threshold.

Blocking: Nazca's ``KeyBlocking`` on each blocking key of the specengine spec (a key column
computed by ``common.key_value``, appended to each record). Nazca's ``PipelineBlocking``
intersects blockings, so a small ``UnionBlocking`` yields the blocks of each one in turn: a
pair found by two keys is compared twice (Nazca keeps each pair once in its result).
Processings, with the spec's weights: Nazca has no Jaro-Winkler, so names and suburb use its
``DifflibProcessing`` (1 - difflib ratio, in [0, 1]); address_1, postcode, date_of_birth and
soc_sec_id its ``LevenshteinProcessing`` with ``matrix_normalized`` (d -> 1 - 1 / (1 + d));
street_number and state ``ExactMatchProcessing``. A missing value gives 1 (Nazca's rule).
Pairs whose weighted distance is within the spec's threshold (5.5, not tuned) are kept, then
linked one-to-one greedily (closest first); Nazca itself offers only best-per-record
(``unique=True``).
"""

from __future__ import annotations

import time

from common import (
    ATTRIBUTES,
    FIELDS,
    args,
    key_value,
    nazca_links,
    read_rows,
)
from nazca.rl.aligner import BaseAligner
from nazca.rl.blocking import BaseBlocking, KeyBlocking
from nazca.utils.distances import DifflibProcessing, ExactMatchProcessing, LevenshteinProcessing

THRESHOLD = 5.5


class UnionBlocking(BaseBlocking):
    """The blocks of several blockings, one after the other (a union of candidate pairs)."""

    def __init__(self, blockings: list[BaseBlocking]) -> None:
        super().__init__(None, None)
        self.blockings = blockings

    def _fit(self, refset, targetset):  # type: ignore[no-untyped-def]
        for blocking in self.blockings:
            blocking.fit(refset, targetset)

    def _iter_blocks(self):  # type: ignore[no-untyped-def]
        for blocking in self.blockings:
            yield from blocking.iter_blocks()

    def _cleanup(self):  # type: ignore[no-untyped-def]
        for blocking in self.blockings:
            blocking.cleanup()


def _identity(value: str) -> str:
    return value


def main() -> None:
    align, target, out, keys = args()
    t0 = time.perf_counter()
    columns = ("rec_id", *FIELDS)

    def record(row: dict[str, str]) -> list[str]:
        # Keys as extra columns: Nazca's KeyBlocking reads one column; "" is no key.
        return [row[c] for c in columns] + [key_value(row.get, k) or "" for k in keys]

    refset = [record(r) for r in read_rows(align)]
    targetset = [record(r) for r in read_rows(target)]
    index = {c: i for i, c in enumerate(columns)}
    blockings: list[BaseBlocking] = [
        KeyBlocking(len(columns) + k, len(columns) + k, _identity, ignore_none=True)
        for k in range(len(keys))
    ]
    processings = []
    for field, kind, weight in ATTRIBUTES:
        i = index[field]
        if kind == "exact":
            processings.append(ExactMatchProcessing(i, i, weight=weight))
        elif kind == "jaro_winkler":
            processings.append(DifflibProcessing(i, i, weight=weight))
        else:
            processings.append(LevenshteinProcessing(i, i, weight=weight, matrix_normalized=True))
    aligner = BaseAligner(threshold=THRESHOLD, processings=processings)
    aligner.register_blocking(UnionBlocking(blockings))
    nazca_links(
        aligner,
        refset,
        targetset,
        out,
        t0,
        candidate_pairs_note="compared, with repeats across keys",
    )


if __name__ == "__main__":
    main()
