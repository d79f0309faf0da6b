"""The benchmark's arithmetic: the rate-limit lower bound, percentiles and target marks."""

from __future__ import annotations

import math

import pytest
from bench.at_rest import median_run as rest_median_run
from bench.at_rest import summarize as summarize_at_rest
from bench.compare import median_run as compare_median_run
from bench.compare import rate_limited_per_migration
from bench.compare import summarize as summarize_compare
from bench.measure import ideal_finishes, lower_bound, median_index, percentile, spread
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


def test_the_median_index_is_the_position_of_the_lower_middle_value():
    assert median_index([3.0, 1.0, 2.0]) == 2
    assert median_index([4.0, 1.0, 3.0, 2.0]) == 3
    assert median_index([7.0]) == 0


def test_rate_limited_requests_count_exports_downloads_and_imports_per_migration():
    endpoints = {"export": 25, "export_status": 40, "download": 20, "import": 20, "project": 9}
    contender = {"requests": {"by_endpoint": endpoints}, "completed": 20}
    assert rate_limited_per_migration(contender) == pytest.approx(65 / 20)


def _contender(wall: float, per_migration: float, throttled: int = 0) -> dict[str, float]:
    return {
        "wall_seconds": wall,
        "wall_over_bound": wall / 80,
        "requests_per_migration": per_migration,
        "rate_limited_per_migration": per_migration / 2,
        "cpu_seconds": 2.0,
        "peak_rss": 50.0,
        "throttled": throttled,
        "completed": 20,
    }


def _compare_runs(
    ferry_walls: list[float], walls: list[float], requests: list[float]
) -> list[dict[str, dict[str, float]]]:
    """Runs in which gitlab-ferry makes 5 requests a migration and both baselines the same."""
    return [
        {
            "gitlab-ferry": _contender(ferry_wall, 5.0),
            "asyncio script": _contender(wall, per_migration, throttled=2),
            "python-gitlab": _contender(wall, per_migration),
        }
        for ferry_wall, wall, per_migration in zip(ferry_walls, walls, requests, strict=True)
    ]


def test_compare_ratios_are_taken_run_by_run_then_summarised():
    # Ratios 1.5, 2.5 and 1.05; the medians' ratio would be 420 / 200 = 2.1.
    runs = _compare_runs([100.0, 200.0, 400.0], [150.0, 500.0, 420.0], [10.0, 5.0, 7.5])
    summary = summarize_compare(runs)
    found = summary["asyncio script"]
    assert found["wall_ratio"] == pytest.approx({"median": 1.5, "min": 1.05, "max": 2.5, "runs": 3})
    assert found["requests_ratio"] == pytest.approx(
        {"median": 1.5, "min": 1.0, "max": 2.0, "runs": 3}
    )
    assert found["rate_limited_ratio"] == found["requests_ratio"]
    assert found["wall_seconds"] == {"median": 420.0, "min": 150.0, "max": 500.0, "runs": 3}
    assert found["throttled_total"] == 6
    assert summary["gitlab-ferry"]["wall_ratio"]["median"] == 1.0
    assert compare_median_run(runs) == 1


@pytest.mark.parametrize(
    ("ferry_walls", "walls", "requests", "mark"),
    [
        ([100.0, 200.0, 400.0], [150.0, 500.0, 420.0], [10.0, 5.5, 7.5], "met"),
        # The medians' ratio (450 / 300) is above 1, the median of the runs' ratios (0.9) not.
        ([100.0, 300.0, 500.0], [600.0, 250.0, 450.0], [10.0, 10.0, 10.0], "**missed**"),
        ([100.0, 200.0, 400.0], [150.0, 500.0, 420.0], [10.0, 5.0, 4.0], "**missed**"),
    ],
)
def test_compare_targets_are_marked_from_the_median_ratios(ferry_walls, walls, requests, mark):
    runs = _compare_runs(ferry_walls, walls, requests)
    result = {"runs": runs, "summary": summarize_compare(runs)}
    rows = targets({"compare": {"result": result}})[2:]
    assert [row.rstrip(" |").rsplit("| ", 1)[1] for row in rows] == [mark, mark]
    assert "(median of 3 runs)" in rows[0]


MIB = 2**20


def _rest_run(rss_max_mib: float, cpu: list[float]) -> dict[str, object]:
    return {
        "seconds_to_finish_first": 100.0,
        "rss_max": rss_max_mib * MIB,
        "rss_mean": (rss_max_mib - 10) * MIB,
        "peak_rss_lifetime": (rss_max_mib + 20) * MIB,
        "gitlab_requests_per_minute": 200.0,
        "cpu_seconds_per_minute": cpu,
    }


def test_at_rest_summary_takes_medians_and_each_runs_mean_cpu():
    runs = [_rest_run(150, [0.3, 0.5]), _rest_run(120, [0.2, 0.2]), _rest_run(180, [1.0, 0.0])]
    summary = summarize_at_rest(runs)
    found = summary["rss_max"]
    assert (found["median"], found["min"], found["max"]) == (150 * MIB, 120 * MIB, 180 * MIB)
    assert summary["cpu_seconds_per_minute"] == pytest.approx(
        {"median": 0.4, "min": 0.2, "max": 0.5, "runs": 3}
    )
    assert rest_median_run(runs) == 0


@pytest.mark.parametrize(
    ("rss_max_mib", "mark"), [([150, 250, 190], "met"), ([150, 250, 210], "**missed**")]
)
def test_the_at_rest_target_is_judged_on_the_median_rss_max(rss_max_mib, mark):
    runs = [_rest_run(value, [0.1]) for value in rss_max_mib]
    result = {"runs": runs, "summary": summarize_at_rest(runs)}
    (row,) = targets({"at_rest": {"result": result}})[2:]
    assert row.rstrip(" |").rsplit("| ", 1)[1] == mark
    assert f"max {sorted(rss_max_mib)[1]} MiB ({min(rss_max_mib)}-{max(rss_max_mib)})" in row
