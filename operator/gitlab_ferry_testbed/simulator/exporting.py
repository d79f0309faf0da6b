"""Project export jobs: scheduling, per-user status, archive building, upload push, retention.

Part of the simulator layer. Mirrors GitLab's ProjectExportJob (``queued → started → finished``,
``failed``) and ImportExportUpload (one file per project and user, or per project in the older
profile). Archives are built in a worker thread; the ``upload[url]`` push runs after archiving
while the job is still ``started`` and never changes the outcome. Files disappear at the first
hourly sweep more than 24 h after the upload record was written. The engine calls the
transition functions; this module must not import anything outside the simulator.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from gitlab_ferry_testbed.simulator.archive import BuiltArchive, build_archive, export_filename
from gitlab_ferry_testbed.simulator.content import ProjectContent
from gitlab_ferry_testbed.simulator.core import Core
from gitlab_ferry_testbed.simulator.remote import push_upload
from gitlab_ferry_testbed.simulator.requestlog import strip_query
from gitlab_ferry_testbed.simulator.state import (
    VISIBILITY_LEVELS,
    ExportJob,
    ExportUpload,
    Project,
    Transition,
    User,
)

Spawn = Callable[[Coroutine[Any, Any, Any]], "asyncio.Task[Any]"]
RETENTION = 1440 * 60
STUCK_EXPORT = 6 * 3600
JOB_ROW_TTL = 7 * 86400
QUEUED_EXPIRATION = 30 * 60
ACTIVE = ("queued", "started")


def owner_key(core: Core, user: User) -> int:
    return user.id if core.settings.profile.export_ownership == "user" else 0


def remove_export(core: Core, project: Project, user: User) -> None:
    """``remove_export_for_user`` (or ``remove_exports`` for the whole project, older GitLab)."""
    owner = owner_key(core, user)
    for key in [k for k in core.state.export_uploads if k[0] == project.id]:
        if owner == 0 or key[1] == owner:
            _delete_upload(core, key)


def _delete_upload(core: Core, key: tuple[int, int]) -> None:
    upload = core.state.export_uploads.pop(key, None)
    if upload is not None and upload.path is not None:
        upload.path.unlink(missing_ok=True)


def schedule_export(
    core: Core,
    project: Project,
    user: User,
    *,
    description: str | None,
    upload_url: str | None,
    upload_method: str,
) -> None:
    owner = owner_key(core, user)
    state = core.state
    active = [
        j
        for j in state.export_jobs
        if j.project_id == project.id and j.owner_key == owner and j.status in ACTIVE
    ]
    if active and core.settings.profile.export_jobs == "coalesce":
        return
    fault = core.faults.job_fault("export", core.project_refs(project))
    now = core.now()
    state.export_jobs.append(
        ExportJob(
            id=state.next_id("export_job"),
            project_id=project.id,
            owner_key=owner,
            user_id=user.id,
            status="queued",
            created_at=now,
            updated_at=now,
            description=description,
            upload_url=upload_url or None,
            upload_method=upload_method,
            fault=fault.mode if fault else None,
        )
    )
    core.wake()


def export_status(core: Core, project: Project, user: User) -> str:
    """``Project#export_status(user)``: first match wins."""
    owner = owner_key(core, user)
    jobs = [
        j for j in core.state.export_jobs if j.project_id == project.id and j.owner_key == owner
    ]
    has_file = (project.id, owner) in core.state.export_uploads
    statuses = {j.status for j in jobs}
    if has_file and statuses & set(ACTIVE):
        return "regeneration_in_progress"
    if "queued" in statuses:
        return "queued"
    if "started" in statuses:
        return "started"
    if has_file:
        return "finished"
    if "failed" in statuses and core.settings.profile.export_failed_status:
        return "failed"
    return "none"


def export_upload(core: Core, project: Project, user: User) -> ExportUpload | None:
    return core.state.export_uploads.get((project.id, owner_key(core, user)))


def _set(job: ExportJob, status: str, now: float) -> Transition:
    before, job.status, job.updated_at = job.status, status, now
    return Transition("export", job.id, job.project_id, before, status)


def start_export(core: Core, job: ExportJob, now: float, spawn: Spawn) -> Transition | None:
    if job.fault == "queued_stuck":
        return None
    limit = core.settings.instance.concurrent_relation_export_limit
    if limit:
        if now - job.created_at > QUEUED_EXPIRATION:
            return None
        running = sum(1 for j in core.state.export_jobs if j.status == "started")
        if running >= limit:
            return None
    project = core.state.projects.get(job.project_id)
    if project is None:
        return None
    job.started_at = now
    if job.fault not in ("stuck", "relation_failure", "archive_failure"):
        job.build = spawn(_build(core, project, job))
    return _set(job, "started", now)


async def _build(core: Core, project: Project, job: ExportJob) -> BuiltArchive:
    behaviour = core.settings.behaviour
    snapshot = ProjectContent(
        attributes={
            **project.attributes,
            **project.content.attributes,
            "visibility_level": VISIBILITY_LEVELS[project.visibility],
        },
        relations={k: list(v) for k, v in project.content.relations.items()},
        repository=project.content.repository,
    )
    dest = core.dirs.exports / f"job-{job.id}.tar.gz"
    return await asyncio.to_thread(
        build_archive,
        dest,
        content=snapshot,
        description=job.description if job.description is not None else project.description,
        gitlab_version=behaviour.gitlab_version,
        gitlab_revision=behaviour.gitlab_revision,
        gzip_level=behaviour.archive_gzip_level,
        now=core.now(),
    )


def export_ready(core: Core, job: ExportJob, now: float) -> bool:
    if job.started_at is None or now < job.started_at + core.settings.timing.export_duration:
        return False
    return all(t is None or t.done() for t in (job.build, job.push))


def finish_export(core: Core, job: ExportJob, now: float, spawn: Spawn) -> Transition | None:
    if job.fault == "stuck" or job.project_id not in core.state.projects:
        return None
    if job.fault == "relation_failure":
        return _set(job, "failed", now)
    if job.fault == "archive_failure":
        return _set(job, "finished", now)
    build = job.build
    if build is None or not build.done():
        return None
    if build.cancelled() or build.exception() is not None:
        return _set(job, "failed", now)
    if not job.installed:
        job.installed = True
        built: BuiltArchive = build.result()
        _install(core, job, built, now)
        if job.upload_url and job.fault != "object_missing":
            job.push = spawn(_push(core, job, built))
            return None
    if job.push is not None and not job.push.done():
        return None
    return _set(job, "finished", now)


def _install(core: Core, job: ExportJob, built: BuiltArchive, now: float) -> None:
    project = core.state.projects[job.project_id]
    key = (job.project_id, job.owner_key)
    _delete_upload(core, key)
    upload = ExportUpload(
        project_id=job.project_id,
        owner_key=job.owner_key,
        path=built.path,
        filename=export_filename(core.state.full_path(project), now),
        size=built.size,
        sha256=built.sha256,
        updated_at=now,
    )
    if job.fault == "object_missing":
        built.path.unlink(missing_ok=True)
        upload.object_missing = True
    core.state.export_uploads[key] = upload


async def _push(core: Core, job: ExportJob, built: BuiltArchive) -> None:
    assert job.upload_url is not None
    allow_local = core.settings.instance.allow_local_requests_from_web_hooks_and_services
    project = core.state.projects.get(job.project_id)
    declared = project.export_size() if project and project.declared_statistics else None
    status, problem = await push_upload(
        core.session(),
        path=built.path,
        url=job.upload_url,
        method=job.upload_method,
        allow_local=allow_local,
        s3_limit=core.settings.behaviour.s3_single_put_limit,
        declared_size=declared,
    )
    core.pushes.append(
        {
            "time": core.now(),
            "project_id": job.project_id,
            "job_id": job.id,
            "url": strip_query(job.upload_url),
            "method": job.upload_method,
            "status": status,
            "error": problem,
            "size": built.size,
            "declared_size": declared,
            "sha256": built.sha256,
        }
    )


def export_housekeeping(core: Core, now: float) -> list[Transition]:
    """Retention sweep, stuck jobs (6 h) and job-row pruning (7 days)."""
    out: list[Transition] = []
    last_sweep = (int(now) // 3600) * 3600
    for key, upload in list(core.state.export_uploads.items()):
        if upload.updated_at < last_sweep - RETENTION:
            _delete_upload(core, key)
            out.append(Transition("export_expired", 0, key[0], "finished", "none"))
    for job in core.state.export_jobs:
        if job.status in ACTIVE and now - job.updated_at > STUCK_EXPORT:
            for task in (job.build, job.push):
                if task is not None:
                    task.cancel()
            out.append(_set(job, "failed", now))
    core.state.export_jobs = [
        j for j in core.state.export_jobs if j.status in ACTIVE or now - j.created_at <= JOB_ROW_TTL
    ]
    return out
