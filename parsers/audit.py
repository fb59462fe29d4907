"""Linux audit logs (``/var/log/audit/audit.log``, SELinux AVC denials) -> one row per event.

auditd writes one event as several records (``SYSCALL``, ``EXECVE``, ``CWD``, ``PATH``,
``PROCTITLE``...), each a line ``type=T msg=audit(<epoch>.<ms>:<serial>): key=value ...``, all
with the same stamp. The records of one event are grouped into one row (they are normally
adjacent; a window of open events allows interleaving), their key=value pairs go into
``fields`` as ``<type>.<key>`` (``path.1.name`` when a type repeats), and values auditd
hex-encodes because they may hold spaces or control characters (``proctitle``, ``EXECVE``
arguments, ``comm``, ``exe``, ``name``...) are decoded. ``ausearch --format enriched`` logs add
resolved names after a 0x1d byte (``UID="root"``); they are kept as ``<type>.UID``.

References: Red Hat Security Guide, "Understanding Audit Log Files"; linux-audit
``audit-documentation`` (field dictionary, record types); kernel ``audit_log_n_untrustedstring``
(which values are hex-encoded); SELinux AVC message format.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import pyarrow as pa

from forensics.timeutil import ns_to_utc
from parsers.base import Options, Parser, ParseWarning
from parsers.textlog import Row, batched, head_lines, numbered_lines

__all__ = ["AuditParser", "Event", "Record", "read_audit", "to_row"]

#: Open events kept while waiting for more of their records; the oldest is emitted beyond this.
WINDOW = 64
_RECORD = re.compile(
    r"(?:node=(?P<node>\S+) )?type=(?P<type>\S+) msg=audit\((?P<sec>\d+)\.(?P<frac>\d+):(?P<serial>\d+)\):\s?"
)
_TOKEN = re.compile(r"""(?P<key>[^\s=]+)=(?P<value>'[^']*'|"[^"]*"|\S*)|(?P<word>\S+)""")
_AVC = re.compile(r"avc:\s+(?P<result>denied|granted)\s+\{\s*(?P<permissions>[^}]*?)\s*\}\s+for\s+")
_HEX = re.compile(r"(?:[0-9A-F]{2})+")
#: Fields the kernel logs with audit_log_untrustedstring: quoted when clean, else hex.
_UNTRUSTED = frozenset(
    {"proctitle", "comm", "exe", "cwd", "name", "path", "cmd", "acct", "data", "key", "old-comm"}
)
_ARG = re.compile(r"a(\d+)(?:\[(\d+)\])?$")


# --- reading ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Record:
    """One audit record: its type and its decoded key=value pairs (enriched ones included)."""

    type: str
    values: dict[str, str]
    enriched: dict[str, str]
    text: str


@dataclass(slots=True)
class Event:
    """The records of one event (same stamp), from the line of the first one."""

    line: int
    offset: int
    seconds: int
    micros: int
    serial: int
    node: str | None
    records: list[Record] = field(default_factory=list)


def read_audit(fh: BinaryIO) -> Iterator[Event | ParseWarning]:
    """Events in order of their first record, with warnings for lines that are not records."""
    open_events: OrderedDict[tuple, Event] = OrderedDict()
    for number, offset, text in numbered_lines(fh):
        if not text.strip():
            continue
        m = _RECORD.match(text)
        if m is None:
            yield ParseWarning(f"line {number}", offset, _why_not(text))
            continue
        key = (m["node"], m["sec"], m["frac"], m["serial"])
        event = open_events.get(key)
        if event is None:
            micros = int(m["frac"][:6].ljust(6, "0"))
            event = Event(number, offset, int(m["sec"]), micros, int(m["serial"]), m["node"])
            open_events[key] = event
        event.records.append(_record(m["type"], text[m.end() :]))
        if m["type"] == "EOE":
            yield open_events.pop(key)
        elif len(open_events) > WINDOW:
            yield open_events.popitem(last=False)[1]
    yield from open_events.values()


def _why_not(text: str) -> str:
    if not re.match(r"(?:node=\S+ )?type=\S", text):
        return "not an audit record (no type=)" if "msg=audit(" in text else "not an audit record"
    stamp = re.search(r"msg=audit\(([^)]*)\)", text)
    return (
        f"bad audit stamp {stamp[1]!r} (need <seconds>.<ms>:<serial>)" if stamp else "no msg=audit(...) stamp"
    )


def _record(kind: str, body: str) -> Record:
    body, _, enriched_text = body.partition("\x1d")
    values: dict[str, str] = {}
    if kind == "AVC" and (avc := _AVC.match(body)):
        values["result"], values["permissions"] = avc["result"], avc["permissions"]
        body = body[avc.end() :]
    _pairs(body, kind, values)
    enriched = dict(_pairs(enriched_text, "", {}))
    return Record(kind, values, enriched, body.strip())


def _pairs(text: str, kind: str, out: dict[str, str]) -> dict[str, str]:
    """key=value tokens into ``out``; bare words before a key prefix it (``old auid=`` ->
    ``old_auid``), bare words at the end become ``text``; ``msg='...'`` is opened up."""
    words: list[str] = []
    for m in _TOKEN.finditer(text):
        if m["word"] is not None:
            words.append(m["word"])
            continue
        key, value = m["key"], m["value"]
        if words:
            key = "_".join([*words, key])
            words = []
        if key == "msg" and value.startswith("'"):
            _pairs(value[1:-1], kind, out)
            continue
        out[key] = _value(key, value, kind)
    if words:
        out["text"] = " ".join(words)
    return out


def _value(key: str, value: str, kind: str) -> str:
    if value[:1] in ('"', "'") and value[-1:] == value[:1] and len(value) >= 2:
        return value[1:-1]
    if (
        (key in _UNTRUSTED or (kind == "EXECVE" and _ARG.match(key)))
        and len(value) % 2 == 0
        and _HEX.fullmatch(value)
    ):
        decoded = bytes.fromhex(value).decode("utf-8", "replace")
        return (
            decoded.replace("\x00", " ").replace("\x01", ",").strip()
            if key in ("proctitle", "key")
            else decoded
        )
    return value


# --- mapping ---------------------------------------------------------------------------------


def _command_line(records: list[Record]) -> str | None:
    for record in records:
        if record.type == "EXECVE":
            args: dict[int, str] = {}
            for key, value in record.values.items():
                if m := _ARG.match(key):
                    args[int(m[1])] = args.get(int(m[1]), "") + value
            return " ".join(args[i] for i in sorted(args))
    for record in records:
        if "proctitle" in record.values:
            return record.values["proctitle"]
    return None


def to_row(event: Event, source: str) -> Row:
    """An event -> (core columns, fields): the first record names it, all records fill fields."""
    first = event.records[0]
    seen: dict[str, int] = {}
    fields: dict[str, str | None] = {
        "serial": str(event.serial),
        "types": ",".join(r.type for r in event.records),
    }
    merged: dict[str, str] = {}
    for record in event.records:
        count = sum(1 for r in event.records if r.type == record.type)
        index = seen[record.type] = seen.get(record.type, -1) + 1
        prefix = record.type.lower() + (f".{index}" if count > 1 else "")
        for key, value in (*record.values.items(), *record.enriched.items()):
            fields[f"{prefix}.{key}"] = value
            merged.setdefault(key, value)
    command = _command_line(event.records) or merged.get("cmd")
    user = merged.get("acct") or merged.get("UID")
    address = merged.get("addr")
    row: dict[str, Any] = {
        "datetime": _time(event),
        "timestamp_desc": "Event Recorded",
        "message": f"{first.type}: {command or first.text}"[:2000],
        "host_name": event.node,
        "source": source,
        "source_record": event.line,
        "event_code": first.type,
        "event_action": first.type.lower().replace("_", "-") + (f"-{first.values['result']}" if first.type == "AVC" else ""),
        "user_name": user if user not in (None, "?", "(unknown)") else None,
        "process_pid": _int(merged.get("pid")),
        "process_parent_pid": _int(merged.get("ppid")),
        "process_executable": merged.get("exe"),
        "process_command_line": command,
        "file_path": merged.get("path") if first.type == "AVC" else None,
        "source_ip": address if address not in (None, "?", "") else None,
    }  # fmt: skip
    return row, fields


def _time(event: Event) -> Any:
    try:
        return ns_to_utc(event.seconds * 1_000_000_000 + event.micros * 1000) if event.seconds else None
    except (OverflowError, OSError, ValueError):
        return None


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 19 else None


class AuditParser(Parser):
    """Linux audit.log (auditd raw or enriched format, SELinux AVC) -> one row per event."""

    name = "linux_audit"

    def sniff(self, head: bytes) -> bool:
        lines = head_lines(head, 1)
        return bool(lines) and _RECORD.match(lines[0]) is not None

    def parse(self, fh: BinaryIO, unit: object, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        rows = (e if isinstance(e, ParseWarning) else to_row(e, self.name) for e in read_audit(fh))
        yield from batched(rows, options.batch_rows)
