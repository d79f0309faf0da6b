"""GitLab export archives: build one on disk, and read and validate one the way GitLab does.

Part of the simulator layer. Both directions stream (the repository payload can be a GiB and is
never held in memory) and are synchronous, so callers run them in a worker thread. Validation
reproduces GitLab's importer: decompressed-size cap, hard links rejected, symlinks and FIFOs
dropped, ``VERSION`` compared like ``Gem::Version`` with 0.2.4, ``tree/project.json`` required.
Error texts are GitLab's inner messages with paths filtered. This module must not import anything
outside the simulator.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import re
import tarfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO, Protocol

from gitlab_ferry_testbed.simulator.content import ProjectContent

EXPORT_VERSION = "0.2.4"
_GEM_VERSION = re.compile(
    r"^\s*([0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)?\s*$"
)
_PATH_TOKEN = re.compile(r"[^\s]*/[^\s]*(?=(\s|\Z))")
_COPY = 1 << 20


def filter_message(message: str) -> str:
    """GitLab's ImportErrorFilter: any token containing a ``/`` becomes ``[FILTERED]``."""
    return _PATH_TOKEN.sub("[FILTERED]", message)


class ArchiveError(Exception):
    """The archive cannot be imported; ``str(err)`` is GitLab's (filtered) inner message."""


@dataclass
class BuiltArchive:
    path: Path
    size: int
    sha256: str
    bundle_sha256: str


class _HashingWriter(io.RawIOBase):
    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self.hash = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.hash.update(view)
        self.size += len(view)
        self._fh.write(view)
        return len(view)


class _HashingReader(io.RawIOBase):
    def __init__(self, inner: io.RawIOBase) -> None:
        self._inner = inner
        self.hash = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._inner.readinto(buffer) or 0
        self.hash.update(memoryview(buffer)[:n])
        return n


def entry(tar: tarfile.TarFile, name: str, data: bytes | None, mtime: float) -> None:
    """One directory (``data`` None) or regular file, as GNU tar writes them."""
    info = tarfile.TarInfo(name)
    info.mtime = int(mtime)
    if data is None:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        return
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))


@dataclass
class Written:
    """What ``writing`` wrote: its size and sha256, once the ``with`` block has closed."""

    size: int = 0
    sha256: str = ""


@contextlib.contextmanager
def writing(
    dest: Path, *, gzip_level: int, now: float
) -> Iterator[tuple[tarfile.TarFile, Written]]:
    """A gzip-compressed tar at ``dest`` (like ``tar -czf``), hashed as it is written."""
    written = Written()
    with dest.open("wb") as raw:
        out = _HashingWriter(raw)
        with (
            gzip.GzipFile(fileobj=out, mode="wb", compresslevel=gzip_level, mtime=int(now)) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar,
        ):
            yield tar, written
    written.size, written.sha256 = out.size, out.hash.hexdigest()


def write_version_files(
    tar: tarfile.TarFile, *, gitlab_version: str, gitlab_revision: str, now: float
) -> None:
    """``./``, then VersionSaver's ``VERSION``, ``GITLAB_VERSION`` and ``GITLAB_REVISION``."""
    entry(tar, "./", None, now)
    entry(tar, "./VERSION", EXPORT_VERSION.encode(), now)
    entry(tar, "./GITLAB_VERSION", gitlab_version.encode(), now)
    entry(tar, "./GITLAB_REVISION", gitlab_revision.encode(), now)


def ndjson(records: list[Any]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def build_archive(
    dest: Path,
    *,
    content: ProjectContent,
    description: str | None,
    gitlab_version: str,
    gitlab_revision: str,
    gzip_level: int,
    now: float,
) -> BuiltArchive:
    """Write ``dest`` like ``tar -czf dest -C export_dir .`` (entries prefixed ``./``)."""
    project_json = dict(content.attributes)
    project_json["description"] = description
    with writing(dest, gzip_level=gzip_level, now=now) as (tar, written):
        write_version_files(
            tar, gitlab_version=gitlab_version, gitlab_revision=gitlab_revision, now=now
        )
        entry(tar, "./tree/", None, now)
        entry(tar, "./tree/project.json", json.dumps(project_json).encode(), now)
        entry(tar, "./tree/project/", None, now)
        for name, records in sorted(content.relations.items()):
            entry(tar, f"./tree/project/{name}.ndjson", ndjson(records), now)
        repo = content.repository
        info = tarfile.TarInfo("./project.bundle")
        info.size, info.mode, info.mtime = repo.size, 0o644, int(now)
        reader = _HashingReader(repo.reader())
        tar.addfile(info, io.BufferedReader(reader, _COPY))
        bundle_sha = reader.hash.hexdigest()
    if repo.sha256 is None:
        repo.sha256 = bundle_sha
    return BuiltArchive(dest, written.size, written.sha256, bundle_sha)


class _Oversized(Exception):
    pass


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _CountingReader(io.RawIOBase):
    """Counts decompressed bytes, like GitLab's DecompressedArchiveSizeValidator."""

    def __init__(self, inner: _Readable, limit: int) -> None:
        self._inner = inner
        self._limit = limit
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        n = len(data)
        memoryview(buffer)[:n] = data
        self.count += n
        if self._limit and self.count > self._limit:
            raise _Oversized
        return n


@dataclass
class ParsedArchive:
    attributes: dict[str, Any]
    relations: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)
    bundle_path: Path | None = None
    bundle_size: int = 0
    bundle_sha256: str | None = None


def _gem_segments(text: str) -> list[int | str] | None:
    match = _GEM_VERSION.match(text)
    if match is None:
        return None
    raw = (match.group(1) or "0").replace("-", ".pre.")
    segments: list[int | str] = [int(s) if s.isdigit() else s for s in raw.split(".")]
    while len(segments) > 1 and segments[-1] == 0:
        segments.pop()
    return segments


def check_version(first_line: str) -> None:
    """GitLab's VersionChecker on the first line of ``VERSION`` (as Ruby's readline returns it)."""
    found = _gem_segments(first_line)
    if found is None:
        raise ArchiveError("Incorrect VERSION format")
    if found != _gem_segments(EXPORT_VERSION):
        raise ArchiveError(
            f"Import version mismatch: Required {EXPORT_VERSION} but was {first_line}"
        )


def _normalize(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/").rstrip("/")


def read_lines(fh: IO[bytes]) -> list[tuple[int, Any]]:
    out: list[tuple[int, Any]] = []
    for index, line in enumerate(fh):
        if not line.strip():
            continue
        try:
            out.append((index, json.loads(line)))
        except ValueError as err:
            raise ArchiveError("Incorrect JSON format") from err
    return out


def _copy_bundle(fh: IO[bytes], dest: Path) -> tuple[int, str]:
    h = hashlib.sha256()
    size = 0
    with dest.open("wb") as out:
        while chunk := fh.read(_COPY):
            h.update(chunk)
            out.write(chunk)
            size += len(chunk)
    return size, h.hexdigest()


@dataclass
class Scan:
    """What GitLab's FileImporter sees of any archive before the importer reads it."""

    version: bytes | None = None
    has_tree: bool = False
    hard_link: bool = False


def scan_archive(
    src: Path, *, max_decompressed_bytes: int, visit: Callable[[str, IO[bytes]], None]
) -> Scan:
    """Stream ``src``'s regular files to ``visit`` (names without ``./``), reading the whole
    stream as the size validator does; ``ArchiveError`` for an oversized or unreadable one."""
    scan = Scan()
    try:
        with src.open("rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as gz:
            counting = _CountingReader(gz, max_decompressed_bytes)
            with tarfile.open(fileobj=io.BufferedReader(counting, _COPY), mode="r|") as tar:
                for member in tar:
                    name = _normalize(member.name)
                    if not name:
                        continue
                    if member.islnk():
                        scan.hard_link = True
                        continue
                    # extracting anything below tree/ creates the directory, even a symlink
                    if name.startswith("tree/") or (name == "tree" and member.isdir()):
                        scan.has_tree = True
                    fh = tar.extractfile(member) if member.isfile() else None
                    if fh is None:
                        continue
                    if name == "VERSION":
                        scan.version = fh.read(4096)
                    else:
                        visit(name, fh)
            # the size validator reads the whole stream; drain what tar did not need
            spare = bytearray(_COPY)
            while counting.readinto(spare):
                pass
    except _Oversized:
        raise ArchiveError("Decompressed archive size validation failed.") from None
    except (OSError, EOFError, zlib.error, tarfile.TarError) as err:
        raise ArchiveError(
            filter_message("Unable to decompress /tmp/import/archive.tar.gz into /tmp/import")
        ) from err
    return scan


def check_scan(scan: Scan) -> None:
    """No hard links, then a ``VERSION`` equal to 0.2.4 (VersionChecker)."""
    if scan.hard_link:
        raise ArchiveError("File shares hard link")
    if scan.version is None:
        raise ArchiveError(filter_message("No such file or directory @ rb_sysopen - /x/VERSION"))
    if not scan.version:
        raise ArchiveError("end of file reached")
    first_line = scan.version.decode("utf-8", "replace").splitlines(keepends=True)[0]
    check_version(first_line)


def parse_archive(
    src: Path,
    *,
    bundle_dest: Path | None,
    max_decompressed_bytes: int,
    relations_wanted: set[str] | None = None,
) -> ParsedArchive:
    """Read and validate a project export archive; raises ``ArchiveError`` with GitLab's
    message."""
    parsed = ParsedArchive(attributes={})
    project_json: list[bytes] = []

    def visit(name: str, fh: IO[bytes]) -> None:
        if name == "tree/project.json":
            project_json.append(fh.read())
        elif name.startswith("tree/project/") and name.endswith(".ndjson"):
            relation = name[len("tree/project/") : -len(".ndjson")]
            if "/" not in relation and (relations_wanted is None or relation in relations_wanted):
                parsed.relations[relation] = read_lines(fh)
        elif name == "project.bundle" and bundle_dest is not None:
            parsed.bundle_path = bundle_dest
            parsed.bundle_size, parsed.bundle_sha256 = _copy_bundle(fh, bundle_dest)

    try:
        scan = scan_archive(src, max_decompressed_bytes=max_decompressed_bytes, visit=visit)
        check_scan(scan)
        if not scan.has_tree:
            raise ArchiveError("invalid import format")
        if not project_json:
            raise ArchiveError("Invalid file")
        parsed.attributes = json_object(project_json[-1])
    except ArchiveError:
        _discard(parsed)
        raise
    return parsed


def json_object(raw: bytes) -> dict[str, Any]:
    """A JSON object, or GitLab's ``Incorrect JSON format``."""
    try:
        value = json.loads(raw)
    except ValueError as err:
        raise ArchiveError("Incorrect JSON format") from err
    if not isinstance(value, dict):
        raise ArchiveError("Incorrect JSON format")
    return value


def _discard(parsed: ParsedArchive) -> None:
    if parsed.bundle_path is not None:
        with contextlib.suppress(OSError):
            parsed.bundle_path.unlink()
        parsed.bundle_path = None


def export_filename(full_path: str, now: float) -> str:
    """GitLab's ``export_filename``: ``%Y-%m-%d_%H-%M-%3N_<path>`` cut to 51 chars."""
    stamp = time.strftime("%Y-%m-%d_%H-%M-", time.gmtime(now)) + f"{int(now * 1000) % 1000:03d}"
    basename = f"{stamp}_{full_path.replace('/', '_')}"
    return f"{basename[:51]}_export.tar.gz"
