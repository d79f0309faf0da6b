"""``GET /projects/:id?statistics=true``: ProjectStatistics for Reporters and above, and sizes a
seed declares instead of its generated content."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sim_helpers import Api, VersionedFactory

from gitlab_ferry_testbed.simulator import SeedProject

GiB = 1024**3
FIELDS = [
    "commit_count",
    "storage_size",
    "repository_size",
    "wiki_size",
    "lfs_objects_size",
    "job_artifacts_size",
    "pipeline_artifacts_size",
    "packages_size",
    "snippets_size",
    "uploads_size",
    "container_registry_size",
]


async def test_statistics_only_when_asked(api: Api) -> None:
    plain = await api.get("/projects/grp%2Fproj", "reporter-token")
    assert "statistics" not in plain.json()
    r = await api.get("/projects/grp%2Fproj?statistics=true", "reporter-token")
    stats = r.json()["statistics"]
    assert list(stats) == FIELDS
    assert stats == {**dict.fromkeys(FIELDS, 0), "commit_count": 1} | {
        "storage_size": 4096,
        "repository_size": 4096,
    }


async def test_reporters_and_up_see_statistics(api: Api) -> None:
    for token, sees in (
        ("guest-token", False),
        ("reporter-token", True),
        ("maint-token", True),
        ("root-token", True),
    ):
        r = await api.get("/projects/grp%2Fproj?statistics=true", token)
        assert r.status == 200
        assert ("statistics" in r.json()) is sees, token
    public = await api.get("/projects/pub%2Fopen?statistics=true", "outsider-token")
    assert public.status == 200
    assert "statistics" not in public.json()


async def test_declared_sizes_and_the_export_limit(api: Api) -> None:
    api.sim.create_project(
        {
            "path_with_namespace": "grp/huge",
            "owner": "owner",
            "statistics": {
                "repository_size": "6GiB",
                "lfs_objects_size": "1GiB",
                "job_artifacts_size": "2GiB",
                "packages_size": "1GiB",
                "pipeline_artifacts_size": "3GiB",
                "commit_count": 12345,
            },
        }
    )
    stats = (await api.get("/projects/grp%2Fhuge?statistics=1", "maint-token")).json()["statistics"]
    # storage_size leaves pipeline artifacts out, as GitLab's STORAGE_SIZE_COMPONENTS do
    assert (stats["repository_size"], stats["storage_size"], stats["commit_count"]) == (
        6 * GiB,
        10 * GiB,
        12345,
    )
    # the archive stays small; the export size is the statistics' (storage without build
    # artifacts and packages)
    api.sim.update_settings({"instance": {"max_export_size": 7 * 1024 - 1}})
    r = await api.post("/projects/grp%2Fhuge/export", "maint-token")
    assert (r.status, r.json()) == (400, {"message": "The project size exceeds the export limit."})
    api.sim.update_settings({"instance": {"max_export_size": 7 * 1024}})
    assert (await api.post("/projects/grp%2Fhuge/export", "maint-token")).status == 202


def test_unknown_statistics_are_refused() -> None:
    with pytest.raises(ValidationError, match="unknown statistics"):
        SeedProject(path_with_namespace="g/p", statistics={"repo_size": 1})


async def test_container_registry_size_from_16_10(at_version: VersionedFactory) -> None:
    for version, present in (("16.9.2", False), ("16.10.0", True)):
        api = await at_version(version)
        r = await api.get("/projects/grp%2Fproj?statistics=true", "root-token")
        assert ("container_registry_size" in r.json()["statistics"]) is present, version


async def test_listing_carries_statistics_too(api: Api) -> None:
    r = await api.get("/projects?statistics=true&search=proj", "reporter-token")
    (project,) = r.json()
    assert project["statistics"]["repository_size"] == 4096
