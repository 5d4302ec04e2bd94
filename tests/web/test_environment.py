"""The web never reads the server's environment for a spec (issue 13, item 1).

Every place a spec can name an environment variable is planned and run
through the web application, with a scripted endpoint on 127.0.0.1 recording
what it receives: a SPARQL or RQL source's ``auth`` (password and user), the
publish step's ``auth``, an image's Glance ``token_env``, and ``${VAR}``. The
secret must never reach the endpoint, and the page says why the spec is not
run. A variable the operator passes (``engine serve --pass-env NAME``) is the
only one a spec can use.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.applications import Starlette
from starlette.testclient import TestClient

from engine import image
from engine.environment import Environment
from engine.hosts.ansible import TaskResult
from engine.web.app import create_app
from tests.httpserver import Behaviour, Recorded, ScriptedServer, serve

SECRET = "hunter2-server-secret"
USER_SECRET = "mallory-server-user"
QUERY = "SELECT ?s ?name WHERE { ?s <http://x/name> ?name }"


def _answer(request: Recorded) -> tuple[int, str, bytes]:
    """A SPARQL endpoint with one person, an RQL instance with none, an update accepted."""
    if request.path.endswith("/rql"):
        return 200, "application/json", b"[]"
    if request.path.endswith("/update"):
        return 204, "text/plain", b""
    query = (request.form.get("query") or request.query.get("query") or [""])[0]
    first = "OFFSET" not in query or query.rstrip().endswith("OFFSET 0")
    person = {
        "s": {"type": "uri", "value": "http://x/1"},
        "name": {"type": "literal", "value": "Zola"},
    }
    body = {"head": {"vars": ["s", "name"]}, "results": {"bindings": [person] if first else []}}
    return 200, "application/sparql-results+json", json.dumps(body).encode()


@pytest.fixture
def endpoint() -> Iterator[ScriptedServer]:
    with serve(Behaviour(_answer)) as server:
        yield server


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's environment: its own token and another secret."""
    monkeypatch.setenv("SPECENGINE_TOKEN", SECRET)
    monkeypatch.setenv("SPECENGINE_TEST_USER", USER_SECRET)
    monkeypatch.setenv("SPECENGINE_TEST_PASSWORD", SECRET)


def _leaked(server: ScriptedServer) -> list[str]:
    """What the endpoint received that carries a secret, in clear or in Basic form."""
    found = []
    forms = {SECRET, USER_SECRET}
    forms |= {base64.b64encode(f"alice:{SECRET}".encode()).decode()}
    forms |= {base64.b64encode(f"{USER_SECRET}:{SECRET}".encode()).decode()}
    for request in server.requests:
        seen = f"{request.path} {request.query} {request.headers} {request.body!r}"
        found += [form for form in forms if form in seen]
    # A digest answer hides the password: any credentials at all are a leak here.
    found += [r.headers["authorization"] for r in server.requests if "authorization" in r.headers]
    return found


def _alignment(url: str, target: dict[str, Any], **extra: Any) -> str:
    spec: dict[str, Any] = {
        "kind": "alignment",
        "name": "leak",
        "sources": {
            "align": {
                "inline": [["1", "Zola"]],
                "columns": ["id", "name"],
                "id": {"template": "http://example.org/a/{id}"},
            },
            "target": target,
        },
        "attributes": [{"name": "name", "metric": "levenshtein"}],
        "blocking": "none",
        "threshold": 2,
        "outputs": [{"csv": "out/leak.csv"}],
        **extra,
    }
    return yaml.safe_dump(spec, sort_keys=False)


def _sparql(url: str, **auth: str) -> dict[str, Any]:
    source: dict[str, Any] = {"sparql": f"{url}/sparql", "query": QUERY, "id": "s", "retries": 0}
    if auth:
        source["auth"] = auth
    return source


def _rql(url: str, **auth: str) -> dict[str, Any]:
    return {
        "rql": f"{url}/rql",
        "query": "Any U, N WHERE X name N, X cwuri U",
        "columns": ["s", "name"],
        "id": "s",
        "retries": 0,
        "auth": auth,
    }


def _publish(url: str, **auth: str) -> dict[str, Any]:
    return {
        "publish": {
            "update": f"{url}/update",
            "query": f"{url}/query",
            "graph": "http://example.org/linksets/leak",
            "auth": auth,
        }
    }


#: Each place a spec names a variable: (spec text from the endpoint URL, the field).
PLACES: dict[str, tuple[Callable[[str], str], str]] = {
    "sparql-password": (
        lambda url: _alignment(url, _sparql(url, user="alice", password_env="SPECENGINE_TOKEN")),
        "sources.target.auth.password_env",
    ),
    "sparql-user": (
        lambda url: _alignment(
            url,
            _sparql(url, user_env="SPECENGINE_TEST_USER", password_env="SPECENGINE_TEST_PASSWORD"),
        ),
        "sources.target.auth.user_env",
    ),
    "rql-password": (
        lambda url: _alignment(url, _rql(url, user="alice", password_env="SPECENGINE_TOKEN")),
        "sources.target.auth.password_env",
    ),
    "publish-password": (
        lambda url: _alignment(
            url, _sparql(url), **_publish(url, user="alice", password_env="SPECENGINE_TOKEN")
        ),
        "publish.auth.password_env",
    ),
}


def _wait(app: Starlette, run_id: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = app.state.web.runs.record(run_id)
        if record is not None and record.status != "running":
            return record
        time.sleep(0.02)
    raise AssertionError(f"run {run_id} still running")


def _plan_and_run(app: Starlette, rel: str, **form: str) -> tuple[Any, Any]:
    """POST the plan and the run of ``rel``; the run's end waited for when it started."""
    with TestClient(app) as client:
        plan = client.post(f"/plan/{rel}")
        run = client.post("/run", data={"spec": rel, **form}, follow_redirects=False)
        if run.status_code == 303:
            _wait(app, str(run.headers["location"]).rsplit("/", 1)[1])
    return plan, run


@pytest.mark.parametrize("place", sorted(PLACES))
def test_a_variable_a_spec_names_is_never_sent_from_the_web(
    folder: Path, endpoint: ScriptedServer, place: str
) -> None:
    text, field = PLACES[place]
    (folder / "leak.yaml").write_text(text(endpoint.url), encoding="utf-8")
    app = create_app(folder)
    plan, run = _plan_and_run(app, "leak.yaml")
    assert _leaked(endpoint) == []
    # Refused up front, saying which variable and how to pass it.
    for answer in (plan, run):
        assert answer.status_code in (409, 422), answer.text
        assert "not passed to the web interface" in answer.text
        assert f"({field})" in answer.text
        assert "engine serve --pass-env" in answer.text
        assert SECRET not in answer.text and USER_SECRET not in answer.text
    assert not (folder / "out").exists()


def test_the_servers_own_token_is_never_sent_even_with_a_token(
    folder: Path, endpoint: ScriptedServer
) -> None:
    text, _ = PLACES["sparql-password"]
    (folder / "leak.yaml").write_text(text(endpoint.url), encoding="utf-8")
    app = create_app(folder, token=SECRET)
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {SECRET}"}
        plan = client.post("/plan/leak.yaml", headers=headers)
        run = client.post("/run", data={"spec": "leak.yaml"}, headers=headers)
    assert plan.status_code == 422 and run.status_code == 409
    assert _leaked(endpoint) == []


def test_a_variable_passed_by_the_operator_is_used(folder: Path, endpoint: ScriptedServer) -> None:
    text, _ = PLACES["sparql-password"]
    spec = text(endpoint.url).replace("SPECENGINE_TOKEN", "SPECENGINE_TEST_PASSWORD")
    (folder / "leak.yaml").write_text(spec, encoding="utf-8")
    app = create_app(folder, environment=Environment.passed(["SPECENGINE_TEST_PASSWORD"]))
    plan, run = _plan_and_run(app, "leak.yaml")
    assert plan.status_code == 200, plan.text
    assert run.status_code == 303, run.text
    basic = base64.b64encode(f"alice:{SECRET}".encode()).decode()
    assert endpoint.requests
    assert all(r.headers.get("authorization") == f"Basic {basic}" for r in endpoint.requests)


def test_a_variable_in_the_text_is_never_expanded(folder: Path, endpoint: ScriptedServer) -> None:
    # ${VAR} anywhere (here: the endpoint's path) is a problem at its line, not a value.
    source = _sparql(endpoint.url)
    source["sparql"] = endpoint.url + "/${SPECENGINE_TOKEN}"
    (folder / "leak.yaml").write_text(_alignment(endpoint.url, source), encoding="utf-8")
    app = create_app(folder)
    with TestClient(app) as client:
        pages = [client.get("/"), client.get("/spec/leak.yaml")]
    plan, run = _plan_and_run(app, "leak.yaml")
    assert endpoint.requests == []
    for answer in (*pages, plan, run):
        assert SECRET not in answer.text
        assert "environment variable SPECENGINE_TOKEN is not expanded here" in answer.text


# --------------------------------------------------------------------------- Glance

IMAGE = """\
kind: image
name: leak
formats: [uec]
output: out/leak
cache: cache
upload:
  glance:
    url: {url}
    token_env: {variable}
"""


@pytest.fixture
def fake_build(monkeypatch: pytest.MonkeyPatch, folder: Path) -> list[dict[str, Any]]:
    """A build step that makes small artefacts, and an upload playbook that records its token.

    Returns the uploads the playbook was asked for (its token included): the
    playbook is the only way the token reaches Glance.
    """
    uploads: list[dict[str, Any]] = []

    def build(step: image.Build, state: image.ImageState) -> None:
        cache = Path(step.cache)
        cache.mkdir(parents=True, exist_ok=True)
        for name in ("kernel", "initrd", "rootfs.img", "packages.tsv"):
            (cache / name).write_bytes(b"x")
        state.cache, state.cached = cache, True
        state.manifest = {"artefacts": {n: {} for n in ("kernel", "initrd", "rootfs.img")}}

    def playbook(run: Any, progress: Any = None, secrets: Any = None) -> TaskResult:
        uploads.append({"token": (secrets or {}).get("GLANCE_TOKEN"), **run.extravars})
        result = TaskResult(rc=0)
        result.facts["specengine_glance"] = {"ids": {}, "reused": []}
        return result

    monkeypatch.setattr("engine.image.kind.handle_build", build)
    monkeypatch.setattr("engine.image.upload.run_playbook", playbook)
    return uploads


def test_a_glance_token_is_never_read_by_the_web(
    folder: Path, endpoint: ScriptedServer, fake_build: list[dict[str, Any]]
) -> None:
    text = IMAGE.format(url=endpoint.url, variable="SPECENGINE_TOKEN")
    (folder / "image.yaml").write_text(text, encoding="utf-8")
    plan, run = _plan_and_run(create_app(folder), "image.yaml", confirm="yes")
    assert [u["token"] for u in fake_build if u["token"]] == []
    assert _leaked(endpoint) == []
    for answer in (plan, run):
        assert answer.status_code in (409, 422), answer.text
        assert "(upload.glance.token_env)" in answer.text
        assert "not passed to the web interface" in answer.text


def test_a_glance_token_passed_by_the_operator_is_used(
    folder: Path, endpoint: ScriptedServer, fake_build: list[dict[str, Any]]
) -> None:
    text = IMAGE.format(url=endpoint.url, variable="SPECENGINE_TEST_PASSWORD")
    (folder / "image.yaml").write_text(text, encoding="utf-8")
    app = create_app(folder, environment=Environment.passed(["SPECENGINE_TEST_PASSWORD"]))
    _, run = _plan_and_run(app, "image.yaml", confirm="yes")
    assert run.status_code == 303, run.text
    assert [u["token"] for u in fake_build] == [SECRET]
    assert fake_build[0]["glance_url"] == endpoint.url


def test_serve_never_passes_its_own_token_nor_an_unset_variable(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.cli import main

    assert main(["serve", str(folder), "--pass-env", "SPECENGINE_TOKEN"]) == 2
    assert "the server's own token is never passed" in capsys.readouterr().err
    monkeypatch.delenv("SPECENGINE_TEST_UNSET", raising=False)
    assert main(["serve", str(folder), "--pass-env", "SPECENGINE_TEST_UNSET"]) == 2
    assert "not set: SPECENGINE_TEST_UNSET" in capsys.readouterr().err
