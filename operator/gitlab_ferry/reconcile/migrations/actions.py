"""The actions a GroupMigration plan can take, and what it observes (reconcile layer).
Frozen dataclasses; the shared actions (UpToDate, Suspend, Blocked, ReportRefusal) come from
``plan``. Pure data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from gitlab_ferry.gitlab_versions import GitLabInfo
from gitlab_ferry.reconcile.migrations.children import Child
from gitlab_ferry.reconcile.migrations.tree import SourceTree
from gitlab_ferry.reconcile.plan import Action, Problem


@dataclass(frozen=True)
class NewGroup:
    """A destination group to create: its full path and the name it has on the source."""

    full_path: str
    name: str


@dataclass(frozen=True)
class CreateGroups(Action):
    """Create missing destination groups with the groups API, parents first."""

    mutating = True
    groups: tuple[NewGroup, ...]


@dataclass(frozen=True)
class RequestGroupExport(Action):
    """``POST /groups/:id/export`` of the source group (replaces its previous export)."""

    mutating = True
    group_id: int


@dataclass(frozen=True)
class ImportGroupTree(Action):
    """Stream the source group's export into ``POST /groups/import`` on the destination, as
    ``path`` with the name ``title`` under ``parent``."""

    mutating = True
    group_id: int
    path: str
    title: str
    parent: str | None


@dataclass(frozen=True)
class AwaitGroups(Action):
    """GitLab's group import is still creating the subgroups."""


@dataclass(frozen=True)
class Pair:
    """A project's two children to create, and where the project goes."""

    name: str
    project: str
    namespace_path: str


@dataclass(frozen=True)
class CreateChildren(Action):
    """Create the next projects' ProjectExport and ProjectImport pairs."""

    pairs: tuple[Pair, ...]


@dataclass(frozen=True)
class AdoptChildren(Action):
    """Take over children of this migration's name that no longer have it as their
    controller (it was deleted with ``--cascade=orphan`` and created again)."""

    names: tuple[str, ...]


@dataclass(frozen=True)
class Migrating(Action):
    """The children are migrating; report their progress."""


@dataclass(frozen=True)
class Limits:
    """The rate limits the ETA is computed from (requests per minute)."""

    export: int = 6
    import_: int = 6
    download: int = 1
    downloads_per_namespace: bool = True


@dataclass(frozen=True)
class MigrationObservation:
    """What the source, the destination and Kubernetes showed for one GroupMigration."""

    tree: SourceTree | None = None
    #: When the source was listed (the tree may come from an earlier pass).
    listed_at: datetime | None = None
    #: Destination groups that exist, by lower-cased full path, with their ids.
    destination_groups: Mapping[str, int] = field(default_factory=dict)
    children: tuple[Child, ...] = ()
    limits: Limits = field(default_factory=Limits)
    gitlab: GitLabInfo = field(default_factory=GitLabInfo)
    retry_request: str | None = None
    problem: Problem | None = None
