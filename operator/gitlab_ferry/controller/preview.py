"""``gitlab-ferry plan``: what the operator would do now for an object, without doing it
(controller layer).

It runs the same ``plan_pass`` as the operator's reconcile pass (validate, resolve Secrets,
observe GitLab with read-only calls, plan) against the status recorded in the cluster (if the
object exists there). Nothing is written and nothing is applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitlab_ferry.api import APPROVE_ANNOTATION
from gitlab_ferry.api.project_export import KIND as EXPORT
from gitlab_ferry.api.project_import import KIND as IMPORT
from gitlab_ferry.controller.exports import ExportPass, ExportReconciler
from gitlab_ferry.controller.imports import ImportPass, ImportReconciler
from gitlab_ferry.controller.runtime import Runtime
from gitlab_ferry.effects.kube import ObjectRef
from gitlab_ferry.reconcile.plan import Plan


@dataclass(frozen=True)
class Preview:
    kind: str
    namespace: str
    name: str
    observed: str
    plan: Plan
    in_cluster: bool


def _describe(step: ExportPass | ImportPass) -> str:
    """What the pass observed, in one line."""
    observed = step.observed
    if step.spec is None:
        return "not observed"
    if observed.problem is not None:
        return f"cannot observe: {observed.problem.message}"
    gitlab = observed.gitlab.describe()
    if isinstance(step, ExportPass):
        export = step.observed
        where = f" (project {export.project_id} {export.path_with_namespace})"
        return f"{gitlab} export_status={export.export_status}" + (
            where if export.project_id else ""
        )
    imported = step.observed
    parts = [f"{gitlab}, target {imported.full_path}"]
    if imported.tracked is not None:
        parts.append(f"import_status={imported.tracked.import_status}")
    if imported.at_path is not None:
        parts.append(f"a project exists at the path (id {imported.at_path.id})")
    elif imported.tracked is None:
        parts.append("no project at the path")
    if imported.export is not None:
        parts.append(f"export {'ready' if imported.export.ready else 'not ready'}")
    return ", ".join(parts)


async def preview(runtime: Runtime, document: Mapping[str, Any]) -> Preview:
    """The plan for ``document`` (an object as written in YAML)."""
    kind = document.get("kind")
    reconciler: ExportReconciler | ImportReconciler
    if kind == EXPORT:
        reconciler = ExportReconciler(runtime)
    elif kind == IMPORT:
        reconciler = ImportReconciler(runtime)
    else:
        raise ValueError(f"not a ProjectExport or ProjectImport: kind {kind!r}")
    metadata = dict(document.get("metadata") or {})
    namespace = str(metadata.setdefault("namespace", "default"))
    name = str(metadata.get("name", ""))
    stored = await runtime.services.kube.get_object(ObjectRef(reconciler.plural, namespace, name))
    if stored is not None:
        # The plan continues from what the cluster recorded for this generation.
        metadata["generation"] = (stored.get("metadata") or {}).get("generation")
    body = {**document, "metadata": metadata}
    step = await reconciler.plan_pass(body, (stored or {}).get("status") or {})
    return Preview(reconciler.kind, namespace, name, _describe(step), step.plan, stored is not None)


def render(result: Preview) -> str:
    """Terraform-style text for a preview."""
    plan = result.plan
    verdict = plan.verdict
    marker = "!" if plan.destructive else ("~" if plan.mutating else " ")
    lines = [
        f"{result.kind} {result.namespace}/{result.name}"
        + ("" if result.in_cluster else " (not in the cluster yet)"),
        f"  observed: {result.observed}",
        f"{marker} plan {plan.id}: {plan.action.name}",
        f"    {plan.reason}",
        f"  then Ready={verdict.ready} ({verdict.reason.value}): {verdict.message}",
    ]
    if plan.awaiting_approval:
        lines.append(f"  approval needed: {APPROVE_ANNOTATION}={plan.id}")
    return "\n".join(lines)
