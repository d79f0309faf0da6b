"""Group-tree seeds (``trees:``, the built-in ``group-tree`` and ``group-tree-scale``) and
adding projects to groups through the control API while a migration runs."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
from sim_helpers import Api, SimFactory

from gitlab_ferry_testbed.simulator import Seed, Simulator
from gitlab_ferry_testbed.simulator.seed import apply_seed
from gitlab_ferry_testbed.simulator.state import State


def _groups(sim: Simulator, top: str) -> list[str]:
    return sorted(
        n.full_path
        for n in sim.state.namespaces.values()
        if n.full_path == top or n.full_path.startswith(f"{top}/")
    )


async def _all_projects(api: Api, group: str, token: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    page = "1"
    while page:
        r = await api.get(
            f"/groups/{group}/projects?include_subgroups=true&per_page=100&page={page}", token
        )
        assert r.status == 200
        out += r.json()
        page = r.headers["X-Next-Page"]
    return out


async def test_the_group_tree_seed(make_sim: SimFactory, session: aiohttp.ClientSession) -> None:
    sim = await make_sim(seed="group-tree")
    assert _groups(sim, "platform") == [
        "platform",
        "platform/backend",
        "platform/backend/frontend",
        "platform/infra",
        "platform/infra/data",
        "platform/mobile",
    ]
    api = Api(session, sim)
    projects = await _all_projects(api, "platform", "glpat-alice")
    assert len(projects) == 40
    assert sum(p["archived"] for p in projects) == 5  # every 7th
    assert sum(bool(p["topics"]) for p in projects) == 13  # every 3rd
    assert sorted(p["path"] for p in projects if "." in p["path"]) == [
        "my.lib-10",
        "my.lib-20",
        "my.lib-30",
        "my.lib-40",
    ]
    group = (await api.get("/groups/platform%2Finfra", "glpat-alice")).json()
    assert group["description"] == "Generated group platform/infra"
    infra = sim.state.namespace_by_full_path("platform/infra")
    assert infra is not None
    assert [len(infra.relations["labels"]), len(infra.relations["milestones"])] == [2, 1]


def test_trees_expand_the_same_way_every_time() -> None:
    seed = Seed.load("group-tree")
    first, second = State(), State()
    apply_seed(first, seed, now=0)
    apply_seed(second, Seed.load("group-tree"), now=0)

    def picture(state: State) -> list[tuple[str, Any, Any]]:
        return [
            (state.full_path(p), p.attributes, p.content.repository.digest())
            for p in state.projects.values()
        ]

    assert picture(first) == picture(second)


async def test_the_scale_seed_is_quick_and_its_projects_export_cheaply(
    make_sim: SimFactory, session: aiohttp.ClientSession
) -> None:
    started = time.monotonic()
    sim = await make_sim(seed="group-tree-scale")
    assert time.monotonic() - started < 5
    groups = _groups(sim, "acme")
    assert len(groups) == 50
    assert max(g.count("/") for g in groups) == 5
    api = Api(session, sim)
    projects = await _all_projects(api, "acme", "glpat-root-token")
    assert len(projects) == 1000
    assert len(api.sim.requests("group_projects")) == 10
    path = projects[0]["path_with_namespace"].replace("/", "%2F")
    archive = await api.finished_export(path, token="glpat-root-token")
    assert len(archive) < 64 * 1024


async def test_control_api_adds_projects_to_any_group(api: Api) -> None:
    made = await api.post("/groups", "owner-token", json={"name": "Late", "path": "late"})
    assert made.status == 201
    url = f"{api.sim.url}/-/sim/projects"
    body = {
        "path_with_namespace": "late/arrival",
        "owner": "owner",
        "attributes": {"archived": True},
    }
    async with api.session.post(url, json=body) as r:
        assert r.status == 201
        assert (await r.json())["path_with_namespace"] == "late/arrival"
    listed = (await api.get("/groups/late/projects", "owner-token")).json()
    assert [(p["path"], p["archived"]) for p in listed] == [("arrival", True)]
    async with api.session.get(f"{api.sim.url}/-/sim/groups") as r:
        late = next(g for g in await r.json() if g["full_path"] == "late")
    assert late["projects"] == 1
