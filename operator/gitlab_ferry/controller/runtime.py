"""The operator's runtime: settings, clock, metrics and shared services in one typed object,
passed to kopf as its memo (controller layer).

Built whole, once per run, by ``build_runtime`` and frozen: nothing is attached to it later
(what runs only while the operator runs, the probes server and the memory release, stays with
the handlers). Closed by ``Runtime.aclose``; there is no module-level state, so tests build as
many runtimes as they like.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from prometheus_client import CollectorRegistry

from gitlab_ferry import __version__
from gitlab_ferry.api.base import DownloadLimitScope
from gitlab_ferry.clock import Clock, clock_from_settings
from gitlab_ferry.controller.durations import Durations
from gitlab_ferry.controller.resumption import BudgetResumption
from gitlab_ferry.controller.status_writer import StatusWriter
from gitlab_ferry.controller.wakeups import ChildChanges, Dependents, EventSink, Wakeups
from gitlab_ferry.effects.budget import RateLimitBudget
from gitlab_ferry.effects.connections import ClientPool
from gitlab_ferry.effects.kube import Kube, KubeApi, SecretCache
from gitlab_ferry.effects.namespaces import NamespacePaths
from gitlab_ferry.effects.network import HostPolicy
from gitlab_ferry.effects.services import DefaultLimits, Services
from gitlab_ferry.gitlab import ENDPOINTS, widen_response_reads
from gitlab_ferry.metrics import Metrics
from gitlab_ferry.reconcile.exports import ExportPolicy
from gitlab_ferry.reconcile.imports import ImportPolicy
from gitlab_ferry.reconcile.timing import Polling
from gitlab_ferry.settings import Settings

#: Connections to the Kubernetes API server (the operator's Kubernetes calls get as many
#: threads: the official client is synchronous).
KUBE_CONNECTIONS = 32


def _discard_event(body: object, kind: str, reason: str, message: str) -> None:
    del body, kind, reason, message


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    clock: Clock
    metrics: Metrics
    services: Services
    writer: StatusWriter
    export_policy: ExportPolicy
    import_policy: ImportPolicy
    namespaces: NamespacePaths = field(default_factory=NamespacePaths)
    wakeups: Wakeups = field(default_factory=Wakeups)
    dependents: Dependents = field(default_factory=Dependents)
    child_changes: ChildChanges = field(default_factory=ChildChanges)
    durations: Durations = field(default_factory=Durations)
    resumption: BudgetResumption = field(default_factory=BudgetResumption)
    #: Where Kubernetes Events go: kopf's queue when the operator runs, nowhere for a preview.
    events: EventSink = _discard_event

    async def resume_budget(self) -> None:
        """Once per process, before its first booking: hold GitLab's current window if the
        objects record requests in it (see ``controller/resumption.py``)."""
        services = self.services
        await self.resumption.ensure(
            services.kube, services.budget, self.clock, self.settings.namespaces
        )

    async def aclose(self) -> None:
        await self.writer.drain(10.0)
        await self.services.clients.aclose()
        await self.services.http.aclose()


def kubernetes_api_client() -> k8s.ApiClient:
    """An API client for the cluster KUBECONFIG names, or the pod's service account."""
    try:
        k8s_config.load_incluster_config()  # type: ignore[no-untyped-call]
        configuration = k8s.Configuration.get_default_copy()
    except k8s_config.ConfigException:
        configuration = k8s.Configuration()
        k8s_config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    configuration.connection_pool_maxsize = KUBE_CONNECTIONS
    return k8s.ApiClient(configuration)


def build_runtime(
    settings: Settings,
    *,
    api_client: k8s.ApiClient | None = None,
    registry: CollectorRegistry | None = None,
    clock: Clock | None = None,
    kube: Kube | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    events: EventSink = _discard_event,
) -> Runtime:
    """Everything the handlers need, wired together. ``kube`` and ``transport`` replace
    the Kubernetes API and the GitLab clients' HTTP transport (tests stand in for them)."""
    widen_response_reads()
    clock = clock or clock_from_settings(settings.clock_speed, settings.clock_anchor)
    metrics = Metrics(
        registry or CollectorRegistry(auto_describe=True), version=__version__, endpoints=ENDPOINTS
    )
    kube = kube or KubeApi(api_client or kubernetes_api_client())
    policy = HostPolicy(settings.allowed_hosts)
    services = Services(
        kube=kube,
        secrets=SecretCache(kube),
        clients=ClientPool(
            policy=policy,
            observer=metrics.observe_request,
            timeout=settings.http_timeout,
            now=clock.time,
            version_ttl=settings.gitlab_version_ttl,
            transport=transport,
        ),
        budget=RateLimitBudget(clock, margin=settings.rate_limit_margin),
        policy=policy,
        http=httpx.AsyncClient(
            timeout=httpx.Timeout(settings.http_timeout), follow_redirects=False
        ),
        clock=clock,
        limits=DefaultLimits(
            export=settings.export_limit,
            import_=settings.import_limit,
            download=settings.download_limit,
            download_scope=DownloadLimitScope(settings.download_limit_scope),
            group_export=settings.group_export_limit,
            group_import=settings.group_import_limit,
            group_download=settings.group_download_limit,
        ),
        on_bytes=metrics.bytes_streamed.inc,
        s3_part_size=settings.s3_part_size,
    )
    polling = Polling(
        initial=settings.poll_initial, factor=settings.poll_factor, maximum=settings.poll_max
    )
    return Runtime(
        settings=settings,
        clock=clock,
        metrics=metrics,
        services=services,
        writer=StatusWriter(kube),
        export_policy=ExportPolicy(
            polling=polling,
            max_attempts=settings.max_attempts,
            retry_delay=settings.retry_delay,
            acceptance_grace=settings.export_acceptance_grace,
            recheck=settings.recheck_interval,
        ),
        import_policy=ImportPolicy(
            polling=polling, recheck=settings.recheck_interval, export_wait=settings.poll_max
        ),
        events=events,
    )
