"""Planning relation re-imports into an existing project (reconcile layer).

GitLab imports one relation at a time per project (409 while one is in progress) and answers
a request with a ``created`` tracker, so each relation is requested, then followed through
``relation-imports`` until it finishes, before the next. Pure.
"""

from __future__ import annotations

from datetime import datetime

from gitlab_ferry.api import parse_timestamp
from gitlab_ferry.api.project_import import RelationImport
from gitlab_ferry.gitlab_states import RELATION_IN_FLIGHT, RelationImportState, parse_state
from gitlab_ferry.gitlab_versions import Capability
from gitlab_ferry.reconcile.imports.actions import (
    AdoptRelationImport,
    AwaitRelationImport,
    ImportRelation,
)
from gitlab_ferry.reconcile.imports.observation import TrackerInfo
from gitlab_ferry.reconcile.imports.planner import ImportPlanner
from gitlab_ferry.reconcile.plan import Blocked, Plan, Reason, ReportFailure, UpToDate, Verdict
from gitlab_ferry.reconcile.timing import seconds_between


class RelationsPlanner(ImportPlanner):
    def plan_body(self) -> Plan:
        if not self.observed.gitlab.usable(Capability.IMPORT_RELATION):
            return self.unsupported(
                f"{self.observed.gitlab.why_not(Capability.IMPORT_RELATION)}, which re-imports "
                "relations; upgrade GitLab, or import the whole project with spec.overwrite"
            )
        at = self.observed.at_path
        if at is None:
            return self.make(
                Blocked(),
                f"relations are re-imported into an existing project, and none exists at "
                f"{self.observed.full_path}",
                Verdict(
                    False,
                    Reason.PROJECT_NOT_FOUND,
                    f"No project at {self.observed.full_path} to re-import relations into.",
                ),
                requeue_after=self.policy.recheck,
            )
        observed = {tracker.id: tracker for tracker in self.observed.trackers}
        failed: list[str] = []
        for relation in self.spec.relations or ():
            name = relation.value
            latest = self._latest(name)
            if latest is not None:
                tracker = observed.get(latest.id) if latest.id is not None else None
                state = (
                    tracker.state if tracker else parse_state(RelationImportState, latest.status)
                )
                if state is RelationImportState.FINISHED:
                    continue
                if state in RELATION_IN_FLIGHT:
                    return self._await(name, state, latest)
                if latest.requested_generation == self.generation:
                    # It failed for the current spec; an edit of the spec retries it.
                    failed.append(name)
                    continue
            adopted = self._relation_adoption(name)
            if adopted is not None:
                return adopted
            waiting = self.wait_for_export()
            if waiting is not None:
                return waiting
            return self.make(
                ImportRelation(name, at.path_with_namespace, at.id),
                f"re-import {name} into {at.path_with_namespace}",
                Verdict(False, Reason.IMPORTING, f"Re-importing {name}."),
                requeue_after=self.policy.polling.initial,
                inputs=(name, at.id, self.status.attempts + 1),
            )
        names = ", ".join(relation.value for relation in self.spec.relations or ())
        if failed:
            return self.make(
                ReportFailure(),
                f"relation import failed for {', '.join(failed)}; a spec change retries them",
                Verdict(
                    False,
                    Reason.RELATION_IMPORT_FAILED,
                    f"GitLab failed to re-import {', '.join(failed)}.",
                ),
                inputs=tuple(failed),
            )
        return self.make(
            UpToDate(),
            f"{names} re-imported into {at.path_with_namespace}",
            Verdict(True, Reason.FINISHED, f"Re-imported {names}."),
            inputs=(names,),
        )

    def _latest(self, relation: str) -> RelationImport | None:
        mine = [item for item in self.status.relation_imports if item.relation == relation]
        return mine[-1] if mine else None

    def _await(self, relation: str, state: RelationImportState, latest: RelationImport) -> Plan:
        elapsed = seconds_between(parse_timestamp(latest.created_at), self.now)
        delay = self.policy.polling.next_delay(elapsed, self.observed.expected_seconds)
        return self.make(
            AwaitRelationImport(),
            f"GitLab is re-importing {relation} ({state}); looking again in {delay:.0f}s",
            Verdict(False, Reason.IMPORTING, f"Re-importing {relation}: {state}."),
            requeue_after=delay,
            inputs=(relation, latest.id),
        )

    def _relation_adoption(self, relation: str) -> Plan | None:
        """A tracker created by a request recorded before a restart."""
        requested = self.requested_since(ImportRelation)
        if requested is None:
            return None
        known = {item.id for item in self.status.relation_imports}
        for tracker in sorted(self.observed.trackers, key=lambda t: t.id, reverse=True):
            if (
                tracker.relation == relation
                and tracker.id not in known
                and _created_after(tracker, requested, self.policy.adoption_window)
            ):
                return self.make(
                    AdoptRelationImport(tracker),
                    f"adopt relation import {tracker.id} ({relation}) recorded before a "
                    "restart instead of requesting another",
                    Verdict(False, Reason.IMPORTING, f"Re-importing {relation}."),
                    requeue_after=self.policy.polling.initial,
                    inputs=(relation, tracker.id),
                )
        return None


def _created_after(tracker: TrackerInfo, moment: datetime, window: float) -> bool:
    """Whether ``tracker`` may be the result of a request made at ``moment``."""
    created = tracker.created
    return created is not None and (moment - created).total_seconds() <= window
