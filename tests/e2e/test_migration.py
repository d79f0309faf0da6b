"""GitLab-to-GitLab migrations: ProjectExports on a source GitLab, ProjectImports with
``exportRef`` on a destination GitLab, and the destination's projects holding what the source
exported (compared, not assumed), on every GitLab version under test: each project lands at
the path asked for, named in the parameter that version reads.

Time runs 20 times faster in both simulators and the operator, at GitLab's default limits.
"""

from __future__ import annotations

import time
from collections import Counter

from ferry_e2e import (
    EXPORTS,
    IMPORTS,
    condition,
    create,
    export_object,
    get_object,
    import_object,
    token_secret,
)
from migration_e2e import accelerated, operator_settings
from tests.support.processes import wait_for
from versions_e2e import gitlab, namespace_param


def test_migration_of_twenty_projects(
    gitlab_version, namespace, core_v1, custom_objects, simulators, operators
):
    anchor = time.time()
    timing = ["--export-queue-delay", "2", "--export-duration", "10", "--import-duration", "10"]
    timing += gitlab(gitlab_version)
    source = simulators(*accelerated(anchor), *timing)
    destination = simulators(*accelerated(anchor), *timing, seed="empty")
    projects = [p["path_with_namespace"] for p in source.projects()]
    assert len(projects) == 20
    token_secret(core_v1, namespace, "gitlab-token", {"token": "glpat-root-token"})
    token_secret(core_v1, namespace, "destination-token", {"token": "glpat-root-token"})
    operators([namespace], operator_settings(anchor, source.host, destination.host))
    pairs = {}
    for i, path in enumerate(projects):
        name = f"p{i:02d}"
        group, _, project = path.rpartition("/")
        create(custom_objects, EXPORTS, namespace, export_object(name, source.url, path))
        create(
            custom_objects,
            IMPORTS,
            namespace,
            import_object(
                name,
                destination.url,
                project,
                {"exportRef": {"name": name}},
                namespacePath=group,
            ),
        )
        pairs[name] = path

    def finished() -> bool:
        ready = Counter(
            condition(get_object(custom_objects, IMPORTS, namespace, name)).get("status")
            for name in pairs
        )
        return ready["True"] == len(pairs)

    wait_for(finished, timeout=300, interval=1, what="all 20 imports to finish")
    for sim in (source, destination):
        assert not [r for r in sim.requests() if r["status"] == 429], f"429s on {sim.url}"
    for name, path in pairs.items():
        imported = get_object(custom_objects, IMPORTS, namespace, name)["status"]
        assert imported["importStatus"] == "finished"
        assert imported["importType"] == "gitlab_project"
        assert imported["pathWithNamespace"] == path
        assert imported["gitlabVersion"] == gitlab_version
        assert [
            p["path_with_namespace"]
            for p in destination.projects()
            if p["path"] == path.rsplit("/", 1)[1]
        ] == [path]
        original, copy = source.project(path)["content"], destination.project(path)["content"]
        assert copy["repository_sha256"] == original["repository_sha256"], path
        assert copy["description"] == original["description"], path
        invalid = original["invalid_relations"]
        for relation, digest in original["relations_sha256"].items():
            if not invalid.get(relation):
                assert copy["relations_sha256"][relation] == digest, (path, relation)
        # Records GitLab could not import are reported, every one of them.
        failed = Counter(f["relationName"] for f in imported.get("failedRelations", []))
        assert failed == Counter({k: v for k, v in invalid.items() if v}), path
        reason = condition(get_object(custom_objects, IMPORTS, namespace, name))["reason"]
        assert reason == ("FinishedWithFailedRelations" if failed else "Finished"), path
        assert imported["sourceSha256"]
        assert imported["sourceSize"] > 0
    # Every project landed at the path asked for, and nowhere else.
    landed = sorted(p["path_with_namespace"] for p in destination.projects())
    assert landed == sorted(pairs.values())
    # One import request per project: nothing was posted twice.
    posts = [r["params"] for r in destination.requests("import") if r["method"] == "POST"]
    assert set(Counter(p["path"] for p in posts).values()) == {1}, posts
    # The namespace travelled in the one parameter this version reads.
    wanted = namespace_param(gitlab_version)
    for params in posts:
        named = {k for k in ("namespace", "namespace_id", "namespace_path") if k in params}
        assert named == {wanted}, params
