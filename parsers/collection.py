"""Triage collections packed as tar or zip (KAPE, acquire, Velociraptor, UAC style).

A collection is a tree of artifacts copied off a host. Each member is handed to the parser that
recognises its content, exactly as a loose file would be (an EVTX member gives the rows a loose
copy gives), and its rows carry the member's path as ``source_file``; the archive's sha256 is
the evidence id. Nothing is extracted to disk: members are read in memory (up to
``MAX_MEMBER``) and never written anywhere.
Refused, with a one-line reason each: member names that climb out of the archive (``../``,
absolute paths; reported, never followed), members whose expansion ratio or size marks a
decompression bomb, and archives that expand past ``MAX_TOTAL``. Office documents and other
zip-based formats (``[Content_Types].xml``, ``mimetype``, ``META-INF/`` first) are not
collections and are left alone.
When dissect.target's loaders recognise an OS in the archive (acquire, Velociraptor, UAC, KAPE
layouts or a plain root tree), one ``collection-opened`` row says what host it is, and its
members are read as that host's: in its time zone, and rows that name no host get its name.

References: POSIX ustar / GNU tar header layout (``ustar`` magic at offset 257); PKWARE
APPNOTE.TXT (zip local file header ``PK\\x03\\x04``, name at offset 30).
"""

from __future__ import annotations

import dataclasses
import io
import tarfile
import zipfile
from collections.abc import Iterator
from typing import Any, BinaryIO

import pyarrow as pa

from forensics.rows import RowBuilder
from forensics.timeutil import ns_to_utc
from parsers.base import HEAD_BYTES, Options, Parser, ParseWarning
from parsers.target_info import HostContext, host_context

__all__ = ["CollectionParser", "context_row", "with_context"]

#: Largest member read (in memory); larger members are reported, not read.
MAX_MEMBER = 512 << 20
#: Largest total expansion of one archive.
MAX_TOTAL = 64 << 30
#: An expansion ratio above this, on a member above 64 MiB, is a decompression bomb.
MAX_RATIO = 200
_NOT_COLLECTIONS = (
    b"[Content_Types].xml",
    b"mimetype",
    b"META-INF/",
    b"word/",
    b"xl/",
    b"ppt/",
    b"AndroidManifest",
)


def _kind(head: bytes) -> str | None:
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    if head[:4] == b"PK\x03\x04" and len(head) >= 30:
        name_length = int.from_bytes(head[26:28], "little")
        name = head[30 : 30 + name_length]
        return None if name.startswith(_NOT_COLLECTIONS) else "zip"
    return None


def _unsafe(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":")


class CollectionParser(Parser):
    """tar and zip triage collections, member by member through the registered parsers."""

    name = "collection"

    def sniff(self, head: bytes) -> bool:
        return _kind(head) is not None

    def plan(self, fh: BinaryIO, size: int, options: Options) -> list[object]:
        fh.seek(0)
        return [(_kind(fh.read(HEAD_BYTES)),)]

    def parse(self, fh: BinaryIO, unit: Any, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        context = host_context(options.source_path) if options.source_path else None
        if context is not None:
            yield context_row(context, self.name, "collection-opened")
            options = with_context(options, context)
        fh.seek(0)
        members = _zip_members(fh) if unit[0] == "zip" else _tar_members(fh)
        total = 0
        for item in members:
            if isinstance(item, ParseWarning):
                yield item
                continue
            name, length, stored, mtime_ns, read = item
            if _unsafe(name):
                yield ParseWarning(name, None, "member name climbs out of the archive: refused, not read", 1)
                continue
            if length > MAX_MEMBER:
                yield ParseWarning(
                    name, None, f"member of {length:,} bytes is larger than {MAX_MEMBER:,}: not read", 1
                )
                continue
            if length > 64 << 20 and stored and length / stored > MAX_RATIO:
                yield ParseWarning(
                    name, None, f"expands {length / stored:,.0f}x: a decompression bomb, refused", 1
                )
                continue
            total += length
            if total > MAX_TOTAL:
                yield ParseWarning(
                    name, None, f"archive expands past {MAX_TOTAL:,} bytes: the rest is refused", 1
                )
                return
            yield from _member(name, read(), mtime_ns, options)


def context_row(context: HostContext, source: str, action: str) -> pa.RecordBatch:
    """One row that says which host a collection (or folder) is, and how it was recognised."""
    fields = {
        "os": context.os, "os_version": context.os_version, "hostname": context.hostname,
        "timezone": context.timezone or "unknown", "loader": context.loader,
    }  # fmt: skip
    builder = RowBuilder()
    builder.add(
        {
            "timestamp_desc": "Event Recorded",
            "host_name": context.hostname,
            "source": source,
            "event_provider": "dissect.target",
            "event_action": action,
            "message": "collection: " + "; ".join(f"{k}={v}" for k, v in fields.items() if v),
        },
        fields,
    )
    return builder.flush()  # type: ignore[return-value]


def with_context(options: Options, context: HostContext) -> Options:
    """Options for files of the host ``context`` describes: its zone (the collection knows
    better than the default) and its name for rows that name no host."""
    return dataclasses.replace(
        options,
        timezone=context.timezone or options.timezone,
        host_name=context.hostname or options.host_name,
    )


def _zip_members(fh: BinaryIO) -> Iterator[tuple[str, int, int, int, Any] | ParseWarning]:
    try:
        archive = zipfile.ZipFile(fh)
    except zipfile.BadZipFile as exc:
        yield ParseWarning("archive", 0, f"not a readable zip: {exc}", 0)
        return
    for info in archive.infolist():
        if info.is_dir():
            continue
        stamp = _zip_time(info)

        def read(info: zipfile.ZipInfo = info) -> bytes:
            with archive.open(info) as member:
                return member.read(MAX_MEMBER + 1)

        yield info.filename, info.file_size, info.compress_size, stamp, read


def _zip_time(info: zipfile.ZipInfo) -> int:
    from datetime import UTC, datetime

    try:
        return int(datetime(*info.date_time, tzinfo=UTC).timestamp()) * 1_000_000_000
    except ValueError:
        return 0


def _tar_members(fh: BinaryIO) -> Iterator[tuple[str, int, int, int, Any] | ParseWarning]:
    try:
        archive = tarfile.open(fileobj=fh, mode="r:")  # noqa: SIM115 - closed below, after the members
    except tarfile.TarError as exc:
        yield ParseWarning("archive", 0, f"not a readable tar: {exc}", 0)
        return
    with archive:
        try:
            for info in archive:
                if not info.isreg():
                    continue

                def read(info: tarfile.TarInfo = info) -> bytes:
                    member = archive.extractfile(info)
                    return member.read(MAX_MEMBER + 1) if member else b""

                yield info.name, info.size, info.size, int(info.mtime) * 1_000_000_000, read
        except tarfile.TarError as exc:
            yield ParseWarning("archive", None, f"tar damaged, the rest is unreadable: {exc}", 0)


def _member(
    name: str, data: bytes, mtime_ns: int, options: Options
) -> Iterator[pa.RecordBatch | ParseWarning]:
    """One member, read in memory, through the parser that recognises it."""
    from parsers import parse_contained

    member_options = dataclasses.replace(options, file_mtime=ns_to_utc(mtime_ns)) if mtime_ns else options
    yield from parse_contained(name, io.BytesIO(data), len(data), member_options, CollectionParser.name)
