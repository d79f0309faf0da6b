"""Conditions and plan records, time arithmetic (polling, schedules, timestamps) and S3 key
templates: the small pure helpers every planner and recorder relies on.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from reconcile_builders import NOW, at

from gitlab_ferry.api import Condition, PlanPhase, PlanStatus, rfc3339
from gitlab_ferry.api import parse_timestamp as parse_time
from gitlab_ferry.reconcile.conditions import applying_record, conditions, plan_record, verdict_of
from gitlab_ferry.reconcile.imports import ImportProject, ImportTarget, Route
from gitlab_ferry.reconcile.plan import (
    STALLED_REASONS,
    Done,
    Failed,
    Plan,
    Problem,
    Throttled,
    UpToDate,
    Verdict,
    stable_hash,
)
from gitlab_ferry.reconcile.plan import Reason as R
from gitlab_ferry.reconcile.s3_keys import render_key, template_errors
from gitlab_ferry.reconcile.timing import (
    Polling,
    next_scheduled,
    seconds_between,
    valid_cron,
)

EARLIER = at(hours=-1)


def cond(kind, status, reason="Exporting", since=EARLIER):
    return Condition(
        type=kind, status=status, reason=reason, message="m", last_transition_time=since
    )


def shape(result):
    return [(c.type, c.status.value, c.reason, c.last_transition_time) for c in result]


# -- conditions ----------------------------------------------------------------------------

RECONCILING = [cond("Ready", "False"), cond("Reconciling", "True")]
STALLED = [cond("Ready", "False", "Failed"), cond("Stalled", "True", "Failed")]
READY = [cond("Ready", "True", "Finished")]


@pytest.mark.parametrize(
    ("verdict", "previous", "expected"),
    [
        pytest.param(
            Verdict(True, R.FINISHED, "done"), [], [("Ready", "True", "Finished", NOW)],
            id="ready-only-ready-present",
        ),
        pytest.param(
            Verdict(False, R.EXPORTING, "busy"), [],
            [("Ready", "False", "Exporting", NOW),
             ("Reconciling", "True", "Exporting", NOW)],
            id="not-ready-is-reconciling",
        ),
        pytest.param(
            Verdict(False, R.FAILED, "broken"), [],
            [("Ready", "False", "Failed", NOW), ("Stalled", "True", "Failed", NOW)],
            id="stalled-reason-stalls-without-reconciling",
        ),
        pytest.param(
            Verdict(False, R.THROTTLED, "wait"), RECONCILING,
            [("Ready", "False", "Throttled", EARLIER),
             ("Reconciling", "True", "Throttled", EARLIER)],
            id="same-status-keeps-transition-time-though-reason-changes",
        ),
        pytest.param(
            Verdict(True, R.FINISHED, "done"), RECONCILING,
            [("Ready", "True", "Finished", NOW)],
            id="becoming-ready-drops-reconciling-and-moves-ready",
        ),
        pytest.param(
            Verdict(False, R.TIMED_OUT, "late"), RECONCILING,
            [("Ready", "False", "TimedOut", EARLIER), ("Stalled", "True", "TimedOut", NOW)],
            id="reconciling-to-stalled-new-stalled-time",
        ),
        pytest.param(
            Verdict(False, R.SCHEDULED, "again"), STALLED,
            [("Ready", "False", "Scheduled", EARLIER),
             ("Reconciling", "True", "Scheduled", NOW)],
            id="stalled-to-reconciling-drops-stalled",
        ),
        pytest.param(
            Verdict(False, R.EXPIRED, "gone"), READY,
            [("Ready", "False", "Expired", NOW), ("Reconciling", "True", "Expired", NOW)],
            id="ready-to-not-ready-moves-ready",
        ),
        pytest.param(
            Verdict(False, R.FAILED, "retrying", final=False), STALLED,
            [("Ready", "False", "Failed", EARLIER), ("Reconciling", "True", "Failed", NOW)],
            id="retrying-failure-drops-stalled-for-reconciling",
        ),
        pytest.param(
            Verdict(False, R.SUSPENDED, "paused"), RECONCILING,
            [("Ready", "False", "Suspended", EARLIER)],
            id="suspended-drops-reconciling",
        ),
    ],
)  # fmt: skip
def test_conditions(verdict, previous, expected):
    result = conditions(verdict, previous, 7, NOW)
    assert shape(result) == expected
    assert all(c.observed_generation == 7 for c in result)
    assert all(c.message == verdict.message for c in result)


@pytest.mark.parametrize("reason", sorted(R, key=str))
def test_stalled_only_for_stalled_reasons(reason):
    types = {c.type for c in conditions(Verdict(False, reason, "m"), [], 1, NOW)}
    if reason in STALLED_REASONS:
        assert types == {"Ready", "Stalled"}
    elif reason is R.SUSPENDED:
        assert types == {"Ready"}, "a suspended object is not reconciling"
    else:
        assert types == {"Ready", "Reconciling"}


@pytest.mark.parametrize("reason", sorted(STALLED_REASONS, key=str))
def test_only_a_final_verdict_stalls(reason):
    assert Verdict(False, reason, "m").stalled
    assert Verdict(False, reason, "m", final=True).stalled
    retrying = Verdict(False, reason, "m", final=False)
    assert not retrying.stalled
    types = {c.type for c in conditions(retrying, [], 1, NOW)}
    assert types == {"Ready", "Reconciling"}


def test_stalled_reasons_are_the_ones_needing_a_person():
    for transient in (
        R.THROTTLED,
        R.GITLAB_UNAVAILABLE,
        R.SECRET_MISSING,
        R.WAITING_FOR_EXPORT,
        R.AWAITING_APPROVAL,
        R.SCHEDULED,
        R.EXPORTING,
        R.IMPORTING,
    ):
        assert transient not in STALLED_REASONS
    assert {R.FAILED, R.UNAUTHORIZED, R.PATH_TAKEN, R.PROJECT_NOT_FOUND} <= STALLED_REASONS


# -- verdicts and plan records -------------------------------------------------------------

REPLACING = ImportProject(Route.STREAM, ImportTarget("app", overwrite=True), 1, replaces=5)
PLAN = Plan("ProjectImport", REPLACING, "why", Verdict(False, R.SCHEDULED, "asked"),
            inputs=("a", 1))  # fmt: skip
HELD = Plan("ProjectImport", REPLACING, "why", Verdict(False, R.AWAITING_APPROVAL, "approve"),
            awaiting_approval=True, inputs=("a", 1))  # fmt: skip


@pytest.mark.parametrize(
    ("outcome", "reason", "fragment"),
    [
        pytest.param(None, R.SCHEDULED, "asked", id="no-outcome-keeps-plan-verdict"),
        pytest.param(Done(None), R.SCHEDULED, "asked", id="done-keeps-plan-verdict"),
        pytest.param(Throttled(12.4, "import"), R.THROTTLED,
                     "Waiting 12s: the rate-limit budget is spent for import",
                     id="budget-throttled"),
        pytest.param(Throttled(60, "import", from_gitlab=True), R.THROTTLED,
                     "GitLab answered 429", id="gitlab-throttled"),
        pytest.param(Failed(Problem(R.PATH_TAKEN, "taken")), R.PATH_TAKEN, "taken",
                     id="failed-uses-problem"),
    ],
)  # fmt: skip
def test_verdict_of(outcome, reason, fragment):
    verdict = verdict_of(PLAN, outcome)
    assert (verdict.ready, verdict.reason) == (False, reason)
    assert fragment in verdict.message


def previous(plan_id, phase):
    return PlanStatus(id=plan_id, action="x", reason="r", phase=phase, since=EARLIER)


@pytest.mark.parametrize(
    ("plan", "outcome", "previous", "phase", "since"),
    [
        pytest.param(PLAN, Done(None), None, PlanPhase.APPLIED, NOW, id="done-is-applied"),
        pytest.param(PLAN, Throttled(5, "import"), None, PlanPhase.PLANNED, NOW,
                     id="throttled-is-planned"),
        pytest.param(PLAN, None, None, PlanPhase.PLANNED, NOW, id="no-outcome-is-planned"),
        pytest.param(HELD, None, None, PlanPhase.AWAITING_APPROVAL, NOW,
                     id="held-awaits-approval"),
        pytest.param(
            HELD, None, previous(HELD.id, "AwaitingApproval"),
            PlanPhase.AWAITING_APPROVAL, EARLIER, id="same-plan-same-phase-keeps-since",
        ),
        pytest.param(
            PLAN, Done(None), previous(PLAN.id, "Applying"),
            PlanPhase.APPLIED, NOW, id="phase-change-moves-since",
        ),
        pytest.param(
            PLAN, None, previous("other", "Planned"),
            PlanPhase.PLANNED, NOW, id="new-plan-moves-since",
        ),
    ],
)  # fmt: skip
def test_plan_record(plan, outcome, previous, phase, since):
    record = plan_record(plan, outcome, previous, NOW)
    assert (record.id, record.action, record.reason) == (plan.id, plan.action.name, plan.reason)
    assert (record.phase, record.since, record.destructive) == (phase, since, True)


def test_applying_record():
    record = applying_record(PLAN, NOW)
    assert (record.id, record.phase, record.since, record.destructive) == (
        PLAN.id,
        PlanPhase.APPLYING,
        NOW,
        True,
    )


def test_plan_id_ignores_the_payload_and_follows_inputs():
    other = ImportProject(Route.S3, ImportTarget("elsewhere"), 9)
    same = Plan("ProjectImport", other, "other words", PLAN.verdict, inputs=("a", 1))
    assert same.id == PLAN.id
    assert Plan("ProjectImport", REPLACING, "why", PLAN.verdict, inputs=("a", 2)).id != PLAN.id
    assert Plan("ProjectExport", REPLACING, "why", PLAN.verdict, inputs=("a", 1)).id != PLAN.id
    assert Plan("ProjectImport", UpToDate(), "why", PLAN.verdict, inputs=("a", 1)).id != PLAN.id


def test_a_plan_id_is_what_it_always_was():
    # sha256 of ["ProjectImport", "ImportProject", "a", 1], cut to ten: ids stay stable
    # across releases, so a pending approval survives an upgrade.
    assert PLAN.id == hashlib.sha256(b'["ProjectImport", "ImportProject", "a", 1]').hexdigest()[:10]


def test_stable_hash_ignores_key_order():
    assert stable_hash({"a": 1, "b": [1, 2]}) == stable_hash({"b": [1, 2], "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2})
    assert len(stable_hash({})) == 16


# -- timing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("polling", "elapsed", "expected", "delay"),
    [
        pytest.param(Polling(), 0, None, 5.0, id="initial"),
        pytest.param(Polling(), 30, None, 30.0, id="geometric-backoff"),
        pytest.param(Polling(), 1000, None, 60.0, id="capped-by-maximum"),
        pytest.param(Polling(factor=3.0), 10, None, 20.0, id="factor"),
        pytest.param(Polling(), 0, 20, 18.0, id="early-look-before-expected"),
        pytest.param(Polling(), 10, 20, 8.0, id="until-early-look"),
        pytest.param(Polling(), 18, 20, 2.0, id="then-at-expected"),
        pytest.param(Polling(), 20, 20, 3.0, id="then-a-little-after-expected"),
        pytest.param(Polling(), 22.9, 20, 0.5, id="never-below-minimum"),
        pytest.param(Polling(), 30, 20, 30.0, id="after-the-late-look-backs-off"),
        pytest.param(Polling(initial=1, maximum=3), 10, None, 3.0, id="custom-maximum"),
    ],
)
def test_polling_next_delay(polling, elapsed, expected, delay):
    assert polling.next_delay(elapsed, expected) == pytest.approx(delay)


@pytest.mark.parametrize(
    ("cron", "after", "expected"),
    [
        pytest.param("0 3 * * *", datetime(2025, 6, 2, 2, 59, tzinfo=UTC), "2025-06-02T03:00:00Z",
                     id="later-today"),
        pytest.param("0 3 * * *", datetime(2025, 6, 2, 3, 0, tzinfo=UTC), "2025-06-03T03:00:00Z",
                     id="strictly-after"),
        pytest.param(
            "0 3 * * *", datetime(2025, 6, 2, 4, 0, tzinfo=timezone(timedelta(hours=2))),
            "2025-06-02T03:00:00Z", id="offset-input-read-as-utc",
        ),
        pytest.param("*/15 * * * *", datetime(2025, 6, 2, 12, 1, tzinfo=UTC),
                     "2025-06-02T12:15:00Z", id="step"),
        pytest.param("0 0 * * 0", NOW, "2025-06-08T00:00:00Z", id="weekly-sunday"),
    ],
)  # fmt: skip
def test_next_scheduled(cron, after, expected):
    moment = next_scheduled(cron, after)
    assert moment.tzinfo is not None
    assert moment.utcoffset() == timedelta(0)
    assert rfc3339(moment) == expected


@pytest.mark.parametrize(
    ("cron", "valid"),
    [("0 3 * * *", True), ("*/5 * * * 1-5", True), ("0 3 * *", False), ("0 3 * * * *", False),
     ("61 3 * * *", False), ("nonsense", False)],
)  # fmt: skip
def test_valid_cron(cron, valid):
    assert valid_cron(cron) is valid


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2025-06-02T12:00:00Z", NOW, id="zulu"),
        pytest.param("2025-06-02T14:00:00+02:00", NOW, id="offset"),
        pytest.param("2025-06-02T12:00:00", NOW, id="naive-is-utc"),
        pytest.param("2025-06-02T12:00:00.250Z", NOW + timedelta(milliseconds=250), id="fraction"),
        pytest.param(None, None, id="none"),
        pytest.param("", None, id="empty"),
        pytest.param("yesterday", None, id="garbage"),
    ],
)
def test_parse_time(text, expected):
    assert parse_time(text) == expected


def test_rfc3339_round_trip_in_utc():
    assert rfc3339(NOW) == "2025-06-02T12:00:00Z"
    assert parse_time(rfc3339(NOW)) == NOW
    assert rfc3339(datetime(2025, 6, 2, 14, 0, 0, 999, tzinfo=timezone(timedelta(hours=2)))) == (
        "2025-06-02T12:00:00Z"
    )


def test_seconds_between():
    assert seconds_between(None, NOW) == 0.0
    assert seconds_between(at(-90), NOW) == 90.0
    assert seconds_between(at(90), NOW) == 0.0


# -- S3 key templates ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "key"),
    [
        ("exports/{namespace}/{name}.tar.gz", "exports/ci/nightly.tar.gz"),
        ("{project}/{date}/{time}.tar.gz", "group/sub/app/2025-06-02/120000.tar.gz"),
        ("{project}-{timestamp}.tar.gz", "group/sub/app-20250602T120000Z.tar.gz"),
        ("fixed.tar.gz", "fixed.tar.gz"),
    ],
)
def test_render_key(template, key):
    assert template_errors(template) == []
    rendered = render_key(
        template, namespace="ci", name="nightly", project="/group/sub/app/", now=NOW
    )
    assert rendered == key


def test_render_key_uses_utc_and_numeric_projects():
    local = datetime(2025, 6, 2, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    key = render_key("{project}/{date}T{time}", namespace="n", name="x", project="42", now=local)
    assert key == "42/2025-06-03T043000"


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("{bucket}/{date}", "unknown placeholder {bucket}"),
        ("{0}.tar.gz", "unknown placeholder {0}"),
        ("{}.tar.gz", "unknown placeholder {}"),
        ("{project.path}", "unknown placeholder {project.path}"),
        ("{date", "malformed key template"),
        ("date}", "malformed key template"),
        ("backups/{date:%Y}.tar.gz", "placeholder {date} takes no format or conversion"),
        ("{name!r}.tar.gz", "placeholder {name} takes no format or conversion"),
        ("{project:>40}", "placeholder {project} takes no format or conversion"),
    ],
)
def test_template_errors(template, fragment):
    problems = template_errors(template)
    assert problems
    assert fragment in problems[0]


@pytest.mark.parametrize(
    "template",
    [
        "backups/{date:%Y}.tar.gz",
        "{date!s}.tar.gz",
        "{timestamp:>30}",
        "{name}/{{literal}}/{time}",
        "{namespace}-{name}-{project}-{date}-{time}-{timestamp}",
    ],
)
def test_every_accepted_template_renders(template):
    """What ``template_errors`` accepts, ``render_key`` renders at export time (a format spec
    such as ``%Y`` would raise inside the export planner, so it must be refused)."""
    if not template_errors(template):
        assert render_key(template, namespace="n", name="x", project="p", now=NOW)
