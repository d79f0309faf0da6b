"""Status writes: only when something changed, never cut short, drained on shutdown
(controller layer).

A status write records what the operator observed and decided; losing one after a GitLab
call could repeat that call. So writes are shielded from cancellation and the operator's
shutdown waits for those still in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from pydantic import BaseModel

from gitlab_ferry.effects.kube import Kube, ObjectRef


def status_dict(status: BaseModel) -> dict[str, Any]:
    """A status model as Kubernetes stores it."""
    return status.model_dump(by_alias=True, exclude_none=True, mode="json")


class StatusWriter:
    def __init__(self, kube: Kube) -> None:
        self._kube = kube
        self._in_flight: set[asyncio.Task[bool]] = set()

    async def write(
        self, ref: ObjectRef, old: dict[str, Any] | None, new: BaseModel
    ) -> dict[str, Any]:
        """Write ``new`` over ``old``; returns what is now stored (``old`` if unchanged)."""
        stored = status_dict(new)
        if stored == (old or {}):
            return stored
        task = asyncio.ensure_future(self._kube.write_status(ref, stored))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        await asyncio.shield(task)
        return stored

    async def drain(self, seconds: float) -> None:
        """Wait up to ``seconds`` for writes in flight (on shutdown)."""
        if self._in_flight:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await asyncio.gather(*self._in_flight, return_exceptions=True)
