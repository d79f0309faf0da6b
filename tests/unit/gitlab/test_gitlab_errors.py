"""Error mapping of the GitLab client: every body shape and status GitLab (or a proxy in front
of it) produces becomes one typed ``GitLabError`` with the right ``retryable`` flag, message,
status and endpoint; non-JSON success bodies become ``UnexpectedResponse``; secrets never
reach an error message."""

from __future__ import annotations

import httpx
import pytest

from gitlab_ferry.gitlab import errors as e

GROUP_TAKEN = 'Failed to save group {:path=>["has already been taken"]}'
EXPIRED = "Token is expired. You can either do re-authorization or token refresh."
SCOPE = "The request requires higher privileges than provided by the access token."
TOO_MANY = "This endpoint has been requested too many times. Try again later."
BAD_EXT = "You need to upload a GitLab project export archive (ending in .gz)."
MUTEX = "namespace, namespace_id, namespace_path are mutually exclusive"
HTML_502 = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


def j(status, body, **headers):
    return lambda: httpx.Response(status, json=body, headers=headers)


def text(status, body, content_type="text/plain; charset=utf-8", **headers):
    return lambda: httpx.Response(
        status, content=body.encode(), headers={"content-type": content_type, **headers}
    )


# (endpoint, answer, error class, retryable, message GitLab's words end up as)
CASES = [
    ("remote_import", j(400, {"message": "Path has already been taken"}), e.PathTaken, False,
     "Path has already been taken"),
    ("import", j(400, {"message": {"path": ["has already been taken"]}}), e.PathTaken, False,
     "path has already been taken"),
    ("remote_import_s3", j(400, {"message": "Namespace is not valid"}), e.NamespaceInvalid,
     False, "Namespace is not valid"),
    ("remote_import", j(400, {"error": MUTEX}), e.BadRequest, False, MUTEX),
    ("remote_import", j(400, {"error": "path is missing"}), e.BadRequest, False,
     "path is missing"),
    ("export", j(400, {"message": {"url": ["is blocked: Only allowed schemes are http, https"]}}),
     e.BadRequest, False, "url is blocked: Only allowed schemes are http, https"),
    ("import", j(400, {"message": {"name": ["is too long", "is invalid"], "path": ["bad"]}}),
     e.BadRequest, False, "name is too long; is invalid; path bad"),
    ("export", j(400, {"message": "The project size exceeds the export limit."}),
     e.ExportTooLarge, False, "The project size exceeds the export limit."),
    ("remote_import", j(400, {"message": "Content length is too big (should be at most 10 GB)"}),
     e.RemoteFileTooLarge, False, "Content length is too big"),
    ("remote_import_s3", j(400, {"message": "Content length is too small (should be at least "
     "1 Byte)"}), e.RemoteFileSizeUnknown, False, "too small"),
    ("remote_import", j(400, {"message": "Content type 'text/html' not allowed. (Allowed: "
     "application/gzip, application/x-tar, application/x-gzip)"}), e.RemoteFileContentType,
     False, "Content type 'text/html' not allowed"),
    ("remote_import", j(400, {"message": "File url is blocked: Requests to the local network "
     "are not allowed"}), e.RemoteFileUnreachable, False, "blocked"),
    ("remote_import", j(400, {"message": "To import from AWS S3 use `projects/remote-import-s3`"}),
     e.S3UrlRefused, False, "remote-import-s3"),
    ("remote_import", j(400, {"message": "Failed to retrive headers: execution expired"}),
     e.RemoteFileUnreachable, False, "retrive headers"),
    ("remote_import_s3", j(400, {"message": "File not found 'a.tar.gz' in 'bucket'"}),
     e.RemoteFileUnreachable, False, "File not found"),
    ("import", j(400, {"message": "Content length is too big"}), e.BadRequest, False,
     "Content length"),
    ("remote_import", j(404, {"message": "404 Not Found"}), e.EndpointUnavailable, False,
     "404 Not Found"),
    ("remote_import_s3", j(404, {"error": "404 Not Found"}), e.EndpointUnavailable, False,
     "404 Not Found"),
    ("relation_import", j(404, {"error": "404 Not Found"}), e.EndpointUnavailable, False,
     "404 Not Found"),
    ("remote_import", j(404, {"message": "404 Namespace Not Found"}), e.NamespaceNotFound,
     False, "Namespace Not Found"),
    ("relation_import", j(400, {"message": "Imported relation must be one of issues, "
     "merge_requests, milestones, or ci_pipelines"}), e.BadRequest, False, "Imported relation"),
    ("project", text(400, "Bad request\nmore detail\n"), e.BadRequest, False, "Bad request"),
    ("import_status", j(401, {"message": "401 Unauthorized"}), e.Unauthorized, False,
     "401 Unauthorized"),
    ("project", j(401, {"error": "invalid_token", "error_description": EXPIRED},
                  **{"WWW-Authenticate": 'Bearer error="invalid_token"'}),
     e.Unauthorized, False, f"invalid_token: {EXPIRED}"),
    ("user", j(401, {"error": "invalid_token",
                     "error_description": "Token was revoked. You have to re-authorize from "
                     "the user."}), e.Unauthorized, False, "Token was revoked"),
    ("import", j(403, {"message": "403 Forbidden"}), e.Forbidden, False, "403 Forbidden"),
    ("relation_imports", j(403, {"message": "403 Forbidden - Project"}), e.Forbidden, False,
     "403 Forbidden - Project"),
    ("relation_import", j(403, {"message": "You are not authorized to perform this action"}),
     e.Forbidden, False, "not authorized"),
    ("export", j(403, {"error": "insufficient_scope", "error_description": SCOPE,
                       "scope": "api"},
                 **{"WWW-Authenticate": 'Bearer error="insufficient_scope"'}),
     e.InsufficientScope, False, f"insufficient_scope: {SCOPE}"),
    ("project", j(404, {"message": "404 Project Not Found"}), e.ProjectNotFound, False,
     "404 Project Not Found"),
    ("relation_import", j(404, {"message": "Project not found"}), e.ProjectNotFound, False,
     "Project not found"),
    ("import", j(404, {"message": "404 Namespace Not Found"}), e.NamespaceNotFound, False,
     "404 Namespace Not Found"),
    ("namespace", j(404, {"message": "404 Namespace Not Found"}), e.NamespaceNotFound, False,
     "Namespace Not Found"),
    ("download", j(404, {"message": "404 Not found or has expired"}), e.ExportNotAvailable,
     False, "404 Not found or has expired"),
    ("download", j(404, {"message": "The project export file is not available yet"}),
     e.ExportNotAvailable, False, "not available yet"),
    ("download", j(404, {"message": "404 Project Not Found"}), e.ProjectNotFound, False,
     "Project Not Found"),
    ("export_status", j(404, {"message": "404 Not found or has expired"}), e.NotFound, False,
     "expired"),
    ("group", j(404, {"message": "404 Group Not Found"}), e.GroupNotFound, False,
     "404 Group Not Found"),
    ("group_download", j(404, {"message": "404 Not found or has expired"}),
     e.ExportNotAvailable, False, "404 Not found or has expired"),
    ("group_import", j(400, {"message": GROUP_TAKEN}), e.PathTaken, False,
     "has already been taken"),
    ("export_status", j(404, {"message": "404 Not Found"}), e.NotFound, False, "404 Not Found"),
    ("project", j(404, {"error": "404 Not Found"}), e.RouteNotFound, False, "404 Not Found"),
    ("project", j(404, {"message": "404 Not found"}), e.NotFound, False, "404 Not found"),
    ("delete_project", j(405, {"message": "Non GET methods are not allowed for moved projects"}),
     e.HTTPStatusError, False, "Non GET methods"),
    ("delete_project", text(301, "This resource has been moved permanently to "
                     "https://gitlab.example.com/api/v4/projects/42",
                     location="https://gitlab.example.com/api/v4/projects/42"),
     e.HTTPStatusError, False, "moved permanently"),
    ("relation_import", j(409, {"message": "A relation import is already in progress for this "
     "project"}), e.Conflict, True, "already in progress"),
    ("export", j(409, {"message": "409 Conflict: Resource lock"}), e.Conflict, True,
     "Resource lock"),
    ("import", j(413, {"message": "413 Request Entity Too Large"}), e.PayloadTooLarge, False,
     "413 Request Entity Too Large"),
    ("import", text(413, "<html><body>413 Request Entity Too Large</body></html>", "text/html"),
     e.PayloadTooLarge, False, "Request Entity Too Large"),
    ("import", j(422, {"message": {"error": BAD_EXT}}), e.UnprocessableEntity, False, BAD_EXT),
    ("relation_import", j(422, {"message": {"error": BAD_EXT}}), e.UnprocessableEntity, False,
     BAD_EXT),
    ("export", j(429, {"message": {"error": TOO_MANY}}, **{"Retry-After": "60"}),
     e.RateLimited, True, TOO_MANY),
    ("project", text(429, "Retry later\n", **{"Retry-After": "60"}), e.RateLimited, True,
     "Retry later"),
    ("import_status", j(500, {"message": "500 Internal Server Error"}), e.ServerError, True,
     "500 Internal Server Error"),
    ("remote_import", j(503, {"message": "Gitaly resource exhausted"}), e.ServerError, True,
     "Gitaly resource exhausted"),
    ("export_status", text(502, HTML_502, "text/html"), e.ServerError, True,
     "Bad Gateway (an HTML error page"),
    ("user", text(504, "upstream timed out\n"), e.ServerError, True, "upstream timed out"),
    ("project", lambda: httpx.Response(502), e.ServerError, True, "Bad Gateway"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "answer", "error", "retryable", "words"),
    CASES,
    ids=[f"{c[0]}-{c[2].__name__}-{i}" for i, c in enumerate(CASES)],
)
async def test_error_mapping(gitlab, client, endpoints, name, answer, error, retryable, words):
    response = answer()
    gitlab.reply(response)
    with pytest.raises(e.GitLabError) as caught:
        await endpoints[name].call(client)
    err = caught.value
    assert type(err) is error
    assert err.retryable is retryable
    assert err.status == response.status_code
    assert err.endpoint == name
    assert words in err.message
    # The status leads, once: GitLab's own words often start with it already.
    status = str(response.status_code)
    said = err.message.startswith(status)
    assert str(err) == (err.message if said else f"{status} {err.message}")


async def test_html_error_pages_are_summarised_not_echoed(gitlab, client):
    gitlab.reply(text(502, HTML_502, "text/html; charset=utf-8")())
    with pytest.raises(e.ServerError) as caught:
        await client.project(1)
    assert "<html" not in str(caught.value)
    assert "nginx" not in str(caught.value)


async def test_long_plain_text_bodies_are_cut(gitlab, client):
    gitlab.reply(text(500, "x" * 5000)())
    with pytest.raises(e.ServerError) as caught:
        await client.project(1)
    assert 0 < len(caught.value.message) <= 300


async def test_an_empty_error_body_falls_back_to_the_reason_phrase(gitlab, client):
    gitlab.reply(httpx.Response(403, content=b""))
    with pytest.raises(e.Forbidden) as caught:
        await client.project(1)
    assert caught.value.message == "Forbidden"


async def test_a_json_error_body_that_is_not_an_object_is_still_an_error(gitlab, client):
    gitlab.reply(httpx.Response(400, json=["nope"]))
    with pytest.raises(e.BadRequest) as caught:
        await client.project(1)
    assert "nope" in caught.value.message


async def test_unknown_4xx_is_a_plain_http_status_error(gitlab, client):
    gitlab.reply(httpx.Response(418, json={"message": "I'm a teapot"}))
    with pytest.raises(e.GitLabError) as caught:
        await client.project(1)
    assert type(caught.value) is e.HTTPStatusError
    assert (caught.value.status, caught.value.retryable) == (418, False)


# -- the class tree -------------------------------------------------------------------------

RETRYABLE = {
    e.TransportError: True,
    e.GitLabTimeout: True,
    e.UnexpectedResponse: True,
    e.Conflict: True,
    e.RateLimited: True,
    e.ServerError: True,
    e.GitLabError: False,
    e.HostNotAllowed: False,
    e.HTTPStatusError: False,
    e.BadRequest: False,
    e.PathTaken: False,
    e.NamespaceInvalid: False,
    e.Unauthorized: False,
    e.Forbidden: False,
    e.InsufficientScope: False,
    e.NotFound: False,
    e.RouteNotFound: False,
    e.ProjectNotFound: False,
    e.GroupNotFound: False,
    e.NamespaceNotFound: False,
    e.ExportNotAvailable: False,
    e.PayloadTooLarge: False,
    e.UnprocessableEntity: False,
    e.ExportTooLarge: False,
    e.RemoteFileRejected: False,
    e.RemoteFileTooLarge: False,
    e.RemoteFileSizeUnknown: False,
    e.RemoteFileContentType: False,
    e.RemoteFileUnreachable: False,
    e.S3UrlRefused: False,
    e.EndpointUnavailable: False,
}


@pytest.mark.parametrize(
    ("cls", "retryable"), RETRYABLE.items(), ids=lambda v: getattr(v, "__name__", str(v))
)
def test_retryable_flags(cls, retryable):
    assert cls.retryable is retryable


@pytest.mark.parametrize(
    ("child", "parent"),
    [
        (e.PathTaken, e.BadRequest),
        (e.NamespaceInvalid, e.BadRequest),
        (e.BadRequest, e.HTTPStatusError),
        (e.InsufficientScope, e.Forbidden),
        (e.ProjectNotFound, e.NotFound),
        (e.GroupNotFound, e.NotFound),
        (e.NamespaceNotFound, e.NotFound),
        (e.ExportNotAvailable, e.NotFound),
        (e.GitLabTimeout, e.TransportError),
        (e.RateLimited, e.HTTPStatusError),
        (e.ServerError, e.HTTPStatusError),
        (e.HTTPStatusError, e.GitLabError),
        (e.TransportError, e.GitLabError),
        (e.UnexpectedResponse, e.GitLabError),
        (e.HostNotAllowed, e.GitLabError),
    ],
)
def test_error_tree(child, parent):
    assert issubclass(child, parent)


def test_every_error_has_been_covered():
    tree = {v for v in vars(e).values() if isinstance(v, type) and issubclass(v, e.GitLabError)}
    assert tree == set(RETRYABLE)


def test_errors_without_status_print_only_the_message():
    assert str(e.TransportError("connection refused", endpoint="export")) == "connection refused"


def test_the_status_is_not_repeated_when_gitlab_already_says_it():
    assert str(e.NotFound("404 Not Found", status=404)) == "404 Not Found"
    assert str(e.BadRequest("Path has already been taken", status=400)) == (
        "400 Path has already been taken"
    )


# -- success statuses with bodies GitLab does not send ---------------------------------------

NOT_JSON = [
    pytest.param(lambda s: httpx.Response(s, text="OK"), id="plain-text"),
    pytest.param(lambda s: httpx.Response(s, html="<html>login</html>"), id="html-page"),
    pytest.param(lambda s: httpx.Response(s, content=b""), id="empty"),
    pytest.param(
        lambda s: httpx.Response(
            s, content=b'{"id": 1,', headers={"content-type": "application/json"}
        ),
        id="truncated-json",
    ),
    pytest.param(lambda s: httpx.Response(s, content=b"\xff\xfe\x00garbage"), id="binary"),
]


@pytest.mark.parametrize("answer", NOT_JSON)
async def test_a_non_json_success_body_is_an_unexpected_response(
    gitlab, client, json_endpoint, answer
):
    status = json_endpoint.ok().status_code
    gitlab.reply(answer(status))
    with pytest.raises(e.GitLabError) as caught:
        await json_endpoint.call(client)
    err = caught.value
    assert type(err) is e.UnexpectedResponse
    assert (err.status, err.endpoint, err.retryable) == (status, json_endpoint.name, True)
