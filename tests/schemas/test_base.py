"""Tests of schemas/base.py: every float of the spec language is finite, scales and weights bounded."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main

SPEC = """\
kind: alignment
name: people
sources:
  align: {{csv: align.csv, id: {{template: "http://example.org/a/{{id}}"}}}}
  target: {{csv: target.csv, id: {{template: "http://example.org/t/{{id}}"}}}}
attributes:
  - {{name: name, metric: levenshtein, weight: 1}}
  - {{name: born, metric: {{euclidean: {{scale: 10}}}}, weight: 1, missing: 0.5}}
threshold: 0.5
matching: one-to-one
outputs:
  - {{csv: out/links.csv}}
"""


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ("weight: 1}}", "weight: 1e309}}", 7, "finite number"),
        ("weight: 1}}", "weight: .inf}}", 7, "finite number"),
        ("weight: 1}}", "weight: 1e7}}", 7, "less than or equal to"),
        ("scale: 10}", "scale: 1e-320}", 8, "a scale is at least 1e-6"),
        ("scale: 10}", "scale: .nan}", 8, "finite number"),
        ("missing: 0.5", "missing: .inf", 8, "finite number"),
        ("threshold: 0.5", "threshold: .nan", 9, "finite number"),
    ],
)
@pytest.mark.parametrize("command", ["validate", "run"])
def test_absurd_number_is_a_spec_error_at_its_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    old: str,
    new: str,
    line: int,
    message: str,
) -> None:
    (tmp_path / "align.csv").write_text("id,name,born\n1,Ann,1990\n", encoding="utf-8")
    (tmp_path / "target.csv").write_text("id,name,born\n2,Ann,1990\n", encoding="utf-8")
    text = SPEC.format()
    assert old.replace("}}", "}") in text
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        text.replace(old.replace("}}", "}"), new.replace("}}", "}"), 1), encoding="utf-8"
    )
    assert main([command, str(spec)]) == 2
    err = capsys.readouterr().err
    assert f"spec.yaml:{line}:" in err and message in err, err
