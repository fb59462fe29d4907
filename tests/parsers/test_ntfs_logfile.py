"""$LogFile: dfir_ntfs's Windows 10 excerpt is recognised and summarised (operation records are
not decoded, and a note says so)."""

from __future__ import annotations

import io
from pathlib import Path

from parsers.base import HEAD_BYTES, Options
from parsers.ntfs_logfile import LogFileParser
from tests.parsers.artifact_helpers import ARTIFACTS, ingest, rows, summary

PARSER = LogFileParser()


def test_logfile_summary(corpus: Path, tmp_path: Path) -> None:
    path = corpus / ARTIFACTS / "ntfs/LogFile_10.bin"
    case, results = ingest(tmp_path, path)
    assert summary(results["LogFile_10.bin"]) == (
        "ok", "ntfs_logfile", 1, 0, [("file", None, "$LogFile operation records are not decoded: summary only", 0)],
    )  # fmt: skip
    (row,) = rows(case, path)
    assert (row["datetime"], row["event_action"], row["source_record"]) == (None, "logfile-summary", 0)
    assert row["fields"] == {
        "lfs_version": "2.0", "system_page_size": "4096", "log_page_size": "4096", "current_lsn": "8413528",
        "log_file_size": "9043968", "log_clients": "1", "restart_flags": "0x0000", "restart_pages": "2",
        "record_pages": "37", "unused_pages": "13", "other_pages": "0", "highest_page_lsn": "8413528",
    }  # fmt: skip
    assert row["message"] == (
        "$LogFile LFS 2.0: current LSN 8413528, 37 record pages, 13 unused (volume not marked clean)"
    )


def test_damaged_restart_page(corpus: Path) -> None:
    data = bytearray((corpus / ARTIFACTS / "ntfs/LogFile_10.bin").read_bytes()[:8192])
    data[0x14:0x18] = (12345).to_bytes(4, "little")
    items = list(PARSER.parse(io.BytesIO(bytes(data)), None, Options()))
    assert [(w.location, w.reason) for w in items] == [
        ("restart page", "implausible restart page (log page size 12345)")
    ]


def test_sniff(corpus: Path) -> None:
    head = (corpus / ARTIFACTS / "ntfs/LogFile_10.bin").read_bytes()[:HEAD_BYTES]
    assert PARSER.sniff(head)
    assert PARSER.sniff(b"CHKD" + head[4:])
    assert not PARSER.sniff(b"RCRD" + head[4:])
    assert not PARSER.sniff(b"RSTR" + b"\x00" * 100)
