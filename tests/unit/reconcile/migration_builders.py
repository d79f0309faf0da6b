"""Builders for the GroupMigration unit tests: specs, source trees, children and observations
from a few keyword arguments.

A module of its own name (not ``builders``) so that pytest's ``prepend`` import mode cannot
shadow it with another folder's helper.
"""

from __future__ import annotations

from typing import Any

from gitlab_ferry.api.group_migration import GroupMigrationSpec
from gitlab_ferry.reconcile.migrations import (
    Child,
    ChildRecord,
    MigrationObservation,
    Phase,
    SourceGroup,
    SourceProject,
    SourceTree,
    wanted,
)

UID = "uid-mig"
NAME = "mig"


def migration_spec(**fields: Any) -> GroupMigrationSpec:
    """A spec migrating ``platform`` between two GitLabs; ``fields`` override its parts."""
    body: dict[str, Any] = {
        "source": {
            "gitlab": {"url": "https://source.example", "tokenSecretRef": {"name": "src"}},
            "group": "platform",
        },
        "destination": {
            "gitlab": {"url": "https://dest.example", "tokenSecretRef": {"name": "dst"}},
        },
    }
    for key, value in fields.items():
        if key in ("source", "destination"):
            body[key] = {**body[key], **value}
        else:
            body[key] = value
    return GroupMigrationSpec.model_validate(body)


def tree(*projects: str, groups: tuple[str, ...] = (), root: str = "platform") -> SourceTree:
    """A source tree of ``root`` as GitLab lists it; ``groups`` are its subgroups, ``projects``
    full paths (``#topic`` adds a topic)."""
    made = [
        SourceProject(number, path, topics=tuple(topics))
        for number, (path, *topics) in enumerate((p.split("#") for p in projects), start=1)
    ]
    subgroups = tuple(
        SourceGroup(100 + number, path, path.rsplit("/", 1)[-1].title())
        for number, path in enumerate(groups, start=1)
    )
    return SourceTree(SourceGroup(100, root, root.title()), subgroups, tuple(made))


def child(name: str, phase: Phase, **fields: Any) -> Child:
    return Child(name=name, project=fields.pop("project", name), phase=phase, **fields)


def children_for(source: SourceTree, spec: GroupMigrationSpec, *phases: Phase) -> tuple[Child, ...]:
    """Children of the first selected projects, in the given phases."""
    named = list(wanted(source, spec, NAME).items())
    return tuple(
        Child(name, project.full_path, phase)
        for (name, project), phase in zip(named, phases, strict=False)
    )


def record(kind: str, name: str = "mig.web", **fields: Any) -> ChildRecord:
    return ChildRecord(
        kind=kind,
        name=name,
        project=fields.pop("project", "platform/web"),
        owner_uid=fields.pop("owner_uid", UID),
        **fields,
    )


def observation(source: SourceTree | None, **fields: Any) -> MigrationObservation:
    return MigrationObservation(tree=source, **fields)
