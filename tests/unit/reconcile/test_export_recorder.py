"""The ProjectExport recorder: ``begin_export`` (the write-ahead record before a request)
and ``record_export`` (status after a pass), alone and driven pass by pass with the planner.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from reconcile_builders import EA as A
from reconcile_builders import (
    NOW,
    RUN_KEY,
    S3ObjectInfo,
    ago,
    at,
    export_obs,
    export_spec,
    export_status,
    failed_run,
    field_of,
    open_run,
    succeeded,
)

from gitlab_ferry.api import Artifact, ArtifactLocation, PlanPhase
from gitlab_ferry.reconcile.conditions import verdict_of
from gitlab_ferry.reconcile.exports import (
    begin_export,
    export_spec_hash,
    plan_export,
    record_export,
)
from gitlab_ferry.reconcile.plan import Done, Failed, Problem, Throttled
from gitlab_ferry.reconcile.plan import Reason as R

GITLAB = export_spec()
S3 = export_spec("s3")
DAILY = export_spec(schedule="0 3 * * *")
GEN = 4


def conds(status):
    return {c.type: (c.status.value, c.reason) for c in status.conditions}


RECONCILING = [
    {"type": kind, "status": truth, "reason": "Exporting", "last_transition_time": ago(60)}
    for kind, truth in [("Ready", "False"), ("Reconciling", "True")]
]


def reached_gitlab(outcome):
    """The controller's contract (``apply_budgeted``): the write-ahead status is the base of
    the record only when GitLab may have acted on the request. A request refused by the
    budget or by GitLab (429, a non-transient error), or that never left the operator, is
    recorded on top of the status as it was before the request."""
    if isinstance(outcome, Throttled):
        return False
    if isinstance(outcome, Failed):
        return outcome.sent and outcome.problem.transient
    return True


def step(spec, status, obs, now, outcome=None):
    """One reconcile pass: plan, write ahead if mutating, apply (``outcome``), record."""
    plan = plan_export(spec, status, obs, now, name="app-export", namespace="ci")
    if plan.mutating:
        outcome = outcome or Done(None)
        begun = begin_export(spec, status, plan, now)
        if reached_gitlab(outcome):
            status = begun
    return plan, record_export(spec, GEN, status, obs, plan, outcome, now)


def last_good(spec, **fields):
    """The artifact of a good export made yesterday."""
    artifact = succeeded(spec, started=at(days=-1)).artifact
    assert artifact is not None
    return artifact.model_copy(update=fields)


# -- begin_export --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "key"),
    [
        pytest.param(GITLAB, None, id="gitlab"),
        pytest.param(S3, RUN_KEY, id="s3"),
        pytest.param(export_spec("upload"), None, id="upload"),
    ],
)
def test_begin_export_is_the_write_ahead_record(spec, key):
    recorded = succeeded(spec, links={"expires_at": ago(1)}, attempts=2, started=at(days=-1))
    request = plan_export(
        spec, export_status(), export_obs("none"), NOW, name="app-export", namespace="ci"
    )
    begun = begin_export(spec, recorded, request, NOW)
    assert begun.plan is not None
    assert (begun.plan.id, begun.plan.action, begun.plan.phase, begun.plan.since) == (
        request.id,
        A.REQUEST,
        PlanPhase.APPLYING,
        NOW,
    )
    assert (begun.started_at, begun.finished_at) == (NOW, None)
    assert (begun.attempts, begun.spec_hash) == (1, export_spec_hash(spec))
    assert begun.destination_key == key
    assert begun.links is None, "the request deletes the previous archive on GitLab"
    assert begun.artifact == recorded.artifact, "the last good archive stays recorded"
    assert begun.artifact is not None
    assert begun.artifact.created_at == at(days=-1, minutes=2)
    assert recorded.started_at != begun.started_at, "begin_export must not mutate its input"
    assert recorded.links is not None, "begin_export must not mutate its input"


# -- record_export -------------------------------------------------------------------------


def test_finished_run_concludes_with_artifact_links_and_next_export():
    recorded = open_run(DAILY, started=ago(minutes=3), seen="started")
    obs = export_obs(
        "finished",
        project_id=42,
        path_with_namespace="group/app",
        api_url="https://gitlab.example.com/api/v4/projects/42/export/download",
        web_url="https://gitlab.example.com/group/app/download_export",
    )
    plan = plan_export(DAILY, recorded, obs, NOW)
    status = record_export(DAILY, GEN, recorded, obs, plan, None, NOW)
    assert plan.action.name == A.UP_TO_DATE
    assert (status.export_status, status.project_id, status.path_with_namespace) == (
        "finished",
        42,
        "group/app",
    )
    assert status.artifact is not None
    assert status.artifact.created_at == NOW
    assert status.finished_at == NOW
    assert status.links is not None
    assert (status.links.api_url, status.links.web_url) == (obs.api_url, obs.web_url)
    assert status.links.expires_at == at(minutes=-3) + timedelta(hours=24)
    assert status.next_export_at == datetime(2025, 6, 3, 3, 0, tzinfo=UTC)
    assert conds(status) == {"Ready": ("True", "Finished")}
    assert status.observed_generation == GEN
    assert status.plan is not None
    assert status.plan.phase == PlanPhase.PLANNED


def test_s3_conclusion_records_the_uploaded_object():
    previous = last_good(S3, size=1, etag='"old"', sha256="ab" * 32)
    recorded = open_run(S3, seen="started", destination_key="k", artifact=previous)
    obs = export_obs("finished", uploaded=S3ObjectInfo(size=2048, etag='"abc"'))
    status = record_export(S3, GEN, recorded, obs, plan_export(S3, recorded, obs, NOW), None, NOW)
    assert status.artifact == Artifact(
        location=ArtifactLocation.S3,
        bucket="backups",
        key="k",
        region="eu-west-1",
        size=2048,
        etag='"abc"',
        created_at=NOW,
    ), "a new artifact from the spec, destinationKey and the observed upload"
    assert status.destination_key == "k"


@pytest.mark.parametrize(
    ("attempts", "action", "conditions"),
    [
        pytest.param(1, A.RETRY_LATER, "Failed", id="retry-later-concludes-the-attempt"),
        pytest.param(3, A.REPORT_FAILURE, "Failed", id="report-failure-concludes-and-stalls"),
    ],
)
def test_failed_run_is_concluded(attempts, action, conditions):
    recorded = open_run(GITLAB, seen="started", attempts=attempts, artifact=last_good(GITLAB))
    obs = export_obs("failed")
    plan = plan_export(GITLAB, recorded, obs, NOW)
    status = record_export(GITLAB, GEN, recorded, obs, plan, None, NOW)
    assert plan.action.name == action
    assert (status.finished_at, status.export_status) == (NOW, "failed")
    assert status.artifact == recorded.artifact, "a failure keeps the last good archive"
    assert conds(status)["Ready"] == ("False", conditions)
    if action == A.REPORT_FAILURE:
        assert conds(status)["Stalled"] == ("True", "Failed")
        assert "Reconciling" not in conds(status)
    else:
        assert conds(status)["Reconciling"] == ("True", "Failed")
        assert "Stalled" not in conds(status)


def test_a_problem_keeps_what_was_observed_before():
    recorded = succeeded(GITLAB, project_id=42, path_with_namespace="group/app")
    obs = export_obs(None, problem=Problem(R.UNAUTHORIZED, "401 Unauthorized"))
    plan = plan_export(GITLAB, recorded, obs, NOW)
    status = record_export(GITLAB, GEN, recorded, obs, plan, None, NOW)
    assert (status.export_status, status.project_id) == ("finished", 42)
    assert conds(status) == {
        "Ready": ("False", "Unauthorized"),
        "Stalled": ("True", "Unauthorized"),
    }
    assert status.conditions[0].message == "401 Unauthorized"


def test_throttled_request_is_planned_not_applied():
    recorded = export_status()
    obs = export_obs("none")
    request = plan_export(GITLAB, recorded, obs, NOW)
    throttle = Throttled(seconds=42, bucket="export")
    verdict = verdict_of(request, throttle)
    assert (verdict.ready, verdict.reason, verdict.stalled) == (False, R.THROTTLED, False)
    assert "42s" in verdict.message
    assert "rate-limit budget" in verdict.message
    from_gitlab = verdict_of(request, Throttled(seconds=60, bucket="export", from_gitlab=True))
    assert "GitLab answered 429" in from_gitlab.message
    status = record_export(GITLAB, GEN, recorded, obs, request, throttle, NOW)
    assert status.plan is not None
    assert (status.plan.id, status.plan.phase) == (request.id, PlanPhase.PLANNED)
    assert conds(status) == {"Ready": ("False", "Throttled"), "Reconciling": ("True", "Throttled")}


@pytest.mark.parametrize(
    ("outcome", "phase", "ready"),
    [
        pytest.param(Done(None), PlanPhase.APPLIED, "Scheduled", id="done"),
        pytest.param(
            Failed(Problem(R.GITLAB_ERROR, "400 size", transient=False)),
            PlanPhase.PLANNED,
            "GitLabError",
            id="failed",
        ),
        pytest.param(
            Failed(Problem(R.GITLAB_UNAVAILABLE, "read timeout", transient=True)),
            PlanPhase.PLANNED,
            "GitLabUnavailable",
            id="maybe-sent",
        ),
    ],
)
def test_request_outcome_sets_phase_and_ready(outcome, phase, ready):
    request = plan_export(GITLAB, export_status(), export_obs("none"), NOW)
    begun = begin_export(GITLAB, export_status(), request, NOW)
    base = begun if reached_gitlab(outcome) else export_status()
    status = record_export(GITLAB, GEN, base, export_obs("none"), request, outcome, NOW)
    assert status.plan is not None
    assert status.plan.phase == phase
    assert conds(status)["Ready"] == ("False", ready)


# -- pass by pass --------------------------------------------------------------------------


def test_lifecycle_from_request_to_up_to_date():
    status = export_status()
    passes = [
        (0, "none", A.REQUEST),
        (30, "queued", A.AWAIT),
        (90, "started", A.AWAIT),
        (150, "finished", A.UP_TO_DATE),
        (900, "finished", A.UP_TO_DATE),
    ]
    for seconds, seen, action in passes:
        plan, status = step(DAILY, status, export_obs(seen), at(seconds))
        assert plan.action.name == action, (seconds, plan.reason)
    assert status.attempts == 1
    assert status.started_at == NOW
    assert status.artifact is not None
    assert status.artifact.created_at == at(150)
    assert status.finished_at == at(150), "a later pass must not conclude again"
    assert status.links is not None
    assert status.links.expires_at == at(hours=24)
    assert status.next_export_at == datetime(2025, 6, 3, 3, 0, tzinfo=UTC)


def test_failures_are_retried_then_reported_without_looping():
    status = export_status()
    clock = NOW
    actions = []
    for _ in range(3):
        plan, status = step(GITLAB, status, export_obs("none"), clock)
        actions.append((plan.action.name, status.attempts))
        clock += timedelta(minutes=2)
        plan, status = step(GITLAB, status, export_obs("failed"), clock)
        actions.append((plan.action.name, status.attempts))
        clock += timedelta(minutes=2)
    assert actions == [
        (A.REQUEST, 1),
        (A.RETRY_LATER, 1),
        (A.REQUEST, 2),
        (A.RETRY_LATER, 2),
        (A.REQUEST, 3),
        (A.REPORT_FAILURE, 3),
    ]
    for hours in (1, 30, 200):
        plan, status = step(GITLAB, status, export_obs("failed"), clock + timedelta(hours=hours))
        assert (plan.action.name, plan.mutating) == (A.REPORT_FAILURE, False)
    assert conds(status)["Stalled"] == ("True", "Failed")
    plan, _ = step(export_spec(description="fixed"), status, export_obs("failed"), clock)
    assert (plan.action.name, field_of(plan.action, "attempt")) == (A.REQUEST, 1)


def test_destination_key_flows_from_begin_to_artifact():
    daily = export_spec("s3", schedule="0 3 * * *")
    status = succeeded(daily, started=datetime(2025, 6, 1, 3, 0, tzinfo=UTC))
    previous = status.artifact
    assert previous is not None
    assert previous.key == "backups/ci/app-export/group/app/2025-06-01.tar.gz"
    plan, status = step(daily, status, export_obs("none"), NOW)
    assert plan.action.name == A.REQUEST
    assert field_of(plan.action, "s3_key") == RUN_KEY
    assert status.destination_key == RUN_KEY
    for seconds, seen in [(30, "queued"), (90, "started")]:
        plan, status = step(daily, status, export_obs(seen), at(seconds))
        assert plan.action.name == A.AWAIT
        assert status.artifact == previous, "the last good archive is kept during a run"
    uploaded = export_obs("finished", uploaded=S3ObjectInfo(size=99, etag='"e"'))
    plan, status = step(daily, status, uploaded, at(150))
    assert plan.action.name == A.UP_TO_DATE
    assert status.artifact is not None
    assert (status.artifact.key, status.artifact.size, status.artifact.created_at) == (
        RUN_KEY,
        99,
        at(150),
    )
    assert status.next_export_at == datetime(2025, 6, 3, 3, 0, tzinfo=UTC)


def test_upload_missing_names_the_destination_key():
    previous = last_good(S3)
    recorded = open_run(S3, seen="started", destination_key="runs/Today.tgz", artifact=previous)
    plan = plan_export(S3, recorded, export_obs("finished"), NOW)
    assert (plan.action.name, plan.verdict.reason) == (A.RETRY_LATER, R.UPLOAD_MISSING)
    assert "s3://backups/runs/Today.tgz does not exist" in plan.verdict.message


@pytest.mark.parametrize(
    ("spec", "status"),
    [
        pytest.param(export_spec(suspend=True), export_status(), id="fresh"),
        pytest.param(export_spec(suspend=True), failed_run(GITLAB, attempts=3), id="gave-up"),
        pytest.param(
            export_spec(suspend=True),
            open_run(GITLAB, seen="started", conditions=RECONCILING),
            id="was-reconciling",
        ),
    ],
)
def test_suspended_has_only_the_ready_condition(spec, status):
    plan = plan_export(spec, status, export_obs("none"), NOW)
    recorded = record_export(spec, GEN, status, export_obs("none"), plan, None, NOW)
    assert conds(recorded) == {"Ready": ("False", "Suspended")}


def test_failure_message_keeps_the_case_of_names():
    for attempts, action in [(1, A.RETRY_LATER), (3, A.REPORT_FAILURE)]:
        recorded = open_run(S3, seen="started", attempts=attempts, destination_key="Backups/K")
        plan = plan_export(S3, recorded, export_obs("finished"), NOW)
        assert (plan.action.name, plan.verdict.reason) == (action, R.UPLOAD_MISSING)
        assert plan.verdict.message.startswith("GitLab finished the export")
        assert "s3://backups/Backups/K does not exist" in plan.verdict.message


# -- requests GitLab did not act on ----------------------------------------------------------


@pytest.mark.parametrize(
    "outcome",
    [
        pytest.param(Throttled(seconds=60, bucket="export", from_gitlab=True), id="gitlab-429"),
        pytest.param(Throttled(seconds=60, bucket="export"), id="budget"),
        pytest.param(Failed(Problem(R.GITLAB_ERROR, "400 Bad request")), id="refused"),
        pytest.param(
            Failed(Problem(R.STORAGE_UNAVAILABLE, "cannot sign", transient=True), sent=False),
            id="never-sent",
        ),
    ],
)
@pytest.mark.parametrize(
    ("recorded", "attempt"),
    [
        pytest.param(export_status(), 1, id="first"),
        pytest.param(failed_run(GITLAB, attempts=1, artifact=last_good(GITLAB)), 2, id="retry"),
    ],
)
def test_request_gitlab_did_not_act_on_is_requested_again(recorded, attempt, outcome):
    """Recorded on the status from before the request (the controller drops the write-ahead
    record), it leaves no open run, so no attempt is counted and no acceptance awaited."""
    obs = export_obs("none")
    request = plan_export(GITLAB, recorded, obs, NOW)
    assert (request.action.name, field_of(request.action, "attempt")) == (A.REQUEST, attempt)
    status = record_export(GITLAB, GEN, recorded, obs, request, outcome, NOW)
    assert (status.started_at, status.attempts) == (recorded.started_at, recorded.attempts)
    assert status.artifact == recorded.artifact
    assert status.plan is not None
    assert status.plan.phase == PlanPhase.PLANNED
    again = plan_export(GITLAB, status, obs, at(61))
    assert (again.action.name, again.id) == (A.REQUEST, request.id)


def test_request_that_may_have_reached_gitlab_is_awaited():
    """A transient failure after the request was sent (a timeout) keeps the write-ahead
    record: GitLab may have accepted it, and a second POST would delete its archive."""
    maybe = Failed(Problem(R.GITLAB_UNAVAILABLE, "read timeout", transient=True))
    _, status = step(GITLAB, export_status(), export_obs("none"), NOW, maybe)
    assert (status.started_at, status.attempts) == (NOW, 1)
    plan, _ = step(GITLAB, status, export_obs("none"), at(61))
    assert plan.action.name == A.AWAIT


# -- schedules ------------------------------------------------------------------------------


def test_scheduled_export_that_gave_up_restarts_at_next_run():
    daily = export_spec("s3", schedule="0 3 * * *")
    status = export_status()
    clock = NOW
    for seen in ["none", "failed"] * 3:
        plan, status = step(daily, status, export_obs(seen), clock)
        clock += timedelta(minutes=2)
    assert (plan.action.name, status.attempts) == (A.REPORT_FAILURE, 3)
    assert conds(status)["Stalled"] == ("True", "Failed")
    assert status.next_export_at == datetime(2025, 6, 3, 3, 0, tzinfo=UTC)
    waiting, status = step(daily, status, export_obs("failed"), clock)
    assert waiting.action.name == A.REPORT_FAILURE
    next_run = datetime(2025, 6, 3, 3, 0, tzinfo=UTC)
    assert waiting.requeue_after == (next_run - clock).total_seconds()
    plan, status = step(daily, status, export_obs("failed"), next_run + timedelta(minutes=1))
    assert (plan.action.name, field_of(plan.action, "attempt"), status.attempts) == (
        A.REQUEST,
        1,
        1,
    )
    assert "schedule" in plan.reason


# -- known defects -------------------------------------------------------------------------


def test_exhausting_pass_of_a_scheduled_export_requeues_at_next_run():
    daily = export_spec("s3", schedule="0 3 * * *")
    recorded = open_run(daily, seen="started", attempts=3)
    plan = plan_export(daily, recorded, export_obs("failed"), NOW)
    assert plan.action.name == A.REPORT_FAILURE
    assert plan.requeue_after == 15 * 3600.0


def test_gave_up_does_not_report_a_transient_problem_as_its_failure():
    last = open_run(GITLAB, seen="started", attempts=3)
    _, status = step(GITLAB, last, export_obs("failed"), NOW)
    blip = export_obs(problem=Problem(R.GITLAB_UNAVAILABLE, "503 Service Unavailable", True))
    _, status = step(GITLAB, status, blip, at(30))
    plan, status = step(GITLAB, status, export_obs("failed"), at(90))
    assert (plan.action.name, plan.verdict.reason) == (A.REPORT_FAILURE, R.FAILED)
    assert "503" not in plan.verdict.message
    assert "failed 3 time" in plan.verdict.message
    assert status.conditions[0].reason == R.FAILED
