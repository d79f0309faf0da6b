"""The simulator's bodies have the keys and value types of GitLab's documented examples.

Each ``fixtures/*.json`` holds one response example copied from the API documentation in
``shared/reference/seeds`` (``source``), the request that produces it, and, where the
documentation and GitLab's entity code differ, the keys the entity adds (``extra_keys``) or the
type it really exposes (``type_exceptions``), each with the reason.
"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import pytest
from fidelity_helpers import ROOT_TOKEN, FileServer, serve_files
from yarl import URL

from gitlab_ferry_testbed.simulator import Seed, Simulator, SimulatorConfig
from gitlab_ferry_testbed.simulator.clock import ManualClock

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_NAMES = sorted(p.stem for p in FIXTURES.glob("*.json"))
HEADERS = {"PRIVATE-TOKEN": ROOT_TOKEN}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def mismatches(doc: Any, sim: Any, spec: dict[str, Any], path: str = "") -> list[str]:
    """Differences in keys and value types between a documented and a simulated body."""
    extra = spec.get("extra_keys", {})
    exceptions = spec.get("type_exceptions", {})
    where = path.rstrip(".")
    if where in exceptions:
        return [] if sim is None else [f"{where}: expected null ({exceptions[where]})"]
    if _kind(doc) != _kind(sim):
        return [f"{where or '<root>'}: {_kind(doc)} in the docs, {_kind(sim)} here"]
    out: list[str] = []
    if isinstance(doc, dict):
        for key in sorted(set(sim) - set(doc)):
            if f"{path}{key}" not in extra:
                out.append(f"{path}{key}: not in the documented example")
        for key in sorted(set(doc) - set(sim)):
            out.append(f"{path}{key}: missing")
        for key in sorted(set(doc) & set(sim)):
            out += mismatches(doc[key], sim[key], spec, f"{path}{key}.")
    elif isinstance(doc, list) and doc:
        if not sim:
            return [f"{where}: empty here, cannot compare items"]
        for item in sim:
            out += mismatches(doc[0], item, spec, f"{where}[].")
    return out


async def _call(
    session: aiohttp.ClientSession, sim: Simulator, method: str, path: str, **kw: Any
) -> Any:
    async with session.request(
        method, URL(sim.api_url + path, encoded=True), headers=HEADERS, **kw
    ) as r:
        assert r.status < 300, await r.text()
        return await r.json()


def _form(data: bytes, **fields: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for key, value in fields.items():
        form.add_field(key, value)
    form.add_field("file", io.BytesIO(data), filename="export.tar.gz")
    return form


@pytest.fixture(scope="module")
def bodies(moto_endpoint: str) -> dict[str, Any]:
    """One response per fixture, produced once by the requests the fixtures name."""
    return asyncio.run(_collect(moto_endpoint))


async def _collect(moto_endpoint: str) -> dict[str, Any]:
    async with serve_files() as file_server:
        return await _collect_with(moto_endpoint, file_server)


async def _collect_with(moto_endpoint: str, file_server: FileServer) -> dict[str, Any]:
    config = SimulatorConfig(s3_endpoint=moto_endpoint)
    config.settings = config.settings.merged({"timing": {"step_mode": True}})
    out: dict[str, Any] = {}
    async with (
        Simulator(config, seed=Seed.load("default"), clock=ManualClock()) as sim,
        aiohttp.ClientSession() as s,
    ):
        project = "/projects/gitlab-org%2Fgitlab-test"
        out["export_accepted"] = await _call(s, sim, "POST", f"{project}/export")
        await sim.step()
        await sim.step()
        out["export_status_finished"] = await _call(s, sim, "GET", f"{project}/export")
        async with s.get(
            URL(sim.api_url + f"{project}/export/download", encoded=True), headers=HEADERS
        ) as r:
            archive = await r.read()
        created = await _call(
            s, sim, "POST", "/projects/import", data=_form(archive, path="api-project")
        )
        out["import_file_scheduled"] = out["import_file_scheduled_gitlab_10"] = created
        file_server.files["/remote.tar.gz"] = archive
        out["remote_import_scheduled"] = await _call(
            s,
            sim,
            "POST",
            "/projects/remote-import",
            json={"url": file_server.url + "/remote.tar.gz", "path": "remote-project"},
        )
        s3 = boto3.client(
            "s3",
            endpoint_url=moto_endpoint,
            region_name="us-east-1",
            aws_access_key_id="AKID",
            aws_secret_access_key="SECRET",
        )
        await asyncio.to_thread(s3.create_bucket, Bucket="fixtures")
        await asyncio.to_thread(
            s3.put_object,
            Bucket="fixtures",
            Key="a.tar.gz",
            Body=archive,
            ContentType="application/gzip",
        )
        out["remote_import_s3_scheduled"] = await _call(
            s,
            sim,
            "POST",
            "/projects/remote-import-s3",
            json={
                "region": "us-east-1",
                "bucket_name": "fixtures",
                "file_key": "a.tar.gz",
                "access_key_id": "AKID",
                "secret_access_key": "SECRET",
                "path": "sample-project",
            },
        )
        flawed = "/projects/gitlab-org%2Fsub%2Fpages"
        sim.reset_rate_limits()
        await _call(s, sim, "POST", f"{flawed}/export")
        await sim.step()
        await sim.step()
        async with s.get(
            URL(sim.api_url + f"{flawed}/export/download", encoded=True), headers=HEADERS
        ) as r:
            flawed_archive = await r.read()
        sim.reset_rate_limits()
        imported = await _call(
            s, sim, "POST", "/projects/import", data=_form(flawed_archive, path="pages-copy")
        )
        await sim.step()
        await sim.step()
        status = await _call(s, sim, "GET", f"/projects/{imported['id']}/import")
        assert status["import_status"] == "finished"
        out["import_status_failed_relations"] = out["import_status_gitlab_13"] = status
        out["relation_import_created"] = await _call(
            s,
            sim,
            "POST",
            "/projects/import-relation",
            data=_form(archive, path="gitlab-org/gitlab-test", relation="issues"),
        )
        out["relation_imports_list"] = await _call(s, sim, "GET", f"{project}/relation-imports")
    return out


@pytest.mark.parametrize("name", FIXTURE_NAMES)
async def test_body_matches_documented_example(name: str, bodies: dict[str, Any]) -> None:
    spec = json.loads((FIXTURES / f"{name}.json").read_text())
    assert spec["source"].startswith("shared/reference/seeds/")
    assert mismatches(spec["example"], bodies[name], spec) == []


@pytest.mark.parametrize("name", FIXTURE_NAMES)
async def test_declared_differences_are_real(name: str, bodies: dict[str, Any]) -> None:
    """Every key a fixture says the entity adds is really there (the metadata is not stale)."""
    spec = json.loads((FIXTURES / f"{name}.json").read_text())
    body = bodies[name]
    items = body if isinstance(body, list) else [body]
    for key in spec.get("extra_keys", {}):
        head, _, tail = key.partition("[].")
        for item in items:
            if tail:
                assert all(tail in entry for entry in item[head]), key
            else:
                assert head in item, key


def test_the_comparison_catches_differences() -> None:
    doc = {"a": 1, "b": "x", "c": [{"d": None}]}
    assert mismatches(doc, {"a": 2, "b": "y", "c": [{"d": None}]}, {}) == []
    assert mismatches(doc, {"a": "1", "b": "y", "c": []}, {}) == [
        "a: number in the docs, string here",
        "c: empty here, cannot compare items",
    ]
    assert mismatches(doc, {"a": 1, "c": [{"d": None}], "z": 0}, {}) == [
        "z: not in the documented example",
        "b: missing",
    ]
