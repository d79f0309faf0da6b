"""Group export and group import jobs, moved along by the job engine.

Part of the simulator layer. A group export (GroupExportWorker) waits ``group_export_queue_delay``,
then removes the caller's previous export file (ExportService#execute) and builds the archive in
a worker thread; ``group_export_duration`` after it started, the file is installed and the
download answers. A group import (GroupImportWorker) waits ``group_import_queue_delay``, reads the
archive in a worker thread and, ``group_import_duration`` after it started, restores the top
group's attributes and creates the subgroups under it, the importing user as their Owner
(Group::TreeRestorer). Visibility follows the release: before the fix for GitLab issue 405168 an
archive's ``visibility_level`` is neither written nor read, so subgroups are private and the top
group keeps what the API gave it; after it, each group keeps its own level within its parent's.
Export files expire like project exports (24 h, hourly sweep). This module must not import
anything outside the simulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from gitlab_ferry_testbed.simulator.archive import ArchiveError, export_filename
from gitlab_ferry_testbed.simulator.core import Core
from gitlab_ferry_testbed.simulator.group_archive import (
    ExportedGroup,
    GroupArchive,
    build_group_archive,
    parse_group_archive,
)
from gitlab_ferry_testbed.simulator.group_records import (
    GroupExportJob,
    GroupExportUpload,
    GroupImportJob,
)
from gitlab_ferry_testbed.simulator.state import (
    OWNER,
    VISIBILITY_LEVELS,
    Namespace,
    Transition,
    User,
    visibility_name,
)

Spawn = Callable[[Coroutine[Any, Any, Any]], "asyncio.Task[Any]"]
MB = 1024 * 1024
RETENTION = 1440 * 60  # ImportExportCleanupService: uploads older than a day, hourly
ACTIVE = ("queued", "started")


def owner_key(core: Core, user: User) -> int:
    """Exports belong to their user (newer GitLab) or to the group as a whole."""
    return user.id if core.settings.profile.export_ownership == "user" else 0


# group export


def schedule_group_export(core: Core, group: Namespace, user: User) -> None:
    """Queue an export, unless this owner's export of the group is already on its way."""
    owner, state, now = owner_key(core, user), core.state, core.now()
    if any(
        j.group_id == group.id and j.owner_key == owner and j.status in ACTIVE
        for j in state.group_export_jobs
    ):
        return
    job_id = state.next_id("group_export_job")
    state.group_export_jobs.append(
        GroupExportJob(job_id, group.id, owner, user.id, "queued", now, now)
    )
    core.wake()


def group_export_file(core: Core, group: Namespace, user: User) -> GroupExportUpload | None:
    return core.state.group_exports.get((group.id, owner_key(core, user)))


def _delete_upload(core: Core, key: tuple[int, int]) -> None:
    upload = core.state.group_exports.pop(key, None)
    if upload is not None:
        upload.path.unlink(missing_ok=True)


def tree_of(core: Core, group: Namespace) -> list[Namespace]:
    """``group`` and its descendants, by depth (ObjectHierarchy#base_and_descendants)."""
    out, level = [group], [group]
    while level:
        ids = {n.id for n in level}
        level = sorted(
            (n for n in core.state.namespaces.values() if n.parent_id in ids), key=lambda n: n.id
        )
        out += level
    return out


def _exported(core: Core, group: Namespace) -> list[ExportedGroup]:
    keeps_visibility = core.settings.profile.group_import_keeps_visibility
    out = []
    for ns in tree_of(core, group):
        attributes: dict[str, Any] = {
            "id": ns.id,
            "name": ns.name,
            "path": ns.path,
            "description": ns.description,
            "parent_id": ns.parent_id,
        }
        if keeps_visibility:
            attributes["visibility_level"] = VISIBILITY_LEVELS[ns.visibility]
        relations = {k: [dict(r) for r in v] for k, v in ns.relations.items()}
        out.append(ExportedGroup(attributes, relations))
    return out


def _set_export(job: GroupExportJob, status: str, now: float) -> Transition:
    before, job.status, job.updated_at = job.status, status, now
    return Transition("group_export", job.id, job.group_id, before, status)


def start_group_export(core: Core, job: GroupExportJob, now: float, spawn: Spawn) -> Transition:
    group = core.state.namespaces.get(job.group_id)
    if group is None:
        return _set_export(job, "failed", now)
    _delete_upload(core, (job.group_id, job.owner_key))
    behaviour = core.settings.behaviour
    job.started_at = now
    job.work = spawn(
        asyncio.to_thread(
            build_group_archive,
            core.dirs.exports / f"group-job-{job.id}.tar.gz",
            _exported(core, group),
            gitlab_version=behaviour.gitlab_version,
            gitlab_revision=behaviour.gitlab_revision,
            gzip_level=behaviour.archive_gzip_level,
            now=now,
        )
    )
    return _set_export(job, "started", now)


def finish_group_export(core: Core, job: GroupExportJob, now: float) -> Transition | None:
    build = job.work
    if build is None or not build.done():
        return None
    group = core.state.namespaces.get(job.group_id)
    if group is None or build.cancelled() or build.exception() is not None:
        return _set_export(job, "failed", now)
    built: GroupArchive = build.result()
    key = (job.group_id, job.owner_key)
    _delete_upload(core, key)
    core.state.group_exports[key] = GroupExportUpload(
        job.group_id,
        job.owner_key,
        built.path,
        export_filename(group.full_path, now),
        built.size,
        built.sha256,
        now,
    )
    return _set_export(job, "finished", now)


# group import


def schedule_group_import(core: Core, group: Namespace, user: User, archive: Path) -> None:
    now, state = core.now(), core.state
    job_id = state.next_id("group_import")
    state.group_imports.append(
        GroupImportJob(job_id, group.id, user.id, "scheduled", now, now, archive)
    )
    core.wake()


def _set_import(job: GroupImportJob, status: str, now: float) -> Transition:
    before, job.status, job.updated_at = job.status, status, now
    return Transition("group_import", job.id, job.group_id, before, status)


def start_group_import(core: Core, job: GroupImportJob, now: float, spawn: Spawn) -> Transition:
    assert job.archive_path is not None
    job.started_at = now
    cap = core.settings.instance.max_decompressed_archive_size * MB
    job.work = spawn(
        asyncio.to_thread(parse_group_archive, job.archive_path, max_decompressed_bytes=cap)
    )
    return _set_import(job, "started", now)


def finish_group_import(core: Core, job: GroupImportJob, now: float) -> Transition | None:
    task = job.work
    if task is None or not task.done():
        return None
    if job.archive_path is not None:
        job.archive_path.unlink(missing_ok=True)
        job.archive_path = None
    problem = None if task.cancelled() else task.exception()
    top = core.state.namespaces.get(job.group_id)
    user = core.state.users.get(job.user_id)
    if task.cancelled() or problem is not None or top is None or user is None:
        job.last_error = str(problem) if isinstance(problem, ArchiveError) else "Import failed"
        return _set_import(job, "failed", now)
    _restore(core, job, top, user, task.result(), now)
    return _set_import(job, "finished", now)


def _capped(level: int | None, parent: Namespace) -> int:
    """TreeRestorer#sub_group_visibility_level: the group's own level, at most its parent's."""
    ceiling = VISIBILITY_LEVELS[parent.visibility]
    return ceiling if level is None else min(level, ceiling)


def _restore(
    core: Core,
    job: GroupImportJob,
    top: Namespace,
    user: User,
    groups: list[ExportedGroup],
    now: float,
) -> None:
    state = core.state
    keeps = core.settings.profile.group_import_keeps_visibility
    root, children = groups[0], groups[1:]
    level = root.attributes.get("visibility_level") if keeps else None
    if isinstance(level, int):
        parent = state.namespaces.get(top.parent_id) if top.parent_id else None
        top.visibility = visibility_name(_capped(level, parent) if parent else level)
    _restore_attributes(top, root)
    mapping = {root.id: top}
    for child in children:
        attrs = child.attributes
        parent_id = attrs.get("parent_id")
        parent = mapping.get(parent_id) if isinstance(parent_id, int) else None
        path, name = str(attrs.get("path") or ""), str(attrs.get("name") or "")
        if parent is None or not path or state.path_taken(parent, path):
            job.failures.append(f"{attrs.get('id')}: {path or 'no path'}")
            continue
        own = attrs.get("visibility_level") if keeps else None
        visibility = _capped(own if isinstance(own, int) else None, parent) if keeps else 0
        ns = state.add_group(
            f"{parent.full_path}/{path}",
            name=name or path,
            visibility=visibility_name(visibility),
            now=now,
        )
        ns.members[user.id] = OWNER
        _restore_attributes(ns, child)
        mapping[child.id] = ns
        job.created_group_ids.append(ns.id)


def _restore_attributes(ns: Namespace, group: ExportedGroup) -> None:
    description = group.attributes.get("description")
    if isinstance(description, str):
        ns.description = description
    ns.relations = {k: [dict(r) for r in v] for k, v in group.relations.items()}


# what the engine calls


GroupJob = GroupExportJob | GroupImportJob


def _jobs(core: Core) -> list[GroupJob]:
    return [*core.state.group_export_jobs, *core.state.group_imports]


def _delays(core: Core, job: GroupJob) -> tuple[float, float]:
    """How long the job waits in the queue, and how long it runs."""
    timing = core.settings.timing
    if isinstance(job, GroupExportJob):
        return timing.group_export_queue_delay, timing.group_export_duration
    return timing.group_import_queue_delay, timing.group_import_duration


def _start(core: Core, job: GroupJob, now: float, spawn: Spawn) -> Transition:
    if isinstance(job, GroupExportJob):
        return start_group_export(core, job, now, spawn)
    return start_group_import(core, job, now, spawn)


def _finish(core: Core, job: GroupJob, now: float) -> list[Transition]:
    if isinstance(job, GroupExportJob):
        done = finish_group_export(core, job, now)
    else:
        done = finish_group_import(core, job, now)
    return [] if done is None else [done]


def due_times(core: Core) -> list[float]:
    times = []
    for job in _jobs(core):
        queue, duration = _delays(core, job)
        if job.status == job.WAITING:
            times.append(job.queued_at + queue)
        elif job.status == "started" and job.started_at is not None:
            times.append(job.started_at + duration)
    return times


def advance(core: Core, now: float, spawn: Spawn) -> list[Transition]:
    """Every transition the clock has made due."""
    out = []
    for job in _jobs(core):
        queue, duration = _delays(core, job)
        if job.status == job.WAITING and now >= job.queued_at + queue:
            out.append(_start(core, job, now, spawn))
        if job.status == "started" and now >= (job.started_at or now) + duration:
            out += _finish(core, job, now)
    return out


async def step(core: Core, spawn: Spawn) -> list[Transition]:
    """One transition per job, whatever the timings say (awaiting the work it needs)."""
    out: list[Transition] = []
    for job in _jobs(core):
        if job.status == job.WAITING:
            out.append(_start(core, job, core.now(), spawn))
        elif job.status == "started":
            await _quietly(job.work)
            out += _finish(core, job, core.now())
    return out


def housekeeping(core: Core, now: float) -> list[Transition]:
    """The hourly sweep of export files written more than a day before it."""
    last_sweep = (int(now) // 3600) * 3600
    out = []
    for key, upload in list(core.state.group_exports.items()):
        if upload.updated_at < last_sweep - RETENTION:
            _delete_upload(core, key)
            out.append(Transition("group_export_expired", 0, key[0], "finished", "none"))
    return out


async def _quietly(task: asyncio.Task[Any] | None) -> None:
    if task is not None:
        with contextlib.suppress(BaseException):
            await asyncio.shield(task)


def new_archive_path(core: Core) -> Path:
    return core.dirs.uploads / f"group-import-{uuid.uuid4().hex}.tar.gz"
