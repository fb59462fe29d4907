"""HTTP/1.x in one TCP connection -> Zeek http.log transactions and files.log bodies.

A connection's two directions are fed as in-order byte streams (the flow builder's TCP
reassembly), in whatever pieces they arrive, with ``gap`` for bytes never captured.
:class:`HttpConversation` reads requests and responses out of them incrementally and pairs
them first-in first-out, as pipelining requires, into :class:`Transaction` objects: one
http.log row each. Every message body is a :class:`Body` (one files.log row): hashed (MD5,
SHA-1, SHA-256), MIME-sniffed from its first KiB and optionally written to a file the caller
opens (carving), chunk by chunk, so memory does not grow with the size of a body or the
length of a connection. Content-Encoding gzip, x-gzip and deflate are undone first, because
Zeek hashes and sniffs the decoded entity and so does an analyst comparing against a file.

The reader is lenient, as forensic input calls for: bare LF line ends, folded header lines,
chunk extensions, a missing CRLF after a chunk, a response with no request seen (the
capture began mid-connection) and HTTP/0.9 are all taken. Framing follows RFC 9112 §6.3: no
body for responses to HEAD and for 1xx, 204 and 304; chunked, else Content-Length, else (a
response) up to the end of the connection. ``100 Continue`` and other interim responses fill
``info_code``/``info_msg`` and the final response follows; a 2xx answer to CONNECT or a 101
(protocol switch) ends HTTP on the connection (:attr:`HttpConversation.tunnel` says which).
A gap inside a body of known length is counted in the body's ``missing_bytes`` and reading
goes on; a gap anywhere else loses the message boundaries, and that direction resynchronises
at the next line that looks like a request or status line. Nothing in the input makes it
raise: malformed things are counted in :attr:`HttpConversation.weirds` under Zeek's weird.log
names where Zeek has one (``bad_HTTP_request``, ``unmatched_HTTP_reply``, ``HTTP_bad_chunk_size``,
``HTTP_chunked_transfer_for_multipart_message``, ``unknown_HTTP_method``...).

Not handled, deliberately: multipart bodies are one object (Zeek splits them into one file
per part); 206 partial-content bodies are separate objects, not reassembled by Content-Range
across requests; chunked trailers are skipped; only a single gzip/deflate coding is decoded
(br, zstd, compress and stacked codings are kept as sent, noted in ``tags``); HTTP/2 (h2c,
prior knowledge) is not HTTP/1 and is left alone; only Basic authorization yields a username
(as Zeek; never the password). As in Zeek, files.log carries no hashes for a body with
missing bytes (Zeek's hash analyzers stop at a gap), although :class:`Body` keeps the hashes
of the captured bytes.

References: RFC 9110 (HTTP semantics: methods, status codes, Content-Encoding), RFC 9112
(HTTP/1.1 messages: §2.2 parsing, §6 body length, §7.1 chunked coding), RFC 1945 (HTTP/1.0,
§4.1 the HTTP/0.9 simple request), RFC 7617 (Basic), RFC 6266 and RFC 8187 (Content-
Disposition filename and filename*), RFC 1950-1952 (zlib, deflate, gzip); Zeek
base/protocols/http/main.zeek (http.log fields and pairing), src/analyzer/protocol/http/HTTP.cc
(body length after decoding, weird names), base/frameworks/files/main.zeek (files.log).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import re
import zlib
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import unquote

from parsers.network.mime import SNIFF_BYTES, sniff_mime

__all__ = [
    "KNOWN_METHODS",
    "MAX_HEADER",
    "MAX_PENDING",
    "RESYNC_LIMIT",
    "Body",
    "BodyInfo",
    "HttpConversation",
    "Transaction",
    "file_uid",
    "files_record",
    "http_record",
    "looks_like_http_request",
    "looks_like_http_response",
    "unescape_uri",
]

#: A header block (start line and header lines) longer than this is not believed: the
#: direction is declared broken rather than buffered further.
MAX_HEADER = 64 * 1024
#: Requests waiting for their response; past this the oldest is given up (Zeek's
#: ``HTTP::max_pending_requests``), so a one-sided capture cannot grow memory.
MAX_PENDING = 100
#: Bytes scanned for a request or status line after losing sync before giving up a direction.
RESYNC_LIMIT = 8 << 20
_MAX_LINE = 4096  # a chunk-size line, or a line scanned while resynchronising
_DECODE_STEP = 64 * 1024  # decompressed bytes produced per zlib call
_HOLD_MAX = 64 * 1024  # compressed bytes kept until decoding is seen to work (to fall back)
_ZEROS = bytes(64 * 1024)
_MAX_ZERO_FILL = 64 << 20  # a larger gap stops carving rather than writing that many zeros

#: Zeek's ``HTTP::http_methods`` plus PATCH, the rest of WebDAV (RFC 4918, 3253, 3744, 5842,
#: 4791), and Microsoft's SCCM (CCM_POST) and RPC over HTTP methods.
KNOWN_METHODS = frozenset(
    {"GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE", "CONNECT", "PATCH", "PROPFIND",
     "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "POLL", "REPORT", "SUBSCRIBE",
     "UNSUBSCRIBE", "NOTIFY", "BMOVE", "BCOPY", "BDELETE", "BPROPFIND", "BPROPPATCH", "SEARCH",
     "MKACTIVITY", "CHECKOUT", "CHECKIN", "UNCHECKOUT", "MERGE", "VERSION-CONTROL", "LABEL",
     "UPDATE", "MKWORKSPACE", "BASELINE-CONTROL", "ACL", "BIND", "UNBIND", "REBIND", "ORDERPATCH",
     "MKCALENDAR", "CCM_POST", "RPC_CONNECT", "RPC_IN_DATA", "RPC_OUT_DATA"}
)  # fmt: skip
_KNOWN_METHOD_BYTES = frozenset(m.encode() for m in KNOWN_METHODS)
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 §5.6.2 tchar
_STRICT_METHOD = re.compile(rb"[A-Z][A-Z0-9_-]{0,31}")
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x0c\x0e-\x1f\x7f]")
_WITH_VERSION = re.compile(rb"(.*?)[ \t]+HTTP/(\S*)", re.DOTALL)
_STATUS = re.compile(rb"HTTP/(\S+?)[ \t]+(\d{3})(?![0-9])[ \t]*(.*)", re.DOTALL)
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
_TEXT_ESCAPE = re.compile(r"[\x00-\x1f\x7f]")
_PERCENT = re.compile(rb"%([0-9A-Fa-f]{2})")
_DISPOSITION = re.compile(r"""(?:^|;)\s*(filename\*?)\s*=\s*("(?:[^"\\]|\\.)*"?|[^;]*)""", re.IGNORECASE)
_PROXY_HEADERS = frozenset(
    {b"forwarded", b"x-forwarded-for", b"x-forwarded-from", b"client-ip", b"via", b"xroxy-connection",
     b"proxy-connection"}
)  # fmt: skip
_DECODABLE = frozenset({"gzip", "x-gzip", "deflate"})
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# Direction states; body framing modes; chunked-coding states; transaction response states.
_START, _BODY, _RESYNC, _DEAD = range(4)
_LENGTH, _CHUNKED, _CLOSE = range(3)
_SIZE, _DATA, _DATA_CR, _DATA_LF, _TRAILER = range(5)
_NO_RESPONSE, _RESPONDING, _ANSWERED = range(3)


# -- start lines --------------------------------------------------------------------------------


def looks_like_http_request(first_bytes: bytes) -> bool:
    """Whether a connection whose originator sent ``first_bytes`` first speaks HTTP/1.x: a
    request line (``METHOD target HTTP/1.x``, a known method or an all-caps token; or an
    HTTP/0.9 ``GET /path``). An incomplete first line counts when it starts with a known
    method and a space."""
    data = bytes(first_bytes[:MAX_HEADER]).lstrip(b"\r\n")
    end = data.find(b"\n")
    if end >= 0:
        return _request_line(data[:end].rstrip(b"\r"), strict=True) is not None
    method = _STRICT_METHOD.match(data)
    return (
        method is not None
        and data[: method.end()] in _KNOWN_METHOD_BYTES
        and data[method.end() : method.end() + 1] == b" "
        and _CONTROL.search(data) is None
    )


def looks_like_http_response(first_bytes: bytes) -> bool:
    """Whether ``first_bytes`` start with an HTTP/1.x status line (``HTTP/1.1 200``...)."""
    data = bytes(first_bytes[:MAX_HEADER]).lstrip(b"\r\n")
    end = data.find(b"\n")
    line = data[:end].rstrip(b"\r") if end >= 0 else data
    return _status_line(line, strict=True) is not None


def _request_line(line: bytes, strict: bool) -> tuple[bytes, bytes, str] | None:
    """(method, target, version) of a request line, or None; the target is empty when missing
    (``OPTIONS HTTP/1.1``), the version is 0.9 when there is none. ``strict`` is for deciding
    that a connection is HTTP at all: an upper-case method, and either a known method or
    HTTP/1.x."""
    method = (_STRICT_METHOD if strict else _TOKEN).match(line)
    if method is None or line[method.end() : method.end() + 1] not in (b" ", b"\t"):
        return None
    rest = line[method.end() :].strip(b" \t")
    if not rest or _CONTROL.search(rest):
        return None
    trusted = not strict or method.group() in _KNOWN_METHOD_BYTES
    if rest.startswith(b"HTTP/") and b" " not in rest and b"\t" not in rest:
        target, version = b"", rest[5:].decode("ascii", "replace")  # no target (Zeek: missing_HTTP_uri)
    elif versioned := _WITH_VERSION.fullmatch(rest):
        target, version = versioned.group(1).strip(b" \t"), versioned.group(2).decode("ascii", "replace")
    elif b" " in rest or b"\t" in rest:
        return None
    else:
        target, version = rest, "0.9"  # RFC 1945 §4.1: the HTTP/0.9 simple request
    if not trusted and re.fullmatch(r"1\.\d", version) is None:
        return None
    return method.group(), target, version


def _status_line(line: bytes, strict: bool) -> tuple[str, int, str | None] | None:
    """(version, code, reason) of a status line, or None; ``strict`` wants HTTP/1.x."""
    status = _STATUS.match(line)
    if status is None or _CONTROL.search(line):
        return None
    version = status.group(1).decode("ascii", "replace")
    if strict and re.fullmatch(r"1\.\d", version) is None:
        return None
    reason = status.group(3).strip(b" \t")
    return version, int(status.group(2)), _text(reason) if reason else None


def _could_start(buf: bytes | bytearray, is_orig: bool, strict: bool) -> bool:
    """Whether an incomplete first line may still become a request (``is_orig``) or status line."""
    if _CONTROL.search(buf):
        return False
    if not is_orig:
        return bytes(buf[:5]) == b"HTTP/"[: min(len(buf), 5)]
    method = (_STRICT_METHOD if strict else _TOKEN).match(buf)
    return method is not None and (method.end() == len(buf) or buf[method.end()] in b" \t")


def _start_line(line: bytes, is_orig: bool, strict: bool) -> tuple | None:
    return _request_line(line, strict) if is_orig else _status_line(line, strict)


# -- small text helpers ---------------------------------------------------------------------------


def _text(raw: bytes) -> str:
    """Bytes as log text, as Zeek writes them: UTF-8, other bytes and controls as ``\\xNN``."""
    text = raw.decode("utf-8", "backslashreplace")
    return _TEXT_ESCAPE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def unescape_uri(raw: bytes | str) -> str:
    """A request target with its ``%XX`` escapes decoded, as Zeek logs ``uri`` (its
    ``unescaped_URI``); a ``%`` not followed by two hex digits stays as it is."""
    data = raw.encode("utf-8", "backslashreplace") if isinstance(raw, str) else bytes(raw)
    return _text(_PERCENT.sub(lambda m: bytes([int(m.group(1), 16)]), data))


def _filename(disposition: str) -> str | None:
    """The file name in a Content-Disposition value: ``filename*`` (RFC 8187) first, else
    ``filename`` (quoted or not)."""
    found: dict[str, str] = {}
    for match in _DISPOSITION.finditer(disposition):
        value = match.group(2).strip()
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:].removesuffix('"'))
        found.setdefault(match.group(1).lower(), value)
    extended = found.get("filename*")
    if extended and extended.count("'") >= 2:
        charset, _, rest = extended.partition("'")
        encoded = rest.partition("'")[2]
        try:
            name = unquote(encoded, encoding=charset or "utf-8", errors="replace")
        except LookupError:
            name = unquote(encoded, errors="replace")
        if name:
            return name
    return found.get("filename") or None


def file_uid(uid: str, is_orig: bool, trans_depth: int) -> str:
    """A Zeek-style file id (``F`` + 17 base62 characters) for the body of one message: derived
    from the connection uid, the direction and the transaction depth, so it is the same each
    time the same capture is read."""
    key = f"{uid}|{'orig' if is_orig else 'resp'}|{trans_depth}".encode()
    value = int.from_bytes(hashlib.blake2b(key, digest_size=13).digest(), "big")
    out = []
    for _ in range(17):
        value, digit = divmod(value, 62)
        out.append(_ALPHABET[digit])
    return "F" + "".join(out)


# -- bodies -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BodyInfo:
    """What is known of a body when it starts, for the caller's ``open_body`` to name a file."""

    is_orig: bool
    trans_depth: int
    method: str | None
    uri: str | None
    host: str | None
    content_type: str | None
    filename: str | None
    content_encoding: str | None
    content_length: int | None


class Body:
    """One message body (a Zeek "file"), taken in as it streams: its decoded bytes are hashed,
    their first KiB kept for MIME sniffing, and written to ``writer`` when there is one (closed
    at the end). Holds no more than a KiB of the body, plus zlib's window when decoding."""

    __slots__ = (
        "_head", "_hold", "_md5", "_mime", "_mode", "_output", "_sha1", "_sha256", "_weirds", "_writer",
        "_z", "complete", "encoding", "extracted", "first_ts_ns", "info", "last_ts_ns", "missing_bytes",
        "notes", "size", "total_bytes", "undecoded_bytes",
    )  # fmt: skip

    def __init__(
        self,
        info: BodyInfo,
        ts_ns: int,
        writer: BinaryIO | None = None,
        weirds: Counter[str] | None = None,
    ) -> None:
        self.info = info
        self.encoding = info.content_encoding
        #: The declared size (Content-Length) when the body is not content-encoded, as Zeek.
        self.total_bytes = info.content_length if self.encoding in (None, "identity") else None
        self.size = 0  # decoded bytes taken in (hashed, sniffed, written): Zeek's seen_bytes
        self.missing_bytes = 0  # bytes never captured (gaps)
        self.undecoded_bytes = 0  # encoded bytes that could not be decoded (after a failure or gap)
        self.first_ts_ns = self.last_ts_ns = ts_ns
        self.notes: list[str] = []  # for the transaction's tags
        self.complete = False  # read to its end, nothing missing
        self.extracted = _writer_name(writer)
        self._writer = writer
        self._weirds = weirds if weirds is not None else Counter()
        self._md5, self._sha1, self._sha256 = hashlib.md5(), hashlib.sha1(), hashlib.sha256()
        self._head = bytearray()
        self._mime: str | None = None
        self._z: Any = None
        self._hold: bytearray | None = bytearray()
        self._output = False
        if self.encoding in _DECODABLE:
            self._mode = "inflate"
        else:
            self._mode = "identity"
            if self.encoding not in (None, "identity"):
                self._note("content-encoding-not-decoded", "HTTP_unsupported_content_encoding")

    # hashes and sizes of what was taken in (the captured bytes, after decoding)
    @property
    def md5(self) -> str:
        return self._md5.hexdigest()

    @property
    def sha1(self) -> str:
        return self._sha1.hexdigest()

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    @property
    def head(self) -> bytes:
        """The first bytes of the decoded body (up to ``SNIFF_BYTES``)."""
        return bytes(self._head)

    @property
    def mime_type(self) -> str | None:
        """The sniffed MIME type of the decoded body (Zeek's files.log ``mime_type``)."""
        return self._mime if self._mode == "done" else sniff_mime(self._head)

    @property
    def length(self) -> int:
        """Zeek's body length (http.log ``request_body_len``/``response_body_len``): the
        decoded size, counting bytes lost in gaps."""
        return self.size + self.missing_bytes

    def feed(self, data: bytes, ts_ns: int) -> None:
        """The next bytes of the body as sent (transfer coding already removed)."""
        if not data or self._mode == "done":
            return
        self.last_ts_ns = max(self.last_ts_ns, ts_ns)
        if self._mode == "identity":
            self._take(data)
        elif self._mode == "inflate":
            self._inflate(data)
        else:  # "lost": decoding is no longer possible
            self.undecoded_bytes += len(data)

    def gap(self, size: int) -> None:
        """``size`` bytes of the body were not captured: counted; a carved file gets zeros in
        their place (offsets stay right); an encoded body cannot be decoded past it."""
        if size <= 0 or self._mode == "done":
            return
        self.missing_bytes += size
        if self._mode == "inflate":
            self._mode = "lost"
            self._note("content-decoding-stopped-at-gap", "HTTP_gap_in_encoded_body")
        elif self._mode == "identity" and self._writer is not None:
            if size > _MAX_ZERO_FILL:
                self._note("carving-stopped-at-gap", "HTTP_carving_stopped_at_gap")
                self._drop_writer()
            left = size
            while left and self._writer is not None:
                self._write(_ZEROS[: min(left, len(_ZEROS))])
                left -= min(left, len(_ZEROS))

    def finish(self, interrupted: bool = False) -> None:
        """The body ended (``interrupted``: cut short, by a gap or the end of the connection)."""
        if self._mode == "done":
            return
        if self._mode == "inflate":
            self._finish_inflate(interrupted)
        self.complete = not interrupted and not self.missing_bytes and not self.undecoded_bytes
        self._mime = sniff_mime(self._head)
        self._mode = "done"
        self._hold = None
        self._z = None
        if self._writer is not None:
            writer, self._writer = self._writer, None
            try:
                writer.close()
            except (OSError, ValueError):
                self._weirds["HTTP_body_write_failed"] += 1
                self.extracted = None
            else:
                self.extracted = _writer_name(writer) or self.extracted  # some name themselves at close

    # -- internals

    def _take(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.size += len(chunk)
        if len(self._head) < SNIFF_BYTES:
            self._head += chunk[: SNIFF_BYTES - len(self._head)]
        self._md5.update(chunk)
        self._sha1.update(chunk)
        self._sha256.update(chunk)
        if self._writer is not None:
            self._write(chunk)

    def _write(self, chunk: bytes) -> None:
        try:
            self._writer.write(chunk)  # type: ignore[union-attr]
        except (OSError, ValueError):
            self._weirds["HTTP_body_write_failed"] += 1
            self._drop_writer()

    def _drop_writer(self) -> None:
        """Stop carving: the file is closed and not named as this body's extraction."""
        writer, self._writer, self.extracted = self._writer, None, None
        with contextlib.suppress(OSError, ValueError):
            writer.close()  # type: ignore[union-attr]

    def _note(self, note: str, weird: str) -> None:
        if note not in self.notes:
            self.notes.append(note)
        self._weirds[weird] += 1

    def _inflate(self, data: bytes) -> None:
        if self._z is None:
            data = bytes(self._hold or b"") + data
            if self.encoding == "deflate":
                if len(data) < 2:
                    self._hold = bytearray(data)
                    return
                # RFC 9110 says zlib (RFC 1950); some servers send raw deflate (RFC 1951).
                wbits = 15 if (data[0] & 0x0F) == 8 and (data[0] << 8 | data[1]) % 31 == 0 else -15
            else:
                wbits = 47  # gzip, or zlib (auto-detected): some servers mislabel
            self._z = zlib.decompressobj(wbits)
            self._hold = bytearray(data) if len(data) <= _HOLD_MAX else None
        elif self._hold is not None and not self._output:
            self._hold += data
            if len(self._hold) > _HOLD_MAX:
                self._hold = None  # too much to fall back to: decoding has to work now
        try:
            self._decompress(data)
        except zlib.error:
            self._decoding_failed()

    def _decompress(self, data: bytes) -> None:
        z = self._z
        if z.eof:
            if data[:2] == b"\x1f\x8b":  # another gzip member (RFC 1952 §2.2)
                self._z = z = zlib.decompressobj(47)
            else:
                self.undecoded_bytes += len(data)
                return
        self._emit(z.decompress(data, _DECODE_STEP))
        while z.unconsumed_tail:
            self._emit(z.decompress(z.unconsumed_tail, _DECODE_STEP))
        if z.eof and z.unused_data:
            self._decompress(z.unused_data)

    def _emit(self, chunk: bytes) -> None:
        if chunk:
            self._output = True
            self._hold = None
            self._take(chunk)

    def _decoding_failed(self) -> None:
        if not self._output and self._hold is not None:
            raw = bytes(self._hold)  # nothing decoded yet: the body is taken as sent
            self._mode = "identity"
            self._hold = None
            self._z = None
            self._note("content-encoding-not-decoded", "HTTP_content_decoding_failed")
            self._take(raw)
        else:
            self._mode = "lost"
            self._note("content-decoding-failed", "HTTP_content_decoding_failed")

    def _finish_inflate(self, interrupted: bool) -> None:
        if self._z is not None:
            try:
                self._emit(self._z.flush())
            except zlib.error:
                self._decoding_failed()
                return
            if self._z.eof:
                return
        if not self._output and self._hold:
            self._decoding_failed()  # nothing came out of it: keep what was sent
        elif self._output and not interrupted:
            self._note("encoded-body-truncated", "HTTP_encoded_body_truncated")


def _writer_name(writer: BinaryIO | None) -> str | None:
    name = getattr(writer, "name", None)
    return os.path.basename(name) if isinstance(name, str) and name else None


# -- transactions -------------------------------------------------------------------------------


@dataclass(slots=True)
class Transaction:
    """One request and its response (either may be missing): one Zeek http.log row."""

    ts_ns: int  # the request's first byte (the response's, when no request was seen)
    packet: int  # the packet number of that byte
    trans_depth: int  # 1-based order in the connection
    method: str | None = None
    uri: str | None = None  # the request target as sent
    unescaped_uri: str | None = None  # %XX decoded: what Zeek logs as ``uri``
    version: str | None = None  # the request's HTTP version
    host: str | None = None
    user_agent: str | None = None
    referrer: str | None = None
    origin: str | None = None
    request_content_type: str | None = None
    request_content_length: int | None = None
    cookie: bool = False  # a Cookie header was sent (its value is not kept)
    auth_scheme: str | None = None  # Authorization / Proxy-Authorization scheme (Basic, Bearer, NTLM...)
    username: str | None = None  # Basic authorization's user name (the password is never kept)
    proxied: list[str] = field(default_factory=list)  # Zeek's ``proxied``: "NAME -> value"
    range_request: bool = False
    response_ts_ns: int | None = None
    response_packet: int | None = None
    status_code: int | None = None
    status_msg: str | None = None
    response_version: str | None = None  # Zeek's ``version`` is the reply's
    response_content_type: str | None = None
    response_content_length: int | None = None
    location: str | None = None
    server: str | None = None
    info_code: int | None = None  # the last 1xx interim response
    info_msg: str | None = None
    orig_body: Body | None = None
    resp_body: Body | None = None
    request_complete: bool = False  # the request was read to its end
    response_complete: bool = False  # the response was read to its end
    tags: set[str] = field(default_factory=set)
    _request_open: bool = field(default=False, repr=False, compare=False)
    _response: int = field(default=_NO_RESPONSE, repr=False, compare=False)

    @property
    def request_body_len(self) -> int:
        return self.orig_body.length if self.orig_body is not None else 0

    @property
    def response_body_len(self) -> int:
        return self.resp_body.length if self.resp_body is not None else 0

    @property
    def bodies(self) -> list[Body]:
        """The bodies that carried bytes (an empty body is no file, as in Zeek's files.log)."""
        return [b for b in (self.orig_body, self.resp_body) if b is not None and b.length]

    def record(
        self, uid: str, orig: tuple[str, int] | None = None, resp: tuple[str, int] | None = None
    ) -> dict[str, Any]:
        """The Zeek http.log record (see :func:`http_record`)."""
        return http_record(self, uid, orig, resp)


def _endpoints(orig: tuple[str, int] | None, resp: tuple[str, int] | None) -> dict[str, Any]:
    ids: dict[str, Any] = {}
    if orig is not None:
        ids["id.orig_h"], ids["id.orig_p"] = orig
    if resp is not None:
        ids["id.resp_h"], ids["id.resp_p"] = resp
    return ids


def http_record(
    tx: Transaction, uid: str, orig: tuple[str, int] | None = None, resp: tuple[str, int] | None = None
) -> dict[str, Any]:
    """A transaction as a Zeek http.log record (``ts`` in integer nanoseconds); ``orig`` and
    ``resp`` are the connection's (address, port) endpoints, ``uid`` its id (file ids derive
    from it)."""
    orig_body, resp_body = (b if b is not None and b.length else None for b in (tx.orig_body, tx.resp_body))
    return {
        "ts": tx.ts_ns, "uid": uid, **_endpoints(orig, resp), "trans_depth": tx.trans_depth,
        "method": tx.method, "host": tx.host, "uri": tx.unescaped_uri, "referrer": tx.referrer,
        "version": tx.response_version, "user_agent": tx.user_agent, "origin": tx.origin,
        "request_body_len": tx.request_body_len, "response_body_len": tx.response_body_len,
        "status_code": tx.status_code, "status_msg": tx.status_msg, "info_code": tx.info_code,
        "info_msg": tx.info_msg, "tags": sorted(tx.tags) or None, "username": tx.username,
        "proxied": sorted(set(tx.proxied)) or None,
        "orig_fuids": [file_uid(uid, True, tx.trans_depth)] if orig_body else None,
        "orig_filenames": [orig_body.info.filename] if orig_body and orig_body.info.filename else None,
        "orig_mime_types": [orig_body.mime_type] if orig_body and orig_body.mime_type else None,
        "resp_fuids": [file_uid(uid, False, tx.trans_depth)] if resp_body else None,
        "resp_filenames": [resp_body.info.filename] if resp_body and resp_body.info.filename else None,
        "resp_mime_types": [resp_body.mime_type] if resp_body and resp_body.mime_type else None,
    }  # fmt: skip


def files_record(
    body: Body,
    uid: str,
    orig: tuple[str, int] | None = None,
    resp: tuple[str, int] | None = None,
    extracted: str | None = None,
    source: str = "HTTP",
) -> dict[str, Any]:
    """A body as a Zeek files.log record (Zeek 7 shape: ``uid`` and ``id.*`` of the connection).
    ``ts`` is the time of its first byte, ``duration`` to its last. Hashes are left out when
    bytes are missing, as Zeek does. ``extracted`` names the carved file (default: the name of
    the file ``open_body`` returned, when it has one)."""
    info, whole = body.info, not body.missing_bytes
    duration = (body.last_ts_ns - body.first_ts_ns) / 1e9
    return {
        "ts": body.first_ts_ns, "fuid": file_uid(uid, info.is_orig, info.trans_depth), "uid": uid,
        **_endpoints(orig, resp), "source": source, "mime_type": body.mime_type,
        "filename": info.filename, "duration": f"{duration:.6f}", "is_orig": info.is_orig,
        "seen_bytes": body.size, "total_bytes": body.total_bytes, "missing_bytes": body.missing_bytes,
        "md5": body.md5 if whole else None, "sha1": body.sha1 if whole else None,
        "sha256": body.sha256 if whole else None, "extracted": extracted or body.extracted,
    }  # fmt: skip


# -- the connection -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Entity:
    """The framing and description of a message body, from its headers."""

    content_type: str | None = None
    length: int | None = None
    chunked: bool = False
    encoding: str | None = None
    filename: str | None = None


class _Side:
    """Reading state of one direction."""

    __slots__ = (
        "body", "body_info", "buf", "checked", "chunk", "is_orig", "last_ts", "lbuf", "messages", "mode",
        "partial", "remaining", "resync_bytes", "scan", "start", "start_packet", "start_ts", "state",
        "trailer", "tx",
    )  # fmt: skip

    def __init__(self, is_orig: bool) -> None:
        self.is_orig = is_orig
        self.state = _START
        self.buf = bytearray()  # the header block being gathered
        self.scan = 0  # where to look for the end of the header block next
        self.checked = False  # the start line in ``buf`` was read
        self.start: tuple | None = None  # the parsed start line
        self.start_ts = 0
        self.start_packet = 0
        self.last_ts = 0  # the time of the latest bytes
        self.messages = 0
        self.tx: Transaction | None = None
        self.body: Body | None = None
        self.body_info: BodyInfo | None = None
        self.mode = _LENGTH
        self.remaining = 0
        self.chunk = _SIZE
        self.lbuf = bytearray()  # a chunk-size or trailer line being gathered
        self.trailer = 0
        self.partial = bytearray()  # a line being gathered while resynchronising
        self.resync_bytes = 0


class HttpConversation:
    """HTTP/1.x of one TCP connection: feed each direction's in-order bytes, get transactions.

    ``open_body`` is called when a body starts, with what is known of it; it returns a binary
    file to write the decoded body into (the conversation closes it at the body's end) or None.
    Transactions come back from :meth:`data` once both their request and response are read,
    in connection order, and the rest from :meth:`end`.

    The first bytes decide whether the connection is HTTP at all (:meth:`wants_more`), unless
    ``expect_http`` (the caller trusts the port): then bytes that do not start a message are
    skipped up to the next request or status line, as a capture that began in the middle of a
    body needs. And when the flow's originator turns out to be the server (its first message is
    a response: the capture missed the handshake and the server spoke first), the roles are
    swapped and :attr:`flipped` is set: requests are then read from the flow's responder.
    """

    def __init__(
        self, open_body: Callable[[BodyInfo], BinaryIO | None] | None = None, expect_http: bool = False
    ) -> None:
        self.weirds: Counter[str] = Counter()
        #: Once HTTP has handed the connection over: "CONNECT", or the Upgrade protocol of a
        #: 101 response ("websocket", "h2c"...; "upgrade" when none was named).
        self.tunnel: str | None = None
        self._open_body = open_body
        self._expect_http = expect_http
        # By direction of the flow; each knows its HTTP role (``is_orig``: the client's).
        self._sides = {True: _Side(True), False: _Side(False)}
        self._txs: deque[Transaction] = deque()  # not handed out yet, in order
        self._unanswered: deque[Transaction] = deque()
        self._depth = 0
        self._out: list[Transaction] = []
        self._first_side: _Side | None = None
        self._not_http = False
        self._ended = False

    @property
    def flipped(self) -> bool:
        """True when the flow's responder is the HTTP client (see the class notes): records
        should then name the flow's responder as ``orig``."""
        return not self._sides[True].is_orig

    # -- the interface

    def data(self, from_orig: bool, data: bytes, ts_ns: int, packet: int) -> list[Transaction]:
        """The next in-order bytes of one direction (sent in packet number ``packet`` at
        ``ts_ns``); returns the transactions completed by them."""
        side = self._sides[from_orig]
        if self._ended or not data or side.state == _DEAD:
            return []
        data = bytes(data)
        if self._first_side is None:
            self._first_side = side
        side.last_ts = ts_ns
        pos, size = 0, len(data)
        while pos < size and side.state != _DEAD:
            if side.state == _START:
                pos = self._start(side, data, pos, ts_ns, packet)
            elif side.state == _BODY:
                pos = self._body(side, data, pos, ts_ns)
            else:
                pos = self._resync(side, data, pos, ts_ns, packet)
        return self._take_out()

    def gap(self, from_orig: bool, size: int) -> None:
        """``size`` bytes of this direction (of the flow) were never captured (a hole)."""
        side = self._sides[from_orig]
        if self._ended or size <= 0 or side.state in (_DEAD, _RESYNC):
            return
        if side.state == _BODY:
            if side.mode == _CLOSE:
                self._body_gap(side, size)
                return
            if side.mode == _LENGTH or side.chunk == _DATA:
                within = min(size, side.remaining)
                self._body_gap(side, within)
                side.remaining -= within
                if side.remaining:
                    return
                if side.mode == _LENGTH:
                    self._finish(side)  # the body's end is known, even if the gap runs past it
                    if size == within:
                        return
                elif size == within:
                    side.chunk = _DATA_CR
                    return
        self._lose_sync(side)  # the next message's start is lost (a body being read is cut)

    def end(self, ts_ns: int) -> list[Transaction]:
        """The connection is over (at ``ts_ns``): bodies delimited by the close end here, those
        cut short are finished as such, and every transaction not handed out yet is returned,
        requests never answered included."""
        if self._ended:
            return []
        for side in self._sides.values():
            truncated = side.state == _START and side.checked and bool(side.buf)
            if truncated:
                self.weirds["HTTP_truncated_header"] += 1  # headers cut by the end: take them as they are
                self._headers(side, bytes(side.buf), side.start_ts, side.start_packet)
            if side.state == _BODY:
                self._finish(side, interrupted=truncated or side.mode != _CLOSE)
        self._ended = True
        self._out.extend(self._txs)
        self._txs.clear()
        self._unanswered.clear()
        return self._take_out()

    def wants_more(self) -> bool:
        """False once the connection is clearly not HTTP (or no longer is: a tunnel, an
        upgrade, or both directions broken): the caller can stop feeding it."""
        if self._ended or self._not_http or self.tunnel is not None:
            return False
        return not (self._sides[True].state == _DEAD and self._sides[False].state == _DEAD)

    # -- reading messages

    def _start(self, side: _Side, data: bytes, pos: int, ts_ns: int, packet: int) -> int:
        """Gather a start line and headers; returns the position after what was used."""
        size = len(data)
        if not side.buf:
            if not side.is_orig and self._http09_reply(side, data[pos : pos + 1], ts_ns, packet):
                return pos
            while pos < size and data[pos] in b"\r\n":
                pos += 1  # empty lines between messages
            if pos == size:
                return pos
            side.start_ts, side.start_packet = ts_ns, packet
        old = len(side.buf)
        chunk = data[pos : pos + MAX_HEADER - old]
        side.buf += chunk
        if not side.checked:
            line_end = side.buf.find(b"\n")
            verdict = self._check_start(side, line_end)
            if verdict is None:
                return pos + len(chunk) if len(side.buf) < MAX_HEADER else self._overflow(side, size)
            if verdict is False:
                self._bad_start(side)
                return pos + max(0, line_end + 1 - old) if line_end >= 0 else pos + len(chunk)
            if side.is_orig and side.start is not None and side.start[2] == "0.9":
                used = max(0, line_end + 1 - old)  # an HTTP/0.9 request is its request line alone
                self._headers(side, bytes(side.buf[: line_end + 1]), ts_ns, packet)
                return pos + used
        end, side.scan = _header_end(side.buf, side.scan)
        if end < 0:
            return pos + len(chunk) if len(side.buf) < MAX_HEADER else self._overflow(side, size)
        used = end - old
        self._headers(side, bytes(side.buf[:end]), ts_ns, packet)
        return pos + used

    def _check_start(self, side: _Side, line_end: int) -> bool | None:
        """Read the start line in ``side.buf``: True (kept in ``side.start``), False (not a
        start line) or None (not complete yet, and could still be one)."""
        strict = side.messages == 0 and side is self._first_side
        free = self._roles_free()
        if line_end < 0:
            possible = _could_start(side.buf, side.is_orig, strict)
            return None if possible or (free and _could_start(side.buf, not side.is_orig, True)) else False
        line = bytes(side.buf[:line_end]).rstrip(b"\r")
        start = _start_line(line, side.is_orig, strict)
        if start is None and free and (start := _start_line(line, not side.is_orig, True)) is not None:
            self._flip()
        if start is None:
            return False
        side.start, side.checked = start, True
        return True

    def _roles_free(self) -> bool:
        """Whether client and server may still be swapped: nothing read as a message yet."""
        return not self._depth and not any(s.messages or s.state == _BODY for s in self._sides.values())

    def _flip(self) -> None:
        for side in self._sides.values():
            side.is_orig = not side.is_orig

    def _bad_start(self, side: _Side) -> None:
        if side.messages == 0 and side is self._first_side and not self._expect_http:
            self._not_http = True  # the first thing said is not HTTP: stop here
            for each in self._sides.values():
                each.state = _DEAD
                each.buf.clear()
            return
        self.weirds["bad_HTTP_request" if side.is_orig else "bad_HTTP_reply"] += 1
        self._lose_sync(side)

    def _overflow(self, side: _Side, size: int) -> int:
        self.weirds["HTTP_header_too_long"] += 1
        if side.messages == 0 and side is self._first_side and not self._expect_http:
            self._not_http = True
        side.state = _DEAD
        side.buf.clear()
        return size

    def _headers(self, side: _Side, block: bytes, ts_ns: int, packet: int) -> None:
        """A whole header block (start line included) was read: act on it."""
        side.buf.clear()
        side.scan = 0
        side.checked = False
        start, side.start = side.start, None
        if start is None:
            return
        side.messages += 1
        headers = self._header_lines(block.split(b"\n")[1:])
        if side.is_orig:
            self._request(side, start, headers)
        else:
            self._response(side, start, headers)

    def _header_lines(self, lines: list[bytes]) -> list[tuple[bytes, bytes]]:
        headers: list[tuple[bytes, bytes]] = []
        for raw in lines:
            line = raw.rstrip(b"\r")
            if not line.strip():
                continue
            if line[:1] in (b" ", b"\t") and headers:  # obsolete line folding (RFC 9112 §5.2)
                name, value = headers[-1]
                headers[-1] = (name, value + b" " + line.strip(b" \t"))
                continue
            name, colon, value = line.partition(b":")
            name = name.strip(b" \t")
            if not colon or _TOKEN.fullmatch(name) is None:
                self.weirds["HTTP_bad_header_line"] += 1
                continue
            headers.append((name.lower(), value.strip(b" \t")))
        return headers

    def _entity(self, headers: list[tuple[bytes, bytes]]) -> _Entity:
        entity = _Entity()
        lengths: list[int] = []
        codings: list[str] = []
        for name, value in headers:
            if name == b"content-length":
                for part in value.split(b","):
                    part = part.strip()
                    if part.isdigit() and len(part) <= 18:
                        lengths.append(int(part))
                    else:
                        self.weirds["HTTP_bad_content_length"] += 1
            elif name == b"transfer-encoding":
                codings += [c.strip().lower() for c in _text(value).split(",") if c.strip()]
            elif name == b"content-encoding":
                encodings = [c.strip().lower() for c in _text(value).split(",") if c.strip()]
                encodings = [c for c in encodings if c != "identity"]
                entity.encoding = ",".join(encodings) or None
            elif name == b"content-type":
                entity.content_type = _text(value)
            elif name == b"content-disposition":
                entity.filename = _filename(_text(value))
        if lengths:
            entity.length = lengths[0]
            if len(set(lengths)) > 1:
                self.weirds["HTTP_multiple_content_length"] += 1
        entity.chunked = "chunked" in codings
        multipart = (entity.content_type or "").lower().startswith("multipart/")
        if entity.chunked and multipart:
            self.weirds["HTTP_chunked_transfer_for_multipart_message"] += 1
        return entity

    def _request(self, side: _Side, start: tuple[bytes, bytes, str], headers: list) -> None:
        method, target, version = start
        self._depth += 1
        tx = Transaction(
            side.start_ts, side.start_packet, self._depth, method=_text(method), uri=_text(target),
            unescaped_uri=unescape_uri(target), version=version,
        )  # fmt: skip
        if tx.method not in KNOWN_METHODS:
            self.weirds["unknown_HTTP_method"] += 1
        if not target:
            self.weirds["missing_HTTP_uri"] += 1
        if version != "0.9" and re.fullmatch(r"\d\.\d", version) is None:
            self.weirds["bad_HTTP_version"] += 1
        for name, value in headers:
            if name == b"host":
                tx.host = _text(value)
            elif name == b"user-agent":
                tx.user_agent = _text(value)
            elif name == b"referer":
                tx.referrer = _text(value)
            elif name == b"origin":
                tx.origin = _text(value)
            elif name == b"cookie":
                tx.cookie = True
            elif name == b"range":
                tx.range_request = True
            elif name in (b"authorization", b"proxy-authorization"):
                _authorization(tx, value)
            elif name in _PROXY_HEADERS:
                tx.proxied.append(f"{_text(name).upper()} -> {_text(value)}")
        entity = self._entity(headers)
        tx.request_content_type, tx.request_content_length = entity.content_type, entity.length
        tx._request_open = True
        self._txs.append(tx)
        self._unanswered.append(tx)
        if len(self._unanswered) > MAX_PENDING:
            self.weirds["HTTP_excessive_pipelining"] += 1
            self._unanswered.popleft()._response = _ANSWERED  # given up: logged without a response
        side.tx = tx
        # A request has a body only when it says so (RFC 9112 §6.3, 6-7).
        self._expect_body(side, tx, entity, entity.chunked or bool(entity.length))

    def _response(self, side: _Side, start: tuple[str, int, str | None], headers: list) -> None:
        version, code, reason = start
        interim = 100 <= code < 200 and code != 101
        if self._unanswered:
            tx = self._unanswered[0] if interim else self._unanswered.popleft()
        else:
            self.weirds["unmatched_HTTP_reply"] += 1  # no request seen: the capture began after it
            self._depth += 1
            tx = Transaction(side.start_ts, side.start_packet, self._depth)
            self._txs.append(tx)
            if interim:
                self._unanswered.append(tx)
        if interim:
            tx.info_code, tx.info_msg = code, reason
            return  # no body: the final response follows
        tx.status_code, tx.status_msg, tx.response_version = code, reason, version
        tx.response_ts_ns, tx.response_packet = side.start_ts, side.start_packet
        upgrade = None
        for name, value in headers:
            if name == b"location":
                tx.location = _text(value)
            elif name == b"server":
                tx.server = _text(value)
            elif name == b"upgrade":
                upgrade = _text(value).strip().lower() or None
        entity = self._entity(headers)
        tx.response_content_type, tx.response_content_length = entity.content_type, entity.length
        tx._response = _RESPONDING
        side.tx = tx
        if code == 101 or (tx.method == "CONNECT" and 200 <= code < 300):
            self.tunnel = "CONNECT" if code != 101 else upgrade or "upgrade"
            self._finish(side)
            for each in self._sides.values():
                each.state = _DEAD  # what follows is another protocol
            return
        self._expect_body(side, tx, entity, tx.method != "HEAD" and code not in (204, 304))

    def _http09_reply(self, side: _Side, first: bytes, ts_ns: int, packet: int) -> bool:
        """A response to an HTTP/0.9 request is the raw document up to the close."""
        if not self._unanswered or self._unanswered[0].version != "0.9" or first == b"H":
            return False
        tx = self._unanswered.popleft()
        tx.response_version, tx.response_ts_ns, tx.response_packet = "0.9", ts_ns, packet
        tx._response = _RESPONDING
        side.tx = tx
        self._expect_body(side, tx, _Entity(), True, close=True)
        return True

    def _expect_body(
        self, side: _Side, tx: Transaction, entity: _Entity, has_body: bool, close: bool = False
    ) -> None:
        """Set ``side`` up to read the body of the message just read, if it has one (``close``:
        a body delimited by the end of the connection whatever the headers say)."""
        if not has_body or (not close and not entity.chunked and entity.length == 0):
            self._finish(side)
            return
        side.body_info = BodyInfo(
            side.is_orig, tx.trans_depth, tx.method, tx.uri, tx.host, entity.content_type,
            entity.filename, entity.encoding, None if entity.chunked else entity.length,
        )  # fmt: skip
        side.state = _BODY
        side.body = None
        if entity.chunked and not close:
            side.mode, side.chunk, side.trailer = _CHUNKED, _SIZE, 0
        elif entity.length is not None and not close:
            side.mode, side.remaining = _LENGTH, entity.length
        else:
            side.mode = _CLOSE

    def _body(self, side: _Side, data: bytes, pos: int, ts_ns: int) -> int:
        size = len(data)
        if side.mode == _CLOSE:
            self._deliver(side, data[pos:], ts_ns)
            return size
        if side.mode == _LENGTH or side.chunk == _DATA:
            take = min(side.remaining, size - pos)
            self._deliver(side, data[pos : pos + take], ts_ns)
            side.remaining -= take
            if not side.remaining:
                if side.mode == _LENGTH:
                    self._finish(side)
                else:
                    side.chunk = _DATA_CR
            return pos + take
        if side.chunk == _DATA_CR:  # the CRLF closing a chunk's data
            side.chunk = _DATA_LF if data[pos] == 13 else _SIZE
            if data[pos] in b"\r\n":
                return pos + 1
            self.weirds["HTTP_chunk_missing_crlf"] += 1
            return pos
        if side.chunk == _DATA_LF:
            side.chunk = _SIZE
            return pos + 1 if data[pos] == 10 else pos
        line, pos = self._line(side, data, pos)
        if line is None:
            if len(side.lbuf) > _MAX_LINE:
                self.weirds["HTTP_bad_chunk_size" if side.chunk == _SIZE else "HTTP_trailer_too_long"] += 1
                self._finish(side, interrupted=side.chunk == _SIZE)
                self._lose_sync(side)
            return pos
        if side.chunk == _TRAILER:
            side.trailer += len(line) + 1
            if not line.strip():
                self._finish(side)
            elif side.trailer > MAX_HEADER:
                self.weirds["HTTP_trailer_too_long"] += 1
                self._finish(side)
                self._lose_sync(side)
            return pos
        digits = line.split(b";", 1)[0].strip(b" \t")  # chunk extensions are ignored
        if not digits:
            return pos  # a stray empty line
        if _HEX.fullmatch(digits) is None:
            self.weirds["HTTP_bad_chunk_size"] += 1
            self._finish(side, interrupted=True)
            self._lose_sync(side)
            return pos
        side.remaining = int(digits, 16)
        side.chunk = _DATA if side.remaining else _TRAILER
        return pos

    def _line(self, side: _Side, data: bytes, pos: int) -> tuple[bytes | None, int]:
        """A whole line (without its end) from ``side.lbuf`` and ``data``, or None when
        ``data`` ends first (what there is stays in ``side.lbuf``)."""
        end = data.find(b"\n", pos)
        if end < 0:
            side.lbuf += data[pos : pos + _MAX_LINE + 1]
            return None, len(data)
        line = bytes(side.lbuf) + data[pos:end] if side.lbuf else data[pos:end]
        side.lbuf.clear()
        return line.rstrip(b"\r"), end + 1

    def _deliver(self, side: _Side, chunk: bytes, ts_ns: int) -> None:
        if chunk:
            self._body_object(side, ts_ns).feed(chunk, ts_ns)

    def _body_gap(self, side: _Side, size: int) -> None:
        if size > 0:
            self._body_object(side, side.last_ts).gap(size)

    def _body_object(self, side: _Side, ts_ns: int) -> Body:
        """The body of the message being read, made when its first byte (or gap) comes."""
        if side.body is None:
            info = side.body_info
            assert info is not None and side.tx is not None
            writer = self._open_body(info) if self._open_body is not None else None
            side.body = Body(info, ts_ns, writer, self.weirds)
            if side.is_orig:
                side.tx.orig_body = side.body
            else:
                side.tx.resp_body = side.body
        return side.body

    def _finish(self, side: _Side, interrupted: bool = False) -> None:
        """The message being read is over: finish its body and its half of the transaction."""
        tx, body = side.tx, side.body
        if body is not None:
            body.finish(interrupted)
            if tx is not None:
                tx.tags.update(body.notes)
        if tx is not None:
            if side.is_orig:
                tx._request_open, tx.request_complete = False, not interrupted
            else:
                tx._response, tx.response_complete = _ANSWERED, not interrupted
        side.tx = side.body = side.body_info = None
        side.lbuf.clear()
        side.remaining = 0
        if side.state == _BODY:
            side.state = _START
        self._drain()

    def _drain(self) -> None:
        """Hand out, in order, the transactions whose request and response are both over."""
        txs = self._txs
        while txs and not txs[0]._request_open and txs[0]._response == _ANSWERED:
            self._out.append(txs.popleft())

    def _take_out(self) -> list[Transaction]:
        out, self._out = self._out, []
        return out

    # -- losing and finding message boundaries

    def _lose_sync(self, side: _Side) -> None:
        if side.state == _BODY:
            self._finish(side, interrupted=True)
        side.state = _RESYNC
        side.buf.clear()
        side.scan = 0
        side.checked = False
        side.start = None
        side.partial.clear()
        side.resync_bytes = 0

    def _resync(self, side: _Side, data: bytes, pos: int, ts_ns: int, packet: int) -> int:
        """Skip to the next line that looks like a request (status) line and read on from it."""
        end = data.find(b"\n", pos)
        side.resync_bytes += (end + 1 if end >= 0 else len(data)) - pos
        if end < 0:
            if len(side.partial) <= _MAX_LINE:
                side.partial += data[pos : pos + _MAX_LINE + 1]
            pos = len(data)
        else:
            line = (bytes(side.partial) + data[pos:end]).rstrip(b"\r")
            overlong = len(side.partial) > _MAX_LINE
            side.partial.clear()
            pos = end + 1
            known = _start_line(line, side.is_orig, True) is not None
            if not known and self._roles_free() and _start_line(line, not side.is_orig, True):
                self._flip()
                known = True
            if known and not overlong:
                self.weirds["HTTP_resynchronised"] += 1
                side.state = _START
                side.buf += line + b"\n"
                side.start_ts, side.start_packet = ts_ns, packet
                return pos
        if side.resync_bytes > RESYNC_LIMIT:
            self.weirds["HTTP_resync_failed"] += 1
            side.state = _DEAD
            side.partial.clear()
        return pos


def _header_end(buf: bytearray, start: int) -> tuple[int, int]:
    """(the end of the header block in ``buf`` (after its empty line), or -1; where to look
    from next time). Lines may end in CRLF or LF alone."""
    i = buf.find(b"\n", start)
    while i >= 0:
        following = buf[i + 1 : i + 3]
        if not following or following == b"\r":
            return -1, i  # not known yet
        if following[0] == 10:
            return i + 2, 0
        if following == b"\r\n":
            return i + 3, 0
        i = buf.find(b"\n", i + 1)
    return -1, len(buf)


def _authorization(tx: Transaction, value: bytes) -> None:
    """The scheme of an Authorization header, and Basic's user name (RFC 7617)."""
    scheme, _, credentials = value.strip().partition(b" ")
    tx.auth_scheme = _text(scheme)
    if scheme.lower() != b"basic":
        return
    token = credentials.strip(b" \t")
    try:
        decoded = base64.b64decode(token + b"=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        decoded = b""
    user, colon, _password = decoded.partition(b":")
    tx.username = _text(user) if colon else "<problem-decoding>"
