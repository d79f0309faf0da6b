"""What ``make kind`` leaves: the operator installed by its chart with ``helm``, running as a
Pod of the Deployment from the image built from the Dockerfile, Ready, and selected by the
chart's metrics Service."""

from __future__ import annotations

import json
import tomllib

from kind_cluster import OPERATOR_NAMESPACE, RELEASE, REPO, Chart, Cluster, KindEnv, ready


def test_the_chart_runs_the_operator_from_the_locally_built_image(
    cluster: Cluster, kind_env: KindEnv, chart: Chart
) -> None:
    chart.install({})  # the values `make kind` installs
    status = json.loads(
        cluster.kubectl("get", "secret", "-n", OPERATOR_NAMESPACE, "-l",
                        f"owner=helm,name={RELEASE},status=deployed", "-o", "json").stdout
    )  # fmt: skip
    assert len(status["items"]) == 1, "helm has no deployed release gitlab-ferry"

    deployment = cluster.get(f"/apis/apps/v1/namespaces/{OPERATOR_NAMESPACE}/deployments/{RELEASE}")
    labels = deployment["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "Helm"
    assert labels["helm.sh/chart"].startswith("gitlab-ferry-")
    template = deployment["spec"]["template"]["spec"]["containers"][0]
    assert template["image"] == kind_env.operator_image
    assert template["imagePullPolicy"] == kind_env.pull_policy

    [pod] = chart.settled(1)
    assert ready(pod)
    container = pod["status"]["containerStatuses"][0]
    assert container["state"].get("running"), container["state"]
    assert container["image"].removeprefix("docker.io/library/") == kind_env.operator_image
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    answer = cluster.kubectl(
        "exec", "-n", OPERATOR_NAMESPACE, pod["metadata"]["name"], "--", "gitlab-ferry", "--version"
    )
    assert answer.stdout.strip() == f"gitlab-ferry, version {version}"

    # The metrics Service selects the Ready pod.
    slices = cluster.get(
        f"/apis/discovery.k8s.io/v1/namespaces/{OPERATOR_NAMESPACE}/endpointslices",
        labelSelector=f"kubernetes.io/service-name={RELEASE}-metrics",
    )
    endpoints = [e for s in slices["items"] for e in s.get("endpoints") or []]
    assert [e["targetRef"]["name"] for e in endpoints if e["conditions"].get("ready")] == [
        pod["metadata"]["name"]
    ]
