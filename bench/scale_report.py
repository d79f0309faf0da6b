"""The ``docs/benchmarks.md`` text of scenario 5 (one GroupMigration at scale): its table of
medians with min-max over the runs, one row per run, and its line in the targets table.
Formatting only; nothing here measures.
"""

from __future__ import annotations

import math
from typing import Any

MIB = 1024 * 1024


def _range(summary: dict[str, float], fmt: str, scale: float = 1.0) -> str:
    low, mid, high = (summary[k] / scale for k in ("min", "median", "max"))
    if any(math.isnan(v) for v in (low, mid, high)):
        return "n/a"
    return f"**{mid:{fmt}}** ({low:{fmt}}-{high:{fmt}})"


def _count(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.0f}"


def _mib(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value / MIB:.0f} MiB"


def _status(run: dict[str, Any]) -> str:
    s = run["status"]
    return (
        f"Ready={s['ready']} ({s['reason']}), {s['progress']}, groups "
        f"{s['groupsReady']}/{s['groups']} ({s['groupsCreated']} created), "
        f"{s['failures']} failures"
    )


def table(r: dict[str, Any]) -> list[str]:
    runs = r["runs"]
    s = r["summary"]
    lim = r["limits"]
    t = r["timing"]
    first = runs[0]
    rows = [
        f"{len(runs)} runs; each figure is the median, with the minimum and maximum in brackets.",
        "",
        "| figure | median (min-max) |",
        "| --- | --- |",
        f"| tree | {first['projects']} projects in {first['groups_in_seed']} groups, nested "
        f"{first['deepest_group']} deep below the top group |",
        f"| limits (simulators and operator) | export {lim['export']}, import {lim['import_']}, "
        f"download {lim['download']} per minute; maxInFlight {r['max_in_flight']} |",
        f"| simulated job times | export {t['export_queue']:g}+{t['export_run']:g} s, "
        f"import {t['import_queue']:g}+{t['import_run']:g} s (queue + run) |",
        f"| wall time, apply to GroupMigration Ready | {_range(s['wall_seconds'], '.0f')} s |",
        f"| rate-limit lower bound | {_range(s['lower_bound_seconds'], '.0f')} s |",
        f"| wall time / lower bound | {_range(s['wall_over_bound'], '.2f')} |",
        f"| first project imported after | {_range(s['first_import_ready_seconds'], '.0f')} s |",
        f"| 429 answers | {_range(s['throttled'], '.0f')} |",
        f"| GitLab requests per transfer (an export or an import) | "
        f"{_range(s['requests_per_transfer'], '.2f')} |",
        f"| operator CPU, apply to Ready | {_range(s['cpu_seconds'], '.0f')} s |",
        f"| operator RSS before the apply | {_range(s['rss_idle'], '.0f', MIB)} MiB |",
        f"| operator peak RSS (VmHWM) | {_range(s['rss_peak'], '.0f', MIB)} MiB |",
        f"| operator steady RSS (median of the minute after Ready) | "
        f"{_range(s['rss_steady'], '.0f', MIB)} MiB |",
        f"| objects listed in the namespace (migrations, exports, imports, events) | "
        f"{_range(s['objects_listed_total'], '.0f')} |",
        f"| growth of etcd's object count (`apiserver_storage_objects`, all resources) | "
        f"{_range(s['objects_etcd_all'], '.0f')} |",
        f"| GroupMigration status size (JSON) | {_range(s['objects_status_bytes'], '.0f')} bytes |",
        "",
        "| run | wall | / bound | 429s | req/transfer | peak RSS | steady RSS | exports | "
        "imports | events | etcd growth | status at the end |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for index, run in enumerate(runs, start=1):
        listed = run["objects"]["listed"]
        rows.append(
            f"| {index} | {run['wall_seconds']:.0f} s | {run['wall_over_bound']:.2f} | "
            f"{run['throttled']} | {run['requests_per_transfer']:.2f} | "
            f"{_mib(run['rss_peak'])} | {_mib(run['rss_steady'])} | "
            f"{listed['projectexports']} | {listed['projectimports']} | {listed['events']} | "
            f"{_count(run['objects']['etcd_all'])} | {_status(run)} |"
        )
    reasons = first["objects"]["event_reasons"]
    rows += ["", "Events of run 1 by reason: " + ", ".join(f"{k} {v}" for k, v in reasons.items())]
    logged = [(n, run) for n, run in enumerate(runs, start=1) if run["requests"]["by_endpoint"]]
    if logged:
        number, run = logged[0]
        endpoints = run["requests"]["by_endpoint"].items()
        rows.append(
            f"Requests of run {number} by endpoint (both simulators): "
            + ", ".join(f"{k} {v}" for k, v in endpoints)
            + "."
        )
    return rows


def targets(r: dict[str, Any]) -> list[str]:
    runs = r["runs"]
    good = sum(
        run["status"]["ready"] == "True"
        and run["status"]["progress"] == f"{run['projects']}/{run['projects']}"
        and run["status"]["groupsReady"] == run["groups_in_seed"]
        for run in runs
    )
    return [
        f"| scenario 5: one GroupMigration of {runs[0]['projects']} projects Ready with every "
        f"project and group | {good} of {len(runs)} runs | "
        f"{'met' if good == len(runs) else '**missed**'} |"
    ]
