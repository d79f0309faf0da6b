"""The GitLab layer: an async client for the project import/export API, its response models
and its error tree. It knows nothing of Kubernetes, kopf or metrics."""

from gitlab_ferry.gitlab.client import (
    ArchiveDownload,
    GitLabClient,
    ImportTarget,
    S3Object,
    TokenType,
)
from gitlab_ferry.gitlab.multipart import ArchiveUpload
from gitlab_ferry.gitlab.params import ProjectRef
from gitlab_ferry.gitlab.transport import RequestObserver, UrlGuard

__all__ = [
    "ArchiveDownload",
    "ArchiveUpload",
    "GitLabClient",
    "ImportTarget",
    "ProjectRef",
    "RequestObserver",
    "S3Object",
    "TokenType",
    "UrlGuard",
]
