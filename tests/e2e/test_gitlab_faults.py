"""GitLab misbehaving: 20% of requests answered with 5xx, proxy HTML pages, timeouts, slow
answers, 429 bursts without Retry-After and plain-text Rack::Attack 429s. Every migration
still finishes, conditions show the degraded reason while it lasts, and the operator backs
off instead of storming (its request count stays within a small multiple of a clean run)."""

from __future__ import annotations

import threading
import time

from ferry_e2e import EXPORTS, IMPORTS, condition, get_object, token_secret
from reliability_e2e import (
    destination_seed,
    fleet_seed,
    report,
    start_migrations,
    wait_all_ready,
)

BATCH = 10
TIMING = ("--export-queue-delay", "0.5", "--export-duration", "2", "--import-duration", "2")
LIMITS = ("--project-export-limit", "60", "--project-import-limit", "60",
          "--project-download-export-limit", "60")  # fmt: skip
FAULTS = {
    "seed": 7,
    "rules": [
        {"kind": "error", "probability": 0.08, "statuses": [500, 502, 503]},
        {"kind": "html", "probability": 0.04},
        {"kind": "timeout", "probability": 0.02, "delay": 3},
        {"kind": "slow", "probability": 0.02, "delay": 1},
        {"kind": "burst429", "probability": 0.02, "count": 12},
        {"kind": "rack_attack", "probability": 0.02},
    ],
}


class Reasons:
    """Every Ready reason the objects show while the test runs."""

    def __init__(self, api, namespace: str, names: list[str]) -> None:
        self.seen: set[str] = set()
        self._stop = threading.Event()

        def watch() -> None:
            while not self._stop.is_set():
                for name in list(names):
                    for plural in (EXPORTS, IMPORTS):
                        reason = condition(get_object(api, plural, namespace, name)).get("reason")
                        if reason:
                            self.seen.add(reason)
                time.sleep(0.2)

        self._thread = threading.Thread(target=watch, daemon=True)
        self._thread.start()

    def stop(self) -> set[str]:
        self._stop.set()
        self._thread.join(5)
        return self.seen


def _requests(*gitlabs) -> int:
    return sum(len(g.requests()) for g in gitlabs)


def test_migrations_converge_through_gitlab_faults(
    namespace, core_v1, custom_objects, simulators, operators, tmp_path
):
    source = simulators(*TIMING, *LIMITS, seed=str(fleet_seed(tmp_path / "s.yaml", 4, 5)))
    destination = simulators(*TIMING, *LIMITS, seed=str(destination_seed(tmp_path / "d.yaml", 4)))
    for name in ("gitlab-token", "destination-token"):
        token_secret(core_v1, namespace, name, {"token": "glpat-root-token"})
    operators(
        [namespace],
        {
            "GITLAB_FERRY_ALLOWED_HOSTS": f"{source.host},{destination.host}",
            "GITLAB_FERRY_EXPORT_LIMIT": "60",
            "GITLAB_FERRY_IMPORT_LIMIT": "60",
            "GITLAB_FERRY_DOWNLOAD_LIMIT": "60",
            "GITLAB_FERRY_HTTP_TIMEOUT": "2",
            "GITLAB_FERRY_LOG_LEVEL": "INFO",
        },
    )
    projects = [p["path_with_namespace"] for p in source.projects()]

    # A clean batch first: the request count to compare with.
    clean = start_migrations(custom_objects, namespace, source, destination, projects[:BATCH])
    wait_all_ready(custom_objects, namespace, clean, timeout=120, what="the clean batch")
    baseline = _requests(source, destination)

    for gitlab in (source, destination):
        gitlab.control("PUT", "/faults", json=FAULTS)
    faulty = start_migrations(custom_objects, namespace, source, destination, projects[BATCH:])
    reasons = Reasons(custom_objects, namespace, faulty)
    try:
        wait_all_ready(custom_objects, namespace, faulty, timeout=300,
                       what="every migration to finish despite the faults")  # fmt: skip
    finally:
        seen = reasons.stop()
    total = _requests(source, destination) - baseline
    injected = sum(1 for g in (source, destination) for r in g.requests() if r.get("fault"))
    report(
        "gitlab-faults",
        {
            "migrations": len(faulty),
            "objects": 2 * len(faulty),
            "requests_clean": baseline,
            "requests_with_faults": total,
            "faults_injected": injected,
            "reasons_seen": sorted(seen),
        },
    )
    assert injected > 0, "no fault was injected"
    assert "GitLabUnavailable" in seen, seen
    # Bounded: retries add requests for the faults, not a storm.
    assert total <= 3 * baseline, (total, baseline, injected)
    for name in faulty:
        imported = get_object(custom_objects, IMPORTS, namespace, name)["status"]
        assert imported["importStatus"] == "finished", name
