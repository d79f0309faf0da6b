"""Encoding of GitLab request parameters (gitlab layer).

Project ids that are paths are URL-encoded as one path segment, and nested parameters such as
``override_params`` are flattened the way Rails reads form fields (``override_params[key]``).
Pure functions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
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


def without_none(params: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in params.items() if value is not None}
