"""The GroupMigration planner and recorder: groups before projects, the three ways groups come
to be, children within ``maxInFlight``, orphans adopted, pairs cut short completed, one
failure stopping only itself, progress, and the ETA at GitLab's rate limits."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from migration_builders import NAME, children_for, migration_spec, observation, tree
from reconcile_builders import NOW, ago

from gitlab_ferry.api.group_migration import GroupMigrationSpec, GroupMigrationStatus
from gitlab_ferry.reconcile.migrations import (
    AdoptChildren,
    AwaitGroups,
    Child,
    CreateChildren,
    CreateGroups,
    ImportGroupTree,
    Limits,
    Migrating,
    MigrationObservation,
    Phase,
    RequestGroupExport,
    begin_migration,
    plan_migration,
    record_migration,
    wanted,
)
from gitlab_ferry.reconcile.migrations.planner import AFTER_GROUPS, CHILDREN_PER_PASS, eta
from gitlab_ferry.reconcile.plan import Done, Plan, Problem, Reason, Suspend, UpToDate
from gitlab_ferry.reconcile.timing import Polling

SOURCE = tree(
    "platform/web",
    "platform/apps/api",
    "platform/apps/deep/worker",
    groups=("platform/apps", "platform/apps/deep"),
)
ALL_GROUPS = {"platform": 1, "platform/apps": 2, "platform/apps/deep": 3}


def plan(
    spec: GroupMigrationSpec | None = None,
    status: GroupMigrationStatus | None = None,
    observed: MigrationObservation | None = None,
    **observed_fields: Any,
) -> Plan:
    spec = spec or migration_spec()
    observed = observed or observation(SOURCE, **observed_fields)
    return plan_migration(
        spec, NAME, 1, status or GroupMigrationStatus(), observed, NOW, recheck=300.0
    )


# -- groups -----------------------------------------------------------------------------------


def test_create_missing_creates_the_missing_groups_parents_first() -> None:
    made = plan(destination_groups={"platform": 1})
    assert isinstance(made.action, CreateGroups)
    assert [g.full_path for g in made.action.groups] == ["platform/apps", "platform/apps/deep"]
    assert [g.name for g in made.action.groups] == ["Apps", "Deep"]
    assert made.mutating
    assert made.verdict.reason is Reason.MIGRATING
    assert not made.verdict.stalled
    # GitLab answered the creates: the next pass hands out the projects at once.
    assert made.requeue_after == AFTER_GROUPS < Polling().minimum


def test_a_missing_destination_parent_is_never_created() -> None:
    spec = migration_spec(destination={"parent": "landing/zone"})
    made = plan(spec, destination_groups={})
    assert isinstance(made.action, AwaitGroups)
    assert made.verdict.reason is Reason.GROUPS_MISSING
    assert made.verdict.stalled
    assert "landing/zone" in made.verdict.message


def test_must_exist_waits_for_a_person_and_says_which_groups() -> None:
    spec = migration_spec(groups="MustExist")
    made = plan(spec, destination_groups={"platform": 1})
    assert isinstance(made.action, AwaitGroups)
    assert made.verdict.reason is Reason.GROUPS_MISSING
    assert "platform/apps" in made.verdict.message
    assert "platform/apps/deep" in made.reason
    assert made.requeue_after == 300.0


def test_group_import_exports_the_source_group_first() -> None:
    spec = migration_spec(groups="GroupImport")
    made = plan(spec, destination_groups={})
    assert isinstance(made.action, RequestGroupExport)
    assert made.action.group_id == 100
    assert made.mutating


def test_group_import_streams_the_export_after_it_was_requested() -> None:
    spec = migration_spec(groups="GroupImport", destination={"parent": "new"})
    status = GroupMigrationStatus(group_export_at=ago(minutes=1))
    made = plan(spec, status, destination_groups={"new": 7})
    assert isinstance(made.action, ImportGroupTree)
    assert (made.action.group_id, made.action.path, made.action.title) == (
        100,
        "platform",
        "Platform",
    )
    assert made.action.parent == "new"


def test_group_import_is_not_repeated_while_gitlab_creates_the_subgroups() -> None:
    spec = migration_spec(groups="GroupImport")
    status = GroupMigrationStatus(group_export_at=ago(minutes=3), group_import_at=ago(minutes=2))
    made = plan(spec, status, destination_groups={"platform": 1})
    assert isinstance(made.action, AwaitGroups)
    assert made.verdict.reason is Reason.MIGRATING
    assert not made.verdict.stalled


def test_the_wait_for_a_group_import_does_not_follow_the_recheck_interval() -> None:
    # An operator that rechecks refusals every few seconds still gives GitLab's import job
    # time to create the subgroups before making them one by one.
    spec = migration_spec(groups="GroupImport")
    status = GroupMigrationStatus(group_export_at=ago(minutes=3), group_import_at=ago(minutes=2))
    observed = observation(SOURCE, destination_groups={"platform": 1})
    made = plan_migration(spec, NAME, 1, status, observed, NOW, recheck=3.0)
    assert isinstance(made.action, AwaitGroups)


def test_subgroups_the_group_import_did_not_make_are_created_after_a_while() -> None:
    spec = migration_spec(groups="GroupImport")
    status = GroupMigrationStatus(group_export_at=ago(minutes=20), group_import_at=ago(minutes=10))
    made = plan(spec, status, destination_groups={"platform": 1, "platform/apps": 2})
    assert isinstance(made.action, CreateGroups)
    assert [g.full_path for g in made.action.groups] == ["platform/apps/deep"]


def test_an_import_attempt_that_did_not_land_imports_the_same_export_again() -> None:
    # An attempt is written before it is made: the download was still 404, or the operator
    # stopped before GitLab accepted it. The top group is not there, so nothing landed.
    spec = migration_spec(groups="GroupImport")
    status = GroupMigrationStatus(group_export_at=ago(minutes=3), group_import_at=ago(minutes=2))
    made = plan(spec, status, destination_groups={})
    assert isinstance(made.action, ImportGroupTree)


def test_an_export_never_downloadable_for_an_hour_is_requested_again() -> None:
    spec = migration_spec(groups="GroupImport")
    status = GroupMigrationStatus(group_export_at=ago(minutes=61), group_import_at=ago(minutes=1))
    made = plan(spec, status, destination_groups={})
    assert isinstance(made.action, RequestGroupExport)
    assert "never became downloadable" in made.reason
    first = plan(spec, GroupMigrationStatus(), destination_groups={})
    assert made.id != first.id


# -- projects ---------------------------------------------------------------------------------


def test_projects_are_handed_to_children_once_the_groups_exist() -> None:
    made = plan(destination_groups=ALL_GROUPS)
    assert isinstance(made.action, CreateChildren)
    pairs = {pair.name: pair for pair in made.action.pairs}
    assert set(pairs) == set(wanted(SOURCE, migration_spec(), NAME))
    assert pairs["mig.apps.deep.worker"].namespace_path == "platform/apps/deep"
    assert pairs["mig.web"].namespace_path == "platform"
    assert not made.mutating, "creating children sends nothing to GitLab"


def test_at_most_max_in_flight_projects_are_unfinished_at_once() -> None:
    spec = migration_spec(maxInFlight=2)
    under_way = children_for(SOURCE, spec, Phase.EXPORTING)
    made = plan(spec, destination_groups=ALL_GROUPS, children=under_way)
    assert isinstance(made.action, CreateChildren)
    assert len(made.action.pairs) == 1
    both = children_for(SOURCE, spec, Phase.EXPORTING, Phase.IMPORTING)
    waiting = plan(spec, destination_groups=ALL_GROUPS, children=both)
    assert isinstance(waiting.action, Migrating)
    settled = children_for(SOURCE, spec, Phase.FINISHED, Phase.FAILED)
    more = plan(spec, destination_groups=ALL_GROUPS, children=settled)
    assert isinstance(more.action, CreateChildren)
    assert len(more.action.pairs) == 1


def test_a_large_fan_out_is_made_in_batches_that_resume_where_the_last_stopped() -> None:
    large = tree(*(f"platform/team-{i % 7}/p{i:04d}" for i in range(250)),
                 groups=tuple(f"platform/team-{i}" for i in range(7)))  # fmt: skip
    groups = {"platform": 1} | {f"platform/team-{i}": 2 + i for i in range(7)}
    spec = migration_spec(maxInFlight=1000)
    names = list(wanted(large, spec, NAME))
    first = plan(spec, observed=observation(large, destination_groups=groups))
    assert isinstance(first.action, CreateChildren)
    assert [pair.name for pair in first.action.pairs] == names[:CHILDREN_PER_PASS]
    made = tuple(Child(pair.name, pair.project, Phase.PENDING) for pair in first.action.pairs)
    second = plan(spec, observed=observation(large, destination_groups=groups, children=made))
    assert isinstance(second.action, CreateChildren)
    assert [pair.name for pair in second.action.pairs] == names[
        CHILDREN_PER_PASS : 2 * CHILDREN_PER_PASS
    ]


def test_a_pair_cut_short_is_completed_even_when_the_limit_is_reached() -> None:
    spec = migration_spec(maxInFlight=1)
    (half,) = children_for(SOURCE, spec, Phase.PENDING)
    made = plan(spec, destination_groups=ALL_GROUPS, children=(replace(half, complete=False),))
    assert isinstance(made.action, CreateChildren)
    assert [pair.name for pair in made.action.pairs] == [half.name]


def test_children_of_an_earlier_migration_of_the_name_are_adopted_first() -> None:
    spec = migration_spec()
    first, second = children_for(SOURCE, spec, Phase.FINISHED, Phase.EXPORTING)
    orphan = replace(second, owned=False)
    made = plan(spec, destination_groups=ALL_GROUPS, children=(first, orphan))
    assert isinstance(made.action, AdoptChildren)
    assert made.action.names == (orphan.name,)


def test_children_of_projects_no_longer_selected_are_left_alone() -> None:
    spec = migration_spec(source={"projects": {"include": ["web"]}})
    broad = children_for(SOURCE, migration_spec(), Phase.FINISHED, Phase.EXPORTING, Phase.FINISHED)
    made = plan(
        spec, destination_groups=ALL_GROUPS, children=tuple(replace(c, owned=False) for c in broad)
    )
    assert isinstance(made.action, AdoptChildren)
    assert made.action.names == ("mig.web",)


def test_one_failed_project_is_reported_once_the_rest_are_done() -> None:
    spec = migration_spec()
    done = children_for(SOURCE, spec, Phase.FINISHED, Phase.FAILED, Phase.FINISHED)
    made = plan(spec, destination_groups=ALL_GROUPS, children=done)
    assert made.verdict.reason is Reason.PROJECTS_FAILED
    assert made.verdict.stalled
    assert "1 of 3" in made.verdict.message
    assert made.requeue_after == 600.0, "the source is listed again at the resync interval"


def test_a_failure_does_not_stop_the_others() -> None:
    spec = migration_spec()
    mixed = children_for(SOURCE, spec, Phase.FAILED, Phase.IMPORTING, Phase.EXPORTING)
    made = plan(spec, destination_groups=ALL_GROUPS, children=mixed)
    assert isinstance(made.action, Migrating)
    assert made.verdict.reason is Reason.MIGRATING
    assert not made.verdict.stalled


def test_everything_migrated_is_ready_until_the_next_listing() -> None:
    spec = migration_spec(resyncInterval="1h")
    done = children_for(SOURCE, spec, Phase.FINISHED, Phase.FINISHED, Phase.FINISHED)
    made = plan(spec, destination_groups=ALL_GROUPS, children=done)
    assert isinstance(made.action, UpToDate)
    assert made.verdict.ready
    assert made.verdict.reason is Reason.FINISHED
    assert made.requeue_after == 3600.0


def test_problems_and_suspension_come_before_anything_else() -> None:
    problem = Problem(Reason.GROUP_NOT_FOUND, "404 Group Not Found")
    blocked = plan(observed=MigrationObservation(problem=problem))
    assert blocked.verdict.reason is Reason.GROUP_NOT_FOUND
    assert blocked.verdict.stalled
    suspended = plan(migration_spec(suspend=True), destination_groups={})
    assert isinstance(suspended.action, Suspend)


def test_plan_ids_are_stable_for_the_same_inputs() -> None:
    first = plan(destination_groups={"platform": 1})
    again = plan(destination_groups={"platform": 1})
    other = plan(destination_groups={})
    assert first.id == again.id != other.id


# -- recording and the ETA --------------------------------------------------------------------


def test_the_record_counts_phases_progress_groups_and_failures() -> None:
    spec = migration_spec()
    kids = children_for(SOURCE, spec, Phase.FINISHED, Phase.FAILED)
    failed = replace(kids[1], reason="PathTaken", message="taken")
    observed = observation(SOURCE, destination_groups={"platform": 1}, children=(kids[0], failed))
    made = plan(spec, observed=observed)
    status = record_migration(
        spec, NAME, 1, GroupMigrationStatus(), observed, made, Done(None), NOW
    )
    assert status.progress == "1/3"
    counts = status.counts
    assert (counts.total, counts.finished, counts.failed, counts.pending) == (3, 1, 1, 1)
    assert (status.groups, status.groups_ready) == (3, 1)
    assert [(f.name, f.reason, f.message) for f in status.failures] == [
        (failed.name, "PathTaken", "taken")
    ]
    assert status.finished_at is None
    assert status.started_at == NOW


def test_created_groups_add_up_across_passes() -> None:
    spec = migration_spec()
    observed = observation(SOURCE, destination_groups={"platform": 1})
    made = plan(spec, observed=observed)
    status = GroupMigrationStatus(groups_created=1)
    after = record_migration(spec, NAME, 1, status, observed, made, Done(2), NOW)
    assert after.groups_created == 3


def test_the_group_requests_are_recorded_before_they_are_sent() -> None:
    spec = migration_spec(groups="GroupImport")
    export = plan(spec, destination_groups={})
    begun = begin_migration(GroupMigrationStatus(), export, NOW)
    assert begun.group_export_at == NOW
    assert begun.plan is not None
    imported = plan(spec, begun, destination_groups={})
    assert isinstance(imported.action, ImportGroupTree)
    assert begin_migration(begun, imported, NOW).group_import_at == NOW


def test_the_eta_follows_the_slowest_limit() -> None:
    projects = wanted(SOURCE, migration_spec(), NAME)
    # Three projects to export at 6/min, import at 6/min, download at 1/min per namespace:
    # the three live in three namespaces, so a minute covers them.
    assert eta(projects, (), Limits(), NOW) == NOW + timedelta(minutes=1)
    same = tree("platform/a", "platform/b", "platform/c", "platform/d")
    crowded = wanted(same, migration_spec(), NAME)
    assert eta(crowded, (), Limits(), NOW) == NOW + timedelta(minutes=4)
    per_project = Limits(downloads_per_namespace=False)
    assert eta(crowded, (), per_project, NOW) == NOW + timedelta(minutes=1)
    finished = children_for(same, migration_spec(), *[Phase.FINISHED] * 4)
    assert eta(crowded, finished, Limits(), NOW) is None


def test_the_eta_is_kept_while_progress_stands_still() -> None:
    spec = migration_spec()
    observed = observation(SOURCE, destination_groups=ALL_GROUPS)
    made = plan(spec, observed=observed)
    first = record_migration(spec, NAME, 1, GroupMigrationStatus(), observed, made, Done(0), NOW)
    later = NOW + timedelta(minutes=5)
    again = record_migration(spec, NAME, 1, first, observed, made, Done(0), later)
    assert again.eta == first.eta
