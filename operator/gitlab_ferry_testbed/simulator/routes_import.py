"""``POST /projects/import``, ``/remote-import``, ``/remote-import-s3`` and ``GET .../import``.

Part of the simulator layer. Check order as GitLab's ``lib/api/project_import.rb`` and
CreateProjectService: authentication (401), the upload itself (413), parameters (400
``{"error"}``), ``gitlab_project`` import source (403), the shared ``project_import`` rate limit
(429), file extension (422), namespace (404), then the file-acquisition checks and project
creation (400 ``{"message"}``), and 201 with ``ProjectImportStatus``. Archive problems surface
later as an asynchronous ``failed``. The two remote routes exist from the release that introduced
them and answer ``not_found!`` while their feature flag is off. This module must not import anything
outside the simulator.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from gitlab_ferry_testbed.simulator.entities import import_status_entity
from gitlab_ferry_testbed.simulator.errors import json_response, message, not_found
from gitlab_ferry_testbed.simulator.import_common import (
    Common,
    common_params,
    create_import_project,
    gz_extension_ok,
    resolve_namespace,
)
from gitlab_ferry_testbed.simulator.remote import (
    RemoteProblem,
    blocked_reason,
    head_headers,
    is_s3_response,
    remote_file_errors,
)
from gitlab_ferry_testbed.simulator.routing import Ctx, Route, check_rate_limit, find_project, route
from gitlab_ferry_testbed.simulator.state import Namespace, Project

S3_FIELDS = ["region", "bucket_name", "file_key", "access_key_id", "secret_access_key"]
GZ_REQUIRED = "You need to upload a GitLab project export archive (ending in .gz)."
REMOTE_FLAG = "import_project_from_remote_file"
S3_FLAG = "import_project_from_remote_file_s3"
USE_S3_ROUTE = "To import from AWS S3 use `projects/remote-import-s3`"


def _humanize(attribute: str) -> str:
    """Rails' ``humanize``: drops a trailing ``_id``, underscores become spaces."""
    base = attribute.removesuffix("_id")
    return base.replace("_", " ").capitalize()


def unauthorized() -> web.Response:
    return message(401, "401 Unauthorized")


def gitlab_project_enabled(ctx: Ctx) -> bool:
    return "gitlab_project" in ctx.core.settings.enabled_import_sources()


def source_and_limit(ctx: Ctx) -> web.Response | None:
    """Import source enabled (403), then the shared per-user ``project_import`` counter (429)."""
    instance = ctx.core.settings.instance
    if not gitlab_project_enabled(ctx):
        return message(403, "403 Forbidden")
    assert ctx.user is not None
    return check_rate_limit(
        ctx, "project_import", (ctx.user.id, "project_import"), instance.project_import_limit
    )


async def _prologue(
    ctx: Ctx, required: list[str], flag: str | None = None
) -> tuple[Common, Namespace] | web.Response:
    common = common_params(ctx, required)
    if flag is not None and ctx.core.flag_closed(flag):
        return not_found()
    stop = source_and_limit(ctx)
    if stop is not None:
        return stop
    upload = ctx.params.files.get("file")
    if upload is not None and not gz_extension_ok(upload.filename):
        return message(422, {"error": GZ_REQUIRED})
    ns = resolve_namespace(ctx, common)
    if isinstance(ns, web.Response):
        return ns
    return common, ns


def _created(ctx: Ctx, project: Project | web.Response) -> web.Response:
    if isinstance(project, web.Response):
        return project
    return json_response(201, import_status_entity(ctx.core, project, ctx.user))


async def post_import(ctx: Ctx) -> web.StreamResponse:
    if ctx.user is None:
        return unauthorized()
    await ctx.read_body()
    prologue = await _prologue(ctx, ["path", "file"])
    if isinstance(prologue, web.Response):
        return prologue
    common, ns = prologue
    upload = ctx.params.files["file"]
    project = create_import_project(ctx, ns, common, source_kind="upload", archive_path=upload.path)
    if not isinstance(project, web.Response):
        upload.keep = True
    return _created(ctx, project)


def _url_schemes(ctx: Ctx) -> tuple[str, ...]:
    return ("http", "https") if ctx.core.settings.behaviour.allow_http_remote_import else ("https",)


def _allow_local(ctx: Ctx) -> bool:
    return ctx.core.settings.instance.allow_local_requests_from_web_hooks_and_services


async def post_remote_import(ctx: Ctx) -> web.StreamResponse:
    if ctx.user is None:
        return unauthorized()
    await ctx.read_body()
    prologue = await _prologue(ctx, ["url", "path"], REMOTE_FLAG)
    if isinstance(prologue, web.Response):
        return prologue
    common, ns = prologue
    url = ctx.core.s3.stand_in(str(ctx.values["url"]))
    reason = await blocked_reason(url, schemes=_url_schemes(ctx), allow_local=_allow_local(ctx))
    if reason is not None:
        return message(400, f"File url {reason}")
    try:
        headers = await head_headers(
            ctx.core.session(), url, ctx.core.settings.behaviour.remote_head_timeout
        )
    except RemoteProblem as problem:
        return message(400, str(problem))
    # 14.9 to 15.10 with the S3 flag on: S3 answers belong to remote-import-s3, and they are no
    # longer exempt from the size and type checks
    refuse_s3 = ctx.core.settings.profile.remote_import_refuses_s3 and ctx.core.feature_enabled(
        S3_FLAG
    )
    if refuse_s3 and is_s3_response(headers):
        return message(400, USE_S3_ROUTE)
    if refuse_s3 or not is_s3_response(headers):
        errors = remote_file_errors(
            headers.get("content-length"),
            headers.get("content-type"),
            ctx.core.settings.instance.max_import_remote_file_size,
        )
        if errors:
            return message(400, errors[0])
    project = create_import_project(ctx, ns, common, source_kind="remote", remote_url=url)
    return _created(ctx, project)


async def post_remote_import_s3(ctx: Ctx) -> web.StreamResponse:
    if ctx.user is None:
        return unauthorized()
    await ctx.read_body()
    prologue = await _prologue(ctx, [*S3_FIELDS, "path"], S3_FLAG)
    if isinstance(prologue, web.Response):
        return prologue
    common, ns = prologue
    s3 = {name: str(ctx.values[name]) for name in S3_FIELDS}
    for name in S3_FIELDS:
        if not s3[name].strip():
            return message(400, f"{_humanize(name)} can't be blank")
    gateway = ctx.core.s3
    args = {
        "region": s3["region"],
        "bucket": s3["bucket_name"],
        "key": s3["file_key"],
        "access_key": s3["access_key_id"],
        "secret_key": s3["secret_access_key"],
    }
    try:
        found = await asyncio.to_thread(gateway.head, **args)
    except RemoteProblem as problem:
        return message(400, str(problem))
    if found is None:
        return message(400, f"File not found '{s3['file_key']}' in '{s3['bucket_name']}'")
    url = await asyncio.to_thread(gateway.presign_get, **args)
    reason = await blocked_reason(url, schemes=_url_schemes(ctx), allow_local=_allow_local(ctx))
    if reason is not None:
        return message(400, f"File url {reason}")
    errors = remote_file_errors(
        found.content_length,
        found.content_type,
        ctx.core.settings.instance.max_import_remote_file_size,
    )
    if errors:
        return message(400, errors[0])
    project = create_import_project(ctx, ns, common, source_kind="s3", s3=s3)
    return _created(ctx, project)


async def get_import(ctx: Ctx) -> web.StreamResponse:
    if ctx.user is None:
        return unauthorized()
    if not gitlab_project_enabled(ctx):
        return message(403, "403 Forbidden")
    project = find_project(ctx)
    if isinstance(project, web.Response):
        return project
    return json_response(200, import_status_entity(ctx.core, project, ctx.user))


ROUTES: tuple[Route, ...] = (
    route("POST", "/api/v4/projects/import", "import", post_import),
    route(
        "POST",
        "/api/v4/projects/remote-import",
        "remote_import",
        post_remote_import,
        when="remote_import",
    ),
    route(
        "POST",
        "/api/v4/projects/remote-import-s3",
        "remote_import_s3",
        post_remote_import_s3,
        when="remote_import_s3",
    ),
    route("GET", "/api/v4/projects/{id}/import", "import_status", get_import),
)
