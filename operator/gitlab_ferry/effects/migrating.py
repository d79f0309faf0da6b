"""Observing and applying GroupMigration plans against the two GitLabs and Kubernetes
(effects layer).

The observation lists the source tree and the destination's groups (read-only calls); the
apply functions create groups, request the group export, stream it into the destination's
group import, and create or adopt the child objects. Errors come back as ``Problem``s or
``Failed`` outcomes, never as exceptions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gitlab_ferry.api.base import DownloadLimitScope, GitLabConnection
from gitlab_ferry.api.group_migration import GroupMigrationSpec
from gitlab_ferry.api.project_export import PLURAL as EXPORTS
from gitlab_ferry.api.project_import import PLURAL as IMPORTS
from gitlab_ferry.effects.budget import Bucket, Claim
from gitlab_ferry.effects.connections import Connection
from gitlab_ferry.effects.kube import ObjectRef
from gitlab_ferry.effects.problems import problem_from, unsupported_version
from gitlab_ferry.effects.secrets import MissingSecret, gitlab_credentials
from gitlab_ferry.effects.services import Services
from gitlab_ferry.effects.sources import TrackedArchive
from gitlab_ferry.gitlab import GitLabClient, errors
from gitlab_ferry.gitlab.responses import Group, Project
from gitlab_ferry.gitlab_versions import GitLabInfo
from gitlab_ferry.reconcile.migrations import (
    MIGRATION_LABEL,
    AdoptChildren,
    CreateChildren,
    CreateGroups,
    ImportGroupTree,
    Limits,
    Owner,
    SourceGroup,
    SourceProject,
    SourceTree,
    child_bodies,
    owner_reference,
)
from gitlab_ferry.reconcile.plan import Done, Failed, Outcome, Problem, Reason

#: How long to wait before asking again for a group export that is not ready.
GROUP_EXPORT_WAIT = 60.0
#: Child pairs created at once: the API server's round trips overlap, instead of a large
#: fan-out waiting on each create in turn.
CREATE_AT_ONCE = 16


@dataclass(frozen=True)
class MigrationTarget:
    """A GroupMigration's two resolved connections and the GitLab versions behind them."""

    namespace: str
    name: str
    spec: GroupMigrationSpec
    source: Connection
    destination: Connection
    source_gitlab: GitLabInfo
    destination_gitlab: GitLabInfo


async def _connect(
    services: Services, namespace: str, connection: GitLabConnection
) -> tuple[Connection, GitLabInfo]:
    credentials = await gitlab_credentials(services.secrets, namespace, connection)
    await services.policy.check(credentials.url)
    resolved = services.clients.get(credentials)
    return resolved, await resolved.facts.info(resolved.client)


async def resolve(
    services: Services, namespace: str, name: str, spec: GroupMigrationSpec
) -> MigrationTarget | Problem:
    """Both connections the spec names, or why one of them is missing."""
    try:
        source, source_gitlab = await _connect(services, namespace, spec.source.gitlab)
        destination, destination_gitlab = await _connect(
            services, namespace, spec.destination.gitlab
        )
    except (MissingSecret, errors.GitLabError) as exc:
        return problem_from(exc)
    for gitlab in (source_gitlab, destination_gitlab):
        if not gitlab.supported:
            return unsupported_version(gitlab)
    return MigrationTarget(
        namespace, name, spec, source, destination, source_gitlab, destination_gitlab
    )


def _source_project(project: Project) -> SourceProject:
    return SourceProject(
        id=project.id,
        full_path=project.path_with_namespace,
        topics=tuple(project.topics or project.tag_list),
    )


def _source_group(group: Group) -> SourceGroup:
    return SourceGroup(group.id, group.full_path, group.name)


async def list_tree(target: MigrationTarget) -> SourceTree | Problem:
    """The source group, its subgroups and its projects, as the source lists them now."""
    client = target.source.client
    source = target.spec.source
    try:
        root = await client.group(source.group)
        groups = await client.descendant_groups(root.id) if source.subgroups else []
        # Archived projects are left out by GitLab unless they migrate too.
        archived = None if source.projects.archived else False
        projects = await client.group_projects(
            root.id, subgroups=source.subgroups, archived=archived
        )
    except errors.GitLabError as exc:
        return problem_from(exc, what="listing the source group")
    return SourceTree(
        root=_source_group(root),
        groups=tuple(_source_group(g) for g in groups),
        projects=tuple(_source_project(p) for p in projects),
    )


async def _existing(client: GitLabClient, path: str) -> Group | None:
    try:
        return await client.group(path)
    except errors.NotFound:
        return None


async def destination_groups(
    target: MigrationTarget, paths: Sequence[str]
) -> dict[str, int] | Problem:
    """Which of ``paths`` (the tree's destination groups, top first) exist on the destination,
    and the destination parent: lower-cased full path to group id."""
    client = target.destination.client
    parent = target.spec.destination.parent
    found: dict[str, int] = {}
    try:
        above = await _existing(client, parent) if parent else None
        top = await _existing(client, paths[0]) if paths else None
        below = await client.descendant_groups(top.id) if top is not None else []
    except errors.GitLabError as exc:
        return problem_from(exc, what="looking up the destination groups")
    for group in (above, top, *below):
        if group is not None:
            found[group.full_path.lower()] = group.id
    return found


def limits(services: Services, target: MigrationTarget) -> Limits:
    """The per-minute limits the ETA is computed from: exports and downloads on the source,
    imports on the destination."""
    source = target.spec.source.gitlab.rate_limits
    destination = target.spec.destination.gitlab.rate_limits
    return Limits(
        export=services.limits.limit(Bucket.EXPORT, source),
        import_=services.limits.limit(Bucket.IMPORT, destination),
        download=services.limits.limit(Bucket.DOWNLOAD, source),
        downloads_per_namespace=services.limits.scope(source) is DownloadLimitScope.NAMESPACE,
    )


async def create_groups(
    target: MigrationTarget, action: CreateGroups, present: Mapping[str, int]
) -> Outcome:
    """``POST /groups`` for each missing group, parents first. A group that appeared since
    the observation (another pass, a person) is looked up rather than created twice."""
    client = target.destination.client
    ids = dict(present)
    created = 0
    for group in action.groups:
        parent_path, _, path = group.full_path.rpartition("/")
        parent_id = ids.get(parent_path.lower()) if parent_path else None
        if parent_path and parent_id is None:
            return Failed(
                Problem(Reason.GROUPS_MISSING, f"the parent of {group.full_path} is missing"),
                sent=created > 0,
            )
        try:
            made = await client.create_group(group.name, path, parent_id)
            created += 1
        except errors.PathTaken:
            try:
                made = await client.group(group.full_path)
            except errors.GitLabError as exc:
                return Failed(problem_from(exc, what=f"creating the group {group.full_path}"))
        except errors.GitLabError as exc:
            return Failed(problem_from(exc, what=f"creating the group {group.full_path}"))
        ids[made.full_path.lower()] = made.id
    return Done(created)


def group_export_claims(services: Services, target: MigrationTarget) -> list[Claim]:
    """The budget a RequestGroupExport spends."""
    connection = target.spec.source.gitlab
    return [services.claim(target.source, Bucket.GROUP_EXPORT, connection.rate_limits)]


async def request_group_export(target: MigrationTarget, group_id: int) -> Outcome:
    """``POST /groups/:id/export`` on the source."""
    try:
        await target.source.client.schedule_group_export(group_id)
    except errors.GitLabError as exc:
        return Failed(problem_from(exc, what="requesting the group export"))
    return Done(None)


def group_import_claims(services: Services, target: MigrationTarget) -> list[Claim]:
    """The budget an ImportGroupTree spends: a group download and a group import."""
    source, destination = target.spec.source.gitlab, target.spec.destination.gitlab
    return [
        services.claim(target.source, Bucket.GROUP_DOWNLOAD, source.rate_limits),
        services.claim(target.destination, Bucket.GROUP_IMPORT, destination.rate_limits),
    ]


async def import_group_tree(
    services: Services,
    target: MigrationTarget,
    action: ImportGroupTree,
    present: Mapping[str, int],
) -> Outcome:
    """Stream the source's group export into ``POST /groups/import`` on the destination."""
    parent_id = present.get(action.parent.lower()) if action.parent else None
    if action.parent and parent_id is None:
        message = f"the destination parent group {action.parent} is missing"
        return Failed(Problem(Reason.GROUPS_MISSING, message), sent=False)
    sent = False
    try:
        async with target.source.client.open_group_export_download(action.group_id) as download:
            archive = TrackedArchive(
                download.filename, download.iter_bytes(), download.size, services.on_bytes
            )
            sent = True
            await target.destination.client.import_group(
                archive.upload(), name=action.title, path=action.path, parent_id=parent_id
            )
    except errors.ExportNotAvailable:
        problem = Problem(
            Reason.EXPORTING,
            "GitLab has not finished the group export yet",
            transient=True,
            retry_after=GROUP_EXPORT_WAIT,
        )
        return Failed(problem, sent=False)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a condition
        return Failed(problem_from(exc, what="importing the group tree"), sent=sent)
    return Done(None)


async def create_children(
    services: Services, owner: Owner, spec: GroupMigrationSpec, action: CreateChildren
) -> Outcome:
    """Create every pair's ProjectExport, then every pair's ProjectImport,
    ``CREATE_AT_ONCE`` at a time: the exports start work on GitLab, so they go first, and an
    import is needed only once its export has finished. Names are derived from the project's
    path, so creating again after an interrupted pass only finds them there (exports left
    without their imports are completed by the next pass)."""
    gate = asyncio.Semaphore(CREATE_AT_ONCE)
    bodies = [
        (pair.project, child_bodies(owner, spec, pair.name, pair.project, pair.namespace_path))
        for pair in action.pairs
    ]

    async def create(plural: str, project: str, body: dict[str, Any]) -> bool | Problem:
        async with gate:
            try:
                return await services.kube.create_object(plural, body)
            except Exception as exc:  # noqa: BLE001 - every failure becomes a condition
                return problem_from(exc, what=f"creating the children of {project}")

    created = 0
    for plural, which in ((EXPORTS, 0), (IMPORTS, 1)):
        results = await asyncio.gather(
            *(create(plural, project, made[which]) for project, made in bodies)
        )
        problems = [result for result in results if isinstance(result, Problem)]
        if problems:
            return Failed(problems[0])
        created += sum(result is True for result in results)
    return Done(created)


async def adopt_children(services: Services, owner: Owner, action: AdoptChildren) -> Outcome:
    """Make this migration the controller of children that carry its name but not its uid."""
    reference = owner_reference(owner)
    adopted = 0
    try:
        for name in action.names:
            for plural in (EXPORTS, IMPORTS):
                ref = ObjectRef(plural, owner.namespace, name)
                metadata = {"labels": {MIGRATION_LABEL: owner.name}, "ownerReferences": [reference]}
                adopted += await services.kube.patch_metadata(ref, metadata)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a condition
        return Failed(problem_from(exc, what="adopting children"))
    return Done(adopted)
