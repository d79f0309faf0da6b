"""CustomResourceDefinitions generated from the models (api layer).

The CRDs in ``crds/`` and in the Helm chart are written by this module, so the API server
validates exactly what the models describe. Pure data: writing files is left to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from gitlab_ferry.api import project_export, project_import
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
    status_column: str
    project_column: str

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
        status_column=".status.exportStatus",
        project_column=".spec.project",
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
        status_column=".status.importStatus",
        project_column=".status.pathWithNamespace",
    ),
)


def _printer_columns(kind: Kind) -> list[dict[str, Any]]:
    return [
        {
            "name": "Status",
            "type": "string",
            "jsonPath": kind.status_column,
            "description": "GitLab's own status, verbatim.",
        },
        {
            "name": "Project",
            "type": "string",
            "jsonPath": kind.project_column,
            "description": "The GitLab project.",
        },
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
    return {
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
