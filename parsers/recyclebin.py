"""Windows Recycle Bin metadata: Vista+ ``$I`` files and the XP ``INFO2`` index -> one row per
deleted file, timed by its deletion.

Since Vista each deleted file ``$Rxxxxxx.ext`` has a companion ``$Ixxxxxx.ext``: a version
(1 on Vista to 8.1, 2 on Windows 10+), the original size, the deletion time and the original
path (a fixed 520-byte UTF-16 field in version 1; length-prefixed in version 2). XP's
``RECYCLER\\<SID>\\INFO2`` is one file for the whole bin: a 20-byte header (version 4 or 5,
record size 280 or 800) and one record per deleted file with the ANSI path, the ``Dc<N>`` index,
the drive number, the deletion time, the size and (version 5) the UTF-16 path. An emptied or
restored INFO2 record keeps its data but loses the first byte of its ANSI path; the UTF-16 path
(or the rest of the ANSI one) still says what was there, and the row says ``removed_from_bin``.

References: libyal dtformats "Windows Recycle.Bin file formats" and "Windows Recycler file
formats" (github.com/libyal/dtformats, documentation/); dissect.target recyclebin plugin.
"""

from __future__ import annotations

import string
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

import pyarrow as pa

from forensics.timeutil import filetime_to_utc
from parsers.base import Options, Parser, ParseWarning
from parsers.textlog import Row, batched

__all__ = ["Deleted", "RecycleBinParser", "read_dollar_i", "read_info2", "to_row"]

#: Plausible deletion times for sniffing: 1995 to 2100, as FILETIME.
_SANE = (124_919_424_000_000_000, 157_766_400_000_000_000)
_INFO2_RECORD = {4: 280, 5: 800}
_MAX_INFO2 = 256 << 20


@dataclass(slots=True)
class Deleted:
    """One deleted file as the bin remembers it."""

    index: int
    offset: int
    path: str
    size: int
    deleted: datetime | None
    source_format: str
    drive: str | None = None
    record_number: int | None = None
    removed: bool = False


def _drive_path(raw: bytes) -> bool:
    """UTF-16 text that starts like a Windows path (``X:\\`` or ``\\\\``)."""
    text = raw[:6].decode("utf-16-le", "replace")
    return (len(text) == 3 and text[0] in string.ascii_letters and text[1:] == ":\\") or text[:2] == "\\\\"


def read_dollar_i(fh: BinaryIO) -> Iterator[Deleted | ParseWarning]:
    fh.seek(0)
    data = fh.read(1 << 16)
    version, size, when = struct.unpack_from("<QQQ", data, 0)
    if version == 1:
        raw = data[24 : 24 + 520]
    else:
        chars = struct.unpack_from("<I", data, 24)[0]
        raw = data[28 : 28 + 2 * chars]
        if len(raw) < 2 * chars:
            yield ParseWarning(
                "path", 28, f"path of {chars} characters runs past the end ({len(data)} bytes)"
            )
    path = raw.decode("utf-16-le", "replace").split("\x00", 1)[0]
    yield Deleted(0, 0, path, size, filetime_to_utc(when), f"$I v{version}")


def read_info2(fh: BinaryIO) -> Iterator[Deleted | ParseWarning]:
    fh.seek(0)
    data = fh.read(_MAX_INFO2)
    version, _, _, record = struct.unpack_from("<IIII", data, 0)
    if _INFO2_RECORD.get(version) != record:
        yield ParseWarning("header", 0, f"INFO2 version {version} with {record}-byte records is not known")
        return
    offset = 20
    n = 0
    while offset + record <= len(data):
        chunk = data[offset : offset + record]
        n += 1
        ansi_raw = chunk[:260]
        number, drive, when, size = struct.unpack_from("<IIQI", chunk, 260)
        removed = ansi_raw[:1] == b"\x00"
        ansi = ansi_raw.split(b"\x00", 1)[0] if not removed else ansi_raw[1:].split(b"\x00", 1)[0]
        path = ansi.decode("cp1252", "replace")
        if version == 5:
            wide = chunk[280:800].decode("utf-16-le", "replace").split("\x00", 1)[0]
            path = wide or path
        if not path and not when:
            yield ParseWarning(f"record {n}", offset, "empty INFO2 record: no path, no time")
        else:
            yield Deleted(
                n,
                offset,
                path,
                size,
                filetime_to_utc(when),
                f"INFO2 v{version}",
                drive=chr(ord("A") + drive) if drive < 26 else str(drive),
                record_number=number,
                removed=removed,
            )
        offset += record
    if offset < len(data):
        yield ParseWarning(
            f"record {n + 1}", offset, f"trailing {len(data) - offset} bytes, not a whole record"
        )


def to_row(item: Deleted, source: str) -> Row:
    name = item.path.rsplit("\\", 1)[-1]
    fields: dict[str, str | None] = {
        "original_path": item.path,
        "original_size": str(item.size),
        "format": item.source_format,
        "file_name": name or None,
    }
    if item.drive is not None:
        fields["drive"] = item.drive
        fields["recycler_name"] = (
            f"Dc{item.record_number}{'.' + name.rsplit('.', 1)[1] if '.' in name else ''}"
        )
        fields["removed_from_bin"] = str(item.removed).lower()
    row: dict[str, Any] = {
        "datetime": item.deleted,
        "timestamp_desc": "Event Recorded",
        "source": source,
        "source_record": item.index,
        "event_provider": "recycle-bin",
        "event_action": "file-deleted",
        "file_path": item.path,
        "message": f"deleted to the Recycle Bin: {item.path} ({item.size} bytes)"
        + (" (since removed from the bin)" if item.removed else ""),
    }
    return row, fields


def _is_dollar_i(head: bytes) -> bool:
    if len(head) < 30:
        return False
    version, _, when = struct.unpack_from("<QQQ", head, 0)
    if version not in (1, 2) or not _SANE[0] <= when < _SANE[1]:
        return False
    if version == 1:
        return len(head) >= 24 + 6 and _drive_path(head[24:30])
    chars = struct.unpack_from("<I", head, 24)[0]
    return 3 <= chars <= 32_768 and _drive_path(head[28:34])


def _is_info2(head: bytes) -> bool:
    if len(head) < 20:
        return False
    version, _, _, record = struct.unpack_from("<IIII", head, 0)
    if _INFO2_RECORD.get(version) != record:
        return False
    if len(head) < 20 + 3:
        return True
    first = head[20:23] if head[20] else head[21:23]
    return first[-2:] == b":\\" or first[-2:] == b"\\\\"


class RecycleBinParser(Parser):
    """Recycle Bin ``$I`` files (Vista+) and ``INFO2`` (XP) -> one deletion row per file."""

    name = "windows_recyclebin"

    def sniff(self, head: bytes) -> bool:
        return _is_dollar_i(head) or _is_info2(head)

    def parse(self, fh: BinaryIO, unit: Any, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        fh.seek(0)
        head = fh.read(64)
        reader = read_dollar_i if _is_dollar_i(head) else read_info2

        def rows() -> Iterator[Row | ParseWarning]:
            for item in reader(fh):
                yield item if isinstance(item, ParseWarning) else to_row(item, self.name)

        yield from batched(rows(), options.batch_rows)
