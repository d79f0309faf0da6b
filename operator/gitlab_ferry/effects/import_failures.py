"""What a failed import request means, and what the operator learns from it (effects layer).

A 404 for a route the GitLab version should have means its feature flag is off: remembered,
so the next plan takes another route at once. A refusal of the role gets the rule of that
GitLab version in its message. A 404 for a whole route makes the version be read again.
Nothing here performs I/O.
"""

from __future__ import annotations

from dataclasses import replace

from gitlab_ferry.effects.connections import Connection
from gitlab_ferry.effects.problems import problem_from
from gitlab_ferry.gitlab import errors
from gitlab_ferry.gitlab_versions import Capability, GitLabInfo, maintainer_required
from gitlab_ferry.reconcile.imports import Route
from gitlab_ferry.reconcile.plan import Failed, Problem, Reason

#: The capability each GitLab-side route needs.
ROUTE_CAPABILITY = {
    Route.REMOTE_URL: Capability.REMOTE_IMPORT,
    Route.PRESIGNED_URL: Capability.REMOTE_IMPORT,
    Route.S3: Capability.REMOTE_IMPORT_S3,
}
#: The destination's import endpoints (errors from other endpoints are the source's).
_IMPORT_ENDPOINTS = frozenset({"import", "remote_import", "remote_import_s3", "relation_import"})


def request_failed(
    connection: Connection,
    gitlab: GitLabInfo,
    exc: Exception,
    capability: Capability | None,
    *,
    sent: bool = True,
    what: str = "requesting the import",
) -> Failed:
    """The outcome of an import request that failed. A 404 for a route the GitLab version
    should have means its feature flag is off: it is remembered, and since GitLab did
    nothing, the next plan takes another route at once."""
    if not isinstance(exc, errors.GitLabError) or exc.endpoint not in _IMPORT_ENDPOINTS:
        noticed(connection, exc)
        return Failed(problem_from(exc, what=what), sent=sent)
    if isinstance(exc, errors.S3UrlRefused):
        capability = Capability.REMOTE_IMPORT_OF_S3_URLS
    if isinstance(exc, errors.EndpointUnavailable | errors.S3UrlRefused) and capability:
        connection.facts.disable(capability)
        off = replace(gitlab, disabled=gitlab.disabled | {capability})
        problem = Problem(
            Reason.UNSUPPORTED_BY_GITLAB,
            f"GitLab refused {capability} ({exc}): {off.why_not(capability)}; planning "
            "another route",
            transient=True,
            retry_after=1.0,
        )
        return Failed(problem, sent=False)
    noticed(connection, exc)
    problem = problem_from(exc, what="requesting the import")
    if isinstance(exc, errors.NamespaceInvalid | errors.Forbidden):
        problem = replace(problem, message=f"{problem.message}. {import_role_rule(gitlab)}")
    return Failed(problem, sent=True)


def import_role_rule(gitlab: GitLabInfo) -> str:
    """Who may import into a namespace on this GitLab version."""
    if maintainer_required(gitlab.version):
        return (
            "GitLab 16.0 and later (also 15.11.1 and 15.10.5) import only for users with the "
            "Maintainer or Owner role on the target namespace"
        )
    return (
        f"{gitlab.describe()} imports for users who may create projects in the target "
        "namespace (Developer or higher, as the group allows)"
    )


def noticed(connection: Connection, exc: Exception) -> None:
    """A 404 for a whole route may mean GitLab was upgraded or moved: read its version again."""
    if isinstance(exc, errors.RouteNotFound):
        connection.facts.forget_version()
