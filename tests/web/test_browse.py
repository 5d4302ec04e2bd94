"""Browse, validation display, editing, path safety, the token (Starlette TestClient)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from engine.cli import main
from engine.web.app import create_app
from engine.web.paths import UnsafePathError, resolve_inside
from engine.web.security import is_loopback


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
