"""Planning ProjectImports (reconcile layer): what the controller needs of it, in one place.

``plan_import`` decides the one next action: a project import, or relation re-imports into
an existing project, which share their first steps and differ after. ``plan_deletion`` decides
what happens on GitLab when the object is deleted. ``begin_import`` is the status written
before a mutating action is applied; ``record_import`` folds a pass into the next status.
Pure.
"""

from __future__ import annotations

from datetime import datetime

from gitlab_ferry.api import ProjectImportSpec, ProjectImportStatus
from gitlab_ferry.reconcile.imports.actions import (
    AdoptImport,
    AdoptRelationImport,
    AwaitImport,
    AwaitRelationImport,
    DeleteProject,
    ImportAccepted,
    ImportProject,
    ImportRelation,
    ImportTarget,
    ReleaseFinalizer,
    ReportPathTaken,
    ReportWrongNamespace,
    Route,
    Unsupported,
    WaitForExport,
)
from gitlab_ferry.reconcile.imports.deletion import DeletionObservation, plan_deletion
from gitlab_ferry.reconcile.imports.inputs import ImportPolicy, route_for, target_for
from gitlab_ferry.reconcile.imports.observation import (
    ExportSource,
    ImportInfo,
    ImportObservation,
    ProjectInfo,
    TrackerInfo,
)
from gitlab_ferry.reconcile.imports.planner import ImportPlanner
from gitlab_ferry.reconcile.imports.recorder import begin_import, record_import
from gitlab_ferry.reconcile.imports.relations import RelationsPlanner
from gitlab_ferry.reconcile.plan import Plan


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


__all__ = [
    "AdoptImport",
    "AdoptRelationImport",
    "AwaitImport",
    "AwaitRelationImport",
    "DeleteProject",
    "DeletionObservation",
    "ExportSource",
    "ImportAccepted",
    "ImportInfo",
    "ImportObservation",
    "ImportPolicy",
    "ImportProject",
    "ImportRelation",
    "ImportTarget",
    "ProjectInfo",
    "ReleaseFinalizer",
    "ReportPathTaken",
    "ReportWrongNamespace",
    "Route",
    "TrackerInfo",
    "Unsupported",
    "WaitForExport",
    "begin_import",
    "plan_deletion",
    "plan_import",
    "record_import",
    "route_for",
    "target_for",
]
