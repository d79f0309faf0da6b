"""Fixtures for the GitLab client unit tests: a recording fake GitLab behind
``httpx.MockTransport``, a client factory, a request observer and a multipart parser.

Everything is a fixture (nothing is imported from here), so these tests do not depend on
pytest's import mode or on sys.path.
"""

from __future__ import annotations

import copy
import inspect
import re
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from gitlab_ferry.gitlab import ArchiveUpload, GitLabClient, S3Object
from gitlab_ferry.reconcile.imports import ImportTarget

BASE_URL = "https://gitlab.example.com"
TOKEN = "glpat-Unit7estT0kenValue01"

Handler = Callable[[httpx.Request], Any]


class FakeGitLab:
    """Records every request and answers from a queue (responses, or exceptions to raise)
    or from a handler function. An unexpected request fails the test loudly."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.handler: Handler | None = None
        self._queue: deque[httpx.Response | BaseException] = deque()
        self.transport = httpx.MockTransport(self._handle)

    def reply(self, *answers: httpx.Response | BaseException) -> None:
        self._queue.extend(answers)

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.handler is not None:
            answer = self.handler(request)
            if inspect.isawaitable(answer):
                answer = await answer
        elif self._queue:
            answer = self._queue.popleft()
        else:
            raise AssertionError(f"unexpected request: {request.method} {request.url}")
        if isinstance(answer, BaseException):
            raise answer
        return answer

    @property
    def only(self) -> httpx.Request:
        assert len(self.requests) == 1, [str(r.url) for r in self.requests]
        return self.requests[0]


class Observations(list[tuple[str, int | None, float]]):
    """A ``RequestObserver`` that keeps what it is told."""

    def __call__(self, endpoint: str, status: int | None, seconds: float) -> None:
        self.append((endpoint, status, seconds))

    @property
    def calls(self) -> list[tuple[str, int | None]]:
        return [(endpoint, status) for endpoint, status, _ in self]


@dataclass(frozen=True)
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


_DISPOSITION = re.compile(r'^form-data; name="(?P<name>[^"]*)"(?:; filename="(?P<file>[^"]*)")?$')


def parse_multipart(request: httpx.Request) -> list[Part]:
    """A strict multipart/form-data parser: checks the framing byte by byte."""
    content_type = request.headers["content-type"]
    match = re.fullmatch(r"multipart/form-data; boundary=(\S+)", content_type)
    assert match, content_type
    boundary = match.group(1).encode()
    body = request.content
    assert body.startswith(b"--" + boundary + b"\r\n"), body[:100]
    closing = b"\r\n--" + boundary + b"--\r\n"
    assert body.endswith(closing), body[-100:]
    inner = body[len(b"--" + boundary + b"\r\n") : -len(closing)]
    parts = []
    for raw in inner.split(b"\r\n--" + boundary + b"\r\n"):
        head, sep, data = raw.partition(b"\r\n\r\n")
        assert sep, raw[:200]
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
        assert set(headers) <= {"Content-Disposition", "Content-Type"}, headers
        disposition = _DISPOSITION.fullmatch(headers["Content-Disposition"])
        assert disposition, headers["Content-Disposition"]
        parts.append(
            Part(
                name=disposition.group("name"),
                filename=disposition.group("file"),
                content_type=headers.get("Content-Type"),
                data=data,
            )
        )
    return parts


async def byte_source(data: bytes, chunk: int = 7) -> AsyncIterator[bytes]:
    for start in range(0, len(data), chunk):
        yield data[start : start + chunk]


@pytest.fixture
def token() -> str:
    return TOKEN


@pytest.fixture
def base_url() -> str:
    return BASE_URL


@pytest.fixture
def gitlab() -> FakeGitLab:
    return FakeGitLab()


@pytest.fixture
def observations() -> Observations:
    return Observations()


@pytest.fixture
async def make_client(gitlab: FakeGitLab) -> AsyncIterator[Callable[..., GitLabClient]]:
    clients: list[GitLabClient] = []

    def make(**kwargs: Any) -> GitLabClient:
        kwargs.setdefault("transport", gitlab.transport)
        client = GitLabClient(
            kwargs.pop("base_url", BASE_URL), kwargs.pop("token", TOKEN), **kwargs
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def client(make_client: Callable[..., GitLabClient]) -> GitLabClient:
    return make_client()


@pytest.fixture
def multipart() -> Callable[[httpx.Request], list[Part]]:
    return parse_multipart


@pytest.fixture
def source() -> Callable[..., AsyncIterator[bytes]]:
    """Bytes as an async chunk source, the way an archive reaches ``ArchiveUpload``."""
    return byte_source


# -- GitLab's response bodies (shapes from reference/gitlab-api.md) ---------------------------

IDENTITY = {
    "id": 1,
    "description": "desc",
    "name": "Gitlab Test",
    "name_with_namespace": "Gitlab Org / Gitlab Test",
    "path": "gitlab-test",
    "path_with_namespace": "gitlab-org/gitlab-test",
    "created_at": "2017-08-29T04:36:44.383Z",
}
EXPORT_STATUS = {
    **IDENTITY,
    "export_status": "finished",
    "_links": {
        "api_url": "https://gitlab.example.com/api/v4/projects/1/export/download",
        "web_url": "https://gitlab.example.com/gitlab-org/gitlab-test/download_export",
    },
}
IMPORT_STATUS = {
    **IDENTITY,
    "import_status": "scheduled",
    "import_type": "gitlab_project",
    "correlation_id": "mezklWso3Za",
    "failed_relations": [],
    "import_error": None,
    "stats": None,
}
TRACKER = {
    "id": 9,
    "project_path": "namespace1/project1",
    "relation": "issues",
    "status": "created",
    "created_at": "2024-03-25T11:03:48.074Z",
    "updated_at": "2024-03-25T11:03:48.074Z",
}
NAMESPACE = {
    "id": 7,
    "name": "Sub",
    "path": "sub",
    "kind": "group",
    "full_path": "group/sub",
    "parent_id": 6,
    "avatar_url": None,
    "web_url": "https://gitlab.example.com/groups/group/sub",
}
PROJECT = {
    "id": 42,
    "name": "Project",
    "path": "project",
    "path_with_namespace": "group/sub/project",
    "description": None,
    "created_at": "2024-01-01T00:00:00.000Z",
    "namespace": NAMESPACE,
    "import_status": "finished",
    "import_type": "gitlab_project",
    "default_branch": "main",
    "visibility": "private",
}
USER = {"id": 5, "username": "ferry-bot", "name": "Ferry Bot", "state": "active"}


@pytest.fixture
def bodies() -> SimpleNamespace:
    """Fresh copies of GitLab response bodies."""
    return SimpleNamespace(
        **{
            name.lower(): copy.deepcopy(value)
            for name, value in {
                "IDENTITY": IDENTITY,
                "EXPORT_STATUS": EXPORT_STATUS,
                "IMPORT_STATUS": IMPORT_STATUS,
                "TRACKER": TRACKER,
                "NAMESPACE": NAMESPACE,
                "PROJECT": PROJECT,
                "USER": USER,
            }.items()
        }
    )


# -- every client method, as a table ----------------------------------------------------------

PROJECT_REF = "group/sub/project"
ENCODED_REF = "group%2Fsub%2Fproject"
ARCHIVE = b"\x1f\x8b fake archive bytes \r\n--not-a-boundary\r\n" * 3


def _archive() -> ArchiveUpload:
    return ArchiveUpload("project.tar.gz", byte_source(ARCHIVE), size=len(ARCHIVE))


async def _discard(chunk: bytes) -> None:
    return None


@dataclass(frozen=True)
class Endpoint:
    """One client method: how to call it, the endpoint name it reports, the request it
    sends and a success answer."""

    name: str
    call: Callable[[GitLabClient], Awaitable[Any]]
    method: str
    raw_path: str
    ok: Callable[[], httpx.Response]

    def __str__(self) -> str:
        return self.name


def _json(status: int, body: Any) -> Callable[[], httpx.Response]:
    return lambda: httpx.Response(status, json=copy.deepcopy(body))


_P = f"/api/v4/projects/{ENCODED_REF}"
ENDPOINTS = {
    e.name: e
    for e in [
        Endpoint(
            "export",
            lambda c: c.schedule_export(PROJECT_REF),
            "POST",
            f"{_P}/export",
            _json(202, {"message": "202 Accepted"}),
        ),
        Endpoint(
            "export_status",
            lambda c: c.export_status(PROJECT_REF),
            "GET",
            f"{_P}/export",
            _json(200, EXPORT_STATUS),
        ),
        Endpoint(
            "download",
            lambda c: c.download_export(PROJECT_REF, _discard),
            "GET",
            f"{_P}/export/download",
            lambda: httpx.Response(200, content=ARCHIVE),
        ),
        Endpoint(
            "import",
            lambda c: c.import_archive(_archive(), ImportTarget(path="project")),
            "POST",
            "/api/v4/projects/import",
            _json(201, IMPORT_STATUS),
        ),
        Endpoint(
            "remote_import",
            lambda c: c.remote_import("https://files.example/a.tar.gz", ImportTarget(path="p")),
            "POST",
            "/api/v4/projects/remote-import",
            _json(201, IMPORT_STATUS),
        ),
        Endpoint(
            "remote_import_s3",
            lambda c: c.remote_import_s3(
                S3Object("eu-west-1", "bucket", "key.tar.gz", "AKIAEXAMPLE", "s3cr3t-key"),
                ImportTarget(path="p"),
            ),
            "POST",
            "/api/v4/projects/remote-import-s3",
            _json(201, IMPORT_STATUS),
        ),
        Endpoint(
            "import_status",
            lambda c: c.import_status(PROJECT_REF),
            "GET",
            f"{_P}/import",
            _json(200, IMPORT_STATUS),
        ),
        Endpoint(
            "relation_import",
            lambda c: c.import_relation(_archive(), path=PROJECT_REF, relation="issues"),
            "POST",
            "/api/v4/projects/import-relation",
            _json(201, TRACKER),
        ),
        Endpoint(
            "relation_imports",
            lambda c: c.relation_imports(PROJECT_REF),
            "GET",
            f"{_P}/relation-imports",
            _json(200, [TRACKER]),
        ),
        Endpoint(
            "project",
            lambda c: c.project(PROJECT_REF),
            "GET",
            _P,
            _json(200, PROJECT),
        ),
        Endpoint(
            "projects_search",
            lambda c: c.search_projects("project"),
            "GET",
            "/api/v4/projects",
            _json(200, [PROJECT]),
        ),
        Endpoint(
            "namespace",
            lambda c: c.namespace("group/sub"),
            "GET",
            "/api/v4/namespaces/group%2Fsub",
            _json(200, NAMESPACE),
        ),
        Endpoint("user", lambda c: c.current_user(), "GET", "/api/v4/user", _json(200, USER)),
        Endpoint(
            "delete_project",
            lambda c: c.delete_project(PROJECT_REF),
            "DELETE",
            _P,
            _json(202, {"message": "202 Accepted"}),
        ),
    ]
}
#: Endpoints whose success body is parsed as JSON.
JSON_ENDPOINTS = [
    name for name in ENDPOINTS if name not in ("export", "download", "delete_project")
]


@pytest.fixture(params=list(ENDPOINTS), ids=list(ENDPOINTS))
def endpoint(request: pytest.FixtureRequest) -> Endpoint:
    """Every client method in turn."""
    return ENDPOINTS[request.param]


@pytest.fixture(params=JSON_ENDPOINTS, ids=JSON_ENDPOINTS)
def json_endpoint(request: pytest.FixtureRequest) -> Endpoint:
    """Every client method that parses a JSON success body."""
    return ENDPOINTS[request.param]


@pytest.fixture
def endpoints() -> dict[str, Endpoint]:
    return ENDPOINTS
