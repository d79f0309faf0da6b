"""``gitlab-ferry plan``: what the operator would do now for an object, without doing it
(controller layer).

It resolves the object's Secrets, observes GitLab with read-only calls, and runs the same
planner the operator runs, against the status recorded in the cluster (if the object exists
there). Nothing is written and nothing is applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError

from gitlab_ferry.api import (
    RETRY_ANNOTATION,
    ProjectExportSpec,
    ProjectExportStatus,
    ProjectImportSpec,
    ProjectImportStatus,
)
from gitlab_ferry.api.project_export import KIND as EXPORT
from gitlab_ferry.api.project_export import PLURAL as EXPORTS
from gitlab_ferry.api.project_import import KIND as IMPORT
from gitlab_ferry.api.project_import import PLURAL as IMPORTS
from gitlab_ferry.clock import utcnow
from gitlab_ferry.controller.runtime import Runtime
from gitlab_ferry.controller.validation import (
    export_spec_problems,
    import_spec_problems,
    validation_message,
)
from gitlab_ferry.effects import export_effects, import_effects
from gitlab_ferry.effects.kube import ObjectRef
from gitlab_ferry.reconcile.conditions import invalid_spec_plan
from gitlab_ferry.reconcile.export_planner import ExportObservation, plan_export
from gitlab_ferry.reconcile.import_observation import ImportObservation
from gitlab_ferry.reconcile.imports import plan_import
from gitlab_ferry.reconcile.plan import Plan


@dataclass(frozen=True)
class Preview:
    kind: str
    namespace: str
    name: str
    observed: str
    plan: Plan
    in_cluster: bool


def _describe_export(observed: ExportObservation) -> str:
    if observed.problem is not None:
        return f"cannot observe: {observed.problem.message}"
    where = f" (project {observed.project_id} {observed.path_with_namespace})"
    return (
        f"{observed.gitlab.describe()} export_status={observed.export_status}"
        f"{where if observed.project_id else ''}"
    )


def _describe_import(observed: ImportObservation) -> str:
    if observed.problem is not None:
        return f"cannot observe: {observed.problem.message}"
    parts = [f"{observed.gitlab.describe()}, target {observed.full_path}"]
    if observed.tracked is not None:
        parts.append(f"import_status={observed.tracked.import_status}")
    if observed.at_path is not None:
        parts.append(f"a project exists at the path (id {observed.at_path.id})")
    elif observed.tracked is None:
        parts.append("no project at the path")
    if observed.export is not None:
        parts.append(f"export {'ready' if observed.export.ready else 'not ready'}")
    return ", ".join(parts)


async def preview(runtime: Runtime, document: Mapping[str, Any]) -> Preview:
    """The plan for ``document`` (an object as written in YAML)."""
    kind = document.get("kind")
    metadata = dict(document.get("metadata") or {})
    namespace = str(metadata.setdefault("namespace", "default"))
    name = str(metadata.get("name", ""))
    plural = {EXPORT: EXPORTS, IMPORT: IMPORTS}.get(str(kind))
    if plural is None:
        raise ValueError(f"not a ProjectExport or ProjectImport: kind {kind!r}")
    stored = await runtime.services.kube.get_object(ObjectRef(plural, namespace, name))
    recorded_status = (stored or {}).get("status") or {}
    generation = ((stored or {}).get("metadata") or {}).get("generation")
    now = utcnow(runtime.clock)
    services = runtime.services
    if kind == EXPORT:
        try:
            export_spec = ProjectExportSpec.model_validate(document.get("spec") or {})
            problems = export_spec_problems(export_spec)
        except ValidationError as exc:
            problems = [validation_message(exc)]
        if problems:
            plan = invalid_spec_plan(EXPORT, "; ".join(problems))
            return Preview(EXPORT, namespace, name, "not observed", plan, stored is not None)
        recorded = ProjectExportStatus.model_validate(recorded_status)
        target = await export_effects.resolve(services, namespace, name, export_spec)
        if isinstance(target, export_effects.ExportTarget):
            observed = await export_effects.observe(services, target, recorded)
        else:
            observed = ExportObservation(problem=target)
        retry = (metadata.get("annotations") or {}).get(RETRY_ANNOTATION)
        plan = plan_export(
            export_spec,
            recorded,
            replace(observed, retry_request=retry),
            now,
            runtime.export_policy,
            name=name,
            namespace=namespace,
            generation=generation,
        )
        return Preview(
            EXPORT, namespace, name, _describe_export(observed), plan, stored is not None
        )
    try:
        import_spec = ProjectImportSpec.model_validate(document.get("spec") or {})
        problems = import_spec_problems(import_spec)
    except ValidationError as exc:
        problems = [validation_message(exc)]
    if problems:
        plan = invalid_spec_plan(IMPORT, "; ".join(problems))
        return Preview(IMPORT, namespace, name, "not observed", plan, stored is not None)
    imported = ProjectImportStatus.model_validate(recorded_status)
    body = {**document, "metadata": metadata}
    subject = await import_effects.resolve(services, runtime.namespaces, body, import_spec)
    if isinstance(subject, import_effects.ImportSubject):
        seen = await import_effects.observe(subject, imported)
    else:
        seen = ImportObservation(problem=subject)
    plan = plan_import(import_spec, generation, imported, seen, now, runtime.import_policy)
    return Preview(IMPORT, namespace, name, _describe_import(seen), plan, stored is not None)


def render(result: Preview) -> str:
    """Terraform-style text for a preview."""
    plan = result.plan
    verdict = plan.verdict
    marker = "!" if plan.destructive else ("~" if plan.mutating else " ")
    lines = [
        f"{result.kind} {result.namespace}/{result.name}"
        + ("" if result.in_cluster else " (not in the cluster yet)"),
        f"  observed: {result.observed}",
        f"{marker} plan {plan.id}: {plan.action}",
        f"    {plan.reason}",
        f"  then Ready={verdict.ready} ({verdict.reason.value}): {verdict.message}",
    ]
    if plan.awaiting_approval:
        lines.append(f"  approval needed: gitlabferry.dev/approve-plan={plan.id}")
    return "\n".join(lines)
