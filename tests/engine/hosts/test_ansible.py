"""Real ansible-runner runs of small playbooks: events, facts, failures named by task."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from engine.hosts.ansible import HostError, PlaybookRun, run_playbook


def _playbook(tmp_path: Path, tasks: str) -> str:
    path = tmp_path / "play.yml"
    path.write_text(
        "- name: test\n  hosts: all\n  gather_facts: false\n  tasks:\n" + tasks, encoding="utf-8"
    )
    return str(path)


def test_a_run_reports_its_tasks_and_facts(tmp_path: Path) -> None:
    play = _playbook(
        tmp_path,
        "    - name: say hello\n      ansible.builtin.command: echo hello\n"
        "    - name: remember\n      ansible.builtin.set_fact:\n        answer: '{{ 40 + extra }}'\n",
    )
    seen: list[str] = []
    result = run_playbook(PlaybookRun(play, {"extra": 2}), progress=seen.append)
    assert seen == ["say hello", "remember"]
    assert result.tasks == [("say hello", "ok"), ("remember", "ok")]
    assert str(result.facts["answer"]) == "42"


def test_a_failed_task_is_named_with_its_output(tmp_path: Path) -> None:
    play = _playbook(
        tmp_path,
        "    - name: fine\n      ansible.builtin.command: 'true'\n"
        "    - name: break things\n      ansible.builtin.shell: echo 'no space left' >&2; exit 3\n"
        "    - name: never\n      ansible.builtin.command: 'true'\n",
    )
    with pytest.raises(HostError) as caught:
        run_playbook(PlaybookRun(play, {}))
    message = str(caught.value)
    assert "task 'break things' failed on localhost" in message
    assert "no space left" in message and "(exit code 3)" in message


def test_a_missing_playbook_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(HostError, match="no playbook"):
        run_playbook(PlaybookRun(str(tmp_path / "none.yml"), {}))


def test_the_engine_stays_interruptible_after_a_playbook(tmp_path: Path) -> None:
    # ansible-runner swaps in SIGINT/SIGTERM handlers that only set a flag and
    # never puts the old ones back: Ctrl-C after an image build did nothing.
    play = _playbook(tmp_path, "    - name: noop\n      ansible.builtin.command: 'true'\n")
    before = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    run_playbook(PlaybookRun(play, {}))
    assert {number: signal.getsignal(number) for number in before} == before
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)


def test_ctrl_c_during_a_playbook_stops_it_and_interrupts(tmp_path: Path) -> None:
    play = _playbook(
        tmp_path,
        "    - name: slow\n      ansible.builtin.command: sleep 30\n"
        "    - name: never\n      ansible.builtin.command: touch " + str(tmp_path / "ran") + "\n",
    )
    timer = threading.Timer(3, signal.raise_signal, (signal.SIGINT,))
    started = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        run_playbook(PlaybookRun(play, {}))
    assert time.monotonic() - started < 20
    assert not (tmp_path / "ran").exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_secrets_reach_the_playbook_only(tmp_path: Path) -> None:
    play = _playbook(
        tmp_path,
        "    - name: read\n      ansible.builtin.set_fact:\n"
        "        seen: \"{{ lookup('ansible.builtin.env', 'SPECENGINE_TEST_SECRET') }}\"\n",
    )
    result = run_playbook(PlaybookRun(play, {}), secrets={"SPECENGINE_TEST_SECRET": "s3cret"})
    assert result.facts["seen"] == "s3cret"
    assert "SPECENGINE_TEST_SECRET" not in os.environ
