"""The multipart archive uploads: ``POST /projects/import`` and ``/projects/import-relation``
(every form field, Rails-style ``override_params[key]``, the file part, Content-Length) and
the streaming ``MultipartStream`` itself (no buffering, size checks, header quoting)."""

from __future__ import annotations

import random

import httpx
import pytest

from gitlab_ferry.gitlab import ArchiveUpload
from gitlab_ferry.gitlab.multipart import MultipartStream, SizeMismatch
from gitlab_ferry.gitlab_states import ImportState, RelationImportState
from gitlab_ferry.reconcile.imports import ImportTarget

ARCHIVE = random.Random(7).randbytes(70_000) + b"\r\n--\r\n\r\n"


def fields(parts):
    return [(p.name, p.data.decode()) for p in parts if p.filename is None]


def file_part(parts):
    files = [p for p in parts if p.filename is not None]
    assert len(files) == 1
    assert parts[-1] is files[0], "the file must be the last part"
    return files[0]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        pytest.param(ImportTarget(path="proj"), [("path", "proj")], id="path-only"),
        pytest.param(
            ImportTarget(path="proj", name="My Project", namespace="group/sub"),
            [("path", "proj"), ("name", "My Project"), ("namespace", "group/sub")],
            id="name-and-namespace",
        ),
        pytest.param(
            ImportTarget(path="proj", namespace=12),
            [("path", "proj"), ("namespace", "12")],
            id="ns",
        ),
        pytest.param(
            ImportTarget(path="proj", namespace_id=12),
            [("path", "proj"), ("namespace_id", "12")],
            id="namespace_id",
        ),
        pytest.param(
            ImportTarget(path="proj", namespace_path="group/sub"),
            [("path", "proj"), ("namespace_path", "group/sub")],
            id="namespace_path",
        ),
        pytest.param(
            ImportTarget(path="proj", overwrite=True),
            [("path", "proj"), ("overwrite", "true")],
            id="overwrite",
        ),
        pytest.param(
            ImportTarget(
                path="proj",
                overwrite=True,
                override_params={
                    "description": "moved by ferry",
                    "lfs_enabled": False,
                    "request_access_enabled": True,
                    "build_timeout": 3600,
                    "ci_config": {"path": ".ci.yml"},
                    "topics": ["a", "b"],
                },
            ),
            [
                ("path", "proj"),
                ("overwrite", "true"),
                ("override_params[description]", "moved by ferry"),
                ("override_params[lfs_enabled]", "false"),
                ("override_params[request_access_enabled]", "true"),
                ("override_params[build_timeout]", "3600"),
                ("override_params[ci_config][path]", ".ci.yml"),
                ("override_params[topics][]", "a"),
                ("override_params[topics][]", "b"),
            ],
            id="override_params-rails-style",
        ),
    ],
)
async def test_import_archive_form_fields(
    gitlab, client, bodies, multipart, source, target, expected
):
    gitlab.reply(httpx.Response(201, json=bodies.import_status))
    upload = ArchiveUpload("project.tar.gz", source(ARCHIVE, 4096), size=len(ARCHIVE))
    status = await client.import_archive(upload, target)
    request = gitlab.only
    assert (request.method, request.url.raw_path) == ("POST", b"/api/v4/projects/import")
    parts = multipart(request)
    assert fields(parts) == expected
    archive = file_part(parts)
    assert (archive.name, archive.filename) == ("file", "project.tar.gz")
    assert archive.content_type == "application/octet-stream"
    assert archive.data == ARCHIVE
    assert status.state is ImportState.SCHEDULED


async def test_import_relation_form_fields(gitlab, client, bodies, multipart, source):
    gitlab.reply(httpx.Response(201, json=bodies.tracker))
    upload = ArchiveUpload("issues.tar.gz", source(ARCHIVE, 1000), size=len(ARCHIVE))
    tracker = await client.import_relation(upload, path="group/sub/project", relation="issues")
    request = gitlab.only
    assert (request.method, request.url.raw_path) == ("POST", b"/api/v4/projects/import-relation")
    parts = multipart(request)
    assert fields(parts) == [("path", "group/sub/project"), ("relation", "issues")]
    archive = file_part(parts)
    assert (archive.name, archive.filename, archive.data) == ("file", "issues.tar.gz", ARCHIVE)
    assert (tracker.id, tracker.relation) == (9, "issues")
    assert tracker.state is RelationImportState.CREATED


@pytest.mark.parametrize("method", ["import_archive", "import_relation"])
async def test_content_length_is_exact_when_the_size_is_known(
    gitlab, client, bodies, source, method
):
    gitlab.reply(
        httpx.Response(
            201, json=bodies.tracker if method == "import_relation" else bodies.import_status
        )
    )
    upload = ArchiveUpload("p.tar.gz", source(ARCHIVE, 333), size=len(ARCHIVE))
    if method == "import_archive":
        await client.import_archive(upload, ImportTarget(path="p", override_params={"a": 1}))
    else:
        await client.import_relation(upload, path="g/p", relation="milestones")
    request = gitlab.only
    assert request.headers["content-length"] == str(len(request.content))
    assert "transfer-encoding" not in request.headers
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")


async def test_unknown_size_is_sent_chunked(gitlab, client, bodies, multipart, source):
    gitlab.reply(httpx.Response(201, json=bodies.import_status))
    await client.import_archive(
        ArchiveUpload("p.tar.gz", source(ARCHIVE, 500)), ImportTarget(path="p")
    )
    request = gitlab.only
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    assert file_part(multipart(request)).data == ARCHIVE


@pytest.mark.parametrize(
    ("announced", "actual"),
    [(len(ARCHIVE) + 1, ARCHIVE), (len(ARCHIVE), ARCHIVE[:-10]), (10, b""), (5, b"123456")],
    ids=["one-short", "ten-short", "empty", "too-long"],
)
async def test_size_mismatch_is_raised_when_the_source_disagrees(
    gitlab, client, source, announced, actual
):
    upload = ArchiveUpload("p.tar.gz", source(actual, 1000), size=announced)
    with pytest.raises(SizeMismatch, match=f"{announced} were announced"):
        await client.import_archive(upload, ImportTarget(path="p"))


async def test_size_mismatch_on_import_relation_too(gitlab, client, source):
    upload = ArchiveUpload("p.tar.gz", source(b"abc"), size=4)
    with pytest.raises(SizeMismatch):
        await client.import_relation(upload, path="g/p", relation="issues")


# -- MultipartStream directly -----------------------------------------------------------------


async def collect(stream):
    return [chunk async for chunk in stream]


async def test_the_stream_passes_source_chunks_through_without_buffering():
    consumed = []

    async def chunks():
        for chunk in (b"aaa", b"", b"bbbb", b"c"):
            consumed.append(chunk)
            yield chunk

    stream = MultipartStream([("path", "p")], "file", ArchiveUpload("x.gz", chunks(), 8), "B")
    iterator = stream.__aiter__()
    head = await anext(iterator)
    assert consumed == [], "nothing is read from the source before the head is sent"
    assert head == (
        b'--B\r\nContent-Disposition: form-data; name="path"\r\n\r\np\r\n'
        b'--B\r\nContent-Disposition: form-data; name="file"; filename="x.gz"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n"
    )
    assert await anext(iterator) == b"aaa"
    assert consumed == [b"aaa"], "the source is read one chunk at a time"
    rest = [chunk async for chunk in iterator]
    assert rest == [b"bbbb", b"c", b"\r\n--B--\r\n"], "empty chunks are dropped"


async def test_the_announced_length_matches_the_bytes_produced(source):
    upload = ArchiveUpload("x.tar.gz", source(ARCHIVE, 999), size=len(ARCHIVE))
    stream = MultipartStream([("path", "p"), ("overwrite", "true")], "file", upload)
    body = b"".join(await collect(stream))
    assert stream.content_length == len(body)


def test_no_length_without_a_size(source):
    stream = MultipartStream([], "file", ArchiveUpload("x.gz", source(b"")))
    assert stream.content_length is None


def test_each_stream_has_its_own_boundary(source):
    first = MultipartStream([], "file", ArchiveUpload("x.gz", source(b"")))
    second = MultipartStream([], "file", ArchiveUpload("x.gz", source(b"")))
    assert first.boundary != second.boundary
    assert first.content_type == f"multipart/form-data; boundary={first.boundary}"


async def test_names_cannot_inject_headers_or_break_quoting(source):
    upload = ArchiveUpload('evil".tar.gz\r\nX-Injected: 1', source(b"z"), size=1)
    stream = MultipartStream([('a"b\r\nX: y', "v")], "file", upload, boundary="B")
    body = b"".join(await collect(stream))
    header_lines = [line for line in body.split(b"\r\n") if b":" in line]
    assert all(
        line.startswith((b"Content-Disposition: ", b"Content-Type: ")) for line in header_lines
    ), header_lines
    assert b'filename="evil%22.tar.gz%0D%0AX-Injected: 1"' in body
    assert b'name="a%22b%0D%0AX: y"' in body


async def test_empty_source_with_size_zero_is_a_valid_body(source):
    stream = MultipartStream([], "file", ArchiveUpload("x.gz", source(b""), size=0), "B")
    body = b"".join(await collect(stream))
    assert body.endswith(b"Content-Type: application/octet-stream\r\n\r\n\r\n--B--\r\n")
    assert stream.content_length == len(body)
