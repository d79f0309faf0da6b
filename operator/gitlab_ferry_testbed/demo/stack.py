"""The processes a demo runs: a control plane, two simulated GitLabs and the operator
(demo layer). Each child writes its log to the demo's directory and is stopped at the end."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from gitlab_ferry_testbed.controlplane import ControlPlane, find_binaries

#: Limits of the simulated GitLabs and of the operator's budget: ten times GitLab's defaults,
#: so twenty projects move in about a minute (the operator paces itself the same way at the
#: real defaults; it just takes longer).
DEMO_LIMITS = {"export": 60, "import": 60, "download": 10}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)

    def tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Stack:
    directory: Path
    control_plane: ControlPlane | None = None
    children: list[Child] = field(default_factory=list)

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Child:
        log = self.directory / f"{name}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
        child = Child(name, process, log)
        self.children.append(child)
        return child

    def start_control_plane(self) -> Path:
        plane = ControlPlane(self.directory / "controlplane", find_binaries())
        plane.start()
        self.control_plane = plane
        return plane.kubeconfig

    def spawn_gitlab(
        self, name: str, seed: str, flags: list[str], timeout: float = 30
    ) -> tuple[Child, str]:
        """``python -m gitlab_ferry_testbed simulate`` with ``flags``; the child and its base
        URL once it listens."""
        ready = self.directory / f"{name}.url"
        child = self._spawn(
            name,
            [
                sys.executable, "-m", "gitlab_ferry_testbed", "simulate",
                "--port", "0", "--seed", seed, "--ready-file", str(ready),
                "--data-dir", str(self.directory / f"{name}-data"), *flags,
            ],
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not (ready.exists() and ready.read_text().strip()):
            if child.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the simulated GitLab {name} did not start:\n{child.tail()}")
            time.sleep(0.1)
        return child, ready.read_text().strip()

    def spawn_operator(
        self, name: str, namespace: str, env: dict[str, str], timeout: float = 60
    ) -> tuple[Child, int]:
        """``gitlab-ferry run`` watching ``namespace`` with the settings in ``env``; the
        child and its metrics port once ``/readyz`` answers."""
        port = free_port()
        child = self._spawn(
            name,
            [sys.executable, "-m", "gitlab_ferry", "run", "--namespace", namespace],
            {
                "GITLAB_FERRY_METRICS_PORT": str(port),
                "GITLAB_FERRY_METRICS_ADDRESS": "127.0.0.1",
                **env,
            },
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    return child, port
            except httpx.HTTPError:
                pass
            if child.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the operator did not start:\n{child.tail()}")
            time.sleep(0.2)

    def start_gitlab(self, name: str, seed: str) -> str:
        _, url = self.spawn_gitlab(
            name,
            seed,
            [
                "--export-queue-delay", "1", "--export-duration", "6",
                "--import-queue-delay", "1", "--import-duration", "6",
                "--project-export-limit", str(DEMO_LIMITS["export"]),
                "--project-import-limit", str(DEMO_LIMITS["import"]),
                "--project-download-export-limit", str(DEMO_LIMITS["download"]),
            ],
        )  # fmt: skip
        return url

    def start_operator(self, kubeconfig: Path, namespace: str, hosts: list[str]) -> int:
        env = {
            "KUBECONFIG": str(kubeconfig),
            "GITLAB_FERRY_ALLOWED_HOSTS": ",".join(hosts),
            "GITLAB_FERRY_EXPORT_LIMIT": str(DEMO_LIMITS["export"]),
            "GITLAB_FERRY_IMPORT_LIMIT": str(DEMO_LIMITS["import"]),
            "GITLAB_FERRY_DOWNLOAD_LIMIT": str(DEMO_LIMITS["download"]),
            "GITLAB_FERRY_POLL_INITIAL": "3",
            "GITLAB_FERRY_POLL_MAX": "10",
        }
        _, port = self.spawn_operator("operator", namespace, env)
        return port

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()
        if self.control_plane is not None:
            self.control_plane.stop()
