"""GitLab request parameters and their encoding (gitlab layer).

Project ids that are paths are URL-encoded as one path segment; nested parameters such as
``override_params`` are flattened the way Rails reads form fields (``override_params[key]``);
the parameters every import route shares travel in ``ImportTarget``. Pure data and functions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
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
)


@dataclass(frozen=True)
class ImportTarget:
    """Where and how an import creates its project; shared by every import route."""

    path: str
    name: str | None = None
    namespace: ProjectRef | None = None
    namespace_id: int | None = None
    namespace_path: str | None = None
    overwrite: bool = False
    override_params: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"path": self.path}
        for key in ("name", "namespace", "namespace_id", "namespace_path"):
            value = getattr(self, key)
            if value is not None:
                body[key] = value
        if self.overwrite:
            body["overwrite"] = True
        if self.override_params:
            body["override_params"] = dict(self.override_params)
        return body

    def as_form(self) -> list[tuple[str, str]]:
        fields: list[tuple[str, str]] = []
        for key, value in self.as_json().items():
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
