"""Curated mappings in (engine.alignment.curation): must-links, cannot-links, through the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from engine.cli import main

A = "http://example.org/a/"
T = "http://example.org/t/"

#: a3 and t3 are namesakes (the run links them wrongly); a4 and t4 are one
#: person under two names (the run misses them).
ALIGN = [("1", "Victor Hugo"), ("2", "Emile Zola"), ("3", "Jules Verne"), ("4", "Bob Dylan")]
TARGET = [
    ("1", "Victor Hugo"),
    ("2", "Emile Zolla"),
    ("3", "Jules Verne"),
    ("4", "Robert Zimmerman"),
]
WRONG = (A + "3", T + "3")
MISSED = (A + "4", T + "4")

HEADER = """# curie_map:
#   a: http://example.org/a/
#   t: http://example.org/t/
#   orcid: https://orcid.org/
#   semapv: https://w3id.org/semapv/vocab/
# mapping_set_id: http://example.org/curation
# license: https://creativecommons.org/publicdomain/zero/1.0/
subject_id\tpredicate_id\tobject_id\tmapping_justification\tpredicate_modifier\tauthor_id\tmapping_date
"""


def _write_csv(path: Path, rows: list[tuple[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("id", "name"))
        writer.writerows(rows)


def _spec(tmp_path: Path, *, curation: str = "", matching: str = "best", extra: str = "") -> Path:
    _write_csv(tmp_path / "align.csv", ALIGN)
    _write_csv(tmp_path / "target.csv", TARGET)
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"""kind: alignment
name: curated
sources:
  align: {{csv: align.csv, id: {{template: "{A}{{id}}"}}}}
  target: {{csv: target.csv, id: {{template: "{T}{{id}}"}}}}
attributes:
  - {{name: name, metric: levenshtein}}
threshold: 1
matching: {matching}
{curation}
outputs:
  - {{csv: out/links.csv}}
  - {{sssom: out/links.sssom.tsv}}
  - {{rdf: out/links.nt}}
{extra}""",
        encoding="utf-8",
    )
    return spec


def _links(tmp_path: Path) -> set[tuple[str, str]]:
    with (tmp_path / "out" / "links.csv").open(encoding="utf-8") as handle:
        return {(row["align_id"], row["target_id"]) for row in csv.DictReader(handle)}


def _curation(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "curation.sssom.tsv"
    path.write_text(HEADER + "".join(row + "\n" for row in rows), encoding="utf-8")
    return path


REJECT = "a:3\towl:sameAs\tt:3\tsemapv:ManualMappingCuration\tNot\torcid:0000-0001\t2026-12-01"
ACCEPT = "a:4\towl:sameAs\tt:4\tsemapv:ManualMappingCuration\t\torcid:0000-0001\t2026-12-02"


def test_curation_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Run, reject a wrong link and accept a missed one, re-run: the curation holds."""
    spec = _spec(tmp_path)
    assert main(["run", "-q", str(spec)]) == 0
    first = _links(tmp_path)
    assert WRONG in first and MISSED not in first
    _curation(tmp_path, [REJECT, ACCEPT])
    spec = _spec(tmp_path, curation="curation: curation.sssom.tsv")
    assert main(["run", "-q", str(spec)]) == 0
    second = _links(tmp_path)
    assert WRONG not in second and MISSED in second
    assert second == first - {WRONG} | {MISSED}
    # SSSOM: the accepted link is a manual curation, with its curator and date.
    sssom = (tmp_path / "out" / "links.sssom.tsv").read_text(encoding="utf-8")
    header = next(line for line in sssom.splitlines() if line.startswith("subject_id"))
    rows = [line.split("\t") for line in sssom.splitlines() if not line.startswith("#")]
    table = [dict(zip(header.split("\t"), row, strict=True)) for row in rows[1:]]
    curated = [
        row for row in table if row["mapping_justification"].endswith("ManualMappingCuration")
    ]
    assert len(curated) == 1 and curated[0]["object_id"].endswith("4")
    assert curated[0]["author_id"].endswith("0000-0001")
    assert curated[0]["mapping_date"] == "2026-12-02"
    assert all(row["mapping_date"] for row in table)
    # RDF: the accepted link is annotated as curated.
    nt = (tmp_path / "out" / "links.nt").read_text(encoding="utf-8")
    assert f"<{MISSED[0]}> <http://www.w3.org/2002/07/owl#sameAs> <{MISSED[1]}> ." in nt
    assert "<https://w3id.org/semapv/vocab/ManualMappingCuration>" in nt
    assert "<https://orcid.org/0000-0001>" in nt
    # engine eval counts both: the must-link as gold, the cannot-link as a known error.
    capsys.readouterr()
    assert main(["eval", "--json", str(spec)]) == 0
    figures = json.loads(capsys.readouterr().out)
    curation = figures["figures"]["curation"] if "figures" in figures else figures["curation"]
    assert curation["must_links"] == 1 and curation["must_found"] == 0
    assert curation["cannot_links"] == 1 and curation["cannot_found"] == 1


@pytest.mark.parametrize("matching", ["best", "one-to-one"])
def test_must_link_is_fixed_in_one_to_one_matching(tmp_path: Path, matching: str) -> None:
    """A record with a must-link is linked to nothing else."""
    # Accept a1 -> t2: a1's close match t1 must then go, and so must a2 -> t2 (one-to-one).
    _curation(
        tmp_path,
        ["a:1\towl:sameAs\tt:2\tsemapv:ManualMappingCuration\t\torcid:0000-0001\t2026-12-02"],
    )
    spec = _spec(tmp_path, curation="curation: [curation.sssom.tsv]", matching=matching)
    assert main(["run", "-q", str(spec)]) == 0
    links = _links(tmp_path)
    assert (A + "1", T + "2") in links and (A + "1", T + "1") not in links
    if matching == "one-to-one":
        assert (A + "2", T + "2") not in links


def test_curation_naming_no_record_is_a_data_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _curation(tmp_path, [ACCEPT, "a:9\towl:sameAs\tt:4\tsemapv:ManualMappingCuration\t\t\t"])
    spec = _spec(tmp_path, curation="curation: curation.sssom.tsv")
    assert main(["run", "-q", str(spec)]) == 1
    err = capsys.readouterr().err
    assert str(path) in err and "10" in err and "http://example.org/a/9" in err


def test_malformed_curation_row_is_a_data_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _curation(tmp_path, [ACCEPT, "a:1\towl:sameAs\tt:1"])
    spec = _spec(tmp_path, curation="curation: curation.sssom.tsv")
    assert main(["run", "-q", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "curation.sssom.tsv" in err and "10" in err and "cells" in err


def test_missing_curation_file_is_a_spec_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _spec(tmp_path, curation="curation: nowhere.sssom.tsv")
    assert main(["run", "-q", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "spec.yaml:10:" in err and "nowhere.sssom.tsv" in err


def test_fit_learns_from_the_curation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """engine fit without --gold: the curation's must-links are the labelled matches."""
    _curation(
        tmp_path,
        [
            REJECT,
            ACCEPT,
            "a:1\towl:sameAs\tt:1\tsemapv:ManualMappingCuration\t\t\t",
            "a:2\towl:sameAs\tt:2\tsemapv:ManualMappingCuration\t\t\t",
        ],
    )
    spec = _spec(tmp_path, curation="curation: curation.sssom.tsv")
    capsys.readouterr()
    assert main(["fit", str(spec), "--out", str(tmp_path / "fitted.yaml")]) == 0
    out = capsys.readouterr().out
    assert "curation" in out and "3 must-links" in out
    assert "model:" in (tmp_path / "fitted.yaml").read_text(encoding="utf-8")


def test_deduplication_curation_in_either_order(tmp_path: Path) -> None:
    """A deduplication's curated pair may name its records in either order: one link."""
    _write_csv(
        tmp_path / "people.csv",
        [("1", "Victor Hugo"), ("2", "Victor Hugo"), ("3", "Bob Dylan"), ("4", "Robert Zimmerman")],
    )
    _curation(
        tmp_path,
        [
            "a:2\towl:sameAs\ta:1\tsemapv:ManualMappingCuration\tNot\t\t",
            "a:4\towl:sameAs\ta:3\tsemapv:ManualMappingCuration\t\t\t",
        ],
    )
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"""kind: alignment
name: dedup
sources:
  align: {{csv: people.csv, id: {{template: "{A}{{id}}"}}}}
  target: same
attributes:
  - {{name: name, metric: levenshtein}}
threshold: 1
matching: all
curation: curation.sssom.tsv
outputs:
  - {{csv: out/links.csv}}
""",
        encoding="utf-8",
    )
    assert main(["run", "-q", str(spec)]) == 0
    assert _links(tmp_path) == {(A + "3", A + "4")}


def test_eval_without_gold_nor_curation_says_what_it_needs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _spec(tmp_path)
    assert main(["eval", str(spec)]) == 2
    assert "--gold FILE, or curated mappings (curation:)" in capsys.readouterr().err


def test_rows_neither_curated_nor_negated_are_left_out_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _curation(tmp_path, [ACCEPT, "a:1\towl:sameAs\tt:2\tsemapv:LexicalMatching\t\t\t"])
    spec = _spec(tmp_path, curation="curation: curation.sssom.tsv")
    assert main(["run", str(spec)]) == 0
    assert "1 rows of the curation are neither a manual curation" in capsys.readouterr().err
    links = _links(tmp_path)
    assert MISSED in links and (A + "1", T + "2") not in links


def test_a_deduplication_record_curated_with_itself_is_a_data_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_csv(tmp_path / "people.csv", [("1", "Victor Hugo"), ("2", "Victor Hugo")])
    _curation(tmp_path, ["a:1\towl:sameAs\ta:1\tsemapv:ManualMappingCuration\t\t\t"])
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"""kind: alignment
name: dedup
sources:
  align: {{csv: people.csv, id: {{template: "{A}{{id}}"}}}}
  target: same
attributes:
  - {{name: name, metric: levenshtein}}
threshold: 1
matching: all
curation: curation.sssom.tsv
outputs:
  - {{csv: out/links.csv}}
""",
        encoding="utf-8",
    )
    assert main(["run", "-q", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "mapped to itself" in err and "curation.sssom.tsv" in err and "9" in err
    assert not (tmp_path / "out" / "links.csv").exists()


def _must(align: str, target: str) -> str:
    return f"a:{align}\towl:sameAs\tt:{target}\tsemapv:ManualMappingCuration\t\t\t"


@pytest.mark.parametrize(
    ("second", "matching", "conflict"),
    [
        (_must("4", "3"), "one-to-one", True),
        (_must("4", "3"), "best", True),
        (_must("4", "3"), "all", False),
        (_must("3", "4"), "one-to-one", True),
        (_must("3", "4"), "best", False),  # best: one match per align record only
        (_must("3", "4"), "all", False),
    ],
)
def test_two_must_links_the_matching_cannot_both_keep(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], second: str, matching: str, conflict: bool
) -> None:
    path = _curation(tmp_path, [_must("4", "4"), second])
    spec = _spec(tmp_path, curation="curation: curation.sssom.tsv", matching=matching)
    code = main(["run", "-q", str(spec)])
    err = capsys.readouterr().err
    if conflict:
        assert code == 1, err
        assert f"{path}:10:" in err and f"matching: {matching}" in err, err
        assert "line 9" in err
    else:
        assert code == 0, err
        links = _links(tmp_path)
        assert (A + "4", T + "4") in links
        assert (A + second[2], T + second[second.index("t:") + 2]) in links
