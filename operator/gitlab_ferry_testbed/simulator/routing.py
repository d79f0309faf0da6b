"""Request dispatch for ``/api/v4``: routes matched on the raw path, then faults, throttles, auth.

Part of the simulator layer. Routes match the percent-encoded path the way Grape does (``:id`` is
``[^/]+``, so a literal ``/`` falls through to the catch-all 404 ``{"error":"404 Not Found"}``); a
route the selected GitLab version does not have (its profile switch is off) falls through too.
Every request is logged; injected faults come first and touch no state; then the Rack::Attack
throttle, then token authentication, then the endpoint. Also the shared ``find_project!`` lookup
(ids, encoded full paths, moved projects). This module must not import anything outside
the simulator.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from gitlab_ferry_testbed.simulator.auth import (
    AuthFailure,
    Identity,
    authenticate,
    can_read_project,
    find_token,
)
from gitlab_ferry_testbed.simulator.core import Core
from gitlab_ferry_testbed.simulator.errors import (
    client_closed,
    json_response,
    message,
    project_not_found,
    route_not_found,
)
from gitlab_ferry_testbed.simulator.faults import ERROR_MESSAGES, PROXY_ERROR_PAGE, Decision
from gitlab_ferry_testbed.simulator.params import ParamError, Params, TooLarge, read_params
from gitlab_ferry_testbed.simulator.ratelimit import application_throttled, rack_attack_throttled
from gitlab_ferry_testbed.simulator.requestlog import RequestRecord, redact
from gitlab_ferry_testbed.simulator.state import Project, User

Handler = Callable[["Ctx"], Awaitable[web.StreamResponse]]
logger = logging.getLogger(__name__)
MB = 1024 * 1024


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    endpoint: str
    handler: Handler
    extra_scopes: frozenset[str] = frozenset()
    when: str | None = None  # a Profile switch: the route exists only while it is on


def route(method: str, path: str, endpoint: str, handler: Handler, **kw: Any) -> Route:
    pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "$")
    return Route(method, pattern, endpoint, handler, **kw)


@dataclass
class Ctx:
    core: Core
    request: web.Request
    endpoint: str
    match: dict[str, str]
    record: RequestRecord
    identity: Identity = field(default_factory=lambda: Identity(None))
    params: Params = field(default_factory=Params)
    body_read: bool = False

    @property
    def user(self) -> User | None:
        return self.identity.user

    @property
    def values(self) -> dict[str, Any]:
        return self.params.values

    async def read_body(self) -> dict[str, Any]:
        """All parameters, streaming any multipart file to disk (413 past ``max_import_size``)."""
        if not self.body_read:
            self.body_read = True
            cap = self.core.settings.instance.max_import_size * MB
            try:
                self.params = await read_params(
                    self.request, upload_dir=self.core.dirs.uploads, max_file_size=cap
                )
            except ConnectionResetError as exc:
                raise ClientGone from exc
        return self.params.values


class ClientGone(Exception):
    """The client went away before its request had arrived: GitLab never sees such a request."""


def _headers(request: web.Request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


def _is_multipart(request: web.Request) -> bool:
    return request.content_type == "multipart/form-data"


class Dispatcher:
    def __init__(self, core: Core, routes: list[Route]) -> None:
        self.core = core
        self.routes = routes

    def find(self, method: str, raw_path: str) -> tuple[Route | None, dict[str, str]]:
        wanted = "GET" if method == "HEAD" else method
        profile = self.core.settings.profile
        for candidate in self.routes:
            if candidate.method != wanted:
                continue
            if candidate.when is not None and not getattr(profile, candidate.when):
                continue
            found = candidate.pattern.match(raw_path)
            if found:
                return candidate, found.groupdict()
        return None, {}

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        core = self.core
        # Rails' router squeezes repeated slashes and drops a trailing one before Grape sees the
        # path (python-gitlab's Features API calls ask for /features/ and /features//<name>)
        raw_path = re.sub(r"/{2,}", "/", request.rel_url.raw_path).rstrip("/") or "/"
        found, match = self.find(request.method, raw_path)
        record = core.log.start(
            time=core.now(),
            method=request.method,
            path=raw_path,
            endpoint=found.endpoint if found else None,
        )
        if core.engine is not None:
            core.engine.tick()
        ctx = Ctx(core, request, found.endpoint if found else "", match, record)
        try:
            response = await self._handle(ctx, found)
        except BaseException:
            record.status = 0
            raise
        finally:
            self._finish_record(ctx)
        record.status = response.status
        response.headers.setdefault("Server", "nginx")
        return response

    def _finish_record(self, ctx: Ctx) -> None:
        record = ctx.record
        record.user = ctx.user.username if ctx.user else None
        record.auth = ctx.identity.via
        if ctx.request.method == "POST":
            params = redact(ctx.params.values)
            for name, upload in ctx.params.files.items():
                params[name] = {"filename": upload.filename, "size": upload.size}
            record.params = params
        ctx.params.discard_files()

    async def _handle(self, ctx: Ctx, found: Route | None) -> web.StreamResponse:
        if found is None:
            return route_not_found()
        decision = self.core.faults.decide(found.endpoint)
        if decision is not None:
            ctx.record.fault = decision.kind
            ctx.identity = self._presented_identity(ctx)
            injected = await self._inject(ctx, decision)
            if injected is not None:
                return injected
        request = ctx.request
        try:
            if not _is_multipart(request):
                await ctx.read_body()
            throttled = self._rack_attack(ctx)
            if throttled is not None:
                return throttled
            token_params = dict(request.rel_url.query) if _is_multipart(request) else ctx.values
            ctx.identity = authenticate(
                self.core.state,
                headers=_headers(request),
                params=token_params,
                method=request.method,
                now=self.core.now(),
                extra_scopes=found.extra_scopes,
            )
            return await found.handler(ctx)
        except ClientGone:
            return client_closed()
        except AuthFailure as failure:
            return failure.response
        except ParamError as err:
            return json_response(400, {"error": str(err)})
        except TooLarge:
            return message(413, "413 Request Entity Too Large")
        except Exception:
            # GitLab's handle_api_exception: log it, answer the generic JSON 500
            logger.exception("unhandled error in %s", found.endpoint)
            return message(500, "500 Internal Server Error")

    def _presented_identity(self, ctx: Ctx) -> Identity:
        """Who the token names, without validating it: faulted requests are still attributed."""
        value, via = find_token(_headers(ctx.request), dict(ctx.request.rel_url.query))
        token = self.core.state.tokens.get(value or "")
        user = self.core.state.users.get(token.user_id) if token else None
        return Identity(user, token, via)

    async def _inject(self, ctx: Ctx, decision: Decision) -> web.StreamResponse | None:
        if decision.kind == "slow":
            await asyncio.sleep(decision.delay)
            return None
        if decision.kind == "timeout":
            await asyncio.sleep(decision.delay)
            if ctx.request.transport is not None:
                ctx.request.transport.close()
            raise asyncio.CancelledError
        if decision.kind == "html":
            return web.Response(status=502, text=PROXY_ERROR_PAGE, content_type="text/html")
        if decision.kind == "burst429":
            return application_throttled(retry_after=False)
        if decision.kind == "rack_attack":
            limit = self.core.settings.behaviour.rack_attack.limit
            return rack_attack_throttled(
                name="throttle_authenticated_api",
                limit=limit,
                period=60,
                observed=limit + 1,
                now=self.core.now(),
            )
        status = decision.status
        return message(status, ERROR_MESSAGES.get(status, f"{status} Error"))

    def _rack_attack(self, ctx: Ctx) -> web.Response | None:
        settings = self.core.settings.behaviour.rack_attack
        if not settings.enabled:
            return None
        query = dict(ctx.request.rel_url.query)
        value, _ = find_token(
            _headers(ctx.request), query if _is_multipart(ctx.request) else ctx.values
        )
        token = self.core.state.tokens.get(value or "")
        discriminator: object = ("user", token.user_id) if token else ("ip", ctx.request.remote)
        count = self.core.limiter.hit(
            "rack_attack", (discriminator,), settings.limit, settings.period
        )
        if count <= settings.limit:
            return None
        return rack_attack_throttled(
            name="throttle_authenticated_api" if token else "throttle_unauthenticated_api",
            limit=settings.limit,
            period=settings.period,
            observed=count,
            now=self.core.now(),
        )


# shared lookups


class Moved(Exception):
    def __init__(self, project: Project) -> None:
        super().__init__(project.id)
        self.project = project


def lookup_project(core: Core, raw_id: str) -> Project | None:
    """``find_project``: digits are ids; anything with a ``/`` after decoding is a full path."""
    ident = unquote(raw_id)
    if re.fullmatch(r"-?\d+", ident):
        project = core.state.projects.get(int(ident))
        return project if project is not None and not project.pending_delete else None
    if "/" not in ident:
        return None
    project = core.state.project_by_full_path(ident)
    if project is None and ident.lower() in core.state.redirects:
        moved = core.state.projects.get(core.state.redirects[ident.lower()])
        if moved is not None and not moved.pending_delete:
            raise Moved(moved)
    return project


def find_project(ctx: Ctx) -> Project | web.Response:
    """``find_project!``: 404 when missing or unreadable, 301/405 for a moved project."""
    try:
        project = lookup_project(ctx.core, ctx.match["id"])
    except Moved as moved:
        if ctx.request.method not in ("GET", "HEAD"):
            return message(405, "Non GET methods are not allowed for moved projects")
        raw_path = ctx.request.rel_url.raw_path.replace(
            f"/projects/{ctx.match['id']}", f"/projects/{moved.project.id}", 1
        )
        query = ctx.request.rel_url.raw_query_string
        url = f"{ctx.core.public_url}{raw_path}" + (f"?{query}" if query else "")
        return web.Response(
            status=301,
            text=f"This resource has been moved permanently to {url}.",
            content_type="text/plain",
            headers={"Location": url},
        )
    if project is None or not can_read_project(ctx.core.state, ctx.user, project):
        return project_not_found()
    return project


def check_rate_limit(
    ctx: Ctx, key: str, scope: tuple[object, ...], threshold: int
) -> web.Response | None:
    if ctx.core.limiter.throttled(key, scope, threshold):
        return application_throttled(retry_after=ctx.core.settings.profile.retry_after_header)
    return None
