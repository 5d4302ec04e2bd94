"""Decisions appended to a curation SSSOM file: the rows curation.py reads, atomic, locked."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from engine.alignment.curation_write import (
    Decision,
    DecisionConflictError,
    append_decision,
    decided_pairs,
    name_curation,
)

A = "http://example.org/a/{}"
B = "http://example.org/b/{}"


def _decide(path: Path, k: int, accept: bool = True) -> bool:
    decision = Decision(A.format(k), B.format(k), accept, "orcid:0000-0001", "2026-12-07")
    return append_decision(path, decision, set_id="urn:x:curation", symmetric=False)


def test_a_new_file_has_a_header_with_its_curie_map_and_the_rows_read_back(
    tmp_path: Path,
) -> None:
    path = tmp_path / "curation.sssom.tsv"
    assert _decide(path, 1) and _decide(path, 2, accept=False)
    assert decided_pairs(path) == {
        (A.format(1), B.format(1)): True,
        (A.format(2), B.format(2)): False,
    }
    text = path.read_text(encoding="utf-8")
    assert "#  semapv: https://w3id.org/semapv/vocab/\n" in text
    assert "#mapping_set_id: urn:x:curation\n" in text
    assert not list(tmp_path.glob(".*"))  # no temporary, no lock file left


def test_the_same_decision_twice_writes_once_the_opposite_conflicts(tmp_path: Path) -> None:
    path = tmp_path / "curation.sssom.tsv"
    assert _decide(path, 1)
    before = path.read_bytes()
    assert not _decide(path, 1)
    with pytest.raises(DecisionConflictError, match="already accepted"):
        _decide(path, 1, accept=False)
    assert path.read_bytes() == before


def test_a_deduplication_decides_both_orders(tmp_path: Path) -> None:
    path = tmp_path / "curation.sssom.tsv"
    decision = Decision(A.format(1), A.format(2), True, "x:me", "2026-12-07")
    append_decision(path, decision, set_id="urn:x", symmetric=True)
    flipped = Decision(A.format(2), A.format(1), False, "x:me", "2026-12-07")
    with pytest.raises(DecisionConflictError):
        append_decision(path, flipped, set_id="urn:x", symmetric=True)


def test_an_existing_file_keeps_its_header_and_rows_and_gains_missing_columns(
    tmp_path: Path,
) -> None:
    path = tmp_path / "curation.sssom.tsv"
    path.write_text(
        "## a comment of the curators\n#curie_map:\n#  ex: http://example.org/a/\n"
        "subject_id\tobject_id\tmapping_justification\n"
        "ex:9\thttp://example.org/b/9\tsemapv:ManualMappingCuration\n",
        encoding="utf-8",
    )
    _decide(path, 1, accept=False)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[:3] == [
        "## a comment of the curators",
        "#curie_map:",
        "#  ex: http://example.org/a/",
    ]
    assert lines[3].split("\t")[:4] == [
        "subject_id",
        "object_id",
        "mapping_justification",
        "predicate_id",
    ]
    assert len(lines[4].split("\t")) == len(lines[3].split("\t"))
    assert decided_pairs(path) == {
        (A.format(9), B.format(9)): True,
        (A.format(1), B.format(1)): False,
    }


def _many(path: str, start: int) -> None:
    for k in range(start, start + 25):
        _decide(Path(path), k, accept=k % 2 == 0)


def test_writers_at_once_lose_no_row(tmp_path: Path) -> None:
    path = tmp_path / "curation.sssom.tsv"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_many, args=(str(path), n * 100)) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert len(decided_pairs(path)) == 100


def test_name_curation_appends_one_line_or_leaves_the_spec_alone(tmp_path: Path) -> None:
    spec = tmp_path / "people.yaml"
    spec.write_text("# my spec\nkind: alignment  # the kind\nname: people", encoding="utf-8")
    assert name_curation(spec, tmp_path / "people-curation.sssom.tsv")
    assert spec.read_text(encoding="utf-8") == (
        "# my spec\nkind: alignment  # the kind\nname: people\ncuration: people-curation.sssom.tsv\n"
    )
    before = spec.read_bytes()
    assert not name_curation(spec, tmp_path / "other.sssom.tsv")  # it has curation: already
    assert not name_curation(spec, tmp_path.parent / "outside.sssom.tsv")
    assert spec.read_bytes() == before
