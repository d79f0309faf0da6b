"""GitLab's state vocabularies: export, import and relation-import statuses.

A leaf module (standard library only), shared by the client (which parses GitLab's strings)
and the pure planners (which decide on them). Unknown strings from a newer GitLab map to
``UNKNOWN``; the raw string is always kept verbatim by the callers.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar


class ExportState(StrEnum):
    NONE = "none"
    QUEUED = "queued"
    STARTED = "started"
    FINISHED = "finished"
    FAILED = "failed"
    REGENERATION_IN_PROGRESS = "regeneration_in_progress"
    UNKNOWN = "unknown"


class ImportState(StrEnum):
    NONE = "none"
    SCHEDULED = "scheduled"
    STARTED = "started"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELED = "canceled"
    UNKNOWN = "unknown"


class RelationImportState(StrEnum):
    CREATED = "created"
    STARTED = "started"
    FINISHED = "finished"
    FAILED = "failed"
    UNKNOWN = "unknown"


_State = TypeVar("_State", bound=StrEnum)


def parse_state(enum: type[_State], raw: str | None) -> _State:
    """The enum member for GitLab's string; ``none`` when absent, ``unknown`` when new."""
    try:
        return enum(raw or "none")
    except ValueError:
        return enum("unknown")


EXPORT_IN_FLIGHT = frozenset(
    {ExportState.QUEUED, ExportState.STARTED, ExportState.REGENERATION_IN_PROGRESS}
)
IMPORT_IN_FLIGHT = frozenset({ImportState.SCHEDULED, ImportState.STARTED})
RELATION_IN_FLIGHT = frozenset({RelationImportState.CREATED, RelationImportState.STARTED})
