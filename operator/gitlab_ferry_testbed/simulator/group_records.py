"""The simulated GitLab's group export and group import records.

Part of the simulator layer. A group export job (GroupExportWorker: ``queued``, ``started``,
``finished``, ``failed``), the export file of one (group, owner) (ImportExportUpload), and a group
import (GroupImportState: ``scheduled``, ``started``, ``finished``, ``failed``) with what its
worker needs. GitLab's group export has no status endpoint, so these records are seen only
through the download, the groups the import creates and the control API. Plain dataclasses: no
I/O, nothing outside the simulator.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar


@dataclass
class GroupExportJob:
    WAITING: ClassVar[str] = "queued"

    id: int
    group_id: int
    owner_key: int
    user_id: int
    status: str
    queued_at: float
    updated_at: float
    started_at: float | None = None
    work: asyncio.Task[Any] | None = None


@dataclass
class GroupExportUpload:
    group_id: int
    owner_key: int
    path: Path
    filename: str
    size: int
    sha256: str
    updated_at: float


@dataclass
class GroupImportJob:
    WAITING: ClassVar[str] = "scheduled"

    id: int
    group_id: int
    user_id: int
    status: str
    queued_at: float
    updated_at: float
    archive_path: Path | None
    started_at: float | None = None
    last_error: str | None = None
    work: asyncio.Task[Any] | None = None
    created_group_ids: list[int] = field(default_factory=list)
    # subgroups the worker could not create (GitLab logs an ImportFailure and goes on)
    failures: list[str] = field(default_factory=list)
