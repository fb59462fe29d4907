"""The decoder's fast path (fixed-offset ``struct`` reads) against dpkt's path, which it must
equal on every packet: corpus captures of several link types, hand-built frames at the edges
(VLAN tags, IPv4 options, Ethernet padding, odd lengths, bad and cut checksums), and corpus
packets with bytes changed at random. A packet the fast path does not take goes to dpkt's path
inside ``decode``; the tests count those to show the fast path did the work."""

from __future__ import annotations

import random
import struct
from dataclasses import astuple
from pathlib import Path

import pytest

from forensics.demo import SAMPLE
from parsers.network import decode as decoding
from parsers.network.capture import Packet, read_capture
from parsers.network.decode import Defragmenter, Segment, decode, decode_dpkt

#: Capture -> (packets, of which the fast path decodes). The others are dpkt's: MPLS frames
#: (11 in the first), ARP and the like (2 in the second), fragments (all of the fourth).
CAPTURES = {
    "pcap/zeek-traces/mixed-vlan-mpls.pcap": (47, 36),
    "pcap/zeek-traces/linux_dlt_sll2.pcap": (6, 4),
    "pcap/chrissanders-packets/http_ip4and6.pcapng": (20, 20),
    "pcap/chrissanders-packets/ip_frag_source.pcapng": (6, 0),
    "pcap/chrissanders-packets/synscan.pcapng": (2011, 2011),
}


def _packets(path: Path) -> list[Packet]:
    with open(path, "rb") as fh:
        return [p for p in read_capture(fh) if isinstance(p, Packet)]


def _both(linktype: int, data: bytes, fast: Defragmenter, slow: Defragmenter, ts_ns: int = 0) -> tuple:
    """``decode`` and ``decode_dpkt`` of one frame, comparable (a Segment as a tuple)."""
    a, b = decode(linktype, data, ts_ns, fast), decode_dpkt(linktype, data, ts_ns, slow)
    return tuple(astuple(s) if isinstance(s, Segment) else s for s in (a, b))


@pytest.fixture
def fallbacks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the packets ``decode`` hands to dpkt's path."""
    counted: list[int] = []

    def counting(*args: object) -> object:
        counted.append(1)
        return decode_dpkt(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(decoding, "decode_dpkt", counting)
    return counted


@pytest.mark.parametrize("capture", sorted(CAPTURES))
def test_fast_path_equals_dpkt_on_corpus_captures(corpus: Path, capture: str, fallbacks: list[int]) -> None:
    packets = _packets(corpus / capture)
    fast, slow = Defragmenter(), Defragmenter()
    for p in packets:
        got, want = _both(p.linktype, p.data, fast, slow, p.ts_ns or 0)
        assert got == want, (capture, p.number)
    assert (len(packets), len(packets) - len(fallbacks)) == CAPTURES[capture]


def test_fast_path_equals_dpkt_on_the_sample_lan_tap(fallbacks: list[int]) -> None:
    packets = _packets(SAMPLE / "network" / "lan-tap.pcapng")
    fast, slow = Defragmenter(), Defragmenter()
    for p in packets:
        got, want = _both(p.linktype, p.data, fast, slow, p.ts_ns or 0)
        assert got == want, p.number
    assert (len(packets), len(fallbacks)) == (25_851, 1_520)  # the ARP frames


# -- hand-built frames ---------------------------------------------------------------------


def _sum(data: bytes) -> int:
    """RFC 1071 one's-complement sum, word by word (the slow, obvious way)."""
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f">{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


SRC4, DST4 = bytes([10, 0, 0, 1]), bytes([192, 168, 7, 9])
SRC6, DST6 = (
    bytes.fromhex("20010db8000000000000000000000001"),
    bytes.fromhex("fe800000000000000000000000000abc"),
)


def _tcp(payload: bytes, options: bytes = b"", flags: int = 0x18) -> bytes:
    offset = (20 + len(options)) // 4
    return (
        struct.pack(">HHIIHHHH", 40000, 443, 1000, 2000, offset << 12 | flags, 512, 0, 0) + options + payload
    )


def _udp(payload: bytes) -> bytes:
    return struct.pack(">HHHH", 5353, 53, 8 + len(payload), 0) + payload


def _with_checksum(segment: bytes, at: int, pseudo: bytes, good: bool = True) -> bytes:
    value = 0xFFFF - _sum(pseudo + segment)
    value = value if good else value ^ 0x00FF
    return segment[:at] + struct.pack(">H", value) + segment[at + 2 :]


def _ipv4(
    proto: int,
    segment: bytes,
    options: bytes = b"",
    checksum_at: int | None = None,
    good: bool = True,
    fragment: int = 0x4000,
) -> bytes:
    length = 20 + len(options) + len(segment)
    if checksum_at is not None:
        pseudo = SRC4 + DST4 + struct.pack(">xBH", proto, len(segment))
        segment = _with_checksum(segment, checksum_at, pseudo, good)
    ihl = (20 + len(options)) // 4
    header = struct.pack(">BBHHHBBH4s4s", 0x40 | ihl, 0, length, 7, fragment, 64, proto, 0, SRC4, DST4)
    return header + options + segment


def _ipv6(proto: int, segment: bytes, checksum_at: int | None = None) -> bytes:
    if checksum_at is not None:
        pseudo = SRC6 + DST6 + struct.pack(">I3xB", len(segment), proto)
        segment = _with_checksum(segment, checksum_at, pseudo)
    return struct.pack(">IHBB16s16s", 6 << 28, len(segment), proto, 64, SRC6, DST6) + segment


def _ethernet(ip: bytes, *tags: int) -> bytes:
    """An Ethernet II frame around ``ip``, behind VLAN tags of the given types (outermost first)."""
    kind = 0x86DD if ip[0] >> 4 == 6 else 0x0800
    frame = b"\x02" * 6 + b"\x04" * 6 + struct.pack(">H", tags[0] if tags else kind)
    for inner in [*tags[1:], kind] if tags else []:
        frame += struct.pack(">HH", 100, inner)  # priority and VLAN id, then the next type
    return frame + ip


FRAMES = {
    "tcp, options, odd payload": (1, _ethernet(_ipv4(6, _tcp(b"hello", b"\x02\x04\x05\xb4"), checksum_at=16))),
    "tcp, bad checksum": (1, _ethernet(_ipv4(6, _tcp(b"abcd"), checksum_at=16, good=False))),
    "tcp, IPv4 options": (1, _ethernet(_ipv4(6, _tcp(b"xyz"), options=b"\x01\x01\x01\x00", checksum_at=16))),
    "tcp, Ethernet padding": (1, _ethernet(_ipv4(6, _tcp(b""), checksum_at=16)) + b"\x00" * 6),
    "tcp, one VLAN tag": (1, _ethernet(_ipv4(6, _tcp(b"GET /"), checksum_at=16), 0x8100)),
    "tcp, 802.1ad + 802.1Q": (1, _ethernet(_ipv4(6, _tcp(b"GET /"), checksum_at=16), 0x88A8, 0x8100)),
    "udp, no checksum": (1, _ethernet(_ipv4(17, _udp(b"\x12\x34query")))),
    "udp, checksum": (1, _ethernet(_ipv4(17, _udp(b"\x12\x34query!"), checksum_at=6))),
    "udp over IPv6, zero checksum": (1, _ethernet(_ipv6(17, _udp(b"\x00\x01odd")))),
    "tcp over IPv6": (1, _ethernet(_ipv6(6, _tcp(b"\x16\x03\x01"), checksum_at=16))),
    "icmp echo": (1, _ethernet(_ipv4(1, b"\x08\x00\x00\x00\x00\x01\x00\x02ping"))),
    "icmp unreachable (dpkt's)": (1, _ethernet(_ipv4(1, b"\x03\x03\x00\x00\x00\x00\x00\x00" + _ipv4(17, _udp(b"x"))))),
    "icmpv6 echo": (1, _ethernet(_ipv6(58, b"\x80\x00\x00\x00\x00\x01\x00\x02ping"))),
    "raw IPv4": (101, _ipv4(6, _tcp(b"data"), checksum_at=16)),
    "raw IPv6": (229, _ipv6(17, _udp(b"data"), checksum_at=6)),
    "loopback IPv4": (0, b"\x02\x00\x00\x00" + _ipv4(17, _udp(b"data"))),
    "loopback IPv6 (BSD 30)": (0, b"\x1e\x00\x00\x00" + _ipv6(17, _udp(b"data"), checksum_at=6)),
    "SLL": (113, b"\x00\x00\x00\x01\x00\x06" + b"\x02" * 8 + b"\x08\x00" + _ipv4(17, _udp(b"x"))),
    "SLL2": (276, b"\x86\xdd\x00\x00" + b"\x00" * 16 + _ipv6(17, _udp(b"x"), checksum_at=6)),
    "snap-cut tcp": (1, _ethernet(_ipv4(6, _tcp(b"A" * 200), checksum_at=16))[:120]),
    "cut TCP header (dpkt's reason)": (1, _ethernet(_ipv4(6, _tcp(b"")))[:44]),
    "IPv4 fragment (dpkt's)": (1, _ethernet(_ipv4(17, _udp(b"x" * 8), fragment=0x2000))),
    "IPv6 hop-by-hop (dpkt's)": (1, _ethernet(_ipv6(0, b"\x11\x00" + b"\x00" * 6 + _udp(b"x")))),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_fast_path_equals_dpkt_on_edge_frames(name: str) -> None:
    linktype, frame = FRAMES[name]
    got, want = _both(linktype, frame, Defragmenter(), Defragmenter())
    assert got == want


def test_edge_frames_decode_as_built() -> None:
    """The fields themselves, not only the agreement: padding excluded, checksums judged."""

    def seg(name: str) -> Segment:
        linktype, frame = FRAMES[name]
        out = decode(linktype, frame, 0, Defragmenter())
        assert isinstance(out, Segment)
        return out

    odd = seg("tcp, options, odd payload")
    assert (odd.src, odd.dst, odd.sport, odd.dport, odd.seq, odd.ack, odd.flags, odd.window) == (
        "10.0.0.1", "192.168.7.9", 40000, 443, 1000, 2000, 0x18, 512,
    )  # fmt: skip
    assert (odd.payload, odd.checksum_ok, odd.ip_length) == (b"hello", True, 20 + 24 + 5)
    assert seg("tcp, bad checksum").checksum_ok is False
    assert seg("tcp, IPv4 options").payload == b"xyz" and seg("tcp, IPv4 options").checksum_ok is True
    assert seg("tcp, Ethernet padding").payload == b"" and seg("tcp, Ethernet padding").checksum_ok is True
    assert seg("tcp, 802.1ad + 802.1Q").payload == b"GET /"
    assert seg("udp, no checksum").checksum_ok is None
    assert seg("udp, checksum").checksum_ok is True
    assert seg("udp over IPv6, zero checksum").checksum_ok is False  # IPv6 UDP must carry one
    assert (seg("tcp over IPv6").src, seg("tcp over IPv6").checksum_ok) == ("2001:db8::1", True)
    echo = seg("icmp echo")
    assert (echo.proto, echo.sport, echo.dport, echo.payload) == (1, 8, 0, b"\x00\x01\x00\x02ping")
    assert seg("snap-cut tcp").checksum_ok is None
    assert seg("loopback IPv6 (BSD 30)").checksum_ok is True
    assert decode(*FRAMES["cut TCP header (dpkt's reason)"], 0, Defragmenter()) == (
        "IP layer cut short or malformed: NeedData"
    )


def test_fast_path_takes_the_common_frames(fallbacks: list[int]) -> None:
    for name, (linktype, frame) in FRAMES.items():
        fallbacks.clear()
        decode(linktype, frame, 0, Defragmenter())
        assert bool(fallbacks) == ("dpkt" in name), name


def test_fast_path_equals_dpkt_on_damaged_packets(corpus: Path) -> None:
    """Corpus packets cut short and with header bytes changed at random, on several link types."""
    rng = random.Random(20240501)
    packets = [(p.linktype, p.data) for capture in CAPTURES for p in _packets(corpus / capture)[:400]] + [
        (p.linktype, p.data) for p in _packets(SAMPLE / "network" / "lan-tap.pcapng")[:400]
    ]
    values = [
        0x00,
        0x01,
        0x04,
        0x05,
        0x06,
        0x11,
        0x2C,
        0x3A,
        0x45,
        0x46,
        0x4F,
        0x60,
        0x81,
        0x86,
        0x88,
        0xDD,
        0xFF,
    ]
    for _ in range(6000):
        linktype, data = rng.choice(packets)
        frame = bytearray(data[: rng.randrange(len(data) + 1)] if rng.random() < 0.3 else data)
        for _ in range(rng.randrange(1, 4)):
            if frame:
                frame[rng.randrange(min(len(frame), 80))] = rng.choice([*values, rng.randrange(256)])
        if rng.random() < 0.05:
            linktype = rng.choice([0, 1, 12, 101, 108, 113, 228, 229, 276])
        got, want = _both(linktype, bytes(frame), Defragmenter(), Defragmenter())
        assert got == want, (linktype, bytes(frame).hex())
