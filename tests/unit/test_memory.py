"""Free memory goes back to the system after a burst (glibc's malloc_trim)."""

from __future__ import annotations

import asyncio
import platform

import pytest

from gitlab_ferry import memory

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")


def _rss() -> int:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


def test_memory_freed_in_the_middle_of_the_heap_is_given_back():
    # Runs of 1 KiB blocks (the C allocator's, not pymalloc's) with a survivor after each run:
    # once the runs are freed the heap cannot shrink from its top, so the pages stay resident.
    runs, keepers = [], []
    for _ in range(100):
        runs.append([bytes(1024) + bytes([i % 256]) for i in range(1000)])
        keepers.append(bytes(2048))
    runs.clear()
    before = _rss()
    assert memory.release_free_memory()
    assert before - _rss() > 50 * 2**20
    assert len(keepers) == 100


async def test_periodic_release_runs_until_cancelled(monkeypatch):
    calls = []
    monkeypatch.setattr(memory, "release_free_memory", lambda: calls.append(1) or True)
    task = asyncio.create_task(memory.release_periodically(0.01))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(calls) >= 3
