"""The chart's RBAC is sufficient and no wider than the table below.

The chart's ServiceAccount and RBAC (rendered by ``helm template``) are applied for real; the
operator then runs with a token of that ServiceAccount (``kubectl create token``) against the
API server, which authorizes with RBAC, and completes a ProjectExport and a ProjectImport
(``exportRef``, streamed from the source GitLab) against two simulated GitLabs: in the
namespaced mode (a Role per watched namespace) and in the cluster-wide mode. The rendered rules
are compared with explicit tables, so any widening shows in review, and the account is shown
to be refused what it must not do.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_e2e import Rule, granted, render, table
from ferry_e2e import (
    EXPORTS,
    IMPORTS,
    OperatorProcess,
    condition,
    create,
    export_object,
    import_object,
    token_secret,
    wait_object,
)
from tests.support.processes import ROOT_TOKEN

# -- what the operator may do ---------------------------------------------------------------------

#: In every watched namespace (a Role there, or the ClusterRole cluster-wide).
NAMESPACED = {
    # kopf lists/watches; patches its finalizer and kopf.gitlabferry.dev/* annotations;
    # imports read their exportRef export; a GroupMigration creates and adopts its children.
    ("gitlabferry.dev", "projectexports"): "get list watch patch create",
    ("gitlabferry.dev", "projectimports"): "list watch patch create",
    ("gitlabferry.dev", "groupmigrations"): "list watch patch",
    # Status is written through the status subresource with a merge patch.
    ("gitlabferry.dev", "projectexports/status"): "patch",
    ("gitlabferry.dev", "projectimports/status"): "patch",
    ("gitlabferry.dev", "groupmigrations/status"): "patch",
    # Children name their GroupMigration as owner with blockOwnerDeletion.
    ("gitlabferry.dev", "groupmigrations/finalizers"): "update",
    # Tokens, CA bundles, upload URLs and S3 credentials, by name.
    ("", "secrets"): "get",
    # Plans and kopf's warnings.
    ("", "events"): "create",
}
#: kopf scans and watches CRDs in both modes.
CRDS = {("apiextensions.k8s.io", "customresourcedefinitions"): "list watch"}
#: A namespaced kopf operator also watches namespaces (a cluster-wide one does not).
NAMESPACES = {("", "namespaces"): "list watch"}
PEERING_VERBS = "get list watch patch"
#: How the API server words an RBAC refusal, and how kopf reports one it tolerates.
RBAC_DENIAL = re.compile(
    r'User "system:serviceaccount:[^"]+" cannot [^"\n]*|Not enough permissions[^\n]*'
)


def expected(mode: str, namespaces: list[str], peering: bool = False) -> set[Rule]:
    if mode == "cluster":
        rules = table("cluster", NAMESPACED | CRDS)
        if peering:
            rules |= table("cluster", {("kopf.dev", "clusterkopfpeerings"): PEERING_VERBS})
        return rules
    rules = table("cluster", CRDS | NAMESPACES)
    for namespace in namespaces:
        rules |= table(namespace, NAMESPACED)
        if peering:
            rules |= table(namespace, {("kopf.dev", "kopfpeerings"): PEERING_VERBS})
    return rules


def _values(mode: str, namespaces: list[str]) -> dict[str, Any]:
    return {"watchNamespaces": namespaces if mode == "namespaced" else []}


RBAC_ONLY = ["--show-only", "templates/serviceaccount.yaml", "--show-only", "templates/rbac.yaml"]


@pytest.mark.parametrize("peering", [False, True], ids=["standalone", "peering"])
@pytest.mark.parametrize("mode", ["cluster", "namespaced"])
def test_rendered_rules_are_exactly_the_table(mode: str, peering: bool) -> None:
    namespaces = ["team-a", "team-b"]
    values = {**_values(mode, namespaces), "peering": {"enabled": peering}}
    _, docs = render(values, release="ferry", namespace="ops", extra=RBAC_ONLY)
    assert granted(docs, "ferry-gitlab-ferry") == expected(mode, namespaces, peering)
    # The bindings name the chart's ServiceAccount, in the release namespace, and nothing else.
    for doc in docs:
        for subject in doc.get("subjects", []):
            assert subject == {
                "kind": "ServiceAccount",
                "name": "ferry-gitlab-ferry",
                "namespace": "ops",
            }


# -- the operator under these rules ---------------------------------------------------------------

FAST_JOBS = (
    "--export-queue-delay",
    "0.5",
    "--export-duration",
    "1",
    "--import-queue-delay",
    "0.5",
    "--import-duration",
    "1",
)


class Account:
    """The chart's ServiceAccount, applied with its RBAC, and a kubeconfig with its token."""

    def __init__(self, kubeconfig: Path, name: str, namespace: str) -> None:
        self.kubeconfig, self.name, self.namespace = kubeconfig, name, namespace

    def kubectl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["kubectl", f"--kubeconfig={self.kubeconfig}", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def can(self, verb: str, resource: str, *args: str) -> bool:
        result = self.kubectl("auth", "can-i", verb, resource, *args)
        answer = result.stdout.strip()
        assert answer in ("yes", "no"), result.stdout + result.stderr
        return answer == "yes"


def _token_kubeconfig(admin: Path, token: str, path: Path) -> Path:
    """A kubeconfig for the same API server that authenticates with ``token`` only."""
    config = yaml.safe_load(admin.read_text())
    context = next(c for c in config["contexts"] if c["name"] == config["current-context"])
    cluster = next(c for c in config["clusters"] if c["name"] == context["context"]["cluster"])
    server = dict(cluster["cluster"])
    if "certificate-authority" in server:
        ca = Path(server.pop("certificate-authority")).read_bytes()
        server["certificate-authority-data"] = base64.b64encode(ca).decode()
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "test", "cluster": server}],
                "users": [{"name": "operator", "user": {"token": token}}],
                "contexts": [
                    {"name": "operator", "context": {"cluster": "test", "user": "operator"}}
                ],
                "current-context": "operator",
            }
        )
    )
    path.chmod(0o600)
    return path


@pytest.fixture
def install_rbac(kube, kubectl, namespace, tmp_path) -> Iterator[Any]:
    """Apply the chart's ServiceAccount and RBAC for ``mode``; yield the Account."""
    applied: list[str] = []

    def install(mode: str) -> Account:
        release = f"r{secrets.token_hex(3)}"
        manifest, docs = render(
            _values(mode, [namespace]), release=release, namespace=namespace, extra=RBAC_ONLY
        )
        account = next(d for d in docs if d["kind"] == "ServiceAccount")["metadata"]["name"]
        assert granted(docs, account) == expected(mode, [namespace])
        kubectl("apply", "-f", "-", input=manifest)
        applied.append(manifest)
        token = kubectl("create", "token", account, "-n", namespace, "--duration=2h").stdout.strip()
        config = _token_kubeconfig(kube.kubeconfig, token, tmp_path / f"{release}.kubeconfig")
        return Account(config, account, namespace)

    yield install
    for manifest in applied:  # cluster-scoped objects outlive the test namespace
        kubectl("delete", "--ignore-not-found", "--wait=false", "-f", "-", input=manifest)


@pytest.mark.parametrize("mode", ["namespaced", "cluster"])
def test_operator_completes_export_and_import_as_the_chart_account(
    mode, namespace, crds, core_v1, custom_objects, simulators, install_rbac, tmp_path
):
    account = install_rbac(mode)
    source = simulators(*FAST_JOBS)
    destination = simulators(*FAST_JOBS, seed="empty")
    token_secret(core_v1, namespace, "gitlab-token", {"token": ROOT_TOKEN})
    token_secret(core_v1, namespace, "destination-token", {"token": ROOT_TOKEN})
    operator = OperatorProcess(
        account.kubeconfig,
        [namespace] if mode == "namespaced" else [],
        tmp_path / "operator.log",
        {"GITLAB_FERRY_ALLOWED_HOSTS": f"{source.host},{destination.host}"},
    )
    operator.start()
    try:
        create(
            custom_objects,
            EXPORTS,
            namespace,
            export_object("gitlab-test", source.url, "gitlab-org/gitlab-test"),
        )
        create(
            custom_objects,
            IMPORTS,
            namespace,
            import_object(
                "gitlab-test",
                destination.url,
                "gitlab-test",
                {"exportRef": {"name": "gitlab-test"}},
                namespacePath="gitlab-org",
            ),
        )
        finished = wait_object(
            custom_objects,
            IMPORTS,
            namespace,
            "gitlab-test",
            lambda o: condition(o).get("status") == "True",
            timeout=120,
            what="the import to finish",
        )
        exported = wait_object(
            custom_objects,
            EXPORTS,
            namespace,
            "gitlab-test",
            lambda o: condition(o).get("reason") == "Finished",
            timeout=30,
            what="the export to finish",
        )
    finally:
        code = operator.stop()
        log = operator.output()
        # pytest shows captured output only when the test fails.
        print(f"--- operator log (tail) ---\n{log[-8000:]}")
    assert exported["status"]["exportStatus"] == "finished"
    assert finished["status"]["importStatus"] == "finished"
    assert condition(finished)["reason"] in ("Finished", "FinishedWithFailedRelations")
    assert destination.project("gitlab-org/gitlab-test")
    # kopf wrote its finalizer and annotations (patch) and the reconcilers their status.
    assert "gitlabferry.dev/finalizer" in finished["metadata"]["finalizers"]
    assert any(
        key.startswith("kopf.gitlabferry.dev") for key in finished["metadata"]["annotations"]
    )
    # Events were posted as the ServiceAccount.
    events = core_v1.list_namespaced_event(namespace).items
    assert any(e.involved_object.name == "gitlab-test" for e in events)
    # RBAC refused nothing along the way (a cluster-wide operator also meets other tests'
    # leftovers in terminating namespaces: those 403s come from the namespace lifecycle, not
    # from RBAC), and the operator shut down cleanly.
    denied = RBAC_DENIAL.findall(log)
    assert not denied, f"RBAC refused the operator: {denied[:3]}"
    assert code == 0, log[-4000:]
    _refused_what_it_must_not_do(account, mode)


def _refused_what_it_must_not_do(account: Account, mode: str) -> None:
    ns = ["-n", account.namespace]
    # What the table grants works through the bindings ...
    assert account.can("get", "secrets", *ns)
    assert account.can("patch", "projectimports.gitlabferry.dev", "--subresource=status", *ns)
    assert account.can("create", "events", *ns)
    assert account.can("create", "projectimports.gitlabferry.dev", *ns)
    # ... and nothing more.
    refused = [
        ("list", "secrets", *ns),
        ("watch", "secrets", *ns),
        ("list", "secrets", "--all-namespaces"),
        ("delete", "secrets", *ns),
        ("create", "secrets", *ns),
        ("create", "pods", *ns),
        ("create", "pods/exec", *ns),
        ("get", "configmaps", *ns),
        ("delete", "projectexports.gitlabferry.dev", *ns),
        ("delete", "projectimports.gitlabferry.dev", *ns),
        ("create", "groupmigrations.gitlabferry.dev", *ns),
        ("delete", "groupmigrations.gitlabferry.dev", *ns),
        ("update", "groupmigrations.gitlabferry.dev", *ns),
        ("update", "projectimports.gitlabferry.dev", *ns),
        ("get", "projectimports.gitlabferry.dev", "--subresource=status", *ns),
        ("patch", "events", *ns),
        ("delete", "events", *ns),
        ("create", "customresourcedefinitions.apiextensions.k8s.io"),
        ("delete", "customresourcedefinitions.apiextensions.k8s.io"),
        ("create", "clusterrolebindings.rbac.authorization.k8s.io"),
        ("create", "rolebindings.rbac.authorization.k8s.io", *ns),
        ("impersonate", "serviceaccounts", *ns),
        ("create", "serviceaccounts/token", *ns),
        ("create", "leases.coordination.k8s.io", *ns),
    ]
    if mode == "namespaced":
        refused += [
            ("get", "secrets", "-n", "kube-system"),
            ("list", "projectexports.gitlabferry.dev", "--all-namespaces"),
            ("create", "events", "-n", "kube-system"),
        ]
    else:
        refused += [("list", "namespaces")]
    allowed = [args for args in refused if account.can(*args)]
    assert not allowed, f"the operator's account may {json.dumps(allowed)}"
