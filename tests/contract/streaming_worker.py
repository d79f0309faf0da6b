"""Run by test_streaming_memory in its own process: download a 1 GiB export from one
simulated GitLab and stream it into another's import in constant memory, then print the
peak memory growth. Its own process, so the measurement covers the client alone."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys

from gitlab_ferry.gitlab import ArchiveUpload, GitLabClient
from gitlab_ferry.reconcile.imports import ImportTarget


def peak_rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


async def main(source: str, destination: str, project: str) -> dict[str, object]:
    async with (
        GitLabClient(source, "glpat-root-token", timeout=120) as src,
        GitLabClient(destination, "glpat-root-token", timeout=120) as dst,
    ):
        baseline = peak_rss_bytes()
        digest = hashlib.sha256()
        downloaded = 0

        async def sink(chunk: bytes) -> None:
            nonlocal downloaded
            digest.update(chunk)
            downloaded += len(chunk)

        await src.download_export(project, sink)
        after_download = peak_rss_bytes()
        async with src.open_export_download(project) as archive:
            upload = ArchiveUpload(archive.filename, archive.iter_bytes(), archive.size)
            status = await dst.import_archive(
                upload, ImportTarget(path="big-copy", namespace_path="big")
            )
        return {
            "downloaded": downloaded,
            "sha256": digest.hexdigest(),
            "download_growth": after_download - baseline,
            "pipe_growth": peak_rss_bytes() - baseline,
            "import_id": status.id,
        }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(*sys.argv[1:4]))))
