"""Container stdout/stderr logs -> one row per logged line: Docker's ``json-file`` driver and the
Kubernetes CRI format (containerd, CRI-O).

Docker ``json-file`` (``/var/lib/docker/containers/<id>/<id>-json.log``) writes one JSON object per
line: ``{"log":"text\\n","stream":"stdout","time":"2016-01-07T16:49:10.237222729Z"}``, plus
``attrs`` when log options add labels or environment. A message longer than 16 KiB is split
into entries whose ``log`` does not end in a newline; such entries are joined with the
following ones of the same stream into one row (``parts`` says how many), as CRI parts are.

CRI (``/var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log``, linked from
``/var/log/containers/<pod>_<namespace>_<container>-<id>.log``) writes
``<RFC 3339 time> <stream> <tag> <text>``, the tag ``F`` for a full line and ``P`` for a
partial one: partial lines are joined with the following lines of the same stream up to the
``F`` that ends them, into one row at the first part's time (``parts``, ``time_last``). The
runtime cuts a line when its 16 KiB buffer fills and writes the rest at once, so a part is
joined only when written within ``MAX_GAP`` (60 s) of the one before; a partial line that nothing
completes (the file ends, or the stream's next line comes much later) stays a row of its own,
tagged ``P``. Lines of the other stream may come in between: each stream is joined apart.

Times are nanoseconds in UTC (CRI-O writes an offset): truncated to microseconds. The stream
and the tag go into fields. The container is named by the file's path, not its content: when
the ingest gives the path (``Options.source_path``) and it has one of the shapes above, its
container id, pod, namespace and container name go into fields; otherwise they are absent.
The message has terminal escape sequences removed; the text as written is kept in ``log``
when it differs.

References: Docker ``daemon/logger/jsonfilelog`` and ``daemon/logger/jsonfilelog/jsonlog``
(``JSONLog``); Kubernetes design proposal "CRI container log format"
(https://github.com/kubernetes/design-proposals-archive/blob/main/node/kubelet-cri-logging.md);
kubelet ``pkg/kubelet/kuberuntime/logs/logs.go`` (``parseCRILog``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import PurePosixPath
from typing import Any, BinaryIO

import orjson
import pyarrow as pa

from forensics.timeutil import iso_z, parse_iso
from parsers.base import HEAD_BYTES, Options, Parser, ParseWarning, row_message
from parsers.textlog import Row, batched, head_lines, json_lines, numbered_lines

__all__ = ["ContainerLogParser", "path_context", "read_cri", "read_docker"]

_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)"
_CRI = re.compile(rf"(?P<time>{_TIME}) (?P<stream>stdout|stderr) (?P<tag>[PF])(?::\S*)?(?: (?P<text>.*)|$)")
_CRI_ISH = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S* ")
_DOCKER_KEYS = frozenset({"log", "stream", "time", "attrs"})
_DOCKER_START = re.compile(rb'^\{"log":"')
#: Terminal control sequences (CSI, OSC) and other control characters, for a readable message.
_ESCAPES = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]|[\x00-\x08\x0b-\x1f\x7f]"
)
#: Longest text one joined row holds; a longer run of partial lines is cut into several rows.
MAX_JOINED = 1 << 20
#: Longest pause between a partial line and its continuation: the runtime cuts a line when its
#: buffer (16 KiB) fills and the rest follows at once, so a line of the same stream written
#: later than this starts a new row and the partial one stays a row of its own.
MAX_GAP = timedelta(seconds=60)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_POD_DIR = re.compile(r"(?P<namespace>[^_/]+)_(?P<pod>[^_/]+)_(?P<uid>[0-9a-f-]{36})")
_CONTAINERS_LINK = re.compile(
    r"(?P<pod>[^_/]+)_(?P<namespace>[^_/]+)_(?P<container>.+)-(?P<id>[0-9a-f]{64})\.log"
)


def path_context(path: str | None) -> dict[str, str]:
    """Container id, pod, namespace and container name from a log file's path, where it shows them."""
    if not path:
        return {}
    parts = PurePosixPath(path.replace("\\", "/")).parts
    name = parts[-1]
    if len(parts) >= 2 and _HEX64.fullmatch(parts[-2]) and name.startswith(("container-json.log", parts[-2])):
        return {"container_id": parts[-2]}  # /var/lib/docker/containers/<id>/<id>-json.log[.N]
    if m := _CONTAINERS_LINK.fullmatch(name):  # /var/log/containers/<pod>_<ns>_<container>-<id>.log
        return {
            "container_id": m["id"],
            "container_name": m["container"],
            "k8s_pod": m["pod"],
            "k8s_namespace": m["namespace"],
        }
    if len(parts) >= 3 and (m := _POD_DIR.fullmatch(parts[-3])) and re.fullmatch(r"\d+\.log(?:\.\S+)?", name):
        return {  # /var/log/pods/<ns>_<pod>_<uid>/<container>/<n>.log
            "container_name": parts[-2],
            "k8s_pod": m["pod"],
            "k8s_namespace": m["namespace"],
            "k8s_pod_uid": m["uid"],
        }
    return {}


@dataclass(slots=True)
class _Line:
    """One logged line, possibly joined from parts."""

    record: int
    when: datetime
    stream: str
    text: str
    tag: str
    parts: int = 1
    last: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)


def _continues(line: _Line, when: datetime) -> bool:
    """Whether a line written at ``when`` can continue the partial ``line``."""
    return timedelta(0) <= when - (line.last or line.when) <= MAX_GAP


def _row(line: _Line, fmt: str, context: dict[str, str], source: str) -> Row:
    text = line.text.removesuffix("\n").removesuffix("\r")
    clean = _ESCAPES.sub("", text)
    fields: dict[str, str | None] = {"format": fmt, "stream": line.stream, "tag": line.tag, **context}
    if line.parts > 1:
        fields["parts"] = str(line.parts)
        if line.last is not None and line.last != line.when:
            fields["time_last"] = iso_z(line.last)
    if clean != text or len(text) > len(row_message(text)):
        fields["log"] = text
    fields.update(line.extra)
    row: dict[str, Any] = {
        "datetime": line.when,
        "timestamp_desc": "Event Recorded",
        "message": row_message(f"{line.stream}: {clean}"),
        "source": source,
        "source_record": line.record,
        "event_action": "container-log",
    }
    return row, fields


def read_docker(fh: BinaryIO, context: dict[str, str], source: str) -> Iterator[Row | ParseWarning]:
    """json-file lines -> rows; entries cut at 16 KiB are joined per stream."""
    pending: dict[str, _Line] = {}
    for item in json_lines(fh):
        if isinstance(item, ParseWarning):
            yield item
            continue
        number, offset, record = item
        where = f"line {number}"
        if (
            not isinstance(record, dict)
            or not isinstance(record.get("log"), str)
            or not set(record) <= _DOCKER_KEYS
        ):
            yield ParseWarning(where, offset, "not a json-file log entry (log, stream, time)")
            continue
        when = parse_iso(record.get("time")) if isinstance(record.get("time"), str) else None
        if when is None:
            yield ParseWarning(where, offset, f"invalid time {record.get('time')!r}")
            continue
        stream = str(record.get("stream") or "-")
        text: str = record["log"]
        extra = {}
        if isinstance(record.get("attrs"), dict):
            extra = {f"attrs.{k}": str(v) for k, v in record["attrs"].items()}
        line = pending.pop(stream, None)
        if line is not None and not _continues(line, when):
            line.tag = "P"
            yield _row(line, "docker-json", context, source)
            line = None
        if line is None:
            line = _Line(number, when, stream, text, "F", extra=extra)
        else:
            line.text += text
            line.parts += 1
            line.last = when
        if text.endswith("\n") or len(line.text) >= MAX_JOINED:
            yield _row(line, "docker-json", context, source)
        else:
            pending[stream] = line
    for line in sorted(pending.values(), key=lambda x: x.record):
        line.tag = "P" if not line.text.endswith("\n") else "F"
        yield _row(line, "docker-json", context, source)


def read_cri(fh: BinaryIO, context: dict[str, str], source: str) -> Iterator[Row | ParseWarning]:
    """CRI lines -> rows; partial (P) lines are joined per stream with the line that ends them."""
    pending: dict[str, _Line] = {}
    for number, offset, text in numbered_lines(fh):
        if not text.strip():
            continue
        where = f"line {number}"
        m = _CRI.match(text)
        if m is None:
            what = "not a CRI log line" if _CRI_ISH.match(text) else "text that is not a CRI log line"
            yield ParseWarning(where, offset, f"{what}: {text[:60]!r}")
            continue
        when = parse_iso(m["time"])
        if when is None:
            yield ParseWarning(where, offset, f"invalid time {m['time']!r}")
            continue
        stream, part = m["stream"], m["text"] or ""
        line = pending.pop(stream, None)
        if line is not None and not _continues(line, when):
            yield _row(line, "cri", context, source)
            line = None
        if line is None:
            line = _Line(number, when, stream, part, m["tag"])
        else:
            line.text += part
            line.parts += 1
            line.last = when
            line.tag = m["tag"]
        if m["tag"] == "F" or len(line.text) >= MAX_JOINED:
            yield _row(line, "cri", context, source)
        else:
            pending[stream] = line
    for line in sorted(pending.values(), key=lambda x: x.record):
        yield _row(line, "cri", context, source)


def _docker_head(head: bytes) -> bool:
    """The head's complete lines are json-file entries (or its first line is longer than the head)."""
    if len(head) >= HEAD_BYTES and b"\n" not in head:
        return _DOCKER_START.match(head.removeprefix(b"\xef\xbb\xbf")) is not None
    lines = head_lines(head, 10)
    for text in lines:
        try:
            record = orjson.loads(text)
        except orjson.JSONDecodeError:
            return False
        if not (
            isinstance(record, dict)
            and isinstance(record.get("log"), str)
            and isinstance(record.get("time"), str)
            and set(record) <= _DOCKER_KEYS
            and record.get("stream", "stdout") in ("stdout", "stderr")
            and parse_iso(record["time"]) is not None
        ):
            return False
    return bool(lines)


def _cri_head(head: bytes) -> bool:
    lines = head_lines(head, 10)
    return bool(lines) and all(_CRI.match(line) for line in lines)


class ContainerLogParser(Parser):
    """Docker json-file and Kubernetes CRI container logs."""

    name = "container_log"

    def sniff(self, head: bytes) -> bool:
        return _docker_head(head) or _cri_head(head)

    def parse(self, fh: BinaryIO, unit: object, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        fh.seek(0)
        head = fh.read(4096)
        context = path_context(options.source_path)
        reader = read_docker if head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"{" else read_cri
        yield from batched(reader(fh, context, self.name), options.batch_rows)
