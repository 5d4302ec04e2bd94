"""The normalisation specs of specs/: per-side chains, lookup tables, several labels.

``countries-fr-en.yaml`` links French country names to English ones with a chain
per side; one chain shared by both sides (whichever side's) misses links.
``countries-labels.yaml`` reads every label of an RDF dump (``values: all``).
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
import yaml

from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "countries-fr-en.yaml"
DATA = ROOT / "specs" / "data"
CODES = [row["code"] for row in csv.DictReader((DATA / "countries-fr.csv").open(encoding="utf-8"))]
GOLD = {(f"http://example.org/fr/{c}", f"http://example.org/en/{c}") for c in CODES}

ALIGN_CHAIN = "[{lookup: data/countries-fr-en.csv}, unaccent, {simplify: {stopwords: fr}}]"
TARGET_CHAIN = "[unaccent, {simplify: {stopwords: en}}]"
PER_SIDE = f"""    normalise:
      align: {ALIGN_CHAIN}
      target: {TARGET_CHAIN}
"""


def _copy(tmp_path: Path, normalise: str = PER_SIDE, table: str | None = None) -> Path:
    """The spec and its data in ``tmp_path``, with another ``normalise`` or lookup table."""
    text = SPEC.read_text(encoding="utf-8")
    assert PER_SIDE in text  # the spec is the one these tests describe
    shutil.copytree(DATA, tmp_path / "data")
    if table is not None:
        (tmp_path / "data" / "countries-fr-en.csv").write_text(table, encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text(text.replace(PER_SIDE, normalise).replace("../out/", "out/"), encoding="utf-8")
    return spec


def _links(spec: Path) -> set[tuple[str, str]]:
    assert main(["run", "-q", str(spec)]) == 0
    with (spec.parent / "out" / "countries-fr-en.csv").open(encoding="utf-8") as handle:
        return {(row["align_id"], row["target_id"]) for row in csv.DictReader(handle)}


def test_a_chain_per_side_links_every_country(tmp_path: Path) -> None:
    assert len(GOLD) == 30
    assert _links(_copy(tmp_path)) == GOLD


def test_sssom_states_each_side_s_preprocessing(tmp_path: Path) -> None:
    spec = _copy(tmp_path)
    assert main(["run", "-q", str(spec)]) == 0
    text = (tmp_path / "out" / "countries-fr-en.sssom.tsv").read_text(encoding="utf-8")
    metadata = yaml.safe_load(
        "".join(line[1:] for line in text.splitlines(True) if line[:1] == "#")
    )
    assert metadata["subject_preprocessing"] == [
        "normaliser:lookup",
        "semapv:DiacriticsSuppression",
        "normaliser:simplify",
    ]
    assert metadata["object_preprocessing"] == [
        "semapv:DiacriticsSuppression",
        "normaliser:simplify",
    ]


@pytest.mark.parametrize("shared", [ALIGN_CHAIN, TARGET_CHAIN], ids=["french", "english"])
def test_one_chain_for_both_sides_misses_links(shared: str, tmp_path: Path) -> None:
    links = _links(_copy(tmp_path, f"    normalise: {shared}\n"))
    found = links & GOLD
    assert len(found) <= len(GOLD) - 3  # French (or English) stop words stay on one side
    assert links - GOLD == links - found  # and what is not found is not made up either


def test_the_lookup_table_carries_the_names_that_look_nothing_alike(tmp_path: Path) -> None:
    without = f"""    normalise:
      align: [unaccent, {{simplify: {{stopwords: fr}}}}]
      target: {TARGET_CHAIN}
"""
    links = _links(_copy(tmp_path, without))
    missed = {a.rsplit("/", 1)[1] for a, _ in GOLD - links}
    assert {"DE", "ES", "CH", "GB"} <= missed


def test_a_missing_lookup_file_is_a_spec_error_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _copy(tmp_path, PER_SIDE.replace("countries-fr-en.csv", "nowhere.csv"))
    assert main(["validate", str(spec)]) == 2
    err = capsys.readouterr().err
    line = next(n for n, t in enumerate(spec.read_text().splitlines(), 1) if "nowhere" in t)
    assert f"spec.yaml:{line}:" in err
    assert "file not found" in err and "nowhere.csv" in err
    assert "Traceback" not in err


def test_a_bad_lookup_table_is_a_data_error_naming_file_and_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = "french,english\nAllemagne,Germany\nallemagne,Deutschland\n"
    spec = _copy(tmp_path, table=table)
    assert main(["run", "-q", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "countries-fr-en.csv:3: 'allemagne' is given two replacements" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out" / "countries-fr-en.csv").exists()


def test_per_side_chains_are_refused_for_a_deduplication(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _copy(tmp_path)
    text = spec.read_text(encoding="utf-8")
    start = text.index("  target: {csv")
    spec.write_text(text[:start] + "  target: same\n" + text[text.index("attributes:") :])
    assert main(["validate", str(spec)]) == 2
    err = capsys.readouterr().err
    # At the per-side mapping, the line below its key.
    line = next(n for n, t in enumerate(spec.read_text().splitlines(), 1) if "align: [{" in t)
    assert f"spec.yaml:{line}:7: attributes[0].normalise: normalisers per side need two" in err


def test_a_mistake_in_one_side_is_reported_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _copy(tmp_path, PER_SIDE.replace("target: [unaccent", "target: [unacent"))
    assert main(["validate", str(spec)]) == 2
    err = capsys.readouterr().err
    line = next(n for n, t in enumerate(spec.read_text().splitlines(), 1) if "unacent" in t)
    assert f"spec.yaml:{line}:" in err and "unaccent" in err
    assert err.count("error") <= 2  # one problem, not one per form of `normalise`


LABELS = ROOT / "specs" / "countries-labels.yaml"


@pytest.mark.parametrize("values", ["all", "best"])
def test_every_label_in_the_listed_languages_links_more(values: str, tmp_path: Path) -> None:
    text = LABELS.read_text(encoding="utf-8")
    assert "    values: all\n" in text
    shutil.copytree(DATA, tmp_path / "data")
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        text.replace("    values: all\n", f"    values: {values}\n").replace("../out/", "out/"),
        encoding="utf-8",
    )
    assert main(["run", "-q", str(spec)]) == 0
    with (tmp_path / "out" / "countries-labels.csv").open(encoding="utf-8") as handle:
        links = {
            (r["align_id"].rsplit("/", 1)[1], r["target_id"].rsplit("/", 1)[1])
            for r in csv.DictReader(handle)
        }
    assert all(a == b for a, b in links)  # every link is right
    # The English labels and altLabels link 12 more countries (Germany, United Kingdom...);
    # Deutschland@de is not in the listed languages.
    assert len(links) == (27 if values == "all" else 15)
    assert ("DE" in {a for a, _ in links}) == (values == "all")
