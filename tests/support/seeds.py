"""Simulator seeds the reliability tests of both tiers use: a fleet of small projects in
``team-N`` groups on the source, and the same groups, empty, on the destination."""

from __future__ import annotations

from typing import Any

from tests.support.processes import ROOT_TOKEN


def fleet_seed(groups: int, per_group: int) -> dict[str, Any]:
    """A source GitLab with ``groups * per_group`` small projects."""
    return {
        "users": [{"username": "root", "token": ROOT_TOKEN, "admin": True}],
        "groups": [{"path": f"team-{g}"} for g in range(groups)],
        "projects": [
            {
                "path_with_namespace": f"team-{g}/service-{p}",
                "owner": "root",
                "repository_size": "8KiB",
                "relations": {"issues": 3, "milestones": 1},
            }
            for g in range(groups)
            for p in range(per_group)
        ],
    }


def destination_seed(groups: int) -> dict[str, Any]:
    """A destination GitLab with the fleet's groups and no projects."""
    return {
        "users": [{"username": "root", "token": ROOT_TOKEN, "admin": True}],
        "groups": [{"path": f"team-{g}"} for g in range(groups)],
        "projects": [],
    }
