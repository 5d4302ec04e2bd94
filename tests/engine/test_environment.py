"""engine/environment.py: credentials are read from the run's Environment, never os.environ."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine import image
from engine.cli import main
from engine.environment import NO_ENVIRONMENT, Environment, named_variables
from engine.errors import DataError
from engine.execute import execute, new_state
from engine.hosts.ansible import TaskResult
from engine.image.upload import upload
from engine.loader import load_spec
from engine.plan import build_plan
from tests.httpserver import Behaviour, Recorded, serve

SECRET = "s3cret-of-the-process"


def _sparql(request: Recorded) -> tuple[int, str, bytes]:
    if request.path == "/store":  # the Graph Store: no such graph yet
        return 404, "text/plain", b"no such graph"
    query = (request.form.get("query") or [""])[0]
    first = "OFFSET" not in query or query.rstrip().endswith("OFFSET 0")
    row = {
        "s": {"type": "uri", "value": "http://x/1"},
        "name": {"type": "literal", "value": "Zola"},
    }
    body = {"head": {"vars": ["s", "name"]}, "results": {"bindings": [row] if first else []}}
    return 200, "application/sparql-results+json", json.dumps(body).encode()


def _spec(folder: Path, url: str, variable: str = "SPECENGINE_TEST_PASSWORD") -> Path:
    spec = {
        "kind": "alignment",
        "name": "env",
        "sources": {
            "align": {
                "inline": [["1", "Zola"]],
                "columns": ["id", "name"],
                "id": {"template": "http://example.org/a/{id}"},
            },
            "target": {
                "sparql": f"{url}/sparql",
                "query": "SELECT ?s ?name WHERE { ?s <http://x/name> ?name }",
                "id": "s",
                "retries": 0,
                "auth": {"user": "alice", "password_env": variable},
            },
        },
        "attributes": [{"name": "name", "metric": "levenshtein"}],
        "blocking": "none",
        "threshold": 2,
        "outputs": [{"csv": "out/env.csv"}],
        "publish": {
            "graph_store": f"{url}/store",
            "graph": "http://example.org/g",
            "auth": {"user_env": "SPECENGINE_TEST_USER", "password_env": variable},
        },
    }
    path = folder / "env.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def test_named_variables_finds_every_field_ending_in_env(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path, "http://127.0.0.1:1"), check_files=False)
    assert sorted(named_variables(spec)) == [
        ("SPECENGINE_TEST_PASSWORD", "publish.auth.password_env"),
        ("SPECENGINE_TEST_PASSWORD", "sources.target.auth.password_env"),
        ("SPECENGINE_TEST_USER", "publish.auth.user_env"),
    ]
    (tmp_path / "image.yaml").write_text(
        "kind: image\nname: i\noutput: out\ncache: cache\n"
        "upload: {glance: {url: 'http://127.0.0.1:1', token_env: OS_TOKEN}}\n",
        encoding="utf-8",
    )
    assert named_variables(load_spec(tmp_path / "image.yaml")) == [
        ("OS_TOKEN", "upload.glance.token_env")
    ]


def test_passed_keeps_only_the_names_given_and_never_shows_values() -> None:
    source = {"A": "1", "B": SECRET}
    passed = Environment.passed(["A", "C"], source)
    assert "A" in passed and "B" not in passed and "C" not in passed
    assert passed.get("A") == "1" and passed.get("B") is None
    with pytest.raises(DataError, match=r"C \(auth.password_env\) is not passed to the web"):
        passed.require("C", "auth.password_env", "here")
    assert SECRET not in repr(Environment.of_process()) + repr(Environment(source))
    with pytest.raises(DataError, match=r"X \(auth.password_env\) is not set"):
        Environment({}).require("X", "auth.password_env", "here")


def test_a_state_without_the_variable_sends_no_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Below the web's refusal: the engine itself reads the run's environment only.
    monkeypatch.setenv("SPECENGINE_TEST_PASSWORD", SECRET)
    monkeypatch.setenv("SPECENGINE_TEST_USER", "bob")
    with serve(Behaviour(_sparql)) as server:
        path = _spec(tmp_path, server.url)
        spec = load_spec(path)
        plan = build_plan(spec, str(path))
        state = new_state(plan, spec, environment=NO_ENVIRONMENT)
        with pytest.raises(DataError, match=r"SPECENGINE_TEST_PASSWORD .* is not passed"):
            execute(plan, state, dry_run=True)
    assert all("authorization" not in r.headers for r in server.requests)
    assert SECRET not in repr(state)


def test_the_command_line_reads_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SPECENGINE_TEST_PASSWORD", SECRET)
    monkeypatch.setenv("SPECENGINE_TEST_USER", "bob")
    with serve(Behaviour(_sparql)) as server:
        path = _spec(tmp_path, server.url)
        main(["plan", str(path)])
    basic = "Basic " + base64.b64encode(f"alice:{SECRET}".encode()).decode()
    sparql = [r for r in server.requests if r.path == "/sparql"]
    assert sparql and all(r.headers.get("authorization") == basic for r in sparql)
    assert SECRET not in capsys.readouterr().err


def test_the_glance_token_comes_from_the_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OS_TOKEN", SECRET)
    monkeypatch.delenv("GLANCE_TOKEN", raising=False)
    (tmp_path / "image.yaml").write_text(
        "kind: image\nname: i\nformats: [uec]\noutput: out\ncache: cache\n"
        "upload: {glance: {url: 'http://127.0.0.1:1', token_env: OS_TOKEN}}\n",
        encoding="utf-8",
    )
    spec = load_spec(tmp_path / "image.yaml")
    tokens: list[str | None] = []

    def playbook(run: Any, progress: Any = None, secrets: Any = None) -> TaskResult:
        # The playbook's own environment only: the process's is never touched.
        assert "GLANCE_TOKEN" not in os.environ
        tokens.append((secrets or {}).get("GLANCE_TOKEN"))
        return TaskResult(rc=0)

    monkeypatch.setattr("engine.image.upload.run_playbook", playbook)
    folder = tmp_path / "built"
    folder.mkdir()
    for name in ("kernel", "initrd", "rootfs.img"):
        (folder / name).write_bytes(b"x")
    for environment in (NO_ENVIRONMENT, Environment.passed(["OS_TOKEN"]), None):
        state = image.ImageState(spec=spec, spec_file="image.yaml")
        if environment is not None:
            state = image.ImageState(spec=spec, spec_file="image.yaml", environment=environment)
        state.manifest = {"artefacts": {n: {} for n in ("kernel", "initrd", "rootfs.img")}}
        upload(state, folder)
    assert tokens == ["", SECRET, SECRET]
