"""What GitLab checks when it finds or creates a group: ``find_group!``, the Groups API rate
limits, and the validations of ``Groups::CreateService`` with the way the API reports them.

Part of the simulator layer. ``find_group`` takes a numeric id or a URL-encoded full path (a
top-level group's path has no ``/``) and answers ``404 Group Not Found`` for a group the caller
may not read. Creation errors are the ActiveRecord error hash as Ruby prints it inside
``Failed to save group {...}``. It must not import anything outside the simulator.
"""

from __future__ import annotations

import json
import re
from urllib.parse import unquote

from aiohttp import web

from gitlab_ferry_testbed.simulator.auth import can_read_namespace
from gitlab_ferry_testbed.simulator.errors import message
from gitlab_ferry_testbed.simulator.routing import Ctx, check_rate_limit
from gitlab_ferry_testbed.simulator.state import VISIBILITY_LEVELS, Namespace, State

GROUPS_API_FLAG = "rate_limit_groups_and_projects_api"
# Gitlab::PathRegex.namespace_format_regex and its message
_PATH = re.compile(r"^[a-zA-Z0-9_.][a-zA-Z0-9_.\-]*$")
PATH_FORMAT = (
    "can contain only letters, digits, '_', '-' and '.'. Cannot start with '-' or end in '.', "
    "'.git' or '.atom'."
)


def group_not_found() -> web.Response:
    return message(404, "404 Group Not Found")


def lookup_group(state: State, ref: str) -> Namespace | None:
    """``find_group``: all digits is an id, anything else a full path."""
    ns = state.namespaces.get(int(ref)) if ref.isdigit() else state.namespace_by_full_path(ref)
    return ns if ns is not None and ns.kind == "group" else None


def find_group(ctx: Ctx, raw_id: str) -> Namespace | web.Response:
    """``find_group!``: the group, or 404 when it is missing or hidden from the caller."""
    ns = lookup_group(ctx.core.state, unquote(raw_id))
    if ns is None or not can_read_namespace(ctx.core.state, ctx.user, ns):
        return group_not_found()
    return ns


def groups_api_throttled(ctx: Ctx, key: str, threshold: int) -> web.Response | None:
    """``check_rate_limit_by_user_or_ip!`` where this release's code has it (17.1 on, behind
    ``rate_limit_groups_and_projects_api`` until 18.1)."""
    core = ctx.core
    if not core.settings.profile.groups_api_rate_limits or core.flag_closed(GROUPS_API_FLAG):
        return None
    who: tuple[object, ...] = ("user", ctx.user.id) if ctx.user else ("ip", ctx.request.remote)
    return check_rate_limit(ctx, key, who, threshold)


def ruby_hash(errors: dict[str, list[str]]) -> str:
    """An ActiveModel errors hash as Ruby's ``inspect`` writes it."""
    parts = (
        f":{attr}=>[" + ", ".join(json.dumps(m, ensure_ascii=False) for m in msgs) + "]"
        for attr, msgs in errors.items()
    )
    return "{" + ", ".join(parts) + "}"


def creation_errors(
    state: State, parent: Namespace | None, *, name: str, path: str, visibility: str
) -> dict[str, list[str]]:
    """The Group model's validation errors, in the order GitLab reports them."""
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = ["can't be blank"]
    if not path:
        errors["path"] = ["can't be blank"]
    elif not _PATH.match(path) or path.endswith((".", ".git", ".atom")):
        errors["path"] = [PATH_FORMAT]
    elif _taken(state, parent, path):
        errors["path"] = ["has already been taken"]
    if parent is not None and VISIBILITY_LEVELS[visibility] > VISIBILITY_LEVELS[parent.visibility]:
        errors["visibility_level"] = [
            f"{visibility} is not allowed since the parent group has a {parent.visibility} "
            "visibility."
        ]
    return errors


def _taken(state: State, parent: Namespace | None, path: str) -> bool:
    if parent is None:
        return state.namespace_by_full_path(path) is not None
    return state.path_taken(parent, path)


def save_failed(errors: dict[str, list[str]]) -> web.Response:
    return message(400, f"Failed to save group {ruby_hash(errors)}")
