"""Failures without a usable response (connection, timeout, protocol, decoding) become the
client's own errors and no httpx exception escapes; tokens and pre-signed URLs never appear in
any error message."""

from __future__ import annotations

import httpx
import pytest

from gitlab_ferry.gitlab import errors as e

FAILURES = [
    (httpx.ConnectError, e.TransportError),
    (httpx.RemoteProtocolError, e.TransportError),
    (httpx.ReadError, e.TransportError),
    (httpx.WriteError, e.TransportError),
    (httpx.ProxyError, e.TransportError),
    (httpx.ReadTimeout, e.GitLabTimeout),
    (httpx.ConnectTimeout, e.GitLabTimeout),
    (httpx.WriteTimeout, e.GitLabTimeout),
    (httpx.PoolTimeout, e.GitLabTimeout),
]
MAIN_FAILURES = [httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError]


def assert_ours(err: BaseException, expected: type, endpoint: str) -> None:
    assert type(err) is expected
    assert not isinstance(err, httpx.HTTPError)
    assert isinstance(err, e.GitLabError)
    assert err.status is None
    assert err.endpoint == endpoint
    assert err.retryable is True


@pytest.mark.parametrize(
    "failure",
    MAIN_FAILURES,
    ids=[f.__name__ for f in MAIN_FAILURES],
)
async def test_every_method_maps_transport_failures(gitlab, client, endpoint, failure):
    gitlab.reply(failure("boom"))
    expected = dict(FAILURES)[failure]
    with pytest.raises(e.GitLabError) as caught:
        await endpoint.call(client)
    assert_ours(caught.value, expected, endpoint.name)
    assert isinstance(caught.value.__cause__, failure), "the cause is kept for debugging"


@pytest.mark.parametrize(("failure", "expected"), FAILURES, ids=[f.__name__ for f, _ in FAILURES])
async def test_each_httpx_failure_class(gitlab, client, failure, expected):
    gitlab.reply(failure("network went away"))
    with pytest.raises(e.GitLabError) as caught:
        await client.export_status(1)
    assert_ours(caught.value, expected, "export_status")
    assert "network went away" in caught.value.message


async def test_a_failure_without_text_is_named_by_its_type(gitlab, client):
    gitlab.reply(httpx.ConnectError(""))
    with pytest.raises(e.TransportError) as caught:
        await client.current_user()
    assert "ConnectError" in str(caught.value)


async def test_a_body_that_cannot_be_decoded_is_an_unexpected_response(gitlab, client):
    gitlab.reply(
        httpx.Response(
            200,
            stream=httpx.ByteStream(b"this is not gzip"),
            headers={"content-encoding": "gzip", "content-type": "application/json"},
        )
    )
    with pytest.raises(e.GitLabError) as caught:
        await client.project(1)
    assert type(caught.value) is e.UnexpectedResponse
    assert not isinstance(caught.value, httpx.HTTPError)


async def test_a_read_timeout_on_an_import_post_is_a_timeout(gitlab, client, endpoints):
    """GitLab may or may not have acted: the type must say it was a timeout, not a refusal."""
    gitlab.reply(httpx.ReadTimeout("timed out"))
    with pytest.raises(e.GitLabTimeout):
        await endpoints["import"].call(client)
    assert len(gitlab.requests) == 1, "the client never retries by itself"


# -- secrets in error messages ----------------------------------------------------------------

PRESIGNED = (
    "https://exports.s3.eu-west-1.amazonaws.com/g/p_export.tar.gz"
    "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20240101"
    "&X-Amz-Date=20240101T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
    "&X-Amz-Signature=5f1c0e7b9a0d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b"
)
SECRET_BITS = [
    "X-Amz-Signature",
    "5f1c0e7b9a0d4c3b2a1f",
    "AKIAIOSFODNN7EXAMPLE",
    "X-Amz-Credential",
]


def leaky_answers(token: str) -> list[tuple[str, httpx.Response]]:
    said = f"token {token} cannot upload to {PRESIGNED}"
    return [
        ("export", httpx.Response(400, json={"message": said})),
        ("export", httpx.Response(400, json={"message": {"url": [f"{PRESIGNED} is blocked"]}})),
        ("remote_import", httpx.Response(400, json={"error": said})),
        ("import", httpx.Response(422, json={"message": {"error": said}})),
        (
            "project",
            httpx.Response(401, json={"error": "invalid_token", "error_description": said}),
        ),
        ("export_status", httpx.Response(500, text=said)),
        ("project", httpx.Response(429, json={"message": said}, headers={"Retry-After": "1"})),
        ("download", httpx.Response(404, json={"message": f"404 Not found or has expired {said}"})),
        ("user", httpx.Response(409, json={"message": said})),
    ]


@pytest.mark.parametrize("index", range(9))
@pytest.mark.parametrize("token_type", ["PrivateToken", "Bearer"])
async def test_tokens_and_presigned_urls_never_reach_error_messages(
    gitlab, make_client, endpoints, token, index, token_type
):
    name, answer = leaky_answers(token)[index]
    gitlab.reply(answer)
    with pytest.raises(e.GitLabError) as caught:
        await endpoints[name].call(make_client(token_type=token_type))
    shown = f"{caught.value} {caught.value.message} {caught.value!r} {caught.value.args}"
    assert token not in shown
    for bit in SECRET_BITS:
        assert bit not in shown
    assert "exports.s3.eu-west-1.amazonaws.com/g/p_export.tar.gz" in shown, "keep the useful part"


async def test_tokens_in_transport_failures_are_removed(gitlab, client, token):
    gitlab.reply(httpx.ConnectError(f"cannot connect with PRIVATE-TOKEN: {token} to {PRESIGNED}"))
    with pytest.raises(e.TransportError) as caught:
        await client.current_user()
    for secret in [token, *SECRET_BITS]:
        assert secret not in str(caught.value)


async def test_a_non_gitlab_token_shape_is_removed_too(gitlab, make_client):
    """A custom token (no glpat- prefix) is still removed because the client knows it."""
    secret = "s3cr3t-custom-token-value"
    gitlab.reply(httpx.Response(401, json={"message": f"401 Unauthorized: {secret}"}))
    with pytest.raises(e.Unauthorized) as caught:
        await make_client(token=secret).project(1)
    assert secret not in str(caught.value)
    assert "401 Unauthorized" in str(caught.value)


async def test_other_gitlab_tokens_in_a_body_are_removed(gitlab, client):
    other = "glpat-SomebodyElses0123456789"
    gitlab.reply(httpx.Response(403, json={"message": f"403 Forbidden for {other}"}))
    with pytest.raises(e.Forbidden) as caught:
        await client.project(1)
    assert other not in str(caught.value)


async def test_unexpected_bodies_are_not_echoed(gitlab, client, token, bodies):
    bodies.project["id"] = f"not-a-number {token}"
    gitlab.reply(httpx.Response(200, json=bodies.project))
    with pytest.raises(e.UnexpectedResponse) as caught:
        await client.project(1)
    assert token not in str(caught.value)


@pytest.mark.parametrize(
    "body",
    [
        {"message": "upstream https://gitlab-internal:port/api/v4 unreachable"},
        {"message": "proxy to http://10.0.0.1:99999/ failed"},
    ],
)
async def test_an_odd_url_in_an_error_body_still_gives_a_gitlab_error(gitlab, client, body):
    gitlab.reply(httpx.Response(502, json=body))
    with pytest.raises(e.ServerError):
        await client.project(1)
