"""Prefetch: plaso's six files (versions 17, 23, 26, 30 and 31, two MAM-compressed) through the
ingest; names, run counts, run times, volumes as plaso's own tests state them (times truncated to
the microsecond)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

from parsers.base import HEAD_BYTES, Options
from parsers.prefetch import PrefetchParser
from tests.parsers.artifact_helpers import ARTIFACTS, ingest, rows, summary

PARSER = PrefetchParser()


def _t(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# file -> (version, executable, run count, run times newest first, path, volume serials, files)
EXPECTED = {
    "CMD.EXE-087B4001.pf": (
        "17", "CMD.EXE", "2", [_t(2013, 3, 10, 10, 11, 49, 281250)], "\\WINDOWS\\SYSTEM32\\CMD.EXE", "24CB074B", "33",
    ),
    "PING.EXE-B29F6629.pf": (
        "23", "PING.EXE", "14", [_t(2012, 4, 6, 19, 0, 55, 932955)], "\\WINDOWS\\SYSTEM32\\PING.EXE", "AC036525", "27",
    ),
    "WUAUCLT.EXE-830BCC14.pf": (
        "23", "WUAUCLT.EXE", "25", [_t(2012, 3, 15, 21, 17, 39, 807996)], "\\WINDOWS\\SYSTEM32\\WUAUCLT.EXE",
        "AC036525; AC036525; AC036525; AC036525; AC036525", "103",
    ),
    "TASKHOST.EXE-3AE259FC.pf": (
        "26", "TASKHOST.EXE", "4",
        [_t(2013, 10, 4, 15, 40, 9, 37833), _t(2013, 10, 4, 15, 28, 9, 10356), _t(2013, 10, 4, 6, 19, 54, 596060),
         _t(2013, 10, 4, 6, 11, 13, 642937)],
        "\\WINDOWS\\SYSTEM32\\TASKHOST.EXE", "686C4249", "51",
    ),
    "NOTEPAD.EXE-D8414F97.pf": (
        "30", "NOTEPAD.EXE", "2", [_t(2019, 6, 5, 19, 55, 4, 877778), _t(2019, 6, 5, 19, 23, 0, 815705)],
        "\\WINDOWS\\SYSTEM32\\NOTEPAD.EXE", "2CA3D1AE", "56",
    ),
    # Windows cuts the name to 29 characters; the path comes from the referenced files.
    "AM_DELTA_PATCH_1.443.990.0.EX-7037CF86.pf": (
        "31", "AM_DELTA_PATCH_1.443.990.0.EX", "1", [_t(2026, 2, 4, 13, 43, 44, 668632)],
        "\\WINDOWS\\SOFTWAREDISTRIBUTION\\DOWNLOAD\\INSTALL\\AM_DELTA_PATCH_1.443.990.0.EXE", "BC1F1BFC", "18",
    ),
}  # fmt: skip


def test_every_prefetch_file(corpus: Path, tmp_path: Path) -> None:
    folder = corpus / ARTIFACTS / "prefetch"
    case, results = ingest(tmp_path, folder)
    assert {n: summary(r) for n, r in results.items()} == {
        n: ("ok", "windows_prefetch", len(e[3]), 0, []) for n, e in EXPECTED.items()
    }
    for name, (version, exe, runs, times, path, serials, files) in EXPECTED.items():
        got = rows(case, folder / name)
        assert [r["datetime"] for r in got] == times, name
        assert {
            (r["timestamp_desc"], r["event_action"], r["process_executable"], r["file_path"]) for r in got
        } == {("Last Run", "program-run", path, path)}, name
        first = got[0]["fields"]
        assert (first["format_version"], first["executable"], first["run_count"], first["volume_serials"]) == (
            version, exe, runs, serials,
        ), name  # fmt: skip
        assert first["files_count"] == files and len(first["files"].split("; ")) == int(files), name
        assert all("files" not in r["fields"] for r in got[1:]), name
        assert first["compressed"] == ("true" if version in ("30", "31") else "false")


def test_volumes_and_referenced_files(corpus: Path) -> None:
    from tests.parsers.evtx_helpers import parse_file

    got, found = parse_file(PARSER, corpus / ARTIFACTS / "prefetch/TASKHOST.EXE-3AE259FC.pf")
    assert found == []
    fields = dict(got[0]["fields"])
    assert (
        fields["volumes"]
        == "\\DEVICE\\HARDDISKVOLUME2 serial 686C4249 created 2013-10-04T15:57:26.146547+00:00"
    )
    assert fields["files"].split("; ")[:2] == [
        "\\DEVICE\\HARDDISKVOLUME2\\WINDOWS\\SYSTEM32\\NTDLL.DLL",
        "\\DEVICE\\HARDDISKVOLUME2\\WINDOWS\\SYSTEM32\\TASKHOST.EXE",
    ]
    assert got[0]["message"] == "prefetch TASKHOST.EXE last run (run count 4)"
    assert got[3]["message"] == "prefetch TASKHOST.EXE earlier run 3 (run count 4)"


def test_broken_files_are_warnings(corpus: Path) -> None:
    data = (corpus / ARTIFACTS / "prefetch/NOTEPAD.EXE-D8414F97.pf").read_bytes()
    cut = data[:200]  # compressed stream cut short
    items = list(PARSER.parse(io.BytesIO(cut), None, Options()))
    assert (
        len(items) == 1
        and items[0].location == "file"
        and items[0].reason.startswith("MAM (LZXPRESS Huffman) data corrupt")
    )
    plain = (corpus / ARTIFACTS / "prefetch/PING.EXE-B29F6629.pf").read_bytes()
    bad = plain[:4] + b"SCCB" + plain[8:]
    assert not PARSER.sniff(bad[:HEAD_BYTES])
    assert [
        w.reason for w in PARSER.parse(io.BytesIO(b"\x63\x00\x00\x00SCCA" + plain[8:]), None, Options())
    ] == ["unknown prefetch version 99"]


def test_sniff(corpus: Path) -> None:
    for name in EXPECTED:
        assert PARSER.sniff((corpus / ARTIFACTS / "prefetch" / name).read_bytes()[:HEAD_BYTES])
    assert not PARSER.sniff(b"\x11\x00\x00\x00SCCB" + b"\x00" * 100)
    assert not PARSER.sniff(b"MAM\x04\x00\x00\x00\x00")  # no size
