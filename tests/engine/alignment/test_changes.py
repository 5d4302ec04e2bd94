"""The diff output (engine.alignment.changes): a SPARQL Update from the previous linkset."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Dataset, Graph

from engine.cli import main
from tests.engine.alignment.test_curation import ACCEPT, MISSED, REJECT, WRONG, _curation, _spec
from tests.stores import Oxigraph

GRAPH = "http://example.org/linkset"


def _triples(text: str, fmt: str, graph: str | None = None) -> set[tuple[str, str, str]]:
    if fmt == "nquads":
        dataset = Dataset()
        dataset.parse(data=text, format="nquads")
        return {(s.n3(), p.n3(), o.n3()) for s, p, o, g in dataset.quads() if str(g) == graph}
    return {(s.n3(), p.n3(), o.n3()) for s, p, o in Graph().parse(data=text, format=fmt)}


@pytest.mark.parametrize(
    ("rdf", "diff", "fmt"),
    [
        (
            f'{{rdf: out/links.nq, graph: "{GRAPH}"}}',
            "{diff: out/changes.ru, of: out/links.nq}",
            "nquads",
        ),
        (
            "{rdf: out/links.ttl}",
            f'{{diff: out/changes.ru, of: out/links.ttl, graph: "{GRAPH}"}}',
            "turtle",
        ),
    ],
)
def test_the_diff_turns_the_previous_linkset_into_the_new_in_a_store(
    tmp_path: Path, empty_oxigraph: Oxigraph, rdf: str, diff: str, fmt: str
) -> None:
    extra = f"  - {rdf}\n  - {diff}\n"
    spec = _spec(tmp_path, extra=extra)
    assert main(["run", "-q", str(spec)]) == 0
    suffix = "nq" if fmt == "nquads" else "ttl"
    linkset = tmp_path / "out" / f"links.{suffix}"
    first = linkset.read_text(encoding="utf-8")
    update = (tmp_path / "out" / "changes.ru").read_text(encoding="utf-8")
    assert "0 links removed, 3 added" in update  # no previous linkset: everything is new
    if fmt == "nquads":
        empty_oxigraph.load(first, "application/n-quads")
    else:
        empty_oxigraph.load(first, "text/turtle", graph=GRAPH)
    # The curation changes the links: one goes, one comes (with its annotation).
    _curation(tmp_path, [REJECT, ACCEPT])
    spec = _spec(tmp_path, curation="curation: curation.sssom.tsv", extra=extra)
    assert main(["run", "-q", str(spec)]) == 0
    second = linkset.read_text(encoding="utf-8")
    update = (tmp_path / "out" / "changes.ru").read_text(encoding="utf-8")
    assert "1 links removed, 1 added" in update
    assert f"<{WRONG[0]}> <http://www.w3.org/2002/07/owl#sameAs> <{WRONG[1]}> ." in update
    empty_oxigraph.update(update)
    stored = _triples(empty_oxigraph.dump(GRAPH), "nt")
    assert stored == _triples(second, fmt, GRAPH)
    assert (f"<{MISSED[0]}>", "<http://www.w3.org/2002/07/owl#sameAs>", f"<{MISSED[1]}>") in stored
    # A run that changes nothing writes a no-op update.
    assert main(["run", "-q", str(spec)]) == 0
    update = (tmp_path / "out" / "changes.ru").read_text(encoding="utf-8")
    assert "0 links removed, 0 added" in update
    empty_oxigraph.update(update)
    assert _triples(empty_oxigraph.dump(GRAPH), "nt") == stored


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("  - {diff: out/changes.ru}\n", "add an rdf output"),
        (
            "  - {rdf: out/a.nt}\n  - {rdf: out/b.nt}\n  - {diff: out/changes.ru}\n",
            "several rdf outputs",
        ),
        ("  - {rdf: out/a.nt}\n  - {diff: out/changes.ru, of: out/b.nt}\n", "names no rdf output"),
    ],
)
def test_a_diff_needs_its_rdf_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str, message: str
) -> None:
    spec = _spec(tmp_path, extra=extra)
    # The helper's spec has an rdf output already: drop it, to count them here.
    text = spec.read_text(encoding="utf-8").replace("  - {rdf: out/links.nt}\n", "")
    spec.write_text(text, encoding="utf-8")
    assert main(["validate", str(spec)]) == 2
    err = capsys.readouterr().err
    assert message in err and "spec.yaml:" in err


@pytest.mark.parametrize("protocol", ["graph_store", "update"])
def test_a_publishing_spec_diffs_against_the_published_graph(
    tmp_path: Path, empty_oxigraph: Oxigraph, protocol: str
) -> None:
    """With publish:, the diff turns what the graph held into what this run published."""
    store = empty_oxigraph
    endpoint = store.store_url if protocol == "graph_store" else store.update_url
    read = "" if protocol == "graph_store" else f"\n  query: {store.query_url}"
    extra = f"""  - {{diff: out/changes.ru}}
publish:
  {protocol}: {endpoint}{read}
  graph: {GRAPH}
"""
    spec = _spec(tmp_path, extra=extra)
    assert main(["run", "-q", str(spec)]) == 0
    update = (tmp_path / "out" / "changes.ru").read_text(encoding="utf-8")
    assert "0 links removed, 3 added" in update
    before = store.dump(GRAPH)
    _curation(tmp_path, [REJECT, ACCEPT])
    spec = _spec(tmp_path, curation="curation: curation.sssom.tsv", extra=extra)
    assert main(["run", "-q", str(spec)]) == 0
    published = _triples(store.dump(GRAPH), "nt")
    update = (tmp_path / "out" / "changes.ru").read_text(encoding="utf-8")
    assert "1 links removed, 1 added" in update
    # A mirror of the graph as it was, updated, equals the graph as published now.
    store.clear()
    store.load(before, "application/n-triples", graph=GRAPH)
    store.update(update)
    assert _triples(store.dump(GRAPH), "nt") == published
    assert (
        f"<{MISSED[0]}>",
        "<http://www.w3.org/2002/07/owl#sameAs>",
        f"<{MISSED[1]}>",
    ) in published


def _diff_spec(tmp_path: Path, suffix: str) -> Path:
    """The helper's spec with its links as ``links.<suffix>`` and a diff of them."""
    extra = f"  - {{rdf: out/links.{suffix}}}\n  - {{diff: out/changes.ru}}\n"
    spec = _spec(tmp_path, extra=extra)
    # The helper's spec has an rdf output already: drop it, the diff needs one.
    text = spec.read_text(encoding="utf-8").replace("  - {rdf: out/links.nt}\n", "", 1)
    spec.write_text(text, encoding="utf-8")
    return spec


@pytest.mark.parametrize("suffix", ["ttl", "nt"])
def test_a_corrupt_previous_linkset_is_a_data_error_saying_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str
) -> None:
    spec = _diff_spec(tmp_path, suffix)
    assert main(["run", "-q", str(spec)]) == 0, capsys.readouterr().err
    linkset = tmp_path / "out" / f"links.{suffix}"
    linkset.write_text("garbage\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["run", "-q", str(spec)]) == 1
    err = capsys.readouterr().err
    assert f"{linkset}: cannot be read as the previous linkset" in err, err
    assert "remove it or move it away" in err
    assert "Bad syntax" not in err and "b''" not in err  # no rdflib internals
    # As it says: once the file is moved away, the run writes every link as added.
    linkset.rename(tmp_path / "links.old")
    assert main(["run", "-q", str(spec)]) == 0
    assert "0 links removed" in (tmp_path / "out" / "changes.ru").read_text(encoding="utf-8")


def test_the_engines_linksets_are_read_without_rdflib(monkeypatch: pytest.MonkeyPatch) -> None:
    # rdflib reads about 30,000 triples a second: the previous linkset of a big run took seconds.
    from rdflib import Dataset

    from engine.alignment.changes import read_quads

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("parsed with rdflib")

    monkeypatch.setattr(Graph, "parse", refuse)
    monkeypatch.setattr(Dataset, "parse", refuse)
    link = "<http://a/1> <http://www.w3.org/2002/07/owl#sameAs> <http://b/é>"
    assert read_quads(f"{link} .\n{link} .\n", "ntriples", GRAPH, "x") == {
        ("<http://a/1>", "<http://www.w3.org/2002/07/owl#sameAs>", "<http://b/é>", GRAPH)
    }
    assert read_quads(f"{link} <{GRAPH}> .\n{link} .\n", "nquads", None, "x") == {
        ("<http://a/1>", "<http://www.w3.org/2002/07/owl#sameAs>", "<http://b/é>", GRAPH),
        ("<http://a/1>", "<http://www.w3.org/2002/07/owl#sameAs>", "<http://b/é>", None),
    }
    assert read_quads("", "ntriples", None, "x") == set()


_TERMS = [
    "<http://a/1>",
    "<http://b/é>",
    "<urn:x:y>",
    "<http://a/\xa0x>",
    "<http://a/{x}>",
    "<http://a/\\u00e9>",
    "<relative>",
    "<http://a/b c>",
    '"text"',
    '"3"^^<http://www.w3.org/2001/XMLSchema#integer>',
    "<urn:x-rdflib:default>",
    "<http://www.w3.org/2002/07/owl#sameAs>",
]
_SEPARATORS = [" "] * 12 + ["\t", "  "]


@pytest.mark.parametrize("fmt", ["ntriples", "nquads"])
def test_linksets_read_without_rdflib_are_what_rdflib_reads(fmt: str) -> None:
    import random

    from engine.alignment import changes

    def outcome(text: str, plain: bool) -> object:
        with pytest.MonkeyPatch.context() as patch:
            if not plain:
                patch.setattr(changes, "_plain_quads", lambda *args: None)
            try:
                return changes.read_quads(text, fmt, GRAPH, "x")
            except Exception as exc:  # rdflib's own (n3() of an IRI it parsed) or DataError
                return type(exc)

    rng = random.Random(fmt)
    fast = 0
    for _ in range(400):
        lines = []
        for _ in range(rng.randint(0, 4)):
            terms = [rng.choice(_TERMS[:3] * 40 + _TERMS) for _ in range(rng.choice([3, 3, 4]))]
            separator = rng.choice(_SEPARATORS)
            lines.append(separator.join(terms) + rng.choice([" ."] * 12 + [" . ", "."]))
        text = "\n".join(lines) + rng.choice(["\n"] * 6 + ["", "\n\n", "\n# c\n"])
        found = outcome(text, plain=True)
        assert found == outcome(text, plain=False), text
        fast += changes._plain_quads(text, fmt, GRAPH) is not None and bool(found)
    assert fast > 20  # both paths are taken


@pytest.mark.parametrize("suffix", ["ttl", "nt"])
def test_a_previous_linkset_saved_with_a_byte_order_mark_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str
) -> None:
    # Editors on Windows save UTF-8 with a BOM: the file is the same linkset.
    spec = _diff_spec(tmp_path, suffix)
    assert main(["run", "-q", str(spec)]) == 0, capsys.readouterr().err
    linkset = tmp_path / "out" / f"links.{suffix}"
    linkset.write_text("\ufeff" + linkset.read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["run", "-q", str(spec)]) == 0, capsys.readouterr().err
    update = (tmp_path / "out" / "changes.ru").read_text(encoding="utf-8")
    assert "0 links removed, 0 added (0 triples deleted, 0 inserted)" in update
