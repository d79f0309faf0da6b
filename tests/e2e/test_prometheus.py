"""A real Prometheus scrapes the operator during a migration: every query of the chart's
Grafana dashboard and every alert expression evaluates without error, the panels show data
that agrees with the cluster, and the alert rules load into that Prometheus and evaluate
healthily.

The scenario (time 20 times faster in the simulators and the operator): eight ProjectExports on
a source GitLab and eight ProjectImports (``exportRef``) into a destination GitLab, two of them
with records GitLab cannot import (failed relations); one import that GitLab fails (a job
fault) and one export with a wrong token (Unauthorized), to light up the error panels. Nine
exports at once exceed GitLab's six exports per minute, so the rate-limit budget holds some
back (the throttling panels) without a single 429.

The operator exports its fixed label sets at 0 from the start, so the failed import and the
failed relations are increases: their alerts fire in this run.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from ferry_e2e import (
    EXPORTS,
    IMPORTS,
    condition,
    create,
    export_object,
    get_object,
    import_object,
    token_secret,
)
from migration_e2e import (
    MIGRATIONS,
    TIMING,
    destination_parent,
    migration_object,
    operator_settings,
    secrets,
    selected,
    source_groups,
)
from prometheus_e2e import (
    JOB,
    RULES,
    PanelQuery,
    PrometheusProcess,
    find_prometheus,
    has_data,
    is_group_migration,
    label_values_call,
    load_dashboard,
    load_rules,
    panel_queries,
    rule_expressions,
    substitute,
    variable_queries,
)
from tests.support.processes import wait_for

from gitlab_ferry import __version__

SPEED = 20.0
JOB_TIMES = ("--export-queue-delay", "2", "--export-duration", "10", "--import-duration", "10")
#: Source projects migrated (pages and payments have invalid issues: failed relations).
MIGRATED = {
    "gitlab-test": "gitlab-org/gitlab-test",
    "shell": "gitlab-org/gitlab-shell",
    "gitaly": "gitlab-org/gitaly",
    "pages": "gitlab-org/sub/pages",
    "dns": "platform/infra/dns",
    "payments": "platform/apps/payments",
    "handbook": "platform/handbook",
    "docs": "gitlab-org/docs",  # GitLab fails this import (a job fault on the destination)
}
FAILING_IMPORT = "docs"
DENIED_EXPORT = "denied"  # alice/dotfiles with a wrong token
KINDS = {EXPORTS: "ProjectExport", IMPORTS: "ProjectImport"}


def accelerated(anchor: float) -> list[str]:
    return ["--clock-speed", str(SPEED), "--clock-anchor", str(anchor)]


@pytest.fixture
def prometheus_binary() -> str:
    binary = find_prometheus()
    if binary is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true and prometheus is not installed (make system)", pytrace=False)
        pytest.skip("prometheus is not installed (make system installs Debian's package)")
    return binary


@pytest.fixture
def prometheus(prometheus_binary, tmp_path):
    """Start a Prometheus scraping one target: ``prometheus("127.0.0.1:port")``."""
    started: list[PrometheusProcess] = []

    def start(target: str) -> PrometheusProcess:
        server = PrometheusProcess(prometheus_binary, tmp_path / "prometheus", [target], [RULES])
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
        # Captured: pytest shows it only when the test failed.
        print(f"--- prometheus log {server.log_path} (tail) ---\n{server.output()[-3000:]}")


@dataclass(frozen=True)
class Scenario:
    """What the migration left in the cluster, and when Prometheus watched it."""

    namespace: str
    conditions: dict[tuple[str, str], dict[str, str]]  # (kind, name) -> Ready condition
    stalled: set[tuple[str, str]]  # (kind, name) of objects whose Stalled condition is True
    failed_relations: int
    started: float
    end: float

    def count(self, ready: bool | None = None) -> Counter[str]:
        return Counter(
            kind
            for (kind, _), cond in self.conditions.items()
            if ready is None or (cond["status"] == "True") == ready
        )


def test_dashboard_and_alerts_on_a_real_prometheus(
    namespace, core_v1, custom_objects, simulators, operators, prometheus
):
    anchor = time.time()
    source = simulators(*accelerated(anchor), *JOB_TIMES)
    destination = simulators(*accelerated(anchor), *JOB_TIMES, seed="empty")
    fault = {"job": "import", "project": MIGRATED[FAILING_IMPORT], "mode": "fail", "count": 1}
    destination.control("PUT", "/faults", json={"jobs": [fault]})
    token_secret(core_v1, namespace, "gitlab-token", {"token": "glpat-root-token"})
    token_secret(core_v1, namespace, "destination-token", {"token": "glpat-root-token"})
    token_secret(core_v1, namespace, "wrong-token", {"token": "glpat-not-a-token"})
    operator = operators(
        [namespace],
        {
            "GITLAB_FERRY_ALLOWED_HOSTS": f"{source.host},{destination.host}",
            "GITLAB_FERRY_CLOCK_SPEED": str(SPEED),
            "GITLAB_FERRY_CLOCK_ANCHOR": str(anchor),
            "GITLAB_FERRY_POLL_INITIAL": "5",
            "GITLAB_FERRY_POLL_MAX": "20",
            "GITLAB_FERRY_RATE_LIMIT_MARGIN": "8",
            "GITLAB_FERRY_RECHECK_INTERVAL": "60",
            "GITLAB_FERRY_LOG_LEVEL": "INFO",
        },
    )
    prom = prometheus(f"127.0.0.1:{operator.port}")
    wait_for(lambda: prom.value(f'up{{job="{JOB}"}}') == 1, timeout=30, what="the first scrape")
    started = time.time()

    denied = export_object(DENIED_EXPORT, source.url, "alice/dotfiles")
    denied["spec"]["gitlab"]["tokenSecretRef"]["name"] = "wrong-token"
    create(custom_objects, EXPORTS, namespace, denied)
    for name, path in MIGRATED.items():
        group, _, project = path.rpartition("/")
        create(custom_objects, EXPORTS, namespace, export_object(name, source.url, path))
        spec = import_object(
            name, destination.url, project, {"exportRef": {"name": name}}, namespacePath=group
        )
        create(custom_objects, IMPORTS, namespace, spec)

    def ready(plural: str, name: str, kind: str = "Ready") -> dict[str, str]:
        return condition(get_object(custom_objects, plural, namespace, name), kind)

    def settled() -> bool:
        imports = {name: ready(IMPORTS, name) for name in MIGRATED}
        return (
            all(c.get("status") == "True" for n, c in imports.items() if n != FAILING_IMPORT)
            and imports[FAILING_IMPORT].get("reason") == "Failed"
            and ready(EXPORTS, DENIED_EXPORT).get("reason") == "Unauthorized"
        )

    wait_for(settled, timeout=300, interval=1, what="the migration to settle")
    assert not [r for r in source.requests() + destination.requests() if r["status"] == 429]
    conditions = {(KINDS[EXPORTS], n): ready(EXPORTS, n) for n in [*MIGRATED, DENIED_EXPORT]}
    conditions |= {(KINDS[IMPORTS], n): ready(IMPORTS, n) for n in MIGRATED}
    stalled = {
        (KINDS[plural], n)
        for plural, names in ((EXPORTS, [*MIGRATED, DENIED_EXPORT]), (IMPORTS, MIGRATED))
        for n in names
        if ready(plural, n, "Stalled").get("status") == "True"
    }
    # GitLab's failure of an import and a wrong token are final: a person must act.
    assert stalled == {(KINDS[EXPORTS], DENIED_EXPORT), (KINDS[IMPORTS], FAILING_IMPORT)}
    failed_relations = 0
    for name in MIGRATED:
        status = get_object(custom_objects, IMPORTS, namespace, name)["status"]
        failed_relations += len(status.get("failedRelations", []))
    assert failed_relations == 5  # pages: 2 issues, payments: 3

    finished = sum(cond["status"] == "True" for cond in conditions.values())
    wait_for(
        lambda: prom.value('count(gitlab_ferry_object_info{ready="True"})') == finished,
        timeout=30,
        what="Prometheus to scrape the final state",
    )
    time.sleep(3)  # a few more scrapes, so the last increases are inside every rate window
    scenario = Scenario(namespace, conditions, stalled, failed_relations, started, time.time())
    assert (scenario.count(), scenario.count(ready=True)) == (
        {"ProjectExport": 9, "ProjectImport": 8},
        {"ProjectExport": 8, "ProjectImport": 7},
    )
    check_dashboard(prom, scenario)
    check_rules(prom, scenario)


def legends(result: list[dict[str, Any]], legend: str) -> dict[str, float]:
    """An instant result's values by legend (the series' labels filled into the format)."""
    found = {}
    for series in result:
        text = legend
        for key, value in series["metric"].items():
            text = text.replace("{{" + key + "}}", value)
        found[text] = float(series["value"][1])
    return found


def check_dashboard(prom: PrometheusProcess, scenario: Scenario) -> None:
    """Every panel query evaluates and shows data, and the numbers are the cluster's."""
    queries = {(q.title, q.ref_id): q for q in panel_queries(load_dashboard())}
    values = {
        "namespace": scenario.namespace,
        "kind": ".*",  # All
        "window": "10m",  # the whole scenario
        "__rate_interval": "10s",  # Grafana's rule: at least four scrape intervals
    }

    def run(query: PanelQuery, **override: str) -> list[dict[str, Any]]:
        expr = substitute(query.expr, values | override)
        if query.instant:
            return prom.query(expr)
        return prom.query_range(expr, scenario.started, scenario.end, 1.0)

    # Every panel shows data in this scenario, except the group migrations' (there is none
    # here; the test below has one). The one that a healthy run leaves empty, 429s, is
    # written "... or vector(0)" and must show exactly 0 (below).
    results = {key: run(query) for key, query in queries.items()}
    for (title, ref), result in results.items():
        if is_group_migration(queries[title, ref]):
            assert not has_data(result), f"{title!r} {ref} shows another namespace's data"
            continue
        assert has_data(result), f"{title!r} {ref} shows no data: {queries[title, ref].expr}"

    def stat(title: str, ref: str = "A", **override: str) -> dict[str, float]:
        query = queries[title, ref]
        result = run(query, **override) if override else results[title, ref]
        return legends(result, query.legend)

    # No 429 reached the operator (the simulators' logs agree): the panel says 0.
    assert stat("429s from GitLab (should be 0)") == {"429s": 0.0}
    total, finished = scenario.count(), scenario.count(ready=True)
    assert stat("Finished / total", "A") == {f"{k} finished": n for k, n in finished.items()}
    assert stat("Finished / total", "B") == {f"{k} total": n for k, n in total.items()}
    assert stat("Finished / total", "B", kind="ProjectImport") == {"ProjectImport total": 8}
    assert stat("Finished / total", "B", namespace="elsewhere") == {}
    assert stat("Progress (Ready / all)") == pytest.approx(
        {kind: finished[kind] / total[kind] for kind in total}
    )
    assert stat("In flight / stalled", "A") == {"In flight": 0}
    assert stat("In flight / stalled", "B") == {"Stalled": len(scenario.stalled)}
    assert stat("Operator version") == {__version__: 1}
    # The fixed label sets are there at 0.
    transfers = stat("Transfers since the operator started")
    assert transfers == {
        "ProjectExport finished": 8,
        "ProjectExport failed": 0,
        "ProjectImport finished": 7,
        "ProjectImport failed": 1,
    }
    assert stat("Failed relations since the operator started") == {
        "issues": scenario.failed_relations,
        "milestones": 0,
        "merge_requests": 0,
        "ci_pipelines": 0,
    }
    # The progress table: one row per object, with the cluster's Ready condition.
    rows = {
        (s["metric"]["kind"], s["metric"]["name"]): s["metric"] for s in results["Objects", "A"]
    }
    assert set(rows) == set(scenario.conditions)
    for key, cond in scenario.conditions.items():
        assert (rows[key]["ready"], rows[key]["reason"]) == (cond["status"], cond["reason"]), key
        assert rows[key]["namespace"] == scenario.namespace
        assert rows[key]["stalled"] == str(key in scenario.stalled), key
    assert rows["ProjectImport", FAILING_IMPORT]["status"] == "failed"
    # Its second query: when each object's Ready condition last changed (ms, for Grafana).
    changed = {
        (s["metric"]["kind"], s["metric"]["name"]): float(s["value"][1])
        for s in results["Objects", "B"]
    }
    assert changed == {
        key: pytest.approx(
            datetime.fromisoformat(cond["lastTransitionTime"]).timestamp() * 1000, abs=1
        )
        for key, cond in scenario.conditions.items()
    }
    # Throttling without 429s: the budget held requests back.
    waits = results["Requests postponed by the rate-limit budget (per minute)", "A"]
    assert any(float(value) > 0 for series in waits for _, value in series["values"])
    # The wrong token: 4xx answers and reconcile errors with reason Unauthorized.
    errors = results["GitLab errors by endpoint (per minute)", "A"]
    assert "4xx" in {series["metric"]["code"] for series in errors}
    reasons = results["Reconcile errors by reason (per minute)", "A"]
    assert "Unauthorized" in {series["metric"]["reason"] for series in reasons}

    # The template variables' own queries.
    for name, query in variable_queries(load_dashboard()).items():
        match, label = label_values_call(query)
        found = prom.api(f"label/{label}/values", **({"match[]": match} if match else {}))
        assert scenario.namespace in found, (name, found)


def check_rules(prom: PrometheusProcess, scenario: Scenario) -> None:
    """The rule file loads into Prometheus, its groups evaluate healthily, every expression
    evaluates through the query API, and the alerts are the ones this scenario deserves."""
    rules = load_rules()
    for expr in rule_expressions(rules).values():
        prom.query(expr)  # raises with Prometheus's error text if it does not evaluate
        prom.query_range(expr, scenario.started, scenario.end, 5.0)

    def groups() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = prom.api("rules")["groups"]
        return found

    def healthy() -> bool:
        return all(rule["health"] == "ok" for group in groups() for rule in group["rules"])

    wait_for(healthy, timeout=30, what="healthy rules")
    loaded = groups()
    assert sorted(g["name"] for g in loaded) == sorted(g["name"] for g in rules["groups"])
    assert {g["file"] for g in loaded} == {str(RULES)}
    assert {r["name"] for g in loaded for r in g["rules"]} == set(rule_expressions(rules))
    for group in loaded:
        for rule in group["rules"]:
            assert rule["type"] == "alerting", rule
            assert not rule.get("lastError"), rule

    def active(alertname: str, *labels: str) -> set[tuple[str, ...]]:
        """The alert's pending or firing instances: their ``labels`` and their state."""
        return {
            (*(a["labels"][label] for label in labels), a["state"])
            for a in prom.api("alerts")["alerts"]
            if a["labels"]["alertname"] == alertname
        }

    # The failed import and the failed relations fire at once (no for:): their counters
    # were at 0 before, so these are increases.
    wait_for(
        lambda: active("GitLabFerryTransfersFailing", "kind") == {("ProjectImport", "firing")},
        timeout=30,
        what="GitLabFerryTransfersFailing for the failed import",
    )
    wait_for(
        lambda: active("GitLabFerryRelationsFailed", "relation") == {("issues", "firing")},
        timeout=30,
        what="GitLabFerryRelationsFailed for the failed issues",
    )
    # The two stalled objects (the Stalled condition; for: 2m) are pending or already firing;
    # nothing says that the operator is down, that GitLab answered 429 or that a transfer is
    # stuck.
    stalled = active("GitLabFerryObjectStalled", "kind", "name", "reason")
    assert {alert[:3] for alert in stalled} == {
        ("ProjectExport", DENIED_EXPORT, "Unauthorized"),
        ("ProjectImport", FAILING_IMPORT, "Failed"),
    }, stalled
    assert {alert[3] for alert in stalled} <= {"pending", "firing"}, stalled
    alerts = prom.api("alerts")["alerts"]
    names = {alert["labels"]["alertname"] for alert in alerts}
    assert not names & {
        "GitLabFerryOperatorDown",
        "GitLabFerryMetricsAbsent",
        "GitLabFerryRateLimitedByGitLab",
        "GitLabFerryTransferStuck",
        "GitLabFerryReconcileExceptions",
    }, alerts


def test_group_migration_panels_on_a_real_prometheus(
    namespace, core_v1, custom_objects, simulators, operators, prometheus
):
    """The dashboard's group-migration row during and after one GroupMigration of
    ``platform/infra``: the ETA while it runs, then every project finished and every group
    ready, as its status says."""
    anchor = time.time()
    source = simulators(*accelerated(anchor), *TIMING, seed="group-tree")
    destination = simulators(*accelerated(anchor), *TIMING, seed="empty")
    destination_parent(destination)
    secrets(core_v1, namespace)
    operator = operators([namespace], operator_settings(anchor, source.host, destination.host))
    prom = prometheus(f"127.0.0.1:{operator.port}")
    wait_for(lambda: prom.value(f'up{{job="{JOB}"}}') == 1, timeout=30, what="the first scrape")
    projects = [p for p in selected(source) if p.startswith("platform/infra/")]
    body = migration_object("infra", source, destination, groups="CreateMissing")
    body["spec"]["source"]["projects"]["include"] = ["infra/**"]
    create(custom_objects, MIGRATIONS, namespace, body)

    queries = {
        (q.title, q.ref_id): q for q in panel_queries(load_dashboard()) if is_group_migration(q)
    }
    values = {"namespace": namespace}
    eta = queries["Group migrations: groups and ETA", "C"]
    wait_for(
        lambda: prom.value(substitute(eta.expr, values)),
        timeout=60,
        interval=0.5,
        what="the ETA while the migration runs",
    )
    done = wait_for(
        lambda: (
            condition(get_object(custom_objects, MIGRATIONS, namespace, "infra")).get("status")
            == "True"
        ),
        timeout=300,
        what="the migration of platform/infra",
    )
    assert done
    status = get_object(custom_objects, MIGRATIONS, namespace, "infra")["status"]
    n, groups = len(projects), len(source_groups(source))
    assert status["progress"] == f"{n}/{n}"
    share = queries["Projects migrated per GroupMigration", "A"]
    wait_for(
        lambda: prom.value(substitute(share.expr, values)) == 1.0,
        timeout=30,
        what="Prometheus to see every project finished",
    )
    phases = queries["Group migration projects by phase", "A"]
    by_phase = legends(prom.query(substitute(phases.expr, values)), phases.legend)
    assert by_phase["finished"] == n
    assert sum(by_phase.values()) == n
    ready = queries["Group migrations: groups and ETA", "A"]
    every = queries["Group migrations: groups and ETA", "B"]
    # The whole tree of platform/ is made on the destination, whichever projects are selected.
    assert prom.value(substitute(ready.expr, values)) == status["groupsReady"] == groups
    assert prom.value(substitute(every.expr, values)) == status["groups"]
