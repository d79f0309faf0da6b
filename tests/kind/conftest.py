"""Kind tier fixtures: a cluster running the operator as a Pod from its image, installed by
its chart, and simulated GitLabs running as Pods beside it.

Which cluster and images: the ``GITLAB_FERRY_KIND_*`` variables (``tools/kind/kind.sh env``
prints them for the cluster ``make kind`` made; ``make test-kind`` sets them). Without them,
``tools/kind/kind.sh env`` is asked; if there is no cluster the tests skip, or fail with
``CI=true``, so CI can never pass by skipping the tier.

The chart's release (``gitlab-ferry`` in namespace ``gitlab-ferry``) belongs to the tier while
it runs: each test installs the values it needs with ``helm upgrade``, and the session puts
back the values ``make kind`` installs. Everything under ``tests/kind`` is marked ``kind``.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from kind_cluster import (
    OPERATOR_NAMESPACE,
    REPO,
    TESTBED_NAMESPACE,
    Chart,
    Cluster,
    KindEnv,
    NodeSignals,
)
from kind_gitlab import SIMULATORS, Simulator, operator_values, token_secret
from kind_prometheus import ServicePrometheus, find_prometheus

KIND_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if KIND_DIR in item.path.resolve().parents:
            item.add_marker(pytest.mark.kind)


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def _environ() -> dict[str, str]:
    found = dict(os.environ)
    if all(f"GITLAB_FERRY_KIND_{name}" in found for name in KindEnv.VARIABLES):
        return found
    result = subprocess.run(
        [str(REPO / "tools" / "kind" / "kind.sh"), "env"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        _unavailable(f"no kind cluster: {result.stderr.strip()} (make kind)")
    for line in result.stdout.splitlines():
        key, _, value = line.partition("=")
        found.setdefault(key, value)
    return found


@pytest.fixture(scope="session")
def kind_env() -> KindEnv:
    try:
        return KindEnv.from_environ(_environ())
    except KeyError as missing:
        _unavailable(f"{missing} is not set (make kind, then tools/kind/kind.sh env)")


@pytest.fixture(scope="session")
def cluster(kind_env: KindEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not kind_env.kubeconfig.is_file():
        _unavailable(f"{kind_env.kubeconfig} is not a file (make kind)")
    found = Cluster(kind_env, tmp_path_factory.mktemp("cluster"))
    if found.kubectl("get", "--raw", "/readyz", check=False).returncode != 0:
        _unavailable(f"the cluster of {kind_env.kubeconfig} does not answer (make kind)")
    found.start()
    try:
        for namespace in (OPERATOR_NAMESPACE, TESTBED_NAMESPACE):
            found.kubectl("create", "namespace", namespace, check=False)
        found.kubectl("apply", "-f", str(REPO / "crds"))
        yield found
    finally:
        found.stop()


@pytest.fixture(scope="session")
def chart(cluster: Cluster, kind_env: KindEnv) -> Iterator[Chart]:
    """The chart's release; afterwards installed again as ``make kind`` leaves it."""
    found = Chart(cluster)
    yield found
    found.install({})


@pytest.fixture
def operator(chart: Chart) -> Chart:
    """The chart installed with the tests' values: one replica, no peering (an upgrade that
    changes nothing when the previous test had the same)."""
    chart.install(operator_values())
    return chart


@pytest.fixture
def prometheus(cluster: Cluster, tmp_path: Path) -> Iterator[ServicePrometheus]:
    """A Prometheus on this machine scraping the operator's metrics Service every second."""
    binary = find_prometheus()
    if binary is None:
        _unavailable("prometheus is not installed (make system)")
    found = ServicePrometheus(binary, tmp_path / "prometheus", cluster.proxy_url)
    found.start()
    yield found
    found.stop()


@pytest.fixture(scope="session")
def gitlabs(cluster: Cluster) -> dict[str, Simulator]:
    """The simulated GitLabs' Services ``source`` and ``destination`` (each test starts them
    with the options and seed it needs)."""
    return {name: Simulator(cluster, name) for name in SIMULATORS}


@pytest.fixture(scope="session")
def signals(cluster: Cluster) -> Iterator[NodeSignals]:
    found = NodeSignals(cluster)
    yield found
    found.close()


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    """A fresh namespace with the tokens of both simulated GitLabs, deleted afterwards."""
    name = f"kind-{secrets.token_hex(4)}"
    cluster.kubectl("create", "namespace", name)
    cluster.apply([token_secret("source-token", name), token_secret("destination-token", name)])
    yield name
    # The operator removes its finalizers as the namespace goes; nothing waits for that.
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call" and report.failed and "chart" in getattr(item, "funcargs", {}):
        # The operator's own account of what happened, with the test's failure.
        chart: Chart = item.funcargs["chart"]
        for pod in chart.pods():
            name = pod["metadata"]["name"]
            report.sections.append((f"operator log {name}", chart.logs(name)[-6000:]))
    return report
