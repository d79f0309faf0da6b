"""Group trees for seeds: a top group, its subgroups and many projects, from a few numbers.

Part of the simulator layer. A ``trees:`` entry of a seed expands, always the same way, into
groups and projects: subgroup ``i`` nests under subgroup ``i - 1`` unless ``i - 1`` is a multiple
of ``depth`` (then under the top group), so ``depth`` bounds the nesting below the top group;
projects go round-robin over the top group and its subgroups; every ``archived_every``-th
project is archived, every ``topics_every``-th has topics and every ``dotted_every``-th has a
dotted path (``my.lib-7``). Projects are small (1 KiB repository, a few records) so exporting
and importing them stays cheap. Pure data; it must not import anything outside the simulator.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_WORDS = (
    "backend",
    "frontend",
    "infra",
    "data",
    "mobile",
    "tools",
    "security",
    "docs",
    "billing",
    "search",
)
_TOPICS = (("python", "service"), ("go",), ("library", "python"), ("terraform",))
SMALL_RELATIONS = {"labels": 1, "milestones": 1, "issues": 2, "merge_requests": 1}


class SeedTree(BaseModel):
    """A generated group tree (see the module docstring for the layout)."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="Full path of the top group (created unless it exists)")
    name: str | None = None
    visibility: str = "private"
    members: list[dict[str, Any]] = Field(
        default_factory=list, description="Members of the top group, as in groups:"
    )
    owner: str | None = Field(default=None, description="Creator of the projects")
    subgroups: int = Field(default=0, ge=0)
    depth: int = Field(default=1, ge=1, le=19)
    projects: int = Field(default=0, ge=0)
    archived_every: int = Field(default=0, ge=0)
    topics_every: int = Field(default=0, ge=0)
    dotted_every: int = Field(default=0, ge=0)
    repository_size: int | str = "1KiB"
    relations: dict[str, int] = Field(default_factory=lambda: dict(SMALL_RELATIONS))
    group_labels: int = Field(default=2, ge=0)
    group_milestones: int = Field(default=1, ge=0)

    def group_paths(self) -> list[str]:
        """The top group's full path, then each subgroup's, parents before children."""
        paths = [self.path]
        for i in range(1, self.subgroups + 1):
            word = _WORDS[(i - 1) % len(_WORDS)]
            slug = word if i <= len(_WORDS) else f"{word}-{i}"
            parent = paths[i - 1] if (i - 1) % self.depth else self.path
            paths.append(f"{parent}/{slug}")
        return paths

    def expand(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The seed ``groups`` and ``projects`` entries this tree stands for."""
        paths = self.group_paths()
        groups: list[dict[str, Any]] = []
        for index, path in enumerate(paths):
            group: dict[str, Any] = {
                "path": path,
                "name": (self.name or path) if index == 0 else path.rsplit("/", 1)[-1].title(),
                "visibility": self.visibility,
                "description": f"Generated group {path}",
                "labels": self.group_labels,
                "milestones": self.group_milestones,
            }
            if index == 0:
                group["members"] = list(self.members)
            groups.append(group)
        projects = [self._project(j, paths[j % len(paths)]) for j in range(1, self.projects + 1)]
        return groups, projects

    def _project(self, j: int, namespace: str) -> dict[str, Any]:
        dotted = self.dotted_every and j % self.dotted_every == 0
        path = f"my.lib-{j}" if dotted else f"service-{j}"
        attributes: dict[str, Any] = {}
        if self.archived_every and j % self.archived_every == 0:
            attributes["archived"] = True
        if self.topics_every and j % self.topics_every == 0:
            attributes["topics"] = list(_TOPICS[(j // self.topics_every) % len(_TOPICS)])
        project: dict[str, Any] = {
            "path_with_namespace": f"{namespace}/{path}",
            "description": f"Generated project {j}",
            "visibility": self.visibility,
            "repository_size": self.repository_size,
            "relations": dict(self.relations),
            "attributes": attributes,
        }
        if self.owner:
            project["owner"] = self.owner
        return project
