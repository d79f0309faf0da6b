"""The control API under ``/-/sim/``: what tests and demos use to steer and inspect the simulator.

Part of the simulator layer, not part of GitLab. Requests are accepted from loopback peers, or
from anywhere with an admin user's token (``PRIVATE-TOKEN`` or ``Authorization: Bearer``); with
``control_requires_admin`` the token is required even on loopback. It exposes the request log,
settings, faults, the step and clock controls, projects with their content summaries, upload
pushes and object-storage hits. Responses never contain tokens or S3 secrets. This module must
not import anything outside the simulator.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from aiohttp import web
from pydantic import ValidationError

from gitlab_ferry_testbed.simulator.clock import ManualClock
from gitlab_ferry_testbed.simulator.content import summarize
from gitlab_ferry_testbed.simulator.core import Core
from gitlab_ferry_testbed.simulator.errors import iso, json_response
from gitlab_ferry_testbed.simulator.exporting import export_status
from gitlab_ferry_testbed.simulator.faults import FaultConfig
from gitlab_ferry_testbed.simulator.importing import fail_import
from gitlab_ferry_testbed.simulator.seed import Seed, SeedProject, apply_seed
from gitlab_ferry_testbed.simulator.state import Namespace, Project

PREFIX = "/-/sim"
ControlHandler = Callable[[Core, web.Request], Awaitable[web.StreamResponse]]


async def project_view(core: Core, project: Project) -> dict[str, Any]:
    """A project as tests see it: ids, paths, job states and the content summary."""
    state = core.state
    job = project.import_job
    exports = []
    owners = {j.owner_key for j in state.export_jobs if j.project_id == project.id}
    owners |= {k[1] for k in state.export_uploads if k[0] == project.id}
    for owner in sorted(owners):
        user = state.users.get(owner) or next(iter(state.users.values()))
        upload = state.export_uploads.get((project.id, owner))
        exports.append(
            {
                "owner": state.users[owner].username if owner in state.users else None,
                "status": export_status(core, project, user),
                "file": None
                if upload is None
                else {
                    "filename": upload.filename,
                    "size": upload.size,
                    "sha256": upload.sha256,
                    "updated_at": iso(upload.updated_at),
                    "object_missing": upload.object_missing,
                },
            }
        )
    content = await asyncio.to_thread(summarize, project.content, project.description)
    return {
        "id": project.id,
        "path_with_namespace": state.full_path(project),
        "path": project.path,
        "name": project.name,
        "namespace_id": project.namespace_id,
        "visibility": project.visibility,
        "description": project.description,
        "created_at": iso(project.created_at),
        "pending_delete": project.pending_delete,
        "import": None
        if job is None
        else {
            "status": job.status,
            "type": job.import_type,
            "correlation_id": job.correlation_id,
            "error": job.last_error,
            "original_path": job.original_path,
            "failed_relations": sum(
                1
                for f in state.import_failures
                if f.project_id == project.id and f.correlation_id == job.correlation_id
            ),
        },
        "exports": exports,
        "relation_imports": [
            {"id": t.id, "relation": t.relation, "status": t.status}
            for t in state.relation_trackers
            if t.project_id == project.id
        ],
        "content": content,
    }


def _find(core: Core, ref: str) -> Project | None:
    ref = unquote(ref)
    if ref.isdigit():
        return core.state.projects.get(int(ref))
    return core.state.project_by_full_path(ref, include_deleted=True)


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    return json.loads(raw) if raw.strip() else {}


def _bad(err: Exception) -> web.Response:
    detail = err.errors(include_url=False) if isinstance(err, ValidationError) else str(err)
    return json_response(400, {"error": detail})


async def health(core: Core, request: web.Request) -> web.StreamResponse:
    return json_response(200, {"status": "ok", "url": core.public_url})


async def get_requests(core: Core, request: web.Request) -> web.StreamResponse:
    q = request.query
    records = core.log.records(q.get("endpoint"), user=q.get("user"), method=q.get("method"))
    return json_response(200, [r.to_dict() for r in records])


async def reset_requests(core: Core, request: web.Request) -> web.StreamResponse:
    core.log.reset()
    return web.Response(status=204)


async def get_settings(core: Core, request: web.Request) -> web.StreamResponse:
    return json_response(200, core.settings.model_dump(mode="json"))


async def put_settings(core: Core, request: web.Request) -> web.StreamResponse:
    try:
        core.settings = core.settings.merged(await _body(request))
    except (ValidationError, ValueError) as err:
        return _bad(err)
    core.wake()
    return json_response(200, core.settings.model_dump(mode="json"))


async def get_faults(core: Core, request: web.Request) -> web.StreamResponse:
    return json_response(200, core.faults.config.model_dump(mode="json"))


async def put_faults(core: Core, request: web.Request) -> web.StreamResponse:
    try:
        core.faults.replace(FaultConfig.model_validate(await _body(request)))
    except (ValidationError, ValueError) as err:
        return _bad(err)
    return json_response(200, core.faults.config.model_dump(mode="json"))


async def delete_faults(core: Core, request: web.Request) -> web.StreamResponse:
    core.faults.replace(FaultConfig())
    return web.Response(status=204)


async def post_step(core: Core, request: web.Request) -> web.StreamResponse:
    assert core.engine is not None
    transitions = await core.engine.step()
    return json_response(200, {"transitions": [t.to_dict() for t in transitions]})


async def post_settle(core: Core, request: web.Request) -> web.StreamResponse:
    assert core.engine is not None
    transitions = await core.engine.settle()
    return json_response(200, {"transitions": [t.to_dict() for t in transitions]})


async def get_clock(core: Core, request: web.Request) -> web.StreamResponse:
    now = core.now()
    return json_response(200, {"time": now, "iso": iso(now), "kind": type(core.clock).__name__})


async def advance_clock(core: Core, request: web.Request) -> web.StreamResponse:
    if not isinstance(core.clock, ManualClock):
        return json_response(409, {"error": "the clock is not a ManualClock"})
    body = await _body(request)
    if "time" in body:
        core.clock.set(float(body["time"]))
    else:
        core.clock.advance(float(body.get("seconds", 0)))
    assert core.engine is not None
    transitions = core.engine.tick()
    return json_response(
        200, {"time": core.now(), "transitions": [t.to_dict() for t in transitions]}
    )


async def list_projects(core: Core, request: web.Request) -> web.StreamResponse:
    views = [
        await project_view(core, p)
        for p in sorted(core.state.projects.values(), key=lambda p: p.id)
    ]
    return json_response(200, views)


async def get_project(core: Core, request: web.Request) -> web.StreamResponse:
    project = _find(core, request.match_info["ref"])
    if project is None:
        return json_response(404, {"error": "no such project"})
    return json_response(200, await project_view(core, project))


async def create_project(core: Core, request: web.Request) -> web.StreamResponse:
    try:
        spec = SeedProject.model_validate(await _body(request))
        (project,) = apply_seed(core.state, Seed(projects=[spec]), now=core.now())
    except (ValidationError, ValueError) as err:
        return _bad(err)
    return json_response(201, await project_view(core, project))


async def rename_project(core: Core, request: web.Request) -> web.StreamResponse:
    project = _find(core, request.match_info["ref"])
    if project is None:
        return json_response(404, {"error": "no such project"})
    body = await _body(request)
    old = core.state.full_path(project).lower()
    project.path = str(body.get("path", project.path))
    project.name = str(body.get("name", project.name))
    core.state.redirects[old] = project.id
    return json_response(200, await project_view(core, project))


async def cancel_import(core: Core, request: web.Request) -> web.StreamResponse:
    project = _find(core, request.match_info["ref"])
    if project is None or project.import_job is None:
        return json_response(404, {"error": "no such import"})
    job = project.import_job
    if job.status in ("none", "scheduled", "started"):
        fail_import(core, project, "", core.now(), wrap=False)
        job.status, job.last_error = "canceled", None
    return json_response(200, await project_view(core, project))


def group_view(core: Core, ns: Namespace) -> dict[str, Any]:
    """A group as tests see it: ids, paths, visibility and its group imports."""
    imports = [j for j in core.state.group_imports if j.group_id == ns.id]
    return {
        "id": ns.id,
        "full_path": ns.full_path,
        "name": ns.name,
        "parent_id": ns.parent_id,
        "visibility": ns.visibility,
        "description": ns.description,
        "relations": {name: len(records) for name, records in sorted(ns.relations.items())},
        "projects": sum(1 for p in core.state.live_projects() if p.namespace_id == ns.id),
        "imports": [
            {
                "id": j.id,
                "status": j.status,
                "error": j.last_error,
                "created_groups": len(j.created_group_ids),
                "failures": list(j.failures),
            }
            for j in imports
        ],
    }


async def list_groups(core: Core, request: web.Request) -> web.StreamResponse:
    groups = sorted(
        (n for n in core.state.namespaces.values() if n.kind == "group"), key=lambda n: n.id
    )
    return json_response(200, [group_view(core, ns) for ns in groups])


async def post_seed(core: Core, request: web.Request) -> web.StreamResponse:
    try:
        seed = Seed.model_validate(await _body(request))
        if seed.settings:
            core.settings = core.settings.merged(seed.settings)
        created = apply_seed(core.state, seed, now=core.now())
    except (ValidationError, ValueError) as err:
        return _bad(err)
    return json_response(201, {"projects": [p.id for p in created]})


async def get_users(core: Core, request: web.Request) -> web.StreamResponse:
    return json_response(
        200,
        [
            {
                "id": u.id,
                "username": u.username,
                "name": u.name,
                "admin": u.admin,
                "namespace_id": u.namespace_id,
            }
            for u in core.state.users.values()
        ],
    )


async def get_uploads(core: Core, request: web.Request) -> web.StreamResponse:
    return json_response(200, core.pushes)


async def get_storage_hits(core: Core, request: web.Request) -> web.StreamResponse:
    return json_response(200, core.storage.records())


async def get_ratelimits(core: Core, request: web.Request) -> web.StreamResponse:
    return json_response(200, core.limiter.snapshot())


async def reset_ratelimits(core: Core, request: web.Request) -> web.StreamResponse:
    core.limiter.reset()
    return web.Response(status=204)


async def get_transitions(core: Core, request: web.Request) -> web.StreamResponse:
    assert core.engine is not None
    return json_response(200, [t.to_dict() for t in core.engine.history])


ROUTES: tuple[tuple[str, str, ControlHandler], ...] = (
    ("GET", "/health", health),
    ("GET", "/requests", get_requests),
    ("DELETE", "/requests", reset_requests),
    ("GET", "/settings", get_settings),
    ("PUT", "/settings", put_settings),
    ("PATCH", "/settings", put_settings),
    ("GET", "/faults", get_faults),
    ("PUT", "/faults", put_faults),
    ("DELETE", "/faults", delete_faults),
    ("POST", "/step", post_step),
    ("POST", "/settle", post_settle),
    ("GET", "/clock", get_clock),
    ("POST", "/clock/advance", advance_clock),
    ("GET", "/projects", list_projects),
    ("POST", "/projects", create_project),
    ("GET", "/projects/{ref}", get_project),
    ("POST", "/projects/{ref}/rename", rename_project),
    ("POST", "/projects/{ref}/cancel-import", cancel_import),
    ("GET", "/groups", list_groups),
    ("POST", "/seed", post_seed),
    ("GET", "/users", get_users),
    ("GET", "/uploads", get_uploads),
    ("GET", "/storage/requests", get_storage_hits),
    ("GET", "/ratelimits", get_ratelimits),
    ("DELETE", "/ratelimits", reset_ratelimits),
    ("GET", "/transitions", get_transitions),
)


def _allowed(core: Core, request: web.Request) -> bool:
    token = request.headers.get("PRIVATE-TOKEN") or ""
    scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
    if not token and scheme.lower() == "bearer":
        token = bearer.strip()
    found = core.state.tokens.get(token)
    live = (
        found is not None
        and not found.revoked
        and (found.expires_at is None or found.expires_at > core.now())
    )
    if found is not None and live and core.state.users[found.user_id].admin:
        return True
    if core.config.control_requires_admin:
        return False
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


def install(app: web.Application, core: Core) -> None:
    """Register the control routes on ``app`` (before GitLab's catch-all)."""

    def bind(handler: ControlHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            if not _allowed(core, request):
                return json_response(
                    403, {"error": "the control API needs loopback or an admin token"}
                )
            return await handler(core, request)

        return wrapped

    for method, path, handler in ROUTES:
        app.router.add_route(method, PREFIX + path, bind(handler))
