"""engine.alignment.fit.job on Febrl 4: sessions per blocking rule, held-out attributes, gold errors."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import engine
from engine.alignment.fit import job
from engine.alignment.fit.job import _doubts, _sample, fit
from engine.alignment.fit.u import UNEQUAL_SAMPLE
from engine.alignment.records import Records
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


def test_u_of_agreeing_exactly_is_counted_from_the_values_not_sampled(tmp_path: Path) -> None:
    # P(two random records share a date of birth) = sum over dates of n_a(d) * n_b(d) / (N_a * N_b),
    # N the records holding one: a few pairs in a sample, exact from the values' counts.
    a = _column(DATA / "febrl4a.csv", "date_of_birth")
    b = _column(DATA / "febrl4b.csv", "date_of_birth")
    counts_b = Counter(v for v in b if v)
    shared = sum(counts_b[v] for v in a if v)
    exact = shared / (sum(1 for v in a if v) * sum(1 for v in b if v))
    path = write(tmp_path, "{key: {attribute: soc_sec_id}}")
    result = fit(engine.load_spec(path), path)
    dob = next(x for x in result.model.attributes if x.name == "date_of_birth")
    assert dob.u[0] == pytest.approx(exact, rel=1e-5)  # the model keeps 6 digits
    assert result.sampled == UNEQUAL_SAMPLE  # the pairs whose dates differ: a small sample


def _column(path: Path, name: str) -> list[str]:
    with open(path, encoding="utf-8", newline="") as handle:
        return [row[name].strip() for row in csv.DictReader(handle, skipinitialspace=True)]


def test_a_large_align_side_is_fitted_on_a_seeded_sample_of_its_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(job, "FIT_RECORDS", 2000)
    path = write(
        tmp_path, "{union: [{key: {attribute: date_of_birth}}, {key: {attribute: soc_sec_id}}]}"
    )
    result = fit(engine.load_spec(path), path)
    note = "fitted on 2,000 of the 5,000 records of the align side, drawn at random (seeded)"
    assert any(note in n for n in result.notes)
    assert 1800 < result.candidates < 2600  # about 2,000 matches and a few other pairs
    assert result.model == fit(engine.load_spec(path), path).model  # the same sample again
    full = fit(engine.load_spec(path), path, gold=_gold(tmp_path))  # labels: every record
    assert not any(note in n for n in full.notes) and full.candidates > 4500
    dob = next(x for x in result.model.attributes if x.name == "date_of_birth")
    assert 0.7 < dob.m[0] < 0.99 and 0.0001 < result.model.prior < 0.0003


def _gold(tmp_path: Path) -> Path:
    gold = tmp_path / "gold.csv"
    links = (DATA / "febrl4_true_links.csv").read_text(encoding="utf-8").splitlines()
    gold.write_text("\n".join(links[:500]) + "\n", encoding="utf-8")
    return gold


def test_a_sample_of_records_keeps_every_row_of_a_record_drawn() -> None:
    # Records 0..5, record 1 and record 4 with three rows each (three values).
    record = np.array([0, 1, 1, 1, 2, 3, 4, 4, 4, 5])
    ids = [f"r{r}" for r in record]
    records = Records(
        "s", ids, ["v"], {"v": [str(i) for i in range(10)]}, np.arange(10), record=record
    )
    for seed in range(20):
        sample = _sample(records, 3, seed)
        assert sample.record is not None and sample.record_count == 3
        drawn = set(sample.record.tolist())
        assert sample.ids == [i for i, r in zip(ids, record, strict=True) if r in drawn]
    assert _sample(records, 3, 1).ids == _sample(records, 3, 1).ids
    plain = Records("s", ["a", "b", "c"], ["v"], {"v": ["1", "2", "3"]}, np.arange(3))
    assert len(_sample(plain, 2)) == 2
