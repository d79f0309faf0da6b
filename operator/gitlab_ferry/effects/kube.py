"""Kubernetes reads and writes of the reconcilers: Secrets, status, referenced objects
(effects layer).

``Kube`` is all the reconcilers ask of Kubernetes; ``KubeApi`` is its real implementation, a
thin async facade over the official ``kubernetes`` client, which is synchronous: calls run in
worker threads. Status is written whole through the status subresource. It must not import
kopf.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, TypeVar

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from gitlab_ferry.api.base import GROUP, VERSION

_T = TypeVar("_T")


class KubeError(Exception):
    """A Kubernetes API call failed for a reason other than a missing object."""


@dataclass(frozen=True)
class ObjectRef:
    plural: str
    namespace: str
    name: str


class Kube(Protocol):
    """What the reconcilers ask of Kubernetes."""

    async def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        """The Secret's data, decoded as text; ``None`` if it does not exist."""
        ...

    async def get_object(self, ref: ObjectRef) -> dict[str, Any] | None:
        """A custom object of this operator's group, or ``None`` if absent."""
        ...

    async def list_objects(self, plural: str, namespaces: Sequence[str]) -> list[dict[str, Any]]:
        """The custom objects of ``plural`` in ``namespaces`` (every namespace if empty)."""
        ...

    async def write_status(self, ref: ObjectRef, status: Mapping[str, Any]) -> bool:
        """Replace the status subresource; ``False`` if the object is gone."""
        ...

    async def create_object(self, plural: str, body: Mapping[str, Any]) -> bool:
        """Create a custom object of this operator's group in its ``metadata.namespace``;
        ``False`` if one of that name exists already."""
        ...

    async def patch_metadata(self, ref: ObjectRef, metadata: Mapping[str, Any]) -> bool:
        """Merge ``metadata`` (labels, owner references) into an object's; ``False`` if the
        object is gone."""
        ...


class KubeApi:
    """The operator's Kubernetes calls, through the official client.

    The calls run on a thread pool of their own, as large as the client's connection pool:
    asyncio's default pool has only a few threads on a small machine, and with thousands of
    objects writing their status (and a GroupMigration creating its children) the calls
    would queue for a thread rather than overlap their round trips to the API server."""

    def __init__(self, api_client: k8s.ApiClient) -> None:
        self._client = api_client
        self._custom = k8s.CustomObjectsApi(api_client)
        workers = max(1, int(api_client.configuration.connection_pool_maxsize or 1))
        self._threads = ThreadPoolExecutor(workers, thread_name_prefix="kubernetes")

    async def _call(self, function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, partial(function, *args, **kwargs))

    def _get_secret(self, namespace: str, name: str) -> dict[str, Any]:
        """``GET`` a Secret as JSON through the generic client: ``CoreV1Api`` would load
        the code of every core endpoint (about 70 MB of memory) for this one call."""
        request = self._client.param_serialize(
            "GET",
            "/api/v1/namespaces/{namespace}/secrets/{name}",
            path_params={"namespace": namespace, "name": name},
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        response = self._client.call_api(*request)
        response.read()  # type: ignore[no-untyped-call]
        body = self._client.response_deserialize(response, {"200": "object"}).data
        return body if isinstance(body, dict) else {}

    async def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        """The Secret's data, decoded as text; ``None`` if it does not exist."""
        try:
            secret = await self._call(self._get_secret, namespace, name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise KubeError(
                f"reading Secret {namespace}/{name}: {exc.status} {exc.reason}"
            ) from exc
        data: dict[str, str] = {}
        for key, value in (secret.get("data") or {}).items():
            data[key] = base64.b64decode(value).decode("utf-8", errors="replace")
        for key, value in (secret.get("stringData") or {}).items():
            data[key] = value
        return data

    async def get_object(self, ref: ObjectRef) -> dict[str, Any] | None:
        """A custom object of this operator's group, or ``None`` if absent."""
        try:
            obj = await self._call(
                self._custom.get_namespaced_custom_object,
                GROUP,
                VERSION,
                ref.namespace,
                ref.plural,
                ref.name,
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise KubeError(
                f"reading {ref.plural} {ref.namespace}/{ref.name}: {exc.status}"
            ) from exc
        if not isinstance(obj, dict):
            raise KubeError(f"unexpected answer reading {ref.plural} {ref.namespace}/{ref.name}")
        return obj

    async def list_objects(self, plural: str, namespaces: Sequence[str]) -> list[dict[str, Any]]:
        """The custom objects of ``plural`` in ``namespaces`` (every namespace if empty)."""
        try:
            if not namespaces:
                answers = [
                    await self._call(
                        self._custom.list_cluster_custom_object, GROUP, VERSION, plural
                    )
                ]
            else:
                answers = [
                    await self._call(
                        self._custom.list_namespaced_custom_object,
                        GROUP,
                        VERSION,
                        namespace,
                        plural,
                    )
                    for namespace in namespaces
                ]
        except ApiException as exc:
            raise KubeError(f"listing {plural}: {exc.status}") from exc
        items: list[dict[str, Any]] = []
        for answer in answers:
            if isinstance(answer, dict):
                items.extend(item for item in answer.get("items") or [] if isinstance(item, dict))
        return items

    async def write_status(self, ref: ObjectRef, status: Mapping[str, Any]) -> bool:
        """Replace the status subresource; ``False`` if the object is gone.

        A JSON Patch, not a merge patch: a merge patch would drop GitLab's ``null`` values
        inside lists (``failedRelations[].exceptionMessage``), and the status is the
        operator's alone, so replacing it whole is right."""
        try:
            await self._call(
                self._custom.patch_namespaced_custom_object_status,
                GROUP,
                VERSION,
                ref.namespace,
                ref.plural,
                ref.name,
                [{"op": "add", "path": "/status", "value": dict(status)}],
                _content_type="application/json-patch+json",
            )
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise KubeError(f"writing status of {ref.namespace}/{ref.name}: {exc.status}") from exc
        return True

    async def create_object(self, plural: str, body: Mapping[str, Any]) -> bool:
        """Create a custom object of this operator's group in its ``metadata.namespace``;
        ``False`` if one of that name exists already."""
        namespace = str((body.get("metadata") or {}).get("namespace", ""))
        try:
            await self._call(
                self._custom.create_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                plural,
                dict(body),
            )
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise KubeError(f"creating {plural} in {namespace}: {exc.status} {exc.reason}") from exc
        return True

    async def patch_metadata(self, ref: ObjectRef, metadata: Mapping[str, Any]) -> bool:
        """Merge ``metadata`` (labels, owner references) into an object's; ``False`` if the
        object is gone."""
        try:
            await self._call(
                self._custom.patch_namespaced_custom_object,
                GROUP,
                VERSION,
                ref.namespace,
                ref.plural,
                ref.name,
                {"metadata": dict(metadata)},
            )
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise KubeError(
                f"patching {ref.plural} {ref.namespace}/{ref.name}: {exc.status}"
            ) from exc
        return True


class SecretCache:
    """Secrets read through a short-lived cache: objects polling GitLab re-read their token
    Secret on every pass, and a created or rotated Secret must still be picked up soon."""

    def __init__(
        self, kube: Kube, ttl: float = 10.0, now: Callable[[], float] = time.monotonic
    ) -> None:
        self._kube = kube
        self._ttl = ttl
        self._now = now
        self._entries: dict[tuple[str, str], tuple[float, dict[str, str] | None]] = {}

    async def read(self, namespace: str, name: str) -> dict[str, str] | None:
        key = (namespace, name)
        now = self._now()
        cached = self._entries.get(key)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        data = await self._kube.read_secret(namespace, name)
        self._entries[key] = (now, data)
        if len(self._entries) > 4096:
            oldest = min(self._entries, key=lambda k: self._entries[k][0])
            del self._entries[oldest]
        return data
