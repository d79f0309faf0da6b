"""GitLab request parameters and their encoding (gitlab layer).

Project ids that are paths are URL-encoded as one path segment; nested parameters such as
``override_params`` are flattened the way Rails reads form fields (``override_params[key]``);
the parameters every import route shares come from any ``ImportParameters`` (the planner's
import target is one). Pure data and functions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

ProjectRef = int | str


def encode_id(ref: ProjectRef) -> str:
    """A project or namespace reference as one URL path segment: ``group%2Fsub%2Fproject``."""
    if isinstance(ref, int):
        return str(ref)
    text = ref.strip().strip("/")
    if not text:
        raise ValueError("empty project reference")
    return quote(text, safe="")


def form_value(value: Any) -> str:
    """A scalar as GitLab's form parser reads it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def flatten_form(name: str, value: Any) -> Iterator[tuple[str, str]]:
    """Rails-style form fields: dicts become ``name[key]``, lists ``name[]``."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from flatten_form(f"{name}[{key}]", item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from flatten_form(f"{name}[]", item)
    else:
        yield name, form_value(value)


#: The endpoint names requests are reported under (``RequestObserver``).
ENDPOINTS = (
    "export",
    "export_status",
    "download",
    "download_storage",
    "import",
    "remote_import",
    "remote_import_s3",
    "import_status",
    "relation_import",
    "relation_imports",
    "project",
    "projects_search",
    "namespace",
    "user",
    "version",
    "delete_project",
    "group",
    "descendant_groups",
    "group_projects",
    "create_group",
    "group_export",
    "group_download",
    "group_import",
)


class ImportParameters(Protocol):
    """What every import route sends about the new project (path, name, namespace,
    overwrite, override_params, ...), named as GitLab names the parameters."""

    def as_json(self) -> Mapping[str, Any]: ...


def form_fields(parameters: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``parameters`` as the form fields of a multipart request."""
    fields: list[tuple[str, str]] = []
    for key, value in parameters.items():
        fields.extend(flatten_form(key, value))
    return fields


@dataclass(frozen=True)
class S3Object:
    """The S3 parameters of ``remote-import-s3``."""

    region: str
    bucket_name: str
    file_key: str
    access_key_id: str
    secret_access_key: str
