"""Where an import's archive comes from, as the operator sees it (effects layer).

Reads the ProjectExport a ProjectImport references, and opens the archive as a stream when
the operator must carry the bytes itself: the exportRef streaming route and relation
re-imports. Pre-signed URLs made here stay in memory; they are credentials.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from gitlab_ferry.api import (
    ArtifactLocation,
    ProjectExportSpec,
    ProjectExportStatus,
    ProjectImportSpec,
    rfc3339,
)
from gitlab_ferry.api.project_export import PLURAL as EXPORTS
from gitlab_ferry.effects.connections import Connection
from gitlab_ferry.effects.kube import ObjectRef
from gitlab_ferry.effects.s3 import S3Location, presign_get
from gitlab_ferry.effects.secrets import gitlab_credentials, s3_credentials, secret_value
from gitlab_ferry.effects.services import Services
from gitlab_ferry.effects.sources import TrackedArchive, from_gitlab, from_url
from gitlab_ferry.reconcile.imports import ExportSource

#: Validity of pre-signed GET URLs handed to GitLab: its import worker may start late.
PRESIGNED_GET_SECONDS = 24 * 3600.0


@dataclass(frozen=True)
class ReferencedExport:
    """A ProjectExport named by ``source.exportRef``, parsed."""

    name: str
    spec: ProjectExportSpec
    status: ProjectExportStatus
    generation: int | None

    def source(self) -> ExportSource:
        ready = self.status.condition("Ready")
        artifact = self.status.artifact
        current = self.status.observed_generation == self.generation
        made = artifact.created_at if artifact else None
        return ExportSource(
            exists=True,
            ready=self.status.ready and made is not None and current,
            location=artifact.location if artifact else None,
            message=(ready.message if ready else "it has not been reconciled yet"),
            archive=rfc3339(made) if made else None,
            in_aws=self.spec.s3 is not None and not self.spec.s3.endpoint,
        )

    def s3_location(self) -> S3Location:
        artifact = self.status.artifact
        s3 = self.spec.s3
        if s3 is None or artifact is None or not artifact.key:
            raise ValueError(f"ProjectExport {self.name} has no archive in S3")
        return S3Location(
            bucket=artifact.bucket or s3.bucket,
            key=artifact.key,
            region=artifact.region or s3.region,
            endpoint=s3.endpoint,
            force_path_style=s3.force_path_style,
        )

    @property
    def project_path(self) -> str:
        return self.status.path_with_namespace or str(self.spec.project)


async def read_export(services: Services, namespace: str, name: str) -> ReferencedExport | None:
    body: dict[str, Any] | None = await services.kube.get_object(
        ObjectRef(EXPORTS, namespace, name)
    )
    if body is None:
        return None
    return ReferencedExport(
        name=name,
        spec=ProjectExportSpec.model_validate(body.get("spec") or {}),
        status=ProjectExportStatus.model_validate(body.get("status") or {}),
        generation=(body.get("metadata") or {}).get("generation"),
    )


async def export_connection(
    services: Services, namespace: str, export: ReferencedExport
) -> Connection:
    """The source GitLab, with the export's own token: exports belong to the user who made
    them, so only that token can download the archive."""
    credentials = await gitlab_credentials(services.secrets, namespace, export.spec.gitlab)
    return services.clients.get(credentials)


async def presigned_export_url(services: Services, namespace: str, export: ReferencedExport) -> str:
    assert export.spec.s3 is not None
    credentials = await s3_credentials(
        services.secrets, namespace, export.spec.s3.credentials_secret_ref
    )
    return presign_get(export.s3_location(), credentials, PRESIGNED_GET_SECONDS)


async def archive_url(
    services: Services, namespace: str, spec: ProjectImportSpec, export: ReferencedExport | None
) -> str:
    """The URL the archive can be read from, for a source that is not an export kept on
    GitLab: a pre-signed GET URL of an S3 object (valid long enough for GitLab's import
    worker, which may start late), or the spec's own URL."""
    source = spec.source
    if export is not None:
        return await presigned_export_url(services, namespace, export)
    if source.s3 is not None:
        credentials = await s3_credentials(
            services.secrets, namespace, source.s3.credentials_secret_ref
        )
        location = S3Location(
            bucket=source.s3.bucket,
            key=source.s3.key,
            region=source.s3.region,
            endpoint=source.s3.endpoint,
            force_path_style=source.s3.force_path_style,
        )
        return presign_get(location, credentials, PRESIGNED_GET_SECONDS)
    if source.url_secret_ref is not None:
        return await secret_value(services.secrets, namespace, source.url_secret_ref)
    assert source.url is not None
    return source.url


@asynccontextmanager
async def open_archive(
    services: Services,
    namespace: str,
    spec: ProjectImportSpec,
    export: ReferencedExport | None,
) -> AsyncIterator[TrackedArchive]:
    """The import's archive as a stream, from wherever the source keeps it."""
    if export is not None and not (
        export.status.artifact and export.status.artifact.location is ArtifactLocation.S3
    ):
        connection = await export_connection(services, namespace, export)
        project = export.status.project_id or export.spec.project
        async with from_gitlab(connection.client, project, services.on_bytes) as archive:
            yield archive
        return
    url = await archive_url(services, namespace, spec, export)
    async with from_url(services.http, url, services.policy, services.on_bytes) as archive:
        yield archive
