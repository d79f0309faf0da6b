"""An in-memory stand-in for the Kubernetes API the reconcilers use (``effects.kube.Kube``):
custom objects with their status subresource, and Secrets. For the component tier, which runs
reconcile passes in milliseconds; the end-to-end tier uses a real API server."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from gitlab_ferry.effects.kube import ObjectRef


class FakeKube:
    """Objects by (plural, namespace, name), Secrets by (namespace, name); every status write
    is kept in ``writes`` so a test can see what was recorded before a GitLab call."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.secrets: dict[tuple[str, str], dict[str, str]] = {}
        self.writes: list[tuple[ObjectRef, dict[str, Any]]] = []

    def put(self, plural: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Store an object as the API server would (a uid, unique per kind and name, and
        generation 1 when missing)."""
        stored = copy.deepcopy(dict(body))
        metadata = stored.setdefault("metadata", {})
        metadata.setdefault("namespace", "default")
        metadata.setdefault("uid", f"uid-{plural}-{metadata['name']}")
        metadata.setdefault("generation", 1)
        self.objects[(plural, metadata["namespace"], metadata["name"])] = stored
        return stored

    def body(self, plural: str, namespace: str, name: str) -> dict[str, Any]:
        return self.objects[(plural, namespace, name)]

    def annotate(self, plural: str, namespace: str, name: str, key: str, value: str) -> None:
        metadata = self.objects[(plural, namespace, name)]["metadata"]
        metadata.setdefault("annotations", {})[key] = value

    def set_spec(self, plural: str, namespace: str, name: str, **changes: Any) -> None:
        """Change the spec; the generation moves on, as the API server does."""
        body = self.objects[(plural, namespace, name)]
        body["spec"].update(changes)
        body["metadata"]["generation"] += 1

    # -- the Kube protocol -------------------------------------------------------------------

    async def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        data = self.secrets.get((namespace, name))
        return dict(data) if data is not None else None

    async def list_objects(self, plural: str, namespaces: Sequence[str]) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(body)
            for (kind, namespace, _), body in self.objects.items()
            if kind == plural and (not namespaces or namespace in namespaces)
        ]

    async def get_object(self, ref: ObjectRef) -> dict[str, Any] | None:
        found = self.objects.get((ref.plural, ref.namespace, ref.name))
        return copy.deepcopy(found) if found is not None else None

    async def write_status(self, ref: ObjectRef, status: Mapping[str, Any]) -> bool:
        found = self.objects.get((ref.plural, ref.namespace, ref.name))
        if found is None:
            return False
        found["status"] = copy.deepcopy(dict(status))
        self.writes.append((ref, copy.deepcopy(dict(status))))
        return True

    async def create_object(self, plural: str, body: Mapping[str, Any]) -> bool:
        metadata = body.get("metadata") or {}
        key = (plural, str(metadata.get("namespace", "default")), str(metadata["name"]))
        if key in self.objects:
            return False
        self.put(plural, body)
        return True

    async def patch_metadata(self, ref: ObjectRef, metadata: Mapping[str, Any]) -> bool:
        found = self.objects.get((ref.plural, ref.namespace, ref.name))
        if found is None:
            return False
        stored = found["metadata"]
        for key, value in metadata.items():
            if isinstance(value, Mapping) and isinstance(stored.get(key), dict):
                stored[key].update(copy.deepcopy(dict(value)))
            else:
                stored[key] = copy.deepcopy(value)
        return True
