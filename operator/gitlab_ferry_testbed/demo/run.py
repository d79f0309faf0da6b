"""The demo's script: start everything, migrate, watch, verify, report (demo layer)."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import click
import httpx
import yaml
from kubernetes import client, config

from gitlab_ferry_testbed.demo.migration import apply, find_example, manifests, render, rows
from gitlab_ferry_testbed.demo.stack import Stack

NAMESPACE = "gitlab-ferry-demo"
TOKEN = "glpat-root-token"


def _say(message: str) -> None:
    click.echo(click.style("==> ", fg="cyan") + message)


def install_crds(api: client.ApiClient, crds: Path) -> None:
    extensions = client.ApiextensionsV1Api(api)
    names = []
    for path in sorted(crds.glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        extensions.create_custom_resource_definition(document)
        names.append(str(document["metadata"]["name"]))
    deadline = time.monotonic() + 60
    for name in names:
        while not _established(extensions, name):
            if time.monotonic() > deadline:
                raise RuntimeError(f"CRD {name} is not established")
            time.sleep(0.2)


def _established(extensions: client.ApiextensionsV1Api, name: str) -> bool:
    status = extensions.read_custom_resource_definition(name).status
    conditions = (status.conditions if status else None) or []
    return any(c.type == "Established" and c.status == "True" for c in conditions)


def _prepare_namespace(core: client.CoreV1Api) -> None:
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
    for name in ("source-token", "destination-token"):
        core.create_namespaced_secret(
            NAMESPACE,
            client.V1Secret(metadata=client.V1ObjectMeta(name=name), string_data={"token": TOKEN}),
        )


def _verify(source: str, destination: str, projects: list[str]) -> int:
    """Projects whose repository arrived byte for byte (simulators' content digests)."""
    same = 0
    for path in projects:
        encoded = path.replace("/", "%2F")
        original = httpx.get(f"{source}/-/sim/projects/{encoded}", timeout=10).json()
        copy = httpx.get(f"{destination}/-/sim/projects/{encoded}", timeout=10)
        if copy.status_code == 200 and (
            copy.json()["content"]["repository_sha256"] == original["content"]["repository_sha256"]
        ):
            same += 1
    return same


@click.command("demo")
@click.option("--exit", "exit_when_done", is_flag=True, help="Stop everything when finished.")
@click.option("--timeout", default=600.0, show_default=True, help="Seconds to wait at most.")
def demo(exit_when_done: bool, timeout: float) -> None:
    """Migrate twenty projects between two simulated GitLabs, live."""
    directory = Path(tempfile.mkdtemp(prefix="gitlab-ferry-demo-"))
    stack = Stack(directory)
    try:
        _say(f"logs and state in {directory}")
        _say("starting a local Kubernetes control plane (etcd + kube-apiserver)")
        kubeconfig = stack.start_control_plane()
        api = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
        example = find_example()
        install_crds(api, example.parent.parent / "crds")
        _prepare_namespace(client.CoreV1Api(api))
        _say("starting two simulated GitLabs: a source with 20 projects, an empty destination")
        source = stack.start_gitlab("source-gitlab", "default")
        destination = stack.start_gitlab("destination-gitlab", "empty")
        hosts = [url.split("://", 1)[1] for url in (source, destination)]
        _say("starting the operator")
        metrics_port = stack.start_operator(kubeconfig, NAMESPACE, hosts)
        projects = [p["path_with_namespace"] for p in httpx.get(f"{source}/-/sim/projects").json()]
        custom = client.CustomObjectsApi(api)
        _say(f"applying {example} for each of the {len(projects)} projects")
        apply(custom, NAMESPACE, manifests(example, projects, source, destination))
        started = time.monotonic()
        interactive = sys.stdout.isatty()
        table = rows(custom, NAMESPACE)
        while time.monotonic() - started < timeout:
            table = rows(custom, NAMESPACE)
            if interactive:
                click.echo("\x1b[2J\x1b[H" + render(table, time.monotonic() - started))
            if table and all(row.ready == "True" for row in table):
                break
            time.sleep(1.0 if interactive else 3.0)
        click.echo(render(table, time.monotonic() - started))
        verified = _verify(source, destination, projects)
        _say(f"contents verified on the destination: {verified}/{len(projects)}")
        _say(f"metrics: http://127.0.0.1:{metrics_port}/metrics")
        _say(f"kubectl: export KUBECONFIG={kubeconfig}; kubectl get gitlab -n {NAMESPACE}")
        done = all(row.ready == "True" for row in table) and verified == len(projects)
        if not exit_when_done:
            _say("press Ctrl-C to stop everything")
            while True:
                time.sleep(3600)
        if not done:
            raise SystemExit(1)
    except KeyboardInterrupt:
        pass
    finally:
        _say("stopping")
        stack.stop()
