"""``TcpStream``: segments out of order, retransmitted, overlapping, lost, across the sequence
number wrap -> the bytes in order, with the holes as counted gaps."""

from __future__ import annotations

from parsers.network.streams import MAX_PENDING, TcpStream


def _joined(pieces: list) -> bytes:
    return b"".join(p if isinstance(p, bytes) else b"?" * p for p in pieces)


def test_in_order_after_the_syn() -> None:
    s = TcpStream()
    s.syn(1000)
    assert s.add(1001, b"GET ") == [b"GET "]
    assert s.add(1005, b"/ HTTP/1.1\r\n") == [b"/ HTTP/1.1\r\n"]
    assert (s.delivered, s.missed) == (16, 0)


def test_out_of_order_waits_for_the_hole() -> None:
    s = TcpStream()
    s.syn(0)
    assert s.add(6, b"world") == []
    assert s.add(1, b"hello") == [b"hello", b"world"]
    assert s.pending == {} and s.pending_bytes == 0


def test_retransmissions_and_overlaps_are_trimmed() -> None:
    s = TcpStream()
    s.syn(0)
    out = s.add(1, b"abcd") + s.add(1, b"abcd") + s.add(3, b"cdef") + s.add(2, b"b")
    assert _joined(out) == b"abcdef"


def test_sequence_numbers_wrap() -> None:
    s = TcpStream()
    s.syn(2**32 - 3)  # data starts at 2**32 - 2
    out = s.add(2**32 - 2, b"ab") + s.add(2, b"ef") + s.add(0, b"cd")
    assert _joined(out) == b"abcdef"


def test_a_hole_the_peer_acknowledged_is_a_gap() -> None:
    s = TcpStream()
    s.syn(0)
    s.add(1, b"abc")
    assert s.add(10, b"xyz") == []
    assert s.acked(5) == []  # the ACK does not reach the waiting segment yet
    assert s.acked(13) == [6, b"xyz"]
    assert s.missed == 6


def test_the_end_flushes_what_waits_with_its_gaps() -> None:
    s = TcpStream()
    s.add(100, b"ab")  # no SYN seen: the stream starts at the first segment
    s.add(110, b"cd")
    s.add(120, b"ef")
    assert s.finish() == [8, b"cd", 8, b"ef"]
    assert s.missed == 16


def test_waiting_bytes_are_bounded() -> None:
    s = TcpStream()
    s.syn(0)
    chunk = b"x" * 65536
    out: list = []
    for i in range(MAX_PENDING // len(chunk) + 1):
        out += s.add(100 + i * len(chunk), chunk)
    assert out[0] == 99 and s.pending_bytes <= MAX_PENDING
