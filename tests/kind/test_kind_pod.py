"""The operator's Pod as the chart makes it: its service account holds exactly the chart's
RBAC, seen and tried from inside the Pod; the root filesystem is read-only and the process
runs as UID 10001; the readiness probe takes a hung operator out of its Service and puts it
back when it answers again."""

from __future__ import annotations

import json
import signal
from typing import Any

from kind_cluster import OPERATOR_NAMESPACE, RELEASE, Chart, Cluster, NodeSignals, ready, wait_for
from kind_gitlab import operator_values

#: Run inside the operator's container: asks the API server, with the Pod's own service
#: account token, which rules it holds in a namespace (SelfSubjectRulesReview) and tries a few
#: requests. Prints only status codes and rules, never the token or a Secret's data.
IN_POD = r"""
import json, ssl, sys, urllib.error, urllib.request
namespace, secret = sys.argv[1], sys.argv[2]
account = "/var/run/secrets/kubernetes.io/serviceaccount"
token = open(f"{account}/token").read().strip()
tls = ssl.create_default_context(cafile=f"{account}/ca.crt")

def call(method, path, body=None):
    request = urllib.request.Request(
        "https://kubernetes.default.svc" + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, context=tls, timeout=20) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as refused:
        return refused.code, None

ns = f"/api/v1/namespaces/{namespace}"
crs = f"/apis/gitlabferry.dev/v1alpha1/namespaces/{namespace}"
tries = {
    "get secret": call("GET", f"{ns}/secrets/{secret}")[0],
    "list secrets": call("GET", f"{ns}/secrets")[0],
    "list secrets everywhere": call("GET", "/api/v1/secrets")[0],
    "create pod": call("POST", f"{ns}/pods", {"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "x"}, "spec": {"containers": [{"name": "x", "image": "x"}]}})[0],
    "get configmaps": call("GET", f"{ns}/configmaps")[0],
    "list namespaces": call("GET", "/api/v1/namespaces")[0],
    "list projectimports": call("GET", f"{crs}/projectimports")[0],
    "delete projectimports": call("DELETE", f"{crs}/projectimports/x")[0],
    "create groupmigrations": call("POST", f"{crs}/groupmigrations", {})[0],
}
status, review = call("POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", {
    "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
    "spec": {"namespace": namespace}})
print(json.dumps({"tries": tries, "review": status, "rules": review["status"]["resourceRules"]}))
"""


def _expand(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in rules
        if not rule.get("resourceNames")
        for group in rule.get("apiGroups", [])
        for resource in rule.get("resources", [])
        for verb in rule.get("verbs", [])
    }


def _exec(cluster: Cluster, pod: str, *argv: str, check: bool = True) -> Any:
    return cluster.kubectl("exec", "-n", OPERATOR_NAMESPACE, pod, "--", *argv, check=check)


def test_the_service_account_holds_exactly_the_charts_rbac(
    cluster: Cluster, operator: Chart, namespace: str
) -> None:
    [pod] = operator.settled(1)
    answer = json.loads(
        _exec(
            cluster, pod["metadata"]["name"], "python", "-c", IN_POD, namespace, "source-token"
        ).stdout
    )
    # What the chart grants (cluster-wide: its ClusterRole), and what every account may do.
    docs = operator.render(operator_values())
    [role] = [d for d in docs if d["kind"] == "ClusterRole"]
    [binding] = [d for d in docs if d["kind"] == "ClusterRoleBinding"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": pod["spec"]["serviceAccountName"],
         "namespace": OPERATOR_NAMESPACE}
    ]  # fmt: skip
    everyone = cluster.get("/apis/rbac.authorization.k8s.io/v1/clusterroles/system:basic-user")
    assert answer["review"] == 201
    assert _expand(answer["rules"]) == _expand(role["rules"]) | _expand(everyone["rules"])
    assert answer["tries"] == {
        "get secret": 200,  # a token, read by name: granted
        "list secrets": 403,
        "list secrets everywhere": 403,
        "create pod": 403,
        "get configmaps": 403,
        "list namespaces": 403,
        "list projectimports": 200,
        "delete projectimports": 403,
        "create groupmigrations": 403,
    }


def test_root_filesystem_is_read_only_and_the_operator_is_not_root(
    cluster: Cluster, operator: Chart
) -> None:
    [pod] = operator.settled(1)
    name = pod["metadata"]["name"]
    write = "import sys; open(sys.argv[1], 'w').write('x'); print('written')"
    refused = _exec(cluster, name, "python", "-c", write, "/opt/gitlab-ferry/x", check=False)
    assert refused.returncode != 0
    assert "Read-only file system" in refused.stderr, refused.stderr
    assert _exec(cluster, name, "python", "-c", write, "/tmp/x").stdout.strip() == "written"
    ids = _exec(cluster, name, "python", "-c", "import os; print(os.getuid(), os.getgid())")
    assert ids.stdout.split() == ["10001", "10001"]
    mounts = _exec(cluster, name, "cat", "/proc/self/mounts").stdout.splitlines()
    root = next(line.split() for line in mounts if line.split()[1] == "/")
    assert "ro" in root[3].split(","), root


def _in_service(cluster: Cluster) -> list[str]:
    slices = cluster.get(
        f"/apis/discovery.k8s.io/v1/namespaces/{OPERATOR_NAMESPACE}/endpointslices",
        labelSelector=f"kubernetes.io/service-name={RELEASE}-metrics",
    )
    return [
        endpoint["targetRef"]["name"]
        for item in slices["items"]
        for endpoint in item.get("endpoints") or []
        if endpoint["conditions"].get("ready")
    ]


def test_readiness_probe_takes_a_hung_operator_out_of_its_service(
    cluster: Cluster, operator: Chart, signals: NodeSignals
) -> None:
    [pod] = operator.settled(1)
    name = pod["metadata"]["name"]
    assert _in_service(cluster) == [name]
    restarts_before = pod["status"]["containerStatuses"][0]["restartCount"]
    signals.send(pod, signal.SIGSTOP)  # the process stops answering, as a hung one would
    try:
        wait_for(
            lambda: not ready(operator.pods()[0]) and not _in_service(cluster),
            timeout=30,
            what="the readiness probe to take the stopped operator out of its Service",
        )
    finally:
        signals.send(pod, signal.SIGCONT)
    pods = wait_for(
        lambda: [p for p in operator.pods() if ready(p)],
        timeout=30,
        what="the operator to be Ready again once it answers",
    )
    assert [p["metadata"]["name"] for p in pods] == [name]
    assert pods[0]["status"]["containerStatuses"][0]["restartCount"] == restarts_before
    wait_for(lambda: _in_service(cluster) == [name], timeout=30, what="it back in the Service")
