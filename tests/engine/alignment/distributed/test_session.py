"""The distributed path on a real LocalCluster: the links of the local run, the driver kept light."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import distributed
import numpy as np
import pytest
import yaml

from engine import load_spec
from engine.alignment import handlers, match
from engine.alignment.distributed import match as remote_match
from engine.alignment.distributed import route
from engine.alignment.distributed.session import Fetched, Session
from engine.cli import main
from engine.generate import people

ROOT = Path(__file__).resolve().parents[4]


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as local:
        yield str(local.scheduler_address)


@pytest.fixture(scope="module")
def task(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("people")
    people(3000, 0, folder)
    return folder


def _spec(folder: Path, task: Path, executor: str, blocking: Any = None) -> Path:
    spec = yaml.safe_load((ROOT / "specs" / "febrl4.yaml").read_text())
    template = {"template": "http://example.org/febrl/{rec_id}"}
    spec["sources"] = {
        "align": {"csv": str(task / "people-a.csv"), "id": template},
        "target": {"csv": str(task / "people-b.csv"), "id": template},
    }
    spec["outputs"] = [{"csv": "links.csv"}, {"rdf": "links.nt"}]
    spec["executor"] = yaml.safe_load(executor)
    if blocking is not None:
        spec["blocking"] = blocking
    folder.mkdir()
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the driver read a source, built a rule or listed candidates")


def test_links_byte_identical_and_the_driver_never_reads_or_blocks(
    cluster: str, task: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = _spec(tmp_path / "local", task, "{local: {workers: 2}}")
    assert main(["run", "-q", str(local)]) == 0
    dask = _spec(tmp_path / "dask", task, f"{{dask: {{address: '{cluster}'}}}}")
    assert route(load_spec(dask)).distributed
    # The driver's own reading, blocking and candidate listing: none of them may run.
    monkeypatch.setattr(handlers, "read_source", _refuse)
    monkeypatch.setattr(handlers, "build_rule", _refuse)
    monkeypatch.setattr(handlers, "compare_all", _refuse)
    assert main(["run", "-q", str(dask)]) == 0
    for name in ("links.csv", "links.nt"):
        expected = (tmp_path / "local" / name).read_bytes()
        assert expected.count(b"\n") > 1000
        assert (tmp_path / "dask" / name).read_bytes() == expected, name


def test_a_union_with_a_duplicate_rule_counts_each_pair_once(
    cluster: str, task: Path, tmp_path: Path
) -> None:
    rules = [
        {"key": {"attribute": "soc_sec_id"}},
        {"key": {"attribute": ["surname", "given_name"], "normalise": ["soundex"]}},
        {"key": {"attribute": "soc_sec_id"}},  # pairs the first rule found: none new
    ]
    blocking = {"union": rules}
    local = _spec(tmp_path / "local", task, "{local: {workers: 1}}", blocking)
    dask = _spec(tmp_path / "dask", task, f"{{dask: {{address: '{cluster}'}}}}", blocking)
    for path in (local, dask):
        assert main(["run", "-q", "--json", str(path)]) == 0
    assert (tmp_path / "dask" / "links.csv").read_bytes() == (
        tmp_path / "local" / "links.csv"
    ).read_bytes()


def test_the_plan_says_which_path_runs(task: Path, tmp_path: Path, capsys: Any) -> None:
    dask = _spec(tmp_path / "dask", task, "{dask: {workers: 2}}")
    assert route(load_spec(dask)).why.startswith("distributed on dask")
    other = _spec(
        tmp_path / "other",
        task,
        "{dask: {workers: 2}}",
        {"sorted_neighbourhood": {"attribute": "surname", "window": 3}},
    )
    why = route(load_spec(other)).why
    assert "dask compares only" in why and "sorted_neighbourhood" in why
    assert main(["plan", str(other)]) == 0
    assert "dask compares only; the driver reads and blocks" in capsys.readouterr().out


def test_an_id_in_two_partitions_is_the_local_readers_error(
    cluster: str, task: Path, tmp_path: Path, capsys: Any
) -> None:
    copy = tmp_path / "data"
    copy.mkdir()
    lines = (task / "people-a.csv").read_text().splitlines(keepends=True)
    (copy / "people-a.csv").write_text("".join([*lines, lines[1]]))  # line 2 again, at the end
    (copy / "people-b.csv").write_text((task / "people-b.csv").read_text())
    errors = []
    for name, executor in (
        ("local", "{local: {workers: 1}}"),
        ("dask", f"{{dask: {{address: '{cluster}'}}}}"),
    ):
        assert main(["run", "-q", str(_spec(tmp_path / name, copy, executor))]) == 1
        errors.append(capsys.readouterr().err)
    assert f"people-a.csv:{len(lines) + 1}: duplicate id" in errors[0]
    assert "(first used at line 2)" in errors[0]
    assert errors[1] == errors[0]


def test_one_to_one_over_large_and_small_components_never_brings_all_pairs(
    cluster: str, task: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    # Components of over 6 records are "giant" (greedy), the rest solved exactly; the driver
    # takes the pairs in pieces of 200, in ranges of totals cut every 16 pairs of a bucket.
    monkeypatch.setattr(match, "EXACT_COMPONENT", 6)
    monkeypatch.setattr(remote_match, "CHUNK", 200)
    monkeypatch.setattr(remote_match, "_SAMPLE", 16)
    kinds: list[tuple[bool, bool]] = []
    in_giant = match._in_giant

    def spy(ia: Any, ib: Any) -> Any:
        giant = in_giant(ia, ib)
        kinds.append((bool(giant.any()), bool((~giant).any())))
        return giant

    monkeypatch.setattr(match, "_in_giant", spy)
    local = _spec(tmp_path / "local", task, "{local: {workers: 1}}")
    assert main(["run", "-q", "--json", str(local)]) == 0
    counts = [json.loads(capsys.readouterr().out)["alignment"]["under_threshold"]]
    assert kinds == [(True, True)]
    largest = 0
    wait = Session.wait

    def measured(self: Session, futures: list[Any]) -> list[Any]:
        nonlocal largest
        values = wait(self, futures)
        for value in values:
            for column in value if isinstance(value, tuple) else [value]:
                if isinstance(column, np.ndarray):
                    largest = max(largest, len(column))
        return values

    monkeypatch.setattr(Session, "wait", measured)
    selected: list[int] = []  # the pairs each selection on the driver is given

    def counted(select: Any) -> Any:
        def spy(ia: Any, *args: Any, **kwargs: Any) -> Any:
            selected.append(len(ia))
            return select(ia, *args, **kwargs)

        return spy

    monkeypatch.setattr(match, "select", counted(match.select))
    monkeypatch.setattr(handlers, "select", counted(handlers.select))
    dask = _spec(tmp_path / "dask", task, f"{{dask: {{address: '{cluster}'}}}}")
    assert main(["run", "-q", "--json", str(dask)]) == 0
    counts.append(json.loads(capsys.readouterr().out)["alignment"]["under_threshold"])
    for name in ("links.csv", "links.nt"):
        expected = (tmp_path / "local" / name).read_bytes()
        assert (tmp_path / "dask" / name).read_bytes() == expected, name
    assert counts[1] == counts[0] > 3000  # the pairs under the threshold, counted on the workers
    # Pieces, never all the pairs under the threshold: neither a gathered answer nor a selection.
    assert 0 < largest <= 1000 < counts[0]
    assert selected and max(selected) < counts[0]


@pytest.mark.parametrize("matching", ["best", "all"])
def test_best_and_all_are_the_local_links(
    matching: str, cluster: str, task: Path, tmp_path: Path
) -> None:
    folders = {}
    for name, executor in (
        ("local", "{local: {workers: 1}}"),
        ("dask", f"{{dask: {{address: '{cluster}'}}}}"),
    ):
        path = _spec(tmp_path / name, task, executor)
        spec = yaml.safe_load(path.read_text())
        spec["matching"] = matching
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        assert main(["run", "-q", str(path)]) == 0
        folders[name] = tmp_path / name
    expected = (folders["local"] / "links.csv").read_bytes()
    assert expected.count(b"\n") > 2000
    assert (folders["dask"] / "links.csv").read_bytes() == expected


def test_the_ids_fetched_are_a_mapping_read_a_partition_at_a_time() -> None:
    asked: list[str] = []

    def fetch(answer: str) -> str:
        asked.append(answer)
        return answer

    fetched = Fetched([(np.array([2, 5, 9]), "a\nb\nc"), (np.array([11]), "d")], fetch)
    items = iter(fetched.items())
    assert next(items) == (2, "a") and asked == ["a\nb\nc"]  # the first partition alone
    assert dict(fetched.items()) == {2: "a", 5: "b", 9: "c", 11: "d"}
    assert list(fetched) == [2, 5, 9, 11] and len(fetched) == 4
    assert fetched[9] == "c" and fetched[11] == "d" and 11 in fetched and 3 not in fetched
    with pytest.raises(KeyError):
        fetched[4]
