"""Killing the operator while exports are in flight and starting it again repeats no export
request, and every export still finishes."""

from __future__ import annotations

import signal
from collections import Counter

from ferry_e2e import EXPORTS, condition, create, export_object, get_object, token_secret
from tests.support.processes import wait_for


def test_sigkill_while_exporting_repeats_no_request(
    namespace, core_v1, custom_objects, simulators, operators
):
    # Rate limits are off on both sides here: this test is about restarts, not throttling.
    gitlab = simulators(
        "--export-queue-delay", "2", "--export-duration", "6", "--project-export-limit", "0"
    )
    projects = [p["path_with_namespace"] for p in gitlab.projects()][:10]
    token_secret(core_v1, namespace, "gitlab-token", {"token": "glpat-root-token"})
    settings = {"GITLAB_FERRY_ALLOWED_HOSTS": gitlab.host, "GITLAB_FERRY_EXPORT_LIMIT": "0"}
    operator = operators([namespace], settings)
    names = [f"e{i}" for i in range(len(projects))]
    for name, project in zip(names, projects, strict=True):
        create(custom_objects, EXPORTS, namespace, export_object(name, gitlab.url, project))

    def posted() -> int:
        return len([r for r in gitlab.requests("export") if r["method"] == "POST"])

    wait_for(lambda: posted() == len(names), timeout=30, what="every export to be requested")
    operator.send_signal(signal.SIGKILL)
    operator.stop()
    operator.start()

    def all_finished() -> bool:
        return all(
            condition(get_object(custom_objects, EXPORTS, namespace, n)).get("reason") == "Finished"
            for n in names
        )

    wait_for(all_finished, timeout=90, interval=0.5, what="every export to finish")
    per_project = Counter(r["path"] for r in gitlab.received_posts("export"))
    assert set(per_project.values()) == {1}, per_project
    assert len(per_project) == len(names)
