"""Planning GroupMigrations (reconcile layer): what the controller needs of it, in one place.

``plan_migration`` decides the one next action (groups first, then child pairs within
``maxInFlight``, then progress); ``begin_migration`` is the status written before a mutating
group request; ``record_migration`` folds a pass into the next status. Pure.
"""

from __future__ import annotations

from datetime import datetime

from gitlab_ferry.api.group_migration import GroupMigrationSpec, GroupMigrationStatus
from gitlab_ferry.reconcile.migrations.actions import (
    AdoptChildren,
    AwaitGroups,
    CreateChildren,
    CreateGroups,
    ImportGroupTree,
    Limits,
    Migrating,
    MigrationObservation,
    NewGroup,
    Pair,
    RequestGroupExport,
)
from gitlab_ferry.reconcile.migrations.children import (
    MIGRATION_LABEL,
    SOURCE_ANNOTATION,
    Child,
    ChildRecord,
    Owner,
    Phase,
    child_bodies,
    child_record,
    child_state,
    migration_of,
    owner_reference,
    pairs_of,
)
from gitlab_ferry.reconcile.migrations.planner import MigrationPlanner
from gitlab_ferry.reconcile.migrations.recorder import begin_migration, record_migration
from gitlab_ferry.reconcile.migrations.tree import (
    SourceGroup,
    SourceProject,
    SourceTree,
    child_name,
    destination_groups,
    destination_path,
    relative,
    selected,
    wanted,
)
from gitlab_ferry.reconcile.plan import Plan
from gitlab_ferry.reconcile.timing import Polling


def plan_migration(
    spec: GroupMigrationSpec,
    name: str,
    generation: int | None,
    recorded: GroupMigrationStatus,
    observed: MigrationObservation,
    now: datetime,
    polling: Polling | None = None,
    recheck: float = 300.0,
) -> Plan:
    """The one next action for a GroupMigration, and why."""
    planner = MigrationPlanner(
        spec, name, generation, recorded, observed, now, polling or Polling(), recheck
    )
    return planner.plan()


__all__ = [
    "MIGRATION_LABEL",
    "SOURCE_ANNOTATION",
    "AdoptChildren",
    "AwaitGroups",
    "Child",
    "ChildRecord",
    "CreateChildren",
    "CreateGroups",
    "ImportGroupTree",
    "Limits",
    "Migrating",
    "MigrationObservation",
    "NewGroup",
    "Owner",
    "Pair",
    "Phase",
    "RequestGroupExport",
    "SourceGroup",
    "SourceProject",
    "SourceTree",
    "begin_migration",
    "child_bodies",
    "child_name",
    "child_record",
    "child_state",
    "destination_groups",
    "destination_path",
    "migration_of",
    "owner_reference",
    "pairs_of",
    "plan_migration",
    "record_migration",
    "relative",
    "selected",
    "wanted",
]
