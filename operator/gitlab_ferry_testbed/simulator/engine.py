"""The job engine: moves exports, imports and relation imports along with the clock.

Part of the simulator layer. ``tick`` applies every transition that is due at the clock's current
time (it runs before each API request and from a background task that sleeps until the next due
time, so jobs complete even if nobody polls); ``step`` is the deterministic mode's single move, one
transition per job, awaiting the work a transition needs. Timeouts (6 h exports, 24 h imports),
retention and deletions always follow the clock. This module must not import anything outside
the simulator.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from gitlab_ferry_testbed.simulator import exporting, group_jobs, importing
from gitlab_ferry_testbed.simulator.core import Core
from gitlab_ferry_testbed.simulator.state import Transition

_MIN_SLEEP = 0.02
_MAX_SLEEP = 1.0
_IDLE_SLEEP = 30.0
_HISTORY = 10_000


class Engine:
    def __init__(self, core: Core) -> None:
        self.core = core
        self._tasks: set[asyncio.Task[Any]] = set()
        self._wake = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self.history: list[Transition] = []

    # lifecycle

    def start(self) -> None:
        self._runner = asyncio.create_task(self._run(), name="gitlab-sim-engine")

    async def stop(self) -> None:
        tasks = [t for t in (self._runner, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        self._tasks.clear()

    def wake(self) -> None:
        self._wake.set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled():
                t.exception()  # retrieved here; the job inspects it when it finishes
            self.wake()

        task.add_done_callback(done)
        return task

    async def settle(self, within: float = 60.0) -> list[Transition]:
        """Wait until no background work is in flight, then tick (tests use this)."""
        out: list[Transition] = []
        async with asyncio.timeout(within):
            while True:
                out += self.tick()
                pending = [t for t in self._tasks if not t.done()]
                if not pending:
                    return out
                await asyncio.wait(pending)

    async def _run(self) -> None:
        while True:
            self.tick()
            self._wake.clear()
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
            # cancellation that arrives as the wake-up does, and stop() would wait forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._sleep_for()):
                    await self._wake.wait()

    def _sleep_for(self) -> float:
        """Real seconds until the next due transition; work finishing or a request wakes us."""
        clock = self.core.clock
        due = self._next_due()
        # a clock that does not follow real time (ManualClock) only moves when told to,
        # and whoever moves it ticks the engine, so there is nothing to poll for
        if due is None or clock.real_seconds(1.0) <= 0:
            return _IDLE_SLEEP
        return min(max(clock.real_seconds(due - clock.time()), _MIN_SLEEP), _MAX_SLEEP)

    def _next_due(self) -> float | None:
        timing = self.core.settings.timing
        if timing.step_mode:
            return None
        times: list[float] = []
        for job in self.core.state.export_jobs:
            if job.status == "queued":
                times.append(job.created_at + timing.export_queue_delay)
            elif job.status == "started" and job.started_at is not None:
                times.append(job.started_at + timing.export_duration)
        for project in self.core.state.live_projects():
            job_ = project.import_job
            if job_ is not None and job_.status == "scheduled":
                times.append(job_.scheduled_at + timing.import_queue_delay)
            elif job_ is not None and job_.status == "started" and job_.started_at is not None:
                times.append(job_.started_at + timing.import_duration)
        for tracker in self.core.state.relation_trackers:
            if tracker.status == "created":
                times.append(tracker.created_at + timing.relation_import_queue_delay)
            elif tracker.status == "started":
                times.append(tracker.updated_at + timing.relation_import_duration)
        times += group_jobs.due_times(self.core)
        return min(times) if times else None

    # transitions

    def tick(self) -> list[Transition]:
        core = self.core
        now = core.now()
        out = self._housekeeping(now)
        if not core.settings.timing.step_mode:
            out += self._due(now)
        self._record(out)
        return out

    def _housekeeping(self, now: float) -> list[Transition]:
        core = self.core
        out = exporting.export_housekeeping(core, now)
        out += importing.import_timeouts(core, now)
        out += group_jobs.housekeeping(core, now)
        for project in list(core.state.projects.values()):
            if (
                project.pending_delete
                and project.delete_at is not None
                and project.delete_at <= now
            ):
                for path in core.state.remove_project(project):
                    path.unlink(missing_ok=True)
                out.append(
                    Transition("deletion", project.id, project.id, "pending_delete", "deleted")
                )
        return out

    def _due(self, now: float) -> list[Transition]:
        core, timing, out = self.core, self.core.settings.timing, []
        for job in list(core.state.export_jobs):
            t: Transition | None = None
            if job.status == "queued" and now >= job.created_at + timing.export_queue_delay:
                t = exporting.start_export(core, job, now, self.spawn)
            if job.status == "started" and exporting.export_ready(core, job, now):
                t = exporting.finish_export(core, job, now, self.spawn) or t
                if job.status == "started" and exporting.export_ready(core, job, now):
                    t = exporting.finish_export(core, job, now, self.spawn) or t
            if t is not None:
                out.append(t)
        for project in core.state.live_projects():
            job_ = project.import_job
            if job_ is None:
                continue
            if job_.status == "scheduled" and now >= job_.scheduled_at + timing.import_queue_delay:
                out.append(importing.start_import(core, project, now, self.spawn))
            if job_.status == "started" and importing.import_ready(core, project, now):
                t = importing.finish_import(core, project, now)
                if t is not None:
                    out.append(t)
        for tracker in list(core.state.relation_trackers):
            if tracker.status == "created" and now >= (
                tracker.created_at + timing.relation_import_queue_delay
            ):
                out.append(importing.start_tracker(core, tracker, now, self.spawn))
            if tracker.status == "started" and importing.tracker_ready(core, tracker, now):
                t = importing.finish_tracker(core, tracker, now)
                if t is not None:
                    out.append(t)
        out += group_jobs.advance(core, now, self.spawn)
        return out

    async def step(self) -> list[Transition]:
        """One transition per job, whatever the timings say."""
        core = self.core
        out = self.tick()
        done_by_tick = len(out)
        for job in list(core.state.export_jobs):
            now = core.now()
            if job.status == "queued":
                t = exporting.start_export(core, job, now, self.spawn)
            elif job.status == "started":
                await _quietly(job.build)
                t = exporting.finish_export(core, job, core.now(), self.spawn)
                if t is None and job.push is not None:
                    await _quietly(job.push)
                    t = exporting.finish_export(core, job, core.now(), self.spawn)
            else:
                continue
            if t is not None:
                out.append(t)
        for project in core.state.live_projects():
            job_ = project.import_job
            if job_ is not None and job_.status == "scheduled":
                out.append(importing.start_import(core, project, core.now(), self.spawn))
            elif job_ is not None and job_.status == "started":
                await _quietly(job_.task)
                t = importing.finish_import(core, project, core.now())
                if t is not None:
                    out.append(t)
        for tracker in list(core.state.relation_trackers):
            if tracker.status == "created":
                out.append(importing.start_tracker(core, tracker, core.now(), self.spawn))
            elif tracker.status == "started":
                await _quietly(tracker.task)
                t = importing.finish_tracker(core, tracker, core.now())
                if t is not None:
                    out.append(t)
        out += await group_jobs.step(core, self.spawn)
        self._record(out[done_by_tick:])
        return out

    def _record(self, transitions: list[Transition]) -> None:
        self.history += transitions
        del self.history[:-_HISTORY]


async def _quietly(task: asyncio.Task[Any] | None) -> None:
    if task is not None:
        with contextlib.suppress(BaseException):
            await asyncio.shield(task)
