"""The ProjectExport reconciler: one pass is validate, observe, plan (``plan_pass``, which
``gitlab-ferry plan`` shares), then apply and record (controller layer)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from gitlab_ferry.api import RETRY_ANNOTATION, ProjectExportSpec, ProjectExportStatus
from gitlab_ferry.api.project_export import KIND, PLURAL
from gitlab_ferry.clock import utcnow
from gitlab_ferry.controller.reconciler import (
    Memory,
    Reconciler,
    annotation,
    identity,
    work_began,
)
from gitlab_ferry.controller.reporting import report
from gitlab_ferry.controller.validation import validated
from gitlab_ferry.effects import exporting
from gitlab_ferry.effects.budget import Claim
from gitlab_ferry.effects.exporting import ExportTarget
from gitlab_ferry.reconcile.conditions import invalid_spec_plan
from gitlab_ferry.reconcile.exports import (
    AwaitExport,
    ExportObservation,
    RelayToS3,
    RequestExport,
    begin_export,
    plan_export,
    record_export,
)
from gitlab_ferry.reconcile.plan import Done, Outcome, Plan

#: Plans after which the export runs on GitLab (what learned durations time the looks at).
IN_FLIGHT_ACTIONS = (RequestExport, AwaitExport)


@dataclass(frozen=True)
class ExportPass:
    """What one pass observed and decided, before anything is applied."""

    recorded: ProjectExportStatus
    #: ``None`` when the spec is invalid (the plan says why).
    spec: ProjectExportSpec | None
    target: ExportTarget | None
    observed: ExportObservation
    plan: Plan
    now: datetime


class ExportReconciler(Reconciler):
    kind = KIND
    plural = PLURAL

    async def plan_pass(
        self, body: Mapping[str, Any], before: Mapping[str, Any], memory: Memory | None = None
    ) -> ExportPass:
        """Validate, observe and plan, without applying: the reconcile pass and
        ``gitlab-ferry plan`` both start here. ``before`` is the status the plan starts from."""
        runtime = self.runtime
        namespace, name, uid, generation = identity(body)
        now = utcnow(runtime.clock)
        recorded = ProjectExportStatus.model_validate(before)
        spec = validated(ProjectExportSpec, body)
        if isinstance(spec, str):
            plan = invalid_spec_plan(KIND, spec)
            return ExportPass(recorded, None, None, ExportObservation(), plan, now)
        resolved = await exporting.resolve(runtime.services, namespace, name, spec)
        target = resolved if isinstance(resolved, ExportTarget) else None
        if target is not None:
            observed = await exporting.observe(runtime.services, target, recorded)
            observed = replace(
                observed,
                consumers_waiting=runtime.dependents.waiting(namespace, name),
                expected_seconds=self.expected(target.connection.host, memory, recorded.started_at),
                pace=self.pace(target.connection.host, uid, now),
            )
        else:
            assert not isinstance(resolved, ExportTarget)
            observed = ExportObservation(problem=resolved)
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
        return ExportPass(recorded, spec, target, observed, plan, now)

    async def reconcile(self, body: Mapping[str, Any], memory: Memory) -> float | None:
        runtime = self.runtime
        _, _, uid, generation = identity(body)
        before = self.recorded(body, memory)
        step = await self.plan_pass(body, before, memory)
        recorded, plan, now = step.recorded, step.plan, step.now
        if step.spec is None:
            await self.report_invalid(body, memory, recorded, plan, now, recorded.export_status)
            return None
        spec, target = step.spec, step.target
        outcome: Outcome = Done(None)
        base = recorded
        if plan.mutating and target is not None:
            outcome, begun = await self.apply_budgeted(
                body,
                memory,
                plan,
                claims=lambda: self._claims(target, plan, recorded),
                begin=lambda: begin_export(spec, recorded, plan, now),
                apply=lambda: self._apply(target, plan),
            )
            if isinstance(begun, ProjectExportStatus):
                base = begun
        status = record_export(spec, generation, base, step.observed, plan, outcome, now)
        await self.write(body, memory, status)
        report(runtime, KIND, body, before, self.recorded(body, memory), plan, status.export_status)
        self._account(body, before, status, target, memory, now)
        memory.running_at = now if isinstance(plan.action, AwaitExport) else None
        self.track_work(
            target.connection.host if target else None,
            uid,
            work_began(memory, status.started_at),
            isinstance(plan.action, IN_FLIGHT_ACTIONS) and isinstance(outcome, Done),
            step.observed.pace,
        )
        return self.requeue(plan, outcome, step.observed.problem, memory)

    async def _claims(
        self, target: ExportTarget, plan: Plan, recorded: ProjectExportStatus
    ) -> list[Claim]:
        services = self.runtime.services
        if isinstance(plan.action, RelayToS3):
            project_path = recorded.path_with_namespace or str(target.spec.project)
            return exporting.relay_claims(services, target, project_path)
        return exporting.claims(services, target)

    async def _apply(self, target: ExportTarget, plan: Plan) -> Outcome:
        services = self.runtime.services
        match plan.action:
            case RequestExport() as request:
                return await exporting.request_export(services, target, request)
            case RelayToS3() as relay:
                return await exporting.relay_to_s3(services, target, relay)
        raise AssertionError(f"{plan.action.name} is not applied by the export reconciler")

    def _account(
        self,
        body: Mapping[str, Any],
        before: Mapping[str, Any],
        status: ProjectExportStatus,
        target: ExportTarget | None,
        memory: Memory,
        now: datetime,
    ) -> None:
        """Transfer metrics and duration learning when a run ends; importers waiting for
        this export are woken when what they read of it changes."""
        runtime = self.runtime
        namespace, name, _, _ = identity(body)
        previous = ProjectExportStatus.model_validate(before)
        if _seen_by_importers(previous) != _seen_by_importers(status):
            for uid in runtime.dependents.importers(namespace, name):
                runtime.wakeups.wake(uid)
        finished = status.finished_at
        if finished and finished != previous.finished_at:
            succeeded = bool(status.artifact and status.artifact.created_at == finished)
            result = "finished" if succeeded else "failed"
            if status.started_at:
                seconds = (finished - status.started_at).total_seconds()
                runtime.metrics.transfer_duration.labels(KIND, result).observe(seconds)
                if succeeded and target is not None:
                    self.learn(target.connection.host, memory, status.started_at, finished, now)
            runtime.metrics.transfers.labels(KIND, result).inc()

    async def forget(self, body: Mapping[str, Any], memory: Memory) -> None:
        namespace, name, _, _ = identity(body)
        self.runtime.metrics.objects.forget(KIND, namespace, name)


def _seen_by_importers(status: ProjectExportStatus) -> tuple[object, ...]:
    """The part of an export's status a ProjectImport with ``exportRef`` reads: its Ready
    condition, its archive and the generation they describe (not timestamps of polls)."""
    ready = status.condition("Ready")
    return (
        ready and (ready.status, ready.reason, ready.message),
        status.artifact,
        status.observed_generation,
    )
