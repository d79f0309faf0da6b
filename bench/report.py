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
from pathlib import Path
from typing import Any

from bench import scale_report
from bench.measure import spread

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
        run = sorted(case["runs"], key=lambda x: x["wall_over_bound"])[(len(case["runs"]) - 1) // 2]
        rows.append(f"- N={case['n']}, {case['mode']}: {_endpoints(run['requests'])}")
    return rows


def _compare(r: dict[str, Any]) -> list[str]:
    ferry = r["gitlab-ferry"]
    rows = [
        "| contender | wall time | / lower bound | 429s | requests per migration | "
        "rate-limited requests per migration | CPU | peak RSS | wall time vs gitlab-ferry | "
        "requests vs gitlab-ferry |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in ("gitlab-ferry", *BASELINES):
        c = r.get(name)
        if c is None:
            continue
        rows.append(
            f"| {name} | {_s(c['wall_seconds'])} | {c['wall_over_bound']:.2f} | "
            f"{c['throttled']} | {c['requests_per_migration']:.1f} | {_limited(c):.1f} | "
            f"{c['cpu_seconds']:.1f} s | "
            f"{_mib(c['peak_rss'])} | {c['wall_seconds'] / ferry['wall_seconds']:.2f}x | "
            f"{c['requests_per_migration'] / ferry['requests_per_migration']:.2f}x |"
        )
    rows += ["", "Requests by endpoint (both simulators, that contender's user):", ""]
    rows += [f"- {name}: {_endpoints(r[name]['requests'])}" for name in r if name in CONTENDERS]
    return rows


CONTENDERS = ("gitlab-ferry", *BASELINES)
#: The endpoints GitLab's per-user limits count: export requests, downloads, imports.
LIMITED = ("export", "download", "import")


def _limited(contender: dict[str, Any]) -> float:
    """Requests to rate-limited endpoints (429s included) per completed migration."""
    counts: dict[str, int] = contender["requests"]["by_endpoint"]
    completed: int = contender["completed"]
    return sum(counts.get(name, 0) for name in LIMITED) / max(completed, 1)


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


def _at_rest(r: dict[str, Any]) -> list[str]:
    cpu = r["cpu_seconds_per_minute"]
    return [
        "| figure | value |",
        "| --- | --- |",
        f"| objects | {r['finished_objects']} ProjectExports finished, "
        f"{r['in_flight_exports']} ProjectExports in flight on GitLab "
        f"({r['in_flight_observed']} seen in flight), {r['waiting_imports']} ProjectImports "
        "waiting on them |",
        f"| time for the {r['finished_objects']} exports to finish | "
        f"{_s(r['seconds_to_finish_first'])} |",
        f"| operator RSS at rest, max / mean | **{_mib(r['rss_max'])}** / {_mib(r['rss_mean'])} |",
        f"| operator peak RSS over its life (VmHWM) | {_mib(r['peak_rss_lifetime'])} |",
        "| operator CPU per minute at rest | "
        + ", ".join(f"{value:.2f} s" for value in cpu)
        + f" (mean {sum(cpu) / len(cpu):.2f} s/min) |",
        f"| GitLab requests per minute at rest | {r['gitlab_requests_per_minute']:.0f} "
        f"({_endpoints(r['requests'])}) |",
    ]


#: Scenario 1's targets: wall time over the bound, and GitLab requests per transfer.
WALL_TARGET = 1.05
REQUESTS_TARGET = 4.5
STREAM_TARGET = 0.8


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
        r = cp["result"]
        ferry = r["gitlab-ferry"]
        for name in BASELINES:
            if name not in r:
                continue
            c = r[name]
            faster = c["wall_seconds"] / ferry["wall_seconds"]
            fewer = c["requests_per_migration"] / ferry["requests_per_migration"]
            limited = _limited(c) / _limited(ferry)
            rows.append(
                f"| faster than {name}, with fewer requests (one run) | {faster:.2f}x the wall "
                f"time, {fewer:.2f}x the requests ({limited:.2f}x the rate-limited ones) | "
                f"{_mark(faster > 1 and fewer > 1)} |"
            )
    if ar := results.get("at_rest"):
        r = ar["result"]
        rows.append(
            f"| operator RSS under 200 MiB at rest (scenario 4, one run) | max "
            f"{_mib(r['rss_max'])}, mean {_mib(r['rss_mean'])} | "
            f"{_mark(r['rss_max'] < 200 * MIB)} |"
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
        "operator, each its own process. Scenarios 1 and 3 report the median of at least three "
        "runs with the range (min-max) in brackets, and compare gitlab-ferry with its "
        "reference in the same session (the machine is shared, so only side-by-side ratios "
        "are comparable across sessions); nothing is tuned to meet a target.",
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
