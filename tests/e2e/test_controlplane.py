"""The test control plane itself: version, kubeconfig, RBAC, namespace deletion, API-server
restart with etcd data kept, and ``gitlab-ferry controlplane up/down`` leaving nothing behind."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

import gitlab_ferry_testbed
from gitlab_ferry_testbed.controlplane import ControlPlane, ControlPlaneError, Ports
from gitlab_ferry_testbed.controlplane import processes as proc
from gitlab_ferry_testbed.controlplane import state as statefile

K8S_VERSION = "v1.33.13"
Kubectl = Callable[..., "subprocess.CompletedProcess[str]"]


def eventually(check: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


def own(control_plane: ControlPlane | None) -> ControlPlane:
    if control_plane is None:
        pytest.skip("needs the control plane this session started (external cluster in use)")
    return control_plane


def test_version(k8s: client.ApiClient, control_plane: ControlPlane | None) -> None:
    version = client.VersionApi(k8s).get_code()
    if control_plane is None:
        assert version.git_version.startswith("v1.33."), version.git_version
    else:
        assert version.git_version == K8S_VERSION
        assert (version.major, version.minor) == ("1", "33")


def test_tls_passes_python_strict_verification(control_plane: ControlPlane | None) -> None:
    plane = own(control_plane)
    # Python 3.13 turns VERIFY_X509_STRICT on by default; the generated chain must pass it.
    context = ssl.create_default_context(cafile=str(plane.ca_file))
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    headers = {"Authorization": f"Bearer {plane.token}"}
    with httpx.Client(verify=context) as http:
        assert http.get(f"{plane.url}/readyz", headers=headers).text == "ok"
        # Anonymous requests reach /readyz too, but nothing else: RBAC is on.
        assert http.get(f"{plane.url}/api/v1/namespaces").status_code == 403


def test_kubectl_uses_written_kubeconfig(kubectl: Kubectl, kube: Any) -> None:
    names = kubectl("get", "namespaces", "-o", "name").stdout.split()
    assert "namespace/default" in names
    if kube.control_plane is not None:
        minified = kubectl("config", "view", "--minify", "-o", "jsonpath={..namespace}")
        assert minified.stdout == "default"
    assert os.environ["KUBECONFIG"] == str(kube.kubeconfig)


def test_rbac_is_enforced_for_a_service_account(
    kubectl: Kubectl,
    namespace: str,
    core_v1: client.CoreV1Api,
    rbac_v1: client.RbacAuthorizationV1Api,
) -> None:
    meta = client.V1ObjectMeta(name="robot")
    core_v1.create_namespaced_service_account(namespace, client.V1ServiceAccount(metadata=meta))
    # TokenRequest is served by the API server itself: no controller-manager involved.
    token = kubectl("create", "token", "robot", "-n", namespace).stdout.strip()
    user = f"system:serviceaccount:{namespace}:robot"

    def can_list(*identity: str) -> str:
        args = ("auth", "can-i", "list", "secrets", "-n", namespace, *identity)
        return str(kubectl(*args, check=False).stdout.strip())

    assert can_list(f"--as={user}") == "no"
    assert can_list(f"--token={token}") == "no"
    denied = kubectl("get", "secrets", "-n", namespace, f"--token={token}", check=False)
    assert denied.returncode != 0
    assert "forbidden" in denied.stderr
    assert user in denied.stderr  # authenticated as the ServiceAccount, then refused

    rule = client.V1PolicyRule(api_groups=[""], resources=["secrets"], verbs=["list"])
    rbac_v1.create_namespaced_role(
        namespace, client.V1Role(metadata=client.V1ObjectMeta(name="read"), rules=[rule])
    )
    binding = client.V1RoleBinding(
        metadata=client.V1ObjectMeta(name="read"),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="read"),
        subjects=[client.RbacV1Subject(kind="ServiceAccount", name="robot", namespace=namespace)],
    )
    rbac_v1.create_namespaced_role_binding(namespace, binding)
    eventually(lambda: can_list(f"--token={token}") == "yes", 10, "the RoleBinding to apply")
    kubectl("get", "secrets", "-n", namespace, f"--token={token}")


def test_apiserver_restart_keeps_etcd_data(
    control_plane: ControlPlane | None,
    namespace: str,
    core_v1: client.CoreV1Api,
    kubectl: Kubectl,
) -> None:
    plane = own(control_plane)
    meta = client.V1ObjectMeta(name="survivor")
    core_v1.create_namespaced_config_map(
        namespace, client.V1ConfigMap(metadata=meta, data={"k": "v"})
    )
    url = plane.url
    plane.stop_apiserver()
    assert not plane.apiserver_ready()
    assert plane.is_running("etcd")
    plane.start_apiserver()
    assert plane.url == url
    # The session's client and the kubeconfig written before the restart both still work.
    assert core_v1.read_namespaced_config_map("survivor", namespace).data == {"k": "v"}
    kubectl("get", "configmap", "survivor", "-n", namespace)
    # A crash, not a shutdown: etcd has the data all the same.
    plane.restart_apiserver(grace=0)
    assert core_v1.read_namespaced_config_map("survivor", namespace).data == {"k": "v"}


def test_a_port_held_for_a_moment_does_not_stop_a_restart(
    control_plane: ControlPlane | None, core_v1: client.CoreV1Api
) -> None:
    """Between a stop and a start another process may hold the port for a moment (an outgoing
    connection's local port): the start tries again."""
    plane = own(control_plane)
    port = plane.ports.apiserver if plane.ports else 0
    plane.stop_apiserver()
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", port))
        holder.listen()
        released = threading.Timer(1.5, holder.close)
        released.start()
        try:
            plane.start_apiserver()
        finally:
            released.cancel()
    assert plane.apiserver_ready()
    assert core_v1.list_namespace().items


def test_a_port_lost_at_the_first_start_moves_to_fresh_ports_at_once(
    kube: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ports picked for a first start can be taken before the servers bind them: that start
    moves on to newly picked ports, without the pauses a restart on fixed ports allows."""
    if kube.binaries is None:
        pytest.skip("control-plane binaries not built")
    launched: list[str] = []
    spawn, free_ports = proc.spawn, proc.free_ports
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        held = taken.getsockname()[1]
        first_pick = [*free_ports(2), held, *free_ports(1)]  # etcd, peer, API server, manager

        def pick(count: int) -> list[int]:
            return first_pick if not launched else free_ports(count)

        def counted_spawn(name: str, *args: Any, **kwargs: Any) -> Any:
            launched.append(name)
            return spawn(name, *args, **kwargs)

        monkeypatch.setattr(proc, "free_ports", pick)
        monkeypatch.setattr(proc, "spawn", counted_spawn)
        plane = ControlPlane(tmp_path, kube.binaries, with_controller_manager=False, timeout=60)
        try:
            plane.start()
            assert plane.ports is not None
            assert plane.ports.apiserver != held
            assert plane.apiserver_ready()
        finally:
            plane.stop()
    assert launched.count("kube-apiserver") == 2  # once on the taken port, once on fresh ones


def test_namespace_deletion_completes(
    core_v1: client.CoreV1Api, control_plane: ControlPlane | None
) -> None:
    if control_plane is not None and not control_plane.with_controller_manager:
        pytest.skip("no kube-controller-manager: namespaces stay Terminating")
    name = f"t-del-{os.urandom(3).hex()}"
    core_v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    core_v1.create_namespaced_config_map(
        name, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="content"))
    )
    core_v1.delete_namespace(name)

    def gone() -> bool:
        try:
            core_v1.read_namespace(name)
        except ApiException as e:
            if e.status == 404:
                return True
            raise
        return False

    eventually(gone, 60, f"namespace {name} to be deleted")


def test_cli_up_down(kube: Any, tmp_path: Path) -> None:
    if kube.binaries is None:
        pytest.skip("control-plane binaries not built")
    kubeconfig = tmp_path / "cli.kubeconfig"
    env = {
        **os.environ,
        "GITLAB_FERRY_KUBE_BIN": str(kube.binaries.apiserver.parent),
        "PYTHONPATH": os.pathsep.join(
            [
                str(Path(gitlab_ferry_testbed.__file__).resolve().parents[1]),
                os.environ.get("PYTHONPATH", ""),
            ]
        ),
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "gitlab_ferry_testbed", "controlplane", *args]
        argv += ["--kubeconfig", str(kubeconfig)]
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=180)

    up = cli("up", "--timeout", "120")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "ready in" in up.stdout
    # `up` has exited: its processes must have survived it.
    state = statefile.load(statefile.state_path(kubeconfig))
    handles = [proc.ProcessHandle.from_json(p) for p in state["processes"]]
    assert {h.name for h in handles} == {"etcd", "kube-apiserver", "kube-controller-manager"}
    assert all(proc.is_alive(h) for h in handles)
    listed = subprocess.run(
        ["kubectl", f"--kubeconfig={kubeconfig}", "get", "namespace", "default", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(listed.stdout)["metadata"]["name"] == "default"

    again = cli("up")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already running" in again.stdout
    assert cli("status").returncode == 0

    down = cli("down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert not any(proc.is_alive(h) for h in handles)
    assert not kubeconfig.exists()
    assert not statefile.state_path(kubeconfig).exists()
    assert not Path(state["directory"]).exists()
    assert cli("status").returncode == 1


def test_a_failed_start_reports_the_log_and_leaves_nothing_running(
    kube: Any, tmp_path: Path
) -> None:
    if kube.binaries is None:
        pytest.skip("control-plane binaries not built")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        etcd, peer, manager = proc.free_ports(3)
        ports = Ports(etcd, peer, taken.getsockname()[1], manager)
        plane = ControlPlane(
            tmp_path, kube.binaries, with_controller_manager=False, ports=ports, timeout=60
        )
        with pytest.raises(ControlPlaneError, match="address already in use") as failure:
            plane.start()
    assert "kube-apiserver" in str(failure.value)
    assert plane.processes == {}  # etcd, which did start, was stopped again
