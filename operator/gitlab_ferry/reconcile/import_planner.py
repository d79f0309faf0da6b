"""The ProjectImport planner: (spec, recorded status, observation, now) -> the one next Plan
(reconcile layer).

Import requests are not idempotent, so a request is planned only after the target path was
looked up: an import already under way there is adopted, a request recorded as in flight is
matched to the project it created, and a taken path is reported instead of retried. Relation
re-imports are planned by ``relations``. Pure: no I/O, time is ``now``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from gitlab_ferry.api import ProjectImportSpec, ProjectImportStatus, parse_duration
from gitlab_ferry.api.base import APPROVE_ANNOTATION, PlanPhase
from gitlab_ferry.api.project_import import Approval
from gitlab_ferry.reconcile import refusals
from gitlab_ferry.reconcile.import_inputs import (
    ImportPolicy,
    Route,
    landing_mismatch,
    retry_wanted,
    route_for,
    target_params,
)
from gitlab_ferry.reconcile.import_observation import ImportObservation, ProjectInfo
from gitlab_ferry.reconcile.plan import Plan, Problem, Reason, Verdict, sentence, stable_hash
from gitlab_ferry.reconcile.timing import parse_time, seconds_between
from gitlab_ferry.states import IMPORT_IN_FLIGHT, ImportState

KIND = "ProjectImport"


class ImportAction:
    IMPORT = "ImportProject"
    ADOPT = "AdoptImport"
    AWAIT = "AwaitImport"
    UP_TO_DATE = "UpToDate"
    REPORT_FAILURE = "ReportFailure"
    WAIT_FOR_EXPORT = "WaitForExport"
    REPORT_PATH_TAKEN = "ReportPathTaken"
    REPORT_REFUSAL = "ReportRefusal"
    REPORT_WRONG_NAMESPACE = "ReportWrongNamespace"
    UNSUPPORTED = "Unsupported"
    IMPORT_RELATION = "ImportRelation"
    ADOPT_RELATION = "AdoptRelationImport"
    AWAIT_RELATION = "AwaitRelationImport"
    DELETE_PROJECT = "DeleteProject"
    RELEASE = "ReleaseFinalizer"
    SUSPEND = "Suspend"
    BLOCKED = "Blocked"


def hold_for_approval(
    plan: Plan,
    approval: Approval,
    approved_plan: str | None,
    recheck: float | None,
    *,
    what: str,
) -> Plan:
    """A destructive plan waits for approval of its id when ``approval: Manual``; it is
    planned again every ``recheck`` seconds, so what it shows follows GitLab. ``what`` says
    what it destroys (the full path and id of the project)."""
    if not plan.destructive or approval is Approval.AUTO or approved_plan == plan.id:
        return plan
    return Plan(
        kind=plan.kind,
        action=plan.action,
        reason=f"{plan.reason}; this is destructive and waits for approval",
        verdict=Verdict(
            False,
            Reason.AWAITING_APPROVAL,
            f"Plan {plan.id} ({plan.action}) {what}: approve it with kubectl annotate "
            f"--overwrite <object> {APPROVE_ANNOTATION}={plan.id}",
        ),
        requeue_after=recheck,
        mutating=plan.mutating,
        destructive=True,
        awaiting_approval=True,
        inputs=plan.inputs,
        params=plan.params,
    )


class ImportPlanner:
    """Plans one pass; ``relations`` and ``deletion`` reuse its helpers."""

    def __init__(
        self,
        spec: ProjectImportSpec,
        generation: int | None,
        recorded: ProjectImportStatus,
        observed: ImportObservation,
        now: datetime,
        policy: ImportPolicy,
    ) -> None:
        self.spec = spec
        self.generation = generation
        self.recorded = recorded
        self.observed = observed
        self.now = now
        self.policy = policy
        self.timeout = parse_duration(spec.timeout)

    # -- entry -----------------------------------------------------------------------------

    def plan(self) -> Plan:
        if self.observed.problem is not None:
            return self.blocked(self.observed.problem)
        if self.spec.suspend:
            return self.make(
                ImportAction.SUSPEND,
                "spec.suspend is true, so nothing is sent to GitLab",
                Verdict(False, Reason.SUSPENDED, "Suspended by spec.suspend."),
            )
        refusal = refusals.standing(
            self.recorded.refusal, self.generation, self.observed.retry_request
        )
        if refusal is not None:
            return self.make(
                ImportAction.REPORT_REFUSAL,
                refusals.explain("the import request"),
                refusals.verdict(refusal),
                inputs=(refusal.reason, refusal.at),
            )
        return self.plan_body()

    def plan_body(self) -> Plan:
        """The plan once problems and suspension are ruled out."""
        if self.recorded.project_id is not None:
            return self._tracked()
        return self._untracked()

    # -- no project recorded yet -------------------------------------------------------------

    def _untracked(self, prefix: str = "") -> Plan:
        adopted = self._adoption()
        if adopted is not None:
            return adopted
        at = self.observed.at_path
        if at is not None and at.marked_for_deletion:
            return self.make(
                ImportAction.REPORT_PATH_TAKEN,
                f"{prefix}project {at.path_with_namespace} is being deleted on GitLab; "
                "waiting until its path is free",
                Verdict(False, Reason.PATH_TAKEN, f"{at.path_with_namespace} is being deleted."),
                requeue_after=self.policy.recheck,
            )
        if at is not None and not self.spec.overwrite:
            return self.make(
                ImportAction.REPORT_PATH_TAKEN,
                f"{prefix}project {at.path_with_namespace} (id {at.id}) already exists and "
                "spec.overwrite is false",
                Verdict(
                    False,
                    Reason.PATH_TAKEN,
                    f"Path has already been taken: {at.path_with_namespace} exists (id {at.id}). "
                    "Set spec.overwrite to replace it, or choose another path.",
                ),
                requeue_after=self.policy.recheck,
                inputs=(at.id,),
            )
        waiting = self.wait_for_export()
        if waiting is not None:
            return waiting
        if at is not None:
            return self.import_request(
                f"{prefix}replace project {at.path_with_namespace} (id {at.id}) as "
                "spec.overwrite asks",
                overwrite=True,
                replaces=at.id,
            )
        return self.import_request(
            f"{prefix}no project exists at {self.observed.full_path}",
            overwrite=self.spec.overwrite,
        )

    def _adoption(self) -> Plan | None:
        """An import this object requested before a restart, or one already under way."""
        at = self.observed.at_path
        requested = self.requested_since(ImportAction.IMPORT)
        if requested is not None:
            for candidate in sorted(
                self.observed.overwrite_candidates, key=lambda p: p.id, reverse=True
            ):
                if candidate.imported_from_archive and self.created_after(candidate, requested):
                    return self.adopt(candidate, "the import recorded before a restart")
            if at is not None and at.imported_from_archive and self.created_after(at, requested):
                return self.adopt(at, "the import recorded before a restart")
        if at is not None and at.imported_from_archive and at.import_state in IMPORT_IN_FLIGHT:
            return self.adopt(at, f"an import already under way at {at.path_with_namespace}")
        return None

    def created_after(self, project: ProjectInfo, moment: datetime) -> bool:
        """Whether ``project`` may be the result of a request made at ``moment``; without a
        creation time there is no evidence that it is."""
        created = parse_time(project.created_at)
        window = timedelta(seconds=self.policy.adoption_window)
        return created is not None and created >= moment - window

    def requested_since(self, action: str) -> datetime | None:
        """When a mutating ``action`` was recorded as being applied, if it was."""
        plan = self.recorded.plan
        if plan is None or plan.action != action or plan.phase != PlanPhase.APPLYING:
            return None
        return parse_time(plan.since) or self.now

    def adopt(self, project: ProjectInfo, what: str) -> Plan:
        return self.make(
            ImportAction.ADOPT,
            f"adopt {what} (project id {project.id}) instead of requesting another import",
            Verdict(False, Reason.IMPORTING, f"Following the import of {project.id}."),
            requeue_after=self.policy.polling.initial,
            inputs=(project.id,),
            params={"project_id": project.id, "path_with_namespace": project.path_with_namespace},
        )

    # -- a project recorded ------------------------------------------------------------------

    def _tracked(self) -> Plan:
        if self.observed.tracked_missing or self.observed.tracked is None:
            return self._untracked(
                prefix=f"project {self.recorded.project_id} no longer exists on GitLab, and "
            )
        info = self.observed.tracked
        elapsed = seconds_between(parse_time(self.recorded.started_at), self.now)
        in_flight = info.state in IMPORT_IN_FLIGHT
        if landing_mismatch(self.observed.full_path, info.path_with_namespace, in_flight=in_flight):
            return self.wrong_namespace(info.project_id, info.path_with_namespace)
        if in_flight:
            if elapsed > self.timeout.total_seconds():
                return self.failure(
                    Reason.TIMED_OUT,
                    f"the import has not finished after {self.spec.timeout} (spec.timeout)",
                )
            reason = Reason.SCHEDULED if info.state is ImportState.SCHEDULED else Reason.IMPORTING
            delay = self.policy.polling.next_delay(elapsed, self.observed.expected_seconds)
            return self.make(
                ImportAction.AWAIT,
                f"GitLab is importing the project ({info.import_status}); looking again in "
                f"{delay:.0f}s",
                Verdict(False, reason, f"GitLab import status: {info.import_status}."),
                requeue_after=delay,
                inputs=(info.project_id,),
            )
        if info.state is ImportState.FINISHED:
            count = len(info.failed_relations)
            if count:
                verdict = Verdict(
                    True,
                    Reason.FINISHED_WITH_FAILED_RELATIONS,
                    f"The import finished, but {count} relation record(s) failed to import "
                    "(see status.failedRelations).",
                )
            else:
                verdict = Verdict(True, Reason.FINISHED, "The import finished.")
            return self.make(
                ImportAction.UP_TO_DATE,
                f"GitLab finished importing {info.path_with_namespace}",
                verdict,
                inputs=(info.project_id,),
            )
        if info.state in (ImportState.FAILED, ImportState.CANCELED):
            if retry_wanted(self.recorded, self.generation):
                return self._retry_failed(info.project_id)
            error = info.import_error or f"GitLab reports the import as {info.import_status}"
            return self.failure(Reason.FAILED, error)
        return self.make(
            ImportAction.AWAIT,
            f"GitLab reports import status {info.import_status!r} for project "
            f"{info.project_id}; looking again later",
            Verdict(False, Reason.IMPORTING, f"GitLab import status: {info.import_status}."),
            requeue_after=self.policy.polling.maximum,
        )

    def _retry_failed(self, failed_id: int) -> Plan:
        """The spec changed since the import failed: import again, replacing the failed
        project when it holds the path."""
        waiting = self.wait_for_export()
        if waiting is not None:
            return waiting
        at = self.observed.at_path
        if at is None:
            return self.import_request("the last import failed; the path is free")
        if at.id == failed_id:
            return self.import_request(
                "the last import failed; replace its failed project", overwrite=True
            )
        if not self.spec.overwrite:
            return self._untracked()
        return self.import_request(
            f"the last import failed; replace project {at.path_with_namespace} (id {at.id}) "
            "as spec.overwrite asks",
            overwrite=True,
            replaces=at.id,
        )

    # -- shared ------------------------------------------------------------------------------

    def wait_for_export(self) -> Plan | None:
        ref = self.spec.source.export_ref
        export = self.observed.export
        if ref is None or (export is not None and export.ready):
            return None
        if export is None or not export.exists:
            message = f"ProjectExport {ref.name} does not exist in this namespace (yet)."
        else:
            message = f"ProjectExport {ref.name} has not finished: {export.message}"
        return self.make(
            ImportAction.WAIT_FOR_EXPORT,
            f"the import needs the archive of ProjectExport {ref.name}, which is not ready",
            Verdict(False, Reason.WAITING_FOR_EXPORT, message),
            requeue_after=self.policy.export_wait,
            inputs=(ref.name,),
        )

    def import_request(
        self, why: str, *, overwrite: bool = False, replaces: int | None = None
    ) -> Plan:
        observed = self.observed
        export = observed.export
        choice = route_for(self.spec, export, observed.gitlab, observed.gitlab_can_fetch)
        attempt = self.recorded.attempts + 1
        destructive = replaces is not None
        target = target_params(self.spec, observed.gitlab)
        replacing = f"; it replaces {observed.full_path} (id {replaces})" if destructive else ""
        plan = self.make(
            ImportAction.IMPORT,
            f"{why}, so import it into {observed.full_path} by {choice.route.value}: {choice.why}",
            Verdict(False, Reason.SCHEDULED, f"Import requested from GitLab{replacing}."),
            requeue_after=self.policy.polling.next_delay(0.0, observed.expected_seconds),
            mutating=True,
            destructive=destructive,
            inputs=(
                choice.route.value,
                observed.full_path,
                overwrite,
                replaces,
                attempt,
                export.archive if export else None,
                # Everything the request sends: a changed spec is another plan.
                stable_hash({"target": target, "source": self.spec.source.model_dump(mode="json")}),
            ),
            params={
                "route": choice.route.value,
                "overwrite": overwrite,
                "replaces": replaces,
                "attempt": attempt,
                **target,
            },
        )
        return self.hold_for_approval(
            plan, what=f"replaces the project at {observed.full_path} (id {replaces})"
        )

    def wrong_namespace(self, project_id: int, actual: str) -> Plan:
        """GitLab put the project somewhere else: never Ready, and nothing more is done."""
        message = (
            f"GitLab imported the project at {actual} (id {project_id}), not at "
            f"{self.observed.full_path}, so nothing more is done. Move that project to "
            f"{self.observed.full_path} on GitLab (this object follows its id), or delete it "
            "(this object then imports again)."
        )
        return self.make(
            ImportAction.REPORT_WRONG_NAMESPACE,
            f"the imported project is at {actual}, not at {self.observed.full_path}; looking "
            "again later in case it was moved or deleted",
            Verdict(False, Reason.WRONG_NAMESPACE, message),
            requeue_after=self.policy.recheck,
            inputs=(project_id, actual),
        )

    def unsupported(self, what: str) -> Plan:
        gitlab = self.observed.gitlab
        return self.make(
            ImportAction.UNSUPPORTED,
            f"{gitlab.describe()}: {what}",
            Verdict(False, Reason.UNSUPPORTED_BY_GITLAB, sentence(f"{gitlab.describe()}: {what}")),
            requeue_after=self.policy.recheck,
            inputs=(str(gitlab.version), what),
        )

    def hold_for_approval(self, plan: Plan, *, what: str) -> Plan:
        return hold_for_approval(
            plan, self.spec.approval, self.observed.approved_plan, self.policy.recheck, what=what
        )

    def failure(self, reason: Reason, message: str) -> Plan:
        return self.make(
            ImportAction.REPORT_FAILURE,
            f"{message}; a spec change starts a new attempt",
            Verdict(False, reason, message),
            inputs=(reason.value, self.recorded.project_id),
        )

    def blocked(self, problem: Problem) -> Plan:
        return self.make(
            ImportAction.BLOCKED,
            f"cannot proceed: {problem.message}",
            Verdict(False, problem.reason, problem.message),
            requeue_after=problem.retry_after
            or (self.policy.polling.maximum if problem.transient else self.policy.recheck),
            inputs=(problem.reason,),
        )

    def make(
        self,
        action: str,
        reason: str,
        verdict: Verdict,
        *,
        requeue_after: float | None = None,
        mutating: bool = False,
        destructive: bool = False,
        inputs: tuple[object, ...] = (),
        params: dict[str, Any] | None = None,
    ) -> Plan:
        return Plan(
            kind=KIND,
            action=action,
            reason=reason,
            verdict=verdict,
            requeue_after=requeue_after,
            mutating=mutating,
            destructive=destructive,
            inputs=inputs,
            params=dict(params or {}),
        )


__all__ = [
    "KIND",
    "ImportAction",
    "ImportPlanner",
    "ImportPolicy",
    "Route",
    "hold_for_approval",
    "retry_wanted",
    "route_for",
    "target_params",
]
