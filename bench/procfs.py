"""Readings of a process from ``/proc``: CPU seconds, RSS and peak RSS. Standard library
only, so the baseline scripts can measure themselves without loading what they measure
against."""

from __future__ import annotations

import os

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of a running process (``/proc/<pid>/stat``)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def memory_from(status: str) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` (peak RSS) in bytes from the text of ``/proc/<pid>/status``."""
    found = {}
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) * 1024
    return found


def memory(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` of a running process, in bytes."""
    with open(f"/proc/{pid}/status") as status:
        return memory_from(status.read())


def peak_rss() -> int:
    """This process's VmHWM in bytes (``ru_maxrss`` of a forked child counts its parent's
    pages from before ``exec``)."""
    return memory(os.getpid())["VmHWM"]
