"""A restarted operator books nothing into GitLab's current window when its objects record
requests there (controller layer).

The rate-limit budget lives in memory. A process that starts, or a standby that takes over,
does not know what the process before it spent in the window under way, and GitLab counts
every request, so its first requests could be answered 429. Before its first booking the
operator therefore lists its objects once: if any status records a request (or an attempt)
made within the current window, the budget holds that window and requests wait for the next.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from gitlab_ferry.api import PlanPhase, parse_timestamp
from gitlab_ferry.api.group_migration import PLURAL as MIGRATIONS
from gitlab_ferry.api.project_export import PLURAL as EXPORTS
from gitlab_ferry.api.project_import import PLURAL as IMPORTS
from gitlab_ferry.clock import Clock, utcnow
from gitlab_ferry.effects.budget import RateLimitBudget
from gitlab_ferry.effects.kube import Kube
from gitlab_ferry.reconcile.exports import RelayToS3, RequestExport
from gitlab_ferry.reconcile.imports import ImportProject, ImportRelation
from gitlab_ferry.reconcile.migrations import ImportGroupTree, RequestGroupExport
from gitlab_ferry.redact import redact_text

logger = logging.getLogger("gitlab_ferry.controller")

#: Status fields that record when an object last sent GitLab a budgeted request (or later).
REQUEST_TIMES = ("startedAt", "groupExportAt", "groupImportAt")
#: Plans that send GitLab a budgeted request: once applied, their ``since`` follows it.
REQUESTS = frozenset(
    action.__name__
    for action in (
        RequestExport,
        RelayToS3,
        ImportProject,
        ImportRelation,
        RequestGroupExport,
        ImportGroupTree,
    )
)


def last_request(status: Mapping[str, Any], now: datetime) -> datetime | None:
    """The latest moment ``status`` says a request may have been sent: the recorded starts,
    and when a request's plan was applied (just after it was sent). A request still applying
    may be on its way right now; other plans (creating groups or children) spend no budget."""
    plan = status.get("plan") or {}
    requesting = plan.get("action") in REQUESTS
    if requesting and plan.get("phase") == PlanPhase.APPLYING.value:
        return now
    texts = [status.get(field) for field in REQUEST_TIMES]
    if requesting and plan.get("phase") == PlanPhase.APPLIED.value:
        texts.append(plan.get("since"))
    moments = [parse_timestamp(text) for text in texts if isinstance(text, str)]
    return max((moment for moment in moments if moment is not None), default=None)


def latest(objects: Iterable[Mapping[str, Any]], now: datetime) -> datetime | None:
    """The latest request time of ``objects`` not being deleted (those make no more
    requests, and a namespace being deleted would otherwise hold the budget for nothing)."""
    found = [
        last_request(obj.get("status") or {}, now)
        for obj in objects
        if not (obj.get("metadata") or {}).get("deletionTimestamp")
    ]
    return max((moment for moment in found if moment is not None), default=None)


class BudgetResumption:
    """Runs the check once per process, before its first booking."""

    def __init__(self) -> None:
        self._checked = False
        self._lock = asyncio.Lock()

    async def ensure(
        self, kube: Kube, budget: RateLimitBudget, clock: Clock, namespaces: Sequence[str]
    ) -> None:
        if self._checked:
            return
        async with self._lock:
            if self._checked:
                return
            now = utcnow(clock)
            try:
                objects = [
                    obj
                    for plural in (EXPORTS, IMPORTS, MIGRATIONS)
                    for obj in await kube.list_objects(plural, namespaces)
                ]
            except Exception as exc:  # noqa: BLE001 - unknown, so the window is held
                opens = budget.hold_current_window()
                logger.warning(
                    "could not list the objects to resume the rate-limit budget (%s); "
                    "booking no rate-limited request before the next window, %.0fs from now",
                    redact_text(f"{type(exc).__name__}: {exc}"),
                    opens - clock.time(),
                )
            else:
                recent = latest(objects, now)
                if recent is not None and budget.in_current_window(recent.timestamp()):
                    opens = budget.hold_current_window()
                    logger.info(
                        "objects record GitLab requests in the current rate-limit window "
                        "(the last at %s); booking no rate-limited request before the next, "
                        "%.0fs from now",
                        recent.isoformat(),
                        opens - clock.time(),
                    )
            self._checked = True
