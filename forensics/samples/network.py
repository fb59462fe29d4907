"""The sample case's LAN tap: a pcapng of the office switch's SPAN port on the attack morning.

Why: the network is the one witness the attacker cannot clean up. The capture must show the
same look-ups and connections as the host logs (``story.Attack``), byte for byte where the
traffic is clear text, buried in a realistic office morning, so that an analyst (or a tool
under test) has to find it the way one would in a real case.

What is written: ``network/lan-tap.pcapng`` (Ethernet, one interface, microsecond times,
fixed section header options), covering ``story.CAPTURE_START``..``story.CAPTURE_END``. Every
frame is a well-formed Ethernet/IPv4 frame (padded to 60 bytes as on the wire) with correct
lengths and checksums; TCP connections have a three-way handshake, MSS 1460 segments, slow
start, delayed ACKs and a FIN close; times follow ~0.3 ms LAN and 20-60 ms Internet RTTs as
seen from the tap. DC01 answers DNS for corp.example.com and forwards the rest to 192.0.2.53
with a TTL-honouring cache.

* Attack (``plan.lookups``/``plan.connections`` inside the window): DNS look-ups, the HTTP
  download, tool fetch and exfiltration POST with the plan's exact bytes, TLS 1.3 beacons with
  a Schannel-like ClientHello, and the SSH session WS01 -> SRV01 with a real banner and KEXINIT
  exchange, then encrypted bursts at the steps S12..S16 until the logout after the last one.
* Background (``story.rng(seed, "network")``, ``scale`` times the volume): browsing (DNS then
  Chromium-like TLS, resumed sessions after the first), update checks over HTTP, page views of
  the intranet app (intranet.corp.example.com on SRV01's nginx), bob's admin SSH from his
  laptop 10.20.0.35, the monitoring host's (10.20.0.60) five-minute sshd and /healthz checks,
  Kerberos and a Group Policy read of SYSVOL over SMB on DC01, NTP to the gateway, ARP, the DC
  locator, WPAD/typo NXDOMAINs; shaped by office hours (arrivals, a coffee dip, lunch) with
  per-user bursts. Host roles follow SRV01's logs: 10.20.0.40 CI runner, .50 NAS, .60 monitor
  (Linux); .41-.59 otherwise are the staff's Windows PCs.

A transaction (the report's ``events``) is a DNS look-up (client query and answer, including
DC01's forwarding), a TCP connection, a Kerberos UDP exchange, an NTP exchange or an ARP
request/reply pair.
"""

from __future__ import annotations

import itertools
import math
import random
import socket
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import cache, partial
from pathlib import Path

import dpkt

from forensics.samples import story
from forensics.samples.story import DC01, GATEWAY, SRV01, WS01, Attack, Connection, Lookup
from forensics.samples.truth import ArtifactReport, Ref

__all__ = ["ARTIFACT", "generate"]

ARTIFACT = "network/lan-tap.pcapng"
UPSTREAM_DNS = "192.0.2.53"  # the ISP resolver DC01 forwards to
ADMIN_LAPTOP = "10.20.0.35"  # bob's admin laptop
CI_RUNNER, NAS, MONITOR = "10.20.0.40", "10.20.0.50", "10.20.0.60"  # Linux servers, as SRV01's logs know them
OFFICE = [f"10.20.0.{n}" for n in range(41, 60) if n != 50]  # the staff's Windows PCs
CLIENTS = [WS01.ip, ADMIN_LAPTOP, *OFFICE]
MSS = 1460
NOISE_RATIO = 50  # background transactions per malicious one, at least
SSH_CLIENT_BANNER = b"SSH-2.0-OpenSSH_for_Windows_8.1"
SSH_SERVER_BANNER = b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6"
LOGOUT_AFTER = timedelta(seconds=5)  # the attacker types "exit" this long after the last SRV01 step

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SEC = 1_000_000
_FIN, _SYN, _PSH, _ACK = dpkt.tcp.TH_FIN, dpkt.tcp.TH_SYN, dpkt.tcp.TH_PUSH, dpkt.tcp.TH_ACK
_CLIENT, _SERVER = 0, 1
_MAX_CWND = 44  # segments: a 64 KiB receive window
_EDGE_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/145.0.0.0 Safari/537.36 Edg/145.0.0.0"
)

# ---------------------------------------------------------------------------------------------
# Clock, addresses and the hosts' TCP/IP stacks


def _us(when: datetime) -> int:
    """Microseconds since the epoch: the capture's exact integer clock."""
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _SEC + delta.microseconds


def _when(us: int) -> datetime:
    """The datetime of a capture time (µs since the epoch)."""
    return _EPOCH + timedelta(microseconds=us)


def _lan(ip: str) -> bool:
    """Whether an address is on the office LAN (else it sits behind the gateway)."""
    return ip.startswith("10.20.0.")


@cache
def _mac(ip: str) -> bytes:
    """LAN hosts follow story.py's MAC pattern (last octet's decimal digits); the rest is the gateway."""
    if not _lan(ip):
        return bytes.fromhex(GATEWAY.mac.replace(":", ""))
    known = {h.ip: h.mac for h in (WS01, SRV01, DC01, GATEWAY)}
    text = known.get(ip, f"52:54:00:3a:10:{int(ip.rsplit('.', 1)[1]):02d}")
    return bytes.fromhex(text.replace(":", ""))


@cache
def _ip(ip: str) -> bytes:
    """An IPv4 address as the 4 bytes packets carry."""
    return socket.inet_aton(ip)


@dataclass(frozen=True, slots=True)
class _Stack:
    """How a host's stack marks its packets, as OS fingerprinting would see them."""

    ttl: int  # as seen at the tap
    syn_win: int
    win: int  # window field after the handshake (scaled)
    syn_opts: bytes
    delack: int  # delayed-ACK timer, µs
    udp_df: bool


_WIN_OPTS = bytes.fromhex("020405b40103030801010402")  # MSS 1460, NOP, WS 8, NOP, NOP, SACK_PERM
_LINUX_OPTS = bytes.fromhex("020405b40101040201030307")  # MSS 1460, NOP, NOP, SACK_PERM, NOP, WS 7
_WINDOWS = _Stack(128, 64240, 513, _WIN_OPTS, 200_000, False)
_LINUX = _Stack(64, 64240, 502, _LINUX_OPTS, 40_000, True)


@cache
def _stack(ip: str) -> _Stack:
    """Windows for WS01, DC01 and the office PCs; Linux for SRV01, bob's laptop, the CI runner,
    NAS, monitor and gateway; Internet servers get a stable hop count and window from their address."""
    if ip in (WS01.ip, DC01.ip, *OFFICE):
        return _WINDOWS
    if _lan(ip):
        return _LINUX
    h = zlib.crc32(ip.encode())
    ttl = (52, 53, 54, 56, 57, 115, 117, 243)[h % 8]
    scale = (7, 9, 10)[h // 8 % 3]
    opts = bytes.fromhex("020405b401010402010303") + bytes([scale])  # MSS, NOP, NOP, SACK_PERM, NOP, WS
    return _Stack(ttl, 65160 if h % 2 else 64240, 131_072 >> scale, opts, 40_000, True)


@cache
def _wan_rtt(ip: str) -> int:
    """A stable base round trip (µs) from the tap to an Internet host, 20-60 ms."""
    return 20_000 + zlib.crc32(b"rtt" + ip.encode()) % 40_000


# ---------------------------------------------------------------------------------------------
# Frames and the capture


def _frame(src: str, dst: str, ip_id: int, df: bool, proto: dpkt.Packet, number: int) -> bytes:
    """Ethernet/IPv4 around a TCP or UDP packet; dpkt fills lengths and checksums; padded to
    the 60-byte Ethernet minimum as a SPAN port delivers it."""
    ip = dpkt.ip.IP(
        src=_ip(src), dst=_ip(dst), p=number, ttl=_stack(src).ttl, id=ip_id, df=int(df), data=proto
    )
    eth = dpkt.ethernet.Ethernet(src=_mac(src), dst=_mac(dst), type=dpkt.ethernet.ETH_TYPE_IP, data=ip)
    return bytes(eth).ljust(60, b"\x00")


def _flow(src: str, sport: int, dst: str, dport: int, proto: str) -> str:
    """A flow as the refs name it: ``src:sport > dst:dport/proto``."""
    return f"{src}:{sport} > {dst}:{dport}/{proto}"


@dataclass(frozen=True, slots=True)
class _Mark:
    """Names a malicious transaction's evidence packet for the report's refs."""

    step: str
    flow: str
    what: str


@dataclass
class _Capture:
    """Every frame seen at the tap, in generation order, with counters of transactions."""

    frames: list[tuple[int, int, int, bytes]] = field(default_factory=list)  # (µs, rank, serial, frame)
    marks: dict[int, tuple[_Mark, int]] = field(default_factory=dict)  # serial -> (mark, its anchor)
    anchors: dict[int, int] = field(default_factory=dict)  # serial -> µs it must keep
    last_anchor: int = -1
    background: int = 0
    malicious: int = 0

    def add(self, us: int, frame: bytes, mark: _Mark | None = None, anchor: bool = False) -> None:
        """Keep one frame; ``anchor`` frames (the plan's exact times) sort first among equals."""
        serial = len(self.frames)
        self.frames.append((us, 0 if anchor else 1, serial, frame))
        if anchor:
            self.anchors[serial], self.last_anchor = us, serial
        if mark:
            self.marks[serial] = (mark, self.last_anchor)

    def count(self, malicious: bool) -> None:
        """Count one transaction, malicious or background."""
        if malicious:
            self.malicious += 1
        else:
            self.background += 1


def _udp(
    cap: _Capture, rng: random.Random, t: int, src: str, sport: int, dst: str, dport: int, data: bytes,
    mark: _Mark | None = None,
) -> None:  # fmt: skip
    """One UDP datagram; a marked one is the plan's exact-time evidence."""
    udp = dpkt.udp.UDP(sport=sport, dport=dport, ulen=8 + len(data), data=data)
    frame = _frame(src, dst, rng.randrange(1, 65536), _stack(src).udp_df, udp, dpkt.ip.IP_PROTO_UDP)
    cap.add(t, frame, mark, anchor=mark is not None)


# ---------------------------------------------------------------------------------------------
# TCP


@dataclass
class _End:
    """One end of a TCP connection as the tap sees it."""

    ip: str
    port: int
    seq: int
    ip_id: int
    turn: int  # µs from the tap to this host and back, its stack's turnaround included
    byte_us: float  # µs per byte of its frames on the link toward the tap
    ack: int = 0
    sent_at: int = 0  # tap time of its last SYN, data or FIN
    owed: int = 0  # segments received and not yet acknowledged
    owed_at: int = 0  # when its delayed ACK would show
    cwnd: int = 10

    @property
    def stack(self) -> _Stack:
        """This host's stack (TTL, window, SYN options, delayed ACK)."""
        return _stack(self.ip)


class _Tcp:
    """One TCP connection: handshake, MSS segments with slow start and delayed ACKs, FIN close.
    Calls happen in causal order; each side's packets appear when its stack would send them."""

    def __init__(self, cap: _Capture, rng: random.Random, client: str, sport: int, server: str, dport: int):
        self.cap = cap
        self.ends = (self._end(rng, client, sport, server), self._end(rng, server, dport, client))
        self.label = _flow(client, sport, server, dport, "tcp")

    @staticmethod
    def _end(rng: random.Random, ip: str, port: int, peer: str) -> _End:
        """One end's round trip to the tap and link speed: LAN or Internet."""
        if _lan(ip):
            turn = rng.randint(110, 190)
            byte_us = 0.008 if _lan(peer) else 0.02  # 1 Gbit/s; the uplink shaper beyond the tap
        else:
            turn = int(_wan_rtt(ip) * rng.uniform(0.95, 1.12))
            byte_us = 1 / rng.choice((6.25, 12.5, 25.0))  # 50-200 Mbit/s downstream
        return _End(ip, port, rng.getrandbits(32), rng.randrange(65536), turn, byte_us)

    def _emit(
        self, src: _End, dst: _End, t: int, flags: int, data: bytes = b"", mark: _Mark | None = None,
        anchor: bool = False,
    ) -> None:  # fmt: skip
        """One segment from src at tap time t; advances src's sequence number."""
        opts = src.stack.syn_opts if flags & _SYN else b""
        tcp = dpkt.tcp.TCP(
            sport=src.port, dport=dst.port, seq=src.seq, ack=src.ack if flags & _ACK else 0, flags=flags,
            win=src.stack.syn_win if flags & _SYN else src.stack.win, opts=opts, off=5 + len(opts) // 4, data=data,
        )  # fmt: skip
        self.cap.add(t, _frame(src.ip, dst.ip, src.ip_id, True, tcp, dpkt.ip.IP_PROTO_TCP), mark, anchor)
        src.ip_id = (src.ip_id + 1) & 0xFFFF
        src.seq = (src.seq + len(data) + (1 if flags & (_SYN | _FIN) else 0)) & 0xFFFFFFFF
        dst.ack = src.seq

    def open(self, t: int, anchor: bool = False) -> int:
        """SYN at t, SYN/ACK, ACK; returns when the client's ACK shows."""
        c, s = self.ends
        self._emit(c, s, t, _SYN, anchor=anchor)
        self._emit(s, c, t + s.turn, _SYN | _ACK)
        self._emit(c, s, t + s.turn + c.turn, _ACK)
        c.sent_at, s.sent_at = t, t + s.turn
        return t + s.turn + c.turn

    def _start(self, who: int, think: int, at: int | None) -> int:
        """When side ``who`` can next send: after its own last packet and after the peer's last
        one has reached it, plus application think time (or at ``at`` if that is later)."""
        s, r = self.ends[who], self.ends[1 - who]
        ready = max(s.sent_at + 1, r.sent_at + s.turn)
        return max(ready, at) if at is not None else ready + think

    def _settle(self, end: _End, peer: _End, t: int, sending: bool) -> None:
        """``end``'s delayed ACK goes out alone if its timer fires by t; if ``end`` sends at t,
        a later one rides on that segment instead. Settled before the peer's next segment, so
        no ACK ever covers bytes that show after it."""
        if end.owed and end.owed_at <= t:
            self._emit(end, peer, end.owed_at, _ACK)
            end.owed = 0
        elif sending:
            end.owed = 0

    def send(
        self, who: int, data: bytes, think: int = 0, at: int | None = None, mark: _Mark | None = None
    ) -> int:
        """Side ``who`` writes data: MSS segments in slow-start rounds, the peer ACKing every
        second one at once and a lone last one after its delayed-ACK timer. Returns the first
        segment's time."""
        s, r = self.ends[who], self.ends[1 - who]
        t = self._start(who, think, at)
        self._settle(r, s, t + r.turn, sending=False)
        self._settle(s, r, t, sending=True)
        first, room, round_ack = t, s.cwnd, 0
        for i in range(0, len(data), MSS):
            if room == 0:
                t = max(t, round_ack + s.turn)
                s.cwnd = min(2 * s.cwnd, _MAX_CWND)
                room, round_ack = s.cwnd, 0
            chunk = data[i : i + MSS]
            self._emit(
                s, r, t, _ACK | (_PSH if i + MSS >= len(data) else 0), chunk, mark=mark if i == 0 else None
            )
            s.sent_at, r.owed, room = t, r.owed + 1, room - 1
            if r.owed >= 2:
                self._emit(r, s, t + r.turn, _ACK)
                round_ack, r.owed = round_ack or t + r.turn, 0
            else:
                r.owed_at = t + r.turn + r.stack.delack
            t += max(1, round((len(chunk) + 54) * s.byte_us))
        return first

    def close(self, who: int, think: int = 0) -> int:
        """``who`` sends FIN; the peer answers FIN/ACK at once; ``who`` ACKs. Returns the last time."""
        s, r = self.ends[who], self.ends[1 - who]
        t = self._start(who, think, None)
        t2 = t + r.turn
        self._settle(r, s, t2, sending=True)
        self._settle(s, r, t, sending=True)
        self._emit(s, r, t, _FIN | _ACK)
        self._emit(r, s, t2, _FIN | _ACK)
        self._emit(s, r, t2 + s.turn, _ACK)
        return t2 + s.turn


# ---------------------------------------------------------------------------------------------
# Byte builders: helpers, DNS, HTTP


def _u16(n: int) -> bytes:
    return struct.pack("!H", n)


def _u24(n: int) -> bytes:
    return struct.pack("!I", n)[1:]


def _v8(b: bytes) -> bytes:
    return bytes([len(b)]) + b


def _v16(b: bytes) -> bytes:
    return _u16(len(b)) + b


def _http_date(us: int) -> str:
    """An HTTP Date header value (RFC 7231, GMT) for a capture time."""
    return format_datetime(_when(us).replace(microsecond=0), usegmt=True)


def _dns_query(txid: int, name: str, qtype: int, edns: bool) -> dpkt.dns.DNS:
    """A recursive query as Windows sends it; DC01's forwarded ones carry an EDNS OPT record."""
    q = dpkt.dns.DNS(id=txid, op=0x0100, qd=[dpkt.dns.DNS.Q(name=name, type=qtype, cls=dpkt.dns.DNS_IN)])
    if edns:
        q.ar = [dpkt.dns.DNS.RR(name="", type=dpkt.dns.DNS_OPT, cls=4000, ttl=0)]
    return q


def _dns_reply(query: dpkt.dns.DNS, rcode: int, an: list, ns: list, aa: bool, udp: int = 0) -> bytes:
    """The answer to ``query``: same id and question, QR+RD+RA (+AA for DC01's own zone)."""
    reply = dpkt.dns.DNS(
        id=query.id, op=0x8180 | (0x0400 if aa else 0) | rcode, qd=query.qd, an=an, ns=ns,
        ar=[dpkt.dns.DNS.RR(name="", type=dpkt.dns.DNS_OPT, cls=udp, ttl=0)] if udp else [],
    )  # fmt: skip
    return bytes(reply)


def _http_response(
    us: int, status: str, body: bytes, ctype: str, extra: str = "", server: str = "nginx"
) -> bytes:
    """A response head (status, Server, Date, type and length when there is a body) and its body."""
    head = f"HTTP/1.1 {status}\r\nServer: {server}\r\nDate: {_http_date(us)}\r\n"
    if body or status.startswith("200"):
        head += f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
    return (head + extra + "\r\n").encode() + body


# ---------------------------------------------------------------------------------------------
# DNS service on DC01


#: Internet names of the background: addresses (none of the attacker's) and TTL.
SITES: dict[str, tuple[tuple[str, ...], int]] = {
    "www.example.com": (("192.0.2.10",), 300),
    "login.example.com": (("192.0.2.25",), 300),
    "api.example.com": (("192.0.2.31", "192.0.2.32"), 60),
    "analytics.example.com": (("192.0.2.140",), 300),
    "mail.example.com": (("198.51.100.60",), 300),
    "news.example.org": (("198.51.100.41", "198.51.100.42"), 120),
    "docs.example.org": (("198.51.100.12",), 3600),
    "cdn.example.net": (("203.0.113.15", "203.0.113.16"), 60),
    "static.example.net": (("203.0.113.30",), 600),
    "fonts.example.net": (("203.0.113.44",), 3600),
    "update.example.com": (("203.0.113.90",), 3600),
}
#: A page view: its host and the hosts its sub-resources come from.
PAGES = (
    ("mail.example.com", ("api.example.com", "static.example.net")),
    ("www.example.com", ("cdn.example.net", "static.example.net", "analytics.example.com")),
    ("news.example.org", ("cdn.example.net", "fonts.example.net", "analytics.example.com")),
    ("login.example.com", ("static.example.net",)),
    ("docs.example.org", ("fonts.example.net", "cdn.example.net")),
)
_PAGE_WEIGHTS = (5, 3, 3, 1, 2)
#: Misspelt names users type (forwarded, NXDOMAIN upstream).
TYPOS = ("wwww.example.com", "mial.example.com", "nwes.example.org", "logon.example.com", "doc.example.org")
_ZONE = story.DOMAIN.lower()
_ZONE_HOSTS = {"dc01": DC01.ip, "srv01": SRV01.ip, "ws01": WS01.ip, "gw": GATEWAY.ip}
_ZONE_ALIASES = {"intranet": "srv01"}  # CNAMEs
_LDAP_SRV = f"_ldap._tcp.dc._msdcs.{_ZONE}"


def _soa(zone: str, ttl: int) -> dpkt.dns.DNS.RR:
    """The zone's SOA record, as NXDOMAIN answers carry it in their authority section."""
    return dpkt.dns.DNS.RR(
        name=zone, type=dpkt.dns.DNS_SOA, cls=dpkt.dns.DNS_IN, ttl=ttl, mname=f"ns1.{zone}",
        rname=f"hostmaster.{zone}", serial=2026030901, refresh=900, retry=600, expire=86400, minimum=300,
    )  # fmt: skip


def _a(name: str, ip: str, ttl: int) -> dpkt.dns.DNS.RR:
    """An A record."""
    return dpkt.dns.DNS.RR(name=name, type=dpkt.dns.DNS_A, cls=dpkt.dns.DNS_IN, ttl=ttl, ip=_ip(ip))


class _Resolver:
    """DC01's DNS server: authoritative for corp.example.com, forwarding other names to
    192.0.2.53 and caching answers (and NXDOMAINs) for their TTL."""

    def __init__(self, cap: _Capture, plan: Attack):
        self.cap = cap
        self.cache: dict[tuple[str, int], int] = {}  # (name, qtype) -> expiry µs
        self.attacker = {lk.name: lk.answer for lk in plan.lookups}

    def _external(self, name: str) -> tuple[tuple[str, ...], int] | None:
        """An Internet name's addresses and TTL: the attacker's from the plan, else the background sites."""
        if name in self.attacker:
            return (self.attacker[name],), 86_400  # long TTL: the implant never looks it up again
        return SITES.get(name)

    def _internal(self, query: dpkt.dns.DNS) -> bytes:
        """DC01 answers its own zone: host A records, the DC locator SRV, else NXDOMAIN."""
        q = query.qd[0]
        host = q.name[: -len(_ZONE) - 1].lower()
        if q.type == dpkt.dns.DNS_SRV and q.name.lower() == _LDAP_SRV:
            srv = dpkt.dns.DNS.RR(
                name=q.name, type=dpkt.dns.DNS_SRV, cls=dpkt.dns.DNS_IN, ttl=600, priority=0, weight=100,
                port=389, srvname=DC01.fqdn.lower(),
            )  # fmt: skip
            return _dns_reply(query, 0, [srv], [], aa=True)
        if q.type == dpkt.dns.DNS_A and host in _ZONE_ALIASES:
            target = f"{_ZONE_ALIASES[host]}.{_ZONE}"
            alias = dpkt.dns.DNS.RR(
                name=q.name, type=dpkt.dns.DNS_CNAME, cls=dpkt.dns.DNS_IN, ttl=1200, cname=target
            )
            return _dns_reply(
                query, 0, [alias, _a(target, _ZONE_HOSTS[_ZONE_ALIASES[host]], 1200)], [], aa=True
            )
        if q.type == dpkt.dns.DNS_A and host in _ZONE_HOSTS:
            return _dns_reply(query, 0, [_a(q.name, _ZONE_HOSTS[host], 1200)], [], aa=True)
        return _dns_reply(query, 3, [], [_soa(_ZONE, 3600)], aa=True)

    def lookup(
        self, rng: random.Random, t: int, client: str, sport: int, name: str, qtype: int = dpkt.dns.DNS_A,
        mark: _Mark | None = None,
    ) -> tuple[int, str | None]:  # fmt: skip
        """Query at t from client:sport; returns when the answer shows and the first address."""
        query = _dns_query(rng.randrange(65536), name, qtype, edns=False)
        _udp(self.cap, rng, t, client, sport, DC01.ip, 53, bytes(query), mark)
        t += rng.randint(150, 450)
        if name.lower().endswith("." + _ZONE):
            reply = self._internal(query)
        else:
            t, reply = self._recurse(rng, t, query)
        _udp(self.cap, rng, t, DC01.ip, 53, client, sport, reply)
        found = [rr for rr in dpkt.dns.DNS(reply).an if rr.type == dpkt.dns.DNS_A]
        return t, socket.inet_ntoa(found[0].ip) if found else None

    def _recurse(self, rng: random.Random, t: int, query: dpkt.dns.DNS) -> tuple[int, bytes]:
        """Answer from the cache (TTL counted down) or forward upstream and cache the result."""
        name, qtype = query.qd[0].name, query.qd[0].type
        known = self._external(name)
        expiry = self.cache.get((name, qtype), 0)
        if expiry > t:
            left = max(1, (expiry - t) // _SEC)
            if known:
                return t, _dns_reply(query, 0, [_a(name, ip, left) for ip in known[0]], [], aa=False)
            return t, _dns_reply(query, 3, [], [_soa(_parent(name), left)], aa=False)
        fwd = _dns_query(rng.randrange(65536), name, qtype, edns=True)
        port = rng.randint(49152, 65535)
        _udp(self.cap, rng, t, DC01.ip, port, UPSTREAM_DNS, 53, bytes(fwd))
        t += int(_wan_rtt(UPSTREAM_DNS) * rng.uniform(0.95, 1.1)) + rng.randint(100, 4000)
        if known:
            ttl = rng.randint(max(1, known[1] * 2 // 3), known[1])
            up = _dns_reply(fwd, 0, [_a(name, ip, ttl) for ip in known[0]], [], aa=False, udp=1232)
            mine = _dns_reply(query, 0, [_a(name, ip, ttl) for ip in known[0]], [], aa=False)
        else:
            ttl = 300
            up = _dns_reply(fwd, 3, [], [_soa(_parent(name), ttl)], aa=False, udp=1232)
            mine = _dns_reply(query, 3, [], [_soa(_parent(name), ttl)], aa=False)
        _udp(self.cap, rng, t, UPSTREAM_DNS, 53, DC01.ip, port, up)
        self.cache[(name, qtype)] = t + ttl * _SEC
        return t + rng.randint(90, 300), mine


def _parent(name: str) -> str:
    """The registered domain of a name (the zone whose SOA an NXDOMAIN cites)."""
    return ".".join(name.split(".")[-2:])


# ---------------------------------------------------------------------------------------------
# TLS 1.3


def _ext(kind: int, body: bytes) -> bytes:
    """A TLS extension: type, length, body."""
    return _u16(kind) + _v16(body)


def _record(kind: int, body: bytes, version: int = 0x0303) -> bytes:
    """A TLS record: content type, version, length, body."""
    return bytes([kind]) + _u16(version) + _v16(body)


def _sealed(rng: random.Random, size: int) -> bytes:
    """An encrypted TLS 1.3 record (application_data) of ``size`` ciphertext bytes."""
    return _record(23, rng.randbytes(size))


def _sealed_data(rng: random.Random, plain: int) -> bytes:
    """``plain`` bytes of application data as 16 KiB records (+1 type byte, +16 tag each)."""
    parts, left = [], max(1, plain)
    while left > 0:
        n = min(left, 16_384)
        parts.append(_sealed(rng, n + 17))
        left -= n
    return b"".join(parts)


_CCS = _record(20, b"\x01")
_SIGALGS = (0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0201, 0x0403, 0x0503, 0x0203, 0x0202, 0x0601, 0x0603)
_SCHANNEL_SUITES = (
    0x1302, 0x1301, 0xC02C, 0xC02B, 0xC030, 0xC02F, 0xC024, 0xC023, 0xC028, 0xC027, 0xC00A, 0xC009,
    0xC014, 0xC013, 0x009D, 0x009C, 0x003D, 0x003C, 0x0035, 0x002F, 0x000A,
)  # fmt: skip
_CHROMIUM_SUITES = (
    0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035,
)  # fmt: skip
_ALPN = _v16(_v8(b"h2") + _v8(b"http/1.1"))


def _list16(values: tuple[int, ...] | list[int]) -> bytes:
    """16-bit values, big-endian, back to back (cipher suites, groups, versions)."""
    return b"".join(_u16(v) for v in values)


def _sni(name: str) -> bytes:
    """The server_name extension for one host name."""
    return _ext(0, _v16(b"\x00" + _v16(name.encode())))


def _schannel_exts(rng: random.Random, sni: str) -> bytes:
    """Windows Schannel's extension set and order (TLS 1.3 enabled), no GREASE."""
    return b"".join((
        _sni(sni), _ext(5, b"\x01\x00\x00\x00\x00"), _ext(10, _v16(_list16((0x1D, 0x17, 0x18)))),
        _ext(11, _v8(b"\x00")), _ext(13, _v16(_list16(_SIGALGS))), _ext(35, b""), _ext(16, _ALPN),
        _ext(23, b""), _ext(0xFF01, b"\x00"), _ext(43, _v8(_list16((0x0304, 0x0303)))), _ext(45, _v8(b"\x01")),
        _ext(51, _v16(_u16(0x1D) + _v16(rng.randbytes(32)))),
    ))  # fmt: skip


def _chromium_exts(rng: random.Random, sni: str, resume: bool, hello_len: int) -> bytes:
    """Chromium's set: GREASE first and last, the rest shuffled per connection, padding to 512
    bytes (BoringSSL), pre_shared_key last when resuming."""
    grease = [0x0A0A + 0x1010 * rng.randrange(16) for _ in range(4)]
    middle = [
        _sni(sni), _ext(23, b""), _ext(0xFF01, b"\x00"), _ext(10, _v16(_list16((grease[1], 0x1D, 0x17, 0x18)))),
        _ext(11, _v8(b"\x00")), _ext(35, b""), _ext(16, _ALPN), _ext(5, b"\x01\x00\x00\x00\x00"),
        _ext(13, _v16(_list16((0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)))), _ext(18, b""),
        _ext(51, _v16(_u16(grease[1]) + _v16(b"\x00") + _u16(0x1D) + _v16(rng.randbytes(32)))),
        _ext(45, _v8(b"\x01")), _ext(43, _v8(_list16((grease[2], 0x0304, 0x0303)))), _ext(27, _v8(_u16(2))),
        _ext(17513, _v16(_v8(b"h2"))),
    ]  # fmt: skip
    rng.shuffle(middle)
    exts = _ext(grease[0], b"") + b"".join(middle) + _ext(grease[3], b"\x00")
    psk = b""
    if resume:
        ident = _v16(rng.randbytes(rng.choice((160, 176, 192)))) + struct.pack("!I", rng.getrandbits(32))
        psk = _ext(41, _v16(ident) + _v16(_v8(rng.randbytes(32))))
    size = hello_len + 2 + len(exts) + len(psk)
    if 0xFF < size < 0x200:
        exts += _ext(21, bytes(max(1, 0x200 - size - 4)))
    return exts + psk


def _client_hello(rng: random.Random, sni: str, chromium: bool, resume: bool = False) -> tuple[bytes, bytes]:
    """A ClientHello record and its session id (TLS 1.3 middlebox-compatibility mode)."""
    session = rng.randbytes(32)
    suites = ([0x0A0A + 0x1010 * rng.randrange(16)] if chromium else []) + list(
        _CHROMIUM_SUITES if chromium else _SCHANNEL_SUITES
    )
    head = _u16(0x0303) + rng.randbytes(32) + _v8(session) + _v16(_list16(suites)) + b"\x01\x00"
    exts = _chromium_exts(rng, sni, resume, 4 + len(head)) if chromium else _schannel_exts(rng, sni)
    body = head + _v16(exts)
    return _record(22, b"\x01" + _u24(len(body)) + body, version=0x0301), session


def _server_hello(rng: random.Random, session: bytes, suite: int, resume: bool) -> bytes:
    """ServerHello (TLS 1.3 in supported_versions, x25519 key share) and the compat CCS."""
    exts = _ext(43, _u16(0x0304)) + _ext(51, _u16(0x1D) + _v16(rng.randbytes(32)))
    if resume:
        exts += _ext(41, _u16(0))
    body = _u16(0x0303) + rng.randbytes(32) + _v8(session) + _u16(suite) + b"\x00" + _v16(exts)
    return _record(22, b"\x02" + _u24(len(body)) + body) + _CCS


def _tls(
    flow: _Tcp, rng: random.Random, sni: str, chromium: bool, resume: bool, cert: int,
    exchanges: list[tuple[int, int, int]], mark: _Mark | None = None,
) -> int:  # fmt: skip
    """A TLS 1.3 connection: hello, server flight (``cert`` bytes of encrypted handshake),
    client Finished, then (think µs, request bytes, response bytes) exchanges and close_notify."""
    hello, session = _client_hello(rng, sni, chromium, resume)
    flow.send(_CLIENT, hello, think=rng.randint(200, 1500), mark=mark)
    suite = 0x1302 if not chromium else 0x1301
    finished = 69 if suite == 0x1302 else 53
    flight = _server_hello(rng, session, suite, resume) + _sealed(rng, 90 if resume else cert)
    flow.send(_SERVER, flight, think=rng.randint(300, 2500))
    first = True
    for think, up, down in exchanges:
        lead = (_CCS + _sealed(rng, finished)) if first else b""
        flow.send(_CLIENT, lead + _sealed_data(rng, up), think=rng.randint(200, 900) if first else think)
        if first:  # NewSessionTicket: two after a full handshake, one after a resumption
            tickets = b"".join(_sealed(rng, rng.choice((233, 249, 265))) for _ in range(1 if resume else 2))
            flow.send(_SERVER, tickets, think=rng.randint(100, 600))
        flow.send(_SERVER, _sealed_data(rng, down), think=rng.randint(2_000, 60_000))
        first = False
    who = _CLIENT if rng.random() < 0.6 else _SERVER
    idle = rng.randint(50_000, 900_000) if mark else rng.randint(5, 120) * _SEC
    flow.send(who, _sealed(rng, 19), think=idle)
    return flow.close(who, think=rng.randint(20, 200))


# ---------------------------------------------------------------------------------------------
# SSH


def _ssh_string(b: bytes) -> bytes:
    """An SSH ``string``: 32-bit length and bytes."""
    return struct.pack("!I", len(b)) + b


def _ssh_plain(rng: random.Random, payload: bytes) -> bytes:
    """A binary packet before NEWKEYS: length, padding length, payload, 4+ bytes of padding."""
    pad = 8 - (5 + len(payload)) % 8
    pad += 8 if pad < 4 else 0
    return struct.pack("!IB", 1 + len(payload) + pad, pad) + payload + rng.randbytes(pad)


def _ssh_sealed(rng: random.Random, payload: int) -> bytes:
    """A chacha20-poly1305@openssh.com packet carrying ``payload`` bytes: 4 + padded + 16 tag."""
    body = 1 + payload
    pad = 8 - body % 8
    pad += 8 if pad < 4 else 0
    return rng.randbytes(4 + body + pad + 16)


def _ssh_data(rng: random.Random, size: int) -> bytes:
    """Channel data (shell output) of ``size`` bytes as sshd writes it, up to 4 KiB per packet."""
    out = []
    while size > 0:
        n = min(size, rng.choice((1024, 2048, 4096)))
        out.append(_ssh_sealed(rng, 9 + n))
        size -= n
    return b"".join(out)


_KEX_WIN81 = (
    "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,"
    "diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,"
    "diffie-hellman-group14-sha256,diffie-hellman-group14-sha1,ext-info-c"
)
_KEX_96 = (
    "sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,"
    "ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,"
    "diffie-hellman-group18-sha512,diffie-hellman-group14-sha256,ext-info-c,kex-strict-c-v00@openssh.com"
)
_KEX_SERVER = (
    "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,"
    "sntrup761x25519-sha512@openssh.com,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,"
    "diffie-hellman-group18-sha512,diffie-hellman-group14-sha256"
)
_HOSTKEYS_WIN81 = (
    "ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384-cert-v01@openssh.com,"
    "ssh-ed25519-cert-v01@openssh.com,rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,"
    "ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,ssh-ed25519,rsa-sha2-512,rsa-sha2-256,ssh-rsa"
)
_HOSTKEYS_96 = "ssh-ed25519-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256"
_HOSTKEYS_SERVER = "rsa-sha2-512,rsa-sha2-256,ecdsa-sha2-nistp256,ssh-ed25519"
_CIPHERS = "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com"
_MACS = (
    "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,"
    "hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1"
)


def _kexinit(rng: random.Random, kex: str, hostkeys: str, compression: str) -> bytes:
    """SSH_MSG_KEXINIT: cookie and the ten name-lists, as OpenSSH sends them."""
    lists = (kex, hostkeys, _CIPHERS, _CIPHERS, _MACS, _MACS, compression, compression, "", "")
    body = b"\x14" + rng.randbytes(16) + b"".join(_ssh_string(x.encode()) for x in lists) + b"\x00" + bytes(4)
    return _ssh_plain(rng, body)


def _ssh_kex(rng: random.Random, client_kex: str, client_hostkeys: str) -> tuple[bytes, bytes, bytes]:
    """The client's KEX init, the server's reply + NEWKEYS and the client's NEWKEYS for the first
    kex and host key algorithm of the client that the server also offers."""
    kex = next(k for k in client_kex.split(",") if k in _KEX_SERVER.split(","))
    hostkey = next(k for k in client_hostkeys.split(",") if k in _HOSTKEYS_SERVER.split(","))
    pq = kex.startswith("sntrup761")
    client_pub, server_pub = (1190, 1071) if pq else (32, 32)
    if hostkey == "ssh-ed25519":
        blob = _ssh_string(b"ssh-ed25519") + _ssh_string(rng.randbytes(32))
        sig = _ssh_string(b"ssh-ed25519") + _ssh_string(rng.randbytes(64))
    else:
        blob = (
            _ssh_string(hostkey.encode())
            + _ssh_string(b"nistp256")
            + _ssh_string(b"\x04" + rng.randbytes(64))
        )
        sig = _ssh_string(hostkey.encode()) + _ssh_string(
            _ssh_string(rng.randbytes(33)) + _ssh_string(rng.randbytes(32))
        )
    init = _ssh_plain(rng, b"\x1e" + _ssh_string(rng.randbytes(client_pub)))
    reply = b"\x1f" + _ssh_string(blob) + _ssh_string(rng.randbytes(server_pub)) + _ssh_string(sig)
    newkeys = _ssh_plain(rng, b"\x15")
    return init, _ssh_plain(rng, reply) + newkeys, newkeys


class _Ssh:
    """An interactive OpenSSH session over a ``_Tcp``: banners, key exchange, authentication,
    a shell, typed or pasted commands with their output, logout."""

    def __init__(self, flow: _Tcp, rng: random.Random):
        self.flow, self.rng = flow, rng

    def handshake(self, banner: bytes, kex: str, hostkeys: str, mark: _Mark | None = None) -> None:
        """Banners (client first, as OpenSSH does), KEXINITs, ECDH/sntrup exchange, NEWKEYS."""
        f, r = self.flow, self.rng
        f.send(_CLIENT, banner + b"\r\n", think=r.randint(800, 3000), mark=mark)
        f.send(_SERVER, SSH_SERVER_BANNER + b"\r\n", think=r.randint(2000, 9000))
        f.send(_CLIENT, _kexinit(r, kex, hostkeys, "none,zlib@openssh.com,zlib"), think=r.randint(300, 2000))
        f.send(
            _SERVER,
            _kexinit(r, _KEX_SERVER, _HOSTKEYS_SERVER, "none,zlib@openssh.com"),
            think=r.randint(300, 900),
        )
        init, reply, newkeys = _ssh_kex(r, kex, hostkeys)
        f.send(_CLIENT, init, think=r.randint(400, 3000))
        f.send(_SERVER, reply, think=r.randint(1500, 6000))
        f.send(_CLIENT, newkeys + _ssh_sealed(r, 17), think=r.randint(2000, 40_000))  # + SERVICE_REQUEST

    def login(self, password: bool) -> None:
        """ssh-userauth: none, then a typed password or a public key, then the shell and the MOTD."""
        f, r = self.flow, self.rng
        f.send(
            _SERVER, _ssh_sealed(r, 190) + _ssh_sealed(r, 17), think=r.randint(200, 900)
        )  # EXT_INFO, ACCEPT
        f.send(_CLIENT, _ssh_sealed(r, 34), think=r.randint(200, 900))  # USERAUTH_REQUEST none
        f.send(_SERVER, _ssh_sealed(r, 24), think=r.randint(800, 3000))  # FAILURE publickey,password
        if password:
            f.send(_CLIENT, _ssh_sealed(r, 60), think=r.randint(2, 6) * _SEC + r.randint(0, 999_999))
        else:
            f.send(_CLIENT, _ssh_sealed(r, 110), think=r.randint(1000, 8000))  # publickey query
            f.send(_SERVER, _ssh_sealed(r, 90), think=r.randint(300, 1500))  # PK_OK
            f.send(_CLIENT, _ssh_sealed(r, 200), think=r.randint(3000, 15_000))  # signed request
        f.send(
            _SERVER, _ssh_sealed(r, 1) + _ssh_sealed(r, 680), think=r.randint(20_000, 200_000)
        )  # SUCCESS, hostkeys
        f.send(_CLIENT, _ssh_sealed(r, 24), think=r.randint(500, 3000))  # CHANNEL_OPEN session
        f.send(_SERVER, _ssh_sealed(r, 17), think=r.randint(2000, 9000))  # OPEN_CONFIRMATION
        f.send(
            _CLIENT, _ssh_sealed(r, 320) + _ssh_sealed(r, 40) + _ssh_sealed(r, 24), think=r.randint(300, 1500)
        )
        f.send(
            _SERVER,
            _ssh_sealed(r, 9) + _ssh_sealed(r, 5) * 2 + _ssh_data(r, r.randint(1500, 1900)),
            think=r.randint(9000, 40_000),
        )

    def command(self, enter: int, chars: int, output: int, pasted: bool) -> None:
        """A command whose Enter key reaches the tap at ``enter``: typed key by key with echoes
        (36-byte packets) or pasted in one packet, then ``output`` bytes of shell output."""
        f, r = self.flow, self.rng
        if pasted:
            f.send(_CLIENT, _ssh_sealed(r, 9 + chars), at=enter - r.randint(300_000, 900_000))
            f.send(_SERVER, _ssh_sealed(r, 9 + chars), think=r.randint(150, 400))
        else:
            gaps = [r.randint(90_000, 260_000) for _ in range(chars + 1)]
            t = enter - sum(gaps)
            for gap in gaps[:-1]:
                t += gap
                f.send(_CLIENT, _ssh_sealed(r, 10), at=t)
                f.send(_SERVER, _ssh_sealed(r, 10), think=r.randint(100, 300))
        f.send(_CLIENT, _ssh_sealed(r, 10), at=enter)
        f.send(_SERVER, _ssh_sealed(r, 11), think=r.randint(100, 300))
        f.send(_SERVER, _ssh_data(r, output), think=r.randint(3_000, 400_000))

    def logout(self, enter: int) -> None:
        """``exit``: the shell says logout, the channel closes, the client disconnects and closes."""
        f, r = self.flow, self.rng
        self.command(enter, 4, 8, pasted=False)
        f.send(
            _SERVER, _ssh_sealed(r, 24) + _ssh_sealed(r, 5) + _ssh_sealed(r, 5), think=r.randint(2000, 9000)
        )
        f.send(_CLIENT, _ssh_sealed(r, 5) + _ssh_sealed(r, 40), think=r.randint(300, 1200))
        f.close(_CLIENT, think=r.randint(200, 900))


# ---------------------------------------------------------------------------------------------
# The attack


def _http_what(conn: Connection) -> str:
    """One line: method, URL and sizes of a plan HTTP exchange."""
    method, path = conn.request.split(b"\r\n", 1)[0].decode().split(" ")[:2]
    status = conn.response.split(b"\r\n", 1)[0].decode().split(" ", 1)[1]
    up = len(conn.request) - conn.request.index(b"\r\n\r\n") - 4
    down = len(conn.response) - conn.response.index(b"\r\n\r\n") - 4
    sent = f" with a {up}-byte body" if up else ""
    return f"HTTP {method} http://{conn.server_name or conn.dst}{path}{sent} -> {status}, {down}-byte body"


def _attack_lookup(cap: _Capture, res: _Resolver, rng: random.Random, lk: Lookup) -> None:
    """A plan look-up: the client's query at the plan's time, DC01 forwarding it, the answer."""
    mark = _Mark(lk.step, _flow(lk.client, lk.sport, DC01.ip, 53, "udp"), f"DNS A {lk.name} -> {lk.answer}")
    res.lookup(rng, _us(lk.time), lk.client, lk.sport, lk.name, mark=mark)
    cap.count(malicious=True)


def _attack_http(cap: _Capture, rng: random.Random, conn: Connection) -> None:
    """The plan's HTTP exchange, exact bytes both ways; the server closes (Connection: close)."""
    flow = _Tcp(cap, rng, conn.src, conn.sport, conn.dst, conn.dport)
    flow.open(_us(conn.time), anchor=True)
    flow.send(
        _CLIENT,
        conn.request,
        think=rng.randint(300, 1500),
        mark=_Mark(conn.step, flow.label, _http_what(conn)),
    )
    flow.send(_SERVER, conn.response, think=rng.randint(4_000, 30_000))
    flow.close(_SERVER, think=rng.randint(50, 400))
    cap.count(malicious=True)


def _attack_tls(cap: _Capture, rng: random.Random, conn: Connection) -> None:
    """A beacon: Schannel ClientHello with the plan's SNI, self-signed server flight, a few
    small request/response records, close."""
    flow = _Tcp(cap, rng, conn.src, conn.sport, conn.dst, conn.dport)
    flow.open(_us(conn.time), anchor=True)
    what = f"TLS ClientHello SNI {conn.server_name} -> {conn.dst}:{conn.dport}"
    rounds = [
        (rng.randint(20_000, 300_000), rng.randint(200, 600), rng.randint(200, 600))
        for _ in range(rng.randint(1, 2))
    ]
    _tls(
        flow,
        rng,
        conn.server_name,
        False,
        False,
        rng.randint(1050, 1300),
        rounds,
        mark=_Mark(conn.step, flow.label, what),
    )
    cap.count(malicious=True)


#: Shell work at each SRV01 step: (characters pasted, bytes of output), larger than idle commands.
_STEP_BURSTS = {"S12": (83, 2600), "S13": (96, 1400), "S14": (46, 5200), "S15": (88, 3100), "S16": (38, 1200)}


def _attack_ssh(cap: _Capture, rng: random.Random, conn: Connection, plan: Attack) -> None:
    """bob's stolen password from WS01: banners, KEX, password login, recon typed between the
    steps, each SRV01 step pasted with a larger output burst, ``exit`` after the last one."""
    flow = _Tcp(cap, rng, conn.src, conn.sport, conn.dst, conn.dport)
    flow.open(_us(conn.time), anchor=True)
    ssh = _Ssh(flow, rng)
    what = f"SSH {SSH_CLIENT_BANNER.decode()} -> {conn.dst}:{conn.dport}"
    ssh.handshake(SSH_CLIENT_BANNER, _KEX_WIN81, _HOSTKEYS_WIN81, mark=_Mark(conn.step, flow.label, what))
    ssh.login(password=True)
    steps = [s for s in plan.steps if s.host == SRV01.name and s.time > conn.time]
    logout = _us(steps[-1].time + LOGOUT_AFTER)
    cursor = flow.ends[_SERVER].sent_at
    for step in steps:
        enter = _us(step.time) - rng.randint(8_000, 40_000)
        _idle_commands(ssh, rng, cursor, enter - 25 * _SEC)
        chars, output = _STEP_BURSTS.get(step.id, (60, 1500))
        ssh.command(enter, chars, output + rng.randint(-200, 200), pasted=True)
        cursor = enter + 3 * _SEC
    ssh.logout(logout)
    cap.count(malicious=True)


def _idle_commands(ssh: _Ssh, rng: random.Random, start: int, end: int) -> None:
    """Short typed commands (ls, id, cat ...) with small outputs, every 10-40 s in [start, end)."""
    t = start + rng.randint(3, 10) * _SEC
    while True:
        chars = rng.randint(2, 24)
        enter = t + chars * 260_000 + 300_000
        if enter >= end:
            return
        ssh.command(enter, chars, rng.randint(40, 900), pasted=False)
        t = enter + rng.randint(8, 40) * _SEC


# ---------------------------------------------------------------------------------------------
# The office's day


_DAY_SHAPE = ((8.0, 0.2), (8.75, 1.0), (10.2, 1.0), (10.3, 0.65), (10.55, 0.65), (10.65, 1.0), (12.0, 0.95),
              (12.1, 0.4), (12.8, 0.45), (13.0, 0.8))  # fmt: skip


def _activity(us: int) -> float:
    """Office activity (0..1) at a UTC time: arrivals, a coffee dip, lunch."""
    h = (us - _us(story.ATTACK_DAY)) / 3600 / _SEC
    for (h0, v0), (h1, v1) in itertools.pairwise(_DAY_SHAPE):
        if h0 <= h <= h1:
            return v0 + (v1 - v0) * (h - h0) / (h1 - h0)
    return _DAY_SHAPE[-1][1] if h > _DAY_SHAPE[-1][0] else _DAY_SHAPE[0][1]


@dataclass
class _Office:
    """Who is at their desk when: arrival and lunch per client, and the ports in use."""

    start: int
    end: int
    arrive: dict[str, int]
    lunch: dict[str, tuple[int, int]]
    reserved: set[tuple[str, int]]

    def present(self, ip: str, t: int) -> bool:
        """Whether the client's user is at the desk at t (arrived and not at lunch)."""
        lo, hi = self.lunch[ip]
        return t >= self.arrive[ip] and not lo <= t < hi

    def port(self, rng: random.Random, ip: str) -> int:
        """A free ephemeral port (Windows and Linux ranges), never one the attack uses."""
        low = 49152 if _stack(ip) is _WINDOWS else 32768
        while True:
            port = rng.randint(low, 65535 if low == 49152 else 60999)
            if (ip, port) not in self.reserved:
                return port


def _office(rng: random.Random, start: int, end: int, plan: Attack) -> _Office:
    """Arrivals 08:00-09:10 (alice before her 09:12 e-mail, bob early), lunch around noon."""
    arrive, lunch = {}, {}
    for ip in CLIENTS:
        arrive[ip] = start + rng.randint(5, 70) * 60 * _SEC
        noon = _us(story.ATTACK_DAY + timedelta(hours=12)) + rng.randint(-10, 35) * 60 * _SEC
        lunch[ip] = (noon, noon + rng.randint(25, 55) * 60 * _SEC)
    arrive[WS01.ip] = start + rng.randint(38, 55) * 60 * _SEC
    arrive[ADMIN_LAPTOP] = start + rng.randint(8, 20) * 60 * _SEC
    reserved = {(c.src, c.sport) for c in plan.connections} | {(lk.client, lk.sport) for lk in plan.lookups}
    return _Office(start, end, arrive, lunch, reserved)


def _instants(rng: random.Random, n: int, start: int, end: int, shaped: bool = True) -> list[int]:
    """n times in [start, end) with density following office activity (rejection sampling)."""
    out: list[int] = []
    while len(out) < n:
        t = rng.randrange(start, end)
        if not shaped or rng.random() < _activity(t):
            out.append(t)
    return sorted(out)


def _user_at(rng: random.Random, office: _Office, t: int, pool: list[str]) -> str | None:
    """A client whose user is at the desk at t, or None."""
    here = [ip for ip in pool if office.present(ip, t)]
    return rng.choice(here) if here else None


# ---------------------------------------------------------------------------------------------
# Background transactions


@dataclass
class _Ctx:
    """What every background job renders into."""

    cap: _Capture
    res: _Resolver
    rng: random.Random
    office: _Office
    names: dict[tuple[str, str], int] = field(default_factory=dict)  # client's DNS cache: expiry µs


def _resolve(ctx: _Ctx, t: int, client: str, name: str) -> tuple[int, str]:
    """The client's cached address of a site, or a look-up through DC01 first."""
    ips, ttl = SITES[name]
    if ctx.names.get((client, name), 0) > t:
        return t, ips[0]
    done, ip = ctx.res.lookup(ctx.rng, t, client, ctx.office.port(ctx.rng, client), name)
    ctx.cap.count(malicious=False)
    ctx.names[(client, name)] = done + ttl * _SEC
    return done + ctx.rng.randint(200, 1500), ip or ips[0]


def _browse(ctx: _Ctx, t: int, client: str, page: int) -> None:
    """One page view: the page's host and some sub-resource hosts, each resolved (client cache
    permitting) and fetched over TLS; a host the browser still has an open connection to is
    reused, the first connection to a host is a full handshake, later ones resume."""
    r = ctx.rng
    host, subs = PAGES[page]
    hosts = [host] + [h for h in subs if r.random() < 0.6]
    for i, name in enumerate(hosts):
        start = t + (i and r.randint(120_000, 900_000))
        if ctx.names.get((client, "conn:" + name), 0) > start:
            continue
        ready, ip = _resolve(ctx, start, client, name)
        resume = ctx.names.get((client, "tls:" + name), 0) > ready
        ctx.names[(client, "tls:" + name)] = ready + 7200 * _SEC
        flow = _Tcp(ctx.cap, r, client, ctx.office.port(r, client), ip, 443)
        flow.open(ready)
        rounds = [
            (r.randint(20_000, 3_000_000), r.randint(90, 500), _page_bytes(r))
            for _ in range(1 + (r.random() < 0.3))
        ]
        ctx.names[(client, "conn:" + name)] = _tls(flow, r, name, True, resume, r.randint(1900, 3400), rounds)
        ctx.cap.count(malicious=False)


def _page_bytes(rng: random.Random) -> int:
    """A response size: log-normal around 800 bytes, capped at 24 KB."""
    return min(24_000, int(math.exp(rng.gauss(math.log(800), 0.9))))


_UPDATE_PATHS = (
    "/msdownload/update/v3/static/trustedr/en/disallowedcertstl.cab",
    "/msdownload/update/v3/static/trustedr/en/authrootstl.cab",
    "/msdownload/update/v3/static/trustedr/en/pinrulesstl.cab",
)


def _update_check(ctx: _Ctx, t: int, client: str) -> None:
    """CryptoAPI's certificate-list refresh over plain HTTP: usually 304, sometimes a new .cab."""
    r = ctx.rng
    ready, ip = _resolve(ctx, t, client, "update.example.com")
    flow = _Tcp(ctx.cap, r, client, ctx.office.port(r, client), ip, 80)
    flow.open(ready)
    etag = f'"0{r.getrandbits(48):012x}:0"'
    stamp = _http_date(t - r.randint(2, 20) * 86_400 * _SEC)
    request = (
        f"GET {r.choice(_UPDATE_PATHS)}?{r.getrandbits(64):016x} HTTP/1.1\r\nConnection: Keep-Alive\r\nAccept: */*\r\n"
        f"If-Modified-Since: {stamp}\r\nIf-None-Match: {etag}\r\nUser-Agent: Microsoft-CryptoAPI/10.0\r\n"
        "Host: update.example.com\r\n\r\n"
    ).encode()
    head = f"Cache-Control: public,max-age=900\r\nLast-Modified: {stamp}\r\nETag: {etag}\r\n"
    if r.random() < 0.8:
        response = _http_response(t, "304 Not Modified", b"", "", head, server="ECAcc (ama/8A2D)")
    else:
        cab = b"MSCF" + bytes(4) + r.randbytes(r.randint(3000, 9000))
        response = _http_response(
            t, "200 OK", cab, "application/vnd.ms-cab-compressed", head, server="ECAcc (ama/8A2D)"
        )
    flow.send(_CLIENT, request, think=r.randint(300, 2000))
    flow.send(_SERVER, response, think=r.randint(1000, 15_000))
    flow.close(_CLIENT, think=r.randint(100_000, 2_000_000))
    ctx.cap.count(malicious=False)


_USERS = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "ken", "laura",
          "mike", "nina", "oscar", "paula", "quinn", "rosa", "sam", "tina", "uwe", "vera", "walt")  # fmt: skip
_CUSTOMERS = ("Northwind", "Contoso", "Fabrikam", "Tailspin", "Adventure Works", "Litware", "Wingtip")


_INTRANET = f"intranet.{_ZONE}"  # SRV01's nginx serves the office web app under this name
_PAGES_APP = (
    ("/", "/api/notifications"),
    ("/invoices?page={n}", "/api/invoices?page={n}&per_page=50"),
    ("/invoices/INV-2026-{inv:04d}", "/api/invoices/INV-2026-{inv:04d}"),
    ("/customers", "/api/customers?active=1"),
    ("/reports/monthly?month=2026-02", "/api/reports/monthly?month=2026-02"),
)
_APP_WEIGHTS = (3, 4, 3, 2, 1)
_CHROME_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/145.0.0.0 Safari/537.36"
_FIREFOX_UA = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:148.0) Gecko/20100101 Firefox/148.0"
_MONITOR_UA = "check_http/v2.3.3 (monitoring-plugins 2.3.3)"


def _agent(client: str) -> str:
    """The browser a client's user runs: Edge on WS01, Firefox on bob's laptop, Chrome or Edge elsewhere."""
    if client == ADMIN_LAPTOP:
        return _FIREFOX_UA
    return _EDGE_UA if client == WS01.ip or int(client.rsplit(".", 1)[1]) % 3 else _CHROME_UA


def _invoice_rows(rng: random.Random, n: int) -> str:
    """Table rows of invoices for the app's HTML pages."""
    return "".join(
        f"<tr><td>INV-2026-{rng.randint(0, 299):04d}</td><td>{rng.choice(_CUSTOMERS)}</td>"
        f"<td>{rng.randint(200, 90_000)}.{rng.randint(0, 99):02d}</td></tr>"
        for _ in range(n)
    )


def _app_body(rng: random.Random, path: str) -> tuple[bytes, str]:
    """What the web app answers: an HTML page (~4-9 KB) or its API's JSON (~1-6 KB)."""
    if not path.startswith("/api/"):
        rows = _invoice_rows(rng, rng.randint(40, 90))
        html = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Office app</title>'
            '<link rel="stylesheet" href="/static/css/app.css"></head><body><nav><a href="/">Home</a> '
            '<a href="/invoices">Invoices</a> <a href="/customers">Customers</a> <a href="/reports/monthly">Reports'
            f'</a></nav><main><table>{rows}</table></main><script src="/static/js/app.js"></script></body></html>'
        )
        return html.encode(), "text/html; charset=utf-8"
    items = ",".join(
        f'{{"id":"INV-2026-{rng.randint(0, 299):04d}","customer":"{rng.choice(_CUSTOMERS)}",'
        f'"amount":"{rng.randint(200, 90_000)}.{rng.randint(0, 99):02d}","status":"{rng.choice(("open", "paid"))}"}}'
        for _ in range(rng.randint(6, 45))
    )
    return f'{{"items":[{items}]}}'.encode(), "application/json"


def _app_get(path: str, client: str, referer: str, extra: str = "") -> bytes:
    """A browser's GET for the intranet app."""
    return (
        f"GET {path} HTTP/1.1\r\nHost: {_INTRANET}\r\nUser-Agent: {_agent(client)}\r\nAccept: */*\r\n"
        f"Referer: {referer}\r\nAccept-Encoding: gzip, deflate\r\nAccept-Language: en-US,en;q=0.9\r\n"
        f"Connection: keep-alive\r\n{extra}\r\n"
    ).encode()


def _intranet(ctx: _Ctx, t: int, client: str) -> None:
    """A page view of the intranet app on SRV01's nginx, over one keep-alive connection: the
    page, its stylesheet and script (revalidated: 304), its API call; nginx closes after 75 s."""
    r = ctx.rng
    if ctx.names.get((client, _INTRANET), 0) <= t:
        t, _ = ctx.res.lookup(r, t, client, ctx.office.port(r, client), _INTRANET)
        ctx.cap.count(malicious=False)
        ctx.names[(client, _INTRANET)] = t + 1200 * _SEC
    page, api = (
        p.format(n=r.randint(1, 6), inv=r.randint(0, 299)) for p in r.choices(_PAGES_APP, _APP_WEIGHTS)[0]
    )
    base = f"http://{_INTRANET}"
    flow = _Tcp(ctx.cap, r, client, ctx.office.port(r, client), SRV01.ip, 80)
    flow.open(t + r.randint(200, 1200))
    ask = [(_app_get(page, client, base + "/"), page)]
    ask += [(_app_get(a, client, base + page, f'If-None-Match: "{tag}"\r\n'), a) for a, tag in _ASSETS]
    ask.append((_app_get(api, client, base + page), api))
    for i, (request, path) in enumerate(ask):
        sent = flow.send(_CLIENT, request, think=r.randint(500, 3000) if i < 2 else r.randint(2_000, 150_000))
        if path.startswith("/static/"):
            response = _http_response(sent, "304 Not Modified", b"", "", "Connection: keep-alive\r\n", _NGINX)
        else:
            body, ctype = _app_body(r, path)
            response = _http_response(sent, "200 OK", body, ctype, "Connection: keep-alive\r\n", _NGINX)
        flow.send(
            _SERVER,
            response,
            think=r.randint(600, 9000) if path.startswith("/static/") else r.randint(9_000, 60_000),
        )
    flow.close(_SERVER, think=75 * _SEC)
    ctx.cap.count(malicious=False)


_ASSETS = (("/static/css/app.css", "65e9b2c4-bc53"), ("/static/js/app.js", "65e9b2c4-2c690"))
_NGINX = "nginx/1.18.0 (Ubuntu)"


def _monitor(ctx: _Ctx, t: int, service: int) -> None:
    """The monitoring host's five-minute checks of SRV01: check_ssh reads sshd's banner, sends
    its own and hangs up (sshd logs "Connection closed ... [preauth]"); check_http GETs /healthz."""
    r = ctx.rng
    flow = _Tcp(ctx.cap, r, MONITOR, ctx.office.port(r, MONITOR), SRV01.ip, service)
    flow.open(t)
    if service == 22:
        flow.send(_SERVER, SSH_SERVER_BANNER + b"\r\n", think=r.randint(2000, 9000))
        flow.send(_CLIENT, b"SSH-2.0-check_ssh_2.3.3\r\n", think=r.randint(100, 400))
        flow.close(_CLIENT, think=r.randint(100, 400))
    else:
        request = f"GET /healthz HTTP/1.1\r\nHost: {_INTRANET}\r\nUser-Agent: {_MONITOR_UA}\r\nConnection: close\r\n\r\n"
        sent = flow.send(_CLIENT, request.encode(), think=r.randint(100, 400))
        flow.send(
            _SERVER,
            _http_response(
                sent, "200 OK", b'{"status":"ok"}', "application/json", "Connection: close\r\n", _NGINX
            ),
            think=r.randint(2000, 9000),
        )
        flow.close(_SERVER, think=r.randint(50, 300))
    ctx.cap.count(malicious=False)


# Kerberos (RFC 4120) in DER: the real structure, the encrypted parts opaque as on the wire.

_REALM = story.DOMAIN.upper()
_TILL = b"20370913024805Z"  # what Windows asks for as "till"
_OID_SPNEGO = bytes.fromhex("06062b0601050502")
_OID_MS_KRB5 = bytes.fromhex("06092a864882f712010202")
_OID_KRB5 = bytes.fromhex("06092a864886f712010202")
_OID_NEGOEX = bytes.fromhex("060a2b06010401823702021e")
_OID_NTLM = bytes.fromhex("060a2b06010401823702020a")


def _der(tag: int, body: bytes) -> bytes:
    """One DER TLV with a definite length (short or long form)."""
    n = len(body)
    size = bytes([n]) if n < 0x80 else bytes([0x81, n]) if n < 0x100 else b"\x82" + _u16(n)
    return bytes([tag]) + size + body


def _tag(n: int, body: bytes) -> bytes:
    """A context-specific [n] wrapper."""
    return _der(0xA0 | n, body)


def _seq(*parts: bytes) -> bytes:
    """A DER SEQUENCE of already encoded parts."""
    return _der(0x30, b"".join(parts))


def _int(v: int) -> bytes:
    """A DER INTEGER (two's complement, minimal length)."""
    return _der(0x02, v.to_bytes(v.bit_length() // 8 + 1, "big", signed=True))


def _kstr(s: str) -> bytes:
    """A KerberosString (GeneralString)."""
    return _der(0x1B, s.encode())


def _flags32(v: int) -> bytes:
    """KerberosFlags / APOptions: a 32-bit BIT STRING."""
    return _der(0x03, b"\x00" + struct.pack("!I", v))


def _principal(kind: int, *names: str) -> bytes:
    """A PrincipalName: name type and components."""
    return _seq(_tag(0, _int(kind)), _tag(1, _seq(*(_kstr(n) for n in names))))


def _enc(rng: random.Random, size: int, kvno: int | None = None) -> bytes:
    """EncryptedData: AES256-CTS-HMAC-SHA1-96 (etype 18) ciphertext of ``size`` bytes."""
    kv = _tag(1, _int(kvno)) if kvno is not None else b""
    return _seq(_tag(0, _int(18)), kv, _tag(2, _der(0x04, rng.randbytes(size))))


def _ticket(rng: random.Random, sname: bytes) -> bytes:
    """A service ticket; its enc-part carries the PAC, hence ~1.1 KB."""
    enc = _enc(rng, rng.randint(1000, 1250), kvno=rng.randint(2, 9))
    return _der(0x61, _seq(_tag(0, _int(5)), _tag(1, _kstr(_REALM)), _tag(2, sname), _tag(3, enc)))


def _ap_req(rng: random.Random, sname: bytes, options: int) -> bytes:
    """An AP-REQ: a ticket for ``sname`` and an encrypted authenticator."""
    auth = _enc(rng, rng.randint(160, 200))
    body = _seq(
        _tag(0, _int(5)),
        _tag(1, _int(14)),
        _tag(2, _flags32(options)),
        _tag(3, _ticket(rng, sname)),
        _tag(4, auth),
    )
    return _der(0x6E, body)


def _pa(kind: int, value: bytes) -> bytes:
    """A PA-DATA entry: type and OCTET STRING value."""
    return _seq(_tag(1, _int(kind)), _tag(2, _der(0x04, value)))


def _kdc_body(rng: random.Random, sname: bytes, cname: bytes = b"") -> bytes:
    """KDC-REQ-BODY: forwardable, renewable, canonicalize; Windows' etype list."""
    etypes = _seq(*(_int(e) for e in (18, 17, 23, 24, -135)))
    return _seq(
        _tag(0, _flags32(0x40810000)), _tag(1, cname) if cname else b"", _tag(2, _kstr(_REALM)), _tag(3, sname),
        _tag(5, _der(0x18, _TILL)), _tag(7, _int(rng.getrandbits(31))), _tag(8, etypes),
    )  # fmt: skip


_KRBTGT = _principal(2, "krbtgt", _REALM)


def _tgs_req(rng: random.Random, service: tuple[str, ...]) -> bytes:
    """TGS-REQ: the TGT in a PA-TGS-REQ AP-REQ, PA-PAC-OPTIONS, the service's name."""
    pa = _seq(_pa(1, _ap_req(rng, _KRBTGT, 0)), _pa(167, _seq(_tag(0, _flags32(0x40000000)))))
    body = _seq(
        _tag(1, _int(5)), _tag(2, _int(12)), _tag(3, pa), _tag(4, _kdc_body(rng, _principal(2, *service)))
    )
    return _der(0x6C, body)


def _tgs_rep(rng: random.Random, user: str, service: tuple[str, ...]) -> bytes:
    """TGS-REP: the client's name, the service ticket, the encrypted session key part."""
    body = _seq(
        _tag(0, _int(5)), _tag(1, _int(13)), _tag(3, _kstr(_REALM)), _tag(4, _principal(1, user)),
        _tag(5, _ticket(rng, _principal(2, *service))), _tag(6, _enc(rng, rng.randint(300, 380))),
    )  # fmt: skip
    return _der(0x6D, body)


def _as_req(rng: random.Random, user: str) -> bytes:
    """AS-REQ without pre-authentication (only PA-PAC-REQUEST), as Windows' first try."""
    pa = _seq(_pa(128, _seq(_tag(0, _der(0x01, b"\xff")))))
    body = _kdc_body(rng, _KRBTGT, _principal(1, user))
    return _der(0x6A, _seq(_tag(1, _int(5)), _tag(2, _int(10)), _tag(3, pa), _tag(4, body)))


def _preauth_required(t: int, user: str) -> bytes:
    """KRB-ERROR 25 (PREAUTH_REQUIRED) with the ETYPE-INFO2 salt Windows uses (REALM + user)."""
    info = _seq(_seq(_tag(0, _int(18)), _tag(1, _kstr(_REALM + user))), _seq(_tag(0, _int(23))))
    edata = _seq(_pa(19, info), _pa(2, b""), _pa(16, b""), _pa(15, b""))
    stamp = _der(0x18, _when(t).strftime("%Y%m%d%H%M%SZ").encode())
    body = _seq(
        _tag(0, _int(5)), _tag(1, _int(30)), _tag(4, stamp), _tag(5, _int(t % _SEC)), _tag(6, _int(25)),
        _tag(9, _kstr(_REALM)), _tag(10, _KRBTGT), _tag(12, _der(0x04, edata)),
    )  # fmt: skip
    return _der(0x7E, body)


_DC = DC01.fqdn.lower()
_SERVICES = (("cifs", _DC), ("ldap", _DC, _ZONE), ("ldap", _DC), ("host", _DC), ("krbtgt", _REALM))


def _account(client: str, machine: bool) -> str:
    """The user at a client, or its machine account (PC40$ ...)."""
    if machine:
        return "WS01$" if client == WS01.ip else f"PC{client.rsplit('.', 1)[1]}$"
    return _USERS[CLIENTS.index(client)]


def _kerberos(ctx: _Ctx, t: int, client: str) -> None:
    """A service ticket over TCP 88 (length-prefixed TGS-REQ/REP), or an AS-REQ without
    pre-authentication over UDP 88 answered by PREAUTH_REQUIRED."""
    r = ctx.rng
    user = _account(client, machine=r.random() < 0.35)
    if r.random() < 0.3:
        port = ctx.office.port(r, client)
        _udp(ctx.cap, r, t, client, port, DC01.ip, 88, _as_req(r, user))
        _udp(ctx.cap, r, t + r.randint(300, 1500), DC01.ip, 88, client, port, _preauth_required(t, user))
    else:
        service = r.choice(_SERVICES)
        flow = _Tcp(ctx.cap, r, client, ctx.office.port(r, client), DC01.ip, 88)
        flow.open(t)
        req, rep = _tgs_req(r, service), _tgs_rep(r, user, service)
        flow.send(_CLIENT, struct.pack("!I", len(req)) + req, think=r.randint(100, 600))
        flow.send(_SERVER, struct.pack("!I", len(rep)) + rep, think=r.randint(400, 3000))
        flow.close(_CLIENT, think=r.randint(200, 2000))
    ctx.cap.count(malicious=False)


# SMB2/3 (MS-SMB2): Group Policy reading gpt.ini from SYSVOL, signed, not encrypted.

_DC_GUID = bytes.fromhex("4f9c2a17d05b8e41a3c6e2f1b7d90a58")
_GPOS = ("{31B2F340-016D-11D2-945F-00C04FB984F9}", "{7D2F1A4C-5E3B-4A8F-9C61-2B0D4E7F8A13}")
_GPT_INI = (
    b"[General]\r\nVersion=3\r\n",
    b"[General]\r\nVersion=65541\r\ndisplayName=Office Workstations\r\n",
)
_GPO_TIME = _us(datetime(2026, 2, 17, 14, 3, 11, tzinfo=UTC))


def _filetime(us: int) -> int:
    """A Windows FILETIME (100 ns ticks since 1601) for a capture time."""
    return us * 10 + 116_444_736_000_000_000


def _smb2(
    command: int, msg_id: int, response: bool, session: int, tree: int, sig: bytes, body: bytes
) -> bytes:
    """An SMB2 message (64-byte header; signed when ``sig`` is given) in its NetBIOS frame."""
    flags = (1 if response else 0) | (8 if sig else 0)
    credits = 1 if msg_id else 31
    head = b"\xfeSMB" + struct.pack(
        "<HHIHHIIQIIQ", 64, 1, 0, command, credits, flags, 0, msg_id, 0xFEFF, tree, session
    )
    msg = head + (sig or bytes(16)) + body
    return b"\x00" + _u24(len(msg)) + msg


def _negotiate_contexts(rng: random.Random, response: bool) -> bytes:
    """PREAUTH_INTEGRITY (SHA-512 + salt) and ENCRYPTION capabilities, 8-byte aligned."""
    preauth = struct.pack("<HHH", 1, 32, 1) + rng.randbytes(32)
    ciphers = struct.pack("<HH", 1, 2) if response else struct.pack("<5H", 4, 2, 1, 4, 3)
    first = struct.pack("<HHI", 1, len(preauth), 0) + preauth
    return first + bytes(-len(first) % 8) + struct.pack("<HHI", 2, len(ciphers), 0) + ciphers


def _smb_negotiate(rng: random.Random, client: str, response: bool, t: int) -> bytes:
    """NEGOTIATE: the client's dialects up to 3.1.1, or DC01's choice with its SPNEGO hint."""
    dialects = struct.pack("<5H", 0x0202, 0x0210, 0x0300, 0x0302, 0x0311)
    if not response:
        guid = random.Random(f"guid:{client}").randbytes(16)
        return (
            struct.pack("<HHHHI16sIHH", 36, 5, 1, 0, 0x7F, guid, 112, 2, 0)
            + dialects
            + bytes(2)
            + _negotiate_contexts(rng, False)
        )
    hints = _tag(3, _seq(_tag(0, _kstr("not_defined_in_RFC4178@please_ignore"))))
    blob = _der(
        0x60,
        _OID_SPNEGO + _tag(0, _seq(_tag(0, _seq(_OID_MS_KRB5, _OID_KRB5, _OID_NEGOEX, _OID_NTLM)), hints)),
    )
    pad = bytes(-(128 + len(blob)) % 8)
    fixed = struct.pack("<HHHH16sIIIIQQHHI", 65, 3, 0x0311, 2, _DC_GUID, 0x2F, 8_388_608, 8_388_608, 8_388_608,
                        _filetime(t), 0, 128, len(blob), 128 + len(blob) + len(pad))  # fmt: skip
    return fixed + blob + pad + _negotiate_contexts(rng, True)


def _smb_session_setup(rng: random.Random, response: bool) -> bytes:
    """SPNEGO with a Kerberos AP-REQ for cifs/DC01 (mutual auth) and the AP-REP back."""
    if not response:
        token = _der(0x60, _OID_KRB5 + b"\x01\x00" + _ap_req(rng, _principal(2, "cifs", _DC), 0x20000000))
        mechs = _tag(0, _seq(_OID_MS_KRB5, _OID_KRB5, _OID_NEGOEX, _OID_NTLM))
        blob = _der(0x60, _OID_SPNEGO + _tag(0, _seq(mechs, _tag(2, _der(0x04, token)))))
        return struct.pack("<HBBIIHHQ", 25, 0, 1, 1, 0, 88, len(blob), 0) + blob
    rep = _der(0x6F, _seq(_tag(0, _int(5)), _tag(1, _int(15)), _tag(2, _enc(rng, rng.randint(100, 120)))))
    token = _der(0x60, _OID_KRB5 + b"\x02\x00" + rep)
    blob = _tag(1, _seq(_tag(0, _der(0x0A, b"\x00")), _tag(1, _OID_MS_KRB5), _tag(2, _der(0x04, token))))
    return struct.pack("<HHHH", 9, 0, 72, len(blob)) + blob


def _smb_read_file(rng: random.Random, name: str, data: bytes) -> list[tuple[int, bytes, bytes]]:
    """CREATE, READ, CLOSE of one file: (command, request body, response body)."""
    path = name.encode("utf-16-le")
    fid = rng.randbytes(16)
    stamp = _filetime(_GPO_TIME)
    create = (
        struct.pack("<HBBIQQIIIIIHHII", 57, 0, 0, 2, 0, 0, 0x00120089, 0, 3, 1, 0x60, 120, len(path), 0, 0)
        + path
    )
    created = struct.pack(
        "<HBBIQQQQQQII16sII", 89, 0, 0, 1, stamp, stamp, stamp, stamp, 0, len(data), 0x20, 0, fid, 0, 0
    )
    read = struct.pack("<HBBIQ16sIIIHH", 49, 0x50, 0, len(data), 0, fid, 0, 0, 0, 0, 0) + b"\x00"
    got = struct.pack("<HBBIII", 17, 0x50, 0, len(data), 0, 0) + data
    close = struct.pack("<HHI16s", 24, 0, 0, fid)
    closed = struct.pack("<HHIQQQQQQI", 60, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    return [(5, create, created), (8, read, got), (6, close, closed)]


def _smb(ctx: _Ctx, t: int, client: str) -> None:
    """Group Policy refresh: negotiate 3.1.1, Kerberos session setup, tree connect to SYSVOL,
    read each GPO's gpt.ini, disconnect, log off; signed after the session is set up."""
    r = ctx.rng
    flow = _Tcp(ctx.cap, r, client, ctx.office.port(r, client), DC01.ip, 445)
    flow.open(t)
    share = f"\\\\{_DC}\\SYSVOL".encode("utf-16-le")
    steps = [
        (0, _smb_negotiate(r, client, False, t), _smb_negotiate(r, client, True, t)),
        (1, _smb_session_setup(r, False), _smb_session_setup(r, True)),
        (
            3,
            struct.pack("<HHHH", 9, 0, 72, len(share)) + share,
            struct.pack("<HBBIII", 16, 1, 0, 0, 0, 0x001200A9),
        ),
    ]
    for guid, ini in zip(_GPOS, _GPT_INI, strict=True):
        steps += _smb_read_file(r, f"{_ZONE}\\Policies\\{guid}\\gpt.ini", ini)
    steps += [
        (4, struct.pack("<HH", 4, 0), struct.pack("<HH", 4, 0)),
        (2, struct.pack("<HH", 4, 0), struct.pack("<HH", 4, 0)),
    ]
    session, tree = r.getrandbits(62) | 1 << 44, r.randint(1, 9)
    for msg_id, (command, request, reply) in enumerate(steps):
        s_id = session if command != 0 and msg_id > 1 else 0
        t_id = tree if command not in (0, 1, 3) else 0
        sig = r.randbytes(16) if s_id else b""
        flow.send(
            _CLIENT, _smb2(command, msg_id, False, s_id, t_id, sig, request), think=r.randint(100, 4000)
        )
        s_reply = session if command == 1 else s_id
        t_reply = tree if command == 3 else t_id
        sig = r.randbytes(16) if s_reply and command != 0 else b""
        flow.send(
            _SERVER, _smb2(command, msg_id, True, s_reply, t_reply, sig, reply), think=r.randint(150, 2500)
        )
    flow.close(_CLIENT, think=r.randint(5, 40) * _SEC)
    ctx.cap.count(malicious=False)


def _ntp_stamp(us: int) -> bytes:
    """An NTP timestamp (seconds since 1900, 32-bit fraction)."""
    sec, frac = divmod(us, _SEC)
    return struct.pack("!II", sec + 2_208_988_800, (frac << 32) // _SEC)


def _ntp(ctx: _Ctx, t: int, client: str) -> None:
    """A client poll of the gateway's NTP server and its mode-4 answer with consistent stamps."""
    r = ctx.rng
    sport = 123 if _stack(client) is _WINDOWS else ctx.office.port(r, client)
    skew = r.randint(-3000, 3000)
    query = bytes([0x23, 0, 10, 0xE9]) + bytes(8) + bytes(4) + bytes(24) + _ntp_stamp(t + skew)
    _udp(ctx.cap, r, t, client, sport, GATEWAY.ip, 123, query)
    recv = t + r.randint(40, 120)
    send = recv + r.randint(10, 60)
    head = bytes([0x24, 2, 10, 0xE8]) + struct.pack("!II", 0x0000_0A3C, 0x0000_1F00) + _ip("198.51.100.123")
    answer = (
        head
        + _ntp_stamp(t - r.randint(60, 900) * _SEC)
        + _ntp_stamp(t + skew)
        + _ntp_stamp(recv)
        + _ntp_stamp(send)
    )
    _udp(ctx.cap, r, send + r.randint(20, 60), GATEWAY.ip, 123, client, sport, answer)
    ctx.cap.count(malicious=False)


def _arp(ctx: _Ctx, t: int, asker: str, target: str) -> None:
    """who-has (broadcast, or unicast when refreshing a stale entry) and the unicast is-at."""
    r = ctx.rng
    unicast = r.random() < 0.35
    for when, op, sha, spa, tha, tpa, dst in (
        (t, dpkt.arp.ARP_OP_REQUEST, asker, asker, None, target, target if unicast else None),
        (t + r.randint(80, 400), dpkt.arp.ARP_OP_REPLY, target, target, asker, asker, asker),
    ):
        arp = dpkt.arp.ARP(
            op=op, sha=_mac(sha), spa=_ip(spa), tha=_mac(tha) if tha else bytes(6), tpa=_ip(tpa)
        )
        eth = dpkt.ethernet.Ethernet(
            src=_mac(sha), dst=_mac(dst) if dst else b"\xff" * 6, type=dpkt.ethernet.ETH_TYPE_ARP, data=arp
        )
        ctx.cap.add(when, bytes(eth).ljust(60, b"\x00"))
    ctx.cap.count(malicious=False)


def _misc_dns(ctx: _Ctx, t: int, client: str) -> None:
    """Windows chatter in DC01's own zone: the DC locator, the DC's and the intranet's names,
    WPAD/ISATAP probes (NXDOMAIN), now and then a mistyped Internet name (NXDOMAIN upstream)."""
    r = ctx.rng
    pick = r.random()
    if pick < 0.4:
        name, qtype = _LDAP_SRV, dpkt.dns.DNS_SRV
    elif pick < 0.72:
        name, qtype = r.choice((DC01.fqdn.lower(), _INTRANET, SRV01.fqdn.lower())), dpkt.dns.DNS_A
    elif pick < 0.92:
        name, qtype = f"{r.choice(('wpad', 'wpad', 'isatap'))}.{_ZONE}", dpkt.dns.DNS_A
    else:
        name, qtype = r.choice(TYPOS), dpkt.dns.DNS_A
    ctx.res.lookup(r, t, client, ctx.office.port(r, client), name, qtype)
    ctx.cap.count(malicious=False)


def _admin_ssh(ctx: _Ctx, t: int) -> None:
    """bob's legitimate maintenance from his laptop: key login, typed commands for 4-15 minutes."""
    r = ctx.rng
    flow = _Tcp(ctx.cap, r, ADMIN_LAPTOP, ctx.office.port(r, ADMIN_LAPTOP), SRV01.ip, 22)
    flow.open(t)
    ssh = _Ssh(flow, r)
    ssh.handshake(b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5", _KEX_96, _HOSTKEYS_96)
    ssh.login(password=False)
    end = t + r.randint(4, 15) * 60 * _SEC
    _idle_commands(ssh, r, flow.ends[_SERVER].sent_at, end)
    ssh.logout(max(end, flow.ends[_SERVER].sent_at + 5 * _SEC))
    ctx.cap.count(malicious=False)


# ---------------------------------------------------------------------------------------------
# Scheduling and output


Job = tuple[int, int, Callable[[], None]]  # (µs, serial, render)
#: Background volume at scale 1 (browse: sessions of 1-5 page views; the others: transactions).
_VOLUME = {
    "browse": 80,
    "intranet": 90,
    "update_check": 45,
    "kerberos": 170,
    "smb": 60,
    "misc_dns": 800,
    "arp": 760,
}


def _background_jobs(ctx: _Ctx, scale: int) -> list[Job]:
    """Every background transaction's start time and renderer, volumes times ``scale``."""
    r, o = ctx.rng, ctx.office
    jobs: list[tuple[int, Callable[[], None]]] = []
    lo, hi = o.start + 2 * _SEC, o.end - 2 * _SEC
    for t in _instants(r, _VOLUME["browse"] * scale, lo, hi):  # sessions: a burst of page views
        client = _user_at(r, o, t, CLIENTS)
        for _ in range(r.randint(1, 5) if client else 0):
            page = r.choices(range(len(PAGES)), _PAGE_WEIGHTS)[0]
            jobs.append((t, partial(_browse, ctx, t, client, page)))
            t += int(r.expovariate(1 / 25) * _SEC) + _SEC
    for t in _instants(r, _VOLUME["intranet"] * scale, lo, hi):
        if client := _user_at(r, o, t, CLIENTS):
            jobs.append((t, partial(_intranet, ctx, t, client)))
    windows = [WS01.ip, *OFFICE]
    for kind, shaped in ((_update_check, False), (_kerberos, True), (_smb, True), (_misc_dns, True)):
        for t in _instants(r, _VOLUME[kind.__name__.strip("_")] * scale, lo, hi, shaped):
            jobs.append((t, partial(kind, ctx, t, r.choice(windows))))
    for client, period in ((DC01.ip, 1024), (SRV01.ip, 2048), (ADMIN_LAPTOP, 1024), (CI_RUNNER, 2048),
                           (NAS, 2048), (MONITOR, 2048)):  # fmt: skip
        t = lo + r.randint(0, period) * _SEC // scale
        while t < hi:
            jobs.append((t, partial(_ntp, ctx, t, client)))
            t += period * _SEC // scale + r.randint(-20, 20) * _SEC
    for service in (22, 80):  # the monitoring host's checks of SRV01, every five minutes
        t = lo + r.randint(0, 300) * _SEC // scale
        while t < hi:
            jobs.append((t, partial(_monitor, ctx, t, service)))
            t += 300 * _SEC // scale + r.randint(-400_000, 400_000)
    lan = [GATEWAY.ip, DC01.ip, SRV01.ip, CI_RUNNER, NAS, MONITOR, *CLIENTS]
    for t in _instants(r, _VOLUME["arp"] * scale, lo, hi, shaped=False):
        asker = r.choice(lan)
        target = r.choice([ip for ip in (GATEWAY.ip, DC01.ip, SRV01.ip, r.choice(CLIENTS)) if ip != asker])
        jobs.append((t, partial(_arp, ctx, t, asker, target)))
    for hour in r.sample((8.4, 8.9, 9.4, 9.9), 2 * min(scale, 2)):
        t = _us(story.ATTACK_DAY) + int((hour + r.uniform(-0.2, 0.2)) * 3600 * _SEC)
        jobs.append((t, partial(_admin_ssh, ctx, t)))
    return [(t, 1_000_000 + i, job) for i, (t, job) in enumerate(jobs)]


def _attack_jobs(cap: _Capture, res: _Resolver, plan: Attack, seed: int, start: int, end: int) -> list[Job]:
    """The plan's look-ups and connections inside the capture window, as jobs."""
    rng = story.rng(seed, "network:attack")
    jobs: list[Job] = []
    for i, lk in enumerate(plan.lookups):
        if start <= _us(lk.time) < end:
            jobs.append((_us(lk.time), i, partial(_attack_lookup, cap, res, rng, lk)))
    render = {"http": _attack_http, "tls": _attack_tls}
    for i, conn in enumerate(plan.connections, start=len(jobs)):
        if not start <= _us(conn.time) < end:
            continue
        if conn.kind == "ssh":
            jobs.append((_us(conn.time), i, partial(_attack_ssh, cap, rng, conn, plan)))
        else:
            jobs.append((_us(conn.time), i, partial(render[conn.kind], cap, rng, conn)))
    return jobs


def _file_order(
    cap: _Capture, start: int, end: int
) -> tuple[list[tuple[int, bytes]], dict[int, tuple[int, int]]]:
    """Frames inside the window in strictly increasing time (a tie moves 1 µs later), and
    serial -> (1-based packet number, µs) for the marked and anchored frames."""
    frames: list[tuple[int, bytes]] = []
    where: dict[int, tuple[int, int]] = {}
    last = -1
    for us, _, serial, frame in sorted(f for f in cap.frames if start <= f[0] < end):
        us = max(us, last + 1)
        frames.append((us, frame))
        if serial in cap.marks or serial in cap.anchors:
            where[serial] = (len(frames), us)
        last = us
    return frames, where


def _write(path: Path, frames: list[tuple[int, bytes]]) -> None:
    """pcapng with fixed section and interface options (no host names, no clock): same input,
    same bytes."""
    opt = dpkt.pcapng.PcapngOptionLE
    shb = dpkt.pcapng.SectionHeaderBlockLE(opts=[
        opt(code=dpkt.pcapng.PCAPNG_OPT_SHB_HARDWARE, data=b"office switch SPAN port"),
        opt(code=dpkt.pcapng.PCAPNG_OPT_SHB_OS, data=b"Linux"),
        opt(code=dpkt.pcapng.PCAPNG_OPT_SHB_USERAPPL, data=b"Tracehound sample generator (dpkt)"),
        opt(code=dpkt.pcapng.PCAPNG_OPT_ENDOFOPT),
    ])  # fmt: skip
    idb = dpkt.pcapng.InterfaceDescriptionBlockLE(snaplen=262_144, linktype=dpkt.pcapng.DLT_EN10MB, opts=[
        opt(code=dpkt.pcapng.PCAPNG_OPT_IF_NAME, data=b"tap0"),
        opt(code=dpkt.pcapng.PCAPNG_OPT_IF_DESCRIPTION, data=b"LAN tap 10.20.0.0/24"),
        opt(code=dpkt.pcapng.PCAPNG_OPT_IF_TSRESOL, data=b"\x06"),
        opt(code=dpkt.pcapng.PCAPNG_OPT_ENDOFOPT),
    ])  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        writer = dpkt.pcapng.Writer(f, snaplen=262_144, shb=shb, idb=idb)
        writer.writepkts((us / _SEC, frame) for us, frame in frames)


def generate(out: Path, plan: Attack, seed: int, scale: int = 1) -> list[ArtifactReport]:
    """Write ``out/network/lan-tap.pcapng`` and report its transactions and the attack's packets."""
    start, end = _us(story.CAPTURE_START), _us(story.CAPTURE_END)
    cap = _Capture()
    res = _Resolver(cap, plan)
    rng = story.rng(seed, "network")
    ctx = _Ctx(cap, res, rng, _office(rng, start, end, plan))
    jobs = _attack_jobs(cap, res, plan, seed, start, end) + _background_jobs(ctx, scale)
    for _, _, job in sorted(jobs, key=lambda j: (j[0], j[1])):
        job()
    frames, where = _file_order(cap, start, end)
    moved = [s for s, us in cap.anchors.items() if where.get(s, (0, -1))[1] != us]
    assert not moved, f"plan-timed packets moved or fell outside the window: {moved}"
    assert cap.background >= NOISE_RATIO * cap.malicious, (cap.background, cap.malicious)
    _write(out / ARTIFACT, frames)
    return [_report(cap, where)]


def _report(cap: _Capture, where: dict[int, tuple[int, int]]) -> ArtifactReport:
    """Counts and one ref per malicious transaction, in file order. Should an evidence packet
    fall after the window's end (a connection opened in its last instant), the ref names the
    transaction's first packet, which the window always holds."""
    refs = []
    for serial, (mark, anchor) in cap.marks.items():
        number, us = where.get(serial, where[anchor])
        refs.append(Ref(mark.step, ARTIFACT, _when(us), {"packet": number, "flow": mark.flow}, mark.what))
    refs.sort(key=lambda ref: ref.locator["packet"])
    return ArtifactReport(ARTIFACT, "network", "pcapng", cap.background + cap.malicious, cap.malicious, refs)
