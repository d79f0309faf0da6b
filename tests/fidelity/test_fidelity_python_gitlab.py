"""python-gitlab, a client nobody here wrote, drives the simulator through a whole migration."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import boto3
import gitlab
import pytest
from fidelity_helpers import FileServer, client, wait_until
from gitlab.v4.objects import Project

from gitlab_ferry_testbed.simulator import Simulator


def export_archive(gl: gitlab.Gitlab, path: str) -> bytes:
    project = gl.projects.get(path)
    export = project.exports.create()
    assert export.message == "202 Accepted"

    def finished() -> bool:
        export.refresh()
        return bool(export.export_status == "finished")

    wait_until(finished)
    assert export._links["api_url"].endswith(f"/api/v4/projects/{project.id}/export/download")
    data = export.download()
    assert isinstance(data, bytes)
    return data


def wait_for_import(gl: gitlab.Gitlab, project_id: int) -> Any:
    project_import = gl.projects.get(project_id, lazy=True).imports.get()

    def done() -> bool:
        project_import.refresh()
        return project_import.import_status in ("finished", "failed")

    wait_until(done)
    return project_import


async def test_export_download_and_import_project(gitlab_sim: Simulator) -> None:
    def flow() -> tuple[bytes, dict[str, Any], Any]:
        gl = client(gitlab_sim)
        assert gl.user is not None
        assert gl.user.username == "root"
        data = export_archive(gl, "gitlab-org/gitlab-test")
        output = gl.projects.import_project(
            file=io.BytesIO(data),
            path="gitlab-test-copy",
            namespace="gitlab-org",
            override_params={"description": "copied by python-gitlab"},
        )
        assert isinstance(output, dict)
        return data, output, wait_for_import(gl, output["id"])

    data, output, project_import = await asyncio.to_thread(flow)
    assert data[:2] == b"\x1f\x8b"
    assert output["import_status"] == "scheduled"
    assert output["path_with_namespace"] == "gitlab-org/gitlab-test-copy"
    assert project_import.import_status == "finished"
    assert project_import.failed_relations == []
    source = (await gitlab_sim.project_summary("gitlab-org/gitlab-test"))["content"]
    copy = (await gitlab_sim.project_summary("gitlab-org/gitlab-test-copy"))["content"]
    assert copy["description"] == "copied by python-gitlab"
    assert {k: v for k, v in copy.items() if k != "description"} == {
        k: v for k, v in source.items() if k != "description"
    }


async def test_import_with_failed_relations(gitlab_sim: Simulator) -> None:
    flawed = next(
        p
        for p in gitlab_sim.state.projects.values()
        if p.content.relations.get("issues")
        and any(i.get("title") is None for i in p.content.relations["issues"])
    )
    path = gitlab_sim.state.full_path(flawed)

    def flow() -> Any:
        gl = client(gitlab_sim)
        data = export_archive(gl, path)
        output = gl.projects.import_project(file=io.BytesIO(data), path="flawed-copy")
        return wait_for_import(gl, output["id"])

    project_import = await asyncio.to_thread(flow)
    assert project_import.import_status == "finished"
    assert project_import.failed_relations
    assert {f["relation_name"] for f in project_import.failed_relations} == {"issues"}
    assert all(f["exception_message"] is None for f in project_import.failed_relations)


async def test_remote_import(gitlab_sim: Simulator, file_server: FileServer) -> None:
    def flow() -> Any:
        gl = client(gitlab_sim)
        file_server.files["/archive.tar.gz"] = export_archive(gl, "platform/charts")
        output = gl.projects.remote_import(
            url=f"{file_server.url}/archive.tar.gz", path="charts-remote", namespace="platform"
        )
        assert isinstance(output, dict)
        assert output["import_status"] == "scheduled"
        return wait_for_import(gl, output["id"])

    project_import = await asyncio.to_thread(flow)
    assert project_import.import_status == "finished"
    assert project_import.path_with_namespace == "platform/charts-remote"


async def test_remote_import_s3(gitlab_sim: Simulator, moto_endpoint: str) -> None:
    creds = {"region": "us-east-1", "access_key_id": "AKID", "secret_access_key": "SECRET"}
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name=creds["region"],
        aws_access_key_id=creds["access_key_id"],
        aws_secret_access_key=creds["secret_access_key"],
    )

    def flow() -> Any:
        gl = client(gitlab_sim)
        data = export_archive(gl, "platform/apps/mobile")
        s3.create_bucket(Bucket="gl-exports")
        s3.put_object(
            Bucket="gl-exports", Key="mobile.tar.gz", Body=data, ContentType="application/gzip"
        )
        output = gl.projects.remote_import_s3(
            path="mobile-s3",
            region=creds["region"],
            bucket_name="gl-exports",
            file_key="mobile.tar.gz",
            access_key_id=creds["access_key_id"],
            secret_access_key=creds["secret_access_key"],
            namespace="platform/apps",
        )
        assert isinstance(output, dict)
        return wait_for_import(gl, output["id"])

    project_import = await asyncio.to_thread(flow)
    assert project_import.import_status == "finished"
    source = (await gitlab_sim.project_summary("platform/apps/mobile"))["content"]
    copy = (await gitlab_sim.project_summary("platform/apps/mobile-s3"))["content"]
    assert copy == source


async def test_errors_surface_as_python_gitlab_exceptions(gitlab_sim: Simulator) -> None:
    def flow() -> None:
        gl = client(gitlab_sim)
        with pytest.raises(gitlab.exceptions.GitlabGetError) as missing:
            gl.projects.get("gitlab-org/nope")
        assert missing.value.response_code == 404
        project: Project = gl.projects.get("gitlab-org/gitlab-test")
        with pytest.raises(gitlab.exceptions.GitlabGetError) as not_ready:
            project.exports.get().download()
        assert not_ready.value.response_code == 404
        assert "404 Not found or has expired" in str(not_ready.value)
        with pytest.raises(gitlab.exceptions.GitlabImportError) as taken:
            gl.projects.import_project(
                file=io.BytesIO(b"x"), path="gitlab-test", namespace="gitlab-org"
            )
        assert taken.value.response_code == 400
        assert "Path has already been taken" in str(taken.value)
        anonymous = gitlab.Gitlab(gitlab_sim.url, private_token="wrong")
        with pytest.raises(gitlab.exceptions.GitlabAuthenticationError):
            anonymous.auth()

    await asyncio.to_thread(flow)
