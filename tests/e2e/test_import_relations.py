"""Relation re-import: after a migration that finished with failed relations, a ProjectImport
with ``relations: [issues, milestones]`` re-imports those relations into the existing project,
one at a time (``POST /projects/import-relation``, each followed through
``/projects/:id/relation-imports`` before the next), fills in what was missing, skips what
exists, and shows GitLab's trackers in ``status.relationImports``.
"""

from __future__ import annotations

import pytest
from ferry_e2e import IMPORTS, condition, create, token_secret
from import_e2e import (
    FAST_JOBS,
    Sampler,
    import_body,
    import_posts,
    live_at,
    ndjson,
    parse_ndjson,
    rewrite_archive,
    source_archives,
    wait_reason,
)
from tests.support.archives import ArchiveServer
from tests.support.processes import ROOT_TOKEN
from tests.support.s3 import S3_KEYS

PAGES = "gitlab-org/sub/pages"  # five valid issues and two without a title, two milestones
IN_FLIGHT = ("created", "started")


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    return source_archives(tmp_path_factory.mktemp("source"), [PAGES])


@pytest.fixture
def https_server(tls):
    server = ArchiveServer(tls)
    yield server
    server.close()


def _repaired(archive: bytes) -> bytes:
    """The same export with the invalid issues given titles and a third milestone."""

    def issues(body: bytes) -> bytes:
        records = parse_ndjson(body)
        for record in records:
            if not record.get("title"):
                record["title"] = f"Issue {record['iid']}: repaired"
        return ndjson(records)

    def milestones(body: bytes) -> bytes:
        records = parse_ndjson(body)
        records.append({"iid": 3, "title": "v3.0", "state": "active", "description": "new"})
        return ndjson(records)

    return rewrite_archive(
        archive,
        edit={
            "tree/project/issues.ndjson": issues,
            "tree/project/milestones.ndjson": milestones,
        },
    )


def test_relation_reimport_fills_in_what_the_migration_skipped(
    namespace, core_v1, custom_objects, simulators, operators, sources, s3_server, https_server, tls
):
    destination = simulators(*FAST_JOBS, "--ca-file", str(tls[0]), seed="empty")
    destination.control(
        "PATCH",
        "/settings",
        json={"timing": {"relation_import_queue_delay": 0.5, "relation_import_duration": 1.5}},
    )
    bucket = s3_server.bucket()
    s3_server.client.put_object(
        Bucket=bucket,
        Key="repaired/pages.tar.gz",
        Body=_repaired(sources.archives[PAGES]),
        ContentType="application/gzip",
    )
    token_secret(core_v1, namespace, "destination-token", {"token": ROOT_TOKEN})
    token_secret(core_v1, namespace, "bucket", S3_KEYS)
    operators([namespace], {"GITLAB_FERRY_ALLOWED_HOSTS": f"{destination.host},{s3_server.host}"})
    # 1. The migration: two issues fail to import.
    url = https_server.serve("/pages.tar.gz", sources.archives[PAGES])
    token_secret(core_v1, namespace, "pages-url", {"url": url})
    create(
        custom_objects,
        IMPORTS,
        namespace,
        import_body(
            "migrate",
            destination.url,
            "pages",
            {"urlSecretRef": {"name": "pages-url"}},
            namespacePath="gitlab-org/sub",
        ),
    )
    migrated = wait_reason(custom_objects, namespace, "migrate", "FinishedWithFailedRelations")
    assert len(migrated["status"]["failedRelations"]) == 2
    (project,) = live_at(destination, PAGES)
    assert project["content"]["relations"]["issues"] == 5
    assert project["content"]["relations"]["milestones"] == 2

    # 2. The relation re-import into that project, from a repaired archive in S3.
    def trackers() -> list[dict]:
        return live_at(destination, PAGES)[0]["relation_imports"]

    sampler = Sampler(trackers, interval=0.05)
    create(
        custom_objects,
        IMPORTS,
        namespace,
        import_body(
            "fill",
            destination.url,
            "pages",
            {
                "s3": {
                    "bucket": bucket,
                    "key": "repaired/pages.tar.gz",
                    "region": "us-east-1",
                    "endpoint": s3_server.endpoint,
                    "forcePathStyle": True,
                    "credentialsSecretRef": {"name": "bucket"},
                }
            },
            namespacePath="gitlab-org/sub",
            relations=["issues", "milestones"],
        ),
    )
    obj = wait_reason(custom_objects, namespace, "fill", "Finished", "RelationImportFailed")
    samples = sampler.stop()
    assert condition(obj)["reason"] == "Finished", condition(obj)
    assert condition(obj)["status"] == "True"
    status = obj["status"]
    assert status["projectId"] == project["id"]
    assert status["pathWithNamespace"] == PAGES

    # GitLab's trackers, verbatim, one per relation, both finished.
    gitlab_trackers = trackers()
    assert [(t["relation"], t["status"]) for t in gitlab_trackers] == [
        ("issues", "finished"),
        ("milestones", "finished"),
    ]
    recorded = status["relationImports"]
    assert [(r["id"], r["relation"], r["status"]) for r in recorded] == [
        (t["id"], t["relation"], t["status"]) for t in gitlab_trackers
    ]
    for item in recorded:
        assert item["projectPath"] == PAGES
        assert item["createdAt"]
        assert item["updatedAt"]

    # One at a time: never two relation imports in flight, and GitLab never said 409.
    assert samples, sampler.errors
    assert max(sum(t["status"] in IN_FLIGHT for t in sample) for sample in samples) == 1
    posts = [r for r in destination.requests("relation_import") if r["method"] == "POST"]
    assert [(p["params"]["relation"], p["status"]) for p in posts] == [
        ("issues", 201),
        ("milestones", 201),
    ]
    assert all(p["params"]["path"] == PAGES for p in posts)
    # It added to the project and created none.
    assert len(import_posts(destination)) == 1
    (after,) = live_at(destination, PAGES)
    assert after["id"] == project["id"]
    # What was skipped is filled in; what existed is not duplicated.
    assert after["content"]["relations"]["issues"] == 7
    assert after["content"]["relations"]["milestones"] == 3
    assert after["content"]["invalid_relations"] == {}
