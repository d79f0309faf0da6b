"""The exact requests the GitLab client sends: method, raw path (ids URL-encoded), query,
authentication and other headers, and the JSON bodies of the export and remote-import POSTs."""

from __future__ import annotations

import json

import httpx
import pytest

from gitlab_ferry.gitlab import S3Object
from gitlab_ferry.gitlab import errors as e
from gitlab_ferry.gitlab.errors import Forbidden, ServerError
from gitlab_ferry.gitlab_states import ExportState, ImportState
from gitlab_ferry.reconcile.imports import ImportTarget

UPLOAD_URL = (
    "https://bucket.s3.eu-west-1.amazonaws.com/exports/p.tar.gz"
    "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=0123abcd"
)


def body_of(request: httpx.Request) -> object:
    assert request.headers["content-type"] == "application/json"
    return json.loads(request.content)


# -- every method ---------------------------------------------------------------------------


async def test_each_method_sends_its_method_and_raw_path(gitlab, client, endpoint):
    gitlab.reply(endpoint.ok())
    await endpoint.call(client)
    request = gitlab.only
    assert request.method == endpoint.method
    assert request.url.raw_path.split(b"?")[0] == endpoint.raw_path.encode()
    assert request.url.host == "gitlab.example.com"
    assert request.url.scheme == "https"


async def test_each_method_authenticates_with_private_token_header(gitlab, client, endpoint, token):
    gitlab.reply(endpoint.ok())
    await endpoint.call(client)
    headers = gitlab.only.headers
    assert headers["private-token"] == token
    assert "authorization" not in headers
    assert token not in str(gitlab.only.url), "the token must never travel in the URL"


async def test_each_method_authenticates_with_bearer_when_asked(
    gitlab, make_client, endpoint, token
):
    gitlab.reply(endpoint.ok())
    await endpoint.call(make_client(token_type="Bearer"))
    headers = gitlab.only.headers
    assert headers["authorization"] == f"Bearer {token}"
    assert "private-token" not in headers
    assert token not in str(gitlab.only.url)


async def test_default_headers_ask_for_json_and_name_the_client(gitlab, client, endpoints):
    gitlab.reply(endpoints["user"].ok())
    await client.current_user()
    assert gitlab.only.headers["accept"] == "application/json"
    assert gitlab.only.headers["user-agent"] == "gitlab-ferry"


async def test_user_agent_is_configurable(gitlab, make_client, endpoints):
    gitlab.reply(endpoints["user"].ok())
    await make_client(user_agent="gitlab-ferry/1.2.3").current_user()
    assert gitlab.only.headers["user-agent"] == "gitlab-ferry/1.2.3"


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://gitlab.example.com", "https://gitlab.example.com/api/v4/user"),
        ("https://gitlab.example.com/", "https://gitlab.example.com/api/v4/user"),
        ("https://example.com/gitlab", "https://example.com/gitlab/api/v4/user"),
        ("https://example.com/gitlab/", "https://example.com/gitlab/api/v4/user"),
        ("https://gitlab.example.com:8443", "https://gitlab.example.com:8443/api/v4/user"),
    ],
)
async def test_base_url_may_have_a_path_and_trailing_slash(
    gitlab, make_client, endpoints, base_url, expected
):
    gitlab.reply(endpoints["user"].ok())
    await make_client(base_url=base_url).current_user()
    assert str(gitlab.only.url) == expected


# -- ids in paths ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "segment"),
    [
        (42, "42"),
        ("42", "42"),
        ("group/sub/project", "group%2Fsub%2Fproject"),
        ("/group/project/", "group%2Fproject"),
        ("grp/my.project-x_y~z", "grp%2Fmy.project-x_y~z"),
        ("grp/with space", "grp%2Fwith%20space"),
        ("gr\u00fcn/p", "gr%C3%BCn%2Fp"),
        ("grp/a%2Fb", "grp%2Fa%252Fb"),
        ("grp/a?b#c", "grp%2Fa%3Fb%23c"),
    ],
)
@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("export_status", "/export"),
        ("import_status", "/import"),
        ("relation_imports", "/relation-imports"),
        ("project", ""),
    ],
)
async def test_project_ids_are_one_encoded_path_segment(
    gitlab, client, bodies, ref, segment, method, suffix
):
    answers = {
        "export_status": bodies.export_status,
        "import_status": bodies.import_status,
        "relation_imports": [],
        "project": bodies.project,
    }
    gitlab.reply(httpx.Response(200, json=answers[method]))
    await getattr(client, method)(ref)
    assert gitlab.only.url.raw_path == f"/api/v4/projects/{segment}{suffix}".encode()
    assert gitlab.only.url.query == b""


@pytest.mark.parametrize(
    ("ref", "segment"), [(7, "7"), ("group/sub", "group%2Fsub"), ("group", "group")]
)
async def test_namespace_ids_are_encoded_too(gitlab, client, bodies, ref, segment):
    gitlab.reply(httpx.Response(200, json=bodies.namespace))
    namespace = await client.namespace(ref)
    assert gitlab.only.url.raw_path == f"/api/v4/namespaces/{segment}".encode()
    assert (namespace.id, namespace.full_path) == (7, "group/sub")


@pytest.mark.parametrize("ref", ["", "   ", "/"])
async def test_an_empty_project_reference_is_refused_before_any_request(gitlab, client, ref):
    with pytest.raises(ValueError, match="empty"):
        await client.export_status(ref)
    assert gitlab.requests == []


# -- export ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, {}),
        ({"description": "Exported by gitlab-ferry"}, {"description": "Exported by gitlab-ferry"}),
        ({"upload_url": UPLOAD_URL}, {"upload": {"url": UPLOAD_URL, "http_method": "PUT"}}),
        (
            {"upload_url": UPLOAD_URL, "upload_method": "POST"},
            {"upload": {"url": UPLOAD_URL, "http_method": "POST"}},
        ),
        (
            {"description": "", "upload_url": UPLOAD_URL, "upload_method": "PUT"},
            {"description": "", "upload": {"url": UPLOAD_URL, "http_method": "PUT"}},
        ),
    ],
)
async def test_schedule_export_body(gitlab, client, kwargs, expected):
    gitlab.reply(httpx.Response(202, json={"message": "202 Accepted"}))
    assert await client.schedule_export(42, **kwargs) is None
    request = gitlab.only
    assert (request.method, request.url.raw_path) == ("POST", b"/api/v4/projects/42/export")
    assert body_of(request) == expected


async def test_export_status_is_parsed(gitlab, client, bodies):
    gitlab.reply(httpx.Response(200, json=bodies.export_status))
    status = await client.export_status("gitlab-org/gitlab-test")
    assert gitlab.only.method == "GET"
    assert gitlab.only.content == b""
    assert status.state is ExportState.FINISHED
    assert (status.id, status.path_with_namespace) == (1, "gitlab-org/gitlab-test")
    assert status.links is not None
    assert status.links.api_url == "https://gitlab.example.com/api/v4/projects/1/export/download"


# -- remote imports (JSON) ----------------------------------------------------------------

TARGETS = [
    pytest.param(ImportTarget(path="proj"), {"path": "proj"}, id="path-only"),
    pytest.param(
        ImportTarget(path="proj", name="Project", namespace="group/sub"),
        {"path": "proj", "name": "Project", "namespace": "group/sub"},
        id="namespace-path-string",
    ),
    pytest.param(
        ImportTarget(path="proj", namespace=17),
        {"path": "proj", "namespace": 17},
        id="namespace-number",
    ),
    pytest.param(
        ImportTarget(path="proj", namespace_id=17), {"path": "proj", "namespace_id": 17}, id="nsid"
    ),
    pytest.param(
        ImportTarget(path="proj", namespace_path="group/sub"),
        {"path": "proj", "namespace_path": "group/sub"},
        id="namespace_path",
    ),
    pytest.param(
        ImportTarget(path="proj", overwrite=True), {"path": "proj", "overwrite": True}, id="ow"
    ),
    pytest.param(ImportTarget(path="proj", overwrite=False), {"path": "proj"}, id="no-overwrite"),
    pytest.param(
        ImportTarget(
            path="proj",
            override_params={
                "description": "moved",
                "visibility": "private",
                "lfs_enabled": False,
                "ci_config": {"path": ".gitlab-ci.yml", "depth": 2},
            },
        ),
        {
            "path": "proj",
            "override_params": {
                "description": "moved",
                "visibility": "private",
                "lfs_enabled": False,
                "ci_config": {"path": ".gitlab-ci.yml", "depth": 2},
            },
        },
        id="override_params-nested-object",
    ),
]


@pytest.mark.parametrize(("target", "expected"), TARGETS)
async def test_remote_import_body(gitlab, client, bodies, target, expected):
    gitlab.reply(httpx.Response(201, json=bodies.import_status))
    status = await client.remote_import("https://files.example.com/p.tar.gz", target)
    request = gitlab.only
    assert (request.method, request.url.raw_path) == ("POST", b"/api/v4/projects/remote-import")
    assert body_of(request) == {**expected, "url": "https://files.example.com/p.tar.gz"}
    assert status.state is ImportState.SCHEDULED
    assert status.correlation_id == "mezklWso3Za"


@pytest.mark.parametrize(("target", "expected"), TARGETS)
async def test_remote_import_s3_body(gitlab, client, bodies, target, expected):
    gitlab.reply(httpx.Response(201, json=bodies.import_status))
    source = S3Object(
        region="eu-west-1",
        bucket_name="exports",
        file_key="2024/group_project_export.tar.gz",
        access_key_id="AKIAEXAMPLE",
        secret_access_key="wJalrXUtnFEMI/K7MDENG",
    )
    status = await client.remote_import_s3(source, target)
    request = gitlab.only
    assert (request.method, request.url.raw_path) == ("POST", b"/api/v4/projects/remote-import-s3")
    assert body_of(request) == {
        **expected,
        "region": "eu-west-1",
        "bucket_name": "exports",
        "file_key": "2024/group_project_export.tar.gz",
        "access_key_id": "AKIAEXAMPLE",
        "secret_access_key": "wJalrXUtnFEMI/K7MDENG",
    }
    assert status.import_type == "gitlab_project"


async def test_import_status_is_parsed(gitlab, client, bodies):
    bodies.import_status.update(import_status="finished", import_error=None)
    gitlab.reply(httpx.Response(200, json=bodies.import_status))
    status = await client.import_status(1)
    assert (gitlab.only.method, gitlab.only.url.raw_path) == ("GET", b"/api/v4/projects/1/import")
    assert status.state is ImportState.FINISHED


async def test_relation_imports_lists_every_tracker(gitlab, client, bodies):
    second = {**bodies.tracker, "id": 10, "relation": "milestones", "status": "finished"}
    gitlab.reply(httpx.Response(200, json=[bodies.tracker, second]))
    trackers = await client.relation_imports(3)
    assert gitlab.only.url.raw_path == b"/api/v4/projects/3/relation-imports"
    assert [(t.id, t.relation, t.status) for t in trackers] == [
        (9, "issues", "created"),
        (10, "milestones", "finished"),
    ]


# -- lookups --------------------------------------------------------------------------------


async def test_project_is_parsed(gitlab, client, bodies):
    gitlab.reply(httpx.Response(200, json=bodies.project))
    project = await client.project(42)
    assert gitlab.only.url.raw_path == b"/api/v4/projects/42"
    assert (project.id, project.path_with_namespace) == (42, "group/sub/project")
    assert project.namespace is not None
    assert project.namespace.full_path == "group/sub"
    assert project.import_state is ImportState.FINISHED


async def test_find_project_returns_the_project(gitlab, client, bodies):
    gitlab.reply(httpx.Response(200, json=bodies.project))
    project = await client.find_project("group/sub/project")
    assert project is not None
    assert project.id == 42
    assert gitlab.only.url.raw_path == b"/api/v4/projects/group%2Fsub%2Fproject"


@pytest.mark.parametrize(
    "body", [{"message": "404 Project Not Found"}, {"message": "404 Not found"}]
)
async def test_find_project_returns_none_when_gitlab_says_not_found(gitlab, client, body):
    gitlab.reply(httpx.Response(404, json=body))
    assert await client.find_project("group/gone") is None


@pytest.mark.parametrize(
    ("status", "error"),
    [(403, Forbidden), (500, ServerError)],
)
async def test_find_project_does_not_hide_other_errors(gitlab, client, status, error):
    gitlab.reply(httpx.Response(status, json={"message": f"{status} something"}))
    with pytest.raises(error):
        await client.find_project("group/p")


async def test_search_projects_query(gitlab, client, bodies):
    gitlab.reply(httpx.Response(200, json=[bodies.project]))
    projects = await client.search_projects("my project/sub")
    request = gitlab.only
    assert (request.method, request.url.path) == ("GET", "/api/v4/projects")
    assert dict(request.url.params) == {
        "search": "my project/sub",
        "simple": "true",
        "per_page": "100",
    }
    assert len(request.url.params.multi_items()) == 3
    assert [p.id for p in projects] == [42]


async def test_current_user(gitlab, client, bodies):
    gitlab.reply(httpx.Response(200, json=bodies.user))
    user = await client.current_user()
    assert (gitlab.only.method, gitlab.only.url.raw_path) == ("GET", b"/api/v4/user")
    assert (user.id, user.username, user.name) == (5, "ferry-bot", "Ferry Bot")


@pytest.mark.parametrize("status", [200, 202, 204])
async def test_delete_project_accepts_every_success_status(gitlab, client, status):
    answer = httpx.Response(status) if status == 204 else httpx.Response(status, json={})
    gitlab.reply(answer)
    assert await client.delete_project("group/p") is None
    request = gitlab.only
    assert (request.method, request.url.raw_path) == ("DELETE", b"/api/v4/projects/group%2Fp")
    assert request.content == b""


@pytest.mark.parametrize(
    "method", ["export_status", "import_status", "project", "relation_imports", "current_user"]
)
async def test_gets_send_no_body_and_no_query(gitlab, client, bodies, method):
    answers = {
        "export_status": bodies.export_status,
        "import_status": bodies.import_status,
        "project": bodies.project,
        "relation_imports": [],
        "current_user": bodies.user,
    }
    gitlab.reply(httpx.Response(200, json=answers[method]))
    await (getattr(client, method)() if method == "current_user" else getattr(client, method)(1))
    assert gitlab.only.content == b""
    assert gitlab.only.url.query == b""
    assert "content-type" not in gitlab.only.headers


async def test_find_project_raises_when_the_route_itself_is_unknown(gitlab, client):
    gitlab.reply(httpx.Response(404, json={"error": "404 Not Found"}))
    with pytest.raises(e.RouteNotFound):
        await client.find_project("group/gone")


async def test_a_get_of_a_moved_project_follows_the_301_with_the_token(gitlab, client, bodies):
    gitlab.reply(
        httpx.Response(
            301,
            text="This resource has been moved permanently to "
            "https://gitlab.example.com/api/v4/projects/42",
            headers={"location": "https://gitlab.example.com/api/v4/projects/42"},
        )
    )
    gitlab.reply(httpx.Response(200, json=bodies.project))
    project = await client.project("old-group/old-name")
    assert project.id == 42
    first, second = gitlab.requests
    assert first.url.raw_path == b"/api/v4/projects/old-group%2Fold-name"
    assert second.url.raw_path == b"/api/v4/projects/42"
    assert second.headers["PRIVATE-TOKEN"] == first.headers["PRIVATE-TOKEN"]
