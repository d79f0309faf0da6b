"""Crash safety: the operator is killed at random moments while migrations run and started
again, twenty times; the simulated GitLabs' request logs prove no export was requested twice
and no import posted twice, and every object finishes. SIGTERM lets it finish its status
writes and exit cleanly."""

from __future__ import annotations

import random
import signal
import time

from ferry_e2e import token_secret
from reliability_e2e import (
    all_ready,
    destination_seed,
    duplicate_posts,
    fleet_seed,
    report,
    start_migrations,
    wait_all_ready,
)

KILLS = 20
BATCH = 10
TIMING = ("--export-queue-delay", "0.5", "--export-duration", "2", "--import-duration", "2")
NO_LIMITS = ("--project-export-limit", "0", "--project-import-limit", "0",
             "--project-download-export-limit", "0")  # fmt: skip


def test_random_kills_during_migrations(
    namespace, core_v1, custom_objects, simulators, operators, tmp_path
):
    seed = int(time.time())
    rng = random.Random(seed)
    groups, per_group = 6, 10
    source = simulators(
        *TIMING, *NO_LIMITS, seed=str(fleet_seed(tmp_path / "s.yaml", groups, per_group))
    )
    destination = simulators(
        *TIMING, *NO_LIMITS, seed=str(destination_seed(tmp_path / "d.yaml", groups))
    )
    for name in ("gitlab-token", "destination-token"):
        token_secret(core_v1, namespace, name, {"token": "glpat-root-token"})
    settings = {
        "GITLAB_FERRY_ALLOWED_HOSTS": f"{source.host},{destination.host}",
        "GITLAB_FERRY_EXPORT_LIMIT": "0",
        "GITLAB_FERRY_IMPORT_LIMIT": "0",
        "GITLAB_FERRY_DOWNLOAD_LIMIT": "0",
        "GITLAB_FERRY_LOG_LEVEL": "INFO",
    }
    operator = operators([namespace], settings)
    projects = [p["path_with_namespace"] for p in source.projects()]
    rng.shuffle(projects)
    names = start_migrations(custom_objects, namespace, source, destination, projects[:BATCH])
    batches, used = 1, BATCH
    clean_stops = 0
    for kill in range(KILLS):
        time.sleep(rng.uniform(0.2, 3.0))
        if kill % 4 == 3:
            # SIGTERM: in-flight status writes finish, then a clean exit.
            assert operator.stop(signal.SIGTERM, grace=30) == 0, operator.output()[-3000:]
            clean_stops += 1
        else:
            operator.send_signal(signal.SIGKILL)
            operator.stop()
        operator.start()
        if all_ready(custom_objects, namespace, names) and used + BATCH <= len(projects):
            names += start_migrations(
                custom_objects, namespace, source, destination, projects[used : used + BATCH]
            )
            used += BATCH
            batches += 1
    wait_all_ready(
        custom_objects,
        namespace,
        names,
        timeout=180,
        what="every migration to finish after the kills",
    )
    exports, imports = duplicate_posts(source, destination)
    leftovers = [
        p["path_with_namespace"]
        for p in destination.projects()
        if p["path_with_namespace"].rsplit("/", 1)[-1] not in {n.split("/")[-1] for n in projects}
    ]
    report(
        "crash-safety",
        {
            "random_seed": seed,
            "kills": KILLS - clean_stops,
            "sigterms": clean_stops,
            "batches": batches,
            "migrations": len(names),
            "objects": 2 * len(names),
            "duplicate_exports": sum(exports.values()),
            "duplicate_imports": sum(imports.values()),
        },
    )
    assert not exports, f"export requested twice (random seed {seed}): {exports}"
    assert not imports, f"import posted twice (random seed {seed}): {imports}"
    assert len(destination.projects()) == len(names), leftovers
