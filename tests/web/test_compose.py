"""Compose an alignment spec through the forms (HTTP): previews, bad input, the saved YAML."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from starlette.testclient import TestClient

from engine.alignment.metrics import METRICS as REGISTRY
from engine.loader import load_spec
from engine.web.app import create_app
from engine.web.compose import PreviewError, parse_yaml_value
from schemas.alignment import METRICS, NORMALISERS
from tests.httpserver import fixed, serve
from tests.web.people import ALIGN, TARGET, csv_bytes

REPO = Path(__file__).resolve().parents[2]
EXPECTED_YAML = """\
kind: alignment
name: composed
sources:
  align:
    csv: data/align.csv
    id: {template: 'http://example.org/align/person/{row}'}
  target:
    csv: data/target.csv
    id: {template: 'http://example.org/target/person/{row}'}
attributes:
  - {name: name, metric: levenshtein}
  - {name: birthdate, metric: {temporal: {unit: days, dayfirst: true}}}
  - {name: city, metric: levenshtein}
blocking: none
threshold: 2
matching: best
outputs:
  - {rdf: out/composed.ttl}
  - {rdf: out/composed.nt}
  - {csv: out/composed.csv}
"""


def _new(client: TestClient, name: str = "composed") -> str:
    answer = client.post("/compose", data={"name": name}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"]).split("/")[2]


def _upload(  # type: ignore[no-untyped-def]
    client: TestClient, draft: str, role: str, data: bytes, name: str, template: str, **fields: str
):
    return client.post(
        f"/compose/{draft}/source/{role}",
        data={"kind": "upload", "id": template, **fields},
        files={"file": (name, data, "text/csv")},
    )


# The fields of the attributes page: the metric's option widgets, no YAML typed.
ATTRIBUTES: list[dict[str, str | list[str]]] = [
    {"name": "name", "metric": "levenshtein"},
    {"name": "birthdate", "metric": "temporal", "metric.temporal.unit": "days",
     "metric.temporal.dayfirst": ["false", "true"]},  # the hidden default, then the ticked box
    {"name": "city", "metric": "levenshtein"},
]  # fmt: skip


def test_compose_the_people_example_and_save_yaml_that_validates(
    client: TestClient, folder: Path
) -> None:
    draft = _new(client)
    page = _upload(client, draft, "align", csv_bytes("align"), "align.csv", ALIGN)
    assert page.status_code == 200 and "align source read: 3 records" in page.text
    assert 'Columns: <span class="columns">row, name, birthdate, city</span>' in page.text
    assert "Paul Dupont" in page.text and "http://example.org/align/person/0" in page.text
    page = _upload(client, draft, "target", csv_bytes("target"), "target.csv", TARGET)
    assert "target source read: 4 records" in page.text and 'id="next"' in page.text

    fragment = client.post(f"/compose/{draft}/attributes/preview", data=ATTRIBUTES[1]).text
    assert "14-08-1991" in fragment and "<td>0.0</td>" in fragment  # same day, dayfirst
    for attribute in ATTRIBUTES:
        answer = client.post(f"/compose/{draft}/attributes/add", data=attribute)
        assert answer.status_code == 200 and "attribute not added" not in answer.text
    answer = client.post(
        f"/compose/{draft}/settings",
        data={"blocking": "none", "threshold": "2", "matching": "best"},
    )
    assert answer.url.path.endswith("/outputs")
    answer = client.post(
        f"/compose/{draft}/outputs", data={"base": "out/composed", "formats": ["ttl", "nt", "csv"]}
    )
    assert answer.url.path.endswith("/review") and 'id="valid"' in answer.text
    saved = client.post(f"/compose/{draft}/save")
    assert saved.url.path == "/spec/composed.yaml" and "Saved." in saved.text

    text = (folder / "composed.yaml").read_text(encoding="utf-8")
    assert text == EXPECTED_YAML
    assert load_spec(folder / "composed.yaml").name == "composed"
    validate = subprocess.run(
        [sys.executable, "-m", "engine.cli", "validate", "composed.yaml"],
        cwd=folder, capture_output=True, text=True, env={"PYTHONPATH": str(REPO)}, check=False,
    )  # fmt: skip
    assert validate.returncode == 0, validate.stderr
    assert (folder / "data" / "align.csv").read_bytes() == csv_bytes("align")


def test_attribute_preview_reports_a_bad_metric_option(client: TestClient) -> None:
    draft = _new(client)
    _upload(client, draft, "align", csv_bytes("align"), "align.csv", ALIGN)
    _upload(client, draft, "target", csv_bytes("target"), "target.csv", TARGET)
    fragment = client.post(
        f"/compose/{draft}/attributes/preview",
        data={"name": "birthdate", "metric": "temporal", "options": "{unit: weeks}"},
    ).text
    assert 'class="error"' in fragment and "unit" in fragment
    answer = client.post(
        f"/compose/{draft}/attributes/add", data={"name": "nope", "metric": "exact"}
    )
    assert answer.status_code == 422 and "no column &#39;nope&#39;" in answer.text


def test_a_too_big_upload_is_refused_and_nothing_written(folder: Path) -> None:
    with TestClient(create_app(folder, max_upload=1024)) as client:
        draft = _new(client)
        big = b"row,name\n" + b"1,abcdefgh\n" * 20_000
        answer = _upload(client, draft, "align", big, "big.csv", ALIGN)
        assert answer.status_code == 413
        assert "too big" in answer.text and "the limit is 1 KiB" in answer.text
        assert "Nothing was written" in answer.text
    assert not (folder / "data").exists()


def test_a_malformed_upload_is_refused_and_nothing_written(
    client: TestClient, folder: Path
) -> None:
    draft = _new(client)
    ragged = b"row,name,city\n0,Paul,Paris\n1,Jacques\n"
    answer = _upload(client, draft, "align", ragged, "ragged.csv", ALIGN)
    assert answer.status_code == 422 and "expected 3 fields, found 2" in answer.text
    answer = _upload(client, draft, "align", b"row,name\n0,\xff\xfe\n", "latin.csv", ALIGN)
    assert answer.status_code == 422
    assert "latin.csv: cannot decode byte 0xff" in answer.text and ".upload" not in answer.text
    answer = _upload(client, draft, "align", b"x", "evil.sh", ALIGN)
    assert answer.status_code == 422 and "upload a .csv or .tsv file" in answer.text
    answer = _upload(client, draft, "align", b"", "empty.csv", ALIGN)
    assert answer.status_code == 422
    assert sorted(p.name for p in (folder / "data").iterdir()) == []  # no file, no temporary
    assert client.app.state.web.drafts.get(draft).sources == {}  # type: ignore[attr-defined]
    # A name with folders keeps only its last part: the file lands in data/, nowhere else.
    answer = _upload(client, draft, "align", csv_bytes("align"), "../../evil.csv", ALIGN)
    assert answer.status_code == 200
    assert [p.name for p in (folder / "data").iterdir()] == ["evil.csv"]
    assert not (folder.parent / "evil.csv").exists()


def test_a_failing_sparql_endpoint_is_reported_in_the_page(client: TestClient) -> None:
    draft = _new(client)
    with serve(
        fixed(
            500, "Virtuoso 37000 Error SP030: SPARQL compiler, line 1: syntax error", "text/plain"
        )
    ) as server:
        answer = client.post(
            f"/compose/{draft}/source/align",
            data={"kind": "sparql", "endpoint": f"{server.url}/sparql", "id": "s",
                  "query": "SELECT ?s ?name WHERE { ?s <http://xmlns.com/foaf/0.1/name> ?name }"},
        )  # fmt: skip
    assert answer.status_code == 422
    assert "align source:" in answer.text and "500" in answer.text
    assert client.app.state.web.drafts.get(draft).sources == {}  # type: ignore[attr-defined]


def test_a_sparql_source_previews_its_columns(client: TestClient) -> None:
    answer_json = {
        "head": {"vars": ["s", "name"]},
        "results": {"bindings": [
            {"s": {"type": "uri", "value": "http://e.org/1"}, "name": {"type": "literal", "value": "Paul"}},
        ]},
    }  # fmt: skip
    draft = _new(client)
    with serve(fixed(200, json.dumps(answer_json), "application/sparql-results+json")) as server:
        answer = client.post(
            f"/compose/{draft}/source/align",
            data={"kind": "sparql", "endpoint": f"{server.url}/sparql", "id": "s",
                  "query": "SELECT ?s ?name WHERE { ?s <http://xmlns.com/foaf/0.1/name> ?name }"},
        )  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert '<span class="columns">s, name</span>' in answer.text and "Paul" in answer.text


def test_saving_refuses_a_spec_created_or_changed_on_disk_meanwhile(
    client: TestClient, folder: Path
) -> None:
    draft = _new(client)
    _upload(client, draft, "align", csv_bytes("align"), "align.csv", ALIGN)
    _upload(client, draft, "target", csv_bytes("target"), "target.csv", TARGET)
    client.post(f"/compose/{draft}/attributes/add", data=ATTRIBUTES[0])
    client.post(f"/compose/{draft}/settings", data={"blocking": "none", "threshold": "1"})
    (folder / "composed.yaml").write_text("# someone else's\n", encoding="utf-8")
    answer = client.post(f"/compose/{draft}/save")
    assert answer.status_code == 409 and "already exists; nothing was overwritten" in answer.text
    assert (folder / "composed.yaml").read_text(encoding="utf-8") == "# someone else's\n"
    (folder / "composed.yaml").unlink()
    assert client.post(f"/compose/{draft}/save").url.path == "/spec/composed.yaml"
    client.post(f"/compose/{draft}/settings", data={"blocking": "none", "threshold": "1.5"})
    assert client.post(f"/compose/{draft}/save").url.path == "/spec/composed.yaml"  # its own file
    assert yaml.safe_load((folder / "composed.yaml").read_text("utf-8"))["threshold"] == 1.5
    (folder / "composed.yaml").write_text(
        (folder / "composed.yaml").read_text("utf-8") + "# edit\n", "utf-8"
    )
    answer = client.post(f"/compose/{draft}/save")
    assert answer.status_code == 409 and "changed on disk" in answer.text
    assert (folder / "composed.yaml").read_text("utf-8").endswith("# edit\n")


def _ready(client: TestClient) -> str:
    """A draft with both sources and one attribute."""
    draft = _new(client)
    _upload(client, draft, "align", csv_bytes("align"), "align.csv", ALIGN)
    _upload(client, draft, "target", csv_bytes("target"), "target.csv", TARGET)
    client.post(f"/compose/{draft}/attributes/add", data=ATTRIBUTES[0])
    return draft


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        # A plain 2001-01-01 is text (YAML 1.2, as specs are read); a tag still makes a date.
        (
            {"blocking_yaml": "!!timestamp 2001-01-01"},
            "blocking: datetime.date(2001, 1, 1) is a date",
        ),
        ({"blocking_yaml": "{key: {attribute: .nan}}"}, "blocking: nan is not a finite number"),
        ({"blocking_yaml": "{1.5: x}"}, "the key 1.5 is not text"),
        ({"threshold": "nan"}, "threshold: &#39;nan&#39; is not a finite number"),
        ({"threshold": "-inf"}, "threshold: &#39;-inf&#39; is not a finite number"),
        ({"threshold": "abc"}, "threshold: &#39;abc&#39; is not a number"),
    ],
)
def test_settings_a_draft_cannot_keep_are_refused(
    client: TestClient, fields: dict[str, str], message: str
) -> None:
    draft = _ready(client)
    data = {"blocking": "none", "threshold": "1", "matching": "best", **fields}
    answer = client.post(f"/compose/{draft}/settings", data=data)
    assert answer.status_code == 422 and message in answer.text
    review = client.get(f"/compose/{draft}/review")  # the draft is still usable
    assert review.status_code == 200
    client.post(f"/compose/{draft}/settings", data={"blocking": "none", "threshold": "1"})
    assert client.post(f"/compose/{draft}/save").url.path == "/spec/composed.yaml"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"weight": "nan"}, "weight: &#39;nan&#39; is not a finite number"),
        ({"missing": "inf"}, "missing: &#39;inf&#39; is not a finite number"),
        ({"options": "{unit: .inf}"}, "metric options: inf is not a finite number"),
    ],
)
def test_attribute_values_a_draft_cannot_keep_are_refused(
    client: TestClient, fields: dict[str, str], message: str
) -> None:
    draft = _ready(client)
    answer = client.post(f"/compose/{draft}/attributes/add", data={**ATTRIBUTES[2], **fields})
    assert answer.status_code == 422 and message in answer.text
    assert client.get(f"/compose/{draft}/review").status_code == 200


@pytest.mark.parametrize(
    "content",
    [
        '{"id": "0123',
        '{"id": "0123456789ab", "name": "x", "threshold": NaN}',
        '{"id": "0123456789ab", "name": "x", "sources": []}',
    ],
)
def test_a_draft_damaged_on_disk_is_reported(
    client: TestClient, folder: Path, content: str
) -> None:
    drafts = folder / ".specengine" / "drafts"
    drafts.mkdir(parents=True)
    (drafts / "0123456789ab.json").write_text(content, encoding="utf-8")
    for answer in (
        client.get("/compose/0123456789ab/review"),
        client.post("/compose/0123456789ab/save"),
    ):
        assert answer.status_code == 409
        assert ".specengine/drafts/0123456789ab.json is damaged" in answer.text


def test_two_uploads_of_one_name_at_once_keep_both_files(
    client: TestClient, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.web import routes_compose

    draft = _new(client)
    preview = routes_compose.source_preview

    def meanwhile(source: dict[str, object], role: str, base_dir: Path) -> dict[str, object]:
        # Another upload of align.csv finishes while this one is previewed.
        (folder / "data" / "align.csv").write_text("the other upload\n", encoding="utf-8")
        return preview(source, role, base_dir)

    monkeypatch.setattr(routes_compose, "source_preview", meanwhile)
    answer = _upload(client, draft, "align", csv_bytes("align"), "align.csv", ALIGN)
    assert answer.status_code == 200
    assert (folder / "data" / "align.csv").read_text("utf-8") == "the other upload\n"
    assert (folder / "data" / "align-2.csv").read_bytes() == csv_bytes("align")
    state = client.app.state.web  # type: ignore[attr-defined]
    assert state.drafts.get(draft).sources["align"]["csv"] == "data/align-2.csv"
    assert sorted(p.name for p in (folder / "data").iterdir()) == ["align-2.csv", "align.csv"]


def test_drafts_untouched_for_a_month_are_deleted(client: TestClient, folder: Path) -> None:
    old, recent = _new(client, "old"), _new(client, "recent")
    drafts = folder / ".specengine" / "drafts"
    month = time.time() - 31 * 86400
    os.utime(drafts / f"{old}.json", (month, month))
    _new(client, "newer")
    assert not (drafts / f"{old}.json").exists()
    assert (drafts / f"{recent}.json").exists()
    assert client.get(f"/compose/{old}/sources").status_code == 404


def test_names_too_long_for_a_file_are_refused(client: TestClient) -> None:
    draft = _new(client)
    answer = _upload(client, draft, "align", csv_bytes("align"), "a" * 250 + ".csv", ALIGN)
    assert answer.status_code == 422 and "at most 100 characters" in answer.text
    answer = client.post(f"/compose/{draft}/outputs", data={"base": "out/" + "b" * 300})
    assert answer.status_code == 422 and "longer than 255 bytes" in answer.text
    answer = client.post(
        f"/compose/{draft}/source/align", data={"kind": "file", "path": "c" * 300, "id": "x"}
    )
    assert answer.status_code == 422 and "longer than 255 bytes" in answer.text
    answer = client.post("/compose", data={"name": "n" * 101})
    assert answer.status_code == 422 and "at most 100 characters" in answer.text


# --------------------------------------------------------------------------- option widgets


def _preview(client: TestClient, draft: str, data: dict[str, str | list[str]]) -> str:
    return client.post(f"/compose/{draft}/attributes/preview", data=data).text


def test_the_attributes_page_offers_every_normaliser_and_the_default_metric_fields(
    client: TestClient,
) -> None:
    draft = _ready(client)
    page = client.get(f"/compose/{draft}/attributes").text
    templates = {
        name: page.split(f'<template id="normaliser-template-{name}">')[1].split("</template>")[0]
        for name in NORMALISERS
    }
    for name, template in templates.items():
        assert f'<input type="hidden" name="normaliser" value="{name}">' in template
    assert 'name="normaliser.__i__.length"' in templates["prefix"] and 'min="1"' in page
    # An optional Literal: a select.
    assert '<select name="normaliser.__i__.stopwords"' in templates["simplify"]
    assert (
        'name="metric.levenshtein.tokens" value="true" id="metric-levenshtein-tokens" checked'
        in page
    )
    assert '<details class="advanced"><summary>advanced (YAML)</summary>' in page
    assert 'id="attr-options"' in page and 'id="attr-normalise"' in page


@pytest.mark.parametrize("metric", sorted(METRICS))
def test_every_metric_renders_its_option_fields(client: TestClient, metric: str) -> None:
    assert metric in REGISTRY.names()
    draft = _ready(client)
    answer = client.get(f"/compose/{draft}/attributes/fields", params={"metric": metric})
    assert answer.status_code == 200 and 'class="error"' not in answer.text
    assert f'id="metric-doc">{metric}: ' in answer.text
    # The keys a spec writes: a field's alias where the model keeps another name.
    fields = [
        info.validation_alias if isinstance(info.validation_alias, str) else name
        for name, info in METRICS[metric].model_fields.items()
    ]
    for field in fields:
        assert f'name="metric.{metric}.{field}"' in answer.text
    if not fields:
        assert "takes no options" in answer.text
    # Every field left at its default: the bare name, as before.
    defaults = {f"metric.{metric}.{f}": "" for f in fields}
    answer = client.post(
        f"/compose/{draft}/attributes/add", data={"name": "x", "metric": metric, **defaults}
    )
    assert "›" not in answer.text  # no option is reported (the column may be)


def test_the_fields_of_an_unknown_metric_are_an_error(client: TestClient) -> None:
    draft = _ready(client)
    answer = client.get(f"/compose/{draft}/attributes/fields", params={"metric": "nope"})
    assert answer.status_code == 404 and "metric: unknown &#39;nope&#39;" in answer.text
    assert client.get("/compose/0123456789ab/attributes/fields").status_code == 404


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"metric.temporal.unit": "weeks"}, "birthdate › unit: must be one of days, months, years"),
        ({"metric.temporal.scale": "0"}, "birthdate › scale: must be greater than 0"),
        ({"metric.temporal.scale": "abc"}, "birthdate › scale: &#39;abc&#39; is not a number"),
        ({"options": "{unit: weeks}"}, "birthdate › unit: must be one of days, months, years"),
        ({"options": "{unit: km}"}, "birthdate › unit: must be one of days, months, years"),
        ({"options": "{coordinates: latlon}"},
         "birthdate › coordinates: not an option (the options are: "),
        ({"normaliser": "prefix"}, "birthdate › normalise 1: prefix › length: required"),
        ({"normaliser": "prefix", "normaliser.0.length": "1.5"},
         "birthdate › normalise 1: prefix › length: &#39;1.5&#39; is not a whole number"),
        ({"normaliser": ["lowercase", "prefix"], "normaliser.1.length": "0"},
         "birthdate › normalise 2: prefix › length: must be greater than or equal to 1"),
        ({"normaliser": "tokenize", "normaliser.0.pattern": "("},
         "birthdate › normalise 1: tokenize › pattern: "),
        ({"normaliser": "nope"}, "birthdate › normalise: unknown normaliser &#39;nope&#39;"),
    ],
)  # fmt: skip
def test_a_bad_option_is_reported_by_its_field(
    client: TestClient, fields: dict[str, str], message: str
) -> None:
    draft = _ready(client)
    data = {"name": "birthdate", "metric": "temporal", **fields}
    assert message in _preview(client, draft, data)
    answer = client.post(f"/compose/{draft}/attributes/add", data=data)
    assert answer.status_code == 422 and f"attribute not added: {message}" in answer.text


def test_the_widgets_write_the_yaml_people_write(client: TestClient) -> None:
    draft = _ready(client)
    cases: list[tuple[dict[str, str | list[str]], dict[str, object]]] = [
        # A box ticked at its default, a select left at default: nothing written.
        ({"metric": "levenshtein", "metric.levenshtein.tokens": ["false", "true"],
          "metric.levenshtein.normalised": "false"}, {"metric": "levenshtein"}),
        ({"metric": "levenshtein", "metric.levenshtein.tokens": "false"},
         {"metric": {"levenshtein": {"tokens": False}}}),
        ({"metric": "jaro_winkler", "metric.jaro_winkler.prefix_weight": "0.2"},
         {"metric": {"jaro_winkler": {"prefix_weight": 0.2}}}),
        # Fields of another metric (left over in the form) are not this metric's.
        ({"metric": "exact", "metric.temporal.unit": "years"}, {"metric": "exact"}),
        # The advanced box over the fields.
        ({"metric": "temporal", "metric.temporal.unit": "months", "options": "{scale: 12}"},
         {"metric": {"temporal": {"unit": "months", "scale": 12}}}),
        # The chain in the order chosen, then the advanced box's list.
        ({"metric": "exact", "normaliser": ["prefix", "lowercase", "remove_after", "unaccent"],
          "normaliser.0.length": "3", "normaliser.2.sub": "(",
          "normaliser.4.dayfirst": ["false", "true"],  # no 5th normaliser: ignored
          "normalise": "[sort_tokens]"},
         {"metric": "exact",
          "normalise": [{"prefix": 3}, "lowercase", {"remove_after": "("}, "unaccent", "sort_tokens"]}),
        ({"metric": "exact", "normaliser": "date", "normaliser.0.dayfirst": ["false", "true"]},
         {"metric": "exact", "normalise": [{"date": {"dayfirst": True}}]}),
    ]  # fmt: skip
    for fields, expected in cases:
        answer = client.post(
            f"/compose/{draft}/attributes/add", data={"name": "birthdate", **fields}
        )
        assert answer.status_code == 200 and "attribute not added" not in answer.text, fields
        attributes = client.app.state.web.drafts.get(draft).attributes  # type: ignore[attr-defined]
        assert attributes[-1] == {"name": "birthdate", **expected}


def test_the_advanced_yaml_box_gives_the_same_spec_as_the_widgets(client: TestClient) -> None:
    draft = _ready(client)
    typed = {"name": "birthdate", "metric": "temporal", "options": "{unit: days, dayfirst: true}"}
    assert _preview(client, draft, typed) == _preview(client, draft, ATTRIBUTES[1])
    drafts = client.app.state.web.drafts  # type: ignore[attr-defined]
    client.post(f"/compose/{draft}/attributes/add", data=typed)
    by_yaml = drafts.get(draft).attributes[-1]
    client.post(f"/compose/{draft}/attributes/add", data=ATTRIBUTES[1])
    assert drafts.get(draft).attributes[-1] == by_yaml
    assert by_yaml["metric"] == {"temporal": {"unit": "days", "dayfirst": True}}


# --------------------------------------------------------------------------- normaliser order


def _attributes(client: TestClient, draft: str) -> list[dict[str, object]]:
    return client.app.state.web.drafts.get(draft).attributes  # type: ignore[attr-defined,no-any-return]


def test_normalisers_are_kept_in_the_order_chosen(client: TestClient) -> None:
    """A chain of regular expressions means something else in another order."""
    draft = _ready(client)
    # Options are named by position in the chain: the same normaliser may come twice.
    chain: dict[str, str | list[str]] = {
        "name": "name", "metric": "exact",
        "normaliser": ["regex_replace", "lowercase", "regex_replace"],
        "normaliser.0.pattern": "P", "normaliser.0.replacement": "Q",
        "normaliser.2.pattern": "q", "normaliser.2.replacement": "k",
    }  # fmt: skip
    assert "Paul Dupont → kaul dupont" in _preview(client, draft, chain)
    answer = client.post(f"/compose/{draft}/attributes/add", data=chain)
    assert answer.status_code == 200 and "attribute not added" not in answer.text
    assert _attributes(client, draft)[-1]["normalise"] == [
        {"regex_replace": {"pattern": "P", "replacement": "Q"}},
        "lowercase",
        {"regex_replace": {"pattern": "q", "replacement": "k"}},
    ]
    # The same steps reordered: lowercase first, then neither pattern matches.
    reordered: dict[str, str | list[str]] = {
        "name": "name", "metric": "exact",
        "normaliser": ["lowercase", "regex_replace", "regex_replace"],
        "normaliser.1.pattern": "P", "normaliser.1.replacement": "Q",
        "normaliser.2.pattern": "q", "normaliser.2.replacement": "k",
    }  # fmt: skip
    assert "Paul Dupont → paul dupont" in _preview(client, draft, reordered)
    client.post(f"/compose/{draft}/attributes/add", data=reordered)
    assert _attributes(client, draft)[-1]["normalise"] == [
        "lowercase",
        {"regex_replace": {"pattern": "P", "replacement": "Q"}},
        {"regex_replace": {"pattern": "q", "replacement": "k"}},
    ]
    client.post(f"/compose/{draft}/settings", data={"blocking": "none", "threshold": "1"})
    review = client.get(f"/compose/{draft}/review").text
    assert 'id="valid"' in review
    assert (
        "normalise: [lowercase, {regex_replace: {pattern: P, replacement: Q}},"
        " {regex_replace: {pattern: q, replacement: k}}]"
    ) in review


def test_a_bad_option_names_its_place_in_the_chain(client: TestClient) -> None:
    draft = _ready(client)
    data = {"name": "name", "metric": "exact", "normaliser": ["lowercase", "regex_replace"],
            "normaliser.1.pattern": "("}  # fmt: skip
    assert "name › normalise 2: regex_replace › pattern: " in _preview(client, draft, data)


def test_the_attributes_page_adds_normalisers_in_sequence(client: TestClient) -> None:
    draft = _ready(client)
    page = client.get(f"/compose/{draft}/attributes").text
    assert '<ol id="chosen-normalisers"' in page and 'id="normaliser-add"' in page
    for name in NORMALISERS:  # one choice and one template (its option fields) each
        assert f'<option value="{name}">{name}</option>' in page
        assert f'<template id="normaliser-template-{name}">' in page
    assert 'name="normaliser.__i__.pattern"' in page  # numbered by the page's script


# --------------------------------------------------------------------------- encodings

#: Text that no single-byte encoding but the right one reads back.
ACCENTED = "row,name,city\n0,Hélène Dupré,Besançon\n1,Zoë Œuvray,Orléans\n"


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-16", "utf-8-sig"])
def test_an_upload_is_read_in_the_encoding_chosen(
    client: TestClient, folder: Path, encoding: str
) -> None:
    text = ACCENTED if encoding != "latin-1" else ACCENTED.replace("Œ", "O")
    data = text.encode(encoding)
    draft = _new(client)
    answer = _upload(client, draft, "align", data, "accents.csv", ALIGN, encoding=encoding)
    assert answer.status_code == 200, answer.text
    assert "Hélène Dupré" in answer.text and "Besançon" in answer.text
    source = client.app.state.web.drafts.get(draft).sources["align"]  # type: ignore[attr-defined]
    assert source == {"csv": "data/accents.csv", "encoding": encoding, "id": {"template": ALIGN}}
    assert (folder / "data" / "accents.csv").read_bytes() == data  # stored as uploaded


def test_utf8_is_the_default_and_not_written(client: TestClient) -> None:
    draft = _new(client)
    for encoding in ("", "utf-8", "UTF8"):
        _upload(client, draft, "align", ACCENTED.encode(), "a.csv", ALIGN, encoding=encoding)
        source = client.app.state.web.drafts.get(draft).sources["align"]  # type: ignore[attr-defined]
        assert "encoding" not in source and "Hélène" in str(
            client.app.state.web.drafts.get(draft).previews["align"]  # type: ignore[attr-defined]
        )


def test_the_upload_form_offers_encodings(client: TestClient) -> None:
    page = client.get(f"/compose/{_new(client)}/sources").text
    assert 'name="encoding" list="encodings"' in page and 'placeholder="utf-8"' in page
    for encoding in ("utf-8", "latin-1", "cp1252", "utf-16"):
        assert f'<option value="{encoding}">' in page


def test_an_unknown_encoding_is_refused_and_nothing_written(
    client: TestClient, folder: Path
) -> None:
    draft = _new(client)
    answer = _upload(client, draft, "align", b"row\n0\n", "a.csv", ALIGN, encoding="klingon")
    assert answer.status_code == 422
    assert "align source: encoding: unknown encoding &#39;klingon&#39;" in answer.text
    assert not (folder / "data").exists() or not list((folder / "data").iterdir())
    # Without the encoding, a Latin-1 file says where to choose it.
    answer = _upload(client, draft, "align", ACCENTED.encode("cp1252"), "a.csv", ALIGN)
    assert answer.status_code == 422 and "choose its encoding in the form" in answer.text


def test_a_composed_latin1_source_validates_and_runs(client: TestClient, folder: Path) -> None:
    draft = _new(client)
    _upload(client, draft, "align", ACCENTED.replace("Œ", "O").encode("latin-1"), "a.csv", ALIGN,
            encoding="latin-1")  # fmt: skip
    (folder / "data" / "t.csv").write_text(ACCENTED, encoding="utf-8")
    answer = client.post(
        f"/compose/{draft}/source/target", data={"kind": "file", "path": "data/t.csv", "id": TARGET}
    )
    assert answer.status_code == 200, answer.text
    client.post(f"/compose/{draft}/attributes/add", data={"name": "city", "metric": "exact"})
    client.post(f"/compose/{draft}/settings", data={"blocking": "none", "threshold": "0"})
    client.post(f"/compose/{draft}/outputs", data={"base": "out/composed", "formats": ["csv"]})
    assert client.post(f"/compose/{draft}/save").url.path == "/spec/composed.yaml"
    text = (folder / "composed.yaml").read_text("utf-8")
    assert "    csv: data/a.csv\n    encoding: latin-1\n" in text
    links = _run(folder, "composed.yaml")
    assert links == {(ALIGN.format(row=i), TARGET.format(row=i)) for i in (0, 1)}


def _run(folder: Path, spec: str) -> set[tuple[str, str]]:
    """Run a spec with the engine's command line; the links of its CSV output."""
    run = subprocess.run(
        [sys.executable, "-m", "engine.cli", "run", spec],
        cwd=folder, capture_output=True, text=True, env={"PYTHONPATH": str(REPO)}, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    rows = (folder / "out" / "composed.csv").read_text("utf-8").splitlines()[1:]
    return {(row.split(",")[0], row.split(",")[1]) for row in rows}


# --------------------------------------------------------------------------- point blocking

PLACES = {
    "align": "row,name,lat,lon\n0,Paris,48.8566,2.3522\n1,Lyon,45.7640,4.8357\n"
    "2,Marseille,43.2965,5.3698\n",
    "target": "row,name,latitude,longitude\n0,Marseille,43.30,5.37\n1,Paris,48.86,2.35\n"
    "2,Lyon,45.76,4.84\n",
}
PLACE_LINKS = {(ALIGN.format(row=a), TARGET.format(row=t)) for a, t in ((0, 1), (1, 2), (2, 0))}


def _places(client: TestClient) -> str:
    draft = _new(client)
    for role, template in (("align", ALIGN), ("target", TARGET)):
        data = PLACES[role].encode()
        assert _upload(client, draft, role, data, f"{role}.csv", template).status_code == 200
    client.post(f"/compose/{draft}/attributes/add", data={"name": "name", "metric": "exact"})
    return draft


@pytest.mark.parametrize(
    ("rule", "fields", "expected"),
    [
        ("radius", {"blocking.radius.radius": "20 km"},
         {"radius": {"align": ["lat", "lon"], "target": ["latitude", "longitude"], "radius": "20 km"}}),
        ("radius", {"blocking.radius.radius": "0.1", "blocking.radius.algorithm": "balltree"},
         {"radius": {"align": ["lat", "lon"], "target": ["latitude", "longitude"], "radius": 0.1,
                     "algorithm": "balltree"}}),
        ("kmeans", {"blocking.kmeans.clusters": "3", "blocking.kmeans.coordinates": "latlon"},
         {"kmeans": {"align": ["lat", "lon"], "target": ["latitude", "longitude"], "clusters": 3,
                     "coordinates": "latlon"}}),
    ],
)  # fmt: skip
def test_point_blocking_is_composed_validates_and_runs(
    client: TestClient, folder: Path, rule: str, fields: dict[str, str], expected: object
) -> None:
    draft = _places(client)
    data = {"blocking": rule, "threshold": "0", "matching": "best",
            f"blocking.{rule}.align": "lat, lon", f"blocking.{rule}.target": "latitude,longitude",
            **fields}  # fmt: skip
    answer = client.post(f"/compose/{draft}/settings", data=data)
    assert answer.url.path.endswith("/outputs"), answer.text
    assert client.app.state.web.drafts.get(draft).blocking == expected  # type: ignore[attr-defined]
    client.post(f"/compose/{draft}/outputs", data={"base": "out/composed", "formats": ["csv"]})
    assert 'id="valid"' in client.get(f"/compose/{draft}/review").text
    assert client.post(f"/compose/{draft}/save").url.path == "/spec/composed.yaml"
    assert yaml.safe_load((folder / "composed.yaml").read_text("utf-8"))["blocking"] == expected
    assert _run(folder, "composed.yaml") == PLACE_LINKS


def test_a_point_rule_on_an_attribute(client: TestClient, folder: Path) -> None:
    draft = _places(client)
    client.post(f"/compose/{draft}/attributes/add",
                data={"name": "lat", "target": "latitude", "metric": "euclidean"})  # fmt: skip
    data = {"blocking": "radius", "blocking_attribute": "lat", "threshold": "0.1",
            "blocking.radius.radius": "0.5", "blocking.radius.max_pairs": "100"}  # fmt: skip
    assert client.post(f"/compose/{draft}/settings", data=data).url.path.endswith("/outputs")
    blocking = {"radius": {"attribute": "lat", "radius": 0.5, "max_pairs": 100}}
    assert client.app.state.web.drafts.get(draft).blocking == blocking  # type: ignore[attr-defined]
    client.post(f"/compose/{draft}/outputs", data={"base": "out/composed", "formats": ["csv"]})
    assert client.post(f"/compose/{draft}/save").url.path == "/spec/composed.yaml"
    assert _run(folder, "composed.yaml") == PLACE_LINKS


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"blocking": "kmeans", "blocking.kmeans.align": "lat, lon"},
         "kmeans › clusters: required"),
        ({"blocking": "kmeans", "blocking.kmeans.align": "lat,lon", "blocking.kmeans.clusters": "2",
          "blocking.kmeans.nearest": "3"}, "kmeans: &#39;nearest&#39; cannot exceed &#39;clusters&#39;"),
        ({"blocking": "radius", "blocking.radius.align": "lat, lon"},
         "radius › radius: required"),
        ({"blocking": "radius", "blocking.radius.radius": "1"},
         "radius: give an attribute, or the align columns"),
        ({"blocking": "radius", "blocking.radius.align": "lat, long", "blocking.radius.radius": "1"},
         "radius › align: no column &#39;long&#39; (the columns are: row, name, lat, lon)"),
        ({"blocking": "radius", "blocking.radius.align": "lat",
          "blocking.radius.target": "lat", "blocking.radius.radius": "1"},
         "radius › target: no column &#39;lat&#39; (the columns are: row, name, latitude, longitude)"),
        ({"blocking": "radius", "blocking.radius.align": "lat", "blocking.radius.radius": "-1"},
         "radius › radius: the radius must be a positive number"),
        ({"blocking": "radius", "blocking.radius.align": "lat", "blocking.radius.radius": "3 miles"},
         "radius › radius: &#39;3 miles&#39; is not a length (e.g. 3 km, 500 m)"),
        ({"blocking": "kmeans", "blocking.kmeans.align": "lat, lon", "blocking.kmeans.target": "",
          "blocking.kmeans.clusters": "2"},
         "kmeans › target: no column &#39;lat&#39; (the columns are: row, name, latitude, longitude);"
         " give the target columns"),
        ({"blocking": "kmeans", "blocking.kmeans.align": "lat, lon", "blocking_attribute": "name",
          "blocking.kmeans.clusters": "2"},
         "kmeans: give either &#39;attribute&#39; or &#39;align&#39;"),
        ({"blocking": "qgram", "blocking_attribute": "name", "blocking.qgram.q": "11"},
         "qgram › q: must be less than or equal to 10"),
    ],
)  # fmt: skip
def test_a_bad_blocking_option_is_reported_by_its_field(
    client: TestClient, fields: dict[str, str], message: str
) -> None:
    draft = _places(client)
    target = f"blocking.{fields['blocking']}.target"
    data = {"threshold": "0", target: "latitude, longitude", **fields}
    answer = client.post(f"/compose/{draft}/settings", data=data)
    assert answer.status_code == 422 and message in answer.text
    assert client.app.state.web.drafts.get(draft).blocking == "none"  # type: ignore[attr-defined]


def test_the_settings_page_offers_every_blocking_rule_with_its_options(client: TestClient) -> None:
    draft = _places(client)
    page = client.get(f"/compose/{draft}/settings").text
    for rule in ("none", "key", "qgram", "sorted_neighbourhood", "minhash", "tfidf",
                 "radius", "kmeans"):  # fmt: skip
        assert f'<option value="{rule}"' in page
    for rule, model in (("radius", "radius"), ("radius", "algorithm"), ("kmeans", "clusters")):
        assert f'<fieldset class="blocking-options" data-rule="{rule}"' in page
        assert f'name="blocking.{rule}.{model}"' in page
        assert f'name="blocking.{rule}.align"' in page and f'name="blocking.{rule}.target"' in page
    assert 'name="blocking.radius.coordinates" id="blocking-radius-coordinates"' in page
    assert 'name="blocking.qgram.q"' in page and 'name="blocking.qgram.max_pairs"' in page
    assert "(the columns: row, name, lat, lon)" in page
    assert "(the columns: row, name, latitude, longitude)" in page


def test_key_blocking_with_options(client: TestClient) -> None:
    draft = _places(client)
    data = {
        "blocking": "qgram",
        "blocking_attribute": "name",
        "threshold": "0",
        "blocking.qgram.q": "2",
        "blocking.qgram.padding": ["false", "true"],
        "blocking.radius.radius": "5",
    }  # another rule's field: not this rule's
    assert client.post(f"/compose/{draft}/settings", data=data).url.path.endswith("/outputs")
    blocking = {"qgram": {"attribute": "name", "q": 2, "padding": True}}
    assert client.app.state.web.drafts.get(draft).blocking == blocking  # type: ignore[attr-defined]


def test_form_values_are_read_as_specs_are() -> None:
    # YAML 1.2 booleans, as the loader: `no` typed in a form is Norwegian.
    assert parse_yaml_value("[no, fr]", "languages") == ["no", "fr"]
    assert parse_yaml_value("{tokens: false}", "metric") == {"tokens": False}
    with pytest.raises(PreviewError, match="not valid YAML"):
        parse_yaml_value("a: &x [1]\nb: *x", "options")


@pytest.mark.parametrize("timeout", ["60s", "2min", "5s"])
def test_a_remote_source_previews_within_ten_seconds_whatever_its_timeout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, timeout: str
) -> None:
    from engine.web import compose

    seen: list[float] = []

    def read(model: object, role: str, environment: object) -> object:
        seen.append(model.timeout_s)  # type: ignore[attr-defined]
        raise compose.EngineError("stop here")

    monkeypatch.setattr(compose, "read_source", read)
    source = {"sparql": "http://127.0.0.1:9/q", "query": "SELECT ?s WHERE {}", "id": "s",
              "timeout": timeout}  # fmt: skip
    with pytest.raises(PreviewError):
        compose.source_preview(source, "align", tmp_path)
    assert seen == [min(float(timeout.rstrip("smin")) * (60 if "min" in timeout else 1), 10.0)]
