"""Real ansible-runner runs of small playbooks: events, facts, failures named by task."""

from __future__ import annotations

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
