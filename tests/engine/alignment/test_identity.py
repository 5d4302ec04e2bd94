"""The identity graph through ``engine run`` and ``engine plan``: clusters outputs and checks."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np
import pytest

from engine.alignment import identity
from engine.alignment.clusters import cluster_id
from engine.cli import main
from engine.errors import DataError
from renderers import LinkTable
from schemas.alignment.spec import IdentityChecks
from tests.stores import Oxigraph

P = "http://example.org/p/"
T = "http://example.org/t/"

#: Two duplicate groups (anna, anna, anne) and (anke, anko, anko) under a Levenshtein
#: threshold of 1; anne - anke (records 3 and 4) is the one wrong link between them.
PEOPLE = "id,name\n1,anna\n2,anna\n3,anne\n4,anke\n5,anko\n6,anko\n"


def _dedup(tmp_path: Path, checks: str = "", outputs: str = "") -> Path:
    (tmp_path / "people.csv").write_text(PEOPLE, encoding="utf-8")
    spec = tmp_path / "dedup.yaml"
    spec.write_text(
        f"""kind: alignment
name: bridge
sources:
  align: {{csv: people.csv, id: {{template: "{P}{{id}}"}}}}
  target: same
attributes:
  - {{name: name, metric: levenshtein}}
threshold: 1
matching: all
{checks}
outputs:
  - {{csv: out/links.csv}}
{outputs}
""",
        encoding="utf-8",
    )
    return spec


def _linkage(tmp_path: Path, checks: str, outputs: str = "") -> Path:
    (tmp_path / "align.csv").write_text("id,name\n1,anna\n2,anne\n3,otto\n", encoding="utf-8")
    (tmp_path / "target.csv").write_text("id,name\n1,anna\n3,otto\n", encoding="utf-8")
    spec = tmp_path / "link.yaml"
    spec.write_text(
        f"""kind: alignment
name: linkage
sources:
  align: {{csv: align.csv, id: {{template: "{P}{{id}}"}}}}
  target: {{csv: target.csv, id: {{template: "{T}{{id}}"}}}}
attributes:
  - {{name: name, metric: levenshtein}}
threshold: 1
matching: all
{checks}
outputs:
  - {{csv: out/links.csv}}
{outputs}
""",
        encoding="utf-8",
    )
    return spec


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_bridge_check_names_the_wrong_link_and_fails_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _dedup(tmp_path, outputs="  - {clusters: out/clusters.csv}")
    assert main(["run", "-q", str(spec)]) == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    capsys.readouterr()
    spec = _dedup(tmp_path, "checks: {bridges: fail}", "  - {clusters: out/clusters.csv}")
    assert main(["run", "-q", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "identity-graph check(s) bridges failed" in err
    assert f"<{P}3> - <{P}4>" in err
    assert "into 3 and 3 records" in err
    assert "Traceback" not in err
    # The outputs of the previous run are left as they were.
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before


def test_a_warned_bridge_is_reported_by_run_and_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _dedup(tmp_path, "checks: {bridges: warn, max_cluster_size: 5, cluster_size: warn}")
    assert main(["plan", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "cluster the links; checks: max_cluster_size 5 (warn), bridges (warn" in out
    assert "same_source" not in out  # a deduplication has one source
    assert main(["run", str(spec)]) == 0
    captured = capsys.readouterr()
    assert "checks: 1 max_cluster_size, 1 bridges" in captured.out
    assert f"bridges: one link splits the cluster of <{P}1> (6 records)" in captured.out
    assert f"<{P}3> - <{P}4>" in captured.err  # said at once, as a warning


def test_clusters_csv_and_rdf_of_a_deduplication(tmp_path: Path) -> None:
    outputs = "  - {clusters: out/clusters.csv}\n  - {clusters: out/clusters.ttl}"
    spec = _dedup(tmp_path, outputs=outputs)
    # A record alone (no link) is in no cluster: 7 is not written.
    (tmp_path / "people.csv").write_text(PEOPLE + "7,zzzzzz\n", encoding="utf-8")
    assert main(["run", "-q", str(spec)]) == 0
    rows = _rows(tmp_path / "out" / "clusters.csv")
    assert list(rows[0]) == ["record_id", "cluster_id", "canonical_id", "source"]
    assert [r["record_id"] for r in rows] == [P + str(n) for n in range(1, 7)]
    assert {r["canonical_id"] for r in rows} == {P + "1"}
    assert {r["cluster_id"] for r in rows} == {cluster_id(P + "1")}
    ttl = (tmp_path / "out" / "clusters.ttl").read_text(encoding="utf-8")
    assert f"<{P}6> owl:sameAs <{P}1> ." in ttl
    assert f"<{P}1> owl:sameAs" not in ttl


def test_clusters_at_a_stricter_threshold(tmp_path: Path) -> None:
    # At distance 0 only the identical names link: (1, 2) and (5, 6), written as N-Triples.
    outputs = "  - {clusters: out/strict.txt, format: ntriples, threshold: 0}"
    assert main(["run", "-q", str(_dedup(tmp_path, outputs=outputs))]) == 0
    assert (tmp_path / "out" / "strict.txt").read_text(encoding="utf-8").splitlines() == [
        f"<{P}2> <http://www.w3.org/2002/07/owl#sameAs> <{P}1> .",
        f"<{P}6> <http://www.w3.org/2002/07/owl#sameAs> <{P}5> .",
    ]


def test_a_column_per_threshold(tmp_path: Path) -> None:
    outputs = "  - {clusters: out/c.csv, thresholds: [0, 1]}"
    assert main(["run", "-q", str(_dedup(tmp_path, outputs=outputs))]) == 0
    rows = _rows(tmp_path / "out" / "c.csv")
    assert list(rows[0]) == [
        "record_id",
        "cluster_id",
        "canonical_id",
        "source",
        "cluster_id_0",
        "cluster_id_1",
    ]
    whole, first, fifth = cluster_id(P + "1"), cluster_id(P + "1"), cluster_id(P + "5")
    assert [(r["record_id"], r["cluster_id_0"], r["cluster_id_1"]) for r in rows] == [
        (P + "1", first, whole),
        (P + "2", first, whole),
        (P + "3", "", whole),
        (P + "4", "", whole),
        (P + "5", fifth, whole),
        (P + "6", fifth, whole),
    ]


def test_same_source_in_a_linkage_and_the_preferred_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = "  - {clusters: out/clusters.csv, prefer: target}"
    spec = _linkage(tmp_path, "checks: {same_source: fail}", outputs)
    assert main(["run", "-q", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "same_source" in err and "joins 2 align records (one-to-one violated)" in err
    assert f"<{P}1> - <{T}1>" in err and f"<{P}2> - <{T}1>" in err
    assert not (tmp_path / "out").exists()
    spec = _linkage(tmp_path, "checks: {same_source: warn}", outputs)
    assert main(["run", "-q", str(spec)]) == 0
    rows = _rows(tmp_path / "out" / "clusters.csv")
    # prefer: target: the target record is canonical though align IRIs sort first.
    assert [(r["record_id"], r["canonical_id"], r["source"]) for r in rows] == [
        (T + "1", T + "1", "target"),
        (P + "1", T + "1", "align"),
        (P + "2", T + "1", "align"),
        (T + "3", T + "3", "target"),
        (P + "3", T + "3", "align"),
    ]


def test_cluster_size_limit_fails_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _dedup(tmp_path, "checks: {max_cluster_size: 5, bridges: off}")
    assert main(["run", "-q", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "max_cluster_size failed" in err and "(6 records) is over max_cluster_size (5)" in err


@pytest.mark.parametrize(
    ("checks", "outputs", "expected"),
    [
        ("checks: {same_source: warn}", "", "same_source check applies to an alignment"),
        ("checks: {bridges: maybe}", "", "checks.bridges"),
        ("checks: {max_cluster_size: 1}", "", "checks.max_cluster_size"),
        ("", "  - {clusters: out/c.csv, prefer: target}", "no source to prefer"),
        ("", "  - {clusters: out/c.json}", "cannot tell the format of 'c.json'"),
        ("", "  - {clusters: out/c.csv, threshold: 2}", "the clusters' threshold (2) is above"),
        ("", "  - {clusters: out/c.csv, thresholds: [0, 3]}", "the clusters' threshold (3)"),
        ("", "  - {clusters: out/c.nt, thresholds: [0]}", "'c.nt' is ntriples"),
        ("", "  - {clusters: out/c.csv, thresholds: [0, 0.0]}", "a threshold is given twice"),
    ],
)
def test_spec_errors_at_their_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], checks: str, outputs: str, expected: str
) -> None:
    spec = _dedup(tmp_path, checks, outputs)
    assert main(["validate", str(spec)]) == 2
    err = capsys.readouterr().err
    assert expected in err
    wanted = checks or outputs
    line = spec.read_text().splitlines().index(wanted) + 1
    assert f"dedup.yaml:{line}:" in err


def test_findings_name_their_links_and_count_the_rest() -> None:
    # A star of 15 links around one node: one cluster of 16, over a limit of 10.
    links = LinkTable(
        align_ids=[P + "0"] * 15,
        target_ids=[f"{P}{n}" for n in range(1, 16)],
        distance=np.zeros(15),
    )
    graph = identity.graph(links, dedup=True)
    found = identity.check(graph, links, IdentityChecks(max_cluster_size=10, bridges="off"))
    assert [(f.check, f.action, len(f.links), f.more) for f in found] == [
        ("max_cluster_size", "fail", identity.SHOWN_LINKS, 5)
    ]
    assert found[0].text().endswith("and 5 more")


def test_the_html_report_shows_the_clusters_and_the_findings(tmp_path: Path) -> None:
    spec = _dedup(tmp_path, "checks: {bridges: warn}", "  - {html: out/report.html}")
    assert main(["run", "-q", str(spec)]) == 0
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    section = html[html.index('<section id="clusters"') :]
    section = section[: section.index("</section>")]
    assert "1 cluster of 6 linked records; checks: bridges (warn, sides &gt;= 2)." in section
    assert "<strong>bridges</strong> (warn): one link splits" in section
    assert f"<code>{P}3</code> &ndash; <code>{P}4</code>" in section


def test_groups_agree_with_a_scan_per_cluster() -> None:
    rng = np.random.default_rng(3)
    ends = rng.integers(0, 40, size=(60, 2))
    links = LinkTable(
        align_ids=[f"{P}{x}" for x in ends[:, 0]],
        target_ids=[f"{P}{y}" for y in ends[:, 1]],
        distance=np.zeros(len(ends)),
    )
    graph = identity.graph(links, dedup=True)
    for label in range(len(graph.sizes)):
        assert graph.links_of(label) == np.flatnonzero(graph.labels[graph.a] == label).tolist()
        members = np.flatnonzero(graph.labels == label).tolist()
        assert graph.members(label) == members
        assert graph.smallest[label] == min(graph.iris[node] for node in members)


def test_a_chain_of_twenty_thousand_bridges_is_checked_at_once() -> None:
    # Each finding once looked its cluster up by a scan: 20,000 x 20,000 steps.
    n = 20_000
    links = LinkTable(
        align_ids=[f"{P}{k}" for k in range(n)],
        target_ids=[f"{P}{k + 1}" for k in range(n)],
        distance=np.zeros(n),
    )
    started = time.perf_counter()
    graph = identity.graph(links, dedup=True)
    found = identity.check(graph, links, IdentityChecks(bridges="warn"))
    assert len(found) == n - 2  # every link but the two ending on a single record
    # 0.2 s here; 26 s with a scan per finding. The margin absorbs a loaded machine.
    assert time.perf_counter() - started < 5


def test_the_run_document_carries_the_clusters_and_eval_does_not_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _dedup(tmp_path, "checks: {bridges: fail}")
    (tmp_path / "gold.csv").write_text(f"a,b\n{P}1,{P}2\n", encoding="utf-8")
    # An evaluation writes nothing: a failing check is said, the figures still come.
    assert main(["eval", str(spec), "--gold", str(tmp_path / "gold.csv")]) == 0
    capsys.readouterr()
    spec = _dedup(tmp_path, "checks: {bridges: warn}")
    assert main(["run", "--json", str(spec)]) == 0
    clusters = json.loads(capsys.readouterr().out)["alignment"]["clusters"]
    assert (clusters["clusters"], clusters["records"], clusters["largest"]) == (1, 6, 6)
    assert clusters["findings"] == [
        {
            "check": "bridges",
            "action": "warn",
            "message": f"one link splits the cluster of <{P}1> (6 records) into 3 and 3 records",
            "links": [[P + "3", P + "4"]],
            "more_links": 0,
        }
    ]


#: Every option of ``checks:`` and of a clusters output -> (checks, outputs, what the run
#: shows: a line of the summary, or of an output file).
OPTION_CASES: dict[str, tuple[str, str, str]] = {
    "max_cluster_size": (
        "checks: {max_cluster_size: 5, cluster_size: warn, bridges: off}",
        "",
        "1 max_cluster_size",
    ),
    "cluster_size": ("checks: {max_cluster_size: 5, cluster_size: warn}", "", "over max_cluster"),
    "bridges": ("checks: {bridges: warn}", "", "1 bridges"),
    "bridge_side": ("checks: {bridge_side: 4}", "", "checks: nothing found"),
    "same_source": ("checks: {same_source: off}", "", "same_source (off)"),
    "clusters": ("", "  - {clusters: out/c.csv}", "record_id,cluster_id,canonical_id,source"),
    "format": ("", "  - {clusters: out/c.txt, format: csv}", "record_id,cluster_id"),
    "links": ("", "  - {clusters: out/c.csv, links: [links.csv]}", f"{P}9,{cluster_id(P + '1')}"),
    "prefer": ("", "  - {clusters: out/c.csv, prefer: target}", f",{T}1,align"),
    "threshold": ("", "  - {clusters: out/c.csv, threshold: 0}", f"{P}6,{cluster_id(P + '5')}"),
    "thresholds": ("", "  - {clusters: out/c.csv, thresholds: [0]}", "source,cluster_id_0"),
    "predicate": (
        "",
        "  - {clusters: out/c.ttl, predicate: skos:exactMatch}",
        f"<{P}2> skos:exactMatch <{P}1> .",
    ),
}


def test_every_option_has_a_case() -> None:
    from schemas.alignment.outputs import ClustersOutput

    assert set(OPTION_CASES) == set(IdentityChecks.model_fields) | set(ClustersOutput.model_fields)


@pytest.mark.parametrize("name", sorted(OPTION_CASES))
def test_every_option_runs(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    checks, outputs, shown = OPTION_CASES[name]
    (tmp_path / "links.csv").write_text(f"a,b\n{P}1,{P}9\n", encoding="utf-8")
    linkage = name in ("prefer", "same_source")
    spec = (_linkage if linkage else _dedup)(tmp_path, checks, outputs)
    assert main(["plan", str(spec)]) == 0
    assert main(["run", str(spec)]) == 0
    text = capsys.readouterr().out
    text += "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "out").glob("c.*"))
    assert shown in text


def test_clusters_across_specs_take_other_links_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    u = "http://example.org/u/"
    (tmp_path / "other.csv").write_text(f"align_id,target_id\n{T}3,{u}9\n", encoding="utf-8")
    same = "<http://www.w3.org/2002/07/owl#sameAs>"
    (tmp_path / "other.nt").write_text(
        f"<{u}1> {same} <{T}1> .\n<{u}1> <http://example.org/other> <{u}2> .\n", encoding="utf-8"
    )
    outputs = "  - {clusters: out/c.csv, links: [other.csv, other.nt]}"
    spec = _linkage(tmp_path, "", outputs)
    assert main(["run", "-q", str(spec)]) == 0
    rows = _rows(tmp_path / "out" / "c.csv")
    assert [(r["record_id"], r["canonical_id"], r["source"]) for r in rows] == [
        (P + "1", P + "1", "align"),
        (P + "2", P + "1", "align"),
        (T + "1", P + "1", "target"),
        (u + "1", P + "1", "other"),  # the other predicate's triple joins nothing
        (P + "3", P + "3", "align"),
        (T + "3", P + "3", "target"),
        (u + "9", P + "3", "other"),
    ]
    # A row without two IRIs: a data error naming the file and the row.
    (tmp_path / "other.csv").write_text(f"align_id,target_id\n{T}3\n", encoding="utf-8")
    before = (tmp_path / "out" / "c.csv").read_bytes()
    assert main(["run", "-q", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "other.csv:2: expected two IRIs (the linked records)" in err
    assert (tmp_path / "out" / "c.csv").read_bytes() == before


@pytest.mark.parametrize(
    ("links", "expected"),
    [("[missing.csv]", "file not found"), ("[out/links.csv]", "is an output of this spec")],
)
def test_other_links_must_be_other_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], links: str, expected: str
) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "links.csv").write_text("align_id,target_id\n", encoding="utf-8")
    outputs = f"  - {{clusters: out/c.csv, links: {links}}}"
    spec = _linkage(tmp_path, "", outputs)
    assert main(["validate", str(spec)]) == 2
    err = capsys.readouterr().err
    line = spec.read_text().splitlines().index(outputs) + 1
    assert expected in err and f"link.yaml:{line}:" in err


def test_read_links_of_every_format(tmp_path: Path) -> None:
    same = "http://www.w3.org/2002/07/owl#sameAs"
    files = {
        "a.nq": f"<{P}1> <{same}> <{T}1> <http://g/1> .\n<{P}2> <{same}> <{T}2> .\n",
        "a.ttl": f"@prefix owl: <http://www.w3.org/2002/07/owl#> .\n<{P}1> owl:sameAs <{T}1>, <{T}2> .\n",
        "a.tsv": f"align_id\ttarget_id\n{P}1\t{T}1\n\n{P}2\t{T}2\n",
    }
    expected = {
        "a.nq": [(P + "1", T + "1"), (P + "2", T + "2")],
        "a.ttl": [(P + "1", T + "1"), (P + "1", T + "2")],
        "a.tsv": [(P + "1", T + "1"), (P + "2", T + "2")],
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        assert identity.read_links(tmp_path / name, same) == expected[name]
    (tmp_path / "bad.nt").write_text("garbage\n", encoding="utf-8")
    with pytest.raises(DataError, match="cannot read the links"):
        identity.read_links(tmp_path / "bad.nt", same)
    (tmp_path / "links.json").write_text("{}", encoding="utf-8")
    with pytest.raises(DataError, match=r"\.csv, \.tsv, \.nt, \.ttl or \.nq"):
        identity.read_links(tmp_path / "links.json", same)


def test_a_plan_that_publishes_says_the_run_would_fail_its_check(
    empty_oxigraph: Oxigraph, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A plan of a spec that publishes computes the links: its checks run too.
    publish = (
        f"publish: {{graph_store: {empty_oxigraph.base}/store,"
        f" query: {empty_oxigraph.base}/query, graph: http://example.org/people}}"
    )
    spec = _dedup(tmp_path, f"checks: {{bridges: fail}}\n{publish}")
    assert main(["plan", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "1 clusters of 6 linked records, the largest 6; checks: 1 bridges" in out
    assert "a run would fail the identity-graph check(s) bridges" in out
    assert f"<{P}3> - <{P}4>" in out
    assert main(["run", "-q", str(spec)]) == 1  # and it does, publishing nothing
    assert "identity-graph check(s) bridges failed" in capsys.readouterr().err
    assert empty_oxigraph.count("http://example.org/people") == 0
