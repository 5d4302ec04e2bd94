"""The outputs of a run: an HTML report and its gold links (none or some unknown records), its pairs."""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from engine.cli import main
from tests.tools import imports_pandas

SPEC = """\
kind: alignment
name: towns
sources:
  align: {csv: a.csv, id: {template: "http://a/{id}"}}
  target: {csv: b.csv, id: {template: "http://b/{id}"}}
attributes: [{name: name, metric: levenshtein}]
threshold: 1
outputs: [{csv: out/links.csv}, {html: out/report.html, gold: gold.csv}]
"""


def _project(tmp_path: Path, gold: str) -> Path:
    (tmp_path / "a.csv").write_text("id,name\n1,Paris\n2,Lyon\n")
    (tmp_path / "b.csv").write_text("id,name\n10,Pariz\n20,Lyons\n")
    (tmp_path / "gold.csv").write_text(gold)
    (tmp_path / "spec.yaml").write_text(SPEC)
    return tmp_path / "spec.yaml"


def test_report_gold_naming_no_record_fails_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _project(tmp_path, "a,t\n1,10\n")
    assert main(["run", "-q", str(spec)]) == 0
    before = (tmp_path / "out" / "links.csv").read_text()
    (tmp_path / "gold.csv").write_text("a,t\nP-1,L-10\n")
    capsys.readouterr()
    assert main(["run", "-q", str(spec)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        f"engine: {tmp_path / 'gold.csv'}: the gold pair names no records of the sources:"
    )
    assert (tmp_path / "out" / "links.csv").read_text() == before


def test_report_gold_with_unknown_records_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _project(tmp_path, "a,t\n1,10\n2,20\n3,30\n")
    assert main(["run", "-q", str(spec)]) == 0
    warning = (
        f"1 of the 3 gold pairs in {tmp_path / 'gold.csv'} name records not in the sources"
        " (line 4: '3'); they are left out of the scores"
    )
    assert f"warning: {warning}\n" in capsys.readouterr().err
    report = html.unescape((tmp_path / "out" / "report.html").read_text())
    assert warning in report


def test_the_reports_pairs_show_the_distances_the_compare_step_kept(tmp_path: Path) -> None:
    import numpy as np

    import engine
    from engine.alignment.write import report

    (tmp_path / "a.csv").write_text("id,name\n1,Paris\n2,Lyon\n3,Nice\n4,\n")
    (tmp_path / "b.csv").write_text("id,name\n10,Pariz\n20,Lyons\n30,Nizza\n40,Pau\n")
    (tmp_path / "spec.yaml").write_text(
        SPEC.replace("threshold: 1", "threshold: 1\nmatching: best")
        .replace(
            "[{name: name, metric: levenshtein}]",
            "[{name: name, metric: levenshtein, missing: 0.5}]",
        )
        .replace(
            "{html: out/report.html, gold: gold.csv}",
            "{html: out/report.html, near_misses: 9, margin: 3}",
        )
    )
    spec = engine.load_spec(tmp_path / "spec.yaml")
    state = engine.run(engine.build_plan(spec, tmp_path / "spec.yaml"), spec)
    content = report(state, spec.outputs[1])
    links = state.links
    assert links is not None and len(content.sample) == len(links) == 3
    for pair in content.sample:
        k = links.align_ids.index(pair.align_id)
        assert links.target_ids[k] == pair.target_id and pair.distance == links.distance[k]
        (name,) = pair.attributes
        kept = links.attributes["name"][k]
        assert name.distance == (0.5 if np.isnan(kept) else kept)  # a missing value: its fill
    shown = {
        (p.align_id, p.attributes[0].align_value, p.attributes[0].target_value)
        for p in content.sample
    }
    assert shown == {
        ("http://a/1", "Paris", "Pariz"),
        ("http://a/2", "Lyon", "Lyons"),
        ("http://a/4", None, "Pariz"),
    }
    near = content.near_misses
    assert [p.distance for p in near] == sorted(p.distance for p in near) and near
    assert all(p.distance > 1 for p in near)
    assert ("http://a/3", "http://b/30", 3.0) in {
        (p.align_id, p.target_id, p.distance) for p in near
    }
    assert all(np.isclose(p.attributes[0].distance, p.distance) for p in near)


def _many_links(tmp_path: Path, count: int, outputs: str) -> Path:
    """A project whose run links ``count`` records one to one (names equal, blocked on them)."""
    rows = "".join(f"{i},n{i}\n" for i in range(count))
    (tmp_path / "a.csv").write_text("id,name\n" + rows)
    (tmp_path / "b.csv").write_text("id,name\n" + rows)
    spec = SPEC.replace("threshold: 1", "threshold: 0\nblocking: {key: {attribute: name}}")
    spec = spec.replace("[{csv: out/links.csv}, {html: out/report.html, gold: gold.csv}]", outputs)
    (tmp_path / "spec.yaml").write_text(spec)
    return tmp_path / "spec.yaml"


def test_the_diff_is_written_a_chunk_of_lines_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typing import Any, TextIO

    from renderers.atomic import OutputTransaction

    spec = _many_links(tmp_path, 10_000, "[{rdf: out/links.nt}, {diff: out/changes.ru}]")
    writes: list[int] = []
    open_text = OutputTransaction.open_text

    class Recorder:
        def __init__(self, handle: TextIO) -> None:
            self.handle = handle

        def write(self, text: str) -> int:
            writes.append(len(text))
            return self.handle.write(text)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.handle, name)

    def recording(self: OutputTransaction, path: Path, *args: Any, **kwargs: Any) -> Any:
        handle = open_text(self, path, *args, **kwargs)
        return Recorder(handle) if path.name == "changes.ru" else handle

    monkeypatch.setattr(OutputTransaction, "open_text", recording)
    assert main(["run", "-q", str(spec)]) == 0
    update = (tmp_path / "out" / "changes.ru").read_text()
    assert "0 links removed, 10,000 added" in update
    # Every link is inserted: the text is far bigger than the largest write.
    assert sum(writes) == len(update) and max(writes) < len(update) / 2


def test_the_diff_reads_only_the_previous_linkset_not_the_new_one_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.alignment import changes

    spec = _many_links(tmp_path, 3, "[{rdf: out/links.nt}, {diff: out/changes.ru}]")
    assert main(["run", "-q", str(spec)]) == 0
    read: list[str] = []
    read_quads = changes.read_quads

    def recording(text: str, fmt: str, graph: str | None, source: str) -> set[changes.Quad]:
        read.append(source)
        return read_quads(text, fmt, graph, source)

    monkeypatch.setattr(changes, "read_quads", recording)
    (tmp_path / "a.csv").write_text("id,name\n0,n0\n1,n1\n7,n2\n")
    assert main(["run", "-q", str(spec)]) == 0
    assert read == [str(tmp_path / "out" / "links.nt")]
    update = (tmp_path / "out" / "changes.ru").read_text()
    assert "1 links removed, 1 added" in update
    assert "<http://a/2> <http://www.w3.org/2002/07/owl#sameAs> <http://b/2> ." in update
    assert "<http://a/7> <http://www.w3.org/2002/07/owl#sameAs> <http://b/2> ." in update


@pytest.mark.parametrize(
    ("rdf", "fmt", "graph"),
    [
        ("{rdf: out/links.nt}", "ntriples", None),
        (
            '{rdf: out/links.ttl, predicate: "http://www.w3.org/2004/02/skos/core#exactMatch"}',
            "turtle",
            None,
        ),
        ('{rdf: out/links.nq, graph: "http://example.org/g"}', "nquads", "http://example.org/g"),
    ],
)
def test_the_diffs_triples_are_those_of_the_rdf_output_read_back(
    tmp_path: Path, rdf: str, fmt: str, graph: str | None
) -> None:
    # Made from the links, not read back: IRIs a reader might change come through as they are.
    from engine.alignment.changes import read_quads
    from tests.engine.alignment.test_curation import ACCEPT, _curation, _spec

    suffix = rdf.split("links.")[1].split(",")[0].rstrip("}")
    extra = f"  - {rdf}\n  - {{diff: out/changes.ru, of: out/links.{suffix}}}\n"
    _curation(tmp_path, [ACCEPT])
    spec = _spec(tmp_path, curation="curation: curation.sssom.tsv", extra=extra)
    spec.write_text(spec.read_text().replace("  - {rdf: out/links.nt}\n", "", 1))
    # Ids a reader might turn into other IRIs (non-ASCII, dot segments): as written.
    for side, prefix in (("align", "http://example.org/a/"), ("target", "http://example.org/t/")):
        path = tmp_path / f"{side}.csv"
        rows = [line.split(",", 1) for line in path.read_text(encoding="utf-8").splitlines()[1:]]
        lines = [f"{prefix}{id_},{name}" for id_, name in rows] + [f"{prefix}ça/../x#é,Zoé"]
        path.write_text("id,name\n" + "\n".join(lines) + "\n", encoding="utf-8")
        spec.write_text(spec.read_text().replace(f'{{template: "{prefix}{{id}}"}}', "id"))
    assert main(["run", "-q", str(spec)]) == 0
    written = (tmp_path / "out" / f"links.{suffix}").read_text(encoding="utf-8")
    expected = read_quads(written, fmt, graph, "the output")
    update = (tmp_path / "out" / "changes.ru").read_text(encoding="utf-8")
    inserted = update.split("INSERT DATA {\n", 1)[1]
    if graph is not None:
        inserted = inserted.split(f"GRAPH <{graph}> {{\n", 1)[1]
    lines = [line.strip() for line in inserted.splitlines() if line.strip().endswith(" .")]
    found = {(*line[: -len(" .")].split(" "), graph) for line in lines}
    assert found == expected and len(expected) > 4
    assert any("ManualMappingCuration" in quad[2] for quad in expected)
    assert ("<http://example.org/a/ça/../x#é>", "<http://example.org/t/ça/../x#é>") in {
        (quad[0], quad[2]) for quad in expected
    }


def test_a_run_writing_every_output_in_bulk_does_not_import_pandas(tmp_path: Path) -> None:
    spec = _many_links(
        tmp_path,
        300,
        "[{csv: out/links.csv}, {sssom: out/links.sssom.tsv}, {rdf: out/links.nt},"
        " {rdf: out/links.ttl}, {diff: out/changes.ru, of: out/links.nt},"
        " {html: out/report.html}, {clusters: out/clusters.csv}]",
    )
    script = (
        "import sys\n"
        "from engine.alignment import csv_read\n"
        "from engine.cli import main\n"
        "from renderers import csv, sssom\n"
        # The bulk writers (Arrow) from 100 links on, not 20,000: a small run takes them.
        "csv.BULK_ROWS = sssom.BULK_ROWS = 100\n"
        "csv_read.MIN_BYTES = 0\n"
        f"assert main(['run', '-q', {str(spec)!r}]) == 0\n"
        "assert 'pyarrow' in sys.modules\n"
    )
    assert not imports_pandas(script, tmp_path)
    assert (tmp_path / "out" / "links.sssom.tsv").read_text().count("\n") > 300
