"""Scenario 2, against the scripts people use today: the same migration (N projects, the
simulators of scenario 1 but with limits that bind, 10/min) by gitlab-ferry, by a concurrent
asyncio script with no shared limiter, and by python-gitlab's documented one-at-a-time loop.
Each contender has its own GitLab user (so its own rate-limit buckets and exports) and its own
destination group, starts at the start of a rate-limit minute, and is measured from the
simulators' request logs (filtered by user) and its process's CPU time. Every run has fresh
simulators and runs the three contenders one after another, so each run is side by side; the
figures are summarised over the runs, the ratios to gitlab-ferry taken run by run.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import throughput
from bench.measure import RequestSummary, lower_bound, median_index, spread, wait_child
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

LIMITS = Limits(export=10, import_=10, download=10)
REPO = Path(__file__).resolve().parent.parent
#: contender -> (GitLab user, destination group, module of a baseline script or None)
CONTENDERS = {
    "gitlab-ferry": ("bench-ferry", "ferry", None),
    "asyncio script": ("bench-asyncio", "asyncio", "bench.baseline_async"),
    "python-gitlab": ("bench-python-gitlab", "python-gitlab", "bench.baseline_gitlab"),
}
#: The endpoints GitLab's per-user limits count: export requests, downloads, imports.
LIMITED = ("export", "download", "import")
#: Each contender's figures summarised over the runs as median, min and max.
FIGURES = (
    "wall_seconds",
    "wall_over_bound",
    "requests_per_migration",
    "rate_limited_per_migration",
    "cpu_seconds",
    "peak_rss",
)
#: ratio -> the figure it divides: a contender's over gitlab-ferry's, in the same run.
RATIOS = {
    "wall_ratio": "wall_seconds",
    "requests_ratio": "requests_per_migration",
    "rate_limited_ratio": "rate_limited_per_migration",
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


def rate_limited_per_migration(contender: dict[str, Any]) -> float:
    """Requests to rate-limited endpoints (429s included) per completed migration."""
    counts: dict[str, int] = contender["requests"]["by_endpoint"]
    completed: int = contender["completed"]
    return sum(counts.get(name, 0) for name in LIMITED) / max(completed, 1)


def baseline(
    module: str, name: str, paths: list[str], sims: tuple[Simulator, Simulator], stem: Path
) -> dict[str, Any]:
    """One baseline script's migration of ``paths``; its files are ``<stem>-<module>.*``."""
    username, prefix, _ = CONTENDERS[name]
    source, destination = sims
    listing = stem.with_name(f"{stem.name}-paths.txt")
    listing.write_text("\n".join(paths) + "\n")
    extra = ["--poll", "5"] if module.endswith("async") else []
    args = [
        "--source", source.url, "--destination", destination.url,
        "--token", f"glpat-{username}", "--prefix", prefix, *extra, str(listing),
    ]  # fmt: skip
    start = wait_window_start()
    log = stem.with_name(f"{stem.name}-{module}.log")
    result = run_script(module, args, log, timeout=len(paths) * 120 + 600)
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


def _seeds(work: Path, paths: list[str]) -> tuple[Path, Path]:
    """The source seed (``paths`` and the contenders' users) and the destination's (each
    contender's group with the source's groups below it)."""
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
    return source_seed, destination_seed


def _ferry(
    stack: BenchStack, paths: list[str], sims: tuple[Simulator, Simulator], index: int
) -> dict[str, Any]:
    """gitlab-ferry's migration of ``paths``: a fresh namespace and operator for run ``index``."""
    username, prefix, _ = CONTENDERS["gitlab-ferry"]
    token = f"glpat-{username}"
    namespace = stack.namespace(
        f"bench-compare-{index}", {"source-token": token, "destination-token": token}
    )
    source, destination = sims
    operator = stack.start_bench_operator(namespace, [source, destination], LIMITS)
    try:
        ferry = migrate(
            stack, operator, namespace, paths, source, destination,
            limits=LIMITS, timing=TIMING, prefix=prefix, user=username,
        )  # fmt: skip
    finally:
        stack.release(operator)
    ferry.pop("rss_samples")
    return ferry


def run_once(
    stack: BenchStack, paths: list[str], seeds: tuple[Path, Path], index: int
) -> dict[str, dict[str, Any]]:
    """One run on fresh simulators: contender -> figures, the contenders in their order."""
    source = stack.start_simulator(f"compare-{index}-source", seeds[0], LIMITS, TIMING)
    destination = stack.start_simulator(f"compare-{index}-destination", seeds[1], LIMITS, TIMING)
    sims = (source, destination)
    try:
        results = {"gitlab-ferry": _ferry(stack, paths, sims, index)}
        for name, (_, _, module) in CONTENDERS.items():
            if module is not None:
                stem = stack.directory / f"compare-{index}"
                results[name] = baseline(module, name, paths, sims, stem)
        for figures in results.values():
            figures["rate_limited_per_migration"] = rate_limited_per_migration(figures)
        return results
    finally:
        stack.release(source, destination)


def _ratio(value: float, reference: float) -> float:
    return value / reference if reference else math.nan


def summarize(runs: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per contender: median and min-max of each figure over the runs, its 429s summed, and
    its ratios to gitlab-ferry, each taken within one run and then summarised the same way."""
    summary: dict[str, dict[str, Any]] = {}
    for name in CONTENDERS:
        found = throughput.summarize([run[name] for run in runs], FIGURES)
        for ratio, figure in RATIOS.items():
            found[ratio] = spread(
                _ratio(run[name][figure], run["gitlab-ferry"][figure]) for run in runs
            )
        summary[name] = found
    return summary


def median_run(runs: list[dict[str, dict[str, Any]]]) -> int:
    """The index of the run with gitlab-ferry's median wall time over the lower bound."""
    return median_index([run["gitlab-ferry"]["wall_over_bound"] for run in runs])


def run(stack: BenchStack, n: int, runs: int = 3) -> dict[str, Any]:
    paths = project_paths(n)
    seeds = _seeds(stack.directory, paths)
    found = []
    for index in range(1, runs + 1):
        print(f"==> compare run {index} of {runs}", flush=True)
        found.append(run_once(stack, paths, seeds, index))
    return {
        "n": n,
        "runs_per_case": runs,
        "limits": LIMITS.__dict__,
        "timing": TIMING.__dict__,
        "runs": found,
        "median_index": median_run(found),
        "summary": summarize(found),
    }
