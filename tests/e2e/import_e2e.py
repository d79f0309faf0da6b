"""Helpers the ProjectImport end-to-end tests share: real export archives taken from a
simulated GitLab (and edited copies of them), and shorthands for specs, annotations, waits and
the destination's request log (the archive server is ``tests.support.archives``).
"""

from __future__ import annotations

import gzip
import io
import json
import re
import tarfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from ferry_e2e import GROUP, IMPORTS, VERSION, condition, get_object, import_object, wait_object
from kubernetes import client
from tests.support.processes import ROOT_TOKEN, SimulatorProcess, wait_for

#: Simulator timings that keep every job short.
FAST_JOBS = (
    "--export-queue-delay",
    "0.5",
    "--export-duration",
    "1",
    "--import-queue-delay",
    "0.5",
    "--import-duration",
    "1",
)
#: The simulator endpoints that create a project from an archive.
IMPORT_ENDPOINTS = ("import", "remote_import", "remote_import_s3")
APPROVE = f"{GROUP}/approve-plan"


# -- GitLab's REST API, as a test reads it --------------------------------------------------------


def gitlab_get(sim: SimulatorProcess, path: str, token: str = ROOT_TOKEN) -> Any:
    response = httpx.get(f"{sim.url}/api/v4/{path}", headers={"PRIVATE-TOKEN": token}, timeout=30)
    response.raise_for_status()
    return response.json()


def encoded(path: str) -> str:
    return quote(path, safe="")


def gitlab_import_status(sim: SimulatorProcess, project_id: int) -> dict[str, Any]:
    """``GET /projects/:id/import`` as GitLab answers it (root's view)."""
    body: dict[str, Any] = gitlab_get(sim, f"projects/{project_id}/import")
    return body


def namespace_id(sim: SimulatorProcess, full_path: str) -> int:
    return int(gitlab_get(sim, f"namespaces/{encoded(full_path)}")["id"])


def export_archive(sim: SimulatorProcess, project: str, timeout: float = 30.0) -> bytes:
    """Export ``project`` on ``sim`` through GitLab's API and download the archive."""
    headers = {"PRIVATE-TOKEN": ROOT_TOKEN}
    base = f"{sim.url}/api/v4/projects/{encoded(project)}/export"
    httpx.post(base, headers=headers, timeout=30).raise_for_status()

    def finished() -> bool:
        status = httpx.get(base, headers=headers, timeout=30).json()
        return status.get("export_status") == "finished"

    wait_for(finished, timeout=timeout, interval=0.1, what=f"the export of {project}")
    response = httpx.get(f"{base}/download", headers=headers, timeout=60)
    response.raise_for_status()
    return response.content


@dataclass(frozen=True)
class SourceArchives:
    """Export archives of default-seed projects, and those projects' content summaries."""

    archives: dict[str, bytes]
    content: dict[str, dict[str, Any]]


def source_archives(directory: Path, projects: Iterable[str]) -> SourceArchives:
    """Archives of default-seed projects, exported by a short-lived simulator of their own."""
    sim = SimulatorProcess(
        directory,
        "--export-queue-delay",
        "0",
        "--export-duration",
        "0.2",
        "--project-export-limit",
        "0",
        "--project-download-export-limit",
        "0",
    )
    sim.start()
    try:
        archives = {path: export_archive(sim, path) for path in projects}
        content = {p["path_with_namespace"]: p["content"] for p in sim.projects()}
        return SourceArchives(archives, content)
    finally:
        sim.stop()


def rewrite_archive(
    data: bytes,
    *,
    replace: dict[str, bytes] | None = None,
    edit: dict[str, Callable[[bytes], bytes]] | None = None,
) -> bytes:
    """A copy of the archive ``data`` with members replaced or edited (same layout)."""
    replace, edit = replace or {}, edit or {}
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as src,
        gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as dst,
    ):
        for member in src.getmembers():
            name = member.name.removeprefix("./")
            if not member.isfile():
                dst.addfile(member)
                continue
            body = src.extractfile(member).read()  # type: ignore[union-attr]
            if name in replace:
                body = replace[name]
            if name in edit:
                body = edit[name](body)
            info = tarfile.TarInfo(member.name)
            info.size, info.mode, info.mtime = len(body), member.mode, member.mtime
            dst.addfile(info, io.BytesIO(body))
    return out.getvalue()


def ndjson(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def parse_ndjson(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in body.splitlines() if line.strip()]


# -- objects -------------------------------------------------------------------------------------


def import_body(
    object_name: str, gitlab: str, path: str, source: dict[str, Any], **spec: Any
) -> dict[str, Any]:
    """``import_object`` that also takes ``name`` (the project's name) among the spec fields."""
    body = import_object(object_name, gitlab, path, source)
    body["spec"].update(spec)
    return body


def patch_object(api: client.CustomObjectsApi, namespace: str, name: str, body: dict) -> None:
    api.patch_namespaced_custom_object(GROUP, VERSION, namespace, IMPORTS, name, body)


def patch_spec(api: client.CustomObjectsApi, namespace: str, name: str, spec: dict) -> None:
    patch_object(api, namespace, name, {"spec": spec})


def annotate(api: client.CustomObjectsApi, namespace: str, name: str, value: str) -> None:
    patch_object(api, namespace, name, {"metadata": {"annotations": {APPROVE: value}}})


def delete_import(api: client.CustomObjectsApi, namespace: str, name: str) -> None:
    api.delete_namespaced_custom_object(GROUP, VERSION, namespace, IMPORTS, name)


def wait_reason(
    api: client.CustomObjectsApi,
    namespace: str,
    name: str,
    *reasons: str,
    timeout: float = 60,
    plural: str = IMPORTS,
) -> dict[str, Any]:
    """Wait until the Ready condition's reason is one of ``reasons``; the object."""
    return wait_object(
        api,
        plural,
        namespace,
        name,
        lambda obj: condition(obj).get("reason") in reasons,
        timeout=timeout,
        what=f"{namespace}/{name} Ready reason in {reasons}",
    )


def wait_gone(api: client.CustomObjectsApi, namespace: str, name: str, timeout: float) -> None:
    wait_for(
        lambda: get_object(api, IMPORTS, namespace, name) is None,
        timeout=timeout,
        what=f"{namespace}/{name} to disappear",
    )


# -- the destination GitLab ----------------------------------------------------------------------


def import_posts(sim: SimulatorProcess) -> list[dict[str, Any]]:
    """Every request to an endpoint that creates a project from an archive."""
    return [
        r for r in sim.requests() if r["endpoint"] in IMPORT_ENDPOINTS and r["method"] == "POST"
    ]


def live_projects(sim: SimulatorProcess) -> list[dict[str, Any]]:
    return [p for p in sim.projects() if not p["pending_delete"]]


def live_at(sim: SimulatorProcess, path: str) -> list[dict[str, Any]]:
    return [p for p in live_projects(sim) if p["path_with_namespace"] == path]


def temporary_projects(sim: SimulatorProcess, path: str) -> list[dict[str, Any]]:
    """Projects at ``<path>-<32 hex>``, where GitLab puts an overwriting import first."""
    pattern = re.compile(re.escape(path) + r"-[0-9a-f]{32}")
    return [p for p in sim.projects() if pattern.fullmatch(p["path_with_namespace"])]


def project_by_id(sim: SimulatorProcess, project_id: int) -> dict[str, Any] | None:
    return next((p for p in sim.projects() if p["id"] == project_id), None)


def deleted(sim: SimulatorProcess, project_id: int) -> bool:
    """Whether GitLab deleted the project or has it pending deletion."""
    project = project_by_id(sim, project_id)
    return project is None or bool(project["pending_delete"])


def seed_project(sim: SimulatorProcess, path: str, **fields: Any) -> dict[str, Any]:
    """Create a project on a simulator through its control API (not an import)."""
    project: dict[str, Any] = sim.control(
        "POST", "/projects", json={"path_with_namespace": path, "owner": "root", **fields}
    )
    return project


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def assert_imported(obj: dict[str, Any], sim: SimulatorProcess, path: str) -> dict[str, Any]:
    """``obj`` is Ready and its status carries GitLab's import fields verbatim for the live
    project at ``path`` on ``sim``; that project."""
    (project,) = live_at(sim, path)
    gitlab = gitlab_import_status(sim, project["id"])
    status = obj["status"]
    assert condition(obj)["status"] == "True", condition(obj)
    assert gitlab["import_status"] == "finished"
    assert status["importStatus"] == gitlab["import_status"]
    assert status["correlationId"] == gitlab["correlation_id"]
    assert status["correlationId"] == project["import"]["correlation_id"]
    assert status["projectId"] == project["id"] == gitlab["id"]
    assert status["pathWithNamespace"] == path == gitlab["path_with_namespace"]
    assert status["failedRelations"] == [] == gitlab["failed_relations"]
    assert status.get("importError") is None
    assert status["observedGeneration"] == obj["metadata"]["generation"]
    return project


class Sampler:
    """Calls ``probe`` every ``interval`` seconds in a thread and keeps what it returns, so a
    test can assert something held at every moment, not only at the end."""

    def __init__(self, probe: Callable[[], Any], interval: float = 0.1) -> None:
        self.samples: list[Any] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()

        def run() -> None:
            while not self._stop.is_set():
                try:
                    self.samples.append(probe())
                except Exception as exc:  # noqa: BLE001 - kept for the test to see
                    self.errors.append(exc)
                self._stop.wait(interval)

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def stop(self) -> list[Any]:
        self._stop.set()
        self._thread.join(10)
        return self.samples
