"""Removal of secrets from text before it reaches logs, events, status or metrics.

A leaf module (standard library only). GitLab error messages and exceptions can echo URLs,
and pre-signed URLs carry their credential in the query string; tokens have recognisable
prefixes. Everything the operator writes where people can read it passes through here.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s\"'<>]+")
_TOKENS = re.compile(
    r"\b(?:glpat|gloas|gldt|glrt|glptt|glft|glimt|glagent|glsoat|glcbt|glffct|glwt)-[\w\-.]{8,}"
)
_BEARER = re.compile(r"(?i)\b(bearer|private-token:?|private_token=)\s*[\w\-.~+/=]{6,}")
REDACTED = "[redacted]"


def redact_url(url: str) -> str:
    """The URL without credentials: user info, query string and fragment are removed."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return REDACTED
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if port is not None:
        host = f"{host}:{port}"
    query = REDACTED if parts.query else ""
    return urlunsplit((parts.scheme, host, parts.path, query, ""))


def redact_text(text: str, *secrets: str | None) -> str:
    """``text`` with URLs' credentials, token-looking strings and the given secrets removed."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    text = _URL.sub(lambda match: redact_url(match.group(0)), text)
    text = _TOKENS.sub(REDACTED, text)
    return _BEARER.sub(lambda match: f"{match.group(1)} {REDACTED}", text)
