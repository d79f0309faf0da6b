"""Scenario 5, one GroupMigration at scale: the built-in ``group-tree-scale`` seed (acme/, 50
nested groups, 1,000 small projects) migrated by one GroupMigration (the example,
``examples/group-migration.yaml``, with archived projects included, no excludes, the groups
made by the groups API under ``migrated/`` and ``maxInFlight`` raised) between two simulated
GitLabs whose limits, like the operator's, are 600 per minute. Applied at the start of a
rate-limit minute; a run ends when the GroupMigration is Ready. Measures the operator's RSS
(peak while migrating, steady after), the objects the API server holds (by listing, and etcd's
count from ``apiserver_storage_objects``), wall time against the rate-limit lower bound, 429s,
GitLab requests per transfer and the final status. Runs several times, each on fresh GitLabs,
a fresh namespace and a fresh operator.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from typing import Any

from kubernetes import client

from bench.measure import MemorySampler, ReadyWatcher, RequestSummary, lower_bound
from bench.procfs import cpu_seconds, memory
from bench.stack import BenchStack, Limits, Simulator, Timing, wait_window_start, write_seed
from gitlab_ferry_testbed.demo.migration import GROUP, VERSION, find_example, manifest
from gitlab_ferry_testbed.simulator.seed import Seed

LIMITS = Limits(export=600, import_=600, download=600)
TIMING = Timing()
SEED = "group-tree-scale"
PARENT = "migrated"
MAX_IN_FLIGHT = 1000
NAME = "acme"
#: RSS after Ready is sampled this long, once a second, for the steady figure.
STEADY_SECONDS = 60.0
KINDS = ("groupmigrations", "projectexports", "projectimports")
_STORAGE = re.compile(r'^apiserver_storage_objects\{resource="([^"]+)"\} ([0-9.e+]+)$', re.M)


def seed_tree(name: str = SEED) -> tuple[list[str], list[str]]:
    """The seed's group paths and project paths, expanded as the simulator expands them."""
    seed = Seed.load(name)
    groups: list[str] = []
    projects: list[str] = []
    for tree in seed.trees:
        made_groups, made_projects = tree.expand()
        groups += [g["path"] for g in made_groups]
        projects += [p["path_with_namespace"] for p in made_projects]
    return groups, projects


def document(source: Simulator, destination: Simulator, max_in_flight: int) -> dict[str, Any]:
    """The example GroupMigration, pointed at ``acme`` on the simulators."""
    doc = manifest(find_example(), source.url, destination.url)
    doc["metadata"]["name"] = NAME
    spec = doc["spec"]
    spec["source"]["group"] = "acme"
    spec["source"]["projects"] = {"archived": True}
    spec["destination"]["parent"] = PARENT
    spec["groups"] = "CreateMissing"
    spec["maxInFlight"] = max_in_flight
    return doc


def storage_objects(api: client.ApiClient) -> dict[str, int]:
    """etcd's object count per resource, as the API server's metrics report it."""
    method, url, headers, body, _ = api.param_serialize(
        "GET", "/metrics", auth_settings=["BearerToken"]
    )
    response = api.call_api(method, url, header_params=headers, body=body)
    response.read()  # type: ignore[no-untyped-call]
    text = (response.data or b"").decode()
    return {resource: int(float(value)) for resource, value in _STORAGE.findall(text)}


def api_objects(stack: BenchStack, namespace: str, before: dict[str, int]) -> dict[str, Any]:
    """The migration's objects in the API server: listed in the namespace, what etcd's counts
    grew by since ``before`` for the same resources and in all, and the size of the
    GroupMigration's stored status."""
    listed = {plural: len(stack.list(namespace, plural)) for plural in KINDS}
    events = client.CoreV1Api(stack.api).list_namespaced_event(namespace).items
    listed["events"] = len(events)
    reasons: dict[str, int] = {}
    for event in events:
        reasons[event.reason or ""] = reasons.get(event.reason or "", 0) + (event.count or 1)
    storage = storage_objects(stack.api)
    wanted = [f"{plural}.{GROUP}" for plural in KINDS] + ["events"]
    migration: Any = stack.custom().get_namespaced_custom_object(
        GROUP, VERSION, namespace, "groupmigrations", NAME
    )
    return {
        "listed": listed,
        "listed_total": sum(listed.values()),
        "event_reasons": dict(sorted(reasons.items(), key=lambda item: -item[1])),
        "etcd": {key: storage.get(key, 0) - before.get(key, 0) for key in wanted},
        "etcd_all": sum(storage.values()) - sum(before.values()),
        "status_bytes": len(json.dumps(migration.get("status") or {})),
        "migration_bytes": len(json.dumps(migration)),
    }


def owned(stack: BenchStack, namespace: str, uid: str) -> int:
    """Children controlled by the GroupMigration with ``uid``."""
    count = 0
    for plural in KINDS[1:]:
        for obj in stack.list(namespace, plural):
            refs = obj["metadata"].get("ownerReferences") or []
            count += any(r.get("uid") == uid and r.get("controller") for r in refs)
    return count


def once(stack: BenchStack, index: int, max_in_flight: int) -> dict[str, Any]:
    groups, paths = seed_tree()
    work = stack.directory
    destination_seed = write_seed(work / f"scale-{index}-destination.yaml", [], groups=[PARENT])
    source = stack.start_simulator(f"scale-{index}-source", SEED, LIMITS, TIMING)
    destination = stack.start_simulator(
        f"scale-{index}-destination", destination_seed, LIMITS, TIMING
    )
    namespace = stack.namespace(
        f"bench-scale-{index}", {"source-token": "glpat-root-token",
                                 "destination-token": "glpat-root-token"}
    )  # fmt: skip
    operator = stack.start_bench_operator(namespace, [source, destination], LIMITS)
    try:
        migration = ReadyWatcher(stack, namespace, "groupmigrations")
        imports = ReadyWatcher(stack, namespace, "projectimports")
        migration.start()
        imports.start()
        sampler = MemorySampler(operator.pid)
        sampler.start()
        rss_idle = memory(operator.pid)["VmRSS"]
        cpu_before = cpu_seconds(operator.pid)
        storage_before = storage_objects(stack.api)
        start = wait_window_start()
        stack.custom().create_namespaced_custom_object(
            GROUP, VERSION, namespace, "groupmigrations", document(source, destination,
                                                                   max_in_flight)
        )  # fmt: skip
        bound = lower_bound(paths, LIMITS, TIMING, start)
        finished = migration.wait_for(NAME, timeout=bound * 5 + 600)
        end = migration.ready.get(NAME, time.time())
        cpu = cpu_seconds(operator.pid) - cpu_before
        peak = memory(operator.pid)["VmHWM"]
        time.sleep(STEADY_SECONDS)
        samples = sampler.stop()
        migration.stop()
        imports.stop()
        steady = [rss for t, rss in samples if t >= end + 5]
        objects = api_objects(stack, namespace, storage_before)
        body: Any = stack.custom().get_namespaced_custom_object(
            GROUP, VERSION, namespace, "groupmigrations", NAME
        )
        status: dict[str, Any] = body.get("status") or {}
        requests = RequestSummary()
        for sim in (source, destination):
            requests.add(sim.requests())
        first_import_ready = min(imports.ready.values()) if imports.ready else end
        transfers = 2 * status.get("counts", {}).get("finished", 0)
        wall = end - start
        conditions: list[dict[str, Any]] = status.get("conditions") or []
        ready = next((c for c in conditions if c.get("type") == "Ready"), {})
        return {
            "finished": finished,
            "projects": len(paths),
            "groups_in_seed": len(groups),
            "deepest_group": max(g.count("/") for g in groups),
            "wall_seconds": wall,
            "lower_bound_seconds": bound,
            "wall_over_bound": wall / bound,
            "first_import_ready_seconds": first_import_ready - start,
            "throttled": requests.throttled,
            "requests": requests.as_dict(),
            "requests_per_transfer": requests.total / max(transfers, 1),
            "cpu_seconds": cpu,
            "rss_idle": rss_idle,
            "rss_peak": peak,
            "rss_steady": statistics.median(steady) if steady else float("nan"),
            "rss_samples": [(t - start, rss) for t, rss in samples],
            "objects": objects,
            "owned_children": owned(stack, namespace, body["metadata"]["uid"]),
            "status": {
                "ready": ready.get("status"),
                "reason": ready.get("reason"),
                "progress": status.get("progress"),
                "counts": status.get("counts"),
                "groups": status.get("groups"),
                "groupsReady": status.get("groupsReady"),
                "groupsCreated": status.get("groupsCreated"),
                "failures": len(status.get("failures") or []),
            },
            "operator_log_lines": len(operator.child.log.read_text().splitlines()),
        }
    finally:
        stack.release(operator, source, destination)


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


#: The figures summarised over runs as median, min and max.
FIGURES = (
    "wall_seconds",
    "lower_bound_seconds",
    "wall_over_bound",
    "first_import_ready_seconds",
    "throttled",
    "requests_per_transfer",
    "cpu_seconds",
    "rss_idle",
    "rss_peak",
    "rss_steady",
)


def run(stack: BenchStack, runs: int = 3, max_in_flight: int = MAX_IN_FLIGHT) -> dict[str, Any]:
    found = []
    for index in range(1, runs + 1):
        print(f"==> scale run {index} of {runs}", flush=True)
        found.append(once(stack, index, max_in_flight))
        # Each run is kept as soon as it is measured: a harness stopped later loses none.
        (stack.directory / "scale-runs.json").write_text(json.dumps(found, indent=1))
    summary = {key: _summary([float(r[key]) for r in found]) for key in FIGURES}
    for key in ("listed_total", "etcd_all", "status_bytes"):
        summary[f"objects_{key}"] = _summary([float(r["objects"][key]) for r in found])
    return {
        "runs": found,
        "summary": summary,
        "limits": LIMITS.__dict__,
        "timing": TIMING.__dict__,
        "max_in_flight": max_in_flight,
    }
