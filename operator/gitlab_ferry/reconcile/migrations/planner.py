"""The GroupMigration planner: (spec, recorded status, observation, now) -> the one next Plan
(reconcile layer).

Groups come first: a project import needs its namespace, and group-level links survive only
when the group structure was migrated before the projects. Then projects are handed to child
ProjectExport/ProjectImport pairs, at most ``maxInFlight`` unfinished at a time and at most
``CHILDREN_PER_PASS`` made per pass, in path order; one failing project stops only itself.
Pure: no I/O, time is ``now``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from gitlab_ferry.api import parse_duration
from gitlab_ferry.api.group_migration import (
    KIND,
    GroupMigrationSpec,
    GroupMigrationStatus,
    GroupStrategy,
)
from gitlab_ferry.reconcile.migrations.actions import (
    AdoptChildren,
    AwaitGroups,
    CreateChildren,
    CreateGroups,
    ImportGroupTree,
    Limits,
    Migrating,
    MigrationObservation,
    NewGroup,
    Pair,
    RequestGroupExport,
)
from gitlab_ferry.reconcile.migrations.children import SETTLED, Child, Phase
from gitlab_ferry.reconcile.migrations.tree import (
    SourceProject,
    SourceTree,
    destination_groups,
    destination_path,
    wanted,
)
from gitlab_ferry.reconcile.plan import Plan, Reason, UpToDate, Verdict
from gitlab_ferry.reconcile.planner import Planner
from gitlab_ferry.reconcile.timing import Polling

#: How often to look at children and groups while work is under way (their own updates
#: wake the migration sooner).
PROGRESS_LOOK = 10.0
#: GitLab answers a group export's download with 404 until the archive is ready.
GROUP_EXPORT_LOOK = 30.0
#: A group export still not downloadable this long after it was requested has failed on
#: GitLab (or was removed): it is requested again.
GROUP_EXPORT_GIVE_UP = 3600.0
#: GitLab creates an imported group at once and its subgroups as its import job runs: missing
#: subgroups are waited for this long after the import was accepted, then created one by one.
GROUP_IMPORT_WAIT = 300.0
#: Seconds before the pass after one that created groups: GitLab answered every create, so
#: the next pass sees them on the destination and can hand out the projects at once.
AFTER_GROUPS = 0.05
#: At most this many pairs are created in one pass, so a large fan-out writes its progress
#: (and lets the pairs already made be counted) between batches rather than once at the end.
CHILDREN_PER_PASS = 100


class MigrationPlanner(Planner):
    kind = KIND
    request = "the group request"

    def __init__(
        self,
        spec: GroupMigrationSpec,
        name: str,
        generation: int | None,
        recorded: GroupMigrationStatus,
        observed: MigrationObservation,
        now: datetime,
        polling: Polling,
        recheck: float,
    ) -> None:
        super().__init__(
            generation=generation,
            recorded=recorded,
            problem=observed.problem,
            retry_request=observed.retry_request,
            suspend=spec.suspend,
            now=now,
            polling=polling,
            recheck=recheck,
        )
        self.spec = spec
        self.name = name
        self.status = recorded
        self.observed = observed

    def plan_body(self) -> Plan:
        tree = self.observed.tree
        assert tree is not None, "observed without a problem means the tree was listed"
        groups = self._groups(tree)
        if groups is not None:
            return groups
        return self._projects(tree)

    # -- groups -------------------------------------------------------------------------------

    def _groups(self, tree: SourceTree) -> Plan | None:
        present = self.observed.destination_groups
        parent = self.spec.destination.parent
        if parent and parent.lower() not in present:
            return self._groups_missing([parent], "the destination parent group")
        needed = destination_groups(self.spec, tree)
        missing = [(path, name) for path, name in needed if path.lower() not in present]
        if not missing:
            return None
        strategy = self.spec.groups
        if strategy is GroupStrategy.MUST_EXIST:
            return self._groups_missing([path for path, _ in missing], "groups (MustExist)")
        top, _ = needed[0]
        if strategy is GroupStrategy.GROUP_IMPORT and top.lower() not in present:
            return self._group_import(tree, top)
        if strategy is GroupStrategy.GROUP_IMPORT and self.status.group_import_at is not None:
            waited = (self.now - self.status.group_import_at).total_seconds()
            if waited < GROUP_IMPORT_WAIT:
                return self.make(
                    AwaitGroups(),
                    f"GitLab is importing the group tree; {len(missing)} group(s) to go",
                    self._migrating(f"Importing the group tree: {len(missing)} group(s) to go."),
                    requeue_after=PROGRESS_LOOK,
                    inputs=(len(missing),),
                )
        new = tuple(NewGroup(path, name) for path, name in missing)
        return self.make(
            CreateGroups(new),
            f"create {len(new)} missing group(s) on the destination, parents first: "
            + ", ".join(g.full_path for g in new[:5])
            + (" ..." if len(new) > 5 else ""),
            self._migrating(f"Creating {len(new)} group(s)."),
            requeue_after=AFTER_GROUPS,
            inputs=tuple(g.full_path for g in new),
        )

    def _group_import(self, tree: SourceTree, top: str) -> Plan:
        """Export the source group once, then import that export until the top group is on the
        destination (GitLab creates it when it accepts the import). An import attempt that did
        not land (GitLab's download still 404, or the operator stopped on the way) uses the
        same export again; only an export that never became downloadable is requested anew."""
        requested = self.status.group_export_at
        if requested is None or (self.now - requested).total_seconds() > GROUP_EXPORT_GIVE_UP:
            again = requested is not None
            return self.make(
                RequestGroupExport(tree.root.id),
                f"export the group {tree.root.full_path} to import its tree (subgroups, labels, "
                "milestones, boards, members) before any project"
                + (" (the last export never became downloadable)" if again else ""),
                self._migrating("Exporting the group tree from the source."),
                requeue_after=GROUP_EXPORT_LOOK,
                inputs=(tree.root.id, requested),
            )
        path = top.rsplit("/", 1)[-1]
        return self.make(
            ImportGroupTree(tree.root.id, path, tree.root.display_name,
                            self.spec.destination.parent),
            f"import the group tree of {tree.root.full_path} as {top}",
            self._migrating("Importing the group tree into the destination."),
            requeue_after=PROGRESS_LOOK,
            inputs=(tree.root.id, requested),
        )  # fmt: skip

    def _groups_missing(self, paths: list[str], what: str) -> Plan:
        shown = ", ".join(paths[:5]) + (" ..." if len(paths) > 5 else "")
        return self.make(
            AwaitGroups(),
            f"{what} missing on the destination: {shown}",
            Verdict(
                False,
                Reason.GROUPS_MISSING,
                f"Missing on the destination: {shown}. Create them, or set spec.groups to "
                "CreateMissing or GroupImport.",
            ),
            requeue_after=self.recheck,
            inputs=tuple(paths),
        )

    # -- projects -----------------------------------------------------------------------------

    def _projects(self, tree: SourceTree) -> Plan:
        root = tree.root.full_path
        projects = wanted(tree, self.spec, self.name)
        existing = {c.name: c for c in self.observed.children if c.name in projects}
        progress = self._migrating(f"Migrating: {_progress(existing.values(), len(projects))}.")
        orphans = tuple(name for name, child in existing.items() if not child.owned)
        if orphans:
            return self.make(
                AdoptChildren(orphans),
                f"adopt {len(orphans)} child pair(s) left by an earlier migration of this name",
                progress,
                requeue_after=self.polling.minimum,
                inputs=orphans,
            )
        unfinished = sum(c.phase not in SETTLED for c in existing.values())
        room = self.spec.max_in_flight - unfinished
        pairs: list[Pair] = []
        for name, project in projects.items():
            if len(pairs) >= CHILDREN_PER_PASS:
                break
            if name in existing and existing[name].complete:
                continue
            if name not in existing and len(pairs) >= room:
                continue
            namespace = destination_path(self.spec, project.full_path.rsplit("/", 1)[0], root)
            pairs.append(Pair(name, project.full_path, namespace))
        if pairs:
            return self.make(
                CreateChildren(tuple(pairs)),
                f"hand {len(pairs)} more project(s) to ProjectExport/ProjectImport pairs "
                f"({unfinished} under way, at most {self.spec.max_in_flight})",
                progress,
                requeue_after=self.polling.minimum,
                inputs=tuple(pair.name for pair in pairs),
            )
        return self._report(tuple(existing.values()), len(projects), progress)

    def _report(self, children: tuple[Child, ...], total: int, progress: Verdict) -> Plan:
        phases = Counter(child.phase for child in children)
        if phases[Phase.FINISHED] + phases[Phase.FAILED] < total:
            return self.make(
                Migrating(),
                f"{_progress(children, total)} migrated; looking again in {PROGRESS_LOOK:.0f}s",
                progress,
                requeue_after=PROGRESS_LOOK,
                inputs=(phases[Phase.FINISHED], phases[Phase.FAILED]),
            )
        resync = parse_duration(self.spec.resync_interval).total_seconds()
        if phases[Phase.FAILED]:
            failed = phases[Phase.FAILED]
            return self.make(
                Migrating(),
                f"{failed} of {total} project(s) failed; the rest are migrated",
                Verdict(
                    False,
                    Reason.PROJECTS_FAILED,
                    f"{failed} of {total} project(s) failed (see status.failures); the "
                    f"others are migrated.",
                ),
                requeue_after=resync,
                inputs=(total, failed),
            )
        return self.make(
            UpToDate(),
            f"all {total} project(s) and their groups are migrated; listing the source again "
            f"in {self.spec.resync_interval}",
            Verdict(True, Reason.FINISHED, f"Migrated {total} project(s)."),
            requeue_after=resync,
            inputs=(total,),
        )

    def _migrating(self, message: str) -> Verdict:
        return Verdict(False, Reason.MIGRATING, message, final=False)


def _progress(children: Iterable[Child], total: int) -> str:
    finished = sum(c.phase is Phase.FINISHED for c in children)
    return f"{finished}/{total} projects"


def eta(
    projects: Mapping[str, SourceProject],
    children: Iterable[Child],
    limits: Limits,
    now: datetime,
) -> datetime | None:
    """When the rest can be done at best: the slowest of GitLab's per-minute limits over the
    exports, imports and downloads still to make (downloads count per namespace unless the
    limits say per project)."""
    phases = {child.name: child.phase for child in children}
    unsettled = {name: p for name, p in projects.items() if phases.get(name) not in SETTLED}
    if not unsettled:
        return None
    exports = sum(
        phases.get(name, Phase.PENDING) in (Phase.PENDING, Phase.EXPORTING) for name in unsettled
    )
    per_scope = Counter(
        p.full_path.rsplit("/", 1)[0] if limits.downloads_per_namespace else p.full_path
        for p in unsettled.values()
    )
    minutes = max(
        exports / limits.export if limits.export else 0.0,
        len(unsettled) / limits.import_ if limits.import_ else 0.0,
        max(per_scope.values()) / limits.download if limits.download else 0.0,
    )
    return now + timedelta(minutes=math.ceil(minutes))
