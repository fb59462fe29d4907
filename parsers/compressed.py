"""Transparent decompression: gzip, bzip2 and xz evidence read through a decompressing stream.

Rotated logs (``syslog.2.gz``, ``auth.log.3.bz2``) are compressed copies of formats the parsers
already read, so the compression is a wrapper, not an artifact: it is recognised by its magic
bytes, the inner format is sniffed on the decompressed head, and the inner parser reads a
stream that decompresses as it goes (the standard library's gzip, bz2 and lzma). Corrupt or
truncated data does not raise into the parser: the stream ends there and keeps the error, so
the rows before it are kept and the ingest reports where the data broke.

Format references: RFC 1952 (gzip member header ``1f 8b``), the bzip2 stream header ``BZh``,
the .xz file format specification (header magic ``fd 37 7a 58 5a 00``).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zlib
from typing import BinaryIO

from parsers.base import one_line

__all__ = ["KINDS", "Decompressed", "DecompressedReader", "decompressed_size", "detect", "open_decompressed"]

#: Compression name -> magic at offset 0.
KINDS: dict[str, bytes] = {"gzip": b"\x1f\x8b\x08", "bz2": b"BZh", "xz": b"\xfd7zXZ\x00"}
_OPENERS = {
    "gzip": lambda fh: gzip.GzipFile(fileobj=fh, mode="rb"),
    "bz2": lambda fh: bz2.BZ2File(fh, "rb"),
    "xz": lambda fh: lzma.LZMAFile(fh, "rb"),  # noqa: SIM115 (closed by Decompressed.close)
}
_ERRORS = (EOFError, OSError, lzma.LZMAError, zlib.error, ValueError)


def detect(head: bytes) -> str | None:
    """The compression whose magic ``head`` starts with, or None."""
    for name, magic in KINDS.items():
        if head.startswith(magic):
            # "BZh" is followed by the block size, a digit 1-9 (plain text may start "BZh").
            block = head[3:4]
            if name != "bz2" or (len(block) == 1 and block in b"123456789"):
                return name
    return None


class Decompressed(io.RawIOBase):
    """A read-only, seekable (by re-decompressing) view of compressed data. Corrupt data ends
    the stream: ``error`` says why and ``error_at`` at which decompressed offset."""

    def __init__(self, fh: BinaryIO, kind: str) -> None:
        super().__init__()
        fh.seek(0)
        self.kind = kind
        self._inner = _OPENERS[kind](fh)
        self._pos = 0
        self.error: str | None = None
        self.error_at: int | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self.error is not None and self._pos >= (self.error_at or 0):
            return 0
        try:  # read1: one decompression step, so the bytes before a corrupt spot are not lost
            data = self._inner.read1(len(buffer))
        except _ERRORS as exc:
            self.error = _one_line(exc)
            self.error_at = self._pos
            return 0
        n = len(data)
        buffer[:n] = data
        self._pos += n
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._pos
        elif whence == io.SEEK_END:
            raise io.UnsupportedOperation("seek from the end of a compressed stream")
        if self.error is not None and self.error_at is not None:
            offset = min(offset, self.error_at)
        try:
            self._pos = self._inner.seek(offset)
        except _ERRORS as exc:
            self.error, self.error_at = _one_line(exc), self._pos
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._inner.close()
        super().close()


class DecompressedReader(io.BufferedReader):
    """Buffered reading over a ``Decompressed`` stream (what parsers get)."""

    raw: Decompressed

    @property
    def error(self) -> str | None:
        """Why the compressed data ended early, or None."""
        return self.raw.error

    @property
    def error_at(self) -> int | None:
        """The decompressed offset where it did."""
        return self.raw.error_at


def open_decompressed(fh: BinaryIO, kind: str) -> DecompressedReader:
    """A buffered decompressing reader over ``fh`` (``kind`` as ``detect`` names it)."""
    return DecompressedReader(Decompressed(fh, kind), 1 << 16)


def decompressed_size(stream: BinaryIO) -> int:
    """Decompress from the start to the end (or to the first corrupt byte): the size; rewinds."""
    stream.seek(0)
    total = 0
    while chunk := stream.read(1 << 20):
        total += len(chunk)
    stream.seek(0)
    return total


def _one_line(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "error":  # zlib.error
        name = f"{type(exc).__module__}.error"
    return one_line(f"{name}: {str(exc) or name}")
