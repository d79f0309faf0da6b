"""Reading GitLab's rate-limit answers (gitlab layer).

GitLab throttles in two shapes: application limits answer JSON with ``Retry-After`` (older
versions without it) and Rack::Attack answers plain text ``Retry later`` with ``RateLimit-*``
headers. This module turns either into seconds to wait. Pure functions over header values.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parsedate_to_datetime


def _http_date(value: str) -> float | None:
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def retry_after_seconds(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds until a retry may succeed: ``Retry-After`` (seconds or HTTP date), else
    ``RateLimit-Reset`` (epoch seconds, measured against the response's ``Date`` when present
    so clock skew between GitLab and the operator does not matter), else ``None``.
    """
    retry_after = headers.get("retry-after")
    if retry_after:
        retry_after = retry_after.strip()
        if retry_after.isdigit():
            return float(retry_after)
        at = _http_date(retry_after)
        if at is not None:
            return max(0.0, at - _server_now(headers, now))
    reset = headers.get("ratelimit-reset")
    if reset and reset.strip().isdigit():
        return max(0.0, float(reset) - _server_now(headers, now))
    return None


def _server_now(headers: Mapping[str, str], now: float) -> float:
    date = headers.get("date")
    server_now = _http_date(date) if date else None
    return now if server_now is None else server_now
