"""Scenario 1, migration throughput: N projects migrated between two simulated GitLabs, two
ways side by side: through one GroupMigration (a source group tree of N projects), and through
N hand-written ProjectExport + ProjectImport pairs (the example migration, once per project).
Each run is applied at the start of a rate-limit minute on fresh simulators and a fresh
operator, and ends when the last ProjectImport is Ready. Measures wall time against the
rate-limit lower bound, 429s, requests per transfer, the operator's CPU and memory, and
apply-to-first-request latency, and keeps the timelines the plots need. Every N is run
``runs`` times each way, the two ways alternating, so their ratio comes from one session.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.measure import (
    MemorySampler,
    ReadyWatcher,
    RequestSummary,
    first_project_requests,
    ideal_finishes,
    percentile,
    spread,
)
from bench.procfs import cpu_seconds, memory
from bench.stack import (
    ROOT,
    SEED_SETTINGS,
    TOKEN,
    BenchStack,
    Limits,
    Operator,
    Simulator,
    Timing,
    project_paths,
    wait_window_start,
)
from gitlab_ferry_testbed.demo.migration import find_example, manifest
from gitlab_ferry_testbed.simulator.seed_trees import SeedTree

TIMING = Timing()
#: GitLab's export/import defaults times ten: one minute's worth is 60 of each.
LIMITS = Limits(export=60, import_=60, download=60)
#: Above this N the limits are raised (the bound follows them), so three runs each way fit.
SCALE_N = 200
SCALE_LIMITS = Limits(export=250, import_=250, download=250)
MODES = ("GroupMigration", "pairs")
TREE_GROUP = "acme"
DESTINATION_PARENT = "migrated"


def limits_for(n: int) -> Limits:
    return SCALE_LIMITS if n > SCALE_N else LIMITS


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
    documents: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Create ``documents`` (by default one migration pair per path) at the start of a minute,
    wait until one ProjectImport per path is Ready, and measure the run (shared by scenarios
    1 and 2)."""
    if documents is None:
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
    logged = {"source": source.requests(user), "destination": destination.requests(user)}
    for records in logged.values():
        requests.add(records)
    # Every request with its time, for a closer look at a run kept with --keep.
    (stack.directory / f"{namespace}-requests.json").write_text(json.dumps(logged))
    ids = {p["id"]: p["path_with_namespace"] for p in source.projects()}
    first = first_project_requests(logged["source"], ids)
    exports = {
        doc["metadata"]["name"]: path
        for doc, path in zip(documents[::2], paths, strict=False)
        if doc["kind"] == "ProjectExport"
    }
    # Pairs: from each ProjectExport's create; a GroupMigration: from its own create.
    latencies = (
        [first[path] - created[f"ProjectExport/{name}"] for name, path in exports.items()]
        if exports
        else [first[path] - min(created.values()) for path in paths if path in first]
    )
    latencies = [value for value in latencies if value == value]
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
        "throttled": requests.throttled,
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


def tree(n: int) -> SeedTree:
    """The source group tree of the GroupMigration runs: N projects of 64 KiB over a top
    group and nine subgroups (nested up to three deep), none archived."""
    return SeedTree(
        path=TREE_GROUP,
        owner="root",
        subgroups=9,
        depth=3,
        projects=n,
        repository_size="64KiB",
        relations={},
    )


def _write(path: Path, seed: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump({"settings": SEED_SETTINGS, "users": [ROOT], **seed}))
    return path


@dataclass
class Run:
    """One run's processes, what it migrates and what it creates."""

    source: Simulator
    destination: Simulator
    operator: Operator
    namespace: str
    paths: list[str]
    documents: list[dict[str, Any]]


def _group_run(stack: BenchStack, name: str, n: int, limits: Limits) -> Run:
    layout = tree(n)
    groups, projects = layout.expand()
    work = stack.directory
    source_seed = _write(work / f"{name}-source.yaml", {"groups": groups, "projects": projects})
    destination_seed = _write(
        work / f"{name}-destination.yaml", {"groups": [{"path": DESTINATION_PARENT}]}
    )
    source = stack.start_simulator(f"{name}-source", source_seed, limits, TIMING)
    destination = stack.start_simulator(f"{name}-destination", destination_seed, limits, TIMING)
    namespace = stack.namespace(name, {"source-token": TOKEN, "destination-token": TOKEN})
    operator = stack.start_bench_operator(namespace, [source, destination], limits)
    document = manifest(find_example("group-migration.yaml"), source.url, destination.url)
    spec = document["spec"]
    spec["source"]["group"] = TREE_GROUP
    spec["source"]["projects"] = {}
    spec["destination"]["parent"] = DESTINATION_PARENT
    spec["groups"] = "CreateMissing"
    # Every project may be in flight: the rate limits, not this cap, should pace the run.
    spec["maxInFlight"] = max(n, 1)
    paths = [project["path_with_namespace"] for project in projects]
    return Run(source, destination, operator, namespace, paths, [document])


def _pairs_run(stack: BenchStack, name: str, n: int, limits: Limits) -> Run:
    paths = project_paths(n)
    found = stack.start_migration(name, paths, limits, TIMING, namespace=name)
    documents = stack.migration_documents(paths, found.source, found.destination)
    return Run(found.source, found.destination, found.operator, found.namespace, paths, documents)


STARTERS: dict[str, Callable[[BenchStack, str, int, Limits], Run]] = {
    "GroupMigration": _group_run,
    "pairs": _pairs_run,
}


def run_once(stack: BenchStack, mode: str, n: int, index: int) -> dict[str, Any]:
    limits = limits_for(n)
    name = f"tp-{'group' if mode == 'GroupMigration' else 'pairs'}-{n}-{index}"
    found = STARTERS[mode](stack, name, n, limits)
    try:
        result = migrate(
            stack, found.operator, found.namespace, found.paths, found.source,
            found.destination, limits=limits, timing=TIMING, documents=found.documents,
        )  # fmt: skip
        result["operator_log_lines"] = len(found.operator.child.log.read_text().splitlines())
        result.update(mode=mode, run=index)
        return result
    finally:
        stack.release(found.operator, found.source, found.destination)


FIGURES = (
    "wall_seconds",
    "lower_bound_seconds",
    "wall_over_bound",
    "requests_per_transfer",
    "requests_per_migration",
    "cpu_seconds",
    "peak_rss",
    "latency_p50",
    "latency_p95",
)


def summarize(runs: list[dict[str, Any]], figures: tuple[str, ...] = FIGURES) -> dict[str, Any]:
    """Median and min-max of every figure over the runs of one (mode, N) case (also of one
    contender of scenario 2, with its own ``figures``), every 429 counted."""
    summary: dict[str, Any] = {key: spread(float(r[key]) for r in runs) for key in figures}
    summary["throttled_total"] = sum(r["throttled"] for r in runs)
    summary["completed"] = [r["completed"] for r in runs]
    return summary


def commit() -> str:
    """The operator's commit being measured (``+`` when the work tree differs from it)."""
    here = Path(__file__).resolve().parent.parent
    try:
        found = subprocess.run(
            ["git", "describe", "--always", "--dirty=+", "--abbrev=7"],
            cwd=here, capture_output=True, text=True, check=True, timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return found.stdout.strip()


def run(
    stack: BenchStack,
    ns: list[int],
    runs: int = 3,
    modes: tuple[str, ...] = MODES,
    say: Callable[[str], None] = print,
    save: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Every N ``runs`` times each way; ``save`` gets the result so far after each N."""
    cases: list[dict[str, Any]] = []
    for n in ns:
        found: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
        for index in range(1, runs + 1):
            for mode in modes:
                result = run_once(stack, mode, n, index)
                say(
                    f"N={n} {mode} run {index}: {result['wall_seconds']:.1f} s, "
                    f"{result['wall_over_bound']:.3f}x the bound, {result['throttled']} 429s, "
                    f"{result['requests_per_transfer']:.2f} requests per transfer"
                )
                found[mode].append(result)
        for mode in modes:
            cases.append(
                {"n": n, "mode": mode, "limits": limits_for(n).__dict__,
                 "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                 "commit": commit(), "runs": found[mode], "summary": summarize(found[mode])}
            )  # fmt: skip
        if save is not None:
            save({"runs_per_case": runs, "cases": cases})
    return {"runs_per_case": runs, "cases": cases}
