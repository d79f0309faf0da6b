"""S3 key templates: ``backups/{project}/{date}.tar.gz`` filled in at export time
(reconcile layer). Pure."""

from __future__ import annotations

import string
from datetime import UTC, datetime

from gitlab_ferry.api.project_export import S3_KEY_PLACEHOLDERS


def template_errors(template: str) -> list[str]:
    """Why ``template`` is not a valid key template (empty when it is)."""
    problems = []
    try:
        fields = [part for part in string.Formatter().parse(template) if part[1] is not None]
    except ValueError as exc:
        return [f"malformed key template: {exc}"]
    for _, name, format_spec, conversion in fields:
        if format_spec or conversion:
            problems.append(f"placeholder {{{name}}} takes no format or conversion")
            continue
        if name not in S3_KEY_PLACEHOLDERS:
            allowed = ", ".join(f"{{{p}}}" for p in S3_KEY_PLACEHOLDERS)
            problems.append(f"unknown placeholder {{{name}}} in the S3 key; allowed: {allowed}")
    return problems


def render_key(template: str, *, namespace: str, name: str, project: str, now: datetime) -> str:
    """The key for an export requested at ``now``."""
    moment = now.astimezone(UTC)
    return template.format(
        namespace=namespace,
        name=name,
        project=project.strip("/"),
        date=moment.strftime("%Y-%m-%d"),
        time=moment.strftime("%H%M%S"),
        timestamp=moment.strftime("%Y%m%dT%H%M%SZ"),
    )
