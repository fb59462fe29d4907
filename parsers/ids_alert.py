"""IDS alerts -> one row per alert: the Snort/Suricata "fast" alert line, and Suricata's EVE JSON.

Fast alert format (Snort 2 ``alert_fast``, Snort 3 ``alert_fast``, Suricata ``fast.log``), one
alert per line::

    MM/DD[/YY|/YYYY]-HH:MM:SS.ffffff [action] [**] [gid:sid:rev] msg [**] [Classification: c]
    [Priority: n] {PROTO} src[:port] -> dst[:port]

Snort 3 quotes the message and may add ``[AppID: x]``; Suricata puts two spaces (and, inline,
``[Drop]``/``[wDrop]``) before the first ``[**]``; the bracketed groups between the second
``[**]`` and ``{PROTO}`` are optional and kept in fields by name. Snort prints ports for TCP,
UDP and SCTP, Suricata for every protocol (ICMP type and code); an IPv6 address and its port
are written without brackets (``2001:db8::1:80``), so an address whose last group could be
either is split only where ports are printed.
Addresses are normalised (``ipaddress``), so the same host matches across sources.

Dates: Snort writes ``MM/DD`` (no year) unless run with ``-y``; with it Snort 2 writes
``MM/DD/YY`` and Snort 3 ``YY/MM/DD``; Suricata writes ``MM/DD/YYYY``. A file's two-digit-year
order is the one that reads all its dates (ties: ``YY/MM/DD`` when the messages are quoted, as
Snort 3 writes them, else ``MM/DD/YY``), stated in ``date_order``. Years of ``MM/DD`` dates are
inferred as syslog infers them: backwards from the file's modification time
(``Options.file_mtime``), one year back at each month that goes backwards, stated in
``year_inferred``. All engines write the sensor's local time (Snort ``-U``/``utc`` aside): it is
read in ``Options.timezone`` and stated in ``time_zone``. ``engine`` says which engine the line's
shape points to: ``suricata`` (four-digit year or two spaces before ``[**]``), ``snort3``
(quoted message or ``YY/MM/DD``), else ``snort``.

EVE JSON (Suricata ``eve.json``, one JSON object per line with ``timestamp`` and
``event_type``): alerts become the same ``ids-alert`` rows (``alert.signature`` -> ``msg``,
``alert.category`` -> ``classification``, ``alert.severity`` -> ``priority``); the other event
types (flow, dns, http, tls, fileinfo, anomaly, stats...) become ``suricata-<event_type>`` rows
with their DNS name, URL and TLS SNI in the core columns, so nothing in the file is left out.
``timestamp`` carries its offset. Everything else of a record is flattened into fields.

References: Snort 3 ``src/utils/util.cc`` ``ts_print`` and ``src/loggers/alert_fast.cc``;
Snort 2 ``src/util.c`` ``ts_print``; Suricata ``src/util-time.c`` ``CreateTimeString`` and
``src/alert-fastlog.c``; Suricata user guide, "Eve JSON Format"
(https://docs.suricata.io/en/latest/output/eve/eve-json-format.html).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, BinaryIO

import pyarrow as pa

from forensics.timeutil import local_to_utc, parse_iso
from parsers.base import Options, Parser, ParseWarning, row_message
from parsers.textlog import (
    Row,
    batched,
    flatten,
    head_lines,
    host_zone,
    json_lines,
    latest_time,
    numbered_lines,
)

__all__ = ["IdsAlertParser", "read_eve", "read_fast"]

_FAST = re.compile(
    r"(?P<date>\d\d/\d\d(?:/\d\d(?:\d\d)?)?)-(?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d)(?:\.(?P<frac>\d{1,9}))?"
    r"(?P<gap> +)(?:\[(?P<action>[A-Za-z]+)\] +)?\[\*\*\] +\[(?P<gid>\d+):(?P<sid>\d+):(?P<rev>\d+)\] +"
    r"(?P<msg>.*?) *\[\*\*\](?P<groups>(?: +\[[A-Za-z][\w ]*:[^\]]*\])*) +\{(?P<proto>[^{}\s]+)\} +"
    r"(?P<src>[0-9A-Fa-f:.\[\]%]+) +-> +(?P<dst>[0-9A-Fa-f:.\[\]%]+) *$"
)
_GROUP = re.compile(r"\[(?P<key>[A-Za-z][\w ]*):\s*(?P<value>[^\]]*)\]")
#: A line that starts like an alert (a date and a time) but is not one is a warning.
_ALERTISH = re.compile(r"\d\d/\d\d(?:/\d{2,4})?-\d\d:")
_PORTED = frozenset({"tcp", "udp", "sctp"})
_EVE_HEAD = re.compile(
    rb'^\{"timestamp":"\d{4}-\d\d-\d\dT[^"]*"(?:,"[a-z_]+":(?:\d+|"[^"]*"))*,"event_type":"[a-z_]+"'
)
_EVE_CORE = ("timestamp", "event_type", "src_ip", "src_port", "dest_ip", "dest_port", "proto", "community_id")


# --- the fast alert line -------------------------------------------------------------------------


@dataclass(slots=True)
class _Order:
    """How a file writes its dates: the two-digit-year order and the first inferred year."""

    two_digit: str  # "yy/mm/dd" or "mm/dd/yy"
    first_year: int | None


def _valid(year: int, month: int, day: int) -> bool:
    try:
        datetime(year, month, day)
    except ValueError:
        return False
    return True


def _scan(fh: BinaryIO, latest_local: datetime) -> _Order:
    """One pass over the alert lines: which two-digit-year order reads the file's dates, and the
    year of its first ``MM/DD`` line (counting the year changes back from the last one)."""
    ymd = mdy = 0
    quoted = unquoted = 0
    changes = previous = 0
    last: tuple[int, ...] | None = None
    for _, _, text in numbered_lines(fh):
        m = _FAST.match(text)
        if not m:
            continue
        quoted, unquoted = quoted + m["msg"].startswith('"'), unquoted + (not m["msg"].startswith('"'))
        parts = [int(p) for p in m["date"].split("/")]
        if len(parts) == 3 and len(m["date"]) == 8:
            a, b, c = parts
            ymd += _valid(2000 + a, b, c)
            mdy += _valid(2000 + c, a, b)
        elif len(parts) == 2 and 1 <= parts[0] <= 12:
            if parts[0] < previous:
                changes += 1
            previous = parts[0]
            last = (parts[0], parts[1], int(m["h"]), int(m["m"]), int(m["s"]))
    two_digit = "yy/mm/dd" if ymd > mdy or (ymd == mdy and quoted > unquoted) else "mm/dd/yy"
    if last is None:
        return _Order(two_digit, None)
    year = latest_local.year
    limit = latest_local + timedelta(days=1)  # a sensor clock a little ahead of the file system's
    if limit.year == year and last > (limit.month, limit.day, limit.hour, limit.minute, limit.second):
        year -= 1
    return _Order(two_digit, year - changes)


def _endpoint(token: str, ported: bool) -> tuple[str, int | None] | None:
    """``addr[:port]`` -> (normalised address, port); None when it is no address. ``ported``:
    whether the protocol has ports, which decides an IPv6 address whose last group could be one."""
    if token.startswith("["):
        inner, _, port = token[1:].partition("]")
        addr, port = _ip(inner), port.removeprefix(":")
        if addr is None or (port and not port.isdigit()):
            return None
        return addr, int(port) if port else None
    if token.count(":") <= 1:  # IPv4, with or without a port
        inner, _, port = token.partition(":")
        addr = _ip(inner)
        if addr is None or (port and not port.isdigit()):
            return None
        return addr, int(port) if port else None
    whole = _ip(token)
    head, _, tail = token.rpartition(":")
    split = _ip(head) if tail.isdigit() and int(tail) <= 65535 and not head.endswith(":") else None
    if split and (whole is None or ported):
        return split, int(tail)
    return (whole, None) if whole else None


def _ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def read_fast(fh: BinaryIO, options: Options, source: str) -> Iterator[Row | ParseWarning]:
    """Fast alert lines -> rows; warnings for lines that are not alerts."""
    tz, tz_name, note = host_zone(options)
    if note:
        yield note
    latest, note = latest_time(options)
    order = _scan(fh, latest.astimezone(tz).replace(tzinfo=None))
    if note and order.first_year is not None:
        yield note
    year, previous = order.first_year or latest.year, 0
    for number, offset, text in numbered_lines(fh):
        if not text.strip():
            continue
        where = f"line {number}"
        m = _FAST.match(text)
        if m is None:
            what = "not a fast alert line" if _ALERTISH.match(text) else "text that is not a fast alert"
            yield ParseWarning(where, offset, f"{what}: {text[:60]!r}")
            continue
        fields: dict[str, str | None] = {"time_zone": tz_name}
        parts = [int(p) for p in m["date"].split("/")]
        if len(parts) == 2:
            month, day = parts
            if 1 <= month <= 12:
                year += month < previous
                previous = month
            y = year
            fields["year_inferred"] = "true"
        elif len(m["date"]) == 10:
            month, day, y = parts
        else:
            fields["date_order"] = order.two_digit
            a, b, c = parts
            y, month, day = (2000 + a, b, c) if order.two_digit == "yy/mm/dd" else (2000 + c, a, b)
        micro = int((m["frac"] or "0")[:6].ljust(6, "0"))
        try:
            local = datetime(y, month, day, int(m["h"]), int(m["m"]), int(m["s"]), micro)
        except ValueError:
            yield ParseWarning(where, offset, f"invalid date {m['date']!r} (read as {y}-{month:02}-{day:02})")
            continue
        proto = m["proto"].lower()
        suricata = len(m["date"]) == 10 or len(m["gap"]) > 1
        # Ports: TCP/UDP/SCTP have them, Suricata prints them always (ICMP type and code), and
        # an IPv4 side with one says the other side has one too.
        ported = (
            suricata
            or proto in _PORTED
            or any(
                e is not None and e[1] is not None and ":" not in e[0]
                for e in (_endpoint(m["src"], True), _endpoint(m["dst"], True))
            )
        )
        src, dst = _endpoint(m["src"], ported), _endpoint(m["dst"], ported)
        if src is None or dst is None:
            yield ParseWarning(where, offset, f"not an address: {(m['src'] if src is None else m['dst'])!r}")
            continue
        msg = m["msg"]
        quoted = len(msg) >= 2 and msg[0] == msg[-1] == '"'
        if quoted:
            msg = msg[1:-1]
        groups = {
            g["key"].strip().lower().replace(" ", "_"): g["value"].strip()
            for g in _GROUP.finditer(m["groups"])
        }
        if suricata:
            engine = "suricata"
        elif quoted or fields.get("date_order") == "yy/mm/dd":
            engine = "snort3"
        else:
            engine = "snort"
        fields.update(groups)
        fields.update(msg=msg, engine=engine, gid=m["gid"], sid=m["sid"], rev=m["rev"], action=m["action"])
        yield _alert_row(
            source, number, local_to_utc(local, tz), f"{m['gid']}:{m['sid']}:{m['rev']}", msg,
            groups.get("classification"), groups.get("priority"), proto, src, dst,
        ), {k: v for k, v in fields.items() if v is not None}  # fmt: skip


def _alert_row(
    source: str,
    record: int,
    when: datetime | None,
    code: str,
    msg: str,
    classification: str | None,
    priority: str | None,
    proto: str | None,
    src: tuple[str | None, int | None],
    dst: tuple[str | None, int | None],
) -> dict[str, Any]:
    def where(addr: str | None, port: int | None) -> str:
        if addr is None:
            return "-"
        host = f"[{addr}]" if ":" in addr and port is not None else addr
        return f"{host}:{port}" if port is not None else host

    detail = ", ".join(x for x in (classification, f"priority {priority}" if priority else None) if x)
    text = f"[{code}] {msg}" + (f" ({detail})" if detail else "")
    text += f" {{{(proto or '-').upper()}}} {where(*src)} -> {where(*dst)}"
    return {
        "datetime": when,
        "timestamp_desc": "Event Recorded",
        "message": row_message(text),
        "source": source,
        "source_record": record,
        "event_code": code,
        "event_action": "ids-alert",
        "source_ip": src[0],
        "source_port": src[1],
        "destination_ip": dst[0],
        "destination_port": dst[1],
        "network_protocol": proto,
    }


# --- EVE JSON ------------------------------------------------------------------------------------


def _port(value: Any) -> int | None:
    return value if isinstance(value, int) and 0 <= value <= 65535 else None


def read_eve(fh: BinaryIO, source: str) -> Iterator[Row | ParseWarning]:
    """EVE JSON lines -> rows: alerts as ``ids-alert``, other events as ``suricata-<type>``."""
    for item in json_lines(fh):
        if isinstance(item, ParseWarning):
            yield item
            continue
        number, offset, record = item
        where = f"line {number}"
        if not isinstance(record, dict) or not isinstance(record.get("event_type"), str):
            yield ParseWarning(where, offset, "not an EVE record (no event_type)")
            continue
        when = parse_iso(record.get("timestamp")) if isinstance(record.get("timestamp"), str) else None
        if when is None:
            yield ParseWarning(where, offset, f"invalid timestamp {record.get('timestamp')!r}")
            continue
        kind = record["event_type"]
        proto = str(record["proto"]).lower() if record.get("proto") is not None else None
        src = (_ip(str(record.get("src_ip", ""))), _port(record.get("src_port")))
        dst = (_ip(str(record.get("dest_ip", ""))), _port(record.get("dest_port")))
        fields = flatten({k: v for k, v in record.items() if k not in _EVE_CORE})
        for key, column in (("src_ip", src[0]), ("dest_ip", dst[0])):
            if record.get(key) is not None and column is None:
                fields[key] = str(record[key])
        fields["engine"] = "suricata"
        alert = record.get("alert")
        if kind == "alert" and isinstance(alert, dict):
            code = f"{alert.get('gid', 1)}:{alert.get('signature_id', '')}:{alert.get('rev', '')}"
            msg = str(alert.get("signature", ""))
            category, severity = alert.get("category"), alert.get("severity")
            fields.update(
                msg=msg, classification=category, priority=None if severity is None else str(severity)
            )
            row = _alert_row(source, number, when, code, msg, category, fields["priority"], proto, src, dst)
        else:
            row = {
                "datetime": when,
                "timestamp_desc": "Event Recorded",
                "message": row_message(_eve_summary(kind, record, proto, src, dst)),
                "source": source,
                "source_record": number,
                "event_action": f"suricata-{kind}",
                "source_ip": src[0],
                "source_port": src[1],
                "destination_ip": dst[0],
                "destination_port": dst[1],
                "network_protocol": proto,
            }
        row["host_name"] = record.get("host") if isinstance(record.get("host"), str) else None
        row["community_id"] = (
            record.get("community_id") if isinstance(record.get("community_id"), str) else None
        )
        row.update(_eve_names(record))
        yield row, {k: v for k, v in fields.items() if v is not None}


def _eve_names(record: dict[str, Any]) -> dict[str, str]:
    """DNS question, URL and TLS SNI of an EVE record, for the core columns."""
    out: dict[str, str] = {}
    dns = record.get("dns")
    if isinstance(dns, dict):
        name = dns.get("rrname")
        queries = dns.get("queries")
        if name is None and isinstance(queries, list) and queries and isinstance(queries[0], dict):
            name = queries[0].get("rrname")  # EVE version 3 answers
        if isinstance(name, str):
            out["dns_question_name"] = name
    http = record.get("http")
    if isinstance(http, dict) and isinstance(http.get("url"), str):
        host = http.get("hostname")
        url = http["url"]
        out["url_full"] = f"http://{host}{url}" if isinstance(host, str) and url.startswith("/") else url
    tls = record.get("tls")
    if isinstance(tls, dict) and isinstance(tls.get("sni"), str):
        out["tls_server_name"] = tls["sni"]
    return out


def _eve_summary(kind: str, record: dict[str, Any], proto: str | None, src: tuple, dst: tuple) -> str:
    names = _eve_names(record)
    detail = names.get("dns_question_name") or names.get("url_full") or names.get("tls_server_name")
    text = kind + (f" {record['app_proto']}" if isinstance(record.get("app_proto"), str) else "")
    if src[0] or dst[0]:
        text += f" {{{(proto or '-').upper()}}} {src[0] or '-'}:{src[1] or '-'} -> {dst[0] or '-'}:{dst[1] or '-'}"
    if detail:
        text += f" {detail}"
    return text


# --- the parser ----------------------------------------------------------------------------------


def _eve(head: bytes) -> bool:
    return _EVE_HEAD.match(head.lstrip(b"\xef\xbb\xbf")) is not None


class IdsAlertParser(Parser):
    """Snort 2/3 and Suricata fast alert logs, and Suricata EVE JSON."""

    name = "ids_alert"

    def sniff(self, head: bytes) -> bool:
        if _eve(head):
            return True
        lines = head_lines(head, 10)
        if not lines or not _FAST.match(lines[0]):
            return False
        return sum(1 for line in lines if _FAST.match(line)) * 2 >= len(lines)

    def parse(self, fh: BinaryIO, unit: object, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        fh.seek(0)
        eve = _eve(fh.read(4096))
        rows = read_eve(fh, self.name) if eve else read_fast(fh, options, self.name)
        yield from batched(rows, options.batch_rows)
