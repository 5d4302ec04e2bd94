"""Every registered metric, normaliser, blocking rule and output format runs end to end.

The spec language accepts every name of its vocabulary tables, so every name must
also survive a real run: ``validate`` and ``plan`` once accepted ``jaccard`` while
each run of it crashed. Each name gets a small spec whose links are known; the
cases are checked against the registries, so a name registered without a case
here fails the suite.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from engine.alignment.metrics import METRICS
from engine.alignment.normalise import NORMALISERS
from engine.alignment.write import FORMATS
from engine.cli import main
from schemas.alignment import BLOCKINGS
from schemas.alignment import METRICS as METRIC_OPTIONS
from schemas.alignment import NORMALISERS as NORMALISER_OPTIONS
from schemas.alignment.outputs import OUTPUT_MODELS

A = "http://example.org/a/"
T = "http://example.org/t/"

#: Three people on each side; the true pairs share a name and a code, and lie a
#: day, a few hundred metres and 0.2 apart.
ALIGN = [
    ("1", "Victor Hugo", "0800", "1802-02-26", "48.8566", "2.3522", "10"),
    ("2", "Emile Zola", "0900", "1840-04-02", "43.2965", "5.3698", "20"),
    ("3", "Jules Verne", "1000", "1828-02-08", "47.2184", "-1.5536", "30"),
]
TARGET = [
    ("1", "Victor Hugo", "0800", "1802-02-27", "48.8600", "2.3500", "10.2"),
    ("2", "Emile Zola", "0900", "1840-04-03", "43.3000", "5.3700", "20.2"),
    ("3", "Jules Verne", "1000", "1828-02-09", "47.2200", "-1.5500", "30.2"),
]
COLUMNS = ("id", "name", "code", "born", "lat", "lon", "num")
TRUE_LINKS = {(A + n, T + n) for n in ("1", "2", "3")}

#: metric -> (attribute columns and options, threshold): the true pairs are under
#: the threshold and every other pair over it.
METRIC_CASES: dict[str, tuple[str, float]] = {
    "levenshtein": ("align: name, metric: levenshtein", 0.5),
    "damerau_levenshtein": ("align: name, metric: damerau_levenshtein", 0.5),
    "jaro_winkler": ("align: name, metric: jaro_winkler", 0.1),
    "jaccard": ("align: name, metric: jaccard", 0.1),
    "soundex": ("align: name, metric: soundex", 0.5),
    "exact": ("align: code, metric: exact", 0.5),
    "ratio": ("align: name, metric: ratio", 0.1),
    "difflib": ("align: name, metric: difflib", 0.1),
    "temporal": ("align: born, metric: {temporal: {unit: days}}", 2),
    "geographic": ("align: [lat, lon], metric: {geographic: {unit: km}}", 5),
    "euclidean": ("align: num, metric: euclidean", 1),
}

#: normaliser -> (how the spec names it, two (align, target) value pairs): the
#: pairs are equal only once normalised, and the two pairs differ from each other.
NORMALISER_CASES: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "lowercase": ("lowercase", [("Victor Hugo", "VICTOR HUGO"), ("Emile Zola", "emile ZOLA")]),
    "uppercase": ("uppercase", [("Victor Hugo", "victor hugo"), ("Emile Zola", "emile ZOLA")]),
    "unaccent": ("unaccent", [("Émile Zola", "Emile Zola"), ("Hélène", "Helene")]),
    "strip": ("strip", [("  Victor Hugo ", "Victor Hugo"), ("Emile Zola", " Emile Zola  ")]),
    "simplify": ("simplify", [("Victor Hugo (1802)", "victor hugo 1802"), ("Zola!", "zola")]),
    "tokenize": ("tokenize", [("Victor   Hugo", "Victor Hugo"), ("Emile\tZola", "Emile Zola")]),
    "sort_tokens": ("sort_tokens", [("Hugo Victor", "Victor Hugo"), ("Zola Emile", "Emile Zola")]),
    "remove_after": (
        '{remove_after: "("}',
        [("Victor Hugo (writer)", "Victor Hugo"), ("Emile Zola", "Emile Zola (1840)")],
    ),
    "regex_replace": (
        '{regex_replace: {pattern: "^(\\\\w+), (\\\\w+)$", replacement: "\\\\2 \\\\1"}}',
        [("Hugo, Victor", "Victor Hugo"), ("Emile Zola", "Zola, Emile")],
    ),
    "digits_only": ("digits_only", [("+33 1 23", "33123"), ("(0)4-56", "0456")]),
    "date": (
        "{date: {dayfirst: true}}",
        [("26/02/1802", "1802-02-26"), ("2 April 1840", "02.04.1840")],
    ),
    "soundex": ("soundex", [("Robert", "Rupert"), ("Hugo", "Hygo")]),
    "prefix": ("{prefix: 3}", [("Victorious", "Victor"), ("Emile", "Emily")]),
    "transliterate": ("transliterate", [("Москва", "Moskva"), ("Αθήνα", "Athina")]),
    "lookup": (
        "{lookup: {table: {Allemagne: Germany, Espagne: Spain}}}",
        [("Allemagne", "Germany"), ("Spain", "Espagne")],
    ),
}

#: blocking rule -> the spec's blocking; each must keep the true pairs (which the
#: attributes then link).
BLOCKING_CASES: dict[str, str] = {
    "none": "none",
    "key": "{key: {attribute: name}}",
    "sorted_neighbourhood": "{sorted_neighbourhood: {attribute: name, window: 1}}",
    "qgram": "{qgram: {attribute: name, min_common: 3}}",
    "minhash": "{minhash: {attribute: name, shingles: qgrams, q: 2}}",
    "tfidf": "{tfidf: {attribute: name, top_k: 1}}",
    "radius": "{radius: {align: [lat, lon], radius: 10 km}}",
    "kmeans": "{kmeans: {attribute: place, clusters: 3, coordinates: latlon}}",
    "union": "{union: [{key: {attribute: name}}, {radius: {attribute: place, radius: 10 km}}]}",
    "pipeline": (
        "{pipeline: [{qgram: {attribute: name}}, {radius: {attribute: place, radius: 10 km}}]}"
    ),
}


#: output format -> (its outputs, more lines of the spec, the file it writes, a text
#: the file holds): each run links the three true pairs (Victor Hugo is t:1).
OUTPUT_CASES: dict[str, tuple[str, str, str, str]] = {
    "rdf": ("- {rdf: out/links.nt}", "", "links.nt", f"<{T}1>"),
    "csv": ("- {csv: out/links.csv}", "", "links.csv", f"{T}1"),
    "sssom": ("- {sssom: out/links.sssom.tsv}", "", "links.sssom.tsv", "a:1\towl:sameAs\tt:1"),
    "html": ("- {html: out/report.html}", "", "report.html", "Victor Hugo"),
    "review": (
        "- {csv: out/links.csv}\n  - {review: out/review.csv}",
        "review: {from: 0.25, to: 0.5}",
        "review.csv",
        "align_id",
    ),
    "clusters": ("- {clusters: out/clusters.csv}", "", "clusters.csv", f"{T}1"),
    "diff": ("- {rdf: out/links.nt}\n  - {diff: out/links.ru}", "", "links.ru", f"<{T}1>"),
}


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)


def _run(
    tmp_path: Path, attributes: str, threshold: float, blocking: str = "none"
) -> set[tuple[str, str]]:
    """Run a spec over align.csv and target.csv in ``tmp_path``; its links."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"""kind: alignment
name: every-name
sources:
  align: {{csv: align.csv, id: {{template: "{A}{{id}}"}}}}
  target: {{csv: target.csv, id: {{template: "{T}{{id}}"}}}}
attributes:
{attributes}
blocking: {blocking}
threshold: {threshold}
matching: all
outputs:
  - {{csv: out/links.csv}}
""",
        encoding="utf-8",
    )
    assert main(["run", "-q", str(spec)]) == 0
    with (tmp_path / "out" / "links.csv").open(encoding="utf-8") as handle:
        return {(row["align_id"], row["target_id"]) for row in csv.DictReader(handle)}


def test_every_metric_has_a_case() -> None:
    assert set(METRIC_CASES) == set(METRICS.names()) == set(METRIC_OPTIONS)


def test_every_normaliser_has_a_case() -> None:
    assert set(NORMALISER_CASES) == set(NORMALISERS.names()) == set(NORMALISER_OPTIONS)


def test_every_blocking_rule_has_a_case() -> None:
    assert set(BLOCKING_CASES) == set(BLOCKINGS)


@pytest.mark.parametrize("name", sorted(METRIC_CASES))
def test_every_metric_runs(name: str, tmp_path: Path) -> None:
    _write_csv(tmp_path / "align.csv", COLUMNS, ALIGN)
    _write_csv(tmp_path / "target.csv", COLUMNS, TARGET)
    attribute, threshold = METRIC_CASES[name]
    assert _run(tmp_path, f"  - {{name: x, {attribute}}}", threshold) == TRUE_LINKS


@pytest.mark.parametrize("name", sorted(NORMALISER_CASES))
def test_every_normaliser_runs(name: str, tmp_path: Path) -> None:
    written, pairs = NORMALISER_CASES[name]
    rows = [(str(n), a, t) for n, (a, t) in enumerate(pairs, 1)]
    _write_csv(tmp_path / "align.csv", ("id", "value"), [(n, a) for n, a, _ in rows])
    _write_csv(tmp_path / "target.csv", ("id", "value"), [(n, t) for n, _, t in rows])
    plain = _run(tmp_path, "  - {name: value, metric: exact}", 0.5)
    assert plain == set()  # the values differ as they are...
    linked = _run(tmp_path, f"  - {{name: value, metric: exact, normalise: [{written}]}}", 0.5)
    assert linked == {(A + "1", T + "1"), (A + "2", T + "2")}  # ...and agree once normalised


@pytest.mark.parametrize("name", sorted(BLOCKING_CASES))
def test_every_blocking_rule_runs(name: str, tmp_path: Path) -> None:
    _write_csv(tmp_path / "align.csv", COLUMNS, ALIGN)
    _write_csv(tmp_path / "target.csv", COLUMNS, TARGET)
    attributes = (
        "  - {name: name, metric: levenshtein}\n"
        "  - {name: place, align: [lat, lon], metric: geographic, weight: 0}"
    )
    assert _run(tmp_path, attributes, 0.5, BLOCKING_CASES[name]) == TRUE_LINKS


def test_every_output_format_has_a_case() -> None:
    # The spec language's table and the writers' registry name the same formats, with
    # the same models: a format a spec accepts is one a run can write.
    assert set(OUTPUT_CASES) == set(FORMATS.names()) == set(OUTPUT_MODELS)
    assert {f.name: f.model for f in FORMATS} == OUTPUT_MODELS


@pytest.mark.parametrize("name", sorted(OUTPUT_CASES))
def test_every_output_format_runs(name: str, tmp_path: Path) -> None:
    _write_csv(tmp_path / "align.csv", COLUMNS, ALIGN)
    _write_csv(tmp_path / "target.csv", COLUMNS, TARGET)
    outputs, more, written, holds = OUTPUT_CASES[name]
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"""kind: alignment
name: every-output
sources:
  align: {{csv: align.csv, id: {{template: "{A}{{id}}"}}}}
  target: {{csv: target.csv, id: {{template: "{T}{{id}}"}}}}
attributes:
  - {{name: name, metric: levenshtein}}
threshold: 0.5
matching: all
{more}
outputs:
  {outputs}
""",
        encoding="utf-8",
    )
    assert main(["run", "-q", str(spec)]) == 0
    assert holds in (tmp_path / "out" / written).read_text(encoding="utf-8")
