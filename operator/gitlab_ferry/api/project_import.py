"""The ProjectImport resource: import a project into GitLab, or re-import some of its
relations (api layer).

Pydantic only; the CEL rules here are enforced by the API server at apply time. It must not
import anything that performs I/O.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import (
    Field,
    JsonValue,
    SerializationInfo,
    StrictBool,
    field_validator,
    model_serializer,
)

from gitlab_ferry.api.base import (
    Duration,
    GitLabConnection,
    IntOrString,
    Rule,
    S3CredentialsSecretRef,
    SpecModel,
    StatusModel,
    UrlSecretRef,
    cel,
    validations,
    with_rules,
)
from gitlab_ferry.api.status import ReconciledStatus, Timestamp

KIND = "ProjectImport"
PLURAL = "projectimports"
SINGULAR = "projectimport"
SHORT_NAMES = ["pimport"]

#: The relations GitLab's import-relation endpoint accepts.
IMPORTABLE_RELATIONS = ("issues", "milestones", "ci_pipelines", "merge_requests")


class Relation(StrEnum):
    ISSUES = "issues"
    MILESTONES = "milestones"
    CI_PIPELINES = "ci_pipelines"
    MERGE_REQUESTS = "merge_requests"


class Approval(StrEnum):
    AUTO = "Auto"
    MANUAL = "Manual"


class DeletionPolicy(StrEnum):
    ORPHAN = "Orphan"
    DELETE = "Delete"


class ExportRef(SpecModel):
    """A ProjectExport in the same namespace whose archive this import uses."""

    name: str = Field(min_length=1, max_length=253, description="The ProjectExport's name.")


class S3Source(SpecModel):
    """An archive in S3 or an S3-compatible store."""

    bucket: str = Field(min_length=3, max_length=63, description="Bucket name.")
    key: str = Field(min_length=1, max_length=1024, description="Object key of the archive.")
    region: str = Field(min_length=1, description="Bucket region.")
    endpoint: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description=(
            "Endpoint of an S3-compatible service (MinIO, Ceph, ...); AWS S3 when unset. "
            "GitLab's remote-import-s3 reads only AWS S3, so with an endpoint the operator "
            "streams the archive into POST /projects/import itself."
        ),
    )
    force_path_style: StrictBool = Field(
        default=False, description="Path-style URLs for the operator's own reads."
    )
    credentials_secret_ref: S3CredentialsSecretRef = Field(
        description=(
            "Secret with the S3 credentials: passed to GitLab by remote-import-s3, or used by "
            "the operator to sign the URL it or GitLab reads the archive from."
        )
    )


class ImportSource(SpecModel):
    """Where the archive comes from: exactly one of exportRef, url, urlSecretRef or s3."""

    rules = (
        Rule(
            "[has(self.exportRef), has(self.url), has(self.urlSecretRef), has(self.s3)]"
            ".filter(x, x).size() == 1",
            "exactly one source must be set: exportRef, url, urlSecretRef or s3",
            lambda source: (
                [source.export_ref, source.url, source.url_secret_ref, source.s3].count(None) == 3
            ),
        ),
    )
    model_config = with_rules(*rules)

    export_ref: ExportRef | None = Field(
        default=None,
        description=(
            "Use the archive of a ProjectExport in this namespace; the import starts when "
            "that export has finished. An archive in S3 is pulled by the destination GitLab "
            "through a pre-signed URL; an archive kept on the source GitLab is streamed by "
            "the operator from the source's download into the destination's upload."
        ),
    )
    url: str | None = Field(
        default=None,
        max_length=4096,
        description=(
            "HTTP(S) URL of the archive. GitLab fetches a public https URL itself "
            "(remote-import); the operator streams http URLs and in-cluster hosts, which "
            "GitLab cannot fetch, into POST /projects/import. Use urlSecretRef for URLs that "
            "carry credentials."
        ),
        pattern=r"^https?://",
        json_schema_extra=validations(
            cel(
                "self.startsWith('https://') || self.startsWith('http://')",
                "url must be an http or https URL",
            ),
        ),
    )
    url_secret_ref: UrlSecretRef | None = Field(
        default=None,
        description="Secret holding the HTTPS URL of the archive (e.g. a pre-signed URL).",
    )
    s3: S3Source | None = Field(default=None, description="An archive in S3.")


class ProjectImportSpec(SpecModel):
    """Desired state: a GitLab project imported from an archive, or relations re-imported."""

    rules = (
        Rule(
            "[has(self.namespace), has(self.namespaceId), has(self.namespacePath)]"
            ".filter(x, x).size() <= 1",
            "namespace, namespaceId and namespacePath are mutually exclusive",
            lambda spec: [spec.namespace, spec.namespace_id, spec.namespace_path].count(None) >= 2,
            field_path=".namespaceId",
        ),
        Rule(
            "!has(self.relations) || !has(self.overwrite) || !self.overwrite",
            "overwrite cannot be combined with relations: a relation import only adds to the "
            "existing project",
            lambda spec: not (spec.relations and spec.overwrite),
            field_path=".overwrite",
        ),
        Rule(
            "!has(self.relations) || self.deletionPolicy != 'Delete'",
            "deletionPolicy Delete cannot be used with relations: the project was not created "
            "by this object",
            lambda spec: not (spec.relations and spec.deletion_policy is DeletionPolicy.DELETE),
            field_path=".deletionPolicy",
        ),
        Rule(
            "has(self.relations) == has(oldSelf.relations)",
            "relations cannot be added or removed after creation: create another "
            "ProjectImport instead",
            # A transition rule: only the API server sees the old object.
            lambda spec: True,
            field_path=".relations",
        ),
    )
    model_config = with_rules(*rules)

    gitlab: GitLabConnection = Field(description="The GitLab instance to import into.")
    path: str = Field(
        min_length=1,
        max_length=255,
        pattern=r"^[a-zA-Z0-9_][a-zA-Z0-9_.\-]*$",
        description="Path of the project in its namespace (the last part of its full path).",
    )
    name: str | None = Field(
        default=None, max_length=255, description="Project name; GitLab defaults it to path."
    )
    namespace: IntOrString | None = Field(
        default=None,
        json_schema_extra=validations(
            cel(
                "type(self) == int ? self > 0 : self.size() > 0",
                "namespace must be a positive id or a non-empty path",
            )
        ),
        description=(
            "Deprecated by GitLab: the namespace's id or full path. Prefer namespaceId or "
            "namespacePath. Defaults to the token user's personal namespace."
        ),
    )
    namespace_id: int | None = Field(
        default=None, gt=0, description="Numeric id of the target namespace (group or user)."
    )
    namespace_path: str | None = Field(
        default=None,
        min_length=1,
        max_length=2048,
        pattern=r"^[^/\s]+(/[^/\s]+)*$",
        description="Full path of the target namespace, e.g. my-group/my-subgroup.",
    )
    overwrite: StrictBool = Field(
        default=False,
        description=(
            "Replace an existing project at this path. GitLab imports into a new project "
            "(new id) and deletes the old one when the import succeeds. Destructive: with "
            "approval Manual it waits for approval."
        ),
    )
    override_params: dict[str, JsonValue] | None = Field(
        default=None,
        description=(
            "Project attributes that override the archive's (any attribute of GitLab's "
            "project API, e.g. visibility, description); unknown keys are dropped by GitLab."
        ),
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )
    source: ImportSource = Field(description="Where the archive comes from.")
    relations: list[Relation] | None = Field(
        default=None,
        min_length=1,
        max_length=4,
        description=(
            "Re-import only these relations (issues, milestones, ci_pipelines, "
            "merge_requests) into the existing project at path, one at a time. Items that "
            "already exist are skipped by GitLab."
        ),
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )

    @field_validator("relations")
    @classmethod
    def _distinct(cls, relations: list[Relation] | None) -> list[Relation] | None:
        if relations is not None and len(set(relations)) != len(relations):
            raise ValueError("each relation may be listed once")
        return relations

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, namespace: int | str | None) -> int | str | None:
        if isinstance(namespace, bool) or namespace in (0, ""):
            raise ValueError("namespace must be a positive id or a non-empty path")
        if isinstance(namespace, int) and namespace < 0:
            raise ValueError("namespace must be a positive id or a non-empty path")
        return namespace

    approval: Approval = Field(
        default=Approval.AUTO,
        description=(
            "Auto applies every plan. Manual makes destructive plans (overwriting a project, "
            "deleting it on removal) wait until the plan id shown in status.plan.id is "
            "written to the annotation gitlabferry.dev/approve-plan."
        ),
    )
    deletion_policy: DeletionPolicy = Field(
        default=DeletionPolicy.ORPHAN,
        description=(
            "Orphan leaves the imported project when this object is deleted; Delete removes "
            "it from GitLab first."
        ),
    )
    timeout: Duration = Field(
        default="24h",
        description=(
            "Give up on an import that has not finished after this long (GitLab fails "
            "imports stuck for 24h)."
        ),
    )
    suspend: StrictBool = Field(
        default=False,
        description="Pause: no GitLab calls while true; an import in flight is left alone.",
    )


class FailedRelation(StatusModel):
    """One of GitLab's failed_relations entries, all fields verbatim."""

    id: int | None = Field(default=None, description="Id of the failure record.")
    # GitLab's own timestamps are kept as GitLab wrote them (verbatim, like every field here).
    created_at: str | None = Field(default=None, description="When the failure was recorded.")
    exception_class: str | None = Field(default=None, description="The exception's class.")
    exception_message: str | None = Field(
        default=None, description="Always null on current GitLab."
    )
    source: str | None = Field(default=None, description="Where in the import it failed.")
    relation_name: str | None = Field(default=None, description="The relation that failed.")
    line_number: int | None = Field(default=None, description="Line of the relation's NDJSON file.")

    @model_serializer(mode="plain")
    def _verbatim(self, info: SerializationInfo) -> dict[str, Any]:
        # Every field GitLab gives, nulls included (exception_message is always null).
        return {
            (field.alias if info.by_alias and field.alias else name): getattr(self, name)
            for name, field in type(self).model_fields.items()
        }


class RelationImport(StatusModel):
    """A relation import tracker (GitLab's relation-imports), verbatim."""

    id: int | None = Field(default=None, description="Tracker id.")
    relation: str = Field(description="The relation imported.")
    status: str = Field(
        description="GitLab's tracker status: created, started, finished or failed."
    )
    project_path: str | None = Field(default=None, description="The project's full path.")
    # GitLab's own timestamps, verbatim.
    created_at: str | None = Field(default=None, description="When the tracker was created.")
    updated_at: str | None = Field(default=None, description="When it last changed.")
    requested_generation: int | None = Field(
        default=None,
        description="The spec generation the operator requested this relation import for.",
    )


class ProjectImportStatus(ReconciledStatus):
    """Observed state, with GitLab's own fields verbatim."""

    import_status: str | None = Field(
        default=None,
        description=(
            "GitLab's import_status, verbatim: none, scheduled, started, finished, failed or "
            "canceled."
        ),
    )
    import_type: str | None = Field(
        default=None, description="GitLab's import_type, verbatim (gitlab_project for archives)."
    )
    import_error: str | None = Field(default=None, description="GitLab's import_error.")
    failed_relations: list[FailedRelation] = Field(
        default_factory=list,
        description="GitLab's failed_relations (at most 100), every field verbatim.",
    )
    correlation_id: str | None = Field(
        default=None, description="GitLab's correlation_id of the import, for its logs."
    )
    stats: dict[str, JsonValue] | None = Field(
        default=None,
        description="GitLab's import stats, verbatim.",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )
    relation_imports: list[RelationImport] = Field(
        default_factory=list, description="The relation imports this object made."
    )
    project_id: int | None = Field(default=None, description="Numeric id of the imported project.")
    path_with_namespace: str | None = Field(
        default=None, description="Full path of the imported project."
    )
    replaced_project_id: int | None = Field(
        default=None, description="Id of the project an overwrite replaced."
    )
    source_sha256: str | None = Field(
        default=None, description="SHA-256 of the archive, when the operator streamed it."
    )
    source_size: int | None = Field(
        default=None, description="Size in bytes of the archive the operator streamed."
    )
    started_at: Timestamp | None = Field(default=None, description="When the import was requested.")
    finished_at: Timestamp | None = Field(
        default=None, description="When the import finished or failed."
    )
    attempts: int = Field(default=0, description="Import requests made.")
    failure_generation: int | None = Field(
        default=None,
        description=(
            "The spec generation under which the import last failed; editing the spec "
            "(a newer generation) makes the operator try again."
        ),
    )
    route: str | None = Field(
        default=None,
        description=(
            "How the archive reached GitLab: stream (the operator uploaded it to "
            "POST /projects/import), remote-url or presigned-url (POST /projects/remote-import) "
            "or s3 (POST /projects/remote-import-s3)."
        ),
    )


class ProjectImport(SpecModel):
    """A GitLab project import, driven by gitlab-ferry."""

    api_version: Literal["gitlabferry.dev/v1alpha1"] = "gitlabferry.dev/v1alpha1"
    kind: Literal["ProjectImport"] = "ProjectImport"
    metadata: dict[str, object] = Field(default_factory=dict)
    spec: ProjectImportSpec
    status: ProjectImportStatus | None = None
