"""The ``model:`` section of an alignment spec (schemas/alignment/model.py), through the loader."""

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


def load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return engine.load_spec(path)


def test_a_model_gives_the_threshold_as_a_distance(tmp_path: Path) -> None:
    spec = load(tmp_path, HEAD + MODEL)
    assert spec.fitted and abs(spec.threshold - 0.1) < 1e-12  # type: ignore[attr-defined]


def test_neither_threshold_nor_model_loads_but_is_not_fitted(tmp_path: Path) -> None:
    assert not load(tmp_path, HEAD).fitted  # type: ignore[attr-defined]
    assert load(tmp_path, HEAD + "threshold: 0.5\n").fitted  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (MODEL.replace("m: [0.9, 0.1]", "m: [0.9]"), "m needs 2 values"),
        (MODEL.replace("u: [0.01, 0.99]", "u: [0.5, 0.2]"), "u must sum to 1"),
        (MODEL.replace("levels: [0.0]", "levels: [0.2, 0.1]"), "ascending"),
        (MODEL.replace("    name:", "    other:"), "has no levels in the model"),
        (MODEL + "threshold: 0.5\n", "remove this `threshold`"),
        (MODEL.replace("threshold: 0.9", "threshold: 1.5"), "model.threshold"),
        (
            MODEL.replace("levels: [0.0]", "levels: [0.1], term_frequency: true"),
            "term_frequency adjusts the exact level",
        ),
    ],
)
def test_bad_models_are_spec_errors_at_their_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        load(tmp_path, HEAD + text)
    assert message in str(caught.value)
    assert all(p.line > 1 for p in caught.value.problems)


def test_the_iri_check_agrees_with_oxigraph() -> None:
    # A link file holding an id Oxigraph refuses (two '#', a stray '%') could not be
    # loaded, nor its diff applied: the check accepts exactly what the store accepts
    # over this alphabet of awkward characters.
    import random

    import pyoxigraph

    from schemas.alignment.outputs import IRI

    rng = random.Random(3)
    alphabet = "ab09AF%#/ç-._~!$&()*+,;=@?"
    for _ in range(5_000):
        iri = "http://ex.org/" + "".join(rng.choice(alphabet) for _ in range(rng.randrange(9)))
        try:
            pyoxigraph.NamedNode(iri)
        except ValueError:
            assert not IRI.match(iri), iri
        else:
            assert IRI.match(iri), iri
