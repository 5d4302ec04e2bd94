"""engine.alignment.fit.job on Febrl 4: sessions per blocking rule, held-out attributes, gold errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import engine
from engine.alignment.fit.job import _doubts, fit
from engine.errors import DataError, UsageError

ROOT = Path(__file__).resolve().parents[4]
DATA = ROOT / "data" / "febrl"

SPEC = f"""\
kind: alignment
name: people
sources:
  align: {{csv: {DATA}/febrl4a.csv, id: {{template: "http://example.org/febrl/{{rec_id}}"}}}}
  target: {{csv: {DATA}/febrl4b.csv, id: {{template: "http://example.org/febrl/{{rec_id}}"}}}}
attributes:
  - {{name: given_name, metric: jaro_winkler}}
  - {{name: surname, metric: jaro_winkler}}
  - {{name: date_of_birth, metric: exact}}
  - {{name: soc_sec_id, metric: exact}}
matching: one-to-one
"""


def write(tmp_path: Path, blocking: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC + f"blocking: {blocking}\n", encoding="utf-8")
    return path


def test_one_rule_on_an_attribute_leaves_its_m_to_the_other_attributes(tmp_path: Path) -> None:
    path = write(tmp_path, "{key: {attribute: date_of_birth}}")
    result = fit(engine.load_spec(path), path)
    assert any("every blocking rule uses date_of_birth" in note for note in result.notes)
    dob = next(a for a in result.model.attributes if a.name == "date_of_birth")
    # Estimated over pairs that all agree on it: biased to agreement, as the note says.
    assert dob.m[0] > 0.99
    ssn = next(a for a in result.model.attributes if a.name == "soc_sec_id")
    assert 0.7 < ssn.m[0] < 0.98  # febrl4 corrupts some identifiers of the duplicates


def test_two_rules_estimate_each_others_attributes(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "{union: [{key: {attribute: date_of_birth}}, {key: {attribute: soc_sec_id}}]}",
    )
    result = fit(engine.load_spec(path), path)
    assert not any("every blocking rule" in note for note in result.notes)
    dob = next(a for a in result.model.attributes if a.name == "date_of_birth")
    assert 0.7 < dob.m[0] < 0.99
    assert 0.0001 < result.model.prior < 0.0003  # 5,000 links among 25,000,000 pairs


def test_unknown_term_frequency_attribute_and_a_gold_naming_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, "{key: {attribute: date_of_birth}}")
    spec = engine.load_spec(path)
    with pytest.raises(UsageError, match="no attribute 'nope'"):
        fit(spec, path, term_frequency=["nope"])
    gold = tmp_path / "gold.csv"
    gold.write_text("a,b\nnobody,no-one\n", encoding="utf-8")
    with pytest.raises(DataError):
        fit(spec, path, gold=gold)


def test_a_fit_that_cannot_separate_says_so(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    text = SPEC.replace("  - {name: given_name, metric: jaro_winkler}\n", "")
    text = text.replace("  - {name: surname, metric: jaro_winkler}\n", "")
    text = text.replace("  - {name: soc_sec_id, metric: exact}\n", "")
    path.write_text(text + "blocking: {key: {attribute: date_of_birth}}\n", encoding="utf-8")
    notes = fit(engine.load_spec(path), path).notes
    assert any("only 1 attribute(s): EM needs at least three" in note for note in notes)
    assert any("no attribute is left out of every blocking rule" in note for note in notes)


def test_no_evidence_is_a_doubt() -> None:
    same = [np.array([0.1, 0.9])] * 3
    assert any("no level is evidence either way" in d for d in _doubts(["a", "b", "c"], same, same))
    apart = [np.array([0.9, 0.1])] * 3
    assert _doubts(["a", "b", "c"], apart, same) == []


def test_a_spec_that_publishes_is_fitted_without_the_stores_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("H3_NO_SUCH_PASSWORD", raising=False)
    path = write(tmp_path, "{key: {attribute: date_of_birth}}")
    path.write_text(
        path.read_text(encoding="utf-8")
        + "publish:\n  graph: http://example.org/links\n  graph_store: http://127.0.0.1:9/store\n"
        "  auth: {user: me, password_env: H3_NO_SUCH_PASSWORD}\n",
        encoding="utf-8",
    )
    result = fit(engine.load_spec(path), path)
    assert result.candidates > 4000


def _tiny(tmp_path: Path, rows: str, blocking: str) -> Path:
    (tmp_path / "a.csv").write_text("rec_id,surname,given_name\n" + rows, encoding="utf-8")
    path = tmp_path / "spec.yaml"
    path.write_text(
        "kind: alignment\nname: tiny\nsources:\n"
        '  align: {csv: a.csv, id: {template: "http://x/a/{rec_id}"}}\n'
        '  target: {csv: a.csv, id: {template: "http://x/b/{rec_id}"}}\n'
        "attributes:\n  - {name: surname, metric: jaro_winkler}\n"
        "  - {name: given_name, metric: jaro_winkler}\n"
        f"blocking: {blocking}\nallow_empty: true\nmatching: one-to-one\n",
        encoding="utf-8",
    )
    return path


def test_no_candidate_pairs_is_a_data_error_with_nothing_to_fit(tmp_path: Path) -> None:
    rows = "a1,smith,john\na2,jones,mary\na3,brown,anne\n"
    path = _tiny(tmp_path, rows, "{key: {align: rec_id, target: surname}}")
    with pytest.raises(DataError, match=r"no candidate pairs.*nothing to fit the model from"):
        fit(engine.load_spec(path), path)


def test_records_that_do_not_differ_are_a_data_error_with_nothing_to_fit(tmp_path: Path) -> None:
    path = _tiny(tmp_path, "a1,smith,john\na2,smith,john\na3,smith,john\n", "none")
    with pytest.raises(DataError, match=r"the records do not differ.*nothing to fit the model"):
        fit(engine.load_spec(path), path)
