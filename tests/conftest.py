"""Every test carries its tier's marker, given here by the folder it lives in, however it was
collected: ``-m unit`` (or ``component``, ``contract``, ``fidelity``, ``e2e``, ``kind``)
selects a whole tier, and no test module can forget its mark. A test in a folder without a
tier stops the collection, so a new tier is named here when it is made.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
#: Folder under tests/ -> the tier its tests belong to (the markers in pyproject.toml).
TIERS = {
    "unit": pytest.mark.unit,
    "simulator": pytest.mark.unit,
    "component": pytest.mark.component,
    "contract": pytest.mark.contract,
    "fidelity": pytest.mark.fidelity,
    "e2e": pytest.mark.e2e,
    "kind": pytest.mark.kind,
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # This hook sees every collected item, wherever pytest found it.
    for item in items:
        path = item.path.resolve()
        if TESTS not in path.parents:
            continue
        folder = path.relative_to(TESTS).parts[0]
        if folder not in TIERS:
            raise pytest.UsageError(
                f"{item.nodeid}: tests/{folder} has no tier in tests/conftest.py"
            )
        item.add_marker(TIERS[folder])
