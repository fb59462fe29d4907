"""A large synthetic packet capture for the capture benchmark: millions of packets, fast, seeded.

The traffic of a small office seen at its edge (about 500 packets a second on average):
- web visits over TLS (443) and HTTP/1.1 (80), each often preceded by its DNS lookup: a
  3-way handshake (SYN options), the ClientHello (server name varied over ~900 names, three
  client fingerprints) or HTTP requests (GET and POST, keep-alive, 1 to 6 per connection),
  the server's flight (TLS 1.3 or 1.2 records) or responses with ``Content-Length`` bodies,
  data both ways in MSS-sized segments with the receiver's ACK every second segment; then a
  FIN/ACK close (client or server first), a RST, or nothing (the flow ends by the 5-minute
  inactivity timeout);
- DNS over UDP 53 to two resolvers (A, A+AAAA from one port, CNAME chains, NXDOMAIN, a few
  never answered), NTP, ICMP echo, SSH sessions (banners, key exchange, encrypted packets),
  rejected connections (SYN, RST/ACK) and unanswered SYNs with their retransmissions;
- a dozen long-lived SSH and TLS connections spanning the whole capture (a packet every 5 s to
  4 minutes, so they never time out);
- 2,500 clients, ~600 servers, ephemeral ports allocated per host in turn as an OS does, so no
  5-tuple is reused while its previous flow could still be live.
Connections start as a Poisson process and run concurrently; their packets are merged in time
order (a heap of per-connection generators), so flows interleave as on a real link.

Speed: frames are packed with one precompiled ``struct`` per layer stack, payloads come from
templates built and segmented once, and the IPv4, TCP, UDP and ICMP checksums are right but
cost a few integer additions: a one's-complement sum is the plain sum modulo 0xFFFF
(2**16 = 1 modulo 0xFFFF, RFC 1071 and RFC 1624), so a 32-bit sequence number adds in whole
and a payload template's sum is computed once. About 2 million packets (1.2 GiB) in 15 seconds here.

The stream does not depend on the packet count: a capture of N packets is the first N packets
of the same stream (the N/4 capture of the benchmark is a prefix of the N one). ``write``
returns, and ``bench_file`` caches beside the capture (``capture-<N>.json``), what it wrote,
counted as the capture parser should find it: flows per transport, DNS queries, TLS
ClientHellos, HTTP requests, SSH sessions (a connection cut short by the end of the capture
counts for what was written of it).
"""

from __future__ import annotations

import heapq
import json
import random
import struct
import sys
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["CACHE", "bench_file", "write"]

CACHE = Path(__file__).resolve().parent / ".cache"
START_US = 1_714_550_400 * 1_000_000  # 2024-05-01 08:00:00 UTC
MSS = 1460
#: Sessions started per second (a Poisson process); about 500 packets per second in all.
SESSIONS_PER_S = 17.0
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
PA = PSH | ACK
_M = 0xFFFF

_PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262_144, 1)  # Ethernet
_RECORD = struct.Struct("<IIII").pack
# Ethernet + IPv4 (no options) + transport header, all big-endian.
_TCP = struct.Struct(">6s6sHBBHHHBBH4s4sHHIIHHHH").pack
_UDP = struct.Struct(">6s6sHBBHHHBBH4s4sHHHH").pack
_ICMP = struct.Struct(">6s6sHBBHHHBBH4s4sBBHHH").pack

Segment = tuple[bytes, int]  # payload and its one's-complement sum (mod 0xFFFF)
Packet = tuple[int, bytes, tuple[str, ...] | None]  # time (µs), frame, what it counts for


def _sum(data: bytes) -> int:
    """One's-complement sum of ``data`` as 16-bit words, modulo 0xFFFF (even-aligned)."""
    if len(data) % 2:
        data += b"\x00"
    return int.from_bytes(data, "big") % _M


def _segments(data: bytes) -> list[Segment]:
    return [(data[i : i + MSS], _sum(data[i : i + MSS])) for i in range(0, len(data), MSS)]


class _Host:
    __slots__ = ("ip", "mac", "port", "sum", "ttl")

    def __init__(self, ip: bytes, mac: bytes, ttl: int, port: int = 32768) -> None:
        self.ip, self.mac, self.ttl, self.port = ip, mac, ttl, port
        self.sum = _sum(ip)

    def next_port(self) -> int:
        """Ephemeral ports in turn over Linux's range: one is reused only after 28,232 others."""
        self.port = 32768 if self.port >= 60999 else self.port + 1
        return self.port


class _Tcp:
    """One TCP connection: packs either side's segments, tracking sequence numbers."""

    __slots__ = ("c", "cid", "cmac", "cport", "cseq", "k_ip", "k_tcp", "s", "sid", "smac", "sport", "sseq")

    def __init__(self, rng: random.Random, client: _Host, server: _Host, sport: int, smac: bytes) -> None:
        self.c, self.s = client, server
        self.cport, self.sport = client.next_port(), sport
        self.cseq, self.sseq = rng.getrandbits(32), rng.getrandbits(32)
        self.cid, self.sid = rng.getrandbits(16), rng.getrandbits(16)
        addresses = client.sum + server.sum
        self.k_ip = 0x4500 + 0x4000 + 6 + addresses
        self.k_tcp = addresses + 6
        self.cmac, self.smac = client.mac, smac  # smac: the server's or the gateway's

    def c2s(self, flags: int, seg: Segment = (b"", 0), opts: Segment = (b"", 0)) -> bytes:
        payload, psum = seg
        tcplen = 20 + len(opts[0]) + len(payload)
        total = 20 + tcplen
        ident = self.cid = (self.cid + 1) & _M
        ttl = self.c.ttl
        seq, ack = self.cseq, self.sseq if flags & ACK else 0
        word = (5 + len(opts[0]) // 4) << 12 | flags
        win = 502 if flags & ACK else 64240
        cport, sport = self.cport, self.sport
        self.cseq = (seq + len(payload) + (1 if flags & (SYN | FIN) else 0)) & 0xFFFFFFFF
        return (
            _TCP(self.smac, self.cmac, 0x0800, 0x45, 0, total, ident, 0x4000, ttl, 6,
                 -(self.k_ip + total + ident + (ttl << 8)) % _M, self.c.ip, self.s.ip, cport, sport, seq, ack,
                 word, win, -(self.k_tcp + tcplen + cport + sport + seq + ack + word + win + opts[1] + psum) % _M, 0)
            + opts[0] + payload
        )  # fmt: skip

    def s2c(self, flags: int, seg: Segment = (b"", 0), opts: Segment = (b"", 0)) -> bytes:
        payload, psum = seg
        tcplen = 20 + len(opts[0]) + len(payload)
        total = 20 + tcplen
        ident = self.sid = (self.sid + 1) & _M
        ttl = self.s.ttl
        seq, ack = self.sseq, self.cseq
        word = (5 + len(opts[0]) // 4) << 12 | flags
        win = 501 if flags & ACK else 65160
        cport, sport = self.cport, self.sport
        self.sseq = (seq + len(payload) + (1 if flags & (SYN | FIN) else 0)) & 0xFFFFFFFF
        return (
            _TCP(self.cmac, self.smac, 0x0800, 0x45, 0, total, ident, 0x4000, ttl, 6,
                 -(self.k_ip + total + ident + (ttl << 8)) % _M, self.s.ip, self.c.ip, sport, cport, seq, ack,
                 word, win, -(self.k_tcp + tcplen + sport + cport + seq + ack + word + win + opts[1] + psum) % _M, 0)
            + opts[0] + payload
        )  # fmt: skip


def _udp(
    src: _Host, smac: bytes, dst: _Host, dmac: bytes, sport: int, dport: int, seg: Segment, ident: int
) -> bytes:
    payload, psum = seg
    length = 8 + len(payload)
    total = 20 + length
    addresses = src.sum + dst.sum
    check = -(addresses + 17 + length + sport + dport + length + psum) % _M or _M  # 0 means "none"
    return _UDP(dmac, smac, 0x0800, 0x45, 0, total, ident, 0x4000, src.ttl, 17,
                -(0x4500 + 0x4000 + 17 + addresses + total + ident + (src.ttl << 8)) % _M, src.ip, dst.ip,
                sport, dport, length, check) + payload  # fmt: skip


def _icmp(
    src: _Host, smac: bytes, dst: _Host, dmac: bytes, kind: int, ident: int, seq: int, seg: Segment
) -> bytes:
    payload, psum = seg
    total = 28 + len(payload)
    addresses = src.sum + dst.sum
    return _ICMP(dmac, smac, 0x0800, 0x45, 0, total, seq, 0x4000, src.ttl, 1,
                 -(0x4500 + 0x4000 + 1 + addresses + total + seq + (src.ttl << 8)) % _M, src.ip, dst.ip,
                 kind, 0, -((kind << 8) + ident + seq + psum) % _M, ident, seq) + payload  # fmt: skip


# --- payload templates -------------------------------------------------------------------------

_WORDS = (
    "acme", "north", "blue", "river", "cloud", "pixel", "orbit", "delta", "maple", "harbor", "quartz",
    "summit", "cedar", "falcon", "lumen", "vertex", "nimbus", "atlas", "ember", "willow", "zenith",
    "cobalt", "meadow", "signal", "canyon", "polar", "aurora", "beacon", "copper", "drift",
)  # fmt: skip
_PREFIXES = ("www.", "api.", "cdn.", "static.", "", "login.", "img.", "telemetry.")
_TLDS = ("com", "net", "org", "io", "example")
_PATHS = (
    "/", "/index.html", "/api/v1/status", "/api/v2/items?page=2", "/static/app.js", "/static/site.css",
    "/images/logo.png", "/login", "/search?q=report", "/updates/check", "/favicon.ico", "/feed.xml",
)  # fmt: skip
_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Microsoft-CryptoAPI/10.0",
    "curl/8.5.0",
)
_CIPHERS = (
    [0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035],
    [0xC02C, 0xC02B, 0xC030, 0xC02F, 0xC024, 0xC023, 0xC028, 0xC027, 0xC00A, 0xC009, 0xC014, 0xC013, 0x009D, 0x009C, 0x003D, 0x003C, 0x0035, 0x002F, 0x000A],
    [0x4A4A, 0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035],
)  # fmt: skip


def _v8(data: bytes) -> bytes:
    return len(data).to_bytes(1, "big") + data


def _v16(data: bytes) -> bytes:
    return len(data).to_bytes(2, "big") + data


def _ext(kind: int, data: bytes) -> bytes:
    return kind.to_bytes(2, "big") + _v16(data)


def _u16s(values: list[int]) -> bytes:
    return b"".join(v.to_bytes(2, "big") for v in values)


def _record(ctype: int, body: bytes) -> bytes:
    return bytes([ctype, 3, 3]) + _v16(body)


def client_hello(sni: str, variant: int, rng: random.Random) -> bytes:
    """A TLS record holding a ClientHello for ``sni``: 0 a TLS 1.3 browser, 1 a TLS 1.2-only
    library, 2 a browser with GREASE values (RFC 8701)."""
    grease = variant == 2
    name = sni.encode()
    exts = [_ext(0x0A0A, b"")] if grease else []
    exts += [
        _ext(0, _v16(b"\x00" + _v16(name))),
        _ext(23, b""),
        _ext(0xFF01, b"\x00"),
        _ext(10, _v16(_u16s(([0x2A2A] if grease else []) + [0x001D, 0x0017, 0x0018]))),
        _ext(11, _v8(b"\x00")),
        _ext(35, b""),
        _ext(16, _v16(_v8(b"h2") + _v8(b"http/1.1"))),
        _ext(5, b"\x01\x00\x00\x00\x00"),
        _ext(13, _v16(_u16s([0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]))),
    ]
    if variant != 1:
        exts += [
            _ext(51, _v16(b"\x00\x1d" + _v16(rng.randbytes(32)))),
            _ext(45, _v8(b"\x01")),
            _ext(43, _v8(_u16s(([0x1A1A] if grease else []) + [0x0304, 0x0303]))),
        ]
    body = (
        b"\x03\x03" + rng.randbytes(32) + _v8(rng.randbytes(32 if variant != 1 else 0))
        + _v16(_u16s(_CIPHERS[variant])) + _v8(b"\x00") + _v16(b"".join(exts))
    )  # fmt: skip
    hello = b"\x01" + len(body).to_bytes(3, "big") + body
    return bytes([22, 3, 1]) + _v16(hello)


def _server_hello(tls13: bool, rng: random.Random) -> bytes:
    if tls13:
        exts = _ext(43, b"\x03\x04") + _ext(51, b"\x00\x1d" + _v16(rng.randbytes(32)))
        suite = 0x1301
    else:
        exts = _ext(0xFF01, b"\x00") + _ext(11, _v8(b"\x00")) + _ext(23, b"") + _ext(16, _v16(_v8(b"h2")))
        suite = 0xC02F
    body = (
        b"\x03\x03"
        + rng.randbytes(32)
        + _v8(rng.randbytes(32))
        + suite.to_bytes(2, "big")
        + b"\x00"
        + _v16(exts)
    )
    return _record(22, b"\x02" + len(body).to_bytes(3, "big") + body)


class _World:
    """Hosts, names, payload templates and the session generators, from one seeded generator."""

    def __init__(self, seed: int) -> None:
        rng = self.rng = random.Random(seed)
        self.blob = rng.randbytes(1 << 18)  # opaque bytes: encrypted records, images
        gateway_mac = bytes.fromhex("0200000000fe")
        self.gateway = gateway_mac
        self.clients = [
            _Host(bytes([10, 1, i // 250, i % 250 + 1]), bytes([2, 0x10, 0, 0, i >> 8, i & 0xFF]),
                  rng.choice((64, 128)), 32768 + rng.randrange(28000))
            for i in range(2500)
        ]  # fmt: skip
        self.servers = [
            _Host(bytes([198, 18 + (i >> 8 & 1), i & 0xFF, 1 + i % 7]), gateway_mac, rng.randint(48, 60))
            for i in range(600)
        ]
        self.resolvers = [
            _Host(bytes([10, 0, 0, 53 + i]), bytes([2, 0, 0, 0, 0, 53 + i]), 64) for i in range(2)
        ]
        self.ssh_servers = [
            _Host(bytes([10, 0, 5, 10 + i]), bytes([2, 0, 0, 5, 0, 10 + i]), 64) for i in range(10)
        ]
        self.ntp = _Host(bytes([10, 0, 0, 123]), bytes([2, 0, 0, 0, 0, 123]), 64)
        self.pingable = [*self.resolvers, _Host(bytes([10, 0, 0, 1]), gateway_mac, 64), *self.servers[:4]]
        names = set()
        while len(names) < 900:
            names.add(
                rng.choice(_PREFIXES) + rng.choice(_WORDS) + rng.choice(_WORDS) + "." + rng.choice(_TLDS)
            )
        self.names = sorted(names)
        rng.shuffle(self.names)  # popularity is by index: shuffle so popular names vary in shape
        self.name_server = [rng.randrange(len(self.servers)) for _ in self.names]
        self.cname = [rng.random() < 0.25 for _ in self.names]
        self._hellos: dict[tuple[int, int], list[Segment]] = {}
        self._requests: dict[tuple[int, int], list[Segment]] = {}
        self._dns: dict[tuple[int, int, int], tuple[bytes, int]] = {}
        self.server_flights = {
            tls13: [
                _segments(_server_hello(tls13, rng) + self._server_rest(tls13, size))
                for size in (2400, 3100, 3900, 4600, 5800)
            ]
            for tls13 in (True, False)
        }
        self.client_flights = {
            True: [_segments(_record(20, b"\x01") + _record(23, self._opaque(53)))],
            False: [_segments(_record(22, b"\x10" + self._opaque(69)) + _record(20, b"\x01") + _record(22, self._opaque(40)))],
        }  # fmt: skip
        self.server_finish = _segments(_record(20, b"\x01") + _record(22, self._opaque(40)))
        # Application data: requests 100 B - 2 KB, responses 300 B - ~160 KB (skewed small).
        self.tls_requests = [_segments(self._appdata(int(100 * 1.1**i))) for i in range(32)]
        self.tls_responses = [_segments(self._appdata(int(300 * 1.1**i))) for i in range(66)]
        self.http_responses = [self._http_response(i) for i in range(64)]
        self.ssh_kex = [_segments(self._opaque(size)) for size in (1080, 1240, 1536, 48, 64, 96, 128, 16, 32)]
        self.ssh_data = [
            _segments(self._opaque(size)) for size in (36, 52, 68, 100, 148, 276, 532, 1200, 4096)
        ]
        self.banners = (
            [_segments(b) for b in (b"SSH-2.0-OpenSSH_9.6\r\n", b"SSH-2.0-PuTTY_Release_0.80\r\n",
                                    b"SSH-2.0-paramiko_3.4.0\r\n")],
            [_segments(b) for b in (b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6\r\n", b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u2\r\n")],
        )  # fmt: skip
        self.ntp_request = _segments(b"\xe3\x00\x06\xec" + bytes(36) + self._opaque(8))[0]
        self.ntp_reply = _segments(b"\x24\x02\x06\xe9" + self._opaque(44))[0]
        self.ping_data = _segments(bytes(range(8, 56)) + bytes(8))[0]
        self.syn_opts = (b"\x02\x04\x05\xb4", _sum(b"\x02\x04\x05\xb4"))  # MSS 1460
        self.icmp_pairs = 0

    # templates

    def _opaque(self, size: int) -> bytes:
        start = self.rng.randrange(len(self.blob) - size) if size < len(self.blob) else 0
        return (self.blob * (1 + size // len(self.blob)))[start : start + size]

    def _appdata(self, size: int) -> bytes:
        out = b""
        while size > 0:
            part = min(size, 16384)
            out += _record(23, self._opaque(part + 17))
            size -= part
        return out

    def _server_rest(self, tls13: bool, size: int) -> bytes:
        if tls13:
            return _record(20, b"\x01") + _record(23, self._opaque(size))
        return (
            _record(22, b"\x0b" + self._opaque(size - 300))
            + _record(22, b"\x0c" + self._opaque(300))
            + _record(22, b"\x0e\x00\x00\x00")
        )

    def _http_response(self, i: int) -> list[Segment]:
        status = "200 OK" if i % 16 else ("404 Not Found", "301 Moved Permanently", "304 Not Modified", "200 OK")[i // 16]  # fmt: skip
        size = 0 if status.startswith("304") else int(180 * 1.1**i)
        kind = (
            "text/html; charset=utf-8",
            "application/json",
            "application/octet-stream",
            "application/javascript",
        )[i % 4]
        if kind == "application/octet-stream":
            body = self._opaque(size)
        else:
            line = f"<p>section {i} of the report, generated for the capture benchmark</p>\n".encode()
            body = (line * (size // len(line) + 1))[:size]
        head = (
            f"HTTP/1.1 {status}\r\nServer: nginx/1.24.0\r\nDate: Wed, 01 May 2024 08:00:00 GMT\r\n"
            f"Content-Type: {kind}\r\n" + (f"Content-Length: {size}\r\n" if not status.startswith("304") else "")
            + "Connection: keep-alive\r\n\r\n"
        )  # fmt: skip
        return _segments(head.encode() + body)

    def hello(self, name: int, variant: int) -> list[Segment]:
        key = (name, variant)
        if key not in self._hellos:
            self._hellos[key] = _segments(client_hello(self.names[name], variant, self.rng))
        return self._hellos[key]

    def request(self, name: int, which: int) -> list[Segment]:
        key = (name, which)
        if key not in self._requests:
            path = _PATHS[which % len(_PATHS)]
            agent = _AGENTS[(name + which) % len(_AGENTS)]
            host = self.names[name]
            if which % 5 == 4:
                body = b'{"event":"heartbeat","client":"' + str(which).encode() + b'","ok":true}'
                head = (
                    f"POST /api/v1/events HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {agent}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                )  # fmt: skip
                self._requests[key] = _segments(head.encode() + body)
            else:
                head = (
                    f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {agent}\r\nAccept: */*\r\n"
                    "Accept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n\r\n"
                )  # fmt: skip
                self._requests[key] = [_segments(head.encode())[0]]
        return self._requests[key]

    def dns(self, name: int, qtype: int, response: int) -> tuple[bytes, int]:
        """A DNS message with id 0 and its sum: ``response`` 0 query, 1 answer, 2 NXDOMAIN."""
        key = (name, qtype, response)
        if key not in self._dns:
            qname = b"".join(_v8(p.encode()) for p in self.names[name].split(".")) + b"\x00"
            question = qname + struct.pack(">HH", qtype, 1)
            if response == 0:
                message = struct.pack(">HHHHHH", 0, 0x0100, 1, 0, 0, 0) + question
            elif response == 2:
                message = struct.pack(">HHHHHH", 0, 0x8183, 1, 0, 0, 0) + question
            else:
                answers = []
                owner = 0xC00C
                if self.cname[name]:
                    target = b"\x04edge" + _v8(f"n{name}".encode()) + b"\x03cdn\x07example\x00"
                    answers.append(struct.pack(">HHHIH", owner, 5, 1, 300, len(target)) + target)
                    owner = 0xC000 | (12 + len(question) + 12)  # the CNAME target's name
                server = self.servers[self.name_server[name]]
                if qtype == 1:
                    answers.append(struct.pack(">HHHIH", owner, 1, 1, 60, 4) + server.ip)
                else:
                    address = bytes.fromhex("20010db8") + bytes(10) + server.ip[2:]
                    answers.append(struct.pack(">HHHIH", owner, 28, 1, 60, 16) + address)
                message = (
                    struct.pack(">HHHHHH", 0, 0x8180, 1, len(answers), 0, 0) + question + b"".join(answers)
                )
            self._dns[key] = (message, _sum(message))
        return self._dns[key]

    # sessions: generators of (time µs, frame, counted-as)

    def arrivals(self, t: int) -> list[Iterator[Packet]]:
        """What starts at ``t``: one session (and the DNS lookup a web visit makes first)."""
        rng = self.rng
        pick = rng.random()
        if pick < 0.68:
            client = self.clients[rng.randrange(len(self.clients))]
            name = int(len(self.names) * rng.random() ** 3)
            tls = pick < 0.38
            if rng.random() < 0.5:
                gap = rng.randint(2_000, 40_000)
                return [self.dns_lookup(t, client, name), self.web(t + gap, client, name, tls)]
            return [self.web(t, client, name, tls)]
        if pick < 0.86:
            return [self.dns_lookup(t, self.clients[rng.randrange(len(self.clients))], int(len(self.names) * rng.random() ** 2))]  # fmt: skip
        if pick < 0.89:
            return [self.ssh(t, self.clients[rng.randrange(len(self.clients))], long_lived=False)]
        if pick < 0.93:
            return [self.refused(t, answered=True)]
        if pick < 0.945:
            return [self.refused(t, answered=False)]
        if pick < 0.965:
            return [self.ping(t)]
        return [self.ntp_query(t)]

    def long_lived(self, t: int) -> list[Iterator[Packet]]:
        out = [self.ssh(t + i * 700_000, self.clients[i * 97], long_lived=True) for i in range(8)]
        out += [
            self.web(t + i * 1_100_000, self.clients[5 + i * 89], i, True, long_lived=True) for i in range(4)
        ]
        return out

    def _pace(self, conn: _Tcp, c2s: bool, segs: list[Segment], t: int, tag: tuple[str, ...] | None = None,
              acked: bool = True) -> Iterator[Packet]:  # fmt: skip
        """One side's segments back to back (100 Mbit/s), the peer ACKing every second one and
        the last; returns the time after."""
        send, peer = (conn.c2s, conn.s2c) if c2s else (conn.s2c, conn.c2s)
        last = len(segs) - 1
        for i, seg in enumerate(segs):
            yield t, send(PA if i == last else ACK, seg), tag if i == 0 else None
            t += 12 + len(seg[0]) // 12
            if acked and (i % 2 or i == last):
                t += 30
                yield t, peer(ACK), None
                t += 10
        return t

    def _handshake(self, conn: _Tcp, t: int, rtt: int) -> Iterator[Packet]:
        yield t, conn.c2s(SYN, opts=self.syn_opts), ("tcp",)
        t += rtt
        yield t, conn.s2c(SYN | ACK, opts=self.syn_opts), None
        t += 60
        yield t, conn.c2s(ACK), None
        return t + 40

    def _close(self, conn: _Tcp, t: int, rtt: int) -> Iterator[Packet]:
        rng = self.rng
        way = rng.random()
        if way < 0.06:  # abandoned: the flow ends by the inactivity timeout
            return
        if way < 0.11:
            yield t, conn.c2s(RST | ACK), ("rst",)
            return
        first, second = (conn.c2s, conn.s2c) if way < 0.8 else (conn.s2c, conn.c2s)
        yield t, first(FIN | ACK), ("fin",)
        t += rtt
        yield t, second(FIN | ACK), None
        yield t + 50, first(ACK), None

    def web(self, t: int, client: _Host, name: int, tls: bool, long_lived: bool = False) -> Iterator[Packet]:
        rng = self.rng
        server = self.servers[self.name_server[name]]
        conn = _Tcp(rng, client, server, 443 if tls else 80, self.gateway)
        rtt = rng.randint(4_000, 120_000)
        t = yield from self._handshake(conn, t, rtt)
        if tls:
            tls13 = rng.random() < 0.7
            yield t, conn.c2s(PA, self.hello(name, rng.choice((0, 0, 2)) if tls13 else 1)[0]), ("tls",)
            t += rtt + rng.randint(200, 3_000)
            t = yield from self._pace(conn, False, rng.choice(self.server_flights[tls13]), t)
            t = yield from self._pace(conn, True, self.client_flights[tls13][0], t + 200, acked=False)
            if not tls13:
                t += rtt
                t = yield from self._pace(conn, False, self.server_finish, t)
        exchanges = 1 if rng.random() < 0.6 else rng.randint(2, 6)
        exchange = 0
        while exchange < exchanges or long_lived:
            exchange += 1
            if tls:
                request, response = (
                    rng.choice(self.tls_requests),
                    self.tls_responses[int(66 * rng.random() ** 2.5)],
                )
                tag = None
            else:
                request = self.request(name, rng.randrange(12))
                response = self.http_responses[int(64 * rng.random() ** 2.5)]
                tag = ("http",)
            t = yield from self._pace(conn, True, request, t, tag, acked=len(request) > 1)
            t += rtt + rng.randint(500, 40_000)
            t = yield from self._pace(conn, False, response, t)
            t += rng.randint(5_000_000, 240_000_000) if long_lived else int(rng.expovariate(1.0) * 1_000_000)
        yield from self._close(conn, t, rtt)

    def ssh(self, t: int, client: _Host, long_lived: bool) -> Iterator[Packet]:
        rng = self.rng
        server = rng.choice(self.ssh_servers)
        conn = _Tcp(rng, client, server, 22, server.mac)
        rtt = rng.randint(200, 1_500)
        t = yield from self._handshake(conn, t, rtt)
        t = yield from self._pace(conn, False, rng.choice(self.banners[1]), t + 2_000, ("ssh",))
        t = yield from self._pace(conn, True, rng.choice(self.banners[0]), t + 300)
        kex = self.ssh_kex
        for c2s, seg in ((True, kex[0]), (False, kex[1]), (True, kex[4]), (False, kex[2]), (True, kex[7])):
            t = yield from self._pace(conn, c2s, seg, t + rtt)
        rounds = 0
        while long_lived or rounds < 40:
            rounds += 1
            t += rng.randint(5_000_000, 240_000_000) if long_lived else rng.randint(20_000, 2_000_000)
            t = yield from self._pace(conn, True, rng.choice(self.ssh_data[:4]), t)
            t = yield from self._pace(conn, False, rng.choice(self.ssh_data), t + rtt)
            if not long_lived and rng.random() < 0.08:
                break
        yield from self._close(conn, t + 10_000, rtt)

    def refused(self, t: int, answered: bool) -> Iterator[Packet]:
        """A SYN to a closed port (RST/ACK back), or one never answered (two retransmissions)."""
        rng = self.rng
        client = self.clients[rng.randrange(len(self.clients))]
        server = self.servers[rng.randrange(len(self.servers))]
        conn = _Tcp(rng, client, server, rng.choice((23, 445, 3389, 8080, 8443, 5900)), self.gateway)
        isn = conn.cseq
        yield t, conn.c2s(SYN, opts=self.syn_opts), ("tcp",)
        if answered:
            yield t + rng.randint(4_000, 90_000), conn.s2c(RST | ACK), None
            return
        for delay in (1_000_000, 2_000_000):
            t += delay
            conn.cseq = isn
            yield t, conn.c2s(SYN, opts=self.syn_opts), None

    def dns_lookup(self, t: int, client: _Host, name: int) -> Iterator[Packet]:
        rng = self.rng
        resolver = rng.choice(self.resolvers)
        port = client.next_port()
        both = rng.random() < 0.4
        outcome = 2 if rng.random() < 0.04 else 0 if rng.random() < 0.01 else 1  # NXDOMAIN, unanswered
        asked = [(1, rng.getrandbits(16))] + ([(28, rng.getrandbits(16))] if both else [])
        ident = rng.getrandbits(16)
        tags: tuple[str, ...] | None = ("udp", "dns")
        for qtype, qid in asked:
            message, total = self.dns(name, qtype, 0)
            seg = (qid.to_bytes(2, "big") + message[2:], (total + qid) % _M)
            yield t, _udp(client, client.mac, resolver, resolver.mac, port, 53, seg, ident), tags
            tags, ident, t = ("dns",), (ident + 1) & _M, t + 80
        if not outcome:
            return
        t += rng.randint(300, 40_000)
        for qtype, qid in asked:
            message, total = self.dns(name, qtype, outcome)
            seg = (qid.to_bytes(2, "big") + message[2:], (total + qid) % _M)
            yield (
                t,
                _udp(resolver, resolver.mac, client, client.mac, 53, port, seg, rng.getrandbits(16)),
                None,
            )
            t += rng.randint(50, 3_000)

    def ntp_query(self, t: int) -> Iterator[Packet]:
        rng = self.rng
        client = self.clients[rng.randrange(len(self.clients))]
        port = client.next_port()
        yield t, _udp(client, client.mac, self.ntp, self.ntp.mac, port, 123, self.ntp_request, rng.getrandbits(16)), ("udp",)  # fmt: skip
        yield t + rng.randint(200, 2_000), _udp(self.ntp, self.ntp.mac, client, client.mac, 123, port, self.ntp_reply, rng.getrandbits(16)), None  # fmt: skip

    def ping(self, t: int) -> Iterator[Packet]:
        """Four echo requests and replies, one flow: host and target pairs taken in turn, so a
        pair comes back only after 17,500 other pings (ICMP flows are keyed by hosts alone)."""
        k = self.icmp_pairs
        self.icmp_pairs += 1
        client = self.clients[k % len(self.clients)]
        target = self.pingable[(k // len(self.clients)) % len(self.pingable)]
        dmac = target.mac
        ident = self.rng.getrandbits(16)
        rtt = self.rng.randint(300, 30_000)
        for seq in range(1, 5):
            yield t, _icmp(client, client.mac, target, dmac, 8, ident, seq, self.ping_data), ("icmp",) if seq == 1 else None  # fmt: skip
            yield t + rtt, _icmp(target, dmac, client, client.mac, 0, ident, seq, self.ping_data), None
            t += 1_000_000


def write(path: str | Path, packets: int, seed: int = 1) -> dict[str, int]:
    """Write the first ``packets`` packets of the seeded stream to ``path`` (classic pcap,
    microseconds, Ethernet); return what was written, counted as the parser should find it."""
    world = _World(seed)
    rng = world.rng
    counts = dict.fromkeys(("tcp", "udp", "icmp", "dns", "tls", "http", "ssh", "fin", "rst"), 0)
    heap: list[tuple[int, int, Iterator[Packet], bytes, tuple[str, ...] | None]] = []
    serial = 0

    def start(sessions: list[Iterator[Packet]]) -> None:
        nonlocal serial
        for session in sessions:
            first = next(session, None)
            if first is not None:
                heapq.heappush(heap, (first[0], serial, session, first[1], first[2]))
                serial += 1

    start(world.long_lived(START_US))
    arrival = START_US
    mean_gap = 1_000_000 / SESSIONS_PER_S
    buffer: list[bytes] = []
    written = 0
    last = START_US
    with open(path, "wb") as fh:
        fh.write(_PCAP_HEADER)
        while written < packets:
            while arrival <= heap[0][0]:
                start(world.arrivals(arrival))
                arrival += int(rng.expovariate(1.0) * mean_gap) + 1
            last, _, session, frame, tags = heap[0]
            buffer.append(_RECORD(last // 1_000_000, last % 1_000_000, len(frame), len(frame)))
            buffer.append(frame)
            if tags:
                for tag in tags:
                    counts[tag] += 1
            written += 1
            following = next(session, None)
            if following is None:
                heapq.heappop(heap)
            else:
                heapq.heapreplace(heap, (following[0], serial, session, following[1], following[2]))
                serial += 1
            if len(buffer) >= 8192:
                fh.write(b"".join(buffer))
                buffer.clear()
        fh.write(b"".join(buffer))
    counts["connections"] = counts["tcp"] + counts["udp"] + counts["icmp"]
    counts["packets"] = written
    counts["seconds"] = (last - START_US) // 1_000_000
    return counts


def bench_file(packets: int) -> tuple[Path, dict[str, int]]:
    """``benchmarks/.cache/capture-<packets>.pcap`` and its counts, written once."""
    path = CACHE / f"capture-{packets}.pcap"
    meta = path.with_suffix(".json")
    if not (path.exists() and meta.exists()):
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        counts = write(tmp, packets)
        meta.write_text(json.dumps(counts, indent=1))
        tmp.replace(path)
    return path, json.loads(meta.read_text())


if __name__ == "__main__":
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    started = time.perf_counter()
    out, found = bench_file(size)
    print(f"{out} in {time.perf_counter() - started:.1f} s: {found}")
