"""The ``gitlab-ferry`` command line: the operator (``run``), ``plan`` and the CRDs.

The top layer: it parses arguments and hands over to the package that does the work. The
simulated GitLab, the local control plane and the demo are the testbed's commands
(``python -m gitlab_ferry_testbed``), never the operator's: nothing here may import them.
"""

from __future__ import annotations

import asyncio
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import click
import yaml

from gitlab_ferry import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gitlab-ferry")
def main() -> None:
    """Move GitLab projects declaratively, from Kubernetes."""


@main.command()
@click.option("--namespace", "-n", "namespaces", multiple=True, help="Watch only these.")
@click.option("--peering", default=None, help="kopf peering name, for several replicas.")
@click.option("--metrics-port", type=int, default=None, help="Port of /metrics and probes.")
@click.option("--log-level", default=None, help="DEBUG, INFO, WARNING or ERROR.")
@click.option("--log-format", type=click.Choice(["plain", "json"]), default=None)
def run(
    namespaces: tuple[str, ...],
    peering: str | None,
    metrics_port: int | None,
    log_level: str | None,
    log_format: str | None,
) -> None:
    """Run the operator against the cluster KUBECONFIG (or the pod's account) names.

    Settings come from GITLAB_FERRY_* environment variables; options override them.
    """
    from gitlab_ferry import handlers, logs
    from gitlab_ferry.controller.runtime import KUBE_CONNECTIONS, build_runtime
    from gitlab_ferry.settings import Settings

    overrides: dict[str, Any] = {}
    if namespaces:
        overrides["namespaces"] = list(namespaces)
    for key, value in (
        ("metrics_port", metrics_port),
        ("log_level", log_level),
        ("log_format", log_format),
    ):
        if value is not None:
            overrides[key] = value
    settings = Settings(**overrides)
    logs.configure(settings.log_level, settings.log_format)

    async def operate() -> None:
        # asyncio's default executor has only cores + 4 threads: hundreds of objects writing
        # their status would queue there, and a GroupMigration's child creations behind them.
        threads = ThreadPoolExecutor(KUBE_CONNECTIONS, thread_name_prefix="gitlab-ferry")
        asyncio.get_running_loop().set_default_executor(threads)
        runtime = build_runtime(settings, events=handlers.post_event)
        await handlers.operate(runtime, namespaces=settings.namespaces, peering=peering)

    asyncio.run(operate())


@main.command()
@click.option(
    "--filename", "-f", "filename", required=True, type=click.Path(exists=True, dir_okay=False)
)
def plan(filename: str) -> None:
    """Print what the operator would do now for the objects in FILENAME, changing nothing.

    Secrets are read from the cluster and GitLab is only read, like ``terraform plan``.
    """
    from gitlab_ferry import logs
    from gitlab_ferry.controller.preview import preview, render
    from gitlab_ferry.controller.runtime import build_runtime
    from gitlab_ferry.settings import Settings

    settings = Settings()
    logs.configure("WARNING")
    documents = [
        doc
        for doc in yaml.safe_load_all(Path(filename).read_text())
        if isinstance(doc, dict)
        and doc.get("kind") in ("ProjectExport", "ProjectImport", "GroupMigration")
    ]
    if not documents:
        raise click.ClickException(
            f"{filename} has no ProjectExport, ProjectImport or GroupMigration"
        )

    async def show() -> list[str]:
        runtime = build_runtime(settings)
        try:
            return [render(await preview(runtime, doc)) for doc in documents]
        finally:
            await runtime.aclose()

    click.echo("\n\n".join(asyncio.run(show())))


@main.command()
@click.option(
    "--output",
    "-o",
    "outputs",
    multiple=True,
    type=click.Path(file_okay=False),
    default=["crds", "charts/gitlab-ferry/crds"],
    show_default=True,
    help="Directories to write the CRDs to.",
)
@click.option("--check", is_flag=True, help="Only check that the files are up to date.")
def crds(outputs: tuple[str, ...], check: bool) -> None:
    """Generate the CustomResourceDefinitions from the models."""
    from gitlab_ferry.api.crd import all_definitions

    stale = []
    for output in outputs:
        directory = Path(output)
        for filename, document in all_definitions().items():
            path = directory / filename
            text = _crd_yaml(document)
            if check:
                if not path.exists() or path.read_text() != text:
                    stale.append(str(path))
                continue
            directory.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            click.echo(f"wrote {path}")
    if stale:
        click.echo("stale CRDs (run `make crds`): " + ", ".join(stale), err=True)
        sys.exit(1)


def _crd_yaml(document: dict[str, Any]) -> str:
    header = "# Generated by `gitlab-ferry crds` from gitlab_ferry.api; do not edit.\n"
    return header + yaml.safe_dump(document, sort_keys=False, width=100)
