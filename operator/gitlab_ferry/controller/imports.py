"""The ProjectImport reconciler: one pass is validate, observe, plan (``plan_pass``, which
``gitlab-ferry plan`` shares), then apply and record; and the deletion pass behind its
finalizer (controller layer)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from gitlab_ferry.api import ProjectImportSpec, ProjectImportStatus
from gitlab_ferry.api.project_import import KIND, PLURAL
from gitlab_ferry.clock import utcnow
from gitlab_ferry.controller.reconciler import Memory, Reconciler, identity, work_began
from gitlab_ferry.controller.reporting import report
from gitlab_ferry.controller.validation import validated
from gitlab_ferry.effects import importing
from gitlab_ferry.effects.importing import ImportSubject
from gitlab_ferry.reconcile.conditions import (
    applying_record,
    invalid_spec_plan,
    recorded_verdict,
)
from gitlab_ferry.reconcile.imports import (
    AdoptImport,
    AwaitImport,
    DeleteProject,
    DeletionObservation,
    ImportObservation,
    ImportProject,
    ImportRelation,
    ReleaseFinalizer,
    begin_import,
    plan_deletion,
    plan_import,
    record_import,
)
from gitlab_ferry.reconcile.plan import Done, Failed, Outcome, Plan

#: Plans after which the import runs on GitLab (what learned durations time the looks at).
IN_FLIGHT_ACTIONS = (ImportProject, AdoptImport, AwaitImport)


@dataclass(frozen=True)
class ImportPass:
    """What one pass observed and decided, before anything is applied."""

    recorded: ProjectImportStatus
    #: ``None`` when the spec is invalid (the plan says why).
    spec: ProjectImportSpec | None
    subject: ImportSubject | None
    observed: ImportObservation
    plan: Plan
    now: datetime


class ImportReconciler(Reconciler):
    kind = KIND
    plural = PLURAL

    async def plan_pass(
        self, body: Mapping[str, Any], before: Mapping[str, Any], memory: Memory | None = None
    ) -> ImportPass:
        """Validate, observe and plan, without applying: the reconcile pass and
        ``gitlab-ferry plan`` both start here. ``before`` is the status the plan starts from."""
        runtime = self.runtime
        _, _, uid, generation = identity(body)
        now = utcnow(runtime.clock)
        recorded = ProjectImportStatus.model_validate(before)
        spec = validated(ProjectImportSpec, body)
        if isinstance(spec, str):
            plan = invalid_spec_plan(KIND, spec)
            return ImportPass(recorded, None, None, ImportObservation(), plan, now)
        resolved = await importing.resolve(runtime.services, runtime.namespaces, dict(body), spec)
        subject = resolved if isinstance(resolved, ImportSubject) else None
        if subject is not None:
            observed = await importing.observe(subject, recorded)
            host = subject.connection.host
            observed = replace(
                observed,
                expected_seconds=self.expected(host, memory, recorded.started_at),
                pace=self.pace(host, uid, now),
            )
        else:
            assert not isinstance(resolved, ImportSubject)
            observed = ImportObservation(problem=resolved)
        plan = plan_import(spec, generation, recorded, observed, now, runtime.import_policy)
        return ImportPass(recorded, spec, subject, observed, plan, now)

    async def reconcile(self, body: Mapping[str, Any], memory: Memory) -> float | None:
        runtime = self.runtime
        namespace, _, uid, generation = identity(body)
        before = self.recorded(body, memory)
        step = await self.plan_pass(body, before, memory)
        recorded, plan, now = step.recorded, step.plan, step.now
        if step.spec is None:
            await self.report_invalid(body, memory, recorded, plan, now, recorded.import_status)
            return None
        spec, subject = step.spec, step.subject
        if spec.source.export_ref is not None:
            runtime.dependents.note(
                namespace, spec.source.export_ref.name, uid, _needs_archive(spec, recorded)
            )
        outcome: Outcome = Done(None)
        base = recorded
        if plan.mutating and not plan.awaiting_approval and subject is not None:
            outcome, begun = await self.apply_budgeted(
                body,
                memory,
                plan,
                claims=lambda: importing.claims(runtime.services, subject, plan.action),
                begin=lambda: begin_import(recorded, plan, now),
                apply=lambda: self._apply(subject, plan),
            )
            if isinstance(begun, ProjectImportStatus):
                base = begun
        status = record_import(
            generation, bool(spec.relations), base, step.observed, plan, outcome, now
        )
        await self.write(body, memory, status)
        report(runtime, KIND, body, before, self.recorded(body, memory), plan, status.import_status)
        self._account(before, status, subject, memory, now)
        memory.running_at = now if isinstance(plan.action, AwaitImport) else None
        self.track_work(
            subject.connection.host if subject else None,
            uid,
            work_began(memory, status.started_at),
            isinstance(plan.action, IN_FLIGHT_ACTIONS) and isinstance(outcome, Done),
            step.observed.pace,
        )
        return self.requeue(plan, outcome, step.observed.problem, memory)

    async def _apply(self, subject: ImportSubject, plan: Plan) -> Outcome:
        services = self.runtime.services
        match plan.action:
            case ImportProject() as request:
                return await importing.import_project(services, subject, request)
            case ImportRelation() as relation:
                return await importing.import_relation(services, subject, relation)
        raise AssertionError(f"{plan.action.name} is not applied by the import reconciler")

    def _account(
        self,
        before: Mapping[str, Any],
        status: ProjectImportStatus,
        subject: ImportSubject | None,
        memory: Memory,
        now: datetime,
    ) -> None:
        """Transfer metrics, failed relations and duration learning when an import ends."""
        previous = ProjectImportStatus.model_validate(before)
        finished = status.finished_at
        if not finished or finished == previous.finished_at:
            return
        metrics = self.runtime.metrics
        succeeded = status.failure_generation is None
        result = "finished" if succeeded else "failed"
        metrics.transfers.labels(KIND, result).inc()
        if status.started_at:
            seconds = (finished - status.started_at).total_seconds()
            metrics.transfer_duration.labels(KIND, result).observe(seconds)
            if succeeded and subject is not None and status.relation_imports == []:
                self.learn(subject.connection.host, memory, status.started_at, finished, now)
        for failure in status.failed_relations:
            metrics.failed_relations.labels(failure.relation_name or "unknown").inc()

    async def forget(self, body: Mapping[str, Any], memory: Memory) -> None:
        namespace, name, uid, _ = identity(body)
        self.runtime.dependents.drop(uid)
        self.runtime.metrics.objects.forget(KIND, namespace, name)

    # -- deletion -----------------------------------------------------------------------------

    async def delete(self, body: Mapping[str, Any]) -> float | None:
        """One deletion pass; ``None`` when the object may go, else seconds to retry in."""
        runtime = self.runtime
        memory = Memory(uid=identity(body)[2])
        now = utcnow(runtime.clock)
        before = self.recorded(body, memory)
        recorded = ProjectImportStatus.model_validate(before)
        spec = validated(ProjectImportSpec, body)
        if isinstance(spec, str):
            return None
        subject = await importing.resolve(runtime.services, runtime.namespaces, dict(body), spec)
        if isinstance(subject, ImportSubject):
            observed = await importing.observe_deletion(subject, recorded)
        else:
            observed = DeletionObservation(problem=subject)
        plan = plan_deletion(spec, recorded, observed)
        if isinstance(plan.action, ReleaseFinalizer):
            runtime.events(body, "Normal", plan.action.name, f"Plan {plan.id}: {plan.reason}.")
            return None
        outcome: Outcome = Done(None)
        status = recorded
        if isinstance(plan.action, DeleteProject) and not plan.awaiting_approval:
            assert isinstance(subject, ImportSubject)
            status = recorded.model_copy(deep=True)
            status.plan = applying_record(plan, now)
            await self.write(body, memory, status)
            outcome = await importing.delete_project(subject, plan.action)
            if isinstance(outcome, Done):
                runtime.events(body, "Normal", plan.action.name, f"Plan {plan.id}: {plan.reason}.")
                return None
        status = recorded_verdict(recorded, plan, outcome, identity(body)[3], now)
        await self.write(body, memory, status)
        report(runtime, KIND, body, before, self.recorded(body, memory), plan, status.import_status)
        if plan.awaiting_approval:
            return runtime.settings.recheck_interval
        problem = observed.problem or (outcome.problem if isinstance(outcome, Failed) else None)
        return self.requeue(plan, outcome, problem, memory) or self.backoff(1)


def _needs_archive(spec: ProjectImportSpec, recorded: ProjectImportStatus) -> bool:
    """Whether this import still needs its ProjectExport's current archive."""
    if spec.relations:
        return not recorded.ready
    return recorded.project_id is None
