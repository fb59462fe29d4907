"""Windows shell links (``.lnk``) and jump lists (``*.automaticDestinations-ms``,
``*.customDestinations-ms``) -> rows for what was opened, from where, and when.

A shell link records its target: the local path (volume serial, drive type and label) or network
share, arguments, working directory, icon, the target's own created/modified/accessed times as
they were when the link was written, and, in its tracker block, the NetBIOS name of the machine
the target lived on and the distributed-link-tracking object IDs (whose UUID v1 carries a time
and, often, the MAC address of the machine that created it). One row per distinct target time
(times that coincide share a row, ``macb`` says which); a link with no times gives one undated row.

Jump lists hold links too: an automatic destinations file is an OLE compound file whose numbered
streams are links and whose ``DestList`` stream says, per entry, when the item was last opened
through the application, how often, whether it is pinned, and the host name: one ``Accessed``
row per DestList entry, then the rows of its link. A custom destinations file is a header and
links one after another (a ``0xBABFFBAB`` footer at the end).

Links are read with dissect.shellitem (``Lnk``), the compound file with dissect.ole, the
target ID list's shell items with dissect.target's shell-item reader; the DestList layout and the
custom destinations framing with ``struct``.

References: [MS-SHLLINK] Shell Link (.LNK) Binary File Format; libyal dtformats "Jump lists format"
(github.com/libyal/dtformats, documentation/Jump lists format.asciidoc); [MS-CFB] Compound File
Binary File Format; RFC 4122 (UUID version 1 time and node).
"""

from __future__ import annotations

import io
import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

import pyarrow as pa

from forensics.timeutil import filetime_to_utc
from parsers.base import Options, Parser, ParseWarning
from parsers.textlog import Row, batched

__all__ = ["DestListEntry", "JumpListParser", "Link", "LnkParser", "link_rows", "read_jumplist", "read_link"]

LNK_CLSID = bytes.fromhex("0114020000000000c000000000000046")
LNK_MAGIC = b"\x4c\x00\x00\x00" + LNK_CLSID
OLE_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")
CUSTOM_FOOTER = 0xBABFFBAB
_DESTLIST_NAME = "DestList".encode("utf-16-le")
_UUID_EPOCH = datetime(1582, 10, 15, tzinfo=UTC)
_DRIVE_TYPES = {
    0: "unknown",
    1: "no root dir",
    2: "removable",
    3: "fixed",
    4: "remote",
    5: "cdrom",
    6: "ramdisk",
}
#: Largest jump list or link read whole.
MAX_SIZE = 64 << 20


# --- reading ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Link:
    """What one shell link records about its target."""

    created: datetime | None = None
    modified: datetime | None = None
    accessed: datetime | None = None
    file_size: int = 0
    attributes: int = 0
    description: str | None = None
    relative_path: str | None = None
    working_dir: str | None = None
    arguments: str | None = None
    icon_location: str | None = None
    local_path: str | None = None
    network_path: str | None = None
    drive_type: str | None = None
    volume_serial: str | None = None
    volume_label: str | None = None
    env_target: str | None = None
    icon_env: str | None = None
    shell_path: str | None = None
    machine_id: str | None = None
    droid_volume: str | None = None
    droid_file: str | None = None
    birth_droid_file: str | None = None
    known_folder: str | None = None

    @property
    def target(self) -> str | None:
        """The best statement of the target: local path, share path, environment path, shell
        item path, then the relative path."""
        return (
            self.local_path or self.network_path or self.env_target or self.shell_path or self.relative_path
        )


@dataclass(slots=True)
class DestListEntry:
    """One DestList entry of an automatic destinations jump list."""

    number: int
    offset: int
    path: str
    host: str
    accessed: datetime | None
    pinned: bool
    access_count: int | None
    droid_file: str | None


def _ansi(raw: Any) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.split(b"\x00", 1)[0].decode("cp1252", "replace")
    text = str(raw).rstrip("\x00")
    return text or None


def _stringdata(lnk: Any, flag: str, name: str) -> str | None:
    if not lnk.flag(flag):
        return None
    try:
        return getattr(lnk.stringdata, name).string.rstrip("\x00") or None
    except (AttributeError, KeyError):
        return None


def _shell_path(lnk: Any) -> str | None:
    from dissect.target.plugins.os.windows.regf.shellbags import parse_shell_item_list

    items = lnk.target_idlist.idlist.itemid_list
    raw = b"".join(i.itemid_size.to_bytes(2, "little") + i.data for i in items) + b"\x00\x00"
    names = []
    for item in parse_shell_item_list(raw):
        name = item.name
        if not name or (type(item).__name__ == "ROOT_FOLDER" and name == "My Computer"):
            continue
        names.append(name.rstrip("\\"))
    return "\\".join(names) or None


def read_link(data: bytes) -> Link:
    """One shell link from its bytes (raises on a header that is not a link's)."""
    from dissect.shellitem.lnk import Lnk

    if data[:20] != LNK_MAGIC:
        raise ValueError("not a shell link header")
    lnk = Lnk(io.BytesIO(data))
    header = lnk.link_header
    link = Link(
        created=filetime_to_utc(header.creation_time),
        modified=filetime_to_utc(header.write_time),
        accessed=filetime_to_utc(header.access_time),
        file_size=header.filesize,
        attributes=int(header.file_flags),
        description=_stringdata(lnk, "has_name", "name_string"),
        relative_path=_stringdata(lnk, "has_relative_path", "relative_path"),
        working_dir=_stringdata(lnk, "has_working_dir", "working_dir"),
        arguments=_stringdata(lnk, "has_arguments", "command_line_arguments"),
        icon_location=_stringdata(lnk, "has_icon_location", "icon_location"),
    )
    if lnk.flag("has_link_info") and lnk.linkinfo.link_info is not None:
        info = lnk.linkinfo
        suffix = _ansi(info.common_path_suffix) or ""
        if info.flag("volumeid_and_local_basepath"):
            base = _ansi(info.local_base_path)
            link.local_path = (base or "") + suffix or None
            volume = info.volumeid
            if volume is not None:
                link.drive_type = _DRIVE_TYPES.get(volume.drive_type, str(volume.drive_type))
                link.volume_serial = f"{volume.drive_serial_number:08X}"
                link.volume_label = _ansi(volume.data)
        if info.flag("common_network_relative_link_and_pathsuffix") and info.common_network_relative_link:
            share = _ansi(info.common_network_relative_link.net_name)
            if share:
                link.network_path = f"{share}\\{suffix}" if suffix else share
    if lnk.flag("has_link_target_idlist"):
        try:
            link.shell_path = _shell_path(lnk)
        except Exception:  # shell items are many and loosely specified: the path is a bonus
            link.shell_path = None
    extra = lnk.extradata.extradata
    if "ENVIRONMENT_PROPS" in extra:
        block = extra["ENVIRONMENT_PROPS"]
        link.env_target = _ansi(block.target_unicode) or _ansi(block.target_ansi)
    if "ICON_ENVIRONMENT_PROPS" in extra:
        block = extra["ICON_ENVIRONMENT_PROPS"]
        link.icon_env = _ansi(block.target_unicode) or _ansi(block.target_ansi)
    if "KNOWN_FOLDER_PROPS" in extra:
        link.known_folder = str(extra["KNOWN_FOLDER_PROPS"].known_folder_id)
    if "TRACKER_PROPS" in extra:
        tracker = extra["TRACKER_PROPS"]
        link.machine_id = _ansi(tracker.machine_id)
        link.droid_volume = str(tracker.volume_droid)
        link.droid_file = str(tracker.file_droid)
        link.birth_droid_file = str(tracker.file_droid_birth)
    return link


def uuid_time_node(text: str | None) -> tuple[datetime | None, str | None]:
    """A version 1 UUID's time (UTC) and node (MAC address); (None, None) for other versions."""
    if not text:
        return None, None
    value = uuid.UUID(text)
    if value.version != 1:
        return None, None
    when = _UUID_EPOCH + timedelta(microseconds=value.time // 10)
    mac = ":".join(f"{b:02x}" for b in value.node.to_bytes(6, "big"))
    return when, mac


def read_destlist(data: bytes) -> Iterator[DestListEntry | ParseWarning]:
    """The DestList stream's entries (format version 1: Windows 7/8; 3 and 4: Windows 10+)."""
    if len(data) < 32:
        yield ParseWarning("DestList", None, f"DestList stream of {len(data)} bytes: no header")
        return
    version, count = struct.unpack_from("<II", data, 0)
    if version not in (1, 2, 3, 4):
        yield ParseWarning("DestList", None, f"unknown DestList version {version}")
        return
    fixed = 114 if version == 1 else 130
    offset = 32
    for n in range(count):
        if offset + fixed > len(data):
            yield ParseWarning(
                f"DestList entry {n} (stream offset {offset})", None, "entry runs past the stream", count - n
            )
            return
        host = data[offset + 72 : offset + 88].split(b"\x00", 1)[0].decode("cp1252", "replace")
        number, access, when, pin = struct.unpack_from("<I4xfQi", data, offset + 88)
        if version == 1:
            chars = struct.unpack_from("<H", data, offset + 112)[0]
            count_used: int | None = round(access)
        else:
            count_used = struct.unpack_from("<I", data, offset + 116)[0]
            chars = struct.unpack_from("<H", data, offset + 128)[0]
        end = offset + fixed + 2 * chars
        if end > len(data):
            yield ParseWarning(
                f"DestList entry {n} (stream offset {offset})", None, "path runs past the stream", count - n
            )
            return
        path = data[offset + fixed : end].decode("utf-16-le", "replace")
        droid = str(uuid.UUID(bytes_le=data[offset + 24 : offset + 40]))
        yield DestListEntry(number, offset, path, host, filetime_to_utc(when), pin != -1, count_used, droid)
        offset = end + (4 if version >= 3 else 0)


def read_jumplist(
    fh: BinaryIO,
) -> Iterator[tuple[int, DestListEntry | None, Link] | DestListEntry | ParseWarning]:
    """(entry number, DestList entry or None, link) per link of a jump list, in file order; a
    DestList entry without its stream comes alone; unreadable links are warnings."""
    fh.seek(0)
    data = fh.read(MAX_SIZE + 1)
    if len(data) > MAX_SIZE:
        yield ParseWarning("file", 0, f"over {MAX_SIZE >> 20} MiB: not read")
        return
    if data[:8] == OLE_MAGIC:
        yield from _automatic(data)
    else:
        yield from _custom(data)


def _automatic(
    data: bytes,
) -> Iterator[tuple[int, DestListEntry | None, Link] | DestListEntry | ParseWarning]:
    from dissect.ole import OLE

    try:
        ole = OLE(io.BytesIO(data))
        names = list(ole.root.listdir())
    except Exception as exc:
        yield ParseWarning(
            "compound file", 0, f"unreadable OLE compound file: {type(exc).__name__}: {exc}"[:300]
        )
        return
    entries: dict[int, DestListEntry] = {}
    if "DestList" in names:
        for item in read_destlist(ole.get("DestList").open().read()):
            if isinstance(item, ParseWarning):
                yield item
            else:
                entries[item.number] = item
    else:
        yield ParseWarning("compound file", 0, "no DestList stream: links without their access times", 0)
    streams: dict[int, str] = {}
    for name in names:
        if name == "DestList":
            continue
        try:
            streams[int(name, 16)] = name
        except ValueError:
            yield ParseWarning(f"stream {name}", None, "stream name is not an entry number: skipped", 0)
    for number in sorted(
        set(streams) | set(entries), key=lambda n: (entries[n].offset if n in entries else 1 << 62, n)
    ):
        entry = entries.get(number)
        if number not in streams:
            if entry is not None:
                yield entry
            continue
        try:
            link = read_link(ole.get(streams[number]).open().read())
        except Exception as exc:
            yield ParseWarning(
                f"stream {streams[number]}", None, f"unreadable link: {type(exc).__name__}: {exc}"[:300]
            )
            if entry is not None:
                yield entry
            continue
        yield number, entry, link


def _custom(data: bytes) -> Iterator[tuple[int, DestListEntry | None, Link] | ParseWarning]:
    if len(data) < 4 or struct.unpack_from("<I", data, len(data) - 4)[0] != CUSTOM_FOOTER:
        yield ParseWarning("footer", max(len(data) - 4, 0), "no 0xBABFFBAB footer: file may be truncated", 0)
    start = 0
    n = 0
    while (at := data.find(LNK_MAGIC, start)) >= 0:
        n += 1
        try:
            link = read_link(data[at:])
        except Exception as exc:
            yield ParseWarning(f"link {n}", at, f"unreadable link: {type(exc).__name__}: {exc}"[:300])
            start = at + len(LNK_MAGIC)
            continue
        yield n, None, link
        start = at + len(LNK_MAGIC)


# --- mapping ---------------------------------------------------------------------------------

_TIMES = (("modified", "Modified", "M"), ("accessed", "Accessed", "A"), ("created", "Created", "B"))


def link_fields(link: Link) -> dict[str, str | None]:
    droid_time, mac = uuid_time_node(link.droid_file)
    fields = {
        "target_path": link.target,
        "local_path": link.local_path,
        "network_path": link.network_path,
        "relative_path": link.relative_path,
        "working_dir": link.working_dir,
        "arguments": link.arguments,
        "description": link.description,
        "icon_location": link.icon_location,
        "env_target": link.env_target,
        "icon_env_location": link.icon_env,
        "shell_item_path": link.shell_path,
        "target_size": str(link.file_size),
        "target_attributes": f"0x{link.attributes:08x}",
        "drive_type": link.drive_type,
        "volume_serial": link.volume_serial,
        "volume_label": link.volume_label,
        "machine_id": link.machine_id,
        "droid_volume": link.droid_volume,
        "droid_file": link.droid_file,
        "birth_droid_file": link.birth_droid_file,
        "droid_time": droid_time.isoformat() if droid_time else None,
        "droid_mac": mac,
        "known_folder": link.known_folder,
        "target_created": link.created.isoformat() if link.created else None,
        "target_modified": link.modified.isoformat() if link.modified else None,
        "target_accessed": link.accessed.isoformat() if link.accessed else None,
    }
    return {k: v for k, v in fields.items() if v is not None}


def link_rows(link: Link, source: str, record: int, **extra: str | None) -> list[Row]:
    """One row per distinct target time (MACB style), or one undated row."""
    kinds: dict[datetime, list[tuple[str, str]]] = {}
    for attr, desc, letter in _TIMES:
        when = getattr(link, attr)
        if when is not None:
            kinds.setdefault(when, []).append((desc, letter))
    target = link.target
    command = f"{target} {link.arguments}" if target and link.arguments else None
    fields = link_fields(link)
    fields.update({k: v for k, v in extra.items() if v is not None})
    base = {
        "source": source,
        "source_record": record,
        "event_provider": "shell-link",
        "event_action": "shortcut",
        "file_path": target,
        "process_command_line": command,
    }
    what = target or "(no target path)"
    if link.arguments:
        what += f" {link.arguments}"
    if not kinds:
        return [
            (
                {**base, "datetime": None, "timestamp_desc": "Modified", "message": f"shortcut to {what}"},
                fields,
            )
        ]
    rows: list[Row] = []
    for when, found in sorted(kinds.items()):
        letters = {letter for _, letter in found}
        macb = "".join(c if c in letters else "." for c in "MACB")
        names = ", ".join(d.lower() for d, _ in found)
        row = {
            **base,
            "datetime": when,
            "timestamp_desc": found[0][0],
            "message": f"shortcut target {names}: {what}",
        }
        rows.append((row, {**fields, "macb": macb}))
    return rows


def destlist_row(entry: DestListEntry, source: str) -> Row:
    droid_time, mac = uuid_time_node(entry.droid_file)
    fields = {
        "entry_number": str(entry.number),
        "netbios_name": entry.host or None,
        "pinned": str(entry.pinned).lower(),
        "access_count": None if entry.access_count is None else str(entry.access_count),
        "droid_file": entry.droid_file,
        "droid_time": droid_time.isoformat() if droid_time else None,
        "droid_mac": mac,
    }
    row = {
        "datetime": entry.accessed,
        "timestamp_desc": "Accessed",
        "source": source,
        "source_record": entry.number,
        "event_provider": "jump-list",
        "event_action": "jumplist-entry",
        "file_path": entry.path,
        "message": f"jump list: {entry.path} opened" + (" (pinned)" if entry.pinned else ""),
    }
    return row, {k: v for k, v in fields.items() if v is not None}


def _link_file_rows(fh: BinaryIO, source: str) -> Iterator[Row | ParseWarning]:
    fh.seek(0)
    data = fh.read(MAX_SIZE)
    try:
        link = read_link(data)
    except Exception as exc:
        yield ParseWarning("file", 0, f"unreadable link: {type(exc).__name__}: {exc}"[:300])
        return
    yield from link_rows(link, source, 0)


def _jumplist_rows(fh: BinaryIO, source: str) -> Iterator[Row | ParseWarning]:
    for item in read_jumplist(fh):
        if isinstance(item, ParseWarning):
            yield item
        elif isinstance(item, DestListEntry):
            yield destlist_row(item, source)
        else:
            number, entry, link = item
            if entry is not None:
                yield destlist_row(entry, source)
            yield from link_rows(link, source, number, jumplist_entry=str(number))


class LnkParser(Parser):
    """Windows shell links (``4C 00 00 00`` + the ShellLink CLSID) -> target time rows."""

    name = "windows_lnk"

    def sniff(self, head: bytes) -> bool:
        return head[:20] == LNK_MAGIC

    def parse(self, fh: BinaryIO, unit: Any, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        yield from batched(_link_file_rows(fh, self.name), options.batch_rows)


def _destlist_in_head(head: bytes) -> bool:
    """An OLE compound file whose first directory sector (when inside ``head``) names a
    ``DestList`` stream."""
    if head[:8] != OLE_MAGIC or len(head) < 512:
        return False
    shift, first_dir = struct.unpack_from("<H", head, 30)[0], struct.unpack_from("<I", head, 48)[0]
    if shift not in (9, 12):
        return False
    start = (first_dir + 1) << shift
    directory = head[start : start + (1 << shift)]
    return any(directory[i : i + 16] == _DESTLIST_NAME for i in range(0, len(directory), 128))


def _custom_head(head: bytes) -> bool:
    """Version 2, a known value type, and a link (CLSID + link header) near the start."""
    if len(head) < 40 or struct.unpack_from("<I", head, 0)[0] != 2:
        return False
    if struct.unpack_from("<I", head, 12)[0] not in (0, 1, 2):
        return False
    at = head.find(LNK_MAGIC, 16, 1024)
    return at >= 32 and head[at - 16 : at] == LNK_CLSID


class JumpListParser(Parser):
    """Jump lists: automatic destinations (OLE + DestList) and custom destinations -> rows."""

    name = "windows_jumplist"

    def sniff(self, head: bytes) -> bool:
        return _destlist_in_head(head) or _custom_head(head)

    def sniff_path(self, path: str, head: bytes) -> bool:
        name = path.lower()
        if name.endswith(".automaticdestinations-ms"):
            return head[:8] == OLE_MAGIC
        return name.endswith(".customdestinations-ms") and head[:4] == b"\x02\x00\x00\x00"

    def parse(self, fh: BinaryIO, unit: Any, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        yield from batched(_jumplist_rows(fh, self.name), options.batch_rows)
