"""The client keeps its connections to GitLab alive: many objects polling one GitLab at once
reuse the pool's connections instead of opening (and handshaking) new ones on most requests.
Connections are counted by a TCP relay between the client and the simulator."""

from __future__ import annotations

import asyncio
import contextlib

from gitlab_ferry.gitlab import GitLabClient
from gitlab_ferry.gitlab.session import CONNECTION_LIMITS

ROOT = "glpat-root-token"

ROUNDS = 5
AT_ONCE = 80


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


class Relay:
    """Forwards TCP connections to ``port`` and counts them."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.accepted = 0
        self.tasks: set[asyncio.Task[None]] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.port)
        for task in (
            asyncio.ensure_future(_pipe(reader, upstream_writer)),
            asyncio.ensure_future(_pipe(upstream_reader, writer)),
        ):
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)


async def test_concurrent_requests_reuse_the_pools_connections(simulator):
    sim = await simulator()
    port = int(sim.url.rsplit(":", 1)[1])
    relay = Relay(port)
    server = await asyncio.start_server(relay.handle, "127.0.0.1", 0)
    relayed = sim.url.replace(f":{port}", f":{server.sockets[0].getsockname()[1]}")
    client = GitLabClient(relayed, ROOT, now=sim.clock.time)
    try:
        for _ in range(ROUNDS):
            found = await asyncio.gather(*(client.project("group/other") for _ in range(AT_ONCE)))
            assert {p.path_with_namespace for p in found} == {"group/other"}
        assert CONNECTION_LIMITS.max_keepalive_connections is not None
        assert CONNECTION_LIMITS.max_keepalive_connections >= AT_ONCE
        # Every round after the first finds its connections open; httpx's default pool
        # (20 kept alive) would open about 60 new ones per round.
        assert relay.accepted <= AT_ONCE + 10, relay.accepted
    finally:
        await client.aclose()
        server.close()
        for task in list(relay.tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await server.wait_closed()
