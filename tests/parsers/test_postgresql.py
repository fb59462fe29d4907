"""PostgreSQL: plaso's server log (restarts, failed password logins with their DETAIL, an AEST line),
log_line_prefix variants, zone abbreviations, odd lines, strict sniffing."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from parsers import sniff
from parsers.base import Options, ParseWarning
from parsers.postgresql import PostgresqlParser
from tests.parsers.artifact_helpers import ingest, parse_bytes, summary
from tests.parsers.evtx_helpers import parse_file

PARSER = PostgresqlParser()
LOG = "linux/services/plaso/postgresql.log"
HBA = 'Connection matched pg_hba.conf line 96: "host    all             all             127.0.0.1/32            md5"'


def _rows(path: Path, options: Options | None = None) -> tuple[list[dict], list[ParseWarning]]:
    out, found = parse_file(PARSER, path, options)
    for row in out:
        row["fields"] = dict(row["fields"])
    return sorted(out, key=lambda r: r["source_record"]), found


def _text(text: str, options: Options) -> tuple[list[dict], list[ParseWarning]]:
    out, found = parse_bytes(PARSER, text.encode(), options)
    return sorted(out, key=lambda r: r["source_record"]), found


def test_plaso_postgresql_log(corpus: Path) -> None:
    got, found = _rows(corpus / LOG)
    # 22 lines: 20 messages, of which 2 are DETAIL lines kept with the FATAL before them, each
    # with one continuation line.
    assert found == [] and len(got) == 18
    assert Counter(r["event_action"] for r in got) == {
        "postgres-log": 10, "postgres-start": 2, "postgres-ready": 2, "postgres-auth-failed": 2,
        "postgres-shutdown-request": 1, "postgres-stopped": 1,
    }  # fmt: skip
    first = got[0]
    assert first["datetime"] == datetime(2022, 4, 12, 0, 16, 5, 526000, tzinfo=UTC)
    assert (first["event_action"], first["process_pid"], first["process_executable"]) == (
        "postgres-start", 7755, "postgres",
    )  # fmt: skip
    assert first["fields"] == {"time_zone": "UTC", "severity": "LOG", "version": "12.9"}
    failed = [r for r in got if r["event_action"] == "postgres-auth-failed"]
    assert [(r["source_record"], r["datetime"], r["process_pid"]) for r in failed] == [
        (16, datetime(2022, 4, 12, 0, 24, 24, 741000, tzinfo=UTC), 9158),
        (19, datetime(2022, 4, 12, 0, 25, 37, 732000, tzinfo=UTC), 9163),
    ]
    assert failed[0]["user_name"] == "postgres"
    assert failed[0]["message"] == 'FATAL: password authentication failed for user "postgres"'
    assert failed[0]["fields"] == {
        "time_zone": "UTC", "severity": "FATAL", "database": "postgres", "auth_method": "password",
        "detail": f'User "postgres" has no password assigned.\n{HBA}',
    }  # fmt: skip
    shutdown = next(r for r in got if r["event_action"] == "postgres-shutdown-request")
    assert (shutdown["datetime"], shutdown["fields"]["shutdown_mode"]) == (
        datetime(2022, 4, 12, 0, 24, 2, 304000, tzinfo=UTC), "fast",
    )  # fmt: skip
    # The last line has another prefix: %t (no milliseconds) in AEST, [%p-%l], user@database.
    last = got[-1]
    assert last["datetime"] == datetime(2022, 7, 15, 13, 4, 27, tzinfo=UTC)  # 23:04:27 AEST (UTC+10)
    assert (last["source_record"], last["process_pid"], last["user_name"]) == (22, 203851, "user")
    assert last["fields"] == {
        "time_zone": "AEST", "utc_offset": "+10:00", "severity": "LOG", "session_line": "1",
        "database": "databasename",
    }  # fmt: skip
    assert last["message"] == "LOG: could not receive data from client: Connection reset by peer"


def test_log_line_prefix_variants_and_zones() -> None:
    text = (
        "2024-03-01 10:00:00 CET [4242]: [1-1] user=[unknown],db=[unknown],app=[unknown],client=10.1.2.3 "
        "LOG:  connection received: host=10.1.2.3 port=51234\n"
        "2024-03-01 10:00:01 CET [4242]: [2-1] user=alice,db=shop,app=psql,client=10.1.2.3 "
        "LOG:  connection authorized: user=alice database=shop application_name=psql\n"
        "2024-03-01 03:00:02.5 CST [4242] alice@shop 10.1.2.3(51234) LOG:  duration: 0.321 ms  statement: SELECT *\n"
        "\tFROM users;\n"
        '2024-03-01 14:30:03 +0530 [4243] ERROR:  syntax error at or near "x"\n'
        "2024-03-01 14:30:03 +0530 [4243] STATEMENT:  x\n"
        '2024-03-01 10:00:04 CET [4244] FATAL:  no pg_hba.conf entry for host "192.0.2.9", user "mallory", '
        'database "shop", no encryption\n'
        "2024-03-01 10:00:05 CET [4242]: [9-1] user=alice,db=shop,app=psql,client=10.1.2.3 LOG:  disconnection: "
        "session time: 0:00:05.123 user=alice database=shop host=10.1.2.3 port=51234\n"
    )
    # The host is in Chicago: CST is its zone's abbreviation in March, so it is read as UTC-6.
    got, found = _text(text, Options(timezone="America/Chicago"))
    assert found == []
    assert [(r["source_record"], r["datetime"], r["event_action"]) for r in got] == [
        (1, datetime(2024, 3, 1, 9, 0, 0, tzinfo=UTC), "postgres-connection-received"),
        (2, datetime(2024, 3, 1, 9, 0, 1, tzinfo=UTC), "postgres-connection-authorized"),
        (3, datetime(2024, 3, 1, 9, 0, 2, 500000, tzinfo=UTC), "postgres-statement"),
        (5, datetime(2024, 3, 1, 9, 0, 3, tzinfo=UTC), "postgres-log"),
        (7, datetime(2024, 3, 1, 9, 0, 4, tzinfo=UTC), "postgres-auth-rejected"),
        (8, datetime(2024, 3, 1, 9, 0, 5, tzinfo=UTC), "postgres-disconnection"),
    ]
    received, authorized, statement, error, rejected, gone = got
    assert (received["source_ip"], received["source_port"], received["user_name"]) == (
        "10.1.2.3",
        51234,
        None,
    )
    assert "application_name" not in received["fields"]  # [unknown] before authentication
    assert (authorized["user_name"], authorized["fields"]["database"]) == ("alice", "shop")
    assert authorized["fields"]["application_name"] == "psql"
    assert (statement["user_name"], statement["source_ip"], statement["source_port"]) == (
        "alice",
        "10.1.2.3",
        51234,
    )
    assert statement["fields"]["statement"] == "SELECT *\nFROM users;"
    assert statement["fields"]["duration"] == "0.321 ms" and statement["fields"]["utc_offset"] == "-06:00"
    assert error["fields"]["statement"] == "x" and error["fields"]["utc_offset"] == "+05:30"
    assert (rejected["user_name"], rejected["source_ip"], rejected["fields"]["database"]) == (
        "mallory", "192.0.2.9", "shop",
    )  # fmt: skip
    assert (gone["fields"]["session_time"], gone["source_port"]) == ("0:00:05.123", 51234)
    # Elsewhere CST is ambiguous (US Central, China, Cuba): read in the host's zone, with a note.
    got, found = _text(text, Options(timezone="UTC"))
    assert got[2]["datetime"] == datetime(2024, 3, 1, 3, 0, 2, 500000, tzinfo=UTC)
    assert got[2]["fields"]["time_zone_assumed"] == "UTC"
    assert [(w.location, w.reason, w.count) for w in found] == [
        ("file", "time zone abbreviation 'CST' is used by several zones: 1 lines read in UTC", 0)
    ]


def test_odd_lines_are_located_warnings(corpus: Path, tmp_path: Path) -> None:
    path = tmp_path / "postgresql-12-main.log"
    shutil.copy(corpus / LOG, path)
    lines = path.read_text().splitlines()
    lines.insert(0, "\tcontinuation before any message")
    lines.insert(3, "2022-04-12 00:16:0 UTC [7755] LOG:  cut short")
    lines.insert(4, "pg_ctl: another server might be running")
    path.write_text("\n".join(lines) + "\n")
    got, found = _rows(path)
    assert len(got) == 18
    assert [(w.location, w.reason) for w in found] == [
        ("line 1", "text before the first PostgreSQL log line"),
        ("line 4", "not a PostgreSQL log line: '2022-04-12 00:16:0 UTC [7755] LOG:  cut short'"),
        ("line 5", "not a PostgreSQL log line: 'pg_ctl: another server might be running'"),
    ]
    assert found[1].offset == len(lines[0]) + len(lines[1]) + len(lines[2]) + 3
    # A file must start with a message to be recognised: without its first line, the copy is
    # partial through the ingest, with the two other warnings.
    path.write_text("\n".join(lines[1:]) + "\n")
    _, results = ingest(tmp_path, path)
    status, parser, records, lost, warnings = summary(results[path.name])
    assert (status, parser, records, lost) == ("partial", "postgresql", 18, 2)
    assert [w[0] for w in warnings] == ["line 3", "line 4"]


def test_corpus_file_through_the_ingest(corpus: Path, tmp_path: Path) -> None:
    _, results = ingest(tmp_path, corpus / LOG)
    assert summary(results["postgresql.log"]) == ("ok", "postgresql", 18, 0, [])


def test_sniff_is_strict() -> None:
    assert sniff(b"2022-04-12 00:16:05.526 UTC [7755] LOG:  starting PostgreSQL 12.9\n").name == "postgresql"
    assert not PARSER.sniff(b"2022-04-12 00:16:05 install base-passwd:amd64 <none> 3.5.33\n")
    assert not PARSER.sniff(b"2022-04-12 00:16:05,123 INFO [main] LOG: something\n")
    assert not PARSER.sniff(b"2022-04-12T00:16:05Z host postgres[1]: [1-1] LOG:  x\n")
