"""Helpers the operator's end-to-end tests share: the operator as a real child process, object
builders and waits on objects (simulated GitLabs, archive servers and the child-process
plumbing are in ``tests/support``).

The operator runs as ``gitlab-ferry run`` in its own process, exactly as users run it, so
tests can kill it with SIGKILL and start it again.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from tests.support.processes import ChildProcess, free_port, wait_for

GROUP, VERSION = "gitlabferry.dev", "v1alpha1"
EXPORTS, IMPORTS = "projectexports", "projectimports"


class OperatorProcess(ChildProcess):
    """``gitlab-ferry run`` against the test cluster."""

    def __init__(
        self,
        kubeconfig: Path,
        namespaces: Iterable[str],
        log: Path,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "KUBECONFIG": str(kubeconfig),
            "GITLAB_FERRY_METRICS_PORT": str(self.port),
            "GITLAB_FERRY_METRICS_ADDRESS": "127.0.0.1",
            "GITLAB_FERRY_POLL_INITIAL": "0.5",
            "GITLAB_FERRY_POLL_MAX": "2",
            "GITLAB_FERRY_RETRY_DELAY": "1",
            "GITLAB_FERRY_EXPORT_ACCEPTANCE_GRACE": "10",
            "GITLAB_FERRY_RECHECK_INTERVAL": "3",
            "GITLAB_FERRY_BACKOFF_MAX": "3",
            "GITLAB_FERRY_LOG_LEVEL": "DEBUG",
            **(settings or {}),
        }
        argv = [sys.executable, "-m", "gitlab_ferry", "run"]
        for namespace in namespaces:
            argv += ["--namespace", namespace]
        super().__init__(argv, log, env)

    def start(self, timeout: float = 60.0) -> None:
        super().start()
        wait_for(self._ready, timeout=timeout, what=f"the operator to be ready\n{self.output()}")

    def _ready(self) -> bool:
        if not self.running:
            raise AssertionError(f"the operator exited:\n{self.output()[-4000:]}")
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text


def get_object(
    api: client.CustomObjectsApi, plural: str, namespace: str, name: str
) -> dict[str, Any] | None:
    try:
        obj = api.get_namespaced_custom_object(GROUP, VERSION, namespace, plural, name)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return dict(obj)


def condition(obj: Mapping[str, Any] | None, kind: str = "Ready") -> dict[str, Any]:
    for item in ((obj or {}).get("status") or {}).get("conditions") or []:
        if item.get("type") == kind:
            return dict(item)
    return {}


def wait_object(
    api: client.CustomObjectsApi,
    plural: str,
    namespace: str,
    name: str,
    check: Callable[[dict[str, Any]], bool],
    *,
    timeout: float,
    what: str,
) -> dict[str, Any]:
    """Wait until the object satisfies ``check``; the failure message shows its status."""
    seen: dict[str, Any] = {}

    def probe() -> dict[str, Any] | None:
        obj = get_object(api, plural, namespace, name)
        if obj is not None:
            seen.update(obj)
        return obj if obj is not None and check(obj) else None

    try:
        result: dict[str, Any] = wait_for(probe, timeout=timeout, what=what)
    except AssertionError as exc:
        status = json.dumps(seen.get("status"), indent=1)[:3000]
        raise AssertionError(f"{exc}\nstatus of {namespace}/{name}: {status}") from None
    return result


def ready_with(reason: str) -> Callable[[dict[str, Any]], bool]:
    return lambda obj: condition(obj).get("reason") == reason


def events_of(core: client.CoreV1Api, namespace: str, name: str) -> list[dict[str, str]]:
    found = core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}")
    return [
        {"type": e.type, "reason": e.reason, "message": e.message or ""}
        for e in sorted(found.items, key=lambda e: e.metadata.creation_timestamp)
    ]


def token_secret(
    core: client.CoreV1Api, namespace: str, name: str, data: Mapping[str, str]
) -> None:
    core.create_namespaced_secret(
        namespace,
        client.V1Secret(metadata=client.V1ObjectMeta(name=name), string_data=dict(data)),
    )


def create(api: client.CustomObjectsApi, plural: str, namespace: str, body: dict[str, Any]) -> None:
    api.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, body)


def export_object(name: str, gitlab: str, project: str | int, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ProjectExport",
        "metadata": {"name": name},
        "spec": {
            "gitlab": {"url": gitlab, "tokenSecretRef": {"name": "gitlab-token"}},
            "project": project,
            **spec,
        },
    }


def import_object(
    name: str, gitlab: str, path: str, source: dict[str, Any], **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ProjectImport",
        "metadata": {"name": name},
        "spec": {
            "gitlab": {"url": gitlab, "tokenSecretRef": {"name": "destination-token"}},
            "path": path,
            "source": source,
            **spec,
        },
    }
