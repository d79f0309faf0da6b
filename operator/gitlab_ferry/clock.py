"""Clocks: the operator's one source of "now".

A leaf module (standard library only). Wall-clock time is what GitLab's rate-limit windows and
the status timestamps are measured in, so every component takes a ``Clock`` instead of calling
``time`` directly. ``ScaledClock`` runs faster than real time from a shared anchor, so an
operator and a simulated GitLab in different processes agree on the accelerated time and tests
can cross GitLab's minute windows and hour-long timeouts in seconds; the simulator keeps its own
clocks (``gitlab_ferry_testbed.simulator.clock``) on the same formula. It must not import
anything from the rest of the package.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Wall-clock time and sleeping, both in the clock's own seconds."""

    def time(self) -> float:
        """Seconds since the Unix epoch."""
        ...

    def real_seconds(self, seconds: float) -> float:
        """How many real seconds pass while this clock advances ``seconds``."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait until this clock has advanced ``seconds``."""
        ...


def utcnow(clock: Clock) -> datetime:
    """The clock's current time as an aware UTC datetime."""
    return datetime.fromtimestamp(clock.time(), tz=UTC)


class SystemClock:
    """Real time."""

    def time(self) -> float:
        return time.time()

    def real_seconds(self, seconds: float) -> float:
        return seconds

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ScaledClock:
    """Time that runs ``speed`` times faster than real time from ``anchor`` (epoch seconds).

    Two processes given the same anchor and speed read the same time, which is what lets an
    accelerated operator and an accelerated simulator share GitLab's minute windows.
    """

    def __init__(self, speed: float, anchor: float | None = None) -> None:
        if speed <= 0:
            raise ValueError("clock speed must be positive")
        self.speed = speed
        self.anchor = time.time() if anchor is None else anchor

    def time(self) -> float:
        return self.anchor + (time.time() - self.anchor) * self.speed

    def real_seconds(self, seconds: float) -> float:
        return seconds / self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, self.real_seconds(seconds)))


class ManualClock:
    """Time that moves only when told to; sleeping advances it. For unit tests."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds

    def set(self, epoch_seconds: float) -> None:
        self._now = epoch_seconds

    def real_seconds(self, seconds: float) -> float:
        return 0.0

    async def sleep(self, seconds: float) -> None:
        self._now += max(0.0, seconds)
        await asyncio.sleep(0)


def clock_from_settings(speed: float, anchor: float | None) -> Clock:
    """The system clock at speed 1, otherwise a scaled clock."""
    return SystemClock() if speed == 1 else ScaledClock(speed, anchor)
