"""A GroupMigration's children: the ProjectExport and ProjectImport each selected project
gets, and the step each pair has reached (reconcile layer). Pure: the bodies are data the
controller creates; the steps are read from small records of the children's stored status.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from gitlab_ferry.api import API_VERSION, GROUP, ConditionStatus, ReconciledStatus
from gitlab_ferry.api.group_migration import KIND, GroupMigrationSpec

#: The label that ties children to their migration, and the annotation naming the project.
MIGRATION_LABEL = f"{GROUP}/group-migration"
SOURCE_ANNOTATION = f"{GROUP}/source-project"


class Phase(StrEnum):
    PENDING = "pending"
    EXPORTING = "exporting"
    IMPORTING = "importing"
    FINISHED = "finished"
    FAILED = "failed"


#: The phases a pair does not leave by itself.
SETTLED = frozenset({Phase.FINISHED, Phase.FAILED})


@dataclass(frozen=True)
class ChildRecord:
    """What a migration needs of one child object: kept in the operator's index of children,
    so it is small and compared cheaply."""

    kind: str
    name: str
    project: str
    #: The uid of the GitLab migration that controls it; "" if it has no such owner.
    owner_uid: str
    ready: bool = False
    started: bool = False
    stalled: tuple[str, str] | None = None


@dataclass(frozen=True)
class Child:
    """One project's pair of children, as stored."""

    name: str
    project: str
    phase: Phase
    reason: str = ""
    message: str = ""
    #: Both objects exist (a pass cut short may have created only the first).
    complete: bool = True
    #: Both objects are controlled by this migration (not orphans to adopt).
    owned: bool = True


@dataclass(frozen=True)
class Owner:
    """The GroupMigration the children belong to."""

    name: str
    namespace: str
    uid: str


def migration_of(body: Mapping[str, Any]) -> str | None:
    """The name of the GroupMigration a child belongs to, from its label."""
    labels = (body.get("metadata") or {}).get("labels") or {}
    value = labels.get(MIGRATION_LABEL)
    return str(value) if value else None


def child_record(body: Mapping[str, Any]) -> ChildRecord:
    """The record of a child object, from its stored body."""
    metadata = body.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    owner = next(
        (
            str(ref.get("uid", ""))
            for ref in metadata.get("ownerReferences") or []
            if ref.get("kind") == KIND and ref.get("controller")
        ),
        "",
    )
    status = ReconciledStatus.model_validate(body.get("status") or {})
    stalled = status.condition("Stalled")
    return ChildRecord(
        kind=str(body.get("kind", "")),
        name=str(metadata.get("name", "")),
        project=str(annotations.get(SOURCE_ANNOTATION, "")),
        owner_uid=owner,
        ready=status.ready,
        started=status.plan is not None,
        stalled=(stalled.reason, stalled.message)
        if stalled is not None and stalled.status is ConditionStatus.TRUE
        else None,
    )


def child_state(export: ChildRecord | None, imported: ChildRecord | None) -> Child:
    """The step a pair has reached, from the records of its two objects."""
    known = imported or export
    assert known is not None, "a pair has at least one of its objects"
    name, project = known.name, known.project
    for record in (imported, export):
        if record is not None and record.stalled is not None:
            return Child(name, project, Phase.FAILED, *record.stalled)
    if imported is not None and imported.ready:
        return Child(name, project, Phase.FINISHED)
    if export is not None and export.ready:
        return Child(name, project, Phase.IMPORTING)
    if export is not None and export.started:
        return Child(name, project, Phase.EXPORTING)
    return Child(name, project, Phase.PENDING)


def pairs_of(records: Iterable[ChildRecord], owner_uid: str) -> tuple[Child, ...]:
    """The children of one migration, a pair per name, in name order."""
    by_name: dict[str, dict[str, ChildRecord]] = {}
    for record in records:
        by_name.setdefault(record.name, {})[record.kind] = record
    pairs = []
    for _, kinds in sorted(by_name.items()):
        state = child_state(kinds.get("ProjectExport"), kinds.get("ProjectImport"))
        pairs.append(
            replace(
                state,
                complete=len(kinds) == 2,
                owned=all(r.owner_uid == owner_uid for r in kinds.values()),
            )
        )
    return tuple(pairs)


def owner_reference(owner: Owner) -> dict[str, Any]:
    """The reference that makes ``owner`` a child's controller (and its garbage collector)."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": owner.name,
        "uid": owner.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _meta(owner: Owner, name: str, project: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": owner.namespace,
        "labels": {MIGRATION_LABEL: owner.name},
        "annotations": {SOURCE_ANNOTATION: project},
        "ownerReferences": [owner_reference(owner)],
    }


def child_bodies(
    owner: Owner, spec: GroupMigrationSpec, name: str, project: str, namespace_path: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ProjectExport and the ProjectImport that move ``project`` into ``namespace_path``."""
    source = spec.source.gitlab.model_dump(by_alias=True, exclude_none=True, mode="json")
    target = spec.destination.gitlab.model_dump(by_alias=True, exclude_none=True, mode="json")
    defaults = spec.projects
    export = {
        "apiVersion": API_VERSION,
        "kind": "ProjectExport",
        "metadata": _meta(owner, name, project),
        "spec": {"gitlab": source, "project": project},
    }
    imported_spec: dict[str, Any] = {
        "gitlab": target,
        "path": project.rsplit("/", 1)[-1],
        "namespacePath": namespace_path,
        "source": {"exportRef": {"name": name}},
        "approval": defaults.approval.value,
        "deletionPolicy": defaults.deletion_policy.value,
        "overwrite": defaults.overwrite,
    }
    if defaults.override_params:
        imported_spec["overrideParams"] = dict(defaults.override_params)
    imported = {
        "apiVersion": API_VERSION,
        "kind": "ProjectImport",
        "metadata": _meta(owner, name, project),
        "spec": imported_spec,
    }
    return export, imported
