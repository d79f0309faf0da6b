"""The benchmark's processes: the demo's control plane and child-process plumbing
(``gitlab_ferry_testbed.demo.stack``), plus simulated GitLabs and operators whose rate limits, job
durations and settings each scenario chooses, and the seeds and Kubernetes objects a scenario
needs. Everything runs on loopback; every child is stopped by ``BenchStack.stop``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import yaml
from kubernetes import client, config

from gitlab_ferry_testbed.demo.migration import (
    GROUP,
    VERSION,
    apply,
    find_example,
    pair_manifests,
)
from gitlab_ferry_testbed.demo.run import install_crds
from gitlab_ferry_testbed.demo.stack import Child, Stack

TOKEN = "glpat-root-token"
SEED_SETTINGS = {
    "instance": {"allow_local_requests_from_web_hooks_and_services": True},
    "behaviour": {"allow_http_remote_import": True},
}
ROOT = {
    "username": "root",
    "name": "Administrator",
    "token": TOKEN,
    "admin": True,
    "scopes": ["api", "sudo"],
}


@dataclass(frozen=True)
class Limits:
    """GitLab's three per-user limits per minute (0 = no limit), for simulator and operator."""

    export: int
    import_: int
    download: int


@dataclass(frozen=True)
class Timing:
    """Simulated job durations (seconds): queue delay plus run time, for exports and imports."""

    export_queue: float = 1.0
    export_run: float = 10.0
    import_queue: float = 1.0
    import_run: float = 10.0

    @property
    def export_total(self) -> float:
        return self.export_queue + self.export_run

    @property
    def import_total(self) -> float:
        return self.import_queue + self.import_run


def user(name: str) -> dict[str, Any]:
    """An admin user whose token is ``glpat-<name>`` (its own rate-limit buckets)."""
    return {"username": name, "token": f"glpat-{name}", "admin": True, "scopes": ["api"]}


def project_paths(count: int, groups: int = 10) -> list[str]:
    """``count`` project paths spread round-robin over ``groups`` groups."""
    groups = max(1, min(groups, count))
    return [f"g{i % groups:02d}/p{i:04d}" for i in range(count)]


def write_seed(
    path: Path,
    projects: list[str],
    *,
    groups: list[str],
    users: tuple[dict[str, Any], ...] | list[dict[str, Any]] = (),
    size: str = "64KiB",
) -> Path:
    seed = {
        "settings": SEED_SETTINGS,
        "users": [ROOT, *users],
        "groups": [{"path": g} for g in groups],
        "projects": [{"path_with_namespace": p, "repository_size": size} for p in projects],
    }
    path.write_text(yaml.safe_dump(seed, sort_keys=False))
    return path


@dataclass
class Simulator:
    """A simulated GitLab child process and its control API."""

    child: Child
    url: str

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[1]

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.url}/-/sim{path}", timeout=120, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def requests(self, user: str | None = None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.control(
            "GET", "/requests", params={"user": user} if user else None
        )
        return found

    def projects(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.control("GET", "/projects")
        return found

    def project(self, ref: str) -> dict[str, Any]:
        found: dict[str, Any] = self.control("GET", f"/projects/{quote(ref, safe='')}")
        return found

    def settings(self, patch: dict[str, Any]) -> None:
        self.control("PATCH", "/settings", json=patch)


@dataclass
class Operator:
    child: Child
    metrics_port: int

    @property
    def pid(self) -> int:
        return self.child.process.pid

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10).text


@dataclass
class Migration:
    """A source and a destination GitLab, a namespace with a token Secret for each, and an
    operator watching that namespace: what scenarios 1, 3 and 4 run against."""

    source: Simulator
    destination: Simulator
    namespace: str
    operator: Operator


@dataclass
class BenchStack(Stack):
    """The demo's stack with per-scenario limits, timings and operator settings."""

    kubeconfig: Path | None = None
    api: Any = None
    counter: dict[str, int] = field(default_factory=dict)

    def _unique(self, name: str) -> str:
        self.counter[name] = self.counter.get(name, 0) + 1
        return f"{name}-{self.counter[name]}"

    def start_kubernetes(self) -> None:
        self.kubeconfig = self.start_control_plane()
        self.api = config.new_client_from_config(config_file=str(self.kubeconfig))  # type: ignore[no-untyped-call]
        install_crds(self.api, find_example().parent.parent / "crds")

    def namespace(self, name: str, tokens: dict[str, str]) -> str:
        """A fresh namespace with one Secret (key ``token``) per entry of ``tokens``."""
        core = client.CoreV1Api(self.api)
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
        for secret, token in tokens.items():
            body = client.V1Secret(
                metadata=client.V1ObjectMeta(name=secret), string_data={"token": token}
            )
            core.create_namespaced_secret(name, body)
        return name

    def start_simulator(
        self, name: str, seed: Path | str, limits: Limits, timing: Timing, *extra: str
    ) -> Simulator:
        flags = [
            "--export-queue-delay", str(timing.export_queue),
            "--export-duration", str(timing.export_run),
            "--import-queue-delay", str(timing.import_queue),
            "--import-duration", str(timing.import_run),
            "--project-export-limit", str(limits.export),
            "--project-import-limit", str(limits.import_),
            "--project-download-export-limit", str(limits.download),
            *extra,
        ]  # fmt: skip
        child, url = self.spawn_gitlab(self._unique(name), str(seed), flags, timeout=120)
        return Simulator(child, url)

    def start_bench_operator(
        self, namespace: str, sims: list[Simulator], limits: Limits, **settings: str
    ) -> Operator:
        """``gitlab-ferry run`` watching ``namespace``, with default settings except the
        limits, the allowed (loopback) hosts and ``settings`` (GITLAB_FERRY_<KEY>)."""
        assert self.kubeconfig is not None
        env = {
            "KUBECONFIG": str(self.kubeconfig),
            "GITLAB_FERRY_ALLOWED_HOSTS": ",".join(s.host for s in sims),
            "GITLAB_FERRY_EXPORT_LIMIT": str(limits.export),
            "GITLAB_FERRY_IMPORT_LIMIT": str(limits.import_),
            "GITLAB_FERRY_DOWNLOAD_LIMIT": str(limits.download),
            **{f"GITLAB_FERRY_{key.upper()}": value for key, value in settings.items()},
        }
        child, port = self.spawn_operator(self._unique("operator"), namespace, env, timeout=120)
        return Operator(child, port)

    def start_migration(
        self,
        name: str,
        projects: list[str],
        limits: Limits,
        timing: Timing,
        *,
        groups: list[str] | None = None,
        size: str = "64KiB",
        namespace: str | None = None,
    ) -> Migration:
        """Seeds for ``projects`` (source) and their groups (destination), both simulators,
        a namespace (``bench-<name>`` unless given) and an operator with ``limits``
        everywhere."""
        groups = groups or sorted({p.split("/")[0] for p in projects})
        work = self.directory
        source_seed = write_seed(work / f"{name}-source.yaml", projects, groups=groups, size=size)
        destination_seed = write_seed(work / f"{name}-destination.yaml", [], groups=groups)
        source = self.start_simulator(f"{name}-source", source_seed, limits, timing)
        destination = self.start_simulator(f"{name}-destination", destination_seed, limits, timing)
        namespace = self.namespace(
            namespace or f"bench-{name}", {"source-token": TOKEN, "destination-token": TOKEN}
        )
        operator = self.start_bench_operator(namespace, [source, destination], limits)
        return Migration(source, destination, namespace, operator)

    def release(self, *children: Simulator | Operator) -> None:
        """Stop some children before the end of the run (each scenario frees its own)."""
        for item in children:
            item.child.stop()
            self.children.remove(item.child)

    # Kubernetes objects

    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    def migration_documents(
        self, projects: list[str], source: Simulator, destination: Simulator, prefix: str = ""
    ) -> list[dict[str, Any]]:
        """The example migration (``examples/migration.yaml``) once per project; imports go to
        ``<prefix>/<group>`` on the destination when a prefix is given."""
        documents = pair_manifests(
            find_example("migration.yaml"), projects, source.url, destination.url
        )
        if prefix:
            for doc in documents:
                if doc["kind"] == "ProjectImport":
                    doc["spec"]["namespacePath"] = f"{prefix}/{doc['spec']['namespacePath']}"
        return documents

    def create(self, namespace: str, documents: list[dict[str, Any]]) -> dict[str, float]:
        """Create each document; returns ``kind/name`` -> epoch time its creation returned."""
        created = {}
        api = self.custom()
        for doc in documents:
            apply(api, namespace, [doc])
            created[f"{doc['kind']}/{doc['metadata']['name']}"] = time.time()
        return created

    def list(self, namespace: str, plural: str) -> list[dict[str, Any]]:
        listing: Any = self.custom().list_namespaced_custom_object(
            GROUP, VERSION, namespace, plural
        )
        return list(listing["items"])


def ready_reason(obj: dict[str, Any]) -> tuple[str, str]:
    for item in (obj.get("status") or {}).get("conditions") or []:
        if item.get("type") == "Ready":
            return str(item.get("status", "")), str(item.get("reason", ""))
    return "", ""


def wait_window_start(offset: float = 2.0, window: float = 60.0) -> float:
    """Sleep until ``offset`` seconds into the next epoch-aligned minute (GitLab's rate-limit
    windows), unless we are already within the first ``offset + 3`` seconds; returns now."""
    now = time.time()
    into = now % window
    if not offset <= into <= offset + 3:
        time.sleep((math.floor(now / window) + 1) * window + offset - now)
    return time.time()
