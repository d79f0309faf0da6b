"""Helper endpoints the operator needs: ``/user``, ``/projects/:id``, ``/projects?search=``,
``/namespaces/:id`` and ``DELETE /projects/:id``.

Part of the simulator layer. Shapes are subsets of GitLab's REST entities with GitLab's key names
(``statistics=true`` adds ProjectStatistics for Reporters and above);
listing is paginated with GitLab's ``X-*`` headers and ``Link``. Deletion needs ``remove_project``
(Owner or admin) and answers 202; the project is hidden at once and removed after the configured
delay. This module must not import anything outside the simulator.
"""

from __future__ import annotations

from urllib.parse import unquote

from aiohttp import web

from gitlab_ferry_testbed.simulator.auth import (
    can_read_namespace,
    can_read_project,
    can_remove_project,
)
from gitlab_ferry_testbed.simulator.entities import namespace_entity, project_entity, user_entity
from gitlab_ferry_testbed.simulator.errors import accepted, forbidden, json_response, message
from gitlab_ferry_testbed.simulator.pagination import page_params, paginate
from gitlab_ferry_testbed.simulator.params import ParamError, to_bool
from gitlab_ferry_testbed.simulator.routes_import import unauthorized
from gitlab_ferry_testbed.simulator.routing import Ctx, Route, find_project, route


async def get_user(ctx: Ctx) -> web.StreamResponse:
    if ctx.user is None:
        return unauthorized()
    return json_response(200, user_entity(ctx.core, ctx.user))


async def get_project(ctx: Ctx) -> web.StreamResponse:
    project = find_project(ctx)
    if isinstance(project, web.Response):
        return project
    statistics = to_bool(ctx.values, "statistics")
    return json_response(200, project_entity(ctx.core, project, ctx.user, statistics=statistics))


async def delete_project(ctx: Ctx) -> web.StreamResponse:
    project = find_project(ctx)
    if isinstance(project, web.Response):
        return project
    if not can_remove_project(ctx.core.state, ctx.user, project):
        return forbidden()
    core = ctx.core
    project.pending_delete = True
    project.delete_at = core.now() + core.settings.timing.deletion_delay
    core.wake()
    return accepted()


async def list_projects(ctx: Ctx) -> web.StreamResponse:
    core, values = ctx.core, ctx.values
    page, per_page = page_params(values)
    search = str(values.get("search") or "").lower()
    search_namespaces = to_bool(values, "search_namespaces")
    owned = to_bool(values, "owned")
    membership = to_bool(values, "membership")
    simple = to_bool(values, "simple")
    statistics = to_bool(values, "statistics")
    user = ctx.user
    found = []
    for project in core.state.live_projects():
        if not can_read_project(core.state, user, project):
            continue
        full_path = core.state.full_path(project)
        haystack = [project.path.lower(), project.name.lower()]
        if search_namespaces:
            haystack.append(full_path.lower())
        if search and not any(search in h for h in haystack):
            continue
        access = core.state.project_access(user, project)
        if (owned or membership) and user is None:
            continue
        if owned and access < 50:
            continue
        if membership and access <= 0:
            continue
        found.append(project)
    order = str(values.get("order_by") or "created_at")
    sort = str(values.get("sort") or "desc")
    if order not in ("id", "name", "path", "created_at", "last_activity_at"):
        raise ParamError("order_by does not have a valid value")
    if sort not in ("asc", "desc"):
        raise ParamError("sort does not have a valid value")
    found.sort(key=lambda p: (getattr(p, order), p.id), reverse=sort == "desc")
    chunk, headers = paginate(ctx.request, core.public_url, found, page, per_page)
    body = [project_entity(core, p, user, simple=simple, statistics=statistics) for p in chunk]
    return json_response(200, body, headers=headers)


async def get_namespace(ctx: Ctx) -> web.StreamResponse:
    if ctx.user is None:
        return unauthorized()
    state = ctx.core.state
    ns = state.namespace_by_ref(unquote(ctx.match["id"]))
    if ns is None or not can_read_namespace(state, ctx.user, ns):
        return message(404, "404 Namespace Not Found")
    return json_response(200, namespace_entity(ctx.core, ns))


ROUTES: tuple[Route, ...] = (
    route("GET", "/api/v4/user", "user", get_user, extra_scopes=frozenset({"read_user"})),
    route("GET", "/api/v4/projects", "projects", list_projects),
    route("GET", "/api/v4/projects/{id}", "project", get_project),
    route("DELETE", "/api/v4/projects/{id}", "delete_project", delete_project),
    route("GET", "/api/v4/namespaces/{id}", "namespace", get_namespace),
)
