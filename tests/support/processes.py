"""Child processes for the tests: a command with its output in a log file, stopped for sure,
and a simulated GitLab started as users start it (``python -m gitlab_ferry_testbed simulate``)
on a free loopback port, with its control API at hand.

Test support for the tiers that run the project's commands in processes of their own (the
contract tier's memory measurement, the end-to-end tier), so that they can be killed, started
again and measured. It runs commands; it must not import the operator or the testbed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

#: The administrator's token in the simulator's built-in seeds (``default``, ``empty``).
ROOT_TOKEN = "glpat-root-token"


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


class SimulatorAccess:
    """What tests read and ask of a simulated GitLab, however it is reached: its control API
    (``/-/sim``), GitLab's REST API, its request log and its projects. Subclasses send the
    request (``_request``: a path, GitLab's root token, the decoded JSON)."""

    url: str

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        raise NotImplementedError

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        """The simulator's control API (``/-/sim``)."""
        return self._request(method, f"/-/sim{path}", **kwargs)

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """GitLab's REST API (``/api/v4``) as the simulator's administrator."""
        return self._request(method, f"/api/v4/{path}", **kwargs)

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


class SimulatorProcess(ChildProcess, SimulatorAccess):
    """A simulated GitLab on a free loopback port: ``seed`` is a built-in seed's name or a
    YAML file, ``options`` the rest of ``simulate``'s command line. Its data, log and the file
    it writes its URL to are in ``directory``."""

    def __init__(self, directory: Path, *options: str, seed: str = "default") -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.ready_file = directory / "url"
        argv = [
            sys.executable, "-m", "gitlab_ferry_testbed", "simulate",
            "--port", "0", "--seed", seed, "--data-dir", str(directory / "data"),
            "--ready-file", str(self.ready_file), *options,
        ]  # fmt: skip
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

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(
            method, f"{self.url}{path}", headers={"PRIVATE-TOKEN": ROOT_TOKEN}, timeout=30, **kwargs
        )
        response.raise_for_status()
        return response.json() if response.content else None
