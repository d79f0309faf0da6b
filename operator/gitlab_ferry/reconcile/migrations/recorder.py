"""The GroupMigration status after a pass (reconcile layer): counts per step, progress, the
first failures, the groups, an ETA at the rate limits, and what was requested of GitLab.
``begin_migration`` is written before a mutating group request. Pure.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from gitlab_ferry.api.group_migration import (
    FAILURES_SHOWN,
    GroupMigrationSpec,
    GroupMigrationStatus,
    MigrationCounts,
    MigrationFailure,
)
from gitlab_ferry.reconcile import refusals
from gitlab_ferry.reconcile.conditions import applying_record, conditions, plan_record, verdict_of
from gitlab_ferry.reconcile.migrations.actions import (
    CreateGroups,
    ImportGroupTree,
    MigrationObservation,
    RequestGroupExport,
)
from gitlab_ferry.reconcile.migrations.children import Phase
from gitlab_ferry.reconcile.migrations.planner import eta
from gitlab_ferry.reconcile.migrations.tree import destination_groups, wanted
from gitlab_ferry.reconcile.plan import Done, Outcome, Plan


def begin_migration(
    recorded: GroupMigrationStatus, plan: Plan, now: datetime
) -> GroupMigrationStatus:
    """The status to write before a mutating group request is sent."""
    status = recorded.model_copy(deep=True)
    status.plan = applying_record(plan, now)
    if isinstance(plan.action, RequestGroupExport):
        status.group_export_at = now
    elif isinstance(plan.action, ImportGroupTree):
        status.group_import_at = now
    return status


def record_migration(
    spec: GroupMigrationSpec,
    name: str,
    generation: int | None,
    recorded: GroupMigrationStatus,
    observed: MigrationObservation,
    plan: Plan,
    outcome: Outcome | None,
    now: datetime,
) -> GroupMigrationStatus:
    """The status after a pass that observed ``observed`` and applied ``plan``."""
    status = recorded.model_copy(deep=True)
    status.started_at = status.started_at or now
    if observed.problem is None and observed.tree is not None:
        _record_progress(status, spec, name, observed, now)
    if isinstance(plan.action, CreateGroups) and isinstance(outcome, Done):
        created = outcome.value if isinstance(outcome.value, int) else 0
        status.groups_created += created
    if observed.gitlab.version is not None:
        status.gitlab_version = str(observed.gitlab.version)
    status.refusal = refusals.recorded(
        plan, outcome, recorded.refusal, generation, observed.retry_request, now
    )
    status.plan = plan_record(plan, outcome, recorded.plan, now)
    status.conditions = conditions(verdict_of(plan, outcome), recorded.conditions, generation, now)
    status.observed_generation = generation
    return status


def _record_progress(
    status: GroupMigrationStatus,
    spec: GroupMigrationSpec,
    name: str,
    observed: MigrationObservation,
    now: datetime,
) -> None:
    """Counts, progress, groups, failures and the ETA, from what the pass observed."""
    tree = observed.tree
    assert tree is not None
    projects = wanted(tree, spec, name)
    children = [c for c in observed.children if c.name in projects]
    phases = Counter(child.phase for child in children)
    total = len(projects)
    counts = MigrationCounts(
        total=total,
        pending=phases[Phase.PENDING] + total - len(children),
        exporting=phases[Phase.EXPORTING],
        importing=phases[Phase.IMPORTING],
        finished=phases[Phase.FINISHED],
        failed=phases[Phase.FAILED],
    )
    if counts != status.counts or status.eta is None:
        # Recomputed when progress changes, not on every look: the ETA moves with the work.
        status.eta = eta(projects, children, observed.limits, now)
    status.counts = counts
    status.progress = f"{counts.finished}/{total}"
    status.listed_at = observed.listed_at or status.listed_at
    groups = destination_groups(spec, tree)
    status.groups = len(groups)
    status.groups_ready = sum(path.lower() in observed.destination_groups for path, _ in groups)
    failed = sorted((c for c in children if c.phase is Phase.FAILED), key=lambda c: c.name)
    status.failures = [
        MigrationFailure(name=c.name, project=c.project, reason=c.reason, message=c.message)
        for c in failed[:FAILURES_SHOWN]
    ]
    if counts.finished < total:
        status.finished_at = None
    elif status.finished_at is None:
        status.finished_at = now
