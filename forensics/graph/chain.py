"""From a point of interest to the attack chain: root cause, ordered steps, impact.

1. Backward from the point of interest (``trace.backward``) to the edges that explain it.
2. The root cause is where the intrusion entered: the earliest artifact or session on that
   history that was brought in and then acted (a file created, then opened or executed; a
   logon, then its session started a process or installed a service), else the earliest step
   not made by a system process.
3. The chain: the root cause, the history from it to the point of interest, and forward
   (``trace.forward``) from the root cause's object and from the point of interest: everything
   they led to, across hosts where a flow carried a logon.
4. Reduction for people: an image's "executed" edge is folded into the process's "spawned" one,
   a flow's remote address into its connection, and repeats of one actor doing the same action
   to the same kind of object (a beacon's hundred connections) into one step with a count.
Each step keeps every evidence row that shows it (the timeline ``source``, the evidence file's
sha256 and the record), and the ATT&CK techniques of the findings on those rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import networkx as nx

from forensics.graph.build import describe
from forensics.graph.edges import Edge
from forensics.graph.trace import BENIGN_PARENTS, NOT_CAUSES, backward, forward

__all__ = ["Chain", "Step", "chain_from"]

#: Actions that bring an artifact or a session in (an entry, once it acts in turn).
_BRINGS = {"created", "logged on", "ran"}
_STARTS = {"spawned", "started", "ran"}
#: Registry keys that make something run (autostart, services, hijacks) or weaken defences:
#: their writes are steps of their own; other writes by one actor are folded into one step.
_PERSISTENCE = re.compile(
    r"\\(run|runonce|runservices|services|winlogon|image file execution options|taskcache|appinit_dlls"
    r"|userinitmprlogonscript|environment|lsa|silentprocessexit|windows defender)(\\|$)"
)
_FOLDED = {"executed", "to", "resolved to"}


@dataclass
class Step:
    time: str  # ISO 8601 UTC, microseconds
    host: str
    actor: str
    action: str
    object: str
    count: int = 1
    techniques: list[str] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    text: str = ""
    actor_id: str = ""  # the graph's node keys of actor and object (a connection's: its flow)
    object_id: str = ""


@dataclass
class Chain:
    point_of_interest: dict[str, Any]
    root_cause: Step | None
    steps: list[Step]
    impact: dict[str, list[str]]
    answer: str = ""  # when there is no chain: why
    clock: list[str] = field(default_factory=list)  # each host's offset from the capture, and if used

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def _repr_html_(self) -> str:
        """In a notebook: the chain drawn as SVG, each step's details and evidence on hover."""
        from forensics.graph.html import chain_svg

        return chain_svg(self)


def _iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _label(graph: nx.MultiDiGraph, node: str) -> str:
    return describe(graph, node).label


def _system(graph: nx.MultiDiGraph, node: str) -> bool:
    return node.startswith("proc:") and _label(graph, node).lower() in BENIGN_PARENTS


def root_cause(graph: nx.MultiDiGraph, history: list[Edge]) -> Edge | None:
    """The edge where the intrusion entered, among the edges that explain a point of interest."""
    acted = {e.src for e in history if e.action not in _FOLDED}
    entered = [e for e in history if e.action in _BRINGS and e.dst in acted and not _system(graph, e.src)]
    if entered:
        return min(entered, key=lambda e: e.time)
    candidates = [e for e in history if not _system(graph, e.src) and e.action not in _FOLDED]
    return min(candidates, key=lambda e: e.time) if candidates else None


def chain_from(
    graph: nx.MultiDiGraph,
    point_edges: list[Edge],
    point: dict[str, Any],
    techniques: dict[tuple[str | None, str | None, int | None], list[str]] | None = None,
) -> Chain:
    """The chain through a point of interest, the edges of its row: history is traced back from
    their actors (what lsass.exe was accessed by before is not the cause of an access to it),
    impact forward from their objects (those they pass control to)."""
    techniques = techniques or {}
    objects = [(e.dst, e.time) for e in point_edges if e.action not in NOT_CAUSES]
    history = [*point_edges, *backward(graph, [(e.src, e.time) for e in point_edges])]
    root = root_cause(graph, history)
    if root is None:
        return Chain(point, None, [], {}, "no ancestry in the evidence: nothing recorded led to this event")
    # the root, what led from it to the point of interest, what followed from the root and from the point
    edges = [
        root,
        *(e for e in history if e.time >= root.time),
        *forward(graph, [(root.dst, root.time)]),
        *forward(graph, objects),
    ]
    edges = list(
        {(e.src, e.dst, e.evidence_id, e.source_file, e.source_record, e.action): e for e in edges}.values()
    )
    steps = _steps(graph, edges, techniques)
    return Chain(point, steps[0] if steps else None, steps, _impact(graph, edges))


def _steps(
    graph: nx.MultiDiGraph,
    edges: Iterable[Edge],
    techniques: dict[tuple[str | None, str | None, int | None], list[str]],
) -> list[Step]:
    grouped: dict[tuple, Step] = {}
    for edge in sorted(_one_cause_per_row(graph, edges), key=lambda e: (e.time, e.source_record or 0)):
        if edge.action in _FOLDED:
            continue
        target = edge.dst
        if target.startswith("flow:"):  # a connection: to its remote address
            remote = [d for d in graph.successors(target) if d.startswith("ip:")]
            target = remote[0] if remote else target
        kind = target.split(":", 1)[0]
        same = dict(describe(graph, target).details).get("account") or _label(
            graph, target
        )  # sessions: by account
        repeat = (edge.src, edge.action, kind, same if kind != "ip" else target)
        routine = kind == "reg" and not _PERSISTENCE.search(target)
        if routine:  # settings a program writes as it runs: one step per actor, persistence keys apart
            repeat = (edge.src, edge.action, "routine registry")
        if edge.src.startswith("flow:") and edge.action in ("requested", "transferred"):
            repeat = (edge.src, "flow")  # what the capture saw in one connection: one step
        if edge.source == "shell_history":  # one step per time placed (a line, its objects together)
            repeat = (edge.src, edge.action, edge.time)
        evidence = {"source": edge.source, "evidence_id": edge.evidence_id, "source_file": edge.source_file,
                    "source_record": edge.source_record, "time": _iso(edge.time)}  # fmt: skip
        step = grouped.get(repeat)
        if step is None:
            shown = "registry values" if routine else _label(graph, target) if kind != "ip" else target[3:]
            grouped[repeat] = Step(
                _iso(edge.time), edge.host, _label(graph, edge.src), edge.action, shown, 1,
                list(techniques.get((edge.evidence_id, edge.source_file, edge.source_record), [])), [evidence], edge.text,
                edge.src, edge.dst,
            )  # fmt: skip
            continue
        if evidence not in step.evidence:
            step.evidence.append(evidence)
            step.count += 1
        for technique in techniques.get((edge.evidence_id, edge.source_file, edge.source_record), []):
            if technique not in step.techniques:
                step.techniques.append(technique)
        if (edge.source == "shell_history" or repeat[-1] == "flow") and _label(
            graph, target
        ) not in step.object:
            step.object += f", {_label(graph, target)}"
    return sorted(grouped.values(), key=lambda s: s.time)


def _one_cause_per_row(graph: nx.MultiDiGraph, edges: Iterable[Edge]) -> list[Edge]:
    """One row that both starts a process and names a document it opens (``WINWORD.EXE /n
    invoice.docm``) is one step: the start, naming the document, not two."""
    edges = list(edges)
    starts = {(e.evidence_id, e.source_file, e.source_record, e.dst) for e in edges if e.action in _STARTS}
    opened: dict[tuple, list[str]] = {}
    kept = []
    for e in edges:
        row = (e.evidence_id, e.source_file, e.source_record, e.dst)
        if e.action == "opened" and row in starts:
            opened.setdefault(row, []).append(_label(graph, e.src))
        else:
            kept.append(e)
    return [
        e._replace(text=f"{e.text} (opening {', '.join(opened[row])})")
        if e.action in _STARTS and (row := (e.evidence_id, e.source_file, e.source_record, e.dst)) in opened
        else e
        for e in kept
    ]


def _impact(graph: nx.MultiDiGraph, edges: list[Edge]) -> dict[str, list[str]]:
    """Hosts, accounts, files and remote addresses the chain touched."""
    impact: dict[str, set[str]] = {
        "hosts": set(),
        "accounts": set(),
        "files": set(),
        "remote_addresses": set(),
    }
    for edge in edges:
        impact["hosts"].add(edge.host)
        for node in (edge.src, edge.dst):
            details = dict(describe(graph, node).details)
            if node.startswith("file:"):
                impact["files"].add(details.get("path") or _label(graph, node))
            elif node.startswith("ip:") and not node[3:].startswith(("10.", "192.168.", "172.")):
                impact["remote_addresses"].add(node[3:])
            elif node.startswith("session:"):
                impact["accounts"].add(_label(graph, node))
            elif node.startswith("proc:") and details.get("user"):
                impact["accounts"].add(f"{details['user']}@{edge.host}")
    impact["hosts"].discard("net")
    return {k: sorted(v) for k, v in impact.items()}
