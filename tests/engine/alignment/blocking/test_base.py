"""What blocking rules share: codes of keys (factorised, first appearance), coded keys."""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pytest

from engine.alignment.blocking import base
from engine.alignment.blocking.base import CodedKeys, codes, factorise, first_appearance
from engine.alignment.blocking.keys import KeyRule
from tests.engine.alignment.blocking.contract import pairs_of, random_keys


def _dict_codes(values: list[object]) -> list[int]:
    index: dict[object, int] = {}
    return [-1 if v is None else index.setdefault(v, len(index)) for v in values]


@pytest.fixture(params=[True, False], ids=["pyarrow", "numpy"])
def arrow(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Both ways of coding: pyarrow's hash table, and dicts and sorts (small inputs)."""
    monkeypatch.setattr(base, "_arrow_pays", lambda size: request.param)
    return bool(request.param)


@pytest.mark.usefixtures("arrow")
@pytest.mark.parametrize(
    "values",
    [
        ["b", None, "a", "b", "", "a", "é", None],
        [None, "a", None, "b", "a"],
        [("x", "1"), None, ("y", "2"), ("x", "1")],  # not strings: the dict path
        ["\udcff", "a", "\udcff"],  # a lone surrogate pyarrow refuses
        [],
    ],
)
def test_factorise_numbers_values_in_order_of_first_appearance(values: list[object]) -> None:
    got, distinct = factorise(values)
    assert got.dtype == np.int64
    assert got.tolist() == _dict_codes(values)
    assert distinct == list(dict.fromkeys(v for v in values if v is not None))
    # The distinct values are the column's own objects, not copies.
    assert all(any(d is v for v in values) for d in distinct)


@pytest.mark.usefixtures("arrow")
def test_first_appearance_renumbers_any_integers() -> None:
    rng = np.random.default_rng(3)
    values = rng.integers(-1, 50, 500) * 1_000_003
    got, count = first_appearance(values)
    expected = _dict_codes([None if v < 0 else int(v) for v in values])
    assert got.tolist() == expected
    assert count == max(expected) + 1
    assert first_appearance(np.full(3, -1, dtype=np.int64))[1] == 0
    assert first_appearance(np.zeros(0, dtype=np.int64))[1] == 0


def test_a_small_input_does_not_import_pyarrow() -> None:
    assert not base._arrow_pays(10) or "pyarrow" in sys.modules
    assert base._arrow_pays(base.ARROW_MIN)


def test_codes_do_not_import_pandas_when_the_reader_loaded_pyarrow() -> None:
    # The CSV reader imports pyarrow for large files; pyarrow's first array built
    # from Python objects imports pandas (0.4 s), which codes of a 200k run must not pay.
    program = (
        "import sys, numpy as np, pyarrow\n"
        "from engine.alignment.blocking.base import factorise, first_appearance\n"
        "factorise(['a', 'b', None] * 1000)\n"
        "first_appearance(np.arange(3000, dtype=np.int64) % 7)\n"
        "print('pandas' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def _coded(align: list[str | None], target: list[str | None]) -> tuple[CodedKeys, CodedKeys]:
    # Codes in another order than first appearance (sorted values), as a composite's may be.
    distinct = sorted({v for v in align + target if v is not None})
    index = {v: i for i, v in enumerate(distinct)}

    def encode(values: list[str | None]) -> np.ndarray:
        return np.array([-1 if v is None else index[v] for v in values], dtype=np.int64)

    vocabulary = object()
    return (
        CodedKeys(encode(align), distinct.__getitem__, vocabulary, ordered=False),
        CodedKeys(encode(target), distinct.__getitem__, vocabulary, ordered=False),
    )


@pytest.mark.usefixtures("arrow")
def test_coded_keys_read_as_the_keys_and_code_as_the_keys() -> None:
    rng = random.Random(5)
    a, b = random_keys(rng, 60), random_keys(rng, 70)
    ca, cb = _coded(a, b)
    assert list(ca) == a and list(cb) == b and len(ca) == 60
    assert ca[3] == a[3] and ca[-1] == a[-1] and ca[2:9] == a[2:9]
    got, want = codes(ca, cb), codes(a, b)
    assert [x.tolist() for x in got[:2]] == [x.tolist() for x in want[:2]]
    assert got[2] == want[2]
    # The same pairs, in the same order, as the rule on the keys themselves.
    assert pairs_of(KeyRule(ca, cb), 7) == pairs_of(KeyRule(a, b), 7)


def test_a_giant_coded_key_is_named_in_the_warning() -> None:
    a = ["paris"] * 400 + ["lyon"]
    ca, cb = _coded(a, ["paris"] * 300)
    rule = KeyRule(ca, cb, label="key on city")
    assert rule.warnings == KeyRule(a, ["paris"] * 300, label="key on city").warnings
    assert "'paris'" in rule.warnings[0]
