"""GitLab group export archives: write one from a group tree, read and validate one.

Part of the simulator layer. The layout is GitLab's NDJSON group export (Group::TreeSaver):
``VERSION``, ``GITLAB_VERSION``, ``GITLAB_REVISION``, ``tree/groups/_all.ndjson`` (the group ids,
the exported group first, then its descendants by depth), ``tree/groups/<id>.json`` (a group's
attributes) and ``tree/groups/<id>/<relation>.ndjson`` (its labels and milestones). Older
releases leave ``visibility_level`` out of the attributes. Reading checks what GitLab's group
import checks: the decompressed size, hard links, ``VERSION``, then ``tree/groups/_all.ndjson``.
Synchronous and streaming (callers run it in a worker thread); it must not import anything
outside the simulator.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from gitlab_ferry_testbed.simulator.archive import (
    ArchiveError,
    check_scan,
    entry,
    json_object,
    ndjson,
    read_lines,
    scan_archive,
    write_version_files,
    writing,
)

GROUP_RELATIONS = ("labels", "milestones")
INCOMPATIBLE = "The import file is incompatible"
_TREE = "tree/groups/"


@dataclass
class ExportedGroup:
    """One group of an export: GitLab's attributes (``id``, ``name``, ``path``,
    ``description``, ``parent_id``, maybe ``visibility_level``) and its relations."""

    attributes: dict[str, Any]
    relations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def id(self) -> int:
        return int(self.attributes["id"])


@dataclass
class GroupArchive:
    path: Path
    size: int
    sha256: str


def build_group_archive(
    dest: Path,
    groups: list[ExportedGroup],
    *,
    gitlab_version: str,
    gitlab_revision: str,
    gzip_level: int,
    now: float,
) -> GroupArchive:
    """Write ``groups`` (the exported group first) to ``dest``."""
    with writing(dest, gzip_level=gzip_level, now=now) as (tar, written):
        write_version_files(
            tar, gitlab_version=gitlab_version, gitlab_revision=gitlab_revision, now=now
        )
        entry(tar, "./tree/", None, now)
        entry(tar, "./tree/groups/", None, now)
        entry(tar, "./tree/groups/_all.ndjson", ndjson([g.id for g in groups]), now)
        for group in groups:
            entry(tar, f"./tree/groups/{group.id}.json", json.dumps(group.attributes).encode(), now)
            entry(tar, f"./tree/groups/{group.id}/", None, now)
            for name in GROUP_RELATIONS:
                records = group.relations.get(name, [])
                entry(tar, f"./tree/groups/{group.id}/{name}.ndjson", ndjson(records), now)
    return GroupArchive(dest, written.size, written.sha256)


def parse_group_archive(src: Path, *, max_decompressed_bytes: int) -> list[ExportedGroup]:
    """The archive's groups in ``_all.ndjson`` order; ``ArchiveError`` as GitLab fails."""
    ids: list[int] = []
    attributes: dict[str, bytes] = {}
    relations: dict[str, dict[str, list[dict[str, Any]]]] = {}

    def visit(name: str, fh: IO[bytes]) -> None:
        if not name.startswith(_TREE):
            return
        rest = name[len(_TREE) :]
        if rest == "_all.ndjson":
            ids.extend(_group_id(value) for _, value in read_lines(fh))
        elif rest.endswith(".json") and "/" not in rest:
            attributes[rest[: -len(".json")]] = fh.read()
        elif rest.endswith(".ndjson") and rest.count("/") == 1:
            group_id, relation = rest[: -len(".ndjson")].split("/")
            records = [r for _, r in read_lines(fh) if isinstance(r, dict)]
            relations.setdefault(group_id, {})[relation] = records

    scan = scan_archive(src, max_decompressed_bytes=max_decompressed_bytes, visit=visit)
    check_scan(scan)
    if not ids:
        raise ArchiveError(INCOMPATIBLE)
    out = []
    for group_id in ids:
        raw = attributes.get(str(group_id))
        if raw is None:
            raise ArchiveError("Invalid file")
        attrs = json_object(raw)
        if attrs.get("id") != group_id:
            raise ArchiveError(f"Invalid group_id for {group_id}")
        out.append(ExportedGroup(attrs, relations.get(str(group_id), {})))
    return out


def _group_id(value: Any) -> int:
    """``Integer(value)``, which refuses anything but an integer or its digits."""
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise ArchiveError(f"invalid value for Integer(): {json.dumps(value)}")
    return int(value)
