"""Several values per attribute: rows per record, and the best distance per pair of records.

End to end: CSV cells split on a separator, and RDF dumps and SPARQL endpoints
(Oxigraph) read with ``values: all`` (every label and skos:altLabel in the
listed languages) find links that one value per record misses.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from engine.alignment.multivalued import collapse_pairs
from engine.alignment.records import Records
from engine.alignment.state import Pairs
from engine.cli import main
from tests.stores import Oxigraph


def _records(record: list[int] | None, n: int) -> Records:
    return Records(
        source="s",
        ids=[f"http://x/{i if record is None else record[i]}" for i in range(n)],
        names=["v"],
        columns={"v": [str(i) for i in range(n)]},
        rows=np.arange(2, n + 2, dtype=np.int64),
        record=None if record is None else np.asarray(record, dtype=np.int64),
    )


def _pairs(ia: list[int], ib: list[int], total: list[float]) -> Pairs:
    return Pairs(
        np.asarray(ia, dtype=np.int64),
        np.asarray(ib, dtype=np.int64),
        np.asarray(total, dtype=np.float64),
        {"v": np.asarray(total, dtype=np.float64) / 2},
    )


def test_representatives_are_each_record_s_first_row() -> None:
    records = _records([0, 0, 1, 2, 2, 2], 6)
    assert records.representatives().tolist() == [0, 0, 2, 3, 3, 3]  # type: ignore[union-attr]
    assert (records.record_count, len(records), _records(None, 3).record_count) == (3, 6, 3)
    assert _records(None, 3).representatives() is None
    taken = records.take(np.array([False, True, True, False, True, True]))
    assert taken.representatives().tolist() == [0, 1, 2, 2]  # type: ignore[union-attr]


def test_collapse_keeps_the_best_pair_of_rows_per_pair_of_records() -> None:
    align = _records([0, 0, 1], 3)  # record 0 has two rows
    target = _records([0, 1, 1, 2], 4)  # record 1 has two rows
    pairs = _pairs([0, 1, 0, 1, 2], [1, 2, 0, 3, 3], [0.4, 0.1, 0.3, 0.2, 0.5])
    out = collapse_pairs(pairs, align, target, dedup=False)
    # Records (0, 1): rows (0, 1) 0.4 and (1, 2) 0.1 -> 0.1, named by rows 0 and 1.
    assert list(zip(out.ia.tolist(), out.ib.tolist(), out.total.tolist(), strict=True)) == [
        (0, 0, 0.3),
        (0, 1, 0.1),
        (0, 3, 0.2),
        (2, 3, 0.5),
    ]
    assert out.distances["v"].tolist() == [0.15, 0.05, 0.1, 0.25]  # from the same rows


def test_collapse_in_a_deduplication() -> None:
    side = _records([0, 0, 1, 1], 4)
    pairs = _pairs([0, 0, 1, 2], [1, 2, 3, 3], [0.0, 0.3, 0.2, 0.1])
    out = collapse_pairs(pairs, side, side, dedup=True)
    # (0, 1) and (2, 3) are two values of one record each: not pairs.
    assert (out.ia.tolist(), out.ib.tolist(), out.total.tolist()) == ([0], [2], [0.2])


def test_without_several_values_nothing_changes() -> None:
    pairs = _pairs([0, 1], [1, 0], [0.1, 0.2])
    assert collapse_pairs(pairs, _records(None, 2), _records(None, 2), dedup=False) is pairs


# --------------------------------------------------------------------------- end to end

A, T = "http://example.org/a/", "http://example.org/t/"
TARGET = "id,name\n1,Germany\n2,London\n3,Holland\n4,Deutschland\n"


def _run(tmp_path: Path, align: str, matching: str = "all") -> set[tuple[str, str]]:
    (tmp_path / "target.csv").write_text(TARGET, encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"""kind: alignment
name: multi
sources:
  align: {align}
  target: {{csv: target.csv, id: {{template: "{T}{{id}}"}}}}
attributes:
  - {{name: name, align: label, target: name, metric: ratio, normalise: [lowercase]}}
threshold: 0.1
matching: {matching}
outputs:
  - {{csv: out/links.csv}}
""",
        encoding="utf-8",
    )
    assert main(["run", "-q", str(spec)]) == 0
    with (tmp_path / "out" / "links.csv").open(encoding="utf-8") as handle:
        return {(r["align_id"][len(A) :], r["target_id"][len(T) :]) for r in csv.DictReader(handle)}


def test_csv_cells_split_on_a_separator(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "align.csv").write_text(
        "id,label\n1,Allemagne|Germany|Deutschland\n2,Londres\n3,Pays-Bas| Holland |Holland\n",
        encoding="utf-8",
    )
    source = f'{{csv: align.csv, id: {{template: "{A}{{id}}"}}'
    assert _run(tmp_path, source + "}") == set()  # one value per cell: "Allemagne|Germany|..."
    found = _run(tmp_path, source + ', split: {label: "|"}}')
    assert found == {("1", "1"), ("1", "4"), ("3", "3")}
    capsys.readouterr()
    assert main(["plan", str(tmp_path / "spec.yaml")]) == 0
    assert "align.csv: 3 records (6 rows: one per combination of values)" in capsys.readouterr().out
    assert main(["run", "--json", str(tmp_path / "spec.yaml")]) == 0
    summary = json.loads(capsys.readouterr().out)["alignment"]
    assert (summary["sources"]["align"]["records"], summary["sources"]["align"]["rows"]) == (3, 6)
    assert "rows" not in summary["sources"]["target"]
    # one-to-one: a record is one record, however many values it has.
    assert _run(tmp_path, source + ', split: {label: "|"}}', "one-to-one") == {
        ("1", "1"),
        ("3", "3"),
    }


def test_eval_scores_records_not_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "align.csv").write_text(
        "id,label\n1,Allemagne|Germany\n2,Londres|London\n3,Pays-Bas|Holland\n",
        encoding="utf-8",
    )
    source = f'{{csv: align.csv, id: {{template: "{A}{{id}}"}}, split: {{label: "|"}}}}'
    assert _run(tmp_path, source, "one-to-one") == {("1", "1"), ("2", "2"), ("3", "3")}
    # Gold by IRI for one pair, by raw key for the others: each names the record once.
    (tmp_path / "gold.csv").write_text(f"align,target\n{A}1,{T}1\n2,2\n3,3\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "spec.yaml"), "--gold", str(tmp_path / "gold.csv")]) == 0
    out = capsys.readouterr().out
    assert "precision 1.0000" in out and "recall 1.0000" in out, out


def test_split_names_a_column_of_the_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "align.csv").write_text("id,label\n1,a|b\n", encoding="utf-8")
    (tmp_path / "target.csv").write_text(TARGET, encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"""kind: alignment
name: multi
sources:
  align: {{csv: align.csv, id: {{template: "{A}{{id}}"}}, split: {{lable: "|"}}}}
  target: {{csv: target.csv, id: {{template: "{T}{{id}}"}}}}
attributes:
  - {{name: name, align: label, target: name, metric: ratio}}
threshold: 0.1
""",
        encoding="utf-8",
    )
    # A spec error at the line, checked against the header before reading (engine/alignment/headers.py).
    assert main(["run", "-q", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "sources.align.split.lable:" in err
    assert "has no column 'lable'; did you mean 'label'?" in err


def test_a_deduplication_of_records_with_several_values(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text(
        "id,name\n1,Victor Hugo|V. Hugo\n2,Hugo Victor|Victor Hugo\n3,Emile Zola|E. Zola\n",
        encoding="utf-8",
    )
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"""kind: alignment
name: dedup
sources:
  align: {{csv: people.csv, id: {{template: "{A}{{id}}"}}, split: {{name: "|"}}}}
  target: same
attributes:
  - {{name: name, metric: exact}}
threshold: 0
matching: all
outputs:
  - {{csv: out/links.csv}}
""",
        encoding="utf-8",
    )
    assert main(["run", "-q", str(spec)]) == 0
    rows = list(csv.DictReader((tmp_path / "out" / "links.csv").open(encoding="utf-8")))
    assert [(r["align_id"], r["target_id"]) for r in rows] == [(A + "1", A + "2")]


TURTLE = """@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix a: <http://example.org/a/> .
a:1 rdfs:label "Allemagne"@fr ; skos:altLabel "Deutschland"@de .
a:2 rdfs:label "Londres"@fr, "London"@en .
a:3 rdfs:label "Pays-Bas"@fr ; skos:altLabel "Holland"@en .
"""
QUERY = (
    "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>"
    " PREFIX skos: <http://www.w3.org/2004/02/skos/core#>"
    " SELECT ?s ?label WHERE { ?s rdfs:label|skos:altLabel ?label }"
)


def test_rdf_dumps_keep_every_label_in_the_listed_languages(tmp_path: Path) -> None:
    (tmp_path / "places.ttl").write_text(TURTLE, encoding="utf-8")
    source = f'{{rdf: places.ttl, query: "{QUERY}", id: s, languages: [fr, en]'
    assert _run(tmp_path, source + "}") == set()  # the French label of each
    # Every label, but in French or English only: Deutschland@de is left out.
    assert _run(tmp_path, source + ", values: all}") == {("2", "2"), ("3", "3")}
    anyhow = f'{{rdf: places.ttl, query: "{QUERY}", id: s, values: all}}'
    assert _run(tmp_path, anyhow) == {("1", "4"), ("2", "2"), ("3", "3")}


@pytest.mark.oxigraph
def test_a_sparql_endpoint_keeps_every_label(empty_oxigraph: Oxigraph, tmp_path: Path) -> None:
    empty_oxigraph.load(TURTLE)
    url = empty_oxigraph.query_url
    source = f'{{sparql: "{url}", query: "{QUERY}", id: s, languages: [fr, en]'
    assert _run(tmp_path, source + "}") == set()
    assert _run(tmp_path, source + ", values: all}") == {("2", "2"), ("3", "3")}
