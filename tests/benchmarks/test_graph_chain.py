"""The root-cause benchmark's generated graph: the size asked for, times that only grow down the
trees, and a deepest process whose history the backward trace finds whole (no timings here)."""

from __future__ import annotations

import networkx as nx

from benchmarks.graph_chain import synthetic_graph
from forensics.graph.trace import backward


def test_synthetic_graph_is_causal_and_traced_back_to_its_root() -> None:
    graph, deepest, last = synthetic_graph(edges=20_000, seed=3)
    assert graph.number_of_edges() >= 20_000
    spawned = [d["edge"] for _, _, d in graph.edges(data=True) if d["edge"].action == "spawned"]
    parent_of = {e.dst: e for e in spawned}
    # every spawn happens after its parent's own spawn: time only grows down the tree
    assert all(e.time > parent_of[e.src].time for e in spawned if e.src in parent_of)
    found = backward(graph, [(deepest, last)])
    chain = {e.dst for e in found if e.action == "spawned"}
    node = deepest
    while node in parent_of:  # the whole ancestry of the deepest process is in the trace
        assert node in chain
        node = parent_of[node].src
    assert node.endswith(":root")
    assert {e.src for e in found} <= nx.ancestors(graph, deepest) | {deepest}
