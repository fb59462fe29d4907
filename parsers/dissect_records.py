"""dissect.target records -> timeline rows: one mapping for every plugin's records.

dissect.target turns the artifacts of an image (users, cron jobs, services, Run keys,
prefetch, amcache, shellbags...) into ``flow.record`` records, each of a declared type with
typed fields. Rather than one mapper per plugin, the fields are mapped by name and type:
the record's own time (``ts``, else its first datetime field) is the row's time, well-known
field names fill the core columns (``hostname``, ``username``, ``remote_ip``, ``command``,
``pid``, ``path``...), and every field, mapped or not, stays in ``fields`` as text.
A record with no time at all (a cron job, an account) keeps a null time; the ingest may date
it by its source file's modification time (``dated_by_source``).

Reference: flow.record field types (github.com/fox-it/flow.record, ``fieldtypes``) and the
record descriptors of dissect.target's plugins.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from parsers.base import row_message

__all__ = ["record_row"]

#: Record field name -> core column, first match wins per column.
_CORE: dict[str, str] = {
    "hostname": "host_name",
    "username": "user_name",
    "user": "user_name",
    "ut_user": "user_name",
    "user_name": "user_name",
    "domain": "user_domain",
    "remote_ip": "source_ip",
    "ut_addr": "source_ip",
    "src_ip": "source_ip",
    "port": "source_port",
    "src_port": "source_port",
    "dst_ip": "destination_ip",
    "dst_port": "destination_port",
    "command": "process_command_line",
    "cmdline": "process_command_line",
    "command_line": "process_command_line",
    "pid": "process_pid",
    "ut_pid": "process_pid",
    "ppid": "process_parent_pid",
    "path": "file_path",
    "target_path": "file_path",
    "filename": "file_path",
    "uri": "url_full",
    "url": "url_full",
}
_INT_COLUMNS = frozenset({"process_pid", "process_parent_pid", "source_port", "destination_port"})
_RANGES = {"source_port": 65535, "destination_port": 65535}
#: Record type prefixes whose ``name`` field is an account name.
_ACCOUNT_TYPES = ("unix/user", "windows/user", "macos/user")
#: Values that mean "none" (utmp's empty address, for one).
_UNSPECIFIED = frozenset({"0.0.0.0", "::"})


def _text(value: Any) -> str | None:
    """A record value as text: paths and addresses by str(), lists joined, digests by sha256."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        parts = [t for t in (_text(v) for v in value) if t]
        return "; ".join(parts) or None
    sha256 = getattr(value, "sha256", None)
    if isinstance(sha256, str):
        return sha256
    text = str(value)
    return text if text and text not in _UNSPECIFIED else None


def _int(value: Any, column: str) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    limit = _RANGES.get(column, 2**63 - 1)
    return number if 0 <= number <= limit else None


def record_row(record: Any) -> tuple[dict[str, Any], dict[str, str | None]]:
    """Map one dissect.target record to (core columns, fields)."""
    kind: str = record._desc.name
    row: dict[str, Any] = {
        "timestamp_desc": "Event Recorded",
        "event_provider": "dissect.target",
        "event_code": kind,
        "event_action": kind.rsplit("/", 1)[-1].replace("_", "-"),
    }
    fields: dict[str, str | None] = {}
    when: datetime | None = None
    when_name = ""
    for ftype, name in _field_tuples(record):
        value = getattr(record, name, None)
        if value is None:
            continue
        if ftype == "datetime" and isinstance(value, datetime) and (when is None or name == "ts"):
            when, when_name = value, name
        column = _CORE.get(name)
        if column is None and name == "name" and kind.startswith(_ACCOUNT_TYPES):
            column = "user_name"
        if column is not None and column not in row:
            row[column] = _int(value, column) if column in _INT_COLUMNS else _text(value)
            if row[column] is None:
                del row[column]
        fields[name] = _text(value)
    if when is not None:
        row["datetime"] = when
        if when_name not in ("ts", ""):
            fields["time_field"] = when_name
    row["message"] = _message(kind, fields)
    return row, fields


def _field_tuples(record: Any) -> Iterable[tuple[str, str]]:
    """(type, name) of the record's fields, minus the bookkeeping ones flow.record adds."""
    for ftype, name in record._desc.get_field_tuples():
        if not name.startswith("_"):
            yield ftype, name


def _message(kind: str, fields: dict[str, str | None]) -> str:
    details = "; ".join(f"{k}={v}" for k, v in fields.items() if v and k not in ("hostname", "domain"))
    return row_message(f"{kind}: {details}" if details else kind)
