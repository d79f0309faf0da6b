"""The GroupMigration reconciler: one pass is validate, observe (the source tree, the
destination's groups, the children), plan (``plan_pass``, which ``gitlab-ferry plan``
shares), then apply and record (controller layer).

The children are read from an index the caller keeps current (kopf's, fed by the watch of
both child kinds), not listed from the API server on every pass. The source tree is listed
once per resync interval (and when the spec changes); the destination's groups while some
are still missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from gitlab_ferry.api import RETRY_ANNOTATION, parse_duration
from gitlab_ferry.api.group_migration import (
    KIND,
    PLURAL,
    GroupMigrationSpec,
    GroupMigrationStatus,
)
from gitlab_ferry.clock import utcnow
from gitlab_ferry.controller.reconciler import Memory, Reconciler, annotation, identity
from gitlab_ferry.controller.reporting import report
from gitlab_ferry.controller.runtime import Runtime
from gitlab_ferry.controller.validation import validated
from gitlab_ferry.effects import migrating
from gitlab_ferry.effects.budget import Claim
from gitlab_ferry.effects.migrating import MigrationTarget
from gitlab_ferry.metrics import MigrationState
from gitlab_ferry.reconcile.conditions import invalid_spec_plan
from gitlab_ferry.reconcile.migrations import (
    AdoptChildren,
    ChildRecord,
    CreateChildren,
    CreateGroups,
    ImportGroupTree,
    MigrationObservation,
    Owner,
    RequestGroupExport,
    SourceTree,
    begin_migration,
    destination_groups,
    pairs_of,
    plan_migration,
    record_migration,
)
from gitlab_ferry.reconcile.plan import Done, Outcome, Plan


class ChildIndex(Protocol):
    """The child objects of each GroupMigration, as last seen by the operator's watch."""

    def records(self, namespace: str, migration: str) -> Iterable[ChildRecord]: ...


class NoChildren:
    """The index of a migration not yet in the cluster: it has no children."""

    def records(self, namespace: str, migration: str) -> Iterable[ChildRecord]:
        return ()


@dataclass(frozen=True)
class MigrationPass:
    """What one pass observed and decided, before anything is applied."""

    recorded: GroupMigrationStatus
    #: ``None`` when the spec is invalid (the plan says why).
    spec: GroupMigrationSpec | None
    target: MigrationTarget | None
    observed: MigrationObservation
    plan: Plan
    now: datetime


@dataclass
class _Listing:
    """The source tree as last listed, and for which spec."""

    tree: SourceTree
    generation: int | None
    at: datetime


class MigrationReconciler(Reconciler):
    kind = KIND
    plural = PLURAL
    #: Children finishing in bursts wake the migration; such passes are spaced by this much.
    min_interval = 2.0

    def __init__(self, runtime: Runtime, children: ChildIndex | None = None) -> None:
        super().__init__(runtime)
        self.children = children or NoChildren()
        self._listing: _Listing | None = None
        #: Destination groups once all were present: not looked up again until a re-listing.
        self._groups: dict[str, int] | None = None

    async def plan_pass(self, body: Mapping[str, Any], before: Mapping[str, Any]) -> MigrationPass:
        """Validate, observe and plan, without applying. ``before`` is the status the plan
        starts from."""
        runtime = self.runtime
        namespace, name, uid, generation = identity(body)
        now = utcnow(runtime.clock)
        recorded = GroupMigrationStatus.model_validate(before)
        spec = validated(GroupMigrationSpec, body)
        if isinstance(spec, str):
            plan = invalid_spec_plan(KIND, spec)
            return MigrationPass(recorded, None, None, MigrationObservation(), plan, now)
        resolved = await migrating.resolve(runtime.services, namespace, name, spec)
        if isinstance(resolved, MigrationTarget):
            target: MigrationTarget | None = resolved
            observed = await self._observe(resolved, generation, now)
            observed = replace(
                observed,
                children=pairs_of(self.children.records(namespace, name), uid),
                limits=migrating.limits(runtime.services, resolved),
                gitlab=resolved.destination_gitlab,
            )
        else:
            target, observed = None, MigrationObservation(problem=resolved)
        observed = replace(observed, retry_request=annotation(body, RETRY_ANNOTATION))
        plan = plan_migration(
            spec,
            name,
            generation,
            recorded,
            observed,
            now,
            runtime.import_policy.polling,
            runtime.settings.recheck_interval,
        )
        return MigrationPass(recorded, spec, target, observed, plan, now)

    async def _observe(
        self, target: MigrationTarget, generation: int | None, now: datetime
    ) -> MigrationObservation:
        listing = self._listing
        resync = parse_duration(target.spec.resync_interval).total_seconds()
        if (
            listing is None
            or listing.generation != generation
            or (now - listing.at).total_seconds() >= resync
        ):
            tree = await migrating.list_tree(target)
            if not isinstance(tree, SourceTree):
                return MigrationObservation(problem=tree, gitlab=target.destination_gitlab)
            listing = self._listing = _Listing(tree, generation, now)
            self._groups = None
        groups = self._groups
        if groups is None:
            paths = [path for path, _ in destination_groups(target.spec, listing.tree)]
            found = await migrating.destination_groups(target, paths)
            if not isinstance(found, dict):
                return MigrationObservation(problem=found, gitlab=target.destination_gitlab)
            groups = found
            if all(path.lower() in found for path in paths):
                self._groups = found
        return MigrationObservation(
            tree=listing.tree, listed_at=listing.at, destination_groups=groups
        )

    async def reconcile(self, body: Mapping[str, Any], memory: Memory) -> float | None:
        runtime = self.runtime
        namespace, name, uid, generation = identity(body)
        before = self.recorded(body, memory)
        step = await self.plan_pass(body, before)
        recorded, plan, now = step.recorded, step.plan, step.now
        if step.spec is None:
            await self.report_invalid(body, memory, recorded, plan, now, None)
            return None
        spec, target, observed = step.spec, step.target, step.observed
        owner = Owner(name, namespace, uid)
        outcome: Outcome = Done(None)
        base = recorded
        if target is not None and plan.mutating:
            outcome, begun = await self.apply_budgeted(
                body,
                memory,
                plan,
                claims=lambda: self._claims(target, plan),
                begin=lambda: begin_migration(recorded, plan, now),
                apply=lambda: self._apply(target, plan, observed),
            )
            if isinstance(begun, GroupMigrationStatus):
                base = begun
            if isinstance(plan.action, CreateGroups):
                self._groups = None
        elif target is not None:
            outcome = await self._apply_children(owner, spec, plan)
        status = record_migration(spec, name, generation, base, observed, plan, outcome, now)
        await self.write(body, memory, status)
        report(runtime, KIND, body, before, self.recorded(body, memory), plan, None)
        runtime.metrics.migrations.set(_state(namespace, name, status))
        return self.requeue(plan, outcome, observed.problem, memory)

    async def _claims(self, target: MigrationTarget, plan: Plan) -> list[Claim]:
        services = self.runtime.services
        match plan.action:
            case RequestGroupExport():
                return migrating.group_export_claims(services, target)
            case ImportGroupTree():
                return migrating.group_import_claims(services, target)
        return []

    async def _apply(
        self, target: MigrationTarget, plan: Plan, observed: MigrationObservation
    ) -> Outcome:
        services = self.runtime.services
        groups = observed.destination_groups
        match plan.action:
            case CreateGroups() as create:
                return await migrating.create_groups(target, create, groups)
            case RequestGroupExport() as export:
                return await migrating.request_group_export(target, export.group_id)
            case ImportGroupTree() as tree:
                return await migrating.import_group_tree(services, target, tree, groups)
        raise AssertionError(f"{plan.action.name} is not applied against GitLab")

    async def _apply_children(self, owner: Owner, spec: GroupMigrationSpec, plan: Plan) -> Outcome:
        services = self.runtime.services
        match plan.action:
            case CreateChildren() as create:
                return await migrating.create_children(services, owner, spec, create)
            case AdoptChildren() as adopt:
                return await migrating.adopt_children(services, owner, adopt)
        return Done(None)

    async def forget(self, body: Mapping[str, Any], memory: Memory) -> None:
        namespace, name, _, _ = identity(body)
        self.runtime.metrics.objects.forget(KIND, namespace, name)
        self.runtime.metrics.migrations.forget(namespace, name)


def _state(namespace: str, name: str, status: GroupMigrationStatus) -> MigrationState:
    counts = status.counts
    return MigrationState(
        namespace=namespace,
        name=name,
        projects={
            "pending": counts.pending,
            "exporting": counts.exporting,
            "importing": counts.importing,
            "finished": counts.finished,
            "failed": counts.failed,
        },
        total=counts.total,
        groups=status.groups,
        groups_ready=status.groups_ready,
        eta=status.eta.timestamp() if status.eta else None,
    )
