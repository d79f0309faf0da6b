"""The kopf handlers: the only module that knows kopf.

Each ProjectExport, ProjectImport and GroupMigration gets a daemon running its reconcile loop
(observe, plan, apply, record); updates to an object wake its loop; a ProjectImport's deletion
runs behind a finalizer. The children of GroupMigrations are kept in two kopf indices, which
kopf fills before any daemon starts, and a change to a child wakes its migration. Handlers are
registered on an explicit registry built by ``make_registry``, so importing this module has
no side effects.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import kopf

from gitlab_ferry.api.base import GROUP, VERSION
from gitlab_ferry.api.group_migration import PLURAL as MIGRATIONS
from gitlab_ferry.api.project_export import PLURAL as EXPORTS
from gitlab_ferry.api.project_import import PLURAL as IMPORTS
from gitlab_ferry.controller.exports import ExportReconciler
from gitlab_ferry.controller.imports import ImportReconciler
from gitlab_ferry.controller.migrations import MigrationReconciler
from gitlab_ferry.controller.runtime import Runtime
from gitlab_ferry.memory import release_periodically
from gitlab_ferry.probes import Health, start_server
from gitlab_ferry.reconcile.migrations import (
    MIGRATION_LABEL,
    ChildRecord,
    child_record,
    migration_of,
)

#: The finalizer on every object; removing it by hand releases an object without the operator.
FINALIZER = f"{GROUP}/finalizer"
#: kopf's own bookkeeping lives in annotations with this prefix, never in status.
KOPF_PREFIX = f"kopf.{GROUP}"

logger = logging.getLogger("gitlab_ferry.handlers")


def post_event(body: Mapping[str, Any], kind: str, reason: str, message: str) -> None:
    """Post a Kubernetes Event about ``body`` through kopf's event queue."""
    kopf.event(cast(kopf.Body, body), type=kind, reason=reason, message=message[:1024])


class IndexedChildren:
    """The children of each GroupMigration, from kopf's two live indices."""

    def __init__(self, exports: kopf.Index[Any, Any], imports: kopf.Index[Any, Any]) -> None:
        self._indices = (exports, imports)

    def records(self, namespace: str, migration: str) -> list[ChildRecord]:
        key = (namespace, migration)
        return [record for index in self._indices for record in index.get(key, ())]


def _child_key(body: kopf.Body) -> dict[tuple[str, str], ChildRecord]:
    """A child's record, under its (namespace, migration name)."""
    migration = migration_of(body) or ""
    return {(str(body.metadata.namespace), migration): child_record(body)}


@dataclass
class _Upkeep:
    """What runs beside the object loops while the operator runs: the probes and metrics
    server, and the release of free memory. Started and stopped by the handlers, so the
    runtime is built whole and stays frozen."""

    stop_server: Callable[[], Awaitable[None]] | None = None
    release: asyncio.Task[None] | None = None


def make_registry() -> kopf.OperatorRegistry:
    """A registry with every handler of the operator."""
    registry = kopf.OperatorRegistry()
    upkeep = _Upkeep()

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # The same credentials as the operator's own Kubernetes client: KUBECONFIG, or the
        # pod's service account.
        return kopf.login_via_client(**kwargs)

    @kopf.on.startup(registry=registry)
    async def configure(settings: kopf.OperatorSettings, memo: Runtime, **_: Any) -> None:
        settings.persistence.finalizer = FINALIZER
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=KOPF_PREFIX)
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix=KOPF_PREFIX, key="last-handled-configuration"
        )
        # Only kopf's own warnings become Events; the operator posts its plans itself.
        settings.posting.level = logging.WARNING
        settings.watching.server_timeout = 300
        settings.watching.client_timeout = 330
        settings.networking.request_timeout = 60
        health = Health()
        runner, port = await start_server(
            memo.metrics.registry,
            health,
            memo.settings.metrics_address,
            memo.settings.metrics_port,
        )
        upkeep.stop_server = runner.cleanup
        upkeep.release = asyncio.create_task(release_periodically(), name="release free memory")
        health.ready = True
        logger.info("serving /metrics, /healthz and /readyz on port %d", port)

    @kopf.on.cleanup(registry=registry)
    async def shutdown(memo: Runtime, **_: Any) -> None:
        if upkeep.release is not None:
            upkeep.release.cancel()
        await memo.aclose()
        if upkeep.stop_server is not None:
            await upkeep.stop_server()

    @kopf.daemon(GROUP, VERSION, EXPORTS, registry=registry, cancellation_timeout=30.0)
    async def export_loop(
        stopped: kopf.DaemonStopped, body: kopf.Body, memo: Runtime, **_: Any
    ) -> None:
        await ExportReconciler(memo).run(body, stopped)

    @kopf.daemon(GROUP, VERSION, IMPORTS, registry=registry, cancellation_timeout=30.0)
    async def import_loop(
        stopped: kopf.DaemonStopped, body: kopf.Body, memo: Runtime, **_: Any
    ) -> None:
        await ImportReconciler(memo).run(body, stopped)

    @kopf.daemon(GROUP, VERSION, MIGRATIONS, registry=registry, cancellation_timeout=30.0)
    async def migration_loop(
        stopped: kopf.DaemonStopped, body: kopf.Body, memo: Runtime, **indices: Any
    ) -> None:
        children = IndexedChildren(indices["migration_exports"], indices["migration_imports"])
        await MigrationReconciler(memo, children).run(body, stopped)

    children_only = {MIGRATION_LABEL: kopf.PRESENT}

    # kopf passes each index to handlers as a keyword argument named by the index's id.
    @kopf.index(
        GROUP, VERSION, EXPORTS, id="migration_exports", labels=children_only, registry=registry
    )
    def migration_exports(body: kopf.Body, **_: Any) -> dict[tuple[str, str], ChildRecord]:
        return _child_key(body)

    @kopf.index(
        GROUP, VERSION, IMPORTS, id="migration_imports", labels=children_only, registry=registry
    )
    def migration_imports(body: kopf.Body, **_: Any) -> dict[tuple[str, str], ChildRecord]:
        return _child_key(body)

    @kopf.on.event(GROUP, VERSION, EXPORTS, labels=children_only, registry=registry)
    @kopf.on.event(GROUP, VERSION, IMPORTS, labels=children_only, registry=registry)
    async def wake_migration(body: kopf.Body, type: str | None, memo: Runtime, **_: Any) -> None:
        record = child_record(body)
        namespace = str(body.metadata.namespace)
        if memo.child_changes.changed(namespace, record, gone=type == "DELETED"):
            memo.wakeups.wake(record.owner_uid)

    @kopf.on.update(GROUP, VERSION, EXPORTS, registry=registry)
    @kopf.on.update(GROUP, VERSION, IMPORTS, registry=registry)
    @kopf.on.update(GROUP, VERSION, MIGRATIONS, registry=registry)
    async def wake(uid: str, memo: Runtime, **_: Any) -> None:
        memo.wakeups.wake(uid)

    @kopf.on.delete(GROUP, VERSION, IMPORTS, registry=registry)
    async def delete_import(body: kopf.Body, memo: Runtime, **_: Any) -> None:
        delay = await ImportReconciler(memo).delete(body)
        if delay is not None:
            raise kopf.TemporaryError(
                "the imported project is not deleted yet (see the Ready condition); set "
                "spec.deletionPolicy to Orphan to release the object without deleting it",
                delay=memo.clock.real_seconds(delay),
            )

    return registry


def peering_priority(started: float) -> int:
    """The kopf peering priority of an operator that started at ``started`` (epoch seconds).

    kopf pauses every operator that meets a peer of the same priority, and the replicas of one
    Deployment are alike. So the replica that started first keeps the work and later ones stand
    by: the later the start, the lower the priority (milliseconds, so a second replica started
    in the same second still differs).
    """
    return -round(started * 1000)


async def operate(
    runtime: Runtime,
    *,
    namespaces: list[str],
    peering: str | None = None,
    liveness: str | None = None,
) -> None:
    """Run the operator until it is told to stop (SIGTERM/SIGINT). The runtime posts its
    Events through kopf: build it with ``events=post_event``."""
    resuming = None
    if peering is None:
        # Alone from the start, so what the process before this one spent can be read at once
        # rather than on the first request's way (a standby reads it when it first books).
        resuming = asyncio.create_task(runtime.resume_budget(), name="resume the budget")
    try:
        await kopf.operator(
            registry=make_registry(),
            memo=runtime,
            clusterwide=not namespaces,
            namespaces=namespaces,
            standalone=peering is None,
            peering_name=peering,
            priority=None if peering is None else peering_priority(runtime.clock.time()),
            liveness_endpoint=liveness,
        )
    finally:
        if resuming is not None:
            resuming.cancel()
