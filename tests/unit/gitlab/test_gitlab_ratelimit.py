"""GitLab's two 429 shapes (JSON application limit, plain-text Rack::Attack) become
``RateLimited`` with the right ``retry_after``: ``Retry-After`` seconds or HTTP date, else
``RateLimit-Reset`` measured against the response's ``Date`` (or the injected ``now``), else
``None``. The client never sleeps or retries."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from gitlab_ferry.gitlab.errors import RateLimited
from gitlab_ferry.gitlab.ratelimit import retry_after_seconds

TOO_MANY = {
    "message": {"error": "This endpoint has been requested too many times. Try again later."}
}
SERVER_NOW = 1_700_000_000  # the time on GitLab's clock (its Date header)
OUR_NOW = SERVER_NOW + 5_000  # a skewed operator clock, so tests show which one was used


def http_date(epoch: float) -> str:
    return format_datetime(datetime.fromtimestamp(epoch, UTC), usegmt=True)


def application_limit(**headers: str) -> httpx.Response:
    return httpx.Response(429, json=TOO_MANY, headers=headers)


def rack_attack(**headers: str) -> httpx.Response:
    base = {
        "RateLimit-Name": "throttle_authenticated_api",
        "RateLimit-Limit": "60",
        "RateLimit-Observed": "61",
        "RateLimit-Remaining": "0",
    }
    return httpx.Response(
        429,
        content=b"Retry later\n",
        headers={"content-type": "text/plain", **base, **headers},
    )


async def rate_limited(gitlab, make_client, response, endpoint=None) -> RateLimited:
    gitlab.reply(response)
    client = make_client(now=lambda: OUR_NOW)
    call = endpoint.call if endpoint is not None else (lambda c: c.schedule_export(1))
    with pytest.raises(RateLimited) as caught:
        await call(client)
    return caught.value


CASES = [
    pytest.param(application_limit(**{"Retry-After": "60"}), 60.0, id="json-retry-after"),
    pytest.param(application_limit(), None, id="json-old-gitlab-no-retry-after"),
    pytest.param(
        application_limit(Date=http_date(SERVER_NOW)), None, id="json-date-but-nothing-to-use"
    ),
    pytest.param(rack_attack(**{"Retry-After": "30"}), 30.0, id="rack-retry-after"),
    pytest.param(
        rack_attack(**{"Retry-After": "30", "RateLimit-Reset": str(OUR_NOW + 5)}),
        30.0,
        id="retry-after-beats-reset",
    ),
    pytest.param(
        rack_attack(
            Date=http_date(SERVER_NOW),
            **{
                "RateLimit-Reset": str(SERVER_NOW + 42),
                "RateLimit-ResetTime": http_date(SERVER_NOW + 42),
            },
        ),
        42.0,
        id="rack-reset-against-date-header",
    ),
    pytest.param(
        rack_attack(**{"RateLimit-Reset": str(OUR_NOW + 17)}), 17.0, id="rack-reset-against-now"
    ),
    pytest.param(
        rack_attack(Date=http_date(SERVER_NOW), **{"RateLimit-Reset": str(SERVER_NOW - 3)}),
        0.0,
        id="reset-in-the-past",
    ),
    pytest.param(
        application_limit(
            Date=http_date(SERVER_NOW), **{"Retry-After": http_date(SERVER_NOW + 90)}
        ),
        90.0,
        id="retry-after-http-date-against-date-header",
    ),
    pytest.param(
        application_limit(**{"Retry-After": http_date(OUR_NOW + 25)}),
        25.0,
        id="retry-after-http-date-against-now",
    ),
    pytest.param(
        application_limit(**{"Retry-After": http_date(OUR_NOW - 100)}),
        0.0,
        id="retry-after-date-in-the-past",
    ),
    pytest.param(application_limit(**{"Retry-After": "0"}), 0.0, id="retry-after-zero"),
    pytest.param(application_limit(**{"Retry-After": " 7 "}), 7.0, id="retry-after-spaces"),
    pytest.param(
        rack_attack(**{"Retry-After": "soon", "RateLimit-Reset": str(OUR_NOW + 9)}),
        9.0,
        id="garbage-retry-after-falls-back-to-reset",
    ),
    pytest.param(application_limit(**{"Retry-After": "soon"}), None, id="garbage-only"),
    pytest.param(rack_attack(**{"RateLimit-Reset": "tomorrow"}), None, id="garbage-reset"),
    pytest.param(
        rack_attack(Date="not a date", **{"RateLimit-Reset": str(OUR_NOW + 11)}),
        11.0,
        id="bad-date-header-uses-now",
    ),
]


@pytest.mark.parametrize(("response", "expected"), CASES)
async def test_retry_after(gitlab, make_client, response, expected):
    err = await rate_limited(gitlab, make_client, response)
    assert err.retry_after == expected
    assert (err.status, err.retryable, err.endpoint) == (429, True, "export")
    assert len(gitlab.requests) == 1, "the client must not retry by itself"


async def test_json_application_limit_shape(gitlab, make_client):
    err = await rate_limited(gitlab, make_client, application_limit(**{"Retry-After": "60"}))
    assert err.plain_text is False
    assert err.message == TOO_MANY["message"]["error"]
    assert str(err) == f"429 {TOO_MANY['message']['error']}"


async def test_rack_attack_plain_text_shape(gitlab, make_client):
    err = await rate_limited(gitlab, make_client, rack_attack(**{"Retry-After": "60"}))
    assert err.plain_text is True
    assert err.message == "Retry later"


async def test_rack_attack_with_charset_is_still_plain_text(gitlab, make_client):
    response = httpx.Response(429, text="Retry later\n")  # text/plain; charset=utf-8
    err = await rate_limited(gitlab, make_client, response)
    assert err.plain_text is True


async def test_the_injected_clock_is_read_when_the_error_is_built(gitlab, make_client):
    ticks = iter([SERVER_NOW, SERVER_NOW + 10])
    gitlab.reply(
        rack_attack(**{"RateLimit-Reset": str(SERVER_NOW + 30)}),
        rack_attack(**{"RateLimit-Reset": str(SERVER_NOW + 30)}),
    )
    client = make_client(now=lambda: next(ticks))
    waits = []
    for _ in range(2):
        with pytest.raises(RateLimited) as caught:
            await client.current_user()
        waits.append(caught.value.retry_after)
    assert waits == [30.0, 20.0]


async def test_every_method_reports_429_as_rate_limited(gitlab, make_client, endpoint):
    err = await rate_limited(
        gitlab, make_client, application_limit(**{"Retry-After": "60"}), endpoint
    )
    assert (err.endpoint, err.retry_after) == (endpoint.name, 60.0)


# -- the pure function ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "now", "expected"),
    [
        ({}, 0.0, None),
        ({"retry-after": "60"}, 0.0, 60.0),
        ({"retry-after": "60", "ratelimit-reset": "5"}, 0.0, 60.0),
        ({"ratelimit-reset": "1000"}, 400.0, 600.0),
        ({"ratelimit-reset": "1000", "date": http_date(900)}, 400.0, 100.0),
        ({"retry-after": http_date(1000), "date": http_date(940)}, 0.0, 60.0),
        ({"retry-after": ""}, 0.0, None),
        ({"retry-after": "-5"}, 0.0, None),
        ({"retry-after": "1.5"}, 0.0, None),
        ({"ratelimit-reset": "-5"}, 0.0, None),
    ],
)
def test_retry_after_seconds(headers, now, expected):
    assert retry_after_seconds(headers, now) == expected


def test_header_names_are_case_insensitive_through_httpx_headers():
    headers = httpx.Headers({"Retry-After": "12", "RateLimit-Reset": "99"})
    assert retry_after_seconds(headers, 0.0) == 12.0
