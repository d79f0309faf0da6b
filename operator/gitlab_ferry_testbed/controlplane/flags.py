"""Command lines for etcd, kube-apiserver and kube-controller-manager in a test control plane.

Layer: ``controlplane`` (a self-contained test and demo tool). Pure functions from paths and ports
to argv lists; they must not start processes, read files or import the operator or the rest of the
testbed. The flag set is envtest's (``controller-runtime``) plus explicit TLS files, a static admin
token and the kwok-style trimmings described in ``reference/control-plane.md`` section 5.2.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gitlab_ferry_testbed.controlplane.pki import PkiFiles

LOOPBACK = "127.0.0.1"
SERVICE_CIDR = "10.0.0.0/24"
# The namespace controller empties a deleted namespace so its deletion completes; the garbage
# collector deletes dependents through ownerReferences. Nothing else is needed without Pods:
# tests create the ServiceAccounts they use, and tokens come from the TokenRequest API,
# which the API server serves itself.
DEFAULT_CONTROLLERS = ("garbage-collector-controller", "namespace-controller")


@dataclass(frozen=True)
class Ports:
    etcd: int
    etcd_peer: int
    apiserver: int
    controller_manager: int

    def to_json(self) -> dict[str, int]:
        return {
            "etcd": self.etcd,
            "etcd_peer": self.etcd_peer,
            "apiserver": self.apiserver,
            "controller_manager": self.controller_manager,
        }


@dataclass(frozen=True)
class Layout:
    """Everything a control plane keeps in its directory."""

    root: Path

    @property
    def pki(self) -> PkiFiles:
        return PkiFiles(self.root / "pki")

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd"

    @property
    def admin_kubeconfig(self) -> Path:
        # The controller-manager's own copy: a user editing the kubeconfig written for them
        # (kubectl config set-context ...) must not break the controller-manager.
        return self.root / "admin.kubeconfig"

    def log(self, component: str) -> Path:
        return self.root / f"{component}.log"


def etcd_url(ports: Ports) -> str:
    return f"http://{LOOPBACK}:{ports.etcd}"


def apiserver_url(ports: Ports) -> str:
    return f"https://{LOOPBACK}:{ports.apiserver}"


def etcd_args(binary: Path, layout: Layout, ports: Ports) -> list[str]:
    peer = f"http://{LOOPBACK}:{ports.etcd_peer}"
    return [
        str(binary),
        "--name=default",
        f"--data-dir={layout.etcd_data}",
        f"--listen-client-urls={etcd_url(ports)}",
        f"--advertise-client-urls={etcd_url(ports)}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=default={peer}",
        # Test data is disposable; fsync on every write would make the suite disk-bound.
        "--unsafe-no-fsync=true",
        "--log-level=warn",
    ]


def apiserver_args(binary: Path, layout: Layout, ports: Ports) -> list[str]:
    pki = layout.pki
    return [
        str(binary),
        f"--etcd-servers={etcd_url(ports)}",
        f"--cert-dir={pki.directory}",
        f"--tls-cert-file={pki.server_cert}",
        f"--tls-private-key-file={pki.server_key}",
        f"--client-ca-file={pki.ca_cert}",
        f"--token-auth-file={pki.token_file}",
        f"--bind-address={LOOPBACK}",
        f"--secure-port={ports.apiserver}",
        # Skips host-interface detection, which fails on machines with only loopback.
        f"--advertise-address={LOOPBACK}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        # Some authorizer is needed for the secure port's health checks; RBAC is what the
        # chart's Roles are written for, so tests see the same decisions as a real cluster.
        "--authorization-mode=RBAC",
        "--allow-privileged=true",
        # No ServiceAccount controller runs, so no "default" ServiceAccount appears in new
        # namespaces; with the plugin on, every Pod without an explicit account is refused.
        "--disable-admission-plugins=ServiceAccount",
        f"--service-account-issuer={apiserver_url(ports)}/",
        # One key for both flags: the public half is derived from the private key.
        f"--service-account-key-file={pki.service_account_key}",
        f"--service-account-signing-key-file={pki.service_account_key}",
        # Keeps a loopback address out of the "kubernetes" Endpoints (as kwok does).
        "--endpoint-reconciler-type=none",
        # Fewer goroutines and no APF objects to bootstrap on small runners.
        "--enable-priority-and-fairness=false",
        # On SIGTERM, bound the HTTP server's shutdown to 2 s once ordinary requests drain.
        # Otherwise open watches (the controller-manager's, an operator's) hold it for the
        # request timeout, and a restart in a test takes a minute instead of about two seconds.
        "--shutdown-send-retry-after=true",
    ]


def controller_manager_args(
    binary: Path,
    layout: Layout,
    ports: Ports,
    controllers: tuple[str, ...] = DEFAULT_CONTROLLERS,
) -> list[str]:
    pki = layout.pki
    return [
        str(binary),
        f"--kubeconfig={layout.admin_kubeconfig}",
        f"--controllers={','.join(controllers)}",
        # A single instance: leader election would only add Lease traffic and a start delay.
        "--leader-elect=false",
        # The admin identity can list and delete everything, which the namespace controller
        # needs to empty a namespace; per-controller accounts would need their RBAC bootstrap.
        "--use-service-account-credentials=false",
        # Served only so start-up can wait on /healthz; the API server's certificate covers
        # 127.0.0.1 and is signed by the same CA, so the probe can verify it.
        f"--bind-address={LOOPBACK}",
        f"--secure-port={ports.controller_manager}",
        f"--tls-cert-file={pki.server_cert}",
        f"--tls-private-key-file={pki.server_key}",
        # No delegated authentication lookups against the API server; /healthz is always allowed.
        "--authentication-skip-lookup=true",
    ]
