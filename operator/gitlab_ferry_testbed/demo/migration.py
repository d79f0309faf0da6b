"""The demo's migration: the example manifests applied once per source project, and the live
table of their progress (demo layer)."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

GROUP, VERSION = "gitlabferry.dev", "v1alpha1"


def find_example(name: str = "migration.yaml") -> Path:
    """``examples/<name>`` of the repository the demo runs from."""
    for start in (Path.cwd(), Path(__file__).resolve()):
        for folder in (start, *start.parents):
            candidate = folder / "examples" / name
            if candidate.is_file():
                return candidate
    raise FileNotFoundError(f"examples/{name} not found; run the demo from the repository")


def slug(path: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", path.lower()).strip("-")[:50]


def manifests(
    example: Path, projects: list[str], source: str, destination: str
) -> list[dict[str, Any]]:
    """The example's ProjectExport/ProjectImport pair, once for every project."""
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


def apply(api: client.CustomObjectsApi, namespace: str, documents: list[dict[str, Any]]) -> None:
    for doc in documents:
        plural = "projectexports" if doc["kind"] == "ProjectExport" else "projectimports"
        try:
            api.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, doc)
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


def _ready(obj: dict[str, Any]) -> tuple[str, str]:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status", ""), condition.get("reason", "")
    return "", ""


def _items(api: client.CustomObjectsApi, namespace: str, plural: str) -> list[dict[str, Any]]:
    listing: Any = api.list_namespaced_custom_object(GROUP, VERSION, namespace, plural)
    return list(listing["items"])


def rows(api: client.CustomObjectsApi, namespace: str) -> list[Row]:
    exports = {o["metadata"]["name"]: o for o in _items(api, namespace, "projectexports")}
    imports = _items(api, namespace, "projectimports")
    table = []
    for obj in sorted(imports, key=lambda o: o["metadata"]["name"]):
        name = obj["metadata"]["name"]
        export = exports.get(name, {})
        ready, reason = _ready(obj)
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


def render(table: list[Row], elapsed: float) -> str:
    done = sum(row.ready == "True" for row in table)
    width = 30
    filled = int(width * done / len(table)) if table else 0
    lines = [
        f"[{'#' * filled}{'.' * (width - filled)}] {done}/{len(table)} imported   {elapsed:5.0f}s",
        "",
        f"{'NAME':<28} {'EXPORT':<10} {'IMPORT':<10} {'READY':<6} REASON",
    ]
    lines += [
        f"{r.name:<28} {r.export_status:<10} {r.import_status:<10} {r.ready:<6} {r.reason}"
        for r in table
    ]
    return "\n".join(lines)
