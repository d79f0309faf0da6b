"""What the planners send to each GitLab version, where a project must land, and how a
refusal stops: tables of (GitLab, spec, recorded, observation) -> Plan.

GitLab before 18.7 ignores ``namespace_id``/``namespace_path`` and puts the project in the
token user's namespace, routes appear (and hide behind feature flags) version by version, and
a request GitLab refused for a documented limit is not sent again until someone asks.
"""

from __future__ import annotations

import pytest
from reconcile_builders import (
    CURRENT,
    EA,
    NOW,
    Expect,
    accepted,
    assert_plan,
    export_obs,
    export_source,
    export_spec,
    export_status,
    field_of,
    gitlab,
    import_obs,
    import_spec,
    import_status,
    project,
    tracked,
)
from reconcile_builders import IA as A

from gitlab_ferry.api import ArtifactLocation as L
from gitlab_ferry.api import Refusal
from gitlab_ferry.gitlab_versions import (
    OLDEST_SUPPORTED,
    Capability,
    GitLabInfo,
    GitLabVersion,
    Support,
    maintainer_required,
    support,
)
from gitlab_ferry.reconcile.exports import plan_export, record_export
from gitlab_ferry.reconcile.exports.inputs import (
    S3_SINGLE_UPLOAD_LIMIT,
    S3ObjectInfo,
    export_spec_hash,
)
from gitlab_ferry.reconcile.imports import plan_import, record_import
from gitlab_ferry.reconcile.imports.inputs import landing_mismatch, route_for, target_for
from gitlab_ferry.reconcile.plan import Done, Failed, Problem
from gitlab_ferry.reconcile.plan import Reason as R

GEN = 4
V = GitLabVersion.parse


# -- versions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("17.11.3-ee", GitLabVersion(17, 11, 3)),
        ("v18.7.0", GitLabVersion(18, 7, 0)),
        ("16.11.0-pre", GitLabVersion(16, 11, 0)),
        ("13.12", GitLabVersion(13, 12, 0)),
        ("unknown", None),
        (None, None),
    ],
)
def test_versions_are_parsed_without_edition(text, version):
    assert GitLabVersion.parse(text) == version


@pytest.mark.parametrize(
    ("capability", "before", "at", "how"),
    [
        (Capability.NAMESPACE_ID_PARAMS, "18.6.9", "18.7.0", Support.AVAILABLE),
        (Capability.REMOTE_IMPORT, "13.11.9", "13.12.0", Support.FLAG_OFF),
        (Capability.REMOTE_IMPORT, "13.12.15", "14.0.0", Support.AVAILABLE),
        (Capability.REMOTE_IMPORT_S3, "14.8.9", "14.9.0", Support.FLAG_OFF),
        (Capability.REMOTE_IMPORT_S3, "15.10.9", "15.11.0", Support.AVAILABLE),
        (Capability.IMPORT_RELATION, "16.10.9", "16.11.0", Support.FLAG_OFF),
        (Capability.IMPORT_RELATION, "17.0.9", "17.1.0", Support.AVAILABLE),
    ],
)
def test_capabilities_change_at_their_cutover(capability, before, at, how):
    earlier = support(capability, V(before))
    assert earlier is not how
    assert support(capability, V(at)) is how


@pytest.mark.parametrize(
    ("version", "strict"),
    [
        ("15.9.8", False),
        ("15.10.4", False),
        ("15.10.5", True),
        ("15.11.0", False),
        ("15.11.1", True),
        ("16.0.0", True),
        (None, True),
    ],
)
def test_maintainer_rule_follows_its_backports(version, strict):
    assert maintainer_required(V(version)) is strict


def test_an_unknown_version_sends_only_what_every_gitlab_reads():
    unknown = GitLabInfo()
    assert unknown.supported
    assert not unknown.usable(Capability.NAMESPACE_ID_PARAMS)
    assert unknown.usable(Capability.REMOTE_IMPORT)
    assert not GitLabInfo(GitLabVersion(13, 11)).supported
    assert GitLabInfo(OLDEST_SUPPORTED).supported


# -- where the project lands ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "spec_fields", "sent"),
    [
        ("18.7.0", {"namespacePath": "team/sub"}, {"namespace_path": "team/sub"}),
        ("18.7.0", {"namespaceId": 42}, {"namespace_id": 42}),
        ("17.11.3", {"namespacePath": "team/sub"}, {"namespace": "team/sub"}),
        ("17.11.3", {"namespaceId": 42}, {"namespace": 42}),
        ("13.12.0", {"namespace": "team/sub"}, {"namespace": "team/sub"}),
        (None, {"namespacePath": "team/sub"}, {"namespace": "team/sub"}),
    ],
)
def test_the_namespace_travels_in_a_parameter_the_version_reads(version, spec_fields, sent):
    spec = import_spec(**{"namespacePath": None, **spec_fields})
    target = target_for(spec, GitLabInfo(V(version)), overwrite=False)
    namespaces = {k: getattr(target, k) for k in ("namespace", "namespace_id", "namespace_path")}
    assert {k: v for k, v in namespaces.items() if v is not None} == sent


def test_an_import_request_on_17_11_names_the_namespace_with_namespace():
    obs = import_obs(full_path="team/sub/app", gitlab=gitlab("17.11.3"))
    request = plan_import(import_spec(namespacePath="team/sub"), GEN, import_status(), obs, NOW)
    assert request.action.name == A.IMPORT
    assert (field_of(request.action, "namespace"), field_of(request.action, "namespace_path")) == (
        "team/sub",
        None,
    )
    assert "team/sub/app" in request.reason


@pytest.mark.parametrize(
    ("expected", "actual", "in_flight", "mismatch"),
    [
        ("team/app", "team/app", False, False),
        ("Team/App", "team/app", False, False),
        ("team/app", "root/app", False, True),
        ("team/app", "root/app", True, True),
        ("team/app", f"team/app-{'a' * 32}", True, False),
        ("team/app", f"team/app-{'a' * 32}", False, True),
        ("team/app", f"root/app-{'a' * 32}", True, True),
    ],
)
def test_landing_is_compared_with_the_full_path(expected, actual, in_flight, mismatch):
    assert landing_mismatch(expected, actual, in_flight=in_flight) is mismatch


def test_a_project_tracked_elsewhere_is_never_ready_and_nothing_is_sent():
    status = import_status(projectId=7, startedAt=NOW)
    obs = import_obs(tracked=tracked(7, "finished", path_with_namespace="root/app"))
    plan = plan_import(import_spec(), GEN, status, obs, NOW)
    assert_plan(plan, Expect(A.REPORT_WRONG_NAMESPACE, False, R.WRONG_NAMESPACE, stalled=True))
    assert "root/app" in plan.verdict.message
    assert "team/app" in plan.verdict.message


def test_an_accepted_import_in_the_wrong_namespace_is_reported_at_once():
    spec = import_spec()
    obs = import_obs(gitlab=gitlab("17.11.3"))
    plan = plan_import(spec, GEN, import_status(), obs, NOW)
    body = {"id": 9, "path_with_namespace": "root/app", "import_status": "scheduled"}
    status = record_import(GEN, False, import_status(), obs, plan, Done(accepted(body)), NOW)
    ready = next(c for c in status.conditions if c.type == "Ready")
    assert (ready.status, ready.reason) == ("False", R.WRONG_NAMESPACE.value)
    assert any(c.type == "Stalled" for c in status.conditions)
    assert status.gitlab_version == "17.11.3"


def test_manual_approval_shows_the_full_path_it_replaces():
    spec = import_spec(overwrite=True, approval="Manual")
    plan = plan_import(spec, GEN, import_status(), import_obs(at_path=project(5)), NOW)
    assert plan.awaiting_approval
    assert "team/app (id 5)" in plan.reason


# -- routes --------------------------------------------------------------------------------

EXPORT_REF = import_spec("exportRef")
S3_AWS = import_spec("s3")
S3_MINIO = import_spec("s3").model_copy(
    update={
        "source": import_spec("s3").source.model_copy(
            update={
                "s3": import_spec("s3").source.s3.model_copy(
                    update={"endpoint": "https://minio.storage.svc:9000"}
                )
            }
        )
    }
)
URL = import_spec("url")


@pytest.mark.parametrize(
    ("spec", "export", "info", "can_fetch", "route"),
    [
        pytest.param(URL, None, CURRENT, True, "remote-url", id="public-url-pulled-by-gitlab"),
        pytest.param(URL, None, CURRENT, False, "stream", id="in-cluster-url-streamed"),
        pytest.param(
            URL,
            None,
            gitlab("17.11.0", Capability.REMOTE_IMPORT),
            True,
            "stream",
            id="remote-import-flag-off-streamed",
        ),
        pytest.param(S3_AWS, None, CURRENT, True, "s3", id="aws-s3-by-remote-import-s3"),
        pytest.param(S3_AWS, None, gitlab("15.3.0"), True, "s3", id="s3-behind-a-flag-is-tried"),
        pytest.param(
            S3_AWS,
            None,
            gitlab("15.3.0", Capability.REMOTE_IMPORT_S3),
            True,
            "presigned-url",
            id="s3-flag-found-off-pulls-a-presigned-url",
        ),
        pytest.param(S3_AWS, None, gitlab("14.8.0"), True, "presigned-url", id="no-s3-route-yet"),
        pytest.param(
            EXPORT_REF,
            export_source(L.S3),
            gitlab("15.3.0", Capability.REMOTE_IMPORT_OF_S3_URLS),
            True,
            "stream",
            id="s3-urls-refused-while-s3-flag-on-streamed",
        ),
        pytest.param(URL, None, gitlab("13.12.0"), True, "remote-url", id="13-12-tries-remote"),
        pytest.param(
            S3_AWS,
            None,
            gitlab("15.11.0", Capability.REMOTE_IMPORT_S3, Capability.REMOTE_IMPORT),
            True,
            "stream",
            id="both-remote-routes-off-streamed",
        ),
        pytest.param(S3_MINIO, None, CURRENT, True, "stream", id="s3-compatible-streamed"),
        pytest.param(
            EXPORT_REF, export_source(L.S3), CURRENT, True, "presigned-url", id="export-in-aws"
        ),
        pytest.param(
            EXPORT_REF,
            export_source(L.S3, in_aws=False),
            CURRENT,
            True,
            "stream",
            id="export-in-minio-streamed",
        ),
        pytest.param(
            EXPORT_REF,
            export_source(L.S3),
            gitlab("18.7.0", Capability.REMOTE_IMPORT),
            True,
            "stream",
            id="export-in-aws-remote-import-off-streamed",
        ),
        pytest.param(
            EXPORT_REF, export_source(L.GITLAB), CURRENT, True, "stream", id="export-on-gitlab"
        ),
    ],
)
def test_routes_follow_what_the_gitlab_offers(spec, export, info, can_fetch, route):
    choice = route_for(spec, export, info, can_fetch)
    assert choice.route.value == route
    assert choice.why


def test_the_plan_names_the_route_and_why():
    obs = import_obs(gitlab=gitlab("15.3.0"))
    plan = plan_import(S3_AWS, GEN, import_status(), obs, NOW)
    assert field_of(plan.action, "route") == "s3"
    assert "import_project_from_remote_file_s3, off by default" in plan.reason
    off = import_obs(gitlab=gitlab("15.3.0", Capability.REMOTE_IMPORT_S3))
    fallback = plan_import(S3_AWS, GEN, import_status(), off, NOW)
    assert field_of(fallback.action, "route") == "presigned-url"
    assert "turned off on this GitLab" in fallback.reason


@pytest.mark.parametrize(
    ("info", "says"),
    [
        (gitlab("16.10.4"), "added in 16.11"),
        (gitlab("17.11.0", Capability.IMPORT_RELATION), "turned off"),
    ],
)
def test_relations_need_import_relation(info, says):
    spec = import_spec("exportRef", relations=["issues"])
    obs = import_obs(gitlab=info, export=export_source(L.GITLAB))
    plan = plan_import(spec, GEN, import_status(), obs, NOW)
    assert_plan(plan, Expect(A.UNSUPPORTED, False, R.UNSUPPORTED_BY_GITLAB, stalled=True))
    assert says in plan.verdict.message


# -- refusals ------------------------------------------------------------------------------

REFUSED = Refusal(
    reason=R.IMPORT_TOO_LARGE.value,
    message="413 Request Entity Too Large. Raise max_import_size.",
    generation=GEN,
    retry=None,
    at=NOW,
)


@pytest.mark.parametrize(
    ("generation", "retry", "stands"),
    [(GEN, None, True), (GEN + 1, None, False), (GEN, "2026-12-07", False)],
    ids=["same-spec-stands", "spec-changed-retries", "annotation-retries"],
)
def test_a_refused_import_is_not_sent_again_until_asked(generation, retry, stands):
    status = import_status(refusal=REFUSED.model_dump())
    plan = plan_import(URL, generation, status, import_obs(retry_request=retry), NOW)
    if stands:
        assert_plan(plan, Expect(A.REPORT_REFUSAL, False, R.IMPORT_TOO_LARGE, None, stalled=True))
        assert "max_import_size" in plan.verdict.message
    else:
        assert plan.action.name == A.IMPORT


def test_a_refusal_is_recorded_and_a_transient_failure_is_not():
    obs = import_obs()
    plan = plan_import(URL, GEN, import_status(), obs, NOW)
    refused = Failed(Problem(R.REMOTE_FILE_CONTENT_TYPE, "Content type 'text/html' not allowed"))
    status = record_import(GEN, False, import_status(), obs, plan, refused, NOW)
    assert status.refusal is not None
    assert (status.refusal.reason, status.refusal.generation) == ("RemoteFileContentType", GEN)
    assert "gitlabferry.dev/retry" in status.refusal.message
    flaky = Failed(Problem(R.GITLAB_UNAVAILABLE, "502", transient=True))
    assert record_import(GEN, False, import_status(), obs, plan, flaky, NOW).refusal is None
    for fixed_elsewhere in (R.PATH_TAKEN, R.FORBIDDEN, R.UNAUTHORIZED, R.NAMESPACE_NOT_FOUND):
        # A Secret or GitLab change fixes these; every pass looks again by itself.
        failed = Failed(Problem(fixed_elsewhere, "no"))
        assert record_import(GEN, False, import_status(), obs, plan, failed, NOW).refusal is None


def test_a_refused_export_is_not_requested_again():
    spec = export_spec()
    refusal = REFUSED.model_copy(update={"reason": R.EXPORT_TOO_LARGE.value})
    status = export_status(refusal=refusal.model_dump())
    plan = plan_export(spec, status, export_obs(), NOW, generation=GEN)
    assert_plan(plan, Expect(EA.REPORT_REFUSAL, False, R.EXPORT_TOO_LARGE, None, stalled=True))
    again = plan_export(spec, status, export_obs(retry_request="now"), NOW, generation=GEN)
    assert again.action.name == EA.REQUEST


# -- S3's single-upload cap ------------------------------------------------------------------

BIG = S3_SINGLE_UPLOAD_LIMIT + 1


def test_a_project_past_5_gib_is_copied_to_s3_in_parts():
    spec = export_spec("s3")
    request = plan_export(spec, export_status(), export_obs(exported_size=BIG), NOW, generation=1)
    assert (request.action.name, field_of(request.action, "route")) == (
        EA.REQUEST,
        "relay",
    )
    small = plan_export(spec, export_status(), export_obs(exported_size=1024), NOW, generation=1)
    assert field_of(small.action, "route") == "s3"


def test_a_finished_relayed_export_is_copied_then_recorded():
    spec = export_spec("s3")
    begun = export_status(
        startedAt=NOW,
        specHash=export_spec_hash(spec),
        attempts=1,
        route="relay",
        destinationKey="backups/app.tar.gz",
    )
    relay = plan_export(spec, begun, export_obs("finished"), NOW, generation=1)
    assert (relay.action.name, relay.mutating) == (EA.RELAY, True)
    copied = Done(S3ObjectInfo(size=7, etag="e-2", sha256="ab" * 32))
    status = record_export(spec, 1, begun, export_obs("finished"), relay, copied, NOW)
    assert status.artifact is not None
    assert (status.artifact.location, status.artifact.sha256) == (L.S3, "ab" * 32)
    after = plan_export(spec, status, export_obs("finished"), NOW, generation=1)
    assert after.action.name == EA.UP_TO_DATE


def test_a_presigned_s3_upload_url_past_5_gib_stops_with_the_reason():
    spec = export_spec("upload")
    obs = export_obs(exported_size=BIG, upload_to_s3=True)
    plan = plan_export(spec, export_status(), obs, NOW, generation=1)
    assert_plan(plan, Expect(EA.BLOCKED, False, R.S3_UPLOAD_TOO_LARGE, stalled=True))
    assert "spec.s3" in plan.verdict.message
    other = plan_export(spec, export_status(), export_obs(exported_size=BIG), NOW, generation=1)
    assert other.action.name == EA.REQUEST
