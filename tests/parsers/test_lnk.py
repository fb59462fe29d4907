"""Shell links and jump lists: plaso's two .lnk files and two jump lists through the ingest; target
paths, times, tracker and DestList values as plaso's tests state them."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

from parsers.base import HEAD_BYTES, Options
from parsers.lnk import JumpListParser, LnkParser, uuid_time_node
from tests.parsers.artifact_helpers import ARTIFACTS, ingest, rows, summary

LNK = LnkParser()
JUMP = JumpListParser()
AUTO = "1b4dd67f29cb1962.automaticDestinations-ms"
CUSTOM = "5afe4de1b92fc382.customDestinations-ms"


def test_every_link_and_jump_list(corpus: Path, tmp_path: Path) -> None:
    root = corpus / ARTIFACTS
    _, results = ingest(tmp_path, root / "lnk", root / "jumplists")
    assert {n: summary(r) for n, r in results.items()} == {
        "NeroInfoTool.lnk": ("ok", "windows_lnk", 2, 0, []),
        "example.lnk": ("ok", "windows_lnk", 2, 0, []),
        AUTO: ("ok", "windows_jumplist", 21, 0, []),  # 7 DestList entries + 14 target-time rows
        CUSTOM: ("ok", "windows_jumplist", 18, 0, []),  # 9 links, 2 distinct target times each
    }


def test_example_lnk(corpus: Path, tmp_path: Path) -> None:
    path = corpus / ARTIFACTS / "lnk/example.lnk"
    case, _ = ingest(tmp_path, path)
    got = rows(case, path)
    # plaso: accessed and created 2009-07-13 23:29:02.849131, modified 2009-07-14 01:39:18.220000.
    assert [(r["datetime"], r["timestamp_desc"], r["fields"]["macb"]) for r in got] == [
        (datetime(2009, 7, 13, 23, 29, 2, 849131, tzinfo=UTC), "Accessed", ".A.B"),
        (datetime(2009, 7, 14, 1, 39, 18, 220000, tzinfo=UTC), "Modified", "M..."),
    ]
    fields = got[0]["fields"]
    assert got[0]["file_path"] == "%windir%\\system32\\migwiz\\migwiz.exe"  # from the environment block
    assert {k: fields[k] for k in ("relative_path", "working_dir", "description", "icon_location", "target_size",
                                   "machine_id", "droid_file", "droid_time", "droid_mac")} == {
        "relative_path": ".\\migwiz\\migwiz.exe", "working_dir": "%windir%\\system32\\migwiz",
        "description": "@%windir%\\system32\\migwiz\\wet.dll,-590",
        "icon_location": "%windir%\\system32\\migwiz\\migwiz.exe", "target_size": "544768",
        "machine_id": "win-tj9qcsjkags", "droid_file": "846ee3bb-7039-11de-9d20-001d09fa5a1c",
        "droid_time": "2009-07-14T05:45:20.500012+00:00", "droid_mac": "00:1d:09:fa:5a:1c",
    }  # fmt: skip
    assert "volume_serial" not in fields  # no link info block in this link


def test_nero_lnk_link_info_and_shell_items(corpus: Path) -> None:
    from tests.parsers.evtx_helpers import parse_file

    got, found = parse_file(LNK, corpus / ARTIFACTS / "lnk/NeroInfoTool.lnk")
    assert found == []
    target = "C:\\Program Files (x86)\\Nero\\Nero 9\\Nero InfoTool\\InfoTool.exe"
    assert [(r["datetime"], r["timestamp_desc"], r["file_path"]) for r in got] == [
        (datetime(2009, 6, 5, 20, 13, 20, tzinfo=UTC), "Modified", target),
        (datetime(2010, 1, 29, 21, 30, 11, 332156, tzinfo=UTC), "Accessed", target),
    ]
    fields = dict(got[0]["fields"])
    assert got[0]["process_command_line"] == f"{target} -ScParameter=30002  "
    assert {k: fields[k] for k in ("macb", "drive_type", "volume_serial", "volume_label", "shell_item_path",
                                   "icon_env_location", "machine_id", "target_size")} == {
        "macb": "M..B", "drive_type": "fixed", "volume_serial": "70ECFA33", "volume_label": "OS",
        "shell_item_path": target, "icon_env_location": "%ProgramFiles%\\Nero\\Nero 9\\Nero InfoTool\\InfoTool.exe",
        "machine_id": "win-3qmdjgkf3g9", "target_size": "4635160",
    }  # fmt: skip


def test_automatic_destinations(corpus: Path, tmp_path: Path) -> None:
    path = corpus / ARTIFACTS / "jumplists" / AUTO
    case, _ = ingest(tmp_path, path)
    got = rows(case, path)
    entries = [r for r in got if r["event_action"] == "jumplist-entry"]
    assert [(r["source_record"], r["file_path"], r["fields"]["access_count"]) for r in entries] == [
        (1, "::{031E4825-7B94-4DC3-B131-E946B44C8DD5}\\Documents.library-ms", "5"),
        (2, "::{031E4825-7B94-4DC3-B131-E946B44C8DD5}\\Pictures.library-ms", "5"),
        (3, "::{031E4825-7B94-4DC3-B131-E946B44C8DD5}\\Music.library-ms", "4"),
        (4, "::{031E4825-7B94-4DC3-B131-E946B44C8DD5}\\Videos.library-ms", "4"),
        (5, "C:\\Users\\bperry\\Documents\\Poultry Studies", "4"),
        (6, "C:\\Users\\bperry\\Documents\\Sailing", "1"),
        (7, "C:\\Users\\bperry\\Downloads", "4"),
    ]
    # plaso's olecf test: entry 7, student-pc1, 2015-08-29T15:32:44.0343008, unpinned.
    downloads = entries[-1]
    assert (downloads["datetime"], downloads["timestamp_desc"]) == (
        datetime(2015, 8, 29, 15, 32, 44, 34300, tzinfo=UTC), "Accessed",
    )  # fmt: skip
    assert {k: downloads["fields"][k] for k in ("netbios_name", "pinned", "droid_file")} == {
        "netbios_name": "student-pc1", "pinned": "false", "droid_file": "9b1ce584-4a4c-11e5-b5c9-080027ac3d7f",
    }  # fmt: skip
    links = [r for r in got if r["source_record"] == 7 and r["event_action"] == "shortcut"]
    assert [(r["datetime"], r["fields"]["macb"]) for r in links] == [
        (datetime(2015, 8, 25, 10, 29, 51, 291969, tzinfo=UTC), "...B"),
        (datetime(2015, 8, 29, 13, 7, 29, 192536, tzinfo=UTC), "MA.."),
    ]
    assert {(r["file_path"], r["fields"]["volume_serial"], r["fields"]["jumplist_entry"]) for r in links} == {
        ("C:\\Users\\bperry\\Downloads", "885029E6", "7")
    }


def test_custom_destinations(corpus: Path) -> None:
    from tests.parsers.evtx_helpers import parse_file

    got, found = parse_file(JUMP, corpus / ARTIFACTS / "jumplists" / CUSTOM)
    assert found == []
    assert sorted({r["source_record"] for r in got}) == list(range(1, 10))
    last = [r for r in got if r["source_record"] == 9]
    assert [(r["datetime"], r["timestamp_desc"]) for r in last] == [
        (datetime(2009, 7, 13, 23, 55, 56, 248103, tzinfo=UTC), "Accessed"),
        (datetime(2009, 7, 14, 1, 39, 11, 388000, tzinfo=UTC), "Modified"),
    ]
    assert last[0]["process_command_line"] == (
        "C:\\Windows\\System32\\GettingStarted.exe {DE3895CB-077B-4C38-B6E3-F3DE1E0D84FC} "
        "%systemroot%\\system32\\control.exe /name Microsoft.Display"
    )
    assert dict(last[0]["fields"])["description"] == "@%systemroot%\\system32\\oobefldr.dll,-1262"


def test_truncated_jump_list_and_link(corpus: Path) -> None:
    data = (corpus / ARTIFACTS / "jumplists" / CUSTOM).read_bytes()
    items = list(JUMP.parse(io.BytesIO(data[:4000]), None, Options()))
    warnings = [i for i in items if not hasattr(i, "num_rows")]
    assert [(w.location, w.offset, w.reason, w.count) for w in warnings] == [
        ("footer", 3996, "no 0xBABFFBAB footer: file may be truncated", 0),
        ("link 3", 3876, "unreadable link: error: unpack requires a buffer of 2 bytes", 1),
    ]
    assert sum(i.num_rows for i in items if hasattr(i, "num_rows")) == 4  # the two whole links
    link = (corpus / ARTIFACTS / "lnk/example.lnk").read_bytes()
    assert [w.location for w in LNK.parse(io.BytesIO(link[:40]), None, Options())] == ["file"]


def test_uuid_time_node() -> None:
    assert uuid_time_node("846ee3bb-7039-11de-9d20-001d09fa5a1c") == (
        datetime(2009, 7, 14, 5, 45, 20, 500012, tzinfo=UTC), "00:1d:09:fa:5a:1c",
    )  # fmt: skip
    assert uuid_time_node("c989f572-4deb-4c64-b0d1-dc4959bbff28") == (None, None)  # version 4


def test_sniff(corpus: Path) -> None:
    root = corpus / ARTIFACTS
    for name in ("NeroInfoTool.lnk", "example.lnk"):
        head = (root / "lnk" / name).read_bytes()[:HEAD_BYTES]
        assert LNK.sniff(head) and not JUMP.sniff(head)
    for name in (AUTO, CUSTOM):
        head = (root / "jumplists" / name).read_bytes()[:HEAD_BYTES]
        assert JUMP.sniff(head) and not LNK.sniff(head)
    ole = bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 600  # an OLE file without a DestList in view
    assert not JUMP.sniff(ole)
    assert JUMP.sniff_path("C:/x/Recent/AutomaticDestinations/abc.automaticDestinations-ms", ole)
    assert not JUMP.sniff_path("report.doc", ole)
