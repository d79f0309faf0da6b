"""The entry point of ProjectImport planning (reconcile layer): project imports and relation
re-imports share their first steps and differ after. Pure."""

from __future__ import annotations

from datetime import datetime

from gitlab_ferry.api import ProjectImportSpec, ProjectImportStatus
from gitlab_ferry.reconcile.import_observation import ImportObservation
from gitlab_ferry.reconcile.import_planner import ImportPlanner, ImportPolicy
from gitlab_ferry.reconcile.plan import Plan
from gitlab_ferry.reconcile.relations import RelationsPlanner


def plan_import(
    spec: ProjectImportSpec,
    generation: int | None,
    recorded: ProjectImportStatus,
    observed: ImportObservation,
    now: datetime,
    policy: ImportPolicy | None = None,
) -> Plan:
    """The one next action for a ProjectImport, and why."""
    planner = RelationsPlanner if spec.relations else ImportPlanner
    return planner(spec, generation, recorded, observed, now, policy or ImportPolicy()).plan()
