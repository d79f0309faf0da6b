"""Full paths of import target namespaces, as GitLab spells them (effects layer).

Every import pass needs its target's full path: to look the project up, to verify where
GitLab put it. Looking the namespace up also finds a missing one before any archive is sent.
"""

from __future__ import annotations

import asyncio

from gitlab_ferry.api import ProjectImportSpec
from gitlab_ferry.effects.connections import Connection


class NamespacePaths:
    """Full paths of target namespaces as GitLab spells them, by id or path (and of users'
    personal namespaces), cached: they rarely change and every pass needs them. Looking the
    namespace up also finds a missing one before any archive is sent. Passes that need the
    same namespace at once share one lookup."""

    def __init__(self) -> None:
        self._paths: dict[tuple[str, str, str], str] = {}
        self._lookups: dict[tuple[str, str, str], asyncio.Future[str]] = {}

    async def full_path(self, connection: Connection, spec: ProjectImportSpec) -> str:
        ref: int | str | None = spec.namespace_id or spec.namespace_path or spec.namespace
        if isinstance(ref, str):
            ref = int(ref) if ref.isdigit() else ref.strip("/")
        key = (connection.host, connection.identity, str(ref))
        if key in self._paths:
            return self._paths[key]
        lookup = self._lookups.get(key)
        if lookup is None:
            lookup = self._lookups[key] = asyncio.ensure_future(_look_up(connection, ref))
        try:
            path = await asyncio.shield(lookup)
        finally:
            if lookup.done() and self._lookups.get(key) is lookup:
                del self._lookups[key]
        self._paths[key] = path
        return path


async def _look_up(connection: Connection, ref: int | str | None) -> str:
    client = connection.client
    if ref is None:
        return (await client.current_user()).username
    return (await client.namespace(ref)).full_path
