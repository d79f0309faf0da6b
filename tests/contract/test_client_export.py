"""The client against the simulator over loopback HTTP: a whole export (schedule, poll,
download), per-user ownership, and GitLab's rate limit hit and honoured."""

from __future__ import annotations

import hashlib
import io
import tarfile

import pytest

from gitlab_ferry.gitlab import errors
from gitlab_ferry.gitlab_states import ExportState


async def test_a_whole_export(simulator, client_for):
    sim = await simulator()
    client = client_for(sim)
    assert (await client.export_status("group/sub/project")).state is ExportState.NONE
    await client.schedule_export("group/sub/project", description="Exported copy")
    seen = []
    for _ in range(10):
        status = await client.export_status("group/sub/project")
        seen.append(status.state)
        if status.state is ExportState.FINISHED:
            break
        await sim.step()
        await sim.settle()
    assert seen[-1] is ExportState.FINISHED
    assert ExportState.QUEUED in seen or ExportState.STARTED in seen
    assert status.links is not None
    assert status.links.api_url is not None
    assert status.links.api_url.endswith(f"/projects/{status.id}/export/download")

    chunks: list[bytes] = []

    async def sink(chunk: bytes) -> None:
        chunks.append(chunk)

    name, size = await client.download_export("group/sub/project", sink)
    data = b"".join(chunks)
    assert size == len(data) > 0
    assert name.endswith("_group_sub_project_export.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = {m.name.removeprefix("./"): m for m in tar.getmembers()}
        version = tar.extractfile(members["VERSION"]).read()  # type: ignore[union-attr]
        project = tar.extractfile(members["tree/project.json"]).read()  # type: ignore[union-attr]
        bundle = tar.extractfile(members["project.bundle"]).read()  # type: ignore[union-attr]
    assert version.strip() == b"0.2.4"
    assert b"Exported copy" in project
    summary = await sim.project_summary("group/sub/project")
    assert hashlib.sha256(bundle).hexdigest() == summary["content"]["repository_sha256"]


async def test_exports_belong_to_the_user_who_made_them(simulator, client_for):
    sim = await simulator(
        seed={
            "users": [
                {"username": "root", "token": "glpat-root-token", "admin": True},
                {"username": "alice", "token": "glpat-alice"},
            ],
            "groups": [
                {"path": "group", "members": [{"user": "alice", "access_level": "maintainer"}]}
            ],
            "projects": [{"path_with_namespace": "group/p", "owner": "root"}],
        }
    )
    root, alice = client_for(sim), client_for(sim, "glpat-alice")
    await root.schedule_export("group/p")
    await sim.step()
    assert (await root.export_status("group/p")).state is not ExportState.NONE
    assert (await alice.export_status("group/p")).state is ExportState.NONE
    with pytest.raises(errors.ExportNotAvailable):
        await alice.download_export("group/p", _discard)


async def _discard(chunk: bytes) -> None:
    del chunk


async def test_the_export_limit_is_hit_and_honoured(simulator, client_for, clock):
    sim = await simulator()
    client = client_for(sim)
    for _ in range(6):
        await client.schedule_export("group/other")
    with pytest.raises(errors.RateLimited) as throttled:
        await client.schedule_export("group/other")
    assert throttled.value.retry_after == 60
    assert not throttled.value.plain_text
    clock.advance(throttled.value.retry_after)
    await client.schedule_export("group/other")  # a new window: allowed again


async def test_rack_attack_429s_give_the_reset_time(simulator, client_for):
    sim = await simulator(behaviour={"rack_attack": {"enabled": True, "limit": 2, "period": 60}})
    client = client_for(sim)
    await client.export_status("group/other")
    await client.export_status("group/other")
    with pytest.raises(errors.RateLimited) as throttled:
        await client.export_status("group/other")
    assert throttled.value.plain_text
    assert throttled.value.retry_after is not None
    assert 0 < throttled.value.retry_after <= 60
