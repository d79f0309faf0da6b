"""What the benchmark measures and how: a process's CPU seconds and memory from ``/proc``, a
once-a-second RSS sampler, a watch that timestamps objects turning Ready, the simulators'
request logs summed up, percentiles, and the rate-limit lower bound of a migration (the
finish time of an ideal client that never wastes a slot of GitLab's fixed one-minute windows).
Nothing here starts or stops processes.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from kubernetes import watch

from bench.procfs import memory, memory_from
from bench.stack import BenchStack, Limits, Timing, ready_reason
from gitlab_ferry_testbed.demo.migration import GROUP, VERSION

_PROJECT = re.compile(r"^/api/v4/projects/([^/?]+)")


def wait_child(
    process: subprocess.Popen[bytes], timeout: float, name: str = ""
) -> tuple[int, float, int]:
    """Wait for a child (killed after ``timeout``); its exit code, CPU seconds (``wait4``) and
    peak RSS. The peak is VmHWM sampled every 20 ms once the child runs ``name``: a forked
    child's ``ru_maxrss`` would include the parent's memory from before ``exec``."""
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            try:
                with open(f"/proc/{process.pid}/status") as found:
                    text = found.read()
            except OSError:
                return
            if not name or f"Name:\t{name}" in text:
                peak[0] = max(peak[0], memory_from(text).get("VmHWM", 0))

    sampler = threading.Thread(target=sample, daemon=True)
    killer = threading.Timer(timeout, process.kill)
    sampler.start()
    killer.start()
    try:
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        killer.cancel()
        done.set()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_utime + usage.ru_stime, peak[0]


class MemorySampler(threading.Thread):
    """``VmRSS`` of ``pid`` every ``interval`` seconds, as (epoch seconds, bytes)."""

    def __init__(self, pid: int, interval: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, int]] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self.samples.append((time.time(), memory(self.pid)["VmRSS"]))
            except (OSError, KeyError):
                return
            self._stop_event.wait(self.interval)

    def stop(self) -> list[tuple[float, int]]:
        self._stop_event.set()
        self.join(5)
        return self.samples


class ReadyWatcher(threading.Thread):
    """Watches one kind in one namespace and records when each object first turned Ready."""

    def __init__(self, stack: BenchStack, namespace: str, plural: str) -> None:
        super().__init__(daemon=True)
        self.stack, self.namespace, self.plural = stack, namespace, plural
        self.ready: dict[str, float] = {}
        self.reasons: dict[str, str] = {}
        self.objects: dict[str, dict[str, Any]] = {}
        self._stop_event = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        api = self.stack.custom()
        version = ""
        while not self._stop_event.is_set():
            stream = watch.Watch()  # type: ignore[no-untyped-call]
            try:
                for event in stream.stream(  # type: ignore[no-untyped-call]
                    api.list_namespaced_custom_object,
                    GROUP, VERSION, self.namespace, self.plural,
                    resource_version=version or None, timeout_seconds=30,
                ):  # fmt: skip
                    obj = event["object"]
                    version = obj["metadata"].get("resourceVersion", version)
                    self._see(obj)
                    if self._stop_event.is_set():
                        break
            except Exception:  # noqa: BLE001 - a dropped or expired watch is simply restarted
                version = ""
                time.sleep(0.5)

    def _see(self, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        status, reason = ready_reason(obj)
        with self._lock:
            self.objects[name] = obj
            if status == "True" and name not in self.ready:
                self.ready[name] = time.time()
                self.reasons[name] = reason

    def count(self) -> int:
        with self._lock:
            return len(self.ready)

    def wait(self, expected: int, timeout: float) -> bool:
        """Whether ``expected`` objects turned Ready within ``timeout`` seconds."""
        return self._wait_until(lambda: self.count() >= expected, timeout)

    def wait_for(self, name: str, timeout: float) -> bool:
        """Whether the object ``name`` turned Ready within ``timeout`` seconds."""
        return self._wait_until(lambda: name in self.ready, timeout)

    def _wait_until(self, done: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)
        return True

    def stop(self) -> None:
        self._stop_event.set()


@dataclass
class RequestSummary:
    """GitLab API requests as the simulators logged them."""

    total: int = 0
    throttled: int = 0
    by_endpoint: Counter[str] = field(default_factory=Counter)

    def add(self, records: Iterable[dict[str, Any]]) -> RequestSummary:
        for record in records:
            self.total += 1
            self.throttled += record["status"] == 429
            self.by_endpoint[record["endpoint"] or "unrouted"] += 1
        return self

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "throttled": self.throttled,
            "by_endpoint": dict(self.by_endpoint.most_common()),
        }


def first_project_requests(
    records: Iterable[dict[str, Any]], ids: dict[int, str]
) -> dict[str, float]:
    """Project path -> time of the first request naming it (by path or id)."""
    first: dict[str, float] = {}
    for record in records:
        match = _PROJECT.match(record["path"])
        if not match:
            continue
        ref = unquote(match.group(1))
        path = ids.get(int(ref), ref) if ref.isdigit() else ref
        if path not in first or record["time"] < first[path]:
            first[path] = record["time"]
    return first


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def spread(values: Iterable[float]) -> dict[str, float]:
    """Median, minimum and maximum of repeated runs (NaN for each when there are none)."""
    found = [value for value in values if not math.isnan(value)]
    if not found:
        return {"median": math.nan, "min": math.nan, "max": math.nan, "runs": 0}
    return {
        "median": percentile(found, 50),
        "min": min(found),
        "max": max(found),
        "runs": len(found),
    }


def median_index(values: list[float]) -> int:
    """The position of the median of ``values`` (the lower middle one of an even count): the
    run a plot or a breakdown shows for a figure summarised by ``spread``."""
    order = sorted(range(len(values)), key=values.__getitem__)
    return order[(len(values) - 1) // 2]


def _slot(used: dict[Any, int], key: Any, moment: float, limit: int, window: float) -> float:
    """The earliest time at or after ``moment`` with room in ``key``'s fixed windows."""
    if limit <= 0:
        return moment
    index = math.floor(moment / window)
    while used[(key, index)] >= limit:
        index += 1
    used[(key, index)] += 1
    return max(moment, index * window)


def ideal_finishes(
    paths: list[str], limits: Limits, timing: Timing, start: float, window: float = 60.0
) -> list[float]:
    """Finish times (seconds after ``start``) of an ideal client: every export requested at
    ``start`` or in the first window with room, each archive downloaded (per group) and
    imported in the first window with room once its export is done, no polling delay."""
    used: dict[Any, int] = defaultdict(int)
    ready = []
    for path in paths:
        exported = _slot(used, "export", start, limits.export, window) + timing.export_total
        group = path.rpartition("/")[0]
        ready.append(_slot(used, ("download", group), exported, limits.download, window))
    finishes = [
        _slot(used, "import", moment, limits.import_, window) + timing.import_total
        for moment in sorted(ready)
    ]
    return sorted(finish - start for finish in finishes)


def lower_bound(
    paths: list[str], limits: Limits, timing: Timing, start: float, window: float = 60.0
) -> float:
    return max(ideal_finishes(paths, limits, timing, start, window))
