"""The capture reader parses records in place in chunks of the file: records and blocks that
straddle chunk boundaries, files cut anywhere and garbage at the end read the same whatever the
chunk size (one byte-sized chunk at a time being the reading of one record at a time)."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest

from forensics.demo import SAMPLE
from parsers.base import ParseWarning
from parsers.network import capture
from parsers.network.capture import read_capture

CAPTURES = [
    "pcap/zeek-traces/mixed-vlan-mpls.pcap",
    "pcap/zeek-traces/pcapng-multi-interface.pcapng",
    "pcap/chrissanders-packets/http_ip4and6.pcapng",
    "pcap/zeek-traces/trunc/trunc-hdr.pcap",
]


def _items(raw: bytes) -> list[tuple]:
    out: list[tuple] = []
    for item in read_capture(io.BytesIO(raw)):
        if isinstance(item, ParseWarning):
            out.append(("warning", item.location, item.offset, item.reason, item.count))
        else:
            out.append(
                (
                    item.number,
                    item.offset,
                    item.ts_ns,
                    item.linktype,
                    item.interface,
                    item.data,
                    item.wire_length,
                )
            )
    return out


def _variants(raw: bytes, rng: random.Random) -> list[bytes]:
    cuts = [raw[: rng.randrange(len(raw))] for _ in range(8)]
    return [raw, raw + b"\x01\x02\x03", raw + bytes(20), *cuts]


@pytest.mark.parametrize("capture_path", CAPTURES)
def test_chunk_size_does_not_change_what_is_read(
    corpus: Path, capture_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(capture_path)
    for raw in _variants((corpus / capture_path).read_bytes(), rng):
        whole = _items(raw)
        for chunk in (1, 7, 64, 1500):
            monkeypatch.setattr(capture, "CHUNK", chunk)
            assert _items(raw) == whole, (capture_path, len(raw), chunk)
        monkeypatch.undo()


def test_sample_lan_tap_in_small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = (SAMPLE / "network" / "lan-tap.pcapng").read_bytes()
    whole = _items(raw)
    assert len(whole) == 25_851
    monkeypatch.setattr(capture, "CHUNK", 997)
    assert _items(raw) == whole


def test_truncated_records_are_located(corpus: Path) -> None:
    """A record cut in its header or its data: the warning names the packet and its offset."""
    raw = (corpus / "pcap/zeek-traces/mixed-vlan-mpls.pcap").read_bytes()
    packets = [i for i in _items(raw) if i[0] != "warning"]
    third = packets[2]
    assert _items(raw[: third[1] + 5])[-1] == (
        "warning",
        "packet 3",
        third[1],
        "truncated record header (5 of 16 bytes)",
        1,
    )
    assert _items(raw[: third[1] + 20])[-1] == (
        "warning", "packet 3", third[1], f"truncated packet (4 of {len(third[5])} captured bytes)", 1,
    )  # fmt: skip


@pytest.mark.parametrize("capture_path", CAPTURES)
def test_mapped_file_reads_as_chunks_do(
    corpus: Path, capture_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A capture on disk is mapped, not read in chunks: the same packets and warnings, also
    when the pages already parsed are let go every few pages."""
    rng = random.Random(capture_path)
    monkeypatch.setattr(capture, "RELEASE", 3 * 4096)
    for index, raw in enumerate(_variants((corpus / capture_path).read_bytes(), rng)):
        path = tmp_path / f"{index}.cap"
        path.write_bytes(raw)
        with path.open("rb") as fh:
            source = capture._Source(fh)
            assert source._map is not None
            source.close()
            mapped = [
                item if isinstance(item, ParseWarning) else (item.number, item.offset, item.ts_ns, item.data)
                for item in read_capture(fh)
            ]
        assert [
            (i[0], i[1], i[2], i[5]) if i[0] != "warning" else ParseWarning(*i[1:]) for i in _items(raw)
        ] == mapped, (capture_path, len(raw))
