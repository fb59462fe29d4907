"""Write Windows XML Event Log (.evtx) files from plain event dicts.

Why: Tracehound needs EVTX evidence it can regenerate at will (test fixtures, the
generated sample case, a benchmark of >= 500k records) without shipping real logs. The
files must be read by every EVTX parser we depend on, so they are written the way
Windows writes them, not in some "simplest valid" dialect that only one reader accepts.

What is written:

* A 4096-byte file header ("ElfFile\\0", v3.1, chunk count, CRC32 of bytes 0..120),
  then 64 KiB chunks ("ElfChnk\\0", record number/id range, last record and free space
  offsets, CRC32 of the record data, CRC32 of bytes 0..120 + 128..512).
* Each record (magic 0x2a2a, size, id, FILETIME, BinXML, size copy) holds a fragment
  header and one *template instance* followed by its typed substitution array, then
  an end-of-stream token, padded to 8 bytes like Windows does. The template definition
  is resident at its first use in a chunk and referenced by offset afterwards; every
  definition is hooked into the chunk's 32-bucket template table, and every element
  and attribute name is written once per chunk and shared through the 64-bucket
  string table (bucket = Windows name hash % 64), so many records of one shape cost
  only their substitution values.
* Template identity is (provider, which optional System fields are present, EventData
  names and declared types); its GUID is an MD5 of that key.

System fields use the Windows types: Provider Name string, Guid GUID, EventID UInt16,
Version/Level/Opcode UInt8 (Opcode is UInt8 in the Windows event schema), Task UInt16,
Keywords HexInt64, TimeCreated/@SystemTime FILETIME, EventRecordID UInt64,
Execution/@ProcessID and @ThreadID UInt32, Channel/Computer string, Security/@UserID SID.

EventData values (``<Data Name="...">``, the name a literal in the template, the value an
optional substitution so that None gives an empty element) are typed by their Python type.
How each reader renders them (pinned by tests/writers/test_evtx_writer.py):

=======================  ====================  ===============  ==================  ============
Python value             BinXML value type     Rust evtx JSON   python-evtx XML     dissect
=======================  ====================  ===============  ==================  ============
str                      String 0x01 (UTF-16,  "text"           text                "text"
                         no NUL terminator)
None                     Null 0x00             ""               (empty)             None
bool                     Boolean 0x0d, 4 bytes true             True                1
int 0 <= v < 2**32       UInt32 0x08           42               42                  42
other signed 64-bit int  Int64 0x09            -5               -5                  -5
int 2**63 <= v < 2**64   UInt64 0x0a           (decimal everywhere)
float                    Real64 0x0c           "3.25" (string)  3.25                3.25
datetime (aware)         FILETIME 0x11         "...56.789123Z"  ...56.789123+00:00  datetime
FileTime(ticks)          FILETIME 0x11         (as datetime; the 100 ns ticks are exact on disk)
uuid.UUID / Guid         GUID 0x0f             "1234...-9ABC.." {1234...-9abc..}    byte-swapped
Sid("S-1-5-18")          SID 0x13              "S-1-5-18"       S-1-5-18            "S-1-5-18"
Hex32(16) / Hex64(16)    HexInt32/64 0x14/15   "0x10"           0x00000010          "0x10"
bytes / bytearray        Binary 0x0e           "0001FE" (hex)   AAH+ (base64)       b"0001fe"
=======================  ====================  ===============  ==================  ============

Reader quirks: python-evtx and dissect convert FILETIME through a float, so their times
may be 1-2 us off (the Rust reader and the bytes on disk are exact); dissect reads the
mixed-endian GUID layout as big-endian (byte-swapped first three groups) and returns
attribute values wrapped in ``BxmlSub``; python-evtx does not escape ``"`` in attribute
values, so a Data Name containing a double quote gives XML it cannot re-parse.

References:

* Microsoft, [MS-EVEN6] EventLog Remoting Protocol Version 6.0, section 2.2.12 "BinXml"
  (token grammar, value types):
  https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-even6/
* J. Metz, libyal libevtx, "Windows XML Event Log (EVTX) format" (file, chunk and record
  layout, string/template tables, name hash):
  https://github.com/libyal/libevtx/blob/main/documentation/Windows%20XML%20Event%20Log%20(EVTX).asciidoc
"""

from __future__ import annotations

import hashlib
import os
import struct
import uuid
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from operator import add, methodcaller
from types import TracebackType
from typing import Any, BinaryIO, Self

__all__ = ["EvtxWriter", "FileTime", "Guid", "Hex32", "Hex64", "Sid", "write_evtx"]

# --- layout constants -------------------------------------------------------------------------

FILE_HEADER_BLOCK = 0x1000
CHUNK_SIZE = 0x10000
CHUNK_HEADER_BLOCK = 0x200
MAX_CHUNKS = 0xFFFF  # the file header's chunk count is a uint16
EVENT_NAMESPACE = "http://schemas.microsoft.com/win/2004/08/events/event"

_RECORD_MAGIC = 0x00002A2A
_FRAGMENT_HEADER = b"\x0f\x01\x01\x00"  # StartOfStream token, major 1, minor 1, flags 0
_NO_DEPENDENCY = 0xFFFF

# BinXML tokens (MS-EVEN6 2.2.12)
_TOK_EOF = 0x00
_TOK_OPEN_START = 0x01
_TOK_CLOSE_START = 0x02
_TOK_CLOSE_EMPTY = 0x03
_TOK_END_ELEMENT = 0x04
_TOK_VALUE = 0x05
_TOK_ATTRIBUTE = 0x06
_TOK_TEMPLATE_INSTANCE = 0x0C
_TOK_NORMAL_SUB = 0x0D
_TOK_OPTIONAL_SUB = 0x0E
_FLAG_MORE = 0x40  # "has attributes" on open-start, "another follows" on attribute

# BinXML value types
T_NULL = 0x00
T_STRING = 0x01
T_UINT8 = 0x04
T_UINT16 = 0x06
T_UINT32 = 0x08
T_INT64 = 0x09
T_UINT64 = 0x0A
T_REAL64 = 0x0C
T_BOOL = 0x0D
T_BINARY = 0x0E
T_GUID = 0x0F
T_FILETIME = 0x11
T_SID = 0x13
T_HEXINT32 = 0x14
T_HEXINT64 = 0x15

_U32 = struct.Struct("<I").pack
_I64 = struct.Struct("<q").pack
_U64 = struct.Struct("<Q").pack
_F64 = struct.Struct("<d").pack
_RECORD_HEAD = struct.Struct("<IIQQ")
_INSTANCE = struct.Struct("<BBII")
_TEMPLATE_HEAD = struct.Struct("<I16sI")
_NAME_HEAD = struct.Struct("<IHH")
_ELEMENT_HEAD = struct.Struct("<BHI")
_SUB = struct.Struct("<BHB")
_DESCRIPTOR = struct.Struct("<HBB")
_FILE_HEADER = struct.Struct("<8sQQQIHHHH76sI")
_CHUNK_HEADER = struct.Struct("<8sQQQQIIII64sI")

_UTF16 = methodcaller("encode", "utf-16-le")
_EPOCH_1601 = datetime(1601, 1, 1, tzinfo=UTC)
_TRUE = _U32(1)
_FALSE = _U32(0)

# --- typed value wrappers ---------------------------------------------------------------------


class Hex64(int):
    """An unsigned 64-bit integer written as HexInt64 (rendered ``0x...``)."""

    __slots__ = ()

    def __new__(cls, value: int) -> Self:
        obj = super().__new__(cls, value)
        if not 0 <= obj < 1 << 64:
            raise ValueError(f"Hex64 out of range: {value!r}")
        return obj


class Hex32(int):
    """An unsigned 32-bit integer written as HexInt32 (rendered ``0x...``)."""

    __slots__ = ()

    def __new__(cls, value: int) -> Self:
        obj = super().__new__(cls, value)
        if not 0 <= obj < 1 << 32:
            raise ValueError(f"Hex32 out of range: {value!r}")
        return obj


class FileTime(int):
    """A raw FILETIME (100 ns ticks since 1601-01-01 UTC), for exact sub-microsecond times."""

    __slots__ = ()

    def __new__(cls, value: int) -> Self:
        obj = super().__new__(cls, value)
        if not 0 <= obj < 1 << 64:
            raise ValueError(f"FileTime out of range: {value!r}")
        return obj


class Sid(str):
    """A Windows security identifier in string form, e.g. ``Sid("S-1-5-18")``."""

    __slots__ = ()

    def __new__(cls, value: str) -> Self:
        obj = super().__new__(cls, value)
        _sid_bytes(str(obj))  # validate early
        return obj


class Guid(uuid.UUID):
    """A GUID; accepts ``"{...}"``, bare hex strings or a :class:`uuid.UUID`."""

    __slots__ = ()

    def __init__(self, value: str | uuid.UUID) -> None:
        if isinstance(value, uuid.UUID):
            super().__init__(int=value.int)
        else:
            super().__init__(value)


@lru_cache(maxsize=4096)
def _sid_bytes(text: str) -> bytes:
    parts = text.split("-")
    if len(parts) < 3 or parts[0].upper() != "S" or not all(p.isdigit() for p in parts[1:]):
        raise ValueError(f"not a SID: {text!r}")
    revision, authority, *subs = (int(p) for p in parts[1:])
    if revision > 0xFF or authority >= 1 << 48 or len(subs) > 15 or any(s >= 1 << 32 for s in subs):
        raise ValueError(f"SID component out of range: {text!r}")
    return bytes((revision, len(subs))) + authority.to_bytes(6, "big") + struct.pack(f"<{len(subs)}I", *subs)


@lru_cache(maxsize=1024)
def _guid_bytes(value: str | uuid.UUID) -> bytes:
    guid = value if isinstance(value, uuid.UUID) else uuid.UUID(value)
    return guid.bytes_le


def _filetime(value: datetime | int) -> int:
    """Aware datetime (or a FileTime/int of ticks) -> FILETIME ticks, exact to 100 ns."""
    if isinstance(value, int):
        return value
    if not isinstance(value, datetime):
        raise TypeError(f"expected an aware datetime or FileTime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: give an aware (UTC) datetime")
    delta = value - _EPOCH_1601
    return (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def _name_hash(name: str) -> int:
    """The 16-bit name hash Windows stores with each name (h = h * 65599 + unit)."""
    value = 0
    for (unit,) in struct.iter_unpack("<H", name.encode("utf-16-le")):
        value = (value * 65599 + unit) & 0xFFFFFFFF
    return value & 0xFFFF


# --- value encoding ---------------------------------------------------------------------------


def _encode_int(value: int) -> tuple[int, bytes]:
    if 0 <= value <= 0xFFFFFFFF:
        return T_UINT32, _U32(value)
    if -(1 << 63) <= value < 1 << 63:
        return T_INT64, _I64(value)
    if 0 <= value < 1 << 64:
        return T_UINT64, _U64(value)
    raise ValueError(f"integer does not fit in 64 bits: {value!r}")


def _encode_bool(value: object) -> bytes:
    return _TRUE if value else _FALSE


def _encode_null(_value: object) -> bytes:
    return b""


def _encode_binary(value: bytes | bytearray | memoryview) -> bytes:
    return bytes(value)


def _encode_sid(value: str) -> bytes:
    return _sid_bytes(str(value))


def _encode_str(value: str) -> bytes:
    return str(value).encode("utf-16-le")


def _encode_datetime(value: datetime) -> bytes:
    return _U64(_filetime(value))


def _encode_guid(value: uuid.UUID) -> bytes:
    return value.bytes_le


_NoneType = type(None)

# (Python type, BinXML value type, payload encoder), matched with issubclass() in this
# order, so subclasses (bool, Hex64, Sid, ...) come before their bases. ``int`` here
# means "UInt32"; other integer ranges are chosen per value by _encode_int.
_KINDS: tuple[tuple[type | tuple[type, ...], int, Callable[[Any], bytes]], ...] = (
    (_NoneType, T_NULL, _encode_null),
    (bool, T_BOOL, _encode_bool),
    (Hex64, T_HEXINT64, _U64),
    (Hex32, T_HEXINT32, _U32),
    (FileTime, T_FILETIME, _U64),
    (int, T_UINT32, _U32),
    (float, T_REAL64, _F64),
    (Sid, T_SID, _encode_sid),
    (str, T_STRING, _encode_str),
    (datetime, T_FILETIME, _encode_datetime),
    (uuid.UUID, T_GUID, _encode_guid),
    ((bytes, bytearray, memoryview), T_BINARY, _encode_binary),
)


def _kind(python_type: type) -> tuple[int, Callable[[Any], bytes]]:
    if python_type is str:  # the common case, C-level encoder
        return T_STRING, _UTF16
    for base, vtype, encode in _KINDS:
        if issubclass(python_type, base):
            return vtype, encode
    raise TypeError(f"unsupported EventData value type {python_type.__name__}")


def _declared(vtype: int) -> int:
    """Type declared in the template: a Null value is declared as a string."""
    return T_STRING if vtype == T_NULL else vtype


class _DataPlan:
    """How to encode EventData values whose Python types are a given tuple.

    ``shifted`` holds ``value_type << 16`` per position: a value descriptor is the
    uint32 ``size | type << 16`` (uint16 size, uint8 type, uint8 zero).
    """

    __slots__ = ("declared", "encoders", "shifted")

    def __init__(self, kinds: tuple[type, ...]) -> None:
        resolved = [_kind(k) for k in kinds]
        self.encoders = tuple(encode for _, encode in resolved)
        self.shifted = tuple(vtype << 16 for vtype, _ in resolved)
        self.declared = tuple(_declared(vtype) for vtype, _ in resolved)


_PLANS: dict[tuple[type, ...], _DataPlan] = {}


def _encode_data(values: Sequence[object]) -> tuple[tuple[int, ...], list[int], list[bytes]]:
    """EventData values -> (declared types, value descriptors, payloads)."""
    kinds = tuple(map(type, values))
    plan = _PLANS.get(kinds)
    if plan is None:
        if len(_PLANS) > 4096:
            _PLANS.clear()
        plan = _PLANS[kinds] = _DataPlan(kinds)
    try:
        payloads = [encode(value) for encode, value in zip(plan.encoders, values, strict=True)]
    except struct.error:  # an integer outside UInt32: pick its type value by value
        return _encode_data_slow(values)
    return plan.declared, list(map(add, map(len, payloads), plan.shifted)), payloads


def _encode_data_slow(values: Sequence[object]) -> tuple[tuple[int, ...], list[int], list[bytes]]:
    declared: list[int] = []
    descriptors: list[int] = []
    payloads: list[bytes] = []
    for value in values:
        vtype, encode = _kind(type(value))
        if vtype == T_UINT32:  # a plain (or enum) int: width and signedness by value
            vtype, payload = _encode_int(value)  # type: ignore[arg-type]
        else:
            payload = encode(value)
        declared.append(_declared(vtype))
        descriptors.append(len(payload) | vtype << 16)
        payloads.append(payload)
    return tuple(declared), descriptors, payloads


def _split_data(
    event_data: Mapping[str, object] | Sequence[tuple[str, object]] | None,
) -> tuple[tuple[str, ...], Sequence[object]]:
    """EventData as a mapping or (name, value) pairs -> (names, values)."""
    if not event_data:
        return (), ()
    if isinstance(event_data, Mapping):
        return tuple(event_data), tuple(event_data.values())
    return tuple(name for name, _ in event_data), tuple(value for _, value in event_data)


# --- template model ---------------------------------------------------------------------------


class _Literal:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class _Sub:
    __slots__ = ("index", "optional", "vtype")

    def __init__(self, index: int, vtype: int, optional: bool) -> None:
        self.index = index
        self.vtype = vtype
        self.optional = optional


class _Element:
    __slots__ = ("attributes", "children", "name")

    def __init__(
        self,
        name: str,
        attributes: Sequence[tuple[str, _Literal | _Sub]] = (),
        children: Sequence[_Element | _Literal | _Sub] = (),
    ) -> None:
        self.name = name
        self.attributes = attributes
        self.children = children


_HAS_GUID, _HAS_PID, _HAS_TID, _HAS_CHANNEL, _HAS_COMPUTER, _HAS_SID = (1 << i for i in range(6))


class _Template:
    """One template shape: its XML tree and how to pack its substitution array.

    Substitutions are numbered fixed-size System values first (one ``struct`` call packs
    them all, their descriptors are constant), then the variable-size ones.
    """

    __slots__ = ("fixed", "guid", "head", "root", "template_id", "var_descriptors")

    def __init__(self, provider: str, flags: int, names: tuple[str, ...], types: tuple[int, ...]) -> None:
        if not all(isinstance(name, str) and name for name in names):
            raise ValueError(f"EventData names must be non-empty strings: {names!r}")
        self.guid = hashlib.md5(
            repr((provider, flags, names, types)).encode(), usedforsecurity=False
        ).digest()
        self.template_id = int.from_bytes(self.guid[:4], "little")
        count = 0
        fixed_format = "<"
        const_descriptors = bytearray()

        def fixed(vtype: int, code: str) -> _Sub:
            nonlocal count, fixed_format
            const_descriptors.extend(_DESCRIPTOR.pack(struct.calcsize("<" + code), vtype, 0))
            fixed_format += code
            count += 1
            return _Sub(count - 1, vtype, optional=False)

        def variable(vtype: int, optional: bool) -> _Sub:
            nonlocal count
            count += 1
            return _Sub(count - 1, vtype, optional)

        event_id, version, level = fixed(T_UINT16, "H"), fixed(T_UINT8, "B"), fixed(T_UINT8, "B")
        task, opcode, keywords = fixed(T_UINT16, "H"), fixed(T_UINT8, "B"), fixed(T_HEXINT64, "Q")
        created, record_id = fixed(T_FILETIME, "Q"), fixed(T_UINT64, "Q")
        guid = fixed(T_GUID, "16s") if flags & _HAS_GUID else None
        pid = fixed(T_UINT32, "I") if flags & _HAS_PID else None
        tid = fixed(T_UINT32, "I") if flags & _HAS_TID else None
        first_variable = count
        provider_name = variable(T_STRING, optional=False)
        channel = variable(T_STRING, optional=False) if flags & _HAS_CHANNEL else None
        computer = variable(T_STRING, optional=False) if flags & _HAS_COMPUTER else None
        user = variable(T_SID, optional=False) if flags & _HAS_SID else None
        data = [variable(vtype, optional=True) for vtype in types]

        provider_attrs: list[tuple[str, _Literal | _Sub]] = [("Name", provider_name)]
        if guid:
            provider_attrs.append(("Guid", guid))
        execution = [(name, sub) for name, sub in (("ProcessID", pid), ("ThreadID", tid)) if sub]
        system: list[_Element] = [
            _Element("Provider", provider_attrs),
            _Element("EventID", children=[event_id]),
            _Element("Version", children=[version]),
            _Element("Level", children=[level]),
            _Element("Task", children=[task]),
            _Element("Opcode", children=[opcode]),
            _Element("Keywords", children=[keywords]),
            _Element("TimeCreated", [("SystemTime", created)]),
            _Element("EventRecordID", children=[record_id]),
            _Element("Correlation"),
        ]
        if execution:
            system.append(_Element("Execution", execution))
        if channel:
            system.append(_Element("Channel", children=[channel]))
        if computer:
            system.append(_Element("Computer", children=[computer]))
        system.append(_Element("Security", [("UserID", user)] if user else ()))
        body: list[_Element] = [_Element("System", children=system)]
        if names:
            rows = [_Element("Data", [("Name", _Literal(n))], [s]) for n, s in zip(names, data, strict=True)]
            body.append(_Element("EventData", children=rows))
        self.root = _Element("Event", [("xmlns", _Literal(EVENT_NAMESPACE))], body)

        self.fixed = struct.Struct(fixed_format)
        self.head = _U32(count) + bytes(const_descriptors)
        self.var_descriptors = struct.Struct(f"<{count - first_variable}I")


class _DefinitionEncoder:
    """Serialises one template definition at a known chunk offset.

    Names already in the chunk are referenced; new ones are written inline and chained
    into a *copy* of the chunk's string table, committed only if the record fits.
    """

    def __init__(self, base: int, names: dict[str, int], string_table: list[int]) -> None:
        self.buf = bytearray()
        self.base = base
        self.known = names
        self.new_names: dict[str, int] = {}
        self.string_table = list(string_table)

    def name(self, name: str) -> None:
        offset = self.known.get(name)
        if offset is None:
            offset = self.new_names.get(name)
        if offset is not None:
            self.buf += _U32(offset)
            return
        offset = self.base + len(self.buf) + 4
        hashed = _name_hash(name)
        bucket = hashed % 64
        encoded = name.encode("utf-16-le")
        self.buf += _U32(offset)
        self.buf += _NAME_HEAD.pack(self.string_table[bucket], hashed, len(encoded) // 2)
        self.buf += encoded
        self.buf += b"\x00\x00"
        self.string_table[bucket] = offset
        self.new_names[name] = offset

    def content(self, node: _Literal | _Sub) -> None:
        if isinstance(node, _Sub):
            token = _TOK_OPTIONAL_SUB if node.optional else _TOK_NORMAL_SUB
            self.buf += _SUB.pack(token, node.index, node.vtype)
        else:
            encoded = node.text.encode("utf-16-le")
            self.buf += struct.pack("<BBH", _TOK_VALUE, T_STRING, len(encoded) // 2)
            self.buf += encoded

    def element(self, node: _Element) -> None:
        buf = self.buf
        token = _TOK_OPEN_START | (_FLAG_MORE if node.attributes else 0)
        buf += _ELEMENT_HEAD.pack(token, _NO_DEPENDENCY, 0)
        size_at = len(buf) - 4
        self.name(node.name)
        if node.attributes:
            attrs_at = len(buf)
            buf += b"\x00\x00\x00\x00"
            last = len(node.attributes) - 1
            for i, (name, value) in enumerate(node.attributes):
                buf.append(_TOK_ATTRIBUTE | (_FLAG_MORE if i < last else 0))
                self.name(name)
                self.content(value)
            buf[attrs_at : attrs_at + 4] = _U32(len(buf) - attrs_at - 4)
        if node.children:
            buf.append(_TOK_CLOSE_START)
            for child in node.children:
                if isinstance(child, _Element):
                    self.element(child)
                else:
                    self.content(child)
            buf.append(_TOK_END_ELEMENT)
        else:
            buf.append(_TOK_CLOSE_EMPTY)
        buf[size_at : size_at + 4] = _U32(len(buf) - size_at - 4)

    def definition(self, template: _Template, next_in_bucket: int) -> bytes:
        """Template definition header + fragment; ``base`` is where the header starts."""
        self.buf += _TEMPLATE_HEAD.pack(next_in_bucket, template.guid, 0)
        self.buf += _FRAGMENT_HEADER
        self.element(template.root)
        self.buf.append(_TOK_EOF)
        self.buf[20:24] = _U32(len(self.buf) - _TEMPLATE_HEAD.size)
        return bytes(self.buf)


# --- chunks -----------------------------------------------------------------------------------


class _Chunk:
    """An in-memory chunk being filled: record bytes plus its string/template tables."""

    __slots__ = (
        "data",
        "first_id",
        "last_id",
        "last_record_offset",
        "names",
        "string_table",
        "template_table",
        "templates",
    )

    def __init__(self) -> None:
        self.data = bytearray()
        self.names: dict[str, int] = {}
        self.templates: dict[_Template, int] = {}
        self.string_table = [0] * 64
        self.template_table = [0] * 32
        self.first_id = 0
        self.last_id = 0
        self.last_record_offset = 0

    @property
    def free_offset(self) -> int:
        return CHUNK_HEADER_BLOCK + len(self.data)

    def serialise(self) -> bytes:
        free = self.free_offset
        tables = struct.pack("<64I32I", *self.string_table, *self.template_table)
        head = _CHUNK_HEADER.pack(
            b"ElfChnk\x00",
            self.first_id,
            self.last_id,
            self.first_id,
            self.last_id,
            0x80,
            self.last_record_offset,
            free,
            zlib.crc32(self.data),
            b"",
            0,  # flags
        )
        crc = zlib.crc32(head[:0x78] + tables)  # bytes 0..120 and 128..512
        return head + _U32(crc) + tables + self.data + bytes(CHUNK_SIZE - free)


# --- the writer -------------------------------------------------------------------------------

_SYSTEM_OPTIONAL = (
    ("provider_guid", _HAS_GUID),
    ("process_id", _HAS_PID),
    ("thread_id", _HAS_TID),
    ("channel", _HAS_CHANNEL),
    ("computer", _HAS_COMPUTER),
    ("user_sid", _HAS_SID),
)


class EvtxWriter:
    """Stream events into an .evtx file; each chunk is written out as soon as it is full.

    ``target`` is a path or a seekable binary file opened for writing (the file header
    is written last, at the position the file had when the writer was created). Memory
    use is one 64 KiB chunk plus one cached template per distinct event shape.
    """

    def __init__(self, target: str | os.PathLike[str] | BinaryIO) -> None:
        if isinstance(target, str | os.PathLike):
            self._fh: BinaryIO = open(target, "wb")  # noqa: SIM115 - closed in close()
            self._owns = True
        else:
            if not target.seekable():
                raise ValueError("EvtxWriter needs a seekable file: the file header is written last")
            self._fh = target
            self._owns = False
        self._start = self._fh.tell()
        self._fh.write(bytes(FILE_HEADER_BLOCK))
        self._templates: dict[tuple[str, int, tuple[str, ...], tuple[int, ...]], _Template] = {}
        # A chunk's first record always starts at the same offset with an empty name
        # table, so its resident definition is the same bytes in every chunk.
        self._first_definitions: dict[_Template, tuple[bytes, dict[str, int], list[int]]] = {}
        self._chunk = _Chunk()
        self._chunks_written = 0
        self._next_id = 1
        self._max_id = 0
        self._closed = False
        self.count = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def write(self, event: Mapping[str, Any]) -> int:
        """Append one event; returns its record id."""
        if self._closed:
            raise ValueError("write to a closed EvtxWriter")
        record_id = event.get("record_id")
        if record_id is None:
            record_id = self._next_id
        template, substitutions, written = self._encode_event(event, record_id)
        self._append(template, substitutions, record_id, written)
        self._next_id = record_id + 1
        if record_id > self._max_id:
            self._max_id = record_id
        self.count += 1
        return record_id

    def close(self) -> None:
        """Flush the last chunk and write the file header; closes the file if we opened it."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._chunk.data:
                self._flush_chunk()
            end = self._fh.tell()
            self._fh.seek(self._start)
            self._fh.write(self._file_header())
            self._fh.seek(end)
            self._fh.flush()
        finally:
            if self._owns:
                self._fh.close()

    # -- one event -> its template and substitution array --------------------------------------

    def _encode_event(self, event: Mapping[str, Any], record_id: int) -> tuple[_Template, bytes, int]:
        """-> (template, substitution array, FILETIME for the record header)."""
        get = event.get
        provider = get("provider")
        if not isinstance(provider, str) or not provider:
            raise ValueError(f"event needs a non-empty 'provider' string, got {provider!r}")
        created = get("time_created")
        if created is None:
            raise ValueError("event needs 'time_created' (an aware UTC datetime)")
        event_id = get("event_id")
        if event_id is None:
            raise ValueError("event needs an 'event_id'")
        ticks = _filetime(created)
        flags = 0
        for field, flag in _SYSTEM_OPTIONAL:
            if get(field) is not None:
                flags |= flag
        names, values = _split_data(get("event_data"))
        types, data_descriptors, data_payloads = _encode_data(values)

        key = (provider, flags, names, types)
        template = self._templates.get(key)
        if template is None:
            template = self._templates[key] = _Template(provider, flags, names, types)

        fixed = [
            event_id,
            get("version") or 0,
            get("level") or 0,
            get("task") or 0,
            get("opcode") or 0,
            get("keywords") or 0,
            ticks,
            record_id,
        ]
        if flags & _HAS_GUID:
            fixed.append(_guid_bytes(get("provider_guid")))
        if flags & _HAS_PID:
            fixed.append(get("process_id"))
        if flags & _HAS_TID:
            fixed.append(get("thread_id"))

        variable = [provider.encode("utf-16-le")]
        if flags & _HAS_CHANNEL:
            variable.append(get("channel").encode("utf-16-le"))
        if flags & _HAS_COMPUTER:
            variable.append(get("computer").encode("utf-16-le"))
        descriptors = [len(payload) | T_STRING << 16 for payload in variable]
        if flags & _HAS_SID:
            variable.append(_sid_bytes(str(get("user_sid"))))
            descriptors.append(len(variable[-1]) | T_SID << 16)
        try:
            packed = b"".join(
                (
                    template.head,
                    template.var_descriptors.pack(*descriptors, *data_descriptors),
                    template.fixed.pack(*fixed),
                    *variable,
                    *data_payloads,
                )
            )
        except struct.error as exc:
            raise ValueError(
                f"record {record_id}: a System field is out of range or mistyped ({exc})"
            ) from exc
        return template, packed, ticks

    # -- records and chunks --------------------------------------------------------------------

    def _append(self, template: _Template, substitutions: bytes, record_id: int, written: int) -> None:
        record = self._record(template, substitutions, record_id, written)
        if record is None and self._chunk.data:
            self._flush_chunk()
            record = self._record(template, substitutions, record_id, written)
        if record is None:
            raise ValueError(
                f"record {record_id} does not fit in a 64 KiB chunk ({len(substitutions):,} bytes of "
                f"substitution values, at most {CHUNK_SIZE - CHUNK_HEADER_BLOCK:,} per record); "
                "shorten its values"
            )
        chunk = self._chunk
        if not chunk.data:
            chunk.first_id = record_id
        chunk.last_id = record_id
        chunk.last_record_offset = chunk.free_offset
        chunk.data += record

    def _definition(self, template: _Template, def_offset: int) -> tuple[bytes, dict[str, int], list[int]]:
        """A resident definition for the current chunk: (bytes, new names, new string table)."""
        chunk = self._chunk
        first = not chunk.data
        if first and template in self._first_definitions:
            return self._first_definitions[template]
        encoder = _DefinitionEncoder(def_offset, chunk.names, chunk.string_table)
        bucket = template.template_id % 32
        result = (
            encoder.definition(template, chunk.template_table[bucket]),
            encoder.new_names,
            encoder.string_table,
        )
        if first:
            self._first_definitions[template] = result
        return result

    def _record(
        self, template: _Template, substitutions: bytes, record_id: int, written: int
    ) -> bytes | None:
        """Encode one record for the current chunk, or None if it does not fit there."""
        chunk = self._chunk
        start = chunk.free_offset
        def_offset = chunk.templates.get(template)
        resident = def_offset is None
        if resident:
            def_offset = start + _RECORD_HEAD.size + len(_FRAGMENT_HEADER) + _INSTANCE.size
            definition, new_names, string_table = self._definition(template, def_offset)
        else:
            definition = b""
        content = len(_FRAGMENT_HEADER) + _INSTANCE.size + len(definition) + len(substitutions)
        size = (_RECORD_HEAD.size + content + 1 + 4 + 7) & ~7  # + EOF token + size copy, 8-aligned
        if start + size > CHUNK_SIZE:
            return None
        if resident:
            chunk.templates[template] = def_offset
            chunk.template_table[template.template_id % 32] = def_offset
            chunk.names.update(new_names)
            chunk.string_table = list(string_table)
        return b"".join(
            (
                _RECORD_HEAD.pack(_RECORD_MAGIC, size, record_id, written),
                _FRAGMENT_HEADER,
                _INSTANCE.pack(_TOK_TEMPLATE_INSTANCE, 1, template.template_id, def_offset),
                definition,
                substitutions,
                bytes(size - _RECORD_HEAD.size - content - 4),  # EOF token, then zero padding
                _U32(size),
            )
        )

    def _flush_chunk(self) -> None:
        if self._chunks_written >= MAX_CHUNKS:
            raise ValueError(f"an .evtx file holds at most {MAX_CHUNKS} chunks")
        self._fh.write(self._chunk.serialise())
        self._chunks_written += 1
        self._chunk = _Chunk()

    def _file_header(self) -> bytes:
        chunks = self._chunks_written
        head = _FILE_HEADER.pack(
            b"ElfFile\x00",
            0,  # first chunk number
            max(chunks - 1, 0),  # last chunk number
            self._max_id + 1,  # next record id
            0x80,  # header size
            1,  # minor version
            3,  # major version
            FILE_HEADER_BLOCK,
            chunks,
            b"",
            0,  # flags: clean, not full
        )
        return head + _U32(zlib.crc32(head[:0x78])) + bytes(FILE_HEADER_BLOCK - len(head) - 4)


def write_evtx(path: str | os.PathLike[str] | BinaryIO, events: Iterable[Mapping[str, Any]]) -> int:
    """Write ``events`` to a new .evtx file at ``path``; returns the number of records."""
    with EvtxWriter(path) as writer:
        for event in events:
            writer.write(event)
    return writer.count
