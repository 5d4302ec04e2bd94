"""engine.alignment.compiled: numba's cache goes somewhere writable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.alignment import compiled
from engine.alignment.compiled import load


def test_a_module_is_loaded_once() -> None:
    assert load("engine.alignment.match_loops") is load("engine.alignment.match_loops")


def test_a_read_only_install_caches_under_the_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    compiled._cache_dir("engine.alignment.match_loops")
    expected = tmp_path / ".cache" / "specengine" / "numba"
    assert os.environ["NUMBA_CACHE_DIR"] == str(expected)
    assert expected.is_dir()


def test_a_writable_install_and_a_chosen_folder_are_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(os, "access", lambda path, mode: True)
    compiled._cache_dir("engine.alignment.match_loops")
    assert "NUMBA_CACHE_DIR" not in os.environ
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    compiled._cache_dir("engine.alignment.match_loops")
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path)
