"""GitLab's response shapes: JSON bodies, the three error shapes, timestamps.

Part of the simulator layer. ``message`` is ``not_found!``/``forbidden!``/``render_api_error!``
(``{"message": "..."}`` or ``{"message": {...}}``), ``error`` is a Grape parameter error or an
unknown route (``{"error": "..."}``). This module only formats; it must not import anything outside
the simulator.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web


def iso(ts: float | None) -> str | None:
    """GitLab's timestamp format: ``2017-08-29T04:36:44.383Z``."""
    if ts is None:
        return None
    millis = round(ts * 1000)
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(millis // 1000)) + f".{millis % 1000:03d}Z"
    )


def json_response(status: int, body: Any, *, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        content_type="application/json",
        headers=headers,
    )


def message(status: int, text: str | dict[str, Any]) -> web.Response:
    return json_response(status, {"message": text})


def error(status: int, text: str) -> web.Response:
    return json_response(status, {"error": text})


def client_closed() -> web.Response:
    """What nginx logs for a request its client abandoned (no one reads the answer)."""
    return web.Response(status=499, text="client closed request")


def route_not_found() -> web.Response:
    return error(404, "404 Not Found")


def not_found() -> web.Response:
    """``not_found!`` without a resource: a disabled feature or setting hides the endpoint."""
    return message(404, "404 Not Found")


def project_not_found() -> web.Response:
    return message(404, "404 Project Not Found")


def forbidden(reason: str | None = None) -> web.Response:
    return message(403, f"403 Forbidden - {reason}" if reason else "403 Forbidden")


def accepted() -> web.Response:
    return message(202, "202 Accepted")


def human_size(size: int) -> str:
    """ActiveSupport's ``number_to_human_size`` (base 1024, 3 significant digits)."""
    if size < 1024:
        return f"{size} Byte" if size == 1 else f"{size} Bytes"
    units = ["KB", "MB", "GB", "TB", "PB"]
    value = float(size)
    unit = "Bytes"
    for candidate in units:
        if value < 1024:
            break
        value /= 1024
        unit = candidate
    text = f"{value:.3g}"
    if "e" in text:
        text = f"{value:.0f}"
    return f"{text} {unit}"
