"""One GroupMigration of a nested tree (100 projects in 10 groups, three levels below the top)
against the real API server, two simulated GitLabs and the operator process: it ends Ready
with every project and group accounted for, the groups are made on the destination parents
first, every project lands at its path under the destination parent, and every child pair
is controlled by the migration (so deleting the migration collects them)."""

from __future__ import annotations

from pathlib import Path

import yaml
from ferry_e2e import GROUP, VERSION, condition, token_secret, wait_object
from tests.support.processes import ROOT_TOKEN

PROJECTS = 100
SUBGROUPS = 9
LIMIT = "600"
SETTINGS = {
    "instance": {"allow_local_requests_from_web_hooks_and_services": True},
    "behaviour": {"allow_http_remote_import": True},
}
USERS = [{"username": "root", "token": ROOT_TOKEN, "admin": True, "scopes": ["api", "sudo"]}]
FAST = [
    "--export-queue-delay", "0.5", "--export-duration", "2",
    "--import-queue-delay", "0.5", "--import-duration", "2",
    "--project-export-limit", LIMIT, "--project-import-limit", LIMIT,
    "--project-download-export-limit", LIMIT,
]  # fmt: skip


def seeds(folder: Path) -> tuple[str, str]:
    source = {
        "settings": SETTINGS,
        "users": USERS,
        "trees": [
            {"path": "corp", "owner": "root", "subgroups": SUBGROUPS, "depth": 3,
             "projects": PROJECTS, "archived_every": 9}
        ],
    }  # fmt: skip
    destination = {"settings": SETTINGS, "users": USERS, "groups": [{"path": "migrated"}]}
    paths = []
    for name, seed in (("source", source), ("destination", destination)):
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump(seed))
        paths.append(str(path))
    return paths[0], paths[1]


def migration(source: str, destination: str) -> dict[str, object]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "GroupMigration",
        "metadata": {"name": "corp"},
        "spec": {
            "source": {
                "gitlab": {"url": source, "tokenSecretRef": {"name": "source-token"}},
                "group": "corp",
                "projects": {"archived": True},
            },
            "destination": {
                "gitlab": {"url": destination, "tokenSecretRef": {"name": "destination-token"}},
                "parent": "migrated",
            },
            "groups": "CreateMissing",
            "maxInFlight": PROJECTS,
        },
    }


def test_a_nested_tree_of_a_hundred_projects_migrates_with_one_object(
    namespace, core_v1, custom_objects, simulators, operators, tmp_path
):
    source_seed, destination_seed = seeds(tmp_path)
    source = simulators(*FAST, seed=source_seed)
    destination = simulators(*FAST, seed=destination_seed)
    source_groups = sorted(
        g["full_path"] for g in source.control("GET", "/groups") if g["full_path"] != "migrated"
    )
    assert len(source_groups) == SUBGROUPS + 1
    assert max(path.count("/") for path in source_groups) == 3
    source_projects = sorted(p["path_with_namespace"] for p in source.projects())
    assert len(source_projects) == PROJECTS
    for secret in ("source-token", "destination-token"):
        token_secret(core_v1, namespace, secret, {"token": ROOT_TOKEN})
    operators(
        [namespace],
        {
            "GITLAB_FERRY_ALLOWED_HOSTS": f"{source.host},{destination.host}",
            "GITLAB_FERRY_EXPORT_LIMIT": LIMIT,
            "GITLAB_FERRY_IMPORT_LIMIT": LIMIT,
            "GITLAB_FERRY_DOWNLOAD_LIMIT": LIMIT,
            "GITLAB_FERRY_POLL_INITIAL": "2",
            "GITLAB_FERRY_POLL_MAX": "10",
        },
    )
    custom_objects.create_namespaced_custom_object(
        GROUP, VERSION, namespace, "groupmigrations", migration(source.url, destination.url)
    )

    done = wait_object(
        custom_objects, "groupmigrations", namespace, "corp",
        lambda obj: condition(obj).get("status") == "True",
        timeout=240, what="the GroupMigration to be Ready",
    )  # fmt: skip
    status = done["status"]
    assert condition(done)["reason"] == "Finished"
    assert status["progress"] == f"{PROJECTS}/{PROJECTS}"
    assert status["counts"] == {
        "total": PROJECTS, "pending": 0, "exporting": 0, "importing": 0,
        "finished": PROJECTS, "failed": 0,
    }  # fmt: skip
    assert (status["groups"], status["groupsReady"], status["groupsCreated"]) == (10, 10, 10)
    assert status["failures"] == []

    landed = {g["full_path"] for g in destination.control("GET", "/groups")}
    assert {f"migrated/{path}" for path in source_groups} <= landed
    imported = sorted(p["path_with_namespace"] for p in destination.projects())
    assert imported == sorted(f"migrated/{path}" for path in source_projects)

    uid = done["metadata"]["uid"]
    for plural in ("projectexports", "projectimports"):
        children = custom_objects.list_namespaced_custom_object(GROUP, VERSION, namespace, plural)[
            "items"
        ]
        assert len(children) == PROJECTS
        for child in children:
            (owner,) = child["metadata"]["ownerReferences"]
            assert (owner["kind"], owner["name"], owner["uid"]) == ("GroupMigration", "corp", uid)
            assert owner["controller"] is True
            assert child["metadata"]["labels"][f"{GROUP}/group-migration"] == "corp"
            assert condition(child)["status"] == "True", child["metadata"]["name"]
