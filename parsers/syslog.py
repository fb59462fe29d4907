"""Syslog files (``/var/log/syslog``, ``messages``, ``auth.log``, ``secure``, ``cron``) -> rows,
with the authentication lines (sshd, PAM, sudo, su, account changes, cron) mapped to actions.

Three line shapes: BSD / RFC 3164 (``Mar 10 12:05:03 host prog[pid]: msg``, optionally with a
``<pri>`` and fractional seconds), the same with an ISO 8601 time as modern rsyslog writes it
(``2026-03-10T12:05:03.123456+01:00 host prog[pid]: msg``; ChromeOS puts a severity where the
host goes), and RFC 5424 (``<pri>1 time host app procid msgid [sd] msg``). A line that does not
start with a header continues the previous message (an embedded newline); one that starts like
a header but is not one (``MMM 22``, a date without a time) is a warning.

BSD times have no year and no zone. The year is inferred backwards from the file's
modification time (``Options.file_mtime``, the latest possible time of the last line): each
month that is earlier than the line before it starts a new year. The zone is the host's
(``Options.timezone``). Both assumptions are stated in the row's fields (``year_inferred``,
``time_zone``).

References: RFC 3164 and RFC 5424 (https://www.rfc-editor.org/rfc/rfc5424); rsyslog's
``RSYSLOG_FileFormat`` template; OpenSSH ``auth.c``/``auth2.c`` log messages; Linux-PAM
``pam_unix``; sudo's log format (sudoers(5), "Log format"); shadow-utils (useradd, usermod).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any, BinaryIO

import pyarrow as pa

from forensics.timeutil import local_to_utc, parse_iso
from parsers.base import Options, Parser, ParseWarning
from parsers.textlog import Row, batched, head_lines, host_zone, latest_time, numbered_lines

__all__ = ["Entry", "SyslogParser", "read_syslog", "to_row"]

MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
FACILITIES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp",
    "ntp", "security", "console", "solaris-cron", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
)  # fmt: skip
SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
#: Severity words ChromeOS writes where the host name goes.
_SEVERITY_WORDS = frozenset(
    ("EMERG", "ALERT", "CRIT", "ERR", "ERROR", "WARNING", "WARN", "NOTICE", "INFO", "DEBUG")
)

_BSD = re.compile(
    r"(?:<(?P<pri>\d{1,3})>)?(?P<mon>[A-Za-z]{3}) +(?P<day>\d{1,2}) "
    r"(?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d)(?:\.(?P<frac>\d{1,9}))?(?P<colon>:)?(?: +|$)"
)
_ISO = re.compile(
    r"(?:<(?P<pri>\d{1,3})>)?(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?)(?: +|$)"
)
_RFC5424 = re.compile(
    r"<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) (?P<msgid>\S+) ?"
)
_SD = re.compile(r'(?:\[[^\]"\\]*(?:(?:"(?:[^"\\]|\\.)*"|\\.)[^\]"\\]*)*\])+')
_SD_ELEMENT = re.compile(r'\[(?P<id>[^\s\]]+)(?P<params>(?:\s+[^=\s]+="(?:[^"\\]|\\.)*")*)\s*\]')
_SD_PARAM = re.compile(r'([^=\s]+)="((?:[^"\\]|\\.)*)"')
#: Looks like the start of a header; a line like this that does not parse is a warning, not a
#: continuation of the previous message.
_HEADERISH = re.compile(r"(?:<\d{1,3}>)?(?:[A-Za-z]{3} +\d{1,2}(?:\s|$)|\d{4}-\d\d-\d\d[T ]\d)")
_TAG = re.compile(r"(?P<prog>[^\s\[\]:]+)(?:\[(?P<pid>\d+)\])?:(?:\s+|$)")
_REPEATED = re.compile(r"message repeated (\d+) times: \[\s*(.*?)\]?$", re.S)


# --- reading ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Entry:
    """One syslog message as written: its header parts and its (possibly multi-line) text."""

    line: int
    offset: int
    when: datetime | None
    host: str | None
    program: str | None
    pid: int | None
    message: str
    extra: dict[str, str] = field(default_factory=dict)


class _Years:
    """Year inference for BSD times: the first line's year, then one more at each month that is
    earlier than the previous line's (read forwards, this is the backwards walk from the end)."""

    def __init__(self, first_year: int) -> None:
        self.year = first_year
        self.month = 0

    def next(self, month: int) -> int:
        if month < self.month:
            self.year += 1
        self.month = month
        return self.year


def _first_year(fh: BinaryIO, latest_local: datetime) -> int | None:
    """Walk the BSD lines once: count the year changes, and put the last line at or before the
    latest possible time (one day of slack for a clock ahead of the file system's). None when
    the file has no BSD line (every time has its year)."""
    changes = 0
    previous = 0
    last: tuple[int, ...] | None = None
    for _, _, text in numbered_lines(fh):
        m = _BSD.match(text)
        if not m or m["mon"].title() not in MONTHS:
            continue
        month = MONTHS[m["mon"].title()]
        if month < previous:
            changes += 1
        previous = month
        last = (month, int(m["day"]), int(m["h"]), int(m["m"]), int(m["s"]))
    if last is None:
        return None
    year = latest_local.year
    limit = latest_local + timedelta(days=1)
    if limit.year == year and last > (limit.month, limit.day, limit.hour, limit.minute, limit.second):
        year -= 1
    return year - changes


def read_syslog(fh: BinaryIO, options: Options) -> Iterator[Entry | ParseWarning]:
    """Entries of a syslog file in order, with times in UTC; warnings for lines that are not."""
    tz, tz_name, note = host_zone(options)
    if note:
        yield note
    latest, note = latest_time(options)
    first_year = _first_year(fh, latest.astimezone(tz).replace(tzinfo=None))
    if note and first_year is not None:
        yield note
    years = _Years(first_year or latest.year)
    pending: Entry | None = None
    for number, offset, text in numbered_lines(fh):
        if not text.strip():
            continue
        entry = _parse_line(number, offset, text, years, tz, tz_name)
        if isinstance(entry, Entry):
            if pending is not None:
                yield pending
            pending = entry
        elif entry is not None:
            yield entry
        elif _HEADERISH.match(text):
            yield ParseWarning(f"line {number}", offset, f"not a syslog header: {text[:60]!r}")
        elif pending is not None:
            pending.message += "\n" + text
        else:
            yield ParseWarning(f"line {number}", offset, "text before the first syslog line")
    if pending is not None:
        yield pending


def _parse_line(
    number: int, offset: int, text: str, years: _Years, tz: tzinfo, tz_name: str
) -> Entry | ParseWarning | None:
    """One header line -> Entry; a header with a bad time -> warning; anything else -> None."""
    where = f"line {number}"
    if m := _RFC5424.match(text):
        return _rfc5424(number, offset, text, m)
    extra: dict[str, str] = {}
    if m := _ISO.match(text):
        when = parse_iso(m["ts"], naive_is_utc=False)
        if when is None:
            naive = parse_iso(m["ts"])
            if naive is None:
                return ParseWarning(where, offset, f"invalid time {m['ts']!r}")
            when = local_to_utc(naive.replace(tzinfo=None), tz)
            extra["time_zone"] = tz_name
    elif m := _BSD.match(text):
        month = MONTHS.get(m["mon"].title())
        if month is None:
            return ParseWarning(where, offset, f"unknown month {m['mon']!r}")
        year = years.next(month)
        micro = int((m["frac"] or "0")[:6].ljust(6, "0"))
        try:
            local = datetime(year, month, int(m["day"]), int(m["h"]), int(m["m"]), int(m["s"]), micro)
        except ValueError:
            return ParseWarning(
                where, offset, f"{text[: m.end()].strip()!r} is not a time in {year} (year inferred)"
            )
        when = local_to_utc(local, tz)
        extra["time_zone"] = tz_name
        extra["year_inferred"] = "true"
    else:
        return None
    if m["pri"]:
        extra.update(_priority(int(m["pri"])))
    rest = text[m.end() :]
    host = None
    if not m.groupdict().get("colon"):
        first = rest.split(" ", 1)[0]
        if first in _SEVERITY_WORDS:
            extra["severity"] = first.lower()
            rest = rest[len(first) :].lstrip(" ")
        elif first and not _TAG.match(rest):
            host = first
            rest = rest[len(first) :].lstrip(" ")
    program = pid = None
    if tag := _TAG.match(rest):
        program, pid = tag["prog"], int(tag["pid"]) if tag["pid"] else None
        rest = rest[tag.end() :]
    return Entry(number, offset, when, host, program, pid, rest.strip(), extra)


def _rfc5424(number: int, offset: int, text: str, m: re.Match[str]) -> Entry | ParseWarning:
    when = None
    if m["ts"] != "-":
        when = parse_iso(m["ts"], naive_is_utc=False)
        if when is None:
            return ParseWarning(f"line {number}", offset, f"invalid RFC 5424 time {m['ts']!r}")
    extra = _priority(int(m["pri"]))
    rest = text[m.end() :]
    if rest.startswith("-"):
        rest = rest[1:]
    elif sd := _SD.match(rest):
        extra["structured_data"] = sd.group()
        for element in _SD_ELEMENT.finditer(sd.group()):
            for key, value in _SD_PARAM.findall(element["params"]):
                extra[f"{element['id']}.{key}"] = re.sub(r"\\([\\\]\"])", r"\1", value)
        rest = rest[sd.end() :]
    procid = m["procid"]
    if m["msgid"] != "-":
        extra["msgid"] = m["msgid"]
    if procid != "-" and not procid.isdigit():
        extra["procid"] = procid
    return Entry(
        number, offset, when, _nil(m["host"]), _nil(m["app"]), int(procid) if procid.isdigit() else None,
        rest.lstrip(" ").removeprefix("\ufeff").strip(), extra,
    )  # fmt: skip


def _nil(value: str) -> str | None:
    return None if value == "-" else value


def _priority(pri: int) -> dict[str, str]:
    facility, severity = divmod(pri, 8)
    return {
        "facility": FACILITIES[facility] if facility < len(FACILITIES) else str(facility),
        "severity": SEVERITIES[severity],
    }


# --- mapping ---------------------------------------------------------------------------------

_IP = r"(?P<source_ip>[0-9A-Fa-f:.]+)"
_PORT = r"port (?P<source_port>\d+)"
_USER_PREFIX = r"(?:(?P<user_state>invalid|authenticating) user (?P<user_name>\S*) )?"

#: (programs or None for any, pattern on the message, event_action). Named groups that are core
#: columns fill them; the others go into fields. First match wins.
RULES: tuple[tuple[frozenset[str] | None, re.Pattern[str], str], ...] = tuple(
    (frozenset(programs.split()) if programs else None, re.compile(pattern), action)
    for programs, pattern, action in (
        ("sshd sshd-session", rf"Accepted (?P<auth_method>\S+) for (?P<user_name>\S+) from {_IP} {_PORT}"
         r"(?: \w+)?(?:: (?P<key_type>\S+) (?P<key_fingerprint>\S+))?", "ssh-login"),
        ("sshd sshd-session", rf"Failed (?P<auth_method>\S+) for (?:(?P<user_state>invalid) user )?"
         rf"(?P<user_name>.*?) from {_IP} {_PORT}(?: \w+)?(?:: (?P<key_type>\S+) (?P<key_fingerprint>\S+))?",
         "ssh-login-failed"),
        ("sshd sshd-session", rf"Invalid user (?P<user_name>.*?) from {_IP}(?: {_PORT})?$", "ssh-invalid-user"),
        ("sshd sshd-session", rf"error: maximum authentication attempts exceeded for (?:(?P<user_state>invalid) user )?"
         rf"(?P<user_name>.*?) from {_IP} {_PORT}", "ssh-max-auth-exceeded"),
        ("sshd sshd-session", rf"(?:Disconnected from|Connection closed by|Connection reset by) {_USER_PREFIX}{_IP} {_PORT}",
         "ssh-disconnect"),
        ("sshd sshd-session", rf"Received disconnect from {_IP} {_PORT}:(?P<reason_code>\d+): ?(?P<reason>.*)",
         "ssh-disconnect"),
        ("sshd sshd-session", rf"Connection from {_IP} {_PORT}(?: on (?P<destination_ip>\S+) port (?P<destination_port>\d+))?",
         "ssh-connection"),
        ("sshd sshd-session", rf"Did not receive identification string from {_IP}", "ssh-no-identification"),
        (None, r"pam_unix\((?P<service>[^:)]+):session\): session opened for user (?P<user_name>[^\s(]+)"
         r"(?:\(uid=\d+\))?(?: by (?P<by_user>[^\s(]*)(?:\(uid=(?P<by_uid>\d+)\))?)?", "session-opened"),
        (None, r"pam_unix\((?P<service>[^:)]+):session\): session closed for user (?P<user_name>\S+)", "session-closed"),
        (None, r"pam_unix\((?P<service>[^:)]+):auth\): authentication failure; logname=(?P<logname>\S*) uid=(?P<uid>\d*) "
         r"euid=\d* tty=(?P<tty>\S*) ruser=(?P<ruser>\S*) rhost=(?P<rhost>\S*)(?:\s+user=(?P<user_name>\S+))?",
         "auth-failure"),
        (None, r"pam_unix\((?P<service>[^:)]+):chauthtok\): password changed for (?P<user_name>\S+)", "password-changed"),
        ("sudo", r"\s*(?P<user_name>\S+) : (?:(?P<sudo_error>[^;]*?) ; )?TTY=(?P<tty>\S+) ; PWD=(?P<pwd>.*?) ; "
         r"USER=(?P<target_user>\S+) ;(?: GROUP=\S+ ;)?(?: TSID=\S+ ;)?(?: ENV=.*? ;)? COMMAND=(?P<process_command_line>.*)",
         "sudo-command"),
        ("su", r"(?:Successful su|\(to (?P<to_user>\S+)\)) for (?P<target_user>\S+) by (?P<user_name>\S+)", "su"),
        ("su", r"(?:FAILED su|FAILED SU) (?:\(to \S+\) )?for (?P<target_user>\S+) by (?P<user_name>\S+)", "su-failed"),
        ("useradd", r"new user: name=(?P<user_name>[^,]+), UID=(?P<uid>\d+), GID=(?P<gid>\d+), home=(?P<home>[^,]+), "
         r"shell=(?P<shell>[^,\s]+)", "user-created"),
        ("useradd", r"failed adding user '(?P<user_name>[^']+)'", "user-create-failed"),
        ("useradd groupadd", r"(?:new group: name=|group added to /etc/group: name=)(?P<group>[^,]+), GID=(?P<gid>\d+)",
         "group-created"),
        ("usermod", r"add '(?P<user_name>[^']+)' to (?:shadow )?group '(?P<group>[^']+)'", "user-added-to-group"),
        ("usermod", r"change user '(?P<user_name>[^']+)' (?P<change>\S+)", "user-modified"),
        ("usermod", r"lock user '(?P<user_name>[^']+)' password", "user-locked"),
        ("userdel", r"delete user '(?P<user_name>[^']+)'", "user-deleted"),
        ("groupdel", r"(?:group '(?P<group>[^']+)' removed$|removed group '(?P<removed>[^']+)')", "group-deleted"),
        ("passwd chpasswd", r"password for '(?P<user_name>[^']+)' changed", "password-changed"),
        ("cron crond", r"\((?P<user_name>[^)]+)\) CMD \((?P<process_command_line>.*)\)$", "cron-command"),
        ("crontab", r"\((?P<user_name>[^)]+)\) (?P<crontab_op>REPLACE|BEGIN EDIT|END EDIT|LIST|DELETE) "
         r"\((?P<crontab_owner>[^)]+)\)", "crontab"),
        ("systemd-logind", r"New session (?P<session>\S+) of user (?P<user_name>[^\s.]+(?:\.[^\s.]+)*)\.$", "session-created"),
        ("systemd-logind", r"Removed session (?P<session>\S+)\.$", "session-removed"),
    )
)  # fmt: skip
_CORE = frozenset(
    {"user_name", "source_ip", "source_port", "destination_ip", "destination_port", "process_command_line"}
)
_INTS = frozenset({"source_port", "destination_port"})


def to_row(entry: Entry, source: str) -> Row:
    """An entry -> (core columns, fields), with the authentication semantics of its message."""
    program = entry.program
    row: dict[str, Any] = {
        "datetime": entry.when,
        "timestamp_desc": "Event Recorded",
        "message": f"{program}[{entry.pid}]: {entry.message}" if entry.pid is not None
        else f"{program}: {entry.message}" if program else entry.message,
        "host_name": entry.host,
        "source": source,
        "source_record": entry.line,
        "process_executable": program,
        "process_pid": entry.pid,
    }  # fmt: skip
    fields: dict[str, str | None] = dict(entry.extra)
    text = entry.message
    if repeated := _REPEATED.match(text):
        fields["repeated"] = repeated[1]
        text = repeated[2]
    name = program.rsplit("/", 1)[-1].lower() if program else ""
    for programs, pattern, action in RULES:
        if programs is not None and name not in programs:
            continue
        m = pattern.match(text)
        if m is None:
            continue
        row["event_action"] = action
        for key, value in m.groupdict().items():
            if value is None:
                continue
            if key in _CORE:
                row[key] = int(value) if key in _INTS else (value or None)
            else:
                fields[key] = value
        if action == "sudo-command" and fields.get("sudo_error"):
            row["event_action"] = "sudo-command-denied"
        break
    return row, fields


class SyslogParser(Parser):
    """Syslog files (RFC 3164, rsyslog ISO, RFC 5424), auth.log semantics included."""

    name = "syslog"

    def sniff(self, head: bytes) -> bool:
        lines = head_lines(head, 10)
        if not lines:
            return False
        headers = [_header(line) for line in lines]
        if not headers[0]:
            return False
        tagged = sum(1 for h in headers if h == "tagged")
        return tagged >= 1 and sum(1 for h in headers if h) * 2 >= len(lines)

    def parse(self, fh: BinaryIO, unit: object, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        rows = (e if isinstance(e, ParseWarning) else to_row(e, self.name) for e in read_syslog(fh, options))
        yield from batched(rows, options.batch_rows)


def _header(line: str) -> str:
    """'tagged' for a header with a program tag, 'header' for one without, '' for no header."""
    if _RFC5424.match(line):
        return "tagged"
    m = _ISO.match(line) or _BSD.match(line)
    if not m or ("mon" in m.groupdict() and m["mon"].title() not in MONTHS):
        return ""
    rest = line[m.end() :]
    after = rest.partition(" ")[2]
    return "tagged" if _TAG.match(rest) or _TAG.match(after) else "header"
