"""What a ProjectExport shows when it cannot proceed, and that it recovers by itself or with a
spec fix: a missing Secret, a wrong token, an unknown project, suspension, an export request
lost behind a proxy. And ``gitlab-ferry plan`` shows the next action without taking it."""

from __future__ import annotations

import subprocess
import sys

import yaml
from ferry_e2e import (
    EXPORTS,
    condition,
    create,
    events_of,
    export_object,
    token_secret,
    wait_object,
)
from kubernetes import client


def _reason(reason: str):
    return lambda obj: condition(obj).get("reason") == reason


def _patch_spec(api: client.CustomObjectsApi, namespace: str, name: str, spec: dict) -> None:
    api.patch_namespaced_custom_object(
        "gitlabferry.dev", "v1alpha1", namespace, EXPORTS, name, {"spec": spec}
    )


def test_missing_secret_then_recovery(namespace, core_v1, custom_objects, simulators, operators):
    gitlab = simulators("--export-queue-delay", "0.5", "--export-duration", "1")
    operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": gitlab.host})
    create(custom_objects, EXPORTS, namespace, export_object("e", gitlab.url, "gitlab-org/docs"))
    obj = wait_object(
        custom_objects,
        EXPORTS,
        namespace,
        "e",
        _reason("SecretMissing"),
        timeout=30,
        what="SecretMissing",
    )
    assert "gitlab-token" in condition(obj)["message"]
    assert condition(obj, "Reconciling").get("status") == "True"  # time fixes it, not stalled
    token_secret(core_v1, namespace, "gitlab-token", {"token": "glpat-root-token"})
    wait_object(
        custom_objects,
        EXPORTS,
        namespace,
        "e",
        _reason("Finished"),
        timeout=60,
        what="recovery once the Secret exists",
    )
    assert not [r for r in gitlab.requests() if r["status"] == 401]


def test_wrong_token_is_unauthorized_until_fixed(
    namespace, core_v1, custom_objects, simulators, operators
):
    gitlab = simulators("--export-queue-delay", "0.5", "--export-duration", "1")
    token_secret(core_v1, namespace, "gitlab-token", {"token": "glpat-not-a-token"})
    token_secret(core_v1, namespace, "good-token", {"token": "glpat-root-token"})
    operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": gitlab.host})
    create(custom_objects, EXPORTS, namespace, export_object("e", gitlab.url, "gitlab-org/docs"))
    obj = wait_object(
        custom_objects,
        EXPORTS,
        namespace,
        "e",
        _reason("Unauthorized"),
        timeout=30,
        what="Unauthorized",
    )
    assert condition(obj, "Stalled").get("status") == "True"
    assert "glpat-not-a-token" not in str(obj) + str(events_of(core_v1, namespace, "e"))
    _patch_spec(
        custom_objects, namespace, "e", {"gitlab": {"tokenSecretRef": {"name": "good-token"}}}
    )
    wait_object(
        custom_objects,
        EXPORTS,
        namespace,
        "e",
        _reason("Finished"),
        timeout=60,
        what="recovery after the spec names a good token",
    )


def test_unknown_project_then_spec_fix(namespace, core_v1, custom_objects, simulators, operators):
    gitlab = simulators("--export-queue-delay", "0.5", "--export-duration", "1")
    token_secret(core_v1, namespace, "gitlab-token", {"token": "glpat-root-token"})
    operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": gitlab.host})
    create(custom_objects, EXPORTS, namespace, export_object("e", gitlab.url, "gitlab-org/nope"))
    obj = wait_object(
        custom_objects,
        EXPORTS,
        namespace,
        "e",
        _reason("ProjectNotFound"),
        timeout=30,
        what="ProjectNotFound",
    )
    assert "404 Project Not Found" in condition(obj)["message"]
    assert obj["status"]["observedGeneration"] == 1
    _patch_spec(custom_objects, namespace, "e", {"project": "gitlab-org/docs"})
    obj = wait_object(
        custom_objects,
        EXPORTS,
        namespace,
        "e",
        _reason("Finished"),
        timeout=60,
        what="recovery after the project is corrected",
    )
    assert obj["status"]["observedGeneration"] == 2


def test_lost_export_request_is_repeated_after_the_acceptance_grace(
    namespace, core_v1, custom_objects, simulators, operators
):
    """A proxy's 502 leaves open whether GitLab got the request: the operator waits the grace
    for the export to appear, and only then asks again."""
    grace = 4.0
    gitlab = simulators("--export-queue-delay", "0.5", "--export-duration", "1")
    gitlab.control(
        "PUT", "/faults", json={"rules": [{"endpoint": "export", "kind": "html", "count": 1}]}
    )
    token_secret(core_v1, namespace, "gitlab-token", {"token": "glpat-root-token"})
    operators(
        [namespace],
        {
            "GITLAB_FERRY_ALLOWED_HOSTS": gitlab.host,
            "GITLAB_FERRY_EXPORT_ACCEPTANCE_GRACE": str(grace),
        },
    )
    create(custom_objects, EXPORTS, namespace, export_object("e", gitlab.url, "gitlab-org/docs"))
    wait_object(
        custom_objects, EXPORTS, namespace, "e",
        lambda obj: "has not queued it yet" in condition(obj).get("message", ""),
        timeout=30, what="the wait for the lost request to show up",
    )  # fmt: skip
    wait_object(
        custom_objects, EXPORTS, namespace, "e", _reason("Finished"),
        timeout=60, what="the repeated request to finish",
    )  # fmt: skip
    posts = [r for r in gitlab.requests("export") if r["method"] == "POST"]
    assert [r["status"] for r in posts] == [502, 202], posts
    # Status times are whole seconds, so the grace can end up to a second early.
    assert posts[1]["time"] - posts[0]["time"] >= grace - 1, posts


def test_suspended_export_makes_no_calls(namespace, core_v1, custom_objects, simulators, operators):
    gitlab = simulators("--export-queue-delay", "0.5", "--export-duration", "1")
    token_secret(core_v1, namespace, "gitlab-token", {"token": "glpat-root-token"})
    operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": gitlab.host})
    create(
        custom_objects,
        EXPORTS,
        namespace,
        export_object("e", gitlab.url, "gitlab-org/docs", suspend=True),
    )
    obj = wait_object(
        custom_objects,
        EXPORTS,
        namespace,
        "e",
        _reason("Suspended"),
        timeout=30,
        what="Suspended",
    )
    assert "Reconciling" not in {c["type"] for c in obj["status"]["conditions"]}
    assert [r for r in gitlab.requests() if r["method"] == "POST"] == []
    _patch_spec(custom_objects, namespace, "e", {"suspend": False})
    wait_object(
        custom_objects,
        EXPORTS,
        namespace,
        "e",
        _reason("Finished"),
        timeout=60,
        what="the export once resumed",
    )


def test_plan_shows_the_next_action_and_changes_nothing(
    namespace, core_v1, kube, crds, simulators, tmp_path
):
    gitlab = simulators()
    token_secret(core_v1, namespace, "gitlab-token", {"token": "glpat-root-token"})
    manifest = export_object("preview", gitlab.url, "gitlab-org/gitlab-test")
    manifest["metadata"]["namespace"] = namespace
    path = tmp_path / "export.yaml"
    path.write_text(yaml.safe_dump(manifest))
    result = subprocess.run(
        [sys.executable, "-m", "gitlab_ferry", "plan", "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "KUBECONFIG": str(kube.kubeconfig),
            "GITLAB_FERRY_ALLOWED_HOSTS": gitlab.host,
            "PATH": "/usr/bin:/bin",
        },
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"ProjectExport {namespace}/preview (not in the cluster yet)" in out
    assert "GitLab 18.7.0 export_status=none" in out
    assert "RequestExport" in out
    assert "Ready=False (Scheduled)" in out
    log = gitlab.requests()
    # Reads only: the GitLab version, then the export status.
    assert [(r["method"], r["endpoint"]) for r in log] == [
        ("GET", "version"),
        ("GET", "export_status"),
    ], log
