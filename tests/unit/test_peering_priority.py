"""Peering priorities: of two replicas of the operator, the one that started first stays active
and the other stands by (kopf pauses all operators of one priority, so they must differ)."""

from __future__ import annotations

from gitlab_ferry.handlers import peering_priority


def test_the_replica_started_first_has_the_higher_priority() -> None:
    first, second = peering_priority(1_790_000_000.0), peering_priority(1_790_000_000.25)
    assert first > second


def test_replicas_started_in_the_same_second_differ() -> None:
    assert peering_priority(1_790_000_000.001) != peering_priority(1_790_000_000.002)


def test_the_priority_is_an_integer_kopf_can_store() -> None:
    priority = peering_priority(1_790_000_000.5)
    assert isinstance(priority, int)
    assert abs(priority) < 2**53  # exact in JSON numbers, as the peering object stores it
