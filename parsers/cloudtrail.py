"""AWS CloudTrail logs -> one row per API call record.

Three shapes, one record type: the files CloudTrail delivers to S3 (``{"Records": [...]}``, one
JSON object per file, usually gzip-compressed: the ingest decompresses), records one per line
(JSON lines, as shippers such as Logstash or ``jq -c '.Records[]'`` write them), and the
``LookupEvents`` API's output, where each line wraps the record as a JSON string in
``CloudTrailEvent``. Records shipped without ``eventTime`` take Logstash's ``@timestamp`` (a
note counts them).

Mapping: ``eventTime`` -> datetime, ``eventSource``/``eventName`` -> event_provider /
event_action, ``userIdentity`` -> user_name (the ARN, else the user name, else the invoking
service), ``sourceIPAddress`` -> source_ip when it is an address (an AWS service name otherwise,
kept in fields), everything else flattened into fields (``userIdentity.type``, ``errorCode``...;
``requestParameters`` and ``responseElements`` as JSON text).

References: AWS CloudTrail User Guide, "CloudTrail record contents" and "CloudTrail log file
examples"; AWS API Reference ``LookupEvents`` (``Event.CloudTrailEvent``).
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

__all__ = ["CloudTrailParser", "read_records", "to_row"]

_SNIFF = re.compile(rb'"(?:eventSource|EventSource)"\s*:\s*"[a-z0-9.-]+\.amazonaws\.com"')
_RECORDS = re.compile(rb'^\s*\{\s*"Records"\s*:\s*\[')
_OPAQUE = ("requestParameters", "responseElements", "additionalEventData", "resources", "serviceEventDetails")


def read_records(fh: BinaryIO) -> Iterator[tuple[str, int, int, dict[str, Any]] | ParseWarning]:
    """(location, offset, ordinal, record) for every CloudTrail record, or a warning."""
    fh.seek(0)
    head = fh.read(64)
    if _RECORDS.match(head):
        document, problem = whole_json(fh, "a Records file")
        if problem:
            yield problem
            return
        records = (document.get("Records") if isinstance(document, dict) else None) or []
        for i, record in enumerate(records, 1):
            if isinstance(record, dict):
                yield f"record {i}", None, i, record  # type: ignore[misc]
            else:
                yield ParseWarning(f"record {i}", None, "not a JSON object")
        return
    for item in json_lines(fh):
        if isinstance(item, ParseWarning):
            yield item
            continue
        number, offset, value = item
        if isinstance(value, dict) and isinstance(value.get("CloudTrailEvent"), str):
            try:
                value = orjson.loads(value["CloudTrailEvent"])
            except orjson.JSONDecodeError:
                yield ParseWarning(f"line {number}", offset, "CloudTrailEvent is not valid JSON")
                continue
        if not isinstance(value, dict) or "eventName" not in value:
            yield ParseWarning(f"line {number}", offset, "not a CloudTrail record (no eventName)")
            continue
        yield f"line {number}", offset, number, value


def _user(identity: dict[str, Any]) -> str | None:
    return (
        identity.get("arn")
        or identity.get("userName")
        or identity.get("invokedBy")
        or identity.get("principalId")
    )


def _ip(text: Any) -> str | None:
    try:
        return str(ipaddress.ip_address(text)) if isinstance(text, str) else None
    except ValueError:
        return None


def to_row(record: dict[str, Any], ordinal: int, source: str) -> tuple[Row, bool]:
    """A record -> ((core columns, fields), whether its time came from ``@timestamp``)."""
    identity = record.get("userIdentity") if isinstance(record.get("userIdentity"), dict) else {}
    when = parse_iso(record.get("eventTime"))
    fallback = when is None and record.get("@timestamp") is not None
    if fallback:
        when = parse_iso(record.get("@timestamp"))
    user, address = _user(identity), record.get("sourceIPAddress")
    error = record.get("errorCode")
    message = f"{record.get('eventSource')} {record.get('eventName')} by {user or '?'} from {address or '?'}"
    fields = flatten({k: v for k, v in record.items() if k not in _OPAQUE})
    for key in _OPAQUE:
        if record.get(key) is not None:
            fields[key] = orjson.dumps(record[key]).decode()
    row: dict[str, Any] = {
        "datetime": when,
        "timestamp_desc": "Event Recorded",
        "message": message + (f" failed: {error}" if error else ""),
        "source": source,
        "source_record": ordinal,
        "event_provider": record.get("eventSource"),
        "event_action": record.get("eventName"),
        "user_name": user,
        "user_domain": identity.get("accountId"),
        "source_ip": _ip(address),
    }
    return (row, fields), fallback


class CloudTrailParser(Parser):
    """AWS CloudTrail (S3 ``Records`` files, JSON lines, LookupEvents output) -> rows."""

    name = "aws_cloudtrail"

    def sniff(self, head: bytes) -> bool:
        body = head.lstrip()
        return body[:1] in (b"{", b"[") and _SNIFF.search(head) is not None

    def parse(self, fh: BinaryIO, unit: object, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        stamped = 0

        def rows() -> Iterator[Row | ParseWarning]:
            nonlocal stamped
            for item in read_records(fh):
                if isinstance(item, ParseWarning):
                    yield item
                    continue
                _, _, ordinal, record = item
                row, fallback = to_row(record, ordinal, self.name)
                stamped += fallback
                yield row

        yield from batched(rows(), options.batch_rows)
        if stamped:
            yield ParseWarning("file", None, f"{stamped} records have no eventTime: @timestamp used", 0)
