"""What `engine eval` prints: the scores, a failing gold file, the threshold sweep."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine import build_plan, load_spec, run
from engine.alignment.report import eval_text
from engine.cli import main

# Levenshtein distances: Paris-Pariz 1, Lyon-Lyons 1, Nice-Nizze 2, every other pair more.
SPEC = """\
kind: alignment
name: towns
sources:
  align: {csv: a.csv, id: {template: "http://a/{id}"}}
  target: {csv: b.csv, id: {template: "http://b/{id}"}}
attributes: [{name: name, metric: levenshtein}]
threshold: 1
matching: one-to-one
outputs: [{csv: out.csv}]
"""
ALIGN = "id,name\n1,Paris\n2,Lyon\n3,Nice\n"
TARGET = "id,name\n10,Pariz\n20,Lyons\n30,Nizze\n"


def _project(tmp_path: Path, gold: str = "a,t\n1,10\n2,20\n3,30\n") -> tuple[Path, Path]:
    (tmp_path / "a.csv").write_text(ALIGN)
    (tmp_path / "b.csv").write_text(TARGET)
    (tmp_path / "spec.yaml").write_text(SPEC)
    (tmp_path / "gold.csv").write_text(gold)
    return tmp_path / "spec.yaml", tmp_path / "gold.csv"


def _sweep(out: str) -> list[list[str]]:
    lines = out.splitlines()
    start = lines.index("  threshold      links  precision  recall      F1") + 1
    return [line.split() for line in lines[start:]]


def test_the_sweep_goes_both_sides_of_the_threshold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec, gold = _project(tmp_path)
    assert main(["eval", str(spec), "--gold", str(gold), "--steps", "4"]) == 0
    out = capsys.readouterr().out
    assert "links: 2 found, 2 true: precision 1.0000  recall 0.6667  F1 0.8000" in out
    # Up to twice the threshold: the sweep shows what a threshold of 2 would find.
    assert _sweep(out) == [
        ["0.5", "0", "1.0000", "0.0000", "0.0000"],
        ["1", "2", "1.0000", "0.6667", "0.8000", "*"],
        ["1.5", "2", "1.0000", "0.6667", "0.8000"],
        ["2", "3", "1.0000", "1.0000", "1.0000"],
    ]
    assert not (tmp_path / "out.csv").exists()


def test_steps_as_a_list_of_thresholds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec, gold = _project(tmp_path)
    assert main(["eval", str(spec), "--gold", str(gold), "--steps", "0.1,0.5,3"]) == 0
    assert _sweep(capsys.readouterr().out) == [
        ["0.1", "0", "1.0000", "0.0000", "0.0000"],
        ["0.5", "0", "1.0000", "0.0000", "0.0000"],
        ["3", "3", "1.0000", "1.0000", "1.0000"],
    ]
    assert main(["eval", str(spec), "--gold", str(gold), "--steps", "0.1,x"]) == 2
    assert "argument --steps: '0.1,x': give a number of thresholds" in capsys.readouterr().err


def test_the_default_sweep_has_ten_thresholds(tmp_path: Path) -> None:
    spec_path, gold = _project(tmp_path)
    spec = load_spec(spec_path)
    plan = build_plan(spec, spec_path)
    state = run(plan, spec, write=False)
    rows = _sweep(eval_text(state, gold))
    assert [row[0] for row in rows] == [f"{0.2 * k:g}" for k in range(1, 11)]


@pytest.mark.parametrize(
    ("gold", "message"),
    [
        ("a,t\n", "the gold file has no pairs"),
        (
            "a,t\nrec-1,rec-10\n",
            "the gold pair names no records of the sources: align ids look like 'rec-1' (line 2)"
            " but the align records are IRIs like 'http://a/1'; write IRIs or the raw value of"
            " the id template's {id} ('1')",
        ),
    ],
)
def test_gold_naming_no_record_fails(
    tmp_path: Path, gold: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    spec, gold_path = _project(tmp_path, gold)
    assert main(["eval", str(spec), "--gold", str(gold_path)]) == 1
    captured = capsys.readouterr()
    assert "recall" not in captured.out
    assert captured.err.startswith(f"engine: {gold_path}: {message}")


def test_gold_pairs_with_unknown_records_are_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec, gold = _project(tmp_path, "a,t\n1,10\n2,20\n9,30\n")
    assert main(["eval", str(spec), "--gold", str(gold)]) == 0
    out = capsys.readouterr().out
    assert (
        f"warning: 1 of the 3 gold pairs in {gold} name records not in the sources"
        " (line 4: '9'); they are left out of the scores"
    ) in out
    assert "links: 2 found, 2 true: precision 1.0000  recall 1.0000" in out


MODEL_SPEC = """\
kind: alignment
name: people
sources:
  align: {inline: [{id: "1", name: Ann}, {id: "2", name: Bob}], id: {template: "http://x/{id}"}}
  target: {inline: [{id: "1", name: Ann}, {id: "2", name: Bob}], id: {template: "http://y/{id}"}}
attributes:
  - {name: name, metric: exact}
blocking: none
matching: one-to-one
model:
  prior: 0.001
  threshold: 0.9
  attributes:
    name: {levels: [0.0], m: [0.9, 0.1], u: [0.01, 0.99]}
outputs:
  - {csv: out/links.csv}
"""


def _model_project(tmp_path: Path) -> tuple[Path, Path]:
    """A fitted-model spec and a one-link gold file."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(MODEL_SPEC, encoding="utf-8")
    gold = tmp_path / "gold.csv"
    gold.write_text("align_id,target_id\nhttp://x/1,http://y/1\n", encoding="utf-8")
    return spec, gold


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([], ["0.8", "0.82", "0.88", "0.9 *", "0.92", "0.98"]),
        (["--steps", "0.5,0.9,0.99"], ["0.5", "0.9 *", "0.99"]),
    ],
)
def test_a_model_sweep_is_in_probabilities(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], steps: list[str], expected: list[str]
) -> None:
    """A fitted spec's sweep reads and shows match probabilities: one row per threshold."""
    spec, gold = _model_project(tmp_path)
    assert main(["eval", str(spec), "--gold", str(gold), *steps]) == 0
    out = capsys.readouterr().out
    table = out[out.index("threshold sweep") :].splitlines()[1:]
    assert table[0].split()[0] == "P(match)"
    firsts = [row.split()[0] for row in table[1:]]
    assert len(firsts) == len(set(firsts)), table  # no threshold twice
    assert firsts == sorted(firsts, key=float)
    marked = [row.split()[0] + " *" for row in table[1:] if row.endswith(" *")]
    shown = [row.split()[0] for row in table[1:]]
    for value in expected:
        assert (value in marked) if value.endswith("*") else (value in shown), table


def test_a_model_sweep_refuses_a_probability_above_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec, gold = _model_project(tmp_path)
    assert main(["eval", str(spec), "--gold", str(gold), "--steps", "0.5,2"]) == 2
    assert "match probabilities, from 0 to 1" in capsys.readouterr().err


def test_a_model_sweep_in_json_reads_probabilities(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec, gold = _model_project(tmp_path)
    assert main(["eval", "--json", str(spec), "--gold", str(gold), "--steps", "0.5,0.9"]) == 0
    document = json.loads(capsys.readouterr().out)
    figures = document.get("figures", document)
    rows = figures["sweep"]
    assert sorted(row["probability"] for row in rows) == [0.5, 0.9]
    assert [row["probability"] for row in rows if row["spec_threshold"]] == [0.9]
