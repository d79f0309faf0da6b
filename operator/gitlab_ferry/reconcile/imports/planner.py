"""The ProjectImport planner: (spec, recorded status, observation, now) -> the one next Plan
(reconcile layer).

Import requests are not idempotent, so a request is planned only after the target path was
looked up: an import already under way there is adopted, a request recorded as in flight is
matched to the project it created, and a taken path is reported instead of retried. Relation
re-imports are planned by ``relations``. Pure: no I/O, time is ``now``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from gitlab_ferry.api import (
    APPROVE_ANNOTATION,
    ProjectImportSpec,
    ProjectImportStatus,
    parse_duration,
)
from gitlab_ferry.api.project_import import KIND, Approval
from gitlab_ferry.api.status import PlanPhase
from gitlab_ferry.gitlab_states import IMPORT_IN_FLIGHT, ImportState
from gitlab_ferry.reconcile.imports.actions import (
    NAMESPACE_FIELDS,
    AdoptImport,
    AwaitImport,
    ImportProject,
    ReportPathTaken,
    ReportWrongNamespace,
    Unsupported,
    WaitForExport,
)
from gitlab_ferry.reconcile.imports.inputs import (
    ImportPolicy,
    landing_mismatch,
    retry_wanted,
    route_for,
    target_for,
)
from gitlab_ferry.reconcile.imports.observation import ImportObservation, ProjectInfo
from gitlab_ferry.reconcile.plan import (
    Action,
    Plan,
    Reason,
    ReportFailure,
    UpToDate,
    Verdict,
    sentence,
    stable_hash,
)
from gitlab_ferry.reconcile.planner import Planner
from gitlab_ferry.reconcile.timing import seconds_between


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
    return replace(
        plan,
        reason=f"{plan.reason}; this is destructive and waits for approval",
        verdict=Verdict(
            False,
            Reason.AWAITING_APPROVAL,
            f"Plan {plan.id} ({plan.action.name}) {what}: approve it with kubectl annotate "
            f"--overwrite <object> {APPROVE_ANNOTATION}={plan.id}",
        ),
        requeue_after=recheck,
        awaiting_approval=True,
    )


class ImportPlanner(Planner):
    """Plans one pass; ``relations`` reuses its helpers."""

    kind = KIND
    request = "the import request"

    def __init__(
        self,
        spec: ProjectImportSpec,
        generation: int | None,
        recorded: ProjectImportStatus,
        observed: ImportObservation,
        now: datetime,
        policy: ImportPolicy,
    ) -> None:
        super().__init__(
            generation=generation,
            recorded=recorded,
            problem=observed.problem,
            retry_request=observed.retry_request,
            suspend=spec.suspend,
            now=now,
            polling=policy.polling,
            recheck=policy.recheck,
        )
        self.spec = spec
        self.status = recorded
        self.observed = observed
        self.policy = policy
        self.timeout = parse_duration(spec.timeout)

    def plan_body(self) -> Plan:
        if self.status.project_id is not None:
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
                ReportPathTaken(),
                f"{prefix}project {at.path_with_namespace} is being deleted on GitLab; "
                "waiting until its path is free",
                Verdict(False, Reason.PATH_TAKEN, f"{at.path_with_namespace} is being deleted."),
                requeue_after=self.policy.recheck,
            )
        if at is not None and not self.spec.overwrite:
            return self.make(
                ReportPathTaken(),
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
        requested = self.requested_since(ImportProject)
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
        created = project.created_at
        window = timedelta(seconds=self.policy.adoption_window)
        return created is not None and created >= moment - window

    def requested_since(self, action: type[Action]) -> datetime | None:
        """When a mutating ``action`` was recorded as being applied, if it was."""
        plan = self.status.plan
        if plan is None or plan.action != action.__name__ or plan.phase != PlanPhase.APPLYING:
            return None
        return plan.since or self.now

    def adopt(self, project: ProjectInfo, what: str) -> Plan:
        return self.make(
            AdoptImport(project.id, project.path_with_namespace),
            f"adopt {what} (project id {project.id}) instead of requesting another import",
            Verdict(False, Reason.IMPORTING, f"Following the import of {project.id}."),
            requeue_after=self.policy.polling.initial,
            inputs=(project.id,),
        )

    # -- a project recorded ------------------------------------------------------------------

    def _tracked(self) -> Plan:
        if self.observed.tracked_missing or self.observed.tracked is None:
            return self._untracked(
                prefix=f"project {self.status.project_id} no longer exists on GitLab, and "
            )
        info = self.observed.tracked
        elapsed = seconds_between(self.status.started_at, self.now)
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
            delay = self.policy.polling.next_delay(
                elapsed, self.observed.expected_seconds, self.observed.pace
            )
            return self.make(
                AwaitImport(),
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
                UpToDate(),
                f"GitLab finished importing {info.path_with_namespace}",
                verdict,
                inputs=(info.project_id,),
            )
        if info.state in (ImportState.FAILED, ImportState.CANCELED):
            if retry_wanted(self.status, self.generation):
                return self._retry_failed(info.project_id)
            error = info.import_error or f"GitLab reports the import as {info.import_status}"
            return self.failure(Reason.FAILED, error)
        return self.make(
            AwaitImport(),
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
            WaitForExport(),
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
        attempt = self.status.attempts + 1
        target = target_for(self.spec, observed.gitlab, overwrite=overwrite)
        action = ImportProject(choice.route, target, attempt, replaces)
        replacing = f"; it replaces {observed.full_path} (id {replaces})" if replaces else ""
        # The plan's identity hashes the target as it always has: every field but overwrite.
        sent = {f: getattr(target, f) for f in ("path", "name", *NAMESPACE_FIELDS)}
        sent["override_params"] = dict(target.override_params)
        plan = self.make(
            action,
            f"{why}, so import it into {observed.full_path} by {choice.route.value}: {choice.why}",
            Verdict(False, Reason.SCHEDULED, f"Import requested from GitLab{replacing}."),
            requeue_after=self.policy.polling.next_delay(
                0.0, observed.expected_seconds, observed.pace
            ),
            inputs=(
                choice.route.value,
                observed.full_path,
                overwrite,
                replaces,
                attempt,
                export.archive if export else None,
                # Everything the request sends: a changed spec is another plan.
                stable_hash({"target": sent, "source": self.spec.source.model_dump(mode="json")}),
            ),
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
            ReportWrongNamespace(),
            f"the imported project is at {actual}, not at {self.observed.full_path}; looking "
            "again later in case it was moved or deleted",
            Verdict(False, Reason.WRONG_NAMESPACE, message),
            requeue_after=self.policy.recheck,
            inputs=(project_id, actual),
        )

    def unsupported(self, what: str) -> Plan:
        gitlab = self.observed.gitlab
        return self.make(
            Unsupported(),
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
            ReportFailure(),
            f"{message}; a spec change starts a new attempt",
            Verdict(False, reason, message),
            inputs=(reason.value, self.status.project_id),
        )
