"""Root cause: the causality graph of a 1M-event case and tracing over a 1M-edge graph, each
against a reference measured in the same run.

* Graph: ``build_graph`` over the Sigma benchmark's case (WS01's logs generated at the scale
  giving ~1,000,000 events, ingested once, cached; ``sigma_eval.bench_case``), in a fresh process
  for its peak RSS. Reference: reading the same rows (the three queries the builder runs) into
  pandas, the least any tool building a graph from them has to do.
* The chain: from the LSASS dump's Sysmon 10 row (the story's S10) to the root cause.
* Tracing: ``trace.backward`` over a generated 1,000,000-edge causal graph (processes spawning
  processes and writing files, 200 hosts' worth, times increasing down the tree) from the
  deepest process, against networkx's ``ancestors`` (plain reachability, no time rule) over
  the same graph from the same node.
The goals: graph from 1M events in at most 20 s on 2 cores; a backward trace over 1M edges in
at most 1 s; memory bounded by the rows that carry causality, not by the case.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_BUILD = """
import json, resource, sys, time
from benchmarks.sigma_eval import bench_case
from forensics.graph import case_chain
from forensics.graph.build import build_graph
case = bench_case(int(sys.argv[1]))
events = int(case.sql("SELECT count(*) AS n FROM timeline").n[0])
started = time.perf_counter()
graph = build_graph(case)
seconds = time.perf_counter() - started
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
started = time.perf_counter()
chain = case_chain(case, row="Microsoft-Windows-Sysmon%4Operational.evtx:" + sys.argv[2], name="bench")
chain_s = time.perf_counter() - started
root = chain.root_cause
print(json.dumps([events, graph.number_of_nodes(), graph.number_of_edges(), seconds, rss, chain_s,
                  len(chain.steps), f"{root.actor} {root.action} {root.object}" if root else chain.answer]))
"""
_READ = """
import json, resource, sys, time
from benchmarks.sigma_eval import bench_case
from forensics.graph import linux, network, windows, winlogon
case = bench_case(int(sys.argv[1]))
started = time.perf_counter()
rows = 0
with case.connect() as con:
    for query in (windows.QUERY, winlogon.QUERY, network.QUERY, linux.QUERY):
        rows += len(con.sql(query).df())
print(json.dumps([rows, time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]))
"""


def _run(code: str, *args: str) -> list:
    out = subprocess.run(
        [sys.executable, "-c", code, *args], check=True, capture_output=True, text=True, cwd=ROOT
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def lsass_record(events: int) -> int:
    """The Sysmon record of the LSASS access (S10) in the benchmark case."""
    from benchmarks.sigma_eval import bench_case

    case = bench_case(events)
    found = case.sql(
        "SELECT source_record FROM timeline WHERE event_code = '10' AND process_executable ILIKE '%rundll32.exe' "
        "AND map_extract(fields, 'TargetImage')[1] ILIKE '%lsass.exe' ORDER BY datetime LIMIT 1"
    )
    return int(found.source_record[0])


def synthetic_graph(edges: int = 1_000_000, seed: int = 7) -> tuple[object, str, int]:
    """A causal graph of ``edges`` edges: process trees (each process spawned by an earlier one of
    its host, writing files some later processes execute), times increasing; its deepest process."""
    from forensics.graph.build import graph_from
    from forensics.graph.edges import Edge

    rng = random.Random(seed)
    made: list[Edge] = []
    hosts = [f"h{i}" for i in range(200)]
    procs: dict[str, list[str]] = {h: [f"proc:{h}:root"] for h in hosts}
    files: dict[str, list[str]] = {h: [] for h in hosts}
    depth = {f"proc:{h}:root": 0 for h in hosts}
    t = 1_000_000
    while len(made) < edges:
        host = rng.choice(hosts)
        t += rng.randrange(1, 50)
        parent = rng.choice(procs[host][-50:]) if rng.random() < 0.9 else rng.choice(procs[host])
        child = f"proc:{host}:{len(procs[host])}"
        made.append(Edge(parent, child, t, "spawned", host, "windows_evtx", "e", len(made)))
        depth[child] = depth[parent] + 1
        procs[host].append(child)
        if rng.random() < 0.4:
            target = f"file:{host}:{len(files[host])}.exe"
            made.append(Edge(child, target, t + 1, "created", host, "windows_evtx", "e", len(made)))
            files[host].append(target)
        if files[host] and rng.random() < 0.2:
            made.append(
                Edge(
                    rng.choice(files[host][-20:]), child, t, "executed", host, "windows_evtx", "e", len(made)
                )
            )
    graph = graph_from(made, {})
    deepest = max(depth, key=depth.__getitem__)
    return graph, deepest, max(e.time for e in made)


def main(events: int = 1_000_000) -> dict[str, object]:
    import networkx as nx

    from forensics.graph.trace import backward

    result: dict[str, object] = {}
    record = lsass_record(events)
    n, nodes, edges, build_s, rss, chain_s, steps, root = _run(_BUILD, str(events), str(record))
    rows, read_s, read_rss = _run(_READ, str(events))
    result["input"] = f"{n:,} events (WS01 generated, ingested once); {rows:,} of them carry causality"
    result["graph"] = (
        f"{nodes:,} nodes, {edges:,} edges in {build_s:.1f} s (goal <= 20 s), peak RSS {rss:,.0f} MiB"
    )
    result["reference: the same rows read into pandas"] = f"{read_s:.1f} s, peak RSS {read_rss:,.0f} MiB"
    result["graph / reading the rows"] = f"{build_s / read_s:.2f}x the time, {rss / read_rss:.2f}x the memory"
    result["chain from the LSASS dump row"] = (
        f"{chain_s:.1f} s (graph built again inside), {steps} steps, root: {root}"
    )
    graph, deepest, last = synthetic_graph()
    started = time.perf_counter()
    found = backward(graph, [(deepest, last)])
    trace_s = time.perf_counter() - started
    started = time.perf_counter()
    reachable = nx.ancestors(graph, deepest)
    ancestors_s = time.perf_counter() - started
    result["backward trace, 1M-edge generated graph"] = (
        f"{trace_s * 1000:.0f} ms (goal <= 1 s), {len(found):,} edges explain the deepest process"
    )
    result["reference: networkx ancestors (no time rule)"] = (
        f"{ancestors_s * 1000:.0f} ms, {len(reachable):,} nodes"
    )
    return result


if __name__ == "__main__":
    for key, value in main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000).items():
        print(f"{key}: {value}")
