"""Shared reading for the text-log parsers: numbered lines with byte offsets, JSON lines, the
head's lines for sniffing, the host's time zone, and rows into record batches.

Not a parser itself: each text-log module (syslog, audit, shell history, web access, cloud
audit, package logs) reads its format with these and keeps only its own grammar and mapping.
Line numbers are 1-based and offsets are byte offsets in the (decompressed) input, so every
warning points at the byte it is about. Text is UTF-8; invalid bytes become U+FFFD.
Format reference for JSON lines: https://jsonlines.org.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, tzinfo
from typing import Any, BinaryIO

import orjson
import pyarrow as pa

from forensics.rows import RowBuilder
from forensics.timeutil import zone
from parsers.base import HEAD_BYTES, Options, ParseWarning, one_line

__all__ = [
    "Row",
    "batched",
    "flatten",
    "head_lines",
    "host_zone",
    "json_lines",
    "latest_time",
    "numbered_lines",
]

#: What a mapping step hands over: core columns and the record's other fields.
Row = tuple[dict[str, Any], dict[str, str | None]]


def numbered_lines(fh: BinaryIO) -> Iterator[tuple[int, int, str]]:
    """(line number, byte offset, text without the line break) for every line, from the start."""
    fh.seek(0)
    offset = 0
    for number, raw in enumerate(fh, 1):
        start = offset
        offset += len(raw)
        if number == 1:
            raw = raw.removeprefix(codecs.BOM_UTF8)
        yield number, start, raw.rstrip(b"\r\n").decode("utf-8", "replace")


def head_lines(head: bytes, limit: int = 20) -> list[str]:
    """The complete, non-blank lines at the start of ``head`` (a cut last line is dropped when
    the head is full), up to the first line with a NUL byte (none at all for binary data)."""
    data = head.removeprefix(codecs.BOM_UTF8)
    parts = data.split(b"\n")
    if len(head) >= HEAD_BYTES and len(parts) > 1:
        parts = parts[:-1]
    lines: list[str] = []
    for part in parts:
        if b"\x00" in part or len(lines) >= limit:
            break
        if part.strip():
            lines.append(part.rstrip(b"\r").decode("utf-8", "replace"))
    return lines


def json_lines(fh: BinaryIO) -> Iterator[tuple[int, int, Any] | ParseWarning]:
    """(line number, offset, value) for each non-blank line of JSON text, or a warning."""
    for number, offset, text in numbered_lines(fh):
        if not text.strip():
            continue
        try:
            yield number, offset, orjson.loads(text)
        except orjson.JSONDecodeError:
            try:  # integers beyond 64 bits, NaN: the standard library is laxer
                yield number, offset, json.loads(text)
            except ValueError as exc:
                yield ParseWarning(f"line {number}", offset, f"invalid JSON: {one_line(str(exc))}")


#: Largest JSON document read whole (a CloudTrail ``Records`` file, a GCP JSON array).
MAX_DOCUMENT = 512 << 20


def whole_json(fh: BinaryIO, what: str) -> tuple[Any, ParseWarning | None]:
    """The file as one JSON document (read from the start, at most MAX_DOCUMENT bytes), or a
    warning saying why not; ``what`` names the document in the warning."""
    fh.seek(0)
    data = fh.read(MAX_DOCUMENT + 1)
    if len(data) > MAX_DOCUMENT:
        return None, ParseWarning("file", 0, f"{what} over {MAX_DOCUMENT >> 20} MiB is not read")
    try:
        return orjson.loads(data), None
    except orjson.JSONDecodeError as exc:
        return None, ParseWarning("file", 0, f"invalid JSON: {exc}"[:200])


def flatten(value: Any, prefix: str = "", out: dict[str, str | None] | None = None) -> dict[str, str | None]:
    """Nested JSON objects -> ``{"a.b.c": "text"}``; lists and their contents stay one JSON text."""
    out = {} if out is None else out
    if isinstance(value, dict):
        for key, item in value.items():
            flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    elif prefix:
        out[prefix] = _text(value)
    return out


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=str).decode()


def host_zone(options: Options) -> tuple[tzinfo, str, ParseWarning | None]:
    """The host's zone from ``Options.timezone``; an unknown name falls back to UTC with a note."""
    try:
        return zone(options.timezone), options.timezone, None
    except ValueError:
        note = ParseWarning(
            "file", None, f"unknown time zone {options.timezone!r}: local times read as UTC", 0
        )
        return UTC, "UTC", note


def latest_time(options: Options) -> tuple[datetime, ParseWarning | None]:
    """The latest time the file's lines can have: its modification time, else now (noted)."""
    if options.file_mtime is not None:
        return options.file_mtime.astimezone(UTC), None
    note = ParseWarning("file", None, "no file modification time: years inferred back from now", 0)
    return datetime.now(UTC), note


def batched(items: Iterable[Row | ParseWarning], batch_rows: int) -> Iterator[pa.RecordBatch | ParseWarning]:
    """Rows into record batches of at most ``batch_rows``; warnings pass through in order."""
    builder = RowBuilder()
    for item in items:
        if isinstance(item, ParseWarning):
            yield item
            continue
        builder.add(*item)
        if len(builder) >= batch_rows:
            yield builder.flush()  # type: ignore[misc]
    batch = builder.flush()
    if batch is not None:
        yield batch
