"""Where numba keeps the kernel's machine code: beside the module, or a writable fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.alignment import kernel


def test_a_read_only_install_caches_under_the_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(kernel.os, "access", lambda path, mode: False)
    kernel._cache_dir()
    expected = tmp_path / ".cache" / "specengine" / "numba"
    assert kernel.os.environ["NUMBA_CACHE_DIR"] == str(expected)
    assert expected.is_dir()


def test_a_writable_install_and_a_chosen_folder_are_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(kernel.os, "access", lambda path, mode: True)
    kernel._cache_dir()
    assert "NUMBA_CACHE_DIR" not in kernel.os.environ
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(kernel.os, "access", lambda path, mode: False)
    kernel._cache_dir()
    assert kernel.os.environ["NUMBA_CACHE_DIR"] == str(tmp_path)
