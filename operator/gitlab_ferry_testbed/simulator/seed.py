"""Seeds: the users, tokens, groups and projects a simulator starts with (YAML or Python).

Part of the simulator layer. ``Seed.load("default")`` / ``Seed.load("empty")`` read the seeds
shipped with the package; any other value is a file path. ``apply_seed`` adds a seed's records to
a state (it can be applied again to add more). Settings in a seed are a partial ``SimSettings``.
This module must not import anything outside the simulator.
"""

from __future__ import annotations

import zlib
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from gitlab_ferry_testbed.simulator.config import parse_size
from gitlab_ferry_testbed.simulator.content import DEFAULT_RELATION_COUNTS, generate_content
from gitlab_ferry_testbed.simulator.seed_trees import SeedTree
from gitlab_ferry_testbed.simulator.state import (
    ACCESS_LEVELS,
    OWNER,
    STATISTICS,
    VISIBILITY_LEVELS,
    Project,
    State,
    Token,
    Visibility,
)

BUILTIN_SEEDS = ("default", "empty", "group-tree", "group-tree-scale")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _level(value: int | str) -> int:
    if isinstance(value, int):
        return value
    if value.lower() not in ACCESS_LEVELS:
        raise ValueError(f"unknown access level {value!r}")
    return ACCESS_LEVELS[value.lower()]


class SeedToken(_Model):
    token: str
    scopes: list[str] = Field(default_factory=lambda: ["api"])
    name: str = "seed"
    expires_at: datetime | None = None
    revoked: bool = False


class SeedUser(_Model):
    username: str
    name: str | None = None
    email: str | None = None
    token: str | None = None
    scopes: list[str] = Field(default_factory=lambda: ["api"])
    tokens: list[SeedToken] = Field(default_factory=list)
    admin: bool = False
    external: bool = False
    can_create_group: bool = True


class SeedMember(_Model):
    user: str
    access_level: int = Field(default=30)

    @field_validator("access_level", mode="before")
    @classmethod
    def _named(cls, value: int | str) -> int:
        return _level(value)


class SeedGroup(_Model):
    path: str
    name: str | None = None
    visibility: Visibility = "private"
    members: list[SeedMember] = Field(default_factory=list)
    description: str = ""
    labels: int = Field(default=0, ge=0, description="Group labels (group exports carry them)")
    milestones: int = Field(default=0, ge=0)


class SeedProject(_Model):
    path_with_namespace: str
    name: str | None = None
    description: str | None = None
    owner: str | None = None
    visibility: Visibility = "private"
    members: list[SeedMember] = Field(default_factory=list)
    repository_size: int | str = "64KiB"
    relations: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_RELATION_COUNTS))
    invalid_issues: int = Field(default=0, ge=0)
    content_seed: int | None = None
    created_at: datetime | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    old_paths: list[str] = Field(default_factory=list)
    statistics: dict[str, int | str] = Field(
        default_factory=dict,
        description="ProjectStatistics to report instead of the generated content's sizes",
    )

    @field_validator("statistics")
    @classmethod
    def _known_statistics(cls, value: dict[str, int | str]) -> dict[str, int | str]:
        unknown = sorted(set(value) - set(STATISTICS))
        if unknown:
            raise ValueError(f"unknown statistics {unknown}; known: {list(STATISTICS)}")
        for size in value.values():
            parse_size(size)
        return value


class Seed(_Model):
    users: list[SeedUser] = Field(default_factory=list)
    groups: list[SeedGroup] = Field(default_factory=list)
    projects: list[SeedProject] = Field(default_factory=list)
    trees: list[SeedTree] = Field(default_factory=list)
    settings: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_yaml(cls, text: str) -> Seed:
        data = yaml.safe_load(text) or {}
        return cls.model_validate(data)

    @classmethod
    def load(cls, ref: str | Path) -> Seed:
        """A built-in seed by name (``BUILTIN_SEEDS``) or a YAML file."""
        if isinstance(ref, str) and ref in BUILTIN_SEEDS:
            text = (
                resources.files("gitlab_ferry_testbed.simulator")
                .joinpath(f"{ref}.yaml")
                .read_text()
            )
            return cls.from_yaml(text)
        return cls.from_yaml(Path(ref).read_text())


def apply_seed(state: State, seed: Seed, *, now: float) -> list[Project]:
    """Add the seed's users, groups and projects; returns the projects created."""
    for su in seed.users:
        user = state.user_by_username(su.username)
        if user is None:
            name = su.name or ("Administrator" if su.username == "root" else su.username.title())
            user = state.add_user(
                su.username,
                name=name,
                email=su.email or f"{su.username}@example.com",
                admin=su.admin,
                now=now,
            )
            user.external = su.external
            user.can_create_group = su.can_create_group
        tokens = list(su.tokens)
        if su.token:
            tokens.insert(0, SeedToken(token=su.token, scopes=su.scopes))
        for st in tokens:
            state.tokens[st.token] = Token(
                st.token,
                user.id,
                frozenset(st.scopes),
                st.name,
                st.expires_at.timestamp() if st.expires_at else None,
                st.revoked,
            )
    groups, projects = list(seed.groups), list(seed.projects)
    for tree in seed.trees:
        tree_groups, tree_projects = tree.expand()
        groups += [SeedGroup.model_validate(g) for g in tree_groups]
        projects += [SeedProject.model_validate(p) for p in tree_projects]
    for sg in groups:
        ns = state.namespace_by_full_path(sg.path)
        if ns is None:
            ns = state.add_group(
                sg.path,
                name=sg.name or sg.path.rsplit("/", 1)[-1],
                visibility=sg.visibility,
                now=now,
            )
        for member in sg.members:
            ns.members[_user_id(state, member.user)] = member.access_level
        ns.description = sg.description or ns.description
        _group_relations(ns.relations, sg)
    return [_add_project(state, sp, now) for sp in projects]


def _group_relations(relations: dict[str, list[dict[str, Any]]], sg: SeedGroup) -> None:
    if sg.labels:
        relations["labels"] = [
            {
                "title": f"{sg.path}-label-{i}",
                "color": f"#{zlib.crc32(sg.path.encode()) % 0xFFFFFF:06X}",
                "type": "GroupLabel",
            }
            for i in range(1, sg.labels + 1)
        ]
    if sg.milestones:
        relations["milestones"] = [
            {"iid": i, "title": f"{sg.path} v{i}", "state": "active"}
            for i in range(1, sg.milestones + 1)
        ]


def _user_id(state: State, username: str) -> int:
    user = state.user_by_username(username)
    if user is None:
        raise ValueError(f"seed refers to unknown user {username!r}")
    return user.id


def _add_project(state: State, sp: SeedProject, now: float) -> Project:
    ns_path, _, path = sp.path_with_namespace.rpartition("/")
    if not ns_path:
        raise ValueError(f"project {sp.path_with_namespace!r} needs a namespace")
    if state.project_by_full_path(sp.path_with_namespace) is not None:
        raise ValueError(f"project {sp.path_with_namespace!r} already exists")
    ns = state.namespace_by_full_path(ns_path)
    if ns is None:
        ns = state.add_group(
            ns_path, name=ns_path.rsplit("/", 1)[-1], visibility="private", now=now
        )
    owner_id = _user_id(state, sp.owner) if sp.owner else (ns.owner_id or _first_admin(state))
    created = sp.created_at.timestamp() if sp.created_at else now
    seed_value = (
        sp.content_seed
        if sp.content_seed is not None
        else zlib.crc32(sp.path_with_namespace.encode())
    )
    project = Project(
        id=state.next_id("project"),
        namespace_id=ns.id,
        path=path,
        name=sp.name or path,
        description=sp.description,
        visibility=sp.visibility,
        created_at=created,
        creator_id=owner_id,
        content=generate_content(
            seed=seed_value,
            description=sp.description,
            visibility_level=VISIBILITY_LEVELS[sp.visibility],
            counts=sp.relations,
            invalid_issues=sp.invalid_issues,
            repository_size=parse_size(sp.repository_size),
        ),
        attributes=dict(sp.attributes),
        last_activity_at=created,
        declared_statistics={k: parse_size(v) for k, v in sp.statistics.items()},
    )
    project.members[owner_id] = OWNER
    for member in sp.members:
        project.members[_user_id(state, member.user)] = member.access_level
    state.projects[project.id] = project
    for old in sp.old_paths:
        state.redirects[old.lower()] = project.id
    return project


def _first_admin(state: State) -> int:
    admin = next((u for u in state.users.values() if u.admin), None)
    if admin is None:
        raise ValueError("a seeded project needs an owner (or an admin user to default to)")
    return admin.id
