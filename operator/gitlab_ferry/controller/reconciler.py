"""What every object loop shares: the loop itself, the recorded status, budgeted apply with
the write-ahead record, requeue timing and error containment (controller layer).

A kind (exports, imports) supplies one ``reconcile`` pass; this module runs it until the
object goes away, sleeping as the plan says. Nothing here knows kopf.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gitlab_ferry.api import ReconciledStatus
from gitlab_ferry.clock import utcnow
from gitlab_ferry.controller.durations import Wake
from gitlab_ferry.controller.reporting import report
from gitlab_ferry.controller.runtime import Runtime
from gitlab_ferry.controller.wakeups import StopFlag
from gitlab_ferry.effects.budget import Booking, Claim
from gitlab_ferry.effects.kube import ObjectRef
from gitlab_ferry.effects.problems import problem_from
from gitlab_ferry.reconcile.conditions import recorded_verdict
from gitlab_ferry.reconcile.plan import Failed, Outcome, Plan, Problem, Reason, Throttled
from gitlab_ferry.reconcile.timing import Pace
from gitlab_ferry.redact import redact_text

logger = logging.getLogger("gitlab_ferry.controller")


@dataclass
class Memory:
    """What a loop remembers between passes over one object."""

    uid: str
    #: The status as last written by this loop; the watched body can lag behind it.
    status: dict[str, Any] | None = None
    failures: int = 0
    booking: Booking | None = None
    booking_plan: str | None = None
    #: When a status read last showed this object's work still running on GitLab: a lower
    #: bound of its duration, learned from when its finish is seen.
    running_at: datetime | None = None
    #: When GitLab answered this loop's last request. The recorded start is written before
    #: the request, and a streamed import downloads its archive in between, so the work on
    #: GitLab begins up to seconds later than the status says.
    answered_at: datetime | None = None


def work_began(memory: Memory | None, started: datetime | None) -> datetime | None:
    """When the work recorded as started at ``started`` began on GitLab: when its request was
    answered, if this loop sent it, else the recorded start."""
    answered = memory.answered_at if memory is not None else None
    if started is None or answered is None or answered < started:
        return started
    return answered


def identity(body: Mapping[str, Any]) -> tuple[str, str, str, int | None]:
    metadata = body.get("metadata") or {}
    return (
        str(metadata.get("namespace", "")),
        str(metadata.get("name", "")),
        str(metadata.get("uid", "")),
        metadata.get("generation"),
    )


def annotation(body: Mapping[str, Any], key: str) -> str | None:
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(key)
    return str(value) if value is not None else None


class Reconciler:
    """Base of the per-kind reconcilers."""

    kind = ""
    plural = ""
    #: The least time (real seconds) between a pass and the next when wake-ups come sooner;
    #: never later than the time the pass's plan asked for.
    min_interval = 0.0

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def reconcile(self, body: Mapping[str, Any], memory: Memory) -> float | None:
        """One pass; returns the seconds (clock time) until the next one, or ``None``."""
        raise NotImplementedError

    async def forget(self, body: Mapping[str, Any], memory: Memory) -> None:
        """Called when the loop ends (the object is deleted or the operator stops)."""

    async def run(self, body: Mapping[str, Any], stopped: StopFlag) -> None:
        """Reconcile ``body`` (kept current by the caller) until ``stopped``."""
        namespace, name, uid, _ = identity(body)
        memory = Memory(uid=uid)
        clock = self.runtime.clock
        self.runtime.wakeups.listen(uid)
        try:
            while not stopped:
                try:
                    delay = await self.reconcile(body, memory)
                except Exception as exc:  # noqa: BLE001 - a loop must survive any pass
                    memory.failures += 1
                    delay = self.backoff(memory.failures)
                    logger.error(
                        "%s %s/%s: reconcile pass failed (%s); retrying in %.0fs",
                        self.kind,
                        namespace,
                        name,
                        redact_text(f"{type(exc).__name__}: {exc}"),
                        delay,
                    )
                    self.runtime.metrics.reconcile_errors.labels(self.kind, "Exception").inc()
                real = None if delay is None else clock.real_seconds(delay)
                passed = time.monotonic()
                if await self.runtime.wakeups.sleep(uid, real, stopped):
                    least = self.min_interval if real is None else min(self.min_interval, real)
                    spacing = least - (time.monotonic() - passed)
                    if spacing > 0 and not stopped:
                        await stopped.wait(spacing)
        finally:
            self.runtime.wakeups.forget(uid)
            self.wake(self.runtime.durations.untrack(uid))
            if memory.booking is not None:
                self.runtime.services.budget.cancel(memory.booking)
            await self.forget(body, memory)

    # -- learned durations ---------------------------------------------------------------------

    def expected(self, host: str, memory: Memory | None, started: datetime | None) -> float | None:
        """Seconds after ``started`` (the recorded start) this object's work should end: the
        duration learned for ``host``, plus the time its request took to be answered."""
        learned = self.runtime.durations.expected(host, self.kind)
        began = work_began(memory, started)
        if learned is None or began is None or started is None:
            return learned
        return learned + (began - started).total_seconds()

    def pace(self, host: str, uid: str, now: datetime) -> Pace:
        """How ``uid`` times its looks at its work on ``host`` (see ``Durations``; asking
        may make it the host's scout, until ``track_work`` says its work is over)."""
        return self.runtime.durations.pace(host, self.kind, uid, now)

    def track_work(
        self,
        host: str | None,
        uid: str,
        started: datetime | None,
        in_flight: bool,
        pace: Pace,
    ) -> None:
        """After a pass: note ``uid``'s work on ``host`` as in flight, or as over."""
        durations = self.runtime.durations
        if in_flight and host is not None and started is not None:
            self.wake(durations.track(host, self.kind, uid, started, pace))
        else:
            self.wake(durations.untrack(uid))

    def learn(
        self, host: str, memory: Memory, started: datetime, finished: datetime, now: datetime
    ) -> None:
        """Learn how long a run recorded as started at ``started`` and seen finished at
        ``finished`` took on ``host`` (counted from when GitLab got its request), and wake
        the objects that were waiting for that finding."""
        runtime = self.runtime
        began = work_began(memory, started) or started
        seconds = (finished - began).total_seconds()
        running = memory.running_at
        ran = (running - began).total_seconds() if running and running >= began else None
        self.wake(runtime.durations.record(host, self.kind, seconds, ran, now))

    def wake(self, wakes: list[Wake]) -> None:
        """Wake each loop ``wakes`` names when it says."""
        runtime = self.runtime
        for wake in wakes:
            runtime.wakeups.wake_later(wake.uid, runtime.clock.real_seconds(wake.after))

    # -- status -------------------------------------------------------------------------------

    def ref(self, body: Mapping[str, Any]) -> ObjectRef:
        namespace, name, _, _ = identity(body)
        return ObjectRef(self.plural, namespace, name)

    @staticmethod
    def recorded(body: Mapping[str, Any], memory: Memory) -> dict[str, Any]:
        if memory.status is not None:
            return memory.status
        return dict(body.get("status") or {})

    async def write(
        self, body: Mapping[str, Any], memory: Memory, status: ReconciledStatus
    ) -> None:
        old = self.recorded(body, memory)
        memory.status = await self.runtime.writer.write(self.ref(body), old, status)

    async def report_invalid(
        self,
        body: Mapping[str, Any],
        memory: Memory,
        recorded: ReconciledStatus,
        plan: Plan,
        now: datetime,
        gitlab_status: str | None,
    ) -> None:
        """Record that the spec cannot be acted on (``plan`` says why)."""
        before = self.recorded(body, memory)
        status = recorded_verdict(recorded, plan, None, identity(body)[3], now)
        await self.write(body, memory, status)
        report(
            self.runtime, self.kind, body, before, self.recorded(body, memory), plan, gitlab_status
        )

    # -- applying -----------------------------------------------------------------------------

    async def apply_budgeted(
        self,
        body: Mapping[str, Any],
        memory: Memory,
        plan: Plan,
        claims: Callable[[], Awaitable[list[Claim]]],
        begin: Callable[[], ReconciledStatus],
        apply: Callable[[], Awaitable[Outcome]],
    ) -> tuple[Outcome, ReconciledStatus | None]:
        """Spend the budget, record the plan as applying, then apply it.

        Returns the outcome and the status written before applying (``None`` if the plan was
        not applied)."""
        budget = self.runtime.services.budget
        await self.runtime.resume_budget()
        booking = memory.booking if memory.booking_plan == plan.id else None
        if booking is None:
            if memory.booking is not None:
                budget.cancel(memory.booking)
            try:
                booking = budget.book(await claims())
            except Exception as exc:  # noqa: BLE001 - e.g. the source's Secret is missing
                return Failed(problem_from(exc)), None
        wait = budget.wait(booking)
        if wait > 0:
            memory.booking, memory.booking_plan = booking, plan.id
            bucket = booking.claims[0].bucket.value if booking.claims else "request"
            self.runtime.metrics.throttle_waits.labels(bucket).inc()
            self.runtime.metrics.throttle_wait_seconds.labels(bucket).inc(wait)
            return Throttled(wait, _describe(booking.claims)), None
        memory.booking = memory.booking_plan = None
        begun = begin()
        await self.write(body, memory, begun)
        if budget.lapsed(booking):
            # The status write took the request past its window (a busy API server): sent now,
            # it would land in a later window on top of that window's own bookings.
            booking = budget.book(booking.claims)
            wait = budget.wait(booking)
            if wait > 0:
                memory.booking, memory.booking_plan = booking, plan.id
                return Throttled(wait, _describe(booking.claims)), None
        sent = self.runtime.clock.time()
        outcome = await apply()
        if not isinstance(outcome, Failed):
            budget.note_transit(booking.claims, self.runtime.clock.time() - sent)
            memory.answered_at = utcnow(self.runtime.clock)
            return outcome, begun
        if outcome.problem.reason is Reason.THROTTLED:
            waits = [
                budget.penalize(claim, outcome.problem.retry_after) for claim in booking.claims
            ]
            return Throttled(max(waits, default=60.0), _describe(booking.claims), True), None
        if not outcome.sent or not outcome.problem.transient:
            # GitLab never got the request, or refused it: nothing started there.
            return outcome, None
        return outcome, begun

    # -- timing -------------------------------------------------------------------------------

    def backoff(self, failures: int) -> float:
        """Exponential back-off with jitter after consecutive transient failures."""
        base = min(self.runtime.settings.backoff_max, 2.0 ** min(failures, 10))
        return base * random.uniform(0.5, 1.0)

    def requeue(
        self, plan: Plan, outcome: Outcome | None, problem: Problem | None, memory: Memory
    ) -> float | None:
        """When to look again after a pass."""
        trouble = problem or (outcome.problem if isinstance(outcome, Failed) else None)
        if isinstance(outcome, Throttled):
            memory.failures = 0
            # Land just after the booked slot opens; never before it.
            return outcome.seconds + random.uniform(0.0, 0.25)
        if trouble is None:
            memory.failures = 0
            return plan.requeue_after
        if trouble.retry_after is not None:
            return trouble.retry_after
        if trouble.transient:
            memory.failures += 1
            return self.backoff(memory.failures)
        return self.runtime.settings.recheck_interval


def _describe(claims: tuple[Claim, ...]) -> str:
    return " and ".join(claim.describe() for claim in claims) or "the rate limit"
