"""An alignment's figures as JSON (engine/alignment/summary_json.py): the publish difference."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main
from tests.stores import Oxigraph

ROOT = Path(__file__).resolve().parents[3]
GONCOURT = ROOT / "specs" / "linked" / "goncourt-sparql.yaml"
GRAPH = "http://example.org/linksets/goncourt"


def test_plan_and_run_documents_of_a_published_linkset(
    empty_oxigraph: Oxigraph,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    empty_oxigraph.load(
        (ROOT / "specs" / "data" / "french-novelists.ttl").read_bytes(), "text/turtle"
    )
    monkeypatch.setenv("OXIGRAPH_URL", empty_oxigraph.base)
    assert main(["plan", "--json", "--detailed-exitcode", str(GONCOURT)]) == 2
    document = json.loads(capsys.readouterr().out)
    assert document["changes"] is True
    publish = document["alignment"]["publish"]
    assert publish["graph"] == GRAPH and publish["links"] == 4 and publish["published"] is None
    added = publish["diff"]["added"]
    assert (
        len(added) == 4
        and ["http://example.org/goncourt/1903", "http://dbpedia.org/resource/John-Antoine_Nau"]
        in added
    )
    assert publish["diff"]["removed"] == [] and publish["diff"]["changes"] is True
    # The run publishes; its document says so, with the outputs' checksums.
    assert main(["run", "--json", str(GONCOURT), "--out-dir", str(tmp_path)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["alignment"]["publish"]["published"] == 4
    assert {Path(o["path"]).name for o in document["outputs"]} == {
        "goncourt-sparql.ttl",
        "goncourt-sparql.sssom.tsv",
    }
    assert all(len(o["sha256"]) == 64 for o in document["outputs"])
    # Nothing left to change.
    assert main(["plan", "--json", "--detailed-exitcode", str(GONCOURT)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["changes"] is False
    assert document["alignment"]["publish"]["diff"]["unchanged"] == 4
