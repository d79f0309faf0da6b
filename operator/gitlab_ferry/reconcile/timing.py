"""Time arithmetic of the planners: polling cadence, schedules, ages and timestamps
(reconcile layer).

Pure functions of their arguments; the current time is always passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from croniter import croniter

#: How long GitLab keeps a finished export file (its hourly sweep removes files whose upload
#: record is older than 24 h).
EXPORT_RETENTION = timedelta(hours=24)


class Pace(Enum):
    """How an object's looks at its work are timed among the objects working on one GitLab
    host: one object, the scout, looks often (or early) and keeps what is learned of the
    host's durations honest; the others follow, looking only when the work is likely done.
    ``ALONE``: no such company (the looks are timed by the object's own work only)."""

    ALONE = "alone"
    SCOUT = "scout"
    FOLLOW = "follow"


@dataclass(frozen=True)
class Polling:
    """How often to look at work in flight on GitLab.

    GitLab reports no finish times, so durations are learned from when finishes are seen.
    When similar work usually takes ``expected`` seconds, a follower looks at ``follow`` and
    at ``late`` times it (just after the estimate, which the scout's looks keep within about
    a twentieth of the true duration either way, so that one look usually sees the finish); a
    scout (or an object alone) looks at ``early`` times it first,
    which lets the learned duration shrink as well as grow instead of settling on a late look:
    it settles between the true one and the true one over ``early`` (0.9: a finish is seen at
    most about a tenth late). The late look catches work a little slower than usual without
    waiting a whole back-off step; later looks back off geometrically by ``factor`` up to
    ``maximum``, starting at ``initial``.

    With nothing learned yet, the scout looks after ``initial`` seconds and then every
    ``scout_step`` of the time its work has run (at least ``scout_floor`` seconds apart), so
    its finish is seen at most about a tenth late; a follower looks first after
    ``follow_first`` seconds, then backs off, unless woken by what the scout learns.
    """

    initial: float = 5.0
    factor: float = 2.0
    maximum: float = 60.0
    minimum: float = 0.5
    early: float = 0.9
    follow: float = 1.05
    late: float = 1.15
    scout_step: float = 0.1
    scout_floor: float = 1.0
    follow_first: float = 20.0

    def next_delay(
        self, elapsed: float, expected: float | None = None, pace: Pace = Pace.ALONE
    ) -> float:
        """Seconds until the next look at work that has run for ``elapsed`` seconds."""
        if expected is not None:
            firsts = (self.follow,) if pace is Pace.FOLLOW else (self.early, 1.0)
            marks = [share * expected for share in (*firsts, self.late)]
            upcoming = [mark - elapsed for mark in marks if mark > elapsed]
            delay = upcoming[0] if upcoming else self._backoff(elapsed)
        elif pace is Pace.SCOUT:
            delay = (
                self.initial - elapsed
                if elapsed < self.initial
                else max(self.scout_floor, self.scout_step * elapsed)
            )
        elif pace is Pace.FOLLOW:
            delay = max(self._backoff(elapsed), self.follow_first - elapsed)
        else:
            delay = self._backoff(elapsed)
        return max(self.minimum, min(delay, self.maximum))

    def _backoff(self, elapsed: float) -> float:
        return max(self.initial, elapsed * (self.factor - 1.0))


def seconds_between(earlier: datetime | None, later: datetime) -> float:
    return 0.0 if earlier is None else max(0.0, (later - earlier).total_seconds())


def next_scheduled(cron: str, after: datetime) -> datetime:
    """The first time strictly after ``after`` that the five-field cron expression names."""
    next_time: datetime = croniter(cron, after.astimezone(UTC)).get_next(datetime)
    return next_time.astimezone(UTC)


def valid_cron(cron: str) -> bool:
    return len(cron.split()) == 5 and bool(croniter.is_valid(cron))
