"""Full paths of import target namespaces, as GitLab spells them (effects layer).

Every import pass needs its target's full path: to look the project up, to verify where
GitLab put it. Looking the namespace up also finds a missing one before any archive is sent.
"""

from __future__ import annotations

from gitlab_ferry.api import ProjectImportSpec
from gitlab_ferry.effects.connections import Connection


class NamespacePaths:
    """Full paths of target namespaces as GitLab spells them, by id or path (and of users'
    personal namespaces), cached: they rarely change and every pass needs them. Looking the
    namespace up also finds a missing one before any archive is sent."""

    def __init__(self) -> None:
        self._paths: dict[tuple[str, str, str], str] = {}

    async def full_path(self, connection: Connection, spec: ProjectImportSpec) -> str:
        ref: int | str | None = spec.namespace_id or spec.namespace_path or spec.namespace
        if isinstance(ref, str):
            ref = int(ref) if ref.isdigit() else ref.strip("/")
        key = (connection.host, connection.identity, str(ref))
        if key not in self._paths:
            client = connection.client
            if ref is None:
                self._paths[key] = (await client.current_user()).username
            else:
                self._paths[key] = (await client.namespace(ref)).full_path
        return self._paths[key]
