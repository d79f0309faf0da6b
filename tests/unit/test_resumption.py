"""What a restarted operator reads from its objects' statuses to resume the rate-limit budget:
the latest moment any of them may have sent GitLab a request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gitlab_ferry.clock import ManualClock
from gitlab_ferry.controller.resumption import BudgetResumption, last_request, latest
from gitlab_ferry.effects.budget import Bucket, Claim, RateLimitBudget

NOW = datetime(2026, 12, 7, 12, 0, 30, tzinfo=UTC)


def stamp(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).isoformat().replace("+00:00", "Z")


def test_a_request_still_applying_may_be_on_its_way_now():
    plan = {"action": "ImportProject", "phase": "Applying", "since": stamp(90)}
    assert last_request({"startedAt": stamp(90), "plan": plan}, NOW) == NOW


def test_creating_groups_or_children_spends_no_budget():
    for action in ("CreateGroups", "CreateChildren"):
        plan = {"action": action, "phase": "Applying", "since": stamp(1)}
        assert last_request({"plan": plan}, NOW) is None


def test_an_applied_request_counts_from_when_it_was_applied():
    plan = {"action": "RelayToS3", "phase": "Applied", "since": stamp(20)}
    status = {"startedAt": stamp(40), "plan": plan}
    assert last_request(status, NOW) == NOW - timedelta(seconds=20)


@pytest.mark.parametrize(
    ("action", "phase"), [("AwaitExport", "Planned"), ("WaitForExport", "Applied")]
)
def test_a_later_plan_that_sent_nothing_does_not_count(action, phase):
    status = {"startedAt": stamp(40), "plan": {"action": action, "phase": phase, "since": stamp(2)}}
    assert last_request(status, NOW) == NOW - timedelta(seconds=40)


def test_a_group_migration_counts_its_group_export_and_import():
    status = {"groupExportAt": stamp(50), "groupImportAt": stamp(10)}
    assert last_request(status, NOW) == NOW - timedelta(seconds=10)


def test_objects_that_never_requested_say_nothing():
    assert last_request({}, NOW) is None
    assert latest([{"metadata": {"name": "fresh"}}, {"status": {}}], NOW) is None
    busy = {"status": {"startedAt": stamp(5)}}
    assert latest([{"status": {}}, busy], NOW) == NOW - timedelta(seconds=5)


def test_objects_being_deleted_are_left_out():
    leaving = {"metadata": {"deletionTimestamp": stamp(1)}, "status": {"startedAt": stamp(1)}}
    assert latest([leaving], NOW) is None


class Unreachable:
    async def list_objects(self, plural, namespaces):
        raise ConnectionError("the API server is not answering")


class Listing:
    def __init__(self, objects):
        self.objects, self.calls = objects, 0

    async def list_objects(self, plural, namespaces):
        self.calls += 1
        return self.objects if plural == "projectexports" else []


async def test_a_listing_that_fails_holds_the_current_window():
    clock = ManualClock(NOW.timestamp())
    budget = RateLimitBudget(clock)
    await BudgetResumption().ensure(Unreachable(), budget, clock, [])
    claim = Claim("gitlab.example.com", "abc", Bucket.EXPORT, 6)
    assert budget.wait(budget.book([claim])) == pytest.approx(31.0)


async def test_the_objects_are_listed_once_and_a_recent_request_holds_the_window():
    clock = ManualClock(NOW.timestamp())
    budget = RateLimitBudget(clock)
    kube = Listing([{"status": {"startedAt": stamp(10)}}])
    resumption = BudgetResumption()
    await resumption.ensure(kube, budget, clock, ["ns"])
    await resumption.ensure(kube, budget, clock, ["ns"])
    assert kube.calls == 3  # one list per kind, once
    claim = Claim("gitlab.example.com", "abc", Bucket.IMPORT, 6)
    assert budget.wait(budget.book([claim])) == pytest.approx(31.0)
