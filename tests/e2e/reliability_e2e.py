"""Shared pieces of the reliability tests: a seed of many small projects, batches of
migrations, and the figures the tests report for docs/reliability.md.

Figures are appended as JSON lines to the file ``GITLAB_FERRY_RELIABILITY_REPORT`` names
(``make reliability`` sets it and renders the document); without it they are only printed.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from ferry_e2e import EXPORTS, IMPORTS, condition, create, export_object, get_object, import_object
from kubernetes import client
from tests.support import seeds
from tests.support.processes import SimulatorProcess, wait_for
from versions_e2e import target_namespace


def fleet_seed(path: Path, groups: int, per_group: int) -> Path:
    """A source GitLab with ``groups * per_group`` small projects, as a seed file."""
    path.write_text(yaml.safe_dump(seeds.fleet_seed(groups, per_group)))
    return path


def destination_seed(path: Path, groups: int) -> Path:
    path.write_text(yaml.safe_dump(seeds.destination_seed(groups)))
    return path


def start_migrations(
    api: client.CustomObjectsApi,
    namespace: str,
    source: SimulatorProcess,
    destination: SimulatorProcess,
    projects: list[str],
) -> list[str]:
    """A ProjectExport + ProjectImport (exportRef) pair per project; their names."""
    names = []
    for path in projects:
        name = path.replace("/", "-")
        group, _, project = path.rpartition("/")
        create(api, EXPORTS, namespace, export_object(name, source.url, path))
        create(
            api,
            IMPORTS,
            namespace,
            import_object(
                name, destination.url, project, {"exportRef": {"name": name}}, namespacePath=group
            ),
        )
        names.append(name)
    return names


def all_ready(api: client.CustomObjectsApi, namespace: str, names: list[str]) -> bool:
    return not pending(api, namespace, names)


def pending(api: client.CustomObjectsApi, namespace: str, names: list[str]) -> list[str]:
    """One line per object of the migrations that is not Ready yet: where it stands."""
    lines = []
    for name in names:
        for plural in (EXPORTS, IMPORTS):
            obj = get_object(api, plural, namespace, name)
            ready = condition(obj)
            if ready.get("status") == "True":
                continue
            status = (obj or {}).get("status") or {}
            gitlab = status.get("exportStatus") or status.get("importStatus")
            plan = status.get("plan") or {}
            lines.append(
                f"{plural}/{name}: {ready.get('reason')} ({ready.get('message')}); "
                f"GitLab {gitlab}; plan {plan.get('action')} since {plan.get('since')}: "
                f"{plan.get('reason')}"
            )
    return lines


def wait_all_ready(
    api: client.CustomObjectsApi, namespace: str, names: list[str], *, timeout: float, what: str
) -> None:
    """Wait until every migration of ``names`` is Ready; the failure names those that are not."""
    try:
        wait_for(lambda: all_ready(api, namespace, names), timeout=timeout, interval=1, what=what)
    except AssertionError as exc:
        stuck = "\n".join(pending(api, namespace, names))
        raise AssertionError(f"{exc}\nnot ready:\n{stuck}") from None


def duplicate_posts(
    source: SimulatorProcess, destination: SimulatorProcess
) -> tuple[Counter[str], Counter[str]]:
    """Export requests per source project and import requests per target, beyond one."""
    exports = Counter(r["path"] for r in source.received_posts("export"))
    imports = Counter(
        target_namespace(r["params"]) + "/" + str(r["params"].get("path"))
        for r in destination.received_posts("import")
    )
    return (
        Counter({k: v - 1 for k, v in exports.items() if v > 1}),
        Counter({k: v - 1 for k, v in imports.items() if v > 1}),
    )


def report(section: str, figures: dict[str, Any]) -> None:
    line = json.dumps({"section": section, **figures}, sort_keys=True)
    print(f"reliability: {line}")
    target = os.environ.get("GITLAB_FERRY_RELIABILITY_REPORT")
    if target:
        with open(target, "a") as out:
            out.write(line + "\n")
