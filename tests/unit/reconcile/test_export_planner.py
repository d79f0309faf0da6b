"""The ProjectExport planner as a table: (spec, recorded status, observation, now) -> Plan.

GitLab's export hazards drive the cases: a POST deletes the caller's archive, so it is never
sent while an export is queued or running; ``none`` after ``started`` is a silent failure;
exports can hang; archives kept on GitLab expire after about 24 h.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from reconcile_builders import EA as A
from reconcile_builders import (
    NOW,
    Expect,
    S3ObjectInfo,
    ago,
    assert_plan,
    at,
    export_obs,
    export_spec,
    export_status,
    failed_run,
    field_of,
    open_run,
    succeeded,
)

from gitlab_ferry.api import rfc3339
from gitlab_ferry.reconcile.exports import ExportPolicy, plan_export
from gitlab_ferry.reconcile.plan import STALLED_REASONS, Problem
from gitlab_ferry.reconcile.plan import Reason as R
from gitlab_ferry.reconcile.timing import Polling

GITLAB = export_spec()
S3 = export_spec("s3")
UPLOAD = export_spec("upload")
DAILY_S3 = export_spec("s3", schedule="0 3 * * *")
DAILY_GITLAB = export_spec(schedule="0 3 * * *")
MAX_AGE_S3 = export_spec("s3", max_age="24h")
MAX_AGE_GITLAB = export_spec(max_age="12h")
SUSPENDED = export_spec(suspend=True)
READY_TIMED_OUT = {
    "type": "Ready",
    "status": "False",
    "reason": "TimedOut",
    "message": "Gave up.",
    "last_transition_time": ago(minutes=5),
}
#: Yesterday, ten minutes before ``NOW``: a run started then is followed by a 03:00 run.
YESTERDAY = rfc3339(at(days=-1, minutes=-10))

REQUEST_FIRST = Expect(A.REQUEST, False, R.SCHEDULED, 5.0, mutating=True, params={"attempt": 1})


def plan(spec, status, obs, now=NOW, policy=None):
    return plan_export(spec, status, obs, now, policy, name="app-export", namespace="ci")


E = Expect
# Observations used by several cases.
NONE, QUEUED, STARTED = export_obs("none"), export_obs("queued"), export_obs("started")
FINISHED, FAILED = export_obs("finished"), export_obs("failed")
FRESH = export_status()
#: A retry the operator makes by itself: Reconciling, never Stalled (``final=False``).
RETRY = {"requeue_after": 60.0, "stalled": False}


def awaiting(**ago_args):
    """A recorded AwaitExport plan that has been polling since ``ago(**ago_args)``."""
    return {"id": "p", "action": A.AWAIT, "reason": "r", "phase": "Planned",
            "since": ago(**ago_args)}  # fmt: skip


def problem(reason, transient=False, retry_after=None):
    return export_obs(None, problem=Problem(reason, "m", transient, retry_after))


CASES = [
    # -- first export ---------------------------------------------------------------------
    pytest.param(GITLAB, FRESH, NONE, REQUEST_FIRST, id="fresh-none-requests"),
    pytest.param(GITLAB, FRESH, export_obs(None), REQUEST_FIRST, id="fresh-no-status-requests"),
    pytest.param(GITLAB, FRESH, QUEUED, E(A.AWAIT, False, R.EXPORTING, 5.0),
                 id="fresh-gitlab-already-queued-awaits-never-posts"),
    pytest.param(GITLAB, FRESH, STARTED, E(A.AWAIT, False, R.EXPORTING, 5.0),
                 id="fresh-gitlab-already-started-awaits-never-posts"),
    # -- the run this object requested ----------------------------------------------------
    pytest.param(GITLAB, open_run(GITLAB, started=ago(20)), QUEUED,
                 E(A.AWAIT, False, R.SCHEDULED, 20.0), id="open-run-queued-awaits-scheduled"),
    pytest.param(GITLAB, open_run(GITLAB, started=ago(40), seen="queued"), STARTED,
                 E(A.AWAIT, False, R.EXPORTING, 40.0), id="open-run-started-awaits-exporting"),
    pytest.param(GITLAB, open_run(GITLAB, started=ago(minutes=30)),
                 export_obs("regeneration_in_progress"), E(A.AWAIT, False, R.EXPORTING, 60.0),
                 id="open-run-regenerating-awaits-with-capped-delay"),
    pytest.param(GITLAB, open_run(GITLAB, seen="started"), FINISHED,
                 E(A.UP_TO_DATE, True, R.FINISHED, None), id="open-run-finished-is-up-to-date"),
    pytest.param(S3, open_run(S3, seen="started"),
                 export_obs("finished", uploaded=S3ObjectInfo(size=10, etag="e")),
                 E(A.UP_TO_DATE, True, R.FINISHED, None),
                 id="s3-finished-and-uploaded-is-up-to-date"),
    pytest.param(S3, open_run(S3, seen="started", attempts=1), FINISHED,
                 E(A.RETRY_LATER, False, R.UPLOAD_MISSING, **RETRY),
                 id="s3-finished-but-object-missing-retries"),
    pytest.param(S3, open_run(S3, seen="started", attempts=3), FINISHED,
                 E(A.REPORT_FAILURE, False, R.UPLOAD_MISSING, None, stalled=True),
                 id="s3-object-missing-after-max-attempts-reports-failure"),
    pytest.param(GITLAB, open_run(GITLAB, started=ago(minutes=5), seen="started"), NONE,
                 E(A.RETRY_LATER, False, R.FAILED, **RETRY, says="went from exporting"),
                 id="none-after-started-is-a-silent-failure"),
    pytest.param(GITLAB, open_run(GITLAB, started=ago(30)), NONE,
                 E(A.AWAIT, False, R.SCHEDULED, 30.0, says="has not queued it yet"),
                 id="none-within-acceptance-grace-awaits"),
    pytest.param(GITLAB, open_run(GITLAB, started=ago(300)), NONE,
                 E(A.RETRY_LATER, False, R.FAILED, **RETRY, says="still shows no export"),
                 id="none-long-after-request-is-a-failure"),
    pytest.param(GITLAB, open_run(GITLAB, seen="started", attempts=1), FAILED,
                 E(A.RETRY_LATER, False, R.FAILED, **RETRY), id="gitlab-failed-retries-later"),
    pytest.param(GITLAB, open_run(GITLAB, seen="started", attempts=3), FAILED,
                 E(A.REPORT_FAILURE, False, R.FAILED, None, stalled=True),
                 id="gitlab-failed-at-max-attempts-reports-failure"),
    pytest.param(GITLAB, open_run(GITLAB, started=ago(hours=7), seen="started"), STARTED,
                 E(A.RETRY_LATER, False, R.TIMED_OUT, **RETRY),
                 id="in-flight-past-timeout-times-out"),
    pytest.param(GITLAB, open_run(GITLAB, started=ago(hours=7), seen="started", attempts=3), QUEUED,
                 E(A.REPORT_FAILURE, False, R.TIMED_OUT, None, stalled=True),
                 id="timed-out-at-max-attempts-reports-failure"),
    pytest.param(GITLAB, open_run(GITLAB, started=ago(hours=5), seen="started"), STARTED,
                 E(A.AWAIT, False, R.EXPORTING, 60.0), id="in-flight-within-timeout-awaits"),
    # -- after a failed attempt was concluded -----------------------------------------------
    pytest.param(GITLAB, failed_run(GITLAB, attempts=1), FAILED,
                 E(A.REQUEST, False, R.SCHEDULED, 5.0, mutating=True, params={"attempt": 2}),
                 id="after-retry-later-requests-next-attempt"),
    pytest.param(GITLAB, failed_run(GITLAB, attempts=3, conditions=[READY_TIMED_OUT]), FAILED,
                 E(A.REPORT_FAILURE, False, R.TIMED_OUT, None, stalled=True),
                 id="gave-up-stays-failed-keeping-the-reason"),
    pytest.param(GITLAB, failed_run(GITLAB, attempts=3, export_status="none"), NONE,
                 E(A.REPORT_FAILURE, False, R.FAILED, None, stalled=True),
                 id="gave-up-stays-failed-when-gitlab-shows-none"),
    pytest.param(GITLAB, failed_run(export_spec(description="new"), attempts=3), FAILED,
                 REQUEST_FIRST, id="gave-up-then-spec-changed-starts-over"),
    pytest.param(GITLAB, failed_run(GITLAB, attempts=1, started_at=ago(hours=7)), STARTED,
                 E(A.AWAIT, False, R.EXPORTING, 5.0),
                 id="timed-out-run-still-running-on-gitlab-is-awaited-not-reposted"),
    pytest.param(GITLAB,
                 failed_run(GITLAB, attempts=1, started_at=ago(hours=7), plan=awaiting(minutes=10)),
                 STARTED, E(A.AWAIT, False, R.EXPORTING, 60.0),
                 id="foreign-export-polling-backs-off-with-the-time-spent-awaiting"),
    pytest.param(GITLAB, failed_run(GITLAB, attempts=1, finished_at=ago(20),
                                    conditions=[READY_TIMED_OUT]), NONE,
                 E(A.RETRY_LATER, False, R.TIMED_OUT, 40.0, says="retrying in 40s"),
                 id="retry-pause-is-enforced-keeping-the-recorded-reason"),
    pytest.param(GITLAB, failed_run(GITLAB, attempts=1, finished_at=ago(60)), NONE,
                 E(A.REQUEST, False, R.SCHEDULED, 5.0, mutating=True, params={"attempt": 2}),
                 id="retry-requested-once-the-pause-is-over"),
    pytest.param(DAILY_S3, failed_run(DAILY_S3, attempts=3), FAILED,
                 E(A.REPORT_FAILURE, False, R.FAILED, 15 * 3600.0, stalled=True),
                 id="gave-up-requeues-at-the-next-scheduled-run"),
    pytest.param(DAILY_S3, failed_run(DAILY_S3, attempts=3, started_at=YESTERDAY,
                                      finished_at=YESTERDAY), FAILED,
                 E(A.REQUEST, False, R.SCHEDULED, 5.0, mutating=True, params={"attempt": 1},
                   says="schedule"),
                 id="gave-up-restarts-at-attempt-1-when-the-schedule-is-due"),
    pytest.param(MAX_AGE_S3, failed_run(MAX_AGE_S3, attempts=3, started_at=ago(hours=25)), NONE,
                 E(A.REQUEST, False, R.SCHEDULED, 5.0, mutating=True, params={"attempt": 1}),
                 id="gave-up-restarts-at-attempt-1-when-max-age-is-due"),
    pytest.param(MAX_AGE_S3, failed_run(MAX_AGE_S3, attempts=3, started_at=ago(hours=23)), NONE,
                 E(A.REPORT_FAILURE, False, R.FAILED, 3600.0, stalled=True),
                 id="gave-up-waits-for-max-age-after-the-last-attempt"),
    # -- after a good export ----------------------------------------------------------------
    pytest.param(GITLAB, succeeded(GITLAB), FINISHED,
                 E(A.UP_TO_DATE, True, R.FINISHED, 22 * 3600.0),
                 id="kept-on-gitlab-requeues-at-link-expiry"),
    pytest.param(GITLAB, succeeded(export_spec(description="old")), FINISHED,
                 E(A.REQUEST, False, R.SCHEDULED, 5.0, mutating=True, params={"attempt": 1},
                   says="spec changed"),
                 id="spec-changed-after-success-requests"),
    pytest.param(GITLAB, succeeded(GITLAB, attempts=2), NONE,
                 E(A.REQUEST, False, R.EXPIRED, 5.0, mutating=True, params={"attempt": 1},
                   says="expired"),
                 id="kept-on-gitlab-expired-requests-a-new-run"),
    pytest.param(S3, succeeded(S3), NONE, E(A.UP_TO_DATE, True, R.FINISHED, None),
                 id="s3-archive-not-reexported-when-gitlab-forgets"),
    pytest.param(UPLOAD, succeeded(UPLOAD), NONE,
                 E(A.UP_TO_DATE, True, R.UPLOAD_UNCONFIRMED, None),
                 id="upload-archive-not-reexported-when-gitlab-forgets"),
    pytest.param(DAILY_S3,
                 succeeded(DAILY_S3, started=datetime(2025, 6, 1, 3, 0, tzinfo=UTC), attempts=2),
                 NONE, E(A.REQUEST, False, R.SCHEDULED, 5.0, mutating=True, params={"attempt": 1},
                         says="schedule"),
                 id="schedule-due-requests-a-new-run"),
    pytest.param(DAILY_S3, succeeded(DAILY_S3, started=datetime(2025, 6, 2, 3, 0, tzinfo=UTC)),
                 NONE, E(A.UP_TO_DATE, True, R.FINISHED, 15 * 3600.0),
                 id="schedule-not-due-requeues-at-next-run"),
    pytest.param(MAX_AGE_S3, succeeded(MAX_AGE_S3, started=at(hours=-25), attempts=3), NONE,
                 E(A.REQUEST, False, R.SCHEDULED, 5.0, mutating=True, params={"attempt": 1},
                   says="maxAge"),
                 id="max-age-exceeded-requests-a-new-run"),
    pytest.param(MAX_AGE_S3, succeeded(MAX_AGE_S3, started=at(hours=-2)), NONE,
                 E(A.UP_TO_DATE, True, R.FINISHED, 22 * 3600.0 + 120),
                 id="max-age-not-exceeded-requeues-at-renewal"),
    pytest.param(MAX_AGE_GITLAB, succeeded(MAX_AGE_GITLAB, started=at(hours=-13)),
                 export_obs("finished", consumers_waiting=2), E(A.HOLD, True, R.FINISHED, 60.0),
                 id="consumers-waiting-hold-kept-archive-instead-of-renewal"),
    pytest.param(MAX_AGE_S3, succeeded(MAX_AGE_S3, started=at(hours=-25)),
                 export_obs("none", consumers_waiting=2),
                 E(A.REQUEST, False, R.SCHEDULED, 5.0, mutating=True),
                 id="consumers-do-not-hold-an-s3-archive"),
    pytest.param(MAX_AGE_GITLAB, succeeded(MAX_AGE_GITLAB, started=at(hours=-26)),
                 export_obs("none", consumers_waiting=1),
                 E(A.REQUEST, False, R.EXPIRED, 5.0, mutating=True, params={"attempt": 1}),
                 id="consumers-do-not-hold-an-expired-archive"),
    # -- suspension, problems, unknown states ------------------------------------------------
    pytest.param(SUSPENDED, FRESH, NONE, E(A.SUSPEND, False, R.SUSPENDED, None),
                 id="suspended-sends-nothing"),
    pytest.param(SUSPENDED, succeeded(SUSPENDED), NONE, E(A.SUSPEND, False, R.SUSPENDED, None),
                 id="suspended-does-not-renew-expired-archive"),
    pytest.param(GITLAB, FRESH, problem(R.SECRET_MISSING, transient=True),
                 E(A.BLOCKED, False, R.SECRET_MISSING, 60.0),
                 id="secret-missing-blocks-without-stalling"),
    pytest.param(GITLAB, FRESH, problem(R.UNAUTHORIZED),
                 E(A.BLOCKED, False, R.UNAUTHORIZED, 300.0, stalled=True),
                 id="unauthorized-blocks-and-stalls"),
    pytest.param(GITLAB, open_run(GITLAB), problem(R.PROJECT_NOT_FOUND),
                 E(A.BLOCKED, False, R.PROJECT_NOT_FOUND, 300.0, stalled=True),
                 id="project-not-found-blocks-and-stalls"),
    pytest.param(GITLAB, FRESH, problem(R.GITLAB_UNAVAILABLE, transient=True, retry_after=30),
                 E(A.BLOCKED, False, R.GITLAB_UNAVAILABLE, 30.0),
                 id="gitlab-unavailable-blocks-until-retry-after"),
    pytest.param(GITLAB, open_run(GITLAB), export_obs("archiving"),
                 E(A.AWAIT, False, R.EXPORTING, 60.0), id="unknown-export-status-awaits"),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "status", "obs", "expect"), CASES)
def test_export_plan(spec, status, obs, expect):
    assert_plan(plan(spec, status, obs), expect)


def test_request_renders_the_s3_key_template_into_params():
    request = plan(S3, export_status(), export_obs("none"))
    assert request.action.name == A.REQUEST
    assert field_of(request.action, "s3_key") == "backups/ci/app-export/group/app/2025-06-02.tar.gz"
    assert field_of(request.action, "spec_hash")
    assert field_of(plan(GITLAB, export_status(), export_obs("none")).action, "s3_key") is None


@pytest.mark.parametrize(
    ("elapsed", "expected_seconds", "delay"),
    [
        pytest.param(2, None, 5.0, id="first-look-after-initial"),
        pytest.param(20, None, 20.0, id="backs-off-with-elapsed-time"),
        pytest.param(45, None, 45.0, id="keeps-growing"),
        pytest.param(600, None, 60.0, id="capped-by-maximum"),
        pytest.param(10, 40, 26.0, id="expected-hint-looks-a-little-before-usually-done"),
        pytest.param(36, 40, 4.0, id="expected-hint-then-looks-when-usually-done"),
        pytest.param(40, 40, 6.0, id="expected-hint-then-a-little-after"),
        pytest.param(10, 600, 60.0, id="expected-hint-capped-by-maximum"),
        pytest.param(50, 40, 50.0, id="past-expected-backs-off"),
    ],
)
def test_await_delay_grows_and_honours_expected_seconds(elapsed, expected_seconds, delay):
    status = open_run(GITLAB, started=ago(elapsed), seen="started")
    obs = export_obs("started", expected_seconds=expected_seconds)
    waiting = plan(GITLAB, status, obs)
    assert (waiting.action.name, waiting.requeue_after) == (A.AWAIT, delay)


def test_request_first_look_honours_expected_seconds():
    request = plan(GITLAB, export_status(), export_obs("none", expected_seconds=20))
    assert request.requeue_after == 18.0  # a little before similar exports usually finish


def test_policy_knobs_are_used():
    policy = ExportPolicy(
        polling=Polling(initial=1, maximum=10), max_attempts=1, retry_delay=7, acceptance_grace=5
    )
    late = plan(GITLAB, open_run(GITLAB, started=ago(6)), export_obs("none"), policy=policy)
    assert (late.action.name, late.verdict.reason) == (A.REPORT_FAILURE, R.FAILED)
    early = plan(GITLAB, open_run(GITLAB, started=ago(3)), export_obs("none"), policy=policy)
    assert (early.action.name, early.requeue_after) == (A.AWAIT, 3.0)
    two = ExportPolicy(max_attempts=2, retry_delay=7)
    retry = plan(GITLAB, open_run(GITLAB, seen="started"), export_obs("failed"), policy=two)
    assert (retry.action.name, retry.requeue_after) == (A.RETRY_LATER, 7.0)


# -- plan ids ------------------------------------------------------------------------------


def test_plan_id_is_stable_for_the_same_inputs():
    first = plan(S3, export_status(), export_obs("none"))
    again = plan(S3, export_status(), export_obs("none"), now=at(minutes=5))
    assert first.id == again.id
    assert len(first.id) == 10


def test_await_plan_id_is_stable_while_polling():
    status = open_run(GITLAB, seen="started")
    assert plan(GITLAB, status, export_obs("started")).id == (
        plan(GITLAB, status, export_obs("started"), now=at(minutes=3)).id
    )


@pytest.mark.parametrize(
    ("spec", "status", "now"),
    [
        pytest.param(export_spec("s3", project="group/other"), export_status(), NOW, id="project"),
        pytest.param(S3, failed_run(S3, attempts=1), NOW, id="attempt"),
        pytest.param(S3, export_status(), at(days=1), id="rendered-s3-key"),
    ],
)
def test_plan_id_changes_with_its_inputs(spec, status, now):
    base = plan(S3, export_status(), export_obs("none"))
    other = plan(spec, status, export_obs("none"), now=now)
    assert other.action.name == A.REQUEST
    assert other.id != base.id


# -- fixed defects ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "status", "obs"),
    [
        pytest.param(GITLAB, open_run(GITLAB, seen="started"), export_obs("failed"), id="failed"),
        pytest.param(S3, open_run(S3, seen="started"), export_obs("finished"), id="upload-missing"),
        pytest.param(
            GITLAB,
            open_run(GITLAB, started=ago(hours=7), seen="started"),
            export_obs("started"),
            id="timed-out",
        ),
        pytest.param(
            GITLAB, failed_run(GITLAB, attempts=1, finished_at=ago(20)), NONE, id="pausing"
        ),
    ],
)
def test_retry_later_is_not_stalled(spec, status, obs):
    retry = plan(spec, status, obs)
    assert retry.action.name == A.RETRY_LATER
    assert retry.verdict.reason in STALLED_REASONS
    assert retry.verdict.final is False
    assert not retry.verdict.stalled


def test_giving_up_is_final_and_stalled():
    gave_up = plan(GITLAB, open_run(GITLAB, seen="started", attempts=3), export_obs("failed"))
    assert gave_up.action.name == A.REPORT_FAILURE
    assert (gave_up.verdict.final, gave_up.verdict.stalled) == (True, True)


@pytest.mark.parametrize(
    ("policy", "requeue"),
    [
        pytest.param(None, 300.0, id="default-expiry-recheck"),
        pytest.param(ExportPolicy(expiry_recheck=120), 120.0, id="policy-expiry-recheck"),
    ],
)
def test_no_hot_loop_between_link_expiry_and_gitlab_sweep(policy, requeue):
    status = succeeded(GITLAB, started=at(hours=-24, minutes=-10))
    current = plan(GITLAB, status, export_obs("finished"), policy=policy)
    assert current.action.name == A.UP_TO_DATE
    assert current.requeue_after == requeue


def test_a_sooner_renewal_wins_over_the_expiry_recheck():
    spec = export_spec(max_age="24h10m")
    status = succeeded(spec, started=at(hours=-24, minutes=-10))  # finished 24h08m ago
    current = plan(spec, status, export_obs("finished"))
    assert (current.action.name, current.requeue_after) == (A.UP_TO_DATE, 120.0)


@pytest.mark.parametrize(
    ("transient", "requeue"),
    [
        pytest.param(True, 17.0, id="transient-looks-again-at-the-polling-maximum"),
        pytest.param(False, 42.0, id="needing-a-person-looks-again-at-the-recheck"),
    ],
)
def test_blocked_is_looked_at_again(transient, requeue):
    policy = ExportPolicy(polling=Polling(maximum=17), recheck=42)
    obs = export_obs(problem=Problem(R.GITLAB_UNAVAILABLE, "connection refused", transient))
    blocked = plan(GITLAB, export_status(), obs, policy=policy)
    assert (blocked.action.name, blocked.requeue_after) == (A.BLOCKED, requeue)
    waited = export_obs(problem=Problem(R.GITLAB_UNAVAILABLE, "429", transient, retry_after=9))
    assert plan(GITLAB, export_status(), waited, policy=policy).requeue_after == 9.0


# -- known defects -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [pytest.param(MAX_AGE_S3, id="max-age"), pytest.param(DAILY_S3, id="schedule")],
)
def test_failed_drift_run_pauses_and_counts_attempts(spec):
    last_good = succeeded(spec, started=at(hours=-26)).artifact
    assert last_good is not None
    status = failed_run(spec, attempts=1, finished_at=ago(10), artifact=last_good)
    retry = plan(spec, status, export_obs("failed"))
    assert (retry.action.name, retry.requeue_after) == (A.RETRY_LATER, 50.0)
    after_pause = plan(spec, status, export_obs("failed"), now=at(60))
    assert (after_pause.action.name, field_of(after_pause.action, "attempt")) == (A.REQUEST, 2)
