"""Waking object loops early, and the protocols through which kopf reaches the controller
(controller layer).

A loop sleeps until its plan's requeue time; a change to the object, to a ProjectExport an
import waits for, or to a child of a GroupMigration, wakes it sooner. No kopf imports:
handlers adapt kopf's objects to these protocols.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Mapping
from typing import Any, Protocol

from gitlab_ferry.reconcile.migrations import ChildRecord


class StopFlag(Protocol):
    """kopf's ``stopped``: true once the loop must end; ``wait`` returns early on stop."""

    def __bool__(self) -> bool: ...

    def wait(self, timeout: float | None = ...) -> Awaitable[object]: ...


class EventSink(Protocol):
    """Posts a Kubernetes Event about an object."""

    def __call__(self, body: Mapping[str, Any], kind: str, reason: str, message: str) -> None: ...


class Wakeups:
    """Per-object wake-up events, keyed by object uid."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}

    def listen(self, uid: str) -> None:
        """Keep wake-ups for ``uid``'s loop from now on (one that comes during its first pass
        is not lost)."""
        self._events.setdefault(uid, asyncio.Event())

    def wake(self, uid: str) -> None:
        event = self._events.get(uid)
        if event is not None:
            event.set()

    def wake_later(self, uid: str, real_seconds: float) -> None:
        """Wake ``uid``'s loop after ``real_seconds`` (at once if not positive)."""
        if real_seconds <= 0:
            self.wake(uid)
        else:
            asyncio.get_running_loop().call_later(real_seconds, self.wake, uid)

    def forget(self, uid: str) -> None:
        self._events.pop(uid, None)

    async def sleep(self, uid: str, real_seconds: float | None, stopped: StopFlag) -> bool:
        """Sleep ``real_seconds`` (forever if ``None``), or until woken or stopped; whether
        it was woken."""
        event = self._events.setdefault(uid, asyncio.Event())
        if event.is_set() or stopped:
            event.clear()
            return not stopped
        waiters = {
            asyncio.ensure_future(event.wait()),
            asyncio.ensure_future(stopped.wait(real_seconds)),
        }
        try:
            await asyncio.wait(waiters, timeout=real_seconds, return_when=asyncio.FIRST_COMPLETED)
            return event.is_set()
        finally:
            for waiter in waiters:
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await waiter
            event.clear()


class ChildChanges:
    """The last record of each GroupMigration child seen, so that a migration is woken when
    one of its children moves on, not on every write of their status."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str, str], ChildRecord] = {}

    def changed(self, namespace: str, record: ChildRecord, *, gone: bool = False) -> bool:
        """Whether ``record`` differs from the last one seen of that child."""
        key = (record.kind, namespace, record.name)
        if gone:
            return self._seen.pop(key, None) is not None
        if self._seen.get(key) == record:
            return False
        self._seen[key] = record
        return True


class Dependents:
    """Which ProjectImports wait for which ProjectExport, and whether they still need its
    current archive; in memory, rebuilt by the imports' own passes after a restart."""

    def __init__(self) -> None:
        self._by_export: dict[tuple[str, str], dict[str, bool]] = {}

    def note(self, namespace: str, export: str, import_uid: str, needs_archive: bool) -> None:
        self._by_export.setdefault((namespace, export), {})[import_uid] = needs_archive

    def drop(self, import_uid: str) -> None:
        for waiting in self._by_export.values():
            waiting.pop(import_uid, None)

    def waiting(self, namespace: str, export: str) -> int:
        return sum(self._by_export.get((namespace, export), {}).values())

    def importers(self, namespace: str, export: str) -> list[str]:
        return list(self._by_export.get((namespace, export), {}))
