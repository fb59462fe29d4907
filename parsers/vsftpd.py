"""vsftpd logs -> one row per logged FTP event: vsftpd's own log (``/var/log/vsftpd.log``) and the
wu-ftpd ``xferlog`` format it writes with ``xferlog_std_format=YES`` (``/var/log/xferlog``).

vsftpd's own format is ``<date> [pid N] [user] <OK|FAIL> <WHAT>: Client "<ip>"`` followed by
``, anon password "..."`` (anonymous logins), ``, "<path>"`` and, for transfers, ``, N bytes``
and ``, R Kbyte/sec``. ``WHAT`` is LOGIN, UPLOAD, DOWNLOAD, MKDIR, RMDIR, DELETE, RENAME (the
path is ``"old new"``), CHMOD, or, without OK/FAIL, CONNECT, ``FTP command``,
``FTP response`` (``log_ftp_protocol=YES``) and DEBUG. Actions: ``ftp-login``,
``ftp-upload``, ``ftp-download``, ``ftp-mkdir``... with ``-failed`` for FAIL, ``ftp-connect``,
``ftp-command``, ``ftp-response``. The user is the ``[user]`` of the line (``ftp`` or
``anonymous`` for anonymous sessions, the anonymous password in ``anon_password``).

xferlog lines are ``<date> <seconds> <host> <bytes> <file> <a|b> <flag> <i|o> <a|g|r> <user>
<service> <auth method> <auth user id> <c|i>``: one transfer each, ``i`` (incoming) an upload,
``o`` a download, completion ``i`` (incomplete) a failed one. vsftpd writes spaces in file names
as ``_`` there.

Both write the date as ``Mon Jun  6 18:43:28 2016`` in the server's local time (vsftpd calls
``localtime``): it is read in ``Options.timezone`` and stated in ``time_zone``.

References: vsftpd ``logging.c`` (``vsf_log_do_log_vsftpd_format``, ``vsf_log_do_log_wuftpd_format``)
and ``sysutil.c`` (``vsf_sysutil_get_current_date``); vsftpd.conf(5) (``xferlog_enable``,
``xferlog_std_format``, ``dual_log_enable``, ``log_ftp_protocol``); xferlog(5).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from datetime import datetime, tzinfo
from typing import Any, BinaryIO

import pyarrow as pa

from forensics.timeutil import local_to_utc
from parsers.base import Options, Parser, ParseWarning, row_message
from parsers.textlog import Row, batched, head_lines, host_zone, numbered_lines

__all__ = ["VsftpdParser", "read_vsftpd"]

MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_DATE = (
    r"(?P<date>(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) "
    r"(?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d) (?P<year>\d{4}))"
)
_VSFTPD = re.compile(
    _DATE + r" \[pid (?P<pid>\d+)\] (?:\[(?P<user>[^\]]*)\] )?(?:(?P<result>OK|FAIL) )?"
    r'(?P<what>[A-Z][A-Za-z ]*?): Client "(?P<client>[^"]*)"(?P<rest>.*)$'
)
_ANON = re.compile(r', anon password "(?P<anon>[^"]*)"')
_ARG = re.compile(r', "(?P<arg>.*)"(?=(?:, \d+ bytes)?(?:, [\d.]+Kbyte/sec)?$)')
_BYTES = re.compile(r", (?P<bytes>\d+) bytes")
_RATE = re.compile(r", (?P<rate>[\d.]+)Kbyte/sec$")
_XFERLOG = re.compile(
    _DATE + r" (?P<seconds>\d+) (?P<host>\S+) (?P<bytes>\d+) (?P<file>.+) (?P<type>[ab]) (?P<flag>[_CUT]+) "
    r"(?P<direction>[iod]) (?P<mode>[agr]) (?P<user>.*?) (?P<service>\S+) (?P<auth>[01]) (?P<auth_user>\S+)"
    r" (?P<status>[ci])$"
)
#: A line that starts with a date like these but does not parse is a warning.
_DATEISH = re.compile(r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} +\d")
#: What -> event_action stem; unknown ones become ``ftp-<what>``.
_ACTIONS = {"FTP command": "ftp-command", "FTP response": "ftp-response", "CONNECT": "ftp-connect"}


def _local(m: re.Match[str], tz: tzinfo) -> datetime | None:
    month = MONTHS.get(m["mon"])
    if month is None:
        return None
    try:
        local = datetime(int(m["year"]), month, int(m["day"]), int(m["h"]), int(m["m"]), int(m["s"]))
    except ValueError:
        return None
    return local_to_utc(local, tz)


def _ip(text: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(text or ""))
    except ValueError:
        return None


def _vsftpd_row(m: re.Match[str], number: int, when: datetime, source: str) -> Row:
    what, result, rest = m["what"], m["result"], m["rest"]
    action = _ACTIONS.get(what) or "ftp-" + what.lower().replace(" ", "-")
    if result == "FAIL":
        action += "-failed"
    fields: dict[str, str | None] = {"result": result, "what": what}
    if anon := _ANON.match(rest):
        fields["anon_password"] = anon["anon"]
        rest = rest[anon.end() :]
    arg = _ARG.match(rest)
    path = arg["arg"] if arg else None
    if arg:
        rest = rest[arg.end() :]
    if b := _BYTES.match(rest):
        fields["bytes"] = b["bytes"]
        rest = rest[b.end() :]
    if r := _RATE.match(rest):
        fields["rate_kbyte_s"] = r["rate"]
        rest = rest[r.end() :]
    if rest:
        fields["rest"] = rest
    if what in ("FTP command", "FTP response", "DEBUG"):
        fields["text"], path = path, None
    elif what == "RENAME" and path and path.count(" ") == 1:
        path, fields["new_path"] = path.split(" ")
    elif what == "CHMOD" and path and re.search(r" [0-7]{3,4}$", path):
        path, fields["mode"] = path.rsplit(" ", 1)
    client = m["client"]
    user = m["user"] or None
    text = f"{result + ' ' if result else ''}{what}" + (f": {user}" if user else "") + f" from {client}"
    if path or fields.get("text"):
        text += f" {path or fields['text']}"
    if fields.get("bytes"):
        text += f" ({fields['bytes']} bytes)"
    row: dict[str, Any] = {
        "datetime": when,
        "timestamp_desc": "Event Recorded",
        "message": row_message(text),
        "source": source,
        "source_record": number,
        "event_action": action,
        "process_pid": int(m["pid"]),
        "user_name": user,
        "source_ip": _ip(client),
        "network_protocol": "ftp",
        "file_path": path,
    }
    if row["source_ip"] is None:
        fields["client"] = client
    return row, fields


def _xferlog_row(m: re.Match[str], number: int, when: datetime, source: str) -> Row:
    direction = {"i": "upload", "o": "download", "d": "delete"}[m["direction"]]
    action = f"ftp-{direction}" + ("-failed" if m["status"] == "i" else "")
    anonymous = m["mode"] == "a"
    user = "anonymous" if anonymous else m["user"]
    fields: dict[str, str | None] = {
        "format": "xferlog",
        "transfer_seconds": m["seconds"],
        "bytes": m["bytes"],
        "transfer_type": {"a": "ascii", "b": "binary"}[m["type"]],
        "special_action": m["flag"],
        "direction": m["direction"],
        "access_mode": {"a": "anonymous", "g": "guest", "r": "real"}[m["mode"]],
        "service": m["service"],
        "authentication_method": m["auth"],
        "authenticated_user_id": m["auth_user"],
        "completion": {"c": "complete", "i": "incomplete"}[m["status"]],
        "anon_password": m["user"] if anonymous else None,
    }
    row: dict[str, Any] = {
        "datetime": when,
        "timestamp_desc": "Event Recorded",
        "message": row_message(
            f"{direction} {m['file']} ({m['bytes']} bytes, {fields['completion']}) by {user} from {m['host']}"
        ),
        "source": source,
        "source_record": number,
        "event_action": action,
        "user_name": user,
        "source_ip": _ip(m["host"]),
        "network_protocol": "ftp",
        "file_path": m["file"],
    }
    if row["source_ip"] is None:
        fields["client"] = m["host"]
    return row, {k: v for k, v in fields.items() if v is not None}


def read_vsftpd(fh: BinaryIO, tz: tzinfo, tz_name: str, source: str) -> Iterator[Row | ParseWarning]:
    """vsftpd log and xferlog lines -> rows; warnings for lines that are neither."""
    for number, offset, text in numbered_lines(fh):
        if not text.strip():
            continue
        where = f"line {number}"
        m = _VSFTPD.match(text)
        xfer = None if m else _XFERLOG.match(text)
        if m is None and xfer is None:
            what = "not a vsftpd log line" if _DATEISH.match(text) else "text that is not a vsftpd log line"
            yield ParseWarning(where, offset, f"{what}: {text[:60]!r}")
            continue
        match = m or xfer
        when = _local(match, tz)  # type: ignore[arg-type]
        if when is None:
            yield ParseWarning(where, offset, f"invalid date {match['date']!r}")  # type: ignore[index]
            continue
        row, fields = (
            _vsftpd_row(m, number, when, source) if m else _xferlog_row(xfer, number, when, source)  # type: ignore[arg-type]
        )
        fields["time_zone"] = tz_name
        yield row, {k: v for k, v in fields.items() if v is not None}


def _line_kind(line: str) -> bool:
    return _VSFTPD.match(line) is not None or _XFERLOG.match(line) is not None


class VsftpdParser(Parser):
    """vsftpd's own log and its xferlog (wu-ftpd format) transfer log."""

    name = "vsftpd"

    def sniff(self, head: bytes) -> bool:
        lines = head_lines(head, 10)
        if not lines or not _line_kind(lines[0]):
            return False
        return sum(1 for line in lines if _line_kind(line)) * 2 >= len(lines)

    def parse(self, fh: BinaryIO, unit: object, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        tz, tz_name, note = host_zone(options)
        if note:
            yield note
        yield from batched(read_vsftpd(fh, tz, tz_name, self.name), options.batch_rows)
