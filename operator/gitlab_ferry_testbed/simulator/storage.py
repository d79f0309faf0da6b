"""Where the simulator keeps files, and the object-storage listener for direct downloads.

Part of the simulator layer. ``DataDirs`` lays out the data directory (uploads being received,
export archives, imported repositories). ``ObjectStorage`` is a second aiohttp listener on its
own port that serves export archives through pre-signed, expiring URLs, like GitLab's object
storage with direct download; it records any ``PRIVATE-TOKEN`` or ``Authorization`` header it
receives so tests can prove a client does not leak GitLab credentials to the storage host. It
must not import anything outside the simulator.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

from gitlab_ferry_testbed.simulator.clock import Clock

_CHUNK = 1 << 20
_CREDENTIAL_HEADERS = ("PRIVATE-TOKEN", "Authorization", "JOB-TOKEN")


class DataDirs:
    """The data directory: ``uploads/``, ``exports/``, ``repos/``, ``relations/``."""

    def __init__(self, root: Path | None) -> None:
        self._owned = root is None
        self.root = Path(tempfile.mkdtemp(prefix="gitlab-sim-")) if root is None else root
        self.uploads = self.root / "uploads"
        self.exports = self.root / "exports"
        self.repos = self.root / "repos"
        self.relations = self.root / "relations"
        for folder in (self.uploads, self.exports, self.repos, self.relations):
            folder.mkdir(parents=True, exist_ok=True)

    def cleanup(self) -> None:
        if self._owned:
            shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class StorageHit:
    time: float
    method: str
    path: str
    status: int
    credential_headers: dict[str, str]


class ObjectStorage:
    """Pre-signed URL server for export archives (the object-storage 302 target)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._secret = secrets.token_bytes(32)
        self._objects: dict[str, tuple[Path, str]] = {}
        self.hits: list[StorageHit] = []
        self.base_url = ""
        self.app = web.Application()
        self.app.router.add_route("GET", "/exports/{key}/{filename}", self._serve)
        self.app.router.add_route("HEAD", "/exports/{key}/{filename}", self._serve)

    def _signature(self, key: str, expires: int) -> str:
        return hmac.new(self._secret, f"{key}:{expires}".encode(), hashlib.sha256).hexdigest()

    def presign(self, path: Path, filename: str, ttl: float) -> str:
        key = hashlib.sha256(str(path).encode()).hexdigest()[:32]
        self._objects[key] = (path, filename)
        expires = int(self._clock.time() + ttl)
        return (
            f"{self.base_url}/exports/{key}/{quote(filename)}"
            f"?X-Amz-Expires={int(ttl)}&X-Amz-Date={expires}&X-Amz-Signature="
            f"{self._signature(key, expires)}"
        )

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        creds = {h: request.headers[h] for h in _CREDENTIAL_HEADERS if h in request.headers}
        hit = StorageHit(self._clock.time(), request.method, request.path, 0, creds)
        self.hits.append(hit)
        key = request.match_info["key"]
        try:
            expires = int(request.query.get("X-Amz-Date", ""))
        except ValueError:
            expires = 0
        signature = request.query.get("X-Amz-Signature", "")
        entry = self._objects.get(key)
        if not hmac.compare_digest(signature, self._signature(key, expires)) or entry is None:
            hit.status = 403
            return _xml_error(403, "AccessDenied", "Request has expired or is not signed")
        if expires < self._clock.time():
            hit.status = 403
            return _xml_error(403, "AccessDenied", "Request has expired")
        path, filename = entry
        if not path.exists():
            hit.status = 404
            return _xml_error(404, "NoSuchKey", "The specified key does not exist.")
        hit.status = 200
        return web.FileResponse(
            path,
            chunk_size=_CHUNK,
            headers={
                "Content-Type": "application/gzip",
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Server": "AmazonS3",
                "x-amz-request-id": secrets.token_hex(8).upper(),
            },
        )

    def records(self) -> list[dict[str, Any]]:
        return [asdict(h) for h in self.hits]


def _xml_error(status: int, code: str, text: str) -> web.Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{text}</Message></Error>"
    )
    return web.Response(status=status, text=body, content_type="application/xml")
