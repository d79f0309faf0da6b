"""The GitLab layer: an async client for the project import/export API and the group requests
a migration needs, its response models and its error tree. It knows nothing of Kubernetes,
kopf or metrics."""

from gitlab_ferry.gitlab.client import ArchiveDownload, GitLabClient, TokenType
from gitlab_ferry.gitlab.multipart import ArchiveUpload
from gitlab_ferry.gitlab.params import ENDPOINTS, ImportParameters, ProjectRef, S3Object
from gitlab_ferry.gitlab.transport import RequestObserver, UrlGuard, widen_response_reads

__all__ = [
    "ENDPOINTS",
    "ArchiveDownload",
    "ArchiveUpload",
    "GitLabClient",
    "ImportParameters",
    "ProjectRef",
    "RequestObserver",
    "S3Object",
    "TokenType",
    "UrlGuard",
    "widen_response_reads",
]
