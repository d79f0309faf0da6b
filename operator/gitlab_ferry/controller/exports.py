"""The ProjectExport reconciler: one pass is validate, observe, plan, apply, record
(controller layer)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from gitlab_ferry.api import RETRY_ANNOTATION, ProjectExportSpec, ProjectExportStatus
from gitlab_ferry.api.project_export import KIND, PLURAL
from gitlab_ferry.clock import utcnow
from gitlab_ferry.controller.announce import announce
from gitlab_ferry.controller.reconciler import Memory, Reconciler, annotation, identity
from gitlab_ferry.controller.validation import export_spec_problems, validation_message
from gitlab_ferry.effects import export_effects
from gitlab_ferry.effects.budget import Claim
from gitlab_ferry.effects.services import Services
from gitlab_ferry.reconcile.export_planner import ExportAction, ExportObservation, plan_export
from gitlab_ferry.reconcile.export_recorder import begin_export, record_export
from gitlab_ferry.reconcile.plan import Done, Outcome, Plan
from gitlab_ferry.reconcile.timing import parse_time


class ExportReconciler(Reconciler):
    kind = KIND
    plural = PLURAL

    async def reconcile(self, body: Mapping[str, Any], memory: Memory) -> float | None:
        runtime = self.runtime
        namespace, name, _, generation = identity(body)
        now = utcnow(runtime.clock)
        before = self.recorded(body, memory)
        recorded = ProjectExportStatus.model_validate(before)
        try:
            spec = ProjectExportSpec.model_validate(body.get("spec") or {})
            problems = export_spec_problems(spec)
        except ValidationError as exc:
            problems = [validation_message(exc)]
        if problems:
            message = "; ".join(problems)
            await self.report_invalid(body, memory, recorded, message, recorded.export_status)
            return None

        target = await export_effects.resolve(runtime.services, namespace, name, spec)
        if isinstance(target, export_effects.ExportTarget):
            observed = await export_effects.observe(runtime.services, target, recorded)
            observed = replace(
                observed,
                consumers_waiting=runtime.dependents.waiting(namespace, name),
                expected_seconds=runtime.durations.expected(target.connection.host, KIND),
            )
        else:
            observed = ExportObservation(problem=target)
        observed = replace(observed, retry_request=annotation(body, RETRY_ANNOTATION))
        plan = plan_export(
            spec,
            recorded,
            observed,
            now,
            runtime.export_policy,
            name=name,
            namespace=namespace,
            generation=generation,
        )

        outcome: Outcome = Done()
        base = recorded
        if plan.action in _APPLIED and isinstance(target, export_effects.ExportTarget):
            resolved = target
            project_path = recorded.path_with_namespace or str(spec.project)
            outcome, begun = await self.apply_budgeted(
                body,
                memory,
                plan,
                claims=lambda: _claims(runtime.services, resolved, plan, project_path),
                begin=lambda: begin_export(spec, recorded, plan, now),
                apply=lambda: _APPLIED[plan.action](runtime.services, resolved, plan),
            )
            if isinstance(begun, ProjectExportStatus):
                base = begun
        status = record_export(spec, generation, base, observed, plan, outcome, now)
        await self.write(body, memory, status)
        announce(
            runtime, KIND, body, before, self.recorded(body, memory), plan, status.export_status
        )
        self._account(body, before, status, target)
        return self.requeue(plan, outcome, observed.problem, memory)

    def _account(
        self,
        body: Mapping[str, Any],
        before: Mapping[str, Any],
        status: ProjectExportStatus,
        target: object,
    ) -> None:
        """Transfer metrics and duration learning when a run ends; importers waiting for
        this export are woken when what they read of it changes."""
        runtime = self.runtime
        namespace, name, _, _ = identity(body)
        previous = ProjectExportStatus.model_validate(before)
        if _seen_by_importers(previous) != _seen_by_importers(status):
            for uid in runtime.dependents.importers(namespace, name):
                runtime.wakeups.wake(uid)
        if status.finished_at and status.finished_at != previous.finished_at:
            succeeded = bool(status.artifact and status.artifact.created_at == status.finished_at)
            result = "finished" if succeeded else "failed"
            started, finished = parse_time(status.started_at), parse_time(status.finished_at)
            if started and finished:
                seconds = (finished - started).total_seconds()
                runtime.metrics.transfer_duration.labels(KIND, result).observe(seconds)
                if succeeded and isinstance(target, export_effects.ExportTarget):
                    runtime.durations.record(target.connection.host, KIND, seconds)
            runtime.metrics.transfers.labels(KIND, result).inc()

    async def forget(self, body: Mapping[str, Any], memory: Memory) -> None:
        namespace, name, _, _ = identity(body)
        self.runtime.metrics.objects.forget(KIND, namespace, name)


_APPLIED: dict[str, Callable[[Services, export_effects.ExportTarget, Plan], Awaitable[Outcome]]] = {
    ExportAction.REQUEST: export_effects.request_export,
    ExportAction.RELAY: export_effects.relay_to_s3,
}


async def _claims(
    services: Services, target: export_effects.ExportTarget, plan: Plan, project_path: str
) -> list[Claim]:
    if plan.action == ExportAction.RELAY:
        return export_effects.relay_claims(services, target, project_path)
    return export_effects.claims(services, target)


def _seen_by_importers(status: ProjectExportStatus) -> tuple[object, ...]:
    """The part of an export's status a ProjectImport with ``exportRef`` reads: its Ready
    condition, its archive and the generation they describe (not timestamps of polls)."""
    ready = next((c for c in status.conditions if c.type == "Ready"), None)
    return (
        ready and (ready.status, ready.reason, ready.message),
        status.artifact,
        status.observed_generation,
    )
