"""The API server goes away mid-batch (etcd keeps its data) and comes back: the operator
reconnects, every migration finishes, and nothing was requested twice or lost."""

from __future__ import annotations

import time

import pytest
from ferry_e2e import token_secret
from reliability_e2e import (
    destination_seed,
    duplicate_posts,
    fleet_seed,
    report,
    start_migrations,
    wait_all_ready,
)
from tests.support.processes import wait_for

TIMING = ("--export-queue-delay", "0.5", "--export-duration", "3", "--import-duration", "3")
NO_LIMITS = ("--project-export-limit", "0", "--project-import-limit", "0",
             "--project-download-export-limit", "0")  # fmt: skip


def test_api_server_restart_mid_batch(
    namespace, core_v1, custom_objects, simulators, operators, control_plane, tmp_path
):
    if control_plane is None:
        pytest.skip("an external cluster is not restarted by tests")
    source = simulators(*TIMING, *NO_LIMITS, seed=str(fleet_seed(tmp_path / "s.yaml", 2, 5)))
    destination = simulators(
        *TIMING, *NO_LIMITS, seed=str(destination_seed(tmp_path / "d.yaml", 2))
    )
    for name in ("gitlab-token", "destination-token"):
        token_secret(core_v1, namespace, name, {"token": "glpat-root-token"})
    operator = operators(
        [namespace],
        {
            "GITLAB_FERRY_ALLOWED_HOSTS": f"{source.host},{destination.host}",
            "GITLAB_FERRY_EXPORT_LIMIT": "0",
            "GITLAB_FERRY_IMPORT_LIMIT": "0",
            "GITLAB_FERRY_DOWNLOAD_LIMIT": "0",
            "GITLAB_FERRY_LOG_LEVEL": "INFO",
        },
    )
    projects = [p["path_with_namespace"] for p in source.projects()]
    names = start_migrations(custom_objects, namespace, source, destination, projects)
    # Let the batch get going, then take the API server away for a while.
    wait_for(
        lambda: any(r["method"] == "POST" for r in source.requests("export")),
        timeout=30,
        what="the first export request",
    )
    outages = 0
    for pause in (4.0, 2.0):
        control_plane.stop_apiserver(grace=0)
        outages += 1
        time.sleep(pause)
        assert operator.running, "the operator died while the API server was away"
        control_plane.start_apiserver()
        time.sleep(2.0)
    wait_all_ready(
        custom_objects,
        namespace,
        names,
        timeout=180,
        what="every migration to finish after the API server came back",
    )
    exports, imports = duplicate_posts(source, destination)
    report(
        "kubernetes-faults",
        {
            "outages": outages,
            "migrations": len(names),
            "objects": 2 * len(names),
            "duplicate_exports": sum(exports.values()),
            "duplicate_imports": sum(imports.values()),
        },
    )
    assert not exports, exports
    assert not imports, imports
    assert len(destination.projects()) == len(names)
