"""Helpers the Helm chart's end-to-end tests share: the helm binary, rendering the chart with
values, reading the rendered documents and RBAC rules, and minimal CRDs for the optional APIs
the chart's guarded templates target (prometheus-operator, kopf peering).

helm is found on PATH or where ``tools/install-helm.sh`` builds it; without it the tests skip,
but fail with ``CI=true``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "gitlab-ferry"
#: helm built from Go modules without helm's version ldflags assumes Kubernetes 1.20, which the
#: chart's kubeVersion refuses; the tests name the control plane's version instead.
KUBE_VERSION = "1.33.0"
MONITORING_APIS = (
    "monitoring.coreos.com/v1/ServiceMonitor",
    "monitoring.coreos.com/v1/PrometheusRule",
)
PEERING_APIS = ("kopf.dev/v1/KopfPeering", "kopf.dev/v1/ClusterKopfPeering")
#: Every optional part of the chart switched on.
ALL_OPTIONAL: dict[str, Any] = {
    "metrics": {
        "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
        "prometheusRule": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
    },
    "grafanaDashboard": {"enabled": True},
    "argocd": {"healthChecks": {"enabled": True}},
    "peering": {"enabled": True},
    "replicaCount": 2,
    "extraEnv": [{"name": "GITLAB_FERRY_HTTP_TIMEOUT", "value": "45"}],
}


def _cache_dir() -> Path:
    if cache := os.environ.get("GITLAB_FERRY_CACHE"):
        return Path(cache)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gitlab-ferry"


def helm_binary() -> str:
    found = shutil.which("helm") or str(_cache_dir() / "bin" / "helm")
    if not os.access(found, os.X_OK):
        reason = "helm is not installed (make helm, i.e. tools/install-helm.sh)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    return found


def helm(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run helm; the caller checks the return code (several tests expect refusals)."""
    return subprocess.run(
        [helm_binary(), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def template(
    values: Mapping[str, Any] | None = None,
    *,
    release: str = "ferry",
    namespace: str = "gitlab-ferry",
    api_versions: Iterable[str] = (),
    extra: Iterable[str] = (),
) -> subprocess.CompletedProcess[str]:
    """``helm template`` of the chart with ``values`` (as a values file on stdin)."""
    args = ["template", release, str(CHART), "--namespace", namespace]
    args += ["--kube-version", KUBE_VERSION, "--values", "-"]
    for api in api_versions:
        args += ["--api-versions", api]
    return helm(*args, *extra, stdin=json.dumps(dict(values or {})))


def render(
    values: Mapping[str, Any] | None = None, **kwargs: Any
) -> tuple[str, list[dict[str, Any]]]:
    """The rendered manifest and its documents; fails the test if helm refuses."""
    result = template(values, **kwargs)
    assert result.returncode == 0, f"helm template failed:\n{result.stderr}"
    docs = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return result.stdout, docs


def by_kind(docs: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def one(docs: Iterable[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = by_kind(docs, kind)
    assert len(found) == 1, f"{len(found)} {kind} objects"
    return found[0]


class Rule(NamedTuple):
    """One granted verb: where (a namespace, or "cluster"), API group, resource, verb."""

    scope: str
    group: str
    resource: str
    verb: str


def granted(docs: Iterable[dict[str, Any]], subject: str) -> set[Rule]:
    """Every (scope, group, resource, verb) the chart grants the ServiceAccount ``subject``
    through its bindings, expanded rule by rule, so nothing hides in a list."""
    docs = list(docs)
    roles = {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d for d in docs}
    result: set[Rule] = set()
    for binding in by_kind(docs, "ClusterRoleBinding") + by_kind(docs, "RoleBinding"):
        if not any(
            s["kind"] == "ServiceAccount" and s["name"] == subject for s in binding["subjects"]
        ):
            continue
        ref = binding["roleRef"]
        namespace = binding["metadata"].get("namespace")
        role = roles[(ref["kind"], namespace if ref["kind"] == "Role" else None, ref["name"])]
        scope = namespace or "cluster"
        for rule in role["rules"]:
            assert not rule.get("resourceNames"), rule
            assert not rule.get("nonResourceURLs"), rule
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for verb in rule["verbs"]:
                        assert "*" not in (group, resource, verb), rule
                        result.add(Rule(scope, group, resource, verb))
    return result


def table(scope: str, rows: Mapping[tuple[str, str], str]) -> set[Rule]:
    """Expand ``{(group, resource): "verb verb"}`` into rules in ``scope``."""
    return {
        Rule(scope, group, resource, verb)
        for (group, resource), verbs in rows.items()
        for verb in verbs.split()
    }


def minimal_crd(group: str, kind: str, plural: str, scope: str = "Namespaced") -> dict[str, Any]:
    """A CRD that accepts any object of the kind: enough to validate the chart's objects
    without installing prometheus-operator or kopf's own CRDs."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}", "labels": {"gitlabferry.dev/test": "e2e"}},
        "spec": {
            "group": group,
            "scope": scope,
            "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }


SUPPORT_CRDS = [
    minimal_crd("monitoring.coreos.com", "ServiceMonitor", "servicemonitors"),
    minimal_crd("monitoring.coreos.com", "PrometheusRule", "prometheusrules"),
    minimal_crd("kopf.dev", "KopfPeering", "kopfpeerings"),
    minimal_crd("kopf.dev", "ClusterKopfPeering", "clusterkopfpeerings", scope="Cluster"),
]


def install_support_crds(kubectl: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    """Apply the minimal ServiceMonitor, PrometheusRule and kopf peering CRDs (idempotent)."""
    body = "\n---\n".join(json.dumps(crd) for crd in SUPPORT_CRDS)
    kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=body)
    names = [f"crd/{crd['metadata']['name']}" for crd in SUPPORT_CRDS]
    kubectl("wait", "--for=condition=Established", "--timeout=60s", *names)
