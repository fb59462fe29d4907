"""$MFT: dfir_ntfs's two 256-record excerpts (one with a deleted folder tree, one with Cyrillic
names) and the mft crate's two single records (one torn), through the ingest."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

from parsers.base import HEAD_BYTES, Options
from parsers.ntfs_mft import MftParser
from tests.parsers.artifact_helpers import ARTIFACTS, ingest, rows, summary

PARSER = MftParser()
NAME = "ntfs_mft"


def test_every_mft_file(corpus: Path, tmp_path: Path) -> None:
    folder = corpus / ARTIFACTS / "ntfs"
    names = ("deleted.mft", "unicode.mft", "mft_entry_102130_fixup_issue", "mft_entry_single_file")
    _, results = ingest(tmp_path, *(folder / n for n in names))
    assert {n: summary(r) for n, r in results.items()} == {
        "deleted.mft": ("ok", NAME, 68, 0, [("records 0-255", 0, "215 zero-filled slots skipped", 0)]),
        "unicode.mft": ("ok", NAME, 52, 0, [("records 0-255", 0, "220 zero-filled slots skipped", 0)]),
        "mft_entry_102130_fixup_issue": ("ok", NAME, 2, 0, [("record 0", 0, "fixup mismatch (torn write): read anyway", 0)]),
        "mft_entry_single_file": ("ok", NAME, 2, 0, []),
    }  # fmt: skip


def test_deleted_records_and_their_paths(corpus: Path, tmp_path: Path) -> None:
    path = corpus / ARTIFACTS / "ntfs/deleted.mft"
    case, _ = ingest(tmp_path, path)
    got = rows(case, path)
    records = {r["source_record"]: r for r in got}
    # 41 FILE records in use or not + 215 zero slots = 256; 215 + 6 deleted = the 221 records not
    # in use that other NTFS tools count in this file.
    assert len(records) == 41
    deleted = {
        n: (r["file_path"], r["fields"]["path"])
        for n, r in records.items()
        if r["fields"]["deleted"] == "true"
    }
    assert deleted == {
        39: ("\\1", "resolved"),
        43: ("\\1\\2", "via-deleted-parent"),
        44: ("\\1\\2\\3", "via-deleted-parent"),
        45: ("\\1\\2\\33", "via-deleted-parent"),
        46: ("\\1\\2\\3\\4", "via-deleted-parent"),
        47: ("\\1\\2\\3\\4\\file.txt", "via-deleted-parent"),
    }
    gone = [r for r in got if r["source_record"] == 47]
    assert [(r["datetime"], r["timestamp_desc"], r["fields"]["macb"], r["event_action"]) for r in gone] == [
        (datetime(2019, 1, 24, 21, 27, 44, 872756, tzinfo=UTC), "Created", "...B", "file-created"),
        (datetime(2019, 1, 24, 21, 27, 49, 216416, tzinfo=UTC), "Modified", "MA..", "file-modified-accessed"),
        (datetime(2019, 1, 24, 21, 32, 26, 855293, tzinfo=UTC), "Changed", "..C.", "file-changed"),
    ]
    fields = gone[0]["fields"]
    assert {k: fields[k] for k in ("mft_entry", "mft_sequence", "parent_mft_entry", "parent_mft_sequence", "size", "fn_created")} == {
        "mft_entry": "47", "mft_sequence": "2", "parent_mft_entry": "46", "parent_mft_sequence": "1", "size": "3",
        "fn_created": "2019-01-24T21:27:44.872756+00:00",
    }  # fmt: skip
    assert gone[0]["message"] == "...B \\1\\2\\3\\4\\file.txt (deleted) (3 bytes)"
    assert records[0]["file_path"] == "\\$MFT" and records[0]["fields"]["size"] == "262144"
    assert records[5]["file_path"] == "\\"


def test_unicode_names(corpus: Path, tmp_path: Path) -> None:
    path = corpus / ARTIFACTS / "ntfs/unicode.mft"
    case, _ = ingest(tmp_path, path)
    got = [r for r in rows(case, path) if r["source_record"] == 43]
    assert {r["file_path"] for r in got} == {"\\Привет\\привет.txt"}
    assert [(r["datetime"], r["fields"]["macb"]) for r in got] == [
        (datetime(2019, 1, 20, 12, 1, 21, 158276, tzinfo=UTC), "...B"),
        (datetime(2019, 1, 20, 12, 1, 51, 548818, tzinfo=UTC), "M.C."),
        (datetime(2019, 1, 20, 12, 1, 51, 594931, tzinfo=UTC), ".A.."),
    ]
    assert got[0]["fields"]["fn_changed"] == "2019-01-20T12:01:23.502018+00:00"
    assert all(r["fields"]["deleted"] == "false" for r in rows(case, path))


def test_single_records_keep_their_numbers(corpus: Path) -> None:
    from tests.parsers.evtx_helpers import parse_file

    got, found = parse_file(PARSER, corpus / ARTIFACTS / "ntfs/mft_entry_single_file")
    assert found == []
    fields = dict(got[0]["fields"])
    assert (got[0]["file_path"], fields["mft_entry"], fields["parent_mft_entry"], fields["size"]) == (
        "\\$OrphanFiles\\test_cfuncs.py", "26370", "26359", "8072",
    )  # fmt: skip
    assert fields["si_created_before_fn"] == "true" and fields["names"] == "TEST_C~3.PY; test_cfuncs.py"
    torn, found = parse_file(PARSER, corpus / ARTIFACTS / "ntfs/mft_entry_102130_fixup_issue")
    assert [(w.location, w.count) for w in found] == [("record 0", 0)]
    assert {dict(r["fields"])["mft_entry"] for r in torn} == {"102130"}
    assert dict(torn[0]["fields"])["torn_record"] == "true"


def test_bad_records_are_located_warnings(corpus: Path) -> None:
    data = bytearray((corpus / ARTIFACTS / "ntfs/deleted.mft").read_bytes()[: 50 * 1024])
    data[40 * 1024 : 40 * 1024 + 4] = b"BAAD"
    data[41 * 1024 : 41 * 1024 + 4] = b"JUNK"
    data[42 * 1024 + 4 : 42 * 1024 + 6] = b"\xff\x00"  # update sequence array out of range
    items = list(PARSER.parse(io.BytesIO(bytes(data)), (0, 50, 1024, 50), Options()))
    warnings = [(w.location, w.offset, w.reason) for w in items if not hasattr(w, "num_rows")]
    assert warnings[:3] == [
        ("record 40", 40960, "record marked BAAD (failed multi-sector transfer)"),
        ("record 41", 41984, "not a FILE record (starts with b'JUNK')"),
        ("record 42", 43008, "unreadable FILE record: ValueError: update sequence array out of range (offset 255, count 3)"),
    ]  # fmt: skip
    assert sum(b.num_rows for b in items if hasattr(b, "num_rows")) > 0


def test_plan_splits_large_files() -> None:
    units = PARSER.plan(io.BytesIO(b"FILE0" + b"\x00" * 100), 40_000 * 1024, Options())
    assert units == [(0, 16384, 1024, 40000), (16384, 32768, 1024, 40000), (32768, 40000, 1024, 40000)]


def test_sniff(corpus: Path) -> None:
    folder = corpus / ARTIFACTS / "ntfs"
    for name in ("deleted.mft", "unicode.mft", "mft_entry_102130_fixup_issue", "mft_entry_single_file"):
        assert PARSER.sniff((folder / name).read_bytes()[:HEAD_BYTES])
    assert not PARSER.sniff(b"FILE" + b"\x00" * 100)
    assert not PARSER.sniff((folder / "LogFile_10.bin").read_bytes()[:HEAD_BYTES])
