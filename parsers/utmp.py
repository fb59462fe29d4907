"""Login records: ``/var/run/utmp`` (who is on now), ``/var/log/wtmp`` (logins, logouts,
boots, shutdowns) and ``/var/log/btmp`` (failed logins) -> one row per record.

All three are arrays of glibc's x86-64 ``struct utmp``, 384 bytes each, little-endian:
``ut_type`` (int16, padded to 4), ``ut_pid`` (int32), ``ut_line`` (32 bytes, the tty),
``ut_id`` (4), ``ut_user`` (32), ``ut_host`` (256, remote host or kernel version), ``ut_exit``
(2 x int16), ``ut_session`` (int32), ``ut_tv`` (2 x int32: seconds, microseconds: 32-bit even on
64-bit glibc, for compatibility) and ``ut_addr_v6`` (4 x int32, an IPv4 address in the first
only). Empty slots (type 0) are skipped and counted in a note; a trailing partial record is a
warning. btmp has no marker of its own: a ``LOGIN_PROCESS`` record with a user other than
getty's ``LOGIN`` is what lastb shows, so it becomes ``login-failed``.

References: glibc ``bits/utmp.h`` and utmp(5) (man7.org/linux/man-pages/man5/utmp.5.html);
util-linux ``last.c`` (how last/lastb read these records).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

import pyarrow as pa

from forensics.timeutil import ns_to_utc
from parsers.base import Options, Parser, ParseWarning
from parsers.textlog import Row, batched

__all__ = ["RECORD_SIZE", "Utmp", "UtmpParser", "read_utmp", "to_row"]

RECORD_SIZE = 384
_STRUCT = struct.Struct("<hxxi32s4s32s256shhiii16s20x")
TYPES = ("EMPTY", "RUN_LVL", "BOOT_TIME", "NEW_TIME", "OLD_TIME", "INIT_PROCESS", "LOGIN_PROCESS",
         "USER_PROCESS", "DEAD_PROCESS", "ACCOUNTING")  # fmt: skip
#: Plausible record times for sniffing: 1980 to 2100.
_SANE = (315_532_800, 4_102_444_800)


@dataclass(slots=True)
class Utmp:
    """One ``struct utmp`` record."""

    index: int
    offset: int
    type: int
    pid: int
    line: str
    id: str
    user: str
    host: str
    exit_termination: int
    exit_status: int
    session: int
    when: datetime | None
    address: str | None


def _string(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("utf-8", "replace")


def _address(raw: bytes) -> str | None:
    if not any(raw):
        return None
    if not any(raw[4:]):
        return str(ipaddress.IPv4Address(raw[:4]))
    return str(ipaddress.IPv6Address(raw))


def _unpack(raw: bytes, index: int, offset: int) -> Utmp:
    kind, pid, line, ident, user, host, term, status, session, sec, usec, addr = _STRUCT.unpack(raw)
    when = ns_to_utc(sec * 1_000_000_000 + usec * 1000) if sec > 0 and 0 <= usec < 1_000_000 else None
    return Utmp(index, offset, kind, pid, _string(line), _string(ident), _string(user), _string(host),
                term, status, session, when, _address(addr))  # fmt: skip


def read_utmp(fh: BinaryIO) -> Iterator[Utmp | ParseWarning]:
    """Every non-empty record, in file order; notes for empty slots and a trailing fragment."""
    fh.seek(0)
    empty = 0
    index = 0
    while True:
        offset = index * RECORD_SIZE
        raw = fh.read(RECORD_SIZE)
        if not raw:
            break
        if len(raw) < RECORD_SIZE:
            yield ParseWarning(
                f"record {index + 1}", offset, f"trailing {len(raw)} bytes, not a whole record"
            )
            break
        index += 1
        record = _unpack(raw, index, offset)
        if record.type == 0:
            empty += 1
        elif not 0 < record.type < len(TYPES):
            yield ParseWarning(f"record {index}", offset, f"unknown ut_type {record.type}")
        else:
            yield record
    if empty:
        yield ParseWarning("file", None, f"{empty} empty records (ut_type 0) skipped", 0)


def _action(record: Utmp) -> str:
    kind = TYPES[record.type]
    if kind == "RUN_LVL":
        return "shutdown" if record.user == "shutdown" else "runlevel-change"
    if kind == "LOGIN_PROCESS":
        return "login-prompt" if record.user in ("LOGIN", "") else "login-failed"
    return {
        "BOOT_TIME": "boot",
        "NEW_TIME": "clock-changed",
        "OLD_TIME": "clock-changed",
        "INIT_PROCESS": "init-process",
        "USER_PROCESS": "user-login",
        "DEAD_PROCESS": "user-logout",
        "ACCOUNTING": "accounting",
    }[kind]


def to_row(record: Utmp, source: str) -> Row:
    action = _action(record)
    remote = record.host if TYPES[record.type] not in ("BOOT_TIME", "RUN_LVL") else None
    ip = record.address
    if ip is None and remote:
        try:
            ip = str(ipaddress.ip_address(remote))
        except ValueError:
            ip = None
    where = f" on {record.line}" if record.line and record.line != "~" else ""
    whence = f" from {remote}" if remote else ""
    row: dict[str, Any] = {
        "datetime": record.when,
        "timestamp_desc": "Event Recorded",
        "message": f"{action}: {record.user or '-'}{where}{whence}",
        "source": source,
        "source_record": record.index,
        "event_code": TYPES[record.type],
        "event_action": action,
        "user_name": None if TYPES[record.type] in ("BOOT_TIME", "RUN_LVL") else record.user or None,
        "process_pid": record.pid or None,
        "source_ip": ip,
    }
    fields: dict[str, str | None] = {
        "ut_user": record.user or None, "tty": record.line or None, "id": record.id or None,
        "session": str(record.session),
    }  # fmt: skip
    if record.host:
        fields["kernel" if TYPES[record.type] in ("BOOT_TIME", "RUN_LVL") else "remote_host"] = record.host
    if TYPES[record.type] == "RUN_LVL" and record.pid:
        fields["runlevel"] = chr(record.pid % 256) if 32 < record.pid % 256 < 127 else str(record.pid)
    if record.exit_termination or record.exit_status:
        fields["exit"] = f"{record.exit_termination}:{record.exit_status}"
    return row, fields


def _plausible(raw: bytes) -> bool:
    kind, pid, line, _, user, host, _, _, _, sec, usec, _ = _STRUCT.unpack(raw)
    if kind == 0:
        return not any(raw)
    if not 0 < kind < len(TYPES) or pid < 0 or not 0 <= usec < 1_000_000 or not _SANE[0] <= sec <= _SANE[1]:
        return False
    for text in (line, user, host):
        value = text.split(b"\x00", 1)[0]
        if any(c < 0x20 or c == 0x7F for c in value) or any(text[len(value) :]):
            return False
    return True


class UtmpParser(Parser):
    """Binary utmp/wtmp/btmp (glibc x86-64 ``struct utmp``) -> login, logout, boot rows."""

    name = "linux_utmp"

    def sniff(self, head: bytes) -> bool:
        records = [head[i : i + RECORD_SIZE] for i in range(0, len(head) - RECORD_SIZE + 1, RECORD_SIZE)]
        return bool(records) and records[0][:4] != b"\x00" * 4 and all(_plausible(r) for r in records)

    def parse(self, fh: BinaryIO, unit: object, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        rows = (r if isinstance(r, ParseWarning) else to_row(r, self.name) for r in read_utmp(fh))
        yield from batched(rows, options.batch_rows)
