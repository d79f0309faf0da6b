"""What every export destination offers the exporting effect (effects layer).

A destination is where GitLab pushes a finished archive instead of keeping it: it names the
spec field that selects it, reads and checks what it needs before a pass, says whether the
archive lands in S3 in one PUT, and makes GitLab's ``upload[url]``. It performs no GitLab call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from gitlab_ferry.api import ProjectExportSpec
from gitlab_ferry.effects.export_targets import ExportTarget
from gitlab_ferry.effects.s3 import S3Credentials
from gitlab_ferry.effects.services import Services
from gitlab_ferry.reconcile.exports import RequestExport


@dataclass(frozen=True)
class Upload:
    """Where GitLab pushes the archive: its ``upload[url]`` and ``upload[http_method]``."""

    url: str
    method: Literal["PUT", "POST"] = "PUT"


class Destination(Protocol):
    """One way an archive leaves GitLab, selected by the spec field ``field``."""

    @property
    def field(self) -> str:
        """The spec field (one of ``api.project_export.DESTINATION_FIELDS``) that selects it."""
        ...

    async def credentials(
        self, services: Services, namespace: str, spec: ProjectExportSpec
    ) -> S3Credentials | None:
        """Check the hosts the destination names and read the S3 credentials the operator
        itself needs (to look at or copy the archive), if any."""
        ...

    async def single_put_to_s3(self, services: Services, target: ExportTarget) -> bool:
        """Whether GitLab's one PUT lands in S3, whose single-upload cap then applies."""
        ...

    async def upload(
        self, services: Services, target: ExportTarget, action: RequestExport
    ) -> Upload:
        """GitLab's ``upload[url]`` and method for the export ``action`` requests."""
        ...
