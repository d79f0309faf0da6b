"""Scenario 4, scale at rest: 1,000 ProjectExports created and finished at high limits, then
100 more whose exports GitLab keeps running (the source's export duration is raised to a day)
with 100 ProjectImports waiting on them, so 1,100 finished-or-waiting objects plus 100 exports
in flight. After a settling minute the operator is left alone for a few minutes; its RSS is
sampled every second and its CPU seconds are read at the start and end of each minute.
"""

from __future__ import annotations

import time
from typing import Any

from bench.measure import MemorySampler, ReadyWatcher, RequestSummary
from bench.procfs import cpu_seconds, memory
from bench.stack import BenchStack, Limits, Timing, project_paths

LIMITS = Limits(export=1000, import_=1000, download=1000)
TIMING = Timing(export_queue=1.0, export_run=2.0, import_queue=1.0, import_run=2.0)
DAY = 86400.0


def run(
    stack: BenchStack,
    finished: int = 1000,
    in_flight: int = 100,
    minutes: int = 3,
    settle: float = 60.0,
) -> dict[str, Any]:
    paths = project_paths(finished + in_flight)
    found = stack.start_migration("at-rest", paths, LIMITS, TIMING)
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
