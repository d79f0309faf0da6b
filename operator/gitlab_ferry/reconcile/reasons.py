"""The condition reasons both kinds report, and which of them need a person or stop a
request from being sent again (reconcile layer). Plain enums and sets; no I/O.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Condition reasons (CamelCase) used by both kinds."""

    SCHEDULED = "Scheduled"
    EXPORTING = "Exporting"
    IMPORTING = "Importing"
    THROTTLED = "Throttled"
    FINISHED = "Finished"
    FINISHED_WITH_FAILED_RELATIONS = "FinishedWithFailedRelations"
    FAILED = "Failed"
    TIMED_OUT = "TimedOut"
    EXPIRED = "Expired"
    UPLOAD_MISSING = "UploadMissing"
    INVALID_SPEC = "InvalidSpec"
    SECRET_MISSING = "SecretMissing"
    UNAUTHORIZED = "Unauthorized"
    FORBIDDEN = "Forbidden"
    PROJECT_NOT_FOUND = "ProjectNotFound"
    NAMESPACE_NOT_FOUND = "NamespaceNotFound"
    PATH_TAKEN = "PathTaken"
    HOST_NOT_ALLOWED = "HostNotAllowed"
    GITLAB_UNAVAILABLE = "GitLabUnavailable"
    GITLAB_ERROR = "GitLabError"
    SOURCE_UNAVAILABLE = "SourceUnavailable"
    STORAGE_UNAVAILABLE = "StorageUnavailable"
    KUBERNETES_ERROR = "KubernetesError"
    WAITING_FOR_EXPORT = "WaitingForExport"
    EXPORT_NOT_FOUND = "ExportNotFound"
    AWAITING_APPROVAL = "AwaitingApproval"
    SUSPENDED = "Suspended"
    RELATION_IMPORT_FAILED = "RelationImportFailed"
    DELETING = "Deleting"
    UNSUPPORTED_BY_GITLAB = "UnsupportedByGitLab"
    WRONG_NAMESPACE = "WrongNamespace"
    UPLOAD_UNCONFIRMED = "UploadUnconfirmed"
    #: GitLab refused a request for a limit or rule it documents (see ``REFUSALS``), or could
    #: not reach the archive's URL.
    IMPORT_TOO_LARGE = "ImportTooLarge"
    EXPORT_TOO_LARGE = "ExportTooLarge"
    REMOTE_FILE_TOO_LARGE = "RemoteFileTooLarge"
    REMOTE_FILE_SIZE_UNKNOWN = "RemoteFileSizeUnknown"
    REMOTE_FILE_CONTENT_TYPE = "RemoteFileContentType"
    REMOTE_FILE_UNREACHABLE = "RemoteFileUnreachable"
    S3_UPLOAD_TOO_LARGE = "S3UploadTooLarge"
    REFUSED_BY_GITLAB = "RefusedByGitLab"


#: Reasons that need a person (a spec, Secret or GitLab change) rather than time.
STALLED_REASONS = frozenset(
    {
        Reason.FAILED,
        Reason.TIMED_OUT,
        Reason.UPLOAD_MISSING,
        Reason.INVALID_SPEC,
        Reason.UNAUTHORIZED,
        Reason.FORBIDDEN,
        Reason.PROJECT_NOT_FOUND,
        Reason.NAMESPACE_NOT_FOUND,
        Reason.PATH_TAKEN,
        Reason.HOST_NOT_ALLOWED,
        Reason.EXPORT_NOT_FOUND,
        Reason.RELATION_IMPORT_FAILED,
        Reason.UNSUPPORTED_BY_GITLAB,
        Reason.WRONG_NAMESPACE,
        Reason.IMPORT_TOO_LARGE,
        Reason.EXPORT_TOO_LARGE,
        Reason.REMOTE_FILE_TOO_LARGE,
        Reason.REMOTE_FILE_SIZE_UNKNOWN,
        Reason.REMOTE_FILE_CONTENT_TYPE,
        Reason.REMOTE_FILE_UNREACHABLE,
        Reason.S3_UPLOAD_TOO_LARGE,
        Reason.REFUSED_BY_GITLAB,
    }
)

#: Refusals GitLab documents for a request's content or for what the instance offers: the
#: same request would be refused again, and sending it can cost much (an archive streamed
#: again, an export POST that deletes the archive GitLab kept). Problems a changed Secret or
#: a changed GitLab fixes (a token, a role, a missing namespace) are rechecked instead.
REFUSALS = frozenset(
    {
        Reason.IMPORT_TOO_LARGE,
        Reason.EXPORT_TOO_LARGE,
        Reason.REMOTE_FILE_TOO_LARGE,
        Reason.REMOTE_FILE_SIZE_UNKNOWN,
        Reason.REMOTE_FILE_CONTENT_TYPE,
        Reason.S3_UPLOAD_TOO_LARGE,
        Reason.UNSUPPORTED_BY_GITLAB,
        Reason.REFUSED_BY_GITLAB,
    }
)
