"""What every parser is: a sniffer on the first bytes, a work plan, a streaming reader.

A parser reads a binary file-like object (a loose file or, later, a file inside an image) and
yields Arrow record batches in the timeline schema, interleaved with ``ParseWarning``s for
whatever it could not read. ``plan`` splits one input into independent work units (EVTX
chunk ranges, say) so that one large file can use every core; units are picklable.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, ClassVar

import pyarrow as pa

from forensics.rows import DEFAULT_BATCH_ROWS

__all__ = ["HEAD_BYTES", "MESSAGE_LIMIT", "Options", "ParseWarning", "Parser", "one_line", "row_message"]

#: How many leading bytes ``sniff`` sees.
HEAD_BYTES = 4096


@dataclass(frozen=True, slots=True)
class ParseWarning:
    """A record (or a run of records) that could not be read, located in the input."""

    location: str
    offset: int | None
    reason: str
    count: int = 1


@dataclass(frozen=True, slots=True)
class Options:
    """Parsing options chosen by the investigator, plus what the ingest knows of one file.

    ``timezone`` is the IANA zone of the host that wrote the evidence: logs that write local
    time without an offset (BSD syslog, dpkg, apt) are converted to UTC with it, and the rows
    say which zone was used. ``file_mtime`` (aware UTC) is set by the ingest per file; formats
    without a year (BSD syslog) take it as the latest possible time of their last line.
    ``host_name`` is the host the evidence came from when its container knows it (an image, a
    collection): rows whose records name no host get it. ``source_path`` is the evidence file's
    own path, for parsers that hand the whole file to a library that opens paths (dissect.target).
    """

    evtx_backend: str = "rust"
    batch_rows: int = DEFAULT_BATCH_ROWS
    timezone: str = "UTC"
    file_mtime: datetime | None = None
    #: Disk images: also write the file-system timeline (MACB rows for every file; large).
    fs_timeline: bool = False
    host_name: str | None = None
    source_path: str | None = None
    #: Packet captures: write the objects they carry (HTTP bodies, FTP files) into this folder,
    #: named by sha256, for the file scanners; None hashes them only.
    carve_dir: str | None = None
    #: Worker processes the ingest runs (set by the ingest): parsers may plan that many units.
    workers: int = 1


class Parser:
    """Base class: subclasses set ``name`` (the timeline ``source``) and implement
    ``sniff`` and ``parse``; ``plan`` defaults to one unit for the whole input."""

    name: ClassVar[str] = ""

    def sniff(self, head: bytes) -> bool:
        """True when ``head`` (the first HEAD_BYTES bytes) is this parser's format."""
        raise NotImplementedError

    def sniff_path(self, path: str, head: bytes) -> bool:
        """Tie-breaker for formats without magic (a plain shell history is just lines of text):
        asked only when no parser recognised the content, with the file's path. Content always
        wins; a parser claims a path only for names that are unambiguous (``.bash_history``)."""
        return False

    def plan(self, fh: BinaryIO, size: int, options: Options) -> list[object]:
        """Independent work units for one input; each is handed to ``parse``."""
        return [None]

    def parse(self, fh: BinaryIO, unit: object, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        """Rows (record batches in the TIMELINE schema) and warnings for one unit."""
        raise NotImplementedError


#: Longest ``message`` a row carries (the full record stays in ``fields``).
MESSAGE_LIMIT = 1024


def row_message(text: str) -> str:
    """A row's ``message``: line breaks made spaces, cut to MESSAGE_LIMIT with an ellipsis."""
    text = text.replace("\r", " ").replace("\n", " ")
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 3] + "..."


def one_line(text: str, limit: int = 200) -> str:
    """A warning's reason from some text (an exception's, say): whitespace folded, cut short."""
    return " ".join(text.split())[:limit]
