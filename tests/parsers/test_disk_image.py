"""Disk images through dissect.target: the corpus's container formats, the sample case's server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from forensics.samples import payloads, story
from parsers.base import HEAD_BYTES
from parsers.disk_image import DiskImageParser
from tests.parsers.evtx_helpers import parse_file

PARSER = DiskImageParser()
SRV01 = Path(__file__).resolve().parents[2] / "sample_data" / "case01" / "SRV01" / "srv01.img"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("plaso/image.E01", True), ("plaso/image.qcow2", True), ("plaso/image.vhd", True),
        ("plaso/image.vmdk", True), ("dfvfs/ext2.vmdk", True), ("plaso/tsk_volume_system.raw", True),
        ("plaso/vsstest.qcow2", True), ("plaso/syslog_image.dd", True), ("dfvfs/bogus.001", False),
        ("dfvfs/corrupt1.gz", False),
    ],
)  # fmt: skip
def test_sniffs_containers_by_content(corpus: Path, name: str, expected: bool) -> None:
    with open(corpus / "images/disk" / name, "rb") as fh:
        assert PARSER.sniff(fh.read(HEAD_BYTES)) is expected


def test_unknown_os_still_gives_the_file_system_timeline(corpus: Path) -> None:
    rows, found = parse_file(PARSER, corpus / "images/disk/plaso/image.E01")
    assert found == []
    info, *files = rows
    assert info["event_action"] == "image-opened"
    assert dict(info["fields"])["filesystems"] == "ext"
    assert [(r["file_path"], r["datetime"], dict(r["fields"])["macb"]) for r in files] == [
        ("/a_directory", datetime(2012, 5, 25, 15, 59, 23, tzinfo=UTC), "M.C."),
        ("/a_directory", datetime(2012, 5, 25, 15, 59, 24, tzinfo=UTC), ".A.."),
        ("/a_directory/a_file", datetime(2012, 5, 25, 15, 59, 14, tzinfo=UTC), "MAC."),
        ("/lost+found", datetime(2012, 5, 25, 15, 55, 50, tzinfo=UTC), "MAC."),
        ("/passwords.txt", datetime(2012, 5, 25, 16, 0, 53, tzinfo=UTC), "MA.."),
        ("/passwords.txt", datetime(2012, 5, 25, 16, 1, 3, tzinfo=UTC), "..C."),
    ]


def test_an_image_without_a_file_system_says_so(corpus: Path, tmp_path: Path) -> None:
    raw = tmp_path / "zeros-with-mbr.raw"
    sector = bytearray(1 << 20)
    sector[446:462] = (
        bytes([0x00, 0, 0, 0, 0x83, 0, 0, 0]) + (2048).to_bytes(4, "little") + (4096).to_bytes(4, "little")
    )
    sector[510:512] = b"\x55\xaa"
    raw.write_bytes(bytes(sector))
    rows, found = parse_file(PARSER, raw)
    assert [r["event_action"] for r in rows] == ["image-opened"]
    assert [w.reason for w in found] == ["no readable file system (unknown, damaged or encrypted)"]


def test_the_sample_servers_image(tmp_path: Path) -> None:
    rows, found = parse_file(PARSER, SRV01)
    assert found == []
    info = dict(rows[0]["fields"])
    assert (info["os"], info["hostname"], info["timezone"], info["filesystems"]) == (
        "linux", "srv01", "Europe/Berlin", "ext",
    )  # fmt: skip
    cron = [r for r in rows if r["event_code"] == "unix/cronjob" and r["user_name"] == "bob"]
    assert [
        (r["datetime"], r["timestamp_desc"], r["process_command_line"], r["source_file"]) for r in cron
    ] == [
        (
            story.attack_time("S13"),
            "Modified",
            story.CRON_LINE.split(" ", 5)[5],
            "/var/spool/cron/crontabs/bob",
        )
    ]
    users = {r["user_name"]: dict(r["fields"]) for r in rows if r["event_code"] == "unix/user"}
    assert users["bob"]["uid"] == "1001"


def test_temporary_folders_are_always_listed() -> None:
    rows, _ = parse_file(PARSER, SRV01)
    tool = [
        (r["timestamp_desc"], dict(r["fields"])["macb"]) for r in rows if r["file_path"] == story.TOOL_PATH
    ]
    assert tool == [("Created", "...B"), ("Modified", "M..."), ("Changed", "..C."), ("Accessed", ".A..")]
    modified = next(
        r for r in rows if r["file_path"] == story.TOOL_PATH and r["timestamp_desc"] == "Modified"
    )
    assert modified["datetime"] == story.attack_time("S12") + timedelta(seconds=1)
    assert dict(modified["fields"])["size"] == str(len(payloads.tool()))
    assert not [r for r in rows if (r["file_path"] or "").startswith("/etc/")]  # no full timeline unasked


def test_every_corpus_image_opens_or_says_why(corpus: Path, tmp_path: Path) -> None:
    """The corpus's images in every container format, gzip-compressed raw images (read without
    unpacking by hand) and its deliberate negatives (a bogus split image, a corrupt gzip)."""
    from forensics import Case

    case = Case.open(tmp_path / "case")
    case.ingest([corpus / "images/disk"])
    manifest = case.sql(
        "SELECT regexp_extract(path, 'disk/(.*)$', 1) AS f, status, records, warnings, reason FROM manifest"
    )
    got = {r.f: (r.status, r.records, r.warnings) for r in manifest.itertuples()}
    assert got == {
        "dfir_ntfs/exfat_win.raw.gz": ("ok", 1405, 0), "dfir_ntfs/fat32_small.raw.gz": ("ok", 1, 0),
        "dfir_ntfs/gpt-512-3p.raw.gz": ("ok", 1, 1), "dfir_ntfs/ntfs_index.raw.gz": ("partial", 218, 5),
        "dfvfs/bogus.001": ("unrecognised", 0, 0), "dfvfs/corrupt1.gz": ("unrecognised", 0, 0),
        "dfvfs/ext2.E01": ("ok", 7, 0), "dfvfs/ext2.vhd": ("ok", 7, 0), "dfvfs/ext2.vmdk": ("ok", 7, 0),
        "plaso/image.E01": ("ok", 7, 0), "plaso/image.qcow2": ("ok", 7, 0), "plaso/image.vhd": ("ok", 7, 0),
        "plaso/image.vmdk": ("ok", 7, 0), "plaso/iso9660.raw": ("unrecognised", 0, 0),
        "plaso/syslog_image.dd": ("partial", 17, 2), "plaso/tsk_volume_system.raw": ("ok", 2, 0),
        "plaso/vsstest.qcow2": ("partial", 86, 5),
    }  # fmt: skip
    # The NTFS images' own $MFT and $LogFile are offered to the parsers too (no OS: every file is):
    # MFT rows (deleted records included) and a $LogFile summary, each with its note.
    mft = case.sql(
        "SELECT regexp_extract(source_file, 'disk/(.*)$', 1) AS f, location, reason FROM warnings "
        "WHERE location LIKE '/$MFT:%' OR location LIKE '/$LogFile:%' ORDER BY 1, 2"
    )
    assert [tuple(r) for r in mft.itertuples(index=False)] == [
        ("dfir_ntfs/ntfs_index.raw.gz", "/$LogFile: file", "$LogFile operation records are not decoded: summary only"),
        ("dfir_ntfs/ntfs_index.raw.gz", "/$MFT: records 0-255", "194 zero-filled slots skipped"),
        ("plaso/vsstest.qcow2", "/$LogFile: file", "$LogFile operation records are not decoded: summary only"),
        ("plaso/vsstest.qcow2", "/$MFT: records 0-255", "222 FILE records without attributes (never used) skipped"),
    ]  # fmt: skip
    reasons = {r.f: r.reason for r in manifest.itertuples()}
    assert reasons["dfir_ntfs/exfat_win.raw.gz"] == "gzip-compressed (6,291,456 bytes decompressed)"
    assert reasons["dfvfs/corrupt1.gz"].startswith("gzip-compressed; not a supported format inside")
    # A zip inside the image is a collection: its syslog is read, the file's two bad lines are located.
    nested = case.sql("SELECT location FROM warnings WHERE source_file LIKE '%syslog_image.dd' ORDER BY 1")
    assert list(nested.location) == ["/logs/hidden.zip: syslog: line 11", "/logs/hidden.zip: syslog: line 7"]


@pytest.mark.parametrize(
    ("head", "name"),
    [(b"\xeb\x58\x90-FVE-FS-" + bytes(499) + b"\x55\xaa", "BitLocker"), (b"LUKS\xba\xbe\x00\x01", "LUKS")],
)
def test_encrypted_volumes_are_reported_as_such(tmp_path: Path, head: bytes, name: str) -> None:
    image = tmp_path / "encrypted.raw"
    image.write_bytes(head + bytes((1 << 20) - len(head)))
    rows, found = parse_file(PARSER, image)
    assert [r["event_action"] for r in rows] == ["image-opened"]
    assert [(w.location, w.reason) for w in found] == [
        ("volume 1", f"{name} encrypted volume: contents not readable without the key"),
        ("image", "no readable file system (unknown, damaged or encrypted)"),
    ]


def test_image_files_for_scanners() -> None:
    """What the YARA scanner walks: every regular file, with its size and a read-only stream."""
    from parsers.disk_image import image_files

    with open(SRV01, "rb") as fh:
        files = {f.path: f for f in image_files(fh)}
        tool = files[story.TOOL_PATH]
        with tool.open() as stream:
            assert (tool.size, stream.read()) == (len(payloads.tool()), payloads.tool())
        assert files["/etc/hostname"].size == len(b"srv01\n")
        assert len(files) == 59
