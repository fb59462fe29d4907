"""NTFS ``$LogFile`` extracted on its own -> recognised and summarised in one undated row.

A ``$LogFile`` starts with two restart pages (``RSTR``, or ``CHKD`` after chkdsk) followed by
log record pages (``RCRD``). The summary row gives the LFS version, page sizes, the restart
area's current LSN, log file size and flags, and the counts of restart, record and unused
pages with the highest LSN any record page holds. The operation records themselves (redo/undo
of MFT and index changes) are not decoded; a note says so.

References: libyal libfsntfs documentation, "New Technologies File System (NTFS)", section
"Metadata files: $LogFile" (restart page header, restart area, record page header); ntfs-3g
``logfile.h`` (restart area flags: 0x0002 RESTART_VOLUME_IS_CLEAN).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import pyarrow as pa

from parsers.base import Options, Parser, ParseWarning
from parsers.textlog import Row, batched

__all__ = ["LogFileParser", "LogFileSummary", "logfile_row", "read_logfile"]


@dataclass(slots=True)
class LogFileSummary:
    """What the restart area and the page headers of a $LogFile say."""

    version: str
    system_page: int
    log_page: int
    current_lsn: int
    file_size: int
    clients: int
    flags: int
    restart_pages: int
    record_pages: int
    unused_pages: int
    other_pages: int
    highest_page_lsn: int


def read_logfile(fh: BinaryIO) -> Iterator[LogFileSummary | ParseWarning]:
    fh.seek(0)
    head = fh.read(4096)
    if len(head) < 0x30 + 0x30:
        yield ParseWarning("restart page", 0, "too short for a restart page")
        return
    system_page, log_page, area_at, minor, major = struct.unpack_from("<IIHhh", head, 0x10)
    if log_page not in (4096, 8192, 16384, 65536) or area_at + 0x30 > len(head):
        yield ParseWarning("restart page", 0, f"implausible restart page (log page size {log_page})")
        return
    current_lsn, clients, _, _, flags = struct.unpack_from("<QHHHH", head, area_at)
    file_size = struct.unpack_from("<Q", head, area_at + 0x18)[0]
    counts = {b"RSTR": 0, b"CHKD": 0, b"RCRD": 0, b"\xff\xff\xff\xff": 0}
    other = 0
    highest = 0
    offset = 0
    while True:
        fh.seek(offset)
        page = fh.read(0x10)
        if len(page) < 4:
            break
        magic = page[:4]
        if magic in counts:
            counts[magic] += 1
            if magic == b"RCRD" and len(page) >= 16:
                highest = max(highest, struct.unpack_from("<Q", page, 8)[0])
        else:
            other += 1
        offset += log_page if offset >= 2 * system_page or magic not in (b"RSTR", b"CHKD") else system_page
    yield LogFileSummary(
        f"{major}.{minor}",
        system_page,
        log_page,
        current_lsn,
        file_size,
        clients,
        flags,
        counts[b"RSTR"] + counts[b"CHKD"],
        counts[b"RCRD"],
        counts[b"\xff\xff\xff\xff"],
        other,
        highest,
    )
    yield ParseWarning("file", None, "$LogFile operation records are not decoded: summary only", 0)


def logfile_row(summary: LogFileSummary, source: str) -> Row:
    fields = {
        "lfs_version": summary.version,
        "system_page_size": str(summary.system_page),
        "log_page_size": str(summary.log_page),
        "current_lsn": str(summary.current_lsn),
        "log_file_size": str(summary.file_size),
        "log_clients": str(summary.clients),
        "restart_flags": f"0x{summary.flags:04x}",
        "restart_pages": str(summary.restart_pages),
        "record_pages": str(summary.record_pages),
        "unused_pages": str(summary.unused_pages),
        "other_pages": str(summary.other_pages),
        "highest_page_lsn": str(summary.highest_page_lsn),
    }
    clean = "volume marked clean" if summary.flags & 0x0002 else "volume not marked clean"
    row = {
        "datetime": None,
        "timestamp_desc": "Modified",
        "source": source,
        "source_record": 0,
        "event_provider": "ntfs-logfile",
        "event_action": "logfile-summary",
        "message": f"$LogFile LFS {summary.version}: current LSN {summary.current_lsn}, "
        f"{summary.record_pages} record pages, {summary.unused_pages} unused ({clean})",
    }
    return row, fields


class LogFileParser(Parser):
    """``$LogFile`` (restart pages ``RSTR``/``CHKD``) -> one summary row."""

    name = "ntfs_logfile"

    def sniff(self, head: bytes) -> bool:
        if len(head) < 0x30 or head[:4] not in (b"RSTR", b"CHKD"):
            return False
        usa_offset = struct.unpack_from("<H", head, 4)[0]
        system_page, log_page = struct.unpack_from("<II", head, 0x10)
        return (
            usa_offset == 0x1E
            and system_page in (4096, 8192, 16384, 65536)
            and log_page in (4096, 8192, 16384, 65536)
        )

    def parse(self, fh: BinaryIO, unit: Any, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        def rows() -> Iterator[Row | ParseWarning]:
            for item in read_logfile(fh):
                yield item if isinstance(item, ParseWarning) else logfile_row(item, self.name)

        yield from batched(rows(), options.batch_rows)
