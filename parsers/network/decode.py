"""Link and network layers of one captured packet -> the fields flows and protocols need.

Most packets take a fast path: fixed-offset ``struct`` reads of Ethernet II (with
one or two 802.1Q/802.1ad tags), Linux cooked capture (SLL, SLL2), BSD loopback and raw IP
frames carrying an unfragmented IPv4 datagram or an IPv6 one without extension headers, with a
TCP, UDP or ICMP/ICMPv6 header. It builds no objects but the ``Segment`` (dpkt's objects cost
~15 us a packet, most of the time of a capture) and takes a packet only when it is sure to give
what dpkt gives; anything else (fragments, extension headers, MPLS, 802.11, ICMP errors quoting a
datagram, cut or malformed headers) goes to the general path, ``decode_dpkt``. The two paths are
compared packet by packet on the corpus captures (tests/parsers/test_decode_fast.py).

The general path's decoding is dpkt's: Ethernet (with 802.1Q/802.1ad tags and MPLS), Linux cooked
capture (SLL, SLL2), BSD loopback, raw IPv4/IPv6, 802.11 data frames under radiotap; IPv4,
IPv6 with its extension headers, TCP, UDP, ICMP and ICMPv6. Fragmented IPv4 and IPv6
datagrams are reassembled (``Defragmenter``) before their transport header is read.
A packet whose link type is not known, or whose headers are cut short by the snap length,
decodes to a reason instead of raising; the caller counts it as a warning.

References: tcpdump.org/linktypes.html (link type numbers); RFC 791/815 (IPv4 fragments and
reassembly); RFC 8200 section 4.5 (IPv6 fragment header).
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import Any

import dpkt

__all__ = ["Defragmenter", "Segment", "decode", "decode_dpkt", "linktype_name"]

_TCP, _UDP, _ICMP, _ICMP6 = 6, 17, 1, 58
#: Fragments of a datagram still incomplete after this long are dropped (RFC 791 suggests 15 s,
#: Linux uses 30 s).
FRAGMENT_TIMEOUT_NS = 30 * 1_000_000_000
_LINKTYPES = {
    0: "null", 1: "ethernet", 12: "raw", 14: "raw", 101: "raw", 105: "ieee802_11", 108: "loop",
    113: "linux_sll", 127: "radiotap", 228: "ipv4", 229: "ipv6", 276: "linux_sll2",
}  # fmt: skip
_ADDRESSES: dict[bytes, str] = {}


@dataclass(slots=True)
class Segment:
    """A decoded transport-layer unit: addresses, ports (ICMP type/code for ICMP), TCP flags
    and sequence numbers, the payload, and the IP-level length."""

    version: int
    src: str
    dst: str
    proto: int
    sport: int
    dport: int
    flags: int
    seq: int
    ack: int
    window: int
    payload: bytes
    ip_length: int
    #: False when the TCP/UDP checksum is wrong; None when not checked (a reassembled datagram).
    checksum_ok: bool | None = None


def linktype_name(linktype: int) -> str:
    return _LINKTYPES.get(linktype, f"linktype {linktype}")


def _address(raw: bytes) -> str:
    """IPv4/IPv6 address text, cached (captures repeat a few hosts millions of times)."""
    text = _ADDRESSES.get(raw)
    if text is None:
        text = socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)
        if len(_ADDRESSES) < 1 << 16:
            _ADDRESSES[raw] = text
    return text


def _network(linktype: int, data: bytes) -> Any:
    """The IP or IP6 object inside a frame; None when the frame carries no IP (ARP, STP...)."""
    if linktype == 1:
        frame: Any = dpkt.ethernet.Ethernet(data)
    elif linktype in (12, 14, 101, 228, 229):
        version = data[0] >> 4 if data else 0
        return dpkt.ip.IP(data) if version == 4 else dpkt.ip6.IP6(data) if version == 6 else None
    elif linktype == 113:
        frame = dpkt.sll.SLL(data)
    elif linktype == 276:
        frame = dpkt.sll2.SLL2(data)
    elif linktype in (0, 108):
        frame = dpkt.loopback.Loopback(data)
    elif linktype in (105, 127):
        frame = _wifi_payload(
            dpkt.radiotap.Radiotap(data).data if linktype == 127 else dpkt.ieee80211.IEEE80211(data)
        )
    else:
        raise LookupError(f"unsupported link type {linktype}")
    for _ in range(4):  # through LLC and tunnels dpkt leaves nested
        if isinstance(frame, (dpkt.ip.IP, dpkt.ip6.IP6)) or frame is None:
            return frame
        frame = getattr(frame, "data", None)
        if isinstance(frame, bytes):
            return None
    return None


def _wifi_payload(frame: Any) -> Any:
    """The LLC/SNAP payload of an unencrypted 802.11 data frame (dpkt leaves it as bytes)."""
    if not isinstance(frame, dpkt.ieee80211.IEEE80211) or frame.type != 2 or frame.wep:
        return None
    body = frame.data
    return dpkt.llc.LLC(body) if isinstance(body, bytes) and body[:2] == b"\xaa\xaa" else None


# The fast path: fixed offsets, no objects. It gives what dpkt's path gives because it reads
# the same bytes the same way: the IP payload ends at the IP length (or where the capture
# does), the transport payload starts after the TCP data offset or the UDP/ICMP header, and
# the checksum covers the IP payload as captured (dpkt re-packs those very bytes).
_IP4_TYPE, _IP6_TYPE = 0x0800, 0x86DD
_IP_VERSIONS = {4: _IP4_TYPE, 6: _IP6_TYPE}
#: 802.1Q, 802.1ad and the legacy QinQ types: dpkt reads a second tag only after an 802.1Q one.
_VLAN_TYPES = frozenset({0x8100, 0x88A8, 0x9100, 0x9200})
_RAW_IP = frozenset({12, 14, 101, 228, 229})
#: BSD loopback address families (in either byte order): AF_INET; AF_INET6 of the BSDs.
_LOOP_IP4 = frozenset({2, 0x02000000})
_LOOP_IP6 = frozenset({24, 28, 30, 0x18000000, 0x1C000000, 0x1E000000})
#: IPv4: version and header length, total length, flags and fragment offset, protocol, addresses.
_IP4 = struct.Struct(">BxHxxHxBxx4s4s").unpack_from
#: IPv6: payload length, next header, addresses.
_IP6 = struct.Struct(">4xHBx16s16s").unpack_from
#: TCP: ports, sequence and acknowledgement numbers, data offset and flags, window.
_TCP_HEADER = struct.Struct(">HHIIHH").unpack_from
#: UDP: ports and checksum.
_UDP_HEADER = struct.Struct(">HH2xH").unpack_from
#: ICMP types whose body dpkt decodes as a quoted datagram (and re-packs): left to dpkt.
_ICMP_QUOTES = {4: frozenset({3, 4, 5, 11}), 6: frozenset({1, 2, 3, 4})}
_ICMP_PROTO = {4: _ICMP, 6: _ICMP6}


def _ip_offset(linktype: int, data: bytes) -> int:
    """Where the IP header of a frame starts, when the frame is one the fast path reads: a
    common link type whose header says IPv4 or IPv6 and an IP version that agrees; else -1."""
    if linktype == 1:  # Ethernet II, up to two VLAN tags
        if len(data) < 34:
            return -1
        kind, at = data[12] << 8 | data[13], 14
        if kind in _VLAN_TYPES:
            kind, at = data[16] << 8 | data[17], 18
            if kind == 0x8100:
                kind, at = data[20] << 8 | data[21], 22
    elif linktype in _RAW_IP:
        if not data:
            return -1
        kind, at = _IP_VERSIONS.get(data[0] >> 4, 0), 0
    elif linktype == 113:  # Linux cooked capture: protocol type at 14 of a 16-byte header
        if len(data) < 16:
            return -1
        kind, at = data[14] << 8 | data[15], 16
    elif linktype == 276:  # Linux cooked capture v2: protocol type first in a 20-byte header
        if len(data) < 20:
            return -1
        kind, at = data[0] << 8 | data[1], 20
    elif linktype in (0, 108):  # BSD loopback: a 4-byte address family in the host's byte order
        family = int.from_bytes(data[:4], "little")
        kind = _IP4_TYPE if family in _LOOP_IP4 else _IP6_TYPE if family in _LOOP_IP6 else 0
        at = 4
    else:
        return -1
    if len(data) <= at:
        return -1
    version = data[at] >> 4
    return at if (kind == _IP4_TYPE and version == 4) or (kind == _IP6_TYPE and version == 6) else -1


def _ipv4(data: bytes, at: int) -> Segment | None:
    """The segment of an unfragmented IPv4 datagram (options allowed); None to leave it to dpkt."""
    if len(data) - at < 20:
        return None
    v_hl, length, fragment, proto, src, dst = _IP4(data, at)
    header = (v_hl & 0x0F) << 2
    if header < 20 or fragment & 0x3FFF or not length:  # a fragment, or TSO's zero length
        return None
    return _segment(data, at + header, at + length, 4, proto, length, length - header, src, dst)


def _ipv6(data: bytes, at: int) -> Segment | None:
    """The segment of an IPv6 packet without extension headers; None to leave it to dpkt."""
    if len(data) - at < 40:
        return None
    length, proto, src, dst = _IP6(data, at)
    if not length:  # a jumbogram, or TSO
        return None
    return _segment(data, at + 40, at + 40 + length, 6, proto, length + 40, length, src, dst)


def _segment(
    data: bytes,
    start: int,
    end: int,
    version: int,
    proto: int,
    ip_length: int,
    expected: int,
    src: bytes,
    dst: bytes,
) -> Segment | None:
    """The TCP, UDP or ICMP segment at ``data[start:end]`` (``end`` as the IP header says,
    maybe past what was captured), as dpkt's path gives it; None for other protocols and for
    headers cut short or malformed. ``expected`` is the segment length the IP header claims."""
    end = min(end, len(data))
    size = end - start  # negative when the IP header claims less than its own length
    if proto == _TCP:
        if size < 20:
            return None
        sport, dport, seq, ack, offset_flags, window = _TCP_HEADER(data, start)
        offset = offset_flags >> 12 << 2
        if offset < 20:
            return None
        ok = sum_ok(data, start, end, src, dst, proto, size) if size == expected else None
        return Segment(version, _ADDRESSES.get(src) or _address(src), _ADDRESSES.get(dst) or _address(dst),
                       _TCP, sport, dport, offset_flags & 0x1FF, seq, ack, window, data[start + offset : end],
                       ip_length, ok)  # fmt: skip
    if proto == _UDP:
        if size < 8:
            return None
        sport, dport, checksum = _UDP_HEADER(data, start)
        ok = None
        if (checksum or version == 6) and size == expected:
            ok = sum_ok(data, start, end, src, dst, proto, size)
        return Segment(version, _ADDRESSES.get(src) or _address(src), _ADDRESSES.get(dst) or _address(dst),
                       _UDP, sport, dport, 0, 0, 0, 0, data[start + 8 : end], ip_length, ok)  # fmt: skip
    if proto == _ICMP_PROTO[version]:
        if size < 4 or data[start] in _ICMP_QUOTES[version]:
            return None
        return Segment(version, _ADDRESSES.get(src) or _address(src), _ADDRESSES.get(dst) or _address(dst),
                       proto, data[start], data[start + 1], 0, 0, 0, 0, data[start + 4 : end], ip_length)  # fmt: skip
    return None  # another protocol, or an IPv6 extension header


def sum_ok_py(data: bytes, start: int, end: int, src: bytes, dst: bytes, proto: int, size: int) -> bool:
    """Whether the segment ``data[start:end]`` has a right checksum (``_checksum_ok`` without
    building the pseudo-header): modulo 0xFFFF a byte string's integer is the sum of its 16-bit
    words, so the pseudo-header adds as the addresses' integers plus protocol and length, and an
    odd segment's zero pad is a shift. ``sum_ok`` is the compiled ``_checksum.sum_ok`` when it
    was built (about 15 times faster on a full-size segment), else this."""
    value = int.from_bytes(data[start:end], "big")
    if size & 1:
        value <<= 8
    return (value + int.from_bytes(src, "big") + int.from_bytes(dst, "big") + proto + size) % 0xFFFF == 0


try:
    from parsers.network._checksum import sum_ok
except ImportError:  # no C compiler at install: the same, in Python
    sum_ok = sum_ok_py


class Defragmenter:
    """IPv4 and IPv6 fragment reassembly: fragments wait, keyed by (src, dst, id, proto),
    until the datagram is whole; unfinished ones are dropped after FRAGMENT_TIMEOUT_NS."""

    def __init__(self) -> None:
        self._pending: dict[tuple, tuple[int, dict[int, bytes], int | None]] = {}
        self.expired = 0

    def add(self, key: tuple, ts_ns: int, offset: int, more: bool, data: bytes) -> bytes | None:
        """The whole datagram payload once every fragment is in, else None."""
        first_seen, parts, total = self._pending.get(key, (ts_ns, {}, None))
        parts[offset] = data
        if not more:
            total = offset + len(data)
        self._pending[key] = (first_seen, parts, total)
        if total is None:
            return None
        joined = bytearray()
        for start in sorted(parts):
            if start > len(joined):
                return None  # a hole
            joined[start:] = parts[start]
        if len(joined) < total:
            return None
        del self._pending[key]
        return bytes(joined[:total])

    def finish(self) -> None:
        """End of input: datagrams still waiting for fragments count as never completed."""
        self.expired += len(self._pending)
        self._pending.clear()

    def expire(self, now_ns: int) -> None:
        for key in [k for k, (seen, _, _) in self._pending.items() if now_ns - seen > FRAGMENT_TIMEOUT_NS]:
            del self._pending[key]
            self.expired += 1


#: ``decode``'s ``at`` when the IP header's offset has not been looked for yet.
UNKNOWN = -2


def address_pair(linktype: int, data: bytes) -> tuple[int, bytes | None]:
    """(where the IP header starts or -1, the source and destination addresses as the header
    holds them: 8 bytes for IPv4, 32 for IPv6) of a frame the fast path reads, the rest left
    undecoded: workers sharing a capture skip others' packets at that cost. No addresses for
    other frames."""
    at = _ip_offset(linktype, data)
    if at < 0:
        return at, None
    if data[at] >> 4 == 4:
        return at, data[at + 12 : at + 20] if len(data) >= at + 20 else None
    return at, data[at + 8 : at + 40] if len(data) >= at + 40 else None


def pair_text(pair: bytes) -> tuple[str, str]:
    """``address_pair``'s bytes as the two addresses' text, as segments carry them."""
    half = len(pair) // 2
    return _address(pair[:half]), _address(pair[half:])


def decode(
    linktype: int, data: bytes, ts_ns: int, defrag: Defragmenter, at: int = UNKNOWN
) -> Segment | str | None:
    """The packet's transport segment; a reason (str) when it cannot be decoded; None when
    it carries no IP (or is a fragment still waiting for the rest of its datagram). ``at``:
    where the IP header starts, when ``address_pair`` already looked."""
    if at == UNKNOWN:
        at = _ip_offset(linktype, data)
    if at >= 0:
        segment = _ipv4(data, at) if data[at] >> 4 == 4 else _ipv6(data, at)
        if segment is not None:
            return segment
    return decode_dpkt(linktype, data, ts_ns, defrag)


def decode_dpkt(linktype: int, data: bytes, ts_ns: int, defrag: Defragmenter) -> Segment | str | None:
    """``decode`` through dpkt's objects: every link type and case the fast path leaves."""
    try:
        ip = _network(linktype, data)
    except LookupError as exc:
        return str(exc)
    except (dpkt.NeedData, dpkt.UnpackError) as exc:
        return f"link layer cut short or malformed: {type(exc).__name__}"
    if ip is None:
        return None
    try:
        if isinstance(ip, dpkt.ip.IP):
            version, proto, length = 4, ip.p, ip.len
            transport: Any = ip.data
            if ip.mf or ip.offset:
                key = (ip.src, ip.dst, ip.id, ip.p)
                whole = defrag.add(key, ts_ns, ip.offset, bool(ip.mf), bytes(ip.data))
                if whole is None:
                    return None
                transport = whole
        else:
            version, proto, length = 6, ip.p, ip.plen + 40
            transport = ip.data
            fragment = ip.extension_hdrs.get(44) if hasattr(ip, "extension_hdrs") else None
            if fragment is not None:
                key = (ip.src, ip.dst, fragment.id, proto)
                whole = defrag.add(key, ts_ns, fragment.frag_off << 3, bool(fragment.m_flag), bytes(ip.data))
                if whole is None:
                    return None
                transport = whole
        if isinstance(transport, bytes):
            transport = _transport(proto, transport)
    except (dpkt.NeedData, dpkt.UnpackError) as exc:
        return f"IP layer cut short or malformed: {type(exc).__name__}"
    src, dst = _address(ip.src), _address(ip.dst)
    checked = transport is ip.data  # not reassembled: the header's checksum covers these bytes
    if isinstance(transport, dpkt.tcp.TCP):
        payload = bytes(transport.data)
        ok = _checksum_ok(ip, transport.pack_hdr() + bytes(transport.opts) + payload) if checked else None
        return Segment(version, src, dst, _TCP, transport.sport, transport.dport, transport.flags,
                       transport.seq, transport.ack, transport.win, payload, length, ok)  # fmt: skip
    if isinstance(transport, dpkt.udp.UDP):
        payload = bytes(transport.data)
        ok = None
        if checked and (transport.sum or version == 6):
            ok = _checksum_ok(ip, transport.pack_hdr() + payload)
        return Segment(version, src, dst, _UDP, transport.sport, transport.dport, 0, 0, 0, 0,
                       payload, length, ok)  # fmt: skip
    if isinstance(transport, (dpkt.icmp.ICMP, dpkt.icmp6.ICMP6)):
        return Segment(version, src, dst, proto, transport.type, transport.code, 0, 0, 0, 0,
                       bytes(transport.data), length)  # fmt: skip
    payload = transport if isinstance(transport, bytes) else bytes(transport)
    return Segment(version, src, dst, proto, 0, 0, 0, 0, 0, 0, payload, length)


def _checksum_ok(ip: Any, segment: bytes) -> bool | None:
    """``sum_ok`` for dpkt's path: the segment re-packed from dpkt's objects, under the
    pseudo-header of RFC 793 / RFC 8200 8.1. None when the segment is cut short by the snap
    length (its checksum cannot be checked)."""
    expected = ip.len - ip.hl * 4 if isinstance(ip, dpkt.ip.IP) else ip.plen
    if len(segment) != expected:
        return None
    return sum_ok(segment, 0, expected, ip.src, ip.dst, ip.p, expected)


def _transport(proto: int, data: bytes) -> Any:
    """A reassembled datagram's transport header, decoded."""
    if proto == _TCP:
        return dpkt.tcp.TCP(data)
    if proto == _UDP:
        return dpkt.udp.UDP(data)
    if proto == _ICMP:
        return dpkt.icmp.ICMP(data)
    if proto == _ICMP6:
        return dpkt.icmp6.ICMP6(data)
    return data
