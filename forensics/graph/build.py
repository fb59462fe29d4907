"""Case store -> causality graph (networkx ``MultiDiGraph``), from the rows that carry causality.

Each family of sources has its module (``windows`` processes, ``winlogon`` sessions, ``network``,
``linux``) with the query
that selects only its relevant rows and the mapping of those rows to ``Edge``s. The network
rows go first: the flows they index are what the Linux logons are joined with. Nodes carry
``label`` and ``kind``; edges carry the ``Edge`` record under ``edge``, keyed by the
evidence row, so the same row never makes the same edge twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx

from forensics.graph import linux, network, nodes, windows, winlogon
from forensics.graph.edges import Edge, Node, rows

if TYPE_CHECKING:
    from forensics.case import Case

__all__ = ["build_graph", "graph_from"]


def build_graph(case: Case) -> nx.MultiDiGraph:
    """The causality graph of everything in ``case``."""
    with case.connect() as con:
        flows = network.Flows()
        net_edges, net_labels = network.map_rows(rows(con.sql(network.QUERY).to_arrow_table()), flows)
        win_edges, win_labels, processes = windows.map_rows(rows(con.sql(windows.QUERY).to_arrow_table()))
        logon_edges, logon_labels = winlogon.map_rows(
            rows(con.sql(winlogon.QUERY).to_arrow_table()), processes
        )
        lin_edges, lin_labels = linux.map_rows(rows(con.sql(linux.QUERY).to_arrow_table()), flows)
    edges = [*win_edges, *logon_edges, *net_edges, *lin_edges]
    return graph_from(edges, {**net_labels, **lin_labels, **logon_labels, **win_labels})


def graph_from(edges: list[Edge], labels: dict[str, Node]) -> nx.MultiDiGraph:
    """A graph of ``edges``; nodes labelled from ``labels`` (else by their key's last part)."""
    graph = nx.MultiDiGraph()
    by_row: dict[tuple[str | None, str | None, int | None], list[Edge]] = {}
    graph.graph["rows"] = by_row  # the edges of each evidence row: where a point of interest starts
    for edge in edges:
        for key in (edge.src, edge.dst):
            if key not in graph:
                node = labels.get(key)
                graph.add_node(key, kind=nodes.kind_of(key), label=node.label if node else key.rsplit(":", 1)[-1],
                               details=dict(node.details) if node else {})  # fmt: skip
        graph.add_edge(
            edge.src,
            edge.dst,
            key=(edge.evidence_id, edge.source_file, edge.source_record, edge.action),
            edge=edge,
        )
        by_row.setdefault((edge.evidence_id, edge.source_file, edge.source_record), []).append(edge)
    return graph
