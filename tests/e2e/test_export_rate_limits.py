"""Many ProjectExports on one GitLab share its per-user export limit: the operator spends it
at exactly the rate GitLab allows and never gets a 429.

Time runs 20 times faster in both the simulator and the operator (a shared scaled clock), so
eight minutes of GitLab's one-minute windows pass in under half a minute.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from pathlib import Path

import yaml
from ferry_e2e import EXPORTS, condition, create, export_object, get_object, token_secret
from tests.support.processes import wait_for

SPEED = 20.0
EXPORTS_COUNT = 50


def _seed(path: Path, count: int) -> Path:
    projects = [
        {
            "path_with_namespace": f"fleet/service-{i:02d}",
            "owner": "root",
            "repository_size": "16KiB",
        }
        for i in range(count)
    ]
    seed = {
        "users": [{"username": "root", "token": "glpat-root-token", "admin": True}],
        "groups": [{"path": "fleet"}],
        "projects": projects,
    }
    path.write_text(yaml.safe_dump(seed))
    return path


def test_fifty_exports_at_the_default_limits(
    namespace, core_v1, custom_objects, simulators, operators, tmp_path
):
    anchor = time.time()
    clock = ["--clock-speed", str(SPEED), "--clock-anchor", str(anchor)]
    seed = _seed(tmp_path / "fleet.yaml", EXPORTS_COUNT)
    gitlab = simulators(
        *clock, "--export-queue-delay", "2", "--export-duration", "10", seed=str(seed)
    )
    projects = [p["path_with_namespace"] for p in gitlab.projects()]
    token_secret(core_v1, namespace, "gitlab-token", {"token": "glpat-root-token"})
    operators(
        [namespace],
        {
            "GITLAB_FERRY_ALLOWED_HOSTS": gitlab.host,
            "GITLAB_FERRY_CLOCK_SPEED": str(SPEED),
            "GITLAB_FERRY_CLOCK_ANCHOR": str(anchor),
            "GITLAB_FERRY_POLL_INITIAL": "5",
            "GITLAB_FERRY_POLL_MAX": "30",
            # At 20x, a 20 ms write before a request is 0.4 s of GitLab's clock: keep a wider
            # berth around the minute boundaries than real time needs.
            "GITLAB_FERRY_RATE_LIMIT_MARGIN": "8",
            "GITLAB_FERRY_LOG_LEVEL": "INFO",
        },
    )
    names = [f"export-{i:02d}" for i in range(EXPORTS_COUNT)]
    for name, project in zip(names, projects, strict=True):
        create(custom_objects, EXPORTS, namespace, export_object(name, gitlab.url, project))

    def finished() -> int:
        done = 0
        for name in names:
            obj = get_object(custom_objects, EXPORTS, namespace, name)
            done += condition(obj).get("reason") == "Finished"
        return done == EXPORTS_COUNT

    # 50 requests at 6 per minute need 9 windows; a real minute is 3 s here.
    wait_for(finished, timeout=240, interval=1, what="all 50 exports to finish")

    log = gitlab.requests()
    assert not [r for r in log if r["status"] == 429], "the operator provoked a 429"
    posts = [r for r in log if r["endpoint"] == "export" and r["method"] == "POST"]
    # One request per export, none repeated.
    assert len(posts) == EXPORTS_COUNT
    per_window = Counter(math.floor(r["time"] / 60) for r in posts)
    assert max(per_window.values()) <= 6, per_window
    # ...and no slack: no window is skipped and every one between the first and the last is
    # used to the full. The first may be partly gone when the objects arrive (the operator's
    # start takes minutes of this clock, and the requests keep a margin from the window's end).
    windows = sorted(per_window)
    assert len(windows) == windows[-1] - windows[0] + 1, per_window
    assert all(per_window[w] == 6 for w in windows[1:-1]), per_window
