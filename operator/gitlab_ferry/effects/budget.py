"""The shared rate-limit budget: GitLab's per-user limits, spent before GitLab sees a request
(effects layer).

GitLab counts requests per user in fixed one-minute windows aligned to the Unix epoch, and
every request counts, throttled or not. So the operator books each request into the earliest
window with room, for every (GitLab host, token identity) and bucket, shared by all objects.
A booking in a later window tells its object exactly when to come back, in the order objects
asked, so waiting objects neither starve nor stampede. Nothing here performs I/O.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from gitlab_ferry.clock import Clock


class Bucket(StrEnum):
    """GitLab's per-user counters that the import/export APIs spend."""

    EXPORT = "export"
    IMPORT = "import"
    DOWNLOAD = "download"
    GROUP_EXPORT = "group_export"
    GROUP_IMPORT = "group_import"
    GROUP_DOWNLOAD = "group_download"


@dataclass(frozen=True)
class Claim:
    """One request to spend: whose budget (host and token identity), which bucket, and the
    bucket's scope when GitLab counts it per namespace or project (downloads)."""

    host: str
    identity: str
    bucket: Bucket
    limit: int
    scope: str = ""

    @property
    def key(self) -> tuple[str, str, Bucket, str]:
        return (self.host, self.identity, self.bucket, self.scope)

    @property
    def route(self) -> tuple[str, Bucket]:
        """Where the request goes and what it spends, whatever its scope."""
        return (self.host, self.bucket)

    def describe(self) -> str:
        where = f" ({self.scope})" if self.scope else ""
        return f"the {self.bucket.value} limit of {self.limit}/min on {self.host}{where}"


@dataclass(frozen=True)
class Booking:
    """Claims booked into the window that opens at ``at`` (epoch seconds)."""

    at: float
    claims: tuple[Claim, ...]


class RateLimitBudget:
    """Bookings of requests into GitLab's fixed windows.

    ``margin`` keeps requests away from window edges, so a clock skew of up to ``margin``
    seconds between the operator and GitLab cannot land two windows' worth of requests in one
    of GitLab's windows.

    A request also takes time to reach GitLab after its booking is checked: a streamed import
    downloads its archive and uploads it before GitLab counts it. The longest but one of the
    last ``TRANSITS_KEPT`` transits noted for the same routes (about their 90th percentile) is
    the booking's lead: a request is booked into a window only while it can still arrive inside
    it. Not the longest: one outlier (the whole process paused) would push every late booking
    out of its window, and each pushed request takes a slot of the next one.
    """

    TRANSITS_KEPT = 20

    def __init__(self, clock: Clock, *, window: float = 60.0, margin: float = 1.0) -> None:
        if margin * 2 >= window:
            raise ValueError("the margin must be well inside the window")
        self._clock = clock
        self._window = window
        self._margin = margin
        self._counts: dict[tuple[tuple[str, str, Bucket, str], int], int] = defaultdict(int)
        self._blocked_until: dict[tuple[str, str, Bucket, str], float] = {}
        self._held_until = 0.0
        self._oldest = 0
        self._transits: dict[tuple[tuple[str, Bucket], ...], deque[float]] = {}

    def _index(self, moment: float) -> int:
        return math.floor(moment / self._window)

    def _opens(self, index: int) -> float:
        return index * self._window + self._margin

    def _first_usable(self, moment: float) -> int:
        """The first window whose usable part (inside the margins) is not over at ``moment``."""
        index = self._index(moment)
        if moment - index * self._window > self._window - self._margin:
            return index + 1
        return index

    def book(self, claims: Sequence[Claim]) -> Booking:
        """Book one request for every claim into the earliest window where all have room."""
        now = self._clock.time()
        self._forget_before(self._index(now))
        limited = [claim for claim in claims if claim.limit > 0]
        # A held window matters only where GitLab counts (a limit of 0 is no limit).
        starts = [now, self._held_until if limited else now] + [
            until for claim in claims if (until := self._blocked_until.get(claim.key, 0)) > now
        ]
        index = self._first_usable(max(starts) + self.lead(claims))
        while any(self._counts[(claim.key, index)] >= claim.limit for claim in limited):
            index += 1
        for claim in limited:
            self._counts[(claim.key, index)] += 1
        return Booking(at=max(self._opens(index), max(starts)), claims=tuple(claims))

    def wait(self, booking: Booking) -> float:
        """Seconds until ``booking`` may be used (0 when now)."""
        return max(0.0, booking.at - self._clock.time())

    def lapsed(self, booking: Booking) -> bool:
        """Whether the usable part of ``booking``'s window is over: a request sent now would
        be counted in a later window than the one it was booked into."""
        arrival = self._clock.time() + self.lead(booking.claims)
        return self._first_usable(arrival) > self._index(booking.at)

    def note_transit(self, claims: Sequence[Claim], seconds: float) -> None:
        """A request for ``claims``, checked against its booking, was answered ``seconds``
        later: GitLab counted it at most that long after the check."""
        kept = self._transits.setdefault(_routes(claims), deque(maxlen=self.TRANSITS_KEPT))
        kept.append(max(0.0, seconds))

    def lead(self, claims: Sequence[Claim]) -> float:
        """How long before its window's usable part ends a request for ``claims`` must be
        sent: the longest but one of the recent transits of such requests (the only one if
        there is one), at most half a window (a request slower than that cannot be kept inside
        any window by booking). None where GitLab counts nothing (a limit of 0)."""
        kept = sorted(self._transits.get(_routes(claims), ()))
        if not kept or all(claim.limit <= 0 for claim in claims):
            return 0.0
        return min(kept[-2] if len(kept) > 1 else kept[-1], self._window / 2)

    def cancel(self, booking: Booking) -> None:
        """Give back a booking that will not be used (e.g. the plan changed)."""
        index = self._index(booking.at)
        for claim in booking.claims:
            if claim.limit > 0 and self._counts.get((claim.key, index), 0) > 0:
                self._counts[(claim.key, index)] -= 1

    def penalize(self, claim: Claim, retry_after: float | None) -> float:
        """GitLab answered 429 despite the budget: hold the bucket for ``retry_after`` seconds,
        or until the next window when GitLab did not say. Returns the wait."""
        now = self._clock.time()
        if retry_after is None:
            retry_after = self._opens(self._index(now) + 1) - now
        self._blocked_until[claim.key] = now + retry_after
        return retry_after

    def in_current_window(self, moment: float) -> bool:
        """Whether a request recorded at ``moment`` may count in GitLab's current window. The
        margin allows for a clock skew between the operator and GitLab, and a moment up to a
        window ahead for one between two operator hosts; a moment further ahead was not
        measured by a clock like this one."""
        now = self._clock.time()
        start = self._index(now) * self._window - self._margin
        return start <= moment <= now + self._window

    def hold_current_window(self) -> float:
        """Book nothing more into the window under way (requests this process does not know
        of may have spent it); returns when the next one opens."""
        self._held_until = self._opens(self._index(self._clock.time()) + 1)
        return self._held_until

    def used(self, claim: Claim) -> int:
        """Requests booked for ``claim``'s bucket in the current window."""
        return self._counts.get((claim.key, self._index(self._clock.time())), 0)

    def _forget_before(self, index: int) -> None:
        if index <= self._oldest:
            return
        self._oldest = index
        for key in [key for key in self._counts if key[1] < index]:
            del self._counts[key]


def _routes(claims: Sequence[Claim]) -> tuple[tuple[str, Bucket], ...]:
    return tuple(sorted({claim.route for claim in claims}))
