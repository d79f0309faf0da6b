"""The archive writer and reader, file names and small formatting rules (§4, §11)."""

from __future__ import annotations

import hashlib
import tarfile
import tracemalloc
from pathlib import Path

import pytest

from gitlab_ferry_testbed.simulator.archive import (
    ArchiveError,
    build_archive,
    check_version,
    export_filename,
    filter_message,
    parse_archive,
)
from gitlab_ferry_testbed.simulator.config import parse_size
from gitlab_ferry_testbed.simulator.content import Repository, generate_content, summarize
from gitlab_ferry_testbed.simulator.errors import human_size, iso

NOW = 1_512_512_000.148  # 2017-12-05 22:13:20.148 UTC


def test_export_filename() -> None:
    assert export_filename("namespace/project", NOW) == (
        "2017-12-05_22-13-148_namespace_project_export.tar.gz"
    )
    long = export_filename("group/" + "x" * 80, NOW)
    assert long == ("2017-12-05_22-13-148_group_" + "x" * 80)[:51] + "_export.tar.gz"
    assert len(long) == 51 + len("_export.tar.gz")


@pytest.mark.parametrize("line", ["0.2.4", "0.2.4\n", " 0.2.4 ", "0.2.4.0", "0.2.4.0.0"])
def test_version_accepted(line: str) -> None:
    check_version(line)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("0.2.3", "Import version mismatch: Required 0.2.4 but was 0.2.3"),
        ("0.2.5\n", "Import version mismatch: Required 0.2.4 but was 0.2.5\n"),
        ("1", "Import version mismatch: Required 0.2.4 but was 1"),
        ("not a version", "Incorrect VERSION format"),
        ("0..2", "Incorrect VERSION format"),
    ],
)
def test_version_rejected(line: str, message: str) -> None:
    with pytest.raises(ArchiveError) as err:
        check_version(line)
    assert str(err.value) == message


def test_filter_message_hides_paths() -> None:
    assert filter_message("Unable to decompress /a/b.tar.gz into /tmp/x") == (
        "Unable to decompress [FILTERED] into [FILTERED]"
    )
    assert filter_message("cannot overwrite a project in grp/sub") == (
        "cannot overwrite a project in [FILTERED]"
    )


def test_formatting_helpers() -> None:
    assert human_size(1) == "1 Byte"
    assert human_size(10 * 1024**3) == "10 GB"
    assert human_size(1024**2) == "1 MB"
    assert human_size(1536 * 1024) == "1.5 MB"
    assert iso(1_700_000_000.5) == "2023-11-14T22:13:20.500Z"
    assert parse_size("64KiB") == 65536
    assert parse_size("1 GiB") == 1 << 30
    assert parse_size("10MB") == 10_000_000
    assert parse_size(12) == 12


def test_generated_repository_is_deterministic() -> None:
    a = Repository(size=3 * (1 << 20) + 17, seed=5)
    b = Repository(size=3 * (1 << 20) + 17, seed=5)
    c = Repository(size=3 * (1 << 20) + 17, seed=6)
    assert a.digest() == b.digest() != c.digest()
    data = b"".join(a.chunks())
    assert len(data) == a.size
    assert data.startswith(b"# v2 git bundle\n")
    assert a.reader().read() == data


def test_roundtrip_streams_without_holding_the_payload(tmp_path: Path) -> None:
    content = generate_content(
        seed=3,
        description="d",
        visibility_level=10,
        counts={"issues": 4, "labels": 2},
        invalid_issues=1,
        repository_size=24 << 20,
    )
    tracemalloc.start()
    built = build_archive(
        tmp_path / "a.tar.gz",
        content=content,
        description="over",
        gitlab_version="18.7.0",
        gitlab_revision="abc",
        gzip_level=1,
        now=NOW,
    )
    parsed = parse_archive(built.path, bundle_dest=tmp_path / "b.bundle", max_decompressed_bytes=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 12 << 20
    assert parsed.attributes == {"description": "over", "visibility_level": 10}
    assert [line for line, _ in parsed.relations["issues"]] == [0, 1, 2, 3, 4]
    assert parsed.bundle_sha256 == content.repository.digest() == built.bundle_sha256
    assert parsed.bundle_size == 24 << 20
    assert hashlib.sha256(built.path.read_bytes()).hexdigest() == built.sha256
    with tarfile.open(built.path) as tar:
        version = tar.extractfile("./VERSION")
        assert version is not None
        assert version.read() == b"0.2.4"
    summary = summarize(content, "d")
    assert summary["relations"] == {"issues": 4, "labels": 2}
    assert summary["invalid_relations"] == {"issues": 1}


def test_parse_only_the_wanted_relation(tmp_path: Path) -> None:
    content = generate_content(
        seed=1,
        description=None,
        visibility_level=0,
        counts={"issues": 2, "milestones": 2},
        invalid_issues=0,
        repository_size=10,
    )
    built = build_archive(
        tmp_path / "a.tar.gz",
        content=content,
        description=None,
        gitlab_version="v",
        gitlab_revision="r",
        gzip_level=0,
        now=NOW,
    )
    parsed = parse_archive(
        built.path, bundle_dest=None, max_decompressed_bytes=0, relations_wanted={"milestones"}
    )
    assert set(parsed.relations) == {"milestones"}
    assert parsed.bundle_path is None


def test_decompressed_cap_counts_the_whole_stream(tmp_path: Path) -> None:
    content = generate_content(
        seed=1,
        description=None,
        visibility_level=0,
        counts={},
        invalid_issues=0,
        repository_size=2 << 20,
    )
    built = build_archive(
        tmp_path / "a.tar.gz",
        content=content,
        description=None,
        gitlab_version="v",
        gitlab_revision="r",
        gzip_level=0,
        now=NOW,
    )
    dest = tmp_path / "b.bundle"
    with pytest.raises(ArchiveError, match=r"Decompressed archive size validation failed\."):
        parse_archive(built.path, bundle_dest=dest, max_decompressed_bytes=1 << 20)
    assert not dest.exists()
    parse_archive(built.path, bundle_dest=dest, max_decompressed_bytes=3 << 20)
