"""Windows registry hives (``regf``: NTUSER.DAT, UsrClass.dat, SAM, SYSTEM, SOFTWARE, Amcache.hve)
-> one row per key, plus rows for the well-known keys investigators read first.

Every key gives one row timed by its last-written time (``Modified``), with its path in
``file_path`` (under the conventional root the base block's file name implies: ``HKCU`` for
ntuser.dat, ``HKLM\\SYSTEM`` for SYSTEM...; else the root key's own name) and its values as text in
``fields`` (``value.<name>``, long data cut). Keys that are one thing get a clearer row instead of
the plain one: a service (``ControlSet00N\\Services\\X``: ``service``), an Amcache
``InventoryApplicationFile`` / ``InventoryApplication`` entry (``amcache-file`` with path and SHA1,
``amcache-program``), a SAM account (``sam-user``: name, RID, logon counts). Values that are
entries of their own add rows: Run/RunOnce values (``autorun``), UserAssist entries (ROT13 names,
run count, timed by their last run), and a SAM account's last logon / password change / last
failed logon times.

``source_record`` is the key's index in the walk (pre-order, subkey-list order; the root is 0),
and every row of a key carries it. The root key's row also gives the base block's file name,
format version and last-written time.

The hive is walked through dissect.regf's cells, but subkey lists are read entry by entry, so a
broken list entry or value is one located warning (``key <path>``, cell offset) and the rest of the
hive is still read. Transaction logs (``.LOG``, ``.LOG1``, ``.LOG2``: the same ``regf`` magic with a
non-zero file type) are recognised and reported as not replayed, never parsed as a hive.

References: "Windows registry file format specification" (Maxim Suhanov,
github.com/msuhanov/regf, Windows registry file format specification.md); libyal libregf
documentation; dissect.regf; UserAssist and SAM ``F``/``V`` layouts as documented by
RegRipper (``userassist.pl``, ``samparse.pl``) and libyal dtformats.
"""

from __future__ import annotations

import codecs
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

import pyarrow as pa

from forensics.timeutil import filetime_to_utc
from parsers.base import Options, Parser, ParseWarning, row_message
from parsers.textlog import Row, batched

__all__ = ["Hive", "Key", "RegistryHiveParser", "key_rows", "read_hive"]

#: Longest text kept for one value in ``fields``; longer data is cut with its size noted.
MAX_TEXT = 512
#: Binary data shown as hex up to this many bytes.
MAX_HEX = 64
#: Values listed per key in ``fields``; the rest are counted.
MAX_VALUES = 100
#: Deeper than this is a loop or damage, not a registry.
MAX_DEPTH = 512
#: Cell offsets count from the first hive bin, right after the 4 KiB base block.
HBIN_START = 4096
_REG_TYPES = {
    0: "REG_NONE",
    1: "REG_SZ",
    2: "REG_EXPAND_SZ",
    3: "REG_BINARY",
    4: "REG_DWORD",
    5: "REG_DWORD_BIG_ENDIAN",
    6: "REG_LINK",
    7: "REG_MULTI_SZ",
    8: "REG_RESOURCE_LIST",
    9: "REG_FULL_RESOURCE_DESCRIPTOR",
    10: "REG_RESOURCE_REQUIREMENTS_LIST",
    11: "REG_QWORD",
}
#: Where a hive is mounted, by the base name its base block records.
_MOUNTS = {
    "ntuser.dat": "HKCU",
    "usrclass.dat": "HKCU\\Software\\Classes",
    "sam": "HKLM\\SAM",
    "system": "HKLM\\SYSTEM",
    "software": "HKLM\\SOFTWARE",
    "security": "HKLM\\SECURITY",
    "default": "HKU\\.DEFAULT",
    "components": "HKLM\\COMPONENTS",
}


# --- reading ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Value:
    """One value of a key: its name, type and data (decoded by dissect.regf; bytes when raw)."""

    name: str
    type: int
    data: Any


@dataclass(slots=True)
class Key:
    """One key as read: walk index, path relative to the hive root, times and values."""

    index: int
    offset: int
    path: str
    name: str
    last_written: datetime | None
    subkeys: int
    values: list[Value] = field(default_factory=list)
    class_name: str | None = None


@dataclass(slots=True)
class Hive:
    """The base block: what the hive says about itself."""

    file_name: str
    root_name: str
    minor_version: int
    last_written: datetime | None
    checksum_ok: bool
    clean: bool

    @property
    def mount(self) -> str:
        base = self.file_name.replace("/", "\\").rsplit("\\", 1)[-1].lower()
        return _MOUNTS.get(base, self.root_name or "ROOT")


def _checksum(block: bytes) -> int:
    value = 0
    for (word,) in struct.iter_unpack("<I", block[:508]):
        value ^= word
    if value == 0xFFFFFFFF:
        return 0xFFFFFFFE
    return value or 1


def log_summary(head: bytes) -> str:
    """What a transaction log's base block says (its hive's name, its format)."""
    kind = struct.unpack_from("<I", head, 28)[0]
    name = head[48:112].decode("utf-16-le", "replace").split("\x00", 1)[0]
    if len(name) >= 31:  # the field keeps only the path's last characters
        name = "..." + name
    if len(head) >= 516 and head[512:516] == b"DIRT":
        fmt = "old format, dirty-page vector"
    elif len(head) >= 516 and head[512:516] == b"HvLE":
        fmt = "new format, HvLE log entries"
    else:
        fmt = f"file type {kind}"
    return f"registry transaction log ({fmt}) of {name or 'an unnamed hive'}: not replayed"


def read_hive(fh: BinaryIO) -> Iterator[Hive | Key | ParseWarning]:
    """The base block, then every reachable key in pre-order (subkey-list order); a broken
    subkey entry, value or key is a warning located by key path and cell offset."""
    from dissect.regf import RegistryHive

    fh.seek(0)
    head = fh.read(4096)
    if struct.unpack_from("<I", head, 28)[0] != 0:
        yield ParseWarning("file", 0, log_summary(head), 0)
        return
    try:
        hive = RegistryHive(fh)
        root = hive.root()
    except Exception as exc:
        yield ParseWarning("base block", 0, f"not a readable hive: {type(exc).__name__}: {exc}"[:300])
        return
    header = hive.header
    info = Hive(
        file_name=hive.filename,
        root_name=root.name,
        minor_version=header.Minor,
        last_written=filetime_to_utc(header.TimeStamp),
        checksum_ok=_checksum(head) == header.CheckSum,
        clean=header.Sequence1 == header.Sequence2,
    )
    yield info
    if not info.checksum_ok:
        yield ParseWarning("base block", 0, "base block checksum mismatch: header may be damaged", 0)
    if not info.clean:
        yield ParseWarning(
            "base block",
            0,
            f"hive not cleanly written (sequence {header.Sequence1} != {header.Sequence2}): "
            "changes still in its .LOG1/.LOG2 are not replayed",
            0,
        )
    index = 0
    seen: set[int] = {int(header.RootCell)}
    stack: list[tuple[Any, int, str, int]] = [(root, int(header.RootCell), "", 0)]
    while stack:
        node, offset, path, depth = stack.pop()
        key = Key(
            index,
            offset,
            path,
            node.name,
            filetime_to_utc(node.cell.LastWriteTime),
            int(node.cell.SubKeyCounts[0]),
            class_name=node.class_name,
        )
        index += 1
        where = f"key {info.mount}\\{path}" if path else f"key {info.mount}"
        yield from _values(node, key, where)
        yield key
        if depth >= MAX_DEPTH:
            yield ParseWarning(
                where, HBIN_START + offset, f"deeper than {MAX_DEPTH} levels: subkeys not read"
            )
            continue
        children: list[tuple[Any, int, str, int]] = []
        for item in _subkeys(hive, node, where, offset):
            if isinstance(item, ParseWarning):
                yield item
                continue
            child, child_offset = item
            if child_offset in seen:
                yield ParseWarning(
                    where, HBIN_START + child_offset, "subkey list loops back to a key already read"
                )
                continue
            seen.add(child_offset)
            children.append((child, child_offset, f"{path}\\{child.name}" if path else child.name, depth + 1))
        stack.extend(reversed(children))


def _values(node: Any, key: Key, where: str) -> Iterator[ParseWarning]:
    """Read the key's values into ``key.values``; each unreadable one is a warning."""
    from dissect.regf.regf import KeyValue

    count = int(node.cell.ValueList.Count)
    if not count:
        return
    at = int(node.cell.ValueList.List)
    try:
        data = node.hive.cell_data(at)
    except Exception as exc:
        yield ParseWarning(
            where, HBIN_START + at, f"value list unreadable: {type(exc).__name__}: {exc}"[:300], count
        )
        return
    offsets = struct.unpack_from(f"<{min(count, len(data) // 4)}i", data)
    if len(offsets) < count:
        yield ParseWarning(
            where, HBIN_START + at, f"value list holds {len(offsets)} of {count} values", count - len(offsets)
        )
    for n, cell in enumerate(offsets):
        try:
            value = KeyValue(node.hive, node.hive.cell_data(cell))
            key.values.append(Value(value.name, value.type, value.value))
        except Exception as exc:
            yield ParseWarning(
                where, HBIN_START + cell, f"value {n} unreadable: {type(exc).__name__}: {exc}"[:300]
            )


def _subkeys(hive: Any, node: Any, where: str, offset: int) -> Iterator[tuple[Any, int] | ParseWarning]:
    """(key node, cell offset) for each entry of the key's stable subkey list, one by one."""
    from dissect.regf.regf import IndexRoot, KeyNode

    count = int(node.cell.SubKeyCounts[0])
    if not count:
        return
    lists = [int(node.cell.SubKeyLists[0])]
    found = 0
    while lists:
        list_offset = lists.pop(0)
        try:
            index = hive.cell(list_offset)
            entries = [int(getattr(e, "Cell", e)) for e in index.cell.List]
        except Exception as exc:
            yield ParseWarning(
                where, HBIN_START + list_offset, f"subkey list unreadable: {type(exc).__name__}: {exc}"[:300]
            )
            continue
        if isinstance(index, IndexRoot):
            lists.extend(entries)
            continue
        for n, cell in enumerate(entries):
            try:
                child = hive.cell(cell)
                if not isinstance(child, KeyNode):
                    raise ValueError(f"cell is a {type(child).__name__}, not a key")
                child.name  # noqa: B018 - decoded eagerly so a bad name fails here
            except Exception as exc:
                yield ParseWarning(
                    where, HBIN_START + cell, f"subkey {n} unreadable: {type(exc).__name__}: {exc}"[:300]
                )
                continue
            found += 1
            yield child, cell
    if found < count:
        yield ParseWarning(where, HBIN_START + offset, f"{found} of {count} subkeys read", 0)


# --- mapping ---------------------------------------------------------------------------------


def _text(value: Value) -> str | None:
    data = value.data
    if data is None:
        return None
    if isinstance(data, bytes):
        if not data:
            return ""
        shown = data[:MAX_HEX].hex()
        return shown if len(data) <= MAX_HEX else f"{shown}... ({len(data)} bytes)"
    text = "; ".join(str(s) for s in data) if isinstance(data, list) else str(data)
    text = text.replace("\x00", "")
    return text if len(text) <= MAX_TEXT else f"{text[:MAX_TEXT]}... ({len(text)} chars)"


def _value(key: Key, name: str) -> Any:
    lname = name.lower()
    return next((v.data for v in key.values if v.name.lower() == lname), None)


_RUN = re.compile(
    r"\\currentversion\\(?:run|runonce|runonceex|runservices|runservicesonce|policies\\explorer\\run)$"
)
_SERVICE = re.compile(r"^controlset\d{3}\\services\\[^\\]+$")
_USERASSIST = re.compile(r"\\explorer\\userassist\\\{[0-9a-f-]{36}\}\\count$")
_SAM_USER = re.compile(r"^sam\\domains\\account\\users\\[0-9a-f]{8}$")
_AMCACHE_FILE = re.compile(r"^root\\inventoryapplicationfile\\[^\\]+$")
_AMCACHE_PROGRAM = re.compile(r"^root\\inventoryapplication\\[^\\]+$")
_SERVICE_START = {0: "boot", 1: "system", 2: "auto", 3: "demand", 4: "disabled"}


def key_rows(key: Key, hive: Hive, source: str) -> list[Row]:
    """The key's row (plain, or that of the one thing the key is), then rows for its entries."""
    full = f"{hive.mount}\\{key.path}" if key.path else hive.mount
    lpath = key.path.lower()
    row: dict[str, Any] = {
        "datetime": key.last_written,
        "timestamp_desc": "Modified",
        "source": source,
        "source_record": key.index,
        "event_provider": "regf",
        "event_action": "registry-key",
        "file_path": full,
    }
    fields: dict[str, str | None] = {
        "key_name": key.name,
        "values": str(len(key.values)),
        "subkeys": str(key.subkeys),
    }
    if key.class_name:
        fields["class_name"] = key.class_name
    if key.index == 0:  # the root key's row also says what the base block says
        fields["hive_file_name"] = hive.file_name or None
        fields["hive_format"] = f"regf 1.{hive.minor_version}"
        fields["hive_written"] = hive.last_written.isoformat() if hive.last_written else None
    for value in key.values[:MAX_VALUES]:
        fields[f"value.{value.name}"] = _text(value)
    if len(key.values) > MAX_VALUES:
        fields["values_not_listed"] = str(len(key.values) - MAX_VALUES)
    row["message"] = row_message(f"key {full} ({len(key.values)} values, {key.subkeys} subkeys)")
    rows: list[Row] = [(row, fields)]
    if _SERVICE.match(lpath) and (_value(key, "ImagePath") is not None or _value(key, "Type") is not None):
        _service(key, row, fields)
    elif _AMCACHE_FILE.match(lpath):
        _amcache_file(key, row, fields, full)
    elif _AMCACHE_PROGRAM.match(lpath):
        _amcache_program(key, row, fields, full)
    elif _SAM_USER.match(lpath) and isinstance(_value(key, "F"), bytes):
        rows.extend(_sam_user(key, row, fields))
    elif _RUN.search(lpath):
        rows.extend(_autoruns(key, row, full))
    elif _USERASSIST.search(lpath):
        rows.extend(_userassist(key, row, full))
    return rows


def _derived(base: dict[str, Any], **columns: Any) -> dict[str, Any]:
    row = {k: base[k] for k in ("datetime", "timestamp_desc", "source", "source_record", "event_provider")}
    row.update(columns)
    return row


def _autoruns(key: Key, base: dict[str, Any], full: str) -> list[Row]:
    rows: list[Row] = []
    for value in key.values:
        command = _text(value)
        rows.append(
            (
                _derived(
                    base,
                    event_action="autorun",
                    file_path=full,
                    process_command_line=command or None,
                    message=row_message(f"autorun {full}: {value.name} = {command}"),
                ),
                {
                    "key_path": full,
                    "value_name": value.name,
                    "value_type": _REG_TYPES.get(value.type, str(value.type)),
                },
            )
        )
    return rows


def _service(key: Key, row: dict[str, Any], fields: dict[str, str | None]) -> None:
    image = _value(key, "ImagePath")
    start = _value(key, "Start")
    row["event_action"] = "service"
    if image:
        row["process_executable"] = str(image)
    display = _value(key, "DisplayName")
    account = _value(key, "ObjectName")
    if account:
        row["user_name"] = str(account)
    fields["service_name"] = key.name
    if isinstance(start, int):
        fields["start_type"] = _SERVICE_START.get(start, str(start))
    row["message"] = row_message(
        f"service {key.name}"
        + (f" ({display})" if display else "")
        + (f": {image}" if image else "")
        + (f", start {fields['start_type']}" if "start_type" in fields else "")
    )


def _amcache_file(key: Key, row: dict[str, Any], fields: dict[str, str | None], full: str) -> None:
    path = _value(key, "LowerCaseLongPath")
    file_id = str(_value(key, "FileId") or "")
    sha1 = file_id[4:] if len(file_id) == 44 and file_id.startswith("0000") else None
    row["event_action"] = "amcache-file"
    row["file_path"] = str(path) if path else full
    fields["key_path"] = full
    if sha1:
        fields["sha1"] = sha1
    link = _value(key, "LinkDate")
    if isinstance(link, str) and (when := _us_date(link)):
        fields["link_date"] = when
    row["message"] = row_message(f"amcache file {path or key.name}" + (f" sha1 {sha1}" if sha1 else ""))


def _amcache_program(key: Key, row: dict[str, Any], fields: dict[str, str | None], full: str) -> None:
    name = _value(key, "Name")
    row["event_action"] = "amcache-program"
    root_dir = _value(key, "RootDirPath")
    if root_dir:
        row["file_path"] = str(root_dir)
        fields["key_path"] = full
    publisher = _value(key, "Publisher")
    version = _value(key, "Version")
    row["message"] = row_message(
        f"amcache program {name or key.name}"
        + (f" {version}" if version else "")
        + (f" ({publisher})" if publisher else "")
    )


def _us_date(text: str) -> str | None:
    """Amcache's ``MM/DD/YYYY HH:MM:SS`` (UTC) -> ISO 8601."""
    m = re.fullmatch(r"(\d\d)/(\d\d)/(\d{4}) (\d\d):(\d\d):(\d\d)", text.strip())
    return f"{m[3]}-{m[1]}-{m[2]}T{m[4]}:{m[5]}:{m[6]}Z" if m else None


#: SAM ``F`` value: FILETIMEs at 8 (last logon), 24 (password last set), 32 (account expires),
#: 40 (last failed logon); RID at 48, account flags at 56, failed and total logon counts at 64, 66.
_SAM_F = struct.Struct("<8xQ8xQQQI4xH6xHH")
_ACB_DISABLED = 0x0001
_SAM_TIMES = (
    ("last_logon", "Event Recorded", "last-logon"),
    ("password_last_set", "Changed", "password-last-set"),
    ("last_failed_logon", "Event Recorded", "last-failed-logon"),
)


def _sam_user(key: Key, row: dict[str, Any], fields: dict[str, str | None]) -> list[Row]:
    raw: bytes = _value(key, "F")
    rows: list[Row] = []
    if len(raw) < _SAM_F.size:
        fields["sam_f"] = f"too short ({len(raw)} bytes)"
        return rows
    logon, pwd, expires, failed, rid, flags, failures, logons = _SAM_F.unpack_from(raw)
    name, full_name, comment = _sam_v(_value(key, "V"))
    row["event_action"] = "sam-user"
    if name:
        row["user_name"] = name
    times = {
        "last_logon": filetime_to_utc(logon),
        "password_last_set": filetime_to_utc(pwd),
        "last_failed_logon": filetime_to_utc(failed),
    }
    expiry = filetime_to_utc(expires) if expires < 0x7FFFFFFFFFFFFFFF else None
    fields.update(
        {
            "rid": str(rid),
            "account_flags": f"0x{flags:04x}",
            "disabled": str(bool(flags & _ACB_DISABLED)).lower(),
            "logon_count": str(logons),
            "failed_logon_count": str(failures),
            **{k: v.isoformat() for k, v in times.items() if v},
            "full_name": full_name or None,
            "comment": comment or None,
        }
    )
    if expiry:
        fields["account_expires"] = expiry.isoformat()
    row["message"] = row_message(f"SAM account {name or '?'} (RID {rid}), {logons} logons")
    user = {"user_name": name, "rid": str(rid)}
    for field_name, desc, action in _SAM_TIMES:
        when = times[field_name]
        if when is not None:
            rows.append(
                (
                    _derived(
                        row,
                        datetime=when,
                        timestamp_desc=desc,
                        event_action=action,
                        user_name=name,
                        file_path=row["file_path"],
                        message=f"{action.replace('-', ' ')}: {name or '?'} (RID {rid})",
                    ),
                    {**user, "time_kind": field_name},
                )
            )
    return rows


def _sam_v(raw: Any) -> tuple[str, str, str]:
    """User name, full name and comment from the SAM ``V`` value (offsets are relative to 0xCC)."""
    out = []
    if not isinstance(raw, bytes) or len(raw) < 0x30:
        return "", "", ""
    for at in (0x0C, 0x18, 0x24):
        offset, length = struct.unpack_from("<II", raw, at)
        text = raw[0xCC + offset : 0xCC + offset + length]
        out.append(text.decode("utf-16-le", "replace") if len(text) == length else "")
    return out[0], out[1], out[2]


def _userassist(key: Key, base: dict[str, Any], full: str) -> list[Row]:
    from dissect.target.helpers.shell_folder_ids import DESCRIPTIONS

    rows: list[Row] = []
    for value in key.values:
        data = value.data
        name = codecs.decode(value.name, "rot13")
        if not isinstance(data, bytes) or len(data) not in (16, 72) or name.startswith("UEME_"):
            continue  # session counters (UEME_CTLSESSION...) and odd sizes carry no run entry
        if len(data) == 72:
            runs, focus, focus_ms = struct.unpack_from("<III", data, 4)
            last = struct.unpack_from("<Q", data, 60)[0]
        else:
            runs, last = struct.unpack_from("<4xIQ", data)
            focus = focus_ms = None
        if m := re.match(r"\{([0-9a-fA-F-]{36})\}", name):
            folder = DESCRIPTIONS.get(m[1].lower())
            program = f"{folder}{name[m.end() :]}" if folder else name
        else:
            program = name
        when = filetime_to_utc(last)
        fields = {
            "key_path": full,
            "value_name": value.name,
            "decoded_name": name,
            "run_count": str(runs),
            "format": "v5 (Windows 7+)" if len(data) == 72 else "v3 (XP)",
        }
        if focus is not None:
            fields["focus_count"] = str(focus)
            fields["focus_time_ms"] = str(focus_ms)
        if when is None:
            fields["last_run"] = "none recorded"
        rows.append(
            (
                _derived(
                    base,
                    datetime=when,
                    timestamp_desc="Last Run",
                    event_action="userassist",
                    file_path=program,
                    process_executable=program,
                    message=row_message(f"userassist {program}: run {runs} times"),
                ),
                fields,
            )
        )
    return rows


def hive_rows(fh: BinaryIO, source: str) -> Iterator[Row | ParseWarning]:
    """Rows of every key; a key whose values cannot be mapped is a warning, the rest go on."""
    hive: Hive | None = None
    for item in read_hive(fh):
        if isinstance(item, Hive):
            hive = item
        elif isinstance(item, Key) and hive is not None:
            try:
                yield from key_rows(item, hive, source)
            except Exception as exc:  # a value shaped unlike its key's kind: that key only
                where = f"key {hive.mount}\\{item.path}" if item.path else f"key {hive.mount}"
                yield ParseWarning(
                    where, HBIN_START + item.offset, f"not mapped: {type(exc).__name__}: {exc}"[:300]
                )
        else:
            yield item  # type: ignore[misc]


class RegistryHiveParser(Parser):
    """Registry hives (``regf`` magic) via dissect.regf; transaction logs recognised, not replayed."""

    name = "windows_registry"

    def sniff(self, head: bytes) -> bool:
        return len(head) >= 512 and head[:4] == b"regf" and struct.unpack_from("<I", head, 20)[0] == 1

    def parse(self, fh: BinaryIO, unit: object, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        yield from batched(hive_rows(fh, self.name), options.batch_rows)
