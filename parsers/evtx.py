"""Windows XML event logs (.evtx), read resiliently and in parallel by chunk range.

Format: a 4 KiB file header then self-contained 64 KiB chunks, each holding its own string
and template tables and a run of records (libyal's "Windows XML Event Log (EVTX)" format
notes; Microsoft MS-EVEN6 for Binary XML). Because chunks are self-contained, a file is split
into chunk ranges; each range is wrapped in a synthesised file header and handed to the
Rust ``evtx`` parser in memory, so one large file uses every core.

Nothing readable is lost:
- chunks are found by scanning every 64 KiB slot, not by trusting the header's chunk count
  (dirty files list fewer chunks than they hold);
- a chunk whose magic is damaged but whose records are intact is repaired in an in-memory copy;
  the last chunk of a truncated file is zero-padded in memory;
- records the Rust parser cannot read are retried with python-evtx, then dissect.eventlog;
- what no parser reads becomes a ``ParseWarning`` with the chunk, its offset and the record ids
  the chunk header promised.
Event time is ``System/TimeCreated`` (the record-header time is zero in many exported samples).
``source_record`` is the record-header id, unique within a file.
"""

from __future__ import annotations

import io
import re
import struct
import uuid
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson
import pyarrow as pa

from forensics.rows import RowBuilder
from forensics.timeutil import iso_z, parse_iso
from parsers.base import Options, Parser, ParseWarning
from parsers.winevent import flatten_json_event, flatten_xml_event, text, to_row

__all__ = ["BACKENDS", "Chunk", "EvtxParser", "scan_chunks"]

FILE_MAGIC = b"ElfFile\x00"
CHUNK_MAGIC = b"ElfChnk\x00"
HEADER_SIZE = 4096
CHUNK_SIZE = 65536
RECORD_MAGIC = b"\x2a\x2a\x00\x00"
#: Chunks per work unit: 256 chunks = 16 MiB of EVTX, about 40-60k records.
CHUNKS_PER_UNIT = 256
BACKENDS = ("rust", "python-evtx")
_MAX_SPAN = 100_000
_CHUNK_NUMBER = re.compile(r"chunk number (\d+)")


@dataclass(frozen=True, slots=True)
class Chunk:
    """One 64 KiB chunk slot: its index in the file, offset, and the record ids it claims."""

    index: int
    offset: int
    first_id: int
    last_id: int
    repaired: bool = False

    @property
    def expected(self) -> range:
        if self.last_id < self.first_id or self.last_id - self.first_id > _MAX_SPAN:
            return range(0)
        return range(self.first_id, self.last_id + 1)


def scan_chunks(fh: BinaryIO, size: int) -> tuple[list[Chunk], list[ParseWarning]]:
    """Every chunk slot after the file header, whatever the header's chunk count says."""
    fh.seek(0)
    header = fh.read(128)
    declared = struct.unpack_from("<H", header, 42)[0] if len(header) >= 44 else 0
    chunks: list[Chunk] = []
    notes: list[ParseWarning] = []
    for index, offset in enumerate(range(HEADER_SIZE, size, CHUNK_SIZE)):
        fh.seek(offset)
        data = fh.read(CHUNK_SIZE)
        if len(data) < CHUNK_SIZE and data.strip(b"\x00"):
            notes.append(
                ParseWarning(
                    f"chunk {index}",
                    offset,
                    f"truncated chunk ({len(data)} of 65536 bytes), read what is whole",
                    0,
                )
            )
        if data[:8] == CHUNK_MAGIC:
            first, last = struct.unpack_from("<QQ", data, 24)
            chunks.append(Chunk(index, offset, first, last))
        elif not data.strip(b"\x00"):
            continue  # unused slot
        elif data[512:516] == RECORD_MAGIC:
            first, last = struct.unpack_from("<QQ", data, 24)
            chunks.append(Chunk(index, offset, first, last, repaired=True))
            notes.append(
                ParseWarning(
                    f"chunk {index}", offset, "bad chunk magic, records present: repaired in memory", 0
                )
            )
        else:
            notes.append(
                ParseWarning(
                    f"chunk {index}",
                    offset,
                    f"not a chunk (magic {data[:8]!r}), no records in it: skipped",
                    0,
                )
            )
    if declared and len(chunks) > declared:
        notes.append(
            ParseWarning(
                "file header", 0, f"header declares {declared} chunks, {len(chunks)} found: all read", 0
            )
        )
    return chunks, notes


def synthesize(chunk_bytes: list[bytes], next_record_id: int = 1) -> bytes:
    """A valid file header followed by the given chunks, for parsing a chunk range alone."""
    count = len(chunk_bytes)
    head = bytearray(HEADER_SIZE)
    struct.pack_into(
        "<8sQQQIHHHH",
        head,
        0,
        FILE_MAGIC,
        0,
        max(count - 1, 0),
        next_record_id,
        128,
        1,
        3,
        HEADER_SIZE,
        count,
    )
    struct.pack_into("<I", head, 124, zlib.crc32(bytes(head[:120])))
    return bytes(head) + b"".join(chunk_bytes)


def _read_chunk(fh: BinaryIO, chunk: Chunk) -> bytes:
    fh.seek(chunk.offset)
    data = fh.read(CHUNK_SIZE).ljust(CHUNK_SIZE, b"\x00")
    if chunk.repaired:
        data = CHUNK_MAGIC + data[8:]
    return data


class EvtxParser(Parser):
    """Windows XML event logs (.evtx) through the Rust ``evtx`` bindings, python-evtx as the
    reference backend and per-record fallback, dissect.eventlog as the last resort."""

    name = "windows_evtx"

    def sniff(self, head: bytes) -> bool:
        return head[:8] == FILE_MAGIC

    def plan(self, fh: BinaryIO, size: int, options: Options) -> list[object]:
        if options.evtx_backend not in BACKENDS:
            raise ValueError(f"unknown EVTX backend {options.evtx_backend!r}; choose from {BACKENDS}")
        chunks, notes = scan_chunks(fh, size)
        if not chunks:
            return [((), (*tuple(notes), ParseWarning("file", 0, "no readable chunk in the file", 0)))]
        return [
            (tuple(chunks[i : i + CHUNKS_PER_UNIT]), tuple(notes) if i == 0 else ())
            for i in range(0, len(chunks), CHUNKS_PER_UNIT)
        ]

    def parse(self, fh: BinaryIO, unit: Any, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        chunks, notes = unit
        yield from notes
        if not chunks:
            return
        blobs = [_read_chunk(fh, c) for c in chunks]
        builder = RowBuilder()
        seen: set[int] = set()
        known: set[tuple] = set()  # (EventRecordID, time): how dissect's id-less records are matched
        errors: dict[int, str] = {}
        if options.evtx_backend == "rust":
            records = _rust_records(synthesize(blobs), chunks, errors)
        else:
            records = _python_evtx_records(blobs, chunks, None, errors)

        def take(record_id: int, system: dict, data: dict, recovered_by: str | None) -> None:
            seen.add(record_id)
            known.add(_identity(system))
            _add(builder, record_id, system, data, recovered_by)

        for record_id, system, data in records:
            take(record_id, system, data, None)
            if len(builder) >= options.batch_rows:
                yield builder.flush()
        for chunk, blob in zip(chunks, blobs, strict=True):
            missing = set(chunk.expected) - seen
            if missing and options.evtx_backend == "rust":
                for record_id, system, data in _python_evtx_records([blob], [chunk], missing, errors):
                    missing.discard(record_id)
                    take(record_id, system, data, "python-evtx")
            for record_id, system, data in _carved_records(blob, missing):
                missing.discard(record_id)
                take(record_id, system, data, "carved")
            if missing:
                recovered = 0
                for system, data in _dissect_records(blob, known):
                    recovered += 1
                    _add(builder, None, system, data, "dissect.eventlog")
                if recovered:
                    yield ParseWarning(
                        f"chunk {chunk.index}", chunk.offset,
                        f"{recovered} records recovered only by dissect.eventlog (record ids unknown)", 0,
                    )  # fmt: skip
                if len(missing) > recovered:
                    lost = len(missing) - recovered
                    low, high = min(missing), max(missing)
                    cause = errors.get(chunk.index, "records absent or unreadable (zeroed or overwritten)")
                    yield ParseWarning(
                        f"chunk {chunk.index} records {low}-{high}", chunk.offset,
                        f"{lost} of {len(chunk.expected)} records the chunk header lists could not be read: {cause}", lost,
                    )  # fmt: skip
        for index, cause in errors.items():
            if not any(c.index == index for c in chunks):
                yield ParseWarning(f"chunk {index}", None, cause, 0)
        batch = builder.flush()
        if batch is not None:
            yield batch


def _add(
    builder: RowBuilder, record_id: int | None, system: dict, data: dict, recovered_by: str | None
) -> None:
    row, fields = to_row(system, data)
    row["source"] = EvtxParser.name
    row["source_record"] = record_id
    if recovered_by:
        fields["recovered_by"] = recovered_by
    builder.add(row, fields)


def _rust_records(
    buf: bytes, chunks: tuple[Chunk, ...], errors: dict[int, str]
) -> Iterator[tuple[int, dict, dict]]:
    """(record id, system, data) from the Rust parser; its skipped-data warnings are kept
    per chunk in ``errors``."""
    from evtx import PyEvtxParser

    parser = PyEvtxParser(io.BytesIO(buf), number_of_threads=1, skip_errors=True, validate_checksums=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        for record in parser.records_json():
            system, data = flatten_json_event(orjson.loads(record["data"]))
            yield record["event_record_id"], system, data
    for warning in caught:
        message = str(warning.message).removeprefix("Skipping EVTX data: ")
        match = _CHUNK_NUMBER.search(message)
        position = int(match.group(1)) if match else 0
        index = chunks[position].index if position < len(chunks) else position
        errors.setdefault(index, f"evtx: {message}"[:300])


def _python_evtx_records(
    blobs: list[bytes],
    chunks: tuple[Chunk, ...] | list[Chunk],
    wanted: set[int] | None,
    errors: dict[int, str],
) -> Iterator[tuple[int, dict, dict]]:
    """(record id, system, data) from python-evtx, chunk by chunk, one bad record at a time."""
    from Evtx.Evtx import ChunkHeader

    for chunk, blob in zip(chunks, blobs, strict=True):
        try:
            records = ChunkHeader(blob, 0).records()
            for record in records:
                record_id = record.record_num()
                if wanted is not None and record_id not in wanted:
                    continue
                try:
                    system, data = flatten_xml_event(record.xml())
                except Exception as exc:
                    errors.setdefault(chunk.index, f"python-evtx: record {record_id}: {exc}"[:300])
                    continue
                yield record_id, system, data
        except Exception as exc:
            errors.setdefault(chunk.index, f"python-evtx: {exc}"[:300])


def _carved_records(blob: bytes, wanted: set[int]) -> Iterator[tuple[int, dict, dict]]:
    """Records found by their signature rather than by walking the chain: after a record with a
    broken size (zero, say) every parser loses the rest of the chunk, yet the records are there.
    A candidate counts when its size and trailing size copy agree and its id is one missing."""
    if not wanted:
        return
    from Evtx.Evtx import ChunkHeader, Record

    chunk = ChunkHeader(blob, 0)
    position = blob.find(RECORD_MAGIC, 512)
    while position != -1:
        size, record_id = struct.unpack_from("<IQ", blob, position + 4)
        if (
            record_id in wanted
            and 28 <= size <= len(blob) - position
            and struct.unpack_from("<I", blob, position + size - 4)[0] == size
        ):
            try:
                system, data = flatten_xml_event(Record(blob, position, chunk).xml())
            except Exception:  # not a record after all: keep scanning
                pass
            else:
                yield record_id, system, data
                position = blob.find(RECORD_MAGIC, position + size)
                continue
        position = blob.find(RECORD_MAGIC, position + 4)


def _identity(system: dict) -> tuple:
    """Record identity across parsers: EventRecordID and time to the second (parsers round
    100 ns FILETIME ticks to microseconds differently)."""
    return system.get("EventRecordID"), (system.get("TimeCreated_SystemTime") or "")[:19]


def _dissect_records(blob: bytes, known: set[tuple]) -> Iterator[tuple[dict, dict]]:
    """Last resort: records dissect.eventlog reads in a chunk that the other parsers did not.
    Only records whose (EventRecordID, time) are not already among the chunk's rows count."""
    from dissect.eventlog.evtx import ElfChnk

    try:
        for record in ElfChnk(blob).read():  # lazily: its values resolve against the chunk stream
            system, data = _from_dissect(record)
            key = _identity(system)
            if key not in known:
                known.add(key)
                yield system, data
    except Exception:  # the rest of the chunk is beyond this parser too
        return


_DISSECT_SYSTEM = frozenset({
    "Provider_Name", "Provider_Guid", "Provider_EventSourceName", "EventID", "EventID_Qualifiers",
    "Version", "Level", "Task", "Opcode", "Keywords", "TimeCreated_SystemTime", "EventRecordID",
    "Correlation_ActivityID", "Correlation_RelatedActivityID", "Execution_ProcessID",
    "Execution_ThreadID", "Channel", "Computer", "Security_UserID",
})  # fmt: skip


def _from_dissect(record: Any) -> tuple[dict, dict]:
    """dissect.eventlog's flat record to the canonical pair; its GUIDs come byte-swapped."""
    system: dict[str, str | None] = {}
    data: dict[str, str | None] = {}
    for key, value in record.items():
        if key == "TimeCreated_SystemTime" and value is not None:
            when = parse_iso(str(value))
            value = iso_z(when) if when else None
        raw = value if value is None or isinstance(value, str) else str(value)
        if raw and len(raw) == 38 and raw[0] == "{" and raw.count("-") == 4:
            value = str(uuid.UUID(bytes_le=uuid.UUID(raw).bytes)).upper()  # before text() unbraces it
        value = text(value)
        (system if key in _DISSECT_SYSTEM else data)[key] = value
    return system, data
