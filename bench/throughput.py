"""Scenario 1, migration throughput: N ProjectExport + ProjectImport pairs (the example
migration, once per project) between two simulated GitLabs whose limits, like the operator's,
are ten times GitLab's export/import defaults. Applied at the start of a rate-limit minute; the
run ends when the last ProjectImport is Ready. Measures wall time against the rate-limit lower
bound, 429s, requests per migration, the operator's CPU and memory, and apply-to-first-request
latency, and keeps the timelines the plots need.
"""

from __future__ import annotations

import time
from typing import Any

from bench.measure import (
    MemorySampler,
    ReadyWatcher,
    RequestSummary,
    first_project_requests,
    ideal_finishes,
    percentile,
)
from bench.procfs import cpu_seconds, memory
from bench.stack import (
    BenchStack,
    Limits,
    Operator,
    Simulator,
    Timing,
    project_paths,
    wait_window_start,
)

LIMITS = Limits(export=60, import_=60, download=60)
TIMING = Timing()


def migrate(
    stack: BenchStack,
    operator: Operator,
    namespace: str,
    paths: list[str],
    source: Simulator,
    destination: Simulator,
    *,
    limits: Limits,
    timing: Timing,
    prefix: str = "",
    user: str | None = None,
) -> dict[str, Any]:
    """Apply one migration pair per path at the start of a minute, wait until every import is
    Ready, and measure the run (shared by scenarios 1 and 2)."""
    documents = stack.migration_documents(paths, source, destination, prefix)
    watcher = ReadyWatcher(stack, namespace, "projectimports")
    watcher.start()
    sampler = MemorySampler(operator.pid)
    sampler.start()
    cpu_before = cpu_seconds(operator.pid)
    start = wait_window_start()
    created = stack.create(namespace, documents)
    applied = time.time()
    ideal = ideal_finishes(paths, limits, timing, start)
    bound = max(ideal)
    finished = watcher.wait(len(paths), timeout=bound * 3 + 300)
    end = max(watcher.ready.values()) if finished else time.time()
    cpu = cpu_seconds(operator.pid) - cpu_before
    peak = memory(operator.pid)["VmHWM"]
    samples = sampler.stop()
    watcher.stop()

    requests = RequestSummary()
    for sim in (source, destination):
        requests.add(sim.requests(user))
    throttled = requests.throttled
    ids = {p["id"]: p["path_with_namespace"] for p in source.projects()}
    first = first_project_requests(source.requests(user), ids)
    latencies = [
        first[path] - created[f"ProjectExport/{doc['metadata']['name']}"]
        for doc, path in zip(documents[::2], paths, strict=True)
        if path in first
    ]
    completed = watcher.count()
    wall = end - start
    return {
        "n": len(paths),
        "completed": completed,
        "finished_all": finished,
        "reasons": sorted(set(watcher.reasons.values())),
        "limits": limits.__dict__,
        "timing": timing.__dict__,
        "start": start,
        "apply_seconds": applied - start,
        "wall_seconds": wall,
        "lower_bound_seconds": bound,
        "wall_over_bound": wall / bound,
        "throttled": throttled,
        "requests": requests.as_dict(),
        "requests_per_migration": requests.total / max(completed, 1),
        # A transfer is one export or one import, as gitlab_ferry_transfers_total counts them.
        "requests_per_transfer": requests.total / max(2 * completed, 1),
        "cpu_seconds": cpu,
        "peak_rss": peak,
        "latency_p50": percentile(latencies, 50),
        "latency_p95": percentile(latencies, 95),
        "finishes": sorted(t - start for t in watcher.ready.values()),
        "ideal_finishes": ideal,
        "rss_samples": [(t - start, rss) for t, rss in samples],
    }


def run(stack: BenchStack, n: int) -> dict[str, Any]:
    paths = project_paths(n)
    found = stack.start_migration("throughput", paths, LIMITS, TIMING)
    source, destination, operator = found.source, found.destination, found.operator
    try:
        result = migrate(
            stack, operator, found.namespace, paths, source, destination,
            limits=LIMITS, timing=TIMING,
        )  # fmt: skip
        result["operator_log_lines"] = len(operator.child.log.read_text().splitlines())
        return result
    finally:
        stack.release(operator, source, destination)
