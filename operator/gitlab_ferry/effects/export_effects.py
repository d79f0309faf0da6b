"""Observing and applying ProjectExport plans against GitLab and S3 (effects layer).

``observe`` makes only read-only calls; ``request_export`` performs the one mutating call a
RequestExport plan stands for. Errors come back as ``Problem``s, never as exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass

from gitlab_ferry.api import ProjectExportSpec, ProjectExportStatus, parse_duration
from gitlab_ferry.api.base import ArtifactLocation
from gitlab_ferry.effects.budget import Bucket, Claim
from gitlab_ferry.effects.connections import Connection
from gitlab_ferry.effects.problems import problem_from
from gitlab_ferry.effects.s3 import S3Credentials, S3Location, head, presign_put
from gitlab_ferry.effects.secrets import (
    MissingSecret,
    gitlab_credentials,
    s3_credentials,
    secret_value,
)
from gitlab_ferry.effects.services import Services
from gitlab_ferry.gitlab import errors
from gitlab_ferry.reconcile.export_planner import ExportObservation, S3ObjectInfo, destination
from gitlab_ferry.reconcile.plan import Done, Failed, Outcome, Plan, Problem

#: Extra validity of a pre-signed upload URL beyond the export timeout.
UPLOAD_URL_SLACK = 3600.0


@dataclass(frozen=True)
class ExportTarget:
    """An export's resolved connection and destination credentials."""

    namespace: str
    name: str
    spec: ProjectExportSpec
    connection: Connection
    s3: S3Credentials | None


async def resolve(
    services: Services, namespace: str, name: str, spec: ProjectExportSpec
) -> ExportTarget | Problem:
    """The connection and credentials the spec names, or why they are missing."""
    try:
        credentials = await gitlab_credentials(services.secrets, namespace, spec.gitlab)
        s3 = None
        if spec.s3 is not None:
            s3 = await s3_credentials(services.secrets, namespace, spec.s3.credentials_secret_ref)
        await services.policy.check(credentials.url)
        if spec.s3 is not None and spec.s3.endpoint:
            await services.policy.check(spec.s3.endpoint)
    except (MissingSecret, errors.GitLabError) as exc:
        return problem_from(exc)
    return ExportTarget(namespace, name, spec, services.clients.get(credentials), s3)


def s3_location(spec: ProjectExportSpec, key: str) -> S3Location:
    assert spec.s3 is not None
    return S3Location(
        bucket=spec.s3.bucket,
        key=key,
        region=spec.s3.region,
        endpoint=spec.s3.endpoint,
        force_path_style=spec.s3.force_path_style,
    )


async def observe(
    services: Services, target: ExportTarget, recorded: ProjectExportStatus
) -> ExportObservation:
    """GitLab's export status for this token's user, and the uploaded S3 object if due."""
    client = target.connection.client
    try:
        status = await client.export_status(target.spec.project)
    except errors.GitLabError as exc:
        return ExportObservation(problem=problem_from(exc))
    uploaded = None
    key = recorded.destination_key
    if (
        status.export_status == "finished"
        and destination(target.spec) is ArtifactLocation.S3
        and target.s3 is not None
        and key
    ):
        try:
            meta = await head(services.http, s3_location(target.spec, key), target.s3)
        except Exception as exc:  # noqa: BLE001 - every S3 failure becomes a condition
            return ExportObservation(problem=problem_from(exc, what="checking the S3 upload"))
        uploaded = S3ObjectInfo(meta.size, meta.etag) if meta else None
    links = status.links
    return ExportObservation(
        export_status=status.export_status,
        project_id=status.id,
        path_with_namespace=status.path_with_namespace,
        api_url=links.api_url if links else None,
        web_url=links.web_url if links else None,
        uploaded=uploaded,
    )


def claims(services: Services, target: ExportTarget) -> list[Claim]:
    """The budget a RequestExport spends."""
    return [services.claim(target.connection, Bucket.EXPORT, target.spec.gitlab.rate_limits)]


async def request_export(services: Services, target: ExportTarget, plan: Plan) -> Outcome:
    """``POST /projects/:id/export`` with the destination the spec asks for."""
    spec = target.spec
    upload_url: str | None = None
    method = "PUT"
    try:
        if spec.s3 is not None and target.s3 is not None:
            expires = parse_duration(spec.timeout).total_seconds() + UPLOAD_URL_SLACK
            location = s3_location(spec, str(plan.params["s3_key"]))
            upload_url = presign_put(location, target.s3, expires)
        elif spec.upload is not None:
            upload_url = await secret_value(
                services.secrets, target.namespace, spec.upload.url_secret_ref
            )
            await services.policy.check(upload_url)
            method = spec.upload.http_method.value
    except Exception as exc:  # noqa: BLE001 - every failure becomes a condition
        return Failed(problem_from(exc, what="preparing the upload URL"), sent=False)
    try:
        await target.connection.client.schedule_export(
            spec.project,
            description=spec.description,
            upload_url=upload_url,
            upload_method="POST" if method == "POST" else "PUT",
        )
    except errors.GitLabError as exc:
        return Failed(problem_from(exc, what="requesting the export"))
    return Done()
