"""The review band (schemas/alignment/review.py), through the loader: errors at their line."""

from pathlib import Path

import pytest

import engine
from engine.errors import SpecError

HEAD = """\
kind: alignment
name: people
sources:
  align: {inline: [{id: "1", name: Ann}], id: {template: "http://x/{id}"}}
  target: {inline: [{id: "1", name: Ann}], id: {template: "http://y/{id}"}}
attributes:
  - {name: name, metric: exact}
"""
MODEL = """\
model:
  prior: 0.001
  threshold: 0.9
  attributes:
    name: {levels: [0.0], m: [0.9, 0.1], u: [0.01, 0.99]}
"""
OUTPUTS = "outputs:\n  - {review: out/review.csv}\n"


def load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return engine.load_spec(path)


def test_a_band_of_probabilities_with_a_model(tmp_path: Path) -> None:
    spec = load(tmp_path, HEAD + MODEL + OUTPUTS + "review: {from: 0.5, to: 0.95}\n")
    band = spec.review  # type: ignore[attr-defined]
    assert (band.start, band.end) == (0.5, 0.95)
    accept, reject = band.limits(model=True)
    assert abs(accept - 0.05) < 1e-12 and abs(reject - 0.5) < 1e-12


def test_a_band_of_distances_without_a_model(tmp_path: Path) -> None:
    spec = load(tmp_path, HEAD + "threshold: 0.4\n" + OUTPUTS + "review: {from: 0.2, to: 1.5}\n")
    assert spec.review.limits(model=False) == (0.2, 1.5)  # type: ignore[attr-defined]


def test_the_format_of_a_review_output(tmp_path: Path) -> None:
    text = HEAD + MODEL + "review: {from: 0.5, to: 0.95}\noutputs:\n"
    text += "  - {review: out/r.csv}\n  - {review: out/r.sssom.tsv}\n  - {review: out/r.txt, format: csv}\n"
    spec = load(tmp_path, text)
    formats = [o.resolved_format for o in spec.outputs]  # type: ignore[attr-defined]
    assert formats == ["csv", "sssom", "csv"]


@pytest.mark.parametrize(
    ("text", "message", "at"),
    [
        (MODEL + OUTPUTS + "review: {from: 0.95, to: 0.5}\n", "needs from < to", "review: {"),
        (MODEL + OUTPUTS + "review: {from: 0.5, to: 0.5}\n", "needs from < to", "review: {"),
        (
            MODEL + OUTPUTS + "review: {from: 0.5, to: 1.5}\n",
            "holds match probabilities",
            "review: {",
        ),
        # Unfitted (no threshold, no model): `engine fit` will write a model.
        (OUTPUTS + "review: {from: 0.5, to: 2}\n", "holds match probabilities", "review: {"),
        (
            MODEL + OUTPUTS + "review: {from: -0.1, to: 0.5}\n",
            "greater than or equal to 0",
            "review: {",
        ),
        (
            MODEL + "review: {from: 0.5, to: 0.9}\n",
            "the pairs of the review band are not links",
            "review: {",
        ),
        (MODEL + OUTPUTS, "a review output writes the pairs of the review band", "  - {review"),
        (
            MODEL + "outputs:\n  - {review: out/review.txt}\n",
            "cannot tell the format",
            "  - {review",
        ),
    ],
)
def test_bad_bands_are_spec_errors_at_their_line(
    tmp_path: Path, text: str, message: str, at: str
) -> None:
    text = HEAD + text
    with pytest.raises(SpecError) as caught:
        load(tmp_path, text)
    assert message in str(caught.value)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if row.startswith(at))
    assert [p.line for p in caught.value.problems] == [line]
