"""One direction of a TCP connection: segments in capture order -> bytes in sequence order.

Protocol inspectors (HTTP, TLS, SSH) read a connection as two byte streams, but a capture
gives segments: out of order, retransmitted, overlapping, some never captured. ``TcpStream``
puts them back in sequence order:
- the stream starts after the SYN's sequence number (or at the first segment seen, when the
  capture starts mid-connection);
- retransmitted and overlapping bytes are trimmed (the first copy wins, as most stacks do);
- segments ahead of the next expected byte wait, up to ``MAX_PENDING`` bytes;
- a hole that the peer has acknowledged, that outgrows the wait buffer, or that is still open
  when the connection ends becomes a gap (``("gap", size)``): the bytes were never captured,
  and inspectors count them as Zeek's ``missed_bytes``.
Nothing is kept once delivered, so memory is bounded by ``MAX_PENDING`` per direction.

References: RFC 9293 section 3.4 (sequence numbers, modulo 2**32 comparisons); Zeek
documentation of conn.log ``missed_bytes``.
"""

from __future__ import annotations

__all__ = ["MAX_PENDING", "Piece", "TcpStream"]

#: Out-of-order bytes waiting for a hole to fill, per direction.
MAX_PENDING = 1 << 20
_MOD = 1 << 32
_HALF = 1 << 31

#: ``bytes`` in sequence order, or the size (``int``) of a gap never captured.
Piece = bytes | int


def _after(a: int, b: int) -> int:
    """How far sequence number ``a`` is after ``b`` (negative: before), modulo 2**32."""
    d = (a - b) % _MOD
    return d - _MOD if d >= _HALF else d


class TcpStream:
    """Reorders one direction's segments; ``add`` returns the pieces now in order."""

    __slots__ = ("delivered", "missed", "next_seq", "pending", "pending_bytes")

    def __init__(self) -> None:
        self.next_seq: int | None = None
        self.pending: dict[int, bytes] = {}
        self.pending_bytes = 0
        self.delivered = 0
        self.missed = 0

    def syn(self, seq: int) -> None:
        """A SYN: the data starts at ``seq + 1``."""
        if self.next_seq is None or self.delivered == 0:
            self.next_seq = (seq + 1) % _MOD

    def add(self, seq: int, payload: bytes) -> list[Piece]:
        """A data segment of this direction."""
        if self.next_seq is None:
            self.next_seq = seq
        ahead = _after(seq, self.next_seq)
        if ahead <= 0:
            if -ahead >= len(payload):
                return []  # all of it delivered already
            return self._deliver(payload[-ahead:])
        if len(self.pending) < 4096 and seq not in self.pending:
            self.pending[seq] = payload
            self.pending_bytes += len(payload)
        elif seq in self.pending and len(payload) > len(self.pending[seq]):
            self.pending_bytes += len(payload) - len(self.pending[seq])
            self.pending[seq] = payload
        if self.pending_bytes > MAX_PENDING or len(self.pending) >= 4096:
            return self._skip_to_pending()
        return []

    def acked(self, ack: int) -> list[Piece]:
        """The peer acknowledged up to ``ack``: a hole before it was not captured."""
        if self.next_seq is None or not self.pending:
            return []
        if _after(ack, self.next_seq) <= 0:
            return []
        first = min(self.pending, key=lambda s: _after(s, self.next_seq))  # type: ignore[arg-type]
        if _after(ack, first) >= 0:
            return self._skip_to_pending()
        return []

    def finish(self) -> list[Piece]:
        """End of the connection: whatever waits, with its holes as gaps."""
        out: list[Piece] = []
        while self.pending:
            out += self._skip_to_pending()
        return out

    def _deliver(self, data: bytes) -> list[Piece]:
        out: list[Piece] = [data]
        self.next_seq = (self.next_seq + len(data)) % _MOD  # type: ignore[operator]
        self.delivered += len(data)
        while self.pending:
            ready = [s for s in self.pending if _after(s, self.next_seq) <= 0]
            if not ready:
                break
            for seq in ready:
                chunk = self.pending.pop(seq)
                self.pending_bytes -= len(chunk)
                overlap = -_after(seq, self.next_seq)
                if overlap < len(chunk):
                    chunk = chunk[overlap:]
                    out.append(chunk)
                    self.next_seq = (self.next_seq + len(chunk)) % _MOD
                    self.delivered += len(chunk)
        return out

    def _skip_to_pending(self) -> list[Piece]:
        """Give up on the hole before the earliest waiting segment: report it, go on from there."""
        first = min(self.pending, key=lambda s: _after(s, self.next_seq))  # type: ignore[arg-type]
        hole = _after(first, self.next_seq)  # type: ignore[arg-type]
        out: list[Piece] = []
        if hole > 0:
            out.append(hole)
            self.missed += hole
            self.next_seq = first
        chunk = self.pending.pop(first)
        self.pending_bytes -= len(chunk)
        return out + self._deliver(chunk) if chunk else out
