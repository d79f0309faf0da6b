"""GitLab releases: which behaviour each version has, as one table of cut-overs.

Part of the simulator layer. ``settings.behaviour.gitlab_version`` selects a profile: every
version-dependent setting takes the value of the last change at or before that version (patch
backports included), so any version between the named ones behaves as the releases around it
did. ``CHANGES`` is the one place that ties a setting to a release and names the source (a seed
in ``shared/reference/seeds`` or GitLab's own docs and source); ``FLAGS`` does the same for the
feature flags that gate endpoints. Explicit settings in a seed still win (see ``config``). Pure
data and functions: it must not import anything outside the simulator.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

Version = tuple[int, int, int]
_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+.][0-9A-Za-z.-]*)?$")


def parse_version(text: str) -> Version:
    """``17.11.3``, ``18.7.0-ee`` or ``14.10`` as a comparable tuple."""
    match = _VERSION_RE.match(text.strip())
    if match is None:
        raise ValueError(f"not a GitLab version: {text!r}")
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def full_version(text: str) -> str:
    """What ``GET /version`` reports: always ``major.minor.patch`` plus any ``-ee`` suffix."""
    major, minor, patch = parse_version(text)
    suffix = text.strip().split("-", 1)[1] if "-" in text else ""
    return f"{major}.{minor}.{patch}" + (f"-{suffix}" if suffix else "")


@dataclass(frozen=True)
class Change:
    """From ``since`` on (and in the listed patch backports) ``setting`` takes ``value``."""

    setting: str
    since: str
    value: Any
    source: str
    backports: tuple[str, ...] = ()

    def applies(self, version: Version) -> bool:
        if version >= parse_version(self.since):
            return True
        # a backport reaches the later patches of its own minor release only
        return any(
            version[:2] == port[:2] and version >= port
            for port in map(parse_version, self.backports)
        )


# What GitLab did before the first change below (13.7 and older).
BASELINE: Mapping[str, Any] = MappingProxyType(
    {
        "instance.max_import_size": 50,
        "profile.remote_import": False,
        "profile.stuck_import_timeout": 54000.0,
        "profile.remote_import_s3": False,
        "profile.remote_import_refuses_s3": False,
        "profile.download_limit_scope": "project",
        "profile.metadata_api": False,
        "profile.version_mirrors_metadata": False,
        "profile.metadata_enterprise": False,
        "profile.maintainer_to_import": False,
        "profile.statistics_container_registry_size": False,
        "profile.relation_import": False,
        "profile.metadata_kas_k8s_proxy_url": False,
        "profile.retry_after_header": False,
        "profile.namespace_id_params": False,
        "profile.project_topics": False,
        "profile.groups_api_rate_limits": False,
        "profile.group_import_rate_limit": False,
        "profile.group_import_keeps_visibility": False,
    }
)

_DOCS = "GitLab docs"
CHANGES: tuple[Change, ...] = (
    Change(
        "instance.max_import_size",
        "13.8",
        0,
        f"{_DOCS} (project import/export, account and limit settings): default changed from "
        "50 MB to unlimited in 13.8, issue 251106; seed 000 (13.x) still says 50 MB",
    ),
    Change(
        "profile.remote_import",
        "13.12",
        True,
        "seeds 002, 004; flag import_project_from_remote_file (milestone 13.12)",
    ),
    Change(
        "profile.project_topics",
        "14.0",
        True,
        "GitLab MR !62206 (issue 328226): project entities add topics beside tag_list, which "
        "stays in API v4; release inferred from the MR",
    ),
    Change(
        "profile.stuck_import_timeout",
        "14.1",
        86400.0,
        "GitLab MR !65066 (issue 333252): IMPORT_JOBS_EXPIRATION 15 h -> 24 h; release inferred",
    ),
    Change(
        "profile.remote_import_s3",
        "14.9",
        True,
        "seeds 002, 004; flag import_project_from_remote_file_s3 (milestone 14.9, off)",
    ),
    Change(
        "profile.remote_import_refuses_s3",
        "14.9",
        True,
        "GitLab source remote_file.rb: with the S3 flag on, remote-import refuses S3 answers",
    ),
    Change(
        "profile.download_limit_scope",
        "15.0",
        "namespace",
        "reference gitlab-api.md section 10: [user, project] up to 14.x, then MR !84754",
    ),
    Change("profile.metadata_api", "15.2", True, f"{_DOCS} api/metadata.md: introduced in 15.2"),
    Change(
        "profile.version_mirrors_metadata",
        "15.5",
        True,
        f"{_DOCS} api/version.md: from 15.5 the Version API mirrors the Metadata API",
    ),
    Change(
        "profile.metadata_enterprise",
        "15.6",
        True,
        f"{_DOCS} api/metadata.md: enterprise introduced in 15.6 (MR !103969)",
    ),
    Change(
        "profile.remote_import_refuses_s3",
        "15.11",
        False,
        "seeds 002, 004: remote-import-s3 GA in 15.11, flag import_project_from_remote_file_s3 "
        "removed",
    ),
    Change(
        "profile.maintainer_to_import",
        "16.0",
        True,
        "seeds 002, 004: Maintainer instead of Developer in 16.0, backported to 15.11.1 and "
        "15.10.5",
        backports=("15.11.1", "15.10.5"),
    ),
    Change(
        "profile.statistics_container_registry_size",
        "16.10",
        True,
        "GitLab MR !143332 adds container_registry_size to the REST API; release inferred",
    ),
    Change(
        "profile.group_import_keeps_visibility",
        "16.2",
        True,
        "GitLab MR !122754 (issue 405168): group exports carry visibility_level and imports keep "
        "it within the parent's; before, subgroups became private; release inferred from the MR",
    ),
    Change(
        "profile.relation_import",
        "16.11",
        True,
        f"seed 004; {_DOCS}: beta in 16.11 behind single_relation_import (off), GA in 17.1",
    ),
    Change(
        "profile.metadata_kas_k8s_proxy_url",
        "17.6",
        True,
        f"{_DOCS} api/metadata.md: kas.externalK8sProxyUrl introduced in 17.6 (MR !172373)",
    ),
    Change(
        "profile.groups_api_rate_limits",
        "17.1",
        True,
        f"{_DOCS} administration/settings/rate_limit_on_groups_api.md: GET /groups/:id and "
        "GET /groups/:id/projects limits in 17.1 behind rate_limit_groups_and_projects_api (off), "
        "GA in 18.1",
    ),
    Change(
        "profile.retry_after_header",
        "18.5",
        True,
        "GitLab MR !206603 (issue 572559): check_rate_limit! sends Retry-After; release inferred",
    ),
    Change(
        "profile.namespace_id_params",
        "18.7",
        True,
        "seed 004: namespace_id and namespace_path introduced in 18.7",
    ),
    Change(
        "profile.group_import_rate_limit",
        "19.0",
        True,
        "GitLab issue 285137: POST /groups/import checks the group_import limit only once "
        "lib/api/group_import.rb calls check_rate_limit!; a 19.0.0-pre tree lacks the call, a "
        "later one has it; release inferred",
    ),
)

# Switches with no known release: they keep today's behaviour on every version.
UNVERSIONED: Mapping[str, str] = MappingProxyType(
    {
        "profile.export_ownership": "per-user exports; the introducing release is unconfirmed "
        "(17.x-18.x, reference section 10)",
        "profile.export_failed_status": "failed export status; release unknown",
        "profile.export_jobs": "coalescing export jobs; release unknown",
        "profile.download_content_type": "application/octet-stream; only the oldest GitLab sent "
        "application/gzip",
        "profile.import_sources_default": "new installs default to [] from 16.0 (MR !118970); "
        "the profile models an instance where GitLab export is enabled",
        "instance.concurrent_relation_export_limit": "export concurrency cap (25) comes in 19.4",
    }
)


@dataclass(frozen=True)
class FeatureFlag:
    """A flag that gates an endpoint between ``introduced`` and ``removed`` (exclusive)."""

    name: str
    introduced: str
    removed: str | None
    default_on_since: str | None
    introduced_by_url: str
    rollout_issue_url: str
    source: str

    def checked(self, version: Version) -> bool:
        """Whether that release's code looks at the flag at all."""
        if version < parse_version(self.introduced):
            return False
        return self.removed is None or version < parse_version(self.removed)

    def default(self, version: Version) -> bool:
        since = self.default_on_since
        return since is not None and version >= parse_version(since)

    def definition(self, version: Version) -> dict[str, Any] | None:
        """GitLab's ``Feature::Definition`` as the Features API shows it."""
        if not self.checked(version):
            return None
        return {
            "name": self.name,
            "introduced_by_url": self.introduced_by_url,
            "rollout_issue_url": self.rollout_issue_url,
            "milestone": self.introduced,
            "log_state_changes": None,
            "type": "development",
            "group": "group::import",
            "default_enabled": self.default(version),
        }


_GITLAB = "https://gitlab.com/gitlab-org/gitlab/-"
FLAGS: Mapping[str, FeatureFlag] = MappingProxyType(
    {
        flag.name: flag
        for flag in (
            FeatureFlag(
                "import_project_from_remote_file",
                "13.12",
                None,
                # the 13.12 definition says default_enabled: false; every later doc says the
                # endpoint is available by default, so the flip is taken to be the next release
                "14.0",
                f"{_GITLAB}/merge_requests/59033",
                f"{_GITLAB}/issues/330039",
                "flag YAML (13.12, off); seeds 002, 004 (on by default, admins may disable)",
            ),
            FeatureFlag(
                "import_project_from_remote_file_s3",
                "14.9",
                "15.11",
                None,
                f"{_GITLAB}/merge_requests/77259",
                f"{_GITLAB}/issues/350571",
                "flag YAML (14.9, off); seed 002: on for the SaaS instance in 14.10, removed in "
                "15.11; self-managed stays off until then",
            ),
            FeatureFlag(
                "rate_limit_groups_and_projects_api",
                "17.1",
                "18.1",
                None,
                f"{_GITLAB}/merge_requests/152733",
                f"{_GITLAB}/issues/458904",
                f"{_DOCS} administration/settings/rate_limit_on_groups_api.md: introduced in 17.1 "
                "with the flag off by default, GA in 18.1 with the flag removed",
            ),
            FeatureFlag(
                "single_relation_import",
                "16.11",
                "17.1",
                None,
                f"{_GITLAB}/merge_requests/147904",
                f"{_GITLAB}/issues/455889",
                f"{_DOCS}: beta in 16.11 with the flag off by default, GA in 17.1",
            ),
        )
    }
)


def version_defaults(version: str) -> dict[str, dict[str, Any]]:
    """The profile's defaults for ``version``, by settings section."""
    parsed = parse_version(version)
    values = dict(BASELINE)
    for change in sorted(CHANGES, key=lambda c: parse_version(c.since)):
        if change.applies(parsed):
            values[change.setting] = change.value
    out: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        section, name = key.split(".", 1)
        out.setdefault(section, {})[name] = value
    return out


def flag_checked(name: str, version: str) -> bool:
    flag = FLAGS.get(name)
    return flag is not None and flag.checked(parse_version(version))


def flag_enabled(name: str, version: str, gates: Mapping[str, bool | int]) -> bool | int:
    """The flag's state: the persisted gate (a percentage stays an int), else its default."""
    if name in gates:
        return gates[name]
    flag = FLAGS.get(name)
    return flag is not None and flag.default(parse_version(version))
