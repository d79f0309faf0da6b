"""The simulated GitLab's records: users, tokens, namespaces, projects, exports, imports.

Part of the simulator layer. Plain dataclasses plus one ``State`` container with GitLab's lookup
rules (case-insensitive full paths, personal namespaces, inherited group membership); a project's
statistics are its content's sizes unless a seed declared others. It does no I/O and knows
nothing about HTTP; it must not import anything outside the simulator.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from gitlab_ferry_testbed.simulator.content import ProjectContent
from gitlab_ferry_testbed.simulator.group_records import (
    GroupExportJob,
    GroupExportUpload,
    GroupImportJob,
)

GUEST, PLANNER, REPORTER, DEVELOPER, MAINTAINER, OWNER = 10, 15, 20, 30, 40, 50
ACCESS_LEVELS = MappingProxyType(
    {
        "guest": GUEST,
        "planner": PLANNER,
        "reporter": REPORTER,
        "developer": DEVELOPER,
        "maintainer": MAINTAINER,
        "owner": OWNER,
    }
)
VISIBILITY_LEVELS = MappingProxyType({"private": 0, "internal": 10, "public": 20})
# ProjectStatistics as the REST API names them (job_artifacts_size is build_artifacts_size)
SIZE_STATISTICS = (
    "repository_size",
    "wiki_size",
    "lfs_objects_size",
    "job_artifacts_size",
    "pipeline_artifacts_size",
    "packages_size",
    "snippets_size",
    "uploads_size",
    "container_registry_size",
)
STATISTICS = ("commit_count", "storage_size", *SIZE_STATISTICS)
# ProjectStatistics::STORAGE_SIZE_COMPONENTS (current GitLab: pipeline artifacts and the
# container registry are counted elsewhere)
STORAGE_SIZE_COMPONENTS = (
    "repository_size",
    "wiki_size",
    "lfs_objects_size",
    "job_artifacts_size",
    "packages_size",
    "snippets_size",
    "uploads_size",
)
Visibility = Literal["private", "internal", "public"]


def visibility_name(level: int) -> Visibility:
    if level >= 20:
        return "public"
    return "internal" if level >= 10 else "private"


@dataclass
class Token:
    value: str
    user_id: int
    scopes: frozenset[str]
    name: str = "token"
    expires_at: float | None = None
    revoked: bool = False


@dataclass
class User:
    id: int
    username: str
    name: str
    email: str
    admin: bool
    namespace_id: int
    created_at: float
    external: bool = False
    can_create_group: bool = True


@dataclass
class Namespace:
    id: int
    path: str
    name: str
    kind: Literal["user", "group"]
    parent_id: int | None
    full_path: str
    created_at: float
    visibility: Visibility = "private"
    owner_id: int | None = None
    members: dict[int, int] = field(default_factory=dict)
    description: str = ""
    # group labels and milestones, as group exports carry them
    relations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass
class ImportFailure:
    id: int
    project_id: int
    created_at: float
    exception_class: str
    exception_message: str | None
    source: str
    relation_name: str
    line_number: int
    correlation_id: str


@dataclass
class ImportJob:
    """A project's ``import_state`` plus what the import worker needs."""

    status: str
    import_type: str | None
    user_id: int
    correlation_id: str | None
    scheduled_at: float
    source_kind: Literal["upload", "remote", "s3", "none"] = "none"
    archive_path: Path | None = None
    remote_url: str | None = None
    s3: dict[str, str] | None = None
    override_params: dict[str, Any] = field(default_factory=dict)
    original_path: str | None = None
    updated_at: float = 0.0
    started_at: float | None = None
    last_error: str | None = None
    fault: str | None = None
    fault_message: str = ""
    task: asyncio.Task[Any] | None = None


@dataclass
class Project:
    id: int
    namespace_id: int
    path: str
    name: str
    description: str | None
    visibility: Visibility
    created_at: float
    creator_id: int
    content: ProjectContent
    members: dict[int, int] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    import_job: ImportJob | None = None
    pending_delete: bool = False
    delete_at: float | None = None
    last_activity_at: float = 0.0
    declared_statistics: dict[str, int] = field(default_factory=dict)

    def statistics(self) -> dict[str, int]:
        """ProjectStatistics: what the seed declared, else what the content amounts to."""
        declared = self.declared_statistics
        repository = self.content.repository.size
        out = {name: declared.get(name, 0) for name in SIZE_STATISTICS}
        out["repository_size"] = declared.get("repository_size", repository)
        out["commit_count"] = declared.get("commit_count", 1 if out["repository_size"] else 0)
        out["storage_size"] = declared.get(
            "storage_size", sum(out[n] for n in STORAGE_SIZE_COMPONENTS)
        )
        return {name: out[name] for name in STATISTICS}

    def export_size(self) -> int:
        """What an export weighs: ``ProjectStatistics#export_size`` (storage without build
        artifacts and packages, which exports leave out) once statistics are declared, else the
        generated content."""
        if not self.declared_statistics:
            return self.content.repository.size + 4096
        stats = self.statistics()
        return stats["storage_size"] - stats["job_artifacts_size"] - stats["packages_size"]


@dataclass
class ExportJob:
    id: int
    project_id: int
    owner_key: int
    user_id: int
    status: str
    created_at: float
    updated_at: float
    description: str | None = None
    upload_url: str | None = None
    upload_method: str = "PUT"
    started_at: float | None = None
    fault: str | None = None
    installed: bool = False
    build: asyncio.Task[Any] | None = None
    push: asyncio.Task[Any] | None = None


@dataclass
class ExportUpload:
    """GitLab's ImportExportUpload: the export file of one (project, owner)."""

    project_id: int
    owner_key: int
    path: Path | None
    filename: str
    size: int
    sha256: str
    updated_at: float
    object_missing: bool = False


@dataclass
class RelationTracker:
    id: int
    project_id: int
    relation: str
    status: str
    created_at: float
    updated_at: float
    user_id: int
    archive_path: Path
    correlation_id: str
    fault: str | None = None
    fault_message: str = ""
    task: asyncio.Task[Any] | None = None


@dataclass
class Transition:
    """One state change made by the job engine (what ``step`` reports)."""

    kind: str
    id: int
    project_id: int
    before: str
    after: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "project_id": self.project_id,
            "from": self.before,
            "to": self.after,
        }


@dataclass
class State:
    """All records of one simulated GitLab instance, with GitLab's lookup rules."""

    users: dict[int, User] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    namespaces: dict[int, Namespace] = field(default_factory=dict)
    projects: dict[int, Project] = field(default_factory=dict)
    redirects: dict[str, int] = field(default_factory=dict)
    export_jobs: list[ExportJob] = field(default_factory=list)
    export_uploads: dict[tuple[int, int], ExportUpload] = field(default_factory=dict)
    import_failures: list[ImportFailure] = field(default_factory=list)
    relation_trackers: list[RelationTracker] = field(default_factory=list)
    group_export_jobs: list[GroupExportJob] = field(default_factory=list)
    group_exports: dict[tuple[int, int], GroupExportUpload] = field(default_factory=dict)
    group_imports: list[GroupImportJob] = field(default_factory=list)
    _ids: dict[str, int] = field(default_factory=dict)

    def next_id(self, kind: str) -> int:
        self._ids[kind] = self._ids.get(kind, 0) + 1
        return self._ids[kind]

    # users and namespaces

    def user_by_username(self, username: str) -> User | None:
        wanted = username.lower()
        return next((u for u in self.users.values() if u.username.lower() == wanted), None)

    def user_by_ref(self, ref: str) -> User | None:
        if ref.isdigit():
            return self.users.get(int(ref))
        return self.user_by_username(ref)

    def add_user(self, username: str, *, name: str, email: str, admin: bool, now: float) -> User:
        ns = Namespace(
            id=self.next_id("namespace"),
            path=username,
            name=name,
            kind="user",
            parent_id=None,
            full_path=username,
            created_at=now,
        )
        user = User(self.next_id("user"), username, name, email, admin, ns.id, now)
        ns.owner_id = user.id
        self.namespaces[ns.id] = ns
        self.users[user.id] = user
        return user

    def add_group(
        self, full_path: str, *, name: str, visibility: Visibility, now: float
    ) -> Namespace:
        parent_path, _, path = full_path.rpartition("/")
        parent = self.namespace_by_full_path(parent_path) if parent_path else None
        if parent_path and parent is None:
            parent = self.add_group(
                parent_path, name=parent_path.rsplit("/", 1)[-1], visibility=visibility, now=now
            )
        ns = Namespace(
            id=self.next_id("namespace"),
            path=path,
            name=name,
            kind="group",
            parent_id=parent.id if parent else None,
            full_path=full_path,
            created_at=now,
            visibility=visibility,
        )
        self.namespaces[ns.id] = ns
        return ns

    def namespace_by_full_path(self, full_path: str) -> Namespace | None:
        wanted = full_path.lower()
        return next((n for n in self.namespaces.values() if n.full_path.lower() == wanted), None)

    def namespace_by_ref(self, ref: str) -> Namespace | None:
        if ref.isdigit():
            return self.namespaces.get(int(ref))
        return self.namespace_by_full_path(ref)

    def ancestors(self, ns: Namespace) -> list[Namespace]:
        """``ns`` and its parents, nearest first."""
        chain = [ns]
        while chain[-1].parent_id is not None:
            chain.append(self.namespaces[chain[-1].parent_id])
        return chain

    def descendants(self, ns: Namespace) -> list[Namespace]:
        out = [n for n in self.namespaces.values() if n.parent_id == ns.id]
        for child in list(out):
            out.extend(self.descendants(child))
        return out

    def human_name(self, ns: Namespace) -> str:
        if ns.kind == "user":
            return ns.name
        return " / ".join(n.name for n in reversed(self.ancestors(ns)))

    def group_access(self, user: User, ns: Namespace) -> int:
        """The user's access level in a namespace, inherited from ancestor groups."""
        if ns.kind == "user":
            return OWNER if ns.owner_id == user.id else 0
        return max((n.members.get(user.id, 0) for n in self.ancestors(ns)), default=0)

    # projects

    def full_path(self, project: Project) -> str:
        return f"{self.namespaces[project.namespace_id].full_path}/{project.path}"

    def name_with_namespace(self, project: Project) -> str:
        return f"{self.human_name(self.namespaces[project.namespace_id])} / {project.name}"

    def live_projects(self) -> list[Project]:
        return [p for p in self.projects.values() if not p.pending_delete]

    def project_by_full_path(
        self, full_path: str, *, include_deleted: bool = False
    ) -> Project | None:
        ns_path, _, path = full_path.rpartition("/")
        ns = self.namespace_by_full_path(ns_path)
        wanted = path.lower()
        for project in self.projects.values():
            if ns is None or project.namespace_id != ns.id or project.path.lower() != wanted:
                continue
            if include_deleted or not project.pending_delete:
                return project
        return None

    def project_access(self, user: User | None, project: Project) -> int:
        if user is None:
            return 0
        ns = self.namespaces[project.namespace_id]
        return max(project.members.get(user.id, 0), self.group_access(user, ns))

    def path_taken(self, ns: Namespace, path: str) -> bool:
        """A live or pending-delete project, or a subgroup, already has ``ns/path``."""
        full = f"{ns.full_path}/{path}"
        if self.project_by_full_path(full, include_deleted=True) is not None:
            return True
        return self.namespace_by_full_path(full) is not None

    def remove_project(self, project: Project) -> list[Path]:
        """Forget a project and everything keyed on it; returns files to delete."""
        files: list[Path] = []
        self.projects.pop(project.id, None)
        for key in [k for k in self.export_uploads if k[0] == project.id]:
            upload = self.export_uploads.pop(key)
            if upload.path is not None:
                files.append(upload.path)
        self.export_jobs = [j for j in self.export_jobs if j.project_id != project.id]
        self.relation_trackers = [t for t in self.relation_trackers if t.project_id != project.id]
        self.import_failures = [f for f in self.import_failures if f.project_id != project.id]
        self.redirects = {k: v for k, v in self.redirects.items() if v != project.id}
        if project.content.repository.path is not None:
            files.append(project.content.repository.path)
        return files
