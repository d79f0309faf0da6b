"""A real Kubernetes control plane on loopback: etcd, kube-apiserver and optionally a
kube-controller-manager running only the garbage collector and the namespace controller.

Layer: ``controlplane`` (a self-contained test and demo tool, envtest re-done in Python). It owns
the processes it starts and the files in its directory; it must not import the operator
(``gitlab_ferry``) or the rest of the testbed, talk to anything but its own loopback servers, or
keep module-level state. Processes are detached (own session, output to log files), so a control
plane can outlive the Python process that started it: :meth:`ControlPlane.to_state` and
:meth:`ControlPlane.from_state` carry it across processes (``controlplane up`` and ``down``). The
API server can be stopped and started again on the same port with the same certificates and etcd
data, so kubeconfigs written earlier keep working.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import shutil
import ssl
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from gitlab_ferry_testbed.controlplane import kubeconfig, pki
from gitlab_ferry_testbed.controlplane import processes as proc
from gitlab_ferry_testbed.controlplane.binaries import Binaries
from gitlab_ferry_testbed.controlplane.errors import ControlPlaneError
from gitlab_ferry_testbed.controlplane.flags import (
    DEFAULT_CONTROLLERS,
    Layout,
    Ports,
    apiserver_args,
    apiserver_url,
    controller_manager_args,
    etcd_args,
    etcd_url,
)

ETCD, APISERVER, CONTROLLER_MANAGER = "etcd", "kube-apiserver", "kube-controller-manager"
STATE_VERSION = 1
# Two cores running a build next door can make a cold API server take a minute.
DEFAULT_TIMEOUT = 120.0
PORT_ATTEMPTS = 3  # free ports are picked before the servers bind them: retry a lost race
#: Tries (and the pause between them) at binding a port another process holds for a moment.
REBIND_ATTEMPTS = 5
REBIND_PAUSE = 1.0


class _PortTaken(ControlPlaneError):
    pass


class ControlPlane:
    """etcd + kube-apiserver (+ kube-controller-manager) in ``directory``.

    ``start()`` returns once ``/readyz`` answers 200 (verified against the generated CA with the
    admin token); ``stop()`` stops everything in reverse order. With ``stop_at_exit`` (the
    default) an ``atexit`` hook stops the processes if the owner forgets or is interrupted.
    """

    def __init__(
        self,
        directory: Path,
        binaries: Binaries,
        *,
        with_controller_manager: bool = True,
        controllers: tuple[str, ...] = DEFAULT_CONTROLLERS,
        timeout: float = DEFAULT_TIMEOUT,
        stop_at_exit: bool = True,
        ports: Ports | None = None,
    ) -> None:
        if with_controller_manager and binaries.controller_manager is None:
            raise ControlPlaneError(f"no {CONTROLLER_MANAGER} binary next to {binaries.apiserver}")
        self.layout = Layout(directory.resolve())
        self.binaries = binaries
        self.with_controller_manager = with_controller_manager
        self.controllers = controllers
        self.timeout = timeout
        self.stop_at_exit = stop_at_exit
        # Given ports are used as they are; otherwise free ones are picked at the first start.
        self.ports: Ports | None = ports
        # Seconds each start-up step took, for reports; "ready" is etcd start to API /readyz.
        self.timings: dict[str, float] = {}
        self._processes: dict[str, proc.ProcessHandle] = {}
        self._token: str | None = None

    # -- what clients need ---------------------------------------------------------------

    @property
    def url(self) -> str:
        return apiserver_url(self._ports())

    @property
    def ca_file(self) -> Path:
        return self.layout.pki.ca_cert

    @property
    def token(self) -> str:
        if self._token is None:
            self._token = pki.read_admin_token(self.layout.pki)
        return self._token

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig inside the directory (written by :meth:`start`)."""
        return self.layout.admin_kubeconfig

    @property
    def processes(self) -> Mapping[str, proc.ProcessHandle]:
        return dict(self._processes)

    def kubeconfig_dict(self, namespace: str = "default") -> dict[str, object]:
        return kubeconfig.render(self.url, self.ca_file.read_bytes(), self.token, namespace)

    def write_kubeconfig(self, path: Path, namespace: str = "default") -> Path:
        return kubeconfig.write(path, self.kubeconfig_dict(namespace))

    def _ports(self) -> Ports:
        if self.ports is None:
            raise ControlPlaneError("the control plane has not been started")
        return self.ports

    # -- health ----------------------------------------------------------------------------

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def _probe(self, url: str, *, tls: bool, ok: Callable[[httpx.Response], bool]) -> bool:
        headers = {"Authorization": f"Bearer {self.token}"} if tls else {}
        try:
            # Short: a probe that hangs (someone else's listener on the port) only delays
            # noticing that our server died; a slow answer is simply retried.
            with httpx.Client(verify=self._tls() if tls else False, timeout=2.0) as client:
                return ok(client.get(url, headers=headers))
        except (httpx.HTTPError, ValueError):  # ValueError: a body that is not JSON (yet)
            return False

    def etcd_healthy(self) -> bool:
        def ok(r: httpx.Response) -> bool:
            return r.status_code == 200 and r.json().get("health") == "true"

        return self._probe(f"{etcd_url(self._ports())}/health", tls=False, ok=ok)

    def apiserver_ready(self) -> bool:
        return self._probe(f"{self.url}/readyz", tls=True, ok=lambda r: r.status_code == 200)

    def controller_manager_healthy(self) -> bool:
        port = self._ports().controller_manager
        return self._probe(
            f"https://127.0.0.1:{port}/healthz", tls=True, ok=lambda r: r.status_code == 200
        )

    def is_running(self, component: str) -> bool:
        handle = self._processes.get(component)
        return handle is not None and proc.is_alive(handle)

    # -- start and stop --------------------------------------------------------------------

    def start(self) -> None:
        """Create the PKI (once), then start etcd, the API server and the controller-manager.
        On any failure, everything started so far is stopped before the error propagates."""
        if not self.layout.pki.token_file.exists():
            began = time.monotonic()
            pki.generate(self.layout.pki.directory)
            self.timings["pki"] = time.monotonic() - began
        if self.stop_at_exit:
            atexit.register(self.stop)
        try:
            if self.ports is not None:  # a restart: same ports, so old kubeconfigs still work
                self._start_all()
            else:
                self._start_on_free_ports()
        except BaseException:
            self.stop()
            raise

    def _start_on_free_ports(self) -> None:
        fresh_data = not self.layout.etcd_data.exists()
        for attempt in range(1, PORT_ATTEMPTS + 1):
            self.ports = Ports(*proc.free_ports(4))
            try:
                # Ports just picked: a taken one is a lost race, better lost on new ports.
                self._start_all(rebind_attempts=1)
                return
            except _PortTaken:
                self._stop_processes()
                if fresh_data:
                    shutil.rmtree(self.layout.etcd_data, ignore_errors=True)
                if attempt == PORT_ATTEMPTS:
                    raise

    def _start_all(self, rebind_attempts: int = REBIND_ATTEMPTS) -> None:
        began = time.monotonic()
        self.start_etcd()
        self.start_apiserver(rebind_attempts)
        self.timings["ready"] = time.monotonic() - began
        kubeconfig.write(self.layout.admin_kubeconfig, self.kubeconfig_dict())
        if self.with_controller_manager:
            self.start_controller_manager()

    def start_etcd(self) -> None:
        argv = etcd_args(self.binaries.etcd, self.layout, self._ports())
        self._launch(ETCD, argv, self.etcd_healthy)

    def start_apiserver(self, attempts: int = REBIND_ATTEMPTS) -> None:
        """Start the API server on this plane's port. Between a stop and a restart, another
        process's outgoing connection may hold the port as its local one for a moment, so a
        taken port is tried ``attempts`` times, a pause apart, before giving up."""
        argv = apiserver_args(self.binaries.apiserver, self.layout, self._ports())
        for attempt in range(1, attempts + 1):
            try:
                self._launch(APISERVER, argv, self.apiserver_ready)
                return
            except _PortTaken:
                if attempt == attempts:
                    raise
                time.sleep(REBIND_PAUSE)

    def start_controller_manager(self) -> None:
        if self.binaries.controller_manager is None:
            raise ControlPlaneError(f"no {CONTROLLER_MANAGER} binary")
        argv = controller_manager_args(
            self.binaries.controller_manager, self.layout, self._ports(), self.controllers
        )
        self._launch(CONTROLLER_MANAGER, argv, self.controller_manager_healthy)

    def ensure_running(self) -> list[str]:
        """Start, in order, whichever components are not running, on the same ports and with
        the data already there (running dependents reconnect by themselves). Returns the
        names of the components it started."""
        steps = [(ETCD, self.start_etcd), (APISERVER, self.start_apiserver)]
        if self.with_controller_manager:
            steps.append((CONTROLLER_MANAGER, self.start_controller_manager))
        started = []
        for component, start in steps:
            if not self.is_running(component):
                start()
                started.append(component)
        return started

    def _launch(self, component: str, argv: list[str], ready: Callable[[], bool]) -> None:
        if self.is_running(component):
            raise ControlPlaneError(f"{component} is already running")
        began = time.monotonic()
        try:
            handle = proc.spawn(component, argv, self.layout.log(component))
        except OSError as e:
            raise ControlPlaneError(f"cannot start {component} ({argv[0]}): {e}") from e
        self._processes[component] = handle
        try:
            self._wait_ready(component, handle, ready, deadline=began + self.timeout)
        except BaseException:
            # Never leave a half-started server behind, also when only this one was started.
            self._stop_component(component)
            raise
        self.timings[component] = time.monotonic() - began

    def _wait_ready(
        self,
        component: str,
        handle: proc.ProcessHandle,
        ready: Callable[[], bool],
        deadline: float,
    ) -> None:
        while True:
            # Liveness first: a dead server's port may be answered by someone else.
            if not proc.is_alive(handle):
                how = proc.exit_status(handle)
                log = proc.tail(handle.log)
                if "address already in use" in log:
                    raise _PortTaken(f"{component} could not bind its port, which is taken:\n{log}")
                raise ControlPlaneError(f"{component} {how} during start-up; {handle.log}:\n{log}")
            if ready():
                return
            if time.monotonic() > deadline:
                raise ControlPlaneError(
                    f"{component} not ready after {self.timeout:.0f} s; " + self._log_tails()
                )
            time.sleep(0.1)

    def _log_tails(self) -> str:
        return "\n".join(
            f"--- last lines of {h.log}:\n{proc.tail(h.log)}" for h in self._processes.values()
        )

    def _stop_component(self, component: str, grace: float = proc.STOP_GRACE_SECONDS) -> None:
        handle = self._processes.pop(component, None)
        if handle is not None:
            proc.stop(handle, grace)

    def stop_apiserver(self, grace: float = proc.STOP_GRACE_SECONDS) -> None:
        """Stop the API server alone; etcd (and the controller-manager) keep running.
        ``grace=0`` kills it outright, as a crash would."""
        self._stop_component(APISERVER, grace)

    def restart_apiserver(self, grace: float = proc.STOP_GRACE_SECONDS) -> None:
        """Stop and start the API server on the same port, with the same certificates and
        etcd data: clients see a short outage, then everything they stored is still there."""
        self.stop_apiserver(grace)
        self.start_apiserver()

    def stop(self) -> None:
        """Stop in reverse start order; safe to call twice and from ``atexit``."""
        self._stop_processes()
        atexit.unregister(self.stop)

    def _stop_processes(self) -> None:
        for component in (CONTROLLER_MANAGER, APISERVER, ETCD):
            self._stop_component(component)

    def remove_files(self) -> None:
        """Delete what :meth:`start` created in the directory (not the directory's other
        contents: it may have been given by a user), then the directory if it is empty."""
        root = self.layout.root
        for sub in (self.layout.pki.directory, self.layout.etcd_data):
            shutil.rmtree(sub, ignore_errors=True)
        for path in (
            self.layout.admin_kubeconfig,
            *(self.layout.log(c) for c in (ETCD, APISERVER, CONTROLLER_MANAGER)),
        ):
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            root.rmdir()

    def __enter__(self) -> ControlPlane:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- across processes ------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "directory": str(self.layout.root),
            "binaries": self.binaries.to_json(),
            "with_controller_manager": self.with_controller_manager,
            "controllers": list(self.controllers),
            "ports": self._ports().to_json(),
            "url": self.url,
            "processes": [h.to_json() for h in self._processes.values()],
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any], *, stop_at_exit: bool = False) -> ControlPlane:
        if state.get("version") != STATE_VERSION:
            raise ControlPlaneError(f"unknown state version {state.get('version')!r}")
        plane = cls(
            Path(state["directory"]),
            Binaries.from_json(state["binaries"]),
            with_controller_manager=bool(state["with_controller_manager"]),
            controllers=tuple(state["controllers"]),
            stop_at_exit=stop_at_exit,
        )
        plane.ports = Ports(**state["ports"])
        for data in state["processes"]:
            handle = proc.ProcessHandle.from_json(data)
            plane._processes[handle.name] = handle
        return plane

    def describe(self) -> str:
        lines = [f"API server {self.url}", f"directory  {self.layout.root}"]
        for name, handle in self._processes.items():
            alive = "running" if proc.is_alive(handle) else "not running"
            lines.append(f"{name:<24} pid {handle.pid:<8} {alive:<12} log {handle.log}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        ports = json.dumps(self.ports.to_json()) if self.ports else "not started"
        return f"ControlPlane({str(self.layout.root)!r}, ports={ports})"
