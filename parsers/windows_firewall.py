"""Windows Firewall log (``%windir%\\System32\\LogFiles\\Firewall\\pfirewall.log``) -> one row per
logged packet or connection.

The log is a W3C extended log (read in ``parsers.w3c``, shared with IIS) whose ``#Software`` is
``Microsoft Windows Firewall`` and whose ``#Fields`` are ``date time action protocol src-ip
dst-ip src-port dst-port size tcpflags tcpsyn tcpack tcpwin icmptype icmpcode info path``
(recent Windows adds ``pid``). ``action`` is ``ALLOW``, ``DROP``, ``OPEN``, ``OPEN-INBOUND``,
``CLOSE`` or ``INFO-EVENTS-LOST`` (then ``info`` is how many events were not written); ``path``
is ``SEND``, ``RECEIVE``, ``FORWARD`` or ``UNKNOWN``. ``#Time Format: Local`` means the host's
wall clock: times are read in ``Options.timezone`` and the row's ``time_zone`` field says which
zone was used (a ``#Time Format: UTC`` log is read as UTC).

References: Microsoft Learn, "Configure Windows Firewall logging" and "Interpreting the Windows
Firewall log" (Windows XP SP2 ``pfirewall.log`` field list); W3C Working Draft "Extended Log
File Format" (https://www.w3.org/TR/WD-logfile.html).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from typing import Any, BinaryIO

import pyarrow as pa

from forensics.timeutil import local_to_utc
from parsers.base import Options, Parser, ParseWarning, row_message
from parsers.textlog import Row, batched, head_lines, host_zone
from parsers.w3c import W3cRecord, directives, is_firewall, is_w3c, read_records

__all__ = ["WindowsFirewallParser", "read_firewall"]

#: Columns that become core columns (the others stay in ``fields`` under their W3C names).
_CORE = {"date", "time", "action", "protocol", "src-ip", "dst-ip", "src-port", "dst-port", "pid"}


def _ip(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _port(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and int(text) <= 65535 else None


def _endpoint(ip: str | None, port: int | None) -> str:
    host = ip or "-"
    if port is None:
        return host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _time(record: W3cRecord, tz: tzinfo) -> datetime | None:
    date, clock = record.values.get("date"), record.values.get("time")
    if not date or not clock:
        return None
    try:
        return local_to_utc(datetime.fromisoformat(f"{date} {clock}"), tz)
    except ValueError:
        return None


def firewall_row(record: W3cRecord, when: datetime, zone_name: str, source: str) -> Row:
    """One firewall record -> (core columns, other fields)."""
    values = record.values
    action = (values.get("action") or "").upper()
    protocol = values.get("protocol")
    src, dst = _ip(values.get("src-ip")), _ip(values.get("dst-ip"))
    sport, dport = _port(values.get("src-port")), _port(values.get("dst-port"))
    fields: dict[str, str | None] = {k: v for k, v in values.items() if k not in _CORE and v is not None}
    for key, column in (("src-ip", src), ("dst-ip", dst)):  # not an address: kept as written
        if values.get(key) and column is None:
            fields[key] = values[key]
    for key, number in (("src-port", sport), ("dst-port", dport)):
        if values.get(key) and number is None:
            fields[key] = values[key]
    fields["time_zone"] = zone_name
    if action == "INFO-EVENTS-LOST":
        message = f"INFO-EVENTS-LOST: {values.get('info') or '?'} events not written to the log"
    else:
        parts = [action or "-", protocol or "-", _endpoint(src, sport), "->", _endpoint(dst, dport)]
        if values.get("icmptype") is not None:
            parts.append(f"icmp type {values['icmptype']} code {values.get('icmpcode') or '-'}")
        if values.get("path"):
            parts.append(values["path"])  # type: ignore[arg-type]
        message = " ".join(parts)
    pid = values.get("pid")
    row: dict[str, Any] = {
        "datetime": when,
        "timestamp_desc": "Connection Start" if action in ("OPEN", "OPEN-INBOUND") else "Event Recorded",
        "message": row_message(message),
        "source": source,
        "source_record": record.line,
        "event_provider": "Microsoft Windows Firewall",
        "event_action": f"firewall-{action.lower()}" if action else "firewall-event",
        "source_ip": src,
        "destination_ip": dst,
        "source_port": sport,
        "destination_port": dport,
        "network_protocol": protocol.lower() if protocol else None,
        "process_pid": int(pid) if pid and pid.isdigit() else None,
    }
    return row, fields


def read_firewall(fh: BinaryIO, tz: tzinfo, zone_name: str, source: str) -> Iterator[Row | ParseWarning]:
    """``pfirewall.log`` records -> rows; local times read in ``tz`` (named ``zone_name``)."""
    for item in read_records(fh):
        if isinstance(item, ParseWarning):
            yield item
            continue
        utc = item.directives.get("Time Format", "").strip().upper() == "UTC"
        when = _time(item, UTC if utc else tz)
        if when is None:
            values = item.values
            yield ParseWarning(
                f"line {item.line}", item.offset, f"invalid time {values.get('date')} {values.get('time')}"
            )
            continue
        yield firewall_row(item, when, "UTC" if utc else zone_name, source)


class WindowsFirewallParser(Parser):
    """Windows Firewall ``pfirewall.log`` (W3C extended) -> one row per logged packet or connection."""

    name = "windows_firewall"

    def sniff(self, head: bytes) -> bool:
        lines = head_lines(head, 8)
        return is_w3c(lines) and is_firewall(directives(lines))

    def parse(self, fh: BinaryIO, unit: object, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        tz, zone_name, note = host_zone(options)
        if note:
            yield note
        yield from batched(read_firewall(fh, tz, zone_name, self.name), options.batch_rows)
