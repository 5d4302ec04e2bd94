"""The `engine` command end to end: exit codes, messages, outputs written atomically."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main, parse_steps

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
    err = capsys.readouterr().err
    assert "matching: Input should be" in err
    # A misspelt value gets the closest allowed one, as a misspelt key does.
    assert "(got 'one_to_one'); did you mean 'one-to-one'?" in err


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


def test_unknown_column_is_a_spec_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Found in the sources' headers before any work, at the spec's line.
    spec = _project(tmp_path)
    spec.write_text(spec.read_text().replace("{name: born,", "{name: born, align: birth,"))
    assert main(["run", str(spec)]) == 2
    err = capsys.readouterr().err
    assert f"{spec}:8:" in err and "has no column 'birth' (columns: id, name, born)" in err


def test_validate_sources_checks_headers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # validate alone reads no data; --sources reads the headers, never the rows.
    spec = _project(tmp_path)
    spec.write_text(spec.read_text().replace("{name: born,", "{name: born, target: bron,"))
    assert main(["validate", str(spec)]) == 0
    capsys.readouterr()
    assert main(["validate", "--sources", str(spec)]) == 2
    err = capsys.readouterr().err
    assert f"{spec}:8:" in err and "has no column 'bron'" in err and "did you mean 'born'" in err
    spec.write_text(spec.read_text().replace("target: bron,", "target: born,"))
    assert main(["validate", "--sources", str(spec)]) == 0
    assert "valid alignment spec 'people'" in capsys.readouterr().out


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


# -- exit codes a script can trust: plan, --detailed-exitcode ------------------------

IMAGE = "kind: image\nname: demo\nformats: [qcow2]\noutput: out/demo\ncache: cache\n"


def _image(tmp_path: Path, built: bool = False) -> Path:
    """An image recipe; ``built``: its cache entry exists, so a run would build nothing."""
    from engine import image
    from engine.loader import load_spec

    spec = tmp_path / "image.yaml"
    spec.write_text(IMAGE, encoding="utf-8")
    if built:
        entry = Path(image.steps(load_spec(spec))[0].cache)  # type: ignore[arg-type]
        entry.mkdir(parents=True)
        (entry / "manifest.json").write_text('{"artefacts": {}}', encoding="utf-8")
    return spec


def test_plan_exits_0_whatever_is_pending(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Pending changes are not an error: without --detailed-exitcode a plan that worked is 0.
    assert main(["plan", str(_image(tmp_path))]) == 0
    assert "to build" in capsys.readouterr().out
    # and 2 stays "invalid spec", 1 "bad data".
    spec = _project(tmp_path)
    spec.write_text(spec.read_text().replace("threshold: 0.5", "threshold: -1"))
    assert main(["plan", str(spec)]) == 2
    spec = _project(tmp_path, ALIGN + "4,Too,Many,Fields\n")
    assert main(["plan", str(spec)]) == 1


def test_plan_detailed_exitcode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--detailed-exitcode", str(_image(tmp_path))]) == 2
    assert main(["plan", "--detailed-exitcode", str(_image(tmp_path, built=True))]) == 0
    assert "cached, not built again" in capsys.readouterr().out
    # An alignment without publish: a run rewrites its files, nothing else changes.
    spec = _project(tmp_path)
    assert main(["plan", "--detailed-exitcode", str(spec)]) == 0
    # Every error is 1 (Terraform's convention): an invalid spec, bad data, a bad command line.
    spec.write_text(spec.read_text().replace("threshold: 0.5", "threshold: -1"))
    assert main(["plan", "--detailed-exitcode", str(spec)]) == 1
    assert "threshold: Input should be greater than or equal to 0" in capsys.readouterr().err
    spec = _project(tmp_path, ALIGN + "4,Too,Many,Fields\n")
    assert main(["plan", "--detailed-exitcode", str(spec)]) == 1
    assert main(["plan", "--detailed-exitcode", str(tmp_path / "nope.yaml")]) == 1
    assert main(["plan", "--detailed-exitcode"]) == 1
    assert "the following arguments are required: SPEC" in capsys.readouterr().err
    assert main(["plan", "--detailed-exitcode", str(spec), "--bogus"]) == 1


def test_detailed_exitcode_is_an_option_of_plan_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--detailed-exitcode", str(_project(tmp_path))]) == 2
    assert "unrecognized arguments: --detailed-exitcode" in capsys.readouterr().err


def test_plan_detailed_exitcode_in_a_shell(tmp_path: Path) -> None:
    spec = _image(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "plan", "--detailed-exitcode", str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and "to build" in done.stdout, done.stderr


# -- --json: one document on stdout --------------------------------------------------


def test_plan_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    spec = _project(tmp_path)
    assert main(["plan", "--json", str(spec)]) == 0
    document = json.loads(capsys.readouterr().out)  # the whole of stdout is the document
    assert document["command"] == "plan" and document["kind"] == "alignment"
    assert document["name"] == "people" and document["changes"] is False
    assert [s["type"] for s in document["steps"]] == [
        "ReadSource", "ReadSource", "Prepare", "Block", "Compare", "Match", "Write", "Write",
        "Write",
    ]  # fmt: skip
    assert document["steps"][6]["path"] == str(tmp_path / "out" / "links.ttl")
    figures = document["alignment"]
    assert figures["sources"]["align"]["records"] == 3
    assert figures["blocking"]["estimated_pairs"] == 9 and figures["blocking"]["all_pairs"] == 9
    assert [a["metric"] for a in figures["attributes"]] == ["levenshtein", "temporal"]
    assert figures["publish"] is None
    assert not (tmp_path / "out").exists()


def test_plan_json_of_an_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["plan", "--json", "--detailed-exitcode", str(_image(tmp_path))]) == 2
    document = json.loads(capsys.readouterr().out)
    assert document["kind"] == "image" and document["changes"] is True
    assert document["image"]["cached"] is False and document["image"]["formats"] == ["qcow2"]
    assert [s["type"] for s in document["steps"]] == ["Build", "WriteOutputs"]
    assert document["steps"][0]["run"]["playbook"] == "image-build.yml"


def test_run_json_lists_outputs_with_checksums(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import hashlib
    import json

    spec = _project(tmp_path)
    assert main(["run", "--json", "-q", str(spec)]) == 0  # -q: no progress; the document stays
    document = json.loads(capsys.readouterr().out)
    assert document["command"] == "run" and document["seconds"] >= 0
    outputs = {Path(o["path"]).name: o for o in document["outputs"]}
    assert sorted(outputs) == ["links.csv", "links.nt", "links.ttl"]
    for name, output in outputs.items():
        data = (tmp_path / "out" / name).read_bytes()
        assert output["sha256"] == hashlib.sha256(data).hexdigest()
        assert output["bytes"] == len(data)
    figures = document["alignment"]
    assert figures["links"] == 2 and figures["compared_pairs"] == 9
    assert figures["under_threshold"] == 2 and figures["matching"] == "one-to-one"


def test_eval_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    spec = _project(tmp_path)
    gold = tmp_path / "gold.csv"
    gold.write_text("a,t\n1,10\n2,20\n3,30\n")
    assert main(["eval", "--json", str(spec), "--gold", str(gold), "--steps", "2"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["command"] == "eval" and document["gold"]["links"] == 3
    assert document["links"]["found"] == 2 and document["links"]["true_positives"] == 2
    assert document["links"]["precision"] == 1.0
    assert round(document["links"]["recall"], 4) == 0.6667
    assert round(document["links"]["f1"], 4) == 0.8
    (rule,) = document["blocking"]
    assert rule["candidates"] == 9 and rule["pair_completeness"] == 1.0
    assert rule["reduction_ratio"] == 0.0
    sweep = document["sweep"]
    assert [row["spec_threshold"] for row in sweep].count(True) == 1
    assert {"threshold", "found", "precision", "recall", "f1"} <= set(sweep[0])
    assert not (tmp_path / "out").exists()


def test_json_errors_are_documents_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    spec = _project(tmp_path)
    spec.write_text(spec.read_text().replace("threshold: 0.5", "threshold: -1"))
    assert main(["plan", "--json", str(spec)]) == 2
    captured = capsys.readouterr()
    error = json.loads(captured.out)["error"]
    assert error["kind"] == "spec" and error["exit_code"] == 2
    (problem,) = error["problems"]
    assert (problem["file"], problem["line"], problem["column"]) == (str(spec), 9, 12)
    assert problem["path"] == "threshold"
    assert "threshold: Input should be" in captured.err  # the message, as without --json
    # Bad data: the source and the row, exit 1.
    spec = _project(tmp_path, ALIGN + "4,Too,Many,Fields\n")
    assert main(["run", "--json", str(spec)]) == 1
    error = json.loads(capsys.readouterr().out)["error"]
    assert (error["kind"], error["row"], error["exit_code"]) == ("data", 5, 1)
    assert error["source"].endswith("align.csv")
    # The command does not fit the spec, or the command line is wrong: usage, exit 2.
    assert main(["eval", "--json", str(_image(tmp_path)), "--gold", "g.csv"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert (
        error["kind"] == "usage"
        and "engine eval scores specs of kind alignment" in error["message"]
    )
    assert main(["run", "--json"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["kind"] == "usage" and "required: SPEC" in error["message"]
    # --detailed-exitcode: the document says 1 like the exit code.
    assert main(["plan", "--json", "--detailed-exitcode", str(tmp_path / "nope.yaml")]) == 1
    assert json.loads(capsys.readouterr().out)["error"]["exit_code"] == 1


# -- engine schema, engine generate ---------------------------------------------------


def test_schema_needs_out_outside_a_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from engine import cli

    # An installed wheel: no pyproject.toml naming specengine two levels up.
    monkeypatch.setattr(cli, "_ROOT", tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["schema"]) == 2
    assert "engine schema --out DIR" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    assert main(["schema", "--out", str(tmp_path / "json")]) == 0
    assert (tmp_path / "json" / "spec.schema.json").is_file()
    # A checkout: its own schemas/json.
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "specengine"\n')
    assert main(["schema"]) == 0
    assert (tmp_path / "schemas" / "json" / "spec.schema.json").is_file()


def test_generate_usage_names_engine_generate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["generate", "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: engine generate ")
    # Options of the engine before the command still reach generate.
    out = tmp_path / "gen"
    assert main(["-v", "generate", "people", "--size", "5", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "people-a.csv",
        "people-b.csv",
        "people-gold.csv",
    ]


def test_plan_json_of_a_refused_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    spec = _project(tmp_path)
    spec.write_text(
        spec.read_text().replace(
            "threshold: 0.5",
            "blocking: {sorted_neighbourhood: {attribute: name, window: 3, max_pairs: 2}}\n"
            "threshold: 0.5",
        )
    )
    assert main(["plan", "--json", str(spec)]) == 1
    captured = capsys.readouterr()
    document = json.loads(captured.out)  # one document: the error, the plan inside it
    assert document["error"]["kind"] == "data" and "max_pairs" in document["error"]["message"]
    assert document["plan"]["alignment"]["blocking"]["estimated_pairs"] > 2
    assert "more than its max_pairs (2)" in captured.err


def test_parse_steps_takes_a_count_or_thresholds() -> None:
    assert parse_steps("10") == 10
    assert parse_steps("0.1,0.5") == [0.1, 0.5]
    assert parse_steps(" 0.5 , 0.1,0.5") == [0.1, 0.5]
    assert parse_steps("2.5") == [2.5]
    for bad in ("0", "-1", "a,b", "0.1,", "", "nan", "0.1,-2"):
        with pytest.raises(argparse.ArgumentTypeError, match="threshold"):
            parse_steps(bad)


@pytest.mark.parametrize("command", ["run", "eval", "fit"])
def test_json_error_to_a_closed_stdout_keeps_its_exit_code(tmp_path: Path, command: str) -> None:
    spec = _project(tmp_path)
    spec.write_text(spec.read_text().replace("name: born", "name: born, weight: x"))
    # The reader is gone before the engine writes (``engine run --json | head -c1``).
    process = subprocess.Popen(
        [sys.executable, "-m", "engine", command, str(spec), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == 2, err
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert "spec.yaml:" in err


@pytest.mark.parametrize("command", ["validate", "run", "plan"])
def test_a_spec_error_reads_the_same_from_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    spec = _project(tmp_path)
    spec.write_text(spec.read_text().replace("threshold: 0.5", "threshold: -1"))
    assert main([command, str(spec)]) == 2
    assert capsys.readouterr().err.startswith("engine: 1 error in spec:\n")


@pytest.mark.parametrize("steps", ["1001", "1000000", ",".join(["0.5"] * 1001)])
def test_steps_are_bounded_by_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], steps: str
) -> None:
    spec = _project(tmp_path)
    gold = tmp_path / "gold.csv"
    gold.write_text("align_id,target_id\n1,10\n", encoding="utf-8")
    assert main(["eval", str(spec), "--gold", str(gold), "--steps", steps]) == 2
    assert "at most 1,000 thresholds" in capsys.readouterr().err
