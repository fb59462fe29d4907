"""NTFS ``$MFT`` extracted on its own (FILE records) -> one row per record and distinct
``$STANDARD_INFORMATION`` time, MACB style, with the path, deleted flag and ``$FILE_NAME`` times.

Times that coincide share a row (``macb`` says which). The ``$FILE_NAME`` times go in
``fields`` (``fn_*``); a ``$STANDARD_INFORMATION`` creation time earlier than ``$FILE_NAME``'s is
the classic timestomping tell, flagged ``si_created_before_fn``. A record not in use is
``deleted``. The full path is resolved through the parent references with their sequence
numbers checked: a parent folder that is itself deleted but not reused (its sequence number is
the reference's plus one, as deletion leaves it) still names the path (``path`` =
``via-deleted-parent``); a parent that is gone or reused gives ``\\$OrphanFiles\\<name>`` (as The
Sleuth Kit does). ``mft_entry`` is the number the record header states (a lone record or an
excerpt keeps its real number); ``source_record`` is the record's index in the file.

Records are read with dissect.ntfs (``MftRecord`` and its attribute parsers); fixups are applied
leniently, so a torn record (a sector whose stamp does not match) is read and noted rather than
dropped. Zero-filled slots, never-used records and extension records (whose attributes belong to
a base record) are counted in notes. Large files are split into ranges of records; each range
resolves the parent paths it needs on demand, reading parent records from the file (cached).

References: dissect.ntfs (``mft``, ``attr``, ``c_ntfs``); libyal libfsntfs documentation, "New
Technologies File System (NTFS)" (MFT entry, attributes); Brian Carrier, File System Forensic
Analysis (2005), ch. 11-13.
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

__all__ = ["MftEntry", "MftParser", "mft_rows", "read_mft"]


#: Records per work unit (16 MiB of 1 KiB records).
MFT_UNIT_RECORDS = 16_384
ROOT_SEGMENT = 5
_IN_USE, _DIRECTORY = 0x0001, 0x0002
_MACB = (
    ("modified", "Modified", "M"),
    ("accessed", "Accessed", "A"),
    ("changed", "Changed", "C"),
    ("created", "Created", "B"),
)
#: $FILE_NAME namespaces, best first: Win32 and DOS, Win32, POSIX, DOS.
_NAME_RANK = {3: 0, 1: 1, 0: 2, 2: 3}
_MAX_DEPTH = 256


@dataclass(slots=True)
class Times:
    """An attribute's four times (aware UTC, or None when zero)."""

    created: datetime | None
    modified: datetime | None
    changed: datetime | None
    accessed: datetime | None


@dataclass(slots=True)
class MftEntry:
    """One base MFT record, as far as it could be read."""

    segment: int
    offset: int
    sequence: int
    in_use: bool
    is_dir: bool
    name: str | None
    parent: tuple[int, int] | None
    si: Times | None
    fn: Times | None
    size: int | None = None
    attributes: int | None = None
    streams: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    torn: bool = False
    number: int | None = None


def record_size(head: bytes) -> int:
    """The record size the first record declares (1 KiB or 4 KiB), 1 KiB when unsure."""
    if len(head) >= 0x20 and head[:4] in (b"FILE", b"BAAD"):
        allocated = struct.unpack_from("<I", head, 0x1C)[0]
        if allocated in (1024, 4096):
            return allocated
    return 1024


def _fixup(data: bytes) -> tuple[bytes, bool]:
    """Apply the update sequence array; a sector whose stamp does not match is still restored
    and reported (a torn write), not dropped."""
    usa_offset, usa_count = struct.unpack_from("<HH", data, 4)
    sectors = len(data) // 512
    if usa_offset & 1 or usa_count != sectors + 1 or usa_offset + 2 * usa_count > 512:
        raise ValueError(f"update sequence array out of range (offset {usa_offset}, count {usa_count})")
    out = bytearray(data)
    stamp = out[usa_offset : usa_offset + 2]
    torn = False
    for n in range(sectors):
        end = (n + 1) * 512
        if out[end - 2 : end] != stamp:
            torn = True
        at = usa_offset + 2 * (n + 1)
        out[end - 2 : end] = out[at : at + 2]
    return bytes(out), torn


def _parse_record(data: bytes, segment: int, offset: int) -> MftEntry:
    from dissect.ntfs.c_ntfs import ATTRIBUTE_TYPE_CODE, c_ntfs
    from dissect.ntfs.mft import MftRecord

    fixed, torn = _fixup(data)
    record = MftRecord()
    record.data = fixed
    record.header = c_ntfs._FILE_RECORD_SEGMENT_HEADER(fixed)
    record.segment = segment
    record.offset = offset
    flags = record.header.Flags
    attrs = record.attributes
    si = None
    for attr in attrs[ATTRIBUTE_TYPE_CODE.STANDARD_INFORMATION]:
        raw = attr.attribute.attr
        si = Times(
            *(
                filetime_to_utc(t)
                for t in (raw.CreationTime, raw.LastModificationTime, raw.LastChangeTime, raw.LastAccessTime)
            )
        )
        attributes = raw.FileAttributes
        break
    else:
        attributes = None
    names = []
    for attr in attrs[ATTRIBUTE_TYPE_CODE.FILE_NAME]:
        raw = attr.attribute.attr
        names.append((_NAME_RANK.get(raw.Flags, 9), raw))
    names.sort(key=lambda item: item[0])
    best = names[0][1] if names else None
    entry = MftEntry(
        segment=segment,
        offset=offset,
        sequence=record.header.SequenceNumber,
        in_use=bool(flags & _IN_USE),
        is_dir=bool(flags & _DIRECTORY),
        name=best.FileName if best else None,
        parent=(_reference(best.ParentDirectory) if best else None),
        si=si,
        fn=(
            Times(
                *(
                    filetime_to_utc(t)
                    for t in (
                        best.CreationTime,
                        best.LastModificationTime,
                        best.LastChangeTime,
                        best.LastAccessTime,
                    )
                )
            )
            if best
            else None
        ),
        attributes=attributes,
        names=sorted({raw.FileName for _, raw in names}),
        torn=torn,
        number=struct.unpack_from("<I", fixed, 0x2C)[0]
        if struct.unpack_from("<H", fixed, 4)[0] >= 0x30
        else None,
    )
    for attr in attrs[ATTRIBUTE_TYPE_CODE.DATA]:
        header = attr.header
        if header.name:
            entry.streams.append(header.name)
        elif entry.size is None:
            entry.size = header.size
    if entry.size is None and best is not None and not entry.is_dir:
        entry.size = best.FileSize
    return entry


def _reference(ref: Any) -> tuple[int, int]:
    return ref.SegmentNumberLowPart | (ref.SegmentNumberHighPart << 32), ref.SequenceNumber


class _Paths:
    """Full paths by walking parent references, reading parent records on demand (cached)."""

    def __init__(self, fh: BinaryIO, size: int, total: int) -> None:
        self.fh, self.size, self.total = fh, size, total
        self.cache: dict[int, tuple[int, str | None, tuple[int, int] | None, bool]] = {}

    def _node(self, segment: int) -> tuple[int, str | None, tuple[int, int] | None, bool] | None:
        if segment in self.cache:
            return self.cache[segment]
        if segment >= self.total:
            return None
        self.fh.seek(segment * self.size)
        data = self.fh.read(self.size)
        try:
            entry = _parse_record(data, segment, segment * self.size) if data[:4] == b"FILE" else None
        except Exception:
            entry = None
        node = (entry.sequence, entry.name, entry.parent, entry.in_use) if entry and entry.name else None
        if node is not None and len(self.cache) < 1_000_000:
            self.cache[segment] = node
        return node

    def path(self, entry: MftEntry) -> tuple[str, str]:
        """(path, how): the full path from the root (``resolved``; ``via-deleted-parent`` when a
        parent folder is itself deleted but not reused: its sequence number is the reference's
        plus one, as deletion leaves it), or ``\\$OrphanFiles\\name`` (``orphan``)."""
        if entry.segment == ROOT_SEGMENT:
            return "\\", "resolved"
        parts = [entry.name or f"<record {entry.segment}>"]
        parent = entry.parent
        seen = {entry.segment}
        how = "resolved"
        while parent is not None and len(parts) < _MAX_DEPTH:
            segment, sequence = parent
            if segment == ROOT_SEGMENT:
                return "\\" + "\\".join(reversed(parts)), how
            node = self._node(segment)
            if node is None or segment in seen:
                break
            if sequence and node[0] != sequence:
                if node[3] or node[0] != (sequence + 1) & 0xFFFF:
                    break
                how = "via-deleted-parent"
            seen.add(segment)
            parts.append(node[1] or "?")
            parent = node[2]
        return "\\$OrphanFiles\\" + parts[0], "orphan"


def read_mft(fh: BinaryIO, start: int, end: int, size: int, total: int) -> Iterator[MftEntry | ParseWarning]:
    """Records ``start`` to ``end`` (exclusive): base records as entries, problems as warnings,
    empty and extension records counted in notes."""
    empty = unused = extension = 0
    for segment in range(start, end):
        offset = segment * size
        fh.seek(offset)
        data = fh.read(size)
        if len(data) < size:
            if data.strip(b"\x00"):
                yield ParseWarning(
                    f"record {segment}", offset, f"trailing {len(data)} bytes, not a whole record"
                )
            break
        magic = data[:4]
        if magic != b"FILE":
            if not data.strip(b"\x00"):
                empty += 1
            elif magic == b"BAAD":
                yield ParseWarning(
                    f"record {segment}", offset, "record marked BAAD (failed multi-sector transfer)"
                )
            else:
                yield ParseWarning(f"record {segment}", offset, f"not a FILE record (starts with {magic!r})")
            continue
        if struct.unpack_from("<Q", data, 0x20)[0] & 0xFFFFFFFFFFFF:
            extension += 1
            continue
        try:
            entry = _parse_record(data, segment, offset)
        except Exception as exc:
            yield ParseWarning(
                f"record {segment}", offset, f"unreadable FILE record: {type(exc).__name__}: {exc}"[:300]
            )
            continue
        if entry.si is None and entry.name is None:
            unused += 1
            continue
        if entry.torn:
            yield ParseWarning(f"record {segment}", offset, "fixup mismatch (torn write): read anyway", 0)
        yield entry
    for count, what in (
        (empty, "zero-filled slots"),
        (unused, "FILE records without attributes (never used)"),
        (extension, "extension records (attributes of other records)"),
    ):
        if count:
            yield ParseWarning(f"records {start}-{end - 1}", start * size, f"{count} {what} skipped", 0)


def mft_rows(entry: MftEntry, path: str, resolved: str, source: str) -> list[Row]:
    """One row per distinct $STANDARD_INFORMATION time (else $FILE_NAME's), MACB style."""
    times = entry.si or entry.fn
    fields: dict[str, str | None] = {
        "mft_entry": str(entry.segment if entry.number is None else entry.number),
        "mft_sequence": str(entry.sequence),
        "deleted": str(not entry.in_use).lower(),
        "directory": str(entry.is_dir).lower(),
        "name": entry.name,
        "size": None if entry.size is None else str(entry.size),
        "file_attributes": None if entry.attributes is None else f"0x{entry.attributes:08x}",
        "parent_mft_entry": str(entry.parent[0]) if entry.parent else None,
        "parent_mft_sequence": str(entry.parent[1]) if entry.parent else None,
        "path": resolved,
        "times_from": "$STANDARD_INFORMATION" if entry.si else "$FILE_NAME",
    }
    if entry.fn is not None:
        for attr in ("created", "modified", "changed", "accessed"):
            when = getattr(entry.fn, attr)
            fields[f"fn_{attr}"] = when.isoformat() if when else None
        if entry.si and entry.si.created and entry.fn.created and entry.si.created < entry.fn.created:
            fields["si_created_before_fn"] = "true"
    if len(entry.names) > 1:
        fields["names"] = "; ".join(entry.names)
    if entry.streams:
        fields["streams"] = "; ".join(entry.streams)
    if entry.torn:
        fields["torn_record"] = "true"
    fields = {k: v for k, v in fields.items() if v is not None}
    state = " (deleted)" if not entry.in_use else ""
    kinds: dict[datetime, list[tuple[str, str]]] = {}
    if times is not None:
        for attr, desc, letter in _MACB:
            when = getattr(times, attr)
            if when is not None:
                kinds.setdefault(when, []).append((desc, letter))
    base = {"source": source, "source_record": entry.segment, "event_provider": "ntfs-mft", "file_path": path}
    if not kinds:
        return [
            (
                {
                    **base,
                    "datetime": None,
                    "timestamp_desc": "Modified",
                    "event_action": "file-record",
                    "message": f"{path}{state}: no times",
                },
                fields,
            )
        ]
    rows: list[Row] = []
    for when, found in sorted(kinds.items()):
        letters = {letter for _, letter in found}
        macb = "".join(c if c in letters else "." for c in "MACB")
        rows.append(
            (
                {
                    **base,
                    "datetime": when,
                    "timestamp_desc": found[0][0],
                    "event_action": "file-" + "-".join(d.lower() for d, _ in found),
                    "message": f"{macb} {path}{state}"
                    + (f" ({entry.size} bytes)" if entry.size is not None else ""),
                },
                {**fields, "macb": macb},
            )
        )
    return rows


class MftParser(Parser):
    """``$MFT`` (FILE records) -> MACB rows per record via dissect.ntfs, paths resolved."""

    name = "ntfs_mft"

    def sniff(self, head: bytes) -> bool:
        if len(head) < 0x38 or head[:4] not in (b"FILE", b"BAAD"):
            return False
        usa_offset, usa_count = struct.unpack_from("<HH", head, 4)
        first_attr, flags = struct.unpack_from("<HH", head, 0x14)
        used, allocated = struct.unpack_from("<II", head, 0x18)
        return (
            allocated in (1024, 4096)
            and usa_count == allocated // 512 + 1
            and usa_offset in (0x28, 0x2A, 0x30)
            and 0x2A <= first_attr < used <= allocated
            and flags < 0x10
        )

    def plan(self, fh: BinaryIO, size: int, options: Options) -> list[object]:
        fh.seek(0)
        rsize = record_size(fh.read(64))
        total = max(1, -(-size // rsize))
        return [
            (start, min(start + MFT_UNIT_RECORDS, total), rsize, total)
            for start in range(0, total, MFT_UNIT_RECORDS)
        ]

    def parse(self, fh: BinaryIO, unit: Any, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        if unit is None:  # no plan: the whole file as one unit
            fh.seek(0, os.SEEK_END)
            units = self.plan(fh, fh.tell(), options)
            unit = (0, units[-1][1], units[0][2], units[0][3])
        start, end, rsize, total = unit
        resolver = _Paths(fh, rsize, total)

        def rows() -> Iterator[Row | ParseWarning]:
            for item in read_mft(fh, start, end, rsize, total):
                if isinstance(item, ParseWarning):
                    yield item
                    continue
                path, resolved = resolver.path(item)
                yield from mft_rows(item, path, resolved, self.name)

        yield from batched(rows(), options.batch_rows)
