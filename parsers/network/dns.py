"""DNS messages in a flow -> Zeek dns.log records (one per query, with its answer when seen).

Messages are decoded by dpkt; a query waits in its flow for the response with the same
transaction id, and queries never answered are reported when the flow ends. DNS over UDP on
the DNS, mDNS and LLMNR ports, and over TCP with its two-byte length prefix (RFC 1035 4.2.2)
when a whole message is in one segment.

References: RFC 1035; IANA DNS parameters (type and RCODE names); Zeek base/protocols/dns.
"""

from __future__ import annotations

import socket
import struct
from types import SimpleNamespace
from typing import Any

import dpkt

__all__ = ["DNS_PORTS", "DnsInspector"]

DNS_PORTS = frozenset({53, 5353, 5355})
QTYPES = {
    1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 13: "HINFO", 15: "MX", 16: "TXT", 28: "AAAA",
    33: "SRV", 35: "NAPTR", 41: "OPT", 43: "DS", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 52: "TLSA",
    64: "SVCB", 65: "HTTPS", 99: "SPF", 251: "IXFR", 252: "AXFR", 255: "*", 257: "CAA",
}  # fmt: skip
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
_MAX_PENDING = 4096  # unanswered queries kept per flow (a flood of queries must not grow memory)


def _answer(rr: Any) -> str:
    if rr.type == 1 and len(rr.rdata) == 4:
        return socket.inet_ntop(socket.AF_INET, rr.rdata)
    if rr.type == 28 and len(rr.rdata) == 16:
        return socket.inet_ntop(socket.AF_INET6, rr.rdata)
    if rr.type in (2, 5, 12):
        return getattr(rr, "cname", None) or getattr(rr, "nsname", None) or getattr(rr, "ptrname", "") or ""
    if rr.type == 15:
        return getattr(rr, "mxname", "")
    if rr.type == 16:
        texts = [
            t.decode("utf-8", "replace") if isinstance(t, bytes) else str(t) for t in getattr(rr, "text", [])
        ]
        return "TXT " + " ".join(texts)
    return f"<{QTYPES.get(rr.type, rr.type)}>"


def _message(payload: bytes) -> Any:
    """The DNS message (dpkt's), or the lenient reading when dpkt refuses a record type it does
    not know (DNSKEY, RRSIG, NSEC...); None when it is not a DNS message."""
    try:
        return dpkt.dns.DNS(payload)
    except dpkt.UnpackError:
        return _lenient(payload)
    except (dpkt.NeedData, IndexError, UnicodeDecodeError, struct.error):
        return None


def _lenient(buf: bytes) -> Any:
    """Header, questions and answers with names, addresses and TTLs, any record type."""
    try:
        ident, flags, qdcount, ancount = struct.unpack_from("!4H", buf)
        off = 12
        questions = []
        for _ in range(qdcount):
            name, off = dpkt.dns.unpack_name(buf, off)
            qtype, qclass = struct.unpack_from("!HH", buf, off)
            off += 4
            questions.append(SimpleNamespace(name=name, type=qtype, cls=qclass))
        answers = []
        for _ in range(ancount):
            name, off = dpkt.dns.unpack_name(buf, off)
            rtype, rclass, ttl, length = struct.unpack_from("!HHIH", buf, off)
            off += 10
            rr = SimpleNamespace(name=name, type=rtype, cls=rclass, ttl=ttl, rdata=buf[off : off + length])
            if rtype in (2, 5, 12):
                rr.cname = dpkt.dns.unpack_name(buf, off)[0]
            elif rtype == 15:
                rr.mxname = dpkt.dns.unpack_name(buf, off + 2)[0]
            off += length
            answers.append(rr)
    except (dpkt.UnpackError, dpkt.NeedData, IndexError, UnicodeDecodeError, struct.error):
        return None
    return SimpleNamespace(
        id=ident, qr=flags >> 15, aa=(flags >> 10) & 1, tc=(flags >> 9) & 1, rd=(flags >> 8) & 1,
        ra=(flags >> 7) & 1, rcode=flags & 0xF, qd=questions, an=answers,
    )  # fmt: skip


class DnsInspector:
    """Pairs queries with responses per flow and emits dns.log records."""

    log = "dns"

    @staticmethod
    def wants(proto: int, sport: int, dport: int) -> bool:
        return proto in (6, 17) and (sport in DNS_PORTS or dport in DNS_PORTS)

    def packet(self, flow: Any, from_orig: bool, payload: bytes, ts_ns: int, number: int = 0) -> list[dict]:
        if flow.proto == 6:
            if len(payload) < 2 or int.from_bytes(payload[:2], "big") != len(payload) - 2:
                return []
            payload = payload[2:]
        message = _message(payload)
        if message is None:
            flow.app["dns_malformed"] = flow.app.get("dns_malformed", 0) + 1
            return []
        if "dns" not in flow.service:
            flow.service.append("dns")
        pending: dict[int, tuple[int, bool, Any, int]] = flow.app.setdefault("dns_pending", {})
        if message.qr == dpkt.dns.DNS_Q:
            if len(pending) < _MAX_PENDING:
                pending[message.id] = (ts_ns, from_orig, message, number)
            return []
        query = pending.pop(message.id, None)
        return [self._record(flow, query, message, ts_ns, from_orig, number)]

    def closed(self, flow: Any) -> list[dict]:
        pending = flow.app.pop("dns_pending", {})
        return [self._record(flow, query, None, query[0], query[1], query[3]) for query in pending.values()]

    def _record(
        self, flow: Any, query: tuple | None, response: Any, ts_ns: int, from_orig: bool, number: int
    ) -> dict:
        asked = query[2] if query else response
        sent_by_orig = query[1] if query else not from_orig
        orig, resp = (flow.orig, flow.resp) if sent_by_orig else (flow.resp, flow.orig)
        question = asked.qd[0] if asked.qd else None
        record: dict[str, Any] = {
            "ts": query[0] if query else ts_ns, "packet": query[3] if query else number, "uid": flow.uid,
            "id.orig_h": orig[0], "id.orig_p": orig[1], "id.resp_h": resp[0], "id.resp_p": resp[1],
            "proto": flow.proto_name, "trans_id": asked.id,
            "query": question.name if question is not None else None,
            "qclass": question.cls if question is not None else None,
            "qtype": question.type if question is not None else None,
            "qtype_name": QTYPES.get(question.type, str(question.type)) if question is not None else None,
            "RD": bool(asked.rd),
        }  # fmt: skip
        if response is not None:
            record |= {
                "rtt": f"{(ts_ns - query[0]) / 1e9:.6f}" if query else None,
                "rcode": response.rcode, "rcode_name": RCODES.get(response.rcode, str(response.rcode)),
                "AA": bool(response.aa), "TC": bool(response.tc), "RA": bool(response.ra),
                "answers": [_answer(rr) for rr in response.an] or None,
                "TTLs": [float(rr.ttl) for rr in response.an] or None,
                "rejected": response.rcode == 5,
            }  # fmt: skip
        return record
