"""Learned job durations: the first status poll of similar work comes when it is likely done."""

from __future__ import annotations

import pytest

from gitlab_ferry.controller.runtime import Durations
from gitlab_ferry.reconcile.timing import Polling


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
