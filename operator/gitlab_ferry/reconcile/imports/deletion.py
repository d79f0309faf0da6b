"""Planning what happens on GitLab when a ProjectImport is deleted (reconcile layer).

``Orphan`` leaves the project; ``Delete`` removes the project this object imported, after
approval when ``approval: Manual``. A relation re-import never deletes: the project was not
created by the object. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from gitlab_ferry.api import ProjectImportSpec, ProjectImportStatus
from gitlab_ferry.api.project_import import KIND, DeletionPolicy
from gitlab_ferry.reconcile.imports.actions import DeleteProject, ReleaseFinalizer
from gitlab_ferry.reconcile.imports.planner import hold_for_approval
from gitlab_ferry.reconcile.plan import Action, Blocked, Plan, Problem, Reason, Verdict


@dataclass(frozen=True)
class DeletionObservation:
    """Whether the imported project still exists (``None``: it could not be looked up)."""

    project_exists: bool | None = None
    marked_for_deletion: bool = False
    approved_plan: str | None = None
    problem: Problem | None = None


def _plan(action: Action, reason: str, verdict: Verdict, requeue: float | None = None) -> Plan:
    return Plan(kind=KIND, action=action, reason=reason, verdict=verdict, requeue_after=requeue)


def plan_deletion(
    spec: ProjectImportSpec, recorded: ProjectImportStatus, observed: DeletionObservation
) -> Plan:
    """What to do before the object may go."""
    release = Verdict(False, Reason.DELETING, "Deleting.")
    if spec.deletion_policy is DeletionPolicy.ORPHAN:
        return _plan(ReleaseFinalizer(), "deletionPolicy is Orphan: the project stays", release)
    if spec.relations:
        return _plan(
            ReleaseFinalizer(),
            "relation re-imports never delete the project they added to",
            release,
        )
    project_id = recorded.project_id
    if project_id is None:
        return _plan(ReleaseFinalizer(), "no project was imported", release)
    if observed.problem is not None:
        return _plan(
            Blocked(),
            f"cannot delete project {project_id}: {observed.problem.message}; set "
            "deletionPolicy to Orphan to let the object go without deleting it",
            Verdict(False, observed.problem.reason, observed.problem.message),
            observed.problem.retry_after,
        )
    if observed.project_exists is None:
        return _plan(
            Blocked(),
            f"whether project {project_id} still exists is unknown; looking again",
            Verdict(False, Reason.DELETING, f"Could not look up project {project_id}."),
            60.0,
        )
    if observed.project_exists is False or observed.marked_for_deletion:
        return _plan(ReleaseFinalizer(), f"project {project_id} is gone or being deleted", release)
    plan = Plan(
        kind=KIND,
        action=DeleteProject(project_id),
        reason=f"deletionPolicy is Delete: delete project {project_id} "
        f"({recorded.path_with_namespace}) from GitLab",
        verdict=Verdict(False, Reason.DELETING, f"Deleting project {project_id} from GitLab."),
        inputs=(project_id,),
    )
    what = f"deletes the project at {recorded.path_with_namespace} (id {project_id})"
    return hold_for_approval(plan, spec.approval, observed.approved_plan, None, what=what)
