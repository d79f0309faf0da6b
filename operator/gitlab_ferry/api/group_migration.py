"""The GroupMigration resource: move a whole GitLab group tree, its subgroups and projects,
to another GitLab with one object (api layer).

It composes the two other kinds: the group structure is made on the destination first
(GitLab's group import/export, the groups API, or required to exist), then one ProjectExport
and one ProjectImport per project are created as children and followed to the end. Pydantic
only; the CEL rules here are enforced by the API server at apply time.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, JsonValue, StrictBool

from gitlab_ferry.api.base import Duration, GitLabConnection, SpecModel, StatusModel
from gitlab_ferry.api.project_import import Approval, DeletionPolicy
from gitlab_ferry.api.status import ReconciledStatus, Timestamp

KIND = "GroupMigration"
PLURAL = "groupmigrations"
SINGULAR = "groupmigration"
SHORT_NAMES = ["gmig"]

#: A group's full path: segments of GitLab's path characters, separated by slashes.
GROUP_PATH_PATTERN = r"^[a-zA-Z0-9_][a-zA-Z0-9_.\-]*(/[a-zA-Z0-9_][a-zA-Z0-9_.\-]*)*$"
#: The longest name of a GroupMigration: its children carry it in a label value.
NAME_LIMIT = 63
#: At most this many failures are listed in status; the counts hold them all.
FAILURES_SHOWN = 10


class GroupStrategy(StrEnum):
    """How the destination's group tree comes to be."""

    #: GitLab's group export and import: subgroups with their labels, milestones, boards,
    #: badges and members, so group-level links of the projects survive.
    GROUP_IMPORT = "GroupImport"
    #: Create the groups that are missing with the groups API (structure only).
    CREATE_MISSING = "CreateMissing"
    #: Every group must already exist on the destination.
    MUST_EXIST = "MustExist"


class ProjectFilter(SpecModel):
    """Which of the group's projects migrate."""

    include: list[str] = Field(
        default=["**"],
        max_length=100,
        description=(
            "Globs over a project's path inside the group (e.g. apps/*, **/web-*): '*' is any "
            "text within one segment, '**' any number of segments. Default: every project."
        ),
    )
    exclude: list[str] = Field(
        default=[],
        max_length=100,
        description="Globs of projects to leave out, applied after include.",
    )
    archived: StrictBool = Field(
        default=False, description="Migrate archived projects too (default: leave them out)."
    )
    topics: list[str] | None = Field(
        default=None,
        max_length=50,
        description="Only projects with at least one of these topics.",
    )


class MigrationSource(SpecModel):
    """The group tree to migrate."""

    gitlab: GitLabConnection = Field(description="The GitLab to migrate from.")
    group: str = Field(
        min_length=1,
        max_length=2048,
        pattern=GROUP_PATH_PATTERN,
        description="Full path of the group, e.g. platform or company/platform.",
    )
    subgroups: StrictBool = Field(
        default=True, description="Migrate the subgroups and their projects too."
    )
    projects: ProjectFilter = Field(
        default_factory=ProjectFilter, description="Which projects migrate."
    )


class MigrationDestination(SpecModel):
    """Where the tree lands."""

    gitlab: GitLabConnection = Field(description="The GitLab to migrate to.")
    parent: str | None = Field(
        default=None,
        min_length=1,
        max_length=2048,
        pattern=GROUP_PATH_PATTERN,
        description=(
            "Full path of the group the tree goes under; unset: a top-level group (GitLab "
            "makes imported top-level groups private)."
        ),
    )
    path: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        pattern=r"^[a-zA-Z0-9_][a-zA-Z0-9_.\-]*$",
        description="Path of the migrated top group; default: the source group's own path.",
    )


class ProjectDefaults(SpecModel):
    """What every child ProjectImport gets."""

    override_params: dict[str, JsonValue] | None = Field(
        default=None,
        description="Project attributes that override the archives' (see ProjectImport).",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )
    approval: Approval = Field(
        default=Approval.AUTO, description="Auto, or Manual for destructive plans."
    )
    deletion_policy: DeletionPolicy = Field(
        default=DeletionPolicy.ORPHAN,
        description=(
            "What deleting the migration (and so its children) does to the imported "
            "projects: Orphan leaves them, Delete removes them from the destination."
        ),
    )
    overwrite: StrictBool = Field(
        default=False,
        description="Replace projects that already exist at their destination path.",
    )


class GroupMigrationSpec(SpecModel):
    """Desired state: a group tree, and the projects in it, on the destination GitLab."""

    source: MigrationSource = Field(description="The group tree to migrate.")
    destination: MigrationDestination = Field(description="Where it goes.")
    groups: GroupStrategy = Field(
        default=GroupStrategy.CREATE_MISSING,
        description=(
            "How the destination's groups come to be: GroupImport (GitLab's group "
            "export/import: subgroups with labels, milestones, boards and members, so "
            "group-level links survive), CreateMissing (the groups API: structure only) or "
            "MustExist."
        ),
    )
    projects: ProjectDefaults = Field(
        default_factory=ProjectDefaults, description="What every child ProjectImport gets."
    )
    max_in_flight: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="Projects migrating at once (children created but not finished).",
    )
    resync_interval: Duration = Field(
        default="10m",
        description="How often the source is listed again, to pick up projects added later.",
    )
    suspend: StrictBool = Field(
        default=False, description="Pause: no new children and no GitLab calls while true."
    )


class MigrationCounts(StatusModel):
    """How many projects are at each step."""

    total: int = Field(default=0, description="Projects selected on the source.")
    pending: int = Field(default=0, description="Not started (no child yet, or waiting).")
    exporting: int = Field(default=0, description="Being exported from the source.")
    importing: int = Field(default=0, description="Being imported into the destination.")
    finished: int = Field(default=0, description="Imported.")
    failed: int = Field(default=0, description="Stopped on a failure (see failures).")


class MigrationFailure(StatusModel):
    """One project that stopped on a failure."""

    name: str = Field(description="The child ProjectExport/ProjectImport's name.")
    project: str = Field(description="The project's full path on the source.")
    reason: str = Field(description="The child's condition reason.")
    message: str = Field(default="", description="The child's condition message.")


class GroupMigrationStatus(ReconciledStatus):
    """Progress of the migration."""

    progress: str | None = Field(default=None, description="Finished of total, e.g. 37/120.")
    counts: MigrationCounts = Field(
        default_factory=MigrationCounts, description="Projects per step."
    )
    groups: int = Field(default=0, description="Groups in the migrated tree.")
    groups_ready: int = Field(default=0, description="Of them, present on the destination.")
    groups_created: int = Field(default=0, description="Groups this migration created.")
    group_export_at: Timestamp | None = Field(
        default=None, description="When the source group's export was requested (GroupImport)."
    )
    group_import_at: Timestamp | None = Field(
        default=None, description="When the group tree's import was requested (GroupImport)."
    )
    failures: list[MigrationFailure] = Field(
        default_factory=list,
        max_length=FAILURES_SHOWN,
        description=f"The first {FAILURES_SHOWN} projects that failed.",
    )
    eta: Timestamp | None = Field(
        default=None,
        description="When the rest can be done at best, at the GitLabs' rate limits.",
    )
    listed_at: Timestamp | None = Field(
        default=None, description="When the source tree was last listed."
    )
    started_at: Timestamp | None = Field(default=None, description="When the migration began.")
    finished_at: Timestamp | None = Field(
        default=None, description="When every project had finished."
    )


class GroupMigration(SpecModel):
    """A GitLab group tree migration, driven by gitlab-ferry."""

    api_version: Literal["gitlabferry.dev/v1alpha1"] = "gitlabferry.dev/v1alpha1"
    kind: Literal["GroupMigration"] = "GroupMigration"
    metadata: dict[str, object] = Field(default_factory=dict)
    spec: GroupMigrationSpec
    status: GroupMigrationStatus | None = None
