"""Scenario 4, scale at rest: 1,000 ProjectExports created and finished at high limits, then
100 more whose exports GitLab keeps running (the source's export duration is raised to a day)
with 100 ProjectImports waiting on them, so 1,100 finished-or-waiting objects plus 100 exports
in flight. After a settling minute the operator is left alone for a few minutes; its RSS is
sampled every second and its CPU seconds are read at the start and end of each minute. Every
run has fresh simulators, a fresh namespace and a fresh operator; the figures are summarised
over the runs, and only the run with the median RSS maximum keeps its RSS samples (the plot).
"""

from __future__ import annotations

import math
import time
from typing import Any

from bench.measure import MemorySampler, ReadyWatcher, RequestSummary, median_index, spread
from bench.procfs import cpu_seconds, memory
from bench.stack import BenchStack, Limits, Timing, project_paths

LIMITS = Limits(export=1000, import_=1000, download=1000)
TIMING = Timing(export_queue=1.0, export_run=2.0, import_queue=1.0, import_run=2.0)
DAY = 86400.0
#: Each run's figures summarised over the runs as median, min and max.
FIGURES = (
    "seconds_to_finish_first",
    "rss_max",
    "rss_mean",
    "peak_rss_lifetime",
    "gitlab_requests_per_minute",
)


def once(
    stack: BenchStack, index: int, finished: int, in_flight: int, minutes: int, settle: float
) -> dict[str, Any]:
    """One run, in its own namespace ``bench-at-rest-<index>``."""
    paths = project_paths(finished + in_flight)
    found = stack.start_migration(f"at-rest-{index}", paths, LIMITS, TIMING)
    source, destination, namespace = found.source, found.destination, found.namespace
    operator = found.operator
    try:
        documents = stack.migration_documents(paths, source, destination)
        exports = ReadyWatcher(stack, namespace, "projectexports")
        exports.start()
        began = time.time()
        stack.create(namespace, documents[: 2 * finished : 2])
        if not exports.wait(finished, timeout=1800):
            raise TimeoutError(f"only {exports.count()} of {finished} exports finished")
        exports.stop()
        finishing = time.time() - began
        source.settings({"timing": {"export_duration": DAY}})
        stack.create(namespace, documents[2 * finished :])
        time.sleep(settle)

        in_flight_now = sum(
            (obj.get("status") or {}).get("exportStatus")
            in ("queued", "started", "regeneration_in_progress")
            for obj in stack.list(namespace, "projectexports")
        )
        for sim in (source, destination):
            sim.control("DELETE", "/requests")
        sampler = MemorySampler(operator.pid)
        sampler.start()
        per_minute = []
        for _ in range(minutes):
            before = cpu_seconds(operator.pid)
            time.sleep(60)
            per_minute.append(cpu_seconds(operator.pid) - before)
        samples = sampler.stop()
        requests = RequestSummary()
        for sim in (source, destination):
            requests.add(sim.requests())
        rss = [value for _, value in samples]
        return {
            "finished_objects": finished,
            "in_flight_exports": in_flight,
            "waiting_imports": in_flight,
            "in_flight_observed": in_flight_now,
            "seconds_to_finish_first": finishing,
            "minutes": minutes,
            "cpu_seconds_per_minute": per_minute,
            "rss_max": max(rss),
            "rss_mean": sum(rss) / len(rss),
            "peak_rss_lifetime": memory(operator.pid)["VmHWM"],
            "gitlab_requests_per_minute": requests.total / minutes,
            "requests": requests.as_dict(),
            "rss_samples": [(t - samples[0][0], value) for t, value in samples],
        }
    finally:
        stack.release(operator, source, destination)


def cpu_per_minute(run: dict[str, Any]) -> float:
    """A run's operator CPU seconds per minute at rest: the mean of its minutes."""
    per_minute: list[float] = run["cpu_seconds_per_minute"]
    return sum(per_minute) / len(per_minute) if per_minute else math.nan


def summarize(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Median and min-max of every figure over the runs (CPU: each run's mean per minute)."""
    summary = {key: spread(float(run[key]) for run in runs) for key in FIGURES}
    summary["cpu_seconds_per_minute"] = spread(cpu_per_minute(run) for run in runs)
    return summary


def median_run(runs: list[dict[str, Any]]) -> int:
    """The index of the run with the median RSS maximum at rest."""
    return median_index([run["rss_max"] for run in runs])


def run(
    stack: BenchStack,
    runs: int = 3,
    finished: int = 1000,
    in_flight: int = 100,
    minutes: int = 2,
    settle: float = 60.0,
) -> dict[str, Any]:
    found = []
    for index in range(1, runs + 1):
        print(f"==> at_rest run {index} of {runs}", flush=True)
        found.append(once(stack, index, finished, in_flight, minutes, settle))
    middle = median_run(found)
    for index, item in enumerate(found):
        if index != middle:
            item.pop("rss_samples")
    return {
        "finished_objects": finished,
        "in_flight_exports": in_flight,
        "waiting_imports": in_flight,
        "minutes": minutes,
        "runs": found,
        "median_index": middle,
        "summary": summarize(found),
    }
