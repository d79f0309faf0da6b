"""An archive server: what GitLab fetches a remote import from, or pushes an export to.

Test support for the simulator's own tests (the simulator in the test's event loop) and the
end-to-end tests (simulators in other processes) alike: it serves from a thread of its own, so
it answers whoever calls. It serves files by path over HTTP or HTTPS with the headers GitLab's
``remote-import`` checks read (``HEAD``'s ``Content-Type`` and ``Content-Length``, S3's
``Server`` and ``x-amz-request-id``), can hold ``HEAD`` answers (GitLab gives up after 1 s) or
refuse downloads, and keeps every request it gets. It must not import the operator.
"""

from __future__ import annotations

import http.server
import ssl
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class _File:
    data: bytes
    content_type: str | None
    with_length: bool


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that stopped waiting (GitLab's HEAD timeout) is no fault of the server.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class ArchiveServer:
    """Serves over HTTPS with ``tls`` (a certificate and its key), else HTTP: ``body`` at any
    path (or nothing: 404), and what ``serve`` adds at its path.

    The attributes below shape the answers from the next request on: ``content_type`` that of
    ``body`` (None: no header), ``content_length`` what ``HEAD`` claims instead of the true
    length, ``get_status`` the status of every other method when it is not 200,
    ``head_delay`` seconds each ``HEAD`` is held, ``s3_headers`` whether answers look like
    Amazon S3's. ``requests`` holds ``(method, path)`` of every request, in order.
    """

    def __init__(self, tls: tuple[Path, Path] | None = None, *, body: bytes | None = None) -> None:
        self.body = body
        self.content_type: str | None = "application/gzip"
        self.content_length: str | None = None
        self.get_status = 200
        self.head_delay = 0.0
        self.s3_headers = False
        self.requests: list[tuple[str, str]] = []
        self._files: dict[str, _File] = {}
        self.server = _Server(("127.0.0.1", 0), self._handler())
        scheme = "http"
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.url = f"{scheme}://{self.host}"
        # A short poll, so that closing (from a test's event loop too) returns at once.
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def hits(self) -> list[str]:
        """The methods of every request, in order."""
        return [method for method, _ in self.requests]

    def serve(
        self,
        path: str,
        data: bytes,
        *,
        content_type: str = "application/gzip",
        with_length: bool = True,
    ) -> str:
        """Serve ``data`` at ``path`` (``with_length=False``: no ``Content-Length``, so the body
        ends when the connection closes); its URL."""
        self._files[path] = _File(data, content_type, with_length)
        return self.url + path

    def gets(self, path: str) -> int:
        """How many times ``path`` was downloaded."""
        return self.requests.count(("GET", path))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _file(self, path: str) -> _File | None:
        if path in self._files:
            return self._files[path]
        return None if self.body is None else _File(self.body, self.content_type, True)

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def version_string(self) -> str:
                return "AmazonS3" if owner.s3_headers else super().version_string()

            def _answer(self) -> None:
                path = self.path.split("?", 1)[0]
                owner.requests.append((self.command, path))
                # An upload pushed here (GitLab's upload[url]) is read and dropped.
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                found = owner._file(path)
                if found is None:
                    self._reply(404, b"")
                    return
                if self.command == "HEAD":
                    time.sleep(owner.head_delay)
                elif owner.get_status != 200:
                    self._reply(owner.get_status, b"nope")
                    return
                self.send_response(200)
                if found.content_type is not None:
                    self.send_header("Content-Type", found.content_type)
                if owner.s3_headers:
                    self.send_header("x-amz-request-id", "0123456789ABCDEF")
                if found.with_length:
                    claimed = owner.content_length if self.command == "HEAD" else None
                    self.send_header("Content-Length", claimed or str(len(found.data)))
                else:
                    self.close_connection = True
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(found.data)

            def _reply(self, status: int, text: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            do_HEAD = do_GET = do_PUT = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
