"""The export download: streamed chunk by chunk in bounded chunks, file name and size from the
headers, a redirect to object storage followed without the token, the URL guard consulted for
both hops, failures mapped to the client's errors and the response always closed."""

from __future__ import annotations

import random

import httpx
import pytest

from gitlab_ferry.gitlab import errors as e
from gitlab_ferry.gitlab.session import DOWNLOAD_CHUNK

NAME = "2017-12-05_22-11-148_namespace_project_export.tar.gz"
DISPOSITION = f"attachment; filename=\"{NAME}\"; filename*=UTF-8''{NAME}"
DATA = random.Random(3).randbytes(3 * DOWNLOAD_CHUNK + 123_457)
PIECE = 64 * 1024
STORAGE = (
    "https://storage.example.net/exports/p_export.tar.gz"
    "?X-Amz-Credential=AKIAIOSFODNN7EXAMPLE&X-Amz-Signature=feedface0123456789"
)


class Body(httpx.AsyncByteStream):
    """A response body arriving in pieces, like a socket; remembers progress and closing."""

    def __init__(self, data: bytes = DATA, piece: int = PIECE, fail: Exception | None = None):
        self.pieces = [data[i : i + piece] for i in range(0, len(data), piece)]
        self.produced = 0
        self.closed = False
        self.fail = fail

    async def __aiter__(self):
        for piece in self.pieces:
            self.produced += 1
            yield piece
        if self.fail is not None:
            raise self.fail

    async def aclose(self) -> None:
        self.closed = True


def archive(body: Body | None = None, *, length: bool = True, **headers: str) -> httpx.Response:
    body = body or Body()
    base = {
        "content-type": "application/octet-stream",
        "content-transfer-encoding": "binary",
        "content-disposition": DISPOSITION,
    }
    if length:
        base["content-length"] = str(sum(map(len, body.pieces)))
    return httpx.Response(200, stream=body, headers={**base, **headers})


class Sink:
    def __init__(self, body: Body | None = None):
        self.chunks: list[bytes] = []
        self.produced_at_first_chunk: int | None = None
        self._body = body

    async def __call__(self, chunk: bytes) -> None:
        if not self.chunks and self._body is not None:
            self.produced_at_first_chunk = self._body.produced
        self.chunks.append(chunk)


async def test_download_streams_into_the_sink_in_bounded_chunks(gitlab, client):
    body = Body()
    gitlab.reply(archive(body))
    sink = Sink(body)
    filename, total = await client.download_export("group/sub/project", sink)
    assert (filename, total) == (NAME, len(DATA))
    assert b"".join(sink.chunks) == DATA
    assert len(sink.chunks) >= 4
    assert max(map(len, sink.chunks)) <= DOWNLOAD_CHUNK
    assert sink.produced_at_first_chunk is not None
    assert sink.produced_at_first_chunk < len(body.pieces), "the body must not be buffered"
    assert body.closed


async def test_download_request(gitlab, client, token):
    gitlab.reply(archive())
    await client.download_export("group/sub/project", Sink())
    request = gitlab.only
    assert request.method == "GET"
    assert request.url.raw_path == b"/api/v4/projects/group%2Fsub%2Fproject/export/download"
    assert request.headers["private-token"] == token


async def test_open_export_download_exposes_name_size_and_bytes(gitlab, client):
    gitlab.reply(archive())
    async with client.open_export_download(7) as download:
        assert (download.filename, download.size) == (NAME, len(DATA))
        chunks = [chunk async for chunk in download.iter_bytes(chunk_size=10_000)]
    assert max(map(len, chunks)) <= 10_000
    assert b"".join(chunks) == DATA
    assert gitlab.only.url.raw_path == b"/api/v4/projects/7/export/download"


async def test_size_is_unknown_without_content_length(gitlab, client):
    gitlab.reply(archive(length=False))
    async with client.open_export_download(7) as download:
        assert download.size is None
        assert b"".join([c async for c in download.iter_bytes()]) == DATA


@pytest.mark.parametrize(
    ("disposition", "expected"),
    [
        ("attachment; filename=plain.tar.gz", "plain.tar.gz"),
        ('attachment;filename="tight.tar.gz"', "tight.tar.gz"),
        ('attachment; FILENAME="upper.tar.gz"', "upper.tar.gz"),
        (f"attachment; filename*=UTF-8''star-first.tar.gz; filename=\"{NAME}\"", NAME),
    ],
)
async def test_filename_from_content_disposition(gitlab, client, disposition, expected):
    gitlab.reply(archive(**{"content-disposition": disposition}))
    filename, _ = await client.download_export(7, Sink())
    assert filename == expected


@pytest.mark.parametrize("ref", [7, "group/sub/project"])
async def test_filename_fallback_is_a_safe_archive_name(gitlab, client, ref):
    response = archive()
    del response.headers["content-disposition"]
    gitlab.reply(response)
    filename, _ = await client.download_export(ref, Sink())
    assert filename.endswith("_export.tar.gz")
    assert "/" not in filename
    assert str(ref).split("/")[-1] in filename


@pytest.mark.parametrize(
    "message", ["404 Not found or has expired", "The project export file is not available yet"]
)
async def test_missing_export_is_export_not_available(gitlab, client, message):
    gitlab.reply(httpx.Response(404, json={"message": message}))
    with pytest.raises(e.ExportNotAvailable) as caught:
        async with client.open_export_download(7):
            pytest.fail("no archive should be yielded")
    assert (caught.value.status, caught.value.endpoint) == (404, "download")
    assert caught.value.message == message


# -- redirect to object storage ---------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("token_type", ["PrivateToken", "Bearer"])
async def test_redirect_is_followed_without_credentials(
    gitlab, make_client, observations, token, status, token_type
):
    gitlab.reply(httpx.Response(status, headers={"location": STORAGE}), archive())
    client = make_client(token_type=token_type, observer=observations)
    filename, total = await client.download_export(42, Sink())
    assert (filename, total) == (NAME, len(DATA))
    first, second = gitlab.requests
    assert first.url.host == "gitlab.example.com"
    if token_type == "PrivateToken":
        assert first.headers["private-token"] == token
    else:
        assert first.headers["authorization"] == f"Bearer {token}"
    assert str(second.url) == STORAGE, "the pre-signed URL must be used verbatim"
    assert second.method == "GET"
    assert "private-token" not in second.headers
    assert "authorization" not in second.headers
    assert token not in str(second.headers)
    assert observations.calls == [("download", status), ("download_storage", 200)]


async def test_redirect_storage_errors_are_mapped_and_redacted(gitlab, client):
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
        f"<Message>Request has expired</Message><Resource>{STORAGE}</Resource></Error>"
    )
    gitlab.reply(
        httpx.Response(302, headers={"location": STORAGE}),
        httpx.Response(403, text=xml, headers={"content-type": "application/xml"}),
    )
    with pytest.raises(e.Forbidden) as caught:
        await client.download_export(42, Sink())
    assert caught.value.status == 403
    assert "Request has expired" in str(caught.value)
    assert "feedface" not in str(caught.value)
    assert "AKIAIOSFODNN7EXAMPLE" not in str(caught.value)


async def test_a_redirect_without_location_is_an_error(gitlab, client):
    gitlab.reply(httpx.Response(302, text="Found"))
    with pytest.raises(e.HTTPStatusError) as caught:
        await client.download_export(42, Sink())
    assert caught.value.status == 302
    assert len(gitlab.requests) == 1


async def test_the_url_guard_sees_both_hops_in_order(gitlab, make_client):
    seen: list[tuple[str, int]] = []

    async def guard(url: httpx.URL) -> None:
        seen.append((str(url), len(gitlab.requests)))

    gitlab.reply(httpx.Response(302, headers={"location": STORAGE}), archive())
    await make_client(url_guard=guard).download_export(42, Sink())
    assert seen == [
        ("https://gitlab.example.com/api/v4/projects/42/export/download", 0),
        (STORAGE, 1),
    ]


async def test_a_refused_storage_host_stops_the_download(gitlab, make_client):
    async def guard(url: httpx.URL) -> None:
        if url.host == "storage.example.net":
            raise e.HostNotAllowed("storage.example.net is not allowed")

    first_body = Body(b"")
    gitlab.reply(httpx.Response(302, headers={"location": STORAGE}, stream=first_body))
    with pytest.raises(e.HostNotAllowed, match="not allowed"):
        await make_client(url_guard=guard).download_export(42, Sink())
    assert len(gitlab.requests) == 1, "the storage host must not be contacted"
    assert first_body.closed


async def test_a_same_origin_redirect_keeps_the_token(gitlab, client, token):
    moved = "https://gitlab.example.com/api/v4/projects/42/export/download"
    gitlab.reply(httpx.Response(301, headers={"location": moved}), archive())
    await client.download_export("old-group/old-name", Sink())
    assert gitlab.requests[1].headers.get("private-token") == token


# -- failures and cleanup ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (httpx.ReadError("connection reset"), e.TransportError),
        (httpx.RemoteProtocolError("peer closed connection"), e.TransportError),
        (httpx.ReadTimeout("timed out"), e.GitLabTimeout),
    ],
)
async def test_a_failure_mid_stream_is_a_gitlab_error(gitlab, client, failure, expected):
    body = Body(fail=failure)
    gitlab.reply(archive(body))
    sink = Sink()
    with pytest.raises(e.GitLabError) as caught:
        await client.download_export(42, sink)
    assert type(caught.value) is expected
    assert not isinstance(caught.value, httpx.HTTPError)
    assert caught.value.endpoint == "download"
    assert b"".join(sink.chunks) == DATA[: len(b"".join(sink.chunks))]
    assert body.closed


@pytest.mark.parametrize("failure", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")])
async def test_a_failure_reaching_storage_is_a_gitlab_error(gitlab, client, failure):
    gitlab.reply(httpx.Response(302, headers={"location": STORAGE}), failure)
    with pytest.raises(e.TransportError) as caught:
        await client.download_export(42, Sink())
    assert not isinstance(caught.value, httpx.HTTPError)
    assert "feedface" not in str(caught.value)


async def test_the_response_is_closed_when_the_reader_stops_early(gitlab, client):
    body = Body()
    gitlab.reply(archive(body))
    async with client.open_export_download(42) as download:
        async for _ in download.iter_bytes():
            break
    assert body.closed
    assert body.produced < len(body.pieces)


async def test_the_response_is_closed_on_an_error_status(gitlab, client):
    body = Body(b'{"message":"404 Not found or has expired"}')
    gitlab.reply(httpx.Response(404, stream=body, headers={"content-type": "application/json"}))
    with pytest.raises(e.ExportNotAvailable):
        await client.download_export(42, Sink())
    assert body.closed


async def test_a_failure_reading_an_error_body_is_a_gitlab_error(gitlab, client):
    body = Body(b'{"message":', fail=httpx.ReadError("connection reset"))
    gitlab.reply(httpx.Response(404, stream=body, headers={"content-type": "application/json"}))
    with pytest.raises(e.TransportError):
        await client.download_export(42, Sink())
