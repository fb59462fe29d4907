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
_SYN_ACK, _CONTROL = _SYN | _ACK, _SYN | _FIN | _RST
#: History letters by direction: the originator's upper case, the responder's lower case.
_ORIG_LETTERS = {c: c for c in "SHADFRC"}
_RESP_LETTERS = {c: c.lower() for c in "SHADFRC"}
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
        """The flow's Community ID v1 (None for protocols it does not cover without ports);
        worked out once, since every row of the flow carries it."""
        if "community_id" not in self.app:
            try:
                value = community_id(self.orig[0], self.resp[0], self.proto, self.orig[1], self.resp[1])
            except ValueError:
                value = None
            self.app["community_id"] = value
        return self.app["community_id"]

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
    """Live flows, keyed by their 5-tuple; ``add`` a packet, get back the flows that ended.

    ``add`` runs once per packet, so it avoids work it can: the flow's timeout queue follows
    from the flow (closing once ``closed_ns`` is set, else by protocol), and history letters
    and flags are only looked up when a packet can add one."""

    def __init__(self) -> None:
        self._flows: dict[tuple, Flow] = {}
        # Flows by timeout class, oldest activity first: expiry only ever looks at the front.
        self._tcp_queue: OrderedDict[tuple, Flow] = OrderedDict()
        self._other_queue: OrderedDict[tuple, Flow] = OrderedDict()
        self._closing_queue: OrderedDict[tuple, Flow] = OrderedDict()
        self.now = 0
        self._checked = 0

    def __len__(self) -> int:
        return len(self._flows)

    def _queue(self, flow: Flow) -> OrderedDict[tuple, Flow]:
        """The timeout queue ``flow`` is in."""
        if flow.closed_ns is not None:
            return self._closing_queue
        return self._tcp_queue if flow.proto == 6 else self._other_queue

    def add(
        self, seg: Segment, ts_ns: int, number: int, bad_checksum: bool = False
    ) -> tuple[Flow, bool, list[Flow]]:
        """Account ``seg`` to its flow: (the flow, whether it came from the originator, flows
        that ended before it)."""
        if ts_ns > self.now:
            self.now = ts_ns
        ended = self._expire() if self.now - self._checked >= SECOND else []
        proto, src, dst, sport, dport = seg.proto, seg.src, seg.dst, seg.sport, seg.dport
        if proto == 1 or proto == 58:  # echo request and reply (and other pairs) are one flow
            sport, dport, _ = icmp_port_equivalents(proto, sport, dport)
        # The key: protocol, then the lower (address, port) endpoint, then the other.
        from_low = src < dst or (src == dst and sport <= dport)
        key = (proto, src, sport, dst, dport) if from_low else (proto, dst, dport, src, sport)
        flow = self._flows.get(key)
        if flow is not None and flow.closed_ns is not None and proto == 6 and seg.flags & _SYN_ACK == _SYN:
            ended.append(self._remove(key))  # a new connection on a reused 5-tuple
            flow = None
        if flow is None:
            flow = self._new(key, from_low, seg.flags, ts_ns, number)
        else:
            self._queue(flow).move_to_end(key)
            if ts_ns > flow.last_ns:
                flow.last_ns = ts_ns
        orig = flow.orig
        from_orig = src == orig[0] and sport == orig[1]
        size = len(seg.payload)
        if from_orig:
            flow.orig_pkts += 1
            flow.orig_bytes += size
            flow.orig_ip_bytes += seg.ip_length
        else:
            flow.resp_pkts += 1
            flow.resp_bytes += size
            flow.resp_ip_bytes += seg.ip_length
        if proto == 6:
            self._tcp(flow, key, seg.flags, from_orig, size, bad_checksum)
        elif bad_checksum:
            _letter(flow, "C" if from_orig else "c")
        return flow, from_orig, ended

    def _new(self, key: tuple, from_low: bool, flags: int, ts_ns: int, number: int) -> Flow:
        """A flow for ``key`` from its first packet, sent by the key's lower endpoint or not:
        the sender is the originator, except for a SYN-ACK (its receiver sent the SYN)."""
        proto, low, high = key[0], (key[1], key[2]), (key[3], key[4])
        sender, receiver = (low, high) if from_low else (high, low)
        synack = proto == 6 and flags & _SYN_ACK == _SYN_ACK
        orig, resp = (receiver, sender) if synack else (sender, receiver)
        flow = Flow(_uid(number, (proto, low, high)), proto, orig, resp, ts_ns, ts_ns, number)
        self._flows[key] = flow
        self._queue(flow)[key] = flow
        return flow

    def _tcp(self, flow: Flow, key: tuple, flags: int, from_orig: bool, size: int, bad: bool) -> None:
        """History letters, flags and closing of a TCP flow for one of its segments."""
        letters = _ORIG_LETTERS if from_orig else _RESP_LETTERS
        if bad:
            _letter(flow, letters["C"])
        if flags & _CONTROL:
            side = "orig" if from_orig else "resp"
            if flags & _SYN:
                if flags & _ACK:
                    _letter(flow, letters["H"])
                    flow.flags.add(f"{side}_synack")
                else:
                    _letter(flow, letters["S"])
                    flow.flags.add(f"{side}_syn")
            if flags & _FIN:
                _letter(flow, letters["F"])
                flow.flags.add(f"{side}_fin")
            if flags & _RST:
                _letter(flow, letters["R"])
                flow.flags.add(f"{side}_rst")
        if size:
            _letter(flow, letters["D"])
        elif flags & _ACK and not flags & _CONTROL:
            _letter(flow, letters["A"])
        if (
            flags & _CONTROL  # only a FIN or a RST closes
            and flow.closed_ns is None
            and (flags & _RST or ("orig_fin" in flow.flags and "resp_fin" in flow.flags))
        ):
            del self._queue(flow)[key]
            flow.closed_ns = flow.last_ns
            self._closing_queue[key] = flow

    def _remove(self, key: tuple) -> Flow:
        flow = self._flows.pop(key)
        del self._queue(flow)[key]
        return flow

    def _expire(self) -> list[Flow]:
        self._checked = self.now
        ended: list[Flow] = []
        for queue, timeout in (
            (self._closing_queue, CLOSE_DELAY), (self._tcp_queue, TCP_TIMEOUT), (self._other_queue, OTHER_TIMEOUT),
        ):  # fmt: skip
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
        for queue in (self._tcp_queue, self._other_queue, self._closing_queue):
            queue.clear()


def _letter(flow: Flow, letter: str) -> None:
    """Add a history letter the first time it happens (Zeek's history)."""
    if letter not in flow.history:
        flow.history += letter
