"""The JSON documents of ``--json`` (engine/documents.py) for the kinds the CLI tests cannot reach."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from engine.cli import pending_changes
from engine.documents import dumps, error_document, plan_document, run_document
from engine.errors import DataError
from engine.plan import Plan
from engine.volume_pool.steps import steps
from tests.engine.volume_pool.test_handlers import _state


def test_a_volume_pool_plan_lists_every_action() -> None:
    state = _state()
    plan = Plan("volume-pool", "lab", "specs/pool.yaml", tuple(steps(state.spec)))
    document = json.loads(dumps(plan_document(plan, state, pending_changes(plan, state))))
    assert document["changes"] is True
    assert [s["type"] for s in document["steps"]] == [
        "Connect", "Lock", "ReadLive", "Apply", "Confirm",
    ]  # fmt: skip
    pool = document["volume_pool"]
    assert pool["host"] == "root@192.0.2.9:2222" and pool["volumes"] == 3
    kinds = [(a["kind"], a["target"], a["changes"]) for a in pool["actions"]]
    assert ("grow", "vol-db", True) in kinds and ("create", "vol-new", True) in kinds
    grow = next(a for a in pool["actions"] if a["kind"] == "grow")
    assert grow["commands"][0][:2] == ["zfs", "set"]
    # Nothing to do: no changes pending.
    state.actions = [a for a in state.actions if not a.changes]
    assert pending_changes(plan, state) is False


def test_a_pool_run_document_has_no_outputs() -> None:
    state = _state()
    state.applied = ["create vol-new"]
    plan = Plan("volume-pool", "lab", "specs/pool.yaml", ())
    document = json.loads(dumps(run_document(plan, state, 1.5)))
    assert document["outputs"] == [] and document["seconds"] == 1.5
    assert document["volume_pool"]["applied"] == ["create vol-new"]


def test_plain_values_and_errors(tmp_path: Path) -> None:
    text = dumps({"a": (np.int64(3), np.float64(0.5)), "p": tmp_path, "s": {"x"}, "é": "ü"})
    assert json.loads(text) == {"a": [3, 0.5], "p": str(tmp_path), "s": ["x"], "é": "ü"}
    assert "ü" in text  # non-ASCII kept as it is
    error = error_document(DataError("a.csv", "bad date", row=3, column="born").details(), 1)
    assert error["error"] == {
        "kind": "data",
        "message": "a.csv:3 (column born): bad date",
        "source": "a.csv",
        "row": 3,
        "column": "born",
        "reason": "bad date",
        "exit_code": 1,
    }
