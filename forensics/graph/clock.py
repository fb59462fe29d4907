"""Clock skew between hosts, measured on the flows both a host and the network saw.

A host's Sysmon network connection (event 3) is stamped by the host's clock; the capture's
record of the same flow (same Community ID) by the sensor's. Their difference, over every flow
both saw, is the host's offset from the sensor: its median is robust to the odd late event
(Sysmon logs a connection when it sees it, up to a few hundred milliseconds after the SYN).
An offset beyond ``APPLY_AT_US`` is corrected: the host's edges are moved onto the sensor's
clock before tracing, so "before" means before across hosts; smaller ones are reported only.
Either way the chain states the offsets it measured and whether it used them.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median

from forensics.graph.edges import Edge

__all__ = ["APPLY_AT_US", "Offset", "correct", "offsets"]

#: Offsets at least this large (in either direction) are applied.
APPLY_AT_US = 2_000_000


@dataclass(frozen=True)
class Offset:
    host: str
    offset_us: int  # host clock minus sensor clock (median)
    flows: int  # flows both saw
    applied: bool

    def describe(self) -> str:
        sign = "ahead of" if self.offset_us >= 0 else "behind"
        used = "corrected" if self.applied else "within tolerance, not corrected"
        return f"{self.host}: {abs(self.offset_us) / 1e6:.3f} s {sign} the capture over {self.flows} flows ({used})"


def offsets(edges: list[Edge], started: dict[str, int]) -> list[Offset]:
    """Each host's offset from the capture, from its connections the capture saw start."""
    deltas: dict[str, list[int]] = {}
    for edge in edges:
        if edge.action == "connected" and edge.dst in started and edge.host != "net":
            deltas.setdefault(edge.host, []).append(edge.time - started[edge.dst])
    return [
        Offset(host, int(median(values)), len(values), abs(median(values)) >= APPLY_AT_US)
        for host, values in sorted(deltas.items())
    ]


def correct(edges: list[Edge], measured: list[Offset]) -> list[Edge]:
    """``edges`` with the applied offsets taken off their hosts' times."""
    shift = {o.host: o.offset_us for o in measured if o.applied}
    if not shift:
        return edges
    return [e._replace(time=e.time - shift[e.host]) if e.host in shift else e for e in edges]
