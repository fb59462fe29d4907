"""File-system timelines written by The Sleuth Kit -> MACB rows: the TSK 3.x+ bodyfile
(``fls -m``, ``ils -m``, mac-robber and the many tools that write its format) and the long
``fls -l`` listing.

A bodyfile line is ``MD5|name|inode|mode_as_string|UID|GID|size|atime|mtime|ctime|crtime``
with times in seconds since 1970 (UTC, possibly fractional or negative), ``0`` for a time that
is not set, ``0`` for an MD5 not computed. TSK writes names unescaped (a ``|`` in a name is
not escaped), dfImageTools escapes ``\\|``: the name is taken as everything between the MD5 and
the last nine values, and kept as written. TSK appends `` ($FILE_NAME)`` (NTFS $FILE_NAME
times), `` -> target`` (symbolic links) and `` (deleted)``/`` (deleted-realloc)`` to names;
these become fields. ``#`` lines are comments.

``fls -l`` lines are ``type/type [* ]inode[(realloc)]:<TAB>name<TAB>mtime<TAB>atime<TAB>ctime
<TAB>crtime<TAB>size<TAB>gid<TAB>uid`` with times as ``YYYY-MM-DD HH:MM:SS (ZONE)``
(``0000-00-00 00:00:00`` when not set; the zone is ``fls -z``'s, UTC by default; a zone other
than UTC/GMT is read in ``Options.timezone``). TSK prints gid before uid here, whatever its
comment says. A plain ``fls`` listing (without ``-l`` or ``-m``) has no times: it is not
recognised, since a timeline row needs a time.

As ``mactime`` does, times of one file that coincide share a row: ``macb`` says which
(``MA..``), ``timestamp_desc`` is the first of Modified, Accessed, Changed, Created among them
and ``event_action`` names them all (``file-modified-accessed``). A file with no time set gives
no row; one note per file counts them.

References: The Sleuth Kit wiki, "Body file" (https://wiki.sleuthkit.org/index.php?title=Body_file)
and fls(1)/mactime(1); TSK ``tsk/fs/fs_name.c`` (``tsk_fs_name_print_mac_md5``,
``tsk_fs_name_print_long``); dfImageTools "Bodyfile format".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, BinaryIO

import pyarrow as pa

from forensics.timeutil import local_to_utc
from parsers.base import Options, Parser, ParseWarning, row_message
from parsers.textlog import Row, batched, head_lines, host_zone, numbered_lines

__all__ = ["BodyfileParser", "FlsParser", "macb_rows", "read_bodyfile", "read_fls"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?$")
_MD5 = re.compile(r"0|[0-9a-fA-F]{32}")
_DELETED = re.compile(r" \((deleted(?:-realloc)?)\)$")
_FLS = re.compile(
    r"(?P<depth>(?:\+ )*)(?P<type>[-a-zA-Z]{1,2}/[-a-zA-Z]{1,2}) (?P<deleted>\* )?"
    r"(?P<inode>\d+(?:-\d+-\d+)?)(?P<realloc>\(realloc\))?:\t(?P<rest>.*)$"
)
_FLS_TIME = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(?:\.(\d{1,9}))? \(([^)]*)\)$")
_UNSET = "0000-00-00 00:00:00"
_UTC_NAMES = frozenset({"UTC", "GMT", "UTC0", "Z", ""})
#: MACB letter, timestamp_desc; in the order mactime writes them.
_KINDS = (("M", "Modified"), ("A", "Accessed"), ("C", "Changed"), ("B", "Created"))


def _epoch(text: str) -> datetime | None:
    """Seconds since 1970 (``1596091265.352146149``) -> UTC to the microsecond; 0 -> None."""
    negative = text.startswith("-")
    whole, _, fraction = text.lstrip("-").partition(".")
    micros = int(whole) * 1_000_000 + int((fraction + "000000")[:6])
    if micros == 0:
        return None
    return _EPOCH + timedelta(microseconds=-micros if negative else micros)


def macb_rows(
    times: dict[str, datetime | None],
    path: str,
    base: dict[str, Any],
    fields: dict[str, str | None],
    label: str,
) -> list[Row]:
    """One row per distinct time of a file (``times`` by MACB letter), mactime style."""
    kinds: dict[datetime, list[tuple[str, str]]] = {}
    for letter, desc in _KINDS:
        when = times.get(letter)
        if when is not None:
            kinds.setdefault(when, []).append((letter, desc))
    rows: list[Row] = []
    for when, found in sorted(kinds.items()):
        letters = {letter for letter, _ in found}
        macb = "".join(c if c in letters else "." for c, _ in _KINDS)
        row = {
            **base,
            "datetime": when,
            "timestamp_desc": found[0][1],
            "event_action": "file-" + "-".join(desc.lower() for _, desc in found),
            "message": row_message(f"{macb} {path}{label}"),
            "file_path": path,
        }
        rows.append((row, {**fields, "macb": macb}))
    return rows


def _split_name(name: str) -> tuple[str, dict[str, str | None]]:
    """A TSK name -> (path, fields for its `` (deleted)``, `` -> link`` and `` ($FILE_NAME)`` suffixes)."""
    fields: dict[str, str | None] = {}
    m = _DELETED.search(name)
    if m:
        fields["deleted"] = "realloc" if m[1] == "deleted-realloc" else "true"
        name = name[: m.start()]
    if " -> " in name:
        name, fields["symlink_target"] = name.split(" -> ", 1)
    if name.endswith(" ($FILE_NAME)"):
        name = name.removesuffix(" ($FILE_NAME)")
        fields["times_from"] = "$FILE_NAME"
    return name, fields


def _bodyfile_values(text: str) -> tuple[str, str, list[str]] | None:
    """(md5, name, the nine values after it) of a bodyfile line, or None when it has too few."""
    md5, sep, rest = text.partition("|")
    parts = rest.rsplit("|", 9)
    if not sep or len(parts) != 10:
        return None
    return md5, parts[0], parts[1:]


def _bodyfile_line(text: str) -> bool:
    """Strict check for sniffing: 10 separators (escaped ``\\|`` aside), numeric times and size."""
    split = _bodyfile_values(text)
    if split is None or text.replace("\\|", "").count("|") != 10:
        return False
    md5, _, values = split
    size, times = values[4], values[5:]
    return (
        _MD5.fullmatch(md5) is not None
        and (size == "" or size.isdigit())
        and all(_NUMBER.match(t) for t in times)
    )


def read_bodyfile(fh: BinaryIO, source: str) -> Iterator[Row | ParseWarning]:
    """Bodyfile lines -> MACB rows; malformed lines are located warnings."""
    untimed: list[int] = []
    for number, offset, text in numbered_lines(fh):
        if not text.strip() or text.startswith("#"):
            continue
        split = _bodyfile_values(text)
        if split is None:
            count = text.replace("\\|", "").count("|")
            yield ParseWarning(f"line {number}", offset, f"{count + 1} values, a bodyfile line has 11")
            continue
        md5, name, (inode, mode, uid, gid, size, atime, mtime, ctime, crtime) = split
        named = zip(("atime", "mtime", "ctime", "crtime"), (atime, mtime, ctime, crtime), strict=True)
        bad = [label for label, value in named if value and not _NUMBER.match(value)]
        if bad or (size and not size.isdigit()):
            what = ", ".join(bad) if bad else "size"
            yield ParseWarning(f"line {number}", offset, f"not a number in {what}: {text[:80]!r}")
            continue
        times = {
            letter: _epoch(value) if value else None
            for letter, value in (("M", mtime), ("A", atime), ("C", ctime), ("B", crtime))
        }
        path, fields = _split_name(name)
        fields.update(
            {"inode": inode, "mode": mode, "uid": uid or None, "gid": gid or None, "size": size or None}
        )
        if md5 not in ("0", "") and md5.strip("0"):
            fields["md5"] = md5.lower()
        if any(ord(c) < 0x20 or c == "\x7f" for c in path):
            yield ParseWarning(f"line {number}", offset, "control character in the name (kept as written)", 0)
        fields = {k: v for k, v in fields.items() if v is not None}
        label = (" (deleted)" if "deleted" in fields else "") + (f" ({size} bytes)" if size else "")
        base = {"source": source, "source_record": number, "event_provider": "bodyfile"}
        rows = macb_rows(times, path, base, fields, label)
        if not rows:
            untimed.append(number)
        yield from rows
    if untimed:
        yield _untimed_note(untimed)


def _untimed_note(lines: list[int]) -> ParseWarning:
    shown = ", ".join(map(str, lines[:10])) + (" ..." if len(lines) > 10 else "")
    return ParseWarning("file", None, f"{len(lines)} entries have no time set, no rows (lines {shown})", 0)


def _fls_time(text: str, tz: tzinfo) -> tuple[datetime | None, str | None] | None:
    """An ``fls -l`` time -> (UTC or None when unset, its zone label); None when unreadable."""
    m = _FLS_TIME.match(text)
    if m is None:
        return None
    if m[1] == _UNSET:
        return None, m[3]
    try:
        local = datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    if m[2]:
        local = local.replace(microsecond=int((m[2] + "000000")[:6]))
    utc = m[3].upper() in _UTC_NAMES
    return (local.replace(tzinfo=UTC) if utc else local_to_utc(local, tz)), m[3]


def read_fls(fh: BinaryIO, tz: tzinfo, zone_name: str, source: str) -> Iterator[Row | ParseWarning]:
    """``fls -l`` lines -> MACB rows; times in a zone other than UTC are read in ``tz``."""
    untimed: list[int] = []
    zones: set[str] = set()
    for number, offset, text in numbered_lines(fh):
        if not text.strip():
            continue
        m = _FLS.match(text)
        parts = m["rest"].rsplit("\t", 7) if m else []
        if m is None or len(parts) != 8:
            reason = "not an fls -l line" if m is None else f"{len(parts)} tab-separated values, fls -l has 8"
            yield ParseWarning(f"line {number}", offset, reason)
            continue
        name, mtime, atime, ctime, crtime, size, gid, uid = parts
        read = [_fls_time(t, tz) for t in (mtime, atime, ctime, crtime)]
        if any(r is None for r in read) or not (size.isdigit() and gid.isdigit() and uid.isdigit()):
            yield ParseWarning(f"line {number}", offset, f"unreadable time or number: {text[:80]!r}")
            continue
        times = dict(zip("MACB", (r[0] for r in read if r is not None), strict=True))
        here = {r[1] for r in read if r is not None and r[1] and r[1].upper() not in _UTC_NAMES}
        zones |= here
        path, fields = _split_name(name)
        if m["deleted"]:
            fields["deleted"] = "realloc" if m["realloc"] else "true"
        fields.update({"type": m["type"], "inode": m["inode"], "size": size, "uid": uid, "gid": gid})
        if m["depth"]:
            fields["depth"] = str(len(m["depth"]) // 2)
        if here:
            fields["time_zone"] = zone_name
        label = (" (deleted)" if "deleted" in fields else "") + f" ({size} bytes)"
        base = {"source": source, "source_record": number, "event_provider": "fls"}
        rows = macb_rows(times, path, base, fields, label)
        if not rows:
            untimed.append(number)
        yield from rows
    if zones:
        yield ParseWarning(
            "file", None, f"times written in zone {'/'.join(sorted(zones))}: read in {zone_name}", 0
        )
    if untimed:
        yield _untimed_note(untimed)


class BodyfileParser(Parser):
    """TSK bodyfile (``fls -m``, mactime's input) -> one row per distinct time of each file."""

    name = "bodyfile"

    def sniff(self, head: bytes) -> bool:
        lines = [line for line in head_lines(head, 20) if not line.startswith("#")]
        return bool(lines) and _bodyfile_line(lines[0])

    def parse(self, fh: BinaryIO, unit: object, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        yield from batched(read_bodyfile(fh, self.name), options.batch_rows)


class FlsParser(Parser):
    """TSK ``fls -l`` long listing (with times) -> one row per distinct time of each file."""

    name = "tsk_fls"

    def sniff(self, head: bytes) -> bool:
        lines = head_lines(head, 1)
        if not lines or (m := _FLS.match(lines[0])) is None:
            return False
        parts = m["rest"].rsplit("\t", 7)
        return len(parts) == 8 and all(_FLS_TIME.match(t) for t in parts[1:5])

    def parse(self, fh: BinaryIO, unit: object, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        tz, zone_name, note = host_zone(options)
        if note:
            yield note
        yield from batched(read_fls(fh, tz, zone_name, self.name), options.batch_rows)
