"""GroupMigration end to end: one object migrates a nested group tree with dotted paths (its
groups through GitLab's group export and import, then a ProjectExport/ProjectImport pair per
project), picks up a project added on the way, keeps going past a failing project, survives
being killed during fan-out without a duplicate child or GitLab request, and leaves GitLab
data alone when deleted beyond what its children's deletionPolicy says.

The source is the simulator's ``group-tree`` seed: ``platform/`` with five nested subgroups
and 40 projects, every 7th archived (left behind), every 10th with a dot in its path.
Time runs 20 times faster in the simulators and the operator.
"""

from __future__ import annotations

import random
import signal
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from ferry_e2e import IMPORTS, condition, create, get_object, wait_object
from kubernetes import client
from migration_e2e import (
    MIGRATIONS,
    TIMING,
    accelerated,
    all_children,
    child_projects,
    destination_group_paths,
    destination_parent,
    migration_object,
    operator_settings,
    same_content,
    secrets,
    selected,
    source_groups,
    status_of,
    wait_gone,
)
from tests.support.processes import SimulatorProcess, wait_for


def _pair(
    simulators: Callable[..., SimulatorProcess],
) -> tuple[SimulatorProcess, SimulatorProcess, float]:
    """The source tree and an empty destination with ``migrated/``, on one scaled clock."""
    anchor = time.time()
    source = simulators(*accelerated(anchor), *TIMING, seed="group-tree")
    destination = simulators(*accelerated(anchor), *TIMING, seed="empty")
    destination_parent(destination)
    return source, destination, anchor


def _ready_with_total(total: int) -> Callable[[dict[str, Any]], bool]:
    def check(obj: dict[str, Any]) -> bool:
        counts = (obj.get("status") or {}).get("counts") or {}
        return condition(obj).get("status") == "True" and counts.get("total") == total

    return check


def test_a_nested_tree_migrates_with_its_groups_and_a_project_added_on_the_way(
    namespace, core_v1, custom_objects, simulators, operators, kubectl
):
    source, destination, anchor = _pair(simulators)
    secrets(core_v1, namespace)
    operators([namespace], operator_settings(anchor, source.host, destination.host))
    projects = selected(source)
    assert len(projects) == 35
    assert any("." in path.rsplit("/", 1)[1] for path in projects), "the seed has dotted paths"
    assert any(path.count("/") == 3 for path in projects), "the seed nests groups two deep"
    body = migration_object("platform", source, destination, resyncInterval="1m")
    create(custom_objects, MIGRATIONS, namespace, body)

    wait_for(
        lambda: len(child_projects(custom_objects, namespace, "platform")) >= 5,
        timeout=180,
        what="the first children",
    )
    late = "platform/infra/late.addition"
    source.control("POST", "/projects", json={"path_with_namespace": late})
    expected = sorted([*projects, late])

    done = wait_object(
        custom_objects,
        MIGRATIONS,
        namespace,
        "platform",
        _ready_with_total(len(expected)),
        timeout=420,
        what="the migration of the tree and the late project",
    )
    status = done["status"]
    n = len(expected)
    assert status["progress"] == f"{n}/{n}"
    assert status["counts"] == {
        "total": n, "pending": 0, "exporting": 0, "importing": 0, "finished": n, "failed": 0
    }  # fmt: skip
    groups = source_groups(source)
    assert status["groups"] == status["groupsReady"] == len(groups) == 6
    assert {f"migrated/{g}" for g in groups} <= destination_group_paths(destination)
    # The tree came in one group import; no group was created one by one (the one POST
    # /groups is the test's own, for the parent).
    assert len(destination.received_posts("group_import")) == 1
    assert len(destination.received_posts("create_group")) == 1
    assert status.get("groupsCreated", 0) == 0

    # One pair per project, owned by the migration, every project's content arrived intact.
    assert child_projects(custom_objects, namespace, "platform") == expected
    uid = done["metadata"]["uid"]
    owned = [
        [(r["kind"], r["uid"], r.get("controller")) for r in child["metadata"]["ownerReferences"]]
        for child in all_children(custom_objects, namespace, "platform")
    ]
    assert owned == [[("GroupMigration", uid, True)]] * (2 * n)
    assert [p for p in expected if not same_content(source, destination, p)] == []

    shown = kubectl("get", "groupmigrations", "-n", namespace).stdout
    assert f"{n}/{n}" in shown
    assert "platform" in shown


def test_one_failing_project_does_not_stop_the_rest(
    namespace, core_v1, custom_objects, simulators, operators
):
    source, destination, anchor = _pair(simulators)
    secrets(core_v1, namespace)
    projects = selected(source)
    failing = projects[3]
    destination.control(
        "PUT",
        "/faults",
        json={"jobs": [{"job": "import", "project": f"migrated/{failing}", "mode": "fail"}]},
    )
    operators([namespace], operator_settings(anchor, source.host, destination.host))
    create(custom_objects, MIGRATIONS, namespace, migration_object("platform", source, destination))

    n = len(projects)
    done = wait_object(
        custom_objects,
        MIGRATIONS,
        namespace,
        "platform",
        lambda obj: condition(obj).get("reason") == "ProjectsFailed",
        timeout=420,
        what="every project settled, one failed",
    )
    status = done["status"]
    assert condition(done)["status"] == "False"
    assert status["counts"]["finished"] == n - 1
    assert status["counts"]["failed"] == 1
    assert status["progress"] == f"{n - 1}/{n}"
    (failure,) = status["failures"]
    assert failure["project"] == failing
    child = get_object(custom_objects, IMPORTS, namespace, failure["name"])
    assert condition(child, "Stalled")["reason"] == failure["reason"]
    assert [p for p in projects if p != failing and not same_content(source, destination, p)] == []


def test_killed_during_fan_out_no_duplicate_child_or_request(
    namespace, core_v1, custom_objects, simulators, operators
):
    seed = int(time.time())
    rng = random.Random(seed)
    source, destination, anchor = _pair(simulators)
    secrets(core_v1, namespace)
    settings = operator_settings(anchor, source.host, destination.host)
    operator = operators([namespace], settings)
    projects = selected(source)
    body = migration_object("platform", source, destination, maxInFlight=35)
    create(custom_objects, MIGRATIONS, namespace, body)

    kills = 0
    while (
        kills < 8
        and condition(get_object(custom_objects, MIGRATIONS, namespace, "platform")).get("status")
        != "True"
    ):
        time.sleep(rng.uniform(0.3, 2.5))
        operator.stop(signal.SIGKILL)
        kills += 1
        operator = operators([namespace], settings)
    assert kills >= 4, f"the migration finished before the kills (seed {seed})"

    wait_object(
        custom_objects,
        MIGRATIONS,
        namespace,
        "platform",
        _ready_with_total(len(projects)),
        timeout=420,
        what=f"the migration after {kills} kills (seed {seed})",
    )
    assert child_projects(custom_objects, namespace, "platform") == projects
    for sim, endpoint in (
        (source, "group_export"),
        (destination, "group_import"),
    ):
        assert len(sim.received_posts(endpoint)) == 1, (endpoint, seed)
    exports = Counter(r["path"] for r in source.received_posts("export"))
    assert sorted(exports.values()) == [1] * len(projects), (exports, seed)
    imports = Counter(
        (r["params"].get("namespace_path") or r["params"].get("namespace"), r["params"]["path"])
        for r in destination.received_posts("import")
    )
    assert sorted(imports.values()) == [1] * len(projects), (imports, seed)


@pytest.mark.parametrize("policy", ["Orphan", "Delete"])
def test_deleting_the_migration_touches_gitlab_only_as_the_children_say(
    policy, namespace, core_v1, custom_objects, simulators, operators, control_plane
):
    if control_plane is not None and not control_plane.with_controller_manager:
        pytest.skip("children are removed by kube-controller-manager's garbage collector")
    source, destination, anchor = _pair(simulators)
    secrets(core_v1, namespace)
    operators([namespace], operator_settings(anchor, source.host, destination.host))
    projects = [p for p in selected(source) if p.startswith("platform/infra/")]
    body = migration_object(
        "platform",
        source,
        destination,
        projects={"deletionPolicy": policy},
        groups="CreateMissing",
    )
    body["spec"]["source"]["projects"]["include"] = ["infra/**"]
    create(custom_objects, MIGRATIONS, namespace, body)
    wait_object(
        custom_objects,
        MIGRATIONS,
        namespace,
        "platform",
        _ready_with_total(len(projects)),
        timeout=300,
        what="the migration of platform/infra",
    )
    source_before = sorted(p["path_with_namespace"] for p in source.projects())
    groups_before = destination_group_paths(destination)
    landed = [f"migrated/{p}" for p in projects]
    assert set(landed) <= _live_projects(destination)

    custom_objects.delete_namespaced_custom_object(
        "gitlabferry.dev",
        "v1alpha1",
        namespace,
        MIGRATIONS,
        "platform",
        body=client.V1DeleteOptions(propagation_policy="Foreground"),
    )
    wait_gone(custom_objects, namespace, "platform", timeout=120)
    wait_for(
        lambda: get_object(custom_objects, MIGRATIONS, namespace, "platform") is None,
        timeout=60,
        what="the GroupMigration to be deleted",
    )
    if policy == "Delete":
        wait_for(
            lambda: not set(landed) & _live_projects(destination),
            timeout=120,
            what="the imported projects to be deleted",
        )
    else:
        assert set(landed) <= _live_projects(destination)
    assert destination_group_paths(destination) == groups_before
    assert sorted(p["path_with_namespace"] for p in source.projects()) == source_before
    deleted = {r["path"] for r in destination.requests("delete_project") if r["method"] == "DELETE"}
    assert len(deleted) == (len(projects) if policy == "Delete" else 0)


def _live_projects(sim: SimulatorProcess) -> set[str]:
    return {
        str(p["path_with_namespace"])
        for p in sim.projects()
        if not p.get("marked_for_deletion_at") and not p.get("pending_delete")
    }


def test_names_longer_than_a_label_value_are_refused_at_apply_time(
    namespace, custom_objects, simulators
):
    source = destination = simulators(seed="empty")
    body = migration_object("m" * 64, source, destination)
    with pytest.raises(client.exceptions.ApiException) as refused:
        create(custom_objects, MIGRATIONS, namespace, body)
    assert refused.value.status == 422
    assert "63" in str(refused.value.body)
    assert status_of(custom_objects, namespace, "m" * 64) == {}
