"""The simulator's clocks against the operator's: an accelerated simulator and an accelerated
operator in two processes agree on the time only because both scale it the same way, without
sharing code (the simulator imports nothing of the operator)."""

from __future__ import annotations

import time

import pytest

from gitlab_ferry import clock as operator_clock
from gitlab_ferry_testbed.simulator.clock import (
    ManualClock,
    ScaledClock,
    SystemClock,
    clock_for,
)


@pytest.mark.parametrize("speed", [0.5, 60.0, 3600.0])
def test_scaled_clocks_agree_with_the_operators(speed: float) -> None:
    anchor = time.time() - 90
    operator = operator_clock.ScaledClock(speed, anchor)
    gitlab = ScaledClock(speed, anchor)
    before = operator.time()
    seen = gitlab.time()
    after = operator.time()
    assert before <= seen <= after
    assert gitlab.real_seconds(120) == operator.real_seconds(120)


def test_the_command_lines_clock_choice() -> None:
    assert isinstance(clock_for(1, None), SystemClock)
    scaled = clock_for(60, 1_800_000_000.0)
    assert scaled == ScaledClock(60, 1_800_000_000.0)
    unanchored = clock_for(60, None)
    assert isinstance(unanchored, ScaledClock)
    assert abs(unanchored.anchor - time.time()) < 5
    with pytest.raises(ValueError, match="positive"):
        ScaledClock(0, 0.0)


def test_a_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(1_800_000_000.0)
    assert clock.real_seconds(3600) == 0
    clock.advance(90)
    assert clock.time() == 1_800_000_090.0
    clock.set(1_900_000_000.0)
    assert clock.time() == 1_900_000_000.0
