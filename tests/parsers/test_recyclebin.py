"""Recycle Bin: plaso's Vista $I file and XP INFO2 through the ingest, values as plaso's tests
state them; a Windows 10 (version 2) $I and emptied/damaged INFO2 records built here."""

from __future__ import annotations

import io
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

from parsers.base import HEAD_BYTES, Options
from parsers.recyclebin import RecycleBinParser
from tests.parsers.artifact_helpers import ARTIFACTS, ingest, rows, summary

PARSER = RecycleBinParser()
EVIL = "C:\\Documents and Settings\\Mr. Evil\\Desktop\\"


def _rows(data: bytes) -> tuple[list[dict], list]:
    items = list(PARSER.parse(io.BytesIO(data), None, Options()))
    got = [r for b in items if hasattr(b, "num_rows") for r in b.to_pylist()]
    return got, [i for i in items if not hasattr(i, "num_rows")]


def test_recycle_bin_files(corpus: Path, tmp_path: Path) -> None:
    folder = corpus / ARTIFACTS / "recyclebin"
    case, results = ingest(tmp_path, folder)
    assert {n: summary(r) for n, r in results.items()} == {
        "$II3DF3L.zip": ("ok", "windows_recyclebin", 1, 0, []),
        "INFO2": ("ok", "windows_recyclebin", 4, 0, []),
    }
    (vista,) = rows(case, folder / "$II3DF3L.zip")
    assert (vista["datetime"], vista["timestamp_desc"], vista["event_action"], vista["file_path"]) == (
        datetime(2012, 3, 12, 20, 49, 58, 633000, tzinfo=UTC), "Event Recorded", "file-deleted",
        "C:\\Users\\nfury\\Documents\\Alloy Research\\StarFury.zip",
    )  # fmt: skip
    assert (vista["fields"]["original_size"], vista["fields"]["format"]) == ("724919", "$I v1")
    info2 = rows(case, folder / "INFO2")
    assert [(r["source_record"], r["datetime"], r["file_path"], r["fields"]["original_size"], r["fields"]["recycler_name"])
            for r in info2] == [
        (1, datetime(2004, 8, 25, 16, 18, 25, 237000, tzinfo=UTC), EVIL + "lalsetup250.exe", "2160128", "Dc1.exe"),
        (2, datetime(2004, 8, 27, 15, 12, 30, 799000, tzinfo=UTC), EVIL + "netstumblerinstaller_0_4_0.exe", "1325056", "Dc2.exe"),
        (3, datetime(2004, 8, 27, 15, 15, 26, 742000, tzinfo=UTC), EVIL + "WinPcap_3_01_a.exe", "442880", "Dc3.exe"),
        (4, datetime(2004, 8, 27, 15, 29, 58, 161000, tzinfo=UTC), EVIL + "ethereal-setup-0.10.6.exe", "8460800", "Dc4.exe"),
    ]  # fmt: skip
    assert {
        (r["fields"]["drive"], r["fields"]["removed_from_bin"], r["fields"]["format"]) for r in info2
    } == {("C", "false", "INFO2 v5")}


def test_windows10_dollar_i() -> None:
    path = "C:\\Users\\random\\Downloads\\bunnies.jpg"
    when = (
        (datetime(2016, 6, 29, 21, 37, 45, 618000, tzinfo=UTC) - datetime(1601, 1, 1, tzinfo=UTC))
        // timedelta(microseconds=1)
        * 10
    )  # FILETIME: 100 ns ticks since 1601
    data = struct.pack("<QQQI", 2, 222255, when, len(path) + 1) + (path + "\x00").encode("utf-16-le")
    assert PARSER.sniff(data)
    (row,), found = _rows(data)
    assert found == []
    assert (row["file_path"], row["datetime"], dict(row["fields"])["format"]) == (
        path, datetime(2016, 6, 29, 21, 37, 45, 618000, tzinfo=UTC), "$I v2",
    )  # fmt: skip


def test_info2_emptied_and_damaged_records(corpus: Path) -> None:
    data = bytearray((corpus / ARTIFACTS / "recyclebin/INFO2").read_bytes())
    data[20] = 0  # record 1 emptied from the bin: the first byte of its ANSI path is cleared
    data[20 + 800 : 20 + 1600] = b"\x00" * 800  # record 2 wiped
    got, found = _rows(bytes(data) + b"\x01\x02\x03")
    assert [(w.location, w.offset, w.reason) for w in found] == [
        ("record 2", 820, "empty INFO2 record: no path, no time"),
        ("record 5", 3220, "trailing 3 bytes, not a whole record"),
    ]
    assert (got[0]["file_path"], dict(got[0]["fields"])["removed_from_bin"]) == (
        EVIL + "lalsetup250.exe",
        "true",
    )
    assert len(got) == 3


def test_sniff(corpus: Path) -> None:
    folder = corpus / ARTIFACTS / "recyclebin"
    for name in ("$II3DF3L.zip", "INFO2"):
        assert PARSER.sniff((folder / name).read_bytes()[:HEAD_BYTES])
    assert not PARSER.sniff(struct.pack("<QQQ", 1, 5, 0) + "C:\\x".encode("utf-16-le"))  # no deletion time
    assert not PARSER.sniff(struct.pack("<IIII", 5, 0, 0, 280) + b"C:\\")  # record size of the other version
