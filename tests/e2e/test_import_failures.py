"""Every reason a ProjectImport cannot finish shows as a clear Ready condition (reason and
message), and a fix of the spec or of what it names recovers the object: WaitingForExport,
PathTaken (then ``overwrite``), NamespaceNotFound, SecretMissing, Unauthorized, Failed (GitLab's
``import_error`` verbatim), and FinishedWithFailedRelations with every field GitLab gives.
"""

from __future__ import annotations

from typing import Any

import pytest
from ferry_e2e import (
    EXPORTS,
    IMPORTS,
    condition,
    create,
    events_of,
    export_object,
    token_secret,
    wait_object,
)
from import_e2e import (
    FAST_JOBS,
    assert_imported,
    camel,
    deleted,
    gitlab_import_status,
    import_body,
    import_posts,
    live_at,
    patch_spec,
    rewrite_archive,
    seed_project,
    source_archives,
    wait_reason,
)
from tests.support.archives import ArchiveServer
from tests.support.processes import ROOT_TOKEN

from gitlab_ferry.api import parse_timestamp

GITLAB_TEST = "gitlab-org/gitlab-test"
PAGES = "gitlab-org/sub/pages"  # the default seed gives it two invalid issues


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    return source_archives(tmp_path_factory.mktemp("source"), [GITLAB_TEST, PAGES])


@pytest.fixture
def server(tls):
    archives = ArchiveServer(tls)
    yield archives
    archives.close()


@pytest.fixture
def destination(simulators, tls):
    return simulators(*FAST_JOBS, "--ca-file", str(tls[0]), seed="empty")


@pytest.fixture
def start(namespace, core_v1, operators, destination):
    """The destination's token Secret (unless told not to) and an operator."""

    def run(*, token_secret_too: bool = True):
        if token_secret_too:
            token_secret(core_v1, namespace, "destination-token", {"token": ROOT_TOKEN})
        return operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": destination.host})

    return run


def _stalled(obj) -> bool:
    return condition(obj, "Stalled").get("status") == "True"


def _export_ref_import(custom_objects, namespace, destination) -> None:
    create(
        custom_objects,
        IMPORTS,
        namespace,
        import_body(
            "imp",
            destination.url,
            "docs",
            {"exportRef": {"name": "docs"}},
            namespacePath="gitlab-org",
        ),
    )


@pytest.fixture
def migration(namespace, core_v1, simulators, operators, destination):
    """A slow source GitLab (an export takes about 6 s), both tokens and an operator."""
    source = simulators("--export-queue-delay", "0.5", "--export-duration", "6")
    for name in ("gitlab-token", "destination-token"):
        token_secret(core_v1, namespace, name, {"token": ROOT_TOKEN})
    operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": f"{source.host},{destination.host}"})
    return source


def test_waiting_for_a_missing_export_until_it_is_created_and_finished(
    namespace, custom_objects, destination, migration
):
    _export_ref_import(custom_objects, namespace, destination)
    obj = wait_reason(custom_objects, namespace, "imp", "WaitingForExport", timeout=30)
    assert "ProjectExport docs does not exist" in condition(obj)["message"]
    assert condition(obj)["status"] == "False"
    assert condition(obj, "Reconciling").get("status") == "True"  # not stalled: time fixes it
    assert obj["status"]["plan"]["action"] == "WaitForExport"
    assert import_posts(destination) == []
    create(
        custom_objects, EXPORTS, namespace, export_object("docs", migration.url, "gitlab-org/docs")
    )
    obj = wait_reason(custom_objects, namespace, "imp", "Finished", timeout=60)
    assert_imported(obj, destination, "gitlab-org/docs")
    assert len(import_posts(destination)) == 1


def test_waiting_for_an_unfinished_export_until_it_has_finished(
    namespace, custom_objects, destination, migration
):
    create(
        custom_objects, EXPORTS, namespace, export_object("docs", migration.url, "gitlab-org/docs")
    )
    wait_object(
        custom_objects,
        EXPORTS,
        namespace,
        "docs",
        lambda o: (o.get("status") or {}).get("exportStatus") in ("queued", "started"),
        timeout=30,
        what="the export to run",
    )
    _export_ref_import(custom_objects, namespace, destination)
    obj = wait_reason(custom_objects, namespace, "imp", "WaitingForExport", timeout=30)
    assert "ProjectExport docs has not finished" in condition(obj)["message"]
    assert import_posts(destination) == []
    obj = wait_reason(custom_objects, namespace, "imp", "Finished", timeout=60)
    assert_imported(obj, destination, "gitlab-org/docs")
    assert len(import_posts(destination)) == 1


def test_waiting_for_export_message_follows_the_export_once_it_exists(
    namespace, custom_objects, simulators, operators, core_v1, destination
):
    source = simulators("--export-queue-delay", "0.5", "--export-duration", "30")
    for name in ("gitlab-token", "destination-token"):
        token_secret(core_v1, namespace, name, {"token": ROOT_TOKEN})
    operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": f"{source.host},{destination.host}"})
    _export_ref_import(custom_objects, namespace, destination)
    wait_reason(custom_objects, namespace, "imp", "WaitingForExport", timeout=30)
    create(custom_objects, EXPORTS, namespace, export_object("docs", source.url, "gitlab-org/docs"))
    wait_object(
        custom_objects,
        EXPORTS,
        namespace,
        "docs",
        lambda o: (o.get("status") or {}).get("exportStatus") in ("queued", "started"),
        timeout=30,
        what="the export to run",
    )
    # The export runs for 30 s; well within that, the import should say so.
    wait_object(
        custom_objects,
        IMPORTS,
        namespace,
        "imp",
        lambda o: "has not finished" in condition(o).get("message", ""),
        timeout=12,
        what="the import's condition to say the export has not finished",
    )


def test_path_taken_then_overwrite_replaces_the_project(
    namespace, custom_objects, destination, start, server, sources
):
    old = seed_project(destination, GITLAB_TEST, description="the old one")
    url = server.serve("/gitlab-test.tar.gz", sources.archives[GITLAB_TEST])
    start()
    create(
        custom_objects,
        IMPORTS,
        namespace,
        import_body(
            "imp", destination.url, "gitlab-test", {"url": url}, namespacePath="gitlab-org"
        ),
    )
    obj = wait_reason(custom_objects, namespace, "imp", "PathTaken")
    message = condition(obj)["message"]
    assert "Path has already been taken" in message
    assert f"{GITLAB_TEST} exists (id {old['id']})" in message
    assert "overwrite" in message
    assert _stalled(obj)
    # The path was looked up first: nothing was posted to GitLab.
    assert import_posts(destination) == []
    patch_spec(custom_objects, namespace, "imp", {"overwrite": True})
    obj = wait_reason(custom_objects, namespace, "imp", "Finished")
    project = assert_imported(obj, destination, GITLAB_TEST)
    status = obj["status"]
    assert status["projectId"] != old["id"]
    assert status["replacedProjectId"] == old["id"]
    (post,) = import_posts(destination)
    assert post["params"]["overwrite"] in (True, "true")
    # GitLab moved the old project aside and deleted it.
    assert deleted(destination, old["id"])
    assert project["description"] == sources.content[GITLAB_TEST]["description"]


@pytest.mark.parametrize(
    "target",
    [{"namespacePath": "gitlab-org/nowhere"}, {"namespaceId": 987654}],
    ids=["namespacePath", "namespaceId"],
)
def test_namespace_not_found_then_spec_fix(
    namespace, custom_objects, destination, start, server, sources, target
):
    url = server.serve("/gitlab-test.tar.gz", sources.archives[GITLAB_TEST])
    start()
    create(
        custom_objects,
        IMPORTS,
        namespace,
        import_body("imp", destination.url, "gitlab-test", {"url": url}, **target),
    )
    obj = wait_reason(custom_objects, namespace, "imp", "NamespaceNotFound")
    assert "404 Namespace Not Found" in condition(obj)["message"]
    assert _stalled(obj)
    assert live_at(destination, GITLAB_TEST) == []
    fix = dict.fromkeys(target) | {"namespacePath": "gitlab-org"}
    patch_spec(custom_objects, namespace, "imp", fix)
    obj = wait_reason(custom_objects, namespace, "imp", "Finished")
    assert_imported(obj, destination, GITLAB_TEST)
    assert [p["status"] for p in import_posts(destination)][-1] == 201


def test_secret_missing_until_it_is_created(
    namespace, core_v1, custom_objects, destination, start, server, sources
):
    url = server.serve("/gitlab-test.tar.gz", sources.archives[GITLAB_TEST])
    start(token_secret_too=False)
    create(
        custom_objects,
        IMPORTS,
        namespace,
        import_body(
            "imp", destination.url, "gitlab-test", {"url": url}, namespacePath="gitlab-org"
        ),
    )
    obj = wait_reason(custom_objects, namespace, "imp", "SecretMissing", timeout=30)
    assert "destination-token" in condition(obj)["message"]
    assert condition(obj, "Reconciling").get("status") == "True"
    assert destination.requests() == []
    token_secret(core_v1, namespace, "destination-token", {"token": ROOT_TOKEN})
    obj = wait_reason(custom_objects, namespace, "imp", "Finished")
    assert_imported(obj, destination, GITLAB_TEST)
    assert not [r for r in destination.requests() if r["status"] == 401]


def test_unauthorized_until_the_spec_names_a_good_token(
    namespace, core_v1, custom_objects, destination, start, server, sources
):
    url = server.serve("/gitlab-test.tar.gz", sources.archives[GITLAB_TEST])
    token_secret(core_v1, namespace, "good-token", {"token": ROOT_TOKEN})
    token_secret(core_v1, namespace, "destination-token", {"token": "glpat-not-a-token"})
    start(token_secret_too=False)
    create(
        custom_objects,
        IMPORTS,
        namespace,
        import_body(
            "imp", destination.url, "gitlab-test", {"url": url}, namespacePath="gitlab-org"
        ),
    )
    obj = wait_reason(custom_objects, namespace, "imp", "Unauthorized", timeout=30)
    assert "401" in condition(obj)["message"]
    assert _stalled(obj)
    assert "glpat-not-a-token" not in str(obj) + str(events_of(core_v1, namespace, "imp"))
    assert import_posts(destination) == []
    patch_spec(
        custom_objects, namespace, "imp", {"gitlab": {"tokenSecretRef": {"name": "good-token"}}}
    )
    obj = wait_reason(custom_objects, namespace, "imp", "Finished")
    assert_imported(obj, destination, GITLAB_TEST)


def _version_0_2_3(archive: bytes) -> bytes:
    return rewrite_archive(archive, replace={"VERSION": b"0.2.3"})


@pytest.mark.parametrize(
    ("make_bad", "inner"),
    [
        (_version_0_2_3, "Import version mismatch: Required 0.2.4 but was 0.2.3"),
        (lambda archive: archive[: len(archive) // 3], "Unable to decompress"),
    ],
    ids=["version-0.2.3", "corrupt"],
)
def test_failed_import_shows_gitlab_import_error_and_a_spec_fix_recovers(
    namespace, core_v1, custom_objects, destination, start, server, sources, make_bad, inner
):
    good = sources.archives[GITLAB_TEST]
    bad_url = server.serve("/bad.tar.gz", make_bad(good))
    good_url = server.serve("/good.tar.gz", good)
    start()
    create(
        custom_objects,
        IMPORTS,
        namespace,
        import_body(
            "imp", destination.url, "gitlab-test", {"url": bad_url}, namespacePath="gitlab-org"
        ),
    )
    obj = wait_reason(custom_objects, namespace, "imp", "Failed")
    status = obj["status"]
    gitlab = gitlab_import_status(destination, status["projectId"])
    assert gitlab["import_status"] == "failed"
    assert inner in gitlab["import_error"]
    assert status["importStatus"] == "failed"
    assert status["importError"] == gitlab["import_error"]
    assert gitlab["import_error"] in condition(obj)["message"]
    assert _stalled(obj)
    assert status["correlationId"] == gitlab["correlation_id"]
    failed_id = status["projectId"]
    # The failure stays put: no retry until the spec changes.
    assert len(import_posts(destination)) == 1
    patch_spec(custom_objects, namespace, "imp", {"source": {"url": good_url}})
    obj = wait_reason(custom_objects, namespace, "imp", "Finished")
    project = assert_imported(obj, destination, GITLAB_TEST)
    assert project["id"] != failed_id
    assert deleted(destination, failed_id)  # the failed project was replaced, not left behind
    assert (
        project["content"]["repository_sha256"]
        == (sources.content[GITLAB_TEST]["repository_sha256"])
    )
    assert obj["status"]["observedGeneration"] == 2


def test_finished_with_failed_relations_reports_every_field(
    namespace, custom_objects, destination, start, server, sources
):
    url = server.serve("/pages.tar.gz", sources.archives[PAGES])
    start()
    create(
        custom_objects,
        IMPORTS,
        namespace,
        import_body("imp", destination.url, "pages", {"url": url}, namespacePath="gitlab-org/sub"),
    )
    obj = wait_reason(custom_objects, namespace, "imp", "FinishedWithFailedRelations")
    ready = condition(obj)
    assert ready["status"] == "True"
    assert "2 relation record(s) failed" in ready["message"]
    status = obj["status"]
    assert status["importStatus"] == "finished"
    gitlab = gitlab_import_status(destination, status["projectId"])

    # Status keeps every field GitLab gives (a null one may be left out: it reads as null),
    # its times as the same instants in RFC 3339.
    def fields(failure: dict[str, Any]) -> dict[str, Any]:
        kept = {k: v for k, v in failure.items() if v is not None}
        kept["createdAt"] = parse_timestamp(kept["createdAt"])
        return kept

    expected = [
        fields({camel(key): value for key, value in f.items()}) for f in gitlab["failed_relations"]
    ]
    assert len(expected) == 2
    got = status["failedRelations"]
    assert sorted((fields(f) for f in got), key=lambda f: f["id"]) == sorted(
        expected, key=lambda f: f["id"]
    )
    for failure in got:
        assert isinstance(failure["id"], int)
        assert failure["createdAt"]
        assert failure["exceptionClass"] == "ActiveRecord::RecordInvalid"
        assert failure["source"] == "process_relation_item!"
        assert failure["relationName"] == "issues"
        assert isinstance(failure["lineNumber"], int)
        assert failure.get("exceptionMessage") is None
    assert status["correlationId"] == gitlab["correlation_id"]
    (project,) = live_at(destination, PAGES)
    assert project["import"]["failed_relations"] == 2
    assert project["content"]["relations"]["issues"] == 5  # the five valid ones
