"""Simulator settings: GitLab's instance settings, version profiles, timings and start-up options.

Part of the simulator layer (an independent witness of GitLab's behaviour). These are plain pydantic
models with GitLab's defaults; the runtime-mutable part (``SimSettings``) is changed through the
control API or ``Simulator.update_settings``. This module must not import anything outside the
simulator and holds no state of its own.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gitlab_ferry_testbed.simulator.versions import parse_version, version_defaults

# Every import source GitLab knows; an upgraded instance keeps them all enabled, a new one has [].
ALL_IMPORT_SOURCES = (
    "github",
    "bitbucket",
    "bitbucket_server",
    "fogbugz",
    "git",
    "gitlab_project",
    "gitea",
    "manifest",
)

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = MappingProxyType({"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4})


def parse_size(value: int | str) -> int:
    """Bytes from an int or a string such as ``64KiB``, ``1 GiB`` or ``10MB``."""
    if isinstance(value, int):
        return value
    match = _SIZE_RE.match(value)
    if not match:
        raise ValueError(f"not a size: {value!r}")
    number, unit = float(match.group(1)), (match.group(2) or "").lower()
    base = unit[:1]
    factor = 1024 ** "bkmgt".index(base) if "i" in unit and base != "b" else _UNITS[base]
    return int(number * factor)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class InstanceSettings(_Model):
    """GitLab application settings that gate the import/export endpoints (sizes in MB)."""

    project_export_enabled: bool = True
    import_sources: list[str] | None = Field(
        default=None, description="None: the profile's default (all sources, or [] on new installs)"
    )
    max_export_size: int = Field(default=0, ge=0)
    max_import_size: int = Field(default=0, ge=0)
    max_import_remote_file_size: int = Field(default=10240, ge=0)
    max_decompressed_archive_size: int = Field(default=25600, ge=0)
    allow_local_requests_from_web_hooks_and_services: bool = False
    project_export_limit: int = Field(default=6, ge=0)
    project_download_export_limit: int = Field(default=1, ge=0)
    project_import_limit: int = Field(default=6, ge=0)
    group_export_limit: int = Field(default=6, ge=0)
    group_download_export_limit: int = Field(default=1, ge=0)
    group_import_limit: int = Field(default=6, ge=0)
    # Groups API limits (per user, or per IP address without one); instances upgraded to 18.0
    # have them at 0, new ones at these values
    group_api_limit: int = Field(default=400, ge=0)
    group_projects_api_limit: int = Field(default=600, ge=0)
    concurrent_relation_export_limit: int = Field(default=0, ge=0)


class RackAttack(_Model):
    """Rack::Attack's authenticated API throttle (instance-wide, plain-text 429)."""

    enabled: bool = False
    limit: int = Field(default=600, ge=1)
    period: int = Field(default=60, ge=1)


class Profile(_Model):
    """Switches for behaviour that differs between GitLab versions (reference §10).

    The class defaults are GitLab 18.7's; ``versions.CHANGES`` gives every other release's.
    """

    export_ownership: Literal["user", "project"] = "user"
    export_failed_status: bool = True
    export_jobs: Literal["coalesce", "parallel"] = "coalesce"
    download_limit_scope: Literal["namespace", "project"] = "namespace"
    retry_after_header: bool = True
    download_content_type: str = "application/octet-stream"
    namespace_id_params: bool = True
    stuck_import_timeout: float = Field(default=86400.0, gt=0)
    import_sources_default: Literal["all", "none"] = "all"
    remote_import: bool = True
    remote_import_s3: bool = True
    remote_import_refuses_s3: bool = False
    relation_import: bool = True
    maintainer_to_import: bool = True
    metadata_api: bool = True
    version_mirrors_metadata: bool = True
    metadata_enterprise: bool = True
    metadata_kas_k8s_proxy_url: bool = True
    statistics_container_registry_size: bool = True
    project_topics: bool = True
    groups_api_rate_limits: bool = True
    group_import_rate_limit: bool = False
    group_import_keeps_visibility: bool = True


class Timing(_Model):
    """How fast jobs move, in clock seconds; ``step_mode`` moves them only on ``step``."""

    step_mode: bool = False
    export_queue_delay: float = Field(default=1.0, ge=0)
    export_duration: float = Field(default=10.0, ge=0)
    import_queue_delay: float = Field(default=1.0, ge=0)
    import_duration: float = Field(default=10.0, ge=0)
    relation_import_queue_delay: float = Field(default=1.0, ge=0)
    relation_import_duration: float = Field(default=5.0, ge=0)
    deletion_delay: float = Field(default=0.0, ge=0)
    group_export_queue_delay: float = Field(default=1.0, ge=0)
    group_export_duration: float = Field(default=10.0, ge=0)
    group_import_queue_delay: float = Field(default=1.0, ge=0)
    group_import_duration: float = Field(default=10.0, ge=0)


class Behaviour(_Model):
    """Simulator-only knobs that real GitLab does not have."""

    object_storage: bool = False
    storage_url_ttl: float = Field(default=600.0, gt=0)
    allow_http_remote_import: bool = False
    remote_head_timeout: float = Field(default=1.0, gt=0)
    rack_attack: RackAttack = Field(default_factory=RackAttack)
    gitlab_version: str = "18.7.0"
    gitlab_revision: str = "6e1fd9a3c2b"
    archive_gzip_level: int = Field(default=0, ge=0, le=9)
    # Amazon S3 refuses a single PUT above 5 GiB (EntityTooLarge); GitLab's upload strategy
    # does not split the archive, so larger exports cannot reach S3 through upload[url].
    s3_single_put_limit: int = Field(default=5 * 1024**3, ge=0)

    @field_validator("gitlab_version")
    @classmethod
    def _known_shape(cls, value: str) -> str:
        parse_version(value)
        return value


class SimSettings(_Model):
    """Everything that can change while the simulator runs."""

    instance: InstanceSettings = Field(default_factory=InstanceSettings)
    profile: Profile = Field(default_factory=Profile)
    timing: Timing = Field(default_factory=Timing)
    behaviour: Behaviour = Field(default_factory=Behaviour)
    features: dict[str, bool | int] = Field(
        default_factory=dict,
        description="Persisted feature-flag gates (Features API): true/false, or a percentage",
    )

    @field_validator("features")
    @classmethod
    def _gates(cls, gates: dict[str, bool | int]) -> dict[str, bool | int]:
        """Flipper keeps 0 % and 100 % as the boolean gate, anything between as a percentage."""
        out: dict[str, bool | int] = {}
        for name, gate in gates.items():
            if not isinstance(gate, bool) and not 0 <= gate <= 100:
                raise ValueError(f"feature {name!r}: a percentage is between 0 and 100")
            out[name] = gate if isinstance(gate, bool) or 0 < gate < 100 else gate == 100
        return out

    @model_validator(mode="after")
    def _version_defaults(self) -> SimSettings:
        """Fill every setting nobody set explicitly from the selected version's profile."""
        for section_name, values in version_defaults(self.behaviour.gitlab_version).items():
            section: BaseModel = getattr(self, section_name)
            for name, value in values.items():
                if name not in section.model_fields_set:
                    # Written past pydantic's bookkeeping on purpose: the field stays "unset",
                    # so choosing another version later derives it again.
                    section.__dict__[name] = value
        return self

    def enabled_import_sources(self) -> list[str]:
        if self.instance.import_sources is not None:
            return self.instance.import_sources
        return list(ALL_IMPORT_SOURCES) if self.profile.import_sources_default == "all" else []

    def merged(self, patch: dict[str, Any]) -> SimSettings:
        """A validated copy with ``patch`` deep-merged into the explicitly set settings."""
        return SimSettings.model_validate(_deep_merge(_explicit(self), patch))


def _explicit(model: BaseModel) -> dict[str, Any]:
    """The settings somebody set, however deep (``exclude_unset`` misses nested assignments)."""
    out: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            nested = _explicit(value)
            if nested or name in model.model_fields_set:
                out[name] = nested
        elif name in model.model_fields_set:
            out[name] = value.copy() if isinstance(value, dict | list) else value
    return out


def _deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


class SimulatorConfig(_Model):
    """Start-up options of one simulator instance."""

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)
    storage_port: int = Field(default=0, ge=0, le=65535)
    data_dir: Path | None = None
    external_url: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    s3_endpoint: str | None = None
    ca_file: Path | None = None
    random_seed: int = 0
    control_requires_admin: bool = False
    settings: SimSettings = Field(default_factory=SimSettings)
