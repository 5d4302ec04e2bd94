"""Browse, validation display, editing, path safety, the token (Starlette TestClient)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from engine.cli import main
from engine.web.app import create_app
from engine.web.paths import UnsafePathError, resolve_inside
from engine.web.security import TokenGuard, is_loopback
from engine.web.specs import ChangedOnDiskError, save_spec_text


def test_browse_lists_every_spec_with_kind_validation_and_last_run(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    text = page.text
    for rel in ("people.yaml", "seed-people.yaml", "bad.yaml"):
        assert f'data-spec="{rel}"' in text
    assert "alignment" in text and "valid" in text
    assert "line 5:" in text  # bad.yaml's threshold: abc, with its line
    assert "never run here" in text


def test_spec_page_shows_each_problem_on_its_line(client: TestClient) -> None:
    page = client.get("/spec/bad.yaml")
    assert page.status_code == 200
    assert 'id="L5" class="has-problem"' in page.text
    assert "line 5, column 12" in page.text
    assert 'id="run"' not in page.text  # an invalid spec cannot be run


@pytest.mark.parametrize(
    "url",
    [
        "/spec/..%2F..%2Fetc%2Fpasswd",
        "/spec/%2e%2e/x.yaml",
        "/files/..%2Foutside.txt",
        "/files/%2Fetc%2Fpasswd",
        "/files/link-out/secret.txt",
        "/spec/escape.yaml",
    ],
)
def test_no_path_outside_the_folder_is_read(client: TestClient, folder: Path, url: str) -> None:
    outside = folder.parent / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("TOP-SECRET-CONTENT", encoding="utf-8")
    (outside / "escape.yaml").write_text("kind: alignment\n", encoding="utf-8")
    (folder / "link-out").symlink_to(outside)
    (folder / "escape.yaml").symlink_to(outside / "escape.yaml")
    answer = client.get(url)
    assert answer.status_code in (403, 404)
    assert "TOP-SECRET-CONTENT" not in answer.text
    assert "escape.yaml" not in client.get("/").text  # an escaping symlink is not listed


def test_resolve_inside_refuses_dot_dot_absolute_and_symlinks(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "up").symlink_to(tmp_path)
    root = (tmp_path / "in").resolve()
    for bad in ("../x", "/etc/passwd", "a/../../x", "up/x", "", "a\x00b"):
        with pytest.raises(UnsafePathError):
            resolve_inside(root, bad)
    assert resolve_inside(root, "a/b.yaml") == root / "a" / "b.yaml"


def test_edit_saves_a_valid_spec_atomically(client: TestClient, folder: Path) -> None:
    page = client.get("/spec/people.yaml")
    sha = page.text.split('name="sha256" value="')[1].split('"')[0]
    text = (
        (folder / "people.yaml").read_text(encoding="utf-8").replace("threshold: 2", "threshold: 3")
    )
    answer = client.post("/save/people.yaml", data={"text": text, "sha256": sha})
    assert answer.status_code == 200 and "Saved." in answer.text
    assert "threshold: 3" in (folder / "people.yaml").read_text(encoding="utf-8")
    assert not [p for p in folder.iterdir() if p.name.startswith(".people")]  # no temporaries


def test_edit_refuses_an_invalid_spec_and_writes_nothing(client: TestClient, folder: Path) -> None:
    before = (folder / "people.yaml").read_bytes()
    sha = client.get("/spec/people.yaml").text.split('name="sha256" value="')[1].split('"')[0]
    answer = client.post(
        "/save/people.yaml", data={"text": "kind: alignment\nname: x\n", "sha256": sha}
    )
    assert answer.status_code == 422
    assert "Not saved" in answer.text and "missing required key" in answer.text
    assert (folder / "people.yaml").read_bytes() == before


def test_edit_refuses_to_overwrite_a_spec_changed_on_disk(client: TestClient, folder: Path) -> None:
    sha = client.get("/spec/people.yaml").text.split('name="sha256" value="')[1].split('"')[0]
    path = folder / "people.yaml"
    changed = path.read_text(encoding="utf-8") + "# edited elsewhere\n"
    path.write_text(changed, encoding="utf-8")
    answer = client.post(
        "/save/people.yaml",
        data={"text": changed.replace("threshold: 2", "threshold: 9"), "sha256": sha},
    )
    assert answer.status_code == 409
    assert "changed on disk" in answer.text
    assert path.read_text(encoding="utf-8") == changed


def test_token_is_required_on_every_request(folder: Path) -> None:
    with TestClient(create_app(folder, token="s3cret")) as client:
        assert client.get("/").status_code == 401
        assert client.get("/files/people.yaml").status_code == 401
        assert client.get("/?token=wrong").status_code == 401
        assert client.get("/", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        first = client.get("/?token=s3cret", follow_redirects=False)
        assert first.status_code == 303 and first.headers["location"] == "/"
        assert "HttpOnly" in first.headers["set-cookie"]
        assert client.get("/").status_code == 200  # the cookie now


def test_a_form_from_another_site_is_refused(client: TestClient, folder: Path) -> None:
    answer = client.post(
        "/run", data={"spec": "people.yaml"}, headers={"Origin": "http://evil.example"}
    )
    assert answer.status_code == 403
    assert not (folder / ".specengine" / "runs").exists()


def test_serve_refuses_a_non_loopback_address_without_token(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SPECENGINE_TOKEN", raising=False)
    assert main(["serve", str(folder), "--host", "0.0.0.0"]) == 2
    assert "without a token" in capsys.readouterr().err
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")
    assert os.environ.get("SPECENGINE_TOKEN") is None


def _sha(client: TestClient, rel: str) -> str:
    return client.get(f"/spec/{rel}").text.split('name="sha256" value="')[1].split('"')[0]


#: 294 bytes that expand to 9**7 (4.8 million) values through nested aliases.
ALIAS_BOMB = "kind: alignment\na: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + n)}: &{chr(98 + n)} [{', '.join([f'*{chr(97 + n)}'] * 9)}]\n" for n in range(6)
)


def test_an_alias_bomb_is_refused_at_its_line_not_expanded(
    client: TestClient, folder: Path
) -> None:
    before = (folder / "people.yaml").read_bytes()
    started = time.perf_counter()
    answer = client.post(
        "/save/people.yaml", data={"text": ALIAS_BOMB, "sha256": _sha(client, "people.yaml")}
    )
    assert time.perf_counter() - started < 10  # a guard: an expansion would take minutes
    assert answer.status_code == 422
    assert "people.yaml:3:" in answer.text and "YAML aliases (*a) are not accepted" in answer.text
    assert (folder / "people.yaml").read_bytes() == before
    (folder / "bomb.yaml").write_text(ALIAS_BOMB, encoding="utf-8")  # on disk, listed
    assert 'id="L3" class="has-problem"' in client.get("/spec/bomb.yaml").text
    assert client.get("/").status_code == 200


def test_saving_validates_in_a_worker_thread(
    client: TestClient, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.web import routes_browse, routes_compose

    loops: list[bool] = []

    def recorded(*args: object) -> object:
        try:
            asyncio.get_running_loop()
            loops.append(True)  # in the event loop: every other request waits
        except RuntimeError:
            loops.append(False)
        return save_spec_text(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(routes_browse, "save_spec_text", recorded)
    monkeypatch.setattr(routes_compose, "save_spec_text", recorded)
    text = (folder / "people.yaml").read_text(encoding="utf-8")
    answer = client.post(
        "/save/people.yaml", data={"text": text, "sha256": _sha(client, "people.yaml")}
    )
    assert answer.status_code == 200
    assert loops == [False]


def test_environment_variables_are_never_read_by_the_web(
    client: TestClient, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPECENGINE_TEST_SECRET", "hunter2-do-not-show")
    text = "kind: ${SPECENGINE_TEST_SECRET}\nname: x\n"
    answer = client.post("/save/bad.yaml", data={"text": text, "sha256": _sha(client, "bad.yaml")})
    assert answer.status_code == 422
    assert "hunter2" not in answer.text
    assert "environment variable SPECENGINE_TEST_SECRET is not expanded here" in answer.text
    # A spec on disk using one: shown with that problem, and not run.
    (folder / "env.yaml").write_text(text, encoding="utf-8")
    for page in (
        client.get("/"),
        client.get("/spec/env.yaml"),
        client.post("/run", data={"spec": "env.yaml"}),
    ):
        assert "hunter2" not in page.text and "is not expanded here" in page.text


LONG = "a" * 300


@pytest.mark.parametrize(
    ("method", "url", "data"),
    [
        ("GET", f"/spec/{LONG}.yaml", None),
        ("GET", f"/spec/x/{LONG}/y.yaml", None),
        ("GET", f"/files/{LONG}", None),
        ("GET", f"/files/{'b' * 250}/" * 20, None),
        ("GET", f"/plan/{LONG}.yaml", None),
        ("POST", f"/save/{LONG}.yaml", {"text": "x", "sha256": ""}),
        ("POST", "/run", {"spec": f"{LONG}.yaml"}),
        ("POST", "/compose", {"name": LONG}),
        ("GET", f"/runs/{LONG}", None),
        ("GET", f"/compose/{LONG}/sources", None),
    ],
)
def test_a_name_too_long_is_a_clear_refusal_not_a_500(
    folder: Path, method: str, url: str, data: dict[str, str] | None
) -> None:
    (folder / ".specengine" / "runs").mkdir(parents=True)  # ENOENT would hide ENAMETOOLONG
    (folder / ".specengine" / "drafts").mkdir(parents=True)
    with TestClient(create_app(folder), raise_server_exceptions=False) as client:
        answer = client.request(method, url, data=data)
    assert answer.status_code in (400, 404, 409, 422), answer.text
    assert 'role="alert"' in answer.text or "No such" in answer.text


def test_only_spec_files_are_saved(client: TestClient, folder: Path) -> None:
    (folder / "data").mkdir()
    (folder / "data" / "a.csv").write_text("row,name\n", encoding="utf-8")
    (folder / ".specengine").mkdir()
    (folder / ".specengine" / "x.yaml").write_text("kind: alignment\n", encoding="utf-8")
    (folder / "hidden.yaml").symlink_to(folder / ".specengine" / "x.yaml")
    (folder / "table.yaml").symlink_to(folder / "data" / "a.csv")
    text = (folder / "people.yaml").read_text(encoding="utf-8")
    for rel in ("data/a.csv", ".specengine/x.yaml", "hidden.yaml", "table.yaml"):
        answer = client.post(f"/save/{rel}", data={"text": text, "sha256": ""})
        assert answer.status_code == 403, rel
        assert client.get(f"/spec/{rel}").status_code == 403, rel
    assert (folder / "data" / "a.csv").read_text(encoding="utf-8") == "row,name\n"
    assert (folder / ".specengine" / "x.yaml").read_text(encoding="utf-8") == "kind: alignment\n"


def test_the_interface_state_is_no_download_even_through_a_symlink(
    client: TestClient, folder: Path
) -> None:
    (folder / ".specengine" / "drafts").mkdir(parents=True)
    (folder / ".specengine" / "drafts" / "d.json").write_text('{"secret": 1}', encoding="utf-8")
    (folder / "state").symlink_to(folder / ".specengine")
    for url in ("/files/.specengine/drafts/d.json", "/files/state/drafts/d.json"):
        answer = client.get(url)
        assert answer.status_code == 404 and "secret" not in answer.text


def test_a_change_made_while_validating_is_not_overwritten(
    client: TestClient, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.web import specs

    path = folder / "people.yaml"
    sha = _sha(client, "people.yaml")
    theirs = path.read_text(encoding="utf-8") + "# edited meanwhile\n"
    validate = specs.validate_text

    def slow(target: Path, text: str, *rest: Any) -> object:
        target.write_text(theirs, encoding="utf-8")  # another editor, during validation
        return validate(target, text, *rest)

    monkeypatch.setattr(specs, "validate_text", slow)
    mine = path.read_text(encoding="utf-8").replace("threshold: 2", "threshold: 3")
    answer = client.post("/save/people.yaml", data={"text": mine, "sha256": sha})
    assert answer.status_code == 409 and "changed on disk" in answer.text
    assert path.read_text(encoding="utf-8") == theirs
    # A new file created meanwhile by another writer is not replaced either.
    new = folder / "new.yaml"

    def racing(target: Path, text: str, *rest: Any) -> object:
        spec = validate(target, text, *rest)
        target.write_text("# theirs\n", encoding="utf-8")
        return spec

    monkeypatch.setattr(specs, "validate_text", racing)
    monkeypatch.setattr(specs, "_unchanged", lambda target, expected: None)  # the race past it
    with pytest.raises(ChangedOnDiskError, match="already exists"):
        specs.save_spec_text(new, mine, None)
    assert new.read_text(encoding="utf-8") == "# theirs\n"


def test_serving_on_another_loopback_address_accepts_its_host(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    served: list[Starlette] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, *a: served.append(self.config.app))
    assert main(["serve", str(folder), "--host", "127.0.0.2"]) == 0
    with TestClient(served[0], base_url="http://127.0.0.2:8765") as client:
        assert client.get("/").status_code == 200
    with TestClient(served[0], base_url="http://evil.example:8765") as client:
        assert client.get("/").status_code == 400  # DNS rebinding: still refused


def test_an_html_file_is_shown_sandboxed(client: TestClient, folder: Path) -> None:
    (folder / "out").mkdir()
    (folder / "out" / "r.html").write_text("<script>fetch('/run')</script>", encoding="utf-8")
    shown = client.get("/files/out/r.html")
    assert shown.status_code == 200 and shown.headers["content-security-policy"] == "sandbox"
    assert "attachment" in client.get("/files/out/r.html?download=1").headers["content-disposition"]


async def _redirect(path: str, query: bytes) -> str:
    sent: list[dict[str, object]] = []

    async def app(scope: object, receive: object, send: object) -> None:
        raise AssertionError("the token link is redirected, not served")

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "query_string": query, "headers": []}
    await TokenGuard(app, "T")(scope, receive, send)  # type: ignore[arg-type]
    assert sent[0]["status"] == 303
    return dict(sent[0]["headers"])[b"location"].decode()  # type: ignore[call-overload,no-any-return]


@pytest.mark.parametrize(
    ("path", "query", "location"),
    [
        ("//evil.com", b"token=T", "/evil.com"),
        ("/\\evil.com", b"token=T", "/%5Cevil.com"),
        ("/spec/a b.yaml", b"token=T&saved=1", "/spec/a%20b.yaml?saved=1"),
        ("/x\r\nSet-Cookie: a=b", b"token=T", "/x%0D%0ASet-Cookie:%20a=b"),
        ("/", b"token=T&next=a%0D%0Ab&q=%3F%23", "/?next=a%0D%0Ab&q=%3F%23"),
    ],
)
def test_the_token_redirect_stays_on_this_site(path: str, query: bytes, location: str) -> None:
    assert asyncio.run(_redirect(path, query)) == location


def test_a_spec_with_a_name_of_255_bytes_can_be_saved(client: TestClient, folder: Path) -> None:
    rel = "p" * 250 + ".yaml"  # its temporaries must not be longer still
    text = (folder / "people.yaml").read_text(encoding="utf-8")
    (folder / rel).write_text(text, encoding="utf-8")
    changed = text.replace("threshold: 2", "threshold: 3")
    answer = client.post(f"/save/{rel}", data={"text": changed, "sha256": _sha(client, rel)})
    assert answer.status_code == 200 and "Saved." in answer.text
    assert (folder / rel).read_text(encoding="utf-8") == changed


def test_hidden_files_are_never_served(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from engine.web.app import create_app

    (tmp_path / ".env").write_text("SECRET=1\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("[core]\n")
    (tmp_path / "visible.csv").write_text("a\n1\n")
    (tmp_path / "alias.txt").symlink_to(tmp_path / ".env")
    client = TestClient(create_app(tmp_path))
    for name in (".env", ".git/config", "alias.txt"):
        response = client.get(f"/files/{name}")
        assert response.status_code == 404 and "SECRET" not in response.text, name
    assert client.get("/files/visible.csv").status_code == 200
