"""PostgreSQL server logs (``stderr`` destination, ``/var/log/postgresql/postgresql-*.log``) -> one
row per logged message, with connections, authentication and statements mapped to actions.

Each message starts with the server's ``log_line_prefix`` and a severity,
``<prefix><SEVERITY>:  <text>``; the prefix is configurable, so it is read by its parts: a
time (``%m`` with milliseconds or ``%t`` without, followed by the zone abbreviation), then
any of ``[pid]`` / ``[pid-line]`` (``%p``, ``%l``), ``[line-1]``, ``user@database``
(``%u@%d``, ``[unknown]`` before authentication), ``key=value,...`` pairs (``user=``, ``db=``,
``app=``, ``client=``/``host=``) and ``host(port)`` (``%r``). Covered shapes include the
default ``%m [%p] ``, Debian's ``%m [%p] %q%u@%d `` and pgBadger's
``%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ``. The server indents every further line
of a message with a tab (``append_with_tabs``): an indented line continues the message before
it, any other line that is not a message is a warning. DETAIL, HINT, CONTEXT, STATEMENT, QUERY
and LOCATION lines belong to the message before them (same process): they are kept in its
fields (``detail``, ``hint``...), not as rows of their own.

Times: UTC/GMT and numeric offsets are exact; a zone abbreviation is read with the host's zone
(``Options.timezone``) when that zone uses the abbreviation at that time, else with a table of
unambiguous abbreviations (AEST, CEST, EST, PDT...); any other (CST, IST: several zones use
them) is read in ``Options.timezone`` with a note. ``time_zone`` states the abbreviation
written and ``utc_offset`` the offset applied.

Actions: ``postgres-connection-received``, ``-connection-authorized``,
``-connection-authenticated``, ``-auth-failed`` (password/ident/peer... failures, unknown
role), ``-auth-rejected`` (no pg_hba.conf entry), ``-disconnection``, ``-statement``
(``log_statement``, ``log_min_duration_statement``), ``-start``, ``-ready``,
``-shutdown-request``, ``-stopped``; any other message is ``postgres-log``. User and client
address go into ``user_name``, ``source_ip`` and ``source_port``; the database into fields.

References: PostgreSQL documentation, "Error Reporting and Logging" (``log_line_prefix``
escapes, https://www.postgresql.org/docs/current/runtime-config-logging.html); PostgreSQL
``src/backend/utils/error/elog.c`` (``send_message_to_server_log``: ``"%s:  "`` after the
severity); ``src/backend/libpq/auth.c`` and ``postmaster.c`` (connection messages).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, BinaryIO

import pyarrow as pa

from parsers.base import Options, Parser, ParseWarning, row_message
from parsers.textlog import Row, batched, head_lines, host_zone, numbered_lines

__all__ = ["PostgresqlParser", "read_postgresql"]

_SEVERITIES = (
    "DEBUG1|DEBUG2|DEBUG3|DEBUG4|DEBUG5|DEBUG|INFO|NOTICE|WARNING|ERROR|LOG|FATAL|PANIC|"
    "DETAIL|HINT|QUERY|CONTEXT|LOCATION|STATEMENT"
)
_HEADER = re.compile(
    r"(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(?:\.(?P<ms>\d{1,6}))?"
    r"(?: (?P<tz>[A-Za-z][A-Za-z0-9]{0,5}|[+-]\d\d(?::?\d\d)?))?"
    rf"(?P<prefix>(?: +\S+){{0,8}}?) +(?P<severity>{_SEVERITIES}):  ?(?P<text>.*)$"
)
_PID = re.compile(r"\[(?P<pid>\d+)(?:-(?P<line>\d+))?\]:?")
_SESSION_LINE = re.compile(r"\[(?P<line>\d+)-\d+\]")
_USER_DB = re.compile(r"(?P<user>[^@\s=]*)@(?P<db>[^@\s=]*)")
_PAIR = re.compile(r"(?P<key>[a-z_]+)=(?P<value>[^,]*)")
_REMOTE = re.compile(r"(?P<host>[^()\s]+)\((?P<port>\d+)\)")
_ATTACHED = frozenset({"DETAIL", "HINT", "QUERY", "CONTEXT", "LOCATION", "STATEMENT"})
_UTC_NAMES = frozenset({"UTC", "GMT", "UCT", "UT", "Z", "ZULU"})
#: Zone abbreviations that name one offset wherever they are used (hours east of UTC).
ABBREVIATIONS: dict[str, float] = {
    "WET": 0, "WEST": 1, "BST": 1, "CET": 1, "CEST": 2, "MET": 1, "MEST": 2, "EET": 2, "EEST": 3,
    "MSK": 3, "SAST": 2, "WAT": 1, "CAT": 2, "EAT": 3, "PKT": 5, "HKT": 8, "AWST": 8, "JST": 9,
    "KST": 9, "ACST": 9.5, "ACDT": 10.5, "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13,
    "HST": -10, "AKST": -9, "AKDT": -8, "PST": -8, "PDT": -7, "MST": -7, "MDT": -6, "CDT": -5,
    "EST": -5, "EDT": -4, "AST": -4, "ADT": -3, "NST": -3.5, "NDT": -2.5,
}  # fmt: skip
_PAIR_KEYS = {
    "user": "user_name", "usr": "user_name", "db": "database", "database": "database",
    "app": "application_name", "application": "application_name", "client": "client", "host": "client",
    "remote": "client",
}  # fmt: skip
#: (pattern on the message, event_action); named groups fill core columns or fields.
_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.S), action)
    for pattern, action in (
        (r"connection received: host=(?P<client>[^\s(]+?)(?: port=(?P<source_port>\d+))?$",
         "postgres-connection-received"),
        (r"(?:replication )?connection authorized: user=(?P<user_name>\S+)(?: database=(?P<database>\S+))?"
         r"(?: application_name=(?P<application_name>.*?))?(?: (?:SSL|GSS) .*)?$", "postgres-connection-authorized"),
        (r'connection authenticated: identity="(?P<identity>[^"]*)" method=(?P<auth_method>\S+)',
         "postgres-connection-authenticated"),
        (r'(?P<auth_method>[\w-]+) authentication failed for user "(?P<user_name>[^"]*)"', "postgres-auth-failed"),
        (r'role "(?P<user_name>[^"]*)" does not exist', "postgres-auth-failed"),
        (r'no pg_hba\.conf entry for (?:replication connection from )?host "(?P<client>[^"]*)", '
         r'user "(?P<user_name>[^"]*)"(?:, database "(?P<database>[^"]*)")?', "postgres-auth-rejected"),
        (r"disconnection: session time: (?P<session_time>\S+) user=(?P<user_name>\S+) database=(?P<database>\S+) "
         r"host=(?P<client>[^\s(]+)(?: port=(?P<source_port>\d+))?", "postgres-disconnection"),
        (r"(?:duration: (?P<duration>[\d.]+ ms) +)?(?P<statement_kind>statement|execute [^:]*|parse [^:]*|"
         r"bind [^:]*): (?P<statement>.*)", "postgres-statement"),
        (r"starting PostgreSQL (?P<version>\S+)", "postgres-start"),
        (r"database system is ready to accept (?:read-only )?connections", "postgres-ready"),
        (r"received (?P<shutdown_mode>smart|fast|immediate) shutdown request", "postgres-shutdown-request"),
        (r"database system is shut down", "postgres-stopped"),
    )
)  # fmt: skip


@dataclass(slots=True)
class _Entry:
    line: int
    when: datetime
    severity: str
    text: str
    pid: int | None
    prefix: dict[str, str | None]
    fields: dict[str, str | None] = field(default_factory=dict)


def _ip(text: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(text or ""))
    except ValueError:
        return None


def _offset_text(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02}:{abs(minutes) % 60:02}"


class _Zones:
    """Zone abbreviations -> UTC offsets, with the host's zone first (see the module notes)."""

    def __init__(self, tz: tzinfo, tz_name: str) -> None:
        self.tz, self.tz_name = tz, tz_name
        self.unknown: dict[str, int] = {}

    def to_utc(self, local: datetime, name: str | None) -> tuple[datetime, dict[str, str | None]]:
        if name is None:
            return local.replace(tzinfo=self.tz).astimezone(UTC), {"time_zone": self.tz_name}
        fields: dict[str, str | None] = {"time_zone": name}
        upper = name.upper()
        if upper in _UTC_NAMES:
            return local.replace(tzinfo=UTC), fields
        if name[0] in "+-":
            digits = name[1:].replace(":", "")
            offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
            offset = -offset if name[0] == "-" else offset
        else:
            aware = local.replace(tzinfo=self.tz)
            if aware.tzname() == name and aware.utcoffset() is not None:
                offset = aware.utcoffset()  # type: ignore[assignment]
            elif upper in ABBREVIATIONS:
                offset = timedelta(hours=ABBREVIATIONS[upper])
            else:
                self.unknown[name] = self.unknown.get(name, 0) + 1
                fields["time_zone_assumed"] = self.tz_name
                when = aware.astimezone(UTC)
                fields["utc_offset"] = _offset_text(aware.utcoffset() or timedelta(0))
                return when, fields
        fields["utc_offset"] = _offset_text(offset)
        return (local - offset).replace(tzinfo=UTC), fields


def _prefix(text: str) -> tuple[int | None, dict[str, str | None]]:
    """The parts of a log_line_prefix after the time: pid, session line, user, database, client."""
    out: dict[str, str | None] = {}
    pid = None
    rest: list[str] = []
    for token in text.split():
        if (m := _PID.fullmatch(token)) and pid is None:
            pid = int(m["pid"])
            if m["line"]:
                out["session_line"] = m["line"]
        elif m := _SESSION_LINE.fullmatch(token):
            out["session_line"] = m["line"]
        elif m := _USER_DB.fullmatch(token):
            out["user_name"], out["database"] = m["user"], m["db"]
        elif m := _REMOTE.fullmatch(token):
            out["client"], out["source_port"] = m["host"], m["port"]
        elif "=" in token and all(_PAIR.fullmatch(p) for p in token.rstrip(",").split(",")):
            for pair in token.rstrip(",").split(","):
                key, _, value = pair.partition("=")
                out[_PAIR_KEYS.get(key, key)] = value
        else:
            rest.append(token)
    if rest:
        out["prefix"] = " ".join(rest)
    return pid, {k: None if v in ("", "[unknown]") else v for k, v in out.items()}


def read_postgresql(fh: BinaryIO, options: Options, source: str) -> Iterator[Row | ParseWarning]:
    """Log messages -> rows; warnings for lines that are not messages."""
    tz, tz_name, note = host_zone(options)
    if note:
        yield note
    zones = _Zones(tz, tz_name)
    pending: _Entry | None = None
    for number, offset, text in numbered_lines(fh):
        if not text.strip():
            continue
        where = f"line {number}"
        m = _HEADER.match(text)
        if m is None:
            if not text[:1].isspace():
                yield ParseWarning(where, offset, f"not a PostgreSQL log line: {text[:60]!r}")
            elif pending is None:
                yield ParseWarning(where, offset, "text before the first PostgreSQL log line")
            else:
                target = pending.fields.get("_attached")
                if target:
                    pending.fields[target] = f"{pending.fields[target]}\n{text.strip()}"
                else:
                    pending.text += "\n" + text.strip()
            continue
        try:
            local = datetime.strptime(m["ts"], "%Y-%m-%d %H:%M:%S")
        except ValueError:
            yield ParseWarning(where, offset, f"invalid time {m['ts']!r}")
            continue
        local = local.replace(microsecond=int((m["ms"] or "0").ljust(6, "0")))
        when, time_fields = zones.to_utc(local, m["tz"])
        pid, prefix = _prefix(m["prefix"])
        severity = m["severity"]
        if severity in _ATTACHED and pending is not None and pending.pid == pid:
            key = severity.lower()
            old = pending.fields.get(key)
            pending.fields[key] = f"{old}\n{m['text']}" if old else m["text"]
            pending.fields["_attached"] = key
            continue
        if pending is not None:
            yield _row(pending, source)
        pending = _Entry(number, when, severity, m["text"], pid, prefix, dict(time_fields))
    if pending is not None:
        yield _row(pending, source)
    for name, count in zones.unknown.items():
        yield ParseWarning(
            "file",
            None,
            f"time zone abbreviation {name!r} is used by several zones: {count} lines read in {tz_name}",
            0,
        )


def _row(entry: _Entry, source: str) -> Row:
    fields = {k: v for k, v in entry.fields.items() if k != "_attached"}
    fields["severity"] = entry.severity
    values: dict[str, str | None] = dict(entry.prefix)
    action = "postgres-log"
    for pattern, name in _RULES:
        if m := pattern.match(entry.text):
            action = name
            values.update({k: v for k, v in m.groupdict().items() if v is not None})
            break
    client = values.pop("client", None)
    user = values.pop("user_name", None) or None
    port = values.pop("source_port", None)
    row: dict[str, Any] = {
        "datetime": entry.when,
        "timestamp_desc": "Event Recorded",
        "message": row_message(f"{entry.severity}: {entry.text}"),
        "source": source,
        "source_record": entry.line,
        "event_action": action,
        "process_executable": "postgres",
        "process_pid": entry.pid,
        "user_name": user,
        "source_ip": _ip(client),
        "source_port": int(port) if port else None,
    }
    if client and row["source_ip"] is None:
        fields["client"] = client
    fields.update(values)
    return row, {k: v for k, v in fields.items() if v is not None}


class PostgresqlParser(Parser):
    """PostgreSQL server logs (stderr format, any common log_line_prefix)."""

    name = "postgresql"

    def sniff(self, head: bytes) -> bool:
        lines = head_lines(head, 10)
        if not lines or not _HEADER.match(lines[0]):
            return False
        return sum(1 for line in lines if _HEADER.match(line) or line[:1] in " \t") * 2 >= len(lines)

    def parse(self, fh: BinaryIO, unit: object, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        yield from batched(read_postgresql(fh, options, self.name), options.batch_rows)
