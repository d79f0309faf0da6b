"""The group tree a GroupMigration moves: which projects its filters select, where groups and
projects land, the children's names, and what the children's records say."""

from __future__ import annotations

import re

import pytest
from migration_builders import NAME, UID, migration_spec, record, tree

from gitlab_ferry.api import ConditionStatus
from gitlab_ferry.reconcile.migrations import (
    MIGRATION_LABEL,
    SOURCE_ANNOTATION,
    Owner,
    Phase,
    child_bodies,
    child_name,
    child_record,
    child_state,
    destination_groups,
    destination_path,
    pairs_of,
    selected,
)
from gitlab_ferry.reconcile.migrations.tree import NAME_LIMIT

SOURCE = tree(
    "platform/web",
    "platform/apps/api",
    "platform/apps/deep/worker",
    "platform/tools/lint#python#ci",
    "platform/tools/fmt#go",
    groups=("platform/apps/deep", "platform/apps", "platform/tools"),
)


def paths(spec_fields: dict[str, object]) -> list[str]:
    return [p.full_path for p in selected(SOURCE, migration_spec(**spec_fields))]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param(
            {},
            [
                "platform/apps/api",
                "platform/apps/deep/worker",
                "platform/tools/fmt",
                "platform/tools/lint",
                "platform/web",
            ],
            id="everything-in-path-order",
        ),
        pytest.param({"source": {"subgroups": False}}, ["platform/web"], id="no-subgroups"),
        pytest.param(
            {"source": {"projects": {"include": ["apps/*"]}}},
            ["platform/apps/api"],
            id="star-stays-in-a-segment",
        ),
        pytest.param(
            {"source": {"projects": {"include": ["apps/**"]}}},
            ["platform/apps/api", "platform/apps/deep/worker"],
            id="double-star-spans-segments",
        ),
        pytest.param(
            {"source": {"projects": {"include": ["**/w*"]}}},
            ["platform/apps/deep/worker", "platform/web"],
            id="leading-double-star-matches-the-top-too",
        ),
        pytest.param(
            {"source": {"projects": {"exclude": ["tools/*", "web"]}}},
            ["platform/apps/api", "platform/apps/deep/worker"],
            id="exclude-after-include",
        ),
        pytest.param(
            {"source": {"projects": {"topics": ["python", "go"]}}},
            ["platform/tools/fmt", "platform/tools/lint"],
            id="any-of-the-topics",
        ),
        pytest.param(
            {"source": {"projects": {"include": ["t?ols/lin?"]}}},
            ["platform/tools/lint"],
            id="question-mark-is-one-character",
        ),
    ],
)
def test_the_filters_select_projects(fields: dict[str, object], expected: list[str]) -> None:
    assert paths(fields) == expected


def test_glob_characters_are_literal_otherwise() -> None:
    source = tree("platform/a.b", "platform/axb")
    spec = migration_spec(source={"projects": {"include": ["a.b"]}})
    assert [p.full_path for p in selected(source, spec)] == ["platform/a.b"]


@pytest.mark.parametrize(
    ("destination", "source_path", "expected"),
    [
        ({}, "platform", "platform"),
        ({}, "platform/apps/deep", "platform/apps/deep"),
        ({"parent": "migrated"}, "platform/apps", "migrated/platform/apps"),
        ({"parent": "a/b", "path": "plat2"}, "platform/apps", "a/b/plat2/apps"),
        ({"path": "plat2"}, "platform", "plat2"),
    ],
)
def test_destination_paths_keep_the_tree_under_the_parent(
    destination: dict[str, str], source_path: str, expected: str
) -> None:
    spec = migration_spec(destination=destination)
    assert destination_path(spec, source_path, "platform") == expected


def test_nested_source_groups_keep_only_the_part_below_the_migrated_group() -> None:
    spec = migration_spec(source={"group": "company/platform"}, destination={"parent": "new"})
    assert destination_path(spec, "company/platform/apps", "company/platform") == (
        "new/platform/apps"
    )


def test_destination_groups_list_parents_before_children() -> None:
    spec = migration_spec(destination={"parent": "new"})
    assert destination_groups(spec, SOURCE) == [
        ("new/platform", "Platform"),
        ("new/platform/apps", "Apps"),
        ("new/platform/tools", "Tools"),
        ("new/platform/apps/deep", "Deep"),
    ]
    without = migration_spec(source={"subgroups": False})
    assert destination_groups(without, SOURCE) == [("platform", "Platform")]


# -- child names ------------------------------------------------------------------------------

NAME_RULE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


def test_plain_paths_give_readable_names() -> None:
    assert child_name("mig", "apps/api") == "mig.apps.api"
    assert child_name("mig", "web") == "mig.web"


@pytest.mark.parametrize(
    "inside",
    ["my.lib", "My_Project", "apps/UPPER", "a" * 80, "deep/" * 20 + "x", "-dash", "x_"],
)
def test_other_paths_give_valid_names_ending_in_a_digest(inside: str) -> None:
    name = child_name("mig", inside)
    assert NAME_RULE.match(name), name
    assert len(name) <= NAME_LIMIT
    assert re.search(r"-[0-9a-f]{8}$", name)
    assert child_name("mig", inside) == name, "names are stable"


def test_paths_that_read_alike_get_different_names() -> None:
    alike = ["apps/my-lib", "apps/my.lib", "apps/my_lib", "apps.my-lib", "Apps/my-lib"]
    names = {child_name("mig", inside) for inside in alike}
    assert len(names) == len(alike)


def test_long_migration_names_still_leave_distinct_child_names() -> None:
    first = child_name("a" * 60 + "x", "apps/api")
    second = child_name("a" * 60 + "y", "apps/api")
    assert first != second
    assert len(first) <= NAME_LIMIT
    assert len(second) <= NAME_LIMIT


# -- children ---------------------------------------------------------------------------------

OWNER = Owner(NAME, "team", UID)


def test_child_bodies_carry_label_annotation_owner_and_defaults() -> None:
    spec = migration_spec(
        projects={
            "overrideParams": {"visibility": "internal"},
            "deletionPolicy": "Delete",
            "approval": "Manual",
        }
    )
    export, imported = child_bodies(OWNER, spec, "mig.apps.api", "platform/apps/api", "new/apps")
    for body in (export, imported):
        metadata = body["metadata"]
        assert metadata["name"] == "mig.apps.api"
        assert metadata["namespace"] == "team"
        assert metadata["labels"] == {MIGRATION_LABEL: NAME}
        assert metadata["annotations"] == {SOURCE_ANNOTATION: "platform/apps/api"}
        (owner,) = metadata["ownerReferences"]
        assert owner["uid"] == UID
        assert owner["kind"] == "GroupMigration"
        assert owner["controller"] is True
    assert export["kind"] == "ProjectExport"
    assert export["spec"]["project"] == "platform/apps/api"
    assert export["spec"]["gitlab"]["url"] == "https://source.example"
    assert imported["kind"] == "ProjectImport"
    assert imported["spec"]["gitlab"]["url"] == "https://dest.example"
    assert imported["spec"]["namespacePath"] == "new/apps"
    assert imported["spec"]["path"] == "api"
    assert imported["spec"]["source"] == {"exportRef": {"name": "mig.apps.api"}}
    assert imported["spec"]["deletionPolicy"] == "Delete"
    assert imported["spec"]["approval"] == "Manual"
    assert imported["spec"]["overrideParams"] == {"visibility": "internal"}


def _body(kind: str, **status: object) -> dict[str, object]:
    return {
        "kind": kind,
        "metadata": {
            "name": "mig.web",
            "labels": {MIGRATION_LABEL: NAME},
            "annotations": {SOURCE_ANNOTATION: "platform/web"},
            "ownerReferences": [
                {"kind": "GroupMigration", "uid": UID, "controller": True, "name": NAME}
            ],
        },
        "status": status,
    }


def _condition(kind: str, status: ConditionStatus, reason: str, message: str = "") -> dict:
    return {
        "type": kind,
        "status": status.value,
        "reason": reason,
        "message": message,
        "lastTransitionTime": "2025-06-02T12:00:00Z",
    }


def test_a_record_keeps_what_the_phase_needs() -> None:
    body = _body(
        "ProjectImport",
        conditions=[
            _condition("Ready", ConditionStatus.FALSE, "PathTaken", "taken"),
            _condition("Stalled", ConditionStatus.TRUE, "PathTaken", "taken"),
        ],
    )
    made = child_record(body)
    assert made == record("ProjectImport", stalled=("PathTaken", "taken"))
    assert child_record(_body("ProjectExport")) == record("ProjectExport")


def test_a_record_without_a_controller_has_no_owner() -> None:
    body = _body("ProjectExport")
    body["metadata"]["ownerReferences"] = []  # type: ignore[index]
    assert child_record(body).owner_uid == ""


@pytest.mark.parametrize(
    ("export", "imported", "phase"),
    [
        ({}, None, Phase.PENDING),
        ({"started": True}, None, Phase.EXPORTING),
        ({"started": True, "ready": True}, {}, Phase.IMPORTING),
        ({"ready": True}, {"started": True, "ready": True}, Phase.FINISHED),
        ({"stalled": ("ExportTooLarge", "big")}, {}, Phase.FAILED),
        ({"ready": True}, {"stalled": ("PathTaken", "taken")}, Phase.FAILED),
    ],
)
def test_a_pair_is_in_the_phase_its_records_say(
    export: dict[str, object] | None, imported: dict[str, object] | None, phase: Phase
) -> None:
    state = child_state(
        record("ProjectExport", **export) if export is not None else None,
        record("ProjectImport", **imported) if imported is not None else None,
    )
    assert state.phase is phase
    if phase is Phase.FAILED:
        assert state.reason in ("ExportTooLarge", "PathTaken")
        assert state.message


def test_pairs_say_whether_they_are_whole_and_owned() -> None:
    records = [
        record("ProjectExport", "mig.a"),
        record("ProjectImport", "mig.a"),
        record("ProjectExport", "mig.b"),
        record("ProjectExport", "mig.c", owner_uid="uid-old"),
        record("ProjectImport", "mig.c", owner_uid="uid-old"),
    ]
    pairs = {c.name: c for c in pairs_of(records, UID)}
    assert (pairs["mig.a"].complete, pairs["mig.a"].owned) == (True, True)
    assert (pairs["mig.b"].complete, pairs["mig.b"].owned) == (False, True)
    assert (pairs["mig.c"].complete, pairs["mig.c"].owned) == (True, False)
