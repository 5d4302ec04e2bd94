"""The alignment handlers seen from a run: no candidate pair, no link, a rule over its budget,
and what each step computes once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.cli import main

SPEC = """\
kind: alignment
name: towns
sources:
  align: {{csv: a.csv, id: {{template: "http://a/{{id}}"}}}}
  target: {{csv: b.csv, id: {{template: "http://b/{{id}}"}}}}
attributes:
  - {{name: name, metric: levenshtein}}
  - {{name: pt, align: [lat, long], target: [lat, long], metric: geographic, weight: 0}}
blocking: {blocking}
threshold: {threshold}
outputs: [{{csv: out/links.csv}}, {{rdf: out/links.nt}}]
{extra}"""

ALIGN = "id,name,lat,long\n1,Paris,48.85,2.35\n2,Lyon,45.76,4.83\n"
TARGET = "id,name,lat,long\n10,Paris,48.86,2.35\n20,Lyon,45.75,4.84\n"


def _project(
    tmp_path: Path,
    blocking: str = "{key: {attribute: name}}",
    target: str = TARGET,
    threshold: float = 1,
    extra: str = "",
) -> Path:
    (tmp_path / "a.csv").write_text(ALIGN, encoding="utf-8")
    (tmp_path / "b.csv").write_text(target, encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(blocking=blocking, threshold=threshold, extra=extra))
    return spec


def _outputs(tmp_path: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((tmp_path / "out").iterdir())}


def _fails_and_keeps_outputs(tmp_path: Path, spec: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``spec`` after a good run wrote the outputs: exit 1, outputs untouched; the error."""
    before = _outputs(tmp_path)
    assert "http://b/10" in before["links.csv"]
    capsys.readouterr()
    assert main(["run", "-q", str(spec)]) == 1
    assert _outputs(tmp_path) == before
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_no_shared_key_fails_and_keeps_the_outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _project(tmp_path)
    assert main(["run", "-q", str(spec)]) == 0
    (tmp_path / "b.csv").write_text(TARGET.replace("Paris", "PARIS").replace("Lyon", "LYON"))
    err = _fails_and_keeps_outputs(tmp_path, spec, capsys)
    assert err == (
        f"engine: {spec}: blocking rule key on attribute name finds no candidate pair: the two"
        " sources share no key (align keys look like 'Paris', target keys look like 'PARIS')."
        " Nothing was written; fix the blocking or the sources, or set `allow_empty: true` to"
        " accept empty outputs\n"
    )


def test_swapped_coordinates_name_the_rule_and_the_points(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _project(tmp_path, blocking="{radius: {attribute: pt, radius: 10 km}}")
    assert main(["run", "-q", str(spec)]) == 0
    swapped = "id,name,long,lat\n10,Paris,48.86,2.35\n20,Lyon,45.75,4.84\n"
    (tmp_path / "b.csv").write_text(swapped)
    err = _fails_and_keeps_outputs(tmp_path, spec, capsys)
    assert "blocking rule radius on attribute pt, within 10 km (haversine, latlon)" in err
    assert "align points look like (48.85, 2.35), target points look like (2.35, 48.86)" in err
    assert "check the order of the coordinate columns" in err


@pytest.mark.parametrize(
    "blocking",
    ["none", "{key: {attribute: name}}", "{radius: {attribute: pt, radius: 10 km}}"],
)
def test_an_empty_source_fails_and_says_so(
    tmp_path: Path, blocking: str, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _project(tmp_path, blocking=blocking)
    assert main(["run", "-q", str(spec)]) == 0
    (tmp_path / "b.csv").write_text("id,name,lat,long\n")
    err = _fails_and_keeps_outputs(tmp_path, spec, capsys)
    assert f"finds no candidate pair: the target source {tmp_path / 'b.csv'} has no records." in err


def test_allow_empty_writes_empty_outputs_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _project(tmp_path, target="id,name,lat,long\n", extra="allow_empty: true\n")
    assert main(["run", "-q", str(spec)]) == 0
    assert _outputs(tmp_path) == {
        "links.csv": "align_id,target_id,distance,d_name,d_pt\n",
        "links.nt": "",
    }
    assert (
        f"warning: blocking rule key on attribute name finds no candidate pair: the target source"
        f" {tmp_path / 'b.csv'} has no records; the outputs are empty (allow_empty: true)\n"
    ) in capsys.readouterr().err


def test_the_plan_warns_when_the_estimate_is_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _project(tmp_path, target="id,name,lat,long\n10,Nice,43.7,7.26\n")
    assert main(["plan", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "   estimated comparisons: 0 (0.00% of 2)\n" in out
    assert (
        "   warning: blocking rule key on attribute name finds no candidate pair: the two sources"
        " share no key (align keys look like 'Paris', target keys look like 'Nice'); a run would"
        " fail (set `allow_empty: true` to accept empty outputs)\n"
    ) in out


def test_no_pair_under_the_threshold_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Pairs were compared: the blocking works; a strict threshold is the spec's choice.
    target = TARGET.replace("Paris", "Pariz").replace("Lyon", "Lyom")
    spec = _project(tmp_path, blocking="none", threshold=0, target=target)
    assert main(["run", "-q", str(spec)]) == 0
    assert (
        "warning: none of the 4 candidate pairs is at or under the threshold (0): no links"
        in capsys.readouterr().err
    )
    assert _outputs(tmp_path)["links.nt"] == ""


def test_a_plan_over_max_pairs_prints_the_plan_then_the_refusal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _project(tmp_path, blocking="{key: {attribute: name, max_pairs: 1}}")
    assert main(["plan", str(spec)]) == 1
    captured = capsys.readouterr()
    refusal = (
        "blocking rule key on attribute name, max_pairs 1: about 2 candidate pairs, more than"
        " its max_pairs (1); make the blocking more selective or raise max_pairs"
    )
    assert captured.out.splitlines()[6:] == [
        "4. blocking: key on attribute name, max_pairs 1",
        "   estimated comparisons: 2 (50.00% of 4)",
        f"   refused: {refusal}",
        "5. keep pairs with global distance <= 1",
        "6. matching: best",
        "7. write csv -> " + str(tmp_path / "out" / "links.csv"),
        "8. write ntriples -> " + str(tmp_path / "out" / "links.nt"),
    ]
    assert captured.err == f"engine: {spec}: {refusal}\n"
    # A run is refused before comparing, as before.
    assert main(["run", "-q", str(spec)]) == 1
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- computed once

ONCE = """\
kind: alignment
name: once
sources:
  align: {csv: a.csv, id: {template: "http://a/{id}"}}
  target: {csv: b.csv, id: {template: "http://b/{id}"}}
attributes:
  - {name: name, metric: jaro_winkler, weight: 2}
  - {name: code, metric: exact}
  - {name: pt, align: [lat, long], metric: {geographic: {scale: 50}}, weight: 0.5}
blocking: {key: {attribute: code}}
threshold: 0.4
matching: one-to-one
outputs:
  - {csv: out/links.csv}
  - {sssom: out/links.sssom.tsv}
  - {html: out/report.html, gold: gold.csv, sample: 5, near_misses: 5, margin: 2}
  - {html: out/again.html, gold: gold.csv}
"""


def _once_project(tmp_path: Path) -> Path:
    rows = ["Paris,75,48.85,2.35", "Lyon,69,45.76,4.83", "Nice,06,43.70,7.27", "Pau,64,43.30,-0.37"]
    (tmp_path / "a.csv").write_text(
        "id,name,code,lat,long\n" + "".join(f"{i},{r}\n" for i, r in enumerate(rows)),
        encoding="utf-8",
    )
    near = ["Pariz,75,48.86,2.35", "Lyons,69,45.75,4.84", "Nizza,06,43.71,7.26", "Paris,64,43.3,0"]
    (tmp_path / "b.csv").write_text(
        "id,name,code,lat,long\n" + "".join(f"{i},{r}\n" for i, r in enumerate(near)),
        encoding="utf-8",
    )
    (tmp_path / "gold.csv").write_text("a,t\n0,0\n1,1\n2,2\n3,3\n", encoding="utf-8")
    (tmp_path / "spec.yaml").write_text(ONCE, encoding="utf-8")
    return tmp_path / "spec.yaml"


def _after(step_name: str, monkeypatch: pytest.MonkeyPatch, poison: Any) -> None:
    """Call ``poison()`` once the step named ``step_name`` is done (in every run after it)."""
    from engine import kinds

    handlers = kinds.get("alignment").handlers()
    step_type = next(t for t in handlers if t.__name__ == step_name)
    handler = handlers[step_type]

    def then_poison(step: Any, state: Any) -> None:
        handler(step, state)
        poison()

    monkeypatch.setitem(handlers, step_type, then_poison)  # type: ignore[index]


def test_no_metric_runs_after_the_compare_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per-attribute distances come from the compare step: links, SSSOM and report reuse them."""
    from engine.alignment.metrics import METRICS

    spec = _once_project(tmp_path)
    assert main(["run", "-q", str(spec)]) == 0
    expected = _outputs(tmp_path)
    assert "d_pt" in expected["links.csv"] and "Lyons" in expected["report.html"]

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a distance computed again after the compare step")

    def poison() -> None:
        for entry in METRICS:
            monkeypatch.setattr(entry.func, "compute", boom)
            monkeypatch.setattr(entry.func, "block", boom, raising=False)

    _after("Compare", monkeypatch, poison)
    assert main(["run", "-q", str(spec)]) == 0
    again = _outputs(tmp_path)
    assert again["links.csv"] == expected["links.csv"]
    assert again["links.sssom.tsv"] == expected["links.sssom.tsv"]


def test_the_reports_gold_is_scored_once_before_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two reports on the same gold links: read and swept once, by the match step."""
    from engine.alignment import evaluate

    spec = _once_project(tmp_path)
    calls: list[str] = []
    read_gold = evaluate.read_gold

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append("read")
        return read_gold(*args, **kwargs)

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("gold links scored while writing")

    def poison() -> None:
        monkeypatch.setattr(evaluate, "read_gold", boom)
        monkeypatch.setattr(evaluate, "sweep", boom)

    monkeypatch.setattr(evaluate, "read_gold", counting)
    _after("Match", monkeypatch, poison)
    assert main(["run", "-q", str(spec)]) == 0
    assert calls == ["read"]
    report = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "Precision" in report or "precision" in report
    assert (tmp_path / "out" / "again.html").exists()


def test_a_lean_pool_gives_the_same_links_and_distances(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a model, near-misses, review or curation, the compare stage keeps each pair's
    indexes and total only; the links' distances per attribute are computed again, the same."""
    from engine.alignment import handlers, stream

    spec = _once_project(tmp_path)
    lean_spec = tmp_path / "lean.yaml"
    # The plain outputs alone: no report (its near-misses keep their distances).
    lean_spec.write_text(
        spec.read_text().split("outputs:")[0]
        + "outputs: [{csv: out/links.csv}, {sssom: out/links.sssom.tsv}]\n"
    )
    asked: list[bool] = []
    compare_all = stream.compare_all

    def spy(*args: Any, **kwargs: Any) -> Any:
        asked.append(kwargs.get("distances", True))
        return compare_all(*args, **kwargs)

    monkeypatch.setattr(handlers, "compare_all", spy)
    assert main(["run", "-q", str(lean_spec)]) == 0
    assert asked == [True]  # a small task keeps its distances: recomputing them costs time
    monkeypatch.setattr(handlers, "LEAN_FROM", 0)
    assert main(["run", "-q", str(lean_spec)]) == 0
    assert asked == [True, False]
    lean = _outputs(tmp_path)
    assert "d_pt" in lean["links.csv"]
    monkeypatch.setattr(handlers, "_lean", lambda step, state: False)
    assert main(["run", "-q", str(lean_spec)]) == 0
    assert asked == [True, False, True]
    assert _outputs(tmp_path) == lean
