"""``docs/benchmarks.md`` from the scenarios' saved results: the machine, one table per
scenario, the targets met or missed, and how each figure was measured. A hand-written section
between the ``findings`` markers of an existing file is kept, so analysis survives re-runs.
Formatting only; nothing here measures.
"""

from __future__ import annotations

import math
import os
import platform
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bench import scale_report
from bench.measure import median_index, spread

MIB = 1024 * 1024
FINDINGS = re.compile(r"<!-- findings -->\n(.*?)<!-- /findings -->", re.DOTALL)
BASELINES = ("asyncio script", "python-gitlab")


def machine() -> dict[str, str]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        memory_kib = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
    except (OSError, StopIteration):
        memory_kib = 0
    return {
        "cores": str(os.cpu_count()),
        "cpu": model or platform.processor() or "unknown",
        "ram": f"{memory_kib / 1024**2:.1f} GiB",
        "python": sys.version.split()[0],
        "kernel": platform.release(),
    }


def _s(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.1f} s"


def _mib(value: float) -> str:
    return f"{value / MIB:.0f} MiB"


def _mark(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _endpoints(requests: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in requests["by_endpoint"].items())


def spread_text(found: dict[str, float], fmt: str = "{:.1f}", unit: str = "") -> str:
    """``median (min-max)`` of repeated runs, e.g. ``84.2 s (83.9-86.0)``."""
    if not found.get("runs") or math.isnan(found["median"]):
        return "n/a"
    median, low, high = (fmt.format(found[key]) for key in ("median", "min", "max"))
    return f"{median}{unit} ({low}-{high})"


def _ordered(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(cases, key=lambda case: (case["n"], case["mode"]))


def _in_mib(found: dict[str, float]) -> dict[str, float]:
    return {key: value if key == "runs" else value / MIB for key, value in found.items()}


def _case_rows(case: dict[str, Any]) -> str:
    s = case["summary"]
    lim = case["limits"]
    done = "/".join(str(count) for count in s["completed"])
    return (
        f"| {case['n']} | {case['mode']} | {case.get('commit', '?')} | "
        f"{lim['export']}/{lim['import_']}/{lim['download']} | "
        f"{done} | {spread_text(s['wall_seconds'], unit=' s')} | "
        f"{spread_text(s['lower_bound_seconds'], unit=' s')} | "
        f"**{spread_text(s['wall_over_bound'], '{:.3f}')}** | {s['throttled_total']} | "
        f"**{spread_text(s['requests_per_transfer'], '{:.2f}')}** | "
        f"{spread_text(s['cpu_seconds'], unit=' s')} | "
        f"{spread_text(_in_mib(s['peak_rss']), '{:.0f}', ' MiB')} | "
        f"{spread_text(s['latency_p95'], unit=' s')} |"
    )


def _throughput(r: dict[str, Any]) -> list[str]:
    rows = [
        f"Each cell: median of {r['runs_per_case']} runs (min-max). Limits are export / import "
        "/ download per minute (simulators and operator); Ready counts are per run.",
        "",
        "| N | way | operator commit | limits | Ready | wall time | lower bound | wall / bound "
        "| 429s (all runs) "
        "| requests per transfer | operator CPU | operator peak RSS | first-request latency "
        "p95 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    rows += [_case_rows(case) for case in _ordered(r["cases"])]
    rows += ["", "Requests by endpoint (median run of each case, both simulators):", ""]
    for case in _ordered(r["cases"]):
        run = case["runs"][median_index([x["wall_over_bound"] for x in case["runs"]])]
        rows.append(f"- N={case['n']}, {case['mode']}: {_endpoints(run['requests'])}")
    return rows


def _ratio_text(found: dict[str, float]) -> str:
    return spread_text(found, "{:.2f}", "x")


def _mib_text(found: dict[str, float]) -> str:
    return spread_text(_in_mib(found), "{:.0f}", " MiB")


#: Scenario 2's columns after the contender: how its summary over the runs shows in each.
COMPARE_COLUMNS: dict[str, Callable[[dict[str, Any]], str]] = {
    "finished": lambda s: "/".join(str(count) for count in s["completed"]),
    "wall time": lambda s: spread_text(s["wall_seconds"], unit=" s"),
    "/ lower bound": lambda s: spread_text(s["wall_over_bound"], "{:.2f}"),
    "429s (all runs)": lambda s: str(s["throttled_total"]),
    "requests per migration": lambda s: spread_text(s["requests_per_migration"]),
    "rate-limited requests per migration": lambda s: spread_text(s["rate_limited_per_migration"]),
    "CPU": lambda s: spread_text(s["cpu_seconds"], unit=" s"),
    "peak RSS": lambda s: _mib_text(s["peak_rss"]),
    "wall time vs gitlab-ferry": lambda s: _ratio_text(s["wall_ratio"]),
    "requests vs gitlab-ferry": lambda s: _ratio_text(s["requests_ratio"]),
}


def _table(first: str, columns: Iterable[str]) -> list[str]:
    """A table's header and separator: ``first``, then ``columns``' names."""
    names = [first, *columns]
    return [_row(names), _row(["---"] * len(names))]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _compare(r: dict[str, Any]) -> list[str]:
    runs = r["runs"]
    lim = r["limits"]
    rows = [
        f"N = {r['n']}; limits {lim['export']} / {lim['import_']} / {lim['download']} "
        f"(export / import / download) per minute. Each cell: median of {len(runs)} runs "
        "(min-max); finished migrations are counted per run, 429s are summed over the runs, "
        "and the ratios are taken within each run before they are summarised.",
        "",
        *_table("contender", COMPARE_COLUMNS),
    ]
    for name, s in r["summary"].items():
        rows.append(_row([name, *(show(s) for show in COMPARE_COLUMNS.values())]))
    index = r["median_index"]
    rows += [
        "",
        f"Requests by endpoint (run {index + 1}, the one with gitlab-ferry's median wall time "
        "over the bound; both simulators, that contender's user):",
        "",
    ]
    rows += [f"- {name}: {_endpoints(c['requests'])}" for name, c in runs[index].items()]
    return rows


def _streaming_size(r: dict[str, Any]) -> list[str]:
    rows = [
        f"**{r['size']}** (archive {r['archive_bytes'] / 1024**3:.2f} GiB):",
        "",
        "| round | way | seconds | MiB/s | notes |",
        "| --- | --- | --- | --- | --- |",
    ]
    for item in r["transfers"]:
        if "failed" in item:
            rows.append(f"| {item['round']} | {item['way']} | - | - | failed: {item['failed']} |")
            continue
        note = (
            f"uploading curl's peak RSS {_mib(item['uploader_peak_rss'])}"
            if "uploader_peak_rss" in item
            else f"{item['bytes_streamed'] / MIB:.0f} MiB streamed; apply to Ready "
            f"{item['apply_to_ready_seconds']:.0f} s; operator CPU "
            f"{item.get('operator_cpu_seconds', math.nan):.1f} s"
        )
        rows.append(
            f"| {item['round']} | {item['way']} | {item['seconds']:.2f} | "
            f"{item['mib_per_second']:.0f} | {note} |"
        )
    growth = r["operator_hwm_after"] - r["operator_hwm_before"]
    rows += ["", "| figure | median (min-max) |", "| --- | --- |"]
    for way in ("curl -T", "gitlab-ferry"):
        speeds = [
            t["mib_per_second"] for t in r["transfers"] if t["way"] == way and "mib_per_second" in t
        ]
        rows.append(f"| {way} MiB/s | {spread_text(spread(speeds), '{:.0f}')} |")
    rows += [
        f"| gitlab-ferry / `curl -T` (per round) | "
        f"**{spread_text(spread(r['ratios']), '{:.2f}')}** |",
        f"| operator VmHWM growth | {growth / MIB:.1f} MiB ({_mib(r['operator_hwm_before'])} "
        f"before the first import, {_mib(r['operator_hwm_after'])} after the last) |",
        "",
    ]
    return rows


def _streaming(r: dict[str, Any]) -> list[str]:
    rows: list[str] = []
    for size in r["sizes"]:
        rows += _streaming_size(size)
    return rows


def _cpu_text(per_minute: list[float]) -> str:
    mean = sum(per_minute) / len(per_minute) if per_minute else math.nan
    return ", ".join(f"{value:.2f}" for value in per_minute) + f" s (mean {mean:.2f} s)"


#: Scenario 4's per-run columns after the run's number: how one run shows in each.
REST_COLUMNS: dict[str, Callable[[dict[str, Any]], str]] = {
    "exports seen in flight": lambda run: str(run["in_flight_observed"]),
    "time to finish the first": lambda run: _s(run["seconds_to_finish_first"]),
    "RSS max": lambda run: _mib(run["rss_max"]),
    "RSS mean": lambda run: _mib(run["rss_mean"]),
    "VmHWM": lambda run: _mib(run["peak_rss_lifetime"]),
    "CPU per minute at rest": lambda run: _cpu_text(run["cpu_seconds_per_minute"]),
    "GitLab requests per minute": lambda run: f"{run['gitlab_requests_per_minute']:.0f}",
}


def _at_rest(r: dict[str, Any]) -> list[str]:
    s = r["summary"]
    runs = r["runs"]
    index = r["median_index"]
    return [
        f"{r['finished_objects']} ProjectExports finished, {r['in_flight_exports']} "
        f"ProjectExports in flight on GitLab and {r['waiting_imports']} ProjectImports waiting "
        f"on them; {r['minutes']} minutes at rest. Each figure: median of {len(runs)} runs "
        "(min-max).",
        "",
        "| figure | median (min-max) |",
        "| --- | --- |",
        f"| time for the {r['finished_objects']} exports to finish | "
        f"{spread_text(s['seconds_to_finish_first'], unit=' s')} |",
        f"| operator RSS at rest, max | **{_mib_text(s['rss_max'])}** |",
        f"| operator RSS at rest, mean | {_mib_text(s['rss_mean'])} |",
        f"| operator peak RSS over its life (VmHWM) | {_mib_text(s['peak_rss_lifetime'])} |",
        "| operator CPU per minute at rest (each run's mean) | "
        f"{spread_text(s['cpu_seconds_per_minute'], '{:.2f}', ' s')} |",
        "| GitLab requests per minute at rest | "
        f"{spread_text(s['gitlab_requests_per_minute'], '{:.0f}')} |",
        "",
        *_table("run", REST_COLUMNS),
        *(
            _row([str(number), *(show(run) for show in REST_COLUMNS.values())])
            for number, run in enumerate(runs, start=1)
        ),
        "",
        f"Requests at rest by endpoint (run {index + 1}, the one with the median RSS max; both "
        f"simulators): {_endpoints(runs[index]['requests'])}.",
    ]


#: Scenario 1's targets: wall time over the bound, and GitLab requests per transfer.
WALL_TARGET = 1.05
REQUESTS_TARGET = 4.5
STREAM_TARGET = 0.8


def _compare_targets(r: dict[str, Any]) -> list[str]:
    rows = []
    for name in BASELINES:
        s = r["summary"][name]
        faster, fewer = s["wall_ratio"]["median"], s["requests_ratio"]["median"]
        rows.append(
            f"| faster than {name}, with fewer requests (median of {len(r['runs'])} runs) | "
            f"{_ratio_text(s['wall_ratio'])} the wall time, {_ratio_text(s['requests_ratio'])} "
            f"the requests ({_ratio_text(s['rate_limited_ratio'])} the rate-limited ones) | "
            f"{_mark(faster > 1 and fewer > 1)} |"
        )
    return rows


def targets(results: dict[str, dict[str, Any]]) -> list[str]:
    rows = ["| target | measured (median, min-max) | |", "| --- | --- | --- |"]
    if tp := results.get("throughput"):
        for case in _ordered(tp["result"]["cases"]):
            s = case["summary"]
            where = f"N={case['n']}, {case['mode']}"
            ok = s["wall_over_bound"]["median"] <= WALL_TARGET and s["throttled_total"] == 0
            rows.append(
                f"| {where}: wall time <= {WALL_TARGET}x the lower bound, zero 429s | "
                f"{spread_text(s['wall_over_bound'], '{:.3f}')} x bound, "
                f"{s['throttled_total']} 429s | {_mark(ok)} |"
            )
            ok = s["requests_per_transfer"]["median"] <= REQUESTS_TARGET
            rows.append(
                f"| {where}: at most {REQUESTS_TARGET} GitLab requests per transfer | "
                f"{spread_text(s['requests_per_transfer'], '{:.2f}')} | {_mark(ok)} |"
            )
    if st := results.get("streaming"):
        for size in st["result"]["sizes"]:
            found = spread(size["ratios"])
            ok = found["runs"] > 0 and found["median"] >= STREAM_TARGET
            rows.append(
                f"| {size['size']}: streaming at least {STREAM_TARGET} of `curl -T` | "
                f"{spread_text(found, '{:.2f}')} | {_mark(ok) if found['runs'] else 'n/a'} |"
            )
            growth = size["operator_hwm_after"] - size["operator_hwm_before"]
            rows.append(
                f"| {size['size']}: streaming peak RSS growth under 100 MiB | "
                f"{growth / MIB:.1f} MiB | {_mark(growth < 100 * MIB)} |"
            )
    if cp := results.get("compare"):
        rows += _compare_targets(cp["result"])
    if ar := results.get("at_rest"):
        r = ar["result"]
        found = r["summary"]["rss_max"]
        rows.append(
            f"| operator RSS under 200 MiB at rest (scenario 4, median of {len(r['runs'])} runs) "
            f"| max {_mib_text(found)}, mean {_mib_text(r['summary']['rss_mean'])} | "
            f"{_mark(found['median'] < 200 * MIB)} |"
        )
    if sc := results.get("scale"):
        rows += scale_report.targets(sc["result"])
    return rows


def render(results: dict[str, dict[str, Any]], text: dict[str, str], previous: str) -> str:
    """The whole document. ``text`` holds each scenario's method paragraph."""
    found = FINDINGS.search(previous)
    findings = found.group(1) if found else "_None written yet._\n"
    info = next(iter(results.values()))["machine"] if results else machine()
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`python -m bench`; `bench/README.md` says how to run one "
        "scenario). Everything runs on one machine over loopback: a real kube-apiserver and "
        "etcd, two simulated GitLabs (`python -m gitlab_ferry_testbed simulate`) and the "
        "operator, each its own process. Every scenario reports the median of its runs (three "
        "by default; each section says how many) with the range (min-max) in brackets, and "
        "scenarios 1 to 3 compare gitlab-ferry with its reference in the same session (the "
        "machine is shared, so only side-by-side ratios are comparable across sessions); "
        "nothing is tuned to meet a target.",
        "",
        f"Machine: {info['cores']} cores ({info['cpu']}), {info['ram']} RAM, Python "
        f"{info['python']}, Linux {info['kernel']}.",
        "",
        "| scenario | measured at | took |",
        "| --- | --- | --- |",
    ]
    lines += [
        f"| {name} | {r['measured_at']} | {r['duration_seconds'] / 60:.1f} min |"
        for name, r in results.items()
    ]
    lines += ["", "## Targets", "", *targets(results), "", "## Findings", "", "<!-- findings -->"]
    lines += [findings.rstrip("\n"), "<!-- /findings -->", ""]
    sections = {
        "throughput": ("1. Migration throughput", _throughput, ["throughput.png", "memory.png"]),
        "compare": ("2. Against python-gitlab and an asyncio script", _compare, ["compare.png"]),
        "streaming": ("3. Streaming an archive from GitLab to GitLab", _streaming, []),
        "at_rest": ("4. Scale at rest", _at_rest, []),
        "scale": ("5. One GroupMigration at scale", scale_report.table, []),
    }
    for key, (title, table, images) in sections.items():
        if key not in results:
            continue
        lines += [f"## {title}", "", text[key], "", *table(results[key]["result"]), ""]
        lines += [f"![{image}](benchmarks/{image})" for image in images]
        lines += [""] if images else []
    return "\n".join(lines).rstrip("\n") + "\n"
