"""The demo's migration: the GroupMigration example pointed at the simulated GitLabs, and the
live view of its progress and of the children it creates (demo layer). The benchmarks also
make ProjectExport/ProjectImport pairs by hand from ``examples/migration.yaml``."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

GROUP, VERSION = "gitlabferry.dev", "v1alpha1"
PLURALS = {
    "GroupMigration": "groupmigrations",
    "ProjectExport": "projectexports",
    "ProjectImport": "projectimports",
}


def find_example(name: str = "group-migration.yaml") -> Path:
    """``examples/<name>`` of the repository the demo runs from."""
    for start in (Path.cwd(), Path(__file__).resolve()):
        for folder in (start, *start.parents):
            candidate = folder / "examples" / name
            if candidate.is_file():
                return candidate
    raise FileNotFoundError(f"examples/{name} not found; run the demo from the repository")


def manifest(example: Path, source: str, destination: str) -> dict[str, Any]:
    """The example's GroupMigration, between the two simulated GitLabs."""
    (template,) = [doc for doc in yaml.safe_load_all(example.read_text()) if doc]
    document = copy.deepcopy(template)
    spec = document["spec"]
    spec["source"]["gitlab"]["url"] = source
    spec["destination"]["gitlab"]["url"] = destination
    return dict(document)


def slug(path: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", path.lower()).strip("-")[:50]


def pair_manifests(
    example: Path, projects: list[str], source: str, destination: str
) -> list[dict[str, Any]]:
    """A ProjectExport/ProjectImport pair example (``examples/migration.yaml``), once for every
    project."""
    templates = [doc for doc in yaml.safe_load_all(example.read_text()) if doc]
    documents = []
    for path in projects:
        group, _, name = path.rpartition("/")
        for template in templates:
            doc = copy.deepcopy(template)
            doc["metadata"]["name"] = slug(path)
            spec = doc["spec"]
            if doc["kind"] == "ProjectExport":
                spec["gitlab"]["url"] = source
                spec["project"] = path
            else:
                spec["gitlab"]["url"] = destination
                spec["namespacePath"] = group
                spec["path"] = name
                spec["source"]["exportRef"]["name"] = slug(path)
            documents.append(doc)
    return documents


def apply(
    api: client.CustomObjectsApi, namespace: str, documents: Iterable[dict[str, Any]]
) -> None:
    """Create each document (one of the operator's kinds); those that exist are left alone."""
    for doc in documents:
        try:
            api.create_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURALS[doc["kind"]], doc
            )
        except ApiException as exc:
            if exc.status != 409:
                raise


@dataclass(frozen=True)
class Row:
    name: str
    export_status: str
    import_status: str
    ready: str
    reason: str


@dataclass(frozen=True)
class Summary:
    """What ``kubectl get groupmigration`` and its status say."""

    name: str
    progress: str
    groups: str
    eta: str
    ready: str
    reason: str
    message: str

    @property
    def done(self) -> bool:
        return self.ready == "True"

    def headline(self, elapsed: float, width: int = 30) -> str:
        """One line: a progress bar, the counts, the ETA and the time taken so far."""
        finished, _, total = self.progress.partition("/")
        done = int(finished) if finished.isdigit() else 0
        whole = int(total) if total.isdigit() else 0
        filled = int(width * done / whole) if whole else 0
        return (
            f"GroupMigration {self.name}: [{'#' * filled}{'.' * (width - filled)}] "
            f"{self.progress} projects   groups {self.groups}   ETA {self.eta}   {elapsed:5.0f}s"
        )


def _ready(obj: dict[str, Any]) -> tuple[str, str, str]:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return (
                condition.get("status", ""),
                condition.get("reason", ""),
                condition.get("message", ""),
            )
    return "", "", ""


def _items(api: client.CustomObjectsApi, namespace: str, plural: str) -> list[dict[str, Any]]:
    listing: Any = api.list_namespaced_custom_object(GROUP, VERSION, namespace, plural)
    return list(listing["items"])


def summary(api: client.CustomObjectsApi, namespace: str, name: str) -> Summary:
    obj: Any = api.get_namespaced_custom_object(GROUP, VERSION, namespace, "groupmigrations", name)
    status = obj.get("status") or {}
    ready, reason, message = _ready(obj)
    return Summary(
        name=name,
        progress=status.get("progress") or "-",
        groups=f"{status.get('groupsReady', 0)}/{status.get('groups', 0)}",
        eta=status.get("eta") or "-",
        ready=ready or "-",
        reason=reason or "Pending",
        message=message,
    )


def rows(api: client.CustomObjectsApi, namespace: str) -> list[Row]:
    """The children: one row per project, its export and its import."""
    exports = {o["metadata"]["name"]: o for o in _items(api, namespace, "projectexports")}
    imports = _items(api, namespace, "projectimports")
    table = []
    for obj in sorted(imports, key=lambda o: o["metadata"]["name"]):
        name = obj["metadata"]["name"]
        export = exports.get(name, {})
        ready, reason, _ = _ready(obj)
        if not reason:
            reason = _ready(export)[1]
        table.append(
            Row(
                name=name,
                export_status=(export.get("status") or {}).get("exportStatus") or "-",
                import_status=(obj.get("status") or {}).get("importStatus") or "-",
                ready=ready or "-",
                reason=reason or "Pending",
            )
        )
    return table


def render(head: Summary, table: list[Row], elapsed: float, shown: int = 15) -> str:
    lines = [
        head.headline(elapsed),
        f"  Ready={head.ready} ({head.reason}) {head.message}",
        "",
        f"{'PROJECT PAIR':<40} {'EXPORT':<10} {'IMPORT':<10} {'READY':<6} REASON",
    ]
    busy = [r for r in table if r.ready != "True"]
    for r in (busy or table)[:shown]:
        lines.append(
            f"{r.name:<40} {r.export_status:<10} {r.import_status:<10} {r.ready:<6} {r.reason}"
        )
    hidden = len(busy or table) - shown
    if hidden > 0:
        lines.append(f"... and {hidden} more")
    return "\n".join(lines)
