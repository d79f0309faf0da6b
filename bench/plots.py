"""The benchmark's PNG plots, drawn with matplotlib's non-interactive Agg backend from the
scenarios' saved results: finished transfers over time against the rate-limit ceiling
(scenario 1, and the three contenders of scenario 2) and the operator's memory over time
(scenarios 1 and 4). Each function writes one file and returns its path; none measures anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench.measure import median_index

MIB = 1024 * 1024


def _steps(times: list[float]) -> tuple[list[float], list[int]]:
    xs, ys = [0.0], [0]
    for count, moment in enumerate(sorted(times), start=1):
        xs += [moment, moment]
        ys += [count - 1, count]
    return xs, ys


def _save(fig: Any, axes: list[Any], path: Path) -> Path:
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def median_run(case: dict[str, Any]) -> dict[str, Any]:
    """The run of a scenario 1 case whose wall time over the bound is the median one."""
    runs: list[dict[str, Any]] = case["runs"]
    return runs[median_index([run["wall_over_bound"] for run in runs])]


def throughput(result: dict[str, Any], path: Path) -> Path:
    """Finished migrations over time at the largest N, the median run of each way."""
    largest = max(case["n"] for case in result["cases"])
    cases = [case for case in result["cases"] if case["n"] == largest]
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    first = median_run(cases[0])
    ax.plot(*_steps(first["ideal_finishes"]), label="rate-limit ceiling (ideal client)", ls="--")
    for case in cases:
        run = median_run(case)
        ax.plot(
            *_steps(run["finishes"]),
            label=f"{case['mode']}: ProjectImports Ready (median run, "
            f"{run['wall_over_bound']:.3f}x the bound)",
        )
    limits = first["limits"]
    ax.set_title(
        f"Scenario 1: {largest} migrations at {limits['export']} exports and "
        f"{limits['import_']} imports per minute"
    )
    ax.set_xlabel("seconds since apply (at the start of a rate-limit minute)")
    ax.set_ylabel("finished migrations")
    longest = max(max(median_run(case)["finishes"], default=60.0) for case in cases)
    for minute in range(60, int(longest) + 60, 60):
        ax.axvline(minute - (first["start"] % 60), color="grey", lw=0.5, alpha=0.5)
    ax.legend(loc="upper left", fontsize="small")
    return _save(fig, [ax], path)


def compare(result: dict[str, Any], path: Path) -> Path:
    """Finished migrations over time of each contender in the run with gitlab-ferry's median
    wall time over the bound (the contenders of one run ran side by side)."""
    index = result["median_index"]
    run = result["runs"][index]
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    ideal = run["gitlab-ferry"].get("ideal_finishes")
    if ideal:
        ax.plot(*_steps(ideal), label="rate-limit ceiling (ideal client)", ls="--")
    for name in ("gitlab-ferry", "asyncio script", "python-gitlab"):
        if name in run:
            ax.plot(*_steps(run[name]["finishes"]), label=name)
    limits = result["limits"]
    ax.set_title(
        f"Scenario 2: {result['n']} migrations at {limits['export']}/min (export, import, "
        f"download), run {index + 1} of {len(result['runs'])}"
    )
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("finished migrations")
    ax.legend(loc="lower right")
    return _save(fig, [ax], path)


def memory(
    throughput_result: dict[str, Any] | None, rest: dict[str, Any] | None, path: Path
) -> Path:
    """The operator's RSS over time: in one run of scenario 1 and in one run of scenario 4
    (each the median run; either may be absent)."""
    panels = [p for p in (throughput_result, rest) if p is not None]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 3.2 * len(panels)), dpi=110)
    axes = [axes] if len(panels) == 1 else list(axes)
    index = 0
    if throughput_result is not None:
        ax = axes[index]
        samples = throughput_result["rss_samples"]
        ax.plot([t for t, _ in samples], [v / MIB for _, v in samples])
        ax.axvline(0, color="grey", ls="--", lw=0.8)
        ax.axvline(throughput_result["wall_seconds"], color="grey", ls="--", lw=0.8)
        ax.set_title(
            f"Operator RSS, scenario 1 ({throughput_result['n']} migrations; dashed: apply, "
            "last Ready)"
        )
        ax.set_xlabel("seconds since apply")
        index += 1
    if rest is not None:
        ax = axes[index]
        samples = rest["rss_samples"]
        ax.plot([t for t, _ in samples], [v / MIB for _, v in samples])
        ax.set_title(
            f"Operator RSS at rest, scenario 4 ({rest['finished_objects']} finished, "
            f"{rest['in_flight_exports']} exports in flight, {rest['waiting_imports']} imports "
            "waiting)"
        )
        ax.set_xlabel("seconds of the measured rest (the run with the median RSS max)")
    for ax in axes:
        ax.set_ylabel("RSS (MiB)")
        # Room above a flat line, which would otherwise sit on the top edge.
        ax.set_ylim(0, ax.get_ylim()[1] * 1.1)
    return _save(fig, axes, path)
