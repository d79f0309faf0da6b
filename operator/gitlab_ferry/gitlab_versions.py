"""What each GitLab version offers gitlab-ferry: the version number, the capabilities the
import/export API gained over time, and what a GitLab instance was seen to lack.

A leaf module (standard library only), shared by the effects (which read ``GET /version`` and
learn from 404s) and the pure planners (which choose parameters and routes from it). The
cut-over versions come from GitLab's API documentation (the history notes of
``doc/api/project_import_export.md`` in English, Chinese and Korean).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

_VERSION_RE = re.compile(r"^\s*v?(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True, order=True)
class GitLabVersion:
    """A GitLab release number; edition and pre-release suffixes are dropped."""

    major: int
    minor: int
    patch: int = 0

    @classmethod
    def parse(cls, text: str | None) -> GitLabVersion | None:
        """``17.11.3-ee`` -> 17.11.3; ``None`` for text that is not a version."""
        match = _VERSION_RE.match(text or "")
        if match is None:
            return None
        major, minor, patch = match.groups()
        return cls(int(major), int(minor), int(patch or 0))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


#: The oldest GitLab gitlab-ferry supports: the first with every import route it drives
#: (remote-import arrived in 13.12).
OLDEST_SUPPORTED = GitLabVersion(13, 12)


class Capability(StrEnum):
    """Parts of GitLab's API that some versions or instances lack."""

    NAMESPACE_ID_PARAMS = "the namespace_id and namespace_path import parameters"
    REMOTE_IMPORT = "POST /projects/remote-import"
    REMOTE_IMPORT_S3 = "POST /projects/remote-import-s3"
    #: remote-import of an AWS S3 URL: refused (use remote-import-s3) from 14.9 to 15.10 where
    #: an administrator turned remote-import-s3's flag on.
    REMOTE_IMPORT_OF_S3_URLS = "POST /projects/remote-import of an AWS S3 URL"
    IMPORT_RELATION = "POST /projects/import-relation"


class Support(StrEnum):
    """How a capability stands on a version."""

    ABSENT = "absent"
    #: Behind a feature flag that is off unless an administrator enables it.
    FLAG_OFF = "off by default"
    #: Present; an administrator may still have turned its feature flag off.
    AVAILABLE = "available"


@dataclass(frozen=True)
class Cutover:
    """When a capability appeared and, where it started behind a flag that is off by
    default, when it became usable without one."""

    since: GitLabVersion
    flag: str | None = None
    #: The version from which the flag is on by default or gone (``None``: from ``since``).
    usable_since: GitLabVersion | None = None


CUTOVERS: dict[Capability, Cutover] = {
    Capability.NAMESPACE_ID_PARAMS: Cutover(GitLabVersion(18, 7)),
    Capability.REMOTE_IMPORT: Cutover(
        GitLabVersion(13, 12),
        flag="import_project_from_remote_file",
        usable_since=GitLabVersion(14, 0),
    ),
    Capability.REMOTE_IMPORT_S3: Cutover(
        GitLabVersion(14, 9),
        flag="import_project_from_remote_file_s3",
        usable_since=GitLabVersion(15, 11),
    ),
    Capability.REMOTE_IMPORT_OF_S3_URLS: Cutover(GitLabVersion(13, 12)),
    Capability.IMPORT_RELATION: Cutover(
        GitLabVersion(16, 11), flag="single_relation_import", usable_since=GitLabVersion(17, 1)
    ),
}

#: Importing needs Maintainer or Owner on the target namespace from these releases on
#: (16.0, backported to 15.11.1 and 15.10.5); before, a Developer allowed to create projects
#: there could import.
_MAINTAINER_RULE = (GitLabVersion(15, 10, 5), GitLabVersion(15, 11, 1), GitLabVersion(16, 0))


def support(capability: Capability, version: GitLabVersion) -> Support:
    cutover = CUTOVERS[capability]
    if version < cutover.since:
        return Support.ABSENT
    if cutover.usable_since is not None and version < cutover.usable_since:
        return Support.FLAG_OFF
    return Support.AVAILABLE


def maintainer_required(version: GitLabVersion | None) -> bool:
    """Whether importing needs Maintainer (or Owner) rather than Developer on ``version``;
    assumed for an unknown version, the stricter rule."""
    if version is None:
        return True
    ten, eleven, sixteen = _MAINTAINER_RULE
    if version >= sixteen:
        return True
    if (version.major, version.minor) == (15, 11):
        return version >= eleven
    if (version.major, version.minor) == (15, 10):
        return version >= ten
    return False


@dataclass(frozen=True)
class GitLabInfo:
    """What is known about one GitLab instance, as one token sees it."""

    #: ``None`` when the version could not be read.
    version: GitLabVersion | None = None
    #: Capabilities this instance answered 404 for although its version has them (a feature
    #: flag an administrator turned off).
    disabled: frozenset[Capability] = field(default_factory=frozenset)

    @property
    def supported(self) -> bool:
        return self.version is None or self.version >= OLDEST_SUPPORTED

    def usable(self, capability: Capability) -> bool:
        """Whether a request needing ``capability`` is worth sending: the version has it
        (perhaps behind a flag, which a 404 then reveals) and it was not found off. An
        unknown version is given the benefit of the doubt except for parameters an older
        GitLab would silently ignore."""
        if capability in self.disabled:
            return False
        if self.version is None:
            return capability is not Capability.NAMESPACE_ID_PARAMS
        return support(capability, self.version) is not Support.ABSENT

    def flagged(self, capability: Capability) -> str | None:
        """A sentence when ``capability`` is behind a flag that is off by default here."""
        if self.version is None or support(capability, self.version) is not Support.FLAG_OFF:
            return None
        cutover = CUTOVERS[capability]
        return (
            f"{capability} is behind the feature flag {cutover.flag}, off by default on "
            f"GitLab {self.version}: trying it, and a 404 sends the next plan another way"
        )

    def why_not(self, capability: Capability) -> str:
        """A sentence on why ``capability`` cannot be used here."""
        cutover = CUTOVERS[capability]
        if capability in self.disabled:
            flag = f" (feature flag {cutover.flag})" if cutover.flag else ""
            return f"{capability} is turned off on this GitLab{flag}"
        if self.version is None:
            return f"the GitLab version is unknown, so {capability} cannot be relied on"
        return f"GitLab {self.version} has no {capability} (added in {cutover.since})"

    def describe(self) -> str:
        return f"GitLab {self.version}" if self.version else "GitLab (version unknown)"
