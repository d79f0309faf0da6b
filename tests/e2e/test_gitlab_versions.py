"""What differs between GitLab versions, end to end: a GitLab older than gitlab-ferry
supports is refused by name; a project GitLab puts anywhere but the path asked for is never
Ready and nothing more is sent; a route an administrator turned off is routed around; the
role GitLab requires to import follows the version; relation re-imports need a GitLab that
has them.
"""

from __future__ import annotations

import time

from ferry_e2e import (
    EXPORTS,
    IMPORTS,
    condition,
    create,
    events_of,
    export_object,
    get_object,
    token_secret,
)
from import_e2e import (
    FAST_JOBS,
    assert_imported,
    import_body,
    import_posts,
    live_at,
    seed_project,
    source_archives,
    wait_reason,
)
from tests.support.archives import ArchiveServer
from tests.support.processes import ROOT_TOKEN
from versions_e2e import gitlab, maintainer_rule, set_feature

GITLAB_TEST = "gitlab-org/gitlab-test"
#: Longer than several recheck intervals of the test operator (3 s): time for a loop to show.
QUIET = 10.0


def _archives(tmp_path_factory):
    return source_archives(tmp_path_factory.mktemp("source"), [GITLAB_TEST])


def test_a_gitlab_older_than_13_12_is_refused_by_name(
    namespace, core_v1, custom_objects, simulators, operators
):
    old = simulators(*FAST_JOBS, *gitlab("13.8.4"))
    token_secret(core_v1, namespace, "gitlab-token", {"token": ROOT_TOKEN})
    token_secret(core_v1, namespace, "destination-token", {"token": ROOT_TOKEN})
    operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": old.host})
    create(custom_objects, EXPORTS, namespace, export_object("e", old.url, GITLAB_TEST))
    create(
        custom_objects,
        IMPORTS,
        namespace,
        import_body("i", old.url, "copy", {"exportRef": {"name": "e"}}, namespacePath="platform"),
    )
    for plural, name in ((EXPORTS, "e"), (IMPORTS, "i")):
        obj = wait_reason(custom_objects, namespace, name, "UnsupportedByGitLab", plural=plural)
        message = condition(obj)["message"]
        assert "13.8.4" in message
        assert "13.12" in message
        assert condition(obj, "Stalled")["status"] == "True"
    time.sleep(QUIET)
    assert [r for r in old.requests() if r["method"] == "POST"] == []


def test_a_project_gitlab_puts_elsewhere_is_never_ready(
    namespace, core_v1, custom_objects, simulators, operators, tmp_path_factory
):
    archive = _archives(tmp_path_factory).archives[GITLAB_TEST]
    server = ArchiveServer()
    try:
        url = server.serve("/gitlab-test.tar.gz", archive)
        # A GitLab that reports 18.7 but ignores namespace_path, as any GitLab before 18.7
        # does: the project lands in the token user's namespace.
        destination = simulators(*FAST_JOBS, seed="empty")
        destination.control("PATCH", "/settings", json={"profile": {"namespace_id_params": False}})
        token_secret(core_v1, namespace, "destination-token", {"token": ROOT_TOKEN})
        token_secret(core_v1, namespace, "archive-url", {"url": url})
        operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": f"{destination.host},{server.host}"})
        create(
            custom_objects,
            IMPORTS,
            namespace,
            import_body(
                "imp",
                destination.url,
                "gitlab-test",
                {"urlSecretRef": {"name": "archive-url"}},
                namespacePath="gitlab-org",
                overwrite=True,
            ),
        )
        obj = wait_reason(custom_objects, namespace, "imp", "WrongNamespace")
        time.sleep(QUIET)
    finally:
        server.close()
    obj = get_object(custom_objects, IMPORTS, namespace, "imp")
    ready = condition(obj)
    assert ready["status"] == "False"
    assert ready["reason"] == "WrongNamespace"
    assert "root/gitlab-test" in ready["message"]
    assert "gitlab-org/gitlab-test" in ready["message"]
    assert condition(obj, "Stalled")["status"] == "True"
    warnings = [e for e in events_of(core_v1, namespace, "imp") if e["reason"] == "WrongNamespace"]
    assert warnings
    assert warnings[0]["type"] == "Warning"
    # One request, and nothing sent after GitLab's answer showed the wrong place.
    assert len(import_posts(destination)) == 1
    assert [p["path_with_namespace"] for p in destination.projects()] == ["root/gitlab-test"]
    assert obj["status"]["pathWithNamespace"] == "root/gitlab-test"


def test_remote_import_turned_off_is_routed_around(
    namespace, core_v1, custom_objects, simulators, operators, tmp_path_factory, tls
):
    sources = _archives(tmp_path_factory)
    server = ArchiveServer(tls)
    try:
        url = server.serve("/gitlab-test.tar.gz", sources.archives[GITLAB_TEST])
        destination = simulators(*FAST_JOBS, "--ca-file", str(tls[0]), seed="empty")
        set_feature(destination, "import_project_from_remote_file", False)
        token_secret(core_v1, namespace, "destination-token", {"token": ROOT_TOKEN})
        # The operator reads the archive itself once GitLab cannot: it trusts the server.
        operators(
            [namespace],
            {
                "GITLAB_FERRY_ALLOWED_HOSTS": f"{destination.host},{server.host}",
                "SSL_CERT_FILE": str(tls[0]),
            },
        )
        create(
            custom_objects,
            IMPORTS,
            namespace,
            import_body(
                "imp", destination.url, "gitlab-test", {"url": url}, namespacePath="gitlab-org"
            ),
        )
        obj = wait_reason(custom_objects, namespace, "imp", "Finished")
    finally:
        server.close()
    assert_imported(obj, destination, GITLAB_TEST)
    posts = [(p["endpoint"], p["status"]) for p in import_posts(destination)]
    assert posts == [("remote_import", 404), ("import", 201)]
    assert obj["status"]["route"] == "stream"
    plans = " ".join(e["message"] for e in events_of(core_v1, namespace, "imp"))
    assert "turned off on this GitLab" in plans


def test_the_role_needed_to_import_follows_the_version(
    gitlab_version, namespace, core_v1, custom_objects, simulators, operators, tmp_path_factory
):
    archive = _archives(tmp_path_factory).archives[GITLAB_TEST]
    server = ArchiveServer()
    try:
        url = server.serve("/gitlab-test.tar.gz", archive)
        destination = simulators(*FAST_JOBS, *gitlab(gitlab_version), seed="empty")
        # bob is a Developer of gitlab-org.
        token_secret(core_v1, namespace, "destination-token", {"token": "glpat-bob"})
        token_secret(core_v1, namespace, "archive-url", {"url": url})
        operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": f"{destination.host},{server.host}"})
        create(
            custom_objects,
            IMPORTS,
            namespace,
            import_body(
                "imp",
                destination.url,
                "gitlab-test",
                {"urlSecretRef": {"name": "archive-url"}},
                namespacePath="gitlab-org",
            ),
        )
        if maintainer_rule(gitlab_version):
            obj = wait_reason(custom_objects, namespace, "imp", "Forbidden")
            assert "Maintainer or Owner" in condition(obj)["message"]
            assert live_at(destination, GITLAB_TEST) == []
        else:
            obj = wait_reason(custom_objects, namespace, "imp", "Finished")
            assert_imported(obj, destination, GITLAB_TEST)
    finally:
        server.close()


def test_relations_need_a_gitlab_with_import_relation(
    namespace, core_v1, custom_objects, simulators, operators
):
    destination = simulators(*FAST_JOBS, *gitlab("16.10.6"), seed="empty")
    seed_project(destination, "gitlab-org/pages")
    token_secret(core_v1, namespace, "destination-token", {"token": ROOT_TOKEN})
    operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": destination.host})
    create(
        custom_objects,
        IMPORTS,
        namespace,
        import_body(
            "rel",
            destination.url,
            "pages",
            {"url": "https://archives.example.com/pages.tar.gz"},
            namespacePath="gitlab-org",
            relations=["issues"],
        ),
    )
    obj = wait_reason(custom_objects, namespace, "rel", "UnsupportedByGitLab")
    message = condition(obj)["message"]
    assert "16.10.6" in message
    assert "import-relation" in message
    time.sleep(QUIET)
    assert destination.requests("relation_import") == []
