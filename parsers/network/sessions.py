"""Application sessions on TCP streams: which protocol a connection speaks, and its TLS and SSH
records, as Zeek's ssl.log and ssh.log give them.

A connection is given to one session kind by its first payload bytes, whatever its ports
(``identify``): a TLS handshake record, an SSH identification line, an HTTP request or
response line. Each session reads the in-order bytes of both directions (``TcpStream``
pieces: ``bytes``, or an ``int`` for a gap) and says when it needs no more (``done``), so the
caller stops reassembling the connection. Records come back as ``(log, record)`` pairs with
Zeek's field names, plus ``packet``: the number of the packet that carried the evidence.

References: Zeek base/protocols/ssl/main.zeek and base/protocols/ssh/main.zeek (fields);
RFC 8446 section 5.1 (record layer); RFC 4253 section 4.2 (SSH identification string).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, BinaryIO

from parsers.network import tls
from parsers.network.dns import DNS_PORTS, DnsInspector
from parsers.network.ftp import looks_like_ftp
from parsers.network.http import (
    HttpConversation,
    files_record,
    http_record,
    looks_like_http_request,
    looks_like_http_response,
)
from parsers.network.ssh import parse_ssh_banner

__all__ = ["Session", "SshSession", "TlsSession", "identify"]

Record = tuple[str, dict[str, Any]]
_CCS, _ALERT, _HANDSHAKE, _APPDATA = 20, 21, 22, 23
#: Records walked per direction after the hellos, looking for the end of the handshake.
_WALK_RECORDS = 64
#: Bytes kept per direction while waiting for an SSH identification line.
_SSH_LINE = 8192

#: IANA names of the cipher suites seen in practice (Zeek's ssl.log ``cipher``); others hex.
CIPHERS = {
    0x1301: "TLS_AES_128_GCM_SHA256", 0x1302: "TLS_AES_256_GCM_SHA384",
    0x1303: "TLS_CHACHA20_POLY1305_SHA256", 0x1304: "TLS_AES_128_CCM_SHA256",
    0xC02B: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", 0xC02C: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    0xCCA8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCA9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", 0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    0xC009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", 0xC00A: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    0xC027: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", 0xC028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256", 0x009D: "TLS_RSA_WITH_AES_256_GCM_SHA384",
    0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA", 0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
    0x003C: "TLS_RSA_WITH_AES_128_CBC_SHA256", 0x003D: "TLS_RSA_WITH_AES_256_CBC_SHA256",
    0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA", 0x0005: "TLS_RSA_WITH_RC4_128_SHA",
    0x0004: "TLS_RSA_WITH_RC4_128_MD5", 0x0033: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
    0x0039: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", 0x009E: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    0x009F: "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
}  # fmt: skip


#: Ports where a 220 greeting means FTP rather than SMTP.
FTP_PORTS = frozenset({21, 2121})


def identify(data: bytes, from_orig: bool, port: int = 0) -> str | None:
    """The session kind a connection's first payload bytes announce: "tls", "ssh", "http"; with
    the responder's ``port``, "ftp" (SMTP greets with 220 too) and "dns" (DNS over TCP, whose
    first bytes are a length)."""
    if len(data) >= 3 and data[0] == _HANDSHAKE and data[1] == 3 and data[2] <= 4:
        return "tls"
    if data.startswith(b"SSH-"):
        return "ssh"
    if (from_orig and looks_like_http_request(data)) or (not from_orig and looks_like_http_response(data)):
        return "http"
    if port in FTP_PORTS and looks_like_ftp(data, from_orig):
        return "ftp"
    if port in DNS_PORTS:
        return "dns"
    return None


def _base(flow: Any, ts_ns: int, packet: int) -> dict[str, Any]:
    return {
        "ts": ts_ns, "packet": packet, "uid": flow.uid,
        "id.orig_h": flow.orig[0], "id.orig_p": flow.orig[1],
        "id.resp_h": flow.resp[0], "id.resp_p": flow.resp[1],
    }  # fmt: skip


class Session:
    """What every session does: take pieces of either direction, end with its records.
    ``open_body`` (sessions that carry objects) opens a writer for each object, or None."""

    service = ""
    done = False

    def __init__(self, open_body: Callable[[Any], BinaryIO | None] | None = None) -> None:
        self.open_body = open_body

    def data(self, flow: Any, from_orig: bool, data: bytes, ts_ns: int, packet: int) -> list[Record]:
        raise NotImplementedError

    def gap(self, from_orig: bool, size: int) -> None:
        """``size`` bytes of a direction were never captured."""

    def end(self, flow: Any, ts_ns: int) -> list[Record]:
        return []

    def weirds(self) -> dict[str, int]:
        """Protocol oddities seen (Zeek weird.log names) and how often."""
        return {}


class _RecordWalker:
    """Reads TLS record headers of one direction, skipping bodies: which content types flow."""

    __slots__ = ("broken", "header", "records", "seen", "skip")

    def __init__(self) -> None:
        self.header = b""
        self.skip = 0
        self.seen: set[int] = set()
        self.records = 0
        self.broken = False

    def feed(self, data: bytes) -> None:
        pos = 0
        while pos < len(data) and not self.broken and self.records < _WALK_RECORDS:
            if self.skip:
                step = min(self.skip, len(data) - pos)
                self.skip -= step
                pos += step
                continue
            take = 5 - len(self.header)
            self.header += data[pos : pos + take]
            pos += take
            if len(self.header) < 5:
                return
            ctype, major, length = self.header[0], self.header[1], int.from_bytes(self.header[3:5], "big")
            self.header = b""
            if ctype not in (_CCS, _ALERT, _HANDSHAKE, _APPDATA) or major != 3:
                self.broken = True
                return
            self.seen.add(ctype)
            self.records += 1
            self.skip = length


class TlsSession(Session):
    """ClientHello and ServerHello (SNI, versions, cipher, ALPN, JA3/JA3S/JA4), and whether the
    handshake completed (both sides went on to encrypted records)."""

    service = "ssl"

    def __init__(self, open_body: Callable[[Any], BinaryIO | None] | None = None) -> None:
        super().__init__(open_body)
        self.buffers = {True: bytearray(), False: bytearray()}
        self.hellos: dict[bool, Any] = {}
        self.first: tuple[int, int] | None = None  # (ts, packet) of the ClientHello's first byte
        self.walkers = {True: _RecordWalker(), False: _RecordWalker()}
        self.failed: set[bool] = set()
        self._weirds: dict[str, int] = {}

    @property
    def established(self) -> bool:
        seen = [self.walkers[side].seen for side in (True, False)]
        return len(self.hellos) == 2 and (all(_APPDATA in s for s in seen) or all(_CCS in s for s in seen))

    def data(self, flow: Any, from_orig: bool, data: bytes, ts_ns: int, packet: int) -> list[Record]:
        if from_orig and self.first is None:
            self.first = (ts_ns, packet)
        if from_orig not in self.hellos and from_orig not in self.failed:
            buffer = self.buffers[from_orig]
            buffer += data
            missing = tls.handshake_missing_bytes(bytes(buffer), server=not from_orig)
            if missing == 0:
                parse = tls.parse_client_hello if from_orig else tls.parse_server_hello
                hello = parse(bytes(buffer))
                if hello is None:
                    self._weird("malformed_ssl_hello")
                    self.failed.add(from_orig)
                else:
                    self.hellos[from_orig] = hello
            elif missing is None or len(buffer) > tls.MAX_HELLO:
                self._weird("non_ssl_data" if missing is None else "ssl_hello_too_long")
                self.failed.add(from_orig)
            if from_orig in self.hellos or from_orig in self.failed:
                self.walkers[from_orig].feed(bytes(buffer))
                self.buffers[from_orig] = bytearray()
        else:
            self.walkers[from_orig].feed(data)
        walkers = self.walkers.values()
        self.done = (
            self.established
            or all(w.broken or w.records >= _WALK_RECORDS for w in walkers)
            or (len(self.failed) == 2)
        )
        return []

    def gap(self, from_orig: bool, size: int) -> None:
        if from_orig not in self.hellos:
            self.failed.add(from_orig)
        self.walkers[from_orig].broken = True

    def end(self, flow: Any, ts_ns: int) -> list[Record]:
        client, server = self.hellos.get(True), self.hellos.get(False)
        if client is None and server is None:
            return []
        ts, packet = self.first or (flow.start_ns, flow.first_packet)
        record = _base(flow, ts, packet)
        version = server.version if server is not None else None
        record |= {
            "version": tls.version_name(version) if version is not None else None,
            "cipher": _cipher(server.cipher_suite) if server is not None else None,
            "server_name": client.server_name if client is not None else None,
            "resumed": _resumed(client, server),
            "next_protocol": server.alpn if server is not None else None,
            "established": self.established,
            "ssl_history": ("C" if client else "") + ("S" if server else ""),
        }
        if client is not None:
            record |= {
                "client_version": tls.version_name(client.version),
                "client_alpn": list(client.alpn) or None,
                "ja3": tls.ja3(client), "ja4": tls.ja4(client, "t"),
            }  # fmt: skip
        if server is not None:
            record["ja3s"] = tls.ja3s(server)
        return [("ssl", record)]

    def weirds(self) -> dict[str, int]:
        return self._weirds

    def _weird(self, name: str) -> None:
        self._weirds[name] = self._weirds.get(name, 0) + 1


def _cipher(suite: int) -> str:
    return CIPHERS.get(suite, f"0x{suite:04x}")


def _resumed(client: Any, server: Any) -> bool | None:
    """TLS 1.2 and earlier: the server echoed the client's non-empty session id. (TLS 1.3
    resumption is by PSK, invisible here; Zeek says false too.)"""
    if client is None or server is None:
        return None
    if server.version >= 0x0304:
        return False
    return bool(client.session_id) and client.session_id == server.session_id


class SshSession(Session):
    """Both identification lines (client and server software), as ssh.log's client/server."""

    service = "ssh"

    def __init__(self, open_body: Callable[[Any], BinaryIO | None] | None = None) -> None:
        super().__init__(open_body)
        self.buffers = {True: b"", False: b""}
        self.banners: dict[bool, str] = {}
        self.first: tuple[int, int] | None = None

    def data(self, flow: Any, from_orig: bool, data: bytes, ts_ns: int, packet: int) -> list[Record]:
        if from_orig in self.banners:
            return []
        buffer = self.buffers[from_orig] + data
        if from_orig and self.first is None:
            self.first = (ts_ns, packet)
        found = parse_ssh_banner(buffer)
        if found is not None:
            self.banners[from_orig] = found.line
            buffer = b""
        elif len(buffer) > _SSH_LINE:
            self.banners[from_orig] = ""
            buffer = b""
        self.buffers[from_orig] = buffer
        self.done = len(self.banners) == 2
        return []

    def gap(self, from_orig: bool, size: int) -> None:
        self.banners.setdefault(from_orig, "")

    def end(self, flow: Any, ts_ns: int) -> list[Record]:
        if not any(self.banners.values()):
            return []
        client, server = self.banners.get(True) or None, self.banners.get(False) or None
        ts, packet = self.first or (flow.start_ns, flow.first_packet)
        version = next((int(b[4]) for b in (client, server) if b and b[4:5].isdigit()), None)
        record = _base(flow, ts, packet) | {"version": version, "client": client, "server": server}
        return [("ssh", record)]


class HttpSession(Session):
    """HTTP/1.x transactions (http.log) and the bodies they carry (files.log), bodies hashed and,
    with ``open_body``, written out (``parsers.network.http``)."""

    service = "http"

    def __init__(self, open_body: Callable[[Any], BinaryIO | None] | None = None) -> None:
        super().__init__(open_body)
        self.conversation = HttpConversation(open_body)

    def data(self, flow: Any, from_orig: bool, data: bytes, ts_ns: int, packet: int) -> list[Record]:
        out = self._records(flow, self.conversation.data(from_orig, data, ts_ns, packet))
        self.done = not self.conversation.wants_more()
        return out

    def gap(self, from_orig: bool, size: int) -> None:
        self.conversation.gap(from_orig, size)

    def end(self, flow: Any, ts_ns: int) -> list[Record]:
        return self._records(flow, self.conversation.end(ts_ns))

    def weirds(self) -> dict[str, int]:
        return dict(self.conversation.weirds)

    def _records(self, flow: Any, transactions: list[Any]) -> list[Record]:
        orig, resp = (flow.resp, flow.orig) if self.conversation.flipped else (flow.orig, flow.resp)
        out: list[Record] = []
        for tx in transactions:
            out.append(("http", http_record(tx, flow.uid, orig, resp) | {"packet": tx.packet}))
            for body in tx.bodies:
                packet = tx.packet if body.info.is_orig else tx.response_packet
                out.append(("files", files_record(body, flow.uid, orig, resp) | {"packet": packet}))
        return out


class DnsTcpSession(Session):
    """DNS over TCP: two-byte length-prefixed messages (RFC 1035 4.2.2, RFC 7766), which may span
    segments; paired and logged by the same ``DnsInspector`` as DNS over UDP."""

    service = "dns"

    def __init__(self, open_body: Callable[[Any], BinaryIO | None] | None = None) -> None:
        super().__init__(open_body)
        self.buffers = {True: b"", False: b""}
        self.inspector = DnsInspector()

    def data(self, flow: Any, from_orig: bool, data: bytes, ts_ns: int, packet: int) -> list[Record]:
        buffer = self.buffers[from_orig] + data
        out: list[Record] = []
        while len(buffer) >= 2:
            size = 2 + int.from_bytes(buffer[:2], "big")
            if len(buffer) < size:
                break
            out += [("dns", r) for r in self.inspector.packet(flow, from_orig, buffer[:size], ts_ns, packet)]
            buffer = buffer[size:]
        self.buffers[from_orig] = buffer
        return out

    def gap(self, from_orig: bool, size: int) -> None:
        self.buffers[from_orig] = b""
        self.done = True  # message boundaries are lost with the bytes


SESSIONS: dict[str, type[Session]] = {
    "tls": TlsSession, "ssh": SshSession, "http": HttpSession, "dns": DnsTcpSession,
}  # fmt: skip
