"""A real Prometheus (Debian's ``prometheus`` binary) for the end-to-end tests, and readers of
the chart's dashboard and alert rules: their PromQL with Grafana's template variables filled in.

Prometheus runs as a child process on a free loopback port with its own TSDB directory,
scraping the given targets every second and evaluating the rule files every second.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from tests.support.processes import ChildProcess, free_port, wait_for

REPO = Path(__file__).resolve().parents[2]
CHART_FILES = REPO / "charts" / "gitlab-ferry" / "files"
DASHBOARD = CHART_FILES / "grafana-dashboard.json"
RULES = CHART_FILES / "prometheus-rules.yaml"
JOB = "gitlab-ferry"


class PrometheusProcess(ChildProcess):
    """``prometheus`` scraping ``targets`` (host:port) as job ``gitlab-ferry``."""

    def __init__(
        self,
        binary: str,
        directory: Path,
        targets: list[str],
        rule_files: list[Path],
        *,
        interval: str = "1s",
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        config = {
            "global": {
                "scrape_interval": interval,
                "scrape_timeout": interval,
                "evaluation_interval": interval,
            },
            "rule_files": [str(path) for path in rule_files],
            "scrape_configs": [
                {
                    "job_name": JOB,
                    "metrics_path": "/metrics",
                    "static_configs": [{"targets": targets}],
                }
            ],
        }
        self.config_path = directory / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [
            binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-lifecycle",
            "--log.level=info",
        ]
        super().__init__(argv, directory / "prometheus.log")

    def start(self, timeout: float = 60.0) -> None:
        super().start()
        wait_for(self._ready, timeout=timeout, what=f"Prometheus to be ready\n{self.output()}")

    def _ready(self) -> bool:
        if not self.running:
            raise AssertionError(f"Prometheus exited:\n{self.output()[-4000:]}")
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def api(self, path: str, **params: Any) -> Any:
        """``GET /api/v1/<path>``: the ``data`` of a successful answer, else AssertionError
        with Prometheus's own error text."""
        response = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=30)
        body = response.json()
        if response.status_code != 200 or body.get("status") != "success":
            raise AssertionError(
                f"{path} {params}: HTTP {response.status_code}: "
                f"{body.get('errorType')}: {body.get('error')}"
            )
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query; the result as a list of ``{"metric", "value"}``."""
        data = self.api("query", query=expr)
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def query_range(
        self, expr: str, start: float, end: float, step: float = 1.0
    ) -> list[dict[str, Any]]:
        """A range query; the result as a list of ``{"metric", "values"}``."""
        data = self.api("query_range", query=expr, start=start, end=end, step=step)
        result: list[dict[str, Any]] = data["result"]
        return result

    def value(self, expr: str) -> float | None:
        """The single value of an instant query with at most one series (None: empty)."""
        result = self.query(expr)
        assert len(result) <= 1, f"{expr}: more than one series: {result}"
        return float(result[0]["value"][1]) if result else None


def find_prometheus() -> str | None:
    return shutil.which("prometheus")


# -- the dashboard ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PanelQuery:
    """One target of one dashboard panel."""

    panel_id: int
    title: str
    panel_type: str
    ref_id: str
    expr: str
    legend: str
    instant: bool


def load_dashboard(path: Path = DASHBOARD) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows' nested (collapsed) panels included; rows themselves too."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def panel_queries(dashboard: Mapping[str, Any]) -> list[PanelQuery]:
    queries = []
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            queries.append(
                PanelQuery(
                    panel_id=panel["id"],
                    title=panel["title"],
                    panel_type=panel["type"],
                    ref_id=target["refId"],
                    expr=target["expr"],
                    legend=target.get("legendFormat", ""),
                    instant=bool(target.get("instant")) and not target.get("range"),
                )
            )
    return queries


def is_group_migration(query: PanelQuery) -> bool:
    """A query of the dashboard's group-migration row (GroupMigration metrics only)."""
    return "gitlab_ferry_migration_" in query.expr


VARIABLE = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))")


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """Grafana's template variables (``$name``, ``${name}``) replaced by ``values``; an
    unknown variable is an error."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"no value for ${name} in {expr}")
        return values[name]

    return VARIABLE.sub(replace, expr)


def variable_queries(dashboard: Mapping[str, Any]) -> dict[str, str]:
    """The query of every ``query`` template variable, by variable name."""
    found = {}
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            found[variable["name"]] = query["query"] if isinstance(query, dict) else query
    return found


LABEL_VALUES = re.compile(r"^label_values\((?:(?P<match>.+),\s*)?(?P<label>\w+)\)$")


def label_values_call(query: str) -> tuple[str | None, str]:
    """``label_values(selector, label)`` as (selector or None, label)."""
    match = LABEL_VALUES.match(query.strip())
    assert match, f"not a label_values() query: {query}"
    return match.group("match"), match.group("label")


# -- the rules -------------------------------------------------------------------------------


def load_rules(path: Path = RULES) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def rule_expressions(rules: Mapping[str, Any]) -> dict[str, str]:
    """Every rule's expression, by alert (or record) name."""
    return {
        rule.get("alert") or rule["record"]: rule["expr"]
        for group in rules["groups"]
        for rule in group["rules"]
    }


def finite(value: str) -> bool:
    return math.isfinite(float(value))


def has_data(result: list[dict[str, Any]]) -> bool:
    """At least one finite sample in an instant or range result."""
    for series in result:
        samples = series.get("values") or [series["value"]]
        if any(finite(value) for _, value in samples):
            return True
    return False
