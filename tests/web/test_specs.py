"""engine/web/specs.py: one bad file is shown as invalid, never a 500 for the whole folder."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from engine.loader import load_spec
from engine.web import specs
from engine.web.app import create_app

#: Files that once escaped the loader as exceptions (issue 13, item 4).
BAD_FILES = {
    "date.yaml": b"kind: alignment\nname: x\ndescription: 2024-02-30\n",
    "tag.yaml": b"kind: alignment\nname: !!int abc\n",
    "utf8.yaml": b"kind: alignment\nname: \xff\xfe\n",
    "list.yaml": b"- kind: alignment\n- name: x\n",
    "scalar.yaml": b"just some text\n",
    "huge-int.yaml": b"kind: alignment\nname: x\nthreshold: " + b"9" * 5000 + b"\n",
}


def _row(index: str, rel: str) -> str:
    """The listing's row of one spec."""
    start = index.index(f'data-spec="{rel}"')
    end = index.find("data-spec=", start + 1)
    return index[start : end if end != -1 else len(index)]


@pytest.fixture
def bad_folder(folder: Path) -> Path:
    for name, data in BAD_FILES.items():
        (folder / name).write_bytes(data)
    return folder


def test_bad_files_are_listed_as_invalid_and_the_rest_is_served(bad_folder: Path) -> None:
    with TestClient(create_app(bad_folder), raise_server_exceptions=False) as client:
        index = client.get("/")
        assert index.status_code == 200, index.text
        assert 'class="ok"' in _row(index.text, "people.yaml")
        for name in BAD_FILES:
            assert 'class="bad"' in _row(index.text, name), name
            page = client.get(f"/spec/{name}")
            assert page.status_code == 200, (name, page.text)
            assert 'role="alert"' in page.text or "has-problem" in page.text, name
            assert client.post("/plan/" + name).status_code == 422, name
            assert client.post("/run", data={"spec": name}).status_code == 409, name
        assert client.get("/spec/people.yaml").status_code == 200


def test_any_exception_of_the_loader_shows_that_file_as_invalid(
    folder: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = load_spec

    def crashing(path: Path, **options: Any) -> Any:
        if "people" in path.name and "seed" not in path.name:  # saving: .people.*.yaml
            raise RuntimeError("the loader broke on this file")
        return real(path, **options)

    monkeypatch.setattr(specs, "load_spec", crashing)
    caplog.set_level(logging.ERROR, logger="engine.web.specs")
    with TestClient(create_app(folder), raise_server_exceptions=False) as client:
        index = client.get("/")
        assert index.status_code == 200, index.text
        row = _row(index.text, "people.yaml")
        assert 'class="bad"' in row
        message = "internal error while reading this spec: RuntimeError: the loader broke"
        assert message in index.text
        page = client.get("/spec/people.yaml")
        assert page.status_code == 200 and message in page.text
        run = client.post("/run", data={"spec": "people.yaml"})
        assert run.status_code == 409 and message in run.text
        plan = client.post("/plan/people.yaml")
        assert plan.status_code == 422 and message in plan.text
        text = (folder / "people.yaml").read_text(encoding="utf-8")
        sha = page.text.split('name="sha256" value="')[1].split('"')[0]
        saved = client.post("/save/people.yaml", data={"text": text, "sha256": sha})
        assert saved.status_code == 422 and message in saved.text
        # The other specs are unaffected.
        assert 'data-spec="bad.yaml"' in index.text
        assert client.get("/spec/bad.yaml").status_code == 200
    logged = [r for r in caplog.records if "people.yaml" in r.getMessage()]
    assert logged and logged[0].exc_info is not None  # with its traceback, for a bug report


def test_an_exception_while_planning_is_shown_on_the_plan_page(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.web import routes_browse

    def broken(*args: object) -> str:
        raise ValueError("a bug in the plan")

    monkeypatch.setattr(routes_browse, "plan_preview", broken)
    with TestClient(create_app(folder), raise_server_exceptions=False) as client:
        answer = client.post("/plan/people.yaml")
    assert answer.status_code == 500
    assert "internal error: ValueError: a bug in the plan" in answer.text
    assert 'role="alert"' in answer.text
