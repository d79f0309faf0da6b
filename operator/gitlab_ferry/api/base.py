"""Shared building blocks of the custom-resource models (api layer).

Pydantic only: these models describe the YAML users write and the status the operator
records, and they generate the CRDs. They must not import anything that performs I/O or
knows about kopf, Kubernetes clients or GitLab's HTTP API.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)
from pydantic.alias_generators import to_camel

GROUP = "gitlabferry.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
CATEGORY = "gitlab"

#: Annotation through which a user approves a plan (``approval: Manual``).
APPROVE_ANNOTATION = f"{GROUP}/approve-plan"
#: Annotation through which a user asks for a refused request to be sent again: any value
#: other than the one recorded with the refusal.
RETRY_ANNOTATION = f"{GROUP}/retry"


@dataclass(frozen=True)
class Rule:
    """A cross-field rule, enforced twice from one definition: by the API server as CEL at
    apply time, and by the model for what never passes through it (``gitlab-ferry plan``,
    objects stored before a CRD upgrade)."""

    cel: str
    message: str
    check: Callable[[Any], bool]
    field_path: str | None = None

    def validation(self) -> dict[str, str]:
        return cel(self.cel, self.message, field_path=self.field_path)


class SpecModel(BaseModel):
    """A part of a ``spec``: camelCase in YAML, unknown fields refused, immutable in memory."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )
    #: Cross-field rules of this part of the spec (see ``with_rules``).
    rules: ClassVar[tuple[Rule, ...]] = ()

    @model_validator(mode="after")
    def _check_rules(self) -> SpecModel:
        for rule in self.rules:
            if not rule.check(self):
                raise ValueError(rule.message)
        return self


def with_rules(*rules: Rule) -> ConfigDict:
    """Model configuration carrying ``rules`` into the schema as CEL validations."""
    return {
        **SpecModel.model_config,
        "json_schema_extra": validations(*(r.validation() for r in rules)),
    }


class StatusModel(BaseModel):
    """A part of a ``status``: camelCase in YAML, tolerant of fields it does not know."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


def cel(rule: str, message: str, *, field_path: str | None = None) -> dict[str, str]:
    """One ``x-kubernetes-validations`` rule, evaluated by the API server at apply time."""
    validation = {"rule": rule, "message": message}
    if field_path is not None:
        validation["fieldPath"] = field_path
    return validation


def validations(*rules: dict[str, str]) -> dict[str, Any]:
    """JSON-schema extra carrying CEL rules for a model or a field."""
    return {"x-kubernetes-validations": list(rules)}


IntOrString = Annotated[
    int | str,
    WithJsonSchema({"x-kubernetes-int-or-string": True}),
]

_DURATION_RE = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
DURATION_PATTERN = r"^([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?$"


def _positive_duration(text: str) -> str:
    if parse_duration(text) <= timedelta(0):
        raise ValueError("the duration must be longer than zero")
    return text


Duration = Annotated[
    str,
    Field(
        pattern=DURATION_PATTERN,
        min_length=2,
        max_length=32,
        examples=["90s", "30m", "6h", "7d", "1d12h"],
        json_schema_extra=validations(
            cel("!self.matches('^(0+[dhms])+$')", "the duration must be longer than zero")
        ),
    ),
    AfterValidator(_positive_duration),
]

#: A project: a positive numeric id (also quoted) or a full path ``group/.../project``.
PROJECT_REF_PATTERN = r"^([1-9][0-9]*|[^/\s]+(/[^/\s]+)+)$"
#: The same pattern inside a single-quoted CEL string literal.
PROJECT_REF_CEL = PROJECT_REF_PATTERN.replace("\\", "\\\\")


def _not_boolean(value: object) -> object:
    # Before pydantic's lax mode can turn ``true`` into the project id 1.
    if isinstance(value, bool):
        raise ValueError("a project is a numeric id or a full path, not a boolean")
    return value


def _project_ref(value: int | str) -> int | str:
    if isinstance(value, int):
        if value <= 0:
            raise ValueError("a numeric project id must be positive")
        return value
    if not re.fullmatch(PROJECT_REF_PATTERN, value):
        raise ValueError("a project is a positive numeric id or a full path such as group/project")
    return value


ProjectRef = Annotated[
    int | str,
    WithJsonSchema({"x-kubernetes-int-or-string": True}),
    BeforeValidator(_not_boolean),
    AfterValidator(_project_ref),
]


def parse_duration(text: str) -> timedelta:
    """Parse a duration such as ``6h``, ``1d12h`` or ``90s``."""
    match = _DURATION_RE.fullmatch(text)
    if not text or match is None:
        raise ValueError(f"invalid duration {text!r}: use e.g. 90s, 30m, 6h or 7d")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


class SecretKeyRef(SpecModel):
    """A key of a Secret in the object's own namespace."""

    name: str = Field(
        min_length=1,
        max_length=253,
        description="Name of a Secret in the same namespace as this object.",
    )
    key: str = Field(min_length=1, max_length=253, description="Key within the Secret.")


class TokenSecretRef(SecretKeyRef):
    key: str = Field(
        default="token",
        min_length=1,
        max_length=253,
        description="Key within the Secret that holds the GitLab access token (scope api).",
    )


class CaBundleSecretRef(SecretKeyRef):
    key: str = Field(
        default="ca.crt",
        min_length=1,
        max_length=253,
        description="Key within the Secret that holds PEM CA certificates to trust.",
    )


class UrlSecretRef(SecretKeyRef):
    key: str = Field(
        default="url",
        min_length=1,
        max_length=253,
        description="Key within the Secret that holds the URL.",
    )


class S3CredentialsSecretRef(SpecModel):
    """S3 credentials in a Secret of the object's own namespace."""

    name: str = Field(
        min_length=1, max_length=253, description="Name of a Secret in the same namespace."
    )
    access_key_id_key: str = Field(
        default="AWS_ACCESS_KEY_ID", description="Key holding the access key id."
    )
    secret_access_key_key: str = Field(
        default="AWS_SECRET_ACCESS_KEY", description="Key holding the secret access key."
    )
    session_token_key: str = Field(
        default="AWS_SESSION_TOKEN",
        description="Key holding a session token; used only when the Secret has it.",
    )


class TokenType(StrEnum):
    PRIVATE_TOKEN = "PrivateToken"
    BEARER = "Bearer"


class DownloadLimitScope(StrEnum):
    """What GitLab's one-download-per-minute limit is counted per, besides the user."""

    NAMESPACE = "Namespace"
    PROJECT = "Project"


class RateLimits(SpecModel):
    """Per-connection overrides of GitLab's per-user rate limits (requests per minute)."""

    export: int | None = Field(
        default=None, ge=0, description="Export requests per minute (GitLab default 6)."
    )
    import_: int | None = Field(
        default=None,
        ge=0,
        alias="import",
        description="Import requests per minute, shared by every import endpoint (default 6).",
    )
    download: int | None = Field(
        default=None, ge=0, description="Export downloads per minute (GitLab default 1)."
    )
    download_scope: DownloadLimitScope | None = Field(
        default=None,
        description=(
            "Whether the download limit counts per namespace (older GitLab, the default "
            "because it is the stricter one) or per project."
        ),
    )


class GitLabConnection(SpecModel):
    """How to reach one GitLab instance."""

    url: str = Field(
        min_length=8,
        max_length=2048,
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description=(
            "Base URL of the GitLab instance, e.g. https://gitlab.example.com; the API is "
            "under <url>/api/v4."
        ),
    )
    token_secret_ref: TokenSecretRef = Field(
        description="Secret holding the access token; it must be in this object's namespace."
    )
    token_type: TokenType = Field(
        default=TokenType.PRIVATE_TOKEN,
        description=(
            "How the token is sent: PrivateToken (PRIVATE-TOKEN header, personal, group and "
            "project access tokens) or Bearer (Authorization header, OAuth tokens)."
        ),
    )
    ca_bundle_secret_ref: CaBundleSecretRef | None = Field(
        default=None,
        description="Secret holding extra CA certificates (PEM) for a private GitLab.",
    )
    rate_limits: RateLimits | None = Field(
        default=None,
        description=(
            "Overrides of the operator's rate-limit budget for this GitLab. Objects sharing "
            "a GitLab host and token share one budget."
        ),
    )
