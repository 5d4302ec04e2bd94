"""The HTTP client: retries with back-off, final 4xx, cut and stalled answers, auth."""

from __future__ import annotations

import base64

import pytest

from engine.http import Auth, HttpFailure, Response, RetryPolicy, request
from tests.httpserver import Behaviour, fixed, serve

FAST = RetryPolicy(timeout_s=0.5, retries=3, backoff_s=0.01)


def _text(response: Response) -> str:
    return response.body.decode()


def test_retries_5xx_then_succeeds_with_growing_waits() -> None:
    waits: list[float] = []
    with serve(fixed(503, "busy"), fixed(500, "oops"), fixed(200, "ok")) as server:
        assert request(server.url, parse=_text, policy=FAST, sleep=waits.append) == "ok"
    assert len(server.requests) == 3
    assert waits == [0.01, 0.02]


def test_gives_up_after_the_retries_naming_the_last_reason() -> None:
    with serve(fixed(502, "bad gateway")) as server, pytest.raises(HttpFailure) as caught:
        request(server.url, parse=_text, policy=FAST, sleep=lambda _: None)
    assert caught.value.attempts == 4
    assert caught.value.status == 502
    assert "HTTP 502" in caught.value.message and "gave up after 4 attempts" in caught.value.message
    assert len(server.requests) == 4


def test_a_client_error_is_final_at_once_with_the_body_quoted() -> None:
    with serve(fixed(400, "Parse error: line 1")) as server, pytest.raises(HttpFailure) as caught:
        request(server.url, parse=_text, policy=FAST, sleep=lambda _: None)
    assert caught.value.attempts == 1 and caught.value.status == 400
    assert "Parse error: line 1" in caught.value.message
    assert len(server.requests) == 1


def test_a_stalled_answer_is_retried() -> None:
    stall = Behaviour(lambda _: (200, "text/plain", b"late"), stall_s=1.0)
    with serve(stall, fixed(200, "ok")) as server:
        assert request(server.url, parse=_text, policy=FAST, sleep=lambda _: None) == "ok"
    assert len(server.requests) == 2


def test_a_connection_closed_mid_answer_is_retried() -> None:
    cut = Behaviour(lambda _: (200, "text/plain", b"0123456789" * 100), cut=10)
    with serve(cut, fixed(200, "ok")) as server:
        assert request(server.url, parse=_text, policy=FAST, sleep=lambda _: None) == "ok"


def test_an_unparsable_answer_is_retried_then_reported() -> None:
    def parse(response: Response) -> str:
        raise ValueError("not JSON")

    with serve(fixed(200, "<html>")) as server, pytest.raises(HttpFailure) as caught:
        request(server.url, parse=parse, policy=FAST, sleep=lambda _: None)
    assert "unreadable answer: not JSON" in caught.value.message
    assert len(server.requests) == 4


def test_nobody_listening_is_reported_after_retries() -> None:
    with serve(fixed(200, "")) as server:
        url = server.url
    with pytest.raises(HttpFailure) as caught:
        request(url, parse=_text, policy=FAST, sleep=lambda _: None)
    assert "cannot connect" in caught.value.message
    assert caught.value.status is None


def test_basic_auth_is_sent_with_the_first_request() -> None:
    with serve(fixed(200, "ok")) as server:
        request(server.url, parse=_text, auth=Auth("basic", "alice", "s3cret"))
    token = base64.b64encode(b"alice:s3cret").decode()
    assert server.requests[0].headers["authorization"] == f"Basic {token}"


def test_an_auth_failure_is_final_at_once() -> None:
    # The digest exchange itself runs against Virtuoso's /sparql-auth in the store tests.
    with serve(fixed(401, "who are you")) as server, pytest.raises(HttpFailure) as caught:
        request(server.url, parse=_text, auth=Auth("digest", "u", "p"), policy=FAST)
    assert caught.value.status == 401 and len(server.requests) == 1


def _redirect(location: str) -> Behaviour:
    return Behaviour(lambda _: (302, "text/plain", b""), headers={"Location": location})


def test_credentials_never_follow_a_redirect_to_another_server() -> None:
    # An endpoint moved elsewhere (or a hostile one) must not receive the password.
    auth = Auth("basic", "alice", "s3cret")
    with serve(fixed(200, "elsewhere")) as other, serve(_redirect(other.url + "/x")) as first:
        assert request(first.url, parse=_text, auth=auth, policy=FAST) == "elsewhere"
    assert first.requests[0].headers["authorization"].startswith("Basic ")
    assert len(other.requests) == 1
    assert "authorization" not in other.requests[0].headers


def test_credentials_follow_a_redirect_on_the_same_server() -> None:
    auth = Auth("basic", "alice", "s3cret")
    with serve(fixed(200, "moved")) as server:
        server.script[:] = [_redirect(server.url + "/new"), fixed(200, "moved")]
        assert request(server.url + "/old", parse=_text, auth=auth, policy=FAST) == "moved"
    token = base64.b64encode(b"alice:s3cret").decode()
    assert [r.headers.get("authorization") for r in server.requests] == [f"Basic {token}"] * 2


def test_a_redirect_to_another_scheme_is_refused() -> None:
    with serve(_redirect("ftp://127.0.0.1/file")) as server, pytest.raises(HttpFailure) as caught:
        request(server.url, parse=_text, policy=FAST, sleep=lambda _: None)
    assert "redirect" in caught.value.message
