"""Web server access logs -> one row per request: Apache/nginx Common and Combined Log Format
(optionally with Apache's ``%v:%p`` virtual host in front) and W3C extended logs (IIS).

CLF lines are ``client ident user [time] "request" status bytes`` plus, in the Combined form,
``"referrer" "user agent"``; the request may hold quotes or raw bytes (scanners send them), so
it is taken up to the last quote that is followed by a status. W3C logs declare their columns
in a ``#Fields:`` directive (which may change mid-file), separate values by spaces and write
``-`` for none; IIS writes UTC. The W3C reading (directives, ``#Fields:`` changes) is shared
with the Windows Firewall log in ``parsers.w3c``; a W3C log whose ``#Software`` or columns are
the firewall's is left to ``parsers.windows_firewall``, and only the web mapping lives here.

References: Apache HTTP Server "Log Files" (Common/Combined Log Format, ``%v``);
nginx ``log_format combined``; W3C Working Draft "Extended Log File Format"
(https://www.w3.org/TR/WD-logfile.html); Microsoft "W3C Logging" (IIS).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

import pyarrow as pa

from forensics.timeutil import parse_iso
from parsers.base import Options, Parser, ParseWarning
from parsers.textlog import Row, batched, head_lines, numbered_lines
from parsers.w3c import directives, is_firewall, is_w3c, read_records

__all__ = ["WebAccessParser", "read_clf", "read_w3c"]

MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_CLF = re.compile(
    r"(?:(?P<vhost>\S+) )?(?P<client>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]+)\] "
    r'"(?P<request>.*?)" (?P<status>\d{3}|-) (?P<bytes>\d+|-)'
    r'(?: "(?P<referrer>(?:[^"\\]|\\.)*)" "(?P<user_agent>(?:[^"\\]|\\.)*)"?)?(?P<rest>.*)$'
)
_CLF_TIME = re.compile(r"(\d{1,2})/([A-Za-z]{3})/(\d{4}):(\d\d):(\d\d):(\d\d)(?: ([+-])(\d\d)(\d\d))?$")
#: W3C field -> core column; the others are kept under their W3C names.
_W3C_CORE = {
    "c-ip": "source_ip",
    "cs-username": "user_name",
    "s-ip": "destination_ip",
    "s-port": "destination_port",
    "s-computername": "host_name",
    "sc-status": "event_code",
}
#: W3C field -> the field name the CLF rows use, so both kinds are queried alike.
_W3C_FIELDS = {
    "cs-method": "method",
    "sc-status": "status",
    "sc-bytes": "bytes",
    "cs(Referer)": "referrer",
    "cs(User-Agent)": "user_agent",
    "cs-version": "protocol",
}


def _clf_time(text: str) -> datetime | None:
    m = _CLF_TIME.match(text)
    if not m or m[2].title() not in MONTHS:
        return None
    try:
        when = datetime(
            int(m[3]), MONTHS[m[2].title()], int(m[1]), int(m[4]), int(m[5]), int(m[6]), tzinfo=UTC
        )
    except ValueError:
        return None
    if m[7]:
        offset = timedelta(hours=int(m[8]), minutes=int(m[9]))
        when = when - offset if m[7] == "+" else when + offset
    return when


def _ip(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return str(ipaddress.ip_address(text.strip("[]")))
    except ValueError:
        return None


def _nil(value: str | None) -> str | None:
    return None if value in (None, "-", "") else value


def _row(source: str, line: int, when: datetime | None, fields: dict[str, str | None]) -> Row:
    method, url, status = fields.get("method"), fields.get("url"), fields.get("status")
    summary = f"{method} {url}" if method and url else fields.get("request") or ""
    row: dict[str, Any] = {
        "datetime": when,
        "timestamp_desc": "Event Recorded",
        "message": f"{summary} -> {status or '-'}",
        "source": source,
        "source_record": line,
        "event_action": "http-request",
        "event_code": status,
        "network_protocol": "http",
        "url_full": url,
    }
    return row, {k: v for k, v in fields.items() if v is not None and k != "url"}


def read_clf(fh: BinaryIO, source: str) -> Iterator[Row | ParseWarning]:
    """Common/Combined Log Format lines -> rows."""
    for number, offset, text in numbered_lines(fh):
        if not text.strip():
            continue
        m = _CLF.match(text)
        when = _clf_time(m["time"]) if m else None
        if m is None or when is None:
            reason = "not a Common/Combined Log Format line" if m is None else f"invalid time {m['time']!r}"
            yield ParseWarning(f"line {number}", offset, reason)
            continue
        parts = m["request"].split(" ")
        method, url, protocol = parts if len(parts) == 3 and parts[0].isalpha() else (None, None, None)
        fields = {
            "method": method, "url": url, "protocol": protocol, "status": _nil(m["status"]),
            "bytes": _nil(m["bytes"]), "referrer": _nil(m["referrer"]), "user_agent": _nil(m["user_agent"]),
            "ident": _nil(m["ident"]), "vhost": m["vhost"], "rest": _nil(m["rest"].strip()),
            "request": m["request"] if method is None else None,
        }  # fmt: skip
        row, kept = _row(source, number, when, fields)
        client = m["client"]
        row["source_ip"] = _ip(client)
        if row["source_ip"] is None:
            kept["client"] = client
        row["user_name"] = _nil(m["user"])
        yield row, kept


def read_w3c(fh: BinaryIO, source: str) -> Iterator[Row | ParseWarning]:
    """W3C extended log records of a web server (IIS) -> rows."""
    for item in read_records(fh):
        if isinstance(item, ParseWarning):
            yield item
            continue
        number, offset, record = item.line, item.offset, item.values
        date = record.get("date") or (item.directives.get("Date") or "").split(" ")[0] or None
        when = parse_iso(f"{date} {record.get('time')}Z") if record.get("time") else None
        if when is None:
            yield ParseWarning(
                f"line {number}", offset, f"invalid time {record.get('date')} {record.get('time')}"
            )
            continue
        stem, query = record.get("cs-uri-stem"), record.get("cs-uri-query")
        fields = {
            _W3C_FIELDS.get(k, k): v
            for k, v in record.items()
            if k not in ("date", "time") and k not in _W3C_CORE
        }
        fields["status"] = record.get("sc-status")
        fields["url"] = f"{stem}?{query}" if stem and query else stem
        for key in ("user_agent", "referrer"):
            if fields.get(key):
                fields[key] = fields[key].replace("+", " ")  # type: ignore[union-attr]
        row, kept = _row(source, number, when, fields)
        for key, column in _W3C_CORE.items():
            value = record.get(key)
            if column in ("source_ip", "destination_ip"):
                row[column] = _ip(value)
            elif column == "destination_port":
                row[column] = int(value) if value and value.isdigit() else None
            elif column != "event_code":
                row[column] = value
        yield row, kept


def _w3c_web(lines: list[str]) -> bool:
    """A W3C log that is not the Windows Firewall's (``parsers.windows_firewall`` has those)."""
    return is_w3c(lines) and not is_firewall(directives(lines))


class WebAccessParser(Parser):
    """Apache/nginx access logs (Common, Combined, vhost) and W3C extended logs (IIS)."""

    name = "web_access"

    def sniff(self, head: bytes) -> bool:
        lines = head_lines(head, 8)
        if is_w3c(lines):
            return _w3c_web(lines)
        m = _CLF.match(lines[0]) if lines else None
        return m is not None and _clf_time(m["time"]) is not None

    def parse(self, fh: BinaryIO, unit: object, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        fh.seek(0)
        w3c = is_w3c(head_lines(fh.read(4096), 8))
        rows = read_w3c(fh, self.name) if w3c else read_clf(fh, self.name)
        yield from batched(rows, options.batch_rows)
