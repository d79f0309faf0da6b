"""``POST /projects/remote-import-s3`` and ``upload[url]`` against a real S3 server (moto)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from typing import Any

import aiohttp
import boto3
import pytest
from sim_helpers import LOCAL_HTTP, Api, SimFactory, issues, make_archive
from tests.support.archives import ArchiveServer
from tests.support.s3 import moto_s3

BUCKET = "exports"
CREDS = {
    "access_key_id": "AKIDEXAMPLE",
    "secret_access_key": "secret-example",
    "region": "us-east-1",
}


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with moto_s3() as server:
        s3_client(server.endpoint).create_bucket(Bucket=BUCKET)
        yield server.endpoint


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=CREDS["region"],
        aws_access_key_id=CREDS["access_key_id"],
        aws_secret_access_key=CREDS["secret_access_key"],
    )


def params(key: str, path: str = "from-s3", **extra: Any) -> dict[str, Any]:
    return {**CREDS, "bucket_name": BUCKET, "file_key": key, "path": path, **extra}


async def put(endpoint: str, key: str, body: bytes, content_type: str | None) -> None:
    extra = {"ContentType": content_type} if content_type else {}
    await asyncio.to_thread(
        s3_client(endpoint).put_object, Bucket=BUCKET, Key=key, Body=body, **extra
    )


@pytest.fixture
async def api(make_sim: SimFactory, session: aiohttp.ClientSession, moto_endpoint: str) -> Api:
    return Api(session, await make_sim(LOCAL_HTTP, s3_endpoint=moto_endpoint))


async def test_missing_parameters(api: Api) -> None:
    body = params("k")
    del body["file_key"]
    r = await api.post("/projects/remote-import-s3", "root-token", json=body)
    assert (r.status, r.json()) == (400, {"error": "file_key is missing"})
    r = await api.post("/projects/remote-import-s3", "root-token", json={})
    assert r.json() == {
        "error": (
            "region is missing, bucket_name is missing, file_key is missing, "
            "access_key_id is missing, secret_access_key is missing, path is missing"
        )
    }
    blank = await api.post("/projects/remote-import-s3", "root-token", json=params("k", region=""))
    assert blank.json() == {"message": "Region can't be blank"}
    blank_key = await api.post(
        "/projects/remote-import-s3", "root-token", json=params("k", access_key_id=" ")
    )
    assert blank_key.json() == {"message": "Access key can't be blank"}


async def test_object_not_found(api: Api) -> None:
    r = await api.post("/projects/remote-import-s3", "root-token", json=params("missing.tar.gz"))
    assert (r.status, r.json()) == (
        400,
        {"message": f"File not found 'missing.tar.gz' in '{BUCKET}'"},
    )


async def test_wrong_credentials(api: Api, moto_endpoint: str) -> None:
    await put(moto_endpoint, "creds.tar.gz", make_archive(), "application/gzip")
    r = await api.post(
        "/projects/remote-import-s3",
        "root-token",
        json=params("creds.tar.gz", bucket_name="no-such-bucket"),
    )
    assert r.json() == {"message": "File not found 'creds.tar.gz' in 'no-such-bucket'"}


async def test_content_type_is_checked(api: Api, moto_endpoint: str) -> None:
    await put(moto_endpoint, "plain.tar.gz", make_archive(), None)
    r = await api.post("/projects/remote-import-s3", "root-token", json=params("plain.tar.gz"))
    assert r.json() == {
        "message": (
            "Content type 'binary/octet-stream' not allowed. "
            "(Allowed: application/gzip, application/x-tar, application/x-gzip)"
        )
    }


async def test_https_rule_applies_to_the_presigned_url(
    make_sim: SimFactory, session: aiohttp.ClientSession, moto_endpoint: str
) -> None:
    api = Api(session, await make_sim(s3_endpoint=moto_endpoint))
    await put(moto_endpoint, "strict.tar.gz", make_archive(), "application/gzip")
    r = await api.post("/projects/remote-import-s3", "root-token", json=params("strict.tar.gz"))
    assert r.json() == {"message": "File url is blocked: Only allowed schemes are https"}


async def test_import_from_s3(api: Api, moto_endpoint: str) -> None:
    archive = make_archive(relations={"issues": issues(6)}, bundle=b"s3-bundle")
    await put(moto_endpoint, "good.tar.gz", archive, "application/gzip")
    r = await api.post(
        "/projects/remote-import-s3", "root-token", json=params("good.tar.gz", namespace_path="grp")
    )
    assert r.status == 201, r.text
    body = r.json()
    assert body["path_with_namespace"] == "grp/from-s3"
    await api.sim.step()
    await api.sim.step()
    done = (await api.get(f"/projects/{body['id']}/import", "root-token")).json()
    assert done["import_status"] == "finished", done
    content = (await api.sim.project_summary(body["id"]))["content"]
    assert content["relations"]["issues"] == 6
    assert content["repository_sha256"] == hashlib.sha256(b"s3-bundle").hexdigest()
    logged = api.sim.requests("remote_import_s3")[-1].params or {}
    assert "secret_access_key" not in logged
    assert "access_key_id" not in logged
    assert logged["file_key"] == "good.tar.gz"


async def test_export_to_presigned_put_then_import_elsewhere(
    make_sim: SimFactory, session: aiohttp.ClientSession, moto_endpoint: str
) -> None:
    source = Api(session, await make_sim(LOCAL_HTTP))
    dest = Api(session, await make_sim(LOCAL_HTTP, s3_endpoint=moto_endpoint))
    s3 = s3_client(moto_endpoint)
    url = s3.generate_presigned_url(
        "put_object",
        Params={"Bucket": BUCKET, "Key": "migrated.tar.gz", "ContentType": "application/gzip"},
        ExpiresIn=3600,
    )
    r = await source.post(
        "/projects/grp%2Fproj/export",
        "maint-token",
        data={"upload[url]": url, "upload[http_method]": "PUT"},
    )
    assert r.status == 202
    await source.sim.step()
    await source.sim.step()
    assert source.sim.uploads[0]["status"] == 200, source.sim.uploads
    head = await asyncio.to_thread(s3.head_object, Bucket=BUCKET, Key="migrated.tar.gz")
    assert head["ContentType"] == "application/gzip"
    upload = next(iter(source.sim.state.export_uploads.values()))
    assert head["ContentLength"] == upload.size
    r = await dest.post(
        "/projects/remote-import-s3",
        "root-token",
        json=params("migrated.tar.gz", path="copy", namespace="grp"),
    )
    assert r.status == 201, r.text
    await dest.sim.step()
    await dest.sim.step()
    src_content = (await source.sim.project_summary("grp/proj"))["content"]
    dst_content = (await dest.sim.project_summary("grp/copy"))["content"]
    assert dst_content == src_content


async def export_to(api: Api, project: str, url: str) -> dict[str, Any]:
    r = await api.post(
        f"/projects/{project}/export",
        "maint-token",
        data={"upload[url]": url, "upload[http_method]": "PUT"},
    )
    assert r.status == 202, r.text
    await api.sim.step()
    await api.sim.step()
    status = await api.get(f"/projects/{project}/export", "maint-token")
    assert status.json()["export_status"] == "finished"  # whatever happened to the push
    return api.sim.uploads[-1]


def presigned_put(endpoint: str, key: str) -> str:
    url: str = s3_client(endpoint).generate_presigned_url(
        "put_object",
        Params={"Bucket": BUCKET, "Key": key, "ContentType": "application/gzip"},
        ExpiresIn=3600,
    )
    return url


async def stored(endpoint: str, key: str) -> bool:
    listing = await asyncio.to_thread(s3_client(endpoint).list_objects_v2, Bucket=BUCKET)
    return key in {o["Key"] for o in listing.get("Contents", [])}


async def test_s3_refuses_a_single_put_above_5_gib(
    make_sim: SimFactory, session: aiohttp.ClientSession, moto_endpoint: str
) -> None:
    api = Api(session, await make_sim(LOCAL_HTTP))
    for path, size in (("grp/huge", "6GiB"), ("grp/edge", "5GiB")):
        api.sim.create_project(
            {"path_with_namespace": path, "owner": "owner", "statistics": {"repository_size": size}}
        )
    push = await export_to(api, "grp%2Fhuge", presigned_put(moto_endpoint, "huge.tar.gz"))
    assert push["status"] == 400
    assert push["declared_size"] == 6 * 1024**3
    assert push["error"].startswith(
        'Error uploading the project. Code 400: <?xml version="1.0" encoding="UTF-8"?>\n'
        "<Error><Code>EntityTooLarge</Code>"
    )
    assert not await stored(moto_endpoint, "huge.tar.gz")
    # the archive stays on GitLab, downloadable as after any failed push
    assert (await api.get("/projects/grp%2Fhuge/export/download", "maint-token")).status == 200
    # exactly 5 GiB is still one PUT
    edge = await export_to(api, "grp%2Fedge", presigned_put(moto_endpoint, "edge.tar.gz"))
    assert edge["status"] == 200
    assert await stored(moto_endpoint, "edge.tar.gz")


async def test_the_5_gib_cap_is_s3s_not_gitlabs(
    make_sim: SimFactory, session: aiohttp.ClientSession, moto_endpoint: str
) -> None:
    api = Api(session, await make_sim(LOCAL_HTTP))
    api.sim.create_project(
        {
            "path_with_namespace": "grp/huge",
            "owner": "owner",
            "statistics": {"repository_size": "6GiB"},
        }
    )
    # a URL that is not an S3 pre-signed one reaches its server whatever the size
    receiver = ArchiveServer(body=b"")
    try:
        push = await export_to(api, "grp%2Fhuge", f"{receiver.url}/plain.tar.gz")
    finally:
        receiver.close()
    assert (push["status"], receiver.hits) == (200, ["PUT"])
    # without declared statistics the archive's own size counts
    small = await export_to(api, "grp%2Fproj", presigned_put(moto_endpoint, "small.tar.gz"))
    assert (small["status"], small["declared_size"]) == (200, None)
