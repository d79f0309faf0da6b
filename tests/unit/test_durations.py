"""Learned job durations: the first status poll of similar work comes when it is likely done;
until one is learned, one object scouts and its finding wakes the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gitlab_ferry.controller.durations import SCOUT_STALE, Durations, Wake
from gitlab_ferry.reconcile.timing import Pace, Polling


def test_a_finish_seen_without_an_earlier_look_is_learned_as_seen():
    durations = Durations()
    durations.record("gitlab", "export", 13.5)
    assert durations.expected("gitlab", "export") == 13.5
    assert durations.expected("gitlab", "import") is None


def test_a_finish_between_two_looks_is_learned_in_the_middle():
    durations = Durations()
    # The back-off looked at 10 s (still running) and 20 s (finished): not 20 s.
    durations.record("gitlab", "export", 20.0, running_until=10.0)
    assert durations.expected("gitlab", "export") == 15.0


def test_a_look_from_another_run_is_ignored():
    durations = Durations()
    durations.record("gitlab", "export", 12.0, running_until=30.0)
    assert durations.expected("gitlab", "export") == 12.0


def _learn(true_seconds: float, jobs: int) -> float:
    """Jobs of one duration, each polled as the policy says with what was learned so far."""
    durations, polling = Durations(), Polling()
    for _ in range(jobs):
        elapsed, running = 0.0, None
        while True:
            elapsed += polling.next_delay(elapsed, durations.expected("gitlab", "export"))
            if elapsed >= true_seconds:
                break
            running = elapsed
        durations.record("gitlab", "export", elapsed, running)
    learned = durations.expected("gitlab", "export")
    assert learned is not None
    return learned


@pytest.mark.parametrize("true_seconds", [11.0, 40.0, 300.0])
def test_the_learned_duration_settles_near_the_true_one(true_seconds):
    # Without the middle it stayed near the back-off's first sighting (20 s for 11 s jobs).
    learned = _learn(true_seconds, 60)
    assert true_seconds * 0.9 <= learned <= true_seconds * 1.12


T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_the_first_object_to_ask_on_an_unknown_host_scouts_and_the_others_follow():
    durations = Durations()
    assert durations.pace("gitlab", "export", "a", at(0)) is Pace.SCOUT
    # Asked while "a"'s pass is still under way: planned together, only one scouts.
    assert durations.pace("gitlab", "export", "b", at(0)) is Pace.FOLLOW
    assert durations.pace("gitlab", "export", "a", at(1)) is Pace.SCOUT
    assert durations.pace("gitlab", "import", "b", at(1)) is Pace.SCOUT
    assert durations.pace("other", "export", "b", at(1)) is Pace.SCOUT


def test_a_scout_whose_work_ended_or_went_quiet_is_replaced():
    durations = Durations()
    durations.pace("gitlab", "export", "a", at(0))
    durations.untrack("a")
    assert durations.pace("gitlab", "export", "b", at(1)) is Pace.SCOUT
    assert durations.pace("gitlab", "export", "c", at(100)) is Pace.FOLLOW
    assert durations.pace("gitlab", "export", "c", at(1 + SCOUT_STALE + 1)) is Pace.SCOUT


def test_a_scout_leaving_before_a_finding_hands_its_role_to_the_first_follower():
    durations = Durations()
    # "idle" asked on a pass that started no work (a waiting import), so it scouted briefly.
    assert durations.pace("gitlab", "import", "idle", at(0)) is Pace.SCOUT
    for uid, started in (("second", 0.4), ("first", 0.2)):
        assert durations.pace("gitlab", "import", uid, at(started)) is Pace.FOLLOW
        assert durations.track("gitlab", "import", uid, at(started), Pace.FOLLOW) == []
    assert durations.untrack("idle") == [Wake("first", 0.0)]
    # Woken, "first" asks again and scouts; "second" still follows.
    assert durations.pace("gitlab", "import", "first", at(0.5)) is Pace.SCOUT
    assert durations.track("gitlab", "import", "first", at(0.2), Pace.SCOUT) == []
    assert durations.untrack("second") == []


def test_a_follower_tracked_after_its_scout_left_is_woken_to_scout():
    durations = Durations()
    durations.pace("gitlab", "export", "idle", at(0))
    assert durations.pace("gitlab", "export", "late", at(0.1)) is Pace.FOLLOW
    assert durations.untrack("idle") == []  # "late" was not tracked yet
    assert durations.track("gitlab", "export", "late", at(0.1), Pace.FOLLOW) == [Wake("late", 0.0)]
    assert durations.pace("gitlab", "export", "late", at(0.2)) is Pace.SCOUT


def test_nothing_is_handed_on_once_a_duration_is_learned():
    durations = Durations()
    durations.record("gitlab", "export", 10.0)
    durations.pace("gitlab", "export", "scout", at(0))
    assert durations.pace("gitlab", "export", "other", at(0)) is Pace.FOLLOW
    assert durations.track("gitlab", "export", "other", at(0), Pace.FOLLOW) == []
    assert durations.untrack("scout") == []


def test_a_finding_wakes_each_follower_when_its_work_is_as_old_as_the_scouts_was():
    durations = Durations()
    durations.pace("gitlab", "export", "scout", at(0))
    for uid, started in (("same-time", 0.5), ("later", 4.0), ("over", 1.0)):
        assert durations.pace("gitlab", "export", uid, at(started)) is Pace.FOLLOW
        durations.track("gitlab", "export", uid, at(started), Pace.FOLLOW)
    durations.untrack("over")
    # The scout looked at 11 s (running) and 12 s (finished).
    wakes = durations.record("gitlab", "export", 12.0, 11.0, now=at(12))
    assert {wake.uid: wake.after for wake in wakes} == {"same-time": 0.5, "later": 4.0}
    assert durations.expected("gitlab", "export") == 11.5
    # Learned: the role is free again; followers are no longer kept to be woken.
    assert durations.pace("gitlab", "export", "x", at(13)) is Pace.SCOUT
    assert durations.pace("gitlab", "export", "y", at(13)) is Pace.FOLLOW
    durations.track("gitlab", "export", "y", at(13), Pace.FOLLOW)
    assert durations.record("gitlab", "export", 12.5, now=at(14)) == []


def test_a_scout_sees_a_finish_within_a_tenth_of_its_duration_and_a_follower_looks_late():
    polling = Polling()
    for true_seconds in (7.0, 11.0, 40.0, 300.0):
        elapsed = 0.0
        while elapsed < true_seconds:
            elapsed += polling.next_delay(elapsed, None, Pace.SCOUT)
        assert elapsed - true_seconds <= max(polling.scout_floor, 0.1 * elapsed)
    assert polling.next_delay(0.0, None, Pace.SCOUT) == polling.initial
    assert polling.next_delay(0.0, None, Pace.FOLLOW) == polling.follow_first
    assert polling.next_delay(20.0, None, Pace.FOLLOW) == polling.next_delay(20.0)
    # Once a duration is learned, only the scout (or an object alone) looks early.
    assert polling.next_delay(0.0, 10.0, Pace.SCOUT) == 9.0
    assert polling.next_delay(0.0, 10.0, Pace.ALONE) == 9.0
    # A follower looks just after the estimate, then at the late mark.
    assert polling.next_delay(0.0, 10.0, Pace.FOLLOW) == pytest.approx(10.5)
    assert polling.next_delay(10.5, 10.0, Pace.FOLLOW) == pytest.approx(1.0)


@pytest.mark.parametrize("share", [0.96, 1.0, 1.04])
def test_one_look_of_a_follower_sees_a_finish_the_estimate_is_a_little_off(share):
    # The scout keeps the estimate within about 5% of the true duration, either way. (Jobs
    # longer than the longest poll interval, 60 s, are looked at that often.)
    polling = Polling()
    for true_seconds in (11.0, 40.0, 55.0):
        elapsed, _, looks = _looks_until_done(
            polling, true_seconds, share * true_seconds, Pace.FOLLOW
        )
        assert looks == 1
        assert elapsed <= 1.1 * true_seconds


def test_a_first_look_that_sees_the_finish_only_lowers_the_estimate():
    durations = Durations()
    durations.record("gitlab", "export", 12.0)
    durations.record("gitlab", "export", 12.4)  # a follower's look at the estimate, and later
    assert durations.expected("gitlab", "export") == 12.0
    durations.record("gitlab", "export", 10.8)  # the scout's early look already saw it
    assert durations.expected("gitlab", "export") == pytest.approx(12.0 - 0.3 * 1.2)


def _looks_until_done(polling: Polling, true_seconds: float, expected: float | None, pace: Pace):
    """Looks at one job of ``true_seconds``: when the finish was seen, the last look that saw
    it running (or None) and how many looks it took."""
    elapsed, running, looks = 0.0, None, 0
    while True:
        elapsed += polling.next_delay(elapsed, expected, pace)
        looks += 1
        if elapsed >= true_seconds:
            return elapsed, running, looks
        running = elapsed


@pytest.mark.parametrize("true_seconds", [11.0, 40.0])
def test_batches_with_one_scout_settle_near_the_true_duration_and_followers_look_once(
    true_seconds,
):
    # Jobs shorter than the longest poll interval (60 s); longer ones are looked at that often.
    durations, polling = Durations(), Polling()
    # A first estimate far too high (a late first sighting), then batches of one scout and
    # nine followers.
    durations.record("gitlab", "export", true_seconds * 1.8)
    follower_looks = []
    for _ in range(50):
        expected = durations.expected("gitlab", "export")
        seen = _looks_until_done(polling, true_seconds, expected, Pace.SCOUT)
        durations.record("gitlab", "export", seen[0], seen[1])
        for _follower in range(9):
            elapsed, running, looks = _looks_until_done(
                polling, true_seconds, expected, Pace.FOLLOW
            )
            durations.record("gitlab", "export", elapsed, running)
            follower_looks.append(looks)
    learned = durations.expected("gitlab", "export")
    assert learned is not None
    # The scout's early looks pull it down, the followers' late sightings up.
    assert 0.95 * true_seconds <= learned <= true_seconds / polling.early
    recent = follower_looks[-90:]
    assert sum(recent) / len(recent) <= 1.2
