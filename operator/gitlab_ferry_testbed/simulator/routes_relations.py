"""``POST /projects/import-relation`` and ``GET /projects/:id/relation-imports``.

Part of the simulator layer. The POST follows RelationImportService's order 1-11 from the
reference: 401, parameters, 403 import source, 429 (the shared ``project_import`` counter), 422
extension, 404 project, 400 relation, 403 ``admin_project``, 409 while a tracker or the project
import is ``started``, 400 when the tracker cannot be created, 201 ``created``. The listing needs
``admin_project`` even on public projects (403 ``403 Forbidden - Project``). Both routes exist from
16.11; in 16.11 and 17.0 they answer ``not_found!`` while ``single_relation_import`` is off. This
module must not import anything outside the simulator.
"""

from __future__ import annotations

import uuid

from aiohttp import web

from gitlab_ferry_testbed.simulator.auth import can_admin_project
from gitlab_ferry_testbed.simulator.content import IMPORTABLE_RELATIONS
from gitlab_ferry_testbed.simulator.entities import tracker_entity
from gitlab_ferry_testbed.simulator.errors import forbidden, json_response, message, not_found
from gitlab_ferry_testbed.simulator.import_common import gz_extension_ok
from gitlab_ferry_testbed.simulator.params import ParamError, require, to_str
from gitlab_ferry_testbed.simulator.routes_import import (
    GZ_REQUIRED,
    gitlab_project_enabled,
    source_and_limit,
    unauthorized,
)
from gitlab_ferry_testbed.simulator.routing import Ctx, Route, find_project, route
from gitlab_ferry_testbed.simulator.state import Project, RelationTracker

STALE_AFTER = 24 * 3600
RELATION_FLAG = "single_relation_import"
RELATION_MESSAGE = (
    "Imported relation must be one of issues, merge_requests, milestones, or ci_pipelines"
)


def _in_progress(ctx: Ctx, project: Project) -> bool:
    """``any_import_in_progress?``: the last tracker is started (and not stale), or the import."""
    now = ctx.core.now()
    trackers = [t for t in ctx.core.state.relation_trackers if t.project_id == project.id]
    if (
        trackers
        and trackers[-1].status == "started"
        and now - trackers[-1].created_at <= STALE_AFTER
    ):
        return True
    return project.import_job is not None and project.import_job.status == "started"


async def post_import_relation(ctx: Ctx) -> web.StreamResponse:
    if ctx.user is None:
        return unauthorized()
    values = await ctx.read_body()
    require(values, ctx.params.files, ["path", "file", "relation"])
    if "file" not in ctx.params.files:
        raise ParamError("file is invalid")
    path = to_str(values, "path") or ""
    relation = to_str(values, "relation") or ""
    if ctx.core.flag_closed(RELATION_FLAG):
        return not_found()
    stop = source_and_limit(ctx)
    if stop is not None:
        return stop
    upload = ctx.params.files["file"]
    if not gz_extension_ok(upload.filename):
        return message(422, {"error": GZ_REQUIRED})
    core = ctx.core
    project = core.state.project_by_full_path(path)
    if project is None:
        return message(404, "Project not found")
    if relation not in IMPORTABLE_RELATIONS:
        return message(400, RELATION_MESSAGE)
    if not can_admin_project(core.state, ctx.user, project):
        return message(403, "You are not authorized to perform this action")
    if _in_progress(ctx, project):
        return message(409, "A relation import is already in progress for this project")
    if project.import_job is not None and project.import_job.status == "scheduled":
        return message(
            400,
            "Relation import could not be created: "
            "Relation import tracker cannot be created for project with ongoing import",
        )
    now = core.now()
    archive = core.dirs.relations / f"relation-{uuid.uuid4().hex}.tar.gz"
    upload.path.rename(archive)
    upload.path = archive
    fault = core.faults.job_fault("relation_import", core.project_refs(project))
    tracker = RelationTracker(
        id=core.state.next_id("relation_tracker"),
        project_id=project.id,
        relation=relation,
        status="created",
        created_at=now,
        updated_at=now,
        user_id=ctx.user.id,
        archive_path=archive,
        correlation_id=core.correlation_id(),
        fault=fault.mode if fault else None,
        fault_message=fault.message if fault else "",
    )
    upload.keep = True
    core.state.relation_trackers.append(tracker)
    core.wake()
    return json_response(201, tracker_entity(core, tracker))


async def get_relation_imports(ctx: Ctx) -> web.StreamResponse:
    if ctx.user is None:
        return unauthorized()
    if ctx.core.flag_closed(RELATION_FLAG):
        return not_found()
    if not gitlab_project_enabled(ctx):
        return message(403, "403 Forbidden")
    project = find_project(ctx)
    if isinstance(project, web.Response):
        return project
    if not can_admin_project(ctx.core.state, ctx.user, project):
        return forbidden("Project")
    trackers = [t for t in ctx.core.state.relation_trackers if t.project_id == project.id]
    return json_response(200, [tracker_entity(ctx.core, t) for t in trackers])


ROUTES: tuple[Route, ...] = (
    route(
        "POST",
        "/api/v4/projects/import-relation",
        "relation_import",
        post_import_relation,
        when="relation_import",
    ),
    route(
        "GET",
        "/api/v4/projects/{id}/relation-imports",
        "relation_imports",
        get_relation_imports,
        when="relation_import",
    ),
)
