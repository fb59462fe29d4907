"""pcap/pcapng reading and packet decoding on the corpus captures, checked against tshark's
numbers for the same files (recorded here; tshark 4.0 from Debian)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from parsers.base import ParseWarning
from parsers.network.capture import Packet, read_capture
from parsers.network.decode import Defragmenter, decode

PCAP = "pcap"


def _read(path: Path) -> tuple[list[Packet], list[ParseWarning]]:
    with open(path, "rb") as fh:
        items = list(read_capture(fh))
    return [i for i in items if isinstance(i, Packet)], [i for i in items if isinstance(i, ParseWarning)]


def test_every_corpus_capture_reads(corpus: Path) -> None:
    captures = sorted(p for p in (corpus / PCAP).rglob("*") if p.suffix in (".pcap", ".pcapng", ".cap"))
    assert len(captures) == 112
    packets, noted = 0, {}
    for path in captures:
        got, found = _read(path)
        packets += len(got)
        if found:
            noted[path.name] = [(w.location, w.offset, w.reason, w.count) for w in found]
    # One OTRF capture ends with a stray byte after its last whole packet.
    assert noted == {
        "covenant_ldap_searchrequest_domainuser.cap": [
            (
                "packet 197",
                noted["covenant_ldap_searchrequest_domainuser.cap"][0][1],
                "truncated record header (1 of 16 bytes)",
                1,
            )
        ]
    }
    assert packets == 13_006  # the sum of the per-file packet counts in pcap/SOURCES.md


def test_pcapng_interfaces_and_nanoseconds(corpus: Path) -> None:
    """tshark: 6 frames, 2 on interface 0 and 4 on interface 1; frame 1 at 1767663089.500330493."""
    got, found = _read(corpus / PCAP / "zeek-traces/pcapng-multi-interface.pcapng")
    assert found == []
    assert Counter(p.interface for p in got) == {0: 2, 1: 4}
    assert got[0].ts_ns == 1_767_663_089_500_330_493
    assert got[2].ts_ns == 1_767_663_437_111_897_000


@pytest.mark.parametrize(
    ("capture", "bad"),
    [("zeek-traces/snmp/snmpwalk-short.pcap", 200), ("zeek-traces/ssh/sshguess.pcap", 177),
     ("zeek-traces/chksums/ip4-tcp-bad-chksum.pcap", 1)],
)  # fmt: skip
def test_bad_checksums_as_tshark_counts_them(corpus: Path, capture: str, bad: int) -> None:
    """tshark -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE: checksum.status == 0."""
    got, _ = _read(corpus / PCAP / capture)
    defrag = Defragmenter()
    segments = [decode(p.linktype, p.data, p.ts_ns or 0, defrag) for p in got]
    assert sum(1 for s in segments if not isinstance(s, (str, type(None))) and s.checksum_ok is False) == bad


def test_link_types_and_cut_headers(corpus: Path) -> None:
    """SLL2, raw IPv4 and radiotap decode; a header cut by the snap length is a reason, not an error."""
    kinds: Counter = Counter()
    for capture in ("zeek-traces/linux_dlt_sll2.pcap", "zeek-traces/radiotap.pcap", "zeek-traces/trunc/trunc-hdr.pcap",
                    "zeek-traces/ipv6-fragmented-dns.pcap"):  # fmt: skip
        got, _ = _read(corpus / PCAP / capture)
        defrag = Defragmenter()
        for p in got:
            s = decode(p.linktype, p.data, p.ts_ns or 0, defrag)
            kinds[(Path(capture).name, s if isinstance(s, str) or s is None else s.proto)] += 1
    assert kinds[("trunc-hdr.pcap", "link layer cut short or malformed: NeedData")] == 1
    assert (
        kinds[("linux_dlt_sll2.pcap", 1)] == 2 and kinds[("linux_dlt_sll2.pcap", 58)] == 2
    )  # tshark: echo pairs
    assert kinds[("ipv6-fragmented-dns.pcap", 17)] >= 1
    assert kinds[("radiotap.pcap", 17)] == 3  # tshark: two DNS and one mDNS datagram over 802.11
