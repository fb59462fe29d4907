"""Packet capture files (pcap and pcapng) -> packets, with exact integer timestamps.

dpkt's readers decode the protocols well but read captures loosely for forensic use: pcapng
only from its first section and interface, times as floats (nanoseconds lost), no word on a
truncated or damaged file. This module reads the container formats itself and leaves the
protocols to dpkt (see ``decode``):
- pcap: both byte orders, microsecond (``a1b2c3d4``) and nanosecond (``a1b23c4d``) magic,
  the link type of the file header;
- pcapng: every section (a new Section Header Block resets byte order and interfaces), every
  interface with its own link type, snap length, ``if_tsresol`` (powers of 10 or 2) and
  ``if_tsoffset``; Enhanced, Simple and obsolete Packet Blocks; other blocks skipped.
Each packet carries its number in the file (1-based, as Wireshark counts), the interface and
link type, the time in nanoseconds since 1970 UTC, and its captured and original lengths. What
cannot be read (a truncated record, a block whose length fields disagree, garbage after the
last block) becomes a ``ParseWarning`` with the packet number and byte offset; reading stops
only where the container gives no way to find the next packet.

References: pcap — IETF draft-ietf-opsawg-pcap; pcapng — IETF draft-ietf-opsawg-pcapng; link
types — tcpdump.org/linktypes.html.
"""

from __future__ import annotations

import contextlib
import io
import mmap
import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import BinaryIO

from parsers.base import ParseWarning

__all__ = ["PCAPNG_MAGIC", "PCAP_MAGICS", "Packet", "capture_kind", "read_capture"]

PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
#: Classic pcap magic -> (byte order, ticks per second).
PCAP_MAGICS: dict[bytes, tuple[str, int]] = {
    b"\xd4\xc3\xb2\xa1": ("<", 1_000_000),
    b"\xa1\xb2\xc3\xd4": (">", 1_000_000),
    b"\x4d\x3c\xb2\xa1": ("<", 1_000_000_000),
    b"\xa1\xb2\x3c\x4d": (">", 1_000_000_000),
}
_BYTE_ORDER_MAGIC = 0x1A2B3C4D
#: A packet record larger than this is taken as damage, not data (pcap's own limit is 256 KiB
#: for most link types; some capture tools write up to 16 MiB for USB/D-Bus).
MAX_PACKET = 16 << 20
_SHB, _IDB, _PB, _SPB, _EPB = 0x0A0D0D0A, 1, 2, 3, 6
#: pcapng fields by byte order: a 32-bit word; an Enhanced Packet Block's first five words.
_U32 = {order: struct.Struct(order + "I").unpack_from for order in "<>"}
_EPB_FIELDS = {order: struct.Struct(order + "IIIII").unpack_from for order in "<>"}
#: Bytes read at a time (records are parsed in place in the chunk) when the file cannot be mapped.
CHUNK = 1 << 20
#: A mapped capture's pages already parsed are let go every this many bytes, so the process's
#: resident memory does not grow with the file (the page cache keeps them for other readers).
RELEASE = 16 << 20
_NEVER = 1 << 62


@dataclass(slots=True)
class Packet:
    """One captured packet: where it is in the file, when, on which link, and its bytes.
    Read-only by convention (not ``frozen``: a frozen dataclass costs 5x more to build, and
    one is built per packet)."""

    number: int
    offset: int
    ts_ns: int | None
    linktype: int
    interface: int
    data: bytes
    wire_length: int
    #: The reader found the packet's Ethernet IPv4 address pair among the worker's own
    #: (``read_capture``'s ``others`` maps it to True): its IP header is at byte 14.
    owned: bool = False


@dataclass(slots=True)
class _Interface:
    linktype: int
    snaplen: int
    ticks: int = 1_000_000  # per second (if_tsresol)
    offset_ns: int = 0  # if_tsoffset (whole seconds)


def capture_kind(head: bytes) -> str | None:
    """``pcap``, ``pcapng`` or None, from the first bytes."""
    if head[:4] in PCAP_MAGICS and len(head) >= 24:
        return "pcap"
    if head[:4] == PCAPNG_MAGIC and len(head) >= 12:
        bom = head[8:12]
        if bom in (b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"):
            return "pcapng"
    return None


def read_capture(fh: BinaryIO, others: Mapping[bytes, bool] | None = None) -> Iterator[Packet | ParseWarning]:
    """Every packet of a pcap or pcapng file, in file order, and what could not be read.

    ``others``: Ethernet IPv4 address pairs (the 8 bytes of source and destination) mapped to
    False are another worker's: a classic pcap's whole, uncut packets between them are passed
    over without being made into packets (their numbers still count); those mapped to True
    come ``owned``."""
    fh.seek(0)
    head = fh.read(24)
    kind = capture_kind(head)
    fh.seek(0)
    if kind is None:
        yield ParseWarning("file", 0, f"not a pcap or pcapng capture (starts with {head[:8]!r})", 0)
        return
    source = _Source(fh)
    try:
        yield from _pcap(source, others) if kind == "pcap" else _pcapng(source)
    finally:
        source.close()


def _to_ns(ticks: int, per_second: int) -> int:
    if per_second == 1_000_000_000:
        return ticks
    if per_second == 1_000_000:
        return ticks * 1000
    return ticks * 1_000_000_000 // per_second


def _pcap(source: _Source, others: Mapping[bytes, bool] | None = None) -> Iterator[Packet | ParseWarning]:
    """Records of a classic pcap file, parsed in place (a read per record costs about as much
    as decoding the record's packet)."""
    buf, at, release_at = source.start()
    refill = source.refill
    buf, at = refill(buf, at, 24)
    header = bytes(buf[at : at + 24])
    at += 24
    order, ticks = PCAP_MAGICS[header[:4]]
    _snaplen, linktype = struct.unpack(order + "II", header[16:24])
    linktype &= 0x0FFFFFFF  # the upper bits carry FCS information
    ethernet = others is not None and linktype == 1
    owners: Mapping[bytes, bool] = others if others is not None else {}  # shared: filled as it goes
    record = struct.Struct(order + "IIII").unpack_from
    to_ns = 1_000_000_000 // ticks  # 1000 for microseconds, 1 for nanoseconds
    offset, number = 24, 0  # buf[at] is the byte at file offset ``offset``
    while True:
        if at >= release_at:
            release_at = source.release(at)
        if len(buf) - at < 16:
            buf, at = refill(buf, at, 16)
            if len(buf) - at < 16:
                if len(buf) > at:
                    yield ParseWarning(
                        f"packet {number + 1}",
                        offset,
                        f"truncated record header ({len(buf) - at} of 16 bytes)",
                        1,
                    )
                return
        number += 1
        seconds, fraction, caplen, wirelen = record(buf, at)
        if caplen > MAX_PACKET:
            yield ParseWarning(
                f"packet {number}", offset,
                f"record claims {caplen:,} captured bytes: damaged file, the rest cannot be located", 1,
            )  # fmt: skip
            return
        end = at + 16 + caplen
        owned = None
        if (
            ethernet
            and caplen == wirelen
            and caplen >= 34
            and end <= len(buf)
            and buf[at + 28] == 8  # EtherType 0x0800, IPv4
            and buf[at + 29] == 0
            and buf[at + 30] >> 4 == 4
        ):
            owned = owners.get(buf[at + 42 : at + 50])
            if owned is False:
                offset += end - at
                at = end
                continue
        if end > len(buf):
            buf, at = refill(buf, at, 16 + caplen)
            end = at + 16 + caplen
            if end > len(buf):
                yield ParseWarning(
                    f"packet {number}",
                    offset,
                    f"truncated packet ({len(buf) - at - 16} of {caplen} captured bytes)",
                    1,
                )
                return
        yield Packet(
            number, offset, seconds * 1_000_000_000 + fraction * to_ns, linktype, 0, buf[at + 16 : end],
            wirelen if wirelen > caplen else caplen, owned is True,
        )  # fmt: skip
        offset += end - at
        at = end


#: ``(buf, at, need) -> (buf, at)``: ``buf[at:]`` extended to at least ``need`` bytes if the file has them.
Refill = Callable[[bytes, int, int], tuple[bytes, int]]


class _Source:
    """The bytes of a capture, for the readers to parse in place: the whole file mapped
    read-only when it is a real file (no copy per chunk: reading a 1 GiB capture in chunks
    costs more than a second of the parse), else chunks read from ``fh`` as parsing needs them.
    ``buf[at]`` is the byte at the current file offset in both cases."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self._map: mmap.mmap | None = None
        # Not mapped: not a file on disk (an archive member, an image's file, a BytesIO).
        with contextlib.suppress(AttributeError, OSError, ValueError, io.UnsupportedOperation):
            self._map = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        self._released = 0

    def start(self) -> tuple[bytes, int, int]:
        """The first bytes, their index, and the index past which ``release`` is due."""
        if self._map is None:
            return b"", 0, _NEVER
        return self._map, 0, RELEASE  # type: ignore[return-value]

    def refill(self, buf: bytes, at: int, need: int) -> tuple[bytes, int]:
        if self._map is None:
            return _refill(self._fh, buf, at, need)
        return buf, at  # all of the file is there already

    def release(self, at: int) -> int:
        """Lets go of the mapped pages before ``at``; the next index to call this at."""
        if self._map is not None and hasattr(mmap, "MADV_DONTNEED"):
            end = at // mmap.PAGESIZE * mmap.PAGESIZE
            if end > self._released:
                self._map.madvise(mmap.MADV_DONTNEED, self._released, end - self._released)
                self._released = end
        return at + RELEASE

    def close(self) -> None:
        if self._map is not None:
            self._map.close()


def _refill(fh: BinaryIO, buf: bytes, at: int, need: int) -> tuple[bytes, int]:
    """``buf[at:]`` and what follows it in ``fh``: at least ``need`` bytes, fewer only at the
    end of the file; read a chunk at a time."""
    buf = buf[at:]
    while len(buf) < need:
        more = fh.read(max(CHUNK, need - len(buf)))
        if not more:
            break
        buf += more
    return buf, 0


def _options(body: bytes, order: str) -> Iterator[tuple[int, bytes]]:
    """(code, value) of a pcapng options list."""
    at = 0
    while at + 4 <= len(body):
        code, length = struct.unpack_from(order + "HH", body, at)
        if code == 0:
            return
        yield code, body[at + 4 : at + 4 + length]
        at += 4 + (length + 3) // 4 * 4


def _interface(body: bytes, order: str) -> _Interface:
    linktype, _reserved, snaplen = struct.unpack_from(order + "HHI", body, 0)
    iface = _Interface(linktype, snaplen)
    for code, value in _options(body[8:], order):
        if code == 9 and value:  # if_tsresol
            exponent = value[0] & 0x7F
            iface.ticks = 2**exponent if value[0] & 0x80 else 10**exponent
        elif code == 14 and len(value) == 8:  # if_tsoffset, seconds
            iface.offset_ns = struct.unpack(order + "q", value)[0] * 1_000_000_000
    return iface


def _pcapng(source: _Source) -> Iterator[Packet | ParseWarning]:
    """Blocks of a pcapng file, parsed in place, as ``_pcap`` does."""
    order = "<"
    u32, epb = _U32[order], _EPB_FIELDS[order]
    interfaces: list[_Interface] = []
    buf, at, release_at = source.start()
    refill = source.refill
    offset, number, section = 0, 0, 0  # buf[at] is the byte at file offset ``offset``
    while True:
        if at >= release_at:
            release_at = source.release(at)
        if len(buf) - at < 12:
            buf, at = refill(buf, at, 12)
        available = len(buf) - at
        if not available:
            return
        if available < 8:
            yield ParseWarning("file", offset, f"{available} bytes after the last block: not a block", 0)
            return
        block_type = u32(buf, at)[0]
        if block_type == _SHB:  # its type reads the same in both byte orders
            if available < 12:
                yield ParseWarning("file", offset, "truncated section header block", 0)
                return
            bom = buf[at + 8 : at + 12]
            order = "<" if struct.unpack("<I", bom)[0] == _BYTE_ORDER_MAGIC else ">"
            if struct.unpack(order + "I", bom)[0] != _BYTE_ORDER_MAGIC:
                yield ParseWarning(
                    "file", offset, "section header with an unknown byte-order magic: stopped", 0
                )
                return
            u32, epb = _U32[order], _EPB_FIELDS[order]
            start = 12
            section += 1
            interfaces = []
        else:
            start = 8
        length = u32(buf, at + 4)[0]
        if length < 12 or length % 4 or length > MAX_PACKET + 64:
            yield ParseWarning(
                "file" if number == 0 else f"after packet {number}", offset,
                f"block of type {block_type:#x} claims {length:,} bytes: damaged or not pcapng, the rest cannot be located", 1,
            )  # fmt: skip
            return
        if available < length:
            buf, at = refill(buf, at, length)
            available = len(buf) - at
            if available < length:
                what = "packet" if block_type in (_EPB, _SPB, _PB) else f"block of type {block_type:#x}"
                yield ParseWarning(
                    f"packet {number + 1}" if block_type in (_EPB, _SPB, _PB) else "file", offset,
                    f"truncated {what} ({8 + available - start} of {length} bytes)", 1 if block_type in (_EPB, _SPB, _PB) else 0,
                )  # fmt: skip
                return
        body = buf[at + start : at + length]
        block_at, at = offset, at + length
        offset += length
        if u32(body, len(body) - 4)[0] != length:
            yield ParseWarning(
                f"block at {block_at}",
                block_at,
                "block's trailing length differs from its leading one: skipped",
                1,
            )
            continue
        body = body[:-4]
        if block_type in (_EPB, _PB):
            number += 1
            if block_type == _EPB:
                iface_id, high, low, caplen, wirelen = epb(body, 0)
            else:
                iface_id, _drops, high, low, caplen, wirelen = struct.unpack_from(order + "HHIIII", body, 0)
            if iface_id >= len(interfaces):
                yield ParseWarning(
                    f"packet {number}",
                    block_at,
                    f"interface {iface_id} was not described in section {section}",
                    1,
                )
            else:
                iface = interfaces[iface_id]
                data = body[20 : 20 + caplen]
                ts_ns = _to_ns((high << 32) | low, iface.ticks) + iface.offset_ns
                yield Packet(number, block_at, ts_ns, iface.linktype, iface_id, data, max(wirelen, caplen))
        elif block_type == _IDB:
            interfaces.append(_interface(body, order))
        elif block_type == _SPB:
            number += 1
            if not interfaces:
                yield ParseWarning(
                    f"packet {number}", block_at, f"no interface described in section {section}", 1
                )
            else:
                wirelen = struct.unpack_from(order + "I", body, 0)[0]
                iface = interfaces[0]
                caplen = min(wirelen, iface.snaplen or wirelen, len(body) - 4)
                yield Packet(number, block_at, None, iface.linktype, 0, body[4 : 4 + caplen], wirelen)
