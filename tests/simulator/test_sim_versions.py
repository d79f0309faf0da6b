"""Version profiles: ``behaviour.gitlab_version`` sets the defaults of every versioned switch.

Each switch is tested on both sides of its cut-over release, and explicit settings are shown to
win over the profile whatever version is chosen later.
"""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sim_helpers import Api, SimFactory, VersionedFactory, make_archive

from gitlab_ferry_testbed.simulator import InstanceSettings, Profile, SimSettings, Simulator
from gitlab_ferry_testbed.simulator.clock import ManualClock
from gitlab_ferry_testbed.simulator.versions import (
    CHANGES,
    FLAGS,
    parse_version,
    version_defaults,
)

DEVELOPMENT_GUIDE = Path(__file__).parents[2] / "docs" / "development.md"

NAMED = ("13.12", "14.10", "15.11", "16.11", "17.11", "18.7")
# switch: its value in each of the NAMED profiles, in order
EXPECTED: dict[str, tuple[Any, ...]] = {
    "profile.remote_import": (True,) * 6,
    "profile.remote_import_s3": (False, True, True, True, True, True),
    "profile.remote_import_refuses_s3": (False, True, False, False, False, False),
    "profile.relation_import": (False, False, False, True, True, True),
    "profile.maintainer_to_import": (False, False, False, True, True, True),
    "profile.namespace_id_params": (False,) * 5 + (True,),
    "profile.retry_after_header": (False,) * 5 + (True,),
    "profile.download_limit_scope": ("project", "project") + ("namespace",) * 4,
    "profile.stuck_import_timeout": (54000.0,) + (86400.0,) * 5,
    "profile.metadata_api": (False, False, True, True, True, True),
    "profile.metadata_enterprise": (False, False, True, True, True, True),
    "profile.metadata_kas_k8s_proxy_url": (False,) * 4 + (True, True),
    "profile.statistics_container_registry_size": (False,) * 3 + (True,) * 3,
    "instance.max_import_size": (0,) * 6,
    "profile.project_topics": (False,) + (True,) * 5,
    "profile.group_import_keeps_visibility": (False,) * 3 + (True,) * 3,
    "profile.groups_api_rate_limits": (False,) * 4 + (True,) * 2,
    "profile.group_import_rate_limit": (False,) * 6,
}


@pytest.mark.parametrize(("index", "version"), list(enumerate(NAMED)))
def test_named_profiles(index: int, version: str) -> None:
    settings = SimSettings().merged({"behaviour": {"gitlab_version": version}})
    for key, values in EXPECTED.items():
        section, name = key.split(".")
        assert getattr(getattr(settings, section), name) == values[index], (version, key)


def test_flag_defaults_follow_the_release() -> None:
    remote = FLAGS["import_project_from_remote_file"]
    s3 = FLAGS["import_project_from_remote_file_s3"]
    relation = FLAGS["single_relation_import"]
    assert [remote.default(parse_version(v)) for v in ("13.12", "14.0")] == [False, True]
    assert [s3.checked(parse_version(v)) for v in ("14.8", "14.9", "15.10.9", "15.11")] == [
        False,
        True,
        True,
        False,
    ]
    assert s3.default(parse_version("14.10")) is False  # on for the SaaS instance only
    assert [relation.checked(parse_version(v)) for v in ("16.10", "16.11", "17.0", "17.1")] == [
        False,
        True,
        True,
        False,
    ]


def test_class_defaults_are_the_18_7_profile() -> None:
    """The models' own defaults cannot drift from the table's newest release."""
    defaults = version_defaults("18.7.0")
    assert {k: getattr(Profile(), k) for k in defaults["profile"]} == defaults["profile"]
    assert {k: getattr(InstanceSettings(), k) for k in defaults["instance"]} == defaults["instance"]
    assert SimSettings().behaviour.gitlab_version == "18.7.0"


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("17.11.3", (17, 11, 3)),
        ("18.7.0-ee", (18, 7, 0)),
        ("14.10", (14, 10, 0)),
        ("v16.0", (16, 0, 0)),
    ],
)
def test_version_strings(text: str, parsed: tuple[int, int, int]) -> None:
    assert parse_version(text) == parsed


def test_patch_releases_and_versions_between_named_ones() -> None:
    assert version_defaults("17.11.3") == version_defaults("17.11.0")
    between = version_defaults("15.3.2")["profile"]
    assert (between["metadata_api"], between["version_mirrors_metadata"]) == (True, False)
    assert version_defaults("13.7")["instance"]["max_import_size"] == 50
    assert version_defaults("13.8")["instance"]["max_import_size"] == 0


def test_every_change_names_its_source() -> None:
    assert all(c.source and parse_version(c.since) for c in CHANGES)


def test_the_development_guide_lists_every_cut_over() -> None:
    rows = {
        line.split("|")[1].strip(" `"): line
        for line in DEVELOPMENT_GUIDE.read_text().splitlines()
        if line.startswith("| `")
    }
    for change in CHANGES:
        assert change.since in rows[change.setting] or change.value is False, change
    assert set(FLAGS) <= set(rows)


def test_a_bad_version_is_refused() -> None:
    with pytest.raises(ValueError, match="not a GitLab version"):
        SimSettings().merged({"behaviour": {"gitlab_version": "latest"}})


# explicit settings win


def _seed(settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "users": [{"username": "root", "token": "root-token", "admin": True}],
        "groups": [{"path": "grp"}],
        "settings": settings,
    }


async def test_seed_settings_override_the_profile(
    make_sim: SimFactory, session: aiohttp.ClientSession
) -> None:
    seed = _seed(
        {
            "behaviour": {"gitlab_version": "13.12"},
            "profile": {"namespace_id_params": True},
            "instance": {"max_import_size": 7},
        }
    )
    sim = await make_sim(seed=seed)
    api = Api(session, sim)
    assert sim.settings.profile.remote_import_s3 is False  # from the profile
    grp = sim.state.namespace_by_full_path("grp")
    assert grp is not None
    r = await api.import_file(make_archive(), path="t", namespace_id=grp.id)
    assert r.json()["path_with_namespace"] == "grp/t"  # explicit beats 13.12's "ignored"
    # choosing another release re-derives the rest and keeps what the seed said
    sim.update_settings({"behaviour": {"gitlab_version": "16.11"}})
    assert sim.settings.profile.remote_import_s3 is True
    assert sim.settings.profile.namespace_id_params is True
    assert sim.settings.instance.max_import_size == 7


async def test_control_api_selects_a_version(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    async with session.put(
        f"{sim.url}/-/sim/settings", json={"behaviour": {"gitlab_version": "14.10.2"}}
    ) as r:
        body = await r.json()
    assert r.status == 200
    assert body["profile"]["retry_after_header"] is False
    assert body["profile"]["relation_import"] is False
    r2 = await Api(session, sim).get("/projects/grp%2Fproj/relation-imports", "root-token")
    assert (r2.status, r2.json()) == (404, {"error": "404 Not Found"})


# GET /version and /metadata


async def _version(api: Api, path: str = "/version") -> Any:
    r = await api.get(path, "reader-token")
    assert r.status == 200, r.text
    return r.json()


async def test_version_needs_a_user(at_version: VersionedFactory) -> None:
    api = await at_version("18.7.0")
    r = await api.get("/version")
    assert (r.status, r.json()) == (401, {"message": "401 Unauthorized"})


async def test_version_before_and_after_the_metadata_mirror(at_version: VersionedFactory) -> None:
    old = await _version(await at_version("15.4.6"))
    assert old == {"version": "15.4.6", "revision": "6e1fd9a3c2b"}
    mirrored = await _version(await at_version("15.5.0"))
    assert mirrored == {
        "version": "15.5.0",
        "revision": "6e1fd9a3c2b",
        "kas": {"enabled": False, "externalUrl": None, "version": None},
    }
    enterprise = await _version(await at_version("15.6.0-ee"))
    assert enterprise["enterprise"] is True
    assert (await _version(await at_version("15.6")))["version"] == "15.6.0"
    assert (await _version(await at_version("15.6")))["enterprise"] is False


async def test_kas_proxy_url_from_17_6(at_version: VersionedFactory) -> None:
    assert "externalK8sProxyUrl" not in (await _version(await at_version("17.5.4")))["kas"]
    assert (await _version(await at_version("17.6.0")))["kas"] == {
        "enabled": False,
        "externalUrl": None,
        "externalK8sProxyUrl": None,
        "version": None,
    }


async def test_metadata_route_from_15_2(at_version: VersionedFactory) -> None:
    r = await (await at_version("15.1.0")).get("/metadata", "root-token")
    assert (r.status, r.json()) == (404, {"error": "404 Not Found"})
    body = await _version(await at_version("15.2.0"), "/metadata")
    assert set(body) == {"version", "revision", "kas"}


# the import switches


async def test_namespace_id_is_ignored_before_18_7(at_version: VersionedFactory) -> None:
    for version, lands_in in (("18.6.2", "root/t"), ("18.7.0", "grp/t")):
        api = await at_version(version)
        grp = api.sim.state.namespace_by_full_path("grp")
        assert grp is not None
        r = await api.import_file(make_archive(), path="t", namespace_id=grp.id)
        assert r.status == 201, r.text
        assert r.json()["path_with_namespace"] == lands_in, version
        r = await api.import_file(make_archive(), path="u", namespace="grp")
        assert r.json()["path_with_namespace"] == "grp/u"  # `namespace` works everywhere


@pytest.mark.parametrize(
    ("version", "developer_may_import"),
    [
        ("15.9.9", True),
        ("15.10.4", True),
        ("15.10.5", False),
        ("15.11.0", True),
        ("15.11.1", False),
        ("16.0.0", False),
    ],
)
async def test_developers_import_until_16_0_and_its_backports(
    at_version: VersionedFactory, version: str, developer_may_import: bool
) -> None:
    api = await at_version(version)
    r = await api.import_file(make_archive(), token="dev-token", path="d", namespace="grp")
    if developer_may_import:
        assert r.status == 201, r.text
    else:
        assert (r.status, r.json()) == (400, {"message": "Namespace is not valid"})


async def test_max_import_size_default_is_50_mb_before_13_8(at_version: VersionedFactory) -> None:
    payload = random.Random(3).randbytes(50 * 1024 * 1024 + 1)
    for version, status in (("13.7.9", 413), ("13.8.0", 201)):
        api = await at_version(version)
        form = aiohttp.FormData()
        form.add_field("path", "big")
        form.add_field("file", io.BytesIO(payload), filename="big.tar.gz")
        r = await api.post("/projects/import", "root-token", data=form)
        assert r.status == status, (version, r.text)


async def test_stuck_imports_time_out_after_15_hours_before_14_1(
    at_version: VersionedFactory, clock: ManualClock
) -> None:
    for version, fails in (("14.0.12", True), ("14.1.0", False)):
        api = await at_version(version)
        api.sim.set_faults({"jobs": [{"job": "import", "mode": "stuck"}]})
        r = await api.import_file(make_archive(), path=f"slow{version}", namespace="grp")
        await api.sim.step()
        clock.advance(54001)
        body = (await api.get(f"/projects/{r.json()['id']}/import", "root-token")).json()
        assert (body["import_status"] == "failed") is fails, version
        if fails:
            assert body["import_error"] == "Import timed out. Import took longer than 54000 seconds"


# rate limits


async def test_download_limit_per_project_until_15_0(at_version: VersionedFactory) -> None:
    for version, second in (("14.10.5", 404), ("15.0.0", 429)):
        api = await at_version(version)
        assert (await api.get("/projects/grp%2Fproj/export/download", "maint-token")).status == 404
        r = await api.get("/projects/grp%2Fother/export/download", "maint-token")
        assert r.status == second, version


async def test_retry_after_from_18_5(at_version: VersionedFactory) -> None:
    for version, header in (("18.4.3", None), ("18.5.0", "60")):
        api = await at_version(version)
        await api.get("/projects/grp%2Fproj/export/download", "maint-token")
        r = await api.get("/projects/grp%2Fproj/export/download", "maint-token")
        assert r.status == 429
        assert r.headers.get("Retry-After") == header, version
