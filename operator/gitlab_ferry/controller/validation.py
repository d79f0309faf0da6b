"""Checks of a spec beyond what the CRD schema and CEL rules can express, and readable
messages for model errors (controller layer). Pure functions."""

from __future__ import annotations

from pydantic import ValidationError

from gitlab_ferry.api import ProjectExportSpec, ProjectImportSpec
from gitlab_ferry.reconcile.s3_keys import template_errors
from gitlab_ferry.reconcile.timing import valid_cron


def validation_message(exc: ValidationError) -> str:
    """Pydantic's errors as ``field.path: message`` pairs."""
    parts = []
    for error in exc.errors()[:5]:
        location = ".".join(str(part) for part in error["loc"])
        parts.append(f"spec.{location}: {error['msg']}" if location else error["msg"])
    return "; ".join(parts)


def export_spec_problems(spec: ProjectExportSpec) -> list[str]:
    problems = []
    if spec.schedule and not valid_cron(spec.schedule):
        problems.append(f"spec.schedule: {spec.schedule!r} is not a valid cron expression")
    if spec.s3 is not None:
        problems.extend(f"spec.s3.key: {problem}" for problem in template_errors(spec.s3.key))
    return problems


def import_spec_problems(spec: ProjectImportSpec) -> list[str]:
    problems = []
    source = spec.source
    chosen = [
        source.export_ref is not None,
        source.url is not None,
        source.url_secret_ref is not None,
        source.s3 is not None,
    ]
    if sum(chosen) != 1:
        problems.append("spec.source: exactly one of exportRef, url, urlSecretRef, s3 is needed")
    namespaces = [spec.namespace, spec.namespace_id, spec.namespace_path]
    if sum(value is not None for value in namespaces) > 1:
        problems.append("spec: namespace, namespaceId and namespacePath are mutually exclusive")
    return problems
