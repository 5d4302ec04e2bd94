"""Tests of schemas/units.py: quantities and their maxima, through the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main
from schemas.units import parse_size

SPARQL = """\
kind: alignment
name: sp
sources:
  align:
    sparql: "http://127.0.0.1:9/query"
    query: "SELECT ?s ?name WHERE {{?s <http://x/name> ?name}}"
    id: s
    {key}: {value}
  target: same
attributes:
  - {{name: name, metric: exact, weight: 1}}
blocking: none
threshold: 0.4
matching: all
outputs:
  - {{csv: out/sp.csv}}
"""


@pytest.mark.parametrize(
    ("key", "value", "maximum"),
    [
        ("timeout", "100000000d", "at most 1d"),
        ("backoff", "100000000d", "at most 1d"),
        ("timeout", "2d", "at most 1d"),
        ("cache_ttl", "100000000d", "at most 365d"),
        ("cache_ttl", "1" + "0" * 400 + "d", "at most 365d"),
        ("retries", "100000", "less than or equal to 10"),
    ],
)
@pytest.mark.parametrize("command", ["validate", "run"])
def test_huge_quantity_is_a_spec_error_at_its_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    key: str,
    value: str,
    maximum: str,
) -> None:
    spec = tmp_path / "sp.yaml"
    spec.write_text(SPARQL.format(key=key, value=value), encoding="utf-8")
    assert main([command, str(spec)]) == 2
    err = capsys.readouterr().err
    assert "sp.yaml:8:" in err and maximum in err, err
    assert "internal error" not in err


def test_huge_size_is_a_value_error_not_an_overflow() -> None:
    with pytest.raises(ValueError, match="at most 1024T"):
        parse_size("9" * 400 + "G")
    with pytest.raises(ValueError, match="at most 1024T"):
        parse_size("2048T")
    assert parse_size("1024T") == 1 << 50
