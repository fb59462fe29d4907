"""NTFS change journal ``$UsnJrnl:$J`` extracted on its own -> one row per change record.

Each USN_RECORD_V2 / V3 (V4 range-tracking records too) becomes a row timed by the record, with
the reason flags decoded (``reason_flags``; the row's action says what matters most: created,
deleted, renamed, written...), the file and parent references (``file_id`` as
``fsutil usn readjournal`` prints it, and MFT entry/sequence for 64-bit references), attributes,
source info and the USN (``source_record``). Without the ``$MFT`` only the file name is known,
not its folder: ``file_path`` is the name.

The journal is sparse at its start (the zeros before the oldest kept record): leading zeros
are skipped through ``SEEK_DATA`` where the file system knows its holes, else by scanning large
blocks, and zero runs between pages a page at a time. A record whose length or version makes no
sense is a warning, and reading resumes at the next page (records never cross a 4 KiB page, so
large journals are split into page-aligned units). Records are decoded by dissect.ntfs
(``usnjrnl.UsnRecord``).

References: Microsoft Learn, USN_RECORD_V2, USN_RECORD_V3 and USN_RECORD_V4 structures and
"fsutil usn"; dissect.ntfs ``usnjrnl``; libyal libfsntfs documentation, "Update sequence number
(USN) change journal".
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

import pyarrow as pa

from forensics.timeutil import filetime_to_utc
from parsers.base import Options, Parser, ParseWarning
from parsers.textlog import Row, batched

__all__ = ["UsnJournalParser", "UsnRecord", "read_usn", "reason_names", "usn_row"]


USN_PAGE = 4096
#: Bytes of journal per work unit (records never cross a page, so units split at pages).
USN_UNIT_BYTES = 32 << 20
_USN_HEAD = struct.Struct("<IHH")
_REASONS = (
    (0x00000001, "DATA_OVERWRITE"), (0x00000002, "DATA_EXTEND"), (0x00000004, "DATA_TRUNCATION"),
    (0x00000010, "NAMED_DATA_OVERWRITE"), (0x00000020, "NAMED_DATA_EXTEND"), (0x00000040, "NAMED_DATA_TRUNCATION"),
    (0x00000100, "FILE_CREATE"), (0x00000200, "FILE_DELETE"), (0x00000400, "EA_CHANGE"),
    (0x00000800, "SECURITY_CHANGE"), (0x00001000, "RENAME_OLD_NAME"), (0x00002000, "RENAME_NEW_NAME"),
    (0x00004000, "INDEXABLE_CHANGE"), (0x00008000, "BASIC_INFO_CHANGE"), (0x00010000, "HARD_LINK_CHANGE"),
    (0x00020000, "COMPRESSION_CHANGE"), (0x00040000, "ENCRYPTION_CHANGE"), (0x00080000, "OBJECT_ID_CHANGE"),
    (0x00100000, "REPARSE_POINT_CHANGE"), (0x00200000, "STREAM_CHANGE"), (0x00400000, "TRANSACTED_CHANGE"),
    (0x00800000, "INTEGRITY_CHANGE"), (0x80000000, "CLOSE"),
)  # fmt: skip
#: Which reason names the row's action, in order of what matters most.
_ACTIONS = (
    (0x00000200, "file-deleted"), (0x00000100, "file-created"), (0x00002000, "file-renamed"),
    (0x00001000, "file-renamed-from"), (0x00000077, "file-written"), (0x00000800, "security-changed"),
    (0x00200000, "stream-changed"), (0x00008000, "attributes-changed"),
)  # fmt: skip


def reason_names(reason: int) -> list[str]:
    """USN reason flags by name, in bit order (unknown bits in hex)."""
    names = [name for bit, name in _REASONS if reason & bit]
    rest = reason & ~sum(bit for bit, _ in _REASONS)
    if rest:
        names.append(f"0x{rest:08x}")
    return names


@dataclass(slots=True)
class UsnRecord:
    """One USN journal record (V2/V3; V4 range records have no name or time)."""

    offset: int
    version: int
    usn: int
    when: datetime | None
    name: str | None
    file_id: bytes
    parent_id: bytes
    reason: int
    source_info: int
    security_id: int | None
    attributes: int | None
    extents: list[tuple[int, int]] = field(default_factory=list)


def _first_data(fh: BinaryIO, start: int, size: int) -> int:
    """Offset of the first page at or after ``start`` holding a non-zero byte (``size`` if none):
    the file system's hole map first (``SEEK_DATA``), then a scan of large blocks."""
    offset = start
    fileno = getattr(fh, "fileno", None)
    seek_data = getattr(os, "SEEK_DATA", None)
    if fileno is not None and seek_data is not None:
        try:
            offset = max(offset, os.lseek(fileno(), start, seek_data))
        except OSError:
            offset = start  # ENXIO: no data after start, or no hole support: scan
    block = 1 << 20
    while offset < size:
        fh.seek(offset)
        data = fh.read(block)
        if not data:
            return size
        stripped = data.lstrip(b"\x00")
        if stripped:
            return offset + (len(data) - len(stripped)) // USN_PAGE * USN_PAGE
        offset += len(data)
    return size


def read_usn(fh: BinaryIO, start: int, end: int) -> Iterator[UsnRecord | ParseWarning]:
    """Records whose first byte lies in [start, end); zero runs skipped; a record that makes no
    sense is a warning and reading resumes at the next page."""
    from dissect.ntfs.usnjrnl import UsnJrnl
    from dissect.ntfs.usnjrnl import UsnRecord as DissectUsnRecord

    journal = UsnJrnl(fh)
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    offset = start
    while offset < end:
        page_end = (offset // USN_PAGE + 1) * USN_PAGE
        fh.seek(offset)
        head = fh.read(8)
        if len(head) < 8:
            break
        length, major, minor = _USN_HEAD.unpack(head)
        if length == 0:
            nxt = _first_data(fh, page_end, min(size, end)) if head == b"\x00" * 8 else page_end
            offset = nxt
            continue
        if major not in (2, 3, 4) or length < 0x38 or length % 8 or offset + length > page_end:
            yield ParseWarning(
                f"offset {offset}",
                offset,
                f"not a USN record (length {length}, version {major}.{minor})"
                + "; resuming at the next page",
            )
            offset = page_end
            continue
        try:
            raw = DissectUsnRecord(journal, fh, offset)
            yield _usn_record(raw, offset, major)
        except Exception as exc:
            yield ParseWarning(
                f"offset {offset}", offset, f"unreadable USN record: {type(exc).__name__}: {exc}"[:300]
            )
        offset += length


def _usn_record(raw: Any, offset: int, major: int) -> UsnRecord:
    rec = raw.record
    if major == 2:
        file_id = struct.pack("<Q", _ref64(rec.FileReferenceNumber)).ljust(16, b"\x00")
        parent_id = struct.pack("<Q", _ref64(rec.ParentFileReferenceNumber)).ljust(16, b"\x00")
    else:
        file_id = bytes(rec.FileReferenceNumber.Identifier)
        parent_id = bytes(rec.ParentFileReferenceNumber.Identifier)
    if major == 4:
        return UsnRecord(
            offset,
            4,
            rec.Usn,
            None,
            None,
            file_id,
            parent_id,
            int(rec.Reason),
            int(rec.SourceInfo),
            None,
            None,
            [(e.Offset, e.Length) for e in raw.extents],
        )
    return UsnRecord(
        offset,
        major,
        rec.Usn,
        filetime_to_utc(rec.TimeStamp),
        raw.filename,
        file_id,
        parent_id,
        int(rec.Reason),
        int(rec.SourceInfo),
        rec.SecurityId,
        int(rec.FileAttributes),
    )


def _ref64(ref: Any) -> int:
    return ref.SegmentNumberLowPart | (ref.SegmentNumberHighPart << 32) | (ref.SequenceNumber << 48)


def _id_text(raw: bytes) -> str:
    """A 128-bit file ID as fsutil prints it (most significant byte first)."""
    return raw[::-1].hex()


def usn_row(record: UsnRecord, source: str) -> Row:
    names = reason_names(record.reason)
    action = next((a for bit, a in _ACTIONS if record.reason & bit), "usn-change")
    fields: dict[str, str | None] = {
        "usn": str(record.usn),
        "reason": f"0x{record.reason:08x}",
        "reason_flags": "|".join(names),
        "file_id": _id_text(record.file_id),
        "parent_file_id": _id_text(record.parent_id),
        "source_info": f"0x{record.source_info:08x}",
        "record_version": str(record.version),
    }
    if not any(record.file_id[8:]):  # a 64-bit MFT reference: entry and sequence
        value = int.from_bytes(record.file_id[:8], "little")
        fields["mft_entry"], fields["mft_sequence"] = str(value & 0xFFFFFFFFFFFF), str(value >> 48)
        parent = int.from_bytes(record.parent_id[:8], "little")
        fields["parent_mft_entry"], fields["parent_mft_sequence"] = (
            str(parent & 0xFFFFFFFFFFFF),
            str(parent >> 48),
        )
    if record.attributes is not None:
        fields["file_attributes"] = f"0x{record.attributes:08x}"
        fields["security_id"] = str(record.security_id)
    if record.extents:
        fields["extents"] = "; ".join(f"{o}+{n}" for o, n in record.extents)
    what = record.name or f"file id {fields['file_id']}"
    row = {
        "datetime": record.when,
        "timestamp_desc": "Event Recorded",
        "source": source,
        "source_record": record.usn,
        "event_provider": "ntfs-usnjrnl",
        "event_action": action,
        "event_code": fields["reason"],
        "file_path": record.name,
        "message": f"USN {record.usn}: {what} {' | '.join(names)}",
    }
    return row, fields


def _plausible_usn(head: bytes, at: int = 0) -> bool:
    if len(head) < at + 0x3C:
        return False
    length, major, minor = _USN_HEAD.unpack_from(head, at)
    if major not in (2, 3, 4) or minor > 1 or length < 0x38 or length > USN_PAGE or length % 8:
        return False
    if major == 4:
        return struct.unpack_from("<H", head, at + 0x3A)[0] == 16
    name_at = 0x3C if major == 2 else 0x4C
    if len(head) < at + name_at:
        return False
    when = struct.unpack_from("<Q", head, at + (0x20 if major == 2 else 0x30))[0]
    name_len, name_off = struct.unpack_from("<HH", head, at + name_at - 4)
    return (
        name_off == name_at
        and name_len % 2 == 0
        and name_at + name_len <= length
        and 116_444_736_000_000_000 <= when < 159_000_000_000_000_000
    )  # 1970 to 2104


class UsnJournalParser(Parser):
    """``$UsnJrnl:$J`` -> one row per change record (dissect.ntfs record reader)."""

    name = "ntfs_usnjrnl"

    def sniff(self, head: bytes) -> bool:
        if not _plausible_usn(head):
            return False
        nxt = _USN_HEAD.unpack_from(head, 0)[0]
        return len(head) < nxt + 0x3C or head[nxt : nxt + 4] == b"\x00" * 4 or _plausible_usn(head, nxt)

    def sniff_path(self, path: str, head: bytes) -> bool:
        name = path.replace("/", "\\").rsplit("\\", 1)[-1].lower()
        return name in ("$j", "$usnjrnl:$j", "$usnjrnl_$j", "$usnjrnl.$j", "usnjrnl_j") and not head.strip(
            b"\x00"
        )

    def plan(self, fh: BinaryIO, size: int, options: Options) -> list[object]:
        start = _first_data(fh, 0, size)
        if start >= size:
            return [(size, size, 0)]
        return [(at, min(at + USN_UNIT_BYTES, size), start) for at in range(start, size, USN_UNIT_BYTES)]

    def parse(self, fh: BinaryIO, unit: Any, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        if unit is None:
            fh.seek(0, os.SEEK_END)
            unit = (0, fh.tell(), 0)
        start, end, data_start = unit

        def rows() -> Iterator[Row | ParseWarning]:
            if start == data_start and start:
                yield ParseWarning(
                    "file", 0, f"{start:,} leading zero bytes (sparse journal start) skipped", 0
                )
            if start >= end:
                yield ParseWarning("file", 0, "no journal records: the file is all zeros", 0)
            for item in read_usn(fh, start, end):
                yield item if isinstance(item, ParseWarning) else usn_row(item, self.name)

        yield from batched(rows(), options.batch_rows)
