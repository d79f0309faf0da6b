"""The component tier's harness: an operator's reconcilers driven pass by pass over objects in
an in-memory Kubernetes, and builders of the objects and of what the tests read back."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tests.support.kube import FakeKube

from gitlab_ferry.api.group_migration import PLURAL as MIGRATIONS
from gitlab_ferry.api.project_export import PLURAL as EXPORTS
from gitlab_ferry.api.project_import import PLURAL as IMPORTS
from gitlab_ferry.clock import ManualClock
from gitlab_ferry.controller.exports import ExportReconciler
from gitlab_ferry.controller.imports import ImportReconciler
from gitlab_ferry.controller.migrations import MigrationReconciler
from gitlab_ferry.controller.reconciler import Memory, Reconciler
from gitlab_ferry.controller.runtime import Runtime
from gitlab_ferry.reconcile.migrations import ChildRecord, child_record, migration_of
from gitlab_ferry.settings import Settings
from gitlab_ferry_testbed.simulator import Simulator
from gitlab_ferry_testbed.simulator.requestlog import RequestRecord

ROOT = "glpat-root-token"
NAMESPACE = "team"


class StoredChildren:
    """The children of GroupMigrations as the in-memory Kubernetes holds them (the operator's
    kopf index, read directly)."""

    def __init__(self, kube: FakeKube) -> None:
        self._kube = kube

    def records(self, namespace: str, migration: str) -> Iterable[ChildRecord]:
        return [
            child_record(body)
            for (plural, where, _), body in self._kube.objects.items()
            if plural in (EXPORTS, IMPORTS)
            and where == namespace
            and migration_of(body) == migration
        ]


@dataclass
class Operator:
    """A runtime and the reconcilers of one operator process; ``restart`` forgets all memory
    (loops, budget, caches) as a process restart does, keeping what Kubernetes stored."""

    kube: FakeKube
    clock: ManualClock
    settings: Settings
    runtime: Runtime
    events: list[tuple[str, str, str, str]] = field(default_factory=list)
    memories: dict[str, Memory] = field(default_factory=dict)
    #: One migration reconciler per object, as one daemon each (they keep the listing).
    migrations: dict[str, MigrationReconciler] = field(default_factory=dict)

    def _reconciler(self, plural: str) -> Reconciler:
        return (ExportReconciler if plural == EXPORTS else ImportReconciler)(self.runtime)

    async def reconcile(self, plural: str, name: str) -> float | None:
        """One pass over the stored object; seconds until the next one."""
        body = self.kube.body(plural, NAMESPACE, name)
        uid = body["metadata"]["uid"]
        memory = self.memories.setdefault(uid, Memory(uid=uid))
        return await self._reconciler(plural).reconcile(body, memory)

    async def export_pass(self, name: str) -> float | None:
        return await self.reconcile(EXPORTS, name)

    async def import_pass(self, name: str) -> float | None:
        return await self.reconcile(IMPORTS, name)

    async def delete(self, name: str) -> float | None:
        body = self.kube.body(IMPORTS, NAMESPACE, name)
        reconciler = self._reconciler(IMPORTS)
        assert isinstance(reconciler, ImportReconciler)
        return await reconciler.delete(body)

    async def migration_pass(self, name: str) -> float | None:
        body = self.kube.body(MIGRATIONS, NAMESPACE, name)
        uid = body["metadata"]["uid"]
        memory = self.memories.setdefault(uid, Memory(uid=uid))
        reconciler = self.migrations.setdefault(
            uid, MigrationReconciler(self.runtime, StoredChildren(self.kube))
        )
        return await reconciler.reconcile(body, memory)

    def children(self, plural: str) -> list[str]:
        """Names of the stored objects of ``plural``."""
        return sorted(name for (kind, _, name) in self.kube.objects if kind == plural)

    async def children_pass(self) -> None:
        """One pass over every stored ProjectExport, then every ProjectImport."""
        for plural in (EXPORTS, IMPORTS):
            for name in self.children(plural):
                await self.reconcile(plural, name)

    def reasons(self, name: str) -> list[str]:
        return [reason for _, object_name, reason, _ in self.events if object_name == name]


def export_object(name: str, gitlab: Simulator, project: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "gitlabferry.dev/v1alpha1",
        "kind": "ProjectExport",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "gitlab": {"url": gitlab.url, "tokenSecretRef": {"name": "gitlab-token"}},
            "project": project,
            **spec,
        },
    }


def import_object(
    name: str, gitlab: Simulator, path: str, source: dict[str, Any], **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "gitlabferry.dev/v1alpha1",
        "kind": "ProjectImport",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "gitlab": {"url": gitlab.url, "tokenSecretRef": {"name": "gitlab-token"}},
            "path": path,
            "source": source,
            **spec,
        },
    }


def large_project(sim: Simulator, path: str) -> None:
    """A project on ``sim`` whose statistics say 6 GiB (past S3's 5 GiB single PUT) while its
    content stays small."""
    sim.create_project(
        {
            "path_with_namespace": path,
            "owner": "root",
            "repository_size": "11MiB",
            "statistics": {"repository_size": "6GiB"},
        }
    )


def ready_of(kube: FakeKube, plural: str, name: str) -> tuple[str, str, str]:
    """The stored object's Ready condition: status, reason and message."""
    conditions = kube.body(plural, NAMESPACE, name)["status"]["conditions"]
    found = next(c for c in conditions if c["type"] == "Ready")
    return found["status"], found["reason"], found["message"]


def posts(sim: Simulator, endpoint: str) -> list[RequestRecord]:
    """POSTs the simulated GitLab received on ``endpoint``."""
    return sim.requests(endpoint, method="POST")


async def run_jobs(sim: Simulator, rounds: int = 10) -> None:
    """Move every job on the simulated GitLab as far as it goes (it is in step mode)."""
    for _ in range(rounds):
        moved = await sim.step()
        moved += await sim.settle()
        if not moved:
            return


class Stop:
    """kopf's ``stopped`` flag: false until set; ``wait`` returns when set or timed out."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    def __bool__(self) -> bool:
        return self._event.is_set()

    async def wait(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109 - kopf's shape
        try:
            async with asyncio.timeout(timeout):
                await self._event.wait()
        except TimeoutError:
            return False
        return True
