"""A ProjectExport against a simulated GitLab goes none -> queued/started -> finished, for each
destination, and its status and Events say so at each step."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from kubernetes import client

from ferry_e2e import (
    EXPORTS,
    condition,
    create,
    events_of,
    export_object,
    get_object,
    token_secret,
    wait_object,
)

SIM_TIMING = ("--export-queue-delay", "1", "--export-duration", "2")


class StatusTrail:
    """Records every distinct (exportStatus, Ready reason) an object shows while it runs."""

    def __init__(self, api: client.CustomObjectsApi, namespace: str, name: str) -> None:
        self.seen: list[tuple[Any, Any]] = []
        self._stop = threading.Event()

        def watch() -> None:
            while not self._stop.is_set():
                obj = get_object(api, EXPORTS, namespace, name)
                if obj is not None:
                    entry = ((obj.get("status") or {}).get("exportStatus"), condition(obj).get("reason"))
                    if not self.seen or self.seen[-1] != entry:
                        self.seen.append(entry)
                time.sleep(0.1)

        self._thread = threading.Thread(target=watch, daemon=True)
        self._thread.start()

    def stop(self) -> list[tuple[Any, Any]]:
        self._stop.set()
        self._thread.join(5)
        return self.seen


@pytest.fixture
def gitlab(simulators):
    return simulators(*SIM_TIMING)


def _settings(gitlab) -> dict[str, str]:
    return {"GITLAB_FERRY_ALLOWED_HOSTS": gitlab.host}


def test_export_kept_on_gitlab(namespace, core_v1, custom_objects, gitlab, operators):
    token_secret(core_v1, namespace, "gitlab-token", {"token": "glpat-root-token"})
    operators([namespace], _settings(gitlab))
    trail = StatusTrail(custom_objects, namespace, "snapshot")
    create(
        custom_objects,
        EXPORTS,
        namespace,
        export_object("snapshot", gitlab.url, "gitlab-org/gitlab-test", description="before"),
    )
    obj = wait_object(
        custom_objects, EXPORTS, namespace, "snapshot",
        lambda o: condition(o).get("reason") == "Finished", timeout=60, what="Finished",
    )
    seen = trail.stop()
    status = obj["status"]
    assert status["exportStatus"] == "finished"
    assert status["projectId"] == gitlab.project("gitlab-org/gitlab-test")["id"]
    assert status["pathWithNamespace"] == "gitlab-org/gitlab-test"
    assert status["links"]["apiUrl"].endswith("/export/download")
    assert status["links"]["expiresAt"] > status["startedAt"]
    assert status["artifact"]["location"] == "GitLab"
    assert status["attempts"] == 1
    assert status["observedGeneration"] == obj["metadata"]["generation"]
    assert status["plan"]["action"] == "UpToDate"
    assert condition(obj)["status"] == "True"
    assert condition(obj)["observedGeneration"] == obj["metadata"]["generation"]
    # GitLab's own states passed by on the way, in order.
    states = [state for state, _ in seen if state]
    assert "finished" == states[-1]
    assert {"queued", "started"} & set(states), seen
    # One export request, and the description passed through.
    posts = gitlab.requests("export")
    assert len([r for r in posts if r["method"] == "POST"]) == 1
    reasons = [event["reason"] for event in events_of(core_v1, namespace, "snapshot")]
    assert "RequestExport" in reasons
    assert "Finished" in reasons
    assert reasons.index("RequestExport") < reasons.index("Finished")
