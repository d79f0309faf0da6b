"""The ProjectImport recorder: ``begin`` (the write-ahead record before a request) and
``record_import`` (GitLab's fields verbatim, plan record, conditions), alone and pass by pass.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from reconcile_builders import IA as A
from reconcile_builders import (
    NOW,
    accepted,
    ago,
    at,
    field_of,
    import_obs,
    import_spec,
    import_status,
    project,
    tracked,
    tracker,
)

from gitlab_ferry.api import PlanPhase
from gitlab_ferry.reconcile.imports import begin_import, plan_import, record_import
from gitlab_ferry.reconcile.plan import Done, Failed, Problem, Throttled
from gitlab_ferry.reconcile.plan import Reason as R

GEN = 5
URL = import_spec()
FAILED_RELATION = {
    "id": 9,
    "created_at": "2025-06-02T11:59:00.000Z",
    "exception_class": "ActiveRecord::RecordInvalid",
    "exception_message": None,
    "source": "process_relation_item!",
    "relation_name": "issues",
    "line_number": 3,
}
STATS = {"total_objects": 10, "imported": {"issues": 7}, "failed": {"issues": 1}}
CREATED_201 = {
    "id": 90,
    "path_with_namespace": "team/app",
    "import_status": "scheduled",
    "import_type": "gitlab_project",
    "correlation_id": "c-201",
    "failed_relations": [],
    "import_error": None,
    "stats": None,
}


def conds(status):
    return {c.type: (c.status.value, c.reason) for c in status.conditions}


def reached_gitlab(outcome):
    """The controller's contract (``apply_budgeted``): the write-ahead status is the base of
    the record only when GitLab may have acted on the request."""
    if isinstance(outcome, Throttled):
        return False
    if isinstance(outcome, Failed):
        return outcome.sent and outcome.problem.transient
    return True


def step(spec, status, obs, now, outcome=None, relations=False):
    plan = plan_import(spec, GEN, status, obs, now)
    if plan.mutating and not plan.awaiting_approval:
        outcome = outcome or Done(None)
        begun = begin_import(status, plan, now)
        if reached_gitlab(outcome):
            status = begun
    return plan, record_import(GEN, relations, status, obs, plan, outcome, now)


def test_begin_import_resets_gitlab_fields_and_records_applying():
    old = import_status(
        project_id=77,
        import_status="failed",
        import_error="boom",
        failed_relations=[FAILED_RELATION],
        correlation_id="c-old",
        stats=STATS,
        source_sha256="ab" * 32,
        source_size=5,
        failure_generation=GEN - 1,
        finished_at=ago(hours=1),
        attempts=2,
    )
    obs = import_obs(at_path=project(12, archive=False))
    request = plan_import(import_spec(overwrite=True), GEN, import_status(attempts=2), obs, NOW)
    status = begin_import(old, request, NOW)
    assert status.plan is not None
    assert (status.plan.id, status.plan.phase, status.plan.destructive, status.plan.since) == (
        request.id,
        PlanPhase.APPLYING,
        True,
        NOW,
    )
    assert (status.started_at, status.finished_at, status.attempts) == (NOW, None, 3)
    assert status.replaced_project_id == 12
    cleared = (
        status.project_id,
        status.import_status,
        status.import_error,
        status.failed_relations,
        status.correlation_id,
        status.stats,
        status.source_sha256,
        status.source_size,
        status.failure_generation,
    )
    assert cleared == (None, None, None, [], None, None, None, None, None)
    assert old.project_id == 77, "begin must not mutate its input"


@pytest.mark.parametrize(
    ("started", "expected_start"),
    [
        pytest.param(None, NOW, id="first-relation-starts-the-clock"),
        pytest.param(ago(hours=1), ago(hours=1), id="later-relation-keeps-the-start"),
    ],
)
def test_begin_relation_counts_the_attempt(started, expected_start):
    spec = import_spec(relations=["issues"])
    old = import_status(
        attempts=1,
        started_at=started,
        finished_at=ago(60),
        project_id=10,
        failure_generation=GEN - 1,
        relation_imports=[{"id": 1, "relation": "issues", "status": "failed"}],
    )
    request = plan_import(spec, GEN, old, import_obs(at_path=project(10)), NOW)
    assert request.action.name == A.IMPORT_RELATION
    status = begin_import(old, request, NOW)
    assert (status.attempts, status.started_at, status.finished_at) == (2, expected_start, None)
    assert status.failure_generation is None, "the retry answers the recorded failure"
    assert status.project_id == 10
    assert status.plan is not None
    assert status.plan.phase == PlanPhase.APPLYING


def test_created_import_copies_the_201_body():
    _, status = step(
        URL,
        import_status(),
        import_obs(),
        NOW,
        Done(accepted(CREATED_201, "f" * 64, 7)),
    )
    assert (status.project_id, status.path_with_namespace, status.import_status) == (
        90,
        "team/app",
        "scheduled",
    )
    assert (status.correlation_id, status.import_error, status.failed_relations) == (
        "c-201",
        None,
        [],
    )
    assert (status.source_sha256, status.source_size, status.attempts) == ("f" * 64, 7, 1)
    assert status.plan is not None
    assert status.plan.phase == PlanPhase.APPLIED
    assert conds(status) == {"Ready": ("False", "Scheduled"), "Reconciling": ("True", "Scheduled")}


def test_tracked_import_fields_are_copied_verbatim():
    info = tracked(
        90,
        "finished",
        correlation_id="c-9",
        import_error="partial",
        failed_relations=(FAILED_RELATION,),
        stats=STATS,
    )
    recorded = import_status(project_id=90, started_at=ago(60), attempts=1)
    plan, status = step(URL, recorded, import_obs(tracked=info), NOW)
    assert plan.action.name == A.UP_TO_DATE
    assert (status.import_status, status.import_error, status.correlation_id) == (
        "finished",
        "partial",
        "c-9",
    )
    # Every field GitLab gave, nulls included; its time as the same instant in RFC 3339.
    recorded = [r.model_dump(mode="json") for r in status.failed_relations]
    assert recorded == [{**FAILED_RELATION, "created_at": "2025-06-02T11:59:00Z"}]
    assert status.stats == STATS
    assert status.finished_at == NOW
    assert conds(status) == {"Ready": ("True", "FinishedWithFailedRelations")}


def test_another_projects_import_is_not_copied():
    recorded = import_status(project_id=90, import_status="started", started_at=ago(60))
    obs = import_obs(tracked=tracked(91, "failed", import_error="not ours"))
    status = record_import(
        GEN, False, recorded, obs, plan_import(URL, GEN, recorded, obs, NOW), None, NOW
    )
    assert (status.project_id, status.import_status, status.import_error) == (90, "started", None)


def test_adoption_records_the_project_and_starts_the_clock():
    obs = import_obs(at_path=project(44, status="started"))
    plan, status = step(URL, import_status(), obs, NOW)
    assert plan.action.name == A.ADOPT
    assert (status.project_id, status.path_with_namespace) == (44, "team/app")
    assert (status.started_at, status.finished_at) == (NOW, None)


def test_adoption_after_a_restart_keeps_the_request_time():
    requested = ago(60)
    recorded = import_status(
        attempts=1,
        started_at=requested,
        plan={"id": "p", "action": A.IMPORT, "reason": "r", "phase": "Applying", "since": ago(60)},
    )
    obs = import_obs(at_path=project(90, status="started", created=ago(50)))
    plan, status = step(URL, recorded, obs, NOW)
    assert plan.action.name == A.ADOPT
    assert (status.project_id, status.started_at, status.attempts) == (90, requested, 1)


def test_failure_records_its_generation_once():
    recorded = import_status(project_id=90, started_at=ago(hours=1), attempts=1)
    obs = import_obs(tracked=tracked(90, "failed", import_error="Bad VERSION"))
    plan, status = step(URL, recorded, obs, NOW)
    assert plan.action.name == A.REPORT_FAILURE
    assert (status.failure_generation, status.finished_at) == (GEN, NOW)
    assert conds(status) == {"Ready": ("False", "Failed"), "Stalled": ("True", "Failed")}
    assert status.conditions[0].message == "Bad VERSION"
    _, again = step(URL, status, obs, at(hours=1))
    assert again.finished_at == NOW, "a concluded import keeps its finish time"
    assert again.conditions[0].last_transition_time == NOW


def test_relation_trackers_are_appended_and_refreshed():
    spec = import_spec(relations=["issues", "milestones"])
    here = import_obs(at_path=project(10))
    made = tracker(1, "issues", "created", created_at=NOW)
    plan, status = step(spec, import_status(), here, NOW, Done(made), True)
    assert plan.action.name == A.IMPORT_RELATION
    assert (status.project_id, status.path_with_namespace) == (10, "team/app")
    assert [(r.id, r.status) for r in status.relation_imports] == [(1, "created")]
    done = import_obs(at_path=project(10), trackers=(tracker(1, "issues", "finished"),))
    plan, status = step(spec, status, done, at(30), Done(tracker(2, "milestones", "created")), True)
    assert plan.action.name == A.IMPORT_RELATION
    assert field_of(plan.action, "relation") == "milestones"
    assert [(r.id, r.relation, r.status) for r in status.relation_imports] == [
        (1, "issues", "finished"),
        (2, "milestones", "created"),
    ]  # fmt: skip


def test_held_plan_is_recorded_as_awaiting_approval():
    spec = import_spec(overwrite=True, approval="Manual")
    obs = import_obs(at_path=project(12))
    plan, status = step(spec, import_status(), obs, NOW)
    assert plan.awaiting_approval
    assert status.plan is not None
    assert (status.plan.id, status.plan.phase, status.plan.destructive) == (
        plan.id,
        PlanPhase.AWAITING_APPROVAL,
        True,
    )
    assert status.attempts == 0, "nothing was applied"
    assert status.started_at is None, "nothing was applied"
    assert conds(status)["Ready"] == ("False", "AwaitingApproval")
    _, later = step(spec, status, obs, at(minutes=10))
    assert later.plan is not None
    assert later.plan.since == NOW


def test_import_lifecycle_pass_by_pass():
    status = import_status()
    passes = [
        (0, import_obs(), A.IMPORT, Done(accepted(CREATED_201))),
        (5, import_obs(tracked=tracked(90, "scheduled")), A.AWAIT, None),
        (30, import_obs(tracked=tracked(90, "started")), A.AWAIT, None),
        (90, import_obs(tracked=tracked(90, "finished", correlation_id="c")), A.UP_TO_DATE, None),
    ]  # fmt: skip
    for seconds, obs, action, outcome in passes:
        plan, status = step(URL, status, obs, at(seconds), outcome)
        assert plan.action.name == action, plan.reason
    assert (status.project_id, status.import_status, status.attempts) == (90, "finished", 1)
    assert (status.started_at, status.finished_at) == (NOW, at(90))
    assert conds(status) == {"Ready": ("True", "Finished")}
    assert status.observed_generation == GEN
    assert all(c.observed_generation == GEN for c in status.conditions)


def test_adopted_import_backs_off_and_times_out():
    _, status = step(URL, import_status(), import_obs(at_path=project(44, status="started")), NOW)
    running = import_obs(tracked=tracked(44, "started"))
    polled, status = step(URL, status, running, at(minutes=30))
    assert polled.requeue_after is not None
    assert polled.requeue_after > 5.0
    late, _ = step(URL, status, running, NOW + timedelta(hours=25))
    assert late.verdict.reason == "TimedOut"


def test_suspended_has_only_the_ready_condition():
    spec = import_spec(suspend=True)
    recorded = import_status(
        conditions=[
            {"type": kind, "status": truth, "reason": "Importing", "last_transition_time": ago(60)}
            for kind, truth in [("Ready", "False"), ("Reconciling", "True")]
        ]
    )
    plan, status = step(spec, recorded, import_obs(), NOW)
    assert plan.action.name == A.SUSPEND
    assert conds(status) == {"Ready": ("False", "Suspended")}


@pytest.mark.parametrize(
    "outcome",
    [
        pytest.param(Throttled(seconds=60, bucket="import", from_gitlab=True), id="gitlab-429"),
        pytest.param(Failed(Problem(R.PATH_TAKEN, "Path has already been taken")), id="refused"),
        pytest.param(
            Failed(Problem(R.SOURCE_UNAVAILABLE, "source 503", transient=True), sent=False),
            id="never-sent",
        ),
    ],
)
def test_request_gitlab_did_not_act_on_leaves_nothing_in_flight(outcome):
    """Recorded on the status from before the request: no attempt is counted, no request is
    left 'Applying' for a restart to adopt, and the next plan is the same request."""
    recorded = import_status()
    request, status = step(URL, recorded, import_obs(), NOW, outcome)
    assert request.action.name == A.IMPORT
    assert (status.started_at, status.attempts, status.project_id) == (None, 0, None)
    assert status.plan is not None
    assert status.plan.phase == PlanPhase.PLANNED
    again = plan_import(URL, GEN, status, import_obs(), at(61))
    assert (again.action.name, again.id, field_of(again.action, "attempt")) == (
        A.IMPORT,
        request.id,
        1,
    )


# -- known defects -------------------------------------------------------------------------


def test_adoption_after_an_earlier_import_restarts_the_clock():
    earlier = import_status(
        project_id=77,
        import_status="finished",
        started_at=ago(hours=25),
        finished_at=ago(hours=24),
        attempts=1,
    )
    obs = import_obs(tracked_missing=True, at_path=project(88, status="started"))
    plan, status = step(URL, earlier, obs, NOW)
    assert plan.action.name == A.ADOPT
    polled, _ = step(URL, status, import_obs(tracked=tracked(88, "started")), at(10))
    assert polled.action.name == A.AWAIT
