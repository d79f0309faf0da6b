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

from gitlab_ferry.api import APPROVE_ANNOTATION, ProjectImportSpec
from gitlab_ferry.api.group_migration import KIND as MIGRATION
from gitlab_ferry.api.project_export import KIND as EXPORT
from gitlab_ferry.api.project_import import KIND as IMPORT
from gitlab_ferry.controller.exports import ExportPass, ExportReconciler
from gitlab_ferry.controller.imports import ImportPass, ImportReconciler
from gitlab_ferry.controller.migrations import MigrationPass, MigrationReconciler
from gitlab_ferry.controller.runtime import Runtime
from gitlab_ferry.effects.kube import ObjectRef
from gitlab_ferry.reconcile.imports import route_for
from gitlab_ferry.reconcile.migrations import (
    Owner,
    child_bodies,
    destination_groups,
    destination_path,
    wanted,
)
from gitlab_ferry.reconcile.plan import Plan


@dataclass(frozen=True)
class Preview:
    kind: str
    namespace: str
    name: str
    observed: str
    plan: Plan
    in_cluster: bool
    #: More lines about what the plan leads to (a migration's groups and projects).
    details: tuple[str, ...] = ()


def _describe(step: ExportPass | ImportPass | MigrationPass) -> str:
    """What the pass observed, in one line."""
    observed = step.observed
    if step.spec is None:
        return "not observed"
    if observed.problem is not None:
        return f"cannot observe: {observed.problem.message}"
    gitlab = observed.gitlab.describe()
    if isinstance(step, MigrationPass):
        tree = step.observed.tree
        assert tree is not None
        return (
            f"source group {tree.root.full_path}: {len(tree.groups)} subgroup(s), "
            f"{len(tree.projects)} project(s); destination {gitlab}"
        )
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


def _migration_details(step: MigrationPass, namespace: str, name: str) -> tuple[str, ...]:
    """The groups a migration needs and the projects it would hand to children, with the
    route each import would take."""
    spec, tree, target = step.spec, step.observed.tree, step.target
    if spec is None or tree is None or target is None:
        return ()
    present = step.observed.destination_groups
    lines = [f"groups ({spec.groups.value}):"]
    for path, _ in destination_groups(spec, tree):
        lines.append(f"  {'=' if path.lower() in present else '+'} {path}")
    projects = wanted(tree, spec, name)
    lines.append(f"projects ({len(projects)}, at most {spec.max_in_flight} at a time):")
    owner = Owner(name, namespace, "")
    root = tree.root.full_path
    for child, project in projects.items():
        parent = destination_path(spec, project.full_path.rsplit("/", 1)[0], root)
        body = child_bodies(owner, spec, child, project.full_path, parent)[1]
        route = route_for(
            ProjectImportSpec.model_validate(body["spec"]), None, target.destination_gitlab, False
        )
        lines.append(
            f"  + {child}: {project.full_path} -> {parent}/{body['spec']['path']} "
            f"(route {route.route.value}: {route.why})"
        )
    return tuple(lines)


async def preview(runtime: Runtime, document: Mapping[str, Any]) -> Preview:
    """The plan for ``document`` (an object as written in YAML)."""
    kind = document.get("kind")
    reconciler: ExportReconciler | ImportReconciler | MigrationReconciler
    if kind == EXPORT:
        reconciler = ExportReconciler(runtime)
    elif kind == IMPORT:
        reconciler = ImportReconciler(runtime)
    elif kind == MIGRATION:
        reconciler = MigrationReconciler(runtime)
    else:
        raise ValueError(f"not a ProjectExport, ProjectImport or GroupMigration: kind {kind!r}")
    metadata = dict(document.get("metadata") or {})
    namespace = str(metadata.setdefault("namespace", "default"))
    name = str(metadata.get("name", ""))
    stored = await runtime.services.kube.get_object(ObjectRef(reconciler.plural, namespace, name))
    if stored is not None:
        # The plan continues from what the cluster recorded for this generation.
        metadata["generation"] = (stored.get("metadata") or {}).get("generation")
    body = {**document, "metadata": metadata}
    step = await reconciler.plan_pass(body, (stored or {}).get("status") or {})
    details = _migration_details(step, namespace, name) if isinstance(step, MigrationPass) else ()
    return Preview(
        reconciler.kind,
        namespace,
        name,
        _describe(step),
        step.plan,
        stored is not None,
        details,
    )


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
    lines.extend(f"  {line}" for line in result.details)
    return "\n".join(lines)
