"""utmp/wtmp/btmp: plaso's utmp and wtmp.1 (empty slots, a trailing byte), a btmp record built
here, sniffing against text and zeros."""

from __future__ import annotations

import io
import struct
from datetime import UTC, datetime
from pathlib import Path

from parsers.base import HEAD_BYTES, Options
from parsers.utmp import RECORD_SIZE, UtmpParser
from tests.parsers.evtx_helpers import parse_file

PARSER = UtmpParser()


def _record(kind: int, pid: int, line: bytes, user: bytes, host: bytes, sec: int, addr: bytes = b"") -> bytes:
    raw = struct.pack(
        "<hxxi32s4s32s256shhiii16s20x", kind, pid, line, line[-4:], user, host, 0, 0, 0, sec, 5, addr
    )
    assert len(raw) == RECORD_SIZE
    return raw


def test_plaso_utmp(corpus: Path) -> None:
    rows, found = parse_file(PARSER, corpus / "linux/auth/plaso/utmp")
    assert (len(rows), found) == (14, [])
    assert [r["event_action"] for r in rows[:3]] == ["boot", "runlevel-change", "login-prompt"]
    boot = rows[0]
    assert (boot["datetime"], boot["user_name"], dict(boot["fields"])["kernel"]) == (
        datetime(2013, 12, 13, 14, 45, 9, 688666, tzinfo=UTC), None, "3.8.0-33-generic",
    )  # fmt: skip
    assert dict(rows[1]["fields"])["runlevel"] == "2"
    last = rows[-1]
    assert (last["event_action"], last["user_name"], last["process_pid"], dict(last["fields"])["tty"]) == (
        "user-login", "moxilo", 2684, "pts/5",
    )  # fmt: skip
    assert last["message"] == "user-login: moxilo on pts/5 from :0"


def test_plaso_wtmp_with_empty_slots_and_a_trailing_byte(corpus: Path) -> None:
    rows, found = parse_file(PARSER, corpus / "linux/auth/plaso/wtmp.1")
    assert [
        (r["source_record"], r["datetime"], r["event_action"], r["user_name"], r["source_ip"]) for r in rows
    ] == [
        (1, datetime(2011, 12, 1, 17, 36, 38, 432935, tzinfo=UTC), "user-login", "userA", "10.10.122.1"),
        (2, datetime(2011, 12, 2, 0, 21, 18, 725048, tzinfo=UTC), "user-logout", None, None),
    ]
    assert [(w.location, w.offset, w.reason, w.count) for w in found] == [
        ("record 5", 1536, "trailing 1 bytes, not a whole record", 1),
        ("file", None, "2 empty records (ut_type 0) skipped", 0),
    ]


def test_btmp_failed_login_and_ipv6() -> None:
    data = _record(6, 4242, b"ssh:notty", b"oracle", b"198.51.100.9", 1_700_000_000, bytes([198, 51, 100, 9]))
    data += _record(
        7, 4243, b"pts/1", b"bob", b"2001:db8::1", 1_700_000_100, bytes.fromhex("20010db8" + "0" * 23 + "1")
    )
    assert PARSER.sniff(data)
    rows = [r for b in PARSER.parse(io.BytesIO(data), None, Options()) for r in b.to_pylist()]
    assert [(r["event_action"], r["user_name"], r["source_ip"]) for r in rows] == [
        ("login-failed", "oracle", "198.51.100.9"),
        ("user-login", "bob", "2001:db8::1"),
    ]
    assert rows[0]["datetime"] == datetime(2023, 11, 14, 22, 13, 20, 5, tzinfo=UTC)


def test_sniff(corpus: Path) -> None:
    for name in ("utmp", "wtmp.1"):
        assert PARSER.sniff((corpus / "linux/auth/plaso" / name).read_bytes()[:HEAD_BYTES])
    assert not PARSER.sniff(b"\x00" * HEAD_BYTES)
    assert not PARSER.sniff(b"Mar 10 12:05:03 host sshd[1]: x\n" * 200)
    assert not PARSER.sniff(b"\x07\x00\x00\x00" + b"\xff" * 380)  # garbage strings and time
