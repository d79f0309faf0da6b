"""The simulated GitLab's clocks: the time its rate-limit windows, job durations, expiries and
retention are measured in.

Part of the simulator layer, and a leaf (standard library only). The simulator keeps clocks of
its own rather than the operator's (``gitlab_ferry.clock``) because it is an independent
witness and imports nothing of ``gitlab_ferry``. Scaled time is an agreement between
processes, not shared code: an accelerated simulator and an accelerated operator given the same
speed and anchor must read the same time, so both compute ``anchor + (now - anchor) * speed``;
``tests/simulator/test_sim_clock.py`` holds the two together. It must not import anything else
of the package.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol


class Clock(Protocol):
    """The simulator's "now", and how long a stretch of it lasts in real time."""

    def time(self) -> float:
        """Epoch seconds on this clock."""
        ...

    def real_seconds(self, seconds: float) -> float:
        """Real seconds that pass while this clock advances ``seconds`` (0: it never does by
        itself, so the job engine has nothing to wait for)."""
        ...


class SystemClock:
    """GitLab's own time: the machine's."""

    def time(self) -> float:
        return time.time()

    def real_seconds(self, seconds: float) -> float:
        return seconds


@dataclass(frozen=True)
class ScaledClock:
    """Machine time run ``speed`` times faster from ``anchor`` (epoch seconds), so tests cross
    GitLab's minute windows and hour-long timeouts in seconds."""

    speed: float
    anchor: float

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError("clock speed must be positive")

    def time(self) -> float:
        return self.anchor + self.speed * (time.time() - self.anchor)

    def real_seconds(self, seconds: float) -> float:
        return seconds / self.speed


@dataclass
class ManualClock:
    """Time that stands still until a test (or ``POST /-/sim/clock/advance``) moves it."""

    now: float = 1_700_000_000.0

    def time(self) -> float:
        return self.now

    def real_seconds(self, seconds: float) -> float:
        return 0.0

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def set(self, epoch_seconds: float) -> None:
        self.now = epoch_seconds


def clock_for(speed: float, anchor: float | None) -> Clock:
    """The machine's clock at speed 1; otherwise a scaled one (anchored now unless told)."""
    if speed == 1:
        return SystemClock()
    return ScaledClock(speed, time.time() if anchor is None else anchor)
