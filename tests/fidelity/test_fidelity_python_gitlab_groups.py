"""python-gitlab's own group import/export test (``test_group_import_export`` in its functional
tests), made with the same python-gitlab calls and assertions against the simulator.

python-gitlab's test sleeps 10 s twice because GitLab's group export and import have no status
endpoint; here the waits watch the simulator's own records instead, and the download is made
once, when the export is ready (every download attempt counts against 1 a minute).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fidelity_helpers import GitLabAt, client, wait_until

from gitlab_ferry_testbed.simulator import Simulator


@pytest.mark.parametrize("version", ["13.12", "16.11", "18.7"])
async def test_group_import_export(gitlab_at: GitLabAt, version: str, tmp_path: Path) -> None:
    async with gitlab_at(version) as sim:
        await asyncio.to_thread(_import_export, sim, tmp_path)


def _import_export(gitlab_sim: Simulator, tmp_path: Path) -> None:
    state = gitlab_sim.state
    gl = client(gitlab_sim)
    group = gl.groups.get("gitlab-org")
    export = group.exports.create()
    assert export.message == "202 Accepted"
    wait_until(lambda: any(key[0] == group.id for key in state.group_exports))

    import_archive = tmp_path / "gitlab-group-export.tgz"
    import_path = "imported_group"
    import_name = "Imported Group"
    with open(import_archive, "wb") as f:
        export.download(streamed=True, action=f.write)
    with open(import_archive, "rb") as f:
        output = gl.groups.import_group(f, import_path, import_name)
    assert isinstance(output, dict)
    assert output["message"] == "202 Accepted"

    wait_until(lambda: all(j.status in ("finished", "failed") for j in state.group_imports))
    group_import = gl.groups.get(import_path)
    assert group_import.path == import_path
    assert group_import.name == import_name
    subgroups = [g.full_path for g in group_import.descendant_groups.list(get_all=True)]
    assert subgroups == ["imported_group/sub"]
    assert [j.status for j in state.group_imports] == ["finished"]
