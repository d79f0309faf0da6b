"""The client's hooks and configuration: the request observer (once per request, endpoint
name, status or None), the URL guard (awaited before every request, its refusal propagates)
and TLS verification with an extra CA bundle."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest
from tests.support.certificates import self_signed

from gitlab_ferry.gitlab import GitLabClient
from gitlab_ferry.gitlab import errors as e
from gitlab_ferry.gitlab.transport import ssl_context


async def test_observer_is_told_once_per_request(gitlab, make_client, observations, endpoint):
    gitlab.reply(endpoint.ok())
    await endpoint.call(make_client(observer=observations))
    assert observations.calls == [(endpoint.name, endpoint.ok().status_code)]
    seconds = observations[0][2]
    assert isinstance(seconds, float)
    assert 0.0 <= seconds < 5.0


async def test_observer_sees_error_statuses(gitlab, make_client, observations, endpoint):
    gitlab.reply(httpx.Response(404, json={"message": "404 Project Not Found"}))
    with pytest.raises(e.NotFound):
        await endpoint.call(make_client(observer=observations))
    assert observations.calls == [(endpoint.name, 404)]


async def test_observer_sees_none_on_transport_errors(gitlab, make_client, observations, endpoint):
    gitlab.reply(httpx.ConnectError("refused"))
    with pytest.raises(e.TransportError):
        await endpoint.call(make_client(observer=observations))
    assert observations.calls == [(endpoint.name, None)]


async def test_observer_sees_each_request_of_a_sequence(gitlab, make_client, observations, bodies):
    gitlab.reply(
        httpx.Response(200, json=bodies.user),
        httpx.Response(429, json={"message": {"error": "slow down"}}),
        httpx.ReadTimeout("slow"),
    )
    client = make_client(observer=observations)
    await client.current_user()
    with pytest.raises(e.RateLimited):
        await client.schedule_export(1)
    with pytest.raises(e.GitLabTimeout):
        await client.import_status(1)
    assert observations.calls == [("user", 200), ("export", 429), ("import_status", None)]


async def test_no_observer_is_fine(gitlab, client, endpoints):
    gitlab.reply(endpoints["user"].ok())
    assert (await client.current_user()).username == "ferry-bot"


# -- URL guard --------------------------------------------------------------------------------


async def test_url_guard_is_awaited_with_the_exact_url_before_the_request(
    gitlab, make_client, endpoint
):
    seen: list[tuple[httpx.URL, int]] = []

    async def guard(url: httpx.URL) -> None:
        seen.append((url, len(gitlab.requests)))

    gitlab.reply(endpoint.ok())
    await endpoint.call(make_client(url_guard=guard))
    assert len(seen) == 1
    url, requests_before = seen[0]
    assert requests_before == 0, "the guard must run before the connection"
    assert url == gitlab.only.url


async def test_a_refusing_guard_stops_every_method(gitlab, make_client, observations, endpoint):
    async def guard(url: httpx.URL) -> None:
        raise e.HostNotAllowed(f"{url.host} is a private address")

    client = make_client(url_guard=guard, observer=observations)
    with pytest.raises(e.HostNotAllowed, match=r"gitlab\.example\.com is a private address"):
        await endpoint.call(client)
    assert gitlab.requests == []
    assert observations == []


async def test_any_guard_exception_propagates_unchanged(gitlab, make_client):
    class PolicyError(Exception):
        pass

    async def guard(url: httpx.URL) -> None:
        raise PolicyError("nope")

    with pytest.raises(PolicyError):
        await make_client(url_guard=guard).current_user()
    assert gitlab.requests == []


# -- lifecycle --------------------------------------------------------------------------------


async def test_the_client_is_an_async_context_manager(gitlab, bodies):
    gitlab.reply(httpx.Response(200, json=bodies.user))
    async with GitLabClient("https://gitlab.example.com", "t0ken", transport=gitlab.transport) as c:
        assert (await c.current_user()).id == 5
    with pytest.raises(RuntimeError):
        await c.current_user()


# -- TLS --------------------------------------------------------------------------------------


@pytest.fixture
def ca_pem(tmp_path: Path) -> str:
    """A CA certificate, as a caBundle Secret holds it."""
    cert, _ = self_signed(tmp_path, common_name="gitlab-ferry test CA")
    return cert.read_text()


@pytest.mark.parametrize("ca", [None, ""])
def test_system_roots_without_a_ca_bundle(ca):
    assert ssl_context(ca) is True


def test_a_ca_bundle_is_trusted_in_addition_to_verification(ca_pem):
    context = ssl_context(ca_pem)
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname is True
    subjects = [dict(x[0] for x in ca["subject"]) for ca in context.get_ca_certs()]
    assert {"commonName": "gitlab-ferry test CA"} in subjects


def test_an_invalid_ca_bundle_is_refused():
    with pytest.raises(ssl.SSLError):
        ssl_context("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n")


async def test_the_client_accepts_a_ca_bundle(gitlab, make_client, bodies, ca_pem):
    gitlab.reply(httpx.Response(200, json=bodies.user))
    assert (await make_client(ca_pem=ca_pem).current_user()).id == 5
