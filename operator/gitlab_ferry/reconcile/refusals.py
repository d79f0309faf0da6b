"""Refusals: requests GitLab turned down for a limit or rule it documents (reconcile layer).

Sending such a request again changes nothing (an import of the same archive meets the same
size limit) and can cost much (a re-streamed archive, an export POST that deletes the archive
GitLab kept). So a refusal is recorded in status and stands until the spec changes or the
user gives the retry annotation a new value. Pure.
"""

from __future__ import annotations

from datetime import datetime

from gitlab_ferry.api import RETRY_ANNOTATION, Refusal
from gitlab_ferry.reconcile.plan import Failed, Outcome, Plan, Reason, Verdict, refused


def standing(
    refusal: Refusal | None, generation: int | None, retry_request: str | None
) -> Refusal | None:
    """``refusal`` if it still holds: made for this spec and not retried since."""
    if refusal is None or refusal.generation != generation or refusal.retry != retry_request:
        return None
    return refusal


def verdict(refusal: Refusal) -> Verdict:
    """What Ready says while ``refusal`` stands."""
    try:
        reason = Reason(refusal.reason)
    except ValueError:
        reason = Reason.REFUSED_BY_GITLAB
    return Verdict(False, reason, refusal.message)


def explain(action: str) -> str:
    """The plan reason of a standing refusal of ``action``."""
    return (
        f"GitLab refused {action} and would refuse it again; change the spec or annotate "
        f"{RETRY_ANNOTATION}=<new value> to send it again"
    )


def recorded(
    plan: Plan,
    outcome: Outcome | None,
    previous: Refusal | None,
    generation: int | None,
    retry_request: str | None,
    now: datetime,
) -> Refusal | None:
    """``status.refusal`` after a pass: set when a request of ``plan`` was refused, cleared
    when a request was sent and accepted, else kept."""
    if not plan.mutating or outcome is None:
        return previous
    if isinstance(outcome, Failed):
        if not refused(outcome.problem):
            return previous
        return Refusal(
            reason=outcome.problem.reason.value,
            message=(
                f"{outcome.problem.message} Once that is changed, annotate "
                f"{RETRY_ANNOTATION}=<new value> (or edit the spec) to send it again."
            )[:2000],
            generation=generation,
            retry=retry_request,
            at=now,
        )
    return None
