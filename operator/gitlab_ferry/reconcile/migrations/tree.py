"""The group tree a GroupMigration moves (reconcile layer): what the source lists, which
projects the filters select, where each group and project goes on the destination, and the
stable names of the child objects. Pure data and functions.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from gitlab_ferry.api.group_migration import GroupMigrationSpec

#: Kubernetes object names: DNS subdomain, at most 253 characters; kept to 63 so a name also
#: fits a label value.
NAME_LIMIT = 63
_SEGMENT = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


@dataclass(frozen=True)
class SourceGroup:
    id: int
    full_path: str
    name: str = ""

    @property
    def display_name(self) -> str:
        """The group's name, or its path where the listing gave none."""
        return self.name or self.full_path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class SourceProject:
    id: int
    full_path: str
    topics: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceTree:
    """The source group, its subgroups (parents before children) and its projects."""

    root: SourceGroup
    groups: tuple[SourceGroup, ...] = ()
    projects: tuple[SourceProject, ...] = ()

    @property
    def all_groups(self) -> tuple[SourceGroup, ...]:
        """The root and its subgroups, parents before children."""
        ordered = sorted(self.groups, key=lambda g: g.full_path.count("/"))
        return (self.root, *ordered)


def relative(path: str, root: str) -> str:
    """``path`` inside the group at ``root`` (``root/a/b`` -> ``a/b``; ``root`` -> "")."""
    if path.lower() == root.lower():
        return ""
    return path[len(root) + 1 :]


def _glob(pattern: str, path: str) -> bool:
    """GitLab paths against a glob: ``*`` stays within a segment, ``**`` spans segments."""
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex, i = regex + "(?:[^/]+/)*", i + 3
        elif pattern.startswith("**", i):
            regex, i = regex + ".*", i + 2
        elif pattern[i] == "*":
            regex, i = regex + "[^/]*", i + 1
        elif pattern[i] == "?":
            regex, i = regex + "[^/]", i + 1
        else:
            regex, i = regex + re.escape(pattern[i]), i + 1
    return re.fullmatch(regex, path) is not None


def selected(tree: SourceTree, spec: GroupMigrationSpec) -> tuple[SourceProject, ...]:
    """The projects the spec's filters select, in path order."""
    filters = spec.source.projects
    root = tree.root.full_path
    chosen = []
    for project in tree.projects:
        inside = relative(project.full_path, root)
        if not spec.source.subgroups and "/" in inside:
            continue
        if not any(_glob(p, inside) for p in filters.include):
            continue
        if any(_glob(p, inside) for p in filters.exclude):
            continue
        if filters.topics is not None and not set(filters.topics) & set(project.topics):
            continue
        chosen.append(project)
    return tuple(sorted(chosen, key=lambda p: p.full_path))


def destination_path(spec: GroupMigrationSpec, source_path: str, root: str) -> str:
    """Where a source group or project goes: under the destination parent, the top group
    renamed as the spec says, the rest of the path kept."""
    top = spec.destination.path or root.rsplit("/", 1)[-1]
    inside = relative(source_path, root)
    parts = [part for part in (spec.destination.parent, top, inside) if part]
    return "/".join(parts)


def destination_groups(spec: GroupMigrationSpec, tree: SourceTree) -> list[tuple[str, str]]:
    """(destination full path, source name) of every group the tree needs, parents first."""
    root = tree.root.full_path
    groups = tree.all_groups if spec.source.subgroups else (tree.root,)
    return [(destination_path(spec, g.full_path, root), g.display_name) for g in groups]


def child_name(migration: str, inside: str) -> str:
    """The name of a project's child objects: stable, a valid Kubernetes name, and never the
    same for two projects. Plain paths read as they are (``platform.apps.web``); others, and
    names that would be too long, end with a digest of the path."""
    segments = inside.split("/")
    readable = all(_SEGMENT.fullmatch(s) for s in segments)
    name = f"{migration}.{'.'.join(segments)}"
    if readable and len(name) <= NAME_LIMIT:
        return name
    digest = hashlib.sha256(f"{migration}/{inside}".encode()).hexdigest()[:8]
    slug = re.sub(r"[^a-z0-9]+", "-", inside.lower()).strip("-")
    stem = f"{migration}.{slug}"[: NAME_LIMIT - len(digest) - 1].rstrip("-.")
    return f"{stem}-{digest}"


def wanted(tree: SourceTree, spec: GroupMigrationSpec, migration: str) -> dict[str, SourceProject]:
    """The selected projects by the name of their child objects, in path order."""
    root = tree.root.full_path
    return {
        child_name(migration, relative(project.full_path, root)): project
        for project in selected(tree, spec)
    }
