"""Registry hives: plaso's NTUSER.DAT, SAM, Win10 Amcache.hve, the 100-subkey and corrupt hives and
an old-format transaction log, each through the ingest, with exact counts and values."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from parsers.base import HEAD_BYTES
from parsers.registry_hive import RegistryHiveParser
from tests.parsers.artifact_helpers import ARTIFACTS, ingest, rows, summary

PARSER = RegistryHiveParser()
NAME = "windows_registry"


@pytest.fixture(scope="module")
def hives(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    folder = corpus / ARTIFACTS / "registry"
    case, results = ingest(tmp_path_factory.mktemp("registry"), folder)
    return case, results, folder


def test_every_hive_file(hives: tuple) -> None:
    _, results, _ = hives
    assert {name: summary(r) for name, r in results.items()} == {
        "100_sub_keys.hiv": ("ok", NAME, 101, 0, []),
        "NTUSER.DAT": ("ok", NAME, 1610, 0, []),
        "SAM": ("ok", NAME, 80, 0, []),
        "win10-Amcache.hve": ("ok", NAME, 207, 0, []),
        # A subkey-list entry points at a cell whose size is garbage: that key is lost, the 99 others
        # (and the root) are read; the offset is the entry's cell in the file.
        "corrupt_sub_key_list.hiv": ("partial", NAME, 100, 1, [
            ("key TestKey", 21632, "subkey 8 unreadable: ValueError: read length must be non-negative or -1", 1),
            ("key TestKey", 4128, "99 of 100 subkeys read", 0),
        ]),
        # regf magic with file type 1 (a transaction log), 1 KiB, its base block's file name cut
        # to the last characters of the path as the format stores it.
        "ntuser.dat.LOG": ("ok", NAME, 0, 0, [
            ("file", 0, "registry transaction log (old format, dirty-page vector) of "
             "...tings\\NetworkService\\ntuser.dat: not replayed", 0),
        ]),
    }  # fmt: skip


def test_ntuser_keys_autoruns_and_userassist(hives: tuple) -> None:
    case, _, folder = hives
    got = rows(case, folder / "NTUSER.DAT")
    keys = [r for r in got if r["event_action"] == "registry-key"]
    assert len(keys) == 1597 and len({r["source_record"] for r in keys}) == 1597
    assert keys[0]["file_path"] == "HKCU" and keys[0]["fields"]["key_name"].startswith("CsiTool-CreateHive-")
    run_path = "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run"
    (run,) = [r for r in keys if r["file_path"] == run_path]
    assert (run["datetime"], run["timestamp_desc"], run["fields"]["values"]) == (
        datetime(2016, 10, 5, 9, 41, 35, 301607, tzinfo=UTC), "Modified", "2",
    )  # fmt: skip
    assert (
        run["fields"]["value.Spotify"]
        == '"C:\\Users\\bperry\\AppData\\Roaming\\Spotify\\Spotify.exe" -autostart -minimized'
    )
    autoruns = [
        (r["fields"]["value_name"], r["process_command_line"], r["datetime"])
        for r in got
        if r["event_action"] == "autorun"
    ]
    assert sorted(autoruns) == [
        ("Spotify", '"C:\\Users\\bperry\\AppData\\Roaming\\Spotify\\Spotify.exe" -autostart -minimized', run["datetime"]),
        ("Spotify Web Helper", '"C:\\Users\\bperry\\AppData\\Roaming\\Spotify\\SpotifyWebHelper.exe"', run["datetime"]),
    ]  # fmt: skip
    assist = {r["process_executable"]: r for r in got if r["event_action"] == "userassist"}
    assert len(assist) == 11
    setup = assist[
        "C:\\Users\\bperry\\AppData\\Local\\Microsoft\\Windows\\INetCache\\IE\\WN4CJC14\\SpotifySetup.exe"
    ]
    assert (setup["datetime"], setup["timestamp_desc"]) == (
        datetime(2016, 10, 5, 9, 40, 38, 921000, tzinfo=UTC),
        "Last Run",
    )
    assert {k: setup["fields"][k] for k in ("run_count", "focus_count", "focus_time_ms", "value_name")} == {
        "run_count": "1", "focus_count": "1", "focus_time_ms": "20266",
        "value_name": "P:\\Hfref\\ocreel\\NccQngn\\Ybpny\\Zvpebfbsg\\Jvaqbjf\\VArgPnpur\\VR\\JA4PWP14\\FcbgvslFrghc.rkr",
    }  # fmt: skip
    # Known-folder GUIDs in the decoded name are resolved ({9E3995AB-...} is User Pinned).
    assert assist["User Pinned\\TaskBar\\Internet Explorer.lnk"]["fields"]["run_count"] == "2"
    never = [p for p, r in assist.items() if r["datetime"] is None]
    assert sorted(never) == [
        "C:\\Users\\bperry\\AppData\\Roaming\\Spotify\\SpWebInst0.exe", "C:\\Users\\bperry\\AppData\\Roaming\\Spotify\\Spotify.exe",
        "Microsoft.Windows.ControlPanel", "Microsoft.Windows.Explorer",
    ]  # fmt: skip


def test_sam_users(hives: tuple) -> None:
    case, _, folder = hives
    got = rows(case, folder / "SAM")
    users = {r["user_name"]: r for r in got if r["event_action"] == "sam-user"}
    assert {
        n: (r["fields"]["rid"], r["fields"]["logon_count"], r["fields"]["disabled"]) for n, r in users.items()
    } == {
        "Administrator": ("500", "3", "true"),
        "Guest": ("501", "0", "true"),
        "gold_administrator": ("1001", "4", "false"),
    }
    assert users["Administrator"]["file_path"] == "HKLM\\SAM\\SAM\\Domains\\Account\\Users\\000001F4"
    assert (
        users["Administrator"]["fields"]["comment"]
        == "Built-in account for administering the computer/domain"
    )
    times = sorted((r["user_name"], r["event_action"], r["datetime"], r["timestamp_desc"]) for r in got
                   if r["event_action"] in ("last-logon", "password-last-set", "last-failed-logon"))  # fmt: skip
    assert times == [
        ("Administrator", "last-logon", datetime(2014, 3, 18, 10, 20, 47, 341425, tzinfo=UTC), "Event Recorded"),
        ("Administrator", "password-last-set", datetime(2014, 3, 18, 10, 20, 51, 75795, tzinfo=UTC), "Changed"),
        ("gold_administrator", "last-logon", datetime(2016, 10, 11, 19, 52, 35, 969985, tzinfo=UTC), "Event Recorded"),
        ("gold_administrator", "password-last-set", datetime(2015, 11, 23, 2, 59, 18, 432106, tzinfo=UTC), "Changed"),
    ]  # fmt: skip


def test_amcache_files_and_programs(hives: tuple) -> None:
    case, _, folder = hives
    got = rows(case, folder / "win10-Amcache.hve")
    files = [r for r in got if r["event_action"] == "amcache-file"]
    assert (len(files), sum(r["event_action"] == "amcache-program" for r in got)) == (30, 75)
    first = files[0]
    assert (first["file_path"], first["fields"]["sha1"], first["fields"]["link_date"], first["datetime"]) == (
        "c:\\program files\\7-zip\\7z.exe", "6c7ea8bbd435163ae3945cbef30ef6b9872a4591", "2019-02-21T16:00:00Z",
        datetime(2019, 12, 16, 21, 1, 12, 793908, tzinfo=UTC),
    )  # fmt: skip
    assert (
        first["fields"]["key_path"]
        == "{11517B7C-E79D-4e20-961B-75A811715ADD}\\Root\\InventoryApplicationFile\\7z.exe|afe683e0fa522625"
    )
    # plaso's Win10 Amcache test: svchost.exe's link time 1997-01-10 22:26:24.
    (svchost,) = [r for r in files if r["file_path"] == "c:\\windows\\system32\\svchost.exe"]
    assert svchost["fields"]["link_date"] == "1997-01-10T22:26:24Z"


def test_one_bad_subkey_entry_keeps_the_rest(hives: tuple) -> None:
    case, _, folder = hives
    names = sorted(
        int(r["fields"]["key_name"])
        for r in rows(case, folder / "corrupt_sub_key_list.hiv")
        if r["source_record"]
    )
    assert names == [n for n in range(1, 101) if n != 16]  # entry 8 of the name-sorted list is "16"


def test_sniff(corpus: Path) -> None:
    folder = corpus / ARTIFACTS / "registry"
    for name in ("NTUSER.DAT", "SAM", "ntuser.dat.LOG", "win10-Amcache.hve"):
        assert PARSER.sniff((folder / name).read_bytes()[:HEAD_BYTES])
    head = bytearray((folder / "SAM").read_bytes()[:HEAD_BYTES])
    head[20:24] = (2).to_bytes(4, "little")  # major version 2: not a regf hive
    assert not PARSER.sniff(bytes(head))
    assert not PARSER.sniff(b"regf")


def test_root_row_describes_the_hive(hives: tuple) -> None:
    case, _, folder = hives
    root = next(r for r in rows(case, folder / "NTUSER.DAT") if r["source_record"] == 0)
    assert {k: root["fields"][k] for k in ("hive_file_name", "hive_format", "hive_written")} == {
        "hive_file_name": "\\??\\c:\\users\\bperry\\ntuser.dat",
        "hive_format": "regf 1.3",
        "hive_written": "2013-08-22T13:25:44.067283+00:00",
    }


def test_a_key_that_cannot_be_mapped_is_a_warning(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import parsers.registry_hive as module
    from tests.parsers.evtx_helpers import parse_file

    def broken(*args: object) -> list:
        raise ValueError("odd Run value")

    monkeypatch.setattr(module, "_autoruns", broken)
    got, found = parse_file(PARSER, corpus / ARTIFACTS / "registry/NTUSER.DAT")
    assert len(got) == 1610 - 3  # the Run key's row and its two autorun rows
    assert [(w.location, w.reason, w.count) for w in found] == [
        (
            "key HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run",
            "not mapped: ValueError: odd Run value",
            1,
        )
    ]
