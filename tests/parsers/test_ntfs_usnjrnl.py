"""$UsnJrnl:$J: dfir_ntfs's journal checked record by record against ``fsutil usn readjournal``'s
rendering of the same journal (usnjrnlj.fsutil.txt, a real oracle), plaso's fragment, a sparse
start, and damaged records."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path

from parsers.base import HEAD_BYTES, Options
from parsers.ntfs_usnjrnl import UsnJournalParser, reason_names
from tests.parsers.artifact_helpers import ARTIFACTS, ingest, rows, summary

PARSER = UsnJournalParser()


def _fsutil(path: Path) -> dict[int, dict[str, str]]:
    """fsutil's records by USN: each ``Key : value`` line, extents as one line."""
    records: dict[int, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.rstrip("\r")
        if m := re.match(r"^(\S[^:]*?)\s*: ?(.*)$", line):
            key, value = m[1], m[2].strip()
            if key == "Usn":
                current = {}
                records[int(value)] = current
            current[key] = value
        elif line.strip().startswith("[") and current:
            current["Extents"] = line.strip()
    return records


def _fsutil_reason(text: str) -> tuple[int, list[str]]:
    value, _, names = text.partition(": ")
    return int(value, 16), [n.strip().upper().replace(":", "").replace(" ", "_") for n in names.split("|")]


def test_every_journal_file(corpus: Path, tmp_path: Path) -> None:
    folder = corpus / ARTIFACTS / "ntfs"
    _, results = ingest(tmp_path, folder / "usnjrnlj.bin", folder / "UsnJrnl.raw")
    assert {n: summary(r) for n, r in results.items()} == {
        "usnjrnlj.bin": ("ok", "ntfs_usnjrnl", 271, 0, []),
        "UsnJrnl.raw": ("ok", "ntfs_usnjrnl", 19, 0, []),
    }


def test_against_fsutil(corpus: Path, tmp_path: Path) -> None:
    folder = corpus / ARTIFACTS / "ntfs"
    expected = _fsutil(folder / "usnjrnlj.fsutil.txt")
    case, _ = ingest(tmp_path, folder / "usnjrnlj.bin")
    got = {r["source_record"]: r for r in rows(case, folder / "usnjrnlj.bin")}
    assert (len(expected), len(got)) == (268, 271)
    # fsutil was run when the journal's next USN was 29792; the three records after it came later.
    assert sorted(set(got) - set(expected)) == [29792, 29880, 29968]
    assert set(expected) <= set(got)
    versions = {"3": 0, "4": 0}
    for usn, want in expected.items():
        row = got[usn]
        fields = row["fields"]
        reason, names = _fsutil_reason(want["Reason"])
        assert (int(fields["reason"], 16), fields["reason_flags"].split("|")) == (reason, names), usn
        assert fields["file_id"] == want["File ID"] and fields["parent_file_id"] == want["Parent file ID"], (
            usn
        )
        versions[want["Major version"]] += 1
        if want["Major version"] == "4":  # range-tracking record: no name, no time; extents
            assert row["file_path"] is None and row["datetime"] is None, usn
            start, length = re.match(r"\[1: (\d+), (\d+)\]", want["Extents"]).groups()
            assert fields["extents"] == f"{start}+{length}", usn
            continue
        assert row["file_path"] == want["File name"], usn
        assert int(fields["file_attributes"], 16) == int(want["File attributes"].split(":")[0], 16), usn
        # fsutil prints local time to the second; the machine that wrote it was on UTC.
        assert row["datetime"].replace(microsecond=0) == datetime.strptime(want["Time stamp"], "%m/%d/%Y %H:%M:%S").replace(
            tzinfo=UTC
        ), usn  # fmt: skip
    # fsutil (asked for versions 2-4) shows V2 records as V3; the file stores them as V2.
    assert versions == {"3": 261, "4": 7}
    first = got[0]
    assert (first["datetime"], first["event_action"], first["file_path"], first["message"]) == (
        datetime(2019, 1, 22, 21, 36, 10, 924361, tzinfo=UTC), "file-created", "New folder", "USN 0: New folder FILE_CREATE",
    )  # fmt: skip
    assert {k: first["fields"][k] for k in ("mft_entry", "mft_sequence", "parent_mft_entry", "record_version")} == {
        "mft_entry": "40", "mft_sequence": "1", "parent_mft_entry": "5", "record_version": "2",
    }  # fmt: skip


def test_plaso_fragment(corpus: Path) -> None:
    from tests.parsers.evtx_helpers import parse_file

    got, found = parse_file(PARSER, corpus / ARTIFACTS / "ntfs/UsnJrnl.raw")
    assert found == [] and len(got) == 19
    assert (got[0]["file_path"], got[0]["datetime"], dict(got[0]["fields"])["reason_flags"]) == (
        "Nieuw - Tekstdocument.txt", datetime(2015, 11, 30, 21, 15, 27, 203125, tzinfo=UTC), "FILE_CREATE",
    )  # fmt: skip


def test_sparse_start_and_damage(corpus: Path) -> None:
    data = (corpus / ARTIFACTS / "ntfs/usnjrnlj.bin").read_bytes()
    sparse = b"\x00" * (3 << 20) + data  # 3 MiB of zeros before the oldest record, as in a real $J
    fh = io.BytesIO(sparse)
    units = PARSER.plan(fh, len(sparse), Options())
    assert units == [(3 << 20, len(sparse), 3 << 20)]
    items = [i for u in units for i in PARSER.parse(fh, u, Options())]
    notes = [(w.location, w.reason, w.count) for w in items if not hasattr(w, "num_rows")]
    assert notes == [("file", "3,145,728 leading zero bytes (sparse journal start) skipped", 0)]
    assert sum(b.num_rows for b in items if hasattr(b, "num_rows")) == 271
    broken = bytearray(data)
    broken[80:84] = (7).to_bytes(4, "little")  # the second record's length: not a multiple of 8
    items = list(PARSER.parse(io.BytesIO(bytes(broken)), (0, len(broken), 0), Options()))
    warnings = [(w.location, w.offset, w.reason) for w in items if not hasattr(w, "num_rows")]
    assert warnings == [
        ("offset 80", 80, "not a USN record (length 7, version 2.0); resuming at the next page")
    ]
    # the rest of the first 4 KiB page is lost, the following pages are read
    assert sum(b.num_rows for b in items if hasattr(b, "num_rows")) == 271 - sum(
        1 for r in _offsets(data) if 80 <= r < 4096
    )


def _offsets(data: bytes) -> list[int]:
    out, offset = [], 0
    while offset < len(data):
        length = int.from_bytes(data[offset : offset + 4], "little")
        if not length:
            offset = (offset // 4096 + 1) * 4096
            continue
        out.append(offset)
        offset += length
    return out


def test_reason_names() -> None:
    assert reason_names(0x80008103) == [
        "DATA_OVERWRITE",
        "DATA_EXTEND",
        "FILE_CREATE",
        "BASIC_INFO_CHANGE",
        "CLOSE",
    ]
    assert reason_names(0x01000000) == ["0x01000000"]


def test_sniff(corpus: Path) -> None:
    folder = corpus / ARTIFACTS / "ntfs"
    for name in ("usnjrnlj.bin", "UsnJrnl.raw"):
        assert PARSER.sniff((folder / name).read_bytes()[:HEAD_BYTES])
    zeros = b"\x00" * HEAD_BYTES
    assert not PARSER.sniff(zeros)
    assert PARSER.sniff_path("C:/case/$Extend/$UsnJrnl:$J", zeros)
    assert PARSER.sniff_path("/evidence/$J", zeros)
    assert not PARSER.sniff_path("/evidence/$J", b"text\n")
    assert not PARSER.sniff_path("/evidence/zeros.bin", zeros)


def test_sparse_file_on_disk(corpus: Path, tmp_path: Path) -> None:
    """A journal extracted as a sparse file: the hole is skipped by SEEK_DATA (or scanned)."""
    data = (corpus / ARTIFACTS / "ntfs/usnjrnlj.bin").read_bytes()
    path = tmp_path / "$J"
    with open(path, "wb") as fh:
        fh.seek(64 << 20)
        fh.write(data)
    _, results = ingest(tmp_path, path)
    assert summary(results["$J"]) == (
        "ok", "ntfs_usnjrnl", 271, 0, [("file", 0, "67,108,864 leading zero bytes (sparse journal start) skipped", 0)],
    )  # fmt: skip
