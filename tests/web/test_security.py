"""The request guards of engine/web/security.py: cross-site forms refused on every sign of one."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from engine.web.app import create_app


def _refused(folder: Path) -> bool:
    return not (folder / ".specengine" / "runs").exists()


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},  # a sandboxed page, such as an HTML file of the folder
        {"Sec-Fetch-Site": "cross-site"},
        {"Referer": "http://evil.example/page.html"},
        {"Referer": "http://testserver.evil.example/"},
        {"Referer": "https://evil.example:443/?u=http://testserver/"},
        {"Referer": "not a URL at all"},
    ],
)
def test_a_post_with_any_sign_of_another_site_is_refused(
    client: TestClient, folder: Path, headers: dict[str, str]
) -> None:
    answer = client.post("/run", data={"spec": "people.yaml"}, headers=headers)
    assert answer.status_code == 403, answer.text
    assert "another site" in answer.text
    assert _refused(folder)


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no sign either way: a script or curl with the token
        {"Origin": "http://testserver"},
        {"Referer": "http://testserver/spec/people.yaml"},
        {"Sec-Fetch-Site": "same-origin", "Referer": "http://testserver/"},
        # The Origin says this site: a Referer cut by a referrer policy counts for nothing.
        {"Origin": "http://testserver", "Referer": "http://testserver/"},
    ],
)
def test_a_post_of_this_site_goes_through(folder: Path, headers: dict[str, str]) -> None:
    with TestClient(create_app(folder)) as client:
        answer = client.post(
            "/run", data={"spec": "people.yaml"}, headers=headers, follow_redirects=False
        )
    assert answer.status_code == 303, answer.text


def test_a_foreign_referer_is_refused_even_beside_a_same_origin_fetch_site(
    client: TestClient, folder: Path
) -> None:
    # Contradictory signs: refused, whichever header lies.
    answer = client.post(
        "/run",
        data={"spec": "people.yaml"},
        headers={"Sec-Fetch-Site": "same-origin", "Referer": "http://evil.example/"},
    )
    assert answer.status_code == 403
    assert _refused(folder)
