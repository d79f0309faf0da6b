"""End-to-end fixtures: one real Kubernetes API server per test session.

Which cluster:
1. ``GITLAB_FERRY_TEST_KUBECONFIG`` names a kubeconfig (kind, a real cluster): use it, start
   nothing. ``control_plane`` is then None and tests that restart the API server skip.
2. Else the binaries from ``tools/controlplane/build.sh`` (or ``$GITLAB_FERRY_KUBE_BIN``):
   start etcd, kube-apiserver and kube-controller-manager (GC and namespace controllers) once
   for the session, with ``KUBECONFIG`` pointing at it until the session ends.
3. Else skip the e2e tests, naming the reason; but with ``CI=true`` fail instead, so CI can
   never pass by silently skipping them.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
from ferry_e2e import OperatorProcess
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from tests.support.certificates import self_signed
from tests.support.processes import SimulatorProcess
from tests.support.s3 import S3Server, moto_s3
from versions_e2e import selected as selected_versions

from gitlab_ferry_testbed.controlplane import (
    Binaries,
    BinariesNotFound,
    ControlPlane,
    find_binaries,
)

E2E_DIR = Path(__file__).resolve().parent
EXTERNAL_KUBECONFIG = "GITLAB_FERRY_TEST_KUBECONFIG"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests that take ``gitlab_version`` run once per selected GitLab version."""
    if "gitlab_version" in metafunc.fixturenames:
        metafunc.parametrize("gitlab_version", selected_versions())


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def _unavailable(reason: str) -> NoReturn:
    """Skip, or fail under CI=true: CI must never go green by skipping the e2e tier."""
    if _in_ci():
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


@dataclass(frozen=True)
class KubeCluster:
    """The cluster under test."""

    kubeconfig: Path
    control_plane: ControlPlane | None  # None: an external cluster, which tests must not restart
    binaries: Binaries | None  # the control-plane binaries, where found (CLI tests start more)


def _binaries_or_none() -> Binaries | None:
    try:
        return find_binaries()
    except BinariesNotFound:
        return None


@pytest.fixture(scope="session")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    with pytest.MonkeyPatch.context() as env:
        if external := os.environ.get(EXTERNAL_KUBECONFIG):
            if not Path(external).is_file():
                pytest.fail(f"{EXTERNAL_KUBECONFIG}={external} is not a file", pytrace=False)
            env.setenv("KUBECONFIG", external)
            yield KubeCluster(Path(external), None, _binaries_or_none())
            return
        try:
            binaries = find_binaries()
        except BinariesNotFound as e:
            _unavailable(f"no Kubernetes for the e2e tests: {e}; or set {EXTERNAL_KUBECONFIG}")
        if binaries.controller_manager is None and _in_ci():
            pytest.fail("CI=true and kube-controller-manager was not built", pytrace=False)
        plane = ControlPlane(
            tmp_path_factory.mktemp("controlplane"),
            binaries,
            with_controller_manager=binaries.controller_manager is not None,
        )
        # A start-up failure raises with the log tails: every e2e test errors with that text.
        plane.start()
        try:
            env.setenv("KUBECONFIG", str(plane.kubeconfig))
            yield KubeCluster(plane.kubeconfig, plane, binaries)
        finally:
            plane.stop()


@pytest.fixture
def control_plane(kube: KubeCluster) -> Iterator[ControlPlane | None]:
    """The control plane this session started, or None on an external cluster (tests that
    need it skip then). A test that stops the API server and fails before starting it again
    does not take the rest of the session down: it is started again afterwards."""
    plane = kube.control_plane
    yield plane
    if plane is not None and not plane.is_running("kube-apiserver"):
        plane.start_apiserver()


@pytest.fixture(scope="session")
def k8s(kube: KubeCluster) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(config_file=str(kube.kubeconfig))  # type: ignore[no-untyped-call]
    try:
        yield api
    finally:
        api.close()  # its thread pool and sockets would otherwise leak into ResourceWarnings


@pytest.fixture(scope="session")
def core_v1(k8s: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(k8s)


@pytest.fixture(scope="session")
def rbac_v1(k8s: client.ApiClient) -> client.RbacAuthorizationV1Api:
    return client.RbacAuthorizationV1Api(k8s)


@pytest.fixture(scope="session")
def custom_objects(k8s: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(k8s)


@pytest.fixture(scope="session")
def apiextensions(k8s: client.ApiClient) -> client.ApiextensionsV1Api:
    return client.ApiextensionsV1Api(k8s)


@pytest.fixture
def namespace(core_v1: client.CoreV1Api) -> Iterator[str]:
    """A fresh namespace ``t-<hex>`` per test, deleted afterwards (best effort: without a
    namespace controller it stays Terminating, which is harmless as names are never reused)."""
    name = f"t-{secrets.token_hex(4)}"
    meta = client.V1ObjectMeta(name=name, labels={"gitlabferry.dev/test": "e2e"})
    core_v1.create_namespace(client.V1Namespace(metadata=meta))
    yield name
    with suppress(ApiException):
        core_v1.delete_namespace(name)


Kubectl = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture(scope="session")
def kubectl(kube: KubeCluster) -> Kubectl:
    """``kubectl(*args, check=True, input=None)`` against the cluster under test."""
    binary = shutil.which("kubectl")
    if binary is None:
        _unavailable("kubectl is not on PATH")

    def run(
        *args: str, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [binary, f"--kubeconfig={kube.kubeconfig}", *args],
            capture_output=True,
            text=True,
            input=input,
            timeout=60,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{result.stderr}")
        return result

    return run


REPO = E2E_DIR.parent.parent


@pytest.fixture(scope="session")
def crds(kube: KubeCluster, kubectl: Kubectl) -> list[str]:
    """The CRDs from ``crds/`` applied server-side and established; their names."""
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    names = [
        "projectexports.gitlabferry.dev",
        "projectimports.gitlabferry.dev",
        "groupmigrations.gitlabferry.dev",
    ]
    kubectl("wait", "--for=condition=Established", "--timeout=60s", *(f"crd/{n}" for n in names))
    return names


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def tls(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key: archive servers GitLab fetches
    from over https (simulators trust it with ``--ca-file``)."""
    return self_signed(tmp_path / "tls")


@pytest.fixture
def simulators(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., SimulatorProcess]]:
    """Start simulated GitLabs: ``simulators(*cli_options, seed="default")``."""
    started: list[SimulatorProcess] = []

    def start(*options: str, seed: str = "default") -> SimulatorProcess:
        sim = SimulatorProcess(tmp_path / f"gitlab-{len(started)}", *options, seed=seed)
        sim.start()
        started.append(sim)
        return sim

    yield start
    failed = request.node.stash.get(_FAILED, False)
    for sim in started:
        sim.stop()
        if failed:
            print(f"--- simulator log {sim.log_path} (tail) ---\n{sim.output()[-3000:]}")


@pytest.fixture
def operators(
    kube: KubeCluster, crds: list[str], tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., OperatorProcess]]:
    """Start ``gitlab-ferry run`` for namespaces: ``operators([ns], {SETTING: value})``."""
    started: list[OperatorProcess] = []

    def start(namespaces: list[str], settings: dict[str, str] | None = None) -> OperatorProcess:
        operator = OperatorProcess(
            kube.kubeconfig, namespaces, tmp_path / f"operator-{len(started)}.log", settings
        )
        operator.start()
        started.append(operator)
        return operator

    yield start
    failed = request.node.stash.get(_FAILED, False)
    for operator in started:
        operator.stop()
        if failed:
            print(f"--- operator log {operator.log_path} (tail) ---\n{operator.output()[-8000:]}")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto in server mode for the session (S3 paths are tested against a real server)."""
    with moto_s3() as server:
        yield server
