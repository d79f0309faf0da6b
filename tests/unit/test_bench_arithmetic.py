"""The benchmark's arithmetic: the rate-limit lower bound, percentiles and target marks."""

from __future__ import annotations

import math

import pytest
from bench.measure import ideal_finishes, lower_bound, percentile
from bench.report import targets
from bench.scale import LIMITS as SCALE_LIMITS
from bench.scale import seed_tree
from bench.scale_report import targets as scale_targets
from bench.stack import Limits, Timing

TIMING = Timing(export_queue=1, export_run=10, import_queue=1, import_run=10)


def test_jobs_within_one_window_finish_after_an_export_and_an_import():
    paths = [f"g/p{i}" for i in range(5)]
    start = 60.0 * 1000 + 2
    assert ideal_finishes(paths, Limits(60, 60, 60), TIMING, start) == [22.0] * 5


def test_the_limit_pushes_the_rest_into_the_next_windows():
    paths = [f"g{i % 10}/p{i}" for i in range(200)]
    start = 60.0 * 1000 + 2
    # 60 exports a minute: the last 20 are requested at the start of the fourth window.
    assert lower_bound(paths, Limits(60, 60, 60), TIMING, start) == pytest.approx(3 * 60 - 2 + 22)


def test_one_download_a_minute_per_group_spreads_the_imports():
    paths = ["g/a", "g/b", "g/c"]
    start = 60.0 * 1000 + 2
    finishes = ideal_finishes(paths, Limits(60, 60, 1), TIMING, start)
    assert finishes == pytest.approx([22.0, 60 - 2 + 11, 120 - 2 + 11])


def test_percentiles_interpolate():
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([5.0], 95) == 5.0
    assert math.isnan(percentile([], 50))


def _throughput(over_bound: float, throttled: int, per_transfer: float) -> dict[str, object]:
    result = {
        "wall_over_bound": over_bound,
        "throttled": throttled,
        "requests_per_transfer": per_transfer,
        "requests_per_migration": 2 * per_transfer,
    }
    return {"throughput": {"result": result}}


@pytest.mark.parametrize(
    ("over_bound", "throttled", "per_transfer", "marks"),
    [
        (1.05, 0, 5.0, ["met", "met"]),
        (1.2, 0, 5.0, ["**missed**", "met"]),
        (1.05, 1, 5.0, ["**missed**", "met"]),
        (1.05, 0, 8.5, ["met", "**missed**"]),
    ],
)
def test_targets_are_marked_from_the_figures(over_bound, throttled, per_transfer, marks):
    rows = targets(_throughput(over_bound, throttled, per_transfer))[2:]
    assert [row.rstrip(" |").rsplit("| ", 1)[1] for row in rows] == marks


def test_the_scale_seed_is_a_thousand_projects_in_fifty_nested_groups_and_its_bound():
    groups, paths = seed_tree()
    assert (len(groups), len(paths), len(set(paths))) == (50, 1000, 1000)
    assert max(g.count("/") for g in groups) == 5
    assert {p.rpartition("/")[0] for p in paths} == set(groups)
    start = 60.0 * 1000 + 2
    # 600 exports in the first minute, 400 in the second; each import follows its export.
    assert lower_bound(paths, SCALE_LIMITS, TIMING, start) == pytest.approx(60 - 2 + 22)


def _scale_run(progress: str, groups_ready: int) -> dict[str, object]:
    status = {"ready": "True", "progress": progress, "groupsReady": groups_ready}
    return {"projects": 1000, "groups_in_seed": 50, "status": status}


def test_the_scale_target_needs_every_run_complete():
    complete = _scale_run("1000/1000", 50)
    assert scale_targets({"runs": [complete] * 3})[0].endswith("| 3 of 3 runs | met |")
    short = [complete, _scale_run("999/1000", 50), _scale_run("1000/1000", 49)]
    assert scale_targets({"runs": short})[0].endswith("| 1 of 3 runs | **missed** |")
