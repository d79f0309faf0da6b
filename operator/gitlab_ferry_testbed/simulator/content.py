"""What a simulated project contains: attributes, relation records and a repository payload.

Part of the simulator layer. The repository (``project.bundle``) is either generated lazily from a
seed (deterministic pseudo-random bytes, never held in memory whole) or a file on disk that an
import wrote; relations are lists of NDJSON records with ``iid``s. The summary is what tests
compare between a source and a destination. This module does no network I/O and must not import
anything outside the simulator.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

RELATION_NAMES = ("labels", "milestones", "issues", "merge_requests", "ci_pipelines")
IMPORTABLE_RELATIONS = ("issues", "merge_requests", "milestones", "ci_pipelines")
DEFAULT_RELATION_COUNTS = MappingProxyType(
    {
        "labels": 3,
        "milestones": 2,
        "issues": 5,
        "merge_requests": 3,
        "ci_pipelines": 4,
    }
)
_TITLED = frozenset({"labels", "milestones", "issues", "merge_requests"})
_CHUNK = 1 << 20
_BUNDLE_HEADER = b"# v2 git bundle\n"


@dataclass
class Repository:
    """``project.bundle``: generated from ``seed`` or stored at ``path``."""

    size: int = 0
    seed: int = 0
    path: Path | None = None
    sha256: str | None = None

    def chunks(self) -> Iterator[bytes]:
        if self.path is not None:
            with self.path.open("rb") as fh:
                while chunk := fh.read(_CHUNK):
                    yield chunk
            return
        yield from _generated(self.size, self.seed)

    def reader(self) -> io.RawIOBase:
        return _ChunkReader(self.chunks())

    def digest(self) -> str:
        """sha256 of the payload, computed once (a generated payload is hashed while streamed)."""
        if self.sha256 is None:
            h = hashlib.sha256()
            for chunk in self.chunks():
                h.update(chunk)
            self.sha256 = h.hexdigest()
        return self.sha256


def _generated(size: int, seed: int) -> Iterator[bytes]:
    # Fixed chunk sizes keep the byte stream identical however it is consumed.
    rng = random.Random(seed)
    header = _BUNDLE_HEADER[:size]
    yield header
    remaining = size - len(header)
    while remaining > 0:
        n = min(_CHUNK, remaining)
        yield rng.randbytes(n)
        remaining -= n


class _ChunkReader(io.RawIOBase):
    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while not self._buf:
            nxt = next(self._chunks, None)
            if nxt is None:
                return 0
            self._buf = nxt
        n = min(len(view), len(self._buf))
        view[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


@dataclass
class ProjectContent:
    """Project attributes written to ``tree/project.json``, relations and the repository."""

    attributes: dict[str, Any] = field(default_factory=dict)
    relations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    repository: Repository = field(default_factory=Repository)

    def existing_iids(self, relation: str) -> set[int]:
        return {r["iid"] for r in self.relations.get(relation, []) if isinstance(r.get("iid"), int)}


def validate_record(relation: str, record: Any) -> str | None:
    """The ActiveRecord validation message for an invalid record, or None when it is valid."""
    if not isinstance(record, dict):
        return "Validation failed: Record is invalid"
    if relation in _TITLED:
        title = record.get("title")
        if not isinstance(title, str) or not title.strip():
            return "Validation failed: Title can't be blank"
    if relation == "ci_pipelines" and not isinstance(record.get("ref"), str):
        return "Validation failed: Ref can't be blank"
    return None


def generate_content(
    *,
    seed: int,
    description: str | None,
    visibility_level: int,
    counts: dict[str, int],
    invalid_issues: int,
    repository_size: int,
) -> ProjectContent:
    """Deterministic relations and repository for a seeded project."""
    rng = random.Random(seed)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]

    def phrase() -> str:
        return " ".join(rng.choice(words) for _ in range(3))

    rel: dict[str, list[dict[str, Any]]] = {}
    labels = [
        {
            "title": f"label-{i}",
            "color": f"#{rng.randrange(1 << 24):06X}",
            "type": "ProjectLabel",
            "description": phrase(),
        }
        for i in range(1, counts.get("labels", 0) + 1)
    ]
    rel["labels"] = labels
    rel["milestones"] = [
        {"iid": i, "title": f"v{i}.0", "state": "active", "description": phrase()}
        for i in range(1, counts.get("milestones", 0) + 1)
    ]
    issues: list[dict[str, Any]] = [
        {
            "iid": i,
            "title": f"Issue {i}: {phrase()}",
            "description": phrase(),
            "state": "opened",
            "label_ids": [],
            "labels": [lbl["title"] for lbl in labels[: i % 3]],
        }
        for i in range(1, counts.get("issues", 0) + 1)
    ]
    start = len(issues)
    issues += [
        {"iid": start + i, "title": None, "description": "invalid on purpose", "state": "opened"}
        for i in range(1, invalid_issues + 1)
    ]
    rel["issues"] = issues
    rel["merge_requests"] = [
        {
            "iid": i,
            "title": f"MR {i}: {phrase()}",
            "source_branch": f"feature-{i}",
            "target_branch": "main",
            "state": "opened",
        }
        for i in range(1, counts.get("merge_requests", 0) + 1)
    ]
    rel["ci_pipelines"] = [
        {
            "iid": i,
            "ref": "main",
            "sha": f"{rng.getrandbits(160):040x}",
            "status": "success",
            "source": "push",
        }
        for i in range(1, counts.get("ci_pipelines", 0) + 1)
    ]
    for name, count in counts.items():
        if name not in rel and count:
            rel[name] = [{"id": i} for i in range(1, count + 1)]
    attributes = {"description": description, "visibility_level": visibility_level}
    return ProjectContent(attributes, rel, Repository(size=repository_size, seed=seed))


def _digest_records(records: list[dict[str, Any]]) -> str:
    h = hashlib.sha256()
    for record in records:
        h.update(json.dumps(record, sort_keys=True, separators=(",", ":")).encode())
        h.update(b"\n")
    return h.hexdigest()


def summarize(content: ProjectContent, description: str | None) -> dict[str, Any]:
    """What a test compares between source and destination: valid records and the bundle hash."""
    valid: dict[str, list[dict[str, Any]]] = {}
    invalid: dict[str, int] = {}
    for name, records in content.relations.items():
        good = [r for r in records if validate_record(name, r) is None]
        if good:
            # an empty relation and a missing ndjson file mean the same thing
            valid[name] = good
        if len(good) != len(records):
            invalid[name] = len(records) - len(good)
    return {
        "description": description,
        "relations": {name: len(records) for name, records in sorted(valid.items())},
        "invalid_relations": invalid,
        "relations_sha256": {name: _digest_records(r) for name, r in sorted(valid.items())},
        "repository_size": content.repository.size,
        "repository_sha256": content.repository.digest(),
    }
