"""What the ProjectImport planners decide with (reconcile layer): their policy, the routes an
archive can take to the GitLab version at hand, the parameters every route sends, where a
project must land, and when a failure is worth retrying. Plain data and pure functions; no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gitlab_ferry.api import ArtifactLocation, ProjectImportSpec, ProjectImportStatus
from gitlab_ferry.gitlab_versions import Capability, GitLabInfo
from gitlab_ferry.reconcile.imports.actions import ImportTarget, Route
from gitlab_ferry.reconcile.imports.observation import ExportSource
from gitlab_ferry.reconcile.timing import Polling

#: The suffix of the temporary path of an overwriting import.
_OVERWRITE_TEMPORARY = re.compile(r"-[0-9a-f]{32}")


@dataclass(frozen=True)
class ImportPolicy:
    """Operator-wide knobs of the import planner."""

    polling: Polling = field(default_factory=Polling)
    #: How often to look again at conditions only a person fixes (a taken path, a missing
    #: project), in case they did.
    recheck: float = 300.0
    #: Fallback look at a ProjectExport not finished yet (its status changes also wake the
    #: import).
    export_wait: float = 60.0
    #: A project created this long before a recorded request still counts as its result
    #: (tolerates clock skew between the operator and GitLab).
    adoption_window: float = 600.0


@dataclass(frozen=True)
class RouteChoice:
    """The route an import takes, and the sentence that says why."""

    route: Route
    why: str


def route_for(
    spec: ProjectImportSpec,
    export: ExportSource | None,
    gitlab: GitLabInfo,
    gitlab_can_fetch: bool,
) -> RouteChoice:
    """The best route the destination GitLab offers for the spec's source. Streaming into
    ``POST /projects/import``, which every version has, is the fallback for the rest.

    ``gitlab_can_fetch``: a ``url``/``urlSecretRef`` source is a public https URL.
    """
    source = spec.source
    if source.export_ref is not None:
        if export is None or export.location is not ArtifactLocation.S3:
            return RouteChoice(Route.STREAM, "the archive is kept on the source GitLab")
        if not export.in_aws:
            return RouteChoice(
                Route.STREAM,
                "the archive is in S3-compatible storage GitLab may not reach, so the "
                "operator carries it",
            )
        return _pulled(gitlab, Route.PRESIGNED_URL, "GitLab pulls the archive from S3")
    if source.s3 is not None:
        if source.s3.endpoint:
            return RouteChoice(
                Route.STREAM,
                "remote-import-s3 reads only AWS S3, so the operator carries the archive "
                "from the S3-compatible endpoint",
            )
        if gitlab.usable(Capability.REMOTE_IMPORT_S3):
            return _tried(gitlab, Capability.REMOTE_IMPORT_S3, Route.S3, "GitLab reads S3")
        no_s3 = gitlab.why_not(Capability.REMOTE_IMPORT_S3)
        return _pulled(gitlab, Route.PRESIGNED_URL, f"{no_s3}; GitLab pulls a pre-signed URL")
    if not gitlab_can_fetch:
        return RouteChoice(
            Route.STREAM,
            "GitLab fetches only public https URLs, so the operator carries the archive",
        )
    return _pulled(gitlab, Route.REMOTE_URL, "GitLab fetches the archive from the URL")


def _pulled(gitlab: GitLabInfo, route: Route, why: str) -> RouteChoice:
    """GitLab pulls the archive by remote-import where it can, else the operator carries it."""
    needed = [Capability.REMOTE_IMPORT]
    if route is Route.PRESIGNED_URL:
        needed.append(Capability.REMOTE_IMPORT_OF_S3_URLS)
    for capability in needed:
        if not gitlab.usable(capability):
            return RouteChoice(
                Route.STREAM, f"{gitlab.why_not(capability)}, so the operator carries the archive"
            )
    return _tried(gitlab, Capability.REMOTE_IMPORT, route, why)


def _tried(gitlab: GitLabInfo, capability: Capability, route: Route, why: str) -> RouteChoice:
    flagged = gitlab.flagged(capability)
    return RouteChoice(route, f"{why} ({flagged})" if flagged else why)


def target_for(spec: ProjectImportSpec, gitlab: GitLabInfo, *, overwrite: bool) -> ImportTarget:
    """What the import sends about the new project. GitLab before 18.7 ignores
    ``namespace_id`` and ``namespace_path`` (the project would land in the token user's
    namespace), so there the namespace travels as ``namespace``, which every version reads
    as an id or a full path."""
    if gitlab.usable(Capability.NAMESPACE_ID_PARAMS):
        namespace = spec.namespace
        namespace_id, namespace_path = spec.namespace_id, spec.namespace_path
    else:
        namespace = spec.namespace_id or spec.namespace_path or spec.namespace
        namespace_id, namespace_path = None, None
    return ImportTarget(
        path=spec.path,
        name=spec.name,
        namespace=namespace,
        namespace_id=namespace_id,
        namespace_path=namespace_path,
        overwrite=overwrite,
        override_params=dict(spec.override_params or {}),
    )


def landing_mismatch(expected: str | None, actual: str, *, in_flight: bool) -> bool:
    """Whether GitLab put the project somewhere other than ``expected`` (a full path). While
    an overwrite runs, GitLab keeps the new project at ``<path>-<32 hex>`` beside the old
    one."""
    if expected is None:
        return False
    wanted, seen = expected.lower(), actual.lower()
    if seen == wanted:
        return False
    temporary = seen.startswith(wanted) and _OVERWRITE_TEMPORARY.fullmatch(seen[len(wanted) :])
    return not (in_flight and temporary)


def retry_wanted(recorded: ProjectImportStatus, generation: int | None) -> bool:
    """Whether a recorded failure predates the current spec, so it is worth another try."""
    failed = recorded.failure_generation
    return failed is not None and generation is not None and failed != generation
