"""Relation re-imports (one relation at a time, each followed through its tracker) and what
happens on GitLab when a ProjectImport is deleted.
"""

from __future__ import annotations

import pytest
from reconcile_builders import IA as A
from reconcile_builders import (
    NOW,
    Expect,
    ago,
    assert_plan,
    at,
    export_source,
    field_of,
    import_obs,
    import_spec,
    import_status,
    project,
    tracker,
)

from gitlab_ferry.api import rfc3339
from gitlab_ferry.reconcile.imports import ExportSource, begin_import, plan_import, record_import
from gitlab_ferry.reconcile.imports.deletion import DeletionObservation, plan_deletion
from gitlab_ferry.reconcile.plan import Done, Problem
from gitlab_ferry.reconcile.plan import Reason as R

GEN = 3
RELATIONS = import_spec("url", relations=["issues", "milestones"])
TARGET = project(10)
HERE = import_obs(at_path=TARGET)


def recorded(*items, **fields):
    """A status with relation-import records ``(id, relation, status, created_at[, generation])``;
    the generation the operator requested a record for defaults to the current one."""
    return import_status(
        relation_imports=[
            {
                "id": i,
                "relation": rel,
                "status": st,
                "created_at": rfc3339(created),
                "requested_generation": rest[0] if rest else GEN,
            }
            for i, rel, st, created, *rest in items
        ],
        **fields,
    )


def requesting(relation):
    return Expect(
        A.IMPORT_RELATION,
        False,
        R.IMPORTING,
        5.0,
        mutating=True,
        params={"relation": relation, "path": "team/app", "project_id": 10},
    )


def restarted(*items, **fields):
    """Recorded as applying an ImportRelation 30 s ago, then the operator restarted."""
    plan = {"id": "p", "action": A.IMPORT_RELATION, "reason": "r", "phase": "Applying"}
    return recorded(*items, plan={**plan, "since": ago(30)}, attempts=1, **fields)


RELATION_CASES = [
    pytest.param(
        RELATIONS, recorded(), import_obs(at_path=None),
        Expect(A.BLOCKED, False, R.PROJECT_NOT_FOUND, 300.0, stalled=True),
        id="no-project-to-import-into-blocks",
    ),
    pytest.param(RELATIONS, recorded(), HERE, requesting("issues"),
                 id="first-relation-requested-first"),
    pytest.param(
        RELATIONS, recorded((1, "issues", "finished", ago(90))), HERE, requesting("milestones"),
        id="finished-relation-skipped-next-requested",
    ),
    pytest.param(
        RELATIONS, recorded((1, "issues", "created", ago(20))),
        import_obs(at_path=TARGET, trackers=(tracker(1, "issues", "started"),)),
        Expect(A.AWAIT_RELATION, False, R.IMPORTING, 20.0),
        id="in-flight-tracker-awaited",
    ),
    pytest.param(
        RELATIONS, recorded((1, "issues", "created", ago(20))), HERE,
        Expect(A.AWAIT_RELATION, False, R.IMPORTING, 20.0),
        id="recorded-created-tracker-awaited-when-not-listed",
    ),
    pytest.param(
        RELATIONS, recorded((1, "issues", "started", ago(20))),
        import_obs(at_path=TARGET, trackers=(tracker(1, "issues", "finished"),)),
        requesting("milestones"),
        id="observed-tracker-state-wins-over-recorded",
    ),
    pytest.param(
        RELATIONS,
        recorded((1, "issues", "finished", ago(90)), (2, "milestones", "finished", ago(60))),
        HERE,
        Expect(A.UP_TO_DATE, True, R.FINISHED, None, says="issues, milestones"),
        id="all-finished-is-up-to-date",
    ),
    pytest.param(
        RELATIONS, restarted(),
        import_obs(at_path=TARGET,
                   trackers=(tracker(7, "issues", "created", created_at=ago(20)),)),
        Expect(A.ADOPT_RELATION, False, R.IMPORTING, 5.0),
        id="tracker-created-before-restart-adopted",
    ),
    pytest.param(
        RELATIONS, restarted(),
        import_obs(at_path=TARGET,
                   trackers=(tracker(7, "issues", "finished", created_at=ago(hours=2)),)),
        requesting("issues"),
        id="old-tracker-from-before-the-request-not-adopted",
    ),
    pytest.param(
        RELATIONS,
        restarted((7, "issues", "failed", ago(minutes=5), GEN - 1), failure_generation=GEN - 1),
        import_obs(at_path=TARGET,
                   trackers=(tracker(7, "issues", "failed", created_at=ago(minutes=5)),)),
        requesting("issues"),
        id="retry-after-restart-does-not-adopt-the-failed-tracker-it-retries",
    ),
    pytest.param(
        RELATIONS,
        recorded((1, "issues", "failed", ago(90)), (2, "milestones", "finished", ago(60))),
        HERE,
        Expect(A.REPORT_FAILURE, False, R.RELATION_IMPORT_FAILED, None, stalled=True,
               says="issues"),
        id="failed-relation-reported",
    ),
    pytest.param(
        RELATIONS, recorded((1, "issues", "failed", ago(90))), HERE, requesting("milestones"),
        id="failed-relation-does-not-stop-the-next",
    ),
    pytest.param(
        RELATIONS, recorded((1, "issues", "failed", ago(90)), failure_generation=GEN),
        import_obs(at_path=TARGET, trackers=(tracker(1, "issues", "failed"),)),
        requesting("milestones"),
        id="failed-relation-same-generation-not-retried",
    ),
    pytest.param(
        RELATIONS, recorded((1, "issues", "failed", ago(90), GEN - 1), failure_generation=GEN - 1),
        HERE, requesting("issues"),
        id="newer-generation-retries-failed-relation",
    ),
    pytest.param(
        import_spec("exportRef", relations=["issues"]), recorded(),
        import_obs(at_path=TARGET, export=ExportSource(exists=True, ready=False)),
        Expect(A.WAIT_FOR_EXPORT, False, R.WAITING_FOR_EXPORT, 60.0),
        id="relations-wait-for-the-export",
    ),
    pytest.param(
        import_spec("exportRef", relations=["issues"]), recorded(),
        import_obs(at_path=TARGET, export=export_source()),
        requesting("issues"),
        id="relations-from-a-ready-export",
    ),
    pytest.param(
        import_spec(relations=["issues"], suspend=True), recorded(), HERE,
        Expect(A.SUSPEND, False, R.SUSPENDED, None),
        id="suspended-relations-send-nothing",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "status", "obs", "expect"), RELATION_CASES)
def test_relations_plan(spec, status, obs, expect):
    assert_plan(plan_import(spec, GEN, status, obs, NOW), expect)


def test_adopted_tracker_is_handed_to_the_recorder():
    obs = import_obs(
        at_path=TARGET, trackers=(tracker(7, "issues", "created", created_at=ago(20)),)
    )
    adopt = plan_import(RELATIONS, GEN, restarted(), obs, NOW)
    assert field_of(adopt.action, "tracker") == obs.trackers[0]
    status = record_import(GEN, True, restarted(), obs, adopt, None, NOW)
    assert [(r.id, r.relation, r.status) for r in status.relation_imports] == [
        (7, "issues", "created")
    ]


def test_relation_plan_id_is_stable_and_follows_the_relation():
    first = plan_import(RELATIONS, GEN, recorded(), HERE, NOW)
    assert first.id == plan_import(RELATIONS, GEN, recorded(), HERE, at(minutes=1)).id
    done = recorded((1, "issues", "finished", ago(90)), attempts=1)
    assert plan_import(RELATIONS, GEN, done, HERE, NOW).id != first.id


def test_relation_failing_again_after_a_retry_is_reported():
    status = recorded((1, "issues", "failed", ago(hours=1), GEN - 1), failure_generation=GEN - 1)
    spec = import_spec("url", relations=["issues"])
    retry = plan_import(spec, GEN, status, HERE, NOW)
    assert retry.action.name == A.IMPORT_RELATION
    status = begin_import(status, retry, NOW)
    created = tracker(2, "issues", "created", created_at=ago(0))
    status = record_import(GEN, True, status, HERE, retry, Done(created), NOW)
    failed_again = import_obs(at_path=TARGET, trackers=(tracker(2, "issues", "failed"),))
    after = plan_import(spec, GEN, status, failed_again, at(minutes=5))
    assert after.action.name == A.REPORT_FAILURE
    status = record_import(GEN, True, status, failed_again, after, None, at(minutes=5))
    assert status.failure_generation == GEN


def test_every_failed_relation_is_retried_after_an_edit():
    status = recorded(
        (1, "issues", "failed", ago(hours=1), GEN - 1),
        (2, "milestones", "failed", ago(hours=1), GEN - 1),
        failure_generation=GEN - 1,
    )
    retry = plan_import(RELATIONS, GEN, status, HERE, NOW)
    assert_plan(retry, requesting("issues"))
    status = begin_import(status, retry, NOW)
    created = tracker(3, "issues", "created", created_at=ago(0))
    status = record_import(GEN, True, status, HERE, retry, Done(created), NOW)
    issues_done = import_obs(at_path=TARGET, trackers=(tracker(3, "issues", "finished"),))
    assert_plan(plan_import(RELATIONS, GEN, status, issues_done, at(60)), requesting("milestones"))


# -- deletion ------------------------------------------------------------------------------

DELETE = import_spec(deletionPolicy="Delete")
DELETE_MANUAL = import_spec(deletionPolicy="Delete", approval="Manual")
IMPORTED = import_status(project_id=77, path_with_namespace="team/app")
EXISTS = DeletionObservation(project_exists=True)
RELEASE = Expect(A.RELEASE, False, R.DELETING, None)
DELETING = Expect(
    A.DELETE_PROJECT, False, R.DELETING, None, mutating=True, destructive=True,
    params={"project_id": 77},
)  # fmt: skip

DELETION_CASES = [
    pytest.param(import_spec(), IMPORTED, EXISTS, RELEASE, id="orphan-releases"),
    pytest.param(DELETE, IMPORTED, EXISTS, DELETING, id="delete-deletes-the-imported-project"),
    pytest.param(
        # The models refuse this combination; the planner still never deletes for it.
        import_spec(relations=["issues"]).model_copy(update={"deletion_policy": "Delete"}),
        IMPORTED, EXISTS, RELEASE,
        id="relations-never-delete",
    ),
    pytest.param(DELETE, import_status(), EXISTS, RELEASE, id="nothing-imported-releases"),
    pytest.param(
        DELETE, IMPORTED, DeletionObservation(project_exists=False), RELEASE,
        id="project-already-gone-releases",
    ),
    pytest.param(
        DELETE, IMPORTED, DeletionObservation(project_exists=None),
        Expect(A.BLOCKED, False, R.DELETING, 60.0, says="unknown"),
        id="unknown-existence-blocks-instead-of-releasing",
    ),
    pytest.param(
        DELETE, IMPORTED, DeletionObservation(project_exists=True, marked_for_deletion=True),
        RELEASE, id="project-being-deleted-releases",
    ),
    pytest.param(
        DELETE_MANUAL, IMPORTED, EXISTS,
        Expect(A.DELETE_PROJECT, False, R.AWAITING_APPROVAL, None, mutating=True,
               destructive=True, awaiting_approval=True),
        id="manual-approval-holds-deletion",
    ),
    pytest.param(
        DELETE, IMPORTED,
        DeletionObservation(problem=Problem(R.GITLAB_UNAVAILABLE, "503", True, retry_after=20)),
        Expect(A.BLOCKED, False, R.GITLAB_UNAVAILABLE, 20.0, says="deletionPolicy to Orphan"),
        id="unreachable-gitlab-blocks-and-names-the-way-out",
    ),
    pytest.param(
        DELETE, IMPORTED, DeletionObservation(problem=Problem(R.FORBIDDEN, "403")),
        Expect(A.BLOCKED, False, R.FORBIDDEN, None, stalled=True, says="Orphan"),
        id="forbidden-blocks-and-stalls",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "status", "obs", "expect"), DELETION_CASES)
def test_deletion_plan(spec, status, obs, expect):
    assert_plan(plan_deletion(spec, status, obs), expect)


def test_approved_deletion_is_applied():
    held = plan_deletion(DELETE_MANUAL, IMPORTED, EXISTS)
    approved = plan_deletion(
        DELETE_MANUAL, IMPORTED, DeletionObservation(project_exists=True, approved_plan=held.id)
    )
    assert_plan(approved, DELETING)
    assert approved.id == held.id
    other = plan_deletion(DELETE_MANUAL, import_status(project_id=78), EXISTS)
    assert other.id != held.id, "approving one project's deletion must not approve another's"
