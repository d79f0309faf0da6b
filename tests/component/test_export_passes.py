"""ProjectExport reconcile passes, whole (observe, plan, apply, record), against a simulated
GitLab, an in-memory Kubernetes and a manual clock: the write-ahead record before GitLab's
non-idempotent POST, a restart that must not repeat it, the rate-limit budget shared by
objects, a refusal that stops, and ``gitlab-ferry plan`` running the same pass without
applying it."""

from __future__ import annotations

import asyncio

import pytest
from component_harness import NAMESPACE, Stop, export_object, posts, run_jobs

from gitlab_ferry.api.project_export import PLURAL as EXPORTS
from gitlab_ferry.controller.preview import preview, render
from gitlab_ferry.effects import exporting
from gitlab_ferry.effects.kube import ObjectRef

PROJECT = "gitlab-org/gitlab-test"


def ready(operator, name):
    status = operator.kube.body(EXPORTS, NAMESPACE, name)["status"]
    found = next(c for c in status["conditions"] if c["type"] == "Ready")
    return found["status"], found["reason"]


async def test_an_export_is_recorded_as_applying_before_it_is_requested(gitlabs, operator_for):
    gitlab = await gitlabs()
    operator = operator_for(gitlab)
    operator.kube.put(EXPORTS, export_object("e", gitlab, PROJECT))
    delay = await operator.export_pass("e")
    assert delay is not None
    assert len(posts(gitlab, "export")) == 1
    (ref, first), *_ = operator.kube.writes
    assert ref == ObjectRef(EXPORTS, NAMESPACE, "e")
    assert (first["plan"]["action"], first["plan"]["phase"]) == ("RequestExport", "Applying")
    assert first["route"] == "kept"
    status = operator.kube.body(EXPORTS, NAMESPACE, "e")["status"]
    assert (status["plan"]["action"], status["plan"]["phase"]) == ("RequestExport", "Applied")
    assert status["gitlabVersion"] == "18.7.0"
    assert ready(operator, "e") == ("False", "Scheduled")
    await run_jobs(gitlab)
    await operator.export_pass("e")
    assert ready(operator, "e") == ("True", "Finished")
    status = operator.kube.body(EXPORTS, NAMESPACE, "e")["status"]
    assert status["artifact"]["location"] == "GitLab"
    assert status["links"]["apiUrl"].endswith("/export/download")
    assert {"RequestExport", "Finished"} <= set(operator.reasons("e"))
    assert len(posts(gitlab, "export")) == 1


async def test_a_restart_after_the_request_does_not_request_again(gitlabs, operator_for):
    gitlab = await gitlabs()
    first = operator_for(gitlab)
    first.kube.put(EXPORTS, export_object("e", gitlab, PROJECT))
    await first.export_pass("e")
    # A new process: no memory of the pass, only what Kubernetes stored.
    second = operator_for(gitlab, kube=first.kube)
    await second.export_pass("e")
    await run_jobs(gitlab)
    await second.export_pass("e")
    assert ready(second, "e") == ("True", "Finished")
    assert len(posts(gitlab, "export")) == 1


async def test_objects_sharing_a_token_share_the_export_budget(gitlabs, operator_for, clock):
    gitlab = await gitlabs()
    operator = operator_for(gitlab, export_limit=1)
    operator.kube.put(EXPORTS, export_object("a", gitlab, PROJECT))
    operator.kube.put(EXPORTS, export_object("b", gitlab, "gitlab-org/gitaly"))
    await operator.export_pass("a")
    wait = await operator.export_pass("b")
    assert ready(operator, "b") == ("False", "Throttled")
    assert wait is not None
    assert 30 <= wait <= 32  # the next minute window opens in 30 s (+ the margin)
    assert len(posts(gitlab, "export")) == 1
    clock.advance(wait)
    await operator.export_pass("b")
    assert len(posts(gitlab, "export")) == 2
    assert ready(operator, "b") == ("False", "Scheduled")


async def test_a_restarted_operator_does_not_spend_the_window_its_predecessor_spent(
    gitlabs, operator_for, clock
):
    """The budget lives in memory: a new process must not send GitLab a request its
    predecessor already spent the current window on (GitLab would answer 429)."""
    gitlab = await gitlabs()
    first = operator_for(gitlab, export_limit=1)
    first.kube.put(EXPORTS, export_object("a", gitlab, PROJECT))
    await first.export_pass("a")
    assert len(posts(gitlab, "export")) == 1
    clock.advance(5)
    second = operator_for(gitlab, kube=first.kube, export_limit=1)
    second.kube.put(EXPORTS, export_object("b", gitlab, "gitlab-org/gitaly"))
    wait = await second.export_pass("b")
    assert ready(second, "b") == ("False", "Throttled")
    assert wait is not None
    assert 25 <= wait <= 27  # the next window opens in 25 s (+ the margin)
    assert len(posts(gitlab, "export")) == 1
    clock.advance(wait)
    await second.export_pass("b")
    assert len(posts(gitlab, "export")) == 2
    assert [r.status for r in gitlab.requests("export")] == [202, 202]


async def test_a_restart_after_a_quiet_window_requests_at_once(gitlabs, operator_for, clock):
    gitlab = await gitlabs()
    first = operator_for(gitlab, export_limit=1)
    first.kube.put(EXPORTS, export_object("a", gitlab, PROJECT))
    await first.export_pass("a")
    clock.advance(60)  # the window of "a"'s request is over
    second = operator_for(gitlab, kube=first.kube, export_limit=1)
    second.kube.put(EXPORTS, export_object("b", gitlab, "gitlab-org/gitaly"))
    await second.export_pass("b")
    assert len(posts(gitlab, "export")) == 2
    assert ready(second, "b") == ("False", "Scheduled")


async def test_a_request_slow_to_reach_gitlab_waits_for_the_window_it_would_reach(
    gitlabs, operator_for, clock, monkeypatch
):
    """GitLab counts a request when it arrives: how long requests took after their last
    budget check is noted, and one that would arrive past its window's end waits for the
    next window instead (sent at once, GitLab would count it on top of that window's own)."""
    gitlab = await gitlabs()
    operator = operator_for(gitlab)
    for name, project in {"a": PROJECT, "b": "gitlab-org/gitaly"}.items():
        operator.kube.put(EXPORTS, export_object(name, gitlab, project))
    request_export = exporting.request_export

    async def slow_request(*args, **kwargs):
        clock.advance(4)  # e.g. a saturated machine, or a streamed upload
        return await request_export(*args, **kwargs)

    monkeypatch.setattr(exporting, "request_export", slow_request)
    await operator.export_pass("a")  # 30 s into the window, answered at 34 s
    clock.advance(23)
    wait = await operator.export_pass("b")  # at 57 s it would arrive at 61 s
    assert ready(operator, "b") == ("False", "Throttled")
    assert wait == pytest.approx(4.0, abs=0.3)  # the next window, after the margin
    assert len(posts(gitlab, "export")) == 1
    clock.advance(wait)
    await operator.export_pass("b")
    assert len(posts(gitlab, "export")) == 2


async def test_an_export_over_the_size_limit_is_refused_once(gitlabs, operator_for):
    gitlab = await gitlabs(instance={"max_export_size": 1})
    gitlab.create_project(
        {"path_with_namespace": "gitlab-org/huge", "statistics": {"repository_size": "2GiB"}}
    )
    operator = operator_for(gitlab)
    operator.kube.put(EXPORTS, export_object("e", gitlab, "gitlab-org/huge"))
    await operator.export_pass("e")
    assert ready(operator, "e") == ("False", "ExportTooLarge")
    for _ in range(3):
        assert await operator.export_pass("e") is None
    assert len(posts(gitlab, "export")) == 1
    status = operator.kube.body(EXPORTS, NAMESPACE, "e")["status"]
    assert status["plan"]["action"] == "ReportRefusal"
    assert "max_export_size" in status["refusal"]["message"]
    gitlab.update_settings({"instance": {"max_export_size": 0}})
    operator.kube.annotate(EXPORTS, NAMESPACE, "e", "gitlabferry.dev/retry", "1")
    await operator.export_pass("e")
    assert len(posts(gitlab, "export")) == 2
    assert ready(operator, "e") == ("False", "Scheduled")


async def test_a_gitlab_older_than_supported_is_refused(gitlabs, operator_for):
    gitlab = await gitlabs(behaviour={"gitlab_version": "13.8.4"})
    operator = operator_for(gitlab)
    operator.kube.put(EXPORTS, export_object("e", gitlab, PROJECT))
    await operator.export_pass("e")
    assert ready(operator, "e") == ("False", "UnsupportedByGitLab")
    assert posts(gitlab, "export") == []


async def test_plan_previews_the_pass_without_applying_it(gitlabs, operator_for):
    gitlab = await gitlabs()
    operator = operator_for(gitlab)
    result = await preview(operator.runtime, export_object("e", gitlab, PROJECT))
    text = render(result)
    assert "ProjectExport team/e (not in the cluster yet)" in text
    assert "GitLab 18.7.0 export_status=none" in text
    assert "~ plan" in text
    assert "RequestExport" in text
    assert posts(gitlab, "export") == []
    assert operator.kube.writes == []


async def test_one_export_scouts_a_new_gitlab_and_its_finding_wakes_the_others(
    gitlabs, operator_for, clock
):
    gitlab = await gitlabs()
    operator = operator_for(gitlab)
    projects = {"a": PROJECT, "b": "gitlab-org/gitaly", "c": "gitlab-org/docs"}
    for name, project in projects.items():
        operator.kube.put(EXPORTS, export_object(name, gitlab, project))
    delays = {name: await operator.export_pass(name) for name in projects}
    # Nothing is learned of this GitLab: "a" looks often, the others wait for its finding.
    assert delays == {"a": 5.0, "b": 20.0, "c": 20.0}
    uid = operator.kube.body(EXPORTS, NAMESPACE, "b")["metadata"]["uid"]
    follower = asyncio.create_task(operator.runtime.wakeups.sleep(uid, 60.0, Stop()))
    clock.advance(5)
    assert await operator.export_pass("a") == 1.0
    await run_jobs(gitlab)
    clock.advance(1)
    await operator.export_pass("a")
    assert ready(operator, "a") == ("True", "Finished")
    await asyncio.wait_for(follower, 1.0)  # woken at once: "b" is as old as "a" was
    looks_before = len(gitlab.requests("export_status"))
    await operator.export_pass("b")
    assert ready(operator, "b") == ("True", "Finished")
    assert len(gitlab.requests("export_status")) == looks_before + 1
    # Learned now: the next export's looks come by the learned duration.
    operator.kube.put(EXPORTS, export_object("d", gitlab, "gitlab-org/omnibus"))
    learned = operator.runtime.durations.expected(gitlab.url.split("://", 1)[1], "ProjectExport")
    assert learned is not None
    assert 5.5 <= learned <= 6.0  # between 5.5 ("a": running at 5 s, finished at 6 s) and 6
    assert await operator.export_pass("d") == pytest.approx(0.9 * learned)


async def test_a_follower_is_woken_by_when_gitlab_got_its_request_not_by_its_status(
    gitlabs, operator_for, clock
):
    """The start a status records is written before the request; a slow write (a busy API
    server) must not make the follower's work look older than it is on GitLab."""
    gitlab = await gitlabs()
    operator = operator_for(gitlab)
    for name, project in {"a": PROJECT, "b": "gitlab-org/gitaly"}.items():
        operator.kube.put(EXPORTS, export_object(name, gitlab, project))
    write_status = operator.kube.write_status

    async def slow_applying_write_of_b(ref, status):
        if ref.name == "b" and status["plan"]["phase"] == "Applying":
            clock.advance(4)
        return await write_status(ref, status)

    operator.kube.write_status = slow_applying_write_of_b
    durations = operator.runtime.durations
    record = durations.record
    wakes = []

    def recorded_wakes(*args, **kwargs):
        found = record(*args, **kwargs)
        wakes.extend(found)
        return found

    durations.record = recorded_wakes
    await operator.export_pass("a")  # the scout, answered at once
    await operator.export_pass("b")  # recorded as started 4 s before GitLab got it
    assert len(posts(gitlab, "export")) == 2
    clock.advance(2)
    await operator.export_pass("a")  # "a" still running 6 s after its request
    await run_jobs(gitlab)
    clock.advance(1)
    await operator.export_pass("a")  # finished 7 s after its request: 6.5 s is learned
    assert ready(operator, "a") == ("True", "Finished")
    b_uid = operator.kube.body(EXPORTS, NAMESPACE, "b")["metadata"]["uid"]
    # "b" reached GitLab 3 s ago, so it is woken when it is 7 s old there: in 4 s.
    assert [(wake.uid, wake.after) for wake in wakes] == [(b_uid, pytest.approx(4.0))]
    host = gitlab.url.split("://", 1)[1]
    assert durations.expected(host, "ProjectExport") == pytest.approx(6.5)
