"""The plan of an alignment job: steps that carry their configuration and describe themselves."""

from __future__ import annotations

from pathlib import Path

from engine.alignment.steps import (
    Block,
    Compare,
    Match,
    Prepare,
    Publish,
    ReadSource,
    Write,
    near_limit,
    steps,
)
from engine.loader import load_spec

SPEC = """\
kind: alignment
name: towns
sources:
  align: {csv: a.csv, id: {template: "http://a/{id}"}}
  target: same
attributes:
  - {name: name, metric: levenshtein, weight: 2}
  - {name: code, metric: exact}
blocking: {key: {attribute: code}}
threshold: 0.5
matching: best
outputs:
  - {rdf: out/links.ttl, void: out/void.ttl}
  - {csv: out/links.csv}
  - {html: out/report.html, gold: gold.csv, margin: 0.5}
  - {html: out/again.html, gold: gold.csv}
publish:
  graph: http://example.org/links
  graph_store: http://127.0.0.1:1/store
"""


def _plan(tmp_path: Path) -> list[object]:
    (tmp_path / "a.csv").write_text("id,name,code\n1,Paris,75\n", encoding="utf-8")
    (tmp_path / "gold.csv").write_text("a,t\n1,1\n", encoding="utf-8")
    (tmp_path / "spec.yaml").write_text(SPEC, encoding="utf-8")
    return steps(load_spec(tmp_path / "spec.yaml"))


def test_each_step_carries_its_part_of_the_spec(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    read_align, read_target, prepare, block, compare, match, *writes, publish = plan
    assert isinstance(read_align, ReadSource) and read_align.source.csv == tmp_path / "a.csv"
    assert isinstance(read_target, ReadSource) and read_target.source == "same"
    assert isinstance(prepare, Prepare) and prepare.roles == ("align",)
    assert [a.name for a in prepare.specs] == ["name", "code"] == list(prepare.attributes)
    assert isinstance(block, Block) and block.dedup and block.blocking is not None
    assert block.blocking.name == "key" and block.description == "key on attribute code"
    assert isinstance(compare, Compare) and compare.matching == "best" and compare.dedup
    assert [a.weight for a in compare.specs] == [2.0, 1.0] and compare.executor.name == "local"
    assert compare.keep_until == 1.0  # the report's near-misses: threshold + margin 0.5
    assert isinstance(match, Match) and match.golds == (tmp_path / "gold.csv",)  # once
    assert match.reach == 1.0
    assert [type(w) for w in writes] == [Write] * 4
    assert writes[0].format == "turtle" and writes[0].config.void == tmp_path / "out/void.ttl"
    assert writes[0].files() == (tmp_path / "out/links.ttl", tmp_path / "out/void.ttl")
    assert writes[1].files() == (tmp_path / "out/links.csv",)
    assert isinstance(publish, Publish) and publish.config is not None
    assert publish.protocol == "graph store" and publish.config.graph == publish.graph


def test_steps_describe_themselves(tmp_path: Path) -> None:
    texts = [step.describe() for step in _plan(tmp_path)]  # type: ignore[attr-defined]
    assert texts == [
        "read the align source",
        "read the target source",
        "normalise name, code",
        "blocking: key on attribute code",
        "compare the candidate pairs",
        "match (best, threshold 0.5)",
        "write links.ttl (turtle)",
        "write links.csv (csv)",
        "write report.html (html)",
        "write again.html (html)",
        "publish to http://example.org/links",
    ]


def test_a_steps_repr_leaves_its_configuration_out(tmp_path: Path) -> None:
    # The plan logged at -vv shows what each step is, not the whole spec again.
    read, _, prepare, *_ = _plan(tmp_path)
    assert repr(read) == "ReadSource(role='align')"
    assert repr(prepare) == "Prepare(attributes=('name', 'code'))"


def test_near_limit_is_the_threshold_without_near_misses(tmp_path: Path) -> None:
    _plan(tmp_path)
    spec = load_spec(tmp_path / "spec.yaml")
    assert near_limit(spec) == 1.0
    plain = spec.model_copy(update={"outputs": spec.outputs[:2]})
    assert near_limit(plain) == 0.5
