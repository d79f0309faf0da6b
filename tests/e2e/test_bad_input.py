"""Bad input at run time that the other tests do not cover: a token without the api scope,
GitLab bodies that are not JSON, and GitLab's cap of 100 failed relations. Each gives a clear
condition, no crash loop, and recovers once fixed."""

from __future__ import annotations

import yaml
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
from reliability_e2e import report

FAST = ("--export-queue-delay", "0.5", "--export-duration", "1", "--import-duration", "1")


def _reason(reason):
    return lambda obj: condition(obj).get("reason") == reason


def test_token_without_api_scope_is_forbidden(
    namespace, core_v1, custom_objects, simulators, operators, tmp_path
):
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        yaml.safe_dump(
            {
                "users": [
                    {"username": "root", "token": "glpat-root-token", "admin": True},
                    {"username": "reader", "token": "glpat-reader", "scopes": ["read_api"]},
                ],
                "groups": [
                    {"path": "team", "members": [{"user": "reader", "access_level": "maintainer"}]}
                ],
                "projects": [{"path_with_namespace": "team/app", "owner": "root"}],
            }
        )
    )
    gitlab = simulators(*FAST, seed=str(seed))
    # A Maintainer's token with read_api only: GETs work, the export request does not.
    token_secret(core_v1, namespace, "gitlab-token", {"token": "glpat-reader"})
    operator = operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": gitlab.host})
    create(custom_objects, EXPORTS, namespace, export_object("e", gitlab.url, "team/app"))
    obj = wait_object(
        custom_objects, EXPORTS, namespace, "e", _reason("Forbidden"), timeout=30, what="Forbidden"
    )
    assert "insufficient_scope" in condition(obj)["message"]
    assert condition(obj, "Stalled")["status"] == "True"
    assert operator.running
    core_v1.patch_namespaced_secret(
        "gitlab-token", namespace, {"stringData": {"token": "glpat-root-token"}}
    )
    wait_object(
        custom_objects, EXPORTS, namespace, "e", _reason("Finished"),
        timeout=60, what="recovery once the Secret holds a token with the api scope",
    )  # fmt: skip


def test_html_and_non_json_answers_are_reported_then_recovered(
    namespace, core_v1, custom_objects, simulators, operators
):
    gitlab = simulators(*FAST)
    token_secret(core_v1, namespace, "gitlab-token", {"token": "glpat-root-token"})
    gitlab.control(
        "PUT", "/faults", json={"rules": [{"endpoint": "export_status", "kind": "html"}]}
    )
    operator = operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": gitlab.host})
    create(custom_objects, EXPORTS, namespace, export_object("e", gitlab.url, "gitlab-org/docs"))
    obj = wait_object(
        custom_objects, EXPORTS, namespace, "e", _reason("GitLabUnavailable"),
        timeout=30, what="GitLabUnavailable",
    )  # fmt: skip
    assert "HTML error page" in condition(obj)["message"]
    assert condition(obj, "Reconciling")["status"] == "True"
    assert operator.running
    gitlab.control("DELETE", "/faults")
    wait_object(
        custom_objects, EXPORTS, namespace, "e", _reason("Finished"),
        timeout=60, what="recovery once GitLab answers JSON again",
    )  # fmt: skip


def test_a_hundred_failed_relations(
    namespace, core_v1, custom_objects, simulators, operators, tmp_path
):
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        yaml.safe_dump(
            {
                "users": [{"username": "root", "token": "glpat-root-token", "admin": True}],
                "groups": [{"path": "legacy"}],
                "projects": [
                    {
                        "path_with_namespace": "legacy/tracker",
                        "owner": "root",
                        "relations": {"issues": 200},
                        "invalid_issues": 150,
                    }
                ],
            }
        )
    )
    source = simulators(*FAST, seed=str(seed))
    destination = simulators(*FAST, seed="empty")
    for name in ("gitlab-token", "destination-token"):
        token_secret(core_v1, namespace, name, {"token": "glpat-root-token"})
    operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": f"{source.host},{destination.host}"})
    create(custom_objects, EXPORTS, namespace, export_object("t", source.url, "legacy/tracker"))
    create(
        custom_objects, IMPORTS, namespace,
        import_object("t", destination.url, "tracker", {"exportRef": {"name": "t"}},
                      namespacePath="gitlab-org"),
    )  # fmt: skip
    obj = wait_object(
        custom_objects, IMPORTS, namespace, "t", _reason("FinishedWithFailedRelations"),
        timeout=90, what="FinishedWithFailedRelations",
    )  # fmt: skip
    failed = obj["status"]["failedRelations"]
    report("bad-input", {"failed_relations_reported": len(failed), "invalid_records": 150})
    assert len(failed) == 100, "GitLab caps failed_relations at 100; all of them are shown"
    assert {f["relationName"] for f in failed} == {"issues"}
    assert all(f["exceptionMessage"] is None for f in failed)
    assert all(isinstance(f["lineNumber"], int) for f in failed)
    assert "100 relation record(s) failed" in condition(obj)["message"]
