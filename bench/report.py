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


def _throughput(r: dict[str, Any]) -> list[str]:
    lim = r["limits"]
    t = r["timing"]
    return [
        "| figure | value |",
        "| --- | --- |",
        f"| migrations (ProjectExport + ProjectImport pairs) | {r['completed']}/{r['n']} Ready |",
        f"| limits (simulators and operator) | export {lim['export']}, import {lim['import_']}, "
        f"download {lim['download']} per minute |",
        f"| simulated job times | export {t['export_queue']:g}+{t['export_run']:g} s, "
        f"import {t['import_queue']:g}+{t['import_run']:g} s (queue + run) |",
        f"| wall time (apply to last Ready) | {_s(r['wall_seconds'])} |",
        f"| rate-limit lower bound | {_s(r['lower_bound_seconds'])} |",
        f"| wall time / lower bound | **{r['wall_over_bound']:.3f}** |",
        f"| 429 answers | {r['throttled']} |",
        f"| GitLab requests per transfer (an export or an import) | "
        f"**{r['requests_per_transfer']:.2f}** |",
        f"| GitLab requests per migration (export + import) | {r['requests_per_migration']:.2f} "
        f"({r['requests']['total']} in all: {_endpoints(r['requests'])}) |",
        f"| operator CPU (apply to last Ready) | {r['cpu_seconds']:.1f} s |",
        f"| operator peak RSS (VmHWM) | {_mib(r['peak_rss'])} |",
        f"| apply-to-first-request latency p50 / p95 | {_s(r['latency_p50'])} / "
        f"{_s(r['latency_p95'])} |",
        f"| time to create the {2 * r['n']} objects | {_s(r['apply_seconds'])} |",
    ]


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


def _streaming_summary(r: dict[str, Any]) -> dict[str, float]:
    speeds: dict[str, list[float]] = {}
    for item in r["transfers"]:
        if "failed" not in item:
            speeds.setdefault(item["way"], []).append(item["mib_per_second"])
    return {way: sum(v) / len(v) for way, v in speeds.items()}


def _ratio(mean: dict[str, float], way: str) -> float:
    """gitlab-ferry's mean throughput over ``way``'s (NaN when either never completed)."""
    if "gitlab-ferry" not in mean or way not in mean:
        return math.nan
    return mean["gitlab-ferry"] / mean[way]


def _times(value: float) -> str:
    return "n/a (it never completed)" if math.isnan(value) else f"{value:.2f}"


def _streaming(r: dict[str, Any]) -> list[str]:
    rows = [
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
            f"{item['apply_to_ready_seconds']:.0f} s"
        )
        rows.append(
            f"| {item['round']} | {item['way']} | {item['seconds']:.1f} | "
            f"{item['mib_per_second']:.0f} | {note} |"
        )
    mean = _streaming_summary(r)
    growth = r["operator_hwm_after"] - r["operator_hwm_before"]
    rows += [
        "",
        f"Archive: {r['archive_bytes'] / 1024**3:.2f} GiB. Mean throughput: "
        + ", ".join(f"{way} {speed:.0f} MiB/s" for way, speed in mean.items())
        + ".",
        f"gitlab-ferry / `curl | curl -F file=@-`: **{_times(_ratio(mean, 'curl -F'))}**; "
        f"gitlab-ferry / streamed `curl -T -`: **{_times(_ratio(mean, 'curl -T'))}**.",
        f"Operator VmHWM before the first import {_mib(r['operator_hwm_before'])}, after the "
        f"last {_mib(r['operator_hwm_after'])}: growth **{growth / MIB:.1f} MiB**.",
    ]
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


def targets(results: dict[str, dict[str, Any]]) -> list[str]:
    rows = ["| target | measured | |", "| --- | --- | --- |"]
    if tp := results.get("throughput"):
        r = tp["result"]
        ok = r["wall_over_bound"] <= 1.10 and r["throttled"] == 0
        rows.append(
            f"| scenario 1 wall time within 10% of the lower bound, zero 429s | "
            f"{r['wall_over_bound']:.3f} x bound, {r['throttled']} 429s | {_mark(ok)} |"
        )
        ok = r["requests_per_transfer"] <= 8
        rows.append(
            f"| at most 8 GitLab requests per transfer (scenario 1) | "
            f"{r['requests_per_transfer']:.2f} per export or import "
            f"({r['requests_per_migration']:.2f} per migration) | {_mark(ok)} |"
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
                f"| faster than {name}, with fewer requests | {faster:.2f}x the wall time, "
                f"{fewer:.2f}x the requests ({limited:.2f}x the rate-limited ones) | "
                f"{_mark(faster > 1 and fewer > 1)} |"
            )
    if st := results.get("streaming"):
        r = st["result"]
        mean = _streaming_summary(r)
        form, streamed = _ratio(mean, "curl -F"), _ratio(mean, "curl -T")
        # Judged against the fastest curl | curl that carried the archive at all.
        worst = min(value for value in (form, streamed, math.inf) if not math.isnan(value))
        rows.append(
            f"| streaming at least 80% of `curl \\| curl` | {_times(form)} of `curl -F @-`, "
            f"{_times(streamed)} of streamed `curl -T -` | "
            f"{'n/a' if math.isinf(worst) else _mark(worst >= 0.8)} |"
        )
        growth = r["operator_hwm_after"] - r["operator_hwm_before"]
        rows.append(
            f"| streaming peak RSS growth under 100 MiB | {growth / MIB:.1f} MiB | "
            f"{_mark(growth < 100 * MIB)} |"
        )
    if ar := results.get("at_rest"):
        r = ar["result"]
        rows.append(
            f"| operator RSS under 200 MiB at rest (scenario 4) | max {_mib(r['rss_max'])}, "
            f"mean {_mib(r['rss_mean'])} | "
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
        "operator, each its own process. The figures are what one run measured; nothing is "
        "tuned to meet a target.",
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
        "streaming": ("3. Streaming a 2 GiB archive", _streaming, []),
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
