import os
import re
import stat
from pathlib import Path

import pytest

from engine.alignment.fit.model import AttributeModel, Model
from engine.alignment.fit.spec_file import with_model, write_model
from engine.errors import DataError, SpecError

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


def test_out_into_a_missing_folder_is_a_data_error_naming_it(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    with pytest.raises(DataError, match=r"the folder .*nowhere/dir does not exist"):
        write_model(spec, MODEL, tmp_path / "nowhere" / "dir" / "x.yaml")
    assert not (tmp_path / "nowhere").exists()


def test_out_into_another_folder_whose_paths_would_not_resolve_is_refused(
    tmp_path: Path,
) -> None:
    for name in ("a.csv", "b.csv"):
        (tmp_path / name).write_text("id,name\n1,x\n", encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    (tmp_path / "sub").mkdir()
    with pytest.raises(SpecError) as caught:
        write_model(spec, MODEL, tmp_path / "sub" / "fitted.yaml")
    text = str(caught.value)
    assert "a.csv" in text and "relative paths in a spec resolve from the spec's own folder" in text
    assert list((tmp_path / "sub").iterdir()) == []
    # Beside the spec, or into another folder with absolute paths, the copy is written.
    assert write_model(spec, MODEL, tmp_path / "copy.yaml").exists()
    spec.write_text(
        SPEC.replace("csv: a.csv", f"csv: {tmp_path / 'a.csv'}").replace(
            "csv: b.csv", f"csv: {tmp_path / 'b.csv'}"
        ),
        encoding="utf-8",
    )
    assert write_model(spec, MODEL, tmp_path / "sub" / "fitted.yaml").exists()


def test_a_symlinked_spec_is_written_through_and_the_mode_is_kept(tmp_path: Path) -> None:
    real = tmp_path / "real.yaml"
    real.write_text(SPEC, encoding="utf-8")
    real.chmod(0o600)
    link = tmp_path / "link.yaml"
    link.symlink_to("real.yaml")
    assert write_model(link, MODEL) == real
    assert link.is_symlink() and os.readlink(link) == "real.yaml"
    assert "model:" in real.read_text(encoding="utf-8")
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
