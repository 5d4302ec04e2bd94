"""Runs from the page: live progress (SSE), cancel, one run per spec, records, downloads."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from engine.web import routes_run
from engine.web.runs import Run, RunRecord
from tests.web.people import EXPECTED_LINKS, links


def _wait(app: Starlette, run_id: str, timeout: float = 20) -> RunRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = app.state.web.runs.record(run_id)
        if record is not None and record.status != "running":
            return record  # type: ignore[no-any-return]
        time.sleep(0.02)
    raise AssertionError(f"run {run_id} still running")


def _start(client: TestClient, spec: str) -> str:
    answer = client.post("/run", data={"spec": spec}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"]).rsplit("/", 1)[1]


def _events(client: TestClient, run_id: str) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    with client.stream("GET", f"/runs/{run_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("data: "):
                out.append(json.loads(line[6:]))
                if out[-1]["type"] == "end":
                    break
    return out


def test_run_streams_progress_then_offers_the_outputs(
    client: TestClient, app: Starlette, folder: Path
) -> None:
    run_id = _start(client, "people.yaml")
    events = _events(client, run_id)
    steps = [e for e in events if e["type"] == "step"]
    assert steps[0]["text"] == "read the align source" and steps[0]["index"] == 1
    assert steps[-1]["index"] == steps[-1]["total"]
    assert events[-1] == {"type": "end", "status": "succeeded", "message": "the run succeeded"}
    record = _wait(app, run_id)
    assert record.outputs == [
        "out/people.ttl",
        "out/people.nt",
        "out/people.csv",
        "out/people.html",
    ]
    page = client.get(f"/runs/{run_id}").text
    assert "succeeded" in page and 'href="/files/out/people.ttl"' in page

    ttl = client.get("/files/out/people.ttl")
    assert ttl.headers["content-type"].startswith("text/turtle")
    assert "attachment" in ttl.headers["content-disposition"]
    assert links(ttl.content, "turtle") == EXPECTED_LINKS
    nt = client.get("/files/out/people.nt")
    assert nt.headers["content-type"].startswith("application/n-triples")
    assert links(nt.content, "nt") == EXPECTED_LINKS
    table = client.get("/files/out/people.csv")
    assert table.headers["content-type"].startswith("text/csv")
    assert table.text.splitlines()[0].startswith("align_id,target_id,distance")
    report = client.get("/files/out/people.html")
    assert report.headers["content-type"].startswith("text/html")
    assert "attachment" not in report.headers.get("content-disposition", "")  # shown, not saved

    saved = json.loads((folder / ".specengine" / "runs" / f"{run_id}.json").read_text("utf-8"))
    assert saved["status"] == "succeeded" and saved["spec"] == "people.yaml" and saved["ended"]
    index = client.get("/").text
    assert f'href="/runs/{run_id}">succeeded' in index


def _blocked_at(app: Starlette, step: int) -> tuple[threading.Event, threading.Event]:
    reached, release = threading.Event(), threading.Event()

    def hook(run: Run, index: int) -> None:
        if index == step:
            reached.set()
            release.wait(10)

    app.state.web.runs.step_hook = hook
    return reached, release


def test_a_second_run_of_the_same_spec_is_refused(client: TestClient, app: Starlette) -> None:
    reached, release = _blocked_at(app, 2)
    run_id = _start(client, "people.yaml")
    assert reached.wait(10)
    second = client.post("/run", data={"spec": "people.yaml"})
    assert second.status_code == 409
    assert "people.yaml is already running" in second.text
    release.set()
    assert _wait(app, run_id).status == "succeeded"
    assert (
        client.post("/run", data={"spec": "people.yaml"}, follow_redirects=False).status_code == 303
    )


def test_cancel_stops_before_the_next_step_and_keeps_the_outputs(
    client: TestClient, app: Starlette, folder: Path
) -> None:
    (folder / "out").mkdir()
    (folder / "out" / "people.ttl").write_text("previous\n", encoding="utf-8")
    reached, release = _blocked_at(app, 3)
    run_id = _start(client, "people.yaml")
    assert reached.wait(10)
    answer = client.post(f"/runs/{run_id}/cancel", headers={"Accept": "application/json"})
    assert answer.json() == {"cancelling": True}
    release.set()
    record = _wait(app, run_id)
    assert record.status == "cancelled"
    assert (folder / "out" / "people.ttl").read_text(encoding="utf-8") == "previous\n"
    assert not (folder / "out" / "people.nt").exists()
    events = _events(client, run_id)
    assert events[-1]["status"] == "cancelled"
    assert "cancelled" in client.get(f"/runs/{run_id}").text


def test_a_spec_writing_outside_the_folder_is_not_run(client: TestClient, folder: Path) -> None:
    answer = client.post("/run", data={"spec": "seed-people.yaml"})
    assert answer.status_code == 409
    assert "outside the served folder" in answer.text
    assert not (folder.parent / "out").exists()


def test_a_failed_run_says_why(client: TestClient, app: Starlette, folder: Path) -> None:
    (folder / "data").mkdir()
    (folder / "data" / "a.csv").write_text("row,name\n0,Paul\n1,Jacques,extra\n", encoding="utf-8")
    (folder / "broken.yaml").write_text(
        "kind: alignment\nname: broken\nsources:\n"
        "  align: {csv: data/a.csv, id: {template: 'http://e.org/{row}'}}\n"
        "  target: {csv: data/a.csv, id: {template: 'http://e.org/t{row}'}}\n"
        "attributes:\n  - {name: name, metric: levenshtein}\nthreshold: 1\n"
        "outputs:\n  - {csv: out/broken.csv}\n",
        encoding="utf-8",
    )
    record = _wait(app, _start(client, "broken.yaml"))
    assert record.status == "failed"
    assert "data/a.csv:3: expected 2 fields, found 3" in record.message
    assert "data/a.csv:3: expected 2 fields, found 3" in client.get(f"/runs/{record.id}").text
    assert not (folder / "out" / "broken.csv").exists()


def test_image_specs_show_their_plan_and_need_a_confirmation(
    client: TestClient, folder: Path
) -> None:
    (folder / "img.yaml").write_text(
        "kind: image\nname: img\ndebian: {suite: bookworm}\nformats: [qcow2]\n"
        "output: out/img\ncache: cache\n",
        encoding="utf-8",
    )
    spec_page = client.get("/spec/img.yaml").text
    assert 'action="/plan/img.yaml"' in spec_page and 'id="run"' not in spec_page
    refused = client.post("/run", data={"spec": "img.yaml"})
    assert refused.status_code == 409 and "confirm" in refused.text
    plan = client.post("/plan/img.yaml")
    assert "plan for image &#39;img&#39;" in plan.text and "to build" in plan.text
    assert 'name="confirm" value="yes" required' in plan.text
    assert not (folder / ".specengine" / "runs").exists()


def _no_execution(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing is built, planned or connected to, even if a check were missing."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the web interface executed a spec it must refuse")

    monkeypatch.setattr("engine.execute.execute", refuse)


IMAGE = "kind: image\nname: img\ndebian: {suite: bookworm}\nformats: [qcow2]\noutput: out/img\n"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("cache: cache\nhooks: ['echo hi > \"$1\"/etc/motd']\n", "hooks run shell commands"),
        ("", "set `cache:` to a folder inside it"),
    ],
)
def test_image_hooks_and_the_default_cache_are_refused(
    client: TestClient, folder: Path, monkeypatch: pytest.MonkeyPatch, extra: str, message: str
) -> None:
    _no_execution(monkeypatch)
    (folder / "img.yaml").write_text(IMAGE + extra, encoding="utf-8")
    refused = client.post("/run", data={"spec": "img.yaml", "confirm": "yes"})
    assert refused.status_code == 409 and message in refused.text
    assert "engine run" in refused.text
    plan = client.post("/plan/img.yaml")
    assert plan.status_code == 422 and message in plan.text and 'id="apply"' not in plan.text
    assert not (folder / ".specengine" / "runs").exists()


def _pool(folder: Path, key: Path) -> None:
    (folder / "known_hosts").write_text("", encoding="utf-8")
    (folder / "pool.yaml").write_text(
        "kind: volume-pool\nname: pool\n"
        f"host: {{address: 192.0.2.9, user: specengine, key: {key}, known_hosts: known_hosts}}\n"
        "zfs: {base: tank/volume}\niscsi: {portal: '192.0.2.9:3260', initiators: [ALL]}\n"
        "volumes:\n  - {name: vol-db, size: 1G}\n",
        encoding="utf-8",
    )


def test_the_plan_checks_paths_outside_the_folder_first(
    client: TestClient, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_execution(monkeypatch)
    key = folder.parent / "someone-elses-key"
    key.write_text("PRIVATE KEY\n", encoding="utf-8")
    _pool(folder, key)
    plan = client.post("/plan/pool.yaml")
    assert plan.status_code == 422
    assert "outside the served folder" in plan.text and str(key) in plan.text
    # seed-people.yaml writes ../out: its dry run is refused as its run is.
    plan = client.post("/plan/seed-people.yaml")
    assert plan.status_code == 422 and "outside the served folder" in plan.text


def test_the_plan_connects_only_on_a_post_of_this_site(
    client: TestClient, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_execution(monkeypatch)
    (folder / "key").write_text("PRIVATE KEY\n", encoding="utf-8")
    _pool(folder, folder / "key")
    shown = client.get("/plan/pool.yaml")  # a link or an <img> of another page
    assert shown.status_code == 200
    assert 'method="post" action="/plan/pool.yaml"' in shown.text and 'id="plan"' not in shown.text
    for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        assert client.post("/plan/pool.yaml", headers=headers).status_code == 403


def test_a_run_record_damaged_on_disk_is_reported(client: TestClient, folder: Path) -> None:
    runs_folder = folder / ".specengine" / "runs"
    runs_folder.mkdir(parents=True)
    (runs_folder / "0123456789ab.json").write_text('{"id": "0123', encoding="utf-8")
    page = client.get("/runs/0123456789ab")
    assert page.status_code == 409
    assert ".specengine/runs/0123456789ab.json is damaged" in page.text
    assert client.get("/").status_code == 200  # the listing skips it
    assert client.get("/runs/" + "a" * 300).status_code == 404  # no such run, no OSError


def test_following_a_run_takes_no_thread(
    client: TestClient, app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A thread per open page (blocked while waiting for events) would soon take
    # the whole pool, and with it every validation and save.
    run_id = _start(client, "people.yaml")
    _wait(app, run_id)
    run = app.state.web.runs.live(run_id)
    end = run.events.pop()  # as if still running: the page waits for the end

    def threads(*args: object, **kwargs: object) -> object:
        raise AssertionError("the event stream ran in a thread")

    monkeypatch.setattr(routes_run, "run_in_threadpool", threads)
    monkeypatch.setattr(routes_run, "POLL_S", 0.01)
    later = threading.Timer(0.2, lambda: run.emit("end", **{k: end[k] for k in end if k != "type"}))
    later.start()
    events = _events(client, run_id)
    later.join()
    assert events[-1] == end


def _fake_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """An image build step that makes small artefacts in the cache entry, at once."""
    from engine.image.build import handle_build

    def build(step: Any, state: Any) -> None:
        cache = Path(step.cache)
        if not state.dry_run:
            cache.mkdir(parents=True, exist_ok=True)
            (cache / "disk.qcow2").write_bytes(b"qcow2")
            (cache / "packages.tsv").write_text("bash\t5.2\tamd64\n", encoding="utf-8")
            state.manifest = {"artefacts": {"disk.qcow2": {"sha256": "0" * 64, "size": 5}}}
            state.cached = True
        state.cache = cache
        assert handle_build is not build  # the real one is never called

    monkeypatch.setattr("engine.image.kind.handle_build", build)


def test_an_image_run_goes_step_by_step_and_cancels_between_steps(
    client: TestClient, app: Starlette, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_build(monkeypatch)
    (folder / "img.yaml").write_text(IMAGE + "cache: cache\n", encoding="utf-8")
    answer = client.post("/run", data={"spec": "img.yaml", "confirm": "yes"})
    run_id = str(answer.url).rsplit("/", 1)[1]
    events = _events(client, run_id)
    assert [(e["index"], e["total"], e["text"]) for e in events if e["type"] == "step"] == [
        (1, 2, "Build the recipe (unless its cache entry exists)"),
        (2, 2, "Put the artefacts and the manifest into the output folder (one journaled commit)"),
    ]
    record = _wait(app, run_id)
    assert record.status == "succeeded" and record.outputs == ["out/img"]
    assert record.summary.startswith("image 'img': reused the cached build")
    assert (folder / "out" / "img" / "disk.qcow2").read_bytes() == b"qcow2"

    # Cancelled after the build: the outputs stay as they were (a file of their own,
    # not the hard link to the cache entry the run made).
    (folder / "out" / "img" / "disk.qcow2").unlink()
    (folder / "out" / "img" / "disk.qcow2").write_bytes(b"previous")
    reached, release = _blocked_at(app, 2)
    answer = client.post("/run", data={"spec": "img.yaml", "confirm": "yes"})
    run_id = str(answer.url).rsplit("/", 1)[1]
    assert reached.wait(10)
    client.post(f"/runs/{run_id}/cancel", headers={"Accept": "application/json"})
    release.set()
    assert _wait(app, run_id).status == "cancelled"
    assert (folder / "out" / "img" / "disk.qcow2").read_bytes() == b"previous"
