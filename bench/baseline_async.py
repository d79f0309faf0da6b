"""Baseline (b) of scenario 2: a concurrent asyncio script with no shared rate limiter, the
kind people write when one-at-a-time is too slow. Every project migrates at once on one httpx
client: export, poll its status every ``--poll`` seconds, download, multipart import, poll the
import. Each request answered 429 is retried after ``Retry-After`` (60 s when absent). Runs as
its own process (``python -m bench.baseline_async``); prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any
from urllib.parse import quote

import httpx

from bench.baseline_cli import arguments
from bench.procfs import peak_rss


async def call(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    while True:
        response = await client.request(method, url, **kwargs)
        if response.status_code != 429:
            response.raise_for_status()
            return response
        await asyncio.sleep(float(response.headers.get("Retry-After") or 60))


async def migrate(
    source: httpx.AsyncClient, destination: httpx.AsyncClient, path: str, prefix: str, poll: float
) -> None:
    project = f"/projects/{quote(path, safe='')}"
    await call(source, "POST", f"{project}/export")
    while True:
        await asyncio.sleep(poll)
        status = (await call(source, "GET", f"{project}/export")).json()["export_status"]
        if status == "finished":
            break
    archive = (await call(source, "GET", f"{project}/export/download")).content
    group, _, name = path.rpartition("/")
    created = await call(
        destination,
        "POST",
        "/projects/import",
        data={
            "path": name,
            "namespace": f"{prefix}/{group}" if prefix else group,
            "override_params[visibility]": "private",
        },
        files={"file": ("export.tar.gz", archive, "application/gzip")},
    )
    project_id = created.json()["id"]
    while True:
        await asyncio.sleep(poll)
        found = (await call(destination, "GET", f"/projects/{project_id}/import")).json()
        if found["import_status"] == "finished":
            return
        if found["import_status"] == "failed":
            raise RuntimeError(f"import of {path} failed: {found.get('import_error')}")


async def run(args: argparse.Namespace, paths: list[str]) -> dict[str, Any]:
    headers = {"PRIVATE-TOKEN": args.token}
    timeout = httpx.Timeout(60)
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with (
        httpx.AsyncClient(
            base_url=f"{args.source}/api/v4", headers=headers, timeout=timeout, limits=limits
        ) as source,
        httpx.AsyncClient(
            base_url=f"{args.destination}/api/v4", headers=headers, timeout=timeout, limits=limits
        ) as destination,
    ):
        start = time.time()
        finishes: list[float] = []

        async def one(path: str) -> None:
            await migrate(source, destination, path, args.prefix, args.poll)
            finishes.append(time.time() - start)

        await asyncio.gather(*(one(path) for path in paths))
        return {"start": start, "wall_seconds": time.time() - start, "finishes": sorted(finishes)}


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--poll", type=float, default=5.0, help="Seconds between status polls.")
    args = parser.parse_args()
    result = asyncio.run(run(args, args.paths.read_text().split()))
    json.dump({**result, "peak_rss": peak_rss()}, sys.stdout)


if __name__ == "__main__":
    main()
