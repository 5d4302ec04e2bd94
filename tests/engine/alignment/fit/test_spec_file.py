import re
from pathlib import Path

import pytest

from engine.alignment.fit.model import AttributeModel, Model
from engine.alignment.fit.spec_file import with_model, write_model
from engine.errors import DataError

MODEL = Model(
    (AttributeModel("name", (0.0, 0.1), (0.8, 0.15, 0.05), (0.01, 0.09, 0.9)),), 1e-4, 0.5
)

SPEC = """\
# A comment at the top.
kind: alignment
name: people
sources:
  align: {csv: a.csv, id: {template: "http://x/{id}"}}
  target: {csv: b.csv, id: {template: "http://y/{id}"}}
attributes:
  - {name: name,  metric: jaro_winkler, weight: 2, missing: 0.5}   # the name
threshold: 1.5  # picked by hand
matching: best
"""


def test_the_model_replaces_threshold_and_weights_and_comments_stay() -> None:
    text = with_model(SPEC, MODEL, "spec.yaml")
    assert text.startswith("# A comment at the top.\nkind: alignment\n")
    assert re.search(r"\n  - \{name: name, metric: jaro_winkler\} +# the name\n", text)
    assert "threshold: 1.5" not in text and "weight" not in text
    assert "model:\n  prior: 0.0001\n  threshold: 0.5\n  attributes:\n    name:\n" in text
    assert "      levels: [0.0, 0.1]\n      m: [0.8, 0.15, 0.05]\n" in text
    assert text.index("model:") < text.index("matching: best")
    assert with_model(text, MODEL, "spec.yaml") == text  # a fitted spec again: same bytes


def test_without_a_threshold_the_model_goes_before_matching() -> None:
    text = with_model(SPEC.replace("threshold: 1.5  # picked by hand\n", ""), MODEL, "s")
    assert text.index("attributes:") < text.index("model:") < text.index("matching: best")


def test_write_model_in_place_or_to_out(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    copy = write_model(spec, MODEL, tmp_path / "copy.yaml")
    assert spec.read_text(encoding="utf-8") == SPEC
    assert write_model(spec, MODEL) == spec
    assert spec.read_bytes() == copy.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "copy.yaml",
        "spec.yaml",
    ]


def test_unwritable_target_is_a_data_error(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    (tmp_path / "dir").mkdir()
    with pytest.raises(DataError):
        write_model(spec, MODEL, tmp_path / "dir")
