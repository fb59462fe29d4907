"""Zeek logs (TSV with ``#fields`` headers, and JSON lines) -> network rows.

Both forms are read into Zeek-shaped records (dicts keyed by Zeek's field names) and mapped by
``parsers.network.records``, the mapping packet captures go through too: a row's ``source`` is
``network_<log>`` (``network_conn``, ``network_dns``, ``network_tls`` for ssl...).

TSV (Zeek's ASCII writer): a header block of ``#separator`` (written ``\\x09``),
``#set_separator``, ``#empty_field``, ``#unset_field``, ``#path``, ``#open``, ``#fields``,
``#types``, then one record per line, ``#close`` at the end; a file may hold several blocks
(concatenated logs). Values are typed by ``#types``: ``count``/``int``/``port`` become integers,
``bool`` ``T``/``F`` booleans, ``set[..]``/``vector[..]`` lists split on the set separator,
``time``/``interval``/``double`` stay the decimal text Zeek wrote (six decimals, so times keep
their exact microseconds), strings are unescaped (``\\xNN``, ``\\\\``). The unset (``-``) and
empty (``(empty)``) markers make a field absent.

JSON (``LogAscii::use_json``, json-streaming-logs, Kafka/RockNSM shippers): one object per line,
or ``{"<log>": {record}}`` from the Kafka writer's ``tag_json``. Field names may use ``_`` as
the scope separator (``id_orig_h``, ``certificate_subject``): they are renamed to Zeek's dotted
names, and nested objects are flattened the same way. The log type comes from that tag, or from
``_path``/``@stream`` when a shipper wrote one; otherwise from the fields present (conn has
``conn_state``, dns ``query`` with ``rcode``/``qtype``...); when the fields do not tell (a
Kerberos record with only its connection, say), from the evidence file's name
(``Options.source_path``: ``conn.log``, ``SCRANTON_smb_files.log``); failing all, the record
is mapped generically under ``network_zeek`` and a note counts how many were.

Every line that cannot be read (wrong column count, a time that is not one, invalid JSON, data
before ``#fields``) is a counted warning with its line number; the rest keeps going.

References: Zeek documentation, "Logs" and "Zeek ASCII/TSV and JSON log formats"
(https://docs.zeek.org/en/master/log-formats.html); Zeek source, threading/formatters/Ascii.cc
(value escaping); corelight/json-streaming-logs (``_path``).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any, BinaryIO

import orjson
import pyarrow as pa

from parsers.base import HEAD_BYTES, Options, Parser, ParseWarning, one_line
from parsers.network.records import MAPPINGS, to_row
from parsers.textlog import Row, batched, head_lines, json_lines, numbered_lines

__all__ = ["ZeekParser", "infer_log", "log_from_name", "normalise", "read_json", "read_tsv"]

#: Log name of records whose type nothing tells (their rows' source is ``network_zeek``).
UNKNOWN = "zeek"
#: Zeek record-valued fields, as a writer with ``_`` for the scope separator prefixes their
#: members (``id_orig_h``), and the record's name (``id.orig_h``).
_SCOPES = (
    ("id_orig_", "id"), ("id_resp_", "id"), ("certificate_", "certificate"), ("san_", "san"),
    ("basic_constraints_", "basic_constraints"), ("times_", "times"),
)  # fmt: skip
_SCOPE_PREFIXES = tuple(prefix for prefix, _ in _SCOPES)
#: Keys shippers add to name the log (the ``source``); other shipper keys stay in fields.
_PATH_KEYS = ("_path", "@stream")
_ZEEK_ID = re.compile(r"[CF][0-9A-Za-z]{8,22}")
_ESCAPE = re.compile(rb"\\\\|\\x([0-9a-fA-F]{2})")
#: Zeek's standard log names, for telling the log from a file name.
_LOG_NAMES = (
    *MAPPINGS,
    "capture_loss", "cluster", "conn_summary", "dnp3", "ftp", "intel", "irc", "known_certs",
    "known_hosts", "known_services", "loaded_scripts", "modbus", "mysql", "netcontrol", "ntp",
    "ocsp", "packet_filter", "quic", "radius", "rdp", "reporter", "rfb", "signatures", "sip",
    "smtp", "snmp", "socks", "software", "stats", "syslog", "traceroute", "tunnel", "websocket",
)  # fmt: skip
_NAME = re.compile(
    r"(?:^|[^a-z0-9])(" + "|".join(sorted(_LOG_NAMES, key=len, reverse=True)) + r")(?=[^a-z0-9]|$)"
)


def _set(*keys: str) -> frozenset[str]:
    return frozenset(keys)


#: How to tell a log from its fields: (log, all of these, at least one of these), in order.
SHAPES: tuple[tuple[str, frozenset[str], frozenset[str]], ...] = (
    ("conn", _set("conn_state"), _set()),
    ("dns", _set("query"), _set("rcode", "qtype", "qclass", "trans_id")),
    ("http", _set("trans_depth"), _set("method", "status_code", "uri", "host")),
    ("ssl", _set(), _set("resumed", "established", "cert_chain_fuids", "ssl_history")),
    ("x509", _set("certificate.subject"), _set()),
    ("notice", _set("note"), _set()),
    ("files", _set("fuid"), _set("seen_bytes", "total_bytes", "tx_hosts", "rx_hosts", "analyzers")),
    ("ssh", _set(), _set("auth_success", "auth_attempts", "host_key", "kex_alg", "hassh")),
    ("kerberos", _set("request_type"), _set()),
    ("smb_files", _set("action"), _set("times.modified", "times.created", "prev_name")),
    ("smb_mapping", _set(), _set("share_type", "native_file_system")),
    ("dce_rpc", _set("operation"), _set("endpoint", "named_pipe")),
    ("ntlm", _set(), _set("server_nb_computer_name", "server_dns_computer_name", "server_tree_name")),
    ("dhcp", _set(), _set("msg_types", "assigned_addr", "lease_time")),
    ("pe", _set(), _set("machine", "compile_ts", "is_exe", "section_names")),
    ("dpd", _set("analyzer", "failure_reason"), _set()),
    ("weird", _set("name"), _set("peer", "addl", "notice")),
)


def infer_log(record: Mapping[str, Any]) -> str | None:
    """The Zeek log a record (with dotted names) comes from, by the fields it has; else None."""
    for log, every, some in SHAPES:
        if every <= record.keys() and (not some or not some.isdisjoint(record.keys())):
            return log
    return None


def log_from_name(path: str | None) -> str | None:
    """The Zeek log a file name names (``conn.log``, ``SCRANTON_smb_files.log``,
    ``dns.00:00:00-01:00:00.log.gz``), else None."""
    if not path:
        return None
    m = _NAME.search(os.path.basename(path).lower())
    return m[1] if m else None


@lru_cache(maxsize=4096)
def _field_name(key: str) -> str:
    if key.startswith(_SCOPE_PREFIXES):
        scope = next(name for prefix, name in _SCOPES if key.startswith(prefix))
        return f"{scope}.{key[len(scope) + 1 :]}"
    return key


def normalise(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Field names as Zeek's default writer spells them: ``_``-scoped names dotted
    (``id_orig_h`` -> ``id.orig_h``), nested objects flattened (``{"id": {"orig_h": ..}}``)."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}" if prefix else _field_name(str(key))
        if isinstance(value, dict):
            out.update(normalise(value, f"{name}."))
        else:
            out[name] = value
    return out


def _unescape(value: str) -> str:
    """Zeek's TSV escapes (``\\xNN`` for bytes, ``\\\\`` for a backslash) -> text (UTF-8)."""
    if "\\" not in value:
        return value
    raw = _ESCAPE.sub(lambda m: bytes([int(m[1], 16)]) if m[1] else b"\\", value.encode())
    return raw.decode("utf-8", "replace")


def _scalar(kind: str, raw: str) -> Any:
    if kind in ("count", "int", "port"):
        try:
            return int(raw)
        except ValueError:
            return raw  # kept as written: the mapping leaves a non-number out of the core columns
    if kind == "bool":
        return {"T": True, "F": False}.get(raw, raw)
    if kind in ("time", "interval", "double", "addr", "subnet"):
        return raw
    return _unescape(raw)


def _typed(kind: str, raw: str, set_separator: str) -> Any:
    if kind.endswith("]") and kind.startswith(("set[", "vector[")):
        inner = kind[kind.index("[") + 1 : -1]
        return [_scalar(inner, item) for item in raw.split(set_separator)]
    return _scalar(kind, raw)


def _map(log: str, record: dict[str, Any], number: int, offset: int) -> Row | ParseWarning:
    try:
        row, fields = to_row(log, record)
    except ValueError as exc:
        return ParseWarning(f"line {number}", offset, one_line(str(exc)))
    row["source_record"] = number
    return row, fields


def read_tsv(
    fh: BinaryIO, hint: str | None = None, unknown: Counter | None = None
) -> Iterator[Row | ParseWarning]:
    """Records of a Zeek TSV log (one or more header blocks) -> rows. ``hint`` is the log a
    block without ``#path`` is taken for when its fields do not tell; ``unknown`` counts the
    records mapped generically."""
    separator, set_separator, empty, unset = "\t", ",", "(empty)", "-"
    path: str | None = None
    names: list[str] | None = None
    kinds: list[str] = []
    for number, offset, line in numbered_lines(fh):
        if not line:
            continue
        if line.startswith("#"):
            if line.startswith("#separator"):
                separator = _unescape(line[len("#separator") :].strip()) or "\t"
                path, names, kinds = None, None, []
                continue
            directive, _, value = line[1:].partition(separator)
            if directive == "set_separator":
                set_separator = _unescape(value)
            elif directive == "empty_field":
                empty = value
            elif directive == "unset_field":
                unset = value
            elif directive == "path":
                path = value
            elif directive == "fields":
                names = [_field_name(n) for n in value.split(separator)]
                kinds = []
            elif directive == "types":
                kinds = value.split(separator)
                if names is not None and len(kinds) != len(names):
                    yield ParseWarning(f"line {number}", offset, "#types does not match #fields: values read as text", 0)  # fmt: skip
                    kinds = []
            continue  # #open, #close and comments
        if names is None:
            yield ParseWarning(f"line {number}", offset, "data line before a #fields header")
            continue
        values = line.split(separator)
        if len(values) != len(names):
            yield ParseWarning(
                f"line {number}", offset, f"{len(values)} columns where #fields names {len(names)}"
            )
            continue
        record = {
            name: _typed(kind, raw, set_separator)
            for name, kind, raw in zip(names, kinds or ["string"] * len(names), values, strict=True)
            if raw != unset and raw != empty
        }
        log = path or infer_log(record) or hint
        if log is None and unknown is not None:
            unknown["records"] += 1
        yield _map(log or UNKNOWN, record, number, offset)


def read_json(
    fh: BinaryIO, hint: str | None = None, unknown: Counter | None = None
) -> Iterator[Row | ParseWarning]:
    """Zeek JSON lines -> rows; the log of each record from ``_path``/``@stream``, else its
    fields, else ``hint`` (the file name's), else generic (counted in ``unknown``)."""
    for item in json_lines(fh):
        if isinstance(item, ParseWarning):
            yield item
            continue
        number, offset, value = item
        if not isinstance(value, dict):
            yield ParseWarning(f"line {number}", offset, "not a JSON object")
            continue
        tag, value = _untagged(value)
        record = normalise(value)
        named = [record.pop(k) for k in _PATH_KEYS if k in record]
        log = tag or next((str(n) for n in named if n), None) or infer_log(record) or hint
        if log is None and unknown is not None:
            unknown["records"] += 1
        yield _map(log or UNKNOWN, record, number, offset)


def _untagged(value: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """``{"conn": {record}}`` (the Kafka writer's ``tag_json``) -> ("conn", record)."""
    if len(value) == 1:
        ((tag, inner),) = value.items()
        if isinstance(inner, dict) and "ts" in inner:
            return str(tag), inner
    return None, value


def _zeek_json(value: Any) -> bool:
    """A JSON object Zeek (or a Zeek log shipper) wrote: ``ts`` plus a connection, a log path
    or a Zeek connection/file id."""
    if not isinstance(value, dict) or "ts" not in value:
        return False
    if "id.orig_h" in value or "id_orig_h" in value or isinstance(value.get("id"), dict):
        return True
    if any(isinstance(value.get(k), str) for k in _PATH_KEYS):
        return True
    return any(isinstance(value.get(k), str) and _ZEEK_ID.fullmatch(value[k]) for k in ("uid", "fuid", "id"))


class ZeekParser(Parser):
    """Zeek logs, TSV and JSON, into the network rows packet captures also give."""

    name = "zeek"

    def sniff(self, head: bytes) -> bool:
        lines = head_lines(head, 1)
        if not lines:
            return False
        first = lines[0]
        if first.startswith("#separator "):
            return True
        if not first.startswith("{"):
            return False
        try:
            value = orjson.loads(first)
        except orjson.JSONDecodeError:
            return False
        return isinstance(value, dict) and _zeek_json(_untagged(value)[1])

    def parse(self, fh: BinaryIO, unit: object, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        fh.seek(0)
        lines = head_lines(fh.read(HEAD_BYTES), 1)
        tsv = bool(lines) and lines[0].startswith("#")
        hint = log_from_name(options.source_path)
        unknown: Counter = Counter()
        read = read_tsv if tsv else read_json
        yield from batched(read(fh, hint, unknown), options.batch_rows)
        if unknown["records"]:
            yield ParseWarning(
                "file", None,
                f"{unknown['records']:,} records of an unknown Zeek log (no path, fields and file name tell none): mapped generically",
                0,
            )  # fmt: skip
