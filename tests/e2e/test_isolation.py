"""Tenant isolation and SSRF: Secret references resolve only in the object's own namespace,
``GITLAB_FERRY_ALLOWED_HOSTS`` limits the hosts objects may name, and by default the operator
refuses loopback, link-local and cloud-metadata addresses for every URL it connects to."""

from __future__ import annotations

import pytest
from ferry_e2e import (
    EXPORTS,
    IMPORTS,
    condition,
    create,
    export_object,
    import_object,
    token_secret,
    wait_object,
)
from kubernetes import client
from reliability_e2e import report


def _reason(reason):
    return lambda obj: condition(obj).get("reason") == reason


def test_secrets_resolve_only_in_the_objects_namespace(
    namespace, core_v1, custom_objects, simulators, operators
):
    gitlab = simulators()
    other = f"{namespace}-other"
    core_v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=other)))
    # The token exists, but in another tenant's namespace.
    token_secret(core_v1, other, "gitlab-token", {"token": "glpat-root-token"})
    operators([namespace, other], {"GITLAB_FERRY_ALLOWED_HOSTS": gitlab.host})
    create(custom_objects, EXPORTS, namespace, export_object("e", gitlab.url, "gitlab-org/docs"))
    obj = wait_object(
        custom_objects, EXPORTS, namespace, "e", _reason("SecretMissing"),
        timeout=30, what="SecretMissing",
    )  # fmt: skip
    assert f"Secret {namespace}/gitlab-token does not exist" in condition(obj)["message"]
    assert gitlab.requests() == [], "no GitLab call without the object's own Secret"


REFUSED_BY_DEFAULT = [
    pytest.param("http://127.0.0.1:{port}", "a loopback address", id="loopback"),
    pytest.param("http://localhost:{port}", "a loopback address", id="localhost"),
    pytest.param("http://[::1]:{port}", "a loopback address", id="ipv6-loopback"),
    pytest.param("http://169.254.10.20", "a link-local address", id="link-local"),
    pytest.param("http://169.254.169.254", "a cloud metadata address", id="aws-metadata"),
    pytest.param("http://metadata.google.internal", "a cloud metadata host", id="gcp-metadata"),
    pytest.param("http://0.0.0.0:{port}", "an unspecified address", id="unspecified"),
]


@pytest.mark.parametrize(("url", "why"), REFUSED_BY_DEFAULT)
def test_default_policy_refuses_internal_addresses(
    namespace, core_v1, custom_objects, simulators, operators, url, why
):
    gitlab = simulators()
    port = gitlab.host.rsplit(":", 1)[1]
    token_secret(core_v1, namespace, "gitlab-token", {"token": "glpat-root-token"})
    operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": ""})
    create(
        custom_objects, EXPORTS, namespace,
        export_object("e", url.format(port=port), "gitlab-org/docs"),
    )  # fmt: skip
    obj = wait_object(
        custom_objects, EXPORTS, namespace, "e", _reason("HostNotAllowed"),
        timeout=30, what="HostNotAllowed",
    )  # fmt: skip
    assert why in condition(obj)["message"]
    assert "GITLAB_FERRY_ALLOWED_HOSTS" in condition(obj)["message"]
    assert gitlab.requests() == []


def test_allowed_hosts_admit_only_the_listed_hosts(
    namespace, core_v1, custom_objects, simulators, operators
):
    listed, unlisted = simulators(), simulators()
    token_secret(core_v1, namespace, "gitlab-token", {"token": "glpat-root-token"})
    operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": listed.host})
    create(custom_objects, EXPORTS, namespace, export_object("ok", listed.url, "gitlab-org/docs"))
    create(custom_objects, EXPORTS, namespace, export_object("no", unlisted.url, "gitlab-org/docs"))
    obj = wait_object(
        custom_objects, EXPORTS, namespace, "no", _reason("HostNotAllowed"),
        timeout=30, what="HostNotAllowed",
    )  # fmt: skip
    assert "not in the operator's allowed hosts" in condition(obj)["message"]
    wait_object(
        custom_objects, EXPORTS, namespace, "ok", lambda o: condition(o).get("reason") in (
            "Scheduled", "Exporting", "Finished"),
        timeout=30, what="the listed host to be used",
    )  # fmt: skip
    assert unlisted.requests() == []
    assert listed.requests("export_status")


def test_archives_the_operator_fetches_are_checked_too(
    namespace, core_v1, custom_objects, simulators, operators
):
    """A relation re-import makes the operator download the archive itself: a URL source on a
    loopback address is refused although the destination GitLab is allowed."""
    destination = simulators()
    token_secret(core_v1, namespace, "destination-token", {"token": "glpat-root-token"})
    operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": destination.host})
    create(
        custom_objects, IMPORTS, namespace,
        import_object(
            "again", destination.url, "gitlab-test",
            {"url": "https://127.0.0.1:9/gitlab-test.tar.gz"},
            namespacePath="gitlab-org", relations=["issues"],
        ),
    )  # fmt: skip
    obj = wait_object(
        custom_objects, IMPORTS, namespace, "again", _reason("HostNotAllowed"),
        timeout=30, what="HostNotAllowed for the archive URL",
    )  # fmt: skip
    assert "127.0.0.1" in condition(obj)["message"]
    assert not [r for r in destination.requests() if r["method"] == "POST"]
    report("isolation", {"refusals_tested": len(REFUSED_BY_DEFAULT) + 3})
