"""The ProjectExport resource: export one GitLab project, once or on a schedule (api layer).

Pydantic only; the CEL rules here are enforced by the API server at apply time. It must not
import anything that performs I/O.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field, StrictBool
from pydantic.alias_generators import to_camel

from gitlab_ferry.api.base import (
    PROJECT_REF_CEL,
    Duration,
    GitLabConnection,
    ProjectRef,
    Rule,
    S3CredentialsSecretRef,
    SpecModel,
    StatusModel,
    UrlSecretRef,
    cel,
    validations,
    with_rules,
)
from gitlab_ferry.api.status import Artifact, ArtifactLocation, ReconciledStatus, Timestamp

KIND = "ProjectExport"
PLURAL = "projectexports"
SINGULAR = "projectexport"
SHORT_NAMES = ["pexport"]

#: Placeholders allowed in an S3 key template.
S3_KEY_PLACEHOLDERS = ("namespace", "name", "project", "date", "time", "timestamp")


class HttpMethod(StrEnum):
    PUT = "PUT"
    POST = "POST"


class ExportDestination(SpecModel):
    """A place GitLab pushes the archive to instead of keeping it."""

    #: Where the archive is found once GitLab has pushed it.
    location: ClassVar[ArtifactLocation]


class UploadDestination(ExportDestination):
    """Have GitLab push the archive to a URL (GitLab's ``upload[url]``)."""

    location = ArtifactLocation.UPLOAD

    url_secret_ref: UrlSecretRef = Field(
        description=(
            "Secret holding the URL GitLab uploads the archive to, typically a pre-signed "
            "URL (a credential, hence a Secret). It must accept Content-Type application/gzip "
            "and stay valid for the whole export."
        )
    )
    http_method: HttpMethod = Field(
        default=HttpMethod.PUT, description="PUT (the default) or POST."
    )


class S3Destination(ExportDestination):
    """Have GitLab upload the archive to S3 through a URL the operator pre-signs."""

    location = ArtifactLocation.S3

    bucket: str = Field(min_length=3, max_length=63, description="Bucket name.")
    key: str = Field(
        min_length=1,
        max_length=1024,
        description=(
            "Object key. It may contain the placeholders {namespace}, {name} (this object), "
            "{project} (the project's full path), {date} (YYYY-MM-DD), {time} (HHMMSS) and "
            "{timestamp} (YYYYMMDDTHHMMSSZ), filled in (UTC) when the export is requested, "
            "so scheduled backups keep every run."
        ),
    )
    region: str = Field(default="us-east-1", min_length=1, description="Bucket region.")
    endpoint: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description=(
            "Endpoint of an S3-compatible service (MinIO, Ceph, ...); AWS S3 when unset. "
            "GitLab must be able to reach it."
        ),
    )
    force_path_style: StrictBool = Field(
        default=False,
        description="Path-style URLs (endpoint/bucket/key), as many S3-compatible services need.",
    )
    credentials_secret_ref: S3CredentialsSecretRef = Field(
        description="Secret with the credentials used to pre-sign the upload URL."
    )


#: The spec fields that name a destination (each an ``ExportDestination``); at most one is set,
#: and none keeps the archive on GitLab.
DESTINATION_FIELDS = ("upload", "s3")


def _at_most_one_destination() -> Rule:
    names = [to_camel(name) for name in DESTINATION_FIELDS]
    return Rule(
        f"[{', '.join(f'has(self.{name})' for name in names)}].filter(x, x).size() <= 1",
        f"at most one destination may be set: {' or '.join(names)}",
        lambda spec: (
            [getattr(spec, name) for name in DESTINATION_FIELDS].count(None) >= len(names) - 1
        ),
        field_path=f".{names[-1]}",
    )


class ProjectExportSpec(SpecModel):
    """Desired state: an up-to-date export archive of one GitLab project."""

    rules = (
        _at_most_one_destination(),
        Rule(
            "!(has(self.schedule) && has(self.maxAge))",
            "schedule and maxAge are mutually exclusive",
            lambda spec: not (spec.schedule and spec.max_age),
            field_path=".maxAge",
        ),
    )
    model_config = with_rules(*rules)

    gitlab: GitLabConnection = Field(description="The GitLab instance to export from.")
    project: ProjectRef = Field(
        description="The project: its numeric id or its full path (group/subgroup/project).",
        json_schema_extra=validations(
            cel(
                f"type(self) == int ? self > 0 : self.matches('{PROJECT_REF_CEL}')",
                "project must be a positive numeric id or a full path such as group/project",
            )
        ),
    )
    description: str | None = Field(
        default=None,
        max_length=2000,
        description="Overrides the project description written into the export.",
    )
    upload: UploadDestination | None = Field(
        default=None, description="Push the archive to a URL held in a Secret."
    )
    s3: S3Destination | None = Field(
        default=None, description="Push the archive to S3 through a pre-signed URL."
    )
    schedule: str | None = Field(
        default=None,
        min_length=9,
        max_length=100,
        description=(
            "Cron expression (UTC, five fields, e.g. '0 3 * * *'): export again at each "
            "scheduled time. Exclusive with maxAge."
        ),
        json_schema_extra=validations(
            cel(
                "self.split(' ').filter(f, f != '').size() == 5",
                "schedule must be a cron expression with five fields, e.g. '0 3 * * *'",
            )
        ),
    )
    max_age: Duration | None = Field(
        default=None,
        description=(
            "Export again when the last good export is older than this (e.g. 24h, 7d). "
            "Exclusive with schedule."
        ),
    )
    timeout: Duration = Field(
        default="6h",
        description=(
            "Give up on an export that has not finished after this long (GitLab itself fails "
            "exports stuck for 6h)."
        ),
    )
    suspend: StrictBool = Field(
        default=False,
        description="Pause: no GitLab calls while true; an export in flight is left alone.",
    )

    def destination(self) -> ExportDestination | None:
        """The destination set, if any: None keeps the archive on GitLab."""
        chosen = (getattr(self, name) for name in DESTINATION_FIELDS)
        return next((value for value in chosen if value is not None), None)


class ExportLinks(StatusModel):
    """GitLab's download links for a finished export kept on GitLab."""

    api_url: str | None = Field(default=None, description="API download URL (needs a token).")
    web_url: str | None = Field(default=None, description="Web download URL.")
    expires_at: Timestamp | None = Field(
        default=None,
        description="When GitLab deletes the archive (about 24 h after it was written).",
    )


class ProjectExportStatus(ReconciledStatus):
    """Observed state, with GitLab's own fields verbatim."""

    export_status: str | None = Field(
        default=None,
        description=(
            "GitLab's export_status, verbatim: none, queued, started, finished, failed or "
            "regeneration_in_progress."
        ),
    )
    project_id: int | None = Field(default=None, description="GitLab's numeric project id.")
    path_with_namespace: str | None = Field(default=None, description="The project's full path.")
    links: ExportLinks | None = Field(
        default=None, description="Download links and expiry of an archive kept on GitLab."
    )
    artifact: Artifact | None = Field(default=None, description="Where the last good archive is.")
    started_at: Timestamp | None = Field(
        default=None, description="When the current or last export was requested."
    )
    finished_at: Timestamp | None = Field(
        default=None, description="When the last export finished or failed."
    )
    attempts: int = Field(
        default=0, description="Export requests made for the current desired state."
    )
    destination_key: str | None = Field(
        default=None, description="S3 key the current or last export run uploads to."
    )
    spec_hash: str | None = Field(
        default=None,
        description="Fingerprint of the spec fields that shaped the current export.",
    )
    next_export_at: Timestamp | None = Field(
        default=None, description="When the schedule or maxAge asks for the next export."
    )
    route: str | None = Field(
        default=None,
        description=(
            "How the current or last archive leaves GitLab: kept (on GitLab), upload (GitLab "
            "pushes it to the URL), s3 (GitLab pushes it to a pre-signed S3 URL) or relay "
            "(the operator copies it from GitLab to S3 in parts: S3 takes at most 5 GiB in "
            "one upload)."
        ),
    )


class ProjectExport(SpecModel):
    """A GitLab project export, kept up to date by gitlab-ferry."""

    api_version: Literal["gitlabferry.dev/v1alpha1"] = "gitlabferry.dev/v1alpha1"
    kind: Literal["ProjectExport"] = "ProjectExport"
    metadata: dict[str, object] = Field(default_factory=dict)
    spec: ProjectExportSpec
    status: ProjectExportStatus | None = None
