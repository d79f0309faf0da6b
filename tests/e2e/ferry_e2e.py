"""Processes and helpers the operator's end-to-end tests share: the operator and simulated
GitLabs as real child processes, moto's S3 server, object builders and waits.

The operator runs as ``gitlab-ferry run`` in its own process, exactly as users run it, so
tests can kill it with SIGKILL and start it again.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx
from kubernetes import client
from kubernetes.client.exceptions import ApiException

GROUP, VERSION = "gitlabferry.dev", "v1alpha1"
EXPORTS, IMPORTS = "projectexports", "projectimports"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    check: Callable[[], Any], *, timeout: float, interval: float = 0.2, what: str = "condition"
) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


class ChildProcess:
    """A child process with its output in a log file, stopped for sure at the end."""

    def __init__(self, argv: list[str], log: Path, env: Mapping[str, str] | None = None):
        self.argv, self.log_path, self.env = argv, log, dict(env or os.environ)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig: int) -> None:
        if self.running:
            assert self.proc is not None
            os.killpg(self.proc.pid, sig)

    def stop(self, sig: int = signal.SIGTERM, grace: float = 20.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.send_signal(sig)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.send_signal(signal.SIGKILL)
                self.proc.wait(10)
        code = self.proc.returncode
        self.proc = None
        return code

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


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


ROOT_TOKEN = "glpat-root-token"


class SimulatorProcess(ChildProcess):
    """``gitlab-ferry simulate``: a simulated GitLab on a free loopback port."""

    def __init__(self, directory: Path, *options: str, seed: str = "default") -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.ready_file = directory / "url"
        argv = [
            sys.executable,
            "-m",
            "gitlab_ferry_testbed",
            "simulate",
            "--port",
            "0",
            "--seed",
            seed,
            "--data-dir",
            str(directory / "data"),
            "--ready-file",
            str(self.ready_file),
            *options,
        ]
        super().__init__(argv, directory / "simulator.log")
        self.url = ""

    def start(self, timeout: float = 30.0) -> None:
        self.ready_file.unlink(missing_ok=True)
        super().start()

        def ready() -> str:
            if not self.running:
                raise AssertionError(f"the simulator exited:\n{self.output()[-3000:]}")
            return self.ready_file.read_text().strip() if self.ready_file.exists() else ""

        self.url = wait_for(ready, timeout=timeout, what="the simulator to listen")

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[1].split("/", 1)[0]

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(
            method,
            f"{self.url}/-/sim{path}",
            headers={"PRIVATE-TOKEN": ROOT_TOKEN},
            timeout=30,
            **kwargs,
        )
        response.raise_for_status()
        return response.json() if response.content else None

    def requests(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.control(
            "GET", "/requests", params={"endpoint": endpoint} if endpoint else None
        )
        return entries

    def received_posts(self, endpoint: str) -> list[dict[str, Any]]:
        """POSTs to ``endpoint`` that arrived whole: a sender killed before its body was sent
        leaves a 499 record, a request GitLab never saw."""
        return [r for r in self.requests(endpoint) if r["method"] == "POST" and r["status"] != 499]

    def projects(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.control("GET", "/projects")
        return found

    def project(self, path: str) -> dict[str, Any]:
        for project in self.projects():
            if project.get("path_with_namespace") == path:
                return project
        raise AssertionError(f"no project {path} on {self.url}")
