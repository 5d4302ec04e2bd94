"""The `engine` command end to end: exit codes, messages, outputs written atomically."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main

SPEC = """\
kind: alignment
name: people
sources:
  align: {{csv: align.csv, id: {{template: "http://example.org/a/{{id}}"}}, on_error: {on_error}}}
  target: {{csv: target.csv, id: {{template: "http://example.org/t/{{id}}"}}}}
attributes:
  - {{name: name, metric: {{levenshtein: {{normalised: true}}}}, normalise: [lowercase, unaccent]}}
  - {{name: born, metric: {{temporal: {{unit: years, dayfirst: true, scale: 10}}}}}}
threshold: 0.5
matching: one-to-one
outputs:
  - {{rdf: out/links.ttl}}
  - {{rdf: out/links.nt}}
  - {{csv: out/links.csv}}
"""

ALIGN = "id,name,born\n1,Hélène Dupont,14/08/1991\n2,Jean Martin,06/01/1999\n3,Zoé Durand,\n"
TARGET = "id,name,born\n10,HELENE DUPONT,1991-08-14\n20,jean martin,1999-01-06\n30,Paul Petit,1950-01-01\n"


def _project(tmp_path: Path, align: str = ALIGN, on_error: str = "fail") -> Path:
    (tmp_path / "align.csv").write_text(align, encoding="utf-8")
    (tmp_path / "target.csv").write_text(TARGET, encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(on_error=on_error), encoding="utf-8")
    return spec


def test_run_writes_links(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _project(tmp_path)
    assert main(["run", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "links: 2 (one-to-one)" in out
    assert "compared 9 candidate pairs" in out
    nt = (tmp_path / "out" / "links.nt").read_text().splitlines()
    assert nt == [
        "<http://example.org/a/1> <http://www.w3.org/2002/07/owl#sameAs> <http://example.org/t/10> .",
        "<http://example.org/a/2> <http://www.w3.org/2002/07/owl#sameAs> <http://example.org/t/20> .",
    ]
    csv_lines = (tmp_path / "out" / "links.csv").read_text().splitlines()
    assert csv_lines[0] == "align_id,target_id,distance,d_name,d_born"
    assert csv_lines[1] == "http://example.org/a/1,http://example.org/t/10,0,0,0"
    ttl = (tmp_path / "out" / "links.ttl").read_text()
    assert "<http://example.org/a/1> owl:sameAs <http://example.org/t/10> ." in ttl


def test_plan_reads_but_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _project(tmp_path)
    assert main(["plan", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "3 records" in out and "estimated comparisons: 9" in out
    assert "write ntriples" in out
    assert not (tmp_path / "out").exists()


def test_validate_reports_file_line_and_exit_2(tmp_path: Path) -> None:
    spec = _project(tmp_path)
    spec.write_text(spec.read_text().replace("threshold: 0.5", "threshold: -1"))
    result = subprocess.run(
        [sys.executable, "-m", "engine.cli", "validate", str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert f"{spec}:9:12: threshold: Input should be greater than or equal to 0" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_invalid_spec_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _project(tmp_path)
    spec.write_text(spec.read_text().replace("matching: one-to-one", "matching: one_to_one"))
    assert main(["run", str(spec)]) == 2
    assert "matching: Input should be" in capsys.readouterr().err


def test_bad_row_fails_and_keeps_previous_outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _project(tmp_path)
    assert main(["run", str(spec)]) == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    _project(tmp_path, ALIGN + "4,Too,Many,Fields\n")
    assert main(["run", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "align.csv:5" in err and "expected 3 fields, found 4" in err
    after = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    assert after == before


def test_bad_row_skipped_and_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _project(tmp_path, ALIGN + "4,Too,Many,Fields\n", on_error="skip")
    assert main(["run", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "3 records, 1 rows skipped" in out
    assert "align.csv:5: expected 3 fields, found 4" in out


def test_unparsable_date_names_source_row_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _project(tmp_path, ALIGN.replace("06/01/1999", "31/02/1999"))
    assert main(["run", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "align.csv:3 (column born)" in err
    assert "cannot read '31/02/1999' as a date" in err
    assert not (tmp_path / "out").exists()


def test_unparsable_date_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _project(tmp_path, ALIGN.replace("06/01/1999", "31/02/1999"), on_error="skip")
    assert main(["run", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "2 records, 1 rows skipped" in out and "links: 1 (one-to-one)" in out


def test_undecodable_bytes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _project(tmp_path)
    (tmp_path / "align.csv").write_bytes(ALIGN.encode("latin-1"))
    assert main(["run", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "align.csv: cannot decode byte 0xe9 at byte offset 16 (line 2) as utf-8" in err


def test_empty_values_are_missing_not_errors(tmp_path: Path) -> None:
    # Zoé has no birth date: 'missing: max' on a bounded metric costs 1, so no link.
    spec = _project(tmp_path)
    assert main(["run", "-q", str(spec)]) == 0
    assert "http://example.org/a/3" not in (tmp_path / "out" / "links.nt").read_text()


def test_unknown_column_is_a_data_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _project(tmp_path)
    spec.write_text(spec.read_text().replace("{name: born,", "{name: born, align: birth,"))
    assert main(["run", str(spec)]) == 1
    assert "has no column 'birth' (columns: id, name, born)" in capsys.readouterr().err


def test_missing_spec_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml:1:1: no such file" in capsys.readouterr().err


def test_debug_shows_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--debug", "run", str(tmp_path / "nope.yaml")]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_console_script_runs(tmp_path: Path) -> None:
    spec = _project(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "engine.cli", "run", str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "<http://example.org/a/1> -> <http://example.org/t/10>" in result.stdout


def test_eval_scores_against_gold(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _project(tmp_path)
    gold = tmp_path / "gold.csv"
    gold.write_text("a,t\n1,10\n2,20\n3,30\n")
    assert main(["eval", str(spec), "--gold", str(gold), "--steps", "2"]) == 0
    out = capsys.readouterr().out
    assert "gold: 3 links" in out
    assert "links: 2 found, 2 true: precision 1.0000  recall 0.6667  F1 0.8000" in out
    assert "none (every align record meets every target record): 9, RR 0.00000, PC 1.0000" in out
    assert not (tmp_path / "out").exists()


def test_dedup_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "people.csv").write_text(
        "id,name\n1,Jean Dupont\n2,Jean Dupond\n3,Marie Curie\n4,Jean Dupont\n"
    )
    spec = tmp_path / "dedup.yaml"
    spec.write_text(
        "kind: alignment\nname: d\n"
        "sources:\n  align: {csv: people.csv, id: {template: 'http://x/{id}'}}\n  target: same\n"
        "attributes: [{name: name, metric: levenshtein}]\n"
        "threshold: 1\nmatching: all\noutputs: [{rdf: out.nt}]\n"
    )
    assert main(["plan", str(spec)]) == 0
    assert "estimated comparisons: 6 (100.00% of 6)" in capsys.readouterr().out
    assert main(["run", "-q", str(spec)]) == 0
    lines = sorted((tmp_path / "out.nt").read_text().splitlines())
    pairs = [(line.split()[0], line.split()[2]) for line in lines]
    assert pairs == [
        ("<http://x/1>", "<http://x/2>"),
        ("<http://x/1>", "<http://x/4>"),
        ("<http://x/2>", "<http://x/4>"),
    ]
    spec.write_text(spec.read_text().replace("matching: all", "matching: one-to-one"))
    assert main(["validate", str(spec)]) == 2
    assert "one-to-one' needs two sources" in capsys.readouterr().err


GEO_SPEC = """\
kind: alignment
name: geo
sources:
  align: {{csv: a.csv, id: id, on_error: {on_error}}}
  target: {{csv: b.csv, id: id}}
attributes:
  - {{name: pt, align: [lat, long], metric: {{geographic: {{scale: 10}}}}, missing: {missing}}}
threshold: 0.5
matching: all
outputs: [{{csv: out.csv}}]
"""


def _geo(tmp_path: Path, rows: str, missing: str = "ignore", on_error: str = "fail") -> Path:
    (tmp_path / "a.csv").write_text("id,lat,long\n" + rows)
    (tmp_path / "b.csv").write_text("id,lat,long\nhttp://b/1,48.85,2.35\n")
    spec = tmp_path / "geo.yaml"
    spec.write_text(GEO_SPEC.format(missing=missing, on_error=on_error))
    return spec


def test_missing_coordinate_is_a_missing_value(tmp_path: Path) -> None:
    spec = _geo(tmp_path, "http://a/1,48.86,2.35\nhttp://a/2,,2.35\n")
    assert main(["run", "-q", str(spec)]) == 0
    rows = (tmp_path / "out.csv").read_text().splitlines()
    # a/2 lacks a latitude: with missing: ignore it contributes 0 and links.
    assert [r.split(",")[:2] for r in rows[1:]] == [
        ["http://a/1", "http://b/1"],
        ["http://a/2", "http://b/1"],
    ]
    assert rows[2].endswith(",0,")  # distance 0, attribute distance empty (missing)


def test_out_of_range_coordinates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _geo(tmp_path, "http://a/1,48.86,2.35\nhttp://a/2,148.0,2.35\nhttp://a/3,nan,1\n")
    assert main(["run", "-q", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "a.csv:3 (column lat, long): not a latlon point" in err
    spec = _geo(
        tmp_path,
        "http://a/1,48.86,2.35\nhttp://a/2,148.0,2.35\nhttp://a/3,nan,1\n",
        on_error="skip",
    )
    assert main(["run", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "1 records, 2 rows skipped" in out
    assert "a.csv:4: column lat, long: not a finite number" in out


def test_many_bad_values_are_skipped_in_one_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = "".join(f"{i},Name {i},01/02/1990\n" for i in range(4, 200))
    bad = "".join(f"{i},Bad {i},99/99/{1900 + i}\n" for i in range(200, 400))
    spec = _project(tmp_path, ALIGN + good + bad, on_error="skip")
    assert main(["run", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "199 records, 200 rows skipped" in out
    assert "... and 190 more skipped" in out


def test_iso_date_is_never_swapped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _project(tmp_path, ALIGN.replace("06/01/1999", "1999-13-01"))
    assert main(["run", str(spec)]) == 1
    assert "cannot read '1999-13-01' as a date (dayfirst): month or day out of range" in (
        capsys.readouterr().err
    )


def test_tsv_has_no_quoting(tmp_path: Path) -> None:
    (tmp_path / "t.tsv").write_text('id\tname\nhttp://x/1\t"Big" Jim\n')
    spec = tmp_path / "t.yaml"
    spec.write_text(
        "kind: alignment\nname: t\nsources:\n  align: {tsv: t.tsv, id: id}\n"
        "  target: {inline: [[http://y/1, '\"Big\" Jim']], columns: [id, name], id: id}\n"
        "attributes: [{name: name, metric: exact}]\nthreshold: 0\noutputs: [{csv: o.csv}]\n"
    )
    assert main(["run", "-q", str(spec)]) == 0
    assert (tmp_path / "o.csv").read_text().splitlines()[1] == "http://x/1,http://y/1,0,0"


def test_composite_key_blocking(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _project(tmp_path)
    text = spec.read_text().replace(
        "threshold: 0.5",
        "blocking: {key: {attribute: [name, born], normalise: [prefix: 3]}}\nthreshold: 0.5",
    )
    spec.write_text(text.replace("prefix: 3", "{prefix: 3}"))
    assert main(["plan", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "key on attributes name,born (prefix)" in out
    assert "estimated comparisons: 0" in out  # born is a date on one side, ISO on the other


def test_all_values_missing_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _project(tmp_path, "id,name,born\n1,Ann,\n2,Bob,\n")
    assert main(["plan", str(spec)]) == 0
    assert "warning: attribute 'born': every value is missing in align source" in (
        capsys.readouterr().out
    )
    assert main(["run", "-q", str(spec)]) == 0
    assert "every value is missing" in capsys.readouterr().err


def test_run_out_dir(tmp_path: Path) -> None:
    spec = _project(tmp_path)
    assert main(["run", "-q", str(spec), "--out-dir", str(tmp_path / "elsewhere")]) == 0
    assert sorted(p.name for p in (tmp_path / "elsewhere").iterdir()) == [
        "links.csv",
        "links.nt",
        "links.ttl",
    ]
    assert not (tmp_path / "out").exists()


def test_void_and_prov_description(tmp_path: Path) -> None:
    import hashlib

    from rdflib import Graph, Literal, Namespace, URIRef

    spec = _project(tmp_path)
    spec.write_text(
        spec.read_text().replace("{rdf: out/links.nt}", "{rdf: out/links.nt, void: out/void.ttl}")
    )
    assert main(["run", "-q", str(spec)]) == 0
    void = Namespace("http://rdfs.org/ns/void#")
    prov = Namespace("http://www.w3.org/ns/prov#")
    graph = Graph().parse(tmp_path / "out" / "void.ttl", format="turtle")
    linkset = URIRef("urn:specengine:people:linkset:1")
    assert graph.value(linkset, void.triples) == Literal(2)
    assert graph.value(linkset, void.linkPredicate) == URIRef(
        "http://www.w3.org/2002/07/owl#sameAs"
    )
    assert graph.value(linkset, void.dataDump) == URIRef((tmp_path / "out" / "links.nt").as_uri())
    activity = graph.value(linkset, prov.wasGeneratedBy)
    assert graph.value(activity, prov.startedAtTime) is not None
    used = set(graph.objects(activity, prov.used))
    assert used == {URIRef((tmp_path / n).as_uri()) for n in ("align.csv", "target.csv")}
    digest = hashlib.sha256(spec.read_bytes()).hexdigest()
    assert graph.value(activity, URIRef("http://purl.org/dc/terms/identifier")) == Literal(
        f"sha256:{digest}"
    )
    # The links themselves stay plain sameAs triples.
    assert len((tmp_path / "out" / "links.nt").read_text().splitlines()) == 2


def test_nquads_in_a_named_graph(tmp_path: Path) -> None:
    from rdflib import Dataset, URIRef

    spec = _project(tmp_path)
    spec.write_text(
        spec.read_text().replace(
            "{rdf: out/links.nt}",
            "{rdf: out/links.nq, graph: 'http://example.org/linksets/people'}",
        )
    )
    assert main(["run", "-q", str(spec)]) == 0
    dataset = Dataset().parse(tmp_path / "out" / "links.nq", format="nquads")
    graph = dataset.graph(URIRef("http://example.org/linksets/people"))
    assert len(graph) == 2
    assert (
        URIRef("http://example.org/a/1"),
        URIRef("http://www.w3.org/2002/07/owl#sameAs"),
        URIRef("http://example.org/t/10"),
    ) in graph
