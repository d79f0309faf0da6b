"""The benchmark's arithmetic: the rate-limit lower bound, percentiles and target marks."""

from __future__ import annotations

import math

import pytest
from bench.measure import ideal_finishes, lower_bound, percentile, spread
from bench.report import spread_text, targets
from bench.scale import LIMITS as SCALE_LIMITS
from bench.scale import seed_tree
from bench.scale_report import targets as scale_targets
from bench.stack import Limits, Timing
from bench.streaming import round_ratios
from bench.throughput import limits_for, summarize

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


def test_spread_is_the_median_with_the_range():
    assert spread([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0, "runs": 3}
    assert spread([4.0, 1.0, 2.0, 3.0])["median"] == 2.5
    assert spread([1.0, math.nan, 5.0]) == {"median": 3.0, "min": 1.0, "max": 5.0, "runs": 2}
    empty = spread([])
    assert empty["runs"] == 0
    assert math.isnan(empty["median"])


def test_spread_text_shows_the_median_then_the_range():
    assert spread_text(spread([1.04, 1.02, 1.1]), "{:.2f}") == "1.04 (1.02-1.10)"
    assert spread_text(spread([80.0, 84.25]), unit=" s") == "82.1 s (80.0-84.2)"
    assert spread_text(spread([])) == "n/a"


def _run(over_bound: float, throttled: int = 0, per_transfer: float = 4.0) -> dict[str, float]:
    figures = {
        "wall_seconds": 80 * over_bound,
        "lower_bound_seconds": 80.0,
        "wall_over_bound": over_bound,
        "requests_per_transfer": per_transfer,
        "requests_per_migration": 2 * per_transfer,
        "cpu_seconds": 5.0,
        "peak_rss": 100.0,
        "latency_p50": 0.2,
        "latency_p95": 1.0,
    }
    return {**figures, "throttled": throttled, "completed": 120}


def test_a_case_summary_takes_medians_and_counts_every_429():
    summary = summarize([_run(1.2, 1), _run(1.01), _run(1.03, 2)])
    assert summary["wall_over_bound"] == {"median": 1.03, "min": 1.01, "max": 1.2, "runs": 3}
    assert summary["throttled_total"] == 3
    assert summary["completed"] == [120, 120, 120]


def test_large_runs_get_raised_limits():
    assert limits_for(120) == Limits(60, 60, 60)
    assert limits_for(500).export > 60


def test_round_ratios_pair_the_ways_of_each_round():
    transfers = [
        {"round": 1, "way": "curl -T", "mib_per_second": 200.0},
        {"round": 1, "way": "gitlab-ferry", "mib_per_second": 180.0},
        {"round": 2, "way": "curl -T", "failed": "exit 7"},
        {"round": 2, "way": "gitlab-ferry", "mib_per_second": 150.0},
        {"round": 3, "way": "curl -T", "mib_per_second": 100.0},
        {"round": 3, "way": "gitlab-ferry", "mib_per_second": 90.0},
    ]
    assert round_ratios(transfers) == pytest.approx([0.9, 0.9])


def _throughput(over_bound: list[float], throttled: int, per_transfer: float) -> dict[str, object]:
    runs = [_run(value, per_transfer=per_transfer) for value in over_bound]
    runs[0]["throttled"] = throttled
    case = {"n": 120, "mode": "pairs", "summary": summarize(runs)}
    return {"throughput": {"result": {"cases": [case]}}}


@pytest.mark.parametrize(
    ("over_bound", "throttled", "per_transfer", "marks"),
    [
        ([1.04, 1.05, 1.2], 0, 4.5, ["met", "met"]),
        ([1.06, 1.01, 1.2], 0, 4.0, ["**missed**", "met"]),
        ([1.0, 1.0, 1.0], 1, 4.0, ["**missed**", "met"]),
        ([1.0, 1.0, 1.0], 0, 4.6, ["met", "**missed**"]),
    ],
)
def test_targets_are_marked_from_the_medians(over_bound, throttled, per_transfer, marks):
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


def _streaming(ratios: list[float]) -> dict[str, object]:
    size = {
        "size": "1GiB",
        "ratios": ratios,
        "operator_hwm_before": 100 * 2**20,
        "operator_hwm_after": 103 * 2**20,
    }
    return {"streaming": {"result": {"sizes": [size]}}}


@pytest.mark.parametrize(
    ("ratios", "mark"),
    [([0.85, 0.7, 0.81], "met"), ([0.79, 0.9, 0.6], "**missed**"), ([], "n/a")],
)
def test_streaming_is_judged_on_the_median_ratio(ratios, mark):
    rows = targets(_streaming(ratios))[2:]
    assert rows[0].rstrip(" |").rsplit("| ", 1)[1] == mark
    assert rows[1].endswith("| met |")
