"""The capture benchmark's generator: a valid pcap, right checksums, and counts that say exactly
what the capture parser finds in it (no timings here)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import dpkt
import pytest

from benchmarks import capture_gen
from parsers.base import Options, ParseWarning
from parsers.network.decode import Defragmenter, decode
from parsers.pcap import PcapParser

PACKETS = 5_000


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    path = tmp_path_factory.mktemp("capture") / "small.pcap"
    return path, capture_gen.write(path, PACKETS)


def _ones_complement_ok(data: bytes) -> bool:
    if len(data) % 2:
        data += b"\x00"
    return int.from_bytes(data, "big") % 0xFFFF == 0


def test_dpkt_reads_every_packet_in_time_order(capture: tuple[Path, dict[str, int]]) -> None:
    path, counts = capture
    with open(path, "rb") as fh:
        times = [ts for ts, _ in dpkt.pcap.Reader(fh)]
    assert len(times) == counts["packets"] == PACKETS
    assert times == sorted(times)


def test_checksums_are_right(capture: tuple[Path, dict[str, int]]) -> None:
    """IPv4 header and ICMP checksums by hand; TCP/UDP by the parser's own check."""
    path, _ = capture
    defrag = Defragmenter()
    checked: Counter[str] = Counter()
    with open(path, "rb") as fh:
        for _, frame in dpkt.pcap.Reader(fh):
            ip = frame[14:]
            assert _ones_complement_ok(ip[:20]), "IPv4 header checksum"
            if ip[9] == 1:
                assert _ones_complement_ok(ip[20:]), "ICMP checksum"
                checked["icmp"] += 1
                continue
            segment = decode(1, frame, 0, defrag)
            assert segment is not None and not isinstance(segment, str)
            assert segment.checksum_ok is True
            checked[{6: "tcp", 17: "udp"}[segment.proto]] += 1
    assert sum(checked.values()) == PACKETS
    assert min(checked.values()) > 0


def test_the_parser_finds_what_the_generator_counted(capture: tuple[Path, dict[str, int]]) -> None:
    path, counts = capture
    for kind in ("tcp", "udp", "icmp", "dns", "tls", "http", "ssh", "fin", "rst"):
        assert counts[kind] > 0, f"no {kind} in {PACKETS:,} packets: a stage of the parser goes unused"
    rows: Counter[str] = Counter()
    warnings = []
    with open(path, "rb") as fh:
        for item in PcapParser().parse(fh, None, Options()):
            if isinstance(item, ParseWarning):
                warnings.append(item)
            else:
                rows.update(item.column("source").to_pylist())
    assert warnings == []  # no bad checksums, nothing undecodable
    expected = {
        "network_conn": counts["connections"],
        "network_dns": counts["dns"],
        "network_tls": counts["tls"],
        "network_ssh": counts["ssh"],
        "network_http": counts["http"],
    }
    assert {source: rows[source] for source in expected} == expected
    assert counts["connections"] == counts["tcp"] + counts["udp"] + counts["icmp"]


def test_a_smaller_capture_is_a_prefix_of_a_larger_one(tmp_path: Path) -> None:
    small, large = tmp_path / "small.pcap", tmp_path / "large.pcap"
    capture_gen.write(small, 700)
    capture_gen.write(large, 1_000)
    assert large.read_bytes().startswith(small.read_bytes())
