"""Operator settings from ``GITLAB_FERRY_*`` environment variables and flags.

A low layer: pydantic-settings only. Every knob has a default that is right for GitLab's own
defaults (rate limits 6/6/1 per minute); tests and benchmarks change them, users rarely.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """The operator's configuration."""

    model_config = SettingsConfigDict(env_prefix="GITLAB_FERRY_", extra="ignore")

    namespaces: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Namespaces to watch (comma-separated); empty watches all namespaces.",
    )
    metrics_port: int = Field(default=8080, ge=0, le=65535, description="Prometheus port.")
    metrics_address: str = Field(
        default="0.0.0.0",  # noqa: S104 - in a pod, Prometheus scrapes from outside
        description="Address to serve metrics and health endpoints on.",
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR.")
    log_format: str = Field(default="plain", description="plain or json.")

    export_limit: int = Field(default=6, ge=0, description="GitLab exports per minute per user.")
    import_limit: int = Field(default=6, ge=0, description="GitLab imports per minute per user.")
    download_limit: int = Field(
        default=1, ge=0, description="GitLab export downloads per minute per user and scope."
    )
    download_limit_scope: str = Field(
        default="Namespace", description="Namespace or Project: what downloads count per."
    )
    group_export_limit: int = Field(
        default=6, ge=0, description="GitLab group exports per minute per user."
    )
    group_import_limit: int = Field(
        default=6, ge=0, description="GitLab group imports per minute per user."
    )
    group_download_limit: int = Field(
        default=1, ge=0, description="GitLab group export downloads per minute per user."
    )
    rate_limit_margin: float = Field(
        default=1.0,
        ge=0,
        description="Seconds kept clear of each minute boundary (tolerated clock skew).",
    )

    poll_initial: float = Field(default=5.0, gt=0, description="First status poll (seconds).")
    poll_max: float = Field(default=60.0, gt=0, description="Longest poll interval (seconds).")
    poll_factor: float = Field(default=2.0, ge=1, description="Poll back-off factor.")
    retry_delay: float = Field(default=60.0, ge=0, description="Pause before retrying a failure.")
    export_acceptance_grace: float = Field(
        default=120.0,
        gt=0,
        description=(
            "Seconds GitLab may show no export after a request before the request counts as "
            "lost and is retried (GitLab creates the job from its background queue)."
        ),
    )
    recheck_interval: float = Field(
        default=300.0, gt=0, description="How often conditions only a person fixes are rechecked."
    )
    max_attempts: int = Field(default=3, ge=1, description="Export attempts per desired state.")
    backoff_max: float = Field(
        default=300.0, gt=0, description="Longest back-off after transient errors (seconds)."
    )

    http_timeout: float = Field(default=30.0, gt=0, description="GitLab request timeout.")
    gitlab_version_ttl: float = Field(
        default=3600.0,
        gt=0,
        description=(
            "Seconds a GitLab's version (GET /version), and a feature it answered 404 for, "
            "are trusted before being read again."
        ),
    )
    s3_part_size: int = Field(
        default=16 * 1024**2,
        ge=5 * 1024**2,
        description=(
            "Bytes per part when the operator copies an archive to S3 itself (archives past "
            "S3's 5 GiB single-upload limit); one part is held in memory at a time."
        ),
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Hosts (host or host:port, comma-separated) that objects may name as GitLab or "
            "archive sources. Empty allows any host except loopback, link-local and cloud "
            "metadata addresses, which are allowed only when listed here."
        ),
    )

    clock_speed: float = Field(
        default=1.0, gt=0, description="Time acceleration, for tests and benchmarks only."
    )
    clock_anchor: float | None = Field(
        default=None, description="Epoch anchor of an accelerated clock, shared with a simulator."
    )

    @field_validator("namespaces", "allowed_hosts", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value
