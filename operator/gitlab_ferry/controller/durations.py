"""How long exports and imports take per GitLab host, learned as they finish, and which
object scouts for a host (controller layer).

In memory: a restarted operator learns again. Work started together (a batch of pairs, a
GroupMigration's fan-out) usually takes about as long everywhere, so while a host's duration
is unknown one object in flight looks often (the scout) and the others look late; when the
scout's work finishes, each follower is woken when its own work is as old as the scout's was
when seen finished. A batch is then seen finished about a second late at the cost of one
object's frequent looks, instead of everyone's back-off looks at 5, 10 and 20 s. A scout
that leaves before a finding (its pass started no work, or its work failed) hands the role to
the follower whose work began first, so that no batch is left without one. Work counts from
when GitLab answered its request, not from the start the status records before it. Once a
duration is learned, the scout alone looks early (so the estimate can shrink), and the
followers look when their work is likely done: one look each when it is.

What is learned: a finish seen after a look that saw the work still running lies between the
two (the middle is learned); a finish seen at the first look is only known to be earlier, so
it is learned only where it is below the estimate (followers, who look at the estimate, would
otherwise hold it wherever it stands).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gitlab_ferry.reconcile.timing import Pace

#: A scout that has not looked for this long (seconds) is replaced by the next object asking.
SCOUT_STALE = 120.0


@dataclass(frozen=True)
class Wake:
    """A follower to wake ``after`` seconds (clock time; zero or less: now)."""

    uid: str
    after: float


class Durations:
    """Learned durations (moving average) and scouting, keyed by GitLab host and kind."""

    def __init__(self, weight: float = 0.3) -> None:
        self._weight = weight
        self._typical: dict[tuple[str, str], float] = {}
        self._scouts: dict[tuple[str, str], tuple[str, datetime]] = {}
        self._followers: dict[tuple[str, str], dict[str, datetime]] = {}

    def expected(self, host: str, kind: str) -> float | None:
        return self._typical.get((host, kind))

    def pace(self, host: str, kind: str, uid: str, now: datetime) -> Pace:
        """How object ``uid`` should time its looks at its work on ``host``. The first object
        to ask becomes the scout, at once (objects planned together must not all scout),
        until its work ends (``untrack``), a finish is learned, or it stops asking."""
        key = (host, kind)
        scout = self._scouts.get(key)
        if scout is None or scout[0] == uid or (now - scout[1]).total_seconds() > SCOUT_STALE:
            self._scouts[key] = (uid, now)
            self._followers.get(key, {}).pop(uid, None)
            return Pace.SCOUT
        return Pace.FOLLOW

    def track(self, host: str, kind: str, uid: str, started: datetime, pace: Pace) -> list[Wake]:
        """Note that ``uid``'s work (begun at ``started``) is in flight after a pass planned
        with ``pace``: while nothing is learned, a follower waits to be woken by the scout's
        finding. A follower left with no scout (the one it saw has since left) is returned,
        to be woken now and scout."""
        key = (host, kind)
        if pace is not Pace.FOLLOW or key in self._typical:
            return []
        self._followers.setdefault(key, {})[uid] = started
        return [] if key in self._scouts else [Wake(uid, 0.0)]

    def untrack(self, uid: str) -> list[Wake]:
        """``uid`` has no work in flight any more (finished, failed, throttled or gone).

        A scout leaving before anything is learned hands its role on: the follower whose work
        began first is returned, to be woken now, so that it asks again and scouts (else it
        would sleep until its late first look)."""
        handed_on: list[Wake] = []
        for key, (scout, _) in list(self._scouts.items()):
            if scout == uid:
                del self._scouts[key]
                # A scout is never among the followers: asking made it leave them.
                followers = self._followers.get(key, {})
                if followers and key not in self._typical:
                    heir = min(followers, key=followers.__getitem__)
                    handed_on.append(Wake(heir, 0.0))
        for followers in self._followers.values():
            followers.pop(uid, None)
        return handed_on

    def record(
        self,
        host: str,
        kind: str,
        seconds: float,
        running_until: float | None = None,
        now: datetime | None = None,
    ) -> list[Wake]:
        """Learn from work seen finished ``seconds`` after it began. ``running_until`` is when
        it was last seen still running, if a look saw that: it finished in between, so the
        middle is learned. Otherwise it finished at most ``seconds`` after it began, which
        says something only where that is below the estimate.

        Returns the followers on that host to wake, each when its work is ``seconds`` old
        (``now`` is when the finish was seen)."""
        key = (host, kind)
        followers = self._followers.pop(key, {})
        self._scouts.pop(key, None)
        previous = self._typical.get(key)
        learned: float | None = seconds
        if running_until is not None and 0 <= running_until < seconds:
            learned = (running_until + seconds) / 2
        elif previous is not None and seconds >= previous:
            learned = None
        if learned is not None:
            self._typical[key] = (
                learned if previous is None else previous + self._weight * (learned - previous)
            )
        if now is None:
            return []
        return [
            Wake(uid, seconds - (now - started).total_seconds())
            for uid, started in followers.items()
        ]
