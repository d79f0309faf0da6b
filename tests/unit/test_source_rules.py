"""Rules the operator's source keeps, checked by reading it: plans and outcomes are typed (no
``params[``, ``params.get(`` or ``data[`` on them), the Ready condition is looked up only by
the status base (``ReconciledStatus.condition``), and every time in a status is a
``datetime`` (RFC 3339 in the object), never text."""

from __future__ import annotations

import ast
import re
import typing
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

import gitlab_ferry
from gitlab_ferry.api import ProjectExportStatus, ProjectImportStatus
from gitlab_ferry.api.base import StatusModel
from gitlab_ferry.api.group_migration import GroupMigrationStatus

PACKAGE = Path(gitlab_ferry.__file__).parent
#: The status base, and the recorder that builds conditions (by type, from a verdict).
CONDITION_OWNERS = {"api/status.py", "reconcile/conditions.py"}
#: Names of status fields that hold a point in time.
TIME_FIELD = re.compile(r"(^|_)(at|since|eta|time|timestamp)$")


def modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text(), str(path))


def where(module: str, node: ast.AST) -> str:
    return f"{module}:{getattr(node, 'lineno', '?')}: {ast.unparse(node)}"


def untyped_payload_reads(tree: ast.Module) -> Iterator[ast.AST]:
    """``x.params[...]``, ``x.params.get(...)``, ``x.data[...]`` and ``x.data.get(...)``."""
    for node in ast.walk(tree):
        indexed = isinstance(node, ast.Subscript) and _payload(node.value)
        got = (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and _payload(node.func.value)
        )
        if indexed or got:
            yield node


def _payload(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr in {"params", "data"}


def ready_lookups(tree: ast.Module) -> Iterator[ast.AST]:
    """Comparisons with, or indexing by, the literal ``"Ready"``, and walks over a status's
    conditions: what ``ReconciledStatus.condition`` is for."""
    for node in ast.walk(tree):
        compared = isinstance(node, ast.Compare) and any(
            _is_ready(operand) for operand in [node.left, *node.comparators]
        )
        if compared or (isinstance(node, ast.Subscript) and _is_ready(node.slice)):
            yield node
        elif isinstance(node, ast.comprehension | ast.For) and _conditions(node.iter):
            yield node.iter


def _is_ready(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value == "Ready"


def _conditions(node: ast.expr) -> bool:
    if isinstance(node, ast.Attribute):
        return node.attr == "conditions"
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value == "conditions"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        arguments = node.args
        return node.func.attr == "get" and bool(arguments) and _is_constant(arguments[0])
    return False


def _is_constant(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value == "conditions"


def status_models(base: type[StatusModel] = StatusModel) -> Iterator[type[StatusModel]]:
    for model in base.__subclasses__():
        yield model
        yield from status_models(model)


def holds_datetime(annotation: object) -> bool:
    return annotation is datetime or any(holds_datetime(a) for a in typing.get_args(annotation))


def test_no_untyped_payload_is_read_from_plans_or_outcomes() -> None:
    found = [where(m, n) for m, tree in modules() for n in untyped_payload_reads(tree)]
    assert found == []


def test_the_ready_condition_is_looked_up_only_by_the_status_base() -> None:
    found = [
        where(m, n)
        for m, tree in modules()
        if m not in CONDITION_OWNERS
        for n in ready_lookups(tree)
    ]
    assert found == []


def test_every_status_time_is_a_datetime() -> None:
    times = {
        f"{model.__name__}.{name}": field.annotation
        for model in set(status_models())
        for name, field in model.model_fields.items()
        if TIME_FIELD.search(name) or (field.description or "").startswith("When ")
    }
    # The scan sees every kind's status.
    for model in (ProjectExportStatus, ProjectImportStatus, GroupMigrationStatus):
        assert f"{model.__name__}.started_at" in times
    assert [name for name, annotation in times.items() if not holds_datetime(annotation)] == []


@pytest.mark.parametrize(
    ("source", "rule"),
    [
        ("plan.params['route']", untyped_payload_reads),
        ("outcome.data.get('id')", untyped_payload_reads),
        ("next(c for c in status.conditions if c.type == 'Ready')", ready_lookups),
        ("[c for c in body['status']['conditions'] if c['type'] == 'Ready']", ready_lookups),
        ("by_type['Ready']", ready_lookups),
    ],
)
def test_the_scans_see_what_they_forbid(source: str, rule: typing.Any) -> None:
    assert list(rule(ast.parse(source)))
