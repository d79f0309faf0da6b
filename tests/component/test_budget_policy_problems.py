"""The pieces every pass leans on, tested plainly: the rate-limit budget's windows, the host
policy that keeps objects away from the operator's own network, and what each failure
becomes as a condition reason."""

from __future__ import annotations

import pytest

from gitlab_ferry.clock import ManualClock
from gitlab_ferry.effects.budget import Bucket, Claim, RateLimitBudget
from gitlab_ferry.effects.network import HostPolicy
from gitlab_ferry.effects.problems import problem_from
from gitlab_ferry.effects.secrets import MissingSecret
from gitlab_ferry.gitlab import errors
from gitlab_ferry.reconcile.plan import Reason

WINDOW_START = 1_800_000_000.0


def claim(bucket: Bucket = Bucket.IMPORT, limit: int = 2, scope: str = "") -> Claim:
    return Claim("gitlab.example.com", "abc", bucket, limit, scope)


def test_bookings_fill_a_window_then_the_next():
    clock = ManualClock(WINDOW_START + 10)
    budget = RateLimitBudget(clock, margin=1.0)
    first, second, third = (budget.book([claim()]) for _ in range(3))
    assert budget.wait(first) == budget.wait(second) == 0
    assert budget.wait(third) == pytest.approx(51.0)  # next window, after the margin
    assert budget.used(claim()) == 2


def test_a_cancelled_booking_gives_its_slot_back():
    budget = RateLimitBudget(ManualClock(WINDOW_START + 10))
    budget.book([claim(limit=1)])
    budget.cancel(budget.book([claim(limit=1)]))
    later = budget.book([claim(limit=1)])
    assert budget.wait(later) == pytest.approx(51.0)
    assert budget.used(claim(limit=1)) == 1


def test_near_the_end_of_a_window_requests_go_to_the_next():
    budget = RateLimitBudget(ManualClock(WINDOW_START + 59.5), margin=1.0)
    assert budget.wait(budget.book([claim()])) == pytest.approx(1.5)


def test_a_booking_lapses_when_its_window_is_over():
    clock = ManualClock(WINDOW_START + 58.0)
    budget = RateLimitBudget(clock, margin=1.0)
    booking = budget.book([claim()])
    assert budget.wait(booking) == 0
    assert not budget.lapsed(booking)
    clock.advance(0.5)  # still inside the usable part of the window
    assert not budget.lapsed(booking)
    clock.advance(1.0)  # in the margin before the next window: too close to it to send
    assert budget.lapsed(booking)
    assert not budget.lapsed(budget.book([claim()]))


def test_a_request_slow_to_reach_gitlab_is_booked_where_it_will_arrive():
    clock = ManualClock(WINDOW_START + 56.0)
    budget = RateLimitBudget(clock, margin=1.0)
    streamed = [claim(Bucket.IMPORT), claim(Bucket.DOWNLOAD, scope="group")]
    assert budget.wait(budget.book(streamed)) == 0  # nothing noted yet: no lead
    budget.note_transit(streamed, 4.0)  # download and upload took 4 s after the check
    assert budget.lead(streamed) == 4.0
    late = budget.book(streamed)  # sent now, it would arrive 1 s into the next window
    assert budget.wait(late) == pytest.approx(5.0)
    assert budget.used(claim(Bucket.IMPORT)) == 1
    # Other routes keep their own lead, and a scope does not make a route of its own.
    assert budget.wait(budget.book([claim(Bucket.EXPORT)])) == 0
    assert budget.lead([claim(Bucket.IMPORT), claim(Bucket.DOWNLOAD, scope="other")]) == 4.0
    # Where GitLab counts nothing, nothing is kept from its window.
    unlimited = [claim(Bucket.IMPORT, limit=0), claim(Bucket.DOWNLOAD, limit=0, scope="group")]
    budget.note_transit(unlimited, 4.0)
    assert budget.lead(unlimited) == 0.0
    assert budget.wait(budget.book(unlimited)) == 0


def test_a_booking_lapses_when_its_request_would_arrive_after_its_window():
    clock = ManualClock(WINDOW_START + 50.0)
    budget = RateLimitBudget(clock, margin=1.0)
    booking = budget.book([claim()])
    budget.note_transit([claim()], 3.0)
    clock.advance(5.5)  # 55.5 + 3 s of transit: still inside the usable part
    assert not budget.lapsed(booking)
    clock.advance(1.0)  # 56.5 + 3 s: past it
    assert budget.lapsed(booking)


def test_the_lead_is_the_longest_recent_transit_but_one_and_at_most_half_a_window():
    budget = RateLimitBudget(ManualClock(WINDOW_START))
    for seconds in (0.2, 3.0, 0.5, 12.0):  # one outlier among them
        budget.note_transit([claim()], seconds)
    assert budget.lead([claim()]) == 3.0
    budget.note_transit([claim()], 45.0)
    assert budget.lead([claim()]) == 12.0
    budget.note_transit([claim()], 50.0)
    assert budget.lead([claim()]) == 30.0
    for _ in range(RateLimitBudget.TRANSITS_KEPT):  # only recent transits count
        budget.note_transit([claim()], 0.2)
    assert budget.lead([claim()]) == 0.2


def test_a_held_window_books_every_bucket_into_the_next():
    clock = ManualClock(WINDOW_START + 10)
    budget = RateLimitBudget(clock, margin=1.0)
    assert budget.in_current_window(WINDOW_START + 0.5)
    assert budget.in_current_window(WINDOW_START - 0.5)  # within the margin
    assert not budget.in_current_window(WINDOW_START - 2)
    assert budget.in_current_window(WINDOW_START + 30)  # another host's clock, a little ahead
    assert not budget.in_current_window(WINDOW_START + 200)  # not a clock like this one
    assert budget.hold_current_window() == pytest.approx(WINDOW_START + 61)
    for bucket in (Bucket.EXPORT, Bucket.IMPORT, Bucket.DOWNLOAD):
        assert budget.wait(budget.book([claim(bucket)])) == pytest.approx(51.0)
    assert budget.wait(budget.book([claim(Bucket.EXPORT, limit=0)])) == 0  # no limit: no hold
    clock.advance(51)
    assert budget.wait(budget.book([claim(Bucket.EXPORT)])) == 0


def test_a_429_holds_the_bucket_for_retry_after_or_the_next_window():
    clock = ManualClock(WINDOW_START + 20)
    budget = RateLimitBudget(clock)
    assert budget.penalize(claim(), 30.0) == 30.0
    assert budget.wait(budget.book([claim()])) == pytest.approx(30.0)
    other = claim(Bucket.EXPORT)
    assert budget.penalize(other, None) == pytest.approx(41.0)


def test_downloads_count_per_scope_and_a_zero_limit_is_unlimited():
    budget = RateLimitBudget(ManualClock(WINDOW_START + 5))
    budget.book([claim(Bucket.DOWNLOAD, 1, "group-a")])
    other_group = budget.book([claim(Bucket.DOWNLOAD, 1, "group-b")])
    same_group = budget.book([claim(Bucket.DOWNLOAD, 1, "group-a")])
    assert budget.wait(other_group) == 0
    assert budget.wait(same_group) > 0
    for _ in range(50):
        assert budget.wait(budget.book([claim(limit=0)])) == 0


def test_the_margin_must_fit_the_window():
    with pytest.raises(ValueError, match="margin"):
        RateLimitBudget(ManualClock(), window=60, margin=30)


@pytest.mark.parametrize(
    ("allowed", "url", "refused"),
    [
        ((), "https://gitlab.example.com", None),
        ((), "http://127.0.0.1:8080", "loopback"),
        ((), "http://169.254.169.254/latest", "metadata"),
        ((), "http://[::1]:80", "loopback"),
        ((), "http://0.0.0.0", "unspecified"),
        ((), "http://metadata.google.internal", "metadata"),
        (("127.0.0.1:8080",), "http://127.0.0.1:8080", None),
        (("gitlab.example.com",), "https://gitlab.other.com", "allowed hosts"),
    ],
)
async def test_the_host_policy(allowed, url, refused):
    policy = HostPolicy(allowed)
    if refused is None:
        await policy.check(url)
        return
    with pytest.raises(errors.HostNotAllowed, match=refused):
        await policy.check(url)


@pytest.mark.parametrize(
    ("exc", "reason", "transient"),
    [
        (MissingSecret("Secret team/x does not exist"), Reason.SECRET_MISSING, True),
        (errors.Unauthorized("401 Unauthorized", status=401), Reason.UNAUTHORIZED, False),
        (errors.PayloadTooLarge("413", status=413), Reason.IMPORT_TOO_LARGE, False),
        (errors.ExportTooLarge("too big", status=400), Reason.EXPORT_TOO_LARGE, False),
        (errors.RemoteFileContentType("type", status=400), Reason.REMOTE_FILE_CONTENT_TYPE, False),
        (errors.RateLimited("slow down", retry_after=12.0), Reason.THROTTLED, True),
        (errors.ServerError("502", status=502), Reason.GITLAB_UNAVAILABLE, True),
        (errors.BadRequest("Name can't be blank", status=400), Reason.REFUSED_BY_GITLAB, False),
        (RuntimeError("surprise"), Reason.GITLAB_ERROR, True),
    ],
)
def test_failures_become_reasons(exc, reason, transient):
    problem = problem_from(exc, what="requesting")
    assert (problem.reason, problem.transient) == (reason, transient)
    assert problem.message.startswith("requesting: ")


def test_a_refusal_says_what_to_change_and_a_429_when_to_retry():
    assert "max_import_size" in problem_from(errors.PayloadTooLarge("413", status=413)).message
    throttled = problem_from(errors.RateLimited("slow down", retry_after=12.0))
    assert throttled.retry_after == 12.0
