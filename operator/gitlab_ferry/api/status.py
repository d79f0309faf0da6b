"""Building blocks of both resources' status: timestamps, conditions, the plan record, a
refusal, the archive's whereabouts, and the status base every kind inherits (api layer).

Pydantic only; status models tolerate fields they do not know, so an older operator can read
what a newer one wrote. Times are ``datetime`` in memory and RFC 3339 in the cluster.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema

from gitlab_ferry.api.base import StatusModel


def _parsed(value: Any) -> Any:
    """RFC 3339 / ISO 8601 text as an aware datetime; text that is not a time is dropped
    rather than failing the whole status (GitLab's fields are copied verbatim)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def parse_timestamp(text: str | None) -> datetime | None:
    """An RFC 3339 / ISO 8601 time (GitLab's ``created_at``), ``None`` when absent or not a
    time."""
    parsed = _parsed(text)
    return parsed if isinstance(parsed, datetime) else None


def rfc3339(moment: datetime) -> str:
    """``2026-12-07T10:00:00Z``; milliseconds only where the time has them (GitLab's)."""
    utc = moment.astimezone(UTC)
    milliseconds = utc.microsecond // 1000
    fraction = f".{milliseconds:03d}" if milliseconds else ""
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


#: A point in time: ``datetime`` in memory, RFC 3339 in the object (``format: date-time``).
Timestamp = Annotated[
    datetime,
    BeforeValidator(_parsed),
    PlainSerializer(rfc3339, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(StatusModel):
    """A Kubernetes-style condition."""

    type: str = Field(description="Condition type: Ready, Reconciling or Stalled.")
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(description="CamelCase reason for the condition's last transition.")
    message: str = Field(default="", description="Human-readable details.")
    last_transition_time: Timestamp = Field(description="When the condition last changed status.")
    observed_generation: int | None = Field(
        default=None, description="The metadata.generation the condition was computed for."
    )


class PlanPhase(StrEnum):
    PLANNED = "Planned"
    AWAITING_APPROVAL = "AwaitingApproval"
    APPLYING = "Applying"
    APPLIED = "Applied"


class PlanStatus(StatusModel):
    """The last plan: what the operator decided to do next, and why."""

    id: str = Field(description="Stable id of this plan; approve it through the annotation.")
    action: str = Field(description="The one action the plan applies.")
    reason: str = Field(description="One sentence explaining the plan.")
    phase: PlanPhase = Field(
        description=(
            "Planned, AwaitingApproval (Manual approval of a destructive plan), Applying "
            "(recorded before a non-idempotent GitLab call) or Applied."
        )
    )
    destructive: bool = Field(
        default=False, description="Whether the plan deletes or replaces data on GitLab."
    )
    since: Timestamp | None = Field(default=None, description="When the plan entered its phase.")


class Refusal(StatusModel):
    """A request GitLab refused for a limit or rule it documents. It is not sent again until
    the spec changes or the annotation gitlabferry.dev/retry gets a new value."""

    reason: str = Field(description="The condition reason naming the limit or rule.")
    message: str = Field(description="What GitLab said and what to change.")
    generation: int | None = Field(
        default=None, description="The metadata.generation the request was made for."
    )
    retry: str | None = Field(
        default=None,
        description="The value of the gitlabferry.dev/retry annotation when it was refused.",
    )
    at: Timestamp | None = Field(default=None, description="When GitLab refused it.")


class ArtifactLocation(StrEnum):
    GITLAB = "GitLab"
    UPLOAD = "Upload"
    S3 = "S3"


class Artifact(StatusModel):
    """Where an export archive is."""

    location: ArtifactLocation = Field(description="GitLab, Upload (a pre-signed URL) or S3.")
    bucket: str | None = Field(default=None, description="S3 bucket.")
    key: str | None = Field(default=None, description="S3 object key.")
    region: str | None = Field(default=None, description="S3 region.")
    filename: str | None = Field(default=None, description="Archive file name, where known.")
    size: int | None = Field(default=None, description="Size in bytes, where known.")
    sha256: str | None = Field(default=None, description="SHA-256 of the archive, where known.")
    etag: str | None = Field(default=None, description="The storage's entity tag, where known.")
    created_at: Timestamp | None = Field(
        default=None, description="When the archive was made (the export was seen finished)."
    )


class ReconciledStatus(StatusModel):
    """What every kind's status has: the generation reconciled, the conditions, the last
    plan, the GitLab version seen and a standing refusal."""

    observed_generation: int | None = Field(
        default=None, description="The metadata.generation last reconciled."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Ready, Reconciling and Stalled conditions.",
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
        },
    )
    plan: PlanStatus | None = Field(default=None, description="The last plan.")
    gitlab_version: str | None = Field(
        default=None, description="The GitLab's version (GET /version)."
    )
    refusal: Refusal | None = Field(
        default=None, description="The last request GitLab refused, not repeated until asked."
    )

    def condition(self, kind: str) -> Condition | None:
        """The condition of type ``kind`` (Ready, Reconciling, Stalled), if present."""
        return next((c for c in self.conditions if c.type == kind), None)

    @property
    def ready(self) -> bool:
        """Whether the Ready condition is True."""
        ready = self.condition("Ready")
        return ready is not None and ready.status is ConditionStatus.TRUE
