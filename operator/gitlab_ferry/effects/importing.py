"""Observing and applying ProjectImport plans against GitLab (effects layer).

``observe`` makes only read-only calls: the target path is looked up before any import is
requested, which is what lets a restart adopt an import instead of repeating it. The apply
functions each perform the one mutating call their plan stands for. Errors come back as
``Problem``s, never as exceptions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitlab_ferry.api import (
    APPROVE_ANNOTATION,
    RETRY_ANNOTATION,
    ArtifactLocation,
    PlanPhase,
    ProjectImportSpec,
    ProjectImportStatus,
    parse_timestamp,
)
from gitlab_ferry.effects.archives import (
    ReferencedExport,
    archive_url,
    export_connection,
    open_archive,
    read_export,
)
from gitlab_ferry.effects.budget import Bucket, Claim
from gitlab_ferry.effects.connections import Connection
from gitlab_ferry.effects.import_failures import ROUTE_CAPABILITY, noticed, request_failed
from gitlab_ferry.effects.namespaces import NamespacePaths
from gitlab_ferry.effects.network import gitlab_can_fetch
from gitlab_ferry.effects.problems import problem_from, unsupported_version
from gitlab_ferry.effects.secrets import gitlab_credentials, s3_credentials, secret_value
from gitlab_ferry.effects.services import Services
from gitlab_ferry.gitlab import GitLabClient, S3Object, errors
from gitlab_ferry.gitlab.responses import ImportStatus, Project, RelationImportTracker
from gitlab_ferry.gitlab_states import ImportState
from gitlab_ferry.gitlab_versions import Capability, GitLabInfo
from gitlab_ferry.reconcile.imports import (
    DeleteProject,
    DeletionObservation,
    ImportAccepted,
    ImportProject,
    ImportRelation,
    Route,
    WaitForExport,
)
from gitlab_ferry.reconcile.imports.observation import (
    ExportSource,
    ImportInfo,
    ImportObservation,
    ProjectInfo,
    TrackerInfo,
)
from gitlab_ferry.reconcile.plan import Action, Done, Failed, Outcome, Problem


@dataclass(frozen=True)
class ImportSubject:
    """A ProjectImport with its destination connection, the destination GitLab's version and
    the resolved target path."""

    namespace: str
    name: str
    spec: ProjectImportSpec
    connection: Connection
    gitlab: GitLabInfo
    full_path: str
    export: ReferencedExport | None
    annotations: Mapping[str, str]
    #: A ``url``/``urlSecretRef`` source GitLab can fetch itself.
    gitlab_can_fetch: bool = True


async def resolve(
    services: Services,
    namespaces: NamespacePaths,
    body: dict[str, Any],
    spec: ProjectImportSpec,
) -> ImportSubject | Problem:
    """The destination connection, target path and referenced export, or why not."""
    metadata = body.get("metadata") or {}
    namespace, name = metadata.get("namespace", ""), metadata.get("name", "")
    connection: Connection | None = None
    try:
        credentials = await gitlab_credentials(services.secrets, namespace, spec.gitlab)
        await services.policy.check(credentials.url)
        connection = services.clients.get(credentials)
        gitlab = await connection.facts.info(connection.client)
        if not gitlab.supported:
            return unsupported_version(gitlab)
        full_path = f"{await namespaces.full_path(connection, spec)}/{spec.path}"
        export = None
        if spec.source.export_ref is not None:
            export = await read_export(services, namespace, spec.source.export_ref.name)
        can_fetch = True
        if spec.source.url is not None:
            can_fetch = gitlab_can_fetch(spec.source.url)
        elif spec.source.url_secret_ref is not None:
            url = await secret_value(services.secrets, namespace, spec.source.url_secret_ref)
            can_fetch = gitlab_can_fetch(url)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a condition
        if connection is not None:
            noticed(connection, exc)
        return problem_from(exc)
    return ImportSubject(
        namespace,
        name,
        spec,
        connection,
        gitlab,
        full_path,
        export,
        dict(metadata.get("annotations") or {}),
        can_fetch,
    )


def _project_info(project: Project) -> ProjectInfo:
    return ProjectInfo(
        id=project.id,
        path_with_namespace=project.path_with_namespace,
        import_status=project.import_status,
        import_type=project.import_type,
        created_at=parse_timestamp(project.created_at),
        marked_for_deletion=bool(project.marked_for_deletion_at or project.marked_for_deletion_on),
    )


async def _overwrite_candidates(client: GitLabClient, full_path: str) -> tuple[ProjectInfo, ...]:
    """Projects at ``<path>-<32 hex>``, where GitLab first puts an overwriting import, with
    their import state (search results do not carry it)."""
    pattern = re.compile(re.escape(full_path) + r"-[0-9a-f]{32}")
    found = await client.search_projects(full_path.rsplit("/", 1)[-1])
    candidates = []
    for project in found:
        if pattern.fullmatch(project.path_with_namespace):
            status = await client.import_status(project.id)
            candidates.append(
                ProjectInfo(
                    id=status.id,
                    path_with_namespace=status.path_with_namespace,
                    import_status=status.import_status,
                    import_type=status.import_type,
                    created_at=parse_timestamp(status.created_at),
                )
            )
    return tuple(candidates)


async def observe(subject: ImportSubject, recorded: ProjectImportStatus) -> ImportObservation:
    """What GitLab shows about this import's target and its own project."""
    client = subject.connection.client
    export = subject.export.source() if subject.export else None
    if subject.spec.source.export_ref is not None and subject.export is None:
        export = ExportSource(exists=False)
    base: dict[str, Any] = {
        "full_path": subject.full_path,
        "export": export,
        "approved_plan": subject.annotations.get(APPROVE_ANNOTATION),
        "retry_request": subject.annotations.get(RETRY_ANNOTATION),
        "gitlab": subject.gitlab,
        "gitlab_can_fetch": subject.gitlab_can_fetch,
    }
    try:
        if subject.spec.relations:
            at = await client.find_project(subject.full_path)
            trackers = await _trackers(subject, at.id) if at else []
            base["gitlab"] = subject.connection.facts.known(subject.gitlab)
            return ImportObservation(
                **base,
                at_path=_project_info(at) if at else None,
                trackers=tuple(tracker_info(t) for t in trackers),
            )
        tracked, missing, look_at_path = None, False, True
        if recorded.project_id is not None:
            try:
                status = await client.import_status(recorded.project_id)
            except errors.ProjectNotFound:
                missing = True
            else:
                tracked = import_info(status)
                look_at_path = status.state in (ImportState.FAILED, ImportState.CANCELED)
        if recorded.project_id is None and _still_waiting(export, recorded):
            look_at_path = False
        at = await client.find_project(subject.full_path) if look_at_path else None
        candidates: tuple[ProjectInfo, ...] = ()
        plan = recorded.plan
        if (
            recorded.project_id is None
            and plan is not None
            and plan.action == ImportProject.__name__
            and plan.phase == PlanPhase.APPLYING
        ):
            candidates = await _overwrite_candidates(client, subject.full_path)
    except errors.GitLabError as exc:
        noticed(subject.connection, exc)
        return ImportObservation(**base, problem=problem_from(exc))
    return ImportObservation(
        **base,
        at_path=_project_info(at) if at else None,
        tracked=tracked,
        tracked_missing=missing,
        overwrite_candidates=candidates,
    )


async def _trackers(subject: ImportSubject, project_id: int) -> list[RelationImportTracker]:
    """The project's relation-import trackers; none where this GitLab has no relation
    imports (the plan then says so)."""
    if not subject.gitlab.usable(Capability.IMPORT_RELATION):
        return []
    try:
        return await subject.connection.client.relation_imports(project_id)
    except errors.EndpointUnavailable:
        subject.connection.facts.disable(Capability.IMPORT_RELATION)
        return []


def _still_waiting(export: ExportSource | None, recorded: ProjectImportStatus) -> bool:
    """The import waited for its ProjectExport last time and still must: the path was free
    when the wait began and is looked at again once the archive is ready, not on every pass."""
    plan = recorded.plan
    waited = plan is not None and plan.action == WaitForExport.__name__
    return waited and export is not None and not export.ready


async def observe_deletion(
    subject: ImportSubject, recorded: ProjectImportStatus
) -> DeletionObservation:
    approved = subject.annotations.get(APPROVE_ANNOTATION)
    if recorded.project_id is None:
        return DeletionObservation(approved_plan=approved)
    try:
        project = await subject.connection.client.find_project(recorded.project_id)
    except errors.GitLabError as exc:
        return DeletionObservation(approved_plan=approved, problem=problem_from(exc))
    return DeletionObservation(
        project_exists=project is not None,
        marked_for_deletion=bool(
            project and (project.marked_for_deletion_at or project.marked_for_deletion_on)
        ),
        approved_plan=approved,
    )


def import_info(status: ImportStatus) -> ImportInfo:
    """GitLab's ``ProjectImportStatus`` (a status read or a 201), as the planner reads it."""
    return ImportInfo(
        project_id=status.id,
        path_with_namespace=status.path_with_namespace,
        import_status=status.import_status,
        import_type=status.import_type,
        correlation_id=status.correlation_id,
        import_error=status.import_error,
        failed_relations=tuple(r.model_dump() for r in status.failed_relations),
        stats=status.stats,
    )


async def claims(services: Services, subject: ImportSubject, action: Action) -> list[Claim]:
    """The budget an action spends: one import, plus a source download when the operator
    carries an archive kept on the source GitLab."""
    overrides = subject.spec.gitlab.rate_limits
    wanted = [services.claim(subject.connection, Bucket.IMPORT, overrides)]
    export = subject.export
    carried = isinstance(action, ImportRelation) or (
        isinstance(action, ImportProject) and action.route is Route.STREAM
    )
    if export is not None and carried and export.source().location is ArtifactLocation.GITLAB:
        source = await export_connection(services, subject.namespace, export)
        wanted.append(
            services.claim(
                source,
                Bucket.DOWNLOAD,
                export.spec.gitlab.rate_limits,
                project_path=export.project_path,
            )
        )
    return wanted


async def import_project(
    services: Services, subject: ImportSubject, action: ImportProject
) -> Outcome:
    """The import request of an ImportProject plan, by its route."""
    if action.route is Route.STREAM:
        return await _stream_import(services, subject, action)
    client = subject.connection.client
    spec, namespace = subject.spec, subject.namespace
    try:
        if action.route is Route.S3:
            s3 = spec.source.s3
            assert s3 is not None
            keys = await s3_credentials(services.secrets, namespace, s3.credentials_secret_ref)
            source = S3Object(
                region=s3.region,
                bucket_name=s3.bucket,
                file_key=s3.key,
                access_key_id=keys.access_key_id,
                secret_access_key=keys.secret_access_key,
            )
            send = client.remote_import_s3(source, action.target)
        else:
            url = await archive_url(services, namespace, spec, subject.export)
            send = client.remote_import(url, action.target)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a condition
        return Failed(problem_from(exc, what="preparing the import"), sent=False)
    try:
        status = await send
    except errors.GitLabError as exc:
        return request_failed(
            subject.connection, subject.gitlab, exc, ROUTE_CAPABILITY.get(action.route)
        )
    return Done(ImportAccepted(import_info(status)))


async def _stream_import(
    services: Services, subject: ImportSubject, action: ImportProject
) -> Outcome:
    """Stream the archive from its source into the destination's upload."""
    sent = False
    try:
        async with open_archive(
            services, subject.namespace, subject.spec, subject.export
        ) as archive:
            sent = True
            status = await subject.connection.client.import_archive(archive.upload(), action.target)
            accepted = ImportAccepted(import_info(status), archive.sha256, archive.seen)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a condition
        return request_failed(
            subject.connection, subject.gitlab, exc, None, sent=sent, what="streaming the archive"
        )
    return Done(accepted)


async def import_relation(
    services: Services, subject: ImportSubject, action: ImportRelation
) -> Outcome:
    """One relation re-import, streaming the archive from the source."""
    sent = False
    try:
        async with open_archive(
            services, subject.namespace, subject.spec, subject.export
        ) as archive:
            sent = True
            tracker = await subject.connection.client.import_relation(
                archive.upload(), path=action.path, relation=action.relation
            )
    except Exception as exc:  # noqa: BLE001 - every failure becomes a condition
        what = f"re-importing {action.relation}"
        return request_failed(
            subject.connection,
            subject.gitlab,
            exc,
            Capability.IMPORT_RELATION,
            sent=sent,
            what=what,
        )
    return Done(tracker_info(tracker))


def tracker_info(tracker: RelationImportTracker) -> TrackerInfo:
    return TrackerInfo(
        id=tracker.id,
        relation=tracker.relation,
        status=tracker.status,
        project_path=tracker.project_path,
        created_at=tracker.created_at,
        updated_at=tracker.updated_at,
    )


async def delete_project(subject: ImportSubject, action: DeleteProject) -> Outcome:
    try:
        await subject.connection.client.delete_project(action.project_id)
    except errors.ProjectNotFound:
        return Done(None)
    except errors.GitLabError as exc:
        return Failed(problem_from(exc, what="deleting the project"))
    return Done(None)
