"""``GET /version``, ``GET /metadata`` and the administrators' Features API (``/features``).

Part of the simulator layer. ``/version`` answers every authenticated user with the selected
release (from 15.5 it mirrors ``/metadata``, which exists from 15.2: ``kas`` with the agent server
off, ``enterprise`` from 15.6, ``kas.externalK8sProxyUrl`` from 17.6). The Features API needs an
administrator (401 without a user, 403 otherwise), keeps global boolean and percentage-of-time
gates in ``settings.features`` (where the flag-gated endpoints read them) and answers with GitLab's
``Feature`` entity. This module must not import anything outside the simulator.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from aiohttp import web

from gitlab_ferry_testbed.simulator.errors import forbidden, json_response, message
from gitlab_ferry_testbed.simulator.routes_import import unauthorized
from gitlab_ferry_testbed.simulator.routing import Ctx, Route, route
from gitlab_ferry_testbed.simulator.versions import FLAGS, full_version, parse_version

_TARGETS = ("feature_group", "user", "group", "namespace", "project", "repository")
_ON = frozenset({"true", "100", "100.0"})
_OFF = frozenset({"false", "0", "0.0"})


def metadata(ctx: Ctx) -> dict[str, Any]:
    """``API::Entities::Metadata`` as the selected release renders it."""
    behaviour, profile = ctx.core.settings.behaviour, ctx.core.settings.profile
    kas: dict[str, Any] = {"enabled": False, "externalUrl": None}
    if profile.metadata_kas_k8s_proxy_url:
        kas["externalK8sProxyUrl"] = None
    kas["version"] = None
    body: dict[str, Any] = {
        "version": full_version(behaviour.gitlab_version),
        "revision": behaviour.gitlab_revision,
        "kas": kas,
    }
    if profile.metadata_enterprise:
        # GitLab::VERSION of an Enterprise Edition build ends in "-ee"
        body["enterprise"] = behaviour.gitlab_version.strip().endswith("-ee")
    return body


async def get_version(ctx: Ctx) -> web.StreamResponse:
    if ctx.user is None:
        return unauthorized()
    body = metadata(ctx)
    if not ctx.core.settings.profile.version_mirrors_metadata:
        body = {"version": body["version"], "revision": body["revision"]}
    return json_response(200, body)


async def get_metadata(ctx: Ctx) -> web.StreamResponse:
    if ctx.user is None:
        return unauthorized()
    return json_response(200, metadata(ctx))


def _admin_only(ctx: Ctx) -> web.Response | None:
    """``authenticated_as_admin!``."""
    if ctx.user is None:
        return unauthorized()
    return None if ctx.user.admin else forbidden()


def feature_entity(ctx: Ctx, name: str) -> dict[str, Any]:
    """``API::Entities::Feature``: state, the gates that are set, and the YAML definition."""
    gate = ctx.core.settings.features.get(name, False)
    gates: list[dict[str, Any]] = [{"key": "boolean", "value": gate is True}]
    if not isinstance(gate, bool):
        gates.append({"key": "percentage_of_time", "value": gate})
    state = "conditional" if not isinstance(gate, bool) else ("on" if gate else "off")
    flag = FLAGS.get(name)
    version = parse_version(ctx.core.version)
    return {
        "name": name,
        "state": state,
        "gates": gates,
        "definition": flag.definition(version) if flag is not None else None,
    }


def _gate(name: str, value: Any) -> bool | int | web.Response:
    """The ``value`` parameter as SetFeatureFlagService reads it (a JSON boolean is its string)."""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if text in _ON or text in _OFF:
        return text in _ON
    if text.isdigit() and 0 < int(text) < 100:
        return int(text)
    return message(400, f"400 Bad request - Cannot set '{name}' to \"{text}\"")


async def set_feature(ctx: Ctx) -> web.StreamResponse:
    stop = _admin_only(ctx)
    if stop is not None:
        return stop
    name = unquote(ctx.match["name"])
    values = ctx.values
    if values.get("value") is None:
        return json_response(400, {"error": "value is missing"})
    targets = [t for t in _TARGETS if values.get(t) is not None]
    if targets:
        # actor gates (users, groups, projects) are not modelled: only global gates are kept
        return message(400, f"400 Bad request - the simulator keeps global gates only: {targets}")
    gate = _gate(name, values["value"])
    if isinstance(gate, web.Response):
        return gate
    core = ctx.core
    core.settings = core.settings.merged({"features": {name: gate}})
    return json_response(201, feature_entity(ctx, name))


async def list_features(ctx: Ctx) -> web.StreamResponse:
    stop = _admin_only(ctx)
    if stop is not None:
        return stop
    names = sorted(ctx.core.settings.features)
    return json_response(200, [feature_entity(ctx, n) for n in names])


async def list_definitions(ctx: Ctx) -> web.StreamResponse:
    stop = _admin_only(ctx)
    if stop is not None:
        return stop
    version = parse_version(ctx.core.version)
    found = [f.definition(version) for f in FLAGS.values()]
    return json_response(200, [d for d in found if d is not None])


async def delete_feature(ctx: Ctx) -> web.StreamResponse:
    stop = _admin_only(ctx)
    if stop is not None:
        return stop
    core = ctx.core
    name = unquote(ctx.match["name"])
    features = {k: v for k, v in core.settings.features.items() if k != name}
    # Assigned, not merged: a merge cannot take a key away; the flag returns to its default.
    core.settings.features = features
    return web.Response(status=204)


_READ = frozenset({"read_user"})
ROUTES: tuple[Route, ...] = (
    route("GET", "/api/v4/version", "version", get_version, extra_scopes=_READ),
    route(
        "GET", "/api/v4/metadata", "metadata", get_metadata, extra_scopes=_READ, when="metadata_api"
    ),
    route("GET", "/api/v4/features", "features", list_features),
    route("GET", "/api/v4/features/definitions", "feature_definitions", list_definitions),
    route("POST", "/api/v4/features/{name}", "set_feature", set_feature),
    route("DELETE", "/api/v4/features/{name}", "delete_feature", delete_feature),
)
