"""``POST/GET /projects/:id/export`` and ``GET /projects/:id/export/download``.

Part of the simulator layer. Check order as GitLab's ``lib/api/project_export.rb``: export
enabled, project and ``admin_project``, parameters, rate limit, then (POST) the caller's previous
file is deleted before the ``upload[url]`` and size checks, or (download) the two 404s and the
file itself (or a 302 to the object-storage listener). Handlers only read state through the
export job functions; this module must not import anything outside the simulator.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from gitlab_ferry_testbed.simulator.auth import can_admin_project
from gitlab_ferry_testbed.simulator.core import Core
from gitlab_ferry_testbed.simulator.entities import export_status_entity
from gitlab_ferry_testbed.simulator.errors import (
    accepted,
    forbidden,
    json_response,
    message,
    not_found,
)
from gitlab_ferry_testbed.simulator.exporting import (
    export_status,
    export_upload,
    remove_export,
    schedule_export,
)
from gitlab_ferry_testbed.simulator.params import ParamError, to_str
from gitlab_ferry_testbed.simulator.remote import blocked_reason
from gitlab_ferry_testbed.simulator.routing import Ctx, Route, check_rate_limit, find_project, route
from gitlab_ferry_testbed.simulator.state import Project

MB = 1024 * 1024


def _authorize(ctx: Ctx) -> Project | web.Response:
    """The ``before`` block: export enabled, then ``authorize_admin_project``."""
    if not ctx.core.settings.instance.project_export_enabled:
        return not_found()
    project = find_project(ctx)
    if isinstance(project, web.Response):
        return project
    if not can_admin_project(ctx.core.state, ctx.user, project):
        return forbidden()
    return project


async def post_export(ctx: Ctx) -> web.StreamResponse:
    project = _authorize(ctx)
    if isinstance(project, web.Response):
        return project
    user = ctx.user
    assert user is not None
    params = ctx.values
    upload = params.get("upload") or {}
    if not isinstance(upload, dict):
        raise ParamError("upload is invalid")
    method = upload.get("http_method", "PUT")
    if method not in ("PUT", "POST"):
        raise ParamError("upload[http_method] does not have a valid value")
    description = to_str(params, "description")
    url = upload.get("url")
    if url is not None and not isinstance(url, str):
        raise ParamError("upload[url] is invalid")
    instance = ctx.core.settings.instance
    throttled = check_rate_limit(ctx, "project_export", (user.id,), instance.project_export_limit)
    if throttled is not None:
        return throttled
    remove_export(ctx.core, project, user)
    if url:
        # AddressableUrlValidator: local targets pass here; only the push checks them
        reason = await blocked_reason(
            url, schemes=("http", "https"), allow_local=True, dns_rebind_protection=False
        )
        if reason is not None:
            return message(400, {"url": [reason]})
    if instance.max_export_size and project.export_size() > instance.max_export_size * MB:
        return message(400, "The project size exceeds the export limit.")
    schedule_export(
        ctx.core, project, user, description=description, upload_url=url, upload_method=method
    )
    return accepted()


async def get_export(ctx: Ctx) -> web.StreamResponse:
    project = _authorize(ctx)
    if isinstance(project, web.Response):
        return project
    assert ctx.user is not None
    status = export_status(ctx.core, project, ctx.user)
    return json_response(200, export_status_entity(ctx.core, project, status))


async def download_export(ctx: Ctx) -> web.StreamResponse:
    project = _authorize(ctx)
    if isinstance(project, web.Response):
        return project
    user = ctx.user
    assert user is not None
    core = ctx.core
    scope_id = (
        project.namespace_id
        if core.settings.profile.download_limit_scope == "namespace"
        else project.id
    )
    throttled = check_rate_limit(
        ctx,
        "project_download_export",
        (user.id, core.settings.profile.download_limit_scope, scope_id),
        core.settings.instance.project_download_export_limit,
    )
    if throttled is not None:
        return throttled
    upload = export_upload(core, project, user)
    if upload is None:
        return message(404, "404 Not found or has expired")
    if upload.object_missing or upload.path is None or not upload.path.exists():
        return message(404, "The project export file is not available yet")
    return send_export_file(core, upload.path, upload.filename)


def send_export_file(core: Core, path: Path, filename: str) -> web.StreamResponse:
    """``present_carrierwave_file!``: the file, or a 302 to object storage."""
    if core.settings.behaviour.object_storage:
        url = core.storage.presign(path, filename, core.settings.behaviour.storage_url_ttl)
        return web.Response(
            status=302,
            text=f"This resource has been moved temporarily to {url}.",
            content_type="text/plain",
            headers={"Location": url},
        )
    disposition = f"attachment; filename=\"{filename}\"; filename*=UTF-8''{quote(filename)}"
    return web.FileResponse(
        path,
        chunk_size=1 << 20,
        headers={
            "Content-Type": core.settings.profile.download_content_type,
            "Content-Transfer-Encoding": "binary",
            "Content-Disposition": disposition,
        },
    )


ROUTES: tuple[Route, ...] = (
    route("POST", "/api/v4/projects/{id}/export", "export", post_export),
    route("GET", "/api/v4/projects/{id}/export", "export_status", get_export),
    route("GET", "/api/v4/projects/{id}/export/download", "download", download_export),
)
