"""Authentication and permissions as GitLab's API applies them.

Part of the simulator layer. Tokens come from the ``private_token`` parameter, the ``PRIVATE-TOKEN``
header or ``Authorization: Bearer`` (job tokens are never accepted here); unknown tokens are 401,
expired or revoked ones the OAuth-style 401, a token without the needed scope the 403
``insufficient_scope``. Permissions follow GitLab's roles (guest .. owner, admin) and visibility
levels. This module decides; it must not change state and must not import anything outside the
simulator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from gitlab_ferry_testbed.simulator.errors import json_response, message
from gitlab_ferry_testbed.simulator.state import (
    GUEST,
    MAINTAINER,
    OWNER,
    REPORTER,
    Namespace,
    Project,
    State,
    Token,
    User,
)

_REALM = 'Bearer realm="Protected by OAuth 2.0"'
_SCOPE_DESCRIPTION = "The request requires higher privileges than provided by the access token."
_EXPIRED = "Token is expired. You can either do re-authorization or token refresh."
_REVOKED = "Token was revoked. You have to re-authorize from the user."


@dataclass
class Identity:
    """Who is calling: ``user`` is None for anonymous requests."""

    user: User | None
    token: Token | None = None
    via: str | None = None
    sudo_from: User | None = None


class AuthFailure(Exception):
    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def _oauth_error(
    status: int, error: str, description: str, scope: str | None = None
) -> web.Response:
    body: dict[str, str] = {"error": error, "error_description": description}
    header = f'{_REALM}, error="{error}", error_description="{description}"'
    if scope is not None:
        body["scope"] = scope
        header += f', scope="{scope}"'
    return json_response(status, body, headers={"WWW-Authenticate": header})


def find_token(
    headers: dict[str, str], params: Mapping[str, object]
) -> tuple[str | None, str | None]:
    """The presented token and where it came from, in GitLab's order."""
    param = params.get("private_token")
    if isinstance(param, str) and param:
        return param, "param"
    header = headers.get("private-token", "")
    if header:
        return header, "header"
    authorization = headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), "bearer"
    return None, None


def authenticate(
    state: State,
    *,
    headers: dict[str, str],
    params: Mapping[str, object],
    method: str,
    now: float,
    extra_scopes: frozenset[str] = frozenset(),
) -> Identity:
    """Resolve the caller, or raise ``AuthFailure`` with GitLab's response."""
    value, via = find_token(headers, params)
    if value is None:
        return Identity(None)
    token = state.tokens.get(value)
    user = state.users.get(token.user_id) if token else None
    if token is None or user is None:
        raise AuthFailure(message(401, "401 Unauthorized"))
    if token.revoked:
        raise AuthFailure(_oauth_error(401, "invalid_token", _REVOKED))
    if token.expires_at is not None and token.expires_at <= now:
        raise AuthFailure(_oauth_error(401, "invalid_token", _EXPIRED))
    allowed = {"api"} | set(extra_scopes)
    if method in ("GET", "HEAD"):
        allowed.add("read_api")
    if not token.scopes & allowed:
        raise AuthFailure(_oauth_error(403, "insufficient_scope", _SCOPE_DESCRIPTION, "api"))
    identity = Identity(user, token, via)
    sudo = headers.get("sudo") or params.get("sudo")
    if isinstance(sudo, str) and sudo:
        identity = _sudo(state, identity, sudo)
    return identity


def _sudo(state: State, identity: Identity, ref: str) -> Identity:
    assert identity.user is not None
    assert identity.token is not None
    if not identity.user.admin:
        raise AuthFailure(message(403, "403 Forbidden - Must be admin to use sudo"))
    if "sudo" not in identity.token.scopes:
        raise AuthFailure(_oauth_error(403, "insufficient_scope", _SCOPE_DESCRIPTION, "sudo"))
    target = state.user_by_ref(ref)
    if target is None:
        raise AuthFailure(message(404, f"404 User with ID or username '{ref}' Not Found"))
    return Identity(target, identity.token, identity.via, sudo_from=identity.user)


def can_read_project(state: State, user: User | None, project: Project) -> bool:
    if user is not None and user.admin:
        return True
    if project.visibility == "public":
        return True
    if project.visibility == "internal" and user is not None and not user.external:
        return True
    return state.project_access(user, project) >= GUEST


def can_admin_project(state: State, user: User | None, project: Project) -> bool:
    if user is None:
        return False
    return user.admin or state.project_access(user, project) >= MAINTAINER


def can_remove_project(state: State, user: User | None, project: Project) -> bool:
    if user is None:
        return False
    return user.admin or state.project_access(user, project) >= OWNER


def can_read_statistics(state: State, user: User | None, project: Project) -> bool:
    """``read_statistics``: Reporter or higher (or an administrator), whatever the visibility."""
    if user is None:
        return False
    return user.admin or state.project_access(user, project) >= REPORTER


def can_read_import_error(state: State, user: User | None, project: Project) -> bool:
    return can_admin_project(state, user, project)


def can_read_namespace(state: State, user: User | None, ns: Namespace) -> bool:
    if user is None:
        return ns.kind == "group" and ns.visibility == "public"
    if user.admin:
        return True
    if ns.kind == "user":
        return ns.owner_id == user.id
    if ns.visibility == "public" or (ns.visibility == "internal" and not user.external):
        return True
    if state.group_access(user, ns) > 0:
        return True
    tree = {n.id for n in state.descendants(ns)} | {ns.id}
    if any(user.id in n.members for n in state.namespaces.values() if n.id in tree):
        return True
    return any(user.id in p.members for p in state.live_projects() if p.namespace_id in tree)


def can_create_projects(
    state: State, user: User, ns: Namespace, *, least: int = MAINTAINER
) -> bool:
    """Project creation in ``ns``: its owner if personal, else ``least`` in the group."""
    if user.admin:
        return True
    return state.group_access(user, ns) >= (OWNER if ns.kind == "user" else least)


def can_admin_namespace(state: State, user: User, ns: Namespace) -> bool:
    return user.admin or state.group_access(user, ns) >= OWNER


def can_create_subgroup(state: State, user: User, parent: Namespace) -> bool:
    """``create_subgroup``: Maintainer or Owner (GitLab's default subgroup creation level)."""
    return user.admin or state.group_access(user, parent) >= MAINTAINER


def can_create_group(user: User) -> bool:
    """``create_group`` for a top-level group: the user's own ``can_create_group``."""
    return user.admin or user.can_create_group


def in_membership_hierarchy(state: State, user: User, ns: Namespace) -> bool:
    """GroupsFinder without ``all_available``: groups in the hierarchy of the user's groups
    (their ancestors and descendants) and the ancestors of their projects' groups."""
    chain = {n.id for n in state.ancestors(ns)}
    if any(user.id in state.namespaces[i].members for i in chain):
        return True
    below = {n.id for n in state.descendants(ns)} | {ns.id}
    if any(user.id in state.namespaces[i].members for i in below):
        return True
    return any(user.id in p.members for p in state.live_projects() if p.namespace_id in below)
