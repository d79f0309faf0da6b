"""What an export's effects act on once its Secrets are read (effects layer): the connection
to the source GitLab, its version, the spec and the destination's S3 credentials.

Plain data and a pure helper; the reading itself is ``exporting.resolve``.
"""

from __future__ import annotations

from dataclasses import dataclass

from gitlab_ferry.api import ProjectExportSpec
from gitlab_ferry.effects.connections import Connection
from gitlab_ferry.effects.s3 import S3Credentials, S3Location
from gitlab_ferry.gitlab_versions import GitLabInfo


@dataclass(frozen=True)
class ExportTarget:
    """An export's resolved connection, the source GitLab's version and the destination
    credentials."""

    namespace: str
    name: str
    spec: ProjectExportSpec
    connection: Connection
    gitlab: GitLabInfo
    s3: S3Credentials | None


def s3_location(spec: ProjectExportSpec, key: str) -> S3Location:
    """The object ``key`` in the bucket of ``spec.s3``."""
    assert spec.s3 is not None
    return S3Location(
        bucket=spec.s3.bucket,
        key=key,
        region=spec.s3.region,
        endpoint=spec.s3.endpoint,
        force_path_style=spec.s3.force_path_style,
    )
