"""``engine fit`` end to end, through the command line, on the Febrl data shipped in data/febrl.

A spec with its weights, missing distances and threshold removed is refused
by ``engine run``; ``engine fit`` then writes a model into it, and ``engine
run`` / ``engine eval`` score with it (the F1 targets are issue 15's).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

import engine
from engine.cli import main

ROOT = Path(__file__).resolve().parents[4]
DATA = ROOT / "data" / "febrl"


def unfitted(spec: Path, folder: Path, extra_outputs: str = "") -> Path:
    """The shipped spec, its hand-set scoring removed, data and outputs in place for ``folder``."""
    text = spec.read_text(encoding="utf-8")
    text = re.sub(r", *weight: [0-9.]+, *missing: [0-9.]+\}", "}", text)
    text = re.sub(r"(?m)^threshold: .*\n", "", text)
    text = text.replace("../data/febrl", str(DATA)).replace("../out/", str(folder / "out") + "/")
    text = text.replace("outputs:\n", "outputs:\n" + extra_outputs)
    assert "weight:" not in text and "\nthreshold:" not in text
    target = folder / spec.name
    target.write_text(text, encoding="utf-8")
    return target


def f1(spec: Path, gold: Path, capsys: pytest.CaptureFixture[str]) -> float:
    capsys.readouterr()
    assert main(["eval", str(spec), "--gold", str(gold), "--json"]) == 0
    return float(json.loads(capsys.readouterr().out)["links"]["f1"])


def test_unfitted_spec_is_refused_then_fitted_run_and_scored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sssom = f"  - {{sssom: {tmp_path}/out/febrl4.sssom.tsv}}\n"
    spec = unfitted(ROOT / "specs" / "febrl4.yaml", tmp_path, sssom)
    assert main(["run", "-q", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "neither a threshold nor a model" in err and "engine fit" in err and "febrl4.yaml" in err
    assert not (tmp_path / "out").exists()

    assert main(["fit", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "given_name" in out and "exact" in out and "wrote the model into" in out
    fitted = spec.read_text(encoding="utf-8")
    # Comments and layout kept; the model replaced the threshold.
    assert fitted.startswith("# Febrl 4 (5000 x 5000")
    assert "# Keys that stay small as the files grow" in fitted
    assert "\nmodel:\n  prior: " in fitted and "\nthreshold:" not in fitted
    assert engine.load_spec(spec).model is not None

    assert main(["run", "-q", str(spec)]) == 0
    assert f1(spec, DATA / "febrl4_true_links.csv", capsys) >= 0.999

    with open(tmp_path / "out" / "febrl4.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) >= 4990
    for row in rows:
        probability = float(row["probability"])
        assert probability >= 0.5
        assert abs(probability - (1 - float(row["distance"]))) < 1e-12
    lines = (tmp_path / "out" / "febrl4.sssom.tsv").read_text(encoding="utf-8").splitlines()
    assert any("confidence is the match probability" in line for line in lines)
    header = next(line for line in lines if line.startswith("subject_id")).split("\t")
    body = [line.split("\t") for line in lines if line.startswith("http") or line[:1].isalpha()]
    body = [row for row in body if len(row) == len(header) and row[0] != "subject_id"]
    confidence = header.index("confidence")
    distance = header.index("ext_distance")
    assert len(body) == len(rows)
    for cells in body:
        assert abs(float(cells[confidence]) - (1 - float(cells[distance]))) < 1e-12


def test_a_second_fit_writes_the_same_bytes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = unfitted(ROOT / "specs" / "febrl4.yaml", tmp_path)
    assert main(["fit", str(spec), "--out", str(tmp_path / "first.yaml")]) == 0
    first = (tmp_path / "first.yaml").read_bytes()
    assert spec.read_text(encoding="utf-8") != first.decode()  # --out left the spec alone
    assert main(["fit", str(tmp_path / "first.yaml")]) == 0
    assert (tmp_path / "first.yaml").read_bytes() == first
    capsys.readouterr()
    assert main(["fit", str(spec), "--out", str(tmp_path / "second.yaml"), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["command"] == "fit" and document["mode"] == "unsupervised (EM)"
    assert (tmp_path / "second.yaml").read_bytes() == first


def test_supervised_with_a_tenth_of_the_gold_links_matches_the_hand_tuned_spec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gold = DATA / "febrl4_true_links.csv"
    lines = gold.read_text(encoding="utf-8").splitlines()
    tenth = tmp_path / "gold-10.csv"
    tenth.write_text("\n".join([lines[0], *lines[1::10]]) + "\n", encoding="utf-8")
    spec = unfitted(ROOT / "specs" / "febrl4.yaml", tmp_path)
    assert main(["fit", str(spec), "--gold", str(tenth)]) == 0
    out = capsys.readouterr().out
    assert "threshold chosen on 500 gold links for the best estimated F1: F1" in out
    assert "threshold: match probability >= " in out
    hand_tuned = f1(ROOT / "specs" / "febrl4.yaml", gold, capsys)
    assert f1(spec, gold, capsys) >= hand_tuned


def test_term_frequency_is_asked_for_written_and_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = unfitted(ROOT / "specs" / "febrl4.yaml", tmp_path)
    assert main(["fit", str(spec), "--term-frequency", "surname, nope"]) == 2
    assert "--term-frequency: no attribute 'nope'" in capsys.readouterr().err
    assert main(["fit", str(spec), "--term-frequency", "surname,given_name"]) == 0
    assert "surname          exact (tf)" in capsys.readouterr().out
    fitted = spec.read_bytes()
    assert fitted.count(b"term_frequency: true") == 2
    assert main(["fit", str(spec)]) == 0  # kept by a later fit
    assert spec.read_bytes() == fitted
    assert f1(spec, DATA / "febrl4_true_links.csv", capsys) >= 0.999


def test_febrl2_deduplication_unsupervised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = unfitted(ROOT / "specs" / "febrl2-dedup.yaml", tmp_path)
    # Its clusters' threshold is a distance of the hand-set weights: meaningless under a
    # model, so the fit refuses to write a spec the loader would refuse, and says why.
    before = spec.read_text(encoding="utf-8")
    capsys.readouterr()
    assert main(["fit", str(spec)]) == 2
    err = capsys.readouterr().err
    line = 1 + before.splitlines().index(
        next(row for row in before.splitlines() if "{clusters:" in row)
    )
    assert f"{spec}:{line}:" in err and "clusters' threshold" in err
    assert "nothing was written" in err
    assert spec.read_text(encoding="utf-8") == before
    assert [p.name for p in tmp_path.iterdir() if "fit-check" in p.name] == []
    spec.write_text(before.replace(", threshold: 3.5}", "}"), encoding="utf-8")
    assert main(["fit", str(spec)]) == 0
    gold = DATA / "febrl2_true_links.csv"
    assert f1(spec, gold, capsys) >= 0.98
    # Supervised by a tenth of the links: a record's other duplicates are not all labelled.
    lines = gold.read_text(encoding="utf-8").splitlines()
    tenth = tmp_path / "gold-10.csv"
    tenth.write_text("\n".join([lines[0], *lines[1::10]]) + "\n", encoding="utf-8")
    assert main(["fit", str(spec), "--gold", str(tenth)]) == 0
    assert f1(spec, gold, capsys) >= f1(ROOT / "specs" / "febrl2-dedup.yaml", gold, capsys)


def test_fit_of_a_kind_without_a_model_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    spec = ROOT / "specs" / "images" / "debian-bookworm-disk.yaml"
    assert main(["fit", str(spec)]) == 2
    assert (
        "engine fit fits specs of kind alignment; this spec is of kind image"
        in capsys.readouterr().err
    )


def test_records_with_several_values_are_fitted_on_their_closest_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every align record gets a second, useless given name first: "zz|john".
    with open(DATA / "febrl4a.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    with open(tmp_path / "febrl4a.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "given_name": "zz|" + row["given_name"]})
    spec = unfitted(ROOT / "specs" / "febrl4.yaml", tmp_path)
    text = spec.read_text(encoding="utf-8").replace(
        f"csv: {DATA}/febrl4a.csv", f"csv: {tmp_path}/febrl4a.csv\n    split: {{given_name: '|'}}"
    )
    spec.write_text(text, encoding="utf-8")
    capsys.readouterr()
    assert main(["fit", str(spec), "--json"]) == 0
    given = json.loads(capsys.readouterr().out)["model"]["attributes"]["given_name"]
    assert given["m"][0] > 0.6  # as without the useless names: each pair's closest values
    assert given["u"][0] < 0.01
    assert f1(spec, DATA / "febrl4_true_links.csv", capsys) >= 0.999
