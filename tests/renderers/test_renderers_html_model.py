"""The HTML report of a fitted model (renderers/html_model.py, the report's templates).

The weights chart, each sampled pair's waterfall of evidence, and the numbers
of a known pair checked against the model computed here by hand.
"""

from __future__ import annotations

import csv
import math
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from engine.cli import main
from renderers.html_model import ModelAttribute, ModelFacts, ModelLevel, waterfall, weights_chart

ROOT = Path(__file__).resolve().parents[2]
FEBRL4 = ROOT / "specs" / "febrl4-unsupervised.yaml"

FACTS = ModelFacts(
    prior=0.01,
    threshold=0.5,
    attributes=(
        ModelAttribute(
            "name",
            (
                ModelLevel("exact", 0.9, 0.01, math.log2(90)),
                ModelLevel("> 0", 0.1, 0.99, math.log2(0.1 / 0.99)),
            ),
        ),
        ModelAttribute(
            "city",
            (ModelLevel("exact", 0.8, 0.1, 3.0), ModelLevel("> 0", 0.2, 0.9, math.log2(0.2 / 0.9))),
        ),
    ),
)


def test_weights_chart_has_a_bar_per_level_from_zero() -> None:
    chart = weights_chart(FACTS)
    assert [b.label for b in chart.bars] == [
        "name · exact",
        "name · > 0",
        "city · exact",
        "city · > 0",
    ]
    assert [b.positive for b in chart.bars] == [True, False, True, False]
    assert chart.bars[0].x == chart.zero  # evidence for a match starts at 0 and goes right
    right = float(chart.bars[1].x) + float(chart.bars[1].width)
    assert right == pytest.approx(float(chart.zero), abs=0.1)  # against: ends at 0
    assert chart.bars[2].value == "+3.00"


def test_waterfall_adds_the_evidence_to_the_prior() -> None:
    chart = waterfall(FACTS, [("name", math.log2(90)), ("city", 0.0)])
    assert chart.weight == pytest.approx(math.log2(0.01 / 0.99) + math.log2(90))
    assert chart.probability == pytest.approx(1 / (1 + 2**-chart.weight))
    assert [b.label for b in chart.bars] == ["prior", "name", "city", "match weight"]
    # Each attribute's bar starts where the previous one ended.
    prior, name = chart.bars[0], chart.bars[1]
    assert float(name.x) == pytest.approx(float(prior.x), abs=0.1)  # the prior is negative
    assert chart.bars[-1].kind == "total" and chart.bars[-1].value == f"{chart.weight:+.2f}"


class _Elements(HTMLParser):
    """Every start tag with its attributes and the text up to the next tag, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str], list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}, []))

    def handle_data(self, data: str) -> None:
        if self.elements:
            self.elements[-1][2].append(data)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """The febrl4 fitted spec run with an HTML report beside its links CSV."""
    tmp = tmp_path_factory.mktemp("html-model")
    data = yaml.safe_load(FEBRL4.read_text(encoding="utf-8"))
    for role, name in (("align", "febrl4a.csv"), ("target", "febrl4b.csv")):
        data["sources"][role]["csv"] = str(ROOT / "data" / "febrl" / name)
    data["outputs"] = [{"csv": "links.csv"}, {"html": "report.html", "sample": 4, "near_misses": 3}]
    spec = tmp / "spec.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    assert main(["run", str(spec)]) == 0
    return (tmp / "report.html").read_text(encoding="utf-8"), tmp


def _parse(text: str) -> list[tuple[str, dict[str, str], list[str]]]:
    parser = _Elements()
    parser.feed(text)
    return parser.elements


def _expected_weight(row: dict[str, str]) -> float:
    """A link's match weight from the spec's model and its CSV distances, by hand."""
    model = yaml.safe_load(FEBRL4.read_text(encoding="utf-8"))["model"]
    total = math.log2(model["prior"] / (1 - model["prior"]))
    for name, a in model["attributes"].items():
        if row[f"d_{name}"] == "":
            continue  # a missing value: no evidence
        d = float(row[f"d_{name}"])
        level = next((k for k, cut in enumerate(a["levels"]) if d <= cut), len(a["levels"]))
        total += math.log2(max(a["m"][level], 1e-12) / max(a["u"][level], 1e-12))
    return total


def test_a_sampled_link_s_waterfall_has_its_evidence(report: tuple[str, Path]) -> None:
    text, tmp = report
    elements = _parse(text)
    falls = [
        attrs
        for tag, attrs, _ in elements
        if tag == "svg" and "waterfall" in attrs.get("class", "")
    ]
    assert [f["id"] for f in falls] == [
        *(f"sample-waterfall-{k}" for k in range(1, 5)),
        *(f"near-waterfall-{k}" for k in range(1, 4)),
    ]
    start = next(
        k for k, (tag, attrs, _) in enumerate(elements) if attrs.get("id") == "sample-table"
    )
    iris = [
        attrs["href"]
        for tag, attrs, _ in elements[start:]
        if tag == "a" and "iri" in attrs.get("class", "")
    ]
    pair = (iris[0], iris[1])
    with (tmp / "links.csv").open(encoding="utf-8", newline="") as handle:
        row = next(r for r in csv.DictReader(handle) if (r["align_id"], r["target_id"]) == pair)
    weight = _expected_weight(row)
    assert float(falls[0]["data-weight"]) == pytest.approx(weight, abs=1e-9)
    assert float(falls[0]["data-probability"]) == pytest.approx(float(row["probability"]), abs=1e-9)
    # The bars of the first waterfall: the prior, each attribute, the total.
    first = elements.index(next(e for e in elements if e[1].get("id") == "sample-waterfall-1"))
    end = next(
        k for k in range(first, len(elements)) if elements[k][1].get("id") == "sample-waterfall-2"
    )
    values = [attrs["data-weight"] for tag, attrs, _ in elements[first:end] if tag == "rect"]
    assert len(values) == 1 + 9 + 1 and values[-1] == f"{weight:+.2f}"
    assert sum(float(v) for v in values[:-1]) == pytest.approx(weight, abs=0.01 * len(values))


def test_the_model_section_and_no_weighted_columns(report: tuple[str, Path]) -> None:
    text, _ = report
    elements = _parse(text)
    assert any(attrs.get("id") == "model-weights" for _, attrs, _ in elements)
    rects = [a for tag, a, _ in elements if tag == "rect" and "level" in a.get("class", "")]
    bars = rects[: 4 + 4 + 2 + 4 + 4 + 4 + 2 + 4 + 4]  # the weights chart comes first
    assert bars[0]["data-weight"] == f"{math.log2(0.699695 / 0.00331595):+.2f}"
    cells = ["".join(t).strip() for tag, _, t in elements if tag in ("td", "th")]
    k = cells.index("given_name")
    assert cells[k : k + 5] == ["given_name", "exact", "0.699695", "0.00331595", "+7.72"]
    assert "Weighted" not in text and "Share of threshold" not in text
    assert "match probability at least 0.5" in text
    assert "1 − match probability (a fitted model)</text>" in text  # the histogram's axis
    assert "<script" not in text and 'src="' not in text  # inline SVG, nothing fetched
