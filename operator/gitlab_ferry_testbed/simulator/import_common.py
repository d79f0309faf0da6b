"""What the three import endpoints share: parameters, namespace resolution, project creation.

Part of the simulator layer. ``common_params`` is Grape's ``common_project_import_params`` (name
defaults to path; ``namespace``/``namespace_id``/``namespace_path`` mutually exclusive; Boolean
``overwrite``; ``override_params`` filtered to known project attributes). ``resolve_namespace``
is ``find_namespace!`` (404) and ``create_import_project`` is the CreateProjectService part
(400 with the first error; ``overwrite`` on an existing path creates ``<path>-<32 hex>``). Before
16.0 (and 15.11.1, 15.10.5) a Developer who may create projects in a group may import into it;
later releases want a Maintainer. This module must not import anything outside the simulator.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from aiohttp import web

from gitlab_ferry_testbed.simulator.auth import can_create_projects, can_read_namespace
from gitlab_ferry_testbed.simulator.content import ProjectContent, Repository
from gitlab_ferry_testbed.simulator.errors import message
from gitlab_ferry_testbed.simulator.params import ParamError, to_bool, to_int, to_str
from gitlab_ferry_testbed.simulator.routing import Ctx
from gitlab_ferry_testbed.simulator.state import (
    DEVELOPER,
    MAINTAINER,
    VISIBILITY_LEVELS,
    ImportJob,
    Namespace,
    Project,
    visibility_name,
)

_ACCESS = ("disabled", "private", "enabled", "public")
_VALUES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "visibility": tuple(VISIBILITY_LEVELS),
        "merge_method": ("merge", "rebase_merge", "ff"),
        "squash_option": ("never", "always", "default_on", "default_off"),
        "auto_cancel_pending_pipelines": ("disabled", "enabled"),
        "build_git_strategy": ("fetch", "clone"),
        **{
            f"{f}_access_level": _ACCESS
            for f in (
                "issues",
                "repository",
                "merge_requests",
                "forking",
                "wiki",
                "builds",
                "snippets",
                "pages",
                "analytics",
                "container_registry",
                "security_and_compliance",
                "releases",
                "environments",
                "feature_flags",
                "infrastructure",
                "monitor",
                "requirements",
            )
        },
    }
)
_BOOLEANS = frozenset(
    {
        "issues_enabled",
        "merge_requests_enabled",
        "wiki_enabled",
        "jobs_enabled",
        "snippets_enabled",
        "container_registry_enabled",
        "shared_runners_enabled",
        "group_runners_enabled",
        "lfs_enabled",
        "request_access_enabled",
        "public_builds",
        "public_jobs",
        "only_allow_merge_if_pipeline_succeeds",
        "allow_merge_on_skipped_pipeline",
        "only_allow_merge_if_all_discussions_are_resolved",
        "resolve_outdated_diff_discussions",
        "remove_source_branch_after_merge",
        "printing_merge_request_link_enabled",
        "service_desk_enabled",
        "emails_disabled",
        "emails_enabled",
        "packages_enabled",
        "autoclose_referenced_issues",
        "show_default_award_emojis",
        "mr_default_target_self",
        "warn_about_potentially_unwanted_characters",
        "enforce_auth_checks_on_uploads",
    }
)
_STRINGS = frozenset(
    {
        "description",
        "ci_config_path",
        "suggestion_commit_message",
        "merge_commit_template",
        "squash_commit_template",
        "issue_branch_template",
        "repository_storage",
    }
)
_LISTS = frozenset({"topics", "tag_list"})
_INTEGERS = frozenset({"build_timeout"})
_PATH = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9_.\-]*$")
_NAME = re.compile(r"^[\w\u00a9-\U0010ffff][\w\u00a9-\U0010ffff.+\- ]*$")
PATH_FORMAT = (
    "Path can contain only letters, digits, '_', '-' and '.'. Cannot start with '-', "
    "end in '.git' or end in '.atom'"
)


@dataclass
class Common:
    path: str
    name: str
    namespace: str | None
    namespace_id: int | None
    namespace_path: str | None
    overwrite: bool
    override_params: dict[str, Any]


def _override(raw: Any, errors: list[str]) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        errors.append("override_params is invalid")
        return {}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = f"override_params[{key}]"
        try:
            if key in _VALUES:
                if value not in _VALUES[key]:
                    errors.append(f"{name} does not have a valid value")
                    continue
                out[key] = value
            elif key in _BOOLEANS:
                out[key] = to_bool({name: value}, name)
            elif key in _INTEGERS:
                out[key] = to_int({name: value}, name)
            elif key in _LISTS:
                out[key] = (
                    value
                    if isinstance(value, list)
                    else [v.strip() for v in str(value).split(",") if v.strip()]
                )
            elif key in _STRINGS:
                out[key] = to_str({name: value}, name)
        except ParamError as err:
            errors.append(str(err))
    return out


def common_params(ctx: Ctx, required: list[str]) -> Common:
    """Grape validation for the import endpoints; raises ``ParamError`` with all messages."""
    values = ctx.values
    errors = [
        f"{n} is missing" for n in required if values.get(n) is None and n not in ctx.params.files
    ]
    if "file" in required and "file" in values and "file" not in ctx.params.files:
        errors.append("file is invalid")
    ns_names = ["namespace"]
    if ctx.core.settings.profile.namespace_id_params:
        ns_names += ["namespace_id", "namespace_path"]
    parsed: dict[str, Any] = {}
    for field_name in ["path", "name", *ns_names]:
        try:
            if field_name == "namespace_id":
                parsed[field_name] = to_int(values, field_name)
            else:
                parsed[field_name] = to_str(values, field_name)
        except ParamError as err:
            errors.append(str(err))
    overwrite = False
    try:
        overwrite = to_bool(values, "overwrite")
    except ParamError as err:
        errors.append(str(err))
    override = _override(values.get("override_params"), errors)
    if sum(1 for n in ns_names if values.get(n) is not None) > 1:
        errors.append("namespace, namespace_id, namespace_path are mutually exclusive")
    if errors:
        raise ParamError(", ".join(errors))
    path = parsed["path"] or ""
    return Common(
        path=path,
        name=parsed.get("name") or path,
        namespace=parsed.get("namespace"),
        namespace_id=parsed.get("namespace_id"),
        namespace_path=parsed.get("namespace_path"),
        overwrite=overwrite,
        override_params=override,
    )


def resolve_namespace(ctx: Ctx, common: Common) -> Namespace | web.Response:
    state, user = ctx.core.state, ctx.user
    assert user is not None
    if common.namespace is not None:
        ns = state.namespace_by_ref(common.namespace)
    elif common.namespace_id is not None:
        ns = state.namespaces.get(common.namespace_id)
    elif common.namespace_path is not None:
        ns = state.namespace_by_full_path(common.namespace_path)
    else:
        ns = state.namespaces.get(user.namespace_id)
    if ns is None or not can_read_namespace(state, user, ns):
        return message(404, "404 Namespace Not Found")
    return ns


def _creation_error(ctx: Ctx, ns: Namespace, common: Common) -> str | None:
    assert ctx.user is not None
    least = MAINTAINER if ctx.core.settings.profile.maintainer_to_import else DEVELOPER
    if not can_create_projects(ctx.core.state, ctx.user, ns, least=least):
        return "Namespace is not valid"
    if not common.name.strip():
        return "Name can't be blank"
    if not _NAME.match(common.name):
        return (
            "Name can contain only letters, digits, emoji, '_', '.', '+', dashes, or spaces. "
            "It must start with a letter, digit, emoji, or '_'."
        )
    path = common.path
    if not path:
        return "Path can't be blank"
    if not _PATH.match(path) or path.endswith((".git", ".atom", ".")):
        return PATH_FORMAT
    visibility = common.override_params.get("visibility")
    too_open = isinstance(visibility, str) and (
        VISIBILITY_LEVELS[visibility] > VISIBILITY_LEVELS[ns.visibility]
    )
    if ns.kind == "group" and too_open:
        return f"Visibility level {visibility} is not allowed in a {ns.visibility} group."
    if ctx.core.state.path_taken(ns, path) and not common.overwrite:
        return "Path has already been taken"
    return None


def create_import_project(
    ctx: Ctx,
    ns: Namespace,
    common: Common,
    *,
    source_kind: str,
    archive_path: Path | None = None,
    remote_url: str | None = None,
    s3: dict[str, str] | None = None,
) -> Project | web.Response:
    """Create the project with ``import_status: scheduled`` (or answer 400)."""
    problem = _creation_error(ctx, ns, common)
    if problem is not None:
        return message(400, problem)
    core, user = ctx.core, ctx.user
    assert user is not None
    state, now = core.state, core.now()
    path, original_path = common.path, None
    if state.path_taken(ns, path):
        original_path, path = path, f"{path}-{core.hex()}"
    visibility = common.override_params.get("visibility")
    description = common.override_params.get("description")
    project = Project(
        id=state.next_id("project"),
        namespace_id=ns.id,
        path=path,
        name=common.name,
        description=description if isinstance(description, str) else None,
        visibility=visibility_name(VISIBILITY_LEVELS.get(str(visibility), 0)),
        created_at=now,
        creator_id=user.id,
        content=ProjectContent(repository=Repository(size=0)),
        members={} if ns.kind == "user" else {user.id: MAINTAINER},
        last_activity_at=now,
    )
    refs = (
        str(project.id),
        f"{ns.full_path}/{path}".lower(),
        f"{ns.full_path}/{common.path}".lower(),
    )
    fault = core.faults.job_fault("import", refs)
    project.import_job = ImportJob(
        status="scheduled",
        import_type="gitlab_project",
        user_id=user.id,
        correlation_id=core.correlation_id(),
        scheduled_at=now,
        updated_at=now,
        source_kind="upload"
        if source_kind == "upload"
        else "remote"
        if source_kind == "remote"
        else "s3",
        archive_path=archive_path,
        remote_url=remote_url,
        s3=s3,
        override_params=dict(common.override_params),
        original_path=original_path,
        fault=fault.mode if fault else None,
        fault_message=fault.message if fault else "",
    )
    state.projects[project.id] = project
    core.wake()
    return project


def gz_extension_ok(filename: str) -> bool:
    """``File.extname(name).delete('.')`` must be ``gz`` (``tar.gz`` ends the same way)."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1].lstrip(".")
    return "." in base and base.rsplit(".", 1)[1] == "gz"
