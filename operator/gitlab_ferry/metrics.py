"""Prometheus metrics of the operator, on an injected registry.

A low layer: it knows prometheus_client and nothing of kopf, Kubernetes or GitLab's HTTP API,
so tests build as many independent registries as they like. Label values are small, fixed sets
(kinds, endpoints, status classes, buckets, reasons) plus object names in the per-object info
series; never tokens, URLs or messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

PREFIX = "gitlab_ferry"

TRANSFER_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 86400)
REQUEST_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


@dataclass(frozen=True)
class ObjectState:
    """What the progress table shows about one object."""

    kind: str
    namespace: str
    name: str
    status: str
    ready: str
    reason: str
    stalled: bool = False
    #: When the Ready condition last changed (epoch seconds), if known.
    ready_since: float | None = None


class ObjectStates(Collector):
    """The last known state of every object: per-object info series and counts by status."""

    def __init__(self) -> None:
        self._states: dict[tuple[str, str, str], ObjectState] = {}

    def set(self, state: ObjectState) -> None:
        self._states[(state.kind, state.namespace, state.name)] = state

    def forget(self, kind: str, namespace: str, name: str) -> None:
        self._states.pop((kind, namespace, name), None)

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            f"{PREFIX}_object_info",
            "One series per object (ProjectExport, ProjectImport, GroupMigration) with its "
            "GitLab status and readiness.",
            labels=["kind", "namespace", "name", "status", "ready", "reason", "stalled"],
        )
        since = GaugeMetricFamily(
            f"{PREFIX}_object_ready_last_transition_timestamp_seconds",
            "When each object's Ready condition last changed (Unix time).",
            labels=["kind", "namespace", "name"],
        )
        counts: dict[tuple[str, str], int] = {}
        readiness: dict[tuple[str, str], int] = {}
        for state in self._states.values():
            info.add_metric(
                [
                    state.kind,
                    state.namespace,
                    state.name,
                    state.status,
                    state.ready,
                    state.reason,
                    "True" if state.stalled else "False",
                ],
                1,
            )
            if state.ready_since is not None:
                since.add_metric([state.kind, state.namespace, state.name], state.ready_since)
            counts[(state.kind, state.status)] = counts.get((state.kind, state.status), 0) + 1
            key = (state.kind, state.reason)
            readiness[key] = readiness.get(key, 0) + 1
        by_status = GaugeMetricFamily(
            f"{PREFIX}_objects",
            "Objects by kind and GitLab status (export_status or import_status).",
            labels=["kind", "status"],
        )
        for (kind, status), count in sorted(counts.items()):
            by_status.add_metric([kind, status], count)
        by_reason = GaugeMetricFamily(
            f"{PREFIX}_objects_by_reason",
            "Objects by kind and the reason of their Ready condition.",
            labels=["kind", "reason"],
        )
        for (kind, reason), count in sorted(readiness.items()):
            by_reason.add_metric([kind, reason], count)
        yield info
        yield since
        yield by_status
        yield by_reason

    def describe(self) -> Iterator[Metric]:
        return iter(())


@dataclass(frozen=True)
class MigrationState:
    """What the progress dashboard shows about one GroupMigration."""

    namespace: str
    name: str
    #: Projects by phase (pending, exporting, importing, finished, failed).
    projects: dict[str, int]
    total: int
    groups: int
    groups_ready: int
    #: When the rest can be done at best at the rate limits (Unix time), if known.
    eta: float | None = None


class MigrationStates(Collector):
    """The progress of every GroupMigration: projects per phase, groups, ETA."""

    def __init__(self) -> None:
        self._states: dict[tuple[str, str], MigrationState] = {}

    def set(self, state: MigrationState) -> None:
        self._states[(state.namespace, state.name)] = state

    def forget(self, namespace: str, name: str) -> None:
        self._states.pop((namespace, name), None)

    def collect(self) -> Iterator[Metric]:
        projects = GaugeMetricFamily(
            f"{PREFIX}_migration_projects",
            "Projects of each GroupMigration by phase (pending, exporting, importing, "
            "finished, failed).",
            labels=["namespace", "name", "phase"],
        )
        total = GaugeMetricFamily(
            f"{PREFIX}_migration_projects_total",
            "Projects each GroupMigration selected on the source.",
            labels=["namespace", "name"],
        )
        groups = GaugeMetricFamily(
            f"{PREFIX}_migration_groups",
            "Groups of each GroupMigration's tree, by state (ready on the destination, or all).",
            labels=["namespace", "name", "state"],
        )
        eta = GaugeMetricFamily(
            f"{PREFIX}_migration_eta_timestamp_seconds",
            "When each GroupMigration can finish at best at GitLab's rate limits (Unix time).",
            labels=["namespace", "name"],
        )
        for state in self._states.values():
            key = [state.namespace, state.name]
            for phase, count in state.projects.items():
                projects.add_metric([*key, phase], count)
            total.add_metric(key, state.total)
            groups.add_metric([*key, "ready"], state.groups_ready)
            groups.add_metric([*key, "all"], state.groups)
            if state.eta is not None:
                eta.add_metric(key, state.eta)
        yield projects
        yield total
        yield groups
        yield eta

    def describe(self) -> Iterator[Metric]:
        return iter(())


#: Label values known in advance, so their series exist at 0 from the start: Prometheus
#: counts no increase for a series whose first sample is already 1.
KINDS = ("ProjectExport", "ProjectImport", "GroupMigration")
#: The kinds that move an archive (a GroupMigration's transfers are its children's).
TRANSFER_KINDS = ("ProjectExport", "ProjectImport")
RESULTS = ("finished", "failed")
BUCKETS = ("export", "import", "download", "group_export", "group_import", "group_download")
RELATIONS = ("issues", "milestones", "merge_requests", "ci_pipelines")


class Metrics:
    """Every metric the operator exports."""

    def __init__(
        self, registry: CollectorRegistry, *, version: str = "", endpoints: Iterable[str] = ()
    ) -> None:
        self.registry = registry
        self.build_info = Gauge(
            f"{PREFIX}_build_info",
            "Always 1; the operator's version as a label.",
            ["version"],
            registry=registry,
        )
        self.build_info.labels(version).set(1)
        self.objects = ObjectStates()
        registry.register(self.objects)
        self.migrations = MigrationStates()
        registry.register(self.migrations)
        self.transfers = Counter(
            f"{PREFIX}_transfers_total",
            "Exports and imports that reached an end, by kind and result (finished or failed).",
            ["kind", "result"],
            registry=registry,
        )
        self.transfer_duration = Histogram(
            f"{PREFIX}_transfer_duration_seconds",
            "Time from request to the end of an export or import, by kind and result.",
            ["kind", "result"],
            buckets=TRANSFER_BUCKETS,
            registry=registry,
        )
        self.gitlab_requests = Counter(
            f"{PREFIX}_gitlab_requests_total",
            "Requests to GitLab, by endpoint and status class (2xx, 4xx, 5xx, error).",
            ["endpoint", "code"],
            registry=registry,
        )
        self.gitlab_latency = Histogram(
            f"{PREFIX}_gitlab_request_duration_seconds",
            "Latency of requests to GitLab until the response headers, by endpoint.",
            ["endpoint"],
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )
        self.rate_limited = Counter(
            f"{PREFIX}_gitlab_rate_limited_total",
            "429 answers from GitLab, by endpoint.",
            ["endpoint"],
            registry=registry,
        )
        self.throttle_waits = Counter(
            f"{PREFIX}_rate_limit_waits_total",
            "Requests the rate-limit budget postponed, by bucket.",
            ["bucket"],
            registry=registry,
        )
        self.throttle_wait_seconds = Counter(
            f"{PREFIX}_rate_limit_wait_seconds_total",
            "Seconds requests were postponed by the rate-limit budget, by bucket.",
            ["bucket"],
            registry=registry,
        )
        self.bytes_streamed = Counter(
            f"{PREFIX}_bytes_streamed_total",
            "Archive bytes the operator streamed from a source into GitLab.",
            registry=registry,
        )
        self.failed_relations = Counter(
            f"{PREFIX}_failed_relations_total",
            "Relation records GitLab failed to import, by relation.",
            ["relation"],
            registry=registry,
        )
        self.reconcile_errors = Counter(
            f"{PREFIX}_reconcile_errors_total",
            "Reconcile passes that hit a problem, by kind and condition reason.",
            ["kind", "reason"],
            registry=registry,
        )
        self.reconciles = Counter(
            f"{PREFIX}_reconciles_total",
            "Reconcile passes, by kind and planned action.",
            ["kind", "action"],
            registry=registry,
        )

        self._prime(endpoints)

    def _prime(self, endpoints: Iterable[str]) -> None:
        for kind in KINDS:
            self.reconcile_errors.labels(kind, "Exception")
        for kind in TRANSFER_KINDS:
            for result in RESULTS:
                self.transfers.labels(kind, result)
                self.transfer_duration.labels(kind, result)
        for bucket in BUCKETS:
            self.throttle_waits.labels(bucket)
            self.throttle_wait_seconds.labels(bucket)
        for relation in RELATIONS:
            self.failed_relations.labels(relation)
        for endpoint in endpoints:
            self.rate_limited.labels(endpoint)

    def observe_request(self, endpoint: str, status: int | None, seconds: float) -> None:
        code = "error" if status is None else f"{status // 100}xx"
        self.gitlab_requests.labels(endpoint, code).inc()
        self.gitlab_latency.labels(endpoint).observe(seconds)
        if status == 429:
            self.rate_limited.labels(endpoint).inc()
