"""The chart's Grafana dashboard and Prometheus alert rules, without a cluster or a Prometheus
server: the dashboard is a well-formed Grafana JSON model on a ``${datasource}`` variable, every
metric its panels and the rules name is one the operator exports (checked against a fresh
``Metrics`` exposition), every query parses (``promtool check rules`` on recording rules made
from the panels), the rules pass ``promtool check rules``, and ``promtool test rules`` shows the
alerts firing when they should and only then.

``tests/e2e/test_prometheus.py`` runs the same queries against a real Prometheus scraping the
operator.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gitlab_ferry.gitlab import ENDPOINTS
from gitlab_ferry.metrics import Metrics, ObjectState
from gitlab_ferry.reconcile.plan import STALLED_REASONS, Reason

REPO = Path(__file__).resolve().parents[2]
FILES = REPO / "charts" / "gitlab-ferry" / "files"
DASHBOARD_PATH = FILES / "grafana-dashboard.json"
RULES_PATH = FILES / "prometheus-rules.yaml"

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
PANEL_TYPES = {"row", "stat", "gauge", "timeseries", "bargauge", "table"}
GRAFANA_BUILTINS = {"__rate_interval", "__interval", "__range", "__all"}
SEVERITIES = {"critical", "warning", "info"}
METRIC = re.compile(r"\bgitlab_ferry_[a-z_]+")
VARIABLE = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))")
#: Sample values for the template variables when a query must parse or run.
SAMPLE_VALUES = {"namespace": ".*", "kind": ".*", "window": "1h", "__rate_interval": "1m"}


# -- loading ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD_PATH.read_text())
    return loaded


@pytest.fixture(scope="module")
def rules() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(RULES_PATH.read_text())
    return loaded


def all_panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def targets(dashboard: Mapping[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for panel in all_panels(dashboard):
        for target in panel.get("targets", []):
            yield panel, target


def alerting_rules(rules: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for group in rules["groups"]:
        yield from group["rules"]


def variables(text: str) -> set[str]:
    return {m.group(1) or m.group(2) for m in VARIABLE.finditer(text)}


def substitute(expr: str, values: Mapping[str, str] = SAMPLE_VALUES) -> str:
    return VARIABLE.sub(lambda m: values[m.group(1) or m.group(2)], expr)


def promtool() -> str:
    """The promtool binary; skip without it, but fail under CI=true."""
    binary = shutil.which("promtool")
    if binary is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true and promtool is not installed (make system)", pytrace=False)
        pytest.skip("promtool is not installed (make system installs Debian's prometheus)")
    return binary


def run_promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], capture_output=True, text=True, timeout=120, cwd=cwd, check=False
    )


# -- the dashboard as a Grafana JSON model -----------------------------------------------------


def test_dashboard_identity(dashboard):
    assert dashboard["uid"] == "gitlab-ferry"
    assert dashboard["title"] == "gitlab-ferry: migrations"
    assert dashboard["schemaVersion"] >= 38
    # Provisioned dashboards carry no database id of their own.
    assert dashboard.get("id") is None
    assert "gitlab-ferry" in dashboard["tags"]
    assert dashboard["time"]["from"].startswith("now-")


def test_template_variables(dashboard):
    by_name = {v["name"]: v for v in dashboard["templating"]["list"]}
    datasource = by_name["datasource"]
    assert (datasource["type"], datasource["query"]) == ("datasource", "prometheus")
    for name in ("namespace", "kind"):
        variable = by_name[name]
        assert variable["includeAll"], name
        assert variable["multi"], name
        # Multi-value regex matching: All must match everything, not a long alternation.
        assert variable["allValue"] == ".*", name
    assert by_name["namespace"]["datasource"] == DATASOURCE
    query = by_name["namespace"]["query"]
    assert query["query"] == "label_values(gitlab_ferry_object_info, namespace)"
    assert set(by_name["kind"]["query"].split(",")) == {
        "ProjectExport",
        "ProjectImport",
        "GroupMigration",
    }
    assert by_name["window"]["type"] == "interval"


def test_every_panel_and_target_uses_the_datasource_variable(dashboard):
    for panel in all_panels(dashboard):
        assert panel["type"] in PANEL_TYPES, panel["title"]
        if panel["type"] == "row":
            assert not panel.get("targets"), panel["title"]
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, (panel["title"], target)


def test_panel_ids_are_unique_and_titles_present(dashboard):
    ids = [panel["id"] for panel in all_panels(dashboard)]
    assert all(isinstance(i, int) and i > 0 for i in ids)
    assert len(ids) == len(set(ids)), sorted(ids)
    titles = [panel["title"] for panel in all_panels(dashboard) if panel["type"] != "row"]
    assert all(titles)
    assert len(titles) == len(set(titles))


def test_panels_fit_the_grid_without_overlapping(dashboard):
    cells: dict[tuple[int, int], str] = {}
    for panel in all_panels(dashboard):
        grid = panel["gridPos"]
        assert min(grid["w"], grid["h"], grid["x"] + 1) > 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_every_target_has_an_expression_and_a_unique_ref_id(dashboard):
    for panel in all_panels(dashboard):
        refs = []
        for target in panel.get("targets", []):
            assert target.get("expr", "").strip(), (panel["title"], target)
            assert target.get("refId"), (panel["title"], target)
            refs.append(target["refId"])
        assert len(refs) == len(set(refs)), panel["title"]


def test_template_variables_used_are_defined(dashboard):
    defined = {v["name"] for v in dashboard["templating"]["list"]} | GRAFANA_BUILTINS
    for panel, target in targets(dashboard):
        for text in (target["expr"], panel["title"]):
            assert variables(text) <= defined, (panel["title"], variables(text) - defined)


def test_the_dashboard_shows_what_the_issue_asks_for(dashboard):
    kinds = {panel["type"] for panel in all_panels(dashboard)}
    assert {"stat", "gauge", "timeseries", "table"} <= kinds
    exprs = " ".join(target["expr"] for _, target in targets(dashboard))
    for needed in (
        'ready="True"',  # progress
        "histogram_quantile(0.5, ",
        "histogram_quantile(0.95, ",
        "gitlab_ferry_transfer_duration_seconds_bucket",
        "gitlab_ferry_gitlab_request_duration_seconds_bucket",
        "gitlab_ferry_gitlab_rate_limited_total",
        'code=~"4xx|5xx|error"',
    ):
        assert needed in exprs, needed
    # The objects table shows the columns of a progress table, whether the object is stalled
    # and when its Ready condition last changed (a second query, merged on the object).
    (table,) = [p for p in all_panels(dashboard) if (p["type"], p["title"]) == ("table", "Objects")]
    assert [t["id"] for t in table["transformations"]] == ["merge", "organize"]
    organize = table["transformations"][1]["options"]
    order, hidden = organize["indexByName"], organize["excludeByName"]
    shown = [organize["renameByName"].get(c, c) for c in sorted(order, key=order.get)]
    assert shown == [
        "namespace",
        "name",
        "kind",
        "status",
        "ready",
        "reason",
        "stalled",
        "Ready changed",
    ]
    assert hidden == {"Time": True, "Value #A": True}
    info_target, since_target = table["targets"]
    for target in table["targets"]:
        assert (target["format"], target["instant"]) == ("table", True)
    assert info_target["expr"].startswith(
        "max by (namespace, name, kind, status, ready, reason, stalled) (gitlab_ferry_object_info{"
    )
    # Grafana's dateTimeFromNow unit takes milliseconds.
    assert "gitlab_ferry_object_ready_last_transition_timestamp_seconds" in since_target["expr"]
    assert since_target["expr"].endswith(" * 1000")
    units = {
        o["matcher"]["options"]: prop["value"]
        for o in table["fieldConfig"]["overrides"]
        for prop in o["properties"]
        if prop["id"] == "unit"
    }
    assert units == {"Ready changed": "dateTimeFromNow"}


# -- metric names against the operator's exposition ------------------------------------------


def exported_series() -> dict[str, str]:
    """Every series name a fresh ``Metrics`` can expose, mapped to its family name."""
    registry = CollectorRegistry()
    Metrics(registry)
    names = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        if family.name.endswith("_created"):
            continue
        suffixes = {
            "counter": ("_total",),
            "histogram": ("_bucket", "_count", "_sum"),
            "gauge": ("",),
        }[family.type]
        for suffix in suffixes:
            names[family.name + suffix] = family.name
    return names


def used_metrics(dashboard: Mapping[str, Any], rules: Mapping[str, Any]) -> dict[str, set[str]]:
    """Metric names in the dashboard's queries and variables and in the rules, with where."""
    texts: list[tuple[str, str]] = [
        (f"panel {panel['title']!r}", target["expr"]) for panel, target in targets(dashboard)
    ]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            texts.append((f"variable {variable['name']}", query["query"]))
    texts += [(f"rule {r['alert']}", r["expr"]) for r in alerting_rules(rules)]
    used: dict[str, set[str]] = {}
    for where, text in texts:
        for name in METRIC.findall(text):
            used.setdefault(name, set()).add(where)
    return used


def test_every_metric_used_is_exported(dashboard, rules):
    exported = exported_series()
    assert "gitlab_ferry_transfers_total" in exported  # the parser saw the counters
    unknown = {
        name: sorted(where)
        for name, where in used_metrics(dashboard, rules).items()
        if name not in exported
    }
    assert not unknown, f"metrics the operator does not export: {unknown}"


def test_every_exported_metric_is_on_the_dashboard(dashboard, rules):
    exported = exported_series()
    shown = {exported[name] for name in used_metrics(dashboard, {"groups": []})}
    assert shown == set(exported.values())


def test_absent_alerts_watch_a_series_that_always_exists(rules):
    """``absent(x)`` only works on a series a running operator always exposes (present before
    any object exists or any request is made: ``gitlab_ferry_build_info``)."""
    registry = CollectorRegistry()
    Metrics(registry)
    always = {
        sample.name
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
    }
    for rule in alerting_rules(rules):
        for name in re.findall(r"absent\((gitlab_ferry_[a-z_]+)", rule["expr"]):
            assert name in always, (rule["alert"], name)


def test_fixed_label_sets_start_at_zero():
    """The counter alerts use increase(): a label set's first sample is not an increase, so
    without these series at 0 from the start, the first failed transfer (or 429, or
    exception, or failed relation) after the operator starts would never fire its alert.
    The endpoints are the client's, as the operator's runtime passes them."""
    registry = CollectorRegistry()
    Metrics(registry, endpoints=ENDPOINTS)
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
    }
    kinds = ("ProjectExport", "ProjectImport")
    wanted = [
        ("gitlab_ferry_transfers_total", {"kind": kind, "result": result})
        for kind in kinds
        for result in ("finished", "failed")
    ]
    wanted += [
        ("gitlab_ferry_transfer_duration_seconds_count", {"kind": kind, "result": result})
        for kind in kinds
        for result in ("finished", "failed")
    ]
    wanted += [
        ("gitlab_ferry_reconcile_errors_total", {"kind": k, "reason": "Exception"}) for k in kinds
    ]
    wanted += [
        (name, {"bucket": b})
        for name in (
            "gitlab_ferry_rate_limit_waits_total",
            "gitlab_ferry_rate_limit_wait_seconds_total",
        )
        for b in ("export", "import", "download")
    ]
    wanted += [
        ("gitlab_ferry_failed_relations_total", {"relation": r})
        for r in ("issues", "milestones", "merge_requests", "ci_pipelines")
    ]
    wanted += [("gitlab_ferry_gitlab_rate_limited_total", {"endpoint": e}) for e in ENDPOINTS]
    assert {"export", "download", "import", "remote_import", "remote_import_s3"} <= set(ENDPOINTS)
    missing = [
        (name, labels)
        for name, labels in wanted
        if samples.get((name, tuple(sorted(labels.items())))) != 0
    ]
    assert not missing


# -- reasons ---------------------------------------------------------------------------------


def reason_sets(text: str) -> list[tuple[str, set[str]]]:
    """The reasons in each ``reason=~"..."`` / ``reason!~"..."`` / ``reason="..."`` matcher."""
    return [
        (op, set(values.split("|")))
        for op, values in re.findall(r'reason\s*(=~|!~|=|!=)\s*"([^"]*)"', text)
    ]


def test_reasons_in_queries_are_real_reasons(dashboard, rules):
    # "Exception": the reconcile_errors reason of a pass that raised (controller/reconciler.py).
    known = {reason.value for reason in Reason} | {"Exception"}
    texts = [target["expr"] for _, target in targets(dashboard)]
    texts += [rule["expr"] for rule in alerting_rules(rules)]
    for text in texts:
        for _, reasons in reason_sets(text):
            assert reasons <= known, (reasons - known, text)


def test_stalled_objects_are_picked_by_the_stalled_label(dashboard, rules):
    """Stalled is the operator's decision (the Stalled condition, the ``stalled`` label): a
    failure it still retries has reason Failed but is not stalled. No query guesses it from
    the reasons."""
    stalled_reasons = {reason.value for reason in STALLED_REASONS}
    texts = [(f"panel {panel['title']!r}", target["expr"]) for panel, target in targets(dashboard)]
    texts += [(f"rule {rule['alert']}", rule["expr"]) for rule in alerting_rules(rules)]
    for where, text in texts:
        for _, reasons in reason_sets(text):
            assert not reasons & stalled_reasons, (where, text)
    # Nor does a panel's colouring.
    assert "UploadMissing" not in json.dumps(dashboard)
    by_alert = {rule["alert"]: rule["expr"] for rule in alerting_rules(rules)}
    assert 'stalled="True"' in by_alert["GitLabFerryObjectStalled"]
    assert not reason_sets(by_alert["GitLabFerryObjectStalled"])
    # Stuck: not Ready, neither stalled nor waiting for a person on purpose.
    stuck = by_alert["GitLabFerryTransferStuck"]
    assert 'ready!="True", stalled!="True"' in stuck
    assert reason_sets(stuck) == [
        ("!~", {"Suspended", "AwaitingApproval"}),
        ("=~", {"Suspended", "AwaitingApproval"}),
    ]
    panels = {panel["title"]: panel for panel in all_panels(dashboard)}
    assert 'stalled="True"' in panels["In flight / stalled"]["targets"][1]["expr"]
    assert 'stalled="True"' in panels["Progress by namespace"]["targets"][2]["expr"]


def test_object_info_matchers_use_the_operators_labels_and_values(dashboard, rules):
    """Every matcher on ``gitlab_ferry_object_info`` names a label the operator writes, and
    ``stalled`` / ``ready`` compare against values it writes."""
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.objects.set(
        ObjectState("ProjectImport", "team", "a", "failed", "False", "Failed", stalled=True)
    )
    metrics.objects.set(ObjectState("ProjectExport", "team", "b", "finished", "True", "Finished"))
    (family,) = [
        f
        for f in text_string_to_metric_families(generate_latest(registry).decode())
        if f.name == "gitlab_ferry_object_info"
    ]
    labels = {key for sample in family.samples for key in sample.labels}
    written = {
        key: {sample.labels[key] for sample in family.samples} for key in ("stalled", "ready")
    }
    assert written == {"stalled": {"True", "False"}, "ready": {"True", "False"}}
    allowed = {"stalled": {"True", "False"}, "ready": {"True", "False", "Unknown"}}
    texts = [target["expr"] for _, target in targets(dashboard)]
    texts += [rule["expr"] for rule in alerting_rules(rules)]
    for text in texts:
        for selector in re.findall(r"gitlab_ferry_object_info\{([^}]*)\}", text):
            for key, _, value in re.findall(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"', selector):
                assert key in labels, (key, text)
                if key in allowed:
                    assert value in allowed[key], (key, value, text)


# -- PromQL syntax ----------------------------------------------------------------------------


def test_every_panel_query_parses(dashboard, tmp_path):
    """promtool parses each panel's query (template variables filled in) as a recording rule."""
    records = [
        {
            "record": f"dashboard:panel_{panel['id']}_{target['refId']}",
            "expr": substitute(target["expr"]),
        }
        for panel, target in targets(dashboard)
    ]
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": records}]}))
    result = run_promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(records)} rules found" in result.stdout


# -- the rules --------------------------------------------------------------------------------


def test_rules_shape(rules):
    assert set(rules) == {"groups"}
    names = []
    for rule in alerting_rules(rules):
        names.append(rule["alert"])
        assert re.fullmatch(r"GitLabFerry[A-Za-z]+", rule["alert"])
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        annotations = rule["annotations"]
        assert {"summary", "description", "runbook"} <= set(annotations), rule["alert"]
        for text in annotations.values():
            # Only $labels.<name> is used, so the rendering below is exactly Prometheus's.
            leftover = re.sub(r"\{\{ \$labels\.\w+ \}\}", "", text)
            assert not re.search(r"\{\{|\}\}", leftover), (rule["alert"], text)
    assert len(names) == len(set(names))
    assert {
        "GitLabFerryOperatorDown",
        "GitLabFerryMetricsAbsent",
        "GitLabFerryReconcileErrorsHigh",
        "GitLabFerryTransfersFailing",
        "GitLabFerryObjectStalled",
        "GitLabFerryTransferStuck",
        "GitLabFerryRateLimitedByGitLab",
        "GitLabFerryThrottledSustained",
    } <= set(names)


def test_promtool_check_rules():
    result = run_promtool("check", "rules", str(RULES_PATH))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


# -- promtool test rules: series in, alerts out -------------------------------------------------


def render(text: str, labels: Mapping[str, str]) -> str:
    return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text)


class Expect:
    """Builds ``exp_alerts`` entries: the given labels plus the rule's own, and the rule's
    annotations rendered with them (promtool compares both exactly)."""

    def __init__(self, rules: Mapping[str, Any]) -> None:
        self.rules = {rule["alert"]: rule for rule in alerting_rules(rules)}

    def __call__(self, alert: str, **labels: str) -> dict[str, Any]:
        rule = self.rules[alert]
        all_labels = {**labels, **rule["labels"]}
        return {
            "exp_labels": all_labels,
            "exp_annotations": {
                key: render(text, {**all_labels, "alertname": alert})
                for key, text in rule["annotations"].items()
            },
        }


def series(metric: str, values: str, **labels: str) -> dict[str, str]:
    inner = ", ".join(f'{key}="{value}"' for key, value in labels.items())
    return {"series": f"{metric}{{{inner}}}", "values": values}


def info(
    name: str,
    values: str,
    *,
    kind="ProjectExport",
    status="started",
    ready="False",
    reason="Exporting",
    stalled="False",
    namespace="team",
    **extra: str,
) -> dict[str, str]:
    return series(
        "gitlab_ferry_object_info",
        values,
        kind=kind,
        namespace=namespace,
        name=name,
        status=status,
        ready=ready,
        reason=reason,
        stalled=stalled,
        **extra,
    )


def ready_since(
    name: str, values: str, *, kind="ProjectExport", namespace="team", **extra: str
) -> dict[str, str]:
    """When the object's Ready condition last changed (seconds since the test's time 0)."""
    return series(
        "gitlab_ferry_object_ready_last_transition_timestamp_seconds",
        values,
        kind=kind,
        namespace=namespace,
        name=name,
        **extra,
    )


def check(alert: str, at: str, *expected: dict[str, Any]) -> dict[str, Any]:
    return {"alertname": alert, "eval_time": at, "exp_alerts": list(expected)}


def unit_tests(expect: Expect) -> list[dict[str, Any]]:
    job = {"job": "gitlab-ferry", "instance": "10.0.0.1:8080"}
    other_pod = {"job": "gitlab-ferry", "instance": "10.0.0.2:8080"}
    return [
        {  # 429s: any increase fires at once; a quiet endpoint never does.
            "interval": "1m",
            "input_series": [
                series(
                    "gitlab_ferry_gitlab_rate_limited_total", "0x20 1x40", endpoint="export", **job
                ),
                series(
                    "gitlab_ferry_gitlab_rate_limited_total", "0x60", endpoint="download", **job
                ),
                # Waiting in the operator's own budget is not a 429.
                series("gitlab_ferry_rate_limit_waits_total", "0+10x60", bucket="export", **job),
            ],
            "alert_rule_test": [
                check("GitLabFerryRateLimitedByGitLab", "15m"),
                check(
                    "GitLabFerryRateLimitedByGitLab",
                    "25m",
                    expect("GitLabFerryRateLimitedByGitLab", endpoint="export"),
                ),
                check("GitLabFerryRateLimitedByGitLab", "40m"),
            ],
        },
        {  # Failed transfers fire; finished ones, however many, do not.
            "interval": "1m",
            "input_series": [
                series(
                    "gitlab_ferry_transfers_total",
                    "0x30 1x30",
                    kind="ProjectExport",
                    result="failed",
                    **job,
                ),
                series(
                    "gitlab_ferry_transfers_total",
                    "0+1x60",
                    kind="ProjectExport",
                    result="finished",
                    **job,
                ),
                series(
                    "gitlab_ferry_transfers_total",
                    "0+2x60",
                    kind="ProjectImport",
                    result="finished",
                    **job,
                ),
                series(
                    "gitlab_ferry_transfers_total",
                    "0x60",
                    kind="ProjectImport",
                    result="failed",
                    **job,
                ),
            ],
            "alert_rule_test": [
                check("GitLabFerryTransfersFailing", "20m"),
                check(
                    "GitLabFerryTransfersFailing",
                    "35m",
                    expect("GitLabFerryTransfersFailing", kind="ProjectExport"),
                ),
                check("GitLabFerryTransfersFailing", "50m"),
            ],
        },
        {  # Objects: stalled (the label) after 2m, stuck after 6h not Ready, approval after 1h.
            "interval": "1m",
            "input_series": [
                info("denied", "1x480", status="none", reason="Unauthorized", stalled="True"),
                ready_since("denied", "0x480"),
                # Not Ready since time 0; the operator restarts on another pod at 4h (a gap of
                # two scrapes): the 6h still count from time 0.
                info("slow", "1x239 stale", **job),
                ready_since("slow", "0x239 stale", **job),
                info("slow", "_x242 1x238", **other_pod),
                ready_since("slow", "_x242 0x238", **other_pod),
                info("done", "1x480", status="finished", ready="True", reason="Finished"),
                ready_since("done", "0x480"),
                info("paused", "1x480", status="none", reason="Suspended"),
                ready_since("paused", "0x480"),
                # A failure the operator retries is not stalled, but it is stuck after 6h.
                info("retrying", "1x480", kind="ProjectImport", status="failed", reason="Failed"),
                ready_since("retrying", "0x480", kind="ProjectImport"),
                info(
                    "held", "1x480", kind="ProjectImport", status="none", reason="AwaitingApproval"
                ),
                ready_since("held", "0x480", kind="ProjectImport"),
                # Ready until 150m, then a spec change: not Ready since 150m (9000 s).
                info("redone", "1x149 stale", status="finished", ready="True", reason="Finished"),
                info("redone", "_x150 1x330"),
                ready_since("redone", "0x149 9000x331"),
            ],
            "alert_rule_test": [
                check("GitLabFerryObjectStalled", "1m"),
                check(
                    "GitLabFerryObjectStalled",
                    "5m",
                    expect(
                        "GitLabFerryObjectStalled",
                        namespace="team",
                        kind="ProjectExport",
                        name="denied",
                        status="none",
                        reason="Unauthorized",
                    ),
                ),
                check("GitLabFerryTransferStuck", "5h"),
                check(
                    "GitLabFerryTransferStuck",
                    "7h",
                    expect(
                        "GitLabFerryTransferStuck",
                        namespace="team",
                        kind="ProjectExport",
                        name="slow",
                        status="started",
                        reason="Exporting",
                    ),
                    expect(
                        "GitLabFerryTransferStuck",
                        namespace="team",
                        kind="ProjectImport",
                        name="retrying",
                        status="failed",
                        reason="Failed",
                    ),
                ),
                check("GitLabFerryAwaitingApproval", "30m"),
                check(
                    "GitLabFerryAwaitingApproval",
                    "2h",
                    expect(
                        "GitLabFerryAwaitingApproval",
                        namespace="team",
                        kind="ProjectImport",
                        name="held",
                    ),
                ),
            ],
        },
        {  # Not Ready since time 0, but stalled, suspended or held for approval until 2h: the
            # 6h count from when each object left that state, not from Ready's last change.
            "interval": "1m",
            "input_series": [
                info(
                    "unstalled", "1x119 stale", status="none", reason="Unauthorized", stalled="True"
                ),
                info("unstalled", "_x120 1x480"),
                ready_since("unstalled", "0x600"),
                info("resumed", "1x119 stale", status="none", reason="Suspended"),
                info("resumed", "_x120 1x480"),
                ready_since("resumed", "0x600"),
                info(
                    "approved",
                    "1x119 stale",
                    kind="ProjectImport",
                    status="none",
                    reason="AwaitingApproval",
                ),
                info(
                    "approved",
                    "_x120 1x480",
                    kind="ProjectImport",
                    status="started",
                    reason="Importing",
                ),
                ready_since("approved", "0x600", kind="ProjectImport"),
            ],
            "alert_rule_test": [
                check("GitLabFerryTransferStuck", "7h"),
                check(
                    "GitLabFerryTransferStuck",
                    "8h30m",
                    expect(
                        "GitLabFerryTransferStuck",
                        namespace="team",
                        kind="ProjectExport",
                        name="unstalled",
                        status="started",
                        reason="Exporting",
                    ),
                    expect(
                        "GitLabFerryTransferStuck",
                        namespace="team",
                        kind="ProjectExport",
                        name="resumed",
                        status="started",
                        reason="Exporting",
                    ),
                    expect(
                        "GitLabFerryTransferStuck",
                        namespace="team",
                        kind="ProjectImport",
                        name="approved",
                        status="started",
                        reason="Importing",
                    ),
                ),
            ],
        },
        {  # A target that fails its scrapes for 5 minutes; another job's targets are not ours.
            "interval": "1m",
            "input_series": [
                series("up", "1x10 0x20", job="gitlab-ferry", instance="10.0.0.1:8080"),
                series("up", "1x30", job="gitlab-ferry", instance="10.0.0.2:8080"),
                series("up", "0x30", job="node", instance="10.0.0.3:9100"),
                series("gitlab_ferry_build_info", "1x30", version="0.1.0", **job),
            ],
            "alert_rule_test": [
                check("GitLabFerryOperatorDown", "13m"),
                check(
                    "GitLabFerryOperatorDown",
                    "20m",
                    expect("GitLabFerryOperatorDown", job="gitlab-ferry", instance="10.0.0.1:8080"),
                ),
                check("GitLabFerryMetricsAbsent", "20m"),
            ],
        },
        {  # No gitlab-ferry series at all.
            "interval": "1m",
            "input_series": [series("up", "1x30", job="prometheus", instance="localhost:9090")],
            "alert_rule_test": [
                check("GitLabFerryMetricsAbsent", "5m"),
                check("GitLabFerryMetricsAbsent", "15m", expect("GitLabFerryMetricsAbsent")),
            ],
        },
        {  # Errors in most passes vs. a few errors among many passes; exceptions.
            "interval": "1m",
            "input_series": [
                series(
                    "gitlab_ferry_reconcile_errors_total",
                    "0+3x60",
                    kind="ProjectImport",
                    reason="GitLabUnavailable",
                    **job,
                ),
                series(
                    "gitlab_ferry_reconciles_total",
                    "0+4x60",
                    kind="ProjectImport",
                    action="await",
                    **job,
                ),
                series(
                    "gitlab_ferry_reconcile_errors_total",
                    "0+2x60",
                    kind="ProjectExport",
                    reason="SecretMissing",
                    **job,
                ),
                series(
                    "gitlab_ferry_reconciles_total",
                    "0+100x60",
                    kind="ProjectExport",
                    action="await",
                    **job,
                ),
                series(
                    "gitlab_ferry_reconcile_errors_total",
                    "0x10 1x50",
                    kind="ProjectExport",
                    reason="Exception",
                    **job,
                ),
            ],
            "alert_rule_test": [
                check("GitLabFerryReconcileErrorsHigh", "10m"),
                check(
                    "GitLabFerryReconcileErrorsHigh",
                    "30m",
                    expect("GitLabFerryReconcileErrorsHigh", kind="ProjectImport"),
                ),
                check("GitLabFerryReconcileExceptions", "5m"),
                check(
                    "GitLabFerryReconcileExceptions",
                    "15m",
                    expect("GitLabFerryReconcileExceptions", kind="ProjectExport"),
                ),
                check("GitLabFerryReconcileExceptions", "30m"),
            ],
        },
        {  # Throttled 2 s/s for 30 minutes fires; 0.5 s/s does not.
            "interval": "1m",
            "input_series": [
                series(
                    "gitlab_ferry_rate_limit_wait_seconds_total", "0+120x90", bucket="export", **job
                ),
                series(
                    "gitlab_ferry_rate_limit_wait_seconds_total", "0+30x90", bucket="import", **job
                ),
            ],
            "alert_rule_test": [
                check("GitLabFerryThrottledSustained", "20m"),
                check(
                    "GitLabFerryThrottledSustained",
                    "45m",
                    expect("GitLabFerryThrottledSustained", bucket="export"),
                ),
            ],
        },
        {  # GitLab failing half the requests of one endpoint; failed relations.
            "interval": "1m",
            "input_series": [
                series(
                    "gitlab_ferry_gitlab_requests_total",
                    "0+5x60",
                    endpoint="export_status",
                    code="5xx",
                    **job,
                ),
                series(
                    "gitlab_ferry_gitlab_requests_total",
                    "0+5x60",
                    endpoint="export_status",
                    code="2xx",
                    **job,
                ),
                series(
                    "gitlab_ferry_gitlab_requests_total",
                    "0+1x60",
                    endpoint="export",
                    code="error",
                    **job,
                ),
                series(
                    "gitlab_ferry_gitlab_requests_total",
                    "0+100x60",
                    endpoint="export",
                    code="2xx",
                    **job,
                ),
                series(
                    "gitlab_ferry_failed_relations_total", "0x10 2x50", relation="issues", **job
                ),
                series("gitlab_ferry_failed_relations_total", "0x60", relation="milestones", **job),
            ],
            "alert_rule_test": [
                check("GitLabFerryGitLabErrors", "10m"),
                check(
                    "GitLabFerryGitLabErrors",
                    "30m",
                    expect("GitLabFerryGitLabErrors", endpoint="export_status"),
                ),
                check("GitLabFerryRelationsFailed", "5m"),
                check(
                    "GitLabFerryRelationsFailed",
                    "30m",
                    expect("GitLabFerryRelationsFailed", relation="issues"),
                ),
            ],
        },
    ]


def test_promtool_test_rules(rules, tmp_path):
    tests = unit_tests(Expect(rules))
    tested = {case["alertname"] for test in tests for case in test["alert_rule_test"]}
    assert tested == {rule["alert"] for rule in alerting_rules(rules)}, "an alert has no test"
    for test in tests:  # every alert is shown both quiet and firing
        for case in test["alert_rule_test"]:
            assert any(
                c["alertname"] == case["alertname"] and c["exp_alerts"]
                for t in tests
                for c in t["alert_rule_test"]
            ), case["alertname"]
            assert any(
                c["alertname"] == case["alertname"] and not c["exp_alerts"]
                for t in tests
                for c in t["alert_rule_test"]
            ), case["alertname"]
    path = tmp_path / "rules-test.yaml"
    path.write_text(
        yaml.safe_dump(
            {"rule_files": [str(RULES_PATH)], "evaluation_interval": "1m", "tests": tests},
            sort_keys=False,
        )
    )
    result = run_promtool("test", "rules", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
