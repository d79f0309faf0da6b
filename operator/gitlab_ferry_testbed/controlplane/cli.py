"""``python -m gitlab_ferry_testbed controlplane up|down|status``: a local control plane that
outlives the command.

Layer: ``controlplane`` (a self-contained test and demo tool); this is its command line. It parses
options and reports; the work is done by :class:`~.server.ControlPlane`. It must not import the
operator (``gitlab_ferry``) or the rest of the testbed. ``up`` leaves the processes running (they
are detached) and records them in a state file next to the kubeconfig; ``down`` reads that file
back.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from gitlab_ferry_testbed.controlplane import state as statefile
from gitlab_ferry_testbed.controlplane.binaries import find_binaries, find_build_script, run_build
from gitlab_ferry_testbed.controlplane.errors import BinariesNotFound, ControlPlaneError
from gitlab_ferry_testbed.controlplane.server import DEFAULT_TIMEOUT, ControlPlane

_KUBECONFIG = click.option(
    "--kubeconfig",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Kubeconfig to write (up) or whose control plane to use (down, status).",
)


@click.group("controlplane")
def controlplane() -> None:
    """A local Kubernetes control plane (etcd + kube-apiserver, and a controller-manager for
    garbage collection and namespace deletion) for tests and demos, without containers."""


def _recorded(kubeconfig: Path) -> ControlPlane | None:
    path = statefile.state_path(kubeconfig)
    if not path.exists():
        return None
    try:
        return ControlPlane.from_state(statefile.load(path))
    except (ValueError, KeyError, TypeError, ControlPlaneError) as e:
        raise click.ClickException(f"unreadable state file {path}: {e}; remove it") from e


def _healthy(plane: ControlPlane) -> bool:
    alive = all(plane.is_running(name) for name in plane.processes)
    return alive and bool(plane.processes) and plane.apiserver_ready()


def _record(plane: ControlPlane, kubeconfig: Path) -> None:
    statefile.save(
        statefile.state_path(kubeconfig), {**plane.to_state(), "kubeconfig": str(kubeconfig)}
    )


def _revive(plane: ControlPlane, kubeconfig: Path) -> bool:
    """Restart what has stopped (after a reboot, or a crash) and keep the etcd data; False
    when that does not give a ready control plane."""
    try:
        started = plane.ensure_running()
    except ControlPlaneError as e:
        click.echo(f"restarting the recorded control plane failed: {e}")
        return False
    if not _healthy(plane):
        return False
    _record(plane, kubeconfig)
    if not kubeconfig.exists():
        plane.write_kubeconfig(kubeconfig)
    click.echo(f"restarted {', '.join(started) or 'nothing'}; etcd data kept")
    click.echo(plane.describe())
    return True


def _forget(plane: ControlPlane, kubeconfig: Path, *, keep_files: bool) -> None:
    plane.stop()
    if not keep_files:
        plane.remove_files()
    kubeconfig.unlink(missing_ok=True)
    statefile.state_path(kubeconfig).unlink(missing_ok=True)


@controlplane.command()
@_KUBECONFIG
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where PKI, etcd data and logs go [default: <kubeconfig>.controlplane/].",
)
@click.option(
    "--with-controller-manager/--without-controller-manager",
    "with_manager",
    default=None,
    help="Run kube-controller-manager (GC, namespace deletion) [default: when the binary exists].",
)
@click.option(
    "--timeout",
    type=float,
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds to wait for each component to become ready.",
)
@click.option(
    "--build", is_flag=True, help="Run tools/controlplane/build.sh first (seconds when cached)."
)
@click.option(
    "--force",
    is_flag=True,
    help="Overwrite an existing kubeconfig that this command did not write.",
)
def up(
    kubeconfig: Path,
    directory: Path | None,
    with_manager: bool | None,
    timeout: float,
    build: bool,
    force: bool,
) -> None:
    """Start a control plane, write KUBECONFIG and return once the API server is ready."""
    kubeconfig = kubeconfig.absolute()
    recorded = _recorded(kubeconfig)
    if recorded is not None:
        if _healthy(recorded):
            click.echo(f"a control plane is already running for {kubeconfig}:")
            click.echo(recorded.describe())
            return
        recorded.timeout = timeout
        if _revive(recorded, kubeconfig):
            return
        click.echo("the recorded control plane cannot be revived; starting a new one")
        _forget(recorded, kubeconfig, keep_files=False)
    elif kubeconfig.exists() and not force:
        raise click.ClickException(
            f"{kubeconfig} exists and was not written by `controlplane up`; "
            "remove it, choose another path or pass --force"
        )
    if build:
        script = find_build_script()
        if script is None:
            raise click.ClickException(
                "--build: no tools/controlplane/build.sh found above "
                "the current directory or next to this package"
            )
        click.echo(f"running {script}")
        try:
            run_build(script)
        except ControlPlaneError as e:
            raise click.ClickException(str(e)) from e
    try:
        binaries = find_binaries()
    except BinariesNotFound as e:
        raise click.ClickException(str(e)) from e
    if with_manager is None:
        with_manager = binaries.controller_manager is not None
    elif with_manager and binaries.controller_manager is None:
        raise click.ClickException(
            f"--with-controller-manager: no kube-controller-manager next to {binaries.apiserver}"
        )

    directory = (directory or statefile.default_directory(kubeconfig)).absolute()
    plane = ControlPlane(
        directory,
        binaries,
        with_controller_manager=with_manager,
        timeout=timeout,
        stop_at_exit=False,
    )
    began = time.monotonic()
    parts = "etcd, kube-apiserver" + (" and kube-controller-manager" if with_manager else "")
    click.echo(f"starting {parts} from {binaries.apiserver.parent} in {directory}")
    try:
        plane.start()
        # The state file goes last: it only ever names a control plane that came up.
        plane.write_kubeconfig(kubeconfig)
        _record(plane, kubeconfig)
    except ControlPlaneError as e:
        plane.stop()
        raise click.ClickException(str(e)) from e
    except BaseException:
        plane.stop()
        raise
    click.echo(f"ready in {time.monotonic() - began:.1f} s (API server /readyz)")
    click.echo(plane.describe())
    click.echo(f"kubeconfig written to {kubeconfig}")
    click.echo(f"  export KUBECONFIG={kubeconfig}")
    click.echo(
        f"stop it with: python -m gitlab_ferry_testbed controlplane down --kubeconfig {kubeconfig}"
    )


@controlplane.command()
@_KUBECONFIG
@click.option(
    "--keep-files",
    is_flag=True,
    help="Keep the directory (logs, etcd data, PKI) for a post-mortem.",
)
def down(kubeconfig: Path, keep_files: bool) -> None:
    """Stop the control plane recorded for KUBECONFIG and remove its files."""
    kubeconfig = kubeconfig.absolute()
    plane = _recorded(kubeconfig)
    if plane is None:
        click.echo(f"no control plane recorded for {kubeconfig}; nothing to stop")
        return
    names = ", ".join(plane.processes) or "nothing"
    _forget(plane, kubeconfig, keep_files=keep_files)
    click.echo(f"stopped {names}")
    if keep_files:
        click.echo(f"kept {plane.layout.root}")
    else:
        click.echo(f"removed {kubeconfig} and the files in {plane.layout.root}")


@controlplane.command()
@_KUBECONFIG
def status(kubeconfig: Path) -> None:
    """Show the recorded control plane; exit status 1 unless it is running and ready."""
    kubeconfig = kubeconfig.absolute()
    plane = _recorded(kubeconfig)
    if plane is None:
        click.echo(f"no control plane recorded for {kubeconfig}")
        raise click.exceptions.Exit(1)
    click.echo(plane.describe())
    ready = _healthy(plane)
    click.echo(f"ready: {'yes' if ready else 'no'}")
    if not ready:
        raise click.exceptions.Exit(1)
