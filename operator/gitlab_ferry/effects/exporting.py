"""Observing and applying ProjectExport plans against GitLab and S3 (effects layer).

``observe`` makes only read-only calls; ``request_export`` performs the one mutating call a
RequestExport plan stands for. Errors come back as ``Problem``s, never as exceptions.
"""

from __future__ import annotations

from dataclasses import replace

from gitlab_ferry.api import ArtifactLocation, ProjectExportSpec, ProjectExportStatus
from gitlab_ferry.effects.budget import Bucket, Claim
from gitlab_ferry.effects.destinations import destination_for
from gitlab_ferry.effects.export_targets import ExportTarget, s3_location
from gitlab_ferry.effects.problems import problem_from, unsupported_version
from gitlab_ferry.effects.s3 import head, part_size_for, upload_in_parts
from gitlab_ferry.effects.secrets import MissingSecret, gitlab_credentials
from gitlab_ferry.effects.services import Services
from gitlab_ferry.effects.sources import from_gitlab
from gitlab_ferry.gitlab import errors
from gitlab_ferry.gitlab_states import EXPORT_IN_FLIGHT
from gitlab_ferry.reconcile.exports import (
    ExportObservation,
    ExportRoute,
    RelayToS3,
    RequestExport,
    S3ObjectInfo,
    destination,
)
from gitlab_ferry.reconcile.plan import Done, Failed, Outcome, Problem

__all__ = ["ExportTarget", "claims", "observe", "relay_claims", "relay_to_s3", "request_export"]


async def resolve(
    services: Services, namespace: str, name: str, spec: ProjectExportSpec
) -> ExportTarget | Problem:
    """The connection and credentials the spec names, or why they are missing."""
    chosen = destination_for(spec)
    try:
        credentials = await gitlab_credentials(services.secrets, namespace, spec.gitlab)
        s3 = None
        if chosen is not None:
            s3 = await chosen.credentials(services, namespace, spec)
        await services.policy.check(credentials.url)
        connection = services.clients.get(credentials)
        gitlab = await connection.facts.info(connection.client)
    except (MissingSecret, errors.GitLabError) as exc:
        return problem_from(exc)
    if not gitlab.supported:
        return unsupported_version(gitlab)
    return ExportTarget(namespace, name, spec, connection, gitlab, s3)


async def observe(
    services: Services, target: ExportTarget, recorded: ProjectExportStatus
) -> ExportObservation:
    """GitLab's export status for this token's user, the project's size where S3's single-PUT
    cap may matter, and the uploaded S3 object if due."""
    client = target.connection.client
    spec = target.spec
    chosen = destination_for(spec)
    upload_to_s3 = False
    try:
        status = await client.export_status(spec.project)
        exported_size = None
        if status.state not in EXPORT_IN_FLIGHT and chosen is not None:
            upload_to_s3 = await chosen.single_put_to_s3(services, target)
        if upload_to_s3:
            statistics = (await client.project(spec.project, statistics=True)).statistics
            exported_size = statistics.exported_size if statistics else None
    except (MissingSecret, errors.GitLabError) as exc:
        return ExportObservation(problem=problem_from(exc), gitlab=target.gitlab)
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
            return ExportObservation(
                problem=problem_from(exc, what="checking the S3 upload"), gitlab=target.gitlab
            )
        uploaded = S3ObjectInfo(meta.size, meta.etag) if meta else None
    links = status.links
    return ExportObservation(
        export_status=status.export_status,
        project_id=status.id,
        path_with_namespace=status.path_with_namespace,
        api_url=links.api_url if links else None,
        web_url=links.web_url if links else None,
        uploaded=uploaded,
        gitlab=target.gitlab,
        exported_size=exported_size,
        upload_to_s3=upload_to_s3,
    )


def claims(services: Services, target: ExportTarget) -> list[Claim]:
    """The budget a RequestExport spends."""
    return [services.claim(target.connection, Bucket.EXPORT, target.spec.gitlab.rate_limits)]


async def request_export(
    services: Services, target: ExportTarget, action: RequestExport
) -> Outcome:
    """``POST /projects/:id/export`` with the destination the spec asks for."""
    spec = target.spec
    chosen = destination_for(spec)
    upload = None
    try:
        # A relay leaves the archive on GitLab; the operator copies it to S3 afterwards.
        if chosen is not None and action.route is not ExportRoute.RELAY:
            upload = await chosen.upload(services, target, action)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a condition
        return Failed(problem_from(exc, what="preparing the upload URL"), sent=False)
    try:
        await target.connection.client.schedule_export(
            spec.project,
            description=spec.description,
            upload_url=upload.url if upload else None,
            upload_method=upload.method if upload else "PUT",
        )
    except errors.GitLabError as exc:
        return Failed(problem_from(exc, what="requesting the export"))
    return Done(None)


def relay_claims(services: Services, target: ExportTarget, project_path: str) -> list[Claim]:
    """The budget a RelayToS3 spends: one download of the archive."""
    return [
        services.claim(
            target.connection,
            Bucket.DOWNLOAD,
            target.spec.gitlab.rate_limits,
            project_path=project_path,
        )
    ]


async def relay_to_s3(services: Services, target: ExportTarget, action: RelayToS3) -> Outcome:
    """Copy the finished export from GitLab's download to S3, in parts."""
    assert target.s3 is not None
    location = s3_location(target.spec, action.s3_key)
    client = target.connection.client
    try:
        async with from_gitlab(client, target.spec.project, services.on_bytes) as archive:
            meta = await upload_in_parts(
                services.http,
                location,
                target.s3,
                archive.chunks(),
                part_size=part_size_for(archive.size, services.s3_part_size),
            )
    except errors.ExportNotAvailable as exc:
        # The archive is gone on GitLab (expired or replaced): the next look at the export
        # status says so, and the export is requested again.
        problem = problem_from(exc, what="downloading the archive")
        return Failed(replace(problem, transient=True), sent=False)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a condition
        return Failed(problem_from(exc, what="copying the archive to S3"), sent=False)
    return Done(S3ObjectInfo(meta.size, meta.etag, meta.sha256))
