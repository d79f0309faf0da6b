"""Project import and relation-import jobs: acquire the archive, validate it, restore content.

Part of the simulator layer. Mirrors ProjectImportState (``scheduled → started → finished |
failed``; stuck imports fail after 24 h) and RelationImportTracker (``created → started →
finished | failed``). The worker downloads remote archives, parses archives in a thread, records
one ImportFailure per invalid relation record (the import still finishes) and performs the
overwrite swap on success. Failures end ``failed`` with GitLab's ``last_error`` wording. The
engine calls these functions; this module must not import anything outside the simulator.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from gitlab_ferry_testbed.simulator import remote
from gitlab_ferry_testbed.simulator.archive import (
    ArchiveError,
    ParsedArchive,
    filter_message,
    parse_archive,
)
from gitlab_ferry_testbed.simulator.auth import can_admin_namespace
from gitlab_ferry_testbed.simulator.content import ProjectContent, Repository, validate_record
from gitlab_ferry_testbed.simulator.core import Core
from gitlab_ferry_testbed.simulator.state import (
    VISIBILITY_LEVELS,
    ImportFailure,
    ImportJob,
    Project,
    RelationTracker,
    Transition,
    visibility_name,
)

Spawn = Callable[[Coroutine[Any, Any, Any]], "asyncio.Task[Any]"]
MB = 1024 * 1024
# import_export.yml excludes these project attributes from import
EXCLUDED_ATTRIBUTES = frozenset(
    {
        "id",
        "name",
        "path",
        "namespace_id",
        "creator_id",
        "created_at",
        "updated_at",
        "import_url",
        "import_type",
        "import_source",
        "pool_repository_id",
        "runners_token",
        "runners_token_encrypted",
        "storage_version",
        "description_html",
        "avatar",
    }
)


def _set(project: Project, job: ImportJob, status: str, now: float) -> Transition:
    before, job.status, job.updated_at = job.status, status, now
    return Transition("import", project.id, project.id, before, status)


def start_import(core: Core, project: Project, now: float, spawn: Spawn) -> Transition:
    job = project.import_job
    assert job is not None
    job.started_at = now
    if job.fault is None:
        job.task = spawn(_acquire_and_parse(core, project, job))
    return _set(project, job, "started", now)


async def _acquire_and_parse(core: Core, project: Project, job: ImportJob) -> ParsedArchive:
    instance = core.settings.instance
    if job.source_kind in ("remote", "s3"):
        url = job.remote_url
        if job.source_kind == "s3":
            assert job.s3 is not None
            s3 = job.s3
            url = await asyncio.to_thread(
                core.s3.presign_get,
                region=s3["region"],
                bucket=s3["bucket_name"],
                key=s3["file_key"],
                access_key=s3["access_key_id"],
                secret_key=s3["secret_access_key"],
            )
        assert url is not None
        job.archive_path = core.dirs.uploads / f"remote-{uuid.uuid4().hex}.tar.gz"
        await remote.download(
            core.session(), url, job.archive_path, instance.max_import_remote_file_size * MB
        )
    assert job.archive_path is not None
    return await asyncio.to_thread(
        parse_archive,
        job.archive_path,
        bundle_dest=core.dirs.repos / f"project-{project.id}-{uuid.uuid4().hex}.bundle",
        max_decompressed_bytes=instance.max_decompressed_archive_size * MB,
    )


def import_ready(core: Core, project: Project, now: float) -> bool:
    job = project.import_job
    if job is None or job.started_at is None:
        return False
    if now < job.started_at + core.settings.timing.import_duration:
        return False
    return job.task is None or job.task.done()


def finish_import(core: Core, project: Project, now: float) -> Transition | None:
    job = project.import_job
    assert job is not None
    if job.fault == "stuck":
        return None
    if job.fault == "fail":
        return fail_import(core, project, filter_message(job.fault_message), now)
    task = job.task
    if task is None or not task.done():
        return None
    if task.cancelled():
        return fail_import(core, project, "Import canceled", now)
    problem = task.exception()
    if problem is not None:
        text = (
            str(problem)
            if isinstance(problem, ArchiveError | remote.RemoteProblem)
            else repr(problem)
        )
        return fail_import(core, project, filter_message(text), now)
    parsed: ParsedArchive = task.result()
    user = core.state.users.get(job.user_id)
    ns = core.state.namespaces[project.namespace_id]
    if job.original_path and (user is None or not can_admin_namespace(core.state, user, ns)):
        _discard_bundle(parsed)
        who = f"{user.username} ({user.id})" if user else "unknown"
        inner = filter_message(f"User {who} cannot overwrite a project in {ns.full_path}")
        return fail_import(core, project, inner, now)
    _restore(core, project, job, parsed, now)
    if job.original_path:
        _overwrite(core, project, job.original_path, now)
    _cleanup(job)
    return _set(project, job, "finished", now)


def fail_import(
    core: Core, project: Project, inner: str, now: float, *, wrap: bool = True
) -> Transition:
    job = project.import_job
    assert job is not None
    if job.task is not None and not job.task.done():
        job.task.cancel()
    full_path = core.state.full_path(project)
    job.last_error = f"Error importing repository  into {full_path} - {inner}" if wrap else inner
    _cleanup(job)
    return _set(project, job, "failed", now)


def _cleanup(job: ImportJob) -> None:
    """The archive is gone and import_data (override params, original path) is deleted."""
    if job.archive_path is not None:
        job.archive_path.unlink(missing_ok=True)
        job.archive_path = None
    job.override_params = {}
    job.s3 = None


def _discard_bundle(parsed: ParsedArchive) -> None:
    if parsed.bundle_path is not None:
        parsed.bundle_path.unlink(missing_ok=True)


def _restore(
    core: Core, project: Project, job: ImportJob, parsed: ParsedArchive, now: float
) -> None:
    attrs = {k: v for k, v in parsed.attributes.items() if k not in EXCLUDED_ATTRIBUTES}
    override = dict(job.override_params)
    description = override.pop("description", attrs.get("description"))
    project.description = description if isinstance(description, str) else None
    level = attrs.get("visibility_level")
    if "visibility" in override:
        level = VISIBILITY_LEVELS.get(str(override.pop("visibility")), 0)
    ns = core.state.namespaces[project.namespace_id]
    cap = VISIBILITY_LEVELS[ns.visibility] if ns.kind == "group" else 20
    project.visibility = visibility_name(min(level if isinstance(level, int) else 0, cap))
    project.attributes.update(override)
    if project.content.repository.path is not None:
        project.content.repository.path.unlink(missing_ok=True)
    if parsed.bundle_path is not None:
        repository = Repository(parsed.bundle_size, 0, parsed.bundle_path, parsed.bundle_sha256)
    else:
        repository = Repository(size=0)
    attrs["description"] = project.description
    attrs["visibility_level"] = VISIBILITY_LEVELS[project.visibility]
    content = ProjectContent(attributes=attrs, repository=repository)
    for name, lines in parsed.relations.items():
        content.relations[name] = _records(
            core, project, name, lines, set(), job.correlation_id or "", now
        )
    project.content = content
    project.last_activity_at = now


def _records(
    core: Core,
    project: Project,
    relation: str,
    lines: list[tuple[int, Any]],
    existing: set[int],
    correlation_id: str,
    now: float,
) -> list[dict[str, Any]]:
    """Valid records of one relation; invalid ones become ImportFailures."""
    kept: list[dict[str, Any]] = []
    for line_number, record in lines:
        problem = validate_record(relation, record)
        iid = record.get("iid") if isinstance(record, dict) else None
        if problem is None and isinstance(iid, int) and iid in existing:
            continue
        if problem is not None:
            core.state.import_failures.append(
                ImportFailure(
                    id=core.state.next_id("import_failure"),
                    project_id=project.id,
                    created_at=now,
                    exception_class="ActiveRecord::RecordInvalid",
                    exception_message=problem,
                    source="process_relation_item!",
                    relation_name=relation,
                    line_number=line_number,
                    correlation_id=correlation_id,
                )
            )
            continue
        kept.append(record)
        if isinstance(iid, int):
            existing.add(iid)
    return kept


def _overwrite(core: Core, project: Project, original_path: str, now: float) -> None:
    """OverwriteProjectService: the old project steps aside and is deleted."""
    ns = core.state.namespaces[project.namespace_id]
    old = core.state.project_by_full_path(f"{ns.full_path}/{original_path}")
    if old is None or old.id == project.id:
        return
    suffix = core.hex()
    original_name = old.name
    old.path, old.name = f"{old.path}-old-{suffix}", f"{old.name}-old-{suffix}"
    for user_id, level in old.members.items():
        project.members[user_id] = max(level, project.members.get(user_id, 0))
    old.pending_delete = True
    old.delete_at = now + core.settings.timing.deletion_delay
    project.path, project.name = original_path, original_name


def import_timeouts(core: Core, now: float) -> list[Transition]:
    timeout = core.settings.profile.stuck_import_timeout
    out: list[Transition] = []
    for project in core.state.live_projects():
        job = project.import_job
        if job is None or job.status not in ("scheduled", "started"):
            continue
        if now - job.updated_at > timeout:
            message = f"Import timed out. Import took longer than {int(timeout)} seconds"
            out.append(fail_import(core, project, message, now, wrap=False))
    return out


# relation imports


def _set_tracker(tracker: RelationTracker, status: str, now: float) -> Transition:
    before, tracker.status, tracker.updated_at = tracker.status, status, now
    return Transition("relation_import", tracker.id, tracker.project_id, before, status)


def start_tracker(core: Core, tracker: RelationTracker, now: float, spawn: Spawn) -> Transition:
    if tracker.fault is None:
        tracker.task = spawn(
            asyncio.to_thread(
                parse_archive,
                tracker.archive_path,
                bundle_dest=None,
                max_decompressed_bytes=core.settings.instance.max_decompressed_archive_size * MB,
                relations_wanted={tracker.relation},
            )
        )
    return _set_tracker(tracker, "started", now)


def tracker_ready(core: Core, tracker: RelationTracker, now: float) -> bool:
    if now < tracker.updated_at + core.settings.timing.relation_import_duration:
        return False
    return tracker.task is None or tracker.task.done()


def finish_tracker(core: Core, tracker: RelationTracker, now: float) -> Transition | None:
    if tracker.fault == "stuck":
        return None
    project = core.state.projects.get(tracker.project_id)
    task = tracker.task
    if tracker.fault == "fail" or project is None:
        outcome = "failed"
    elif task is None or not task.done():
        return None
    elif task.cancelled() or task.exception() is not None:
        outcome = "failed"
    else:
        parsed: ParsedArchive = task.result()
        lines = parsed.relations.get(tracker.relation, [])
        existing = project.content.existing_iids(tracker.relation)
        new = _records(
            core, project, tracker.relation, lines, existing, tracker.correlation_id, now
        )
        project.content.relations.setdefault(tracker.relation, []).extend(new)
        outcome = "finished"
    tracker.archive_path.unlink(missing_ok=True)
    return _set_tracker(tracker, outcome, now)
