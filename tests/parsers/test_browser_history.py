"""Browser history: plaso's Chrome ``History`` (Chrome 8-era schema, 69 visits, 2 downloads) and
Firefox ``places.sqlite`` (1 visit) through the ingest, values checked with the sqlite3 command-line
tool (``datetime(visit_time / 1000000 - 11644473600, 'unixepoch')``, ``transition & 255``); current
Chromium and Firefox schemas (WAL mode, URL chains, download annotations) built here; non-browser
and truncated databases."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from parsers import HEAD_BYTES, sniff
from parsers import browser_history as module
from parsers.base import Options, ParseWarning
from parsers.browser_history import BrowserHistoryParser, chromium_transition
from tests.parsers.artifact_helpers import ARTIFACTS, ingest, parse_bytes, rows, summary

PARSER = BrowserHistoryParser()
CHROME_SHA256 = "c184fd5fdf72b75c26f8bb816619f04892e776ae6e2f5512f796d9807a12fbb3"
FIREFOX_SHA256 = "cd37cc6891ede23c98c6f68395b5aa4c9cc24aff7268d5a6414fab8ae17a4849"


def _t(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def _webkit(when: datetime) -> int:
    return (when - _t(1601, 1, 1)) // timedelta(microseconds=1)


def _prtime(when: datetime) -> int:
    return (when - _t(1970, 1, 1)) // timedelta(microseconds=1)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _parse(data: bytes) -> tuple[list[dict], list[ParseWarning]]:
    return parse_bytes(PARSER, data)


def test_loose_histories_through_the_ingest(corpus: Path, tmp_path: Path) -> None:
    folder = corpus / ARTIFACTS / "browser"
    chrome, firefox = folder / "chrome/History", folder / "firefox/places.sqlite"
    assert (_sha256(chrome), _sha256(firefox)) == (CHROME_SHA256, FIREFOX_SHA256)
    case, results = ingest(tmp_path, folder)
    assert {n: summary(r) for n, r in results.items()} == {
        "History": ("ok", "browser_history", 71, 0, []),
        "places.sqlite": ("ok", "browser_history", 1, 0, []),
    }
    assert (results["History"].sha256, results["places.sqlite"].sha256) == (CHROME_SHA256, FIREFOX_SHA256)
    assert (_sha256(chrome), _sha256(firefox)) == (CHROME_SHA256, FIREFOX_SHA256)  # evidence untouched
    assert not list(folder.glob("*/*-wal")) and not list(folder.glob("*/*-journal"))

    got = rows(case, chrome)
    visits = [r for r in got if r["event_action"] == "page-visited"]
    downloads = [r for r in got if r["event_action"] == "file-downloaded"]
    assert (len(visits), len(downloads)) == (69, 2)
    assert [r["source_record"] for r in visits] == list(range(1, 70))
    assert {(r["source"], r["timestamp_desc"], r["fields"]["browser"]) for r in visits} == {
        ("browser_history", "Accessed", "chromium")
    }
    times = sorted(r["datetime"] for r in visits)
    assert (times[0], times[-1]) == (_t(2011, 4, 7, 12, 3, 11), _t(2011, 5, 23, 8, 37, 27, 61516))
    assert times.count(times[0]) == 3  # visits 1, 5 and 6
    first = visits[0]
    assert (first["datetime"], first["url_full"], first["message"]) == (
        _t(2011, 4, 7, 12, 3, 11), "http://start.ubuntu.com/10.04/Google/",
        "visited http://start.ubuntu.com/10.04/Google/ (Ubuntu Start Page)",
    )  # fmt: skip
    assert {k: first["fields"][k] for k in ("title", "visit_count", "typed_count", "transition",
            "transition_qualifiers", "visit_source", "visit_time")} == {
        "title": "Ubuntu Start Page", "visit_count": "4", "typed_count": "0", "transition": "link",
        "transition_qualifiers": "chain_start|chain_end", "visit_source": "firefox_imported",
        "visit_time": "12946651391000000",
    }  # fmt: skip
    last = visits[-1]
    assert (last["datetime"], last["url_full"], last["fields"]["title"], last["fields"]["from_visit"]) == (
        _t(2011, 5, 23, 8, 37, 27, 61516),
        "https://chrome.google.com/webstore/detail/mfjkgbjaikamkkojmakjclmkianficch?hl=en-US#",
        "Download Assistant (by Google) - Chrome Web Store", "68",
    )  # fmt: skip
    assert last["fields"]["transition_qualifiers"] == "chain_end|client_redirect"  # 0x60000000
    # sqlite3: SELECT transition & 255, count(*) FROM visits GROUP BY 1
    assert Counter(r["fields"]["transition"] for r in visits) == {
        "link": 31, "typed": 2, "auto_subframe": 32, "generated": 1, "auto_toplevel": 1, "form_submit": 2,
    }  # fmt: skip
    assert sum("forward_back" in r["fields"].get("transition_qualifiers", "") for r in visits) == 4
    assert sum("visit_source" in r["fields"] for r in visits) == 15  # rows of visit_source
    # sqlite3: SELECT id FROM visits WHERE url IN (SELECT url_id FROM keyword_search_terms)
    assert [(r["source_record"], r["fields"]["search_term"]) for r in visits if "search_term" in r["fields"]] == [
        (23, "funny cats"), (24, "really really funny cats"), (25, "funnycats.exe"),
    ]  # fmt: skip
    # The early downloads schema: start_time in POSIX seconds, one URL column.
    assert [(r["source_record"], r["datetime"], r["timestamp_desc"], r["url_full"], r["file_path"],
             r["fields"]["received_bytes"], r["fields"]["total_bytes"], r["fields"]["state"]) for r in downloads] == [
        (1, _t(2011, 5, 23, 8, 35, 30), "Created", "http://fatloss4idiotsx.com/download/funcats/funcats_scr.exe",
         "/home/john/Downloads/funcats_scr.exe", "1132155", "1132155", "complete"),
        (2, _t(2011, 5, 23, 8, 36, 5), "Created", "http://www.photoscreensavers.us/Cats%20Demo.exe",
         "/home/john/Downloads/Cats Demo.exe", "1308799", "1308799", "complete"),
    ]  # fmt: skip

    (visit,) = rows(case, firefox)
    assert (visit["datetime"], visit["timestamp_desc"], visit["event_action"], visit["url_full"], visit["message"]) == (
        _t(2011, 7, 1, 11, 16, 21, 371935), "Accessed", "page-visited", "http://news.google.com/",
        "visited http://news.google.com/ (Google News)",
    )  # fmt: skip
    assert {k: visit["fields"][k] for k in ("browser", "title", "transition", "typed", "visit_date")} == {
        "browser": "firefox", "title": "Google News", "transition": "typed", "typed": "1",
        "visit_date": "1309518981371935",
    }  # fmt: skip


def test_claimed_by_schema_or_by_name_never_another_database(corpus: Path, tmp_path: Path) -> None:
    chrome = (corpus / ARTIFACTS / "browser/chrome/History").read_bytes()[:HEAD_BYTES]
    assert not PARSER.sniff(chrome)  # page 1 is an interior page: the schema is further on
    assert PARSER.sniff_path("/evidence/History", chrome)
    assert PARSER.sniff_path("C:\\Users\\a\\places.sqlite", chrome)
    assert not PARSER.sniff_path("/evidence/History.bak", chrome)

    notes = tmp_path / "notes.db"
    with sqlite3.connect(notes) as con:
        con.executescript(
            "CREATE TABLE urls(id INTEGER PRIMARY KEY, url TEXT);"  # one of Chromium's names, not both
            "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);"
            "INSERT INTO notes(body) VALUES ('hello');"
        )
    con.close()
    head = notes.read_bytes()[:HEAD_BYTES]
    assert head.startswith(b"SQLite format 3\x00")
    assert sniff(head, str(notes)) is None
    assert not PARSER.sniff(head)
    assert not PARSER.sniff_path(str(tmp_path / "History"), head)  # whole schema in sight, not a browser's

    chromium = tmp_path / "renamed.db"
    _chromium_db(chromium)
    assert sniff(chromium.read_bytes()[:HEAD_BYTES], str(chromium)).name == "browser_history"  # by content


def test_a_database_named_history_that_is_not_one(tmp_path: Path) -> None:
    path = tmp_path / "History"
    with sqlite3.connect(path) as con:  # enough schema that page 1 becomes an interior page
        for n in range(80):
            con.execute(
                f"CREATE TABLE t{n}(id INTEGER PRIMARY KEY, {', '.join(f'c{i} TEXT' for i in range(12))})"
            )
    con.close()
    data = path.read_bytes()
    assert data[100] == 0x05 and PARSER.sniff_path(str(path), data[:HEAD_BYTES])
    got, found = _parse(data)
    assert got == []
    assert [(w.location, w.count) for w in found] == [("schema", 0)]
    assert found[0].reason.startswith("SQLite database without a browser history's tables")


def test_truncated_copies(corpus: Path, tmp_path: Path) -> None:
    folder = corpus / ARTIFACTS / "browser"
    (tmp_path / "cut").mkdir()
    chrome = tmp_path / "cut/History"
    chrome.write_bytes((folder / "chrome/History").read_bytes()[:30_000])
    firefox = tmp_path / "cut/places.sqlite"
    firefox.write_bytes((folder / "firefox/places.sqlite").read_bytes()[: 39 * 4096])
    case, results = ingest(tmp_path, tmp_path / "cut")
    assert {n: summary(r) for n, r in results.items()} == {
        "History": ("partial", "browser_history", 0, 1, [
            ("database", 0, "not a readable SQLite database: database disk image is malformed", 1),
        ]),
        "places.sqlite": ("partial", "browser_history", 1, 1, [
            ("file", None, "truncated: the header says 40 pages of 4096 bytes (163,840 bytes), the file has 159,744", 0),
            ("table moz_places", None, "moz_places unreadable after rowid 65 (65 rows read): database disk image is malformed", 1),
        ]),
    }  # fmt: skip
    (visit,) = rows(case, firefox)  # the visit survives; its page (id 92) was in the lost pages
    assert (visit["datetime"], visit["url_full"], visit["message"]) == (
        _t(2011, 7, 1, 11, 16, 21, 371935), None, "visited url id 92 (not in the database)",
    )  # fmt: skip


def _chromium_db(path: Path, *, wal: bool = False) -> None:
    """The current Chromium schema (the columns read here), two visits and one download."""
    con = sqlite3.connect(path)
    if wal:
        con.execute("PRAGMA journal_mode = WAL")
    con.executescript(
        """
        CREATE TABLE urls(id INTEGER PRIMARY KEY AUTOINCREMENT, url LONGVARCHAR, title LONGVARCHAR,
            visit_count INTEGER DEFAULT 0 NOT NULL, typed_count INTEGER DEFAULT 0 NOT NULL,
            last_visit_time INTEGER NOT NULL, hidden INTEGER DEFAULT 0 NOT NULL);
        CREATE TABLE visits(id INTEGER PRIMARY KEY AUTOINCREMENT, url INTEGER NOT NULL,
            visit_time INTEGER NOT NULL, from_visit INTEGER, transition INTEGER DEFAULT 0 NOT NULL,
            segment_id INTEGER, visit_duration INTEGER DEFAULT 0 NOT NULL);
        CREATE TABLE downloads(id INTEGER PRIMARY KEY, guid VARCHAR NOT NULL, current_path LONGVARCHAR,
            target_path LONGVARCHAR, start_time INTEGER NOT NULL, received_bytes INTEGER NOT NULL,
            total_bytes INTEGER NOT NULL, state INTEGER NOT NULL, danger_type INTEGER NOT NULL,
            interrupt_reason INTEGER NOT NULL, end_time INTEGER NOT NULL, opened INTEGER NOT NULL,
            referrer VARCHAR NOT NULL, tab_url VARCHAR NOT NULL, mime_type VARCHAR(255) NOT NULL);
        CREATE TABLE downloads_url_chains(id INTEGER NOT NULL, chain_index INTEGER NOT NULL,
            url LONGVARCHAR NOT NULL, PRIMARY KEY (id, chain_index));
        """
    )
    start = _t(2024, 3, 1, 10, 0, 0, 123456)
    con.execute(
        "INSERT INTO urls VALUES (1, 'https://example.org/login', 'Log in', 2, 1, ?, 0)", (_webkit(start),)
    )
    con.execute("INSERT INTO visits VALUES (1, 1, ?, 0, ?, 0, 1500000)", (_webkit(start), 0x30000001))
    con.execute("INSERT INTO visits VALUES (2, 1, 0, 1, 0, 0, 0)")  # no time: kept, time null
    con.execute("INSERT INTO visits VALUES (3, 7, ?, 0, 8, 0, 0)", (_webkit(start) + 1,))  # url 7 not in urls
    con.execute(
        "INSERT INTO downloads VALUES (4, 'g', ?, ?, ?, 2048, 4096, 4, 8, 40, ?, 0, 'https://example.org/',"
        " 'https://example.org/get', 'application/octet-stream')",
        ("C:\\Users\\alice\\Downloads\\setup.exe.crdownload", "C:\\Users\\alice\\Downloads\\setup.exe",
         _webkit(_t(2024, 3, 1, 10, 5)), _webkit(_t(2024, 3, 1, 10, 5, 3))),
    )  # fmt: skip
    con.execute("INSERT INTO downloads_url_chains VALUES (4, 1, 'https://cdn.example.net/setup.exe')")
    con.execute("INSERT INTO downloads_url_chains VALUES (4, 0, 'https://example.org/get')")
    con.commit()
    con.close()


def test_current_chromium_schema_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "History"
    _chromium_db(path, wal=True)
    data = path.read_bytes()
    assert data[18:20] == b"\x02\x02"  # WAL mode in the header: read as the main file alone
    assert PARSER.sniff(data[:HEAD_BYTES])
    got, found = _parse(data)
    assert found == []
    assert [(r["source_record"], r["event_action"], r["datetime"], r["url_full"]) for r in got] == [
        (1, "page-visited", _t(2024, 3, 1, 10, 0, 0, 123456), "https://example.org/login"),
        (2, "page-visited", None, "https://example.org/login"),
        (3, "page-visited", _t(2024, 3, 1, 10, 0, 0, 123457), None),
        (4, "file-downloaded", _t(2024, 3, 1, 10, 5), "https://cdn.example.net/setup.exe"),
    ]  # fmt: skip
    one, two, three, download = got
    assert {k: one["fields"].get(k) for k in ("transition", "transition_qualifiers", "visit_duration_us")} == {
        "transition": "typed", "transition_qualifiers": "chain_start|chain_end", "visit_duration_us": "1500000",
    }  # fmt: skip
    assert (two["fields"]["visit_time"], two["fields"]["from_visit"]) == ("0", "1")
    assert (three["message"], three["fields"]["transition"]) == (
        "visited url id 7 (not in the database)",
        "reload",
    )
    assert download["file_path"] == "C:\\Users\\alice\\Downloads\\setup.exe"
    assert download["message"] == (
        "downloaded https://cdn.example.net/setup.exe to C:\\Users\\alice\\Downloads\\setup.exe "
        "(2048 of 4096 bytes, interrupted)"
    )
    assert {k: download["fields"].get(k) for k in ("danger_type", "state", "interrupt_reason", "end_time",
            "url_chain", "current_path", "tab_url")} == {
        "danger_type": "potentially_unwanted", "state": "interrupted", "interrupt_reason": "40",
        "end_time": "2024-03-01T10:05:03.000000Z",
        "url_chain": "https://example.org/get -> https://cdn.example.net/setup.exe",
        "current_path": "C:\\Users\\alice\\Downloads\\setup.exe.crdownload", "tab_url": "https://example.org/get",
    }  # fmt: skip
    assert not (tmp_path / "History-wal").exists()


def test_firefox_downloads_from_annotations(tmp_path: Path) -> None:
    path = tmp_path / "places.sqlite"
    con = sqlite3.connect(path)
    con.execute("PRAGMA page_size = 32768")  # Firefox's: page 1's cells lie past the head
    con.executescript(
        """
        CREATE TABLE moz_places(id INTEGER PRIMARY KEY, url LONGVARCHAR, title LONGVARCHAR,
            rev_host LONGVARCHAR, visit_count INTEGER DEFAULT 0, hidden INTEGER DEFAULT 0 NOT NULL,
            typed INTEGER DEFAULT 0 NOT NULL, frecency INTEGER DEFAULT -1 NOT NULL,
            last_visit_date INTEGER, guid TEXT);
        CREATE TABLE moz_historyvisits(id INTEGER PRIMARY KEY, from_visit INTEGER, place_id INTEGER,
            visit_date INTEGER, visit_type INTEGER, source INTEGER DEFAULT 0 NOT NULL);
        CREATE TABLE moz_anno_attributes(id INTEGER PRIMARY KEY, name VARCHAR(32) UNIQUE NOT NULL);
        CREATE TABLE moz_annos(id INTEGER PRIMARY KEY, place_id INTEGER NOT NULL, anno_attribute_id INTEGER,
            content LONGVARCHAR, flags INTEGER DEFAULT 0, expiration INTEGER DEFAULT 0,
            type INTEGER DEFAULT 0, dateAdded INTEGER DEFAULT 0, lastModified INTEGER DEFAULT 0);
        INSERT INTO moz_places(id, url, title, typed) VALUES (2, 'https://example.org/tool.zip', NULL, 0);
        INSERT INTO moz_anno_attributes VALUES (1, 'downloads/destinationFileURI'), (2, 'downloads/metaData');
        """
    )
    added = _t(2024, 3, 1, 10, 4, 59)
    con.execute("INSERT INTO moz_historyvisits VALUES (5, 0, 2, ?, 7, 0)", (_prtime(added),))
    con.execute(
        "INSERT INTO moz_annos(id, place_id, anno_attribute_id, content, dateAdded) VALUES (8, 2, 1, ?, ?)",
        ("file:///C:/Users/alice/Downloads/tool%20v2.zip", _prtime(added)),
    )
    con.execute(
        "INSERT INTO moz_annos(id, place_id, anno_attribute_id, content, dateAdded) VALUES (9, 2, 2, ?, ?)",
        ('{"state":1,"endTime":1709287500000,"fileSize":2048}', _prtime(added)),
    )
    con.commit()
    con.close()
    data = path.read_bytes()
    assert not PARSER.sniff(data[:HEAD_BYTES]) and PARSER.sniff_path(str(path), data[:HEAD_BYTES])
    got, found = _parse(data)
    assert found == []
    visit, download = got
    assert (visit["event_action"], visit["datetime"], visit["fields"]["transition"], visit["message"]) == (
        "page-visited", added, "download", "visited https://example.org/tool.zip",
    )  # fmt: skip
    assert (download["event_action"], download["timestamp_desc"], download["datetime"], download["source_record"],
            download["url_full"], download["file_path"]) == (
        "file-downloaded", "Created", added, 8, "https://example.org/tool.zip", "C:/Users/alice/Downloads/tool v2.zip",
    )  # fmt: skip
    assert {k: download["fields"].get(k) for k in ("state", "file_size", "end_time")} == {
        "state": "finished", "file_size": "2048", "end_time": "2024-03-01T10:05:00.000000Z",
    }  # fmt: skip


def test_a_visit_that_cannot_be_mapped_is_a_counted_warning(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = module._chromium_visit

    def broken(rowid: int, *args: object) -> object:
        if rowid == 17:
            raise ValueError("unexpected value")
        return real(rowid, *args)

    monkeypatch.setattr(module, "_chromium_visit", broken)
    got, found = _parse((corpus / ARTIFACTS / "browser/chrome/History").read_bytes())
    assert len(got) == 70 and 17 not in [
        r["source_record"] for r in got if r["event_action"] == "page-visited"
    ]
    assert found == [ParseWarning("visits rowid 17", None, "ValueError: unexpected value", 1)]


def test_transition_codes() -> None:
    assert chromium_transition(0x30000000) == ("link", "chain_start|chain_end")
    assert chromium_transition(0xA0000001) == ("typed", "chain_end|server_redirect")
    assert chromium_transition(0x0100000B) == ("core_11", "forward_back")


def test_evidence_copy_is_never_written(corpus: Path, tmp_path: Path) -> None:
    """Parsing reads bytes from the handle only: a copy opened read-only stays byte-identical and
    no sidecar appears beside it."""
    copy = tmp_path / "History"
    shutil.copyfile(corpus / ARTIFACTS / "browser/chrome/History", copy)
    copy.chmod(0o444)
    with open(copy, "rb") as fh:
        list(PARSER.parse(fh, None, Options()))
    assert _sha256(copy) == CHROME_SHA256
    assert sorted(p.name for p in tmp_path.iterdir()) == ["History"]
