"""A Prometheus on the test machine (Debian's ``prometheus``, installed by ``make system``)
that scrapes the operator's metrics Service in the cluster through the API server's service
proxy (``services/<name>:metrics/proxy/metrics``), reached through the tier's ``kubectl
proxy``: the Service's selector, port name and target port are what gets the samples there.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import httpx
import yaml
from kind_cluster import OPERATOR_NAMESPACE, RELEASE, wait_for

JOB = "gitlab-ferry"
METRICS_SERVICE = f"{RELEASE}-metrics"


def find_prometheus() -> str | None:
    return shutil.which("prometheus")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServicePrometheus:
    """``prometheus`` scraping the metrics Service every second, as job ``gitlab-ferry``."""

    def __init__(self, binary: str, directory: Path, proxy_url: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        proxy = httpx.URL(proxy_url)
        path = (
            f"/api/v1/namespaces/{OPERATOR_NAMESPACE}/services/{METRICS_SERVICE}:metrics"
            "/proxy/metrics"
        )
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
            "scrape_configs": [
                {
                    "job_name": JOB,
                    "metrics_path": path,
                    "static_configs": [{"targets": [f"{proxy.host}:{proxy.port}"]}],
                }
            ],
        }
        (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = directory / "prometheus.log"
        self.argv = [
            binary,
            f"--config.file={directory / 'prometheus.yml'}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT)
        wait_for(self._ready, timeout=60, what="Prometheus to be ready")

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"Prometheus exited:\n{self.log_path.read_text()[-3000:]}")
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(20)

    def query(self, expr: str) -> list[dict[str, Any]]:
        body = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=30).json()
        assert body.get("status") == "success", f"{expr}: {body}"
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def value(self, expr: str) -> float | None:
        result = self.query(expr)
        assert len(result) <= 1, f"{expr}: more than one series: {result}"
        return float(result[0]["value"][1]) if result else None

    def targets(self) -> list[dict[str, Any]]:
        body = httpx.get(f"{self.url}/api/v1/targets", timeout=30).json()
        active: list[dict[str, Any]] = body["data"]["activeTargets"]
        return active
