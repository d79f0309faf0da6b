"""GitLab versions the end-to-end tests run against, and what a test expects of each.

``make test`` runs the version-aware tests against the oldest supported GitLab, 17.11 and
18.7; ``make compat`` (``GITLAB_FERRY_TEST_GITLAB_VERSIONS=all``) against every simulator
profile. A test takes the ``gitlab_version`` fixture and starts its simulated GitLabs with
``*gitlab(version)``.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
from tests.support.processes import ROOT_TOKEN, SimulatorProcess

#: A patch release of each simulator profile.
PROFILES = ("13.12.15", "14.10.5", "15.11.13", "16.11.10", "17.11.3", "18.7.0")
#: The profiles ``make test`` covers: the oldest supported, the last before 18.7, and 18.7.
DEFAULT = ("13.12.15", "17.11.3", "18.7.0")
ENV = "GITLAB_FERRY_TEST_GITLAB_VERSIONS"


def selected() -> tuple[str, ...]:
    """The versions named by ``GITLAB_FERRY_TEST_GITLAB_VERSIONS`` (``all``, or a comma
    list), else ``DEFAULT``."""
    chosen = os.environ.get(ENV, "").strip()
    if not chosen:
        return DEFAULT
    if chosen == "all":
        return PROFILES
    return tuple(v.strip() for v in chosen.split(",") if v.strip())


def gitlab(version: str) -> tuple[str, ...]:
    """Simulator options for a GitLab of ``version``."""
    return ("--gitlab-version", version)


def release(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def maintainer_rule(version: str) -> bool:
    """Whether ``version`` imports only for Maintainers and Owners of the target namespace:
    from 16.0, backported to 15.11.1 and 15.10.5 (GitLab's import/export API history)."""
    major, minor, patch = (int(part) for part in version.split(".")[:3])
    if (major, minor) == (15, 11):
        return patch >= 1
    if (major, minor) == (15, 10):
        return patch >= 5
    return (major, minor) >= (16, 0)


def namespace_param(version: str) -> str:
    """The import parameter the operator names a namespace path with on ``version``: GitLab
    before 18.7 ignores ``namespace_path``."""
    return "namespace_path" if release(version) >= (18, 7) else "namespace"


def target_namespace(params: dict[str, Any]) -> str:
    """The namespace an import request named, whichever parameter carried it."""
    for key in ("namespace_path", "namespace_id", "namespace"):
        if params.get(key) not in (None, ""):
            return str(params[key])
    return ""


def set_feature(sim: SimulatorProcess, name: str, value: bool) -> None:
    """Turn a feature flag on or off through GitLab's admin API (``POST /features/:name``)."""
    response = httpx.post(
        f"{sim.url}/api/v4/features/{name}",
        headers={"PRIVATE-TOKEN": ROOT_TOKEN},
        data={"value": "true" if value else "false"},
        timeout=10,
    )
    response.raise_for_status()
