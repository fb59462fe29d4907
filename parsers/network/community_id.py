"""Community ID v1: one string per network flow, the same in Zeek, Suricata, Wireshark and here.

Host events (a Sysmon network connection, a firewall log line) and packet-derived flows are
joined on this value, so it must match the other tools bit for bit. The algorithm is the one of
the Community ID spec (github.com/corelight/community-id-spec, README "Pseudo code" and
"Technical details"), with the ICMP type/code mapping of its reference implementation
(pycommunityid's ``icmp.py`` / ``icmp6.py``, taken from Zeek's ``ICMP4_counterpart`` /
``ICMP6_counterpart``):

    sha1( seed:u16 . addr_lo . addr_hi . proto:u8 . 0:u8 [. port_lo:u16 . port_hi:u16] )
    -> "1:" + base64(digest)

All values are big-endian. The two endpoints are ordered so that the smaller (address, port)
comes first, which makes both directions of a flow hash alike. Ports are hashed for TCP, UDP,
SCTP, ICMP and ICMPv6 only; for ICMP the "ports" are the message type and either the type of
its counterpart message (echo request <-> reply and the like) or, for one-way messages
(unreachable, time exceeded...), the code, in which case the endpoints are not reordered.
Every other IP protocol hashes addresses and protocol alone.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import struct

__all__ = [
    "PORT_PROTOCOLS",
    "community_id",
    "community_id_digest",
    "icmp_port_equivalents",
]

PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17
PROTO_ICMP6 = 58
PROTO_SCTP = 132

#: IP protocols whose Community ID includes the ports (ICMP's: type and code).
PORT_PROTOCOLS = frozenset({PROTO_ICMP, PROTO_TCP, PROTO_UDP, PROTO_ICMP6, PROTO_SCTP})

# ICMPv4 message types with a counterpart (request <-> reply).
_ICMP4_COUNTERPART = {
    8: 0,  # echo request -> echo reply
    0: 8,
    13: 14,  # timestamp
    14: 13,
    15: 16,  # information
    16: 15,
    10: 9,  # router solicitation -> advertisement
    9: 10,
    17: 18,  # address mask
    18: 17,
}

# ICMPv6 message types with a counterpart.
_ICMP6_COUNTERPART = {
    128: 129,  # echo request -> reply
    129: 128,
    130: 131,  # MLD listener query -> report
    131: 130,
    133: 134,  # router solicitation -> advertisement
    134: 133,
    135: 136,  # neighbour solicitation -> advertisement
    136: 135,
    139: 140,  # node information query ("who are you") -> reply
    140: 139,
    144: 145,  # home agent address discovery request -> reply
    145: 144,
}


def icmp_port_equivalents(proto: int, icmp_type: int, icmp_code: int) -> tuple[int, int, bool]:
    """(source "port", destination "port", one_way) for an ICMP or ICMPv6 message.

    A message with a counterpart maps to (type, counterpart type) and can be reordered like a
    TCP flow; any other message maps to (type, code) and is one-way: never reordered.
    """
    table = _ICMP6_COUNTERPART if proto == PROTO_ICMP6 else _ICMP4_COUNTERPART
    counterpart = table.get(icmp_type)
    if counterpart is None:
        return icmp_type, icmp_code, True
    return icmp_type, counterpart, False


def _packed(address: str | bytes) -> bytes:
    if isinstance(address, bytes):
        if len(address) not in (4, 16):
            raise ValueError(f"a packed IP address has 4 or 16 bytes, not {len(address)}")
        return address
    return ipaddress.ip_address(address).packed


def community_id_digest(
    src_ip: str | bytes,
    dst_ip: str | bytes,
    proto: int,
    src_port: int | None,
    dst_port: int | None,
    seed: int = 0,
) -> bytes:
    """The 20-byte SHA-1 digest behind :func:`community_id` (same arguments)."""
    if not 0 <= proto <= 255:
        raise ValueError(f"IP protocol number out of range: {proto}")
    if not 0 <= seed <= 0xFFFF:
        raise ValueError(f"Community ID seed is 16 bits: {seed}")
    saddr = _packed(src_ip)
    daddr = _packed(dst_ip)
    if len(saddr) != len(daddr):
        raise ValueError("source and destination addresses are of different IP versions")

    with_ports = proto in PORT_PROTOCOLS
    one_way = False
    sport = dport = 0
    if with_ports:
        if src_port is None or dst_port is None:
            raise ValueError(f"IP protocol {proto} needs both ports (ICMP: type and code)")
        if proto in (PROTO_ICMP, PROTO_ICMP6):
            sport, dport, one_way = icmp_port_equivalents(proto, src_port, dst_port)
        else:
            sport, dport = src_port, dst_port
        if not (0 <= sport <= 0xFFFF and 0 <= dport <= 0xFFFF):
            raise ValueError(f"port out of range: {src_port}, {dst_port}")

    # Smaller endpoint first; equal addresses are decided by the ports. One-way ICMP keeps
    # the direction it was seen in.
    if not one_way and (daddr < saddr or (daddr == saddr and with_ports and dport < sport)):
        saddr, daddr, sport, dport = daddr, saddr, dport, sport

    data = struct.pack("!H", seed) + saddr + daddr + struct.pack("!BB", proto, 0)
    if with_ports:
        data += struct.pack("!HH", sport, dport)
    return hashlib.sha1(data).digest()


def community_id(
    src_ip: str | bytes,
    dst_ip: str | bytes,
    proto: int,
    src_port: int | None,
    dst_port: int | None,
    seed: int = 0,
) -> str:
    """The Community ID v1 string ("1:" + base64 of SHA-1) of one flow.

    ``src_ip``/``dst_ip`` are text ("10.0.0.1", "fe80::1") or packed (4 or 16 bytes, as in a
    packet header). ``proto`` is the IP protocol number. For TCP, UDP and SCTP pass the ports;
    for ICMP (1) and ICMPv6 (58) pass the message type as ``src_port`` and the code as
    ``dst_port``. Ports given for other protocols are ignored, as the spec says. Either
    direction of a flow gives the same value (except one-way ICMP messages). Raises
    ``ValueError`` on an unparseable address, mixed IP versions, missing ports for a port
    protocol or out-of-range values.
    """
    digest = community_id_digest(src_ip, dst_ip, proto, src_port, dst_port, seed)
    return "1:" + base64.b64encode(digest).decode("ascii")
