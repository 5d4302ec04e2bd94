"""The committed JSON Schemas match the models (run `engine schema` after changing them)."""

from __future__ import annotations

import json
from pathlib import Path

from engine import kinds
from engine.cli import SCHEMA_DIR, main
from schemas import json_schemas


def test_committed_schemas_are_fresh() -> None:
    for name, schema in json_schemas(kinds.models()).items():
        path = SCHEMA_DIR / name
        assert path.is_file(), f"{path} missing: run `engine schema`"
        committed = json.loads(path.read_text(encoding="utf-8"))
        assert committed == schema, f"{path} is stale: run `engine schema`"


def test_schema_check_flags_stale_files(tmp_path: Path) -> None:
    assert main(["schema", "--out", str(tmp_path)]) == 0
    assert main(["schema", "--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "alignment.schema.json").write_text("{}")
    assert main(["schema", "--out", str(tmp_path), "--check"]) == 1


def test_schema_describes_the_vocabulary() -> None:
    text = json.dumps(json_schemas(kinds.models())["alignment.schema.json"])
    for name in ("levenshtein", "jaro_winkler", "temporal", "simplify", "sorted_neighbourhood"):
        assert name in text
