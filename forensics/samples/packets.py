"""Packets as a LAN tap sees them: frames, TCP conversations, the pcapng file.

Why: the sample capture must be well-formed to the last bit (lengths, checksums, sequence and
acknowledgement numbers, TTLs and windows that fingerprint each host's stack) so that any
dissector reads it and timing analysis sees plausible round trips. This module knows nothing
of what the office says; ``network`` decides who talks when and ``protocols`` what the bytes
say, and this layer frames them: Ethernet/IPv4/UDP/TCP, three-way handshakes, MSS segments in
slow-start rounds, delayed ACKs, FIN closes, and a pcapng with fixed options (same input, same
bytes). Times are integer microseconds since the epoch, the capture's clock.
"""

from __future__ import annotations

import random
import socket
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import dpkt

from forensics.samples import office
from forensics.samples.story import DC01, GATEWAY, SRV01, WS01

__all__ = [
    "CLIENT",
    "LINUX",
    "MSS",
    "SEC",
    "SERVER",
    "WINDOWS",
    "Capture",
    "Mark",
    "Stack",
    "Tcp",
    "file_order",
    "flow_label",
    "from_us",
    "ip_bytes",
    "mac_of",
    "on_lan",
    "stack",
    "to_us",
    "udp",
    "wan_rtt",
    "write_pcapng",
]

MSS = 1460

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SEC = 1_000_000
_FIN, _SYN, _PSH, _ACK = dpkt.tcp.TH_FIN, dpkt.tcp.TH_SYN, dpkt.tcp.TH_PUSH, dpkt.tcp.TH_ACK
CLIENT, SERVER = 0, 1
_MAX_CWND = 44  # segments: a 64 KiB receive window

# ---------------------------------------------------------------------------------------------
# Clock, addresses and the hosts' TCP/IP stacks


def to_us(when: datetime) -> int:
    """Microseconds since the epoch: the capture's exact integer clock."""
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * SEC + delta.microseconds


def from_us(us: int) -> datetime:
    """The datetime of a capture time (µs since the epoch)."""
    return _EPOCH + timedelta(microseconds=us)


def on_lan(ip: str) -> bool:
    """Whether an address is on the office LAN (else it sits behind the gateway)."""
    return ip.startswith("10.20.0.")


@cache
def mac_of(ip: str) -> bytes:
    """LAN hosts follow story.py's MAC pattern (last octet's decimal digits); the rest is the gateway."""
    if not on_lan(ip):
        return bytes.fromhex(GATEWAY.mac.replace(":", ""))
    known = {h.ip: h.mac for h in (WS01, SRV01, DC01, GATEWAY)}
    text = known.get(ip, f"52:54:00:3a:10:{int(ip.rsplit('.', 1)[1]):02d}")
    return bytes.fromhex(text.replace(":", ""))


@cache
def ip_bytes(ip: str) -> bytes:
    """An IPv4 address as the 4 bytes packets carry."""
    return socket.inet_aton(ip)


@dataclass(frozen=True, slots=True)
class Stack:
    """How a host's stack marks its packets, as OS fingerprinting would see them."""

    ttl: int  # as seen at the tap
    syn_win: int
    win: int  # window field after the handshake (scaled)
    syn_opts: bytes
    delack: int  # delayed-ACK timer, µs
    udp_df: bool


_WIN_OPTS = bytes.fromhex("020405b40103030801010402")  # MSS 1460, NOP, WS 8, NOP, NOP, SACK_PERM
_LINUX_OPTS = bytes.fromhex("020405b40101040201030307")  # MSS 1460, NOP, NOP, SACK_PERM, NOP, WS 7
WINDOWS = Stack(128, 64240, 513, _WIN_OPTS, 200_000, False)
LINUX = Stack(64, 64240, 502, _LINUX_OPTS, 40_000, True)


@cache
def stack(ip: str) -> Stack:
    """Windows for WS01, DC01 and the office PCs; Linux for SRV01, bob's laptop, the CI runner,
    NAS, monitor and gateway; Internet servers get a stable hop count and window from their address."""
    if ip in (WS01.ip, DC01.ip, *office.OFFICE_PCS):
        return WINDOWS
    if on_lan(ip):
        return LINUX
    h = zlib.crc32(ip.encode())
    ttl = (52, 53, 54, 56, 57, 115, 117, 243)[h % 8]
    scale = (7, 9, 10)[h // 8 % 3]
    opts = bytes.fromhex("020405b401010402010303") + bytes([scale])  # MSS, NOP, NOP, SACK_PERM, NOP, WS
    return Stack(ttl, 65160 if h % 2 else 64240, 131_072 >> scale, opts, 40_000, True)


@cache
def wan_rtt(ip: str) -> int:
    """A stable base round trip (µs) from the tap to an Internet host, 20-60 ms."""
    return 20_000 + zlib.crc32(b"rtt" + ip.encode()) % 40_000


# ---------------------------------------------------------------------------------------------
# Frames and the capture


def ip_frame(src: str, dst: str, ip_id: int, df: bool, proto: dpkt.Packet, number: int) -> bytes:
    """Ethernet/IPv4 around a TCP or UDP packet; dpkt fills lengths and checksums; padded to
    the 60-byte Ethernet minimum as a SPAN port delivers it."""
    ip = dpkt.ip.IP(
        src=ip_bytes(src), dst=ip_bytes(dst), p=number, ttl=stack(src).ttl, id=ip_id, df=int(df), data=proto
    )
    eth = dpkt.ethernet.Ethernet(src=mac_of(src), dst=mac_of(dst), type=dpkt.ethernet.ETH_TYPE_IP, data=ip)
    return bytes(eth).ljust(60, b"\x00")


def flow_label(src: str, sport: int, dst: str, dport: int, proto: str) -> str:
    """A flow as the refs name it: ``src:sport > dst:dport/proto``."""
    return f"{src}:{sport} > {dst}:{dport}/{proto}"


@dataclass(frozen=True, slots=True)
class Mark:
    """Names a malicious transaction's evidence packet for the report's refs."""

    step: str
    flow: str
    what: str


@dataclass
class Capture:
    """Every frame seen at the tap, in generation order, with counters of transactions."""

    frames: list[tuple[int, int, int, bytes]] = field(default_factory=list)  # (µs, rank, serial, frame)
    marks: dict[int, tuple[Mark, int]] = field(default_factory=dict)  # serial -> (mark, its anchor)
    anchors: dict[int, int] = field(default_factory=dict)  # serial -> µs it must keep
    last_anchor: int = -1
    background: int = 0
    malicious: int = 0

    def add(self, us: int, frame: bytes, mark: Mark | None = None, anchor: bool = False) -> None:
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


def udp(
    cap: Capture, rng: random.Random, t: int, src: str, sport: int, dst: str, dport: int, data: bytes,
    mark: Mark | None = None,
) -> None:  # fmt: skip
    """One UDP datagram; a marked one is the plan's exact-time evidence."""
    udp = dpkt.udp.UDP(sport=sport, dport=dport, ulen=8 + len(data), data=data)
    frame = ip_frame(src, dst, rng.randrange(1, 65536), stack(src).udp_df, udp, dpkt.ip.IP_PROTO_UDP)
    cap.add(t, frame, mark, anchor=mark is not None)


# ---------------------------------------------------------------------------------------------
# TCP


@dataclass
class End:
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
    def stack(self) -> Stack:
        """This host's stack (TTL, window, SYN options, delayed ACK)."""
        return stack(self.ip)


class Tcp:
    """One TCP connection: handshake, MSS segments with slow start and delayed ACKs, FIN close.
    Calls happen in causal order; each side's packets appear when its stack would send them."""

    def __init__(self, cap: Capture, rng: random.Random, client: str, sport: int, server: str, dport: int):
        self.cap = cap
        self.ends = (self._end(rng, client, sport, server), self._end(rng, server, dport, client))
        self.label = flow_label(client, sport, server, dport, "tcp")

    @staticmethod
    def _end(rng: random.Random, ip: str, port: int, peer: str) -> End:
        """One end's round trip to the tap and link speed: LAN or Internet."""
        if on_lan(ip):
            turn = rng.randint(110, 190)
            byte_us = 0.008 if on_lan(peer) else 0.02  # 1 Gbit/s; the uplink shaper beyond the tap
        else:
            turn = int(wan_rtt(ip) * rng.uniform(0.95, 1.12))
            byte_us = 1 / rng.choice((6.25, 12.5, 25.0))  # 50-200 Mbit/s downstream
        return End(ip, port, rng.getrandbits(32), rng.randrange(65536), turn, byte_us)

    def _emit(
        self, src: End, dst: End, t: int, flags: int, data: bytes = b"", mark: Mark | None = None,
        anchor: bool = False,
    ) -> None:  # fmt: skip
        """One segment from src at tap time t; advances src's sequence number."""
        opts = src.stack.syn_opts if flags & _SYN else b""
        tcp = dpkt.tcp.TCP(
            sport=src.port, dport=dst.port, seq=src.seq, ack=src.ack if flags & _ACK else 0, flags=flags,
            win=src.stack.syn_win if flags & _SYN else src.stack.win, opts=opts, off=5 + len(opts) // 4, data=data,
        )  # fmt: skip
        self.cap.add(t, ip_frame(src.ip, dst.ip, src.ip_id, True, tcp, dpkt.ip.IP_PROTO_TCP), mark, anchor)
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

    def _settle(self, end: End, peer: End, t: int, sending: bool) -> None:
        """``end``'s delayed ACK goes out alone if its timer fires by t; if ``end`` sends at t,
        a later one rides on that segment instead. Settled before the peer's next segment, so
        no ACK ever covers bytes that show after it."""
        if end.owed and end.owed_at <= t:
            self._emit(end, peer, end.owed_at, _ACK)
            end.owed = 0
        elif sending:
            end.owed = 0

    def send(
        self, who: int, data: bytes, think: int = 0, at: int | None = None, mark: Mark | None = None
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

    def close(self, who: int, think: int = 0, at: int | None = None) -> int:
        """``who`` sends FIN (after ``think``, or at ``at``); the peer answers FIN/ACK at once;
        ``who`` ACKs. Returns the last time."""
        s, r = self.ends[who], self.ends[1 - who]
        t = self._start(who, think, at)
        t2 = t + r.turn
        self._settle(r, s, t2, sending=True)
        self._settle(s, r, t, sending=True)
        self._emit(s, r, t, _FIN | _ACK)
        self._emit(r, s, t2, _FIN | _ACK)
        self._emit(s, r, t2 + s.turn, _ACK)
        return t2 + s.turn


# ---------------------------------------------------------------------------------------------
# The file


def file_order(
    cap: Capture, start: int, end: int
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


def write_pcapng(path: Path, frames: list[tuple[int, bytes]]) -> None:
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
        writer.writepkts((us / SEC, frame) for us, frame in frames)
