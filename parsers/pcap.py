"""Packet captures (pcap, pcapng) -> connection, DNS, TLS, SSH and HTTP rows, as Zeek logs them.

The capture is read packet by packet (``network.capture``), decoded by dpkt
(``network.decode``), grouped into flows (``network.flows``) and inspected by the protocol
inspectors each flow's ports and first bytes call for; every result is a Zeek-shaped record
(conn, dns, ssl, ssh, http, files) mapped into timeline rows by ``network.records``, the same
mapping Zeek's own logs go through, so a capture and the Zeek logs of it give the same rows.
Rows link to their flow by ``fields['uid']`` and ``community_id``.

What cannot be decoded is counted and located by packet number: packets cut by the snap length,
bad TCP/UDP checksums (often checksum offload on the capturing host: the packets are still
used, and their flows' history gets Zeek's ``C``), unsupported link types, malformed headers.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Iterator
from typing import Any, BinaryIO

import pyarrow as pa

from forensics.rows import RowBuilder
from forensics.timeutil import ns_to_utc
from parsers.base import Options, Parser, ParseWarning
from parsers.network.capture import Packet, capture_kind, read_capture
from parsers.network.carving import Carver
from parsers.network.decode import UNKNOWN, Defragmenter, address_pair, decode, pair_text
from parsers.network.dns import DnsInspector
from parsers.network.flows import Flow, FlowTable
from parsers.network.reassembly import Context, tcp_packet
from parsers.network.records import to_row

__all__ = ["PcapParser"]

#: Packet numbers quoted in one aggregated warning.
_QUOTED = 10
#: Captures this large are shared among the ingest's workers; at most this many shares.
SHARD_MIN_BYTES = 32 << 20
MAX_SHARDS = 8


class _Tally:
    """Packets of one kind of trouble: how many, and the first few packet numbers."""

    def __init__(self) -> None:
        self.count = 0
        self.numbers: list[int] = []

    def add(self, number: int) -> None:
        self.count += 1
        if len(self.numbers) < _QUOTED:
            self.numbers.append(number)

    def where(self) -> str:
        more = f" and {self.count - len(self.numbers):,} more" if self.count > len(self.numbers) else ""
        return "packets " + ", ".join(map(str, self.numbers)) + more


class PcapParser(Parser):
    """pcap and pcapng captures through dpkt, into Zeek-shaped network rows."""

    name = "pcap"

    def sniff(self, head: bytes) -> bool:
        return capture_kind(head) is not None

    def plan(self, fh: BinaryIO, size: int, options: Options) -> list[object]:
        """A large capture is read by every worker, each keeping the conversations of its share
        of host pairs (``_Shards``): each reads every packet's IP addresses, and decodes and
        follows only its own packets (and the few whose addresses need a full decode)."""
        shards = min(options.workers, MAX_SHARDS) if size >= SHARD_MIN_BYTES else 1
        return [(shard, shards) for shard in range(shards)] if shards > 1 else [None]

    def parse(self, fh: BinaryIO, unit: Any, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        shard, shards = unit or (0, 1)
        mine = _Shards(shard, shards)
        first = shard == 0  # capture warnings, and those of packets without a pair, are its to report
        builder = RowBuilder()
        table = FlowTable()
        defrag = Defragmenter()
        dns = DnsInspector()
        failed: dict[str, _Tally] = {}
        cut, bad_checksum = _Tally(), _Tally()
        weirds: Counter[str] = Counter()
        context = Context(Carver(options.carve_dir).open if options.carve_dir else None)
        packets = 0

        def emit(log: str, record: dict, flow: Flow) -> None:
            """One record of ``flow`` as a row, located by its packet, joined by the flow's
            Community ID (conn, DNS, HTTP, files, TLS, SSH and FTP rows alike)."""
            number = record.pop("packet", None)
            record.setdefault("community_id", flow.community_id())
            ts_ns = record["ts"]  # a zeroed clock is no time: null, never 1970 (the schema rule)
            row, fields = to_row(log, dict(record, ts=ns_to_utc(ts_ns) if ts_ns > 0 else None))
            if number is not None:
                row["source_record"] = number
            builder.add(row, fields)

        def ended(flows: list[Flow]) -> None:
            for flow in flows:
                reassembly = flow.app.get("tcp")
                if reassembly:
                    for log, record in reassembly.finish(flow):
                        emit(log, record, flow)
                    weirds.update(reassembly.session.weirds())
                for record in dns.closed(flow):
                    emit("dns", record, flow)
                if "dns_malformed" in flow.app:
                    weirds["DNS_malformed_message"] += flow.app["dns_malformed"]
                emit("conn", flow.record(), flow)

        for item in read_capture(fh, mine.others if shards > 1 else None):
            if isinstance(item, ParseWarning):
                if first:
                    yield item
                continue
            packets += 1
            packet: Packet = item
            data = packet.data
            if first and packet.wire_length > len(data):
                cut.add(packet.number)
            # Sharing the capture: another worker's host pair is skipped undecoded. A packet's
            # problems are its owner's to count (the first worker's when its pair needs decoding).
            if packet.owned:
                at, placed = 14, True
            else:
                at, pair = address_pair(packet.linktype, data) if shards > 1 else (UNKNOWN, None)
                if pair is not None and not mine.keeps_pair(pair):
                    continue
                placed = pair is not None  # else its owner is known once decoded
            counts = first or placed
            ts_ns = packet.ts_ns if packet.ts_ns is not None else table.now
            segment = decode(packet.linktype, data, ts_ns, defrag, at)
            if segment is None:
                continue
            if isinstance(segment, str):
                if counts:
                    failed.setdefault(segment, _Tally()).add(packet.number)
                continue
            if segment.checksum_ok is False and counts:
                bad_checksum.add(packet.number)
            if shards > 1 and not placed and not mine.keeps(segment.src, segment.dst):
                continue
            flow, from_orig, done = table.add(segment, ts_ns, packet.number, segment.checksum_ok is False)
            if done:
                ended(done)
            if done or packets % 65536 == 0:
                defrag.expire(table.now)
            if segment.proto == 6:
                for log, record in tcp_packet(flow, from_orig, segment, ts_ns, packet.number, context):
                    emit(log, record, flow)
            elif segment.payload and dns.wants(segment.proto, segment.sport, segment.dport):
                for record in dns.packet(flow, from_orig, segment.payload, ts_ns, packet.number):
                    emit("dns", record, flow)
            if len(builder) >= options.batch_rows:
                yield builder.flush()  # type: ignore[misc]
        for flow in table.drain():
            ended([flow])
            if len(builder) >= options.batch_rows:
                yield builder.flush()  # type: ignore[misc]
        defrag.finish()
        batch = builder.flush()
        if batch is not None:
            yield batch
        for reason, tally in failed.items():
            yield ParseWarning(
                tally.where(), None, f"{tally.count:,} packets not decoded: {reason}", tally.count
            )
        if cut.count:
            yield ParseWarning(cut.where(), None, f"{cut.count:,} packets cut short by the snap length (decoded as far as captured)", 0)  # fmt: skip
        if bad_checksum.count:
            yield ParseWarning(
                bad_checksum.where(), None,
                f"{bad_checksum.count:,} of {packets:,} packets with a bad TCP/UDP checksum (used; often checksum offload)", 0,
            )  # fmt: skip
        if defrag.expired:
            yield ParseWarning("fragments", None, f"{defrag.expired:,} IP datagrams never completed by their fragments", defrag.expired)  # fmt: skip
        for name, count in sorted(weirds.items()):
            yield ParseWarning("application layer", None, f"{count:,} x {name} (Zeek weird)", 0)


#: Host pairs whose owner a worker remembers (by their address bytes): enough for the pairs
#: that carry most packets, bounded so a capture of scanning or many peers stays small.
_REMEMBERED = 1 << 16


class _Shards:
    """Which host pairs are this worker's: a stable hash of the two addresses (the same in every
    process, unlike ``hash``), so both directions, and FTP's control and data connections,
    stay together."""

    def __init__(self, shard: int, shards: int) -> None:
        self.shard, self.shards = shard, shards
        self._raw: dict[bytes, bool] = {}

    @property
    def others(self) -> dict[bytes, bool]:
        """The address pairs already decided (False: another worker's), for the reader to pass
        over another worker's packets before making them into packets."""
        return self._raw

    def keeps_pair(self, pair: bytes) -> bool:
        """``keeps`` for the raw addresses ``address_pair`` reads, remembered by those bytes."""
        kept = self._raw.get(pair)
        if kept is None:
            kept = self.keeps(*pair_text(pair))
            if len(self._raw) < _REMEMBERED:
                self._raw[pair] = kept
        return kept

    def keeps(self, a: str, b: str) -> bool:
        """Whether the pair of addresses ``a``, ``b`` (as text, either order) is this worker's."""
        pair = (a, b) if a <= b else (b, a)
        return zlib.crc32(f"{pair[0]}|{pair[1]}".encode()) % self.shards == self.shard
