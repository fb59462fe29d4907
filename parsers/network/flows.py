"""Packets -> connections, in the manner of Zeek's conn.log, with memory that stays flat.

A flow is the packets of one 5-tuple in both directions. Its originator is the sender of the
first packet seen (the receiver, when that first packet is a SYN-ACK). Each flow keeps packet
and byte counts per direction, Zeek's ``history`` letters (originator upper case, responder
lower case: S SYN, H SYN-ACK, A pure ACK, D data, F FIN, R RST, C bad checksum) and, when it
ends, Zeek's ``conn_state`` (S0, S1, SF, REJ, S2, S3, RSTO, RSTR, RSTOS0, RSTRH, SH, SHR, OTH).
Flows end on FIN from both sides or a RST (after a short delay that absorbs the last ACKs), on
inactivity (TCP 5 minutes, others 1 minute, Zeek's defaults), or at the end of the capture;
ended flows are handed back at once, so a capture of any length holds only its live flows.
Byte counts are transport payload bytes as captured, retransmissions included (Zeek counts by
sequence space); ``orig_ip_bytes``/``resp_ip_bytes`` are IP-level lengths.

References: Zeek documentation, base/protocols/conn/main.zeek (conn_state and history).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from parsers.network.community_id import community_id, icmp_port_equivalents
from parsers.network.decode import Segment

__all__ = ["Flow", "FlowTable", "conn_state"]

SECOND = 1_000_000_000
TCP_TIMEOUT = 300 * SECOND
OTHER_TIMEOUT = 60 * SECOND
CLOSE_DELAY = 5 * SECOND
_FIN, _SYN, _RST, _ACK = 0x01, 0x02, 0x04, 0x10
_PROTO_NAMES = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp"}
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(slots=True)
class Flow:
    """One connection: endpoints, times, counts, TCP state and protocol-inspection state."""

    uid: str
    proto: int
    orig: tuple[str, int]
    resp: tuple[str, int]
    start_ns: int
    last_ns: int
    first_packet: int
    orig_pkts: int = 0
    resp_pkts: int = 0
    orig_bytes: int = 0
    resp_bytes: int = 0
    orig_ip_bytes: int = 0
    resp_ip_bytes: int = 0
    history: str = ""
    flags: set[str] = field(default_factory=set)  # orig_syn, resp_synack, orig_fin, resp_fin...
    closed_ns: int | None = None
    service: list[str] = field(default_factory=list)
    app: dict[str, Any] = field(default_factory=dict)

    @property
    def proto_name(self) -> str:
        return _PROTO_NAMES.get(self.proto, str(self.proto))

    def record(self) -> dict[str, Any]:
        """The flow as a Zeek conn.log record."""
        duration = (self.last_ns - self.start_ns) / SECOND
        return {
            "ts": self.start_ns, "uid": self.uid,
            "id.orig_h": self.orig[0], "id.orig_p": self.orig[1],
            "id.resp_h": self.resp[0], "id.resp_p": self.resp[1],
            "proto": self.proto_name, "service": ",".join(self.service) or None,
            "duration": f"{duration:.6f}",
            "orig_bytes": self.orig_bytes, "resp_bytes": self.resp_bytes,
            "conn_state": conn_state(self), "history": self.history,
            "orig_pkts": self.orig_pkts, "orig_ip_bytes": self.orig_ip_bytes,
            "resp_pkts": self.resp_pkts, "resp_ip_bytes": self.resp_ip_bytes,
            "packet": self.first_packet, "missed_bytes": self.missed_bytes(),
            "community_id": self.community_id(),
        }  # fmt: skip

    def community_id(self) -> str | None:
        """The flow's Community ID v1 (None for protocols it does not cover without ports)."""
        try:
            return community_id(self.orig[0], self.resp[0], self.proto, self.orig[1], self.resp[1])
        except ValueError:
            return None

    def missed_bytes(self) -> int | None:
        """Bytes of the reassembled streams never captured (None when not reassembled)."""
        reassembly = self.app.get("tcp")
        return reassembly.missed if reassembly else None


def conn_state(flow: Flow) -> str:
    """Zeek's summary of how a connection went."""
    f = flow.flags
    if flow.proto != 6:
        if flow.orig_pkts and flow.resp_pkts:
            return "SF"
        return "S0" if flow.orig_pkts else "SHR"
    syn, synack = "orig_syn" in f, "resp_synack" in f
    if syn and not synack:
        if "resp_rst" in f:
            return "REJ"
        if "orig_rst" in f:
            return "RSTOS0"
        return "SH" if "orig_fin" in f else "S0"
    if synack and not syn:
        if "resp_rst" in f:
            return "RSTRH"
        return "SHR" if "resp_fin" in f else "OTH"
    if not syn:
        return "OTH"
    if "orig_rst" in f:
        return "RSTO"
    if "resp_rst" in f:
        return "RSTR"
    if "orig_fin" in f and "resp_fin" in f:
        return "SF"
    if "orig_fin" in f:
        return "S2"
    return "S3" if "resp_fin" in f else "S1"


def _uid(number: int, key: tuple) -> str:
    """A Zeek-style connection uid, deterministic: the same capture gives the same uids."""
    value = int.from_bytes(hashlib.blake2b(f"{number}|{key}".encode(), digest_size=12).digest(), "big")
    out = []
    for _ in range(17):
        value, digit = divmod(value, 62)
        out.append(_ALPHABET[digit])
    return "C" + "".join(out)


class FlowTable:
    """Live flows, keyed by their 5-tuple; ``add`` a packet, get back the flows that ended."""

    def __init__(self) -> None:
        self._flows: dict[tuple, Flow] = {}
        # Flows by timeout class, oldest activity first: expiry only ever looks at the front.
        self._queues: dict[str, OrderedDict[tuple, Flow]] = {
            "tcp": OrderedDict(), "other": OrderedDict(), "closing": OrderedDict(),
        }  # fmt: skip
        self._class: dict[tuple, str] = {}
        self.now = 0
        self._checked = 0

    def __len__(self) -> int:
        return len(self._flows)

    def add(
        self, seg: Segment, ts_ns: int, number: int, bad_checksum: bool = False
    ) -> tuple[Flow, bool, list[Flow]]:
        """Account ``seg`` to its flow: (the flow, whether it came from the originator, flows
        that ended before it)."""
        self.now = max(self.now, ts_ns)
        ended = self._expire() if self.now - self._checked >= SECOND else []
        sport, dport = seg.sport, seg.dport
        if seg.proto in (1, 58):  # echo request and reply (and other pairs) are one flow
            sport, dport, _ = icmp_port_equivalents(seg.proto, sport, dport)
        a, b = (seg.src, sport), (seg.dst, dport)
        key = (seg.proto, a, b) if a <= b else (seg.proto, b, a)
        flow = self._flows.get(key)
        if (
            flow is not None
            and flow.closed_ns is not None
            and seg.proto == 6
            and seg.flags & _SYN
            and not seg.flags & _ACK
        ):
            ended.append(self._remove(key))  # a new connection on a reused 5-tuple
            flow = None
        if flow is None:
            synack = seg.proto == 6 and seg.flags & (_SYN | _ACK) == (_SYN | _ACK)
            orig, resp = (b, a) if synack else (a, b)
            flow = Flow(_uid(number, key), seg.proto, orig, resp, ts_ns, ts_ns, number)
            self._flows[key] = flow
            klass = "tcp" if seg.proto == 6 else "other"
            self._class[key] = klass
            self._queues[klass][key] = flow
        else:
            self._queues[self._class[key]].move_to_end(key)
        from_orig = a == flow.orig
        flow.last_ns = max(flow.last_ns, ts_ns)
        size = len(seg.payload)
        if from_orig:
            flow.orig_pkts += 1
            flow.orig_bytes += size
            flow.orig_ip_bytes += seg.ip_length
        else:
            flow.resp_pkts += 1
            flow.resp_bytes += size
            flow.resp_ip_bytes += seg.ip_length
        if seg.proto == 6:
            self._tcp(flow, key, seg, from_orig, size, bad_checksum)
        elif bad_checksum:
            self._letter(flow, "C", from_orig)
        return flow, from_orig, ended

    def _letter(self, flow: Flow, letter: str, from_orig: bool) -> None:
        letter = letter if from_orig else letter.lower()
        if letter not in flow.history:
            flow.history += letter

    def _tcp(self, flow: Flow, key: tuple, seg: Segment, from_orig: bool, size: int, bad: bool) -> None:
        flags, side = seg.flags, "orig" if from_orig else "resp"
        if bad:
            self._letter(flow, "C", from_orig)
        if flags & _SYN:
            if flags & _ACK:
                self._letter(flow, "H", from_orig)
                flow.flags.add(f"{side}_synack")
            else:
                self._letter(flow, "S", from_orig)
                flow.flags.add(f"{side}_syn")
        if flags & _FIN:
            self._letter(flow, "F", from_orig)
            flow.flags.add(f"{side}_fin")
        if flags & _RST:
            self._letter(flow, "R", from_orig)
            flow.flags.add(f"{side}_rst")
        if size:
            self._letter(flow, "D", from_orig)
        elif flags & _ACK and not flags & (_SYN | _FIN | _RST):
            self._letter(flow, "A", from_orig)
        ended = flags & _RST or {"orig_fin", "resp_fin"} <= flow.flags
        if ended and flow.closed_ns is None:
            flow.closed_ns = flow.last_ns
            klass = self._class[key]
            del self._queues[klass][key]
            self._class[key] = "closing"
            self._queues["closing"][key] = flow

    def _remove(self, key: tuple) -> Flow:
        flow = self._flows.pop(key)
        del self._queues[self._class.pop(key)][key]
        return flow

    def _expire(self) -> list[Flow]:
        self._checked = self.now
        ended: list[Flow] = []
        for klass, timeout in (("closing", CLOSE_DELAY), ("tcp", TCP_TIMEOUT), ("other", OTHER_TIMEOUT)):
            queue = self._queues[klass]
            while queue:
                key, flow = next(iter(queue.items()))
                if flow.last_ns + timeout > self.now:
                    break
                ended.append(self._remove(key))
        return ended

    def drain(self) -> Iterator[Flow]:
        """Every live flow, at the end of the capture, oldest first."""
        for key in sorted(self._flows, key=lambda k: self._flows[k].start_ns):
            yield self._flows[key]
        self._flows.clear()
        for queue in self._queues.values():
            queue.clear()
        self._class.clear()
