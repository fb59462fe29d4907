"""Google Cloud Logging entries (Cloud Audit Logs among them) -> one row per ``LogEntry``.

Exports come as JSON lines (a sink to Cloud Storage, ``gcloud logging read --format=json``
piped through ``jq -c``) or as one JSON array (``gcloud logging read --format=json``). An audit
entry's ``protoPayload`` is an ``AuditLog``: ``serviceName``/``methodName`` -> event_provider /
event_action, ``authenticationInfo.principalEmail`` -> user_name,
``requestMetadata.callerIp`` -> source_ip. Other entries keep their ``textPayload`` or
``jsonPayload`` as the message. Everything else is flattened into fields (``logName``,
``resource.type``, ``severity``...; the request and response bodies as JSON text).

References: Cloud Logging ``LogEntry`` (cloud.google.com/logging/docs/reference/v2/rest/v2/LogEntry);
Cloud Audit Logs ``AuditLog`` (cloud.google.com/logging/docs/reference/audit/auditlog/rest/Shared.Types/AuditLog).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson
import pyarrow as pa

from forensics.timeutil import parse_iso
from parsers.base import Options, Parser, ParseWarning
from parsers.textlog import Row, batched, flatten, json_lines, whole_json

__all__ = ["GcpLoggingParser", "read_entries", "to_row"]

_SNIFF = re.compile(rb'"logName"\s*:\s*"(?:projects|organizations|folders|billingAccounts)/[^"/]+/logs/')
_OPAQUE = ("request", "response", "metadata", "serviceData")


def read_entries(fh: BinaryIO) -> Iterator[tuple[int, dict[str, Any]] | ParseWarning]:
    """(ordinal, entry) for each LogEntry, in file order, or a warning."""
    fh.seek(0)
    if fh.read(64).lstrip()[:1] == b"[":
        entries, problem = whole_json(fh, "a JSON array")
        if problem:
            yield problem
            return
        for i, entry in enumerate(entries, 1):
            if isinstance(entry, dict) and "logName" in entry:
                yield i, entry
            else:
                yield ParseWarning(f"entry {i}", None, "not a LogEntry (no logName)")
        return
    for item in json_lines(fh):
        if isinstance(item, ParseWarning):
            yield item
        elif not isinstance(item[2], dict) or "logName" not in item[2]:
            yield ParseWarning(f"line {item[0]}", item[1], "not a LogEntry (no logName)")
        else:
            yield item[0], item[2]


def _ip(text: Any) -> str | None:
    try:
        return str(ipaddress.ip_address(text)) if isinstance(text, str) else None
    except ValueError:
        return None


def to_row(entry: dict[str, Any], ordinal: int, source: str) -> Row:
    audit = entry.get("protoPayload") if isinstance(entry.get("protoPayload"), dict) else None
    fields: dict[str, str | None]
    row: dict[str, Any] = {
        "datetime": parse_iso(entry.get("timestamp")) or parse_iso(entry.get("receiveTimestamp")),
        "timestamp_desc": "Event Recorded",
        "source": source,
        "source_record": ordinal,
    }
    if audit is not None:
        caller = audit.get("requestMetadata") or {}
        user = (audit.get("authenticationInfo") or {}).get("principalEmail")
        row.update(
            event_provider=audit.get("serviceName"),
            event_action=audit.get("methodName"),
            user_name=user,
            source_ip=_ip(caller.get("callerIp")),
            message=f"{audit.get('serviceName')} {audit.get('methodName')} by {user or '?'} "
            f"on {audit.get('resourceName') or '?'}",
        )
        rest = {k: v for k, v in entry.items() if k != "protoPayload"}
        fields = flatten(rest)
        flatten({k: v for k, v in audit.items() if k not in _OPAQUE}, "protoPayload", fields)
        for key in _OPAQUE:
            if audit.get(key) is not None:
                fields[f"protoPayload.{key}"] = orjson.dumps(audit[key]).decode()
    else:
        payload = entry.get("jsonPayload")
        text = entry.get("textPayload")
        if text is None and isinstance(payload, dict):
            text = payload.get("message") or orjson.dumps(payload).decode()
        row["message"] = str(text if text is not None else entry.get("logName"))
        fields = flatten(entry)
    return row, fields


class GcpLoggingParser(Parser):
    """Google Cloud Logging / Cloud Audit Logs entries (JSON lines or a JSON array) -> rows."""

    name = "gcp_logging"

    def sniff(self, head: bytes) -> bool:
        return head.lstrip()[:1] in (b"{", b"[") and _SNIFF.search(head) is not None

    def parse(self, fh: BinaryIO, unit: object, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        rows = (e if isinstance(e, ParseWarning) else to_row(e[1], e[0], self.name) for e in read_entries(fh))
        yield from batched(rows, options.batch_rows)
