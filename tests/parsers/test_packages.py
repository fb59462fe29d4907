"""Debian package logs: plaso's dpkg.log and apt history.log, local time zones, odd lines."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from parsers.base import HEAD_BYTES, Options
from parsers.packages import PackagesParser
from tests.parsers.evtx_helpers import parse_file

PARSER = PackagesParser()


def test_plaso_dpkg_log(corpus: Path) -> None:
    rows, found = parse_file(PARSER, corpus / "linux/pkg/plaso/dpkg.log")
    assert found == []
    assert [(r["datetime"], r["event_action"], r["timestamp_desc"]) for r in rows] == [
        (datetime(2009, 2, 25, 11, 45, 23, tzinfo=UTC), "package-conffile", "Event Recorded"),
        (datetime(2016, 8, 3, 15, 25, 53, tzinfo=UTC), "dpkg-startup", "Event Recorded"),
        (datetime(2016, 8, 6, 17, 35, 39, tzinfo=UTC), "package-install", "Installed"),
        (datetime(2016, 8, 9, 4, 57, 14, tzinfo=UTC), "package-status", "Event Recorded"),
    ]
    assert rows[0]["file_path"] == "/etc/X11/Xsession"
    assert dict(rows[2]["fields"]) == {
        "log": "dpkg", "time_zone": "UTC", "package": "base-passwd:amd64", "version": "3.5.33",
    }  # fmt: skip
    assert dict(rows[3]["fields"])["state"] == "half-installed"


def test_plaso_apt_history(corpus: Path) -> None:
    rows, found = parse_file(
        PARSER, corpus / "linux/pkg/plaso/apt_history.log", Options(timezone="Europe/Berlin")
    )
    assert found == []
    # 10 apt runs; every package in their Install/Upgrade/Remove/Purge lists is a row.
    assert Counter(r["event_action"] for r in rows) == {
        "package-install": 780, "package-upgrade": 8, "package-remove": 8, "package-purge": 1,
    }  # fmt: skip
    first = rows[0]  # Start-Date: 2019-07-10  16:38:08, local time in Berlin (CEST)
    assert first["datetime"] == datetime(2019, 7, 10, 14, 38, 8, tzinfo=UTC)
    assert first["process_command_line"] == "apt-get upgrade --no-install-recommends --assume-yes"
    assert dict(first["fields"]) == {
        "log": "apt", "time_zone": "Europe/Berlin", "end_date": "2019-07-10  16:38:10",
        "old_version": "1:9.10.3.dfsg.P4-12.3+deb9u4", "package": "libdns-export162:amd64",
        "version": "1:9.10.3.dfsg.P4-12.3+deb9u5",
    }  # fmt: skip
    requested = [r for r in rows if r["user_name"]]
    assert {r["user_name"] for r in requested} == {"jxs"} and len(requested) == 543
    auto = sum(dict(r["fields"]).get("automatic") == "true" for r in rows)
    assert auto == 728
    errors = {dict(r["fields"]).get("error") for r in rows} - {None}
    assert errors == {"Sub-process /usr/bin/dpkg returned an error code (1)"}


def test_odd_lines_and_sniff() -> None:
    text = b"2024-01-01 10:00:00 install a:amd64 <none> 1.0\nrubbish\n2024-01-01 10:00:01 remove a:amd64 1.0 <none>\n"
    items = list(PARSER.parse(io.BytesIO(text), None, Options()))
    rows = [r for i in items if hasattr(i, "to_pylist") for r in i.to_pylist()]
    assert [(r["event_action"], dict(r["fields"])["version"]) for r in rows] == [
        ("package-install", "1.0"),
        ("package-remove", "1.0"),
    ]
    assert [(w.location, w.offset, w.reason) for w in items if not hasattr(w, "to_pylist")] == [
        ("line 2", 47, "not a dpkg.log line")
    ]
    assert PARSER.sniff(b"\nStart-Date: 2019-07-10  16:38:08\nCommandline: apt-get upgrade\n")
    assert PARSER.sniff(text[:HEAD_BYTES])
    assert not PARSER.sniff(b"2022-04-12 00:16:05.526 UTC [7755] LOG:  starting PostgreSQL\n")
