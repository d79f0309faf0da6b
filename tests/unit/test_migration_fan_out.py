"""A GroupMigration's fan-out: the child pairs of one pass are created a bounded number at a
time, each pair's ProjectExport before its ProjectImport, and a failing create is reported
without losing the pairs made beside it; and the Kubernetes calls do not queue behind
asyncio's small default thread pool."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

from kubernetes import client as k8s
from tests.support.kube import FakeKube

from gitlab_ferry.api.group_migration import GroupMigrationSpec
from gitlab_ferry.effects import migrating
from gitlab_ferry.effects.kube import KubeApi, KubeError
from gitlab_ferry.reconcile.migrations import CreateChildren, Owner, Pair
from gitlab_ferry.reconcile.plan import Done, Failed

SPEC = GroupMigrationSpec.model_validate(
    {
        "source": {
            "gitlab": {"url": "https://source.example", "tokenSecretRef": {"name": "src"}},
            "group": "platform",
        },
        "destination": {
            "gitlab": {"url": "https://target.example", "tokenSecretRef": {"name": "dst"}},
        },
    }
)
OWNER = Owner("mig", "team", "uid-1")


class SlowKube(FakeKube):
    """Creates take a while; records how many were under way at once and in which order."""

    def __init__(self, fail: str | None = None) -> None:
        super().__init__()
        self.under_way = 0
        self.most = 0
        self.order: list[tuple[str, str]] = []
        self.fail = fail

    async def create_object(self, plural: str, body: Mapping[str, Any]) -> bool:
        self.under_way += 1
        self.most = max(self.most, self.under_way)
        try:
            await asyncio.sleep(0.01)
            name = str(body["metadata"]["name"])
            if name == self.fail:
                raise KubeError(f"creating {plural}: 500 Internal Server Error")
            self.order.append((plural, name))
            return await super().create_object(plural, body)
        finally:
            self.under_way -= 1


def pairs(count: int) -> CreateChildren:
    return CreateChildren(
        tuple(Pair(f"mig.p{i:03d}", f"platform/p{i:03d}", "platform") for i in range(count))
    )


async def test_pairs_are_created_at_once_up_to_the_bound_export_first() -> None:
    kube = SlowKube()
    services: Any = SimpleNamespace(kube=kube)
    outcome = await migrating.create_children(services, OWNER, SPEC, pairs(50))
    assert outcome == Done(100)
    assert 1 < kube.most <= migrating.CREATE_AT_ONCE
    for i in range(50):
        name = f"mig.p{i:03d}"
        assert kube.order.index(("projectexports", name)) < kube.order.index(
            ("projectimports", name)
        )
    again = await migrating.create_children(services, OWNER, SPEC, pairs(50))
    assert again == Done(0), "a second pass finds the pairs there and creates nothing"


async def test_a_failing_create_is_a_failure_and_the_other_pairs_are_made() -> None:
    kube = SlowKube(fail="mig.p007")
    services: Any = SimpleNamespace(kube=kube)
    outcome = await migrating.create_children(services, OWNER, SPEC, pairs(20))
    assert isinstance(outcome, Failed)
    assert "platform/p007" in outcome.problem.message
    made = {name for _, name in kube.order}
    assert made == {f"mig.p{i:03d}" for i in range(20)} - {"mig.p007"}


async def test_kubernetes_calls_overlap_beyond_the_default_thread_pool() -> None:
    configuration = k8s.Configuration()
    configuration.connection_pool_maxsize = 40
    api = KubeApi(k8s.ApiClient(configuration))
    lock = threading.Lock()
    state = {"now": 0, "most": 0}

    def slow_create(*_: Any, **__: Any) -> dict[str, Any]:
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.05)
        with lock:
            state["now"] -= 1
        return {}

    api._custom.create_namespaced_custom_object = slow_create  # type: ignore[method-assign]
    bodies = [{"metadata": {"name": f"o{i}", "namespace": "team"}} for i in range(60)]
    made = await asyncio.gather(*(api.create_object("projectexports", b) for b in bodies))
    assert all(made)
    default_pool = min(32, (os.cpu_count() or 1) + 4)
    assert state["most"] > default_pool, "more calls at once than asyncio's default pool"
    assert state["most"] <= 40
