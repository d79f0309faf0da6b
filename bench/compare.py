"""Scenario 2, against the scripts people use today: the same migration (N projects, the
simulators of scenario 1 but with limits that bind, 20/min) by gitlab-ferry, by a concurrent
asyncio script with no shared limiter, and by python-gitlab's documented one-at-a-time loop.
Each contender has its own GitLab user (so its own rate-limit buckets and exports) and its own
destination group, starts at the start of a rate-limit minute, and is measured from the
simulators' request logs (filtered by user) and its process's CPU time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.measure import RequestSummary, lower_bound, wait_child
from bench.stack import (
    BenchStack,
    Limits,
    Simulator,
    project_paths,
    user,
    wait_window_start,
    write_seed,
)
from bench.throughput import TIMING, migrate

LIMITS = Limits(export=20, import_=20, download=20)
REPO = Path(__file__).resolve().parent.parent
#: contender -> (GitLab user, destination group, module of a baseline script or None)
CONTENDERS = {
    "gitlab-ferry": ("bench-ferry", "ferry", None),
    "asyncio script": ("bench-asyncio", "asyncio", "bench.baseline_async"),
    "python-gitlab": ("bench-python-gitlab", "python-gitlab", "bench.baseline_gitlab"),
}


def run_script(module: str, args: list[str], log: Path, timeout: float) -> dict[str, Any]:
    """Run a baseline script to its end: its JSON output (with its own VmHWM as ``peak_rss``)
    plus its CPU seconds from ``wait4``."""
    out = log.with_suffix(".json")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(out, "wb") as stdout, open(log, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", module, *args], stdout=stdout, stderr=stderr, cwd=REPO, env=env
        )
    code, cpu, _ = wait_child(process, timeout)
    if code != 0:
        raise RuntimeError(f"{module} failed ({code}):\n{log.read_text()[-3000:]}")
    result: dict[str, Any] = json.loads(out.read_text())
    result["cpu_seconds"] = cpu
    return result


def baseline(
    module: str, name: str, paths: list[str], sims: tuple[Simulator, Simulator], work: Path
) -> dict[str, Any]:
    username, prefix, _ = CONTENDERS[name]
    source, destination = sims
    listing = work / "compare-paths.txt"
    listing.write_text("\n".join(paths) + "\n")
    extra = ["--poll", "5"] if module.endswith("async") else []
    args = [
        "--source", source.url, "--destination", destination.url,
        "--token", f"glpat-{username}", "--prefix", prefix, *extra, str(listing),
    ]  # fmt: skip
    start = wait_window_start()
    result = run_script(module, args, work / f"{module}.log", timeout=len(paths) * 120 + 600)
    requests = RequestSummary()
    for sim in sims:
        requests.add(sim.requests(username))
    bound = lower_bound(paths, LIMITS, TIMING, start)
    result.update(
        n=len(paths),
        completed=len(result["finishes"]),
        launched=start,
        throttled=requests.throttled,
        requests=requests.as_dict(),
        requests_per_migration=requests.total / max(len(result["finishes"]), 1),
        lower_bound_seconds=bound,
        wall_over_bound=result["wall_seconds"] / bound,
    )
    return result


def run(stack: BenchStack, n: int) -> dict[str, Any]:
    work = stack.directory
    paths = project_paths(n)
    groups = sorted({p.split("/")[0] for p in paths})
    users = [user(username) for username, _, _ in CONTENDERS.values()]
    destination_groups = [
        group
        for _, prefix, _ in CONTENDERS.values()
        for group in (prefix, *(f"{prefix}/{g}" for g in groups))
    ]
    source_seed = write_seed(work / "compare-source.yaml", paths, groups=groups, users=users)
    destination_seed = write_seed(
        work / "compare-destination.yaml", [], groups=destination_groups, users=users
    )
    source = stack.start_simulator("compare-source", source_seed, LIMITS, TIMING)
    destination = stack.start_simulator("compare-destination", destination_seed, LIMITS, TIMING)
    results: dict[str, Any] = {"n": n, "limits": LIMITS.__dict__, "timing": TIMING.__dict__}
    try:
        username, prefix, _ = CONTENDERS["gitlab-ferry"]
        token = f"glpat-{username}"
        namespace = stack.namespace(
            "bench-compare", {"source-token": token, "destination-token": token}
        )
        operator = stack.start_bench_operator(namespace, [source, destination], LIMITS)
        try:
            ferry = migrate(
                stack, operator, namespace, paths, source, destination,
                limits=LIMITS, timing=TIMING, prefix=prefix, user=username,
            )  # fmt: skip
        finally:
            stack.release(operator)
        ferry.pop("rss_samples")
        results["gitlab-ferry"] = ferry
        for name, (_, _, module) in CONTENDERS.items():
            if module is not None:
                results[name] = baseline(module, name, paths, (source, destination), work)
        return results
    finally:
        stack.release(source, destination)
