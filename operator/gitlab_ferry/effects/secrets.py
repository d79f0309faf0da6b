"""Credentials from the Secrets a spec names, in the object's own namespace only
(effects layer).

A missing Secret or key is a ``MissingSecret`` that the reconcilers report as SecretMissing
and retry, so an object recovers by itself once the Secret appears. Values never leave this
module except to the client or signer that needs them.
"""

from __future__ import annotations

from dataclasses import dataclass

from gitlab_ferry.api.base import GitLabConnection, S3CredentialsSecretRef, SecretKeyRef
from gitlab_ferry.effects.kube import SecretCache
from gitlab_ferry.effects.s3 import S3Credentials


class MissingSecret(Exception):
    """A Secret or one of its keys does not exist (yet)."""


@dataclass(frozen=True)
class GitLabCredentials:
    url: str
    token: str
    token_type: str
    ca_pem: str | None


async def secret_value(secrets: SecretCache, namespace: str, ref: SecretKeyRef) -> str:
    data = await secrets.read(namespace, ref.name)
    if data is None:
        raise MissingSecret(f"Secret {namespace}/{ref.name} does not exist")
    value = data.get(ref.key)
    if value is None or not value.strip():
        raise MissingSecret(f"Secret {namespace}/{ref.name} has no key {ref.key!r}")
    return value.strip()


async def gitlab_credentials(
    secrets: SecretCache, namespace: str, connection: GitLabConnection
) -> GitLabCredentials:
    token = await secret_value(secrets, namespace, connection.token_secret_ref)
    ca_pem = None
    if connection.ca_bundle_secret_ref is not None:
        ca_pem = await secret_value(secrets, namespace, connection.ca_bundle_secret_ref)
    return GitLabCredentials(
        url=connection.url.rstrip("/"),
        token=token,
        token_type=connection.token_type.value,
        ca_pem=ca_pem,
    )


async def s3_credentials(
    secrets: SecretCache, namespace: str, ref: S3CredentialsSecretRef
) -> S3Credentials:
    data = await secrets.read(namespace, ref.name)
    if data is None:
        raise MissingSecret(f"Secret {namespace}/{ref.name} does not exist")
    missing = [
        key for key in (ref.access_key_id_key, ref.secret_access_key_key) if not data.get(key)
    ]
    if missing:
        raise MissingSecret(f"Secret {namespace}/{ref.name} has no key {missing[0]!r}")
    return S3Credentials(
        access_key_id=data[ref.access_key_id_key].strip(),
        secret_access_key=data[ref.secret_access_key_key].strip(),
        session_token=(data.get(ref.session_token_key) or "").strip() or None,
    )
