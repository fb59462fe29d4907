"""The compiled TCP/UDP checksum (``parsers/network/_checksum.c``) against the Python one it
replaces, on random segments of every length parity, IPv4 and IPv6 pseudo-headers, right and
wrong checksums. (test_decode_fast.py compares whole decodes, checksum included, with dpkt's
path on corpus captures.)"""

from __future__ import annotations

import os
import random

import pytest

from parsers.network import decode


def test_the_compiled_checksum_is_built() -> None:
    """``make`` builds it; without a C compiler the parser falls back to Python (slower)."""
    if decode.sum_ok is decode.sum_ok_py:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("parsers/network/_checksum.c was not built (pip install -e . with a C compiler)")
        pytest.skip("parsers/network/_checksum.c not built: the Python checksum is in use")


def _right(segment: bytearray, at: int, src: bytes, dst: bytes, proto: int) -> None:
    """Set the checksum field at ``segment[at:at+2]`` so the segment checks."""
    segment[at : at + 2] = b"\x00\x00"
    padded = bytes(segment) + (b"\x00" if len(segment) % 2 else b"")
    total = sum(int.from_bytes(padded[i : i + 2], "big") for i in range(0, len(padded), 2))
    total += sum(int.from_bytes(a[i : i + 2], "big") for a in (src, dst) for i in range(0, len(a), 2))
    total += proto + len(segment)
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    segment[at : at + 2] = (~total & 0xFFFF).to_bytes(2, "big")


def test_compiled_and_python_checksums_agree() -> None:
    rng = random.Random(7)
    verdicts = {True: 0, False: 0}
    for _ in range(5000):
        size = rng.choice([8, 9, 20, 21, rng.randrange(8, 1500)])
        width = rng.choice([4, 16])
        src, dst = rng.randbytes(width), rng.randbytes(width)
        proto = rng.choice([6, 17])
        segment = bytearray(rng.randbytes(size))
        if rng.random() < 0.5:
            _right(segment, 16 if proto == 6 and size >= 20 else 6, src, dst, proto)
        lead = rng.randbytes(rng.randrange(0, 60))  # the frame's headers before the segment
        frame = lead + bytes(segment) + rng.randbytes(rng.randrange(0, 5))  # and Ethernet padding
        start, end = len(lead), len(lead) + size
        fast = decode.sum_ok(frame, start, end, src, dst, proto, size)
        assert fast == decode.sum_ok_py(frame, start, end, src, dst, proto, size)
        verdicts[fast] += 1
    assert verdicts[True] > 2000 and verdicts[False] > 2000


def test_a_segment_outside_the_frame_is_refused() -> None:
    if decode.sum_ok is decode.sum_ok_py:
        pytest.skip("the compiled checksum is not built")
    with pytest.raises(ValueError, match="outside"):
        decode.sum_ok(b"\x00" * 10, 4, 12, b"\x00" * 4, b"\x00" * 4, 6, 8)
