"""Archive downloads read the socket in pieces of up to 1 MiB rather than httpcore's 64 KiB:
the operator widens httpcore's reads through a class attribute, and this checks that the
attribute still governs how much a read of a response body takes."""

from __future__ import annotations

import asyncio

import httpcore
import httpx

from gitlab_ferry.gitlab import widen_response_reads
from gitlab_ferry.gitlab.transport import RESPONSE_READ_SIZE

BODY = 4 << 20
HTTPCORE_OWN = 64 * 1024


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % BODY)
    writer.write(bytes(BODY))
    await writer.drain()
    writer.close()


async def _largest_piece() -> int:
    """The largest piece httpx hands on while reading a 4 MiB body that waits in the socket."""
    server = await asyncio.start_server(_serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with (
            httpx.AsyncClient() as client,
            client.stream("GET", f"http://127.0.0.1:{port}/") as response,
        ):
            await asyncio.sleep(0.3)  # the body fills the socket's buffers meanwhile
            sizes = [len(piece) async for piece in response.aiter_raw()]
    finally:
        server.close()
        await server.wait_closed()
    assert sum(sizes) == BODY
    return max(sizes)


async def test_response_bodies_are_read_in_pieces_of_up_to_a_mebibyte(monkeypatch):
    monkeypatch.setattr(httpcore.AsyncHTTP11Connection, "READ_NUM_BYTES", HTTPCORE_OWN)
    assert await _largest_piece() <= HTTPCORE_OWN
    widen_response_reads()
    assert HTTPCORE_OWN < await _largest_piece() <= RESPONSE_READ_SIZE
