"""The kind tier's hold on the cluster: kubectl, the API server through one ``kubectl proxy``,
the chart installed with helm, the operator's Pods, and signals for a container's processes
from its node.

Everything goes through the Kubernetes API: objects are applied with kubectl and read through
the API server, Services are reached through the API server's service proxy, and processes are
signalled from a Pod in the node's PID namespace. So the tier runs against any cluster that
can run the images, not only the one ``make kind`` creates.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from string import Template
from typing import Any

import httpx
import yaml
from tests.support.processes import wait_for as poll_until

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "gitlab-ferry"
MANIFESTS = Path(__file__).resolve().parent / "manifests"
GROUP, VERSION = "gitlabferry.dev", "v1alpha1"
#: The chart's release, in its own namespace, as ``make kind`` installs it.
RELEASE = OPERATOR_NAMESPACE = "gitlab-ferry"
#: Where the simulated GitLabs and the signalling Pod run.
TESTBED_NAMESPACE = "testbed"


#: Polls through the API server's proxy: every half second, not the local tiers' 0.2 s.
wait_for = partial(poll_until, interval=0.5)


@dataclass(frozen=True)
class KindEnv:
    """The cluster and images under test, from ``GITLAB_FERRY_KIND_*`` variables."""

    kubeconfig: Path
    kubectl: str
    helm: str
    operator_image: str
    testbed_image: str
    pull_policy: str
    values: Path  # the chart's values in this cluster (tools/kind/values.yaml for kind)

    VARIABLES = ("KUBECONFIG", "OPERATOR_IMAGE", "TESTBED_IMAGE")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> KindEnv:
        def get(name: str, default: str | None = None) -> str:
            value = environ.get(f"GITLAB_FERRY_KIND_{name}", default)
            if not value:
                raise KeyError(f"GITLAB_FERRY_KIND_{name}")
            return value

        return cls(
            kubeconfig=Path(get("KUBECONFIG")),
            kubectl=get("KUBECTL", "kubectl"),
            helm=get("HELM", "helm"),
            operator_image=get("OPERATOR_IMAGE"),
            testbed_image=get("TESTBED_IMAGE"),
            pull_policy=get("PULL_POLICY", "IfNotPresent"),
            values=Path(get("VALUES", str(REPO / "tools" / "kind" / "values.yaml"))),
        )


class Cluster:
    """kubectl against the cluster under test, and its API server through ``kubectl proxy``."""

    def __init__(self, env: KindEnv, log_dir: Path) -> None:
        self.env = env
        self._proxy_log = log_dir / "kubectl-proxy.log"
        self._proxy: subprocess.Popen[bytes] | None = None
        self.api: httpx.Client | None = None

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.env.kubectl, f"--kubeconfig={self.env.kubeconfig}", *args],
            capture_output=True,
            text=True,
            input=input,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{result.stderr}")
        return result

    def apply(self, documents: Iterable[Mapping[str, Any]]) -> None:
        body = "\n---\n".join(json.dumps(doc) for doc in documents)
        self.kubectl("apply", "-f", "-", input=body)

    def start(self) -> None:
        """Start ``kubectl proxy`` on a free loopback port: plain HTTP to the API server, with
        whatever authentication the kubeconfig uses."""
        with open(self._proxy_log, "wb") as log:
            self._proxy = subprocess.Popen(
                [
                    self.env.kubectl,
                    f"--kubeconfig={self.env.kubeconfig}",
                    "proxy",
                    "--port=0",
                    "--address=127.0.0.1",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

        def port() -> str:
            if self._proxy is not None and self._proxy.poll() is not None:
                raise AssertionError(f"kubectl proxy exited: {self._proxy_log.read_text()}")
            served = re.search(r"serve on 127\.0\.0\.1:(\d+)", self._proxy_log.read_text())
            return served.group(1) if served else ""

        self.api = httpx.Client(
            base_url=f"http://127.0.0.1:{wait_for(port, timeout=30, what='kubectl proxy')}",
            timeout=30,
        )

    def stop(self) -> None:
        if self.api is not None:
            self.api.close()
        if self._proxy is not None:
            self._proxy.terminate()
            self._proxy.wait(10)

    @property
    def proxy_url(self) -> str:
        assert self.api is not None
        return str(self.api.base_url)

    def get(self, path: str, **params: Any) -> Any:
        """GET an API path (``/api/v1/...``); the decoded body, None for 404."""
        assert self.api is not None
        response = self.api.get(path, params=params or None)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def text(self, path: str) -> str:
        """GET an API path whose answer is text (e.g. a Pod's metrics through its proxy)."""
        assert self.api is not None
        response = self.api.get(path)
        response.raise_for_status()
        return response.text

    def custom_objects(self, namespace: str, plural: str) -> list[dict[str, Any]]:
        found = self.get(f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{plural}")
        return list((found or {}).get("items", []))

    def pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        found = self.get(f"/api/v1/namespaces/{namespace}/pods", labelSelector=selector)
        return list((found or {}).get("items", []))

    def service_proxy(
        self, namespace: str, service: str, port: str, method: str, path: str, **kwargs: Any
    ) -> httpx.Response:
        """A request to a Service through the API server (``services/NAME:PORT/proxy``)."""
        assert self.api is not None
        url = f"/api/v1/namespaces/{namespace}/services/{service}:{port}/proxy{path}"
        return self.api.request(method, url, **kwargs)


def ready(pod: Mapping[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    alive = not pod["metadata"].get("deletionTimestamp")
    return alive and any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def container_id(pod: Mapping[str, Any]) -> str:
    """The id of the pod's (first) container as the runtime knows it, or ""."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    raw = statuses[0].get("containerID", "") if statuses else ""
    return str(raw).split("://", 1)[-1]


def restarts(pod: Mapping[str, Any]) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return int(statuses[0].get("restartCount", 0)) if statuses else 0


class Chart:
    """The operator's chart, installed with ``helm upgrade --install`` as ``make kind`` does,
    plus the values of a test."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    @property
    def tag(self) -> str:
        return self.cluster.env.operator_image.rsplit(":", 1)[1]

    def helm(self, *args: str, values: Mapping[str, Any] | None = None) -> str:
        """Run helm with the cluster's values and then ``values``; its output."""
        env = self.cluster.env
        cluster_values = ["--values", str(env.values), "--values", "-"]
        result = subprocess.run(
            [env.helm, *args, "--namespace", OPERATOR_NAMESPACE, *cluster_values],
            input=json.dumps(dict(values or {})),
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert result.returncode == 0, f"helm {args[0]} failed:\n{result.stderr}"
        return result.stdout

    def install(self, values: Mapping[str, Any] | None = None, *, replicas: int = 1) -> None:
        """Install or upgrade the release with ``values`` over the cluster's own values, and
        wait until exactly ``replicas`` operator Pods run the new template and are Ready
        (none of the old ones still terminating)."""
        env = self.cluster.env
        if self._peering() and not (values or {}).get("peering", {}).get("enabled"):
            # Turning peering off takes the replicas' right to leave the peering object away
            # before they stop, and kopf then retries that for about a minute before exiting:
            # stop them first, while they may still say goodbye.
            self.cluster.kubectl(
                "scale", "deployment", RELEASE, "-n", OPERATOR_NAMESPACE, "--replicas=0"
            )
            self.settled(0)
        image = {
            "repository": env.operator_image.rsplit(":", 1)[0],
            "tag": self.tag,
            "pullPolicy": env.pull_policy,
        }
        self.helm(
            "upgrade", "--install", RELEASE, str(CHART), f"--kubeconfig={env.kubeconfig}",
            "--create-namespace", "--reset-values", "--wait", "--timeout=180s",
            values={**(values or {}), "image": image},
        )  # fmt: skip
        self.settled(replicas)

    def _peering(self) -> bool:
        """Whether the installed release runs with kopf peering."""
        path = f"/apis/apps/v1/namespaces/{OPERATOR_NAMESPACE}/deployments/{RELEASE}"
        deployment = self.cluster.get(path)
        if deployment is None:
            return False
        args = deployment["spec"]["template"]["spec"]["containers"][0].get("args") or []
        return any(arg.startswith("--peering") for arg in args)

    def render(self, values: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The chart's objects for ``values`` (``helm template``, same values as install)."""
        out = self.helm("template", RELEASE, str(CHART), "--kube-version=1.33.0", values=values)
        return [doc for doc in yaml.safe_load_all(out) if doc]

    def pods(self) -> list[dict[str, Any]]:
        selector = f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/name=gitlab-ferry"
        return self.cluster.pods(OPERATOR_NAMESPACE, selector)

    def settled(self, replicas: int, timeout: float = 180) -> list[dict[str, Any]]:
        """Wait until exactly ``replicas`` operator Pods exist and all are Ready."""

        def check() -> tuple[list[dict[str, Any]]] | None:
            pods = self.pods()
            if len(pods) == replicas and all(ready(p) for p in pods):
                return (pods,)
            return None

        found: tuple[list[dict[str, Any]]] = wait_for(
            check, timeout=timeout, what=f"{replicas} Ready operator pod(s) and no others"
        )
        return found[0]

    def logs(self, pod: str) -> str:
        args = ("logs", "-n", OPERATOR_NAMESPACE, pod, "--tail=400")
        return self.cluster.kubectl(*args, check=False).stdout


def manifests(manifest: str, **fields: str) -> list[dict[str, Any]]:
    text = Template((MANIFESTS / manifest).read_text()).substitute(fields)
    return [doc for doc in yaml.safe_load_all(text) if doc]


SIGNAL_SCRIPT = """
import os, sys
container, number = sys.argv[1], int(sys.argv[2])
found = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open(f"/proc/{pid}/cgroup") as cgroups:
            if container in cgroups.read():
                found.append(int(pid))
    except OSError:
        pass
for pid in found:
    os.kill(pid, number)
print(" ".join(map(str, found)))
"""


class NodeSignals:
    """Signals a container's processes as the kernel would deliver them (SIGKILL, SIGSTOP),
    from a Pod in the node's PID namespace (``hostPID``): the processes whose cgroup names the
    container's id. Kubernetes itself only ever asks politely (SIGTERM)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._pods: dict[str, str] = {}

    def _pod_on(self, node: str) -> str:
        if node in self._pods:
            return self._pods[node]
        name = f"signals-{node}"[:63].rstrip("-.")
        env = self.cluster.env
        self.cluster.apply(
            manifests(
                "node-signals.yaml",
                name=name,
                namespace=TESTBED_NAMESPACE,
                node=node,
                image=env.testbed_image,
                pull_policy=env.pull_policy,
            )
        )
        self.cluster.kubectl(
            "wait", "--for=condition=Ready", f"pod/{name}", "-n", TESTBED_NAMESPACE,
            "--timeout=120s", timeout=150,
        )  # fmt: skip
        self._pods[node] = name
        return name

    def close(self) -> None:
        for name in self._pods.values():
            self.cluster.kubectl(
                "delete", "pod", name, "-n", TESTBED_NAMESPACE, "--ignore-not-found",
                "--wait=true", "--timeout=60s", check=False, timeout=90,
            )  # fmt: skip
        self._pods.clear()

    def send(self, pod: Mapping[str, Any], signal: int) -> list[int]:
        """Send ``signal`` to the processes of ``pod``'s container; their node-level pids."""
        container = container_id(pod)
        assert container, f"pod {pod['metadata']['name']} has no running container"
        killer = self._pod_on(pod["spec"]["nodeName"])
        result = self.cluster.kubectl(
            "exec", "-n", TESTBED_NAMESPACE, killer, "--", "python3", "-c", SIGNAL_SCRIPT,
            container, str(signal),
        )  # fmt: skip
        pids = [int(pid) for pid in result.stdout.split()]
        assert pids, f"no process of container {container} on {pod['spec']['nodeName']}"
        return pids
