"""The one place a spec is validated before a pass: the models (with their cross-field rules,
the same ones the API server enforces as CEL) and the checks no schema can express (a cron
expression croniter reads, an S3 key template), with readable messages (controller layer).
Pure functions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from gitlab_ferry.api import ProjectExportSpec
from gitlab_ferry.reconcile.s3_keys import template_errors
from gitlab_ferry.reconcile.timing import valid_cron

Spec = TypeVar("Spec", bound=BaseModel)


def validation_message(exc: ValidationError) -> str:
    """Pydantic's errors as ``field.path: message`` pairs."""
    parts = []
    for error in exc.errors()[:5]:
        location = ".".join(str(part) for part in error["loc"])
        parts.append(f"spec.{location}: {error['msg']}" if location else error["msg"])
    return "; ".join(parts)


def _beyond_the_schema(spec: BaseModel) -> list[str]:
    problems = []
    if isinstance(spec, ProjectExportSpec):
        if spec.schedule and not valid_cron(spec.schedule):
            problems.append(f"spec.schedule: {spec.schedule!r} is not a valid cron expression")
        if spec.s3 is not None:
            problems.extend(f"spec.s3.key: {problem}" for problem in template_errors(spec.s3.key))
    return problems


def validated(model: type[Spec], body: Mapping[str, Any]) -> Spec | str:
    """The object's spec, or why it cannot be acted on."""
    try:
        spec = model.model_validate(body.get("spec") or {})
    except ValidationError as exc:
        return validation_message(exc)
    problems = _beyond_the_schema(spec)
    return "; ".join(problems) if problems else spec
