"""The demo's script: start everything, migrate, watch, verify, report (demo layer)."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import click
import httpx
import yaml
from kubernetes import client, config

from gitlab_ferry_testbed.demo.migration import (
    apply,
    find_example,
    manifest,
    render,
    rows,
    summary,
)
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


def _api(
    url: str,
    method: str,
    path: str,
    *,
    params: dict[str, str] | None = None,
    json: dict[str, str] | None = None,
) -> httpx.Response:
    response = httpx.request(
        method,
        f"{url}/api/v4/{path}",
        headers={"PRIVATE-TOKEN": TOKEN},
        params=params,
        json=json,
        timeout=30,
    )
    response.raise_for_status()
    return response


def _selected(source: str, group: str) -> list[str]:
    """The projects the example migrates: the group's, subgroups included, not archived."""
    params = {"include_subgroups": "true", "archived": "false", "per_page": "100"}
    listed = _api(source, "GET", f"groups/{group}/projects", params=params).json()
    return sorted(str(p["path_with_namespace"]) for p in listed)


def _verify(source: str, destination: str, projects: list[str], parent: str) -> int:
    """Projects whose repository arrived byte for byte (simulators' content digests)."""
    same = 0
    for path in projects:
        original = httpx.get(f"{source}/-/sim/projects/{quote(path, safe='')}", timeout=10)
        landed = quote(f"{parent}/{path}", safe="")
        copy = httpx.get(f"{destination}/-/sim/projects/{landed}", timeout=10)
        if copy.status_code == 200 and (
            copy.json()["content"]["repository_sha256"]
            == original.json()["content"]["repository_sha256"]
        ):
            same += 1
    return same


@click.command("demo")
@click.option("--exit", "exit_when_done", is_flag=True, help="Stop everything when finished.")
@click.option("--timeout", default=600.0, show_default=True, help="Seconds to wait at most.")
def demo(exit_when_done: bool, timeout: float) -> None:
    """Migrate a group tree (its groups, then 35 projects) between two simulated GitLabs, live,
    with one GroupMigration."""
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
        _say("starting two simulated GitLabs: a source with the group tree platform/, and a")
        _say("destination with an empty group migrated/ to receive it")
        source = stack.start_gitlab("source-gitlab", "group-tree")
        destination = stack.start_gitlab("destination-gitlab", "empty")
        document = manifest(example, source, destination)
        parent = str(document["spec"]["destination"]["parent"])
        _api(destination, "POST", "groups", json={"name": parent.title(), "path": parent})
        group = str(document["spec"]["source"]["group"])
        projects = _selected(source, group)
        hosts = [url.split("://", 1)[1] for url in (source, destination)]
        _say("starting the operator")
        metrics_port = stack.start_operator(kubeconfig, NAMESPACE, hosts)
        custom = client.CustomObjectsApi(api)
        name = str(document["metadata"]["name"])
        _say(
            f"applying {example}: {group}/ and its {len(projects)} projects (archived ones "
            f"stay behind) into {parent}/"
        )
        apply(custom, NAMESPACE, [document])
        started = time.monotonic()
        interactive = sys.stdout.isatty()
        head, table = summary(custom, NAMESPACE, name), rows(custom, NAMESPACE)
        shown = ("", "")
        while time.monotonic() - started < timeout:
            head, table = summary(custom, NAMESPACE, name), rows(custom, NAMESPACE)
            elapsed = time.monotonic() - started
            if interactive:
                click.echo("\x1b[2J\x1b[H" + render(head, table, elapsed))
            elif (head.progress, head.groups) != shown:
                shown = (head.progress, head.groups)
                click.echo(head.headline(elapsed))
            if head.done:
                break
            time.sleep(1.0 if interactive else 3.0)
        click.echo(render(head, table, time.monotonic() - started))
        verified = _verify(source, destination, projects, parent)
        _say(f"contents verified on the destination: {verified}/{len(projects)}")
        _say(f"metrics: http://127.0.0.1:{metrics_port}/metrics")
        _say(
            f"kubectl: export KUBECONFIG={kubeconfig}; kubectl get groupmigrations,gitlab "
            f"-n {NAMESPACE}"
        )
        done = head.done and verified == len(projects)
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
