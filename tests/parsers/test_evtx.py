"""EVTX parser against the real corpus: counts, exact values, dirty files, backend parity."""

from __future__ import annotations

import re
import struct
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from dissect.eventlog.evtx import Evtx as DissectEvtx
from evtx import PyEvtxParser

from forensics.schema import CORE_COLUMNS
from forensics.timeutil import parse_iso
from parsers import sniff
from parsers.base import Options
from parsers.evtx import EvtxParser
from tests.parsers.evtx_helpers import parse_file

PARSER = EvtxParser()


def _evtx_files(corpus: Path) -> list[Path]:
    return sorted(p for p in corpus.rglob("*") if p.is_file() and p.read_bytes()[:8] == b"ElfFile\x00")


def _rust_identities(path: Path) -> set[tuple[str, str]]:
    """(EventRecordID, time to the second) of every record the Rust parser reads alone."""
    found = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for record in PyEvtxParser(str(path), skip_errors=True).records_json():
            system = orjson.loads(record["data"])["Event"]["System"]
            found.add((str(system["EventRecordID"]), system["TimeCreated"]["#attributes"]["SystemTime"][:19]))
    return found


def _dissect_identities(path: Path) -> set[tuple[str, str]]:
    found = set()
    with open(path, "rb") as fh:
        try:
            for record in DissectEvtx(fh):
                when = str(record["TimeCreated_SystemTime"])[:19].replace(" ", "T")
                found.add((str(int(record["EventRecordID"])), when))
        except Exception:
            pass
    return found


def _our_identities(rows: list[dict]) -> set[tuple[str, str]]:
    out = set()
    for row in rows:
        fields = dict(row["fields"])
        when = row["datetime"].strftime("%Y-%m-%dT%H:%M:%S") if row["datetime"] else "1601-01-01T00:00:00"
        out.add((fields.get("EventRecordID", "0"), when))
    return out


def test_every_corpus_evtx_reads_all_that_rust_and_dissect_read(corpus: Path) -> None:
    files = _evtx_files(corpus)
    assert len(files) == 303 + 152  # the corpus EVTX and the SigmaHQ regression EVTX
    total = 0
    for path in files:
        rows, _ = parse_file(PARSER, path)
        ours = _our_identities(rows)
        rust = _rust_identities(path)
        assert len(rows) >= len(rust), path
        assert rust <= ours, (path, sorted(rust - ours)[:5])
        assert _dissect_identities(path) <= ours, path
        total += len(rows)
    assert total == 20_418


def test_sysmon_record_values_exact(corpus: Path) -> None:
    rows, _found = parse_file(PARSER, corpus / "evtx/evtx-rs-samples/sysmon.evtx")
    first = rows[0]
    assert first["datetime"] == datetime(2017, 12, 26, 13, 10, 29, 136879, tzinfo=UTC)
    assert first["event_code"] == "1"
    assert first["event_action"] == "process-created"
    assert first["host_name"] == "DESKTOP-2KGM189"
    assert first["process_executable"] == "C:\\Windows\\SysWOW64\\PING.EXE"
    assert first["process_command_line"] == "ping  -n 6 127.0.0.1 "
    assert first["process_parent_executable"] == "C:\\Windows\\SysWOW64\\cmd.exe"
    assert (first["process_pid"], first["process_parent_pid"]) == (9112, 8392)
    assert first["process_guid"] == "94F748D5-4A45-5A42-0000-0010D265F20F"
    assert (first["user_domain"], first["user_name"], first["logon_id"]) == (
        "NT AUTHORITY",
        "SYSTEM",
        "0x3e7",
    )
    assert first["file_hash_sha256"] == "8f16a431c919a0aa7c9466ec1cdc1e721f30eb5c8182835585a1b74abecb1920"
    fields = dict(first["fields"])
    assert fields["IntegrityLevel"] == "System"
    assert fields["EventRecordID"] == "1742"
    assert fields["Security_UserID"] == "S-1-5-18"


@pytest.mark.parametrize(
    ("name", "rows_expected", "note"),
    [
        ("evtx-rs-samples/sysmon.evtx", 358, "header declares 1 chunks, 9 found: all read"),
        ("evtx-rs-samples/2-vss_7-System.evtx", 1160, "header declares 4 chunks, 11 found: all read"),
        (
            "deepbluecli/wmi-event-filter-persistance.evtx",
            901,
            "header declares 12 chunks, 13 found: all read",
        ),
    ],
)
def test_dirty_files_past_the_header_chunk_count(
    corpus: Path, name: str, rows_expected: int, note: str
) -> None:
    rows, found = parse_file(PARSER, corpus / "evtx" / name)
    assert len(rows) == rows_expected
    assert note in [w.reason for w in found]
    assert sum(w.count for w in found) == 0


def test_zeroed_chunk_records_become_one_located_warning(corpus: Path) -> None:
    path = corpus / "evtx/evtx-rs-samples/Microsoft-Windows-HelloForBusiness%4Operational.evtx"
    rows, found = parse_file(PARSER, path)
    assert len(rows) == 6
    lost = [w for w in found if w.count]
    assert len(lost) == 1
    assert lost[0].location == "chunk 0 records 7-20"
    assert lost[0].offset == 4096
    assert lost[0].count == 14


def test_crc_mismatch_files_still_read(corpus: Path) -> None:
    for name, expected in (("Application_no_crc32.evtx", 17), ("security_bad_string_cache.evtx", 2261)):
        path = next((corpus / "evtx").rglob(name))
        rows, found = parse_file(PARSER, path)
        assert len(rows) == expected, name
        assert not [w for w in found if w.count], name


def test_truncated_copy_keeps_whole_records_and_counts_the_rest(corpus: Path, tmp_path: Path) -> None:
    data = (corpus / "evtx/evtx-rs-samples/2-vss_7-System.evtx").read_bytes()
    cut = tmp_path / "cut.evtx"
    cut.write_bytes(data[: 4096 + 65536 + 368])
    rows, found = parse_file(PARSER, cut)
    assert len(rows) == 131
    lost = [w for w in found if w.count]
    assert [(w.location, w.offset, w.count) for w in lost] == [("chunk 1 records 132-238", 69632, 107)]


def test_sniff_by_content_not_name(corpus: Path) -> None:
    assert isinstance(sniff((corpus / "evtx/deepbluecli/sliver-sysmon.evtx").read_bytes()[:4096]), EvtxParser)
    assert PARSER.sniff((corpus / "evtx/deepbluecli/sliver-sysmon.evtx").read_bytes()[:4096])
    assert not PARSER.sniff(b"hello, I am not an event log")
    assert not PARSER.sniff((corpus / "evtx/legacy-evt/SysEvent.Evt").read_bytes()[:4096])


_PYTHON_EVTX_READABLE = [
    "deepbluecli/sliver-sysmon.evtx",
    "deepbluecli/powersploit-security.evtx",
    "deepbluecli/disablestop-eventlog.evtx",
    "evtx-attack-samples/Lateral Movement/LM_WMI_4624_4688_TargetHost.evtx",
    "evtx-rs-samples/sysmon.evtx",
]
_CORE_ONLY = set(CORE_COLUMNS) - {"datetime", "fields", "message"}


def _same_value(a: str | None, b: str | None) -> bool:
    """Equal, or both times within 2 us: the Rust bindings round FILETIME's 100 ns ticks to the
    microsecond where python-evtx truncates (and is off by one more on a few values)."""
    if a == b:
        return True
    ta, tb = parse_iso(a), parse_iso(b)
    return ta is not None and tb is not None and abs(ta - tb) <= timedelta(microseconds=2)


@pytest.mark.parametrize("name", _PYTHON_EVTX_READABLE)
def test_rust_and_python_evtx_backends_give_the_same_rows(corpus: Path, name: str) -> None:
    rust, _ = parse_file(PARSER, corpus / "evtx" / name, Options(evtx_backend="rust"))
    reference, _ = parse_file(PARSER, corpus / "evtx" / name, Options(evtx_backend="python-evtx"))
    assert len(rust) == len(reference) > 0
    for a, b in zip(rust, reference, strict=True):
        assert _same_value(a["datetime"].isoformat(), b["datetime"].isoformat())
        assert {k: a[k] for k in _CORE_ONLY} == {k: b[k] for k in _CORE_ONLY}
        fa, fb = dict(a["fields"]), dict(b["fields"])
        assert fa.keys() == fb.keys()
        assert all(_same_value(fa[k], fb[k]) for k in fa), [(k, fa[k], fb[k]) for k in fa if fa[k] != fb[k]]
        if fa == fb:
            assert a["message"] == b["message"]


def test_backends_agree_on_core_columns_where_renderers_differ(corpus: Path) -> None:
    """plaso's System.evtx holds values python-evtx renders differently from evtx_dump (Binary
    as base64, string arrays as XML fragments, CRLF folded by the XML parser): the fields
    differ there, by design of the renderers, but every core column agrees."""
    rust, _ = parse_file(PARSER, corpus / "evtx/plaso/System.evtx", Options(evtx_backend="rust"))
    reference, _ = parse_file(PARSER, corpus / "evtx/plaso/System.evtx", Options(evtx_backend="python-evtx"))
    assert len(rust) == len(reference) == 5009
    for a, b in zip(rust, reference, strict=True):
        assert _same_value(a["datetime"].isoformat(), b["datetime"].isoformat())
        assert {k: a[k] for k in _CORE_ONLY} == {k: b[k] for k in _CORE_ONLY}


def _damaged_copy(corpus: Path, tmp_path: Path, damage) -> tuple[list[dict], list, list[dict]]:
    source = corpus / "evtx/deepbluecli/wmi-event-filter-persistance.evtx"
    data = bytearray(source.read_bytes())
    damage(data)
    copy = tmp_path / "damaged.evtx"
    copy.write_bytes(bytes(data))
    rows, found = parse_file(PARSER, copy)
    original, _ = parse_file(PARSER, source)
    return rows, found, original


def test_bad_chunk_magic_is_repaired_in_memory(corpus: Path, tmp_path: Path) -> None:
    offset = 4096 + 3 * 65536

    def damage(data: bytearray) -> None:
        data[offset : offset + 8] = b"XXXXXXXX"

    rows, found, original = _damaged_copy(corpus, tmp_path, damage)
    assert len(rows) == len(original) == 901
    assert ("chunk 3", offset, "bad chunk magic, records present: repaired in memory", 0) in [
        (w.location, w.offset, w.reason, w.count) for w in found
    ]


def test_zero_size_record_loses_only_itself(corpus: Path, tmp_path: Path) -> None:
    """The Rust parser and python-evtx both stop at a zero record size and lose the rest of the
    chunk (72 records); the records behind it are carved by their signature."""
    second = (
        4096
        + 512
        + struct.unpack_from(
            "<I", (corpus / "evtx/deepbluecli/wmi-event-filter-persistance.evtx").read_bytes(), 4096 + 512 + 4
        )[0]
    )

    def damage(data: bytearray) -> None:
        struct.pack_into("<I", data, second + 4, 0)

    rows, found, original = _damaged_copy(corpus, tmp_path, damage)
    lost = [(w.location, w.offset, w.count) for w in found if w.count]
    assert lost == [("chunk 0 records 2-2", 4096, 1)]
    assert len(rows) == 900
    carved = {r["source_record"]: r for r in rows if dict(r["fields"]).get("recovered_by") == "carved"}
    assert sorted(carved) == list(range(3, 74))
    for row in original:
        if row["source_record"] in carved:
            twin = carved[row["source_record"]]
            assert _same_value(row["datetime"].isoformat(), twin["datetime"].isoformat())
            assert {k: row[k] for k in _CORE_ONLY} == {k: twin[k] for k in _CORE_ONLY}


_DIRTY = [
    "evtx-rs-samples/sysmon.evtx",
    "evtx-rs-samples/2-vss_7-System.evtx",
    "evtx-rs-samples/Application_no_crc32.evtx",
    "evtx-rs-samples/Microsoft-Windows-HelloForBusiness%4Operational.evtx",
    "evtx-rs-samples/E_Windows_system32_winevt_logs_Microsoft-Windows-CAPI2%4Operational.evtx",
    "evtx-rs-samples/MSExchange_Management_wec.evtx",
    "evtx-rs-samples/post-Security.evtx",
    "python-evtx/issue_38.evtx",
]
_XML_ID = re.compile(r"<EventRecordID>(\d+)</EventRecordID>")
_XML_TIME = re.compile(r'SystemTime="([^"]+)"')


@pytest.mark.parametrize("name", _DIRTY)
def test_everything_python_evtx_reads_comes_out(corpus: Path, name: str) -> None:
    """python-evtx on its own, record by record, skipping what it fails on."""
    from Evtx.Evtx import Evtx

    path = corpus / "evtx" / name
    found = set()
    with Evtx(str(path)) as log:
        try:
            for chunk in log.chunks():
                try:
                    for record in chunk.records():
                        try:
                            xml = record.xml()
                        except Exception:  # python-evtx gives up on this record only
                            continue
                        when = _XML_TIME.search(xml).group(1)[:19].replace(" ", "T")
                        when = "1601-01-01T00:00:00" if when.startswith("0001-01-01") else when  # zero time
                        found.add((_XML_ID.search(xml).group(1), when))
                except Exception:  # or on the rest of this chunk
                    continue
        except Exception:  # or on the file
            pass
    rows, _ = parse_file(PARSER, path)
    ours = _our_identities(rows)
    assert found <= ours, sorted(found - ours)[:5]


def test_dissect_fallback_values_match_the_rust_rows(corpus: Path) -> None:
    """dissect.eventlog renders GUIDs byte-swapped (typed and string-rendered alike): the
    fallback swaps them back, so a record it recovers reads as the Rust parser reads it."""
    from dissect.eventlog.evtx import ElfChnk

    from parsers.evtx import _from_dissect, _read_chunk, scan_chunks
    from parsers.winevent import to_row

    path = corpus / "evtx/evtx-rs-samples/sysmon.evtx"
    rows, _ = parse_file(PARSER, path)
    with open(path, "rb") as fh:
        chunks, _ = scan_chunks(fh, path.stat().st_size)
        record = next(iter(ElfChnk(_read_chunk(fh, chunks[0])).read()))
        system, data = _from_dissect(record)
    row, fields = to_row(system, data)
    assert system["Provider_Guid"] == "5770385F-C22A-43E0-BF4C-06F5698FFBD9"
    assert row["process_guid"] == rows[0]["process_guid"] == "94F748D5-4A45-5A42-0000-0010D265F20F"
    assert row["process_parent_guid"] == rows[0]["process_parent_guid"]
    assert fields["LogonGuid"] == dict(rows[0]["fields"])["LogonGuid"]


def test_a_port_that_is_not_a_port_stays_in_the_fields(tmp_path: Path) -> None:
    """One event with an out-of-range port must neither break its batch nor lose the value."""
    from forensics.writers.evtx import write_evtx

    base = {
        "provider": "Microsoft-Windows-Sysmon",
        "channel": "Microsoft-Windows-Sysmon/Operational",
        "event_id": 3,
        "computer": "WS01",
        "time_created": datetime(2024, 5, 1, 8, 0, tzinfo=UTC),
    }
    good = {"SourceIp": "10.0.0.5", "SourcePort": 50000, "DestinationIp": "192.0.2.9", "DestinationPort": 443}
    write_evtx(
        tmp_path / "ports.evtx",
        [base | {"event_data": good}, base | {"event_data": good | {"DestinationPort": "99999999999"}}],
    )
    rows, found = parse_file(EvtxParser(), tmp_path / "ports.evtx")
    assert found == []
    assert [(r["source_port"], r["destination_port"]) for r in rows] == [(50000, 443), (50000, None)]
    assert dict(rows[1]["fields"])["DestinationPort"] == "99999999999"
