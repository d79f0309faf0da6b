"""The CRDs against a real API server: they become Established, every example is accepted
and defaulted as the models say, bad objects are refused at apply time with a message that
names the field, and kubectl shows the printer columns and the models' descriptions.

No operator runs here: what is checked is the API server's own validation (OpenAPI schema,
CEL rules, strict field validation), printing and explain.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gitlab_ferry.api import (
    ProjectExport,
    ProjectExportSpec,
    ProjectImport,
    ProjectImportSpec,
)
from gitlab_ferry.api.group_migration import GroupMigration
from gitlab_ferry.controller.validation import validated

Kubectl = Callable[..., "subprocess.CompletedProcess[str]"]

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
GROUP, VERSION = "gitlabferry.dev", "v1alpha1"
PLURALS = {
    "ProjectExport": "projectexports",
    "ProjectImport": "projectimports",
    "GroupMigration": "groupmigrations",
}
MODELS: dict[str, type[ProjectExport] | type[ProjectImport] | type[GroupMigration]] = {
    "ProjectExport": ProjectExport,
    "ProjectImport": ProjectImport,
    "GroupMigration": GroupMigration,
}

GITLAB = {"url": "https://gitlab.example.com", "tokenSecretRef": {"name": "gitlab-token"}}
EXPORT_SPEC: dict[str, Any] = {"gitlab": GITLAB, "project": "gitlab-org/gitlab-test"}
IMPORT_SPEC: dict[str, Any] = {
    "gitlab": GITLAB,
    "path": "gitlab-test",
    "namespacePath": "gitlab-org",
    "source": {"exportRef": {"name": "gitlab-test"}},
}
UPLOAD = {"urlSecretRef": {"name": "upload-url"}}
S3 = {"bucket": "backups", "key": "{project}.tar.gz", "credentialsSecretRef": {"name": "s3"}}
REMOVE = object()  # a change that deletes the field
E, I = "ProjectExport", "ProjectImport"  # noqa: E741


def document(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    }


def changed(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``{"a.b.c": value}`` changes applied (``REMOVE`` deletes the field)."""
    spec = copy.deepcopy(base)
    for dotted, value in changes.items():
        *parents, leaf = dotted.split(".")
        node = spec
        for part in parents:
            node = node.setdefault(part, {})
        if value is REMOVE:
            del node[leaf]
        else:
            node[leaf] = copy.deepcopy(value)
    return spec


def apply(
    kubectl: Kubectl, namespace: str, body: dict[str, Any]
) -> subprocess.CompletedProcess[str]:
    return kubectl(
        "apply",
        "--server-side",
        "-n",
        namespace,
        "-f",
        "-",
        check=False,
        input=yaml.safe_dump(body),
    )


def get(custom_objects: client.CustomObjectsApi, namespace: str, kind: str, name: str) -> Any:
    return custom_objects.get_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURALS[kind], name
    )


def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def names_field(message: str, field: str) -> bool:
    """Whether kubectl's message names ``field`` as a path ("spec.gitlab.url: ..."), not
    merely as part of a longer one."""
    return re.search(rf"(?<![\w.\]]){re.escape(field)}: ", message) is not None


# --- the CRDs ---------------------------------------------------------------------------


def test_crds_are_established_and_structural(
    crds: list[str], apiextensions: client.ApiextensionsV1Api
) -> None:
    for name in crds:
        status = apiextensions.read_custom_resource_definition(name).status
        assert status is not None
        assert status.accepted_names is not None
        conditions = {c.type: c for c in status.conditions or []}
        assert conditions["Established"].status == "True", name
        assert conditions["NamesAccepted"].status == "True", name
        # the server reports a non-structural schema (or a bad CEL rule) as a condition
        assert "NonStructuralSchema" not in conditions, conditions["NonStructuralSchema"].message
        assert status.accepted_names.short_names in (["pexport"], ["pimport"], ["gmig"])
        assert status.accepted_names.categories == ["gitlab"]
        assert status.stored_versions == [VERSION]


# --- examples -----------------------------------------------------------------------------


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.stem)
def test_example_is_accepted_and_defaulted_like_the_models(
    crds: list[str],
    kubectl: Kubectl,
    namespace: str,
    custom_objects: client.CustomObjectsApi,
    example: Path,
) -> None:
    result = kubectl("apply", "--server-side", "-n", namespace, "-f", str(example), check=False)
    assert result.returncode == 0, result.stderr
    documents = [doc for doc in yaml.safe_load_all(example.read_text()) if doc]
    assert documents
    for doc in documents:
        stored = get(custom_objects, namespace, doc["kind"], doc["metadata"]["name"])
        model = MODELS[doc["kind"]].model_validate(doc)
        expected = model.model_dump(by_alias=True, exclude_none=True, mode="json")["spec"]
        # the API server's structural defaulting and the models' defaults agree field by field
        assert stored["spec"] == expected
        assert "status" not in stored
        spec, written = stored["spec"], doc["spec"]
        assert spec["suspend"] is False
        if doc["kind"] == "GroupMigration":
            for side in ("source", "destination"):
                assert spec[side]["gitlab"]["tokenSecretRef"]["key"] == "token"
            assert spec["source"]["subgroups"] is True
            assert spec["maxInFlight"] == written.get("maxInFlight", 20)
            continue
        assert spec["gitlab"]["tokenSecretRef"]["key"] == "token"  # no example names the key
        assert spec["gitlab"]["tokenType"] == "PrivateToken"
        if doc["kind"] == E:
            assert spec["timeout"] == written.get("timeout", "6h")
            if "upload" in spec:
                assert spec["upload"]["httpMethod"] == written["upload"].get("httpMethod", "PUT")
        else:
            assert spec["timeout"] == "24h"
            assert spec["approval"] == written.get("approval", "Auto")
            assert spec["deletionPolicy"] == written.get("deletionPolicy", "Orphan")
            assert spec["overwrite"] == written.get("overwrite", False)


DEFAULTS = [
    pytest.param(
        "ProjectExport",
        {**EXPORT_SPEC, "upload": UPLOAD},
        {
            "gitlab.tokenSecretRef.key": "token",
            "gitlab.tokenType": "PrivateToken",
            "upload.httpMethod": "PUT",
            "upload.urlSecretRef.key": "url",
            "timeout": "6h",
            "suspend": False,
        },
        id="export-upload",
    ),
    pytest.param(
        "ProjectExport",
        {**EXPORT_SPEC, "s3": S3, "gitlab": {**GITLAB, "caBundleSecretRef": {"name": "ca"}}},
        {
            "s3.region": "us-east-1",
            "s3.forcePathStyle": False,
            "s3.credentialsSecretRef.accessKeyIdKey": "AWS_ACCESS_KEY_ID",
            "s3.credentialsSecretRef.secretAccessKeyKey": "AWS_SECRET_ACCESS_KEY",
            "s3.credentialsSecretRef.sessionTokenKey": "AWS_SESSION_TOKEN",
            "gitlab.caBundleSecretRef.key": "ca.crt",
        },
        id="export-s3",
    ),
    pytest.param(
        "ProjectImport",
        {**IMPORT_SPEC, "source": {"urlSecretRef": {"name": "archive"}}},
        {
            "gitlab.tokenSecretRef.key": "token",
            "timeout": "24h",
            "approval": "Auto",
            "deletionPolicy": "Orphan",
            "overwrite": False,
            "suspend": False,
            "source.urlSecretRef.key": "url",
        },
        id="import-url-secret",
    ),
]


@pytest.mark.parametrize(("kind", "spec", "defaults"), DEFAULTS)
def test_server_applies_the_documented_defaults(
    crds: list[str],
    kubectl: Kubectl,
    namespace: str,
    custom_objects: client.CustomObjectsApi,
    kind: str,
    spec: dict[str, Any],
    defaults: dict[str, Any],
) -> None:
    result = apply(kubectl, namespace, document(kind, "defaults", spec))
    assert result.returncode == 0, result.stderr
    stored = get(custom_objects, namespace, kind, "defaults")["spec"]
    for dotted, value in defaults.items():
        node = stored
        for part in dotted.split("."):
            node = node[part]
        assert node == value, dotted
    for absent in ("schedule", "maxAge", "relations", "namespaceId", "description"):
        assert absent not in stored  # optional fields get no default (no null is stored)


# --- invalid objects ----------------------------------------------------------------------


def bad(case: str, kind: str, changes: dict[str, Any], field: str, phrase: str) -> Any:
    """A valid spec with ``changes``; kubectl must name ``field`` and say ``phrase``."""
    return pytest.param(kind, changes, field, phrase, id=case)


LONG = "x" * 2001
TWO_SOURCES = {"exportRef": {"name": "a"}, "url": "https://example.com/a.tar.gz"}
S3_SOURCE_NO_REGION = {"s3": {"bucket": "b1", "key": "k", "credentialsSecretRef": {"name": "s"}}}
NOT_DECLARED = "field not declared in schema"  # kubectl's strict field validation

INVALID: list[Any] = [
    # ProjectExport: CEL rules
    bad("export-upload-and-s3", E, {"upload": UPLOAD, "s3": S3},
        "spec.s3", "at most one destination may be set: upload or s3"),
    bad("export-schedule-and-maxage", E, {"schedule": "0 3 * * *", "maxAge": "7d"},
        "spec.maxAge", "schedule and maxAge are mutually exclusive"),
    bad("export-cron-six-fields", E, {"schedule": "0 0 3 * * *"},
        "spec.schedule", "cron expression with five fields"),
    bad("export-cron-four-fields", E, {"schedule": "*/15 3 * *"},
        "spec.schedule", "cron expression with five fields"),
    bad("export-cron-macro", E, {"schedule": "@midnight"},
        "spec.schedule", "cron expression with five fields"),
    bad("export-project-zero", E, {"project": 0},
        "spec.project", "must be a positive numeric id"),
    bad("export-project-negative", E, {"project": -7},
        "spec.project", "must be a positive numeric id"),
    bad("export-project-no-slash", E, {"project": "gitlab-test"},
        "spec.project", "or a full path such as group/project"),
    bad("export-project-spaces", E, {"project": "gitlab org/gitlab test"},
        "spec.project", "or a full path such as group/project"),
    bad("export-project-trailing-slash", E, {"project": "gitlab-org/"},
        "spec.project", "or a full path such as group/project"),
    # ProjectExport: OpenAPI schema
    bad("export-project-missing", E, {"project": REMOVE},
        "spec.project", "Required value"),
    bad("export-project-boolean", E, {"project": True},
        "spec.project", "must be of type integer,string"),
    bad("gitlab-url-not-http", E, {"gitlab.url": "ftp://gitlab.example.com"},
        "spec.gitlab.url", "should match"),
    bad("gitlab-url-no-scheme", E, {"gitlab.url": "gitlab.example.com"},
        "spec.gitlab.url", "should match"),
    bad("gitlab-token-missing", E, {"gitlab.tokenSecretRef": REMOVE},
        "spec.gitlab.tokenSecretRef", "Required value"),
    bad("gitlab-token-empty-name", E, {"gitlab.tokenSecretRef.name": ""},
        "spec.gitlab.tokenSecretRef.name", "should be at least 1 chars long"),
    bad("gitlab-token-as-string", E, {"gitlab.tokenSecretRef": "gitlab-token"},
        ".spec.gitlab.tokenSecretRef", "expected map"),
    bad("gitlab-token-type-basic", E, {"gitlab.tokenType": "Basic"},
        "spec.gitlab.tokenType", 'Unsupported value: "Basic"'),
    bad("rate-limit-negative", E, {"gitlab.rateLimits": {"export": -1}},
        "spec.gitlab.rateLimits.export", "should be greater than or equal to 0"),
    bad("rate-limit-scope-group", E, {"gitlab.rateLimits": {"downloadScope": "Group"}},
        "spec.gitlab.rateLimits.downloadScope", 'Unsupported value: "Group"'),
    bad("upload-method-patch", E, {"upload": {**UPLOAD, "httpMethod": "PATCH"}},
        "spec.upload.httpMethod", 'Unsupported value: "PATCH"'),
    bad("upload-without-secret", E, {"upload": {"httpMethod": "PUT"}},
        "spec.upload.urlSecretRef", "Required value"),
    bad("export-timeout-words", E, {"timeout": "6 hours"},
        "spec.timeout", "should match"),
    bad("export-maxage-weeks", E, {"maxAge": "1w"},
        "spec.maxAge", "should match"),
    bad("s3-bucket-too-short", E, {"s3": {**S3, "bucket": "ab"}},
        "spec.s3.bucket", "should be at least 3 chars long"),
    bad("s3-without-credentials", E, {"s3": {"bucket": "backups", "key": "x.tar.gz"}},
        "spec.s3.credentialsSecretRef", "Required value"),
    bad("s3-endpoint-no-scheme", E, {"s3": {**S3, "endpoint": "minio:9000"}},
        "spec.s3.endpoint", "should match"),
    bad("export-suspend-string", E, {"suspend": "yes"},
        ".spec.suspend", "expected boolean"),
    bad("export-description-too-long", E, {"description": LONG},
        "spec.description", "Too long"),
    # strict field validation: a typo or an unsupported field is refused, not pruned
    bad("unknown-field", E, {"destination": "s3"},
        ".spec.destination", NOT_DECLARED),
    bad("token-secret-other-namespace", E, {"gitlab.tokenSecretRef.namespace": "other"},
        ".spec.gitlab.tokenSecretRef.namespace", NOT_DECLARED),
    bad("field-wrong-case", E, {"maxage": "7d"},
        ".spec.maxage", NOT_DECLARED),
    bad("rate-limits-outside-gitlab", E, {"rateLimits": {"export": 1}},
        ".spec.rateLimits", NOT_DECLARED),
    # ProjectImport: CEL rules
    bad("import-no-source", I, {"source": {}},
        "spec.source", "exactly one source must be set"),
    bad("import-two-sources", I, {"source": TWO_SOURCES},
        "spec.source", "exactly one source must be set"),
    bad("import-url-ftp", I, {"source": {"url": "ftp://example.com/a.tar.gz"}},
        "spec.source.url", "url must be an http or https URL"),
    bad("namespace-and-namespace-id", I,
        {"namespace": "gitlab-org", "namespaceId": 9, "namespacePath": REMOVE},
        "spec.namespaceId", "namespace, namespaceId and namespacePath are mutually exclusive"),
    bad("namespace-id-and-path", I, {"namespaceId": 9},
        "spec.namespaceId", "namespace, namespaceId and namespacePath are mutually exclusive"),
    bad("relations-with-overwrite", I, {"relations": ["issues"], "overwrite": True},
        "spec.overwrite", "overwrite cannot be combined with relations"),
    bad("relations-with-delete", I, {"relations": ["issues"], "deletionPolicy": "Delete"},
        "spec.deletionPolicy", "deletionPolicy Delete cannot be used with relations"),
    # ProjectImport: OpenAPI schema
    bad("import-source-missing", I, {"source": REMOVE},
        "spec.source", "Required value"),
    bad("import-path-missing", I, {"path": REMOVE},
        "spec.path", "Required value"),
    bad("namespace-id-zero", I, {"namespaceId": 0, "namespacePath": REMOVE},
        "spec.namespaceId", "should be greater than 0"),
    bad("namespace-path-leading-slash", I, {"namespacePath": "/gitlab-org"},
        "spec.namespacePath", "should match"),
    bad("path-with-slash", I, {"path": "gitlab-org/gitlab-test"},
        "spec.path", "should match"),
    bad("path-leading-dash", I, {"path": "-gitlab-test"},
        "spec.path", "should match"),
    bad("relation-labels", I, {"relations": ["labels"]},
        "spec.relations[0]", 'Unsupported value: "labels"'),
    bad("relations-duplicate", I, {"relations": ["issues", "issues"]},
        ".spec.relations", 'duplicate entries for key [="issues"]'),
    bad("relations-empty", I, {"relations": []},
        "spec.relations", "should have at least 1 items"),
    bad("relations-not-a-list", I, {"relations": "issues"},
        ".spec.relations", "expected list"),
    bad("approval-sometimes", I, {"approval": "Sometimes"},
        "spec.approval", 'Unsupported value: "Sometimes"'),
    bad("deletion-policy-keep", I, {"deletionPolicy": "Keep"},
        "spec.deletionPolicy", 'Unsupported value: "Keep"'),
    bad("import-timeout-fraction", I, {"timeout": "1.5h"},
        "spec.timeout", "should match"),
    bad("s3-source-needs-region", I, {"source": S3_SOURCE_NO_REGION},
        "spec.source.s3.region", "Required value"),
    bad("url-secret-empty-name", I, {"source": {"urlSecretRef": {"name": ""}}},
        "spec.source.urlSecretRef.name", "should be at least 1 chars long"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "changes", "field", "phrase"), INVALID)
def test_invalid_object_is_refused_at_apply_time(
    crds: list[str],
    kubectl: Kubectl,
    namespace: str,
    custom_objects: client.CustomObjectsApi,
    kind: str,
    changes: dict[str, Any],
    field: str,
    phrase: str,
) -> None:
    spec = changed(EXPORT_SPEC if kind == E else IMPORT_SPEC, changes)
    result = apply(kubectl, namespace, document(kind, "bad", spec))
    assert result.returncode != 0, f"the API server accepted {spec}"
    message = one_line(result.stderr)
    assert names_field(message, field), message
    assert phrase in message, message
    with pytest.raises(ApiException) as missing:
        get(custom_objects, namespace, kind, "bad")
    assert missing.value.status == 404


# Cases the API server refuses but the models and the operator's own spec checks accept.
# ``gitlab-ferry plan -f <file>`` validates a file with the models only (no API server), and
# an object stored before a CRD upgrade is never re-validated by the server, so the operator
# should refuse what the server refuses (transition rules aside). Bugs: fix, then the strict
# xfail turns into a failure that asks for this entry to be removed.
MODELS_ACCEPT: dict[str, str] = {}


def model_cases() -> list[Any]:
    return [
        pytest.param(
            *case.values,
            id=case.id,
            marks=[pytest.mark.xfail(strict=True, reason=MODELS_ACCEPT[case.id])]
            if case.id in MODELS_ACCEPT
            else [],
        )
        for case in INVALID
    ]


@pytest.mark.parametrize(("kind", "changes", "field", "phrase"), model_cases())
def test_models_refuse_what_the_server_refuses(
    kind: str, changes: dict[str, Any], field: str, phrase: str
) -> None:
    body = document(kind, "bad", changed(EXPORT_SPEC if kind == E else IMPORT_SPEC, changes))
    spec_model = ProjectExportSpec if kind == E else ProjectImportSpec
    refused = validated(spec_model, body)
    assert isinstance(refused, str), (
        f"the models accept what the API server refuses ({field}: {phrase})"
    )


def test_there_are_enough_distinct_invalid_cases() -> None:
    ids = [case.id for case in INVALID]
    assert len(ids) == len(set(ids)) >= 25


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(["issues"], None, id="remove-relations"),
        pytest.param(None, ["issues"], id="add-relations"),
    ],
)
def test_relations_cannot_be_added_or_removed_after_creation(
    crds: list[str],
    kubectl: Kubectl,
    namespace: str,
    custom_objects: client.CustomObjectsApi,
    before: list[str] | None,
    after: list[str] | None,
) -> None:
    def spec(relations: list[str] | None) -> dict[str, Any]:
        return IMPORT_SPEC if relations is None else {**IMPORT_SPEC, "relations": relations}

    created = apply(kubectl, namespace, document(I, "reimport", spec(before)))
    assert created.returncode == 0, created.stderr
    result = apply(kubectl, namespace, document(I, "reimport", spec(after)))
    assert result.returncode != 0, "the API server let relations be added or removed"
    message = one_line(result.stderr)
    assert names_field(message, "spec.relations"), message
    assert "relations cannot be added or removed after creation" in message
    stored = get(custom_objects, namespace, I, "reimport")
    assert stored["spec"].get("relations") == before
    assert stored["metadata"]["generation"] == 1


def test_relations_can_change_while_present(
    crds: list[str], kubectl: Kubectl, namespace: str, custom_objects: client.CustomObjectsApi
) -> None:
    # the transition rule compares presence only: editing the list is allowed
    for relations in (["issues"], ["issues", "milestones"]):
        result = apply(
            kubectl, namespace, document(I, "reimport", {**IMPORT_SPEC, "relations": relations})
        )
        assert result.returncode == 0, result.stderr
    assert get(custom_objects, namespace, I, "reimport")["spec"]["relations"] == [
        "issues",
        "milestones",
    ]


# --- printing, explain, the status subresource --------------------------------------------


def ready_status(**fields: Any) -> str:
    condition = {
        "type": "Ready",
        "status": "True",
        "reason": "Exported",
        "message": "",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }
    return json.dumps({"status": {"conditions": [condition | fields.pop("ready", {})], **fields}})


def table(output: str) -> list[list[str]]:
    return [line.split() for line in output.strip().splitlines() if line.strip()]


@pytest.fixture
def printed_objects(crds: list[str], kubectl: Kubectl, namespace: str) -> str:
    export = document(E, "nightly", {**EXPORT_SPEC, "project": 42})
    imp = document(I, "restore", IMPORT_SPEC)
    for body in (export, imp):
        result = apply(kubectl, namespace, body)
        assert result.returncode == 0, result.stderr
    kubectl(
        "patch", "projectexport", "nightly", "-n", namespace, "--subresource=status",
        "--type=merge", "-p", ready_status(exportStatus="finished"),
    )  # fmt: skip
    kubectl(
        "patch", "projectimport", "restore", "-n", namespace, "--subresource=status",
        "--type=merge", "-p",
        ready_status(
            importStatus="started",
            pathWithNamespace="gitlab-org/gitlab-test",
            ready={"status": "False", "reason": "Importing"},
        ),
    )  # fmt: skip
    return namespace


HEADER = ["NAME", "STATUS", "PROJECT", "READY", "REASON", "AGE"]
EXPORT_ROW = ["nightly", "finished", "42", "True", "Exported"]
IMPORT_ROW = ["restore", "started", "gitlab-org/gitlab-test", "False", "Importing"]


@pytest.mark.parametrize(
    ("resources", "rows"),
    [
        pytest.param("projectexports,projectimports", [EXPORT_ROW, IMPORT_ROW], id="plurals"),
        pytest.param("gitlab", [EXPORT_ROW, IMPORT_ROW], id="category"),
        pytest.param("pexport", [EXPORT_ROW], id="short-pexport"),
        pytest.param("pimport", [IMPORT_ROW], id="short-pimport"),
    ],
)
def test_get_prints_the_columns(
    kubectl: Kubectl, printed_objects: str, resources: str, rows: list[list[str]]
) -> None:
    output = kubectl("get", resources, "-n", printed_objects).stdout
    lines = table(output)
    headers = [line for line in lines if line[0] == "NAME"]
    assert headers == [HEADER] * len(rows), output
    printed = [line for line in lines if line[0] != "NAME"]
    # kubectl prefixes names with the resource when it prints several kinds
    assert [[line[0].rsplit("/", 1)[-1], *line[1:5]] for line in printed] == rows, output
    assert all(re.fullmatch(r"\d+[smhd]", line[5]) for line in printed), output


def test_columns_are_empty_before_the_operator_reports(
    crds: list[str], kubectl: Kubectl, namespace: str
) -> None:
    result = apply(kubectl, namespace, document(I, "fresh", IMPORT_SPEC))
    assert result.returncode == 0, result.stderr
    lines = table(kubectl("get", "pimport", "fresh", "-n", namespace).stdout)
    assert lines[0] == HEADER
    # blank STATUS, PROJECT, READY and REASON: only the name and the age are printed
    assert lines[1][0] == "fresh"
    assert len(lines[1]) == 2
    assert re.fullmatch(r"\d+[smhd]", lines[1][1])


EXPLAIN = [
    pytest.param(
        "projectexport.spec.s3.key",
        ["FIELD: key <string>", "Object key.", "{timestamp} (YYYYMMDDTHHMMSSZ)"],
        id="export-s3-key",
    ),
    pytest.param(
        "projectimport.spec.source",
        ["Where the archive comes from.", "exportRef", "urlSecretRef"],
        id="import-source",
    ),
    pytest.param(
        "projectimport.spec.relations",
        ["Re-import only these relations", "[]string"],
        id="import-relations",
    ),
    pytest.param(
        "projectexport.status.conditions",
        ["Ready, Reconciling and Stalled conditions."],
        id="export-conditions",
    ),
    pytest.param(
        "pexport",
        ["ProjectExport keeps an export archive of one GitLab project"],
        id="short-name",
    ),
]


@pytest.mark.parametrize(("field", "phrases"), EXPLAIN)
def test_explain_prints_the_model_descriptions(
    crds: list[str], kubectl: Kubectl, field: str, phrases: list[str]
) -> None:
    output = one_line(kubectl("explain", field).stdout)
    for phrase in phrases:
        assert phrase in output, output


def test_status_is_a_subresource(
    crds: list[str], kubectl: Kubectl, namespace: str, custom_objects: client.CustomObjectsApi
) -> None:
    result = apply(kubectl, namespace, document(E, "gen", EXPORT_SPEC))
    assert result.returncode == 0, result.stderr
    assert get(custom_objects, namespace, E, "gen")["metadata"]["generation"] == 1

    # a status patch does not bump the generation
    kubectl(
        "patch", "projectexport", "gen", "-n", namespace, "--subresource=status",
        "--type=merge", "-p", ready_status(observedGeneration=1),
    )  # fmt: skip
    stored = get(custom_objects, namespace, E, "gen")
    assert stored["metadata"]["generation"] == 1
    assert stored["status"]["observedGeneration"] == 1
    assert stored["status"]["conditions"][0]["reason"] == "Exported"

    # status written through the main resource is ignored
    kubectl(
        "patch", "projectexport", "gen", "-n", namespace, "--type=merge",
        "-p", json.dumps({"status": {"exportStatus": "finished"}}),
    )  # fmt: skip
    stored = get(custom_objects, namespace, E, "gen")
    assert "exportStatus" not in stored["status"]
    assert stored["metadata"]["generation"] == 1

    # a spec change does, and keeps the status
    result = apply(kubectl, namespace, document(E, "gen", {**EXPORT_SPEC, "suspend": True}))
    assert result.returncode == 0, result.stderr
    stored = get(custom_objects, namespace, E, "gen")
    assert stored["metadata"]["generation"] == 2
    assert stored["spec"]["suspend"] is True
    assert stored["status"]["observedGeneration"] == 1


def test_status_is_validated_too(crds: list[str], kubectl: Kubectl, namespace: str) -> None:
    result = apply(kubectl, namespace, document(E, "st", EXPORT_SPEC))
    assert result.returncode == 0, result.stderr
    bad = kubectl(
        "patch", "projectexport", "st", "-n", namespace, "--subresource=status",
        "--type=merge", "-p", ready_status(ready={"status": "Maybe"}),
        check=False,
    )  # fmt: skip
    assert bad.returncode != 0
    message = one_line(bad.stderr)
    assert names_field(message, "status.conditions[0].status"), message
    assert "Unsupported value" in message, message
