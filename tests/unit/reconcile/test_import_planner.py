"""The ProjectImport planner as a table: (spec, generation, recorded, observation, now) -> Plan.

Import POSTs are not idempotent, so the cases check that a request is planned only for a
free (or explicitly overwritten) path, that an import already under way or recorded before a
restart is adopted, and that failures stay failed until the spec changes.
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
    candidate,
    export_source,
    import_obs,
    import_spec,
    import_status,
    project,
    tracked,
)

from gitlab_ferry.api import ArtifactLocation as L
from gitlab_ferry.reconcile.imports import (
    ExportSource,
    ImportProject,
    ImportTarget,
    Route,
    plan_import,
)
from gitlab_ferry.reconcile.imports.planner import ImportPolicy
from gitlab_ferry.reconcile.plan import Problem
from gitlab_ferry.reconcile.plan import Reason as R
from gitlab_ferry.reconcile.timing import Polling

GEN = 3
URL = import_spec("url")
OVERWRITE = import_spec("url", overwrite=True)
MANUAL = import_spec("url", overwrite=True, approval="Manual")
EXPORT = import_spec("exportRef")


def plan(spec, status, obs, now=NOW, generation=GEN):
    return plan_import(spec, generation, status, obs, now)


def importing(route, *, replaces=None, overwrite=False, attempt=1, says=""):
    return Expect(
        A.IMPORT,
        False,
        R.SCHEDULED,
        5.0,
        mutating=True,
        destructive=replaces is not None,
        params={"route": route, "replaces": replaces, "overwrite": overwrite, "attempt": attempt},
        says=says,
    )


def applying(since):
    """A status written by ``begin`` before an ImportProject request, then a restart."""
    return import_status(
        attempts=1,
        started_at=since,
        plan={"id": "p", "action": A.IMPORT, "reason": "r", "phase": "Applying", "since": since},
    )


def following(project_id=77, started=None, **fields):
    """A status that tracks the project an import created."""
    return import_status(project_id=project_id, started_at=started or ago(60), attempts=1, **fields)


CASES = [
    # -- nothing at the path: the route follows the source ----------------------------------
    pytest.param(URL, import_status(), import_obs(), importing("remote-url"),
                 id="url-imports-remotely"),
    pytest.param(
        import_spec("urlSecretRef"), import_status(), import_obs(), importing("remote-url"),
        id="url-secret-imports-remotely",
    ),
    pytest.param(import_spec("s3"), import_status(), import_obs(), importing("s3"),
                 id="s3-imports-from-s3"),
    pytest.param(
        EXPORT, import_status(), import_obs(export=export_source(L.S3)), importing("presigned-url"),
        id="export-in-s3-is-pulled-through-a-presigned-url",
    ),
    pytest.param(
        EXPORT, import_status(), import_obs(export=export_source(L.GITLAB)), importing("stream"),
        id="export-kept-on-gitlab-is-streamed",
    ),
    pytest.param(
        EXPORT, import_status(), import_obs(export=export_source(L.UPLOAD)), importing("stream"),
        id="export-uploaded-elsewhere-is-streamed-from-gitlab",
    ),
    pytest.param(
        EXPORT, import_status(),
        import_obs(export=ExportSource(exists=True, ready=False, message="Exporting.")),
        Expect(A.WAIT_FOR_EXPORT, False, R.WAITING_FOR_EXPORT, 60.0),
        id="export-not-ready-waits",
    ),
    pytest.param(
        EXPORT, import_status(), import_obs(export=None),
        Expect(A.WAIT_FOR_EXPORT, False, R.WAITING_FOR_EXPORT, 60.0),
        id="export-missing-waits",
    ),
    # -- something at the path --------------------------------------------------------------
    pytest.param(
        URL, import_status(), import_obs(at_path=project(10, archive=False)),
        Expect(A.REPORT_PATH_TAKEN, False, R.PATH_TAKEN, 300.0, stalled=True),
        id="path-taken-without-overwrite-is-reported",
    ),
    pytest.param(
        OVERWRITE, import_status(), import_obs(at_path=project(10, archive=False)),
        importing("remote-url", replaces=10, overwrite=True),
        id="path-taken-with-overwrite-replaces-destructively",
    ),
    pytest.param(
        OVERWRITE, import_status(), import_obs(at_path=project(10, deleting=True)),
        Expect(A.REPORT_PATH_TAKEN, False, R.PATH_TAKEN, 300.0, stalled=True),
        id="project-being-deleted-at-path-waits",
    ),
    pytest.param(
        URL, import_status(), import_obs(at_path=project(10, status="started")),
        Expect(A.ADOPT, False, R.IMPORTING, 5.0, params={"project_id": 10}),
        id="import-already-under-way-is-adopted-not-posted",
    ),
    pytest.param(
        OVERWRITE, import_status(), import_obs(at_path=project(10, status="scheduled")),
        Expect(A.ADOPT, False, R.IMPORTING, 5.0, params={"project_id": 10}),
        id="scheduled-import-is-adopted-even-with-overwrite",
    ),
    pytest.param(
        URL, import_status(), import_obs(at_path=project(10, status="started", archive=False)),
        Expect(A.REPORT_PATH_TAKEN, False, R.PATH_TAKEN, 300.0, stalled=True),
        id="other-kind-of-import-at-path-is-not-adopted",
    ),
    # -- a restart after the request was recorded --------------------------------------------
    pytest.param(
        URL, applying(ago(60)), import_obs(at_path=project(90, status="finished", created=ago(50))),
        Expect(A.ADOPT, False, R.IMPORTING, 5.0, params={"project_id": 90}),
        id="restart-adopts-project-created-after-the-request",
    ),
    pytest.param(
        URL, applying(ago(60)), import_obs(at_path=project(90, created=ago(hours=3))),
        Expect(A.REPORT_PATH_TAKEN, False, R.PATH_TAKEN, 300.0, stalled=True),
        id="restart-does-not-adopt-an-older-project",
    ),
    pytest.param(
        OVERWRITE, applying(ago(60)),
        import_obs(
            at_path=project(10, created=ago(days=90)),
            overwrite_candidates=(candidate(90, created=ago(50)), candidate(91, created=ago(40))),
        ),
        Expect(
            A.ADOPT, False, R.IMPORTING, 5.0,
            params={"project_id": 91, "path_with_namespace": f"team/app-{91:032x}"},
        ),
        id="restart-adopts-the-newest-overwrite-candidate",
    ),
    pytest.param(
        OVERWRITE, applying(ago(60)),
        import_obs(
            at_path=project(10, created=ago(days=90)),
            overwrite_candidates=(candidate(90, created=ago(50), archive=False),),
        ),
        importing("remote-url", replaces=10, overwrite=True, attempt=2),
        id="restart-ignores-candidates-not-imported-from-archives",
    ),
    pytest.param(
        URL, applying(ago(60)), import_obs(at_path=project(90, status="finished", created=None)),
        Expect(A.REPORT_PATH_TAKEN, False, R.PATH_TAKEN, 300.0, stalled=True),
        id="restart-does-not-adopt-a-project-without-a-creation-time",
    ),
    pytest.param(
        OVERWRITE, applying(ago(60)),
        import_obs(
            at_path=project(10, created=ago(days=90)),
            overwrite_candidates=(candidate(90, created=None),),
        ),
        importing("remote-url", replaces=10, overwrite=True, attempt=2),
        id="restart-does-not-adopt-a-candidate-without-a-creation-time",
    ),
    pytest.param(
        URL, applying(ago(60)), import_obs(at_path=project(90, status="started", created=None)),
        Expect(A.ADOPT, False, R.IMPORTING, 5.0, params={"project_id": 90}),
        id="restart-still-adopts-an-import-under-way-without-a-creation-time",
    ),
    # -- following the tracked project --------------------------------------------------------
    pytest.param(
        URL, following(started=ago(20)), import_obs(tracked=tracked(77, "scheduled")),
        Expect(A.AWAIT, False, R.SCHEDULED, 20.0), id="tracked-scheduled-awaits",
    ),
    pytest.param(
        URL, following(started=ago(minutes=10)), import_obs(tracked=tracked(77, "started")),
        Expect(A.AWAIT, False, R.IMPORTING, 60.0), id="tracked-started-awaits-capped",
    ),
    pytest.param(
        URL, following(), import_obs(tracked=tracked(77, "finished")),
        Expect(A.UP_TO_DATE, True, R.FINISHED, None), id="tracked-finished-is-up-to-date",
    ),
    pytest.param(
        URL, following(),
        import_obs(tracked=tracked(77, "finished", failed_relations=({"id": 1},))),
        Expect(A.UP_TO_DATE, True, R.FINISHED_WITH_FAILED_RELATIONS, None),
        id="finished-with-failed-relations-is-ready",
    ),
    pytest.param(
        URL, following(), import_obs(tracked=tracked(77, "failed", import_error="Bad VERSION")),
        Expect(A.REPORT_FAILURE, False, R.FAILED, None, stalled=True, says="Bad VERSION"),
        id="tracked-failed-reports-gitlab-import-error",
    ),
    pytest.param(
        URL, following(), import_obs(tracked=tracked(77, "canceled")),
        Expect(A.REPORT_FAILURE, False, R.FAILED, None, stalled=True, says="canceled"),
        id="tracked-canceled-is-a-failure",
    ),
    pytest.param(
        URL, following(failure_generation=GEN), import_obs(tracked=tracked(77, "failed")),
        Expect(A.REPORT_FAILURE, False, R.FAILED, None, stalled=True),
        id="failed-stays-failed-in-the-same-generation",
    ),
    pytest.param(
        URL, following(failure_generation=GEN - 1), import_obs(tracked=tracked(77, "failed")),
        importing("remote-url", attempt=2),
        id="newer-generation-retries-into-a-free-path",
    ),
    pytest.param(
        URL, following(failure_generation=GEN - 1),
        import_obs(tracked=tracked(77, "failed"), at_path=project(77, status="failed")),
        importing("remote-url", overwrite=True, attempt=2),
        id="newer-generation-overwrites-its-own-failed-project",
    ),
    pytest.param(
        URL, following(failure_generation=GEN - 1),
        import_obs(tracked=tracked(77, "failed"), at_path=project(12, archive=False)),
        Expect(A.REPORT_PATH_TAKEN, False, R.PATH_TAKEN, 300.0, stalled=True),
        id="newer-generation-does-not-take-someone-elses-path",
    ),
    pytest.param(
        OVERWRITE, following(failure_generation=GEN - 1),
        import_obs(tracked=tracked(77, "failed"), at_path=project(12, archive=False)),
        importing("remote-url", replaces=12, overwrite=True, attempt=2),
        id="newer-generation-with-overwrite-replaces-destructively",
    ),
    pytest.param(
        URL, following(), import_obs(tracked_missing=True),
        importing("remote-url", attempt=2, says="no longer exists"),
        id="tracked-project-missing-imports-again",
    ),
    pytest.param(
        URL, following(started=ago(hours=25)), import_obs(tracked=tracked(77, "started")),
        Expect(A.REPORT_FAILURE, False, R.TIMED_OUT, None, stalled=True),
        id="in-flight-past-timeout-times-out",
    ),
    pytest.param(
        URL, following(), import_obs(tracked=tracked(77, "paused")),
        Expect(A.AWAIT, False, R.IMPORTING, 60.0), id="unknown-import-status-awaits",
    ),
    # -- suspension and problems --------------------------------------------------------------
    pytest.param(
        import_spec(suspend=True), import_status(), import_obs(),
        Expect(A.SUSPEND, False, R.SUSPENDED, None), id="suspended-sends-nothing",
    ),
    pytest.param(
        URL, import_status(), import_obs(problem=Problem(R.NAMESPACE_NOT_FOUND, "404 Namespace")),
        Expect(A.BLOCKED, False, R.NAMESPACE_NOT_FOUND, 300.0, stalled=True),
        id="namespace-not-found-blocks-and-stalls",
    ),
    pytest.param(
        URL, import_status(),
        import_obs(problem=Problem(R.GITLAB_UNAVAILABLE, "503", transient=True, retry_after=12)),
        Expect(A.BLOCKED, False, R.GITLAB_UNAVAILABLE, 12.0),
        id="transient-problem-blocks-until-retry-after",
    ),
    pytest.param(
        URL, import_status(),
        import_obs(problem=Problem(R.SECRET_MISSING, "no Secret", transient=True)),
        Expect(A.BLOCKED, False, R.SECRET_MISSING, 60.0),
        id="transient-problem-looks-again-at-the-polling-maximum",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "status", "obs", "expect"), CASES)
def test_import_plan(spec, status, obs, expect):
    assert_plan(plan(spec, status, obs), expect)


@pytest.mark.parametrize(
    ("transient", "requeue"),
    [pytest.param(True, 17.0, id="transient"), pytest.param(False, 42.0, id="needs-a-person")],
)
def test_blocked_requeue_follows_the_policy(transient, requeue):
    policy = ImportPolicy(polling=Polling(maximum=17), recheck=42)
    obs = import_obs(problem=Problem(R.FORBIDDEN, "403", transient))
    blocked = plan_import(URL, GEN, import_status(), obs, NOW, policy)
    assert (blocked.action.name, blocked.requeue_after) == (A.BLOCKED, requeue)


def test_import_request_carries_the_target_params():
    spec = import_spec(
        name="App", namespacePath="team/sub", override_params={"visibility": "private"}
    )
    request = plan(spec, import_status(), import_obs(full_path="team/sub/app"))
    assert request.action == ImportProject(
        route=Route.REMOTE_URL,
        target=ImportTarget(
            path="app",
            name="App",
            namespace_path="team/sub",
            override_params={"visibility": "private"},
        ),
        attempt=1,
        replaces=None,
    )


def test_waiting_for_export_says_why():
    obs = import_obs(export=ExportSource(exists=True, ready=False, message="Exporting."))
    assert plan(EXPORT, import_status(), obs).verdict.message == (
        "ProjectExport app-export has not finished: Exporting."
    )
    missing = plan(EXPORT, import_status(), import_obs(export=ExportSource(exists=False)))
    assert "does not exist" in missing.verdict.message


# -- approval ------------------------------------------------------------------------------

TAKEN = import_obs(at_path=project(10, archive=False))


def test_manual_approval_holds_a_destructive_plan_under_the_same_id():
    held = plan(MANUAL, import_status(), TAKEN)
    unheld = plan(OVERWRITE, import_status(), TAKEN)
    assert_plan(
        held,
        Expect(
            A.IMPORT,
            False,
            R.AWAITING_APPROVAL,
            300.0,  # re-planned at policy.recheck, so it follows GitLab while it waits
            mutating=True,
            destructive=True,
            awaiting_approval=True,
            params={"replaces": 10},
        ),
    )
    assert held.id == unheld.id
    assert held.id in held.verdict.message
    assert "gitlabferry.dev/approve-plan" in held.verdict.message


def test_approved_plan_is_applied():
    plan_id = plan(MANUAL, import_status(), TAKEN).id
    approved = plan(
        MANUAL, import_status(), import_obs(at_path=TAKEN.at_path, approved_plan=plan_id)
    )
    assert_plan(approved, importing("remote-url", replaces=10, overwrite=True))
    assert approved.id == plan_id


def test_changed_plan_needs_a_new_approval():
    old_id = plan(MANUAL, import_status(), TAKEN).id
    changed = plan(MANUAL, import_status(), import_obs(at_path=project(11), approved_plan=old_id))
    assert changed.id != old_id
    assert (changed.awaiting_approval, changed.verdict.reason) == (True, R.AWAITING_APPROVAL)


def test_manual_approval_does_not_hold_a_non_destructive_import():
    request = plan(import_spec(approval="Manual"), import_status(), import_obs())
    assert (request.action.name, request.awaiting_approval, request.destructive) == (
        A.IMPORT,
        False,
        False,
    )


# -- plan ids ------------------------------------------------------------------------------


def test_plan_id_is_stable_for_the_same_inputs():
    assert plan(URL, import_status(), import_obs()).id == (
        plan(URL, import_status(), import_obs(), now=at(hours=1)).id
    )


@pytest.mark.parametrize(
    ("spec", "status", "obs"),
    [
        pytest.param(URL, import_status(), import_obs(full_path="team/other"), id="target"),
        pytest.param(URL, import_status(attempts=1), import_obs(), id="attempt"),
        pytest.param(import_spec("s3"), import_status(), import_obs(), id="route"),
    ],
)
def test_plan_id_changes_with_its_inputs(spec, status, obs):
    assert plan(spec, status, obs).id != plan(URL, import_status(), import_obs()).id


def test_plan_id_changes_with_a_new_export_archive():
    def request(archive):
        return plan(EXPORT, import_status(), import_obs(export=export_source(archive=archive)))

    assert request("2025-06-01T00:00:00Z").id != request("2025-06-02T00:00:00Z").id
