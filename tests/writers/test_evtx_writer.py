"""forensics.writers.evtx: files written here must read back identically in all three parsers.

Every test writes into tmp_path and reads the file with the Rust ``evtx`` bindings,
python-evtx and dissect.eventlog, comparing *values* (not counts) after undoing each
reader's rendering conventions (see ``decode``). python-evtx renders ~4 ms per record,
so large files are rendered by it only at chunk boundaries; its structural checks
(CRCs, headers, record ids) still cover every chunk and record.
"""

from __future__ import annotations

import base64
import io
import json
import struct
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import evtx as rust_evtx
import Evtx.Evtx as PyEvtx
import pytest
from dissect.eventlog.bxml import BxmlSub
from dissect.eventlog.evtx import Evtx as DissectEvtx

from forensics.writers.evtx import (
    CHUNK_SIZE,
    FILE_HEADER_BLOCK,
    EvtxWriter,
    FileTime,
    Guid,
    Hex32,
    Hex64,
    Sid,
    write_evtx,
)

NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"
READERS = ("rust", "python-evtx", "dissect")
T0 = datetime(2024, 3, 1, 12, 34, 56, 789123, tzinfo=UTC)
SYSMON_GUID = "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}"
SECURITY_GUID = "{54849625-5478-4994-A5BA-3E3B0328C30D}"
UNICODE = "Zoë — 日本語 ✓"


# --- events ----------------------------------------------------------------------------------


def sysmon_event(i: int, **overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "provider": "Microsoft-Windows-Sysmon",
        "provider_guid": SYSMON_GUID,
        "event_id": 1,
        "version": 5,
        "level": 4,
        "task": 1,
        "opcode": 0,
        "keywords": 0x8000000000000000,
        "time_created": T0 + timedelta(seconds=i, microseconds=7 * i),
        "process_id": 2284,
        "thread_id": 5252,
        "channel": "Microsoft-Windows-Sysmon/Operational",
        "computer": "WS01.corp.local",
        "user_sid": "S-1-5-18",
        "event_data": {
            "RuleName": "-",
            "UtcTime": "2024-03-01 12:34:56.789",
            "ProcessGuid": Guid("{5770385F-C22A-43E0-BF4C-06F5698FFBD9}"),
            "ProcessId": 9000 + i,
            "Image": "C:\\Windows\\System32\\cmd.exe",
            "CommandLine": f'cmd.exe /c "echo {i}"',
            "CurrentDirectory": "C:\\Users\\zoë\\",
            "User": "CORP\\alice",
            "LogonId": Hex64(0x3E7),
            "TerminalSessionId": 1,
            "IntegrityLevel": "High",
            "Hashes": "SHA256=E16B9D201EC1D7E29B3AD532A9AD8F1AE0CB5821BB916A79F6DBEB1C6E6B85FA",
            "ParentProcessId": 1234,
            "ParentImage": "C:\\Windows\\explorer.exe",
        },
    }
    event.update(overrides)
    return event


def security_event(i: int, **overrides: Any) -> dict[str, Any]:
    """4624-like: no user SID in System, SIDs / hex / GUID / empty values in EventData."""
    event: dict[str, Any] = {
        "provider": "Microsoft-Windows-Security-Auditing",
        "provider_guid": SECURITY_GUID,
        "event_id": 4624,
        "version": 2,
        "task": 12544,
        "keywords": 0x8020000000000000,
        "time_created": T0 + timedelta(minutes=i),
        "process_id": 628,
        "thread_id": 4000 + i,
        "channel": "Security",
        "computer": "DC01.corp.local",
        "user_sid": None,
        "event_data": [
            ("SubjectUserSid", Sid("S-1-5-18")),
            ("SubjectUserName", "DC01$"),
            ("SubjectLogonId", Hex64(0x3E7)),
            ("TargetUserSid", Sid("S-1-5-21-3623811015-3361044348-30300820-1013")),
            ("TargetUserName", UNICODE),
            ("LogonType", 3),
            ("LogonGuid", uuid.UUID("b1c8e3a2-9f0e-4d5c-8a7b-6c5d4e3f2a10")),
            ("WorkstationName", ""),
            ("IpAddress", None),
            ("IpPort", "-"),
            ("ElevatedToken", Hex32(0x2)),
        ],
    }
    event.update(overrides)
    return event


def data_items(event: dict[str, Any]) -> list[tuple[str, Any]]:
    data = event.get("event_data") or {}
    return list(data.items()) if isinstance(data, dict) else list(data)


# --- readers: each returns one Parsed per record, in file order --------------------------------


@dataclass
class Parsed:
    system: dict[str, Any]  # "EventID", "Provider.Name", "TimeCreated.SystemTime", ...
    data: dict[str, Any] = field(default_factory=dict)  # EventData Name -> rendered value


def read_rust(path: Path) -> list[Parsed]:
    out = []
    for record in rust_evtx.PyEvtxParser(str(path)).records_json():
        event = json.loads(record["data"])["Event"]
        system: dict[str, Any] = {}
        for key, value in event["System"].items():
            if isinstance(value, dict):
                for name, attr in value.get("#attributes", {}).items():
                    system[f"{key}.{name}"] = attr
            elif value is not None:
                system[key] = value
        assert record["event_record_id"] == system["EventRecordID"]
        out.append(Parsed(system, dict(event.get("EventData") or {})))
    return out


def render_python_evtx(record: Any) -> Parsed:
    root = ET.fromstring(record.xml())
    system: dict[str, Any] = {}
    for element in root.find(f"{NS}System"):
        tag = element.tag.removeprefix(NS)
        for name, attr in element.attrib.items():
            system[f"{tag}.{name}"] = attr
        if not element.attrib and tag not in ("Correlation", "Security"):
            system[tag] = element.text or ""
    data_element = root.find(f"{NS}EventData")
    data = {} if data_element is None else {d.get("Name"): d.text or "" for d in data_element}
    return Parsed(system, data)


def read_python_evtx(path: Path) -> list[Parsed]:
    with PyEvtx.Evtx(str(path)) as log:
        return [render_python_evtx(record) for record in log.records()]


DISSECT_SYSTEM = {
    "Provider_Name": "Provider.Name",
    "Provider_Guid": "Provider.Guid",
    "TimeCreated_SystemTime": "TimeCreated.SystemTime",
    "Execution_ProcessID": "Execution.ProcessID",
    "Execution_ThreadID": "Execution.ThreadID",
    "Security_UserID": "Security.UserID",
    **{k: k for k in ("EventID", "Version", "Level", "Task", "Opcode", "Keywords", "EventRecordID")},
    **{k: k for k in ("Channel", "Computer")},
}


def read_dissect(path: Path) -> list[Parsed]:
    out = []
    with path.open("rb") as fh:
        for record in DissectEvtx(fh):
            items = {k: v.get() if isinstance(v, BxmlSub) else v for k, v in record.items()}
            system = {DISSECT_SYSTEM[k]: v for k, v in items.items() if k in DISSECT_SYSTEM}
            data = {k: v for k, v in items.items() if k not in DISSECT_SYSTEM}
            out.append(Parsed(system, data))
    return out


def read_all(path: Path) -> dict[str, list[Parsed]]:
    return {"rust": read_rust(path), "python-evtx": read_python_evtx(path), "dissect": read_dissect(path)}


# --- canonical values: what each reader's rendering of a written value means --------------------


def filetime_to_datetime(ticks: int) -> datetime:
    return datetime(1601, 1, 1, tzinfo=UTC) + timedelta(microseconds=ticks // 10)


def canonical(value: Any) -> Any:
    """The value a reader should report for a written value (None renders as empty)."""
    if value is None:
        return ""
    if isinstance(value, FileTime):
        return filetime_to_datetime(value)
    if isinstance(value, uuid.UUID):
        return uuid.UUID(int=value.int)
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, Sid):
        return str(value)
    return value


def decode(reader: str, expected: Any, got: Any) -> Any:
    """Undo ``reader``'s rendering of a value written as ``expected``."""
    if expected is None:
        return "" if got is None else got  # dissect: None; the others: ""
    if isinstance(expected, bool):
        return {"rust": got, "python-evtx": got == "True", "dissect": got == 1}[reader]
    if isinstance(expected, Hex32 | Hex64):
        return int(got, 16)
    if isinstance(expected, FileTime | datetime):
        if reader == "rust":
            return datetime.fromisoformat(got.replace("Z", "+00:00"))
        return datetime.fromisoformat(got) if isinstance(got, str) else got
    if isinstance(expected, int):
        return int(got)
    if isinstance(expected, float):
        return float(got)
    if isinstance(expected, uuid.UUID):
        if reader == "dissect":  # dissect reads the mixed-endian GUID as big-endian
            return uuid.UUID(bytes_le=uuid.UUID(got).bytes)
        return uuid.UUID(got)
    if isinstance(expected, bytes | bytearray):
        if reader == "rust":
            return bytes.fromhex(got)
        if reader == "python-evtx":
            return base64.b64decode(got)
        return bytes.fromhex(got.decode())
    return got


# FILETIME -> datetime goes through a float in python-evtx and dissect (~1-2 us error);
# the Rust reader is exact. Exactness of the written ticks is checked separately.
FLOAT_TIME_READERS = {"python-evtx", "dissect"}


def assert_value(reader: str, name: str, expected: Any, got: Any) -> None:
    want, have = canonical(expected), decode(reader, expected, got)
    if isinstance(want, datetime) and reader in FLOAT_TIME_READERS:
        assert abs(have - want) <= timedelta(microseconds=2), (reader, name, want, have)
    else:
        assert have == want, (reader, name, want, have, got)


def expected_system(event: dict[str, Any], record_id: int) -> dict[str, Any]:
    system: dict[str, Any] = {
        "Provider.Name": event["provider"],
        "EventID": event["event_id"],
        "Version": event.get("version", 0),
        "Level": event.get("level", 0),
        "Task": event.get("task", 0),
        "Opcode": event.get("opcode", 0),
        "Keywords": Hex64(event.get("keywords", 0)),
        "TimeCreated.SystemTime": event["time_created"],
        "EventRecordID": record_id,
    }
    optional = {
        "provider_guid": ("Provider.Guid", lambda v: uuid.UUID(v) if isinstance(v, str) else v),
        "process_id": ("Execution.ProcessID", int),
        "thread_id": ("Execution.ThreadID", int),
        "channel": ("Channel", str),
        "computer": ("Computer", str),
        "user_sid": ("Security.UserID", Sid),
    }
    for key, (name, convert) in optional.items():
        if event.get(key) is not None:
            system[name] = convert(event[key])
    return system


def assert_record(reader: str, parsed: Parsed, event: dict[str, Any], record_id: int) -> None:
    want = expected_system(event, record_id)
    assert set(parsed.system) == set(want), (reader, sorted(parsed.system), sorted(want))
    for name, value in want.items():
        assert_value(reader, name, value, parsed.system[name])
    items = data_items(event)
    assert list(parsed.data) == [name for name, _ in items], reader
    for name, value in items:
        assert_value(reader, name, value, parsed.data[name])


def assert_all_readers(path: Path, events: list[dict[str, Any]], first_id: int = 1) -> None:
    for reader, parsed in read_all(path).items():
        assert len(parsed) == len(events), reader
        for offset, (record, event) in enumerate(zip(parsed, events, strict=True)):
            assert_record(reader, record, event, event.get("record_id") or first_id + offset)


# --- python-evtx structural helpers ------------------------------------------------------------


@contextmanager
def python_evtx_headers(path: Path) -> Iterator[tuple[Any, list[Any]]]:
    """python-evtx's (file header, chunk headers); both have ``verify()`` CRC checks."""
    with PyEvtx.Evtx(str(path)) as log:
        yield log.get_file_header(), list(log.chunks())


def template_table(chunk: bytes) -> set[int]:
    """Definition offsets reachable from a chunk header's 32-bucket template table."""
    offsets = set()
    for head in struct.unpack_from("<32I", chunk, 0x180):
        while head:
            offsets.add(head)
            head = struct.unpack_from("<I", chunk, head)[0]  # next definition in the bucket
    return offsets


# --- tests ---------------------------------------------------------------------------------------


def test_sysmon_and_security_events_round_trip_in_all_readers(tmp_path: Path) -> None:
    events = [sysmon_event(i) for i in range(3)] + [security_event(i) for i in range(3)] + [sysmon_event(3)]
    path = tmp_path / "mixed.evtx"
    assert write_evtx(path, events) == len(events)
    assert_all_readers(path, events)


def test_optional_system_fields_are_omitted_not_blank(tmp_path: Path) -> None:
    bare = {"provider": "Tracehound-Test", "event_id": 7, "time_created": T0}
    some = {**bare, "process_id": 4, "computer": "HOST", "event_data": {"only": "one"}}
    path = tmp_path / "bare.evtx"
    write_evtx(path, [bare, some])
    assert_all_readers(path, [bare, some])  # key sets must match exactly


def test_unicode_empty_and_null_values(tmp_path: Path) -> None:
    event = sysmon_event(
        0,
        computer=UNICODE,
        event_data={
            "Unicode": UNICODE,
            "Astral": "emoji 😀 outside the BMP",
            "Markup": '<tag attr="x"> & more',
            "Empty": "",
            "Null": None,
            "Whitespace": "tab\there\nnewline",
        },
    )
    path = tmp_path / "text.evtx"
    write_evtx(path, [event])
    assert_all_readers(path, [event])
    # an empty string and a Null both render as an empty element; dissect tells them apart
    assert read_dissect(path)[0].data["Empty"] == ""
    assert read_dissect(path)[0].data["Null"] is None


# value, then how each reader renders it: (rust JSON, python-evtx text, dissect value).
GUID = uuid.UUID("12345678-1234-5678-9abc-def012345678")
GUID_RENDERED = (
    "12345678-1234-5678-9ABC-DEF012345678",
    "{12345678-1234-5678-9abc-def012345678}",
    "{78563412-3412-7856-9ABC-DEF012345678}",  # dissect: first three groups byte-swapped
)
TYPE_CASES: dict[str, tuple[Any, Any, Any, Any]] = {
    "String": ("abc", "abc", "abc", "abc"),
    "Null": (None, "", "", None),
    "BoolTrue": (True, True, "True", 1),
    "BoolFalse": (False, False, "False", 0),
    "UInt32": (4_000_000_000, 4_000_000_000, "4000000000", 4_000_000_000),
    "Int64Negative": (-5, -5, "-5", -5),
    "Int64Large": (2**40, 2**40, "1099511627776", 2**40),
    "UInt64": (2**63 + 1, 2**63 + 1, "9223372036854775809", 2**63 + 1),
    "Real64": (3.25, "3.25", "3.25", 3.25),
    "Datetime": (
        datetime(2020, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        "2020-01-02T03:04:05.000006Z",
        "2020-01-02 03:04:05.000006+00:00",
        datetime(2020, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    ),
    "Guid": (GUID, *GUID_RENDERED),
    "GuidWrapper": (Guid("{12345678-1234-5678-9ABC-DEF012345678}"), *GUID_RENDERED),
    "Sid": (Sid("S-1-5-21-1-2-3-500"), "S-1-5-21-1-2-3-500", "S-1-5-21-1-2-3-500", "S-1-5-21-1-2-3-500"),
    "HexInt64": (Hex64(0x1F), "0x1f", "0x000000000000001f", "0x1f"),
    "HexInt32": (Hex32(0x10), "0x10", "0x00000010", "0x10"),
    "Binary": (b"\x00\x01\xfe", "0001FE", "AAH+", b"0001fe"),
}


def test_every_value_type_round_trips_with_its_documented_rendering(tmp_path: Path) -> None:
    event = {
        "provider": "Tracehound-Types",
        "event_id": 1,
        "time_created": T0,
        "event_data": {name: case[0] for name, case in TYPE_CASES.items()},
    }
    path = tmp_path / "types.evtx"
    write_evtx(path, [event])
    parsed = read_all(path)
    for index, reader in enumerate(READERS, start=1):
        data = parsed[reader][0].data
        for name, case in TYPE_CASES.items():
            assert data[name] == case[index], (reader, name, data[name])
    assert_all_readers(path, [event])


def test_timestamps_are_exact_to_the_microsecond_and_written_to_100ns(tmp_path: Path) -> None:
    times = [
        datetime(2024, 3, 1, 12, 34, 56, 789123, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2038, 1, 19, 3, 14, 8, 1, tzinfo=UTC),
        datetime(2024, 6, 1, 14, 0, 0, 500000, tzinfo=timezone(timedelta(hours=2))),  # non-UTC input
    ]
    ticks = FileTime(133_540_000_001_234_567)  # sub-microsecond digits must survive on disk
    events = [
        {"provider": "P", "event_id": 1, "time_created": t, "event_data": {"When": t, "Raw": ticks}}
        for t in times
    ]
    path = tmp_path / "times.evtx"
    write_evtx(path, events)
    assert_all_readers(path, events)  # Rust exactly; the float-based readers within 2 us

    for record, event in zip(read_rust(path), events, strict=True):  # exact, microsecond
        got = datetime.fromisoformat(record.system["TimeCreated.SystemTime"].replace("Z", "+00:00"))
        assert got == event["time_created"]
    epoch = datetime(1601, 1, 1, tzinfo=UTC)
    with PyEvtx.Evtx(str(path)) as log:  # the raw FILETIMEs on disk, exact to 100 ns
        for record, t in zip(log.records(), times, strict=True):
            expected = (t - epoch) // timedelta(microseconds=1) * 10
            assert record.unpack_qword(0x10) == expected  # record header "written" time
            raw = [
                s.unpack_qword(0)
                for s in record.root().substitutions()
                if type(s).__name__ == "FiletimeTypeNode"
            ]
            assert sorted(raw) == sorted([expected, expected, ticks])


def test_many_chunks_counts_ids_headers_and_crcs(tmp_path: Path) -> None:
    events = [
        {
            "provider": "Tracehound-Bulk",
            "event_id": 4688 if i % 3 else 4689,
            "time_created": T0 + timedelta(milliseconds=i),
            "computer": "WS01",
            "event_data": {"Seq": i, "Name": f"item-{i}"} if i % 3 else {"Seq": i, "Gone": None},
        }
        for i in range(5000)
    ]
    path = tmp_path / "bulk.evtx"
    assert write_evtx(path, events) == 5000

    with python_evtx_headers(path) as (header, chunks):
        assert header.verify()  # magic, version 3.1, block size, CRC32 of bytes 0..120
        assert not header.is_dirty() and not header.is_full()
        assert header.chunk_count() == len(chunks) > 10
        assert path.stat().st_size == FILE_HEADER_BLOCK + len(chunks) * CHUNK_SIZE
        assert (header.oldest_chunk(), header.current_chunk_number()) == (0, len(chunks) - 1)
        assert header.next_record_number() == 5001
        expected_first = 1
        for chunk in chunks:
            assert chunk.verify()  # magic, header CRC, record-data CRC
            records = list(chunk.records())
            ids = [r.record_num() for r in records]
            assert ids == list(range(expected_first, expected_first + len(ids)))
            assert chunk.log_first_record_number() == chunk.file_first_record_number() == ids[0]
            assert chunk.log_last_record_number() == chunk.file_last_record_number() == ids[-1]
            assert chunk.last_record_offset() == records[-1].offset() - chunk.offset()
            assert chunk.next_record_offset() == records[-1].offset() + records[-1].size() - chunk.offset()
            assert all(r.verify() for r in records)  # size == size copy
            for record in (records[0], records[-1]):  # python-evtx renders slowly: boundaries only
                n = record.record_num()
                assert_record("python-evtx", render_python_evtx(record), events[n - 1], n)
            expected_first = ids[-1] + 1
        assert expected_first == 5001

    for reader, parsed in (("rust", read_rust(path)), ("dissect", read_dissect(path))):
        assert len(parsed) == 5000, reader
        for n, (record, event) in enumerate(zip(parsed, events, strict=True), start=1):
            assert_record(reader, record, event, n)


def test_corruption_is_detected_by_the_checksums(tmp_path: Path) -> None:
    path = tmp_path / "crc.evtx"
    write_evtx(path, [sysmon_event(i) for i in range(5)])
    data = bytearray(path.read_bytes())
    record_byte = FILE_HEADER_BLOCK + 0x200 + 100
    data[record_byte] ^= 0xFF
    data[0x20] ^= 0x01  # next record id in the file header
    bad = tmp_path / "bad.evtx"
    bad.write_bytes(data)
    with python_evtx_headers(bad) as (header, chunks):
        assert not header.verify()
        assert not chunks[0].verify()


def test_template_definitions_are_shared_within_a_chunk(tmp_path: Path) -> None:
    events = [security_event(i) if i % 2 else sysmon_event(i) for i in range(600)]
    path = tmp_path / "shared.evtx"
    write_evtx(path, events)

    total = resident_total = 0
    first_sizes: list[int] = []
    with python_evtx_headers(path) as (_, chunks):
        assert len(chunks) > 3
        for chunk in chunks:
            records = list(chunk.records())
            resident = [r for r in records if r.root().template_instance().is_resident_template()]
            assert len(resident) == 2  # one definition per shape per chunk, the rest refer to it
            offsets = {r.root().template_instance().template_offset() for r in records}
            raw = path.read_bytes()[chunk.offset() : chunk.offset() + CHUNK_SIZE]
            assert offsets == template_table(raw)  # the header's template table lists them
            first_sizes += [r.size() for r in resident]
            total += sum(r.size() for r in records)
            resident_total += len(records)
    # every record carrying its own definition would cost about the first record's size
    all_resident = resident_total * (sum(first_sizes) / len(first_sizes))
    assert total < 0.5 * all_resident, (total, all_resident)
    assert_all_readers_sampled(path, events)


def assert_all_readers_sampled(path: Path, events: list[dict[str, Any]]) -> None:
    """Rust and dissect on every record, python-evtx on a spread-out sample."""
    for reader, parsed in (("rust", read_rust(path)), ("dissect", read_dissect(path))):
        assert len(parsed) == len(events)
        for n, (record, event) in enumerate(zip(parsed, events, strict=True), start=1):
            assert_record(reader, record, event, n)
    with PyEvtx.Evtx(str(path)) as log:
        for n in (1, 2, 3, len(events) // 2, len(events) - 1, len(events)):
            assert_record("python-evtx", render_python_evtx(log.get_record(n)), events[n - 1], n)


def test_names_are_written_once_per_chunk_and_shared_via_the_string_table(tmp_path: Path) -> None:
    path = tmp_path / "names.evtx"
    write_evtx(path, [sysmon_event(0), security_event(1), sysmon_event(2)])
    chunk = path.read_bytes()[FILE_HEADER_BLOCK : FILE_HEADER_BLOCK + CHUNK_SIZE]
    for name in ("EventRecordID", "Data", "Name", "Provider", "System"):
        encoded = struct.pack("<H", len(name)) + name.encode("utf-16-le") + b"\x00\x00"
        assert chunk.count(encoded) == 1, name  # one name structure, whatever the template count
    table = struct.unpack_from("<64I", chunk, 0x80)
    assert sum(1 for offset in table if offset) > 10
    # a fresh python-evtx chunk (no parse history) resolves every name from the table alone
    with PyEvtx.Evtx(str(path)) as log:
        names = {node.string() for node in next(log.chunks()).strings().values()}
    assert {"Event", "System", "EventData", "Data", "Name", "SystemTime", "UserID"} <= names


def test_long_values_fill_chunks_and_oversized_records_fail_clearly(tmp_path: Path) -> None:
    long_text = ("A long value, Zoë ✓ " * 1100)[:10_000]  # 20 KB of UTF-16
    big_text = "x" * 29_000  # 58 KB: fits only in an otherwise empty chunk
    events = [sysmon_event(i) for i in range(2)]
    events += [sysmon_event(i, event_data={"Payload": long_text, "N": i}) for i in range(2, 9)]
    events += [sysmon_event(9, event_data={"Payload": big_text}), sysmon_event(10)]
    path = tmp_path / "long.evtx"
    with EvtxWriter(path) as writer:
        for event in events[:5]:
            writer.write(event)
        too_big = sysmon_event(99, event_data={"Payload": "y" * 33_000})  # 66 KB value
        with pytest.raises(ValueError, match="does not fit in a 64 KiB chunk"):
            writer.write(too_big)
        for event in events[5:]:
            writer.write(event)  # the writer stays usable after the failure
    with python_evtx_headers(path) as (_, chunks):
        assert all(chunk.verify() for chunk in chunks)
        counts = [len(list(chunk.records())) for chunk in chunks]
        assert sum(counts) == len(events) and len(chunks) >= 4
        firsts = [chunk.log_first_record_number() for chunk in chunks]
        assert 10 in firsts  # the 58 KB record did not fit after others: it opened a new chunk
    assert_all_readers(path, events)


def test_streaming_writer_to_file_objects_and_explicit_record_ids(tmp_path: Path) -> None:
    path = tmp_path / "stream.evtx"
    with path.open("wb") as fh, EvtxWriter(fh) as writer:
        ids = [writer.write(sysmon_event(i)) for i in range(150)]
        assert ids == list(range(1, 151))
        assert fh.tell() >= FILE_HEADER_BLOCK + CHUNK_SIZE  # full chunks are already on disk
        assert writer.write(sysmon_event(150, record_id=1000)) == 1000
        assert writer.write(sysmon_event(151)) == 1001  # sequential again after an explicit id
    events = [sysmon_event(i) for i in range(150)]
    events += [sysmon_event(150, record_id=1000), sysmon_event(151, record_id=1001)]
    with python_evtx_headers(path) as (header, _):
        assert header.verify() and header.next_record_number() == 1002
    parsed = read_rust(path)
    assert [p.system["EventRecordID"] for p in parsed] == [*range(1, 151), 1000, 1001]
    for record, event, n in zip(parsed, events, [*range(1, 151), 1000, 1001], strict=True):
        assert_record("rust", record, event, n)

    buffer = io.BytesIO()
    with EvtxWriter(buffer) as writer:
        writer.write(security_event(0))
    (tmp_path / "buffer.evtx").write_bytes(buffer.getvalue())
    assert_all_readers(tmp_path / "buffer.evtx", [security_event(0)])


def test_empty_file_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "empty.evtx"
    assert write_evtx(path, []) == 0
    assert path.stat().st_size == FILE_HEADER_BLOCK
    with python_evtx_headers(path) as (header, chunks):
        assert header.verify() and header.chunk_count() == 0 and chunks == []
    assert read_rust(path) == [] and read_dissect(path) == []


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"provider": ""}, ValueError, "provider"),
        ({"time_created": None}, ValueError, "time_created"),
        ({"time_created": datetime(2024, 1, 1)}, ValueError, "naive datetime"),
        ({"event_id": None}, ValueError, "event_id"),
        ({"event_id": 70_000}, ValueError, "out of range"),
        ({"level": -1}, ValueError, "out of range"),
        ({"event_data": {"Bad": object()}}, TypeError, "unsupported EventData value type"),
        ({"event_data": {"Huge": 2**64}}, ValueError, "64 bits"),
        ({"user_sid": "not-a-sid"}, ValueError, "not a SID"),
        ({"time_created": "2024-01-01"}, TypeError, "aware datetime"),
        ({"event_data": [("", 1)]}, ValueError, "non-empty strings"),
    ],
)
def test_invalid_events_raise_clear_errors(
    tmp_path: Path, change: dict[str, Any], error: type, match: str
) -> None:
    with EvtxWriter(tmp_path / "bad.evtx") as writer, pytest.raises(error, match=match):
        writer.write(sysmon_event(0, **change))


def test_value_wrappers_validate() -> None:
    with pytest.raises(ValueError):
        Hex32(2**32)
    with pytest.raises(ValueError):
        Hex64(-1)
    with pytest.raises(ValueError):
        Sid("S-1-x")
    assert Guid(uuid.UUID(int=5)) == uuid.UUID(int=5)
    assert Guid(SYSMON_GUID) == uuid.UUID(SYSMON_GUID)
