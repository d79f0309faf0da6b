"""The ProjectImport reconciler: one pass is validate, observe, plan, apply, record; and the
deletion pass behind its finalizer (controller layer)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from gitlab_ferry.api import ProjectImportSpec, ProjectImportStatus
from gitlab_ferry.api.project_import import KIND, PLURAL
from gitlab_ferry.clock import utcnow
from gitlab_ferry.controller.announce import announce
from gitlab_ferry.controller.reconciler import Memory, Reconciler, identity
from gitlab_ferry.controller.validation import import_spec_problems, validation_message
from gitlab_ferry.effects import import_effects
from gitlab_ferry.effects.import_effects import ImportSubject
from gitlab_ferry.reconcile.conditions import (
    applying_record,
    conditions,
    plan_record,
    verdict_of,
)
from gitlab_ferry.reconcile.deletion import DeletionObservation, plan_deletion
from gitlab_ferry.reconcile.import_observation import ImportObservation
from gitlab_ferry.reconcile.import_planner import ImportAction
from gitlab_ferry.reconcile.import_recorder import begin, record_import
from gitlab_ferry.reconcile.imports import plan_import
from gitlab_ferry.reconcile.plan import Done, Failed, Outcome
from gitlab_ferry.reconcile.timing import parse_time

_APPLIERS: dict[str, Callable[..., Awaitable[Outcome]]] = {
    ImportAction.IMPORT: import_effects.import_project,
    ImportAction.IMPORT_RELATION: import_effects.import_relation,
}


class ImportReconciler(Reconciler):
    kind = KIND
    plural = PLURAL

    def _spec(self, body: Mapping[str, Any]) -> ProjectImportSpec | str:
        try:
            spec = ProjectImportSpec.model_validate(body.get("spec") or {})
        except ValidationError as exc:
            return validation_message(exc)
        problems = import_spec_problems(spec)
        return "; ".join(problems) if problems else spec

    async def reconcile(self, body: Mapping[str, Any], memory: Memory) -> float | None:
        runtime = self.runtime
        namespace, _, uid, generation = identity(body)
        now = utcnow(runtime.clock)
        before = self.recorded(body, memory)
        recorded = ProjectImportStatus.model_validate(before)
        spec = self._spec(body)
        if isinstance(spec, str):
            await self.report_invalid(body, memory, recorded, spec, recorded.import_status)
            return None

        subject = await import_effects.resolve(
            runtime.services, runtime.namespaces, dict(body), spec
        )
        if isinstance(subject, ImportSubject):
            observed = await import_effects.observe(subject, recorded)
            observed = replace(
                observed,
                expected_seconds=runtime.durations.expected(subject.connection.host, KIND),
            )
        else:
            observed = ImportObservation(problem=subject)
        if spec.source.export_ref is not None:
            runtime.dependents.note(
                namespace, spec.source.export_ref.name, uid, _needs_archive(spec, recorded)
            )
        plan = plan_import(spec, generation, recorded, observed, now, runtime.import_policy)

        outcome: Outcome = Done()
        base = recorded
        apply = _APPLIERS.get(plan.action)
        if apply is not None and not plan.awaiting_approval and isinstance(subject, ImportSubject):
            resolved = subject
            outcome, begun = await self.apply_budgeted(
                body,
                memory,
                plan,
                claims=lambda: import_effects.claims(runtime.services, resolved, plan),
                begin=lambda: begin(recorded, plan, now),
                apply=lambda: apply(runtime.services, resolved, plan),
            )
            if isinstance(begun, ProjectImportStatus):
                base = begun
        status = record_import(generation, bool(spec.relations), base, observed, plan, outcome, now)
        await self.write(body, memory, status)
        announce(
            runtime, KIND, body, before, self.recorded(body, memory), plan, status.import_status
        )
        self._account(before, status, subject)
        return self.requeue(plan, outcome, observed.problem, memory)

    def _account(
        self, before: Mapping[str, Any], status: ProjectImportStatus, subject: object
    ) -> None:
        """Transfer metrics, failed relations and duration learning when an import ends."""
        previous = ProjectImportStatus.model_validate(before)
        if not status.finished_at or status.finished_at == previous.finished_at:
            return
        metrics = self.runtime.metrics
        succeeded = status.failure_generation is None
        result = "finished" if succeeded else "failed"
        metrics.transfers.labels(KIND, result).inc()
        started, finished = parse_time(status.started_at), parse_time(status.finished_at)
        if started and finished:
            seconds = (finished - started).total_seconds()
            metrics.transfer_duration.labels(KIND, result).observe(seconds)
            if succeeded and isinstance(subject, ImportSubject) and status.relation_imports == []:
                self.runtime.durations.record(subject.connection.host, KIND, seconds)
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
        spec = self._spec(body)
        if isinstance(spec, str):
            return None
        subject = await import_effects.resolve(
            runtime.services, runtime.namespaces, dict(body), spec
        )
        if isinstance(subject, ImportSubject):
            observed = await import_effects.observe_deletion(subject, recorded)
        else:
            observed = DeletionObservation(problem=subject)
        plan = plan_deletion(spec, recorded, observed)
        if plan.action == ImportAction.RELEASE:
            runtime.events(body, "Normal", plan.action, f"Plan {plan.id}: {plan.reason}.")
            return None
        outcome: Outcome = Done()
        status = recorded.model_copy(deep=True)
        if plan.action == ImportAction.DELETE_PROJECT and not plan.awaiting_approval:
            assert isinstance(subject, ImportSubject)
            status.plan = applying_record(plan, now)
            await self.write(body, memory, status)
            outcome = await import_effects.delete_project(subject, plan)
            if isinstance(outcome, Done):
                runtime.events(body, "Normal", plan.action, f"Plan {plan.id}: {plan.reason}.")
                return None
        status.plan = plan_record(plan, outcome, recorded.plan, now)
        status.conditions = conditions(
            verdict_of(plan, outcome), recorded.conditions, identity(body)[3], now
        )
        await self.write(body, memory, status)
        announce(
            runtime, KIND, body, before, self.recorded(body, memory), plan, status.import_status
        )
        if plan.awaiting_approval:
            return runtime.settings.recheck_interval
        problem = observed.problem or (outcome.problem if isinstance(outcome, Failed) else None)
        return self.requeue(plan, outcome, problem, memory) or self.backoff(1)


def _needs_archive(spec: ProjectImportSpec, recorded: ProjectImportStatus) -> bool:
    """Whether this import still needs its ProjectExport's current archive."""
    if spec.relations:
        ready = next((c for c in recorded.conditions if c.type == "Ready"), None)
        return not (ready and ready.status == "True")
    return recorded.project_id is None
