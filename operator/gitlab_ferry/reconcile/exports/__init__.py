"""Planning ProjectExports (reconcile layer): what the controller needs of it, in one place.

``plan_export`` decides the one next action from the spec, the recorded status and what
GitLab showed; ``begin_export`` is the status written before a mutating action is applied;
``record_export`` folds a pass into the next status. Pure.
"""

from gitlab_ferry.reconcile.exports.actions import (
    AwaitExport,
    ExportRoute,
    HoldForConsumers,
    RelayToS3,
    RequestExport,
    RetryLater,
)
from gitlab_ferry.reconcile.exports.inputs import (
    S3_SINGLE_UPLOAD_LIMIT,
    ExportObservation,
    ExportPolicy,
    S3ObjectInfo,
    destination,
    export_spec_hash,
)
from gitlab_ferry.reconcile.exports.planner import next_export_at, plan_export
from gitlab_ferry.reconcile.exports.recorder import begin_export, record_export

__all__ = [
    "S3_SINGLE_UPLOAD_LIMIT",
    "AwaitExport",
    "ExportObservation",
    "ExportPolicy",
    "ExportRoute",
    "HoldForConsumers",
    "RelayToS3",
    "RequestExport",
    "RetryLater",
    "S3ObjectInfo",
    "begin_export",
    "destination",
    "export_spec_hash",
    "next_export_at",
    "plan_export",
    "record_export",
]
