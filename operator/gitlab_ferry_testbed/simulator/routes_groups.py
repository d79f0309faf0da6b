"""The Groups API a group-tree migration reads and writes: ``GET /groups/:id``,
``GET /groups/:id/descendant_groups``, ``GET /groups/:id/projects`` and ``POST /groups``.

Part of the simulator layer, after GitLab's ``lib/api/groups.rb``: the GETs need no token for a
public group and check the Groups API rate limit (per user or IP address) before looking the group
up; listings are offset-paginated (``per_page`` at most 100). Descendants are those in the
caller's membership hierarchy unless ``all_available`` (administrators see all). Group projects
are those the caller may read, newest first, with ``include_subgroups``, ``archived``, ``search``
and ``simple`` (BasicProjectDetails, which has no ``archived``). ``POST /groups`` needs a user:
a readable ``parent_id`` and Maintainer there, or the right to create top-level groups; the
creator becomes the group's Owner. This module must not import anything outside the simulator.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gitlab_ferry_testbed.simulator.auth import (
    can_create_group,
    can_create_subgroup,
    can_read_namespace,
    can_read_project,
    in_membership_hierarchy,
)
from gitlab_ferry_testbed.simulator.entities import project_entity
from gitlab_ferry_testbed.simulator.errors import forbidden, json_response
from gitlab_ferry_testbed.simulator.group_entities import group_detail_entity, group_entity
from gitlab_ferry_testbed.simulator.group_rules import (
    creation_errors,
    find_group,
    group_not_found,
    groups_api_throttled,
    lookup_group,
    save_failed,
)
from gitlab_ferry_testbed.simulator.pagination import page_params, paginate
from gitlab_ferry_testbed.simulator.params import ParamError, to_bool, to_int, to_str
from gitlab_ferry_testbed.simulator.routes_import import unauthorized
from gitlab_ferry_testbed.simulator.routing import Ctx, Route, route
from gitlab_ferry_testbed.simulator.state import (
    OWNER,
    VISIBILITY_LEVELS,
    Namespace,
    Project,
    visibility_name,
)

_GROUP_ORDER = ("name", "path", "id", "similarity")
_PROJECT_ORDER = (
    "id",
    "name",
    "path",
    "created_at",
    "updated_at",
    "last_activity_at",
    "similarity",
    "star_count",
)


def _choice(values: dict[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = to_str(values, name) or default
    if value not in allowed:
        raise ParamError(f"{name} does not have a valid value")
    return value


def _counted_group(ctx: Ctx, limit: str) -> Namespace | web.Response:
    """The Groups API ``limit`` counter first, then ``find_group!``."""
    threshold = getattr(ctx.core.settings.instance, f"{limit}_limit")
    throttled = groups_api_throttled(ctx, limit, threshold)
    return throttled if throttled is not None else find_group(ctx, ctx.match["id"])


async def get_group(ctx: Ctx) -> web.StreamResponse:
    with_projects = to_bool(ctx.values, "with_projects", default=True)
    group = _counted_group(ctx, "group_api")
    if isinstance(group, web.Response):
        return group
    body = group_detail_entity(ctx.core, group, ctx.user, with_projects=with_projects)
    return json_response(200, body)


async def descendant_groups(ctx: Ctx) -> web.StreamResponse:
    values, core = ctx.values, ctx.core
    page, per_page = page_params(values)
    order = _choice(values, "order_by", _GROUP_ORDER, "name")
    sort = _choice(values, "sort", ("asc", "desc"), "asc")
    search = (to_str(values, "search") or "").lower()
    owned = to_bool(values, "owned")
    user = ctx.user
    all_available = to_bool(values, "all_available", default=bool(user and user.admin))
    group = find_group(ctx, ctx.match["id"])
    if isinstance(group, web.Response):
        return group
    state = core.state
    found = []
    for ns in state.descendants(group):
        if not can_read_namespace(state, user, ns):
            continue
        hidden = user is not None and not all_available and not user.admin
        if hidden and user is not None and not in_membership_hierarchy(state, user, ns):
            continue
        if owned and (user is None or state.group_access(user, ns) < OWNER):
            continue
        if search and search not in ns.name.lower() and search not in ns.path.lower():
            continue
        found.append(ns)
    key = "name" if order == "similarity" else order
    found.sort(key=lambda n: n.id)
    found.sort(key=lambda n: getattr(n, key), reverse=sort == "desc")
    chunk, headers = paginate(ctx.request, core.public_url, found, page, per_page)
    return json_response(200, [group_entity(core, ns) for ns in chunk], headers=headers)


def _project_matches(project: Project, values: dict[str, Any], search: str) -> bool:
    archived = values.get("archived")
    if archived is not None and bool(project.attributes.get("archived")) != to_bool(
        values, "archived"
    ):
        return False
    visibility = to_str(values, "visibility")
    if visibility is not None and project.visibility != visibility:
        return False
    return not search or search in project.name.lower() or search in project.path.lower()


async def group_projects(ctx: Ctx) -> web.StreamResponse:
    values, core = ctx.values, ctx.core
    page, per_page = page_params(values)
    order = _choice(values, "order_by", _PROJECT_ORDER, "created_at")
    sort = _choice(values, "sort", ("asc", "desc"), "desc")
    simple = to_bool(values, "simple")
    subgroups = to_bool(values, "include_subgroups")
    owned = to_bool(values, "owned")
    to_bool(values, "archived")
    visibility = to_str(values, "visibility")
    if visibility is not None and visibility not in VISIBILITY_LEVELS:
        raise ParamError("visibility does not have a valid value")
    search = (to_str(values, "search") or "").lower()
    group = _counted_group(ctx, "group_projects_api")
    if isinstance(group, web.Response):
        return group
    state, user = core.state, ctx.user
    where = {group.id} | ({n.id for n in state.descendants(group)} if subgroups else set())
    found = [
        p
        for p in state.live_projects()
        if p.namespace_id in where
        and can_read_project(state, user, p)
        and _project_matches(p, values, search)
        and (not owned or (user is not None and state.project_access(user, p) >= OWNER))
    ]
    key = {"similarity": "name", "star_count": "id", "updated_at": "last_activity_at"}.get(
        order, order
    )
    found.sort(key=lambda p: (getattr(p, key), p.id), reverse=sort == "desc")
    chunk, headers = paginate(ctx.request, core.public_url, found, page, per_page)
    body = [project_entity(core, p, user, simple=simple) for p in chunk]
    return json_response(200, body, headers=headers)


def parent_for_creation(ctx: Ctx, parent_id: int | None) -> Namespace | web.Response | None:
    """``find_group!(parent_id)`` then ``create_subgroup``, or ``create_group`` at the top."""
    user = ctx.user
    if parent_id is None:
        return None if user is not None and can_create_group(user) else forbidden()
    parent = lookup_group(ctx.core.state, str(parent_id))
    if parent is None or not can_read_namespace(ctx.core.state, user, parent):
        return group_not_found()
    if user is None or not can_create_subgroup(ctx.core.state, user, parent):
        return forbidden()
    return parent


async def create_group(ctx: Ctx) -> web.StreamResponse:
    if ctx.user is None:
        return unauthorized()
    values = ctx.values
    missing = [f"{n} is missing" for n in ("name", "path") if values.get(n) is None]
    if missing:
        raise ParamError(", ".join(missing))
    name, path = to_str(values, "name") or "", to_str(values, "path") or ""
    parent_id = to_int(values, "parent_id")
    visibility = to_str(values, "visibility") or "private"
    if visibility not in VISIBILITY_LEVELS:
        raise ParamError("visibility does not have a valid value")
    description = to_str(values, "description") or ""
    parent = parent_for_creation(ctx, parent_id)
    if isinstance(parent, web.Response):
        return parent
    state = ctx.core.state
    errors = creation_errors(state, parent, name=name, path=path, visibility=visibility)
    if errors:
        return save_failed(errors)
    full_path = f"{parent.full_path}/{path}" if parent else path
    level = visibility_name(VISIBILITY_LEVELS[visibility])
    group = state.add_group(full_path, name=name, visibility=level, now=ctx.core.now())
    group.description = description
    group.members[ctx.user.id] = OWNER
    body = group_detail_entity(ctx.core, group, ctx.user, with_projects=False)
    return json_response(201, body)


ROUTES: tuple[Route, ...] = (
    route("POST", "/api/v4/groups", "create_group", create_group),
    route("GET", "/api/v4/groups/{id}", "group", get_group),
    route("GET", "/api/v4/groups/{id}/descendant_groups", "descendant_groups", descendant_groups),
    route("GET", "/api/v4/groups/{id}/projects", "group_projects", group_projects),
)
