"""``python -m gitlab_ferry_testbed simulate``: run a simulated GitLab from the command line.

Part of the simulator layer: it only turns options into a ``SimulatorConfig`` and a seed, starts
a ``Simulator``, writes the base URL to ``--ready-file`` once listening (so a parent process can
use ``--port 0``) and serves until SIGINT/SIGTERM. It must not import anything outside the
simulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Any

import click
import yaml

from gitlab_ferry_testbed.simulator.clock import clock_for
from gitlab_ferry_testbed.simulator.config import SimulatorConfig
from gitlab_ferry_testbed.simulator.seed import Seed
from gitlab_ferry_testbed.simulator.server import Simulator
from gitlab_ferry_testbed.simulator.versions import parse_version


def _settings_patch(opts: dict[str, Any]) -> dict[str, Any]:
    instance: dict[str, Any] = {}
    profile: dict[str, Any] = {}
    timing: dict[str, Any] = {}
    behaviour: dict[str, Any] = {}
    for name in (
        "project_export_limit",
        "project_download_export_limit",
        "project_import_limit",
        "max_import_size",
        "max_export_size",
        "max_import_remote_file_size",
    ):
        if opts[name] is not None:
            instance[name] = opts[name]
    if opts["import_sources"] is not None:
        instance["import_sources"] = [s for s in opts["import_sources"].split(",") if s]
    if opts["allow_local_requests"]:
        instance["allow_local_requests_from_web_hooks_and_services"] = True
    if opts["export_ownership"]:
        profile["export_ownership"] = opts["export_ownership"]
    if opts["download_limit_scope"]:
        profile["download_limit_scope"] = opts["download_limit_scope"]
    if opts["no_retry_after"]:
        profile["retry_after_header"] = False
    if opts["parallel_exports"]:
        profile["export_jobs"] = "parallel"
    if opts["new_install"]:
        profile["import_sources_default"] = "none"
    for name in ("export_duration", "import_duration", "export_queue_delay", "import_queue_delay"):
        if opts[name] is not None:
            timing[name] = opts[name]
    if opts["step_mode"]:
        timing["step_mode"] = True
    if opts["object_storage"]:
        behaviour["object_storage"] = True
    if opts["allow_http_imports"]:
        behaviour["allow_http_remote_import"] = True
    if opts["gzip_level"] is not None:
        behaviour["archive_gzip_level"] = opts["gzip_level"]
    if opts["gitlab_version"] is not None:
        behaviour["gitlab_version"] = opts["gitlab_version"]
    return {"instance": instance, "profile": profile, "timing": timing, "behaviour": behaviour}


def _release(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Refuse a malformed release at once, as a usage error rather than a traceback."""
    if value is not None:
        try:
            parse_version(value)
        except ValueError as err:
            raise click.BadParameter(str(err)) from err
    return value


@click.command("simulate")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=0, show_default=True, help="0 picks a free port.")
@click.option(
    "--seed",
    "seed_ref",
    default="default",
    show_default=True,
    help="A built-in seed (default, empty, group-tree, group-tree-scale) or a YAML file.",
)
@click.option(
    "--data-dir", type=click.Path(path_type=Path), help="Archives on disk (default: temp)."
)
@click.option("--external-url", help="URL GitLab puts into _links (default: the listener's).")
@click.option("--export-duration", type=float, help="Clock seconds from started to finished.")
@click.option("--import-duration", type=float, help="Clock seconds from started to finished.")
@click.option("--export-queue-delay", type=float, help="Clock seconds from queued to started.")
@click.option("--import-queue-delay", type=float, help="Clock seconds from scheduled to started.")
@click.option("--step-mode", is_flag=True, help="Jobs move only on POST /-/sim/step.")
@click.option("--clock-speed", default=1.0, show_default=True, type=float)
@click.option("--clock-anchor", type=float, help="Epoch seconds the scaled clock starts from.")
@click.option("--tls-cert", type=click.Path(path_type=Path, exists=True))
@click.option("--tls-key", type=click.Path(path_type=Path, exists=True))
@click.option(
    "--ca-file",
    type=click.Path(path_type=Path, exists=True),
    help="CA bundle for outbound https (remote import, upload pushes).",
)
@click.option("--s3-endpoint", help="S3-compatible endpoint for remote-import-s3.")
@click.option("--storage-port", default=0, show_default=True, help="Object-storage listener.")
@click.option(
    "--object-storage", is_flag=True, help="Downloads answer 302 to the storage listener."
)
@click.option("--ready-file", type=click.Path(path_type=Path), help="Write the base URL here.")
@click.option("--project-export-limit", type=int)
@click.option("--project-download-export-limit", type=int)
@click.option("--project-import-limit", type=int)
@click.option("--max-import-size", type=int, help="MB; 0 = unlimited.")
@click.option("--max-export-size", type=int, help="MB; 0 = unlimited.")
@click.option("--max-import-remote-file-size", type=int, help="MB; 0 = unlimited.")
@click.option("--import-sources", help="Comma-separated list (gitlab_project enables imports).")
@click.option(
    "--allow-local-requests", is_flag=True, help="allow_local_requests_from_web_hooks_and_services."
)
@click.option("--allow-http-imports", is_flag=True, help="Accept http:// for remote-import.")
@click.option("--export-ownership", type=click.Choice(["user", "project"]))
@click.option("--download-limit-scope", type=click.Choice(["namespace", "project"]))
@click.option("--no-retry-after", is_flag=True, help="Older GitLab: 429 without Retry-After.")
@click.option("--parallel-exports", is_flag=True, help="Each export POST creates its own job.")
@click.option(
    "--new-install",
    is_flag=True,
    help="import_sources defaults to [] (imports 403 until --import-sources).",
)
@click.option("--gzip-level", type=click.IntRange(0, 9))
@click.option(
    "--gitlab-version",
    callback=_release,
    help="Behave as this GitLab release (13.12 to 18.7, e.g. 17.11.3); default 18.7.0.",
)
@click.option(
    "--control-requires-admin",
    is_flag=True,
    help="The /-/sim control API needs an admin token even on loopback.",
)
@click.option("--random-seed", default=0, show_default=True, type=int)
@click.option(
    "--settings",
    "settings_file",
    type=click.Path(path_type=Path, exists=True),
    help="YAML or JSON with a partial settings object (applied before other flags).",
)
def simulate(**opts: Any) -> None:
    """Run a simulated GitLab (project import/export API) for tests and demos."""
    seed = Seed.load(opts["seed_ref"])
    config = SimulatorConfig(
        host=opts["host"],
        port=opts["port"],
        storage_port=opts["storage_port"],
        data_dir=opts["data_dir"],
        external_url=opts["external_url"],
        tls_cert=opts["tls_cert"],
        tls_key=opts["tls_key"],
        ca_file=opts["ca_file"],
        s3_endpoint=opts["s3_endpoint"],
        random_seed=opts["random_seed"],
        control_requires_admin=opts["control_requires_admin"],
    )
    if opts["settings_file"] is not None:
        patch = yaml.safe_load(opts["settings_file"].read_text()) or {}
        config.settings = config.settings.merged(patch)
    config.settings = config.settings.merged(_settings_patch(opts))
    clock = clock_for(opts["clock_speed"], opts["clock_anchor"])
    asyncio.run(_serve(Simulator(config, seed=seed, clock=clock), opts["ready_file"]))


async def _serve(sim: Simulator, ready_file: Path | None) -> None:
    await sim.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    click.echo(f"GitLab simulator listening on {sim.url} (object storage {sim.storage_url})")
    if ready_file is not None:
        tmp = ready_file.with_name(ready_file.name + ".tmp")
        tmp.write_text(sim.url + "\n")
        tmp.replace(ready_file)
    try:
        await stop.wait()
    finally:
        await sim.stop()
