"""Helpers for the GroupMigration end-to-end tests: the source tree and the empty destination,
the object, and reads of what a migration created in Kubernetes and on GitLab."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import httpx
from ferry_e2e import EXPORTS, GROUP, IMPORTS, VERSION, get_object, token_secret
from kubernetes import client
from tests.support.processes import ROOT_TOKEN, SimulatorProcess

MIGRATIONS = "groupmigrations"
MIGRATION_LABEL = f"{GROUP}/group-migration"
SPEED = 20.0
#: Simulated job times (clock seconds) short enough for tests, long enough to be seen.
TIMING = ("--export-queue-delay", "1", "--export-duration", "4", "--import-duration", "4")


def accelerated(anchor: float) -> list[str]:
    return ["--clock-speed", str(SPEED), "--clock-anchor", str(anchor)]


def operator_settings(anchor: float, *hosts: str) -> dict[str, str]:
    return {
        "GITLAB_FERRY_ALLOWED_HOSTS": ",".join(hosts),
        "GITLAB_FERRY_CLOCK_SPEED": str(SPEED),
        "GITLAB_FERRY_CLOCK_ANCHOR": str(anchor),
        "GITLAB_FERRY_POLL_INITIAL": "5",
        "GITLAB_FERRY_POLL_MAX": "20",
        "GITLAB_FERRY_RATE_LIMIT_MARGIN": "8",
        "GITLAB_FERRY_LOG_LEVEL": "INFO",
    }


def secrets(core: client.CoreV1Api, namespace: str) -> None:
    token_secret(core, namespace, "source-token", {"token": ROOT_TOKEN})
    token_secret(core, namespace, "destination-token", {"token": ROOT_TOKEN})


def destination_parent(destination: SimulatorProcess, path: str = "migrated") -> None:
    destination.api("POST", "groups", json={"name": path.title(), "path": path})


def migration_object(
    name: str, source: SimulatorProcess, destination: SimulatorProcess, **spec: Any
) -> dict[str, Any]:
    """A GroupMigration of the source's ``platform/`` (archived projects left behind) into
    ``migrated/`` on the destination; ``spec`` adds or replaces top-level fields."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "GroupMigration",
        "metadata": {"name": name},
        "spec": {
            "source": {
                "gitlab": {"url": source.url, "tokenSecretRef": {"name": "source-token"}},
                "group": "platform",
                "projects": {"archived": False},
            },
            "destination": {
                "gitlab": {
                    "url": destination.url,
                    "tokenSecretRef": {"name": "destination-token"},
                },
                "parent": "migrated",
            },
            "groups": "GroupImport",
            "maxInFlight": 10,
            **spec,
        },
    }


def selected(source: SimulatorProcess) -> list[str]:
    """The projects a migration of ``platform/`` selects: every one not archived."""
    listed = source.api(
        "GET",
        "groups/platform/projects",
        params={"include_subgroups": "true", "archived": "false", "per_page": "100"},
    )
    return sorted(str(p["path_with_namespace"]) for p in listed)


def source_groups(source: SimulatorProcess) -> list[str]:
    below = source.api("GET", "groups/platform/descendant_groups", params={"per_page": 100})
    return sorted(["platform", *(str(g["full_path"]) for g in below)])


def destination_group_paths(destination: SimulatorProcess) -> set[str]:
    return {str(g["full_path"]) for g in destination.control("GET", "/groups")}


def children(
    api: client.CustomObjectsApi, plural: str, namespace: str, migration: str
) -> list[dict[str, Any]]:
    found = api.list_namespaced_custom_object(
        GROUP, VERSION, namespace, plural, label_selector=f"{MIGRATION_LABEL}={migration}"
    )
    return list(found["items"])


def child_projects(api: client.CustomObjectsApi, namespace: str, migration: str) -> list[str]:
    """The source project of each child ProjectImport, one entry per child."""
    return sorted(
        str(item["metadata"]["annotations"].get(f"{GROUP}/source-project"))
        for item in children(api, IMPORTS, namespace, migration)
    )


def status_of(api: client.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any]:
    return dict((get_object(api, MIGRATIONS, namespace, name) or {}).get("status") or {})


def same_content(source: SimulatorProcess, destination: SimulatorProcess, path: str) -> bool:
    original = source.control("GET", f"/projects/{quote(path, safe='')}")
    try:
        copy = destination.control("GET", f"/projects/{quote('migrated/' + path, safe='')}")
    except httpx.HTTPStatusError:
        return False
    return bool(copy["content"]["repository_sha256"] == original["content"]["repository_sha256"])


def all_children(
    api: client.CustomObjectsApi, namespace: str, migration: str
) -> list[dict[str, Any]]:
    return children(api, EXPORTS, namespace, migration) + children(
        api, IMPORTS, namespace, migration
    )


def wait_gone(api: client.CustomObjectsApi, namespace: str, migration: str, timeout: float) -> None:
    """Wait until Kubernetes' garbage collector has removed every child of ``migration``."""
    deadline = time.monotonic() + timeout
    while all_children(api, namespace, migration):
        if time.monotonic() > deadline:
            left = [c["metadata"]["name"] for c in all_children(api, namespace, migration)]
            raise AssertionError(f"children of {migration} not deleted: {left[:10]}")
        time.sleep(1.0)
