"""GitLab's group import and export API: ``POST /groups/:id/export``,
``GET /groups/:id/export/download`` and ``POST /groups/import``.

Part of the simulator layer, after ``lib/api/group_export.rb`` and ``lib/api/group_import.rb``.
Export and download need ``admin_group`` (Owner or administrator; 404 for a group the caller
cannot read, 403 otherwise), then count against ``group_export`` (per user) or
``group_download_export`` (per user and group) before anything else, so a download that finds no
file still uses the allowance. There is no export status: the download answers
``404 Not found or has expired`` until the export job has finished. The import checks its
parameters, then ``create_subgroup`` on ``parent_id`` (or ``create_group``), then the
``group_import`` limit where the release has it, the file's extension, and creates the top group
before answering 202; the job engine creates the subgroups later. This module must not import
anything outside the simulator.
"""

from __future__ import annotations

from aiohttp import web

from gitlab_ferry_testbed.simulator.auth import can_admin_namespace
from gitlab_ferry_testbed.simulator.errors import accepted, forbidden, message
from gitlab_ferry_testbed.simulator.group_jobs import (
    group_export_file,
    new_archive_path,
    schedule_group_export,
    schedule_group_import,
)
from gitlab_ferry_testbed.simulator.group_rules import creation_errors, find_group, save_failed
from gitlab_ferry_testbed.simulator.import_common import gz_extension_ok
from gitlab_ferry_testbed.simulator.params import ParamError, to_int, to_str
from gitlab_ferry_testbed.simulator.routes_export import send_export_file
from gitlab_ferry_testbed.simulator.routes_groups import parent_for_creation
from gitlab_ferry_testbed.simulator.routes_import import GZ_REQUIRED
from gitlab_ferry_testbed.simulator.routing import Ctx, Route, check_rate_limit, route
from gitlab_ferry_testbed.simulator.state import OWNER, Namespace, User


def _owned_group(ctx: Ctx, limit: str) -> tuple[Namespace, User] | web.Response:
    """``authorize! :admin_group, user_group``, then the ``limit`` counter: per user for
    ``group_export``, per user and group for ``group_download_export``."""
    group = find_group(ctx, ctx.match["id"])
    if isinstance(group, web.Response):
        return group
    user = ctx.user
    if user is None or not can_admin_namespace(ctx.core.state, user, group):
        return forbidden()
    scope = (user.id,) if limit == "group_export" else (user.id, group.id)
    threshold = getattr(ctx.core.settings.instance, f"{limit}_limit")
    throttled = check_rate_limit(ctx, limit, scope, threshold)
    return throttled if throttled is not None else (group, user)


async def post_group_export(ctx: Ctx) -> web.StreamResponse:
    owned = _owned_group(ctx, "group_export")
    if isinstance(owned, web.Response):
        return owned
    schedule_group_export(ctx.core, *owned)
    return accepted()


async def download_group_export(ctx: Ctx) -> web.StreamResponse:
    owned = _owned_group(ctx, "group_download_export")
    if isinstance(owned, web.Response):
        return owned
    upload = group_export_file(ctx.core, *owned)
    if upload is None:
        return message(404, "404 Not found or has expired")
    if not upload.path.exists():
        return message(404, "The group export file is not available yet")
    return send_export_file(ctx.core, upload.path, upload.filename)


async def post_group_import(ctx: Ctx) -> web.StreamResponse:
    values = await ctx.read_body()
    files = ctx.params.files
    missing = [f"{n} is missing" for n in ("path", "name", "file") if values.get(n) is None]
    missing = [m for m in missing if not (m.startswith("file") and "file" in files)]
    if "file" in values and "file" not in files:
        missing.append("file is invalid")
    if missing:
        raise ParamError(", ".join(missing))
    path, name = to_str(values, "path") or "", to_str(values, "name") or ""
    parent = parent_for_creation(ctx, to_int(values, "parent_id"))
    if isinstance(parent, web.Response):
        return parent
    user = ctx.user
    assert user is not None
    core = ctx.core
    if core.settings.profile.group_import_rate_limit:
        limit = core.settings.instance.group_import_limit
        throttled = check_rate_limit(ctx, "group_import", (user.id,), limit)
        if throttled is not None:
            return throttled
    upload = files["file"]
    if not gz_extension_ok(upload.filename):
        return message(422, {"error": GZ_REQUIRED})
    # closest_allowed_visibility_level: the parent's, else private
    visibility = parent.visibility if parent is not None else "private"
    state = core.state
    errors = creation_errors(state, parent, name=name, path=path, visibility=visibility)
    if errors:
        return save_failed(errors)
    full_path = f"{parent.full_path}/{path}" if parent else path
    group = state.add_group(full_path, name=name, visibility=visibility, now=core.now())
    group.members[user.id] = OWNER
    archive = new_archive_path(core)
    upload.path.rename(archive)
    upload.path, upload.keep = archive, True
    schedule_group_import(core, group, user, archive)
    return accepted()


ROUTES: tuple[Route, ...] = (
    route("POST", "/api/v4/groups/import", "group_import", post_group_import),
    route("POST", "/api/v4/groups/{id}/export", "group_export", post_group_export),
    route("GET", "/api/v4/groups/{id}/export/download", "group_download", download_group_export),
)
