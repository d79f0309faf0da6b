"""The object loop (``Reconciler.run``): passes until stopped, woken early by changes, and
spaced when wake-ups come faster than a kind allows, never later than its plan asked."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from component_harness import NAMESPACE, Stop, export_object, posts, ready_of, run_jobs

from gitlab_ferry.api.project_export import PLURAL as EXPORTS
from gitlab_ferry.clock import SystemClock
from gitlab_ferry.controller.exports import ExportReconciler
from gitlab_ferry.controller.reconciler import Memory, Reconciler

PROJECT = "gitlab-org/gitlab-test"


async def test_the_object_loop_runs_passes_until_stopped(gitlabs, operator_for):
    gitlab = await gitlabs()
    operator = operator_for(gitlab)
    body = operator.kube.put(EXPORTS, export_object("e", gitlab, PROJECT))
    stop = Stop()
    loop = asyncio.create_task(ExportReconciler(operator.runtime).run(body, stop))
    for _ in range(50):
        await asyncio.sleep(0.01)
        if posts(gitlab, "export"):
            break
    assert len(posts(gitlab, "export")) == 1
    await run_jobs(gitlab)
    operator.runtime.wakeups.wake(body["metadata"]["uid"])
    for _ in range(50):
        await asyncio.sleep(0.01)
        if ready_of(operator.kube, EXPORTS, "e")[:2] == ("True", "Finished"):
            break
    assert ready_of(operator.kube, EXPORTS, "e")[:2] == ("True", "Finished")
    stop.set()
    await asyncio.wait_for(loop, 5)


class Restless(Reconciler):
    """Each pass wakes its own loop at once (as the children a migration creates do) and
    asks for the next pass after ``requeue`` seconds; stops after ``passes`` passes."""

    kind = "Restless"
    min_interval = 1.0

    def __init__(self, runtime: Any, requeue: float | None, passes: int, stop: Stop) -> None:
        super().__init__(runtime)
        self.requeue, self.passes, self.stop = requeue, passes, stop
        self.times: list[float] = []

    async def reconcile(self, body: Mapping[str, Any], memory: Memory) -> float | None:
        self.times.append(time.monotonic())
        self.runtime.wakeups.wake(memory.uid)
        if len(self.times) == self.passes:
            self.stop.set()
        return self.requeue


async def _gaps(runtime: Any, requeue: float | None) -> list[float]:
    stop = Stop()
    loop = Restless(replace(runtime, clock=SystemClock()), requeue, 3, stop)
    body = {"metadata": {"namespace": NAMESPACE, "name": "r", "uid": "uid-r"}}
    await asyncio.wait_for(loop.run(body, stop), 10)
    return [later - earlier for earlier, later in zip(loop.times, loop.times[1:], strict=False)]


async def test_wake_ups_are_spaced_but_never_past_the_time_the_plan_asked_for(
    gitlabs, operator_for
):
    runtime = operator_for(await gitlabs()).runtime
    # Woken at once after every pass: held back to the kind's interval (1 s)...
    assert all(0.95 <= gap < 1.5 for gap in await _gaps(runtime, None))
    # ...but a plan that asked for its next pass sooner (more children to create) gets it.
    assert all(0.05 <= gap < 0.5 for gap in await _gaps(runtime, 0.1))
