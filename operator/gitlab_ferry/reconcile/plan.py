"""Plans, their actions, observations' problems and apply outcomes: the data the planners
trade in (reconcile layer).

A plan is one typed action (a frozen dataclass carrying exactly what applying it needs), the
sentence that explains it and what the object's conditions say meanwhile. Everything here is
plain immutable data. The reconcile layer is pure: it takes time as ``now`` and must not
import httpx, kopf, kubernetes, prometheus_client or anything that performs I/O.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from gitlab_ferry.api import rfc3339
from gitlab_ferry.reconcile.reasons import REFUSALS, STALLED_REASONS, Reason


@dataclass(frozen=True)
class Problem:
    """Why an object could not be observed or applied: a condition reason and message."""

    reason: Reason
    message: str
    #: Whether time alone may fix it (a transient GitLab error, a Secret not yet created).
    transient: bool = False
    #: Seconds GitLab asked to wait (Retry-After), when it did.
    retry_after: float | None = None


@dataclass(frozen=True)
class Verdict:
    """What the Ready condition says about the object once the plan is applied."""

    ready: bool
    reason: Reason
    message: str
    #: False while the operator will retry by itself: never stalled then.
    final: bool = True

    @property
    def stalled(self) -> bool:
        return not self.ready and self.final and self.reason in STALLED_REASONS


class Action:
    """What a plan does. Each action is a frozen dataclass of what applying it needs; its
    class name is the action's name in status and Events."""

    #: Applying calls GitLab in a way that is not safe to repeat blindly: the plan is
    #: recorded in status before it is applied, so a restart can tell.
    mutating: ClassVar[bool] = False

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def destructive(self) -> bool:
        """Whether applying deletes or replaces data on GitLab."""
        return False


# -- actions both kinds plan -----------------------------------------------------------------


@dataclass(frozen=True)
class Suspend(Action):
    """``spec.suspend``: nothing is sent to GitLab."""


@dataclass(frozen=True)
class Blocked(Action):
    """A problem (a Secret, a token, GitLab itself) stops the pass before anything is planned."""


@dataclass(frozen=True)
class ReportRefusal(Action):
    """A refusal recorded in status still stands: nothing is sent."""


@dataclass(frozen=True)
class UpToDate(Action):
    """GitLab is in the state the spec asks for."""


@dataclass(frozen=True)
class ReportFailure(Action):
    """GitLab's work failed; reported until the spec changes (or the next scheduled run)."""


@dataclass(frozen=True)
class Plan:
    """The one next action, why, and what the object's conditions say meanwhile.

    ``requeue_after`` is when to look again (seconds) if nothing else happens; ``None`` means
    only a change to the object (or, for exports, the next drift check) wakes it.
    """

    kind: str
    action: Action
    reason: str
    verdict: Verdict
    requeue_after: float | None = None
    #: A destructive plan held back until the user approves its id (``approval: Manual``).
    awaiting_approval: bool = False
    #: What the plan's identity depends on besides kind and action.
    inputs: tuple[Any, ...] = ()

    @property
    def mutating(self) -> bool:
        return self.action.mutating

    @property
    def destructive(self) -> bool:
        return self.action.destructive

    @property
    def id(self) -> str:
        material = json.dumps([self.kind, self.action.name, *self.inputs], default=_text)
        return hashlib.sha256(material.encode()).hexdigest()[:10]


# -- apply outcomes ----------------------------------------------------------------------------

T = TypeVar("T")


@dataclass(frozen=True)
class Done(Generic[T]):
    """The action was applied; ``value`` is what it produced (GitLab's answer, a tracker, the
    copied object), ``None`` when nothing is worth keeping."""

    value: T


@dataclass(frozen=True)
class Throttled:
    """The rate-limit budget (or GitLab's 429) says wait ``seconds``."""

    seconds: float
    bucket: str
    from_gitlab: bool = False


@dataclass(frozen=True)
class Failed:
    """The action failed; ``problem`` says how and whether time may fix it.

    ``sent`` is false when the failure came before the request reached GitLab (a Secret, a
    source, a signature), so GitLab certainly did nothing.
    """

    problem: Problem
    sent: bool = True


Outcome = Done[Any] | Throttled | Failed


def refused(problem: Problem) -> bool:
    """Whether a failed request is a refusal that sending it again cannot change: recorded,
    and not repeated until the spec changes or the user asks (``RETRY_ANNOTATION``)."""
    return not problem.transient and problem.reason in REFUSALS


def sentence(text: str) -> str:
    """``text`` as a sentence, without lower-casing names such as GitLab or S3 keys."""
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _text(value: Any) -> str:
    """How a plan input that JSON cannot hold is fingerprinted: times as in status."""
    return rfc3339(value) if isinstance(value, datetime) else str(value)


def stable_hash(value: Any) -> str:
    """A short fingerprint of JSON-able data, stable across processes."""
    material = json.dumps(value, sort_keys=True, default=_text)
    return hashlib.sha256(material.encode()).hexdigest()[:16]


__all__ = ["STALLED_REASONS", "Reason"]
