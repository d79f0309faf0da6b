"""The Helm chart: ``helm lint --strict`` and ``helm template`` in both RBAC modes and with every
optional part on, the rendered manifests accepted by a real API server (server-side dry-run),
the pod template admitted under the "restricted" Pod Security Standard, values refused by
``values.schema.json``, every value commented, and the operator settings the Deployment sets
parsed by the operator's own Settings.

The control plane has no prometheus-operator or kopf peering CRDs: minimal ones that accept
any object are installed first, so the guarded templates render (``--api-versions``) and the
objects are validated as far as an API server can.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Callable, Iterator
from contextlib import suppress
from typing import Any

import pytest
import yaml
from chart_e2e import (
    ALL_OPTIONAL,
    CHART,
    MONITORING_APIS,
    PEERING_APIS,
    by_kind,
    helm,
    install_support_crds,
    one,
    render,
    template,
)
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gitlab_ferry.settings import Settings

Kubectl = Callable[..., "subprocess.CompletedProcess[str]"]
OPTIONAL_APIS = (*MONITORING_APIS, *PEERING_APIS)


@pytest.fixture
def other_namespace(core_v1: client.CoreV1Api) -> Iterator[str]:
    """A second watched namespace for the namespaced RBAC mode."""
    name = f"t-{secrets.token_hex(4)}"
    meta = client.V1ObjectMeta(name=name, labels={"gitlabferry.dev/test": "e2e"})
    core_v1.create_namespace(client.V1Namespace(metadata=meta))
    yield name
    with suppress(ApiException):
        core_v1.delete_namespace(name)


# -- lint and schema ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sets",
    [
        [],
        ["--set", "watchNamespaces={team-a,team-b}"],
        [
            "--set",
            "watchNamespaces={team-a},peering.enabled=true,replicaCount=2,"
            "metrics.serviceMonitor.enabled=true,metrics.prometheusRule.enabled=true,"
            "grafanaDashboard.enabled=true,argocd.healthChecks.enabled=true",
        ],
    ],
    ids=["cluster-wide", "namespaced", "namespaced-all-optional"],
)
def test_helm_lint_strict(sets: list[str]) -> None:
    result = helm("lint", "--strict", str(CHART), *sets)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout
    assert "[WARNING]" not in result.stdout
    assert "[ERROR]" not in result.stdout


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicaCount": "two"}, "/replicaCount"),
        ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
        ({"operator": {"logLevel": "LOUD"}}, "/operator/logLevel"),
        ({"operator": {"rateLimits": {"export": -1}}}, "/operator/rateLimits/export"),
        ({"operator": {"rateLimits": {"downloadScope": "Group"}}}, "downloadScope"),
        ({"operator": {"allowedHosts": "gitlab.example.com"}}, "/operator/allowedHosts"),
        ({"watchNamespaces": ["Not_A_Namespace"]}, "/watchNamespaces/0"),
        ({"metrics": {"port": 70000}}, "/metrics/port"),
        ({"metrics": {"serviceMonitor": {"interval": "soon"}}}, "interval"),
        ({"terminationGracePeriodSeconds": 5}, "terminationGracePeriodSeconds"),
        ({"securityContext": {"runAsUser": 0}}, "/securityContext/runAsUser"),
        ({"operator": {"typo": 1}}, "typo"),
        ({"unknownTopLevel": True}, "unknownTopLevel"),
    ],
    ids=lambda v: json.dumps(v) if isinstance(v, dict) else None,
)
def test_schema_refuses_bad_values(values: dict[str, Any], message: str) -> None:
    result = template(values)
    assert result.returncode != 0
    assert "don't meet the specifications of the schema" in result.stderr, result.stderr
    assert message in result.stderr, result.stderr


def test_template_refuses_unsafe_combinations() -> None:
    two = template({"replicaCount": 2})
    assert two.returncode != 0
    assert "needs peering.enabled" in two.stderr
    old = helm("template", "ferry", str(CHART), "--kube-version", "1.26.0")
    assert old.returncode != 0
    assert "kubeVersion" in old.stderr
    no_service = template(
        {"metrics": {"service": {"enabled": False}, "serviceMonitor": {"enabled": True}}},
        api_versions=MONITORING_APIS,
    )
    assert no_service.returncode != 0
    assert "metrics.service.enabled" in no_service.stderr


#: Values the schema accepts that values.yaml leaves unset on purpose.
SCHEMA_ONLY = {"global", "ephemeral-storage"}


def _comment_above(lines: list[str], line: int) -> bool:
    return line > 0 and lines[line - 1].strip().startswith("#")


def test_every_value_is_commented_and_in_the_schema() -> None:
    """Each value that is not a section of further values has a comment right above it, and
    the schema and values.yaml name the same values."""
    text = (CHART / "values.yaml").read_text()
    lines = text.splitlines()
    schema = json.loads((CHART / "values.schema.json").read_text())
    root = yaml.compose(text)
    uncommented, unknown = [], []

    def walk(node: yaml.MappingNode, node_schema: dict[str, Any], path: str) -> None:
        properties = node_schema.get("properties", {})
        seen = set()
        for key_node, value_node in node.value:
            key = key_node.value
            seen.add(key)
            where = f"{path}{key}"
            if key not in properties:
                unknown.append(where)
                continue
            child = properties[key]
            if "properties" in child and isinstance(value_node, yaml.MappingNode):
                walk(value_node, child, where + ".")
            elif not _comment_above(lines, key_node.start_mark.line):
                uncommented.append(where)
        missing = set(properties) - seen - SCHEMA_ONLY
        unknown.extend(f"{path}{key} (schema only)" for key in sorted(missing))

    walk(root, schema, "")
    assert not uncommented, f"values without a comment: {uncommented}"
    assert not unknown, f"values and schema disagree: {unknown}"


# -- rendering ------------------------------------------------------------------------------------


def _kinds(docs: list[dict[str, Any]]) -> list[str]:
    return sorted(doc["kind"] for doc in docs)


def test_default_render_is_cluster_wide_and_minimal() -> None:
    _, docs = render()
    assert _kinds(docs) == [
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "Service",
        "ServiceAccount",
    ]
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert _env(deployment)["GITLAB_FERRY_NAMESPACES"] == ""


def test_namespaced_render_has_a_role_per_namespace() -> None:
    _, docs = render({"watchNamespaces": ["team-a", "team-b"]})
    assert _kinds(docs) == [
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "Role",
        "Role",
        "RoleBinding",
        "RoleBinding",
        "Service",
        "ServiceAccount",
    ]
    assert {r["metadata"]["namespace"] for r in by_kind(docs, "Role")} == {"team-a", "team-b"}
    assert _env(one(docs, "Deployment"))["GITLAB_FERRY_NAMESPACES"] == "team-a,team-b"


@pytest.mark.parametrize("namespaces", [[], ["team-a", "team-b"]], ids=["cluster", "namespaced"])
def test_render_with_every_optional_part(namespaces: list[str]) -> None:
    values = {**ALL_OPTIONAL, "watchNamespaces": namespaces}
    _, docs = render(values, api_versions=OPTIONAL_APIS)
    kinds = set(_kinds(docs))
    assert {"ServiceMonitor", "PrometheusRule", "ConfigMap"} <= kinds
    assert len(by_kind(docs, "ConfigMap")) == 2
    peering = by_kind(docs, "KopfPeering" if namespaces else "ClusterKopfPeering")
    assert len(peering) == max(1, len(namespaces))
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    assert "--peering=gitlab-ferry" in _container(deployment)["args"]
    monitor = one(docs, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    # Without the APIs the guarded objects are left out, even when enabled.
    _, bare = render(values)
    assert not {"ServiceMonitor", "PrometheusRule", "KopfPeering", "ClusterKopfPeering"} & set(
        _kinds(bare)
    )


def test_embedded_files_are_the_chart_files() -> None:
    _, docs = render(ALL_OPTIONAL, api_versions=OPTIONAL_APIS)
    maps = {doc["metadata"]["name"]: doc for doc in by_kind(docs, "ConfigMap")}
    dashboard = maps["ferry-gitlab-ferry-dashboard"]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    source = (CHART / "files" / "grafana-dashboard.json").read_text()
    assert json.loads(dashboard["data"]["gitlab-ferry.json"]) == json.loads(source)
    rules = yaml.safe_load((CHART / "files" / "prometheus-rules.yaml").read_text())
    assert one(docs, "PrometheusRule")["spec"]["groups"] == rules["groups"]
    script = (CHART / "files" / "argocd" / "health.lua").read_text().rstrip("\n")
    health = maps["ferry-gitlab-ferry-argocd-health"]["data"]
    assert health == {
        "resource.customizations.health.gitlabferry.dev_ProjectExport": script,
        "resource.customizations.health.gitlabferry.dev_ProjectImport": script,
        "resource.customizations.health.gitlabferry.dev_GroupMigration": script,
    }


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def _env(deployment: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item.get("value", "") for item in _container(deployment)["env"]}


def test_pod_wiring_probes_service_and_security() -> None:
    _, docs = render(ALL_OPTIONAL, api_versions=OPTIONAL_APIS)
    deployment, service = one(docs, "Deployment"), one(docs, "Service")
    pod = deployment["spec"]["template"]
    container = _container(deployment)
    port = container["ports"][0]
    assert port["name"] == "metrics"
    assert port["containerPort"] == 8080
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert container["args"][0] == "run"
    # The Service selects the pod; the ServiceMonitor selects the Service's named port.
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    monitor = one(docs, "ServiceMonitor")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    # Restricted pod security, a writable /tmp, limits, and time to shut down gracefully.
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert {"requests", "limits"} <= set(container["resources"])
    assert pod["spec"]["terminationGracePeriodSeconds"] >= 45


def test_operator_settings_reach_the_operator(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every GITLAB_FERRY_* variable the chart sets is a real setting, and the operator's own
    Settings parse the rendered values (extraEnv, added last, overrides the chart's)."""
    values = {
        "watchNamespaces": ["team-a", "team-b"],
        "operator": {
            "allowedHosts": ["gitlab.example.com", "gitlab.internal:8443"],
            "logLevel": "DEBUG",
            "rateLimits": {"export": 1000000, "import": 12, "margin": 2.5, "groupImport": 3},
            "polling": {"initial": 0.5},
            "recheckInterval": 86400,
            "exportAcceptanceGrace": 600,
        },
        "extraEnv": [{"name": "GITLAB_FERRY_HTTP_TIMEOUT", "value": "45"}],
    }
    _, docs = render(values)
    env = _container(one(docs, "Deployment"))["env"]
    fields = {name.upper() for name in Settings.model_fields}
    for item in env:
        assert item["name"].removeprefix("GITLAB_FERRY_") in fields, item["name"]
        monkeypatch.setenv(item["name"], item["value"])
    settings = Settings()
    assert settings.namespaces == ["team-a", "team-b"]
    assert settings.allowed_hosts == ["gitlab.example.com", "gitlab.internal:8443"]
    assert settings.log_level == "DEBUG"
    assert settings.export_limit == 1000000
    assert settings.import_limit == 12
    assert settings.group_import_limit == 3
    assert settings.group_download_limit == 1
    assert settings.rate_limit_margin == 2.5
    assert settings.poll_initial == 0.5
    assert settings.recheck_interval == 86400
    assert settings.export_acceptance_grace == 600
    assert settings.http_timeout == 45
    assert settings.metrics_port == 8080


# -- against the API server -----------------------------------------------------------------------


def _dry_run(kubectl: Kubectl, manifest: str) -> subprocess.CompletedProcess[str]:
    result = kubectl("apply", "--dry-run=server", "-f", "-", input=manifest, check=False)
    assert result.returncode == 0, f"server-side dry-run refused:\n{result.stderr}"
    return result


@pytest.mark.parametrize("mode", ["cluster", "namespaced"])
def test_rendered_manifests_pass_server_side_dry_run(
    mode: str, namespace: str, other_namespace: str, kubectl: Kubectl, crds: list[str]
) -> None:
    install_support_crds(kubectl)
    kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/warn=restricted")
    release = f"r{secrets.token_hex(3)}"
    values = {
        **ALL_OPTIONAL,
        "watchNamespaces": [namespace, other_namespace] if mode == "namespaced" else [],
    }
    manifest, docs = render(
        values,
        release=release,
        namespace=namespace,
        api_versions=OPTIONAL_APIS,
        extra=["--include-crds"],
    )
    result = _dry_run(kubectl, manifest)
    applied = [line for line in result.stdout.splitlines() if "(server dry run)" in line]
    assert len(applied) == len(docs), result.stdout
    assert "PodSecurity" not in result.stderr, result.stderr
    assert "unknown field" not in result.stderr, result.stderr


def test_pod_is_admitted_under_restricted_pod_security(namespace: str, kubectl: Kubectl) -> None:
    """The Deployment's pod template, created as a Pod in a namespace that enforces the
    "restricted" standard, is admitted; a weakened copy is refused (the check is live)."""
    kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    _, docs = render(namespace=namespace)
    template_spec = one(docs, "Deployment")["spec"]["template"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "gitlab-ferry-psa", "namespace": namespace},
        "spec": template_spec["spec"],
    }
    accepted = kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(pod), check=False)
    assert accepted.returncode == 0, accepted.stderr
    weakened = json.loads(json.dumps(pod))
    weakened["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    refused = kubectl(
        "create", "--dry-run=server", "-f", "-", input=json.dumps(weakened), check=False
    )
    assert refused.returncode != 0
    assert "violates PodSecurity" in refused.stderr


def test_argocd_health_configmap_merges_into_argocd_cm(namespace: str, kubectl: Kubectl) -> None:
    """The README's command copies the chart's health checks into argocd-cm."""
    release = f"r{secrets.token_hex(3)}"
    argocd_cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "argocd-cm", "namespace": namespace},
        "data": {"url": "https://argocd.example.com"},
    }
    kubectl("apply", "-f", "-", input=json.dumps(argocd_cm))
    manifest, docs = render(
        {"argocd": {"healthChecks": {"enabled": True}}},
        release=release,
        namespace=namespace,
        extra=["--show-only", "templates/argocd-health.yaml"],
    )
    kubectl("apply", "-f", "-", input=manifest)
    name = docs[0]["metadata"]["name"]
    data = kubectl("get", "configmap", name, "-n", namespace, "-o", "jsonpath={.data}").stdout
    kubectl(
        "patch",
        "configmap",
        "argocd-cm",
        "-n",
        namespace,
        "--type",
        "merge",
        "--patch",
        '{"data": ' + data + "}",
    )
    merged = json.loads(
        kubectl("get", "configmap", "argocd-cm", "-n", namespace, "-o", "json").stdout
    )["data"]
    script = (CHART / "files" / "argocd" / "health.lua").read_text().rstrip("\n")
    assert merged["url"] == "https://argocd.example.com"
    assert merged["resource.customizations.health.gitlabferry.dev_ProjectExport"] == script
    assert merged["resource.customizations.health.gitlabferry.dev_ProjectImport"] == script


def test_helm_install_dry_run_against_the_cluster(
    namespace: str, kube: Any, kubectl: Kubectl, crds: list[str]
) -> None:
    """``helm install --dry-run=server`` takes the Kubernetes version and the optional APIs
    from the cluster itself (as Argo CD does), and the NOTES render."""
    install_support_crds(kubectl)
    values = {**ALL_OPTIONAL, "operator": {"allowedHosts": ["gitlab.example.com"]}}
    result = helm(
        "install",
        "ferry",
        str(CHART),
        "--dry-run=server",
        "--kubeconfig",
        str(kube.kubeconfig),
        "--namespace",
        namespace,
        "--values",
        "-",
        stdin=json.dumps(values),
    )
    assert result.returncode == 0, result.stderr
    manifest, notes = result.stdout.split("\nNOTES:\n", 1)
    kinds = {doc["kind"] for doc in yaml.safe_load_all(manifest.split("\n---\n", 1)[1]) if doc}
    assert {"ServiceMonitor", "PrometheusRule", "ClusterKopfPeering"} <= kinds
    assert f"is installed as release ferry in namespace {namespace}" in notes
    assert "It watches every namespace, with kopf peering" in notes
    assert "GitLab hosts allowed: gitlab.example.com" in notes
    assert "argocd patch configmap argocd-cm" in notes
    assert "WARNING" not in notes
