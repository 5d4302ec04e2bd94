"""SSSOM/TSV mapping sets, checked with sssom-py (validation, CURIE round trip) and by hand."""

from __future__ import annotations

import csv
import dataclasses
import io
import random
from datetime import date, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote

import numpy as np
import pytest
import yaml

from renderers import LinkTable, OutputTransaction, format_distance
from renderers.sssom import MappingSet, MatchAttribute, write_sssom

SAME_AS = "http://www.w3.org/2002/07/owl#sameAs"
CLOSE_MATCH = "http://www.w3.org/2004/02/skos/core#closeMatch"

# IRIs chosen to be awkward as CURIEs.
PAIRS = [
    ("http://example.org/person/1", "http://dbpedia.org/resource/Émile_Zola"),  # accent
    ("http://example.org/person/1", "http://dbpedia.org/resource/%C3%89mile_Zola"),  # 1:n
    ("http://example.org/person/2/", "http://fr.dbpedia.org/resource/Léon_Frapié"),  # trailing /
    ("http://example.org/person/3", "urn:isbn:0451450523"),  # urn, digits first
    ("urn:x:a:b", "urn:x:"),  # ':' in the local part, trailing ':'
    ("http://example.org/a%2", "http://t.org/a[1]"),  # stray '%', brackets
    ("http://example.org/x?id=1&b=2", "http://t.org/a#b"),  # query, fragment
    ("http://example.org/", "http://t.org/a#"),  # host only, trailing '#'
    ("http://example.org/O'Brien_(x)", "http://www.w3.org/2002/07/owl#Thing"),  # built-in ns
    ("http://example.org/person/4", "http://www.wikidata.org/entity/Q42"),  # well-known ns
    ("http://example.org/person/5", "http://example.org/person/1"),  # shared namespace
    ("mailto:a@b.example", "tag:example.org,2024:x"),
]

ATTRIBUTES = (
    MatchAttribute("name", "levenshtein", 2.0, ["name"], ["label"], ["lowercase", "simplify"]),
    MatchAttribute("Birth date", "temporal", 1.0, ["Birth date"], ["_birth"], ["date"]),
    MatchAttribute("ignored", "exact", 0.0, ["x"], ["y"], ["unaccent"]),
)


def _set(**changes: Any) -> MappingSet:
    base = MappingSet(
        mapping_set_id="urn:specengine:demo:linkset:0",
        threshold=0.6,
        max_distance=3.0,
        mapping_tool_version="0.1.0",
        mapping_date=date(2024, 5, 1),
        attributes=ATTRIBUTES,
        subject_source="urn:specengine:demo:dataset:align",
        object_source="urn:specengine:demo:dataset:target",
        subject_field_namespace="urn:specengine:demo:dataset:align:field:",
        object_field_namespace="urn:specengine:demo:dataset:target:field:",
        license="https://creativecommons.org/licenses/by/4.0/",
    )
    return dataclasses.replace(base, **changes)


def _table(pairs: list[tuple[str, str]], distance: Any = None) -> LinkTable:
    n = len(pairs)
    d = np.linspace(0.0, 0.6, n) if distance is None else np.asarray(distance, dtype=float)
    return LinkTable(
        align_ids=[a for a, _ in pairs],
        target_ids=[t for _, t in pairs],
        distance=d,
        attributes={
            "name": d / 2,
            "Birth date": np.where(np.arange(n) % 2 == 1, np.nan, d / 3),
            "ignored": np.full(n, np.inf),
        },
    )


def _render(table: LinkTable, mapping_set: MappingSet, path: Path) -> str:
    with OutputTransaction() as tx:
        write_sssom(table, mapping_set, tx.open_text(path))
        tx.commit()
    # Bytes, not read_text(): universal newlines would hide a "\r\n" terminator.
    return path.read_bytes().decode("utf-8")


def _split(text: str) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The metadata (YAML) and the rows (dicts) of an SSSOM/TSV text, read without sssom-py."""
    lines = text.splitlines(keepends=True)
    block = [line[1:] for line in lines if line.startswith("#")]
    rows = list(csv.DictReader(io.StringIO("".join(lines[len(block) :])), delimiter="\t"))
    return yaml.safe_load("".join(block)), rows


@pytest.fixture(scope="module")
def sssom_py() -> ModuleType:
    """sssom-py, imported once per module (about 2 s: linkml loads the schema).

    A test dependency (``.[test]``): missing, the tests fail rather than skip.
    """
    import sssom.parsers
    import sssom.validators

    return sssom.parsers


def _problems(path: Path, rows: int) -> list[str]:
    """Everything sssom-py finds wrong with a file; [] when it is valid.

    Schema, prefix and CURIE validation as ``sssom validate`` runs them, plus the
    row count: sssom-py drops a row whose CURIE it cannot read with only a logged
    warning, and its validator (and CLI exit status) then passes.
    """
    from sssom.parsers import parse_sssom_table
    from sssom.validators import validate

    try:
        msdf = parse_sssom_table(path)
        reports = validate(msdf, fail_on_error=False)
    except Exception as exc:  # a file too broken to validate is a problem, not a crash
        return [f"{type(exc).__name__}: {exc}"]
    problems = [result.message for report in reports.values() for result in report.results]
    if len(msdf.df) != rows:
        problems.append(f"{len(msdf.df)} mappings read back, {rows} written")
    return problems


def test_output_validates_and_iris_round_trip(sssom_py: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "links.sssom.tsv"
    _render(_table(PAIRS), _set(), path)
    assert _problems(path, len(PAIRS)) == []

    msdf = sssom_py.parse_sssom_table(path)
    expand = msdf.converter.expand
    read = [
        (expand(s), expand(o)) for s, o in zip(msdf.df.subject_id, msdf.df.object_id, strict=True)
    ]
    assert sorted(read) == sorted(PAIRS)  # the same full IRIs, not merely equivalent ones
    assert {expand(p) for p in msdf.df.predicate_id} == {SAME_AS}
    assert set(msdf.df.mapping_justification) == {"semapv:CompositeMatching"}
    # Propagated from the set to each mapping by the parser.
    assert expand(msdf.df.subject_source[0]) == "urn:specengine:demo:dataset:align"
    assert msdf.metadata["license"] == "https://creativecommons.org/licenses/by/4.0/"


def test_other_predicates_and_justifications(sssom_py: ModuleType, tmp_path: Path) -> None:
    odd = "http://example.org/vocab/sameRecordAs"
    for predicate in (CLOSE_MATCH, odd):
        path = tmp_path / f"{predicate.rsplit('/', 1)[-1]}.sssom.tsv"
        mapping_set = _set(
            predicate=predicate, mapping_justification="semapv:LexicalSimilarityThresholdMatching"
        )
        _render(_table(PAIRS[:3]), mapping_set, path)
        assert _problems(path, 3) == []
        msdf = sssom_py.parse_sssom_table(path)
        assert {msdf.converter.expand(p) for p in msdf.df.predicate_id} == {predicate}


# Each breaks a valid file in one way the validation must notice.
BREAKAGES = {
    "undeclared prefix": lambda text: text.replace("#  person: http://example.org/person/\n", ""),
    "confidence above 1": lambda text: text.replace("\t1\t1\t0\t", "\t1.5\t1\t0\t", 1),
    "unknown justification": lambda text: text.replace(
        "semapv:CompositeMatching", "semapv:GutFeeling", 1
    ),
    # sssom-py drops such a row with a warning only: the row count catches it.
    "non-ASCII CURIE": lambda text: text.replace("\temilezola:\t", "\tdbr:Émile_Zola\t", 1),
    "invalid mapping_set_id": lambda text: text.replace(
        "#mapping_set_id: urn:specengine:demo:linkset:0\n", "#mapping_set_id: not a uri\n"
    ),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_broken_files_fail_validation(sssom_py: ModuleType, tmp_path: Path, breakage: str) -> None:
    text = _render(_table(PAIRS), _set(), tmp_path / "good.sssom.tsv")
    broken = BREAKAGES[breakage](text)
    assert broken != text  # the edit really happened
    path = tmp_path / "broken.sssom.tsv"
    path.write_text(broken, encoding="utf-8")
    assert _problems(path, len(PAIRS)) != []


def test_sssom_validate_command(sssom_py: ModuleType, tmp_path: Path) -> None:
    """``sssom validate FILE``, run in this process: a subprocess would import linkml again (~2 s)."""
    from click.testing import CliRunner
    from sssom.cli import main

    good = tmp_path / "good.sssom.tsv"
    text = _render(_table(PAIRS), _set(), good)
    broken = tmp_path / "broken.sssom.tsv"
    broken.write_text(BREAKAGES["undeclared prefix"](text), encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(main, ["validate", str(good)])
    assert result.exit_code == 0, result.output
    assert runner.invoke(main, ["validate", str(broken)]).exit_code != 0


def test_empty_table_is_a_valid_set(sssom_py: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "empty.sssom.tsv"
    text = _render(_table([]), _set(), path)
    assert _problems(path, 0) == []
    metadata, rows = _split(text)
    assert rows == []
    assert text.endswith(
        "subject_id\tpredicate_id\tobject_id\tmapping_justification\tconfidence"
        "\tsimilarity_score\text_distance\text_distance_Birth_date\text_distance_ignored"
        "\text_distance_name\n"
    )
    assert "person" not in metadata["curie_map"]  # only prefixes in use are declared


def test_scores_bounded(tmp_path: Path) -> None:
    distance = [0.0, 0.15, 0.3, 0.6, 0.6000000000000001]  # the last: rounding past T
    pairs = [(f"http://e.org/{i}", f"http://t.org/{i}") for i in range(len(distance))]
    text = _render(_table(pairs, distance), _set(threshold=0.6, max_distance=3.0), tmp_path / "s")
    _, rows = _split(text)
    confidence = [float(r["confidence"]) for r in rows]
    similarity = [float(r["similarity_score"]) for r in rows]
    assert confidence == [1.0, 1 - 0.15 / 0.6, 1 - 0.3 / 0.6, 0.0, 0.0]
    assert similarity == [1.0, 1 - 0.15 / 3, 1 - 0.3 / 3, 1 - 0.6 / 3, 1 - 0.6000000000000001 / 3]
    assert [float(r["ext_distance"]) for r in rows] == distance


def test_scores_unbounded_and_zero_threshold(tmp_path: Path) -> None:
    pairs = [(f"http://e.org/{i}", f"http://t.org/{i}") for i in range(3)]
    text = _render(
        _table(pairs, [0.0, 1.0, 2.0]), _set(threshold=2.0, max_distance=None), tmp_path / "u"
    )
    metadata, rows = _split(text)
    assert [float(r["similarity_score"]) for r in rows] == [1.0, 2 / 3, 0.5]  # T/(T + D)
    assert [float(r["confidence"]) for r in rows] == [1.0, 0.5, 0.0]
    assert metadata["similarity_measure"].startswith("T/(T + D)")

    # T = 0: only exact matches are accepted, and they are certain.
    text = _render(_table(pairs[:1], [0.0]), _set(threshold=0.0, max_distance=None), tmp_path / "z")
    _, rows = _split(text)
    assert (rows[0]["confidence"], rows[0]["similarity_score"]) == ("1", "1")


@pytest.mark.parametrize("max_distance", [3.0, None])
def test_scores_are_monotone_in_distance(tmp_path: Path, max_distance: float | None) -> None:
    rng = np.random.default_rng(7)
    distance = np.sort(rng.uniform(0, 0.6, 300))
    distance[:3] = 0.0
    pairs = [(f"http://e.org/{i:04d}", "http://t.org/x") for i in range(len(distance))]
    mapping_set = _set(threshold=0.6, max_distance=max_distance)
    _, rows = _split(_render(_table(pairs, distance), mapping_set, tmp_path / "m"))
    for column in ("confidence", "similarity_score"):
        scores = np.array([float(r[column]) for r in rows])
        assert ((scores >= 0) & (scores <= 1)).all()
        assert (np.diff(scores) <= 0).all()  # rows are in id order, which is distance order here
        assert (scores[:3] == 1).all()


def test_metadata_block(tmp_path: Path) -> None:
    text = _render(_table(PAIRS), _set(), tmp_path / "links.sssom.tsv")
    lines = text.split("\n")
    # Canonical-form shape: curie_map first and sorted, no space after '#', \n only.
    assert "\r" not in text
    assert lines[0] == "#curie_map:"
    metadata, rows = _split(text)
    names = list(metadata["curie_map"])
    assert names == sorted(names)
    assert not {"owl", "rdf", "rdfs", "skos", "semapv", "sssom"} & set(names)  # built-ins
    # Top-level keys right after '#'; deeper lines are YAML indentation.
    assert all(line[1].isalpha() or line.startswith("#  ") for line in lines if line[:1] == "#")
    assert metadata["curie_map"]["dbr"] == "http://dbpedia.org/resource/"
    assert metadata["curie_map"]["wd"] == "http://www.wikidata.org/entity/"
    assert metadata["sssom_version"] == "1.1"
    assert metadata["mapping_date"] == date(2024, 5, 1)
    assert metadata["mapping_tool"] == "specengine"
    assert metadata["mapping_tool_version"] == "0.1.0"
    # Weight-0 attributes decide nothing: neither match fields nor preprocessing.
    assert metadata["subject_match_field"] == ["align:name", "align:Birth%20date"]
    assert metadata["object_match_field"] == ["target:label", "target:__birth"]
    assert metadata["subject_preprocessing"] == [
        "semapv:CaseNormalization",
        "normaliser:simplify",
        "normaliser:date",
    ]
    assert metadata["similarity_measure"] == (
        "1 - D/3, where D = 2*levenshtein(name) + 1*temporal(Birth date)"
        " is the global distance and 3 its maximum"
    )
    assert [d["slot_name"] for d in metadata["extension_definitions"]] == [
        "ext_distance",
        "ext_distance_Birth_date",
        "ext_distance_ignored",
        "ext_distance_name",
    ]
    properties = [d["property"] for d in metadata["extension_definitions"]]
    assert properties == sorted(properties)
    for definition in metadata["extension_definitions"]:
        prefix = definition["property"].split(":")[0]
        assert metadata["curie_map"][prefix] == "urn:specengine:vocab:"
        assert definition["type_hint"] == "xsd:double"
    assert list(rows[0])[-4:] == [d["slot_name"] for d in metadata["extension_definitions"]]
    assert "'Birth date'" in metadata["comment"]  # the column names their attribute


def test_distances_in_extension_columns(tmp_path: Path) -> None:
    third = 0.1 + 0.2  # 0.30000000000000004: must survive exactly
    pairs = [("http://e.org/a", "http://t.org/1"), ("http://e.org/b", "http://t.org/2")]
    table = LinkTable(
        [a for a, _ in pairs],
        [t for _, t in pairs],
        np.array([third, 0.5]),
        {"name": np.array([np.nan, 1e-20]), "geo": np.array([np.inf, 0.0])},
    )
    _, rows = _split(_render(table, _set(attributes=()), tmp_path / "d"))
    assert [(r["ext_distance"], r["ext_distance_name"], r["ext_distance_geo"]) for r in rows] == [
        ("0.30000000000000004", "", "INF"),  # NaN (missing) -> empty; xsd:double infinity
        ("0.5", "1e-20", "0"),
    ]
    assert float(rows[0]["ext_distance"]) == third


def test_field_names_are_reversible_curies(sssom_py: ModuleType, tmp_path: Path) -> None:
    fields = ["Éditeur", "_id", "__x", "birth date", "0", "a/b", "n°", "x|y"]
    attributes = (MatchAttribute("a", "exact", 1.0, fields, fields, ()),)
    path = tmp_path / "fields.sssom.tsv"
    metadata, _ = _split(_render(_table(PAIRS[:2]), _set(attributes=attributes), path))
    assert _problems(path, 2) == []
    namespace = metadata["curie_map"]["align"]
    decoded = []
    for curie in metadata["subject_match_field"]:
        prefix, local = curie.split(":", 1)
        assert metadata["curie_map"][prefix] == namespace
        decoded.append(unquote(local.removeprefix("_")))
    assert decoded == fields


def test_yaml_scalars_round_trip(sssom_py: ModuleType, tmp_path: Path) -> None:
    nasty = [
        "1.0",
        "yes",
        "null",
        "a: b # c",
        '"quoted" \\ back',
        "line\nbreak\ttab",
        "Zoë – ✓ 𝄞",
        "sep\u2028arator\x85",
        "- dash",
        "trailing:",
        "",
    ]
    path = tmp_path / "yaml.sssom.tsv"
    for text in nasty:
        mapping_set = _set(title=text, description=text, mapping_tool_version=text)
        metadata, _ = _split(_render(_table(PAIRS[:1]), mapping_set, path))
        read = (
            metadata["mapping_set_title"],
            metadata["mapping_set_description"],
            metadata["mapping_tool_version"],
        )
        assert read == (text, text, text)
        path.unlink()
    mapping_set = _set(title=nasty[3], description=nasty[5], mapping_tool_version=nasty[0])
    _render(_table(PAIRS[:1]), mapping_set, path)
    assert _problems(path, 1) == []


def test_prefix_names(tmp_path: Path) -> None:
    pairs = [
        ("http://example.org/people/1", "http://a.example/person/1"),
        ("http://example.org/people/2", "http://b.example/person/1"),  # same stem 'person'
        ("http://example.org/person1/3", "http://c.example/v2/x"),  # stems never end in digits
    ]
    mapping_set = _set(
        prefixes={
            "ex": "http://example.org/",  # preferred, and the longest match for /people/ and /person1/
            "owl": "http://example.org/not-owl#",  # built-in name: ignored
            "bad_name": "http://a.example/person/",  # not a prefix name sssom-py reads: ignored
        }
    )
    metadata, rows = _split(_render(_table(pairs), mapping_set, tmp_path / "p"))
    curie_map = metadata["curie_map"]
    assert curie_map["ex"] == "http://example.org/"
    assert curie_map["person1"] == "http://a.example/person/"
    assert curie_map["person2"] == "http://b.example/person/"
    assert curie_map["v"] == "http://c.example/v2/"
    assert len(set(curie_map.values())) == len(curie_map)  # a bijection
    assert [r["subject_id"] for r in rows] == ["ex:people/1", "ex:people/2", "ex:person1/3"]
    assert [r["object_id"] for r in rows] == ["person1:1", "person2:1", "v:x"]


def test_shuffled_input_gives_identical_bytes(tmp_path: Path) -> None:
    rows = [(PAIRS[i % len(PAIRS)][0] + str(i % 5), PAIRS[i % 7][1], i / 700) for i in range(100)]
    outputs: set[str] = set()
    rng = random.Random(3)
    for attempt in range(4):
        rng.shuffle(rows)
        table = LinkTable(
            [r[0] for r in rows],
            [r[1] for r in rows],
            np.array([r[2] for r in rows]),
            {"name": np.array([r[2] / 2 for r in rows])},
        )
        outputs.add(_render(table, _set(), tmp_path / f"run{attempt}.sssom.tsv"))
    assert len(outputs) == 1


def test_datetime_mapping_date_keeps_the_day(tmp_path: Path) -> None:
    mapping_set = _set(mapping_date=datetime(2024, 5, 1, 23, 59))
    metadata, _ = _split(_render(_table(PAIRS[:1]), mapping_set, tmp_path / "dt"))
    assert metadata["mapping_date"] == date(2024, 5, 1)


@pytest.mark.parametrize(
    "distance", [float("nan"), -0.1, float("inf")], ids=["nan", "negative", "inf"]
)
def test_unscorable_distance_is_rejected(distance: float) -> None:
    handle = io.StringIO()
    with pytest.raises(ValueError, match="finite distance"):
        write_sssom(_table(PAIRS[:2], [0.0, distance]), _set(), handle)
    assert handle.getvalue() == ""  # nothing written before the check


def test_invalid_iri_is_rejected() -> None:
    handle = io.StringIO()
    with pytest.raises(ValueError, match="not an absolute IRI"):
        write_sssom(_table([("http://e.org/a b", "http://t.org/1")]), _set(), handle)
    assert handle.getvalue() == ""


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"threshold": -1.0}, "threshold"),
        ({"threshold": float("inf")}, "threshold"),
        ({"max_distance": 0.0}, "max_distance"),
        ({"mapping_justification": "semapv:GutFeeling"}, "mapping_justification"),
        ({"mapping_set_id": "urn:specengine:démo"}, "ASCII"),
        ({"mapping_set_id": "linkset"}, "absolute IRI"),
        ({"license": "cc-by"}, "absolute IRI"),
        ({"predicate": "same as"}, "absolute IRI"),
    ],
)
def test_invalid_mapping_set(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _set(**changes)


def test_scores_format_like_the_csv(tmp_path: Path) -> None:
    pairs = [("http://e.org/a", "http://t.org/1")]
    _, rows = _split(_render(_table(pairs, [0.1]), _set(), tmp_path / "f"))
    assert rows[0]["confidence"] == format_distance(1 - 0.1 / 0.6)
    assert rows[0]["similarity_score"] == format_distance(1 - 0.1 / 3)


def test_curated_links_validate_with_their_author_and_date(
    sssom_py: ModuleType, tmp_path: Path
) -> None:
    """Links from a curation: semapv:ManualMappingCuration, author_id and mapping_date per row."""
    path = tmp_path / "links.sssom.tsv"
    curated = {
        PAIRS[0]: ("https://orcid.org/0000-0002-1825-0097", "2024-04-30"),
        PAIRS[3]: (None, None),
    }
    text = _render_curated(_table(PAIRS), _set(), path, curated)
    assert _problems(path, len(PAIRS)) == []
    meta, rows = _split(text)
    assert "mapping_date" not in meta  # each row has its own: a propagatable slot is set once
    by_subject = {(r["subject_id"], r["object_id"]): r for r in rows}
    msdf = sssom_py.parse_sssom_table(path)
    expand = msdf.converter.expand
    read = {
        (expand(s), expand(o)): (j, a, d)
        for s, o, j, a, d in zip(
            msdf.df.subject_id,
            msdf.df.object_id,
            msdf.df.mapping_justification,
            msdf.df.author_id,
            msdf.df.mapping_date,
            strict=True,
        )
    }
    assert read[PAIRS[0]][0] == "semapv:ManualMappingCuration"
    assert expand(read[PAIRS[0]][1]) == "https://orcid.org/0000-0002-1825-0097"
    assert str(read[PAIRS[0]][2]).startswith("2024-04-30")
    assert read[PAIRS[3]][0] == "semapv:ManualMappingCuration"
    assert read[PAIRS[1]][0] == "semapv:CompositeMatching"
    assert str(read[PAIRS[1]][2]).startswith("2024-05-01")  # the run's date
    assert len(by_subject) == len(PAIRS)
    # A person confirmed them: confidence 1 whatever the score (PAIRS[3] is far from 0).
    confidence = dict(zip(read, msdf.df.confidence, strict=True))
    assert confidence[PAIRS[3]] == 1.0 and confidence[PAIRS[4]] < 1.0


def _render_curated(
    table: LinkTable,
    mapping_set: MappingSet,
    path: Path,
    curated: dict[tuple[str, str], tuple[str | None, str | None]],
) -> str:
    with OutputTransaction() as tx:
        write_sssom(table, mapping_set, tx.open_text(path), curated)
        tx.commit()
    return path.read_bytes().decode("utf-8")


def test_big_sets_written_in_bulk_have_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    from renderers import sssom

    rng = np.random.default_rng(5)
    n = 3_000
    distance = np.concatenate([rng.random(n - 4) * 0.6, [0.0, 1e-7, 0.6, 3e-5]])
    awkward = np.exp(rng.uniform(-14, 30, n))
    awkward[rng.random(n) < 0.2] = np.nan
    awkward[rng.random(n) < 0.05] = np.inf
    awkward[rng.random(n) < 0.05] = -0.0
    table = LinkTable(
        [f"http://e.org/person/{i}" for i in rng.permutation(n)],
        [f"http://t.org/Zoë/{i}" for i in rng.integers(0, n, n)],
        distance,
        {"name": awkward, "Birth date": distance / 3, "ignored": np.full(n, np.inf)},
    )

    def written(bulk: int) -> str:
        monkeypatch.setattr(sssom, "BULK_ROWS", bulk)
        monkeypatch.setattr(sssom, "CHUNK_ROWS", 700)
        handle = io.StringIO()
        write_sssom(table, _set(), handle)
        return handle.getvalue()

    expected = written(10**9)
    assert written(100) == expected
    assert "\tINF\n" in expected and "\t1e-07\t" in expected
