"""Case store -> causality graph (networkx ``MultiDiGraph``), from the rows that carry causality.

Each family of sources has its module (``windows`` processes, ``winlogon`` sessions, ``network``,
``linux``) with the query
that selects only its relevant rows and the mapping of those rows to ``Edge``s. The network
rows go first: the flows they index are what the Linux logons are joined with. A node's kind is
its key's prefix and its label is in ``describe``; edges carry the ``Edge`` record under
``edge``, keyed by the evidence row, so the same row never makes the same edge twice. Hosts whose
clock is off the capture's (``clock``) have their edges moved onto the capture's clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import networkx as nx

from forensics.graph import clock, linux, network, nodes, windows, winlogon
from forensics.graph.edges import Edge, Node, rows

if TYPE_CHECKING:
    from forensics.case import Case

__all__ = ["Collected", "build_graph", "collect", "describe", "graph_from"]


@dataclass
class Collected:
    """What the case's rows make, before the graph: hosts' edges, the capture's, node labels,
    and the flows the capture saw (with their start on the sensor's clock)."""

    host_edges: list[Edge]
    net_edges: list[Edge]
    labels: dict[str, Node]
    flows: network.Flows


def collect(case: Case) -> Collected:
    """Every family of sources' edges, from the rows that carry causality."""
    with case.connect() as con:
        flows = network.Flows()
        net_edges, net_labels = network.map_rows(rows(con.sql(network.QUERY)), flows)
        sysmon = {nodes.host_key(h) for (h,) in con.sql(windows.SYSMON_HOSTS).fetchall()}
        win_edges, win_labels, processes = windows.map_rows(
            rows(con.sql(windows.QUERY)), sysmon, flows.contents
        )
        logon_edges, logon_labels = winlogon.map_rows(rows(con.sql(winlogon.QUERY)), processes)
        lin_edges, lin_labels = linux.map_rows(rows(con.sql(linux.QUERY)), flows)
    labels = {**net_labels, **lin_labels, **logon_labels, **win_labels}
    return Collected([*win_edges, *logon_edges, *lin_edges], net_edges, labels, flows)


def build_graph(case: Case) -> nx.MultiDiGraph:
    """The causality graph of everything in ``case``, hosts' clocks put on the capture's."""
    found = collect(case)
    measured = clock.offsets(found.host_edges, found.flows.started)
    graph = graph_from([*clock.correct(found.host_edges, measured), *found.net_edges], found.labels)
    graph.graph["clock"] = measured
    graph.graph["sent"] = found.flows.sent
    graph.graph["url_flows"] = {
        nodes.url(u): [flow for _, flow, _ in seen] for u, seen in found.flows.by_url.items()
    }
    return graph


def graph_from(edges: list[Edge], labels: dict[str, Node]) -> nx.MultiDiGraph:
    """A graph of ``edges``. What is known of each node is in ``graph.graph["labels"]`` (read with
    ``describe``), not in per-node attribute dicts: half a million of those cost seconds."""
    graph = nx.MultiDiGraph()
    by_row: dict[tuple[str | None, str | None, int | None], list[Edge]] = {}
    for edge in edges:
        by_row.setdefault((edge.evidence_id, edge.source_file, edge.source_record), []).append(edge)
    graph.graph["rows"] = by_row  # the edges of each evidence row: where a point of interest starts
    graph.graph["labels"] = labels
    graph.add_edges_from(
        (e.src, e.dst, (e.evidence_id, e.source_file, e.source_record, e.action), {"edge": e}) for e in edges
    )
    return graph


def describe(graph: nx.MultiDiGraph, key: str) -> Node:
    """What is known of node ``key``: its label and details (its key's last part when nothing)."""
    node = graph.graph.get("labels", {}).get(key)
    return node if node is not None else Node(key, key.rsplit(":", 1)[-1])
