"""Times into aware UTC, in one place: FILETIME, epoch, ISO 8601 variants -> UTC or None.

Parsers never build datetimes themselves. A zero, invalid or out-of-range time is ``None``
(stored as null), never a sentinel such as ``datetime.min`` (python-evtx's choice for zero)
or a string with a trailing ``" UTC"`` (the Rust evtx bindings' record-header time).
Resolution is the microsecond; finer digits (FILETIME's 100 ns) are truncated, not rounded,
so a time never moves into the next second.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from functools import lru_cache

import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "TS",
    "epoch_to_utc",
    "filetime_to_utc",
    "iso_array",
    "iso_z",
    "local_to_utc",
    "ns_to_utc",
    "parse_iso",
    "to_display",
    "zone",
]

TS = pa.timestamp("us", tz="UTC")
_EPOCH_1601 = datetime(1601, 1, 1, tzinfo=UTC)
_EPOCH_1970 = datetime(1970, 1, 1, tzinfo=UTC)
_MIN = datetime(1, 1, 1, tzinfo=UTC)  # python-evtx's rendering of a zero FILETIME
_ISO = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?\s*"
    r"(Z|UTC|[+-]\d{2}:?\d{2})?\s*$",
    re.IGNORECASE,
)


def filetime_to_utc(value: int) -> datetime | None:
    """Windows FILETIME (100 ns ticks since 1601) to aware UTC; zero or absurd -> None."""
    if not value or value < 0:
        return None
    try:
        return _EPOCH_1601 + timedelta(microseconds=value // 10)
    except OverflowError:
        return None


def ns_to_utc(ns: int) -> datetime:
    """Nanoseconds since the Unix epoch (a file system's stat times) -> aware UTC, to the
    microsecond without going through a float."""
    seconds, rest = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest // 1000)


def epoch_to_utc(value: str | float | int) -> datetime | None:
    """Seconds since the Unix epoch with a decimal fraction (Zeek's ``time``, a JSON ``ts``) ->
    aware UTC. A string is read as the decimal it is, never through a float, so every written
    microsecond is kept (finer digits truncated); a float is read through its shortest repr
    (exact for the six decimals Zeek writes). Zero, negative or unreadable -> None."""
    if isinstance(value, bool):
        return None
    try:
        seconds = Decimal(repr(value) if isinstance(value, float) else value)
        micro = int(seconds.scaleb(6))  # truncates toward zero
    except (InvalidOperation, ValueError, OverflowError, TypeError):
        return None
    if micro <= 0:
        return None
    try:
        return _EPOCH_1970 + timedelta(microseconds=micro)
    except OverflowError:
        return None


@lru_cache(maxsize=64)
def zone(name: str) -> tzinfo:
    """The IANA time zone ``name`` (``UTC`` without the tz database); ``ValueError`` if unknown."""
    if name.upper() in ("UTC", "Z", "ETC/UTC"):
        return UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def local_to_utc(local: datetime, tz: tzinfo) -> datetime:
    """A naive wall-clock time in zone ``tz`` -> aware UTC. A time repeated when DST ends is
    taken as its first occurrence, one in the skipped hour with the offset before the change
    (zoneinfo's ``fold=0``)."""
    return local.replace(tzinfo=tz).astimezone(UTC)


def parse_iso(text: str | None, *, naive_is_utc: bool = True) -> datetime | None:
    """Parse the ISO 8601 shapes event logs write (``T`` or space, 0-9 fraction digits,
    ``Z``/``UTC``/offset or none) into aware UTC. Unparseable or FILETIME zero -> None."""
    if not text:
        return None
    m = _ISO.match(text)
    if not m:
        return None
    year, month, day, hour, minute, second, frac, zone = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        dt = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro)
    except ValueError:
        return None
    if zone is None or zone.upper() in ("Z", "UTC"):
        if zone is None and not naive_is_utc:
            return None
        dt = dt.replace(tzinfo=UTC)
        return None if dt in (_EPOCH_1601, _MIN) else dt
    sign = 1 if zone[0] == "+" else -1
    digits = zone[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return (dt - sign * offset).replace(tzinfo=UTC)


def iso_z(when: datetime) -> str:
    """An aware UTC time as the canonical string parsers hand over: ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_array(values: Sequence[str | None]) -> pa.Array:
    """Vectorised ISO strings -> ``timestamp[us, UTC]``; Arrow's cast is the fast path,
    the Python parser the fallback for variants it rejects (7 fraction digits, no zone)."""
    arr = pa.array(values, type=pa.string())
    try:
        out = arr.cast(TS)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        out = pa.array([parse_iso(v) for v in values], type=TS)
    zero = pc.or_(pc.equal(out, pa.scalar(_EPOCH_1601, type=TS)), pc.equal(out, pa.scalar(_MIN, type=TS)))
    if pc.any(zero).as_py():
        out = pc.if_else(zero, pa.scalar(None, type=TS), out)
    return out


def to_display(value: datetime | None, tz: str = "UTC") -> str:
    """Presentation only: render a UTC time in a display zone (ISO, microseconds)."""
    if value is None:
        return ""
    if tz != "UTC":
        from zoneinfo import ZoneInfo

        value = value.astimezone(ZoneInfo(tz))
    return value.isoformat(timespec="microseconds")
