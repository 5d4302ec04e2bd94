"""engine/web/limits.py in process: the validation budget and the answer's time limit."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from engine.loader import load_spec
from engine.web import specs
from engine.web.app import create_app
from engine.web.limits import Budget, BudgetExceededError


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at the end of the test: the slow validations then end (no thread left behind)."""
    event = threading.Event()
    yield event
    event.set()


def _validations() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name == "validate")


def test_a_validation_that_hangs_does_not_hang_the_listing(
    folder: Path, monkeypatch: pytest.MonkeyPatch, release: threading.Event
) -> None:
    started: list[str] = []

    def hanging(path: Path, **options: Any) -> Any:
        if path.name == "people.yaml":
            started.append(path.name)
            release.wait(60)  # a validation exponential in its nesting, in effect
        return load_spec(path, **options)

    monkeypatch.setattr(specs, "load_spec", hanging)
    with TestClient(create_app(folder, validation_timeout_s=0.5)) as client:
        began = time.monotonic()
        index = client.get("/")
        first = time.monotonic() - began
        assert index.status_code == 200
        assert first < 3, first
        assert "validation timed out: did not finish within 0.5 s" in index.text
        assert 'data-spec="bad.yaml"' in index.text  # the others are listed, validated
        # Loading again neither waits again nor starts another validation of it.
        began = time.monotonic()
        for _ in range(5):
            assert client.get("/").status_code == 200
            assert client.get("/spec/people.yaml").status_code == 200
        assert time.monotonic() - began < 3
        assert started == ["people.yaml"] and _validations() == 1
        # Run and plan say so too, and start nothing.
        run = client.post("/run", data={"spec": "people.yaml"})
        assert run.status_code == 409 and "validation timed out" in run.text
        assert client.post("/plan/people.yaml").status_code == 422
        # Once it ends, the file is validated as usual again.
        release.set()
        deadline = time.monotonic() + 10
        while _validations() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "validation timed out" not in client.get("/spec/people.yaml").text


def test_saving_a_spec_whose_validation_hangs_writes_nothing(
    client: TestClient, folder: Path, monkeypatch: pytest.MonkeyPatch, release: threading.Event
) -> None:
    def hanging(path: Path, **options: Any) -> Any:
        release.wait(60)
        return load_spec(path, **options)

    page = client.get("/spec/people.yaml").text
    sha = page.split('name="sha256" value="')[1].split('"')[0]
    before = (folder / "people.yaml").read_bytes()
    monkeypatch.setattr(specs, "load_spec", hanging)
    app = create_app(folder, validation_timeout_s=0.3)
    with TestClient(app) as slow:
        text = before.decode().replace("threshold: 2", "threshold: 3")
        answer = slow.post("/save/people.yaml", data={"text": text, "sha256": sha})
    assert answer.status_code == 422 and "validation timed out" in answer.text
    assert (folder / "people.yaml").read_bytes() == before


def test_the_budget_shares_a_running_call_and_caps_how_many_run() -> None:
    gate = threading.Event()
    calls: list[str] = []

    def slow(name: str) -> str:
        calls.append(name)
        gate.wait(10)
        return name

    budget = Budget(0.2, running=2)
    with pytest.raises(BudgetExceededError, match=r"did not finish within 0\.2 s"):
        budget.run("a", lambda: slow("a"))
    began = time.monotonic()
    with pytest.raises(BudgetExceededError):
        budget.run("a", lambda: slow("a again"))  # not started twice, not waited for again
    assert time.monotonic() - began < 0.1
    with pytest.raises(BudgetExceededError):
        budget.run("b", lambda: slow("b"))
    with pytest.raises(BudgetExceededError, match="2 validations are still running"):
        budget.run("c", lambda: slow("c"))
    gate.set()
    deadline = time.monotonic() + 5
    while _validations() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert calls == ["a", "b"]
    assert budget.run("a", lambda: "fresh") == "fresh"
    with pytest.raises(ZeroDivisionError):
        budget.run("d", lambda: 1 // 0)


def test_an_answer_that_does_not_start_in_time_is_a_504(
    folder: Path, monkeypatch: pytest.MonkeyPatch, release: threading.Event
) -> None:
    from engine.web import routes_browse

    def slow_plan(*args: object) -> str:
        release.wait(30)
        return "late"

    monkeypatch.setattr(routes_browse, "plan_preview", slow_plan)
    with TestClient(create_app(folder, request_timeout_s=0.5)) as client:
        began = time.monotonic()
        answer = client.post("/plan/people.yaml")
        assert time.monotonic() - began < 5
        assert answer.status_code == 504
        assert "longer than 0.5 s" in answer.text and 'role="alert"' not in answer.text
        assert "role=alert" in answer.text
        assert client.get("/").status_code == 200  # the server goes on
        release.set()
