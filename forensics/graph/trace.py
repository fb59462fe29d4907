"""Time-respecting tracing over the causality graph: back to the origin, forward to the impact.

Backward from an edge at time t, an incoming edge explains a node only if it happened at or
before the time that node was used (BackTracker's rule): a file written after a process read
it did not cause that process. Forward, an outgoing edge counts only if it happened at or after
the node was reached. Nodes that touch too many others (services.exe, svchost.exe, a DNS
server's address, the shared address of a NAT) carry no causal information and would pull the
whole case into the chain: the walk does not go through a node that more than ``max_fanout``
distinct processes meet at (a parent of many, an image many run), nor through processes whose
image is a known system parent, nor through addresses, domains and URLs (hosts meet there;
they are joined through the flows instead).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

import networkx as nx

from forensics.graph import nodes
from forensics.graph.build import describe
from forensics.graph.edges import Edge

__all__ = ["BENIGN_PARENTS", "MAX_FANOUT", "NOT_CAUSES", "backward", "forward"]

#: Actions that touch their object without passing control to it: reading a process's memory
#: (Sysmon 10) does not make the reader its cause, nor the process read an heir of the reader;
#: a deleted file is an end. The walk records such an edge and goes no further through it.
NOT_CAUSES = frozenset({"accessed", "deleted"})

#: Distinct neighbours above which a node stops a walk.
MAX_FANOUT = 40
#: System processes every process descends from: a chain that reaches them has gone too far.
BENIGN_PARENTS = frozenset({
    "services.exe", "svchost.exe", "wininit.exe", "winlogon.exe", "smss.exe", "csrss.exe", "lsass.exe",
    "explorer.exe", "userinit.exe", "system", "systemd", "sshd", "cron", "init", "taskeng.exe", "taskhostw.exe",
})  # fmt: skip


def _process_neighbours(graph: nx.MultiDiGraph, node: str) -> int:
    """Distinct processes ``node`` spawned, was spawned by, or was executed or opened by."""
    seen = {n for n in graph.successors(node) if n.startswith("proc:")}
    seen.update(n for n in graph.predecessors(node) if n.startswith("proc:"))
    return len(seen)


def _stops(graph: nx.MultiDiGraph, node: str, max_fanout: int) -> bool:
    kind = node.split(":", 1)[0]
    if kind in nodes.MEETING_KINDS:
        return True  # where many hosts meet: joined through flows, never walked through
    if kind == "proc" and describe(graph, node).label.lower() in BENIGN_PARENTS:
        return True
    fanout = graph.graph.setdefault("fanout", {})
    if node not in fanout:
        fanout[node] = _process_neighbours(graph, node)
    return fanout[node] > max_fanout


def backward(
    graph: nx.MultiDiGraph, start: Iterable[tuple[str, int]], max_fanout: int = MAX_FANOUT
) -> list[Edge]:
    """Edges that explain the nodes of ``start`` ((node, time used) pairs), latest first."""
    return _walk(graph, start, max_fanout, forward=False)


def forward(
    graph: nx.MultiDiGraph, start: Iterable[tuple[str, int]], max_fanout: int = MAX_FANOUT
) -> list[Edge]:
    """Edges that follow from the nodes of ``start`` ((node, time reached) pairs), earliest first."""
    return _walk(graph, start, max_fanout, forward=True)


def _walk(
    graph: nx.MultiDiGraph, start: Iterable[tuple[str, int]], max_fanout: int, *, forward: bool
) -> list[Edge]:
    """Best-first over time in the walk's direction: ``order`` is the time forward, its negation
    backward, so in both an edge is taken when its order is at or past the node's, and a node is
    walked again only when reached earlier in that order (with more of the graph still open)."""
    sign = 1 if forward else -1
    best: dict[str, int] = {}
    queue = [(sign * t, node) for node, t in start]
    heapq.heapify(queue)
    found: dict[tuple, Edge] = {}
    while queue:
        order, node = heapq.heappop(queue)
        if node in best and best[node] <= order:
            continue
        best[node] = order
        if node not in graph:
            continue
        near = (
            graph.out_edges(node, keys=True, data=True)
            if forward
            else graph.in_edges(node, keys=True, data=True)
        )
        for src, dst, key, data in near:
            edge: Edge = data["edge"]
            if sign * edge.time < order or (not forward and edge.action in NOT_CAUSES):
                continue
            found[(src, dst, key)] = edge
            other = dst if forward else src
            if edge.action not in NOT_CAUSES and not _stops(graph, other, max_fanout):
                heapq.heappush(queue, (sign * edge.time, other))
    return sorted(found.values(), key=lambda e: sign * e.time)
