"""Windows events exported as JSON, mapped into the same rows as the EVTX path.

Three shapes, each reduced to the canonical (system, data) pair of ``parsers.winevent``:
evtx_dump / Rust-bindings JSON (``{"Event": {"System": ..., "EventData": ...}}``; concatenated
pretty-printed objects, arrays or NDJSON, optionally with evtx_dump's ``Record N`` lines);
NXLog ``im_msvistalog`` / OTRF flattened NDJSON (``EventID``, ``Channel``, ``Hostname``, EventData
at top level); Elastic winlogbeat 6-8 (``winlog.event_id``, ``winlog.event_data``, ...).
Files are streamed: NDJSON line by line, anything else through ``JSONDecoder.raw_decode`` over
blocks. Times with no zone are never silently taken as UTC: a note says so, and NXLog's local
``EventTime`` is converted with the offset its own ``EventReceivedTime`` vs ``@timestamp`` give.

References: evtx_dump (github.com/omerbenamram/evtx), NXLog im_msvistalog fields
(docs.nxlog.co), winlogbeat exported fields (elastic.co/docs/reference/beats/winlogbeat),
OTRF Security-Datasets (github.com/OTRF/Security-Datasets).
"""

from __future__ import annotations

import codecs
import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, BinaryIO

import orjson
import pyarrow as pa

from forensics.rows import RowBuilder
from forensics.timeutil import iso_z, parse_iso
from parsers.base import Options, Parser, ParseWarning, one_line
from parsers.winevent import flatten_json_event, flatten_xml_event, put_field, text, to_row

__all__ = ["WinEventJsonParser"]

#: Bytes read per block when streaming concatenated objects or arrays.
BLOCK = 1 << 20
#: A single object larger than this without a parse is given up on.
MAX_OBJECT = 64 << 20
_BOM = "\ufeff"
_WS = " \t\r\n"
_RECORD_LINE = re.compile(r"Record (\d+)[ \t]*\r?\n")
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:]')
_WINLOGBEAT_AGENT = re.compile(r'"(?:type|beat)"\s*:\s*"winlogbeat"')
# Top-level keys of NXLog/OTRF objects: two of them in a first object cut before its "EventID"
# (a long Message first) are enough.
_FLAT_HINTS = frozenset({
    "SourceName", "Hostname", "Channel", "ProviderGuid", "TimeCreated", "EventReceivedTime",
    "SourceModuleType", "RecordNumber",
})  # fmt: skip
_SURROGATE = re.compile("[\udc80-\udcff]")
_SYSMON = "Microsoft-Windows-Sysmon"
_SKEW = timedelta(minutes=10)
_QUARTER = timedelta(minutes=15)

# Flattened NDJSON (NXLog / OTRF): top-level key -> canonical <System> key.
_FLAT_SYSTEM = {
    "SourceName": "Provider_Name", "ProviderName": "Provider_Name", "Provider_Name": "Provider_Name",
    "ProviderGuid": "Provider_Guid", "Provider_Guid": "Provider_Guid",
    "EventID": "EventID", "Version": "Version", "Level": "Level", "Task": "Task",
    "OpcodeValue": "Opcode", "Keywords": "Keywords",
    "RecordNumber": "EventRecordID", "EventRecordID": "EventRecordID",
    "ExecutionProcessID": "Execution_ProcessID", "ExecutionThreadID": "Execution_ThreadID",
    "Channel": "Channel", "Hostname": "Computer", "Computer": "Computer",
}  # fmt: skip
# Present only in NXLog output: they say the shipper's names below are its own, not EventData.
_NXLOG_MARKS = ("SourceModuleType", "SourceModuleName", "EventReceivedTime", "ExecutionProcessID")
# NXLog's own fields (docs.nxlog.co im_msvistalog): normalised severity, rendered task and opcode
# names, its receive time and module, its "could not render" flag; OTRF's rename of NXLog's EventType.
_NXLOG_DROP = frozenset({
    "EventReceivedTime", "SourceModuleName", "SourceModuleType", "Severity", "SeverityValue",
    "Category", "ERROR_EVT_UNRESOLVED", "EventTypeOrignal", "EventTypeOriginal",
})  # fmt: skip
# NXLog's copy of the logger's <Execution> and resolved <Security UserID>.
_NXLOG_SYSTEM = {
    "ThreadID": "Execution_ThreadID", "UserID": "Security_UserID",
    "ActivityID": "Correlation_ActivityID", "RelatedActivityID": "Correlation_RelatedActivityID",
}  # fmt: skip
_NXLOG_ACCOUNT = {
    "AccountName": "Security_UserID_Name",
    "Domain": "Security_UserID_Domain",
    "AccountType": "Security_UserID_Type",
}
# Logstash envelope (the OTRF pipeline): dropped when a Logstash marker is present.
_LOGSTASH_DROP = frozenset({"host", "port", "tags", "type"})
_GUID_KEYS = frozenset({"Provider_Guid", "Correlation_ActivityID", "Correlation_RelatedActivityID"})

# winlogbeat 7/8 (``winlog.*``) and 6 (top level): canonical key <- candidate keys.
_WINLOG_SYSTEM: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Provider_Name", ("provider_name", "source_name")),
    ("Provider_Guid", ("provider_guid",)),
    ("EventID", ("event_id",)),
    ("Version", ("version",)),
    ("EventRecordID", ("record_id", "record_number")),
    ("Execution_ProcessID", ("process.pid", "process_id")),
    ("Execution_ThreadID", ("process.thread.id", "thread_id")),
    ("Channel", ("channel", "log_name")),
    ("Computer", ("computer_name",)),
    ("Security_UserID", ("user.identifier",)),
    ("Security_UserID_Name", ("user.name",)),
    ("Security_UserID_Domain", ("user.domain",)),
    ("Security_UserID_Type", ("user.type",)),
    ("Correlation_ActivityID", ("activity_id",)),
    ("Correlation_RelatedActivityID", ("related_activity_id",)),
)
# winlog.* keys that are consumed above, rendered names (task, opcode, keywords, level) or added
# by winlogbeat processors (logon, outcome, api); anything else is kept as ``winlog.<key>``.
_WINLOG_KNOWN = frozenset({
    "provider_name", "source_name", "provider_guid", "event_id", "version", "record_id",
    "record_number", "process", "process_id", "thread_id", "channel", "log_name", "computer_name",
    "user", "activity_id", "related_activity_id", "event_data", "user_data", "time_created",
    "api", "task", "opcode", "keywords", "level", "logon", "outcome", "message", "message_error",
    "computerObject",
})  # fmt: skip


class WinEventJsonParser(Parser):
    """Windows events exported as JSON (evtx_dump, NXLog/OTRF, winlogbeat) -> timeline rows."""

    name = "windows_event_json"

    def sniff(self, head: bytes) -> bool:
        body = head.decode("utf-8", "replace").lstrip(_BOM + _WS)
        record = _RECORD_LINE.match(body)
        if record:
            body = body[record.end() :].lstrip(_WS)
        if not body.startswith(("{", "[")):
            return False
        paths, cut = _key_paths(body)
        top = {p[0] for p in paths if len(p) == 1}
        if ("Event", "System") in paths:
            return True
        if "EventID" in top and top & {"Channel", "SourceName", "Hostname", "Computer"}:
            return True
        if ("winlog", "event_id") in paths or ("event_id" in top and top & {"log_name", "source_name"}):
            return True
        # The first object does not fit in the head: its telling key may come after a long message.
        return cut and (
            ("EventID" not in top and len(top & _FLAT_HINTS) >= 2)
            or ("winlog" not in top and bool(_WINLOGBEAT_AGENT.search(body)))
        )

    def parse(self, fh: BinaryIO, unit: object, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        fh.seek(0)
        probe = fh.read(1 << 16)
        fh.seek(0)
        items = _lines(fh) if _is_ndjson(probe) else _values(fh)
        clock = _Clock()
        builder = RowBuilder()
        for item in items:
            if isinstance(item, ParseWarning):
                yield item
                continue
            location, offset, record, obj = item
            try:
                system, data, rendered = _canonical(obj, clock)
                row, fields = to_row(system, data, rendered=rendered)
            except _NotAnEvent as exc:
                yield ParseWarning(location, offset, str(exc), 1)
                continue
            except Exception as exc:  # one odd object must not end the file
                yield ParseWarning(
                    location, offset, f"unreadable event: {type(exc).__name__}: {exc}"[:300], 1
                )
                continue
            row["source"] = self.name
            row["source_record"] = record
            clock.check_sysmon(system, data)
            builder.add(row, fields)
            if len(builder) >= options.batch_rows:
                yield builder.flush()
        batch = builder.flush()
        if batch is not None:
            yield batch
        yield from clock.notes()


# --- framing -----------------------------------------------------------------------------------


def _key_paths(body: str) -> tuple[set[tuple[str, ...]], bool]:
    """Key paths (object keys from the root, arrays skipped) found in a possibly cut JSON text,
    and whether the first object is cut (not closed within ``body``)."""
    paths: set[tuple[str, ...]] = set()
    stack: list[str | None] = []  # per open container: its current key (None for arrays)
    kinds: list[str] = []
    closed = False
    tokens = [m.group() for m in _TOKENS.finditer(body)]
    for i, token in enumerate(tokens):
        if token in ("{", "["):
            kinds.append(token)
            stack.append(None)
        elif token in ("}", "]"):
            if kinds:
                kinds.pop()
                stack.pop()
                closed = closed or not [k for k in kinds if k == "{"]
        elif token[0] == '"' and kinds and kinds[-1] == "{" and i + 1 < len(tokens) and tokens[i + 1] == ":":
            stack[-1] = token[1:-1]
            paths.add(tuple(k for k, kind in zip(stack, kinds, strict=True) if kind == "{" and k is not None))
    return paths, not closed


def _is_ndjson(probe: bytes) -> bool:
    """True when one of the first complete lines is a whole JSON object (pretty-printed JSON
    never has one)."""
    lines = [line for line in probe.removeprefix(codecs.BOM_UTF8).split(b"\n")[:-1] if line.strip()]
    for line in lines[:5]:
        try:
            if isinstance(json.loads(line.decode("utf-8", "replace")), dict):
                return True
        except ValueError:
            continue
    return False


_Item = tuple[str, int, int, Any] | ParseWarning


def _lines(fh: BinaryIO) -> Iterator[_Item]:
    """NDJSON: one (location, offset, ordinal, object) per non-blank line, or a warning."""
    offset = 0
    ordinal = 0
    replaced = False
    for number, line in enumerate(fh, 1):
        start = offset
        offset += len(line)
        if number == 1:
            line = line.removeprefix(codecs.BOM_UTF8)
        if not line.strip():
            continue
        ordinal += 1
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            try:  # invalid UTF-8, integers beyond 64 bits, NaN: the standard library is laxer
                decoded = line.decode("utf-8", "replace")
                obj = json.loads(decoded)
            except ValueError:
                yield ParseWarning(f"line {number}", start, f"invalid JSON: {one_line(str(exc))}", 1)
                continue
            if not replaced and "\ufffd" in decoded and b"\xef\xbf\xbd" not in line:
                replaced = True
                yield ParseWarning(
                    f"line {number}", start, "invalid UTF-8 replaced with U+FFFD (first occurrence)", 0
                )
        yield f"line {number}", start, ordinal, obj


class _Text:
    """A binary file decoded block by block; positions in ``buf`` map back to byte offsets."""

    __slots__ = ("_cursor", "_decoder", "_fh", "_offset", "buf", "dirty", "eof")

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self._decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self.buf = ""
        self.eof = False
        self.dirty = False  # invalid UTF-8 seen (kept as surrogates so that offsets stay exact)
        self._cursor = 0  # a position in buf whose byte offset is known...
        self._offset = 0  # ...and that offset

    def offset(self, pos: int) -> int:
        """Byte offset of ``buf[pos]`` (cheap when asked in increasing order)."""
        if pos > self._cursor:
            self._offset += len(self.buf[self._cursor : pos].encode("utf-8", "surrogateescape"))
        elif pos < self._cursor:
            self._offset -= len(self.buf[pos : self._cursor].encode("utf-8", "surrogateescape"))
        self._cursor = pos
        return self._offset

    def more(self, keep: int) -> int:
        """Drop ``buf[:keep]`` and append the next block (at least as long as what is left, so
        that retrying one large object costs linear time); returns how far positions moved."""
        if keep:
            self.offset(keep)
            self.buf = self.buf[keep:]
            self._cursor = 0
        data = self._fh.read(max(BLOCK, len(self.buf)))
        chunk = self._decoder.decode(data, final=not data)
        if not data:
            self.eof = True
        if not self.dirty and _SURROGATE.search(chunk):
            self.dirty = True
        self.buf += chunk
        return keep


def _values(fh: BinaryIO) -> Iterator[_Item]:
    """Concatenated (pretty-printed) objects or a JSON array of them, streamed through
    ``raw_decode``. A bad object is skipped to the next object starting at its indentation."""
    decoder = json.JSONDecoder()
    src = _Text(fh)
    src.more(0)
    pos = 1 if src.buf.startswith(_BOM) else 0
    ordinal = 0
    record: int | None = None
    in_array = seen_value = noted = False
    while True:
        while pos < len(src.buf) and (src.buf[pos] in _WS or (in_array and src.buf[pos] == ",")):
            pos += 1
        if pos >= len(src.buf) - 1 and not src.eof:  # keep one character of look-ahead
            pos -= src.more(pos)
            continue
        if pos >= len(src.buf):
            return
        char = src.buf[pos]
        if char == "[" and not seen_value and not in_array:
            in_array = seen_value = True
            pos += 1
            continue
        if char == "]" and in_array:
            in_array = False
            pos += 1
            continue
        if char == "R":
            if len(src.buf) - pos < 40 and "\n" not in src.buf[pos:] and not src.eof:
                pos -= src.more(pos)
                continue
            match = _RECORD_LINE.match(src.buf, pos)
            if match:
                record = int(match.group(1))
                pos = match.end()
                continue
        seen_value = True
        ordinal += 1
        location = f"object {ordinal}"
        skipped = False
        while True:
            try:
                obj, end = decoder.raw_decode(src.buf, pos)
                break
            except json.JSONDecodeError as exc:
                line_start = src.buf.rfind("\n", 0, pos) + 1
                indent = src.buf[line_start:pos]
                resume = src.buf.find("\n" + indent + "{", pos + 1) if not indent.strip(_WS) else -1
                if resume < 0 and not src.eof and len(src.buf) - pos < MAX_OBJECT:
                    pos -= src.more(pos)
                    continue
                start = src.offset(pos)
                where = src.offset(exc.pos) if exc.pos >= pos else start
                if resume < 0:
                    cut = src.eof and (
                        exc.pos >= len(src.buf.rstrip(_WS)) or exc.msg.startswith("Unterminated")
                    )
                    what = "truncated" if cut else "invalid"
                    reason = f"{what} JSON ({exc.msg} at byte {where}); nothing after it could be read"
                    yield ParseWarning(location, start, reason, 1)
                    return
                yield ParseWarning(location, start, f"invalid JSON ({exc.msg} at byte {where}), skipped", 1)
                skipped, end = True, resume + 1
                break
        if not skipped:
            if src.dirty:
                cleaned = _clean(obj)
                if not noted and cleaned != obj:
                    noted = True
                    yield ParseWarning(
                        location, src.offset(pos), "invalid UTF-8 replaced with U+FFFD (first occurrence)", 0
                    )
                obj = cleaned
            yield location, src.offset(pos), record if record is not None else ordinal, obj
        record = None
        pos = end


def _clean(value: Any) -> Any:
    """Invalid UTF-8 (kept as lone surrogates while decoding) -> U+FFFD, in every string."""
    if isinstance(value, str):
        return (
            value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            if _SURROGATE.search(value)
            else value
        )
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


# --- shapes -> canonical (system, data) --------------------------------------------------------


class _NotAnEvent(ValueError):
    pass


def _canonical(obj: Any, clock: _Clock) -> tuple[dict[str, str | None], dict[str, str | None], str | None]:
    if not isinstance(obj, dict):
        raise _NotAnEvent(f"not a Windows event: a JSON {type(obj).__name__}, not an object")
    event = obj.get("Event")
    if isinstance(event, dict) or isinstance(obj.get("System"), dict):
        system, data = flatten_json_event(obj)
        rendering = (event or obj).get("RenderingInfo")
        rendered = text(rendering.get("Message")) if isinstance(rendering, dict) else None
        system["TimeCreated_SystemTime"] = clock.utc(system.get("TimeCreated_SystemTime"))
        return system, data, rendered
    if isinstance(obj.get("winlog"), dict) or (
        "event_id" in obj and ("log_name" in obj or "source_name" in obj)
    ):
        return _from_winlogbeat(obj, clock)
    if "EventID" in obj:
        return _from_flat(obj, clock)
    keys = ", ".join(list(obj)[:5])
    raise _NotAnEvent(f"not a Windows event: no Event/System, EventID or winlog key (keys: {keys})")


def _from_flat(
    obj: dict[str, Any], clock: _Clock
) -> tuple[dict[str, str | None], dict[str, str | None], str | None]:
    """NXLog im_msvistalog / OTRF flattened object -> canonical pair."""
    nxlog = any(mark in obj for mark in _NXLOG_MARKS)
    logstash = "@version" in obj or "@timestamp" in obj
    # NXLog's EventType (INFO, AUDIT_SUCCESS...) hides Sysmon's EventData EventType unless the
    # pipeline moved it aside (OTRF's "EventTypeOrignal").
    nxlog_event_type = nxlog and "EventTypeOrignal" not in obj and "EventTypeOriginal" not in obj
    system: dict[str, str | None] = {}
    data: dict[str, str | None] = {}
    for key, value in obj.items():
        if key in ("Message", "TimeCreated", "@timestamp", "@version", "@metadata"):
            continue
        if key == "EventTime" and "TimeCreated" not in obj:
            continue  # the time source, read below
        if logstash and key in _LOGSTASH_DROP:
            continue
        canonical = _FLAT_SYSTEM.get(key)
        if canonical is None and nxlog:
            if key in _NXLOG_DROP or (key == "EventType" and nxlog_event_type):
                continue
            canonical = _NXLOG_SYSTEM.get(key)
            if key == "ProcessID" and "ExecutionProcessID" not in obj:
                canonical = "Execution_ProcessID"  # native NXLog: ProcessID is the logger's
            if key in _NXLOG_ACCOUNT and "UserID" in obj and "AccountType" in obj:
                canonical = _NXLOG_ACCOUNT[key]  # NXLog's lookup of UserID, not EventData
        if key == "Opcode":
            if "OpcodeValue" in obj or not _is_int(value):
                continue  # the rendered opcode name
            canonical = "Opcode"
        if canonical is None:
            data[key] = _value(value)
        elif canonical not in system:
            system[canonical] = _system_value(canonical, value)
    if "TimeCreated" in obj:
        when = clock.utc(obj["TimeCreated"])
    elif "EventTime" in obj:
        when = clock.nxlog(obj["EventTime"], obj.get("EventReceivedTime"), obj.get("@timestamp"))
    else:
        when = clock.utc(obj.get("@timestamp"))
    system["TimeCreated_SystemTime"] = when
    message = obj.get("Message")
    return system, data, message if isinstance(message, str) else None


def _from_winlogbeat(
    obj: dict[str, Any], clock: _Clock
) -> tuple[dict[str, str | None], dict[str, str | None], str | None]:
    """Elastic winlogbeat 7/8 (``winlog.*``) or 6 (top-level ``event_id``...) -> canonical pair.
    When ``event.original`` holds the event XML (``include_xml: true``), that is used instead."""
    winlog = obj.get("winlog") if isinstance(obj.get("winlog"), dict) else {}
    message = obj.get("message")
    rendered = message if isinstance(message, str) else None
    event = obj.get("event") if isinstance(obj.get("event"), dict) else {}
    original = event.get("original")
    if isinstance(original, str) and original.lstrip().startswith("<Event"):
        try:
            from_xml = flatten_xml_event(original)
        except Exception:  # a mangled copy: fall back to the parsed fields
            pass
        else:
            from_xml[0]["TimeCreated_SystemTime"] = clock.utc(from_xml[0].get("TimeCreated_SystemTime"))
            return *from_xml, rendered
    # winlogbeat 6 kept these at the top level; from 7 on the top level holds ECS fields
    # (process.pid, user.name...) describing the event's subject, not the <System> values.
    sources = (winlog,) if "event_id" in winlog else (winlog, obj)
    system: dict[str, str | None] = {}
    for canonical, names in _WINLOG_SYSTEM:
        value = next((v for src in sources for n in names if (v := _dig(src, n)) is not None), None)
        if value is not None:
            system[canonical] = _system_value(canonical, value)
    if "EventID" not in system and event.get("code") is not None:
        system["EventID"] = text(event["code"])
    for key, value in winlog.items():
        if key not in _WINLOG_KNOWN and value is not None:
            _dotted(value, f"winlog.{key}", system)
    system["TimeCreated_SystemTime"] = clock.utc(winlog.get("time_created") or obj.get("@timestamp"))
    data: dict[str, str | None] = {}
    for section in ("event_data", "user_data"):
        node = winlog.get(section, obj.get(section) if len(sources) > 1 else None)
        if isinstance(node, dict):
            _leaves(node, "", data)
    return system, data, rendered


def _dig(node: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _leaves(value: Any, name: str, out: dict[str, str | None]) -> None:
    """event_data / user_data -> values by leaf name, as ``parsers.winevent`` names EventData and
    UserData leaves (winlogbeat's ``xml_name`` is the UserData element's name: dropped)."""
    if isinstance(value, dict):
        for key, child in value.items():
            if key != "xml_name":
                _leaves(child, key, out)
    elif isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        for child in value:
            _leaves(child, name, out)
    else:
        put_field(out, name or "Data", _value(value))


def _dotted(value: Any, name: str, out: dict[str, str | None]) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _dotted(child, f"{name}.{key}", out)
    else:
        put_field(out, name, _value(value))


def _value(value: Any) -> str | None:
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return text(value)


def _is_int(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and value.isdigit()
    )


def _system_value(key: str, value: Any) -> str | None:
    """System values as evtx_dump writes them: GUIDs upper case without braces, Keywords as
    unsigned hex (NXLog writes them as a signed 64-bit integer)."""
    if key == "Keywords" and isinstance(value, int) and not isinstance(value, bool):
        return f"0x{value & 0xFFFF_FFFF_FFFF_FFFF:x}"
    result = _value(value)
    if key in _GUID_KEYS and result:
        result = result.strip("{}").upper()
    return result


# --- times -------------------------------------------------------------------------------------


class _Clock:
    """Times -> ISO UTC strings, counting what had to be assumed; one note each per file."""

    def __init__(self) -> None:
        self.assumed = 0
        self.first_assumed: str | None = None
        self.unreadable = 0
        self.first_unreadable: str | None = None
        self.offsets: Counter[timedelta] = Counter()
        self.sysmon = 0
        self.skews: Counter[timedelta] = Counter()

    def utc(self, value: Any) -> str | None:
        """A time that should carry its zone; one without is taken as UTC, and counted."""
        if value is None or value == "":
            return None
        raw = text(value) or ""
        when = parse_iso(raw, naive_is_utc=False)
        if when is None:
            when = parse_iso(raw)
            if when is None:
                self.unreadable += 1
                self.first_unreadable = self.first_unreadable or raw[:40]
                return None
            self.assumed += 1
            self.first_assumed = self.first_assumed or raw
        return iso_z(when)

    def nxlog(self, event_time: Any, received: Any, stamp: Any) -> str | None:
        """NXLog's ``EventTime`` is the collector's local time without a zone. Its offset is
        ``@timestamp`` (UTC, set on receipt downstream) minus ``EventReceivedTime`` (local, set on
        receipt), rounded to 15 minutes; accepted when the transport delay is within 2 minutes."""
        raw = text(event_time) or ""
        if parse_iso(raw, naive_is_utc=False) is not None or not raw:
            return self.utc(event_time)
        local = parse_iso(raw)
        got = parse_iso(text(received), naive_is_utc=False) is None and parse_iso(text(received))
        utc = parse_iso(text(stamp), naive_is_utc=False)
        if local is not None and got and utc is not None:
            delta = utc - got
            offset = round(delta / _QUARTER) * _QUARTER
            if abs(delta - offset) <= timedelta(minutes=2):
                self.offsets[offset] += 1
                return iso_z(local + offset)
        return self.utc(event_time)

    def check_sysmon(self, system: dict[str, str | None], data: dict[str, str | None]) -> None:
        """Sysmon's EventData ``UtcTime`` is UTC by definition: an event time far from it means
        the export's times are not UTC (OTRF's TimeCreated is local time, some with a false Z)."""
        utc_time = data.get("UtcTime")
        if system.get("Provider_Name") != _SYSMON or not utc_time:
            return
        created = system.get("TimeCreated_SystemTime") or ""
        if created[:10] == utc_time[:10] and created[11:16] == utc_time[11:16]:
            self.sysmon += 1  # same minute: the common case, no parsing needed
            return
        when = parse_iso(created)
        truth = parse_iso(utc_time)
        if when is None or truth is None:
            return
        self.sysmon += 1
        skew = when - truth
        if abs(skew) > _SKEW:
            self.skews[timedelta(minutes=round(skew / timedelta(minutes=1)))] += 1

    def notes(self) -> Iterator[ParseWarning]:
        if self.offsets:
            zones = ", ".join(f"UTC{_signed(-o)}" for o, _ in self.offsets.most_common())
            yield ParseWarning(
                "file", None,
                f"NXLog EventTime has no zone: {sum(self.offsets.values())} times read as local time at {zones}, "
                "inferred from EventReceivedTime vs @timestamp (EventTime has whole seconds only)", 0,
            )  # fmt: skip
        if self.assumed:
            yield ParseWarning(
                "file",
                None,
                f"{self.assumed} event times have no zone (first: {self.first_assumed!r}): assumed UTC",
                0,
            )
        if self.unreadable:
            yield ParseWarning(
                "file",
                None,
                f"{self.unreadable} event times unreadable (first: {self.first_unreadable!r}): left empty",
                0,
            )
        if self.skews:
            common = ", ".join(f"{_signed(s)} x{n}" for s, n in self.skews.most_common(3))
            yield ParseWarning(
                "file", None,
                f"event time differs from Sysmon UtcTime by more than {_SKEW.seconds // 60} min on "
                f"{sum(self.skews.values())} of {self.sysmon} Sysmon events ({common}): the export's times "
                "are probably local time, not UTC; rows keep the export's time", 0,
            )  # fmt: skip


def _signed(delta: timedelta) -> str:
    minutes = round(delta / timedelta(minutes=1))
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{rest:02d}"
