"""A 1 GiB archive downloaded, and streamed from a download into an upload, by the client in
its own process: its peak memory grows by less than 100 MB."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from tests.support.processes import SimulatorProcess

pytestmark = pytest.mark.slow

GIB = 1024**3
LIMIT = 100 * 1024**2
HERE = Path(__file__).parent


def _start(tmp: Path, name: str, seed: dict) -> SimulatorProcess:
    (tmp / name).mkdir()
    seed_file = tmp / name / "seed.yaml"
    seed_file.write_text(yaml.safe_dump(seed))
    sim = SimulatorProcess(
        tmp / name,
        "--export-queue-delay", "0", "--export-duration", "0",
        "--import-queue-delay", "0", "--import-duration", "0",
        seed=str(seed_file),
    )  # fmt: skip
    sim.start()
    return sim


def test_one_gib_streams_in_constant_memory(tmp_path):
    users = [{"username": "root", "token": "glpat-root-token", "admin": True}]
    source = _start(
        tmp_path,
        "source",
        {
            "users": users,
            "groups": [{"path": "big"}],
            "projects": [
                {"path_with_namespace": "big/monorepo", "owner": "root", "repository_size": "1GiB"}
            ],
            # Two downloads of one project within a minute: lift GitLab's 1/min for this test.
            "settings": {"instance": {"project_download_export_limit": 0}},
        },
    )
    destination = _start(
        tmp_path, "destination", {"users": users, "groups": [{"path": "big"}], "projects": []}
    )
    source_url, destination_url = source.url, destination.url
    try:
        headers = {"PRIVATE-TOKEN": "glpat-root-token"}
        api = f"{source_url}/api/v4/projects/big%2Fmonorepo/export"
        assert httpx.post(api, headers=headers).status_code == 202
        deadline = time.monotonic() + 180
        while httpx.get(api, headers=headers).json()["export_status"] != "finished":
            assert time.monotonic() < deadline, "the 1 GiB export did not finish"
            time.sleep(0.5)
        result = subprocess.run(
            [
                sys.executable,
                str(HERE / "streaming_worker.py"),
                source_url,
                destination_url,
                "big/monorepo",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        report = json.loads(result.stdout)
        print("1 GiB streaming:", report)
        assert report["downloaded"] > GIB
        assert report["download_growth"] < LIMIT, report
        assert report["pipe_growth"] < LIMIT, report
        status = f"{destination_url}/api/v4/projects/{report['import_id']}/import"
        deadline = time.monotonic() + 180
        while (state := httpx.get(status, headers=headers).json()["import_status"]) != "finished":
            assert state != "failed", httpx.get(status, headers=headers).json()
            assert time.monotonic() < deadline, "the 1 GiB import did not finish"
            time.sleep(0.5)
        control = {"PRIVATE-TOKEN": "glpat-root-token"}
        original = httpx.get(f"{source_url}/-/sim/projects/big%2Fmonorepo", headers=control).json()
        copy = httpx.get(f"{destination_url}/-/sim/projects/big%2Fbig-copy", headers=control).json()
        assert copy["content"]["repository_sha256"] == original["content"]["repository_sha256"]
    finally:
        for sim in (source, destination):
            sim.stop(grace=30)
