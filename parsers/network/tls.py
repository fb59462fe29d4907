"""TLS ClientHello / ServerHello from the first bytes of a TCP stream, and their fingerprints.

A TLS session says, in clear, who is talking before encryption starts: the ClientHello carries
the server name (SNI), the application protocols offered (ALPN) and a list of ciphers,
extensions and groups characteristic of the client's TLS library, which JA3 and JA4 condense
into fingerprints that threat intelligence shares (a malware family's JA3, a tool's JA4). The
ServerHello gives the chosen version and cipher, and JA3S.

Input is the payload of one direction of a TCP connection from its first byte (the segments
concatenated in sequence order): a stream of TLS records (RFC 8446 §5.1) whose first handshake
message may span several records. :func:`handshake_missing_bytes` tells a flow builder how
many more bytes it needs. QUIC carries the ClientHello without the record layer; pass the
handshake message itself to :func:`parse_client_hello_message`. Functions never raise on bad
input: they return ``None`` for anything that is not a complete hello.

Specifications: RFC 8446 (TLS 1.3) §4.1.2-4.1.3 and §4.2 (extensions), RFC 5246 (TLS 1.2)
§7.4.1, RFC 6066 §3 (server_name), RFC 7301 (ALPN), RFC 8422 §5.1 (supported groups and point
formats), RFC 8701 (GREASE: 0x?A?A values); JA3/JA3S: github.com/salesforce/ja3 README; JA4:
github.com/FoxIO-LLC/ja4, technical_details/JA4.md.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_HELLO",
    "ClientHello",
    "ServerHello",
    "handshake_missing_bytes",
    "is_grease",
    "ja3",
    "ja3_string",
    "ja3s",
    "ja3s_string",
    "ja4",
    "ja4_raw",
    "parse_client_hello",
    "parse_client_hello_message",
    "parse_server_hello",
    "parse_server_hello_message",
    "version_name",
]

CONTENT_HANDSHAKE = 22
HANDSHAKE_CLIENT_HELLO = 1
HANDSHAKE_SERVER_HELLO = 2

EXT_SERVER_NAME = 0x0000
EXT_SUPPORTED_GROUPS = 0x000A
EXT_EC_POINT_FORMATS = 0x000B
EXT_SIGNATURE_ALGORITHMS = 0x000D
EXT_ALPN = 0x0010
EXT_SUPPORTED_VERSIONS = 0x002B

#: TLSPlaintext.length may not exceed 2^14 (RFC 8446 §5.1); some stacks overshoot a little.
_MAX_RECORD = (1 << 14) + 2048
#: Larger hellos are not believed (cipher and extension lists are each below 64 KiB), so a
#: flow builder never buffers more than this for a garbage length field.
MAX_HELLO = 1 << 17
#: ServerHello.random of a HelloRetryRequest: SHA-256("HelloRetryRequest") (RFC 8446 §4.1.3).
_HELLO_RETRY_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")

_JA4_VERSIONS = {
    0x0304: "13",
    0x0303: "12",
    0x0302: "11",
    0x0301: "10",
    0x0300: "s3",
    0x0002: "s2",
    0xFEFF: "d1",
    0xFEFD: "d2",
    0xFEFC: "d3",
}
_EMPTY_HASH = "000000000000"

# Zeek's names (ssl.log ``version``), so capture-derived rows read like Zeek's.
_VERSION_NAMES = {
    0x0002: "SSLv2",
    0x0300: "SSLv3",
    0x0301: "TLSv10",
    0x0302: "TLSv11",
    0x0303: "TLSv12",
    0x0304: "TLSv13",
    0xFEFF: "DTLSv10",
    0xFEFD: "DTLSv12",
    0xFEFC: "DTLSv13",
}


def version_name(version: int) -> str:
    """Zeek's ssl.log name of a protocol version: 0x0303 -> "TLSv12"; others "unknown-<n>"."""
    return _VERSION_NAMES.get(version, f"unknown-{version}")


def is_grease(value: int) -> bool:
    """True for the RFC 8701 GREASE code points 0x0A0A, 0x1A1A ... 0xFAFA."""
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


@dataclass(frozen=True, slots=True)
class ClientHello:
    """The fields of a ClientHello that identify the client; lists keep wire order and GREASE.

    ``record_version`` is the version of the first TLS record (None when the message was
    given without the record layer); ``legacy_version`` the ClientHello's own version field;
    ``supported_versions`` the list of the supported_versions extension (TLS 1.3 clients).
    ``alpn_protocols`` are the raw ALPN protocol names; ``alpn`` their text.
    """

    record_version: int | None
    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suites: tuple[int, ...]
    compression_methods: tuple[int, ...]
    extensions: tuple[int, ...]
    server_name: str | None
    alpn_protocols: tuple[bytes, ...]
    supported_groups: tuple[int, ...]
    ec_point_formats: tuple[int, ...]
    signature_algorithms: tuple[int, ...]
    supported_versions: tuple[int, ...]

    @property
    def version(self) -> int:
        """The highest version offered: from supported_versions when present, else legacy."""
        return _highest_version(self.supported_versions, self.legacy_version)

    @property
    def alpn(self) -> tuple[str, ...]:
        return tuple(_text(p) for p in self.alpn_protocols)


@dataclass(frozen=True, slots=True)
class ServerHello:
    """The fields of a ServerHello; ``selected_version`` comes from supported_versions (TLS 1.3)."""

    record_version: int | None
    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suite: int
    compression_method: int
    extensions: tuple[int, ...]
    selected_version: int | None
    alpn_protocol: bytes | None

    @property
    def version(self) -> int:
        """The negotiated version: supported_versions' choice when present, else legacy."""
        return self.selected_version if self.selected_version is not None else self.legacy_version

    @property
    def alpn(self) -> str | None:
        return None if self.alpn_protocol is None else _text(self.alpn_protocol)

    @property
    def is_hello_retry_request(self) -> bool:
        """A TLS 1.3 HelloRetryRequest looks like a ServerHello with a fixed random."""
        return self.random == _HELLO_RETRY_RANDOM


# --- reading -------------------------------------------------------------------------------


class _Short(Exception):
    """The buffer ended inside a field."""


class _Reader:
    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def remaining(self) -> int:
        return len(self.buf) - self.pos

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.buf):
            raise _Short
        out = self.buf[self.pos : end]
        self.pos = end
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def vec8(self) -> bytes:
        return self.take(self.u8())

    def vec16(self) -> bytes:
        return self.take(self.u16())


def _u16_list(data: bytes) -> tuple[int, ...]:
    """Big-endian 16-bit values; an odd trailing byte is dropped."""
    return struct.unpack(f">{len(data) // 2}H", data[: len(data) // 2 * 2])


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="backslashreplace")


def _highest_version(offered: tuple[int, ...], fallback: int) -> int:
    real = [v for v in offered if not is_grease(v)]
    if not real:
        return fallback
    if all(v >= 0xFE00 for v in real):  # DTLS counts down: 0xfefc (1.3) < 0xfefd (1.2)
        return min(real)
    return max(real)


def _first_handshake(data: bytes, wanted: int) -> tuple[bytes, int] | int | None:
    """Reassemble the first handshake message from a record stream.

    Returns (message body, first record's version) when complete, the number of bytes still
    missing (at least) when incomplete, or None when the stream is not TLS handshake records
    starting with a message of type ``wanted``.
    """
    pos = 0
    message = bytearray()
    record_version: int | None = None
    need: int | None = None
    while True:
        available = len(data) - pos
        if available < 5:  # the stream ends before (or inside) the next record header
            if available and (data[pos] != CONTENT_HANDSHAKE or (available > 1 and data[pos + 1] != 3)):
                return None
            body_missing = need - len(message) if need is not None else max(1, 4 - len(message))
            return 5 - available + body_missing
        ctype = data[pos]
        version = int.from_bytes(data[pos + 1 : pos + 3], "big")
        length = int.from_bytes(data[pos + 3 : pos + 5], "big")
        if ctype != CONTENT_HANDSHAKE or version >> 8 != 3 or not 0 < length <= _MAX_RECORD:
            return None
        if record_version is None:
            record_version = version
        fragment = data[pos + 5 : pos + 5 + length]
        message += fragment
        pos += 5 + length
        if len(message) >= 1 and message[0] != wanted:
            return None
        if len(message) >= 4:
            need = 4 + int.from_bytes(message[1:4], "big")
            if need > MAX_HELLO:
                return None
            if len(message) >= need:
                return bytes(message[4:need]), record_version
        if len(fragment) < length:  # the stream ends inside this record
            missing_in_record = length - len(fragment)
            if need is None:
                return max(missing_in_record, 4 - len(message))
            return max(missing_in_record, need - len(message))


def handshake_missing_bytes(data: bytes, *, server: bool = False) -> int | None:
    """How far ``data`` is from holding a whole ClientHello (``server``: ServerHello).

    0 when the message is complete (the parser may still find it malformed), a positive
    lower bound on the bytes still needed when the stream stops short, None when it is not a
    TLS handshake record stream starting with that message. A flow builder buffers the first
    payload bytes of a direction while this is positive and stops otherwise.
    """
    got = _first_handshake(data, HANDSHAKE_SERVER_HELLO if server else HANDSHAKE_CLIENT_HELLO)
    if got is None:
        return None
    if isinstance(got, int):
        return max(got, 1)
    return 0


def _extensions(r: _Reader) -> Iterator[tuple[int, bytes | None]]:
    """(type, body) of each extension after the hello's fixed fields; a truncated last
    extension still counts, with no body."""
    if r.remaining() < 2:
        return
    ext = _Reader(r.vec16())
    while ext.remaining() >= 4:
        ext_type = ext.u16()
        try:
            yield ext_type, ext.vec16()
        except _Short:
            yield ext_type, None
            return


def _parse_client_body(body: bytes, record_version: int | None) -> ClientHello:
    r = _Reader(body)
    legacy_version = r.u16()
    random = r.take(32)
    session_id = r.vec8()
    suites = r.vec16()
    compression = tuple(r.vec8())
    extensions: list[int] = []
    server_name: str | None = None
    alpn: tuple[bytes, ...] = ()
    groups: tuple[int, ...] = ()
    point_formats: tuple[int, ...] = ()
    sig_algs: tuple[int, ...] = ()
    versions: tuple[int, ...] = ()
    for ext_type, ext_data in _extensions(r):
        extensions.append(ext_type)
        if ext_data is not None:
            try:
                if ext_type == EXT_SERVER_NAME and server_name is None:
                    server_name = _server_name(ext_data)
                elif ext_type == EXT_ALPN:
                    alpn = _alpn_list(ext_data)
                elif ext_type == EXT_SUPPORTED_GROUPS:
                    groups = _u16_list(_Reader(ext_data).vec16())
                elif ext_type == EXT_EC_POINT_FORMATS:
                    point_formats = tuple(_Reader(ext_data).vec8())
                elif ext_type == EXT_SIGNATURE_ALGORITHMS:
                    sig_algs = _u16_list(_Reader(ext_data).vec16())
                elif ext_type == EXT_SUPPORTED_VERSIONS:
                    versions = _u16_list(_Reader(ext_data).vec8())
            except _Short:
                pass  # a malformed extension body: the type is kept, its value is not
    return ClientHello(
        record_version=record_version,
        legacy_version=legacy_version,
        random=random,
        session_id=session_id,
        cipher_suites=_u16_list(suites),
        compression_methods=compression,
        extensions=tuple(extensions),
        server_name=server_name,
        alpn_protocols=alpn,
        supported_groups=groups,
        ec_point_formats=point_formats,
        signature_algorithms=sig_algs,
        supported_versions=versions,
    )


def _server_name(data: bytes) -> str | None:
    names = _Reader(_Reader(data).vec16())
    while names.remaining() >= 3:
        name_type = names.u8()
        name = names.vec16()
        if name_type == 0:  # host_name
            return _text(name)
    return None


def _alpn_list(data: bytes) -> tuple[bytes, ...]:
    protocols = _Reader(_Reader(data).vec16())
    out = []
    while protocols.remaining():
        out.append(protocols.vec8())
    return tuple(out)


def _parse_server_body(body: bytes, record_version: int | None) -> ServerHello:
    r = _Reader(body)
    legacy_version = r.u16()
    random = r.take(32)
    session_id = r.vec8()
    cipher = r.u16()
    compression = r.u8()
    extensions: list[int] = []
    selected: int | None = None
    alpn: bytes | None = None
    for ext_type, ext_data in _extensions(r):
        extensions.append(ext_type)
        if ext_data is not None:
            try:
                if ext_type == EXT_SUPPORTED_VERSIONS:
                    selected = _Reader(ext_data).u16()
                elif ext_type == EXT_ALPN:
                    chosen = _alpn_list(ext_data)
                    alpn = chosen[0] if chosen else None
            except _Short:
                pass
    return ServerHello(
        record_version=record_version,
        legacy_version=legacy_version,
        random=random,
        session_id=session_id,
        cipher_suite=cipher,
        compression_method=compression,
        extensions=tuple(extensions),
        selected_version=selected,
        alpn_protocol=alpn,
    )


def _from_message(message: bytes, wanted: int) -> bytes | None:
    if len(message) < 4 or message[0] != wanted:
        return None
    length = int.from_bytes(message[1:4], "big")
    if len(message) < 4 + length:
        return None
    return message[4 : 4 + length]


def _hello(data: bytes, wanted: int, parse: Any) -> Any:
    """The ``wanted`` hello at the start of a record stream, read by ``parse``; None when the
    stream is not TLS, incomplete or malformed."""
    try:
        got = _first_handshake(bytes(data), wanted)
        return parse(*got) if isinstance(got, tuple) else None
    except _Short:
        return None


def _hello_message(message: bytes, wanted: int, parse: Any) -> Any:
    """The ``wanted`` hello given as a bare handshake message (QUIC), read by ``parse``."""
    try:
        body = _from_message(bytes(message), wanted)
        return None if body is None else parse(body, None)
    except _Short:
        return None


def parse_client_hello(data: bytes) -> ClientHello | None:
    """The ClientHello at the start of a TLS record stream, or None (not TLS, incomplete)."""
    return _hello(data, HANDSHAKE_CLIENT_HELLO, _parse_client_body)


def parse_client_hello_message(message: bytes) -> ClientHello | None:
    """A ClientHello handshake message (type, 3-byte length, body) without record layer: QUIC
    CRYPTO frames carry it so. None when it is not a complete ClientHello."""
    return _hello_message(message, HANDSHAKE_CLIENT_HELLO, _parse_client_body)


def parse_server_hello(data: bytes) -> ServerHello | None:
    """The ServerHello at the start of a TLS record stream, or None (not TLS, incomplete)."""
    return _hello(data, HANDSHAKE_SERVER_HELLO, _parse_server_body)


def parse_server_hello_message(message: bytes) -> ServerHello | None:
    """A ServerHello handshake message without record layer (QUIC), or None."""
    return _hello_message(message, HANDSHAKE_SERVER_HELLO, _parse_server_body)


# --- JA3 / JA3S ----------------------------------------------------------------------------


def _dashed(values: tuple[int, ...]) -> str:
    return "-".join(str(v) for v in values if not is_grease(v))


def ja3_string(hello: ClientHello) -> str:
    """The JA3 input: "SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats",
    decimal, values joined by "-", GREASE removed; the version is the ClientHello's legacy
    version field (771 for TLS 1.3 too)."""
    return ",".join(
        (
            str(hello.legacy_version),
            _dashed(hello.cipher_suites),
            _dashed(hello.extensions),
            _dashed(hello.supported_groups),
            "-".join(str(v) for v in hello.ec_point_formats),
        )
    )


def ja3(hello: ClientHello) -> str:
    """JA3: MD5 (hex) of :func:`ja3_string`."""
    return hashlib.md5(ja3_string(hello).encode("ascii"), usedforsecurity=False).hexdigest()


def ja3s_string(hello: ServerHello) -> str:
    """The JA3S input: "SSLVersion,Cipher,Extensions" of a ServerHello, decimal, GREASE removed."""
    return f"{hello.legacy_version},{hello.cipher_suite},{_dashed(hello.extensions)}"


def ja3s(hello: ServerHello) -> str:
    """JA3S: MD5 (hex) of :func:`ja3s_string`."""
    return hashlib.md5(ja3s_string(hello).encode("ascii"), usedforsecurity=False).hexdigest()


# --- JA4 -----------------------------------------------------------------------------------


def _alnum(byte: int) -> bool:
    return 0x30 <= byte <= 0x39 or 0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A


def _ja4_alpn(hello: ClientHello) -> str:
    if not hello.alpn_protocols or not hello.alpn_protocols[0]:
        return "00"
    first = hello.alpn_protocols[0]
    if _alnum(first[0]) and _alnum(first[-1]):
        return chr(first[0]) + chr(first[-1])
    hexed = first.hex()
    return hexed[0] + hexed[-1]


def _ja4_parts(hello: ClientHello, transport: str, original: bool) -> tuple[str, str, str]:
    if transport not in ("t", "q", "d"):
        raise ValueError(f"JA4 transport is 't' (TCP), 'q' (QUIC) or 'd' (DTLS), not {transport!r}")
    version = _JA4_VERSIONS.get(hello.version, "00")
    ciphers = [c for c in hello.cipher_suites if not is_grease(c)]
    extensions = [e for e in hello.extensions if not is_grease(e)]
    sni = "d" if EXT_SERVER_NAME in extensions else "i"
    head = f"{transport}{version}{sni}{min(len(ciphers), 99):02d}{min(len(extensions), 99):02d}{_ja4_alpn(hello)}"
    if original:
        listed = extensions
    else:
        ciphers.sort()
        listed = sorted(e for e in extensions if e not in (EXT_SERVER_NAME, EXT_ALPN))
    cipher_text = ",".join(f"{c:04x}" for c in ciphers)
    ext_text = ",".join(f"{e:04x}" for e in listed)
    sig_text = ",".join(f"{s:04x}" for s in hello.signature_algorithms if not is_grease(s))
    if sig_text:
        ext_text = f"{ext_text}_{sig_text}"
    return head, cipher_text, ext_text


def ja4(hello: ClientHello, transport: str = "t", *, original: bool = False) -> str:
    """The JA4 fingerprint, e.g. ``t13d1516h2_8daaf6152771_e5627efa2ab1``.

    ``transport``: "t" TLS over TCP, "q" QUIC, "d" DTLS. ``original`` gives JA4_o: ciphers and
    extensions in wire order, SNI and ALPN kept in the extension list.
    """
    head, cipher_text, ext_text = _ja4_parts(hello, transport, original)
    cipher_hash = _sha12(cipher_text) if cipher_text else _EMPTY_HASH
    # "If there are no extensions in the sorted extensions list" the section is zeros.
    has_extensions = bool(ext_text) and not ext_text.startswith("_")
    ext_hash = _sha12(ext_text) if has_extensions else _EMPTY_HASH
    return f"{head}_{cipher_hash}_{ext_hash}"


def ja4_raw(hello: ClientHello, transport: str = "t", *, original: bool = False) -> str:
    """JA4_r (or JA4_ro with ``original``): the fingerprint before hashing, for analysts."""
    return "_".join(_ja4_parts(hello, transport, original))


def _sha12(text: str) -> str:
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:12]
