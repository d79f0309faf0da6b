"""Finding (and, on request, building) the etcd, kube-apiserver and kube-controller-manager
binaries that ``tools/controlplane/build.sh`` produces.

Layer: ``controlplane`` (a self-contained test and demo tool). It looks at the file system and
may run the build script when asked; it must not start control-plane processes, download
anything itself or import the operator or the rest of the testbed.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from gitlab_ferry_testbed.controlplane.errors import BinariesNotFound, ControlPlaneError

BIN_ENV = "GITLAB_FERRY_KUBE_BIN"
TOOL_DIR = Path("tools") / "controlplane"
ETCD, APISERVER, CONTROLLER_MANAGER = "etcd", "kube-apiserver", "kube-controller-manager"
BUILD_HINT = (
    "build them with `make controlplane` or `tools/controlplane/build.sh` "
    "(or pass --build to `python -m gitlab_ferry_testbed controlplane up`), "
    f"or set {BIN_ENV} to a directory that holds them"
)


@dataclass(frozen=True)
class Binaries:
    etcd: Path
    apiserver: Path
    controller_manager: Path | None  # optional: without it no GC and no namespace deletion

    @classmethod
    def in_directory(cls, directory: Path) -> Binaries | None:
        """The binaries in ``directory``, or None when etcd or kube-apiserver is missing."""
        directory = directory.resolve()
        etcd, apiserver = directory / ETCD, directory / APISERVER
        if not (_executable(etcd) and _executable(apiserver)):
            return None
        manager = directory / CONTROLLER_MANAGER
        return cls(etcd, apiserver, manager if _executable(manager) else None)

    def to_json(self) -> dict[str, str | None]:
        manager = self.controller_manager
        return {
            "etcd": str(self.etcd),
            "apiserver": str(self.apiserver),
            "controller_manager": str(manager) if manager else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Binaries:
        manager = data.get("controller_manager")
        return cls(
            Path(str(data["etcd"])),
            Path(str(data["apiserver"])),
            Path(str(manager)) if manager else None,
        )


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _search_roots(cwd: Path) -> Iterator[Path]:
    """The current directory and its parents, then the checkout this package lives in (when it
    runs from a source tree: operator/gitlab_ferry_testbed/controlplane/ is three levels down)."""
    yield cwd
    yield from cwd.parents
    here = Path(__file__).resolve()
    if len(here.parents) > 3:
        yield here.parents[3]


def tool_dirs(cwd: Path | None = None) -> list[Path]:
    """Existing ``tools/controlplane`` directories, nearest first, without duplicates."""
    found: list[Path] = []
    for root in _search_roots((cwd or Path.cwd()).resolve()):
        candidate = root / TOOL_DIR
        if candidate.is_dir() and candidate not in found:
            found.append(candidate)
    return found


def find_binaries(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Binaries:
    """``$GITLAB_FERRY_KUBE_BIN`` when set (no fallback: a wrong setting is an error), else the
    nearest ``tools/controlplane/bin``. Raises :class:`BinariesNotFound` with a build hint."""
    env = os.environ if env is None else env
    if explicit := env.get(BIN_ENV):
        found = Binaries.in_directory(Path(explicit))
        if found is None:
            raise BinariesNotFound(
                f"{BIN_ENV}={explicit} holds no {ETCD} and {APISERVER}; " + BUILD_HINT
            )
        return found
    searched = []
    for tool in tool_dirs(cwd):
        searched.append(tool / "bin")
        if found := Binaries.in_directory(tool / "bin"):
            return found
    where = ", ".join(map(str, searched)) or f"any {TOOL_DIR}/bin above the current directory"
    raise BinariesNotFound(f"{APISERVER} and {ETCD} not found (looked in {where}); " + BUILD_HINT)


def find_build_script(cwd: Path | None = None) -> Path | None:
    for tool in tool_dirs(cwd):
        if (tool / "build.sh").is_file():
            return tool / "build.sh"
    return None


def run_build(script: Path) -> None:
    """Run the build script with its output going straight to ours (it reports progress)."""
    result = subprocess.run(["bash", str(script)], check=False)
    if result.returncode != 0:
        raise ControlPlaneError(f"{script} failed with exit status {result.returncode}")
