"""Seeds (built-in and YAML) and the ``simulate`` command."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner
from sim_helpers import Api

from gitlab_ferry_testbed.simulator import Seed, Simulator, SimulatorConfig
from gitlab_ferry_testbed.simulator.cli import simulate
from gitlab_ferry_testbed.simulator.seed import apply_seed
from gitlab_ferry_testbed.simulator.state import State

# the shape from the simulator's brief, one entry per line
BRIEF_SEED = """
users:
  - {username: root, token: glpat-root-token, admin: true}
  - {username: alice, token: glpat-alice}
groups:   [{path: gitlab-org}, {path: gitlab-org/sub}]
projects:
  - {path_with_namespace: gitlab-org/gitlab-test, description: "A test project", owner: root}
"""


async def test_brief_seed_shape(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(BRIEF_SEED)
    async with Simulator(SimulatorConfig(), seed=path) as sim:
        api = Api(session, sim)
        me = (await api.get("/user", "glpat-alice")).json()
        assert me["username"] == "alice"
        project = (await api.get("/projects/gitlab-org%2Fgitlab-test", "glpat-root-token")).json()
        assert project["description"] == "A test project"
        assert project["namespace"]["full_path"] == "gitlab-org"
        hidden = await api.get("/projects/gitlab-org%2Fgitlab-test", "glpat-alice")
        assert hidden.status == 404
        sub = await api.get("/namespaces/gitlab-org%2Fsub", "glpat-root-token")
        assert sub.json()["parent_id"] is not None


async def test_default_and_empty_seeds(session: aiohttp.ClientSession) -> None:
    default, empty = Seed.load("default"), Seed.load("empty")
    assert len(default.projects) >= 20
    assert [u.username for u in default.users] == [u.username for u in empty.users]
    assert [g.path for g in default.groups] == [g.path for g in empty.groups]
    assert empty.projects == []
    async with Simulator(SimulatorConfig(), seed="default") as sim:
        api = Api(session, sim)
        listing = await api.get("/projects?per_page=100", "glpat-root-token")
        assert int(listing.headers["X-Total"]) == len(default.projects)
        flawed = [p for p in default.projects if p.invalid_issues]
        assert flawed
        summary = await sim.project_summary(flawed[0].path_with_namespace)
        assert summary["content"]["invalid_relations"] == {"issues": flawed[0].invalid_issues}


def test_seed_errors() -> None:
    with pytest.raises(ValueError, match="unknown user"):
        apply_seed(
            State(),
            Seed.model_validate({"groups": [{"path": "g", "members": [{"user": "ghost"}]}]}),
            now=0,
        )
    with pytest.raises(ValueError, match="needs a namespace"):
        apply_seed(
            State(), Seed.model_validate({"projects": [{"path_with_namespace": "x"}]}), now=0
        )
    with pytest.raises(ValueError, match="unknown access level"):
        Seed.model_validate(
            {"groups": [{"path": "g", "members": [{"user": "a", "access_level": "boss"}]}]}
        )


async def wait_for(path: Path, proc: asyncio.subprocess.Process, seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await asyncio.to_thread(path.exists):
            return (await asyncio.to_thread(path.read_text)).strip()
        if proc.returncode is not None:
            break
        await asyncio.sleep(0.05)
    raise AssertionError("the simulator did not write its ready file")


async def test_simulate_command(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    ready = tmp_path / "ready"
    settings_file = tmp_path / "settings.yaml"
    settings_file.write_text(
        "profile: {export_failed_status: false, stuck_import_timeout: 54000}\n"
    )
    anchor = time.time()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from gitlab_ferry_testbed.simulator.cli import simulate; simulate()",
        "--settings",
        str(settings_file),
        "--port",
        "0",
        "--seed",
        "empty",
        "--ready-file",
        str(ready),
        "--step-mode",
        "--project-import-limit",
        "0",
        "--object-storage",
        "--clock-speed",
        "60",
        "--clock-anchor",
        str(anchor),
        "--data-dir",
        str(tmp_path / "data"),
        "--gitlab-version",
        "16.10.2",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        url = await wait_for(ready, proc)
        assert url.startswith("http://127.0.0.1:")
        async with session.get(
            f"{url}/api/v4/user", headers={"PRIVATE-TOKEN": "glpat-root-token"}
        ) as r:
            assert (await r.json())["username"] == "root"
        async with session.get(f"{url}/-/sim/settings") as r:
            settings = await r.json()
        assert settings["timing"]["step_mode"] is True
        assert settings["instance"]["project_import_limit"] == 0
        assert settings["behaviour"]["object_storage"] is True
        assert settings["profile"]["export_failed_status"] is False
        assert settings["profile"]["stuck_import_timeout"] == 54000
        assert settings["behaviour"]["gitlab_version"] == "16.10.2"
        assert settings["profile"]["relation_import"] is False  # from the 16.10 profile
        async with session.get(f"{url}/-/sim/clock") as r:
            clock = await r.json()
        assert clock["kind"] == "ScaledClock"
        assert clock["time"] >= anchor + (time.time() - anchor) * 60 - 120
        assert (tmp_path / "data" / "exports").is_dir()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0
    assert b"GitLab simulator listening on" in out


def test_a_malformed_release_is_a_usage_error() -> None:
    result = CliRunner().invoke(simulate, ["--gitlab-version", "latest", "--port", "0"])
    assert result.exit_code == 2
    assert "not a GitLab version: 'latest'" in result.output
