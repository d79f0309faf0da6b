"""Logging setup: plain or JSON lines, with every message passed through the redactor.

A low layer (standard library and ``redact``). The redacting filter sits on the root
handler, so neither the operator's, kopf's nor a library's log line can carry a token or a
pre-signed URL's signature.
"""

from __future__ import annotations

import json
import logging
import sys

from gitlab_ferry.redact import redact_text


class RedactingFilter(logging.Filter):
    """Replaces each record's message with its redacted rendering."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = redact_text(record.getMessage())
        record.msg, record.args = message, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry)


def configure(level: str = "INFO", fmt: str = "plain") -> None:
    """Configure the root logger for the operator process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Client libraries log request lines at DEBUG; the operator's own debug is what matters.
    for noisy in ("httpx", "httpcore", "urllib3", "botocore", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, root.level))
