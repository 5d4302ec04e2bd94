"""Spec loading: every problem at once, each with file:line:column and a field path."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from engine.cli import main
from engine.errors import SpecError
from engine.loader import MAX_BYTES, MAX_DEPTH, load_spec, read_document

GOOD = """\
kind: alignment
name: demo
sources:
  align: {csv: a.csv, id: uri}
  target: {csv: b.csv, id: uri}
attributes:
  - {name: name, metric: levenshtein, normalise: [lowercase]}
threshold: 1
outputs:
  - {rdf: out/links.ttl}
"""


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "a.csv").write_text("uri,name\nhttp://a/1,x\n")
    (tmp_path / "b.csv").write_text("uri,name\nhttp://b/1,x\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    return spec


def _at(text: str, needle: str) -> str:
    """'line:column' (1-based) of the first occurrence of needle in text."""
    before = text[: text.index(needle)]
    return f"{before.count(chr(10)) + 1}:{len(before) - before.rfind(chr(10))}"


def _problems(path: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_spec(path)
    return [str(p) for p in info.value.problems]


def test_good_spec_resolves_paths_against_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = load_spec(_write(tmp_path, GOOD))
    assert spec.sources.align.csv == tmp_path / "a.csv"
    assert spec.outputs[0].rdf == tmp_path / "out" / "links.ttl"
    assert spec.outputs[0].predicate == "http://www.w3.org/2002/07/owl#sameAs"
    assert spec.blocking.name == "none"
    assert spec.attributes[0].metric.name == "levenshtein"


def test_all_errors_reported_with_positions(tmp_path: Path) -> None:
    text = (
        GOOD.replace("metric: levenshtein", "metric: levenstein")
        .replace("threshold: 1", "thresold: 1\nmatching: bestest")
        .replace("[lowercase]", "[lowercase, frobnicate]")
    )
    problems = _problems(_write(tmp_path, text))
    joined = "\n".join(problems)
    assert (
        f"spec.yaml:{_at(text, 'levenstein')}: attributes[0].metric: unknown metric 'levenstein';"
        " did you mean 'levenshtein'?"
    ) in joined
    assert "(valid: damerau_levenshtein" in joined
    assert (
        f"spec.yaml:{_at(text, 'frobnicate')}: attributes[0].normalise[1]:"
        " unknown normaliser 'frobnicate'"
    ) in joined
    assert "spec.yaml:8:1: thresold: unknown key 'thresold'; did you mean 'threshold'?" in joined
    assert "spec.yaml:9:11: matching: Input should be 'all', 'best' or 'one-to-one'" in joined
    # No threshold is no problem here: a spec without one is fitted (engine fit) first.
    assert "missing required key 'threshold'" not in joined
    assert len(problems) == 4


def test_unknown_nested_key_points_at_the_key(tmp_path: Path) -> None:
    text = GOOD.replace("{csv: b.csv, id: uri}", "{csv: b.csv, id: uri, colour: red}")
    problems = _problems(_write(tmp_path, text))
    assert problems == [
        f"{tmp_path / 'spec.yaml'}:{_at(text, 'colour')}: sources.target.colour: unknown key 'colour'; did you mean 'columns'?"
    ]


def test_wrong_type_and_option(tmp_path: Path) -> None:
    text = GOOD.replace("threshold: 1", "threshold: lots").replace(
        "metric: levenshtein", "metric: {temporal: {unit: weeks}}"
    )
    joined = "\n".join(_problems(_write(tmp_path, text)))
    assert "threshold: Input should be a valid number" in joined
    assert (
        "attributes[0].metric.temporal.unit: Input should be 'days', 'months' or 'years' (got 'weeks')"
        in joined
    )


def test_missing_data_file(tmp_path: Path) -> None:
    text = GOOD.replace("b.csv", "nothere.csv")
    problems = _problems(_write(tmp_path, text))
    assert problems == [
        f"{tmp_path / 'spec.yaml'}:5:17: sources.target.csv: file not found: {tmp_path / 'nothere.csv'}"
    ] or (
        len(problems) == 1
        and "sources.target.csv: file not found" in problems[0]
        and ":5:17:" in problems[0]
    )


def test_malformed_yaml(tmp_path: Path) -> None:
    problems = _problems(_write(tmp_path, "kind: alignment\nname: [unclosed\n"))
    assert len(problems) == 1
    assert "invalid YAML" in problems[0]
    assert ":3:1:" in problems[0] or ":2:" in problems[0]


def test_duplicate_keys(tmp_path: Path) -> None:
    problems = _problems(_write(tmp_path, GOOD + "threshold: 2\n"))
    assert any("duplicate key 'threshold'" in p and ":11:1:" in p for p in problems)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("- a\n- b\n", "a spec must be a mapping"),
        ("name: x\n", "missing 'kind'"),
        ("kind: aligment\n", "unknown kind 'aligment'; did you mean 'alignment'?"),
    ],
)
def test_not_a_spec(tmp_path: Path, text: str, message: str) -> None:
    problems = _problems(_write(tmp_path, text))
    assert len(problems) == 1 and message in problems[0]


def test_missing_spec_file(tmp_path: Path) -> None:
    problems = _problems(tmp_path / "absent.yaml")
    assert problems[0].endswith("no such file")


def test_named_entries_with_options_and_shorthand(tmp_path: Path) -> None:
    text = GOOD.replace(
        "normalise: [lowercase]",
        "normalise: [lowercase, {remove_after: '('}, {simplify: {stopwords: fr}}]",
    ).replace(
        "outputs:",
        "blocking: {union: [{key: {attribute: name}}, {sorted_neighbourhood: {attribute: name, window: 3}}]}\noutputs:",
    )
    spec = load_spec(_write(tmp_path, text))
    chain = spec.attributes[0].normalise
    assert [r.name for r in chain] == ["lowercase", "remove_after", "simplify"]
    assert chain[1].options.sub == "(" and chain[2].options.stopwords == "fr"
    assert [r.name for r in spec.blocking.options] == ["key", "sorted_neighbourhood"]


def test_blocking_on_an_unknown_attribute(tmp_path: Path) -> None:
    text = GOOD.replace("outputs:", "blocking: {key: {attribute: nom}}\noutputs:")
    assert any("blocking refers to attribute 'nom'" in p for p in _problems(_write(tmp_path, text)))


def test_option_needed(tmp_path: Path) -> None:
    text = GOOD.replace("[lowercase]", "[remove_after]")
    assert any(
        "normaliser 'remove_after' needs options" in p for p in _problems(_write(tmp_path, text))
    )


def test_cross_field_problems_point_at_their_fields(tmp_path: Path) -> None:
    text = GOOD.replace(
        "  - {name: name, metric: levenshtein, normalise: [lowercase]}\n",
        "  - {name: name, metric: levenshtein, normalise: [lowercase]}\n"
        "  - {name: pt, align: [lat, long], metric: geographic}\n"
        "  - {name: one, align: [lat, long, alt], metric: geographic}\n"
        "  - {name: two, align: [a, b], target: a, metric: euclidean}\n"
        "  - {name: words, align: [a, b], metric: jaccard}\n",
    ).replace(
        "  - {rdf: out/links.ttl}\n",
        "  - {rdf: out/links.ttl}\n  - {csv: b.csv}\n  - {rdf: out/links.ttl}\n",
    )
    problems = _problems(_write(tmp_path, text))
    assert problems == [
        f"{tmp_path / 'spec.yaml'}:{_at(text, 'geographic}' + chr(10) + '  - {name: two')}: attributes[2].metric: metric"
        " 'geographic' compares points: give two columns, e.g. align: [lat, long], or one"
        " column of WKT points",
        f"{tmp_path / 'spec.yaml'}:{_at(text, 'a, metric: euc')}: attributes[3].target: 2 align"
        " column(s) but 1 target column(s): both sides must give the same number",
        f"{tmp_path / 'spec.yaml'}:{_at(text, 'jaccard')}: attributes[4].metric: metric 'jaccard'"
        " compares single values; 2 columns were given",
        f"{tmp_path / 'spec.yaml'}:{_at(text, '{csv: b.csv}')}: outputs[1]: output"
        f" {tmp_path / 'b.csv'} would overwrite an input of this job",
        f"{tmp_path / 'spec.yaml'}:16:5: outputs[2]: output 2 writes the same file as output 0",
    ]


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("{rdf: x.rdf}", "cannot tell the RDF format of 'x.rdf'"),
        ("{rdf: x.ttl, predicate: 'owl:same As'}", "'owl:same As' is not a valid CURIE"),
        ("{rdf: x.ttl, predicate: 'foaf:knows'}", "unknown prefix 'foaf' in 'foaf:knows'"),
    ],
)
def test_output_problems(tmp_path: Path, output: str, message: str) -> None:
    text = GOOD.replace("{rdf: out/links.ttl}", output)
    assert any(message in p for p in _problems(_write(tmp_path, text)))


def test_rdf_format_and_predicates(tmp_path: Path) -> None:
    text = GOOD.replace(
        "{rdf: out/links.ttl}",
        "{rdf: x.rdf, format: ntriples, predicate: skos:exactMatch}\n"
        "  - {rdf: y.nt, predicate: 'http://example.org/p'}",
    )
    spec = load_spec(_write(tmp_path, text))
    assert spec.outputs[0].resolved_format == "ntriples"
    assert spec.outputs[0].predicate == "http://www.w3.org/2004/02/skos/core#exactMatch"
    assert spec.outputs[1].predicate == "http://example.org/p"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "id: uri}\n  target",
            "id: [uri]}\n  target",
            "expected the column holding each record's IRI",
        ),
        (
            "normalise: [lowercase]}",
            "normalise: [lowercase], missing: -1}",
            "attributes[0].missing: a missing-value distance must be >= 0",
        ),
        ("threshold: 1", "threshold: .inf", "threshold: Input should be a finite number"),
        (
            "metric: levenshtein,",
            "metric: levenshtein, wieght: 2,",
            "unknown key 'wieght'; did you mean 'weight'?",
        ),
        (
            "{csv: b.csv, id: uri}",
            "{csv: b.csv}",
            "spec.yaml:5:11: sources.target.id: missing required key 'id'",
        ),
        (
            "{csv: b.csv, id: uri}",
            "{csv: b.csv, id: uri, encoding: rot13}",
            "sources.target.encoding: 'rot13' is not a text encoding",
        ),
        (
            "{csv: b.csv, id: uri}",
            "{csv: b.csv, id: uri, encoding: latin-9000}",
            "unknown encoding 'latin-9000'",
        ),
    ],
)
def test_clear_single_messages(tmp_path: Path, old: str, new: str, message: str) -> None:
    problems = _problems(_write(tmp_path, GOOD.replace(old, new)))
    assert len(problems) == 1, problems
    assert message in problems[0]


def test_inline_cells_keep_their_text(tmp_path: Path) -> None:
    text = GOOD.replace(
        "align: {csv: a.csv, id: uri}",
        "align: {inline: [[a, 0700, yes, '12:30', 1_000, ~]], columns: [uri, a, b, c, d, e],"
        " id: {template: 'http://x/{uri}'}}",
    )
    spec = load_spec(_write(tmp_path, text))
    assert spec.sources.align.inline == [["a", "0700", "yes", "12:30", "1_000", None]]


def test_blocking_on_an_unknown_attribute_points_at_it(tmp_path: Path) -> None:
    text = GOOD.replace(
        "outputs:",
        "blocking:\n  union:\n    - key: {attribute: name}\n    - key: {attribute: [name, nom]}\noutputs:",
    )
    problems = _problems(_write(tmp_path, text))
    assert problems == [
        f"{tmp_path / 'spec.yaml'}:{_at(text, '[name, nom]')}: blocking.union[1].key.attribute:"
        " blocking refers to attribute 'nom', which is not defined (attributes: name)"
    ]


def test_environment_variables_in_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = GOOD.replace("{rdf: out/links.ttl}", "{rdf: '${SPECENGINE_OUT:-out}/links.ttl'}")
    monkeypatch.delenv("SPECENGINE_OUT", raising=False)
    assert load_spec(_write(tmp_path, text)).outputs[0].rdf == tmp_path / "out" / "links.ttl"
    monkeypatch.setenv("SPECENGINE_OUT", str(tmp_path / "elsewhere"))
    assert load_spec(_write(tmp_path, text)).outputs[0].rdf == tmp_path / "elsewhere" / "links.ttl"


def test_an_unset_environment_variable_is_reported_at_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SPECENGINE_NOT_SET", raising=False)
    text = GOOD.replace("{rdf: out/links.ttl}", "{rdf: '${SPECENGINE_NOT_SET}/links.ttl'}")
    (problem,) = _problems(_write(tmp_path, text))
    assert problem.endswith(
        "outputs[0].rdf: environment variable SPECENGINE_NOT_SET is not set"
        " (write ${SPECENGINE_NOT_SET:-default} to give a default)"
    )
    assert f":{_at(text, chr(39) + '${SPECENGINE')}:" in problem


def test_a_doubled_dollar_keeps_a_literal_placeholder(tmp_path: Path) -> None:
    text = GOOD.replace("kind: alignment", "kind: alignment\ndescription: 'costs $${PRICE}'")
    assert load_spec(_write(tmp_path, text)).description == "costs ${PRICE}"


#: Seven levels of nine aliases each: 9**7 (4.8 million) values once expanded.
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + level)}: &{chr(98 + level)} [{', '.join([f'*{chr(97 + level)}'] * 9)}]\n"
    for level in range(6)
)


def test_aliases_are_refused_at_their_line_when_asked(tmp_path: Path) -> None:
    text = GOOD.replace("name: demo", "name: &n demo\ndescription: *n")
    path = _write(tmp_path, text)
    assert load_spec(path).description == "demo"  # the default reads aliases, as before
    with pytest.raises(SpecError) as info:
        load_spec(path, allow_aliases=False)
    (problem,) = [str(p) for p in info.value.problems]
    assert problem == (
        f"{path}:{_at(text, '*n')}: YAML aliases (*n) are not accepted here: write the value out"
    )


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    path = _write(tmp_path, "kind: alignment\n" + ALIAS_BOMB)
    started = time.perf_counter()
    with pytest.raises(SpecError) as info:
        read_document(path, allow_aliases=False)
    assert time.perf_counter() - started < 5  # a guard: an expansion would take minutes
    assert "YAML aliases (*a) are not accepted here" in str(info.value)
    assert info.value.problems[0].line == 3  # the first alias, on the b: line
    merge = _write(tmp_path, "base: &base {kind: alignment}\nspec:\n  <<: *base\n")
    with pytest.raises(SpecError, match="aliases"):
        read_document(merge, allow_aliases=False)


def test_environment_variables_are_not_read_when_expansion_is_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPECENGINE_SECRET", "hunter2-value")
    text = GOOD.replace("kind: alignment", "kind: ${SPECENGINE_SECRET}")
    path = _write(tmp_path, text)
    with pytest.raises(SpecError) as info:
        load_spec(path)  # the default expands, as before
    assert "hunter2-value" in str(info.value)
    with pytest.raises(SpecError) as info:
        load_spec(path, expand_env=False)
    assert "hunter2-value" not in str(info.value)
    (problem,) = [str(p) for p in info.value.problems]
    assert problem == (
        f"{path}:{_at(text, '${SPECENGINE')}: kind: environment variable SPECENGINE_SECRET"
        " is not expanded here: ${SPECENGINE_SECRET} is only expanded by the engine commands"
        " (engine validate, plan, run)"
    )
    # A default is not used either, and $${ stays an escape.
    text = GOOD.replace("{rdf: out/links.ttl}", "{rdf: '${SPECENGINE_OUT:-out}/links.ttl'}")
    with pytest.raises(SpecError, match="SPECENGINE_OUT is not expanded here"):
        load_spec(_write(tmp_path, text), expand_env=False)
    text = GOOD.replace("kind: alignment", "kind: alignment\ndescription: 'costs $${PRICE}'")
    assert load_spec(_write(tmp_path, text), expand_env=False).description == "costs ${PRICE}"


def _languages_spec(languages: str, extra: str = "") -> str:
    return GOOD.replace(
        "target: {csv: b.csv, id: uri}",
        "target:\n    rdf: b.ttl\n    query: 'SELECT ?s ?name WHERE { ?s ?p ?name }'\n"
        f"    id: s\n    languages: {languages}{extra}",
    )


def test_yaml_1_1_booleans_stay_strings(tmp_path: Path) -> None:
    # Norwegian is `no`: YAML 1.1 read it as false, and a list of languages refused it.
    (tmp_path / "b.ttl").write_text("")
    spec = load_spec(_write(tmp_path, _languages_spec("[no, fr, yes, on, off, No, OFF]")))
    assert spec.sources.target.languages == ["no", "fr", "yes", "on", "off", "No", "OFF"]
    assert read_document(_write(tmp_path, "kind: x\nno: on\ny: n\n")).data == {
        "kind": "x",
        "no": "on",
        "y": "n",
    }


@pytest.mark.parametrize(
    ("written", "expected"),
    [("true", True), ("True", True), ("TRUE", True), ("false", False), ("False", False)],
)
def test_true_and_false_stay_booleans(tmp_path: Path, written: str, expected: bool) -> None:
    text = GOOD.replace("{csv: a.csv, id: uri}", f"{{csv: a.csv, id: uri, header: {written}}}")
    assert load_spec(_write(tmp_path, text)).sources.align.header is expected
    assert read_document(_write(tmp_path, f"kind: x\nflag: {written}\n")).data["flag"] is expected


def test_boolean_fields_still_read_yes_and_no(tmp_path: Path) -> None:
    # The words are strings now; the boolean fields accept them as before.
    text = GOOD.replace("{csv: a.csv, id: uri}", "{csv: a.csv, id: uri, header: no}")
    assert load_spec(_write(tmp_path, text)).sources.align.header is False
    text = GOOD.replace("{csv: a.csv, id: uri}", "{csv: a.csv, id: uri, header: yes}")
    assert load_spec(_write(tmp_path, text)).sources.align.header is True


# --------------------------------------------------------------------------- hostile specs
# Issue 13: each of these ended in exit 70 (internal error), or in an error at 1:1 with
# a raw offset. Each is a spec error (exit 2) at its line, through the command line.


def _described(value: str) -> str:
    return GOOD.replace("name: demo\n", f"name: demo\ndescription: {value}\n")


def _deep(opening: str, closing: str) -> str:
    return _described(opening * (MAX_DEPTH + 10) + "x" + closing * (MAX_DEPTH + 10))


#: id -> (spec text, the text at the problem's place or its (line, column), what it says).
HOSTILE: dict[str, tuple[str | bytes, str | tuple[int, int], str]] = {
    "a date that is not one": (
        GOOD.replace("threshold: 1", "threshold: 2024-02-30"),
        "2024-02-30",
        "Input should be a valid number",
    ),
    "!!int tag on a word": (
        GOOD.replace("threshold: 1", "threshold: !!int abc"),
        "!!int",
        "cannot read 'abc' as a YAML int",
    ),
    "!!float tag on a word": (
        GOOD.replace("threshold: 1", "threshold: !!float abc"),
        "!!float",
        "cannot read 'abc' as a YAML float",
    ),
    "!!bool tag on a word": (
        GOOD.replace("name: demo", "name: !!bool maybe"),
        "!!bool",
        "cannot read 'maybe' as a YAML bool",
    ),
    "!!timestamp tag on a word": (
        GOOD.replace("name: demo", "name: !!timestamp soon"),
        "!!timestamp",
        "cannot read 'soon' as a YAML timestamp",
    ),
    "!!timestamp tag on a day that does not exist": (
        GOOD.replace("name: demo", "name: !!timestamp 2024-02-30"),
        "!!timestamp",
        "cannot read '2024-02-30' as a YAML timestamp",
    ),
    "an integer of 5,000 digits": (
        GOOD.replace("threshold: 1", "threshold: " + "9" * 5000),
        "9999",
        "an integer this large",
    ),
    "a hexadecimal integer of 4,000 digits": (
        GOOD.replace("threshold: 1", "threshold: 0x" + "f" * 4000),
        "0xfff",
        "an integer this large",
    ),
    "kind as a list": (
        GOOD.replace("kind: alignment", "kind: [alignment]"),
        "[alignment]",
        "'kind' must be one word, one of: alignment, image, volume-pool (got a list)",
    ),
    "kind as a mapping": (
        GOOD.replace("kind: alignment", "kind: {alignment: 1}"),
        "{alignment",
        "(got a mapping)",
    ),
    "deep flow nesting": (
        _deep("[", "]"),
        (3, 14 + MAX_DEPTH - 1),  # the document's mapping is the first level
        f"nested more than {MAX_DEPTH} levels deep",
    ),
    "deep nesting of mappings": (
        _deep("{a: ", "}"),
        (3, 14 + 4 * (MAX_DEPTH - 1)),
        f"nested more than {MAX_DEPTH} levels deep",
    ),
    "a recursive alias": (
        _described("&d [x, *d]"),
        "*d",
        "the alias *d stands for a value that holds it (a recursive alias)",
    ),
    "a file name over 255 bytes": (
        GOOD.replace("out/links.ttl", "out/" + "a" * 300 + ".ttl"),
        "out/aaa",
        "path too long: a file name holds at most 255 bytes",
    ),
    "a path over 4,096 bytes": (
        GOOD.replace("out/links.ttl", "out/" + "a/" * 2100 + "links.ttl"),
        "out/a/",
        "path too long",
    ),
    "~user of no such user": (
        GOOD.replace("out/links.ttl", "~specengine-no-such-user/links.ttl"),
        "~specengine",
        "cannot expand ~specengine-no-such-user: there is no user 'specengine-no-such-user'",
    ),
    "an escaped lone surrogate": (
        _described('"x\\ud800"'),
        (3, None),  # libyaml points inside the string, PyYAML's own parser at its start
        "",
    ),
    "an escaped control character": (
        _described('"a\\x01b"'),
        '"a\\x01b',
        "the control character U+0001 is not allowed in a spec (character 2 of the value)",
    ),
    "an escaped NUL in a path": (
        GOOD.replace("{rdf: out/links.ttl}", '{rdf: "out/a\\0.ttl"}'),
        '"out/a',
        "outputs[0].rdf: the control character U+0000 is not allowed in a spec",
    ),
    "a raw control character": (
        _described("a\x01b"),
        (3, 15),
        "the control character U+0001 is not allowed in a spec",
    ),
    "a raw C1 control character": (
        _described("a\x9bb"),
        (3, 15),
        "the control character U+009B is not allowed in a spec",
    ),
    "U+FFFE": (_described("a\ufffe"), (3, 15), "U+FFFE (not a character)"),
    "invalid UTF-8": (
        _described("caf\udce9 au lait").encode("utf-8", "surrogateescape"),
        (3, 17),
        "not UTF-8 text: byte 0xe9",
    ),
    "a number as a key": (GOOD + "1.5: x\n", "1.5: x", "a key here must be text, not 1.5"),
    "a line break in a key": (
        GOOD + '"thre\\nshold": 1\n',
        '"thre',
        "unknown key 'thre\\nshold'",  # one line: the break shown as an escape
    ),
    "a blocking key with a target column but no align column": (
        GOOD.replace("outputs:", "blocking: {key: {target: name}}\noutputs:"),
        "{target",
        "'target' names the target side's column: give 'align' too",
    ),
    "a spec over the size limit": (
        _described("x" * MAX_BYTES),
        (3, MAX_BYTES - len("kind: alignment\nname: demo\n") + 1),  # the limit's byte
        "the file is larger than 1024 KiB",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
@pytest.mark.parametrize("command", ["validate", "plan"])
def test_hostile_specs_are_spec_errors_at_their_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, command: str
) -> None:
    text, where, message = HOSTILE[case]
    path = _write(tmp_path, "")
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    started = time.perf_counter()
    code = main([command, str(path)])
    assert time.perf_counter() - started < 10  # a guard: an expansion would take minutes
    err = capsys.readouterr().err
    assert code == 2, err
    assert "internal error" not in err and "Traceback" not in err
    if isinstance(where, str):
        assert isinstance(text, str)
        line, column = (int(part) for part in _at(text, where).split(":"))
    else:
        line, column = where  # type: ignore[assignment]
    at = f"{line}:{column}" if column is not None else f"{line}:[0-9]+"
    assert re.search(f"(?m)^  {re.escape(str(path))}:{at}: ", err), err
    assert message in err
    for shown in err.splitlines()[1:]:  # every problem on one line, at its place
        assert shown.startswith(f"  {path}:"), err


def test_a_date_is_text_where_text_is_expected(tmp_path: Path) -> None:
    # YAML 1.1 read 2024-02-30 as a date (and failed: no such day); YAML 1.2 has none.
    for day in ("2024-02-30", "2024-02-03"):
        assert load_spec(_write(tmp_path, _described(day))).description == day


def test_an_alias_bomb_is_refused_at_its_alias_when_aliases_are_read(tmp_path: Path) -> None:
    text = GOOD + ALIAS_BOMB
    path = _write(tmp_path, text)
    started = time.perf_counter()
    with pytest.raises(SpecError) as info:
        read_document(path)
    assert time.perf_counter() - started < 5  # a guard: an expansion would take minutes
    (problem,) = info.value.problems
    # Levels a..f hold 10, 91, 820, 7,381, 66,430 values: f's first alias passes 100,000.
    assert (problem.line, problem.column) == (16, 8)
    assert problem.message.startswith("the alias *e expands to 66,430 values, and the spec holds")
    # Aliases a spec may use, merge keys included, still read.
    text = GOOD.replace("kind: alignment", "kind: alignment\nx-common: &c {missing: 0.5}")
    doc = read_document(_write(tmp_path, text + "x-more: {<<: *c, weight: 2}\n"))
    assert doc.data["x-more"] == {"missing": 0.5, "weight": 2}


def test_nested_union_blocking_validates_in_linear_time(tmp_path: Path) -> None:
    # 16 groups deep (34 levels of YAML): a second and a half before, then a minute at 14.
    rule = "{key: {attribute: name}}"
    bad = "{key: {attribute: name, max_pairs: -1}}"
    for _ in range(16):
        rule, bad = f"{{union: [{rule}]}}", f"{{union: [{bad}]}}"
    text = GOOD.replace("outputs:", f"blocking: {rule}\noutputs:")
    started = time.perf_counter()
    spec = load_spec(_write(tmp_path, text))
    assert time.perf_counter() - started < 5  # a guard: an expansion would take minutes
    assert spec.blocking.name == "union"
    text = GOOD.replace("outputs:", f"blocking: {bad}\noutputs:")
    started = time.perf_counter()
    (problem,) = _problems(_write(tmp_path, text))
    assert time.perf_counter() - started < 5  # a guard: an expansion would take minutes
    assert f":{_at(text, '-1}')}: blocking" + ".union[0]" * 16 + ".key.max_pairs:" in problem


def test_a_control_character_in_an_iri_column_is_a_data_error_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # It was exit 70, from the RDF writer, after the whole run was computed.
    path = _write(tmp_path, GOOD)
    (tmp_path / "a.csv").write_text("uri,name\nhttp://a/1,x\nhttp://a/\x012,y\n")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "links.ttl").write_text("previous\n")
    for command in ("plan", "run"):
        assert main([command, str(path)]) == 1
        err = capsys.readouterr().err
        assert (
            "a.csv:3: id 'http://a/\\x012' (column uri) holds the control character U+0001" in err
        )
    assert (tmp_path / "out" / "links.ttl").read_text() == "previous\n"


@pytest.mark.parametrize(
    ("blocking", "expected"),
    [
        # 'order' is a key of other places (the executor's 'workers' is close to it in
        # spelling): under kmeans it is simply unknown, with no hint from elsewhere.
        (
            "{kmeans: {attribute: name, clusters: 2, order: latlon}}",
            "blocking.kmeans.order: unknown key 'order'",
        ),
        # A misspelt key deep in groups: the hint is a key of that very rule.
        (
            "{union: [{key: {attribute: name}}, {pipeline: [{kmeans: {attribute: name,"
            " clusters: 2, nearst: 1}}]}]}",
            "unknown key 'nearst'; did you mean 'nearest'?",
        ),
        ("{key: {attribute: name, windw: 3}}", "unknown key 'windw'"),
        ("{sorted_neighbourhood: {attribute: name, windw: 3}}", "did you mean 'window'?"),
    ],
)
def test_did_you_mean_offers_the_keys_valid_at_that_place(
    tmp_path: Path, blocking: str, expected: str
) -> None:
    text = GOOD.replace("threshold: 1", f"threshold: 1\nblocking: {blocking}")
    problems = _problems(_write(tmp_path, text))
    assert [p for p in problems if p.endswith(expected)], problems
    assert not [p for p in problems if "did you mean" in p and not p.endswith(expected)]
