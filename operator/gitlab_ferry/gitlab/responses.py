"""Tolerant models of GitLab's response bodies (gitlab layer).

Extra fields are ignored and status strings are kept verbatim; the ``state`` properties map
them onto enums with an explicit ``UNKNOWN`` for values a newer GitLab may add. Pydantic only.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gitlab_ferry.gitlab_states import ExportState, ImportState, RelationImportState, parse_state


class GitLabModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class ProjectIdentity(GitLabModel):
    """The project identity fields GitLab puts in export and import status bodies."""

    id: int
    description: str | None = None
    name: str | None = None
    name_with_namespace: str | None = None
    path: str | None = None
    path_with_namespace: str
    created_at: str | None = None


class ExportLinks(GitLabModel):
    api_url: str | None = None
    web_url: str | None = None


class ExportStatus(ProjectIdentity):
    """``GET /projects/:id/export``."""

    export_status: str = "none"
    links: ExportLinks | None = Field(default=None, alias="_links")

    @property
    def state(self) -> ExportState:
        return parse_state(ExportState, self.export_status)


class FailedRelation(GitLabModel):
    id: int | None = None
    created_at: str | None = None
    exception_class: str | None = None
    exception_message: str | None = None
    source: str | None = None
    relation_name: str | None = None
    line_number: int | None = None


class ImportStatus(ProjectIdentity):
    """``GET /projects/:id/import`` and the 201 of every import POST."""

    import_status: str = "none"
    import_type: str | None = None
    correlation_id: str | None = None
    failed_relations: list[FailedRelation] = Field(default_factory=list)
    import_error: str | None = None
    stats: dict[str, Any] | None = None

    @property
    def state(self) -> ImportState:
        return parse_state(ImportState, self.import_status)


class RelationImportTracker(GitLabModel):
    """One element of ``GET /projects/:id/relation-imports`` (and the 201 of import-relation)."""

    id: int
    project_path: str | None = None
    relation: str
    status: str
    created_at: str | None = None
    updated_at: str | None = None

    @property
    def state(self) -> RelationImportState:
        return parse_state(RelationImportState, self.status)


class NamespaceRef(GitLabModel):
    id: int
    name: str | None = None
    path: str
    kind: str | None = None
    full_path: str


class ProjectStatistics(GitLabModel):
    """``statistics`` of ``GET /projects/:id?statistics=true`` (sizes in bytes); fields a
    version lacks stay 0."""

    storage_size: int = 0
    repository_size: int = 0
    wiki_size: int = 0
    lfs_objects_size: int = 0
    snippets_size: int = 0
    uploads_size: int = 0

    @property
    def exported_size(self) -> int:
        """The bytes an export archive carries, about: repository, wiki, LFS objects,
        snippets and uploads (not CI artifacts, packages or the container registry)."""
        return (
            self.repository_size
            + self.wiki_size
            + self.lfs_objects_size
            + self.snippets_size
            + self.uploads_size
        )


class Group(GitLabModel):
    """``GET /groups/:id`` (and the items of group listings): the fields the operator uses."""

    id: int
    name: str
    path: str
    full_path: str
    parent_id: int | None = None
    visibility: str | None = None


class Project(GitLabModel):
    """``GET /projects/:id``: the fields the operator uses."""

    id: int
    name: str | None = None
    path: str
    path_with_namespace: str
    description: str | None = None
    created_at: str | None = None
    namespace: NamespaceRef | None = None
    import_status: str | None = None
    import_type: str | None = None
    marked_for_deletion_at: str | None = None
    marked_for_deletion_on: str | None = None
    statistics: ProjectStatistics | None = None
    topics: list[str] = Field(default_factory=list)
    #: What older GitLab (before 14.0) calls the topics.
    tag_list: list[str] = Field(default_factory=list)

    @property
    def import_state(self) -> ImportState:
        return parse_state(ImportState, self.import_status)


class Version(GitLabModel):
    """``GET /version``."""

    version: str
    revision: str | None = None


class User(GitLabModel):
    """``GET /user``."""

    id: int
    username: str
    name: str | None = None
