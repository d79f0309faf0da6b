"""GitLab's rate limiters: ApplicationRateLimiter windows and the Rack::Attack API throttle.

Part of the simulator layer. Windows are fixed and aligned to the Unix epoch as measured by the
simulator's clock; the counter is incremented before it is compared, so throttled calls count
too, and a threshold of 0 disables a limit without counting. This module builds the two 429
shapes (JSON with optional ``Retry-After``; Rack::Attack's plain text with ``RateLimit-*``
headers). It must not import anything outside the simulator.
"""

from __future__ import annotations

import json
from email.utils import formatdate

from aiohttp import web

from gitlab_ferry_testbed.simulator.clock import Clock

THROTTLED_MESSAGE = "This endpoint has been requested too many times. Try again later."
INTERVAL = 60


class RateLimiter:
    """Counters keyed by (limit name, scope, window)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._counts: dict[tuple[str, tuple[object, ...], int], int] = {}
        self._period = -1

    def hit(
        self, key: str, scope: tuple[object, ...], threshold: int, interval: int = INTERVAL
    ) -> int:
        """Count one call and return the count in the current window (0 when disabled)."""
        if threshold <= 0:
            return 0
        period = int(self._clock.time()) // interval
        if period != self._period:
            self._counts = {k: v for k, v in self._counts.items() if k[2] >= period}
            self._period = period
        slot = (key, scope, period)
        self._counts[slot] = self._counts.get(slot, 0) + 1
        return self._counts[slot]

    def throttled(self, key: str, scope: tuple[object, ...], threshold: int) -> bool:
        return threshold > 0 and self.hit(key, scope, threshold) > threshold

    def reset(self) -> None:
        self._counts.clear()

    def snapshot(self) -> list[dict[str, object]]:
        return [
            {"key": k[0], "scope": [str(s) for s in k[1]], "window": k[2], "count": v}
            for k, v in sorted(self._counts.items(), key=lambda item: repr(item[0]))
        ]


def application_throttled(*, retry_after: bool) -> web.Response:
    """The 429 of ``check_rate_limit!``: JSON message object, ``Retry-After`` = the interval."""
    headers = {"Retry-After": str(INTERVAL)} if retry_after else {}
    body = json.dumps({"message": {"error": THROTTLED_MESSAGE}}).encode()
    return web.Response(status=429, body=body, content_type="application/json", headers=headers)


def rack_attack_throttled(
    *, name: str, limit: int, period: int, observed: int, now: float
) -> web.Response:
    """Rack::Attack's 429: plain text and GitLab's ``RateLimit-*`` headers."""
    epoch = int(now)
    retry_after = period - (epoch % period)
    reset = epoch + retry_after
    headers = {
        "RateLimit-Name": name,
        "RateLimit-Limit": str(-(-limit * 60 // period)),
        "RateLimit-Observed": str(observed),
        "RateLimit-Remaining": str(max(limit - observed, 0)),
        "RateLimit-Reset": str(reset),
        "RateLimit-ResetTime": formatdate(reset, usegmt=True),
        "Retry-After": str(retry_after),
    }
    return web.Response(
        status=429, text="Retry later\n", content_type="text/plain", headers=headers
    )
