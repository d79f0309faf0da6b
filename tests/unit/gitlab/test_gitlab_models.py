"""Tolerant response models: extra fields ignored, status strings kept verbatim with unknown
values mapped to ``UNKNOWN``, ``_links`` and ``failed_relations`` parsed; a 200 whose JSON
has the wrong shape is ``UnexpectedResponse``."""

from __future__ import annotations

import httpx
import pytest

from gitlab_ferry.gitlab import errors as e
from gitlab_ferry.gitlab.responses import (
    ExportStatus,
    ImportStatus,
    NamespaceRef,
    Project,
    RelationImportTracker,
    User,
)
from gitlab_ferry.gitlab_states import ExportState, ImportState, RelationImportState

FAILED_RELATION = {
    "id": 1,
    "created_at": "2020-01-02T03:04:05.000Z",
    "exception_class": "ActiveRecord::RecordInvalid",
    "source": "process_relation_item!",
    "exception_message": None,
    "relation_name": "merge_requests",
    "line_number": 12,
}


@pytest.mark.parametrize("state", [s for s in ExportState if s is not ExportState.UNKNOWN])
def test_known_export_states(bodies, state):
    status = ExportStatus.model_validate({**bodies.export_status, "export_status": state.value})
    assert status.state is state


@pytest.mark.parametrize("state", [s for s in ImportState if s is not ImportState.UNKNOWN])
def test_known_import_states(bodies, state):
    status = ImportStatus.model_validate({**bodies.import_status, "import_status": state.value})
    assert status.state is state


@pytest.mark.parametrize(
    "state", [s for s in RelationImportState if s is not RelationImportState.UNKNOWN]
)
def test_known_relation_import_states(bodies, state):
    tracker = RelationImportTracker.model_validate({**bodies.tracker, "status": state.value})
    assert tracker.state is state


@pytest.mark.parametrize("raw", ["exporting_relations", "Finished", "unknown"])
def test_unknown_export_status_is_kept_verbatim(bodies, raw):
    status = ExportStatus.model_validate({**bodies.export_status, "export_status": raw})
    assert (status.export_status, status.state) == (raw, ExportState.UNKNOWN)


@pytest.mark.parametrize("raw", ["importing_repository", "SCHEDULED", "paused"])
def test_unknown_import_status_is_kept_verbatim(bodies, raw):
    status = ImportStatus.model_validate({**bodies.import_status, "import_status": raw})
    assert (status.import_status, status.state) == (raw, ImportState.UNKNOWN)


@pytest.mark.parametrize("raw", ["timeout", "stale", "canceled"])
def test_unknown_relation_import_status_is_kept_verbatim(bodies, raw):
    tracker = RelationImportTracker.model_validate({**bodies.tracker, "status": raw})
    assert (tracker.status, tracker.state) == (raw, RelationImportState.UNKNOWN)


def test_project_import_state(bodies):
    assert Project.model_validate(bodies.project).import_state is ImportState.FINISHED
    assert Project.model_validate({**bodies.project, "import_status": "wat"}).import_state is (
        ImportState.UNKNOWN
    )
    without = {k: v for k, v in bodies.project.items() if k != "import_status"}
    assert Project.model_validate(without).import_state is ImportState.NONE


def test_export_links_are_parsed_from_underscore_links(bodies):
    status = ExportStatus.model_validate(bodies.export_status)
    assert status.links is not None
    assert status.links.api_url == bodies.export_status["_links"]["api_url"]
    assert status.links.web_url == bodies.export_status["_links"]["web_url"]


def test_links_are_absent_unless_finished(bodies):
    body = {**bodies.export_status, "export_status": "started"}
    del body["_links"]
    status = ExportStatus.model_validate(body)
    assert status.links is None
    assert status.state is ExportState.STARTED


def test_identity_fields_are_kept(bodies):
    status = ExportStatus.model_validate(bodies.export_status)
    identity = {key: getattr(status, key) for key in bodies.identity}
    assert identity == bodies.identity


def test_import_status_with_failed_relations(bodies):
    body = {
        **bodies.import_status,
        "import_status": "finished",
        "import_error": "Ask a maintainer to check the import status for more details.",
        "failed_relations": [FAILED_RELATION, {**FAILED_RELATION, "id": 2, "line_number": 0}],
        "stats": {"fetched": {"issues": 3}},
    }
    status = ImportStatus.model_validate(body)
    assert status.state is ImportState.FINISHED
    assert [r.model_dump() for r in status.failed_relations] == [
        FAILED_RELATION,
        {**FAILED_RELATION, "id": 2, "line_number": 0},
    ]
    assert status.import_error == body["import_error"]
    assert status.stats == {"fetched": {"issues": 3}}
    assert (status.import_type, status.correlation_id) == ("gitlab_project", "mezklWso3Za")


@pytest.mark.parametrize(
    ("model", "body_name"),
    [
        (ExportStatus, "export_status"),
        (ImportStatus, "import_status"),
        (RelationImportTracker, "tracker"),
        (Project, "project"),
        (NamespaceRef, "namespace"),
        (User, "user"),
    ],
)
def test_extra_fields_are_ignored(bodies, model, body_name):
    body = {
        **getattr(bodies, body_name),
        "brand_new_field": {"nested": [1, 2]},
        "links": "not the _links",
    }
    parsed = model.model_validate(body)
    assert not hasattr(parsed, "brand_new_field")
    assert parsed.id == body["id"]


def test_extra_fields_inside_failed_relations_are_ignored(bodies):
    relation = {**FAILED_RELATION, "new_gitlab_field": True}
    status = ImportStatus.model_validate({**bodies.import_status, "failed_relations": [relation]})
    assert status.failed_relations[0].relation_name == "merge_requests"


# -- through the client -----------------------------------------------------------------------


async def test_client_returns_tolerant_models(gitlab, client, bodies):
    gitlab.reply(
        httpx.Response(200, json={**bodies.export_status, "export_status": "x", "new": 1}),
        httpx.Response(
            200,
            json=[{**bodies.tracker, "status": "paused", "extra": 1}, bodies.tracker],
        ),
    )
    export = await client.export_status(1)
    assert (export.export_status, export.state) == ("x", ExportState.UNKNOWN)
    trackers = await client.relation_imports(1)
    assert [t.state for t in trackers] == [RelationImportState.UNKNOWN, RelationImportState.CREATED]
    assert trackers[0].status == "paused"


WRONG_SHAPES = [
    ("export_status", []),
    ("export_status", {"export_status": "finished"}),
    ("export_status", {"id": "one", "path_with_namespace": "g/p"}),
    ("import_status", {"id": 1, "path_with_namespace": "g/p", "failed_relations": "none"}),
    ("import_status", "scheduled"),
    ("import", {"message": "201 Created"}),
    ("remote_import", None),
    ("remote_import_s3", [1]),
    ("relation_import", {"id": 9}),
    ("relation_imports", {"id": 9, "relation": "issues", "status": "created"}),
    ("relation_imports", [{"id": 9}]),
    ("project", {"id": 1, "name": "p"}),
    ("projects_search", {"projects": []}),
    ("projects_search", [{"id": 1}]),
    ("namespace", {"id": 1, "path": "g"}),
    ("user", {"id": 1}),
    ("user", 42),
]


@pytest.mark.parametrize(("name", "body"), WRONG_SHAPES)
async def test_a_success_with_the_wrong_shape_is_an_unexpected_response(
    gitlab, client, endpoints, name, body
):
    endpoint = endpoints[name]
    gitlab.reply(httpx.Response(endpoint.ok().status_code, json=body))
    with pytest.raises(e.GitLabError) as caught:
        await endpoint.call(client)
    assert type(caught.value) is e.UnexpectedResponse
    assert (caught.value.endpoint, caught.value.retryable) == (name, True)


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("export_status", {"export_status": "finished"}),
        ("relation_imports", {"id": 9}),
        ("relation_imports", [{"id": 9}]),
        ("projects_search", {"projects": []}),
        ("projects_search", [{"id": 1}]),
    ],
)
async def test_an_unexpected_success_body_reports_its_status(gitlab, client, endpoints, name, body):
    gitlab.reply(httpx.Response(200, json=body))
    with pytest.raises(e.UnexpectedResponse) as caught:
        await endpoints[name].call(client)
    assert caught.value.status == 200
    assert str(caught.value).startswith("200 ")
