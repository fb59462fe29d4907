"""TCP packets of a flow -> its application session, fed with both directions in order.

Only connections whose first payload announces a protocol we read (``sessions.identify``) are
reassembled, and only until their session has what it needs (``Session.done``): a TLS
connection stops after the handshake, an SSH one after both banners, an HTTP one runs to the
end. Other connections cost one dictionary lookup per packet. The state lives in the flow
(``flow.app``), so it ends with the flow and memory stays bounded by the live flows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from parsers.network.decode import Segment
from parsers.network.ftp import Channels, FtpDataSession, FtpSession
from parsers.network.sessions import SESSIONS, Record, Session, identify
from parsers.network.streams import Piece, TcpStream

__all__ = ["Context", "Reassembly", "tcp_packet"]

_SYN, _ACK = 0x02, 0x10


class Reassembly:
    """A session and, while it wants bytes, the two directions' streams."""

    __slots__ = ("missed", "session", "streams")

    def __init__(self, session: Session, isn: dict[bool, int]) -> None:
        self.session = session
        self.streams: dict[bool, TcpStream] | None = {True: TcpStream(), False: TcpStream()}
        for side, seq in isn.items():
            self.streams[side].syn(seq)
        self.missed = 0

    def feed(self, flow: Any, from_orig: bool, pieces: list[Piece], ts_ns: int, number: int) -> list[Record]:
        out: list[Record] = []
        session = self.session
        for piece in pieces:
            if isinstance(piece, int):
                self.missed += piece
                session.gap(from_orig, piece)
            elif not session.done:
                out += session.data(flow, from_orig, piece, ts_ns, number)
        if session.done and self.streams is not None:
            self.streams = None
        return out

    def finish(self, flow: Any) -> list[Record]:
        out: list[Record] = []
        if self.streams is not None:
            streams, last = self.streams, flow.last_ns
            for side in (True, False):
                out += self.feed(flow, side, streams[side].finish(), last, flow.first_packet)
                if self.streams is None:
                    break
        return out + self.session.end(flow, flow.last_ns)


class Context:
    """What sessions of one capture share: where carried objects go (``open_body``: a writer
    per object, None to hash only) and the FTP data connections announced so far."""

    __slots__ = ("channels", "open_body")

    def __init__(self, open_body: Callable[[Any], Any] | None = None) -> None:
        self.open_body = open_body
        self.channels = Channels()

    def session(self, flow: Any, data: bytes, from_orig: bool) -> Any:
        """The session for a connection whose first payload is ``data``; None: not read."""
        channel = self.channels.claim(flow.resp)
        if channel is not None:
            return FtpDataSession(channel, self.open_body)
        kind = identify(data, from_orig, flow.resp[1])
        if kind == "ftp":
            return FtpSession(self.open_body, self.channels)
        return SESSIONS[kind](self.open_body) if kind else None


def tcp_packet(
    flow: Any, from_orig: bool, seg: Segment, ts_ns: int, number: int, context: Context
) -> list[Record]:
    """Account one TCP segment of ``flow`` to its session; records the session completed."""
    app = flow.app
    state = app.get("tcp")
    if state is False:
        return []
    if state is None:
        if seg.flags & _SYN:
            app.setdefault("isn", {})[from_orig] = seg.seq
        if not seg.payload:
            return []
        session = context.session(flow, seg.payload, from_orig)
        if session is None:
            app["tcp"] = False
            app.pop("isn", None)
            return []
        state = app["tcp"] = Reassembly(session, app.pop("isn", {}))
        flow.service.append(state.session.service)
    streams = state.streams
    if streams is None:
        return []
    out: list[Record] = []
    peer = streams[not from_orig]
    if peer.pending and seg.flags & _ACK:  # only a stream with a hole can have lost bytes acked
        out += state.feed(flow, not from_orig, peer.acked(seg.ack), ts_ns, number)
        if state.streams is None:
            return out
    if seg.payload:
        pieces = streams[from_orig].add(seg.seq, seg.payload)
        if pieces:
            out += state.feed(flow, from_orig, pieces, ts_ns, number)
    return out
