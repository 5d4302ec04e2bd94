"""engine.memory: the allocator's free memory goes back to the system."""

from __future__ import annotations

from pathlib import Path

from engine.memory import give_back


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_freed_small_blocks_leave_the_process() -> None:
    # 200 MB in 100 KB blocks (under glibc's mapping threshold: they live in the heap),
    # then every other one freed: the heap cannot shrink from its end, only a trim
    # gives those pages back.
    blocks = [bytearray(100_000) for _ in range(2_000)]
    for block in blocks:
        block[::4096] = b"x" * len(block[::4096])  # touched: resident
    del blocks[::2]
    before = _rss_kib()
    assert give_back()
    assert before - _rss_kib() > 50_000  # KiB: most of the 100 MB freed
