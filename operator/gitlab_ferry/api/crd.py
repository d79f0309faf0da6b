"""CustomResourceDefinitions generated from the models (api layer).

The CRDs in ``crds/`` and in the Helm chart are written by this module, so the API server
validates exactly what the models describe. Pure data: writing files is left to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from gitlab_ferry.api import group_migration, project_export, project_import
from gitlab_ferry.api.base import CATEGORY, GROUP, VERSION
from gitlab_ferry.api.schema import JsonSchema, structural_schema

_READY = '.status.conditions[?(@.type=="Ready")]'


@dataclass(frozen=True)
class Kind:
    """What the generator needs to know about one resource kind."""

    kind: str
    plural: str
    singular: str
    short_names: list[str]
    spec: type[BaseModel]
    status: type[BaseModel]
    description: str
    #: The kind's own printer columns: (name, type, JSON path, description); Ready, Reason
    #: and Age follow them.
    columns: tuple[tuple[str, str, str, str], ...]
    #: CEL rules on the whole object (the only place ``metadata.name`` can be checked).
    object_rules: tuple[dict[str, str], ...] = ()

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"


KINDS = (
    Kind(
        kind=project_export.KIND,
        plural=project_export.PLURAL,
        singular=project_export.SINGULAR,
        short_names=project_export.SHORT_NAMES,
        spec=project_export.ProjectExportSpec,
        status=project_export.ProjectExportStatus,
        description=(
            "ProjectExport keeps an export archive of one GitLab project: once, on a "
            "schedule or when it gets too old, kept on GitLab or pushed to a URL or S3."
        ),
        columns=(
            ("Status", "string", ".status.exportStatus", "GitLab's own status, verbatim."),
            ("Project", "string", ".spec.project", "The GitLab project."),
        ),
    ),
    Kind(
        kind=project_import.KIND,
        plural=project_import.PLURAL,
        singular=project_import.SINGULAR,
        short_names=project_import.SHORT_NAMES,
        spec=project_import.ProjectImportSpec,
        status=project_import.ProjectImportStatus,
        description=(
            "ProjectImport imports a GitLab project from an archive (a ProjectExport, a URL "
            "or S3), or re-imports some of its relations into an existing project."
        ),
        columns=(
            ("Status", "string", ".status.importStatus", "GitLab's own status, verbatim."),
            ("Project", "string", ".status.pathWithNamespace", "The GitLab project."),
        ),
    ),
    Kind(
        kind=group_migration.KIND,
        plural=group_migration.PLURAL,
        singular=group_migration.SINGULAR,
        short_names=group_migration.SHORT_NAMES,
        spec=group_migration.GroupMigrationSpec,
        status=group_migration.GroupMigrationStatus,
        description=(
            "GroupMigration moves a GitLab group tree: its groups first (group export and "
            "import, or created), then every selected project through a ProjectExport and "
            "ProjectImport pair it creates and owns."
        ),
        object_rules=(
            {
                "rule": f"self.metadata.name.size() <= {group_migration.NAME_LIMIT}",
                "message": (
                    f"a GroupMigration's name has at most {group_migration.NAME_LIMIT} "
                    "characters: its children carry it in a label"
                ),
            },
        ),
        columns=(
            ("Progress", "string", ".status.progress", "Projects migrated of those selected."),
            ("Group", "string", ".spec.source.group", "The source group."),
            ("Failed", "integer", ".status.counts.failed", "Projects that failed."),
        ),
    ),
)


def _printer_columns(kind: Kind) -> list[dict[str, Any]]:
    own = [
        {"name": name, "type": kind_of, "jsonPath": path, "description": description}
        for name, kind_of, path, description in kind.columns
    ]
    return [
        *own,
        {
            "name": "Ready",
            "type": "string",
            "jsonPath": f"{_READY}.status",
            "description": "Whether the desired state is reached.",
        },
        {
            "name": "Reason",
            "type": "string",
            "jsonPath": f"{_READY}.reason",
            "description": "Why it is (not) ready.",
        },
        {
            "name": "Age",
            "type": "date",
            "jsonPath": ".metadata.creationTimestamp",
        },
    ]


def _open_api_schema(kind: Kind) -> JsonSchema:
    spec = structural_schema(kind.spec)
    status = structural_schema(kind.status)
    spec["description"] = spec.get("description") or f"Desired state of the {kind.kind}."
    schema: JsonSchema = {
        "type": "object",
        "description": kind.description,
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": "The API version."},
            "kind": {"type": "string", "description": "The kind."},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    }
    if kind.object_rules:
        schema["x-kubernetes-validations"] = [dict(rule) for rule in kind.object_rules]
    return schema


def custom_resource_definition(kind: Kind) -> dict[str, Any]:
    """The CRD document of one kind."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": kind.crd_name,
            "labels": {"app.kubernetes.io/part-of": "gitlab-ferry"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": kind.short_names,
                "categories": [CATEGORY],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": _printer_columns(kind),
                    "schema": {"openAPIV3Schema": _open_api_schema(kind)},
                }
            ],
        },
    }


def all_definitions() -> dict[str, dict[str, Any]]:
    """File name to CRD document, for every kind."""
    return {f"{GROUP}_{kind.plural}.yaml": custom_resource_definition(kind) for kind in KINDS}
