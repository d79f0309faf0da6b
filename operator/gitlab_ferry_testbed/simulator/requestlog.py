"""The request log: every API request the simulator answered, without secrets.

Part of the simulator layer. Tests read it to assert what a client did (how often it polled,
which identity it used, whether it retried). Parameters are recorded only for POSTs and only
after redaction: tokens and S3 secrets are dropped and URLs lose their query string (a
pre-signed URL is a credential). This module must not import anything outside the simulator.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

SECRET_PARAMS = frozenset({"private_token", "secret_access_key", "access_key_id", "job_token"})
URL_PARAMS = frozenset({"url", "upload[url]"})


def strip_query(url: str) -> str:
    """The URL without query string or fragment (and without userinfo)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def redact(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else key
        if key in SECRET_PARAMS:
            continue
        if isinstance(value, dict):
            out[key] = redact(value, name)
        elif name in URL_PARAMS and isinstance(value, str):
            out[key] = strip_query(value)
        else:
            out[key] = value
    return out


@dataclass
class RequestRecord:
    seq: int
    time: float
    method: str
    path: str
    endpoint: str | None
    user: str | None = None
    status: int = 0
    params: dict[str, Any] | None = None
    fault: str | None = None
    auth: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RequestLog:
    def __init__(self) -> None:
        self._records: list[RequestRecord] = []
        self._seq = 0

    def start(self, *, time: float, method: str, path: str, endpoint: str | None) -> RequestRecord:
        self._seq += 1
        record = RequestRecord(self._seq, time, method, path, endpoint)
        self._records.append(record)
        return record

    def records(
        self,
        endpoint: str | None = None,
        *,
        user: str | None = None,
        method: str | None = None,
    ) -> list[RequestRecord]:
        return [
            r
            for r in self._records
            if (endpoint is None or r.endpoint == endpoint)
            and (user is None or r.user == user)
            and (method is None or r.method == method.upper())
        ]

    def reset(self) -> None:
        self._records.clear()
