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

from forensics.detect.beacons import is_external
from forensics.graph.build import describe
from forensics.graph.edges import Edge
from forensics.graph.nodes import MEETING_KINDS
from forensics.graph.trace import BENIGN_PARENTS, NOT_CAUSES, backward, forward
from forensics.timeutil import iso_z

__all__ = ["Chain", "Step", "chain_from", "merge"]

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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Chain:
        """The chain ``to_dict`` gave (as ``chains/<name>.json`` stores it)."""
        root = Step(**data["root_cause"]) if data.get("root_cause") else None
        steps = [Step(**step) for step in data["steps"]]
        return cls(
            data["point_of_interest"],
            root,
            steps,
            data["impact"],
            data.get("answer", ""),
            data.get("clock", []),
        )

    def frame(self) -> Any:
        """The steps as a pandas DataFrame (a readable table in notebooks): time, host, actor,
        action, object, count, ATT&CK techniques, detail and the first evidence row."""
        import pandas as pd

        def first(step: Step) -> str:
            if not step.evidence:
                return ""
            e = step.evidence[0]
            more = f" (+{len(step.evidence) - 1})" if len(step.evidence) > 1 else ""
            return f"{(e['source_file'] or '').rsplit('/', 1)[-1]} #{e['source_record']}{more}"

        rows = [(s.time, s.host, s.actor, s.action, s.object, s.count, ", ".join(s.techniques), s.text, first(s))
                for s in self.steps]  # fmt: skip
        columns = ["time", "host", "actor", "action", "object", "count", "techniques", "detail", "evidence"]
        return pd.DataFrame(rows, columns=columns)

    def _repr_html_(self) -> str:
        """In a notebook: the chain drawn as SVG, each step's details and evidence on hover."""
        from forensics.graph.html import chain_svg

        return chain_svg(self)


def _iso(us: int) -> str:
    return iso_z(datetime.fromtimestamp(us / 1_000_000, UTC))


def _label(graph: nx.MultiDiGraph, node: str) -> str:
    return describe(graph, node).label


def _system(graph: nx.MultiDiGraph, node: str) -> bool:
    return node.startswith("proc:") and _label(graph, node).lower() in BENIGN_PARENTS


def merge(chain: Chain, others: list[Chain]) -> Chain:
    """``chain`` with the steps of every other chain that shares an entity (a process, a file, a
    session, a flow...) with it, repeatedly (so chains joined through a third are merged too). The root
    cause is the earliest of the merged roots; merged points of interest are listed."""
    steps = {(s.actor_id, s.action, s.object_id, s.time): s for s in chain.steps}
    entities = _entities(chain)
    merged: list[dict[str, Any]] = []
    root = chain.root_cause
    pending = [c for c in others if c is not chain and c.steps]
    changed = True
    while changed:
        changed = False
        for other in list(pending):
            keys = _entities(other)
            if not keys & entities:
                continue
            pending.remove(other)
            changed = True
            entities |= keys
            merged.append(other.point_of_interest)
            for step in other.steps:
                steps.setdefault((step.actor_id, step.action, step.object_id, step.time), step)
            if other.root_cause and (root is None or other.root_cause.time < root.time):
                root = other.root_cause
    if not merged:
        return chain
    joined = [chain, *(c for c in others if c.point_of_interest in merged)]
    impact = {k: list(dict.fromkeys(v for c in joined for v in c.impact.get(k, []))) for k in chain.impact}
    impact = {k: v if k == "sent_out" else sorted(v) for k, v in impact.items()}  # sent out: most first
    point = {**chain.point_of_interest, "merged": merged}
    return Chain(point, root, sorted(steps.values(), key=lambda s: s.time), impact, chain.answer, chain.clock)


def _entities(chain: Chain) -> set[str]:
    """What a chain's steps act on and with, but the places where unrelated activity meets
    (addresses, domains, URLs: a DNS forwarder resolving the same name is not the same attack)."""
    return {
        k for s in chain.steps for k in (s.actor_id, s.object_id) if k.split(":", 1)[0] not in MEETING_KINDS
    }


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
    their actors (what lsass.exe was accessed by before is not the cause of an access to it; a
    domain resolving to an address acts for nobody: who else asked for it is not history),
    impact forward from their objects (those they pass control to)."""
    techniques = techniques or {}
    objects = [(e.dst, e.time) for e in point_edges if e.action not in NOT_CAUSES]
    actors = [(e.src, e.time) for e in point_edges if e.src.split(":", 1)[0] not in MEETING_KINDS]
    history = [*point_edges, *backward(graph, actors)]
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
    """Hosts, accounts, files and remote addresses the chain touched, and the bytes it sent out."""
    impact: dict[str, set[str]] = {
        "hosts": set(),
        "accounts": set(),
        "files": set(),
        "remote_addresses": set(),
    }
    flows: set[str] = set()
    for edge in edges:
        impact["hosts"].add(edge.host)
        for node in (edge.src, edge.dst):
            details = dict(describe(graph, node).details)
            if node.startswith("file:"):
                impact["files"].add(details.get("path") or _label(graph, node))
            elif node.startswith("ip:") and is_external(node[3:]):
                impact["remote_addresses"].add(node[3:])
            elif node.startswith("flow:"):
                flows.add(node)
            elif node.startswith("url:"):
                flows.update(graph.graph.get("url_flows", {}).get(node, []))
            elif node.startswith("session:"):
                impact["accounts"].add(_label(graph, node))
            elif node.startswith("proc:") and details.get("user"):
                impact["accounts"].add(f"{details['user']}@{edge.host}")
    impact["hosts"].discard("net")
    for flow in flows:
        server = graph.graph.get("sent", {}).get(flow, (None, 0))[0]
        if server and is_external(server):
            impact["remote_addresses"].add(server)
    out = {k: sorted(v) for k, v in impact.items()}
    out["sent_out"] = _sent_out(graph, flows)
    return out


def _sent_out(graph: nx.MultiDiGraph, flows: set[str]) -> list[str]:
    """Bytes the chain's connections carried out to external addresses (the capture's count of
    what each client sent), most first: ``192.0.2.77: 11,576 B over 1 connection``."""
    sent: dict[str, list[int]] = {}
    for flow in flows:
        server, size = graph.graph.get("sent", {}).get(flow, (None, 0))
        if server and is_external(server):
            sent.setdefault(server, []).append(size)
    ranked = sorted(sent.items(), key=lambda item: -sum(item[1]))
    return [
        f"{ip}: {sum(sizes):,} B over {len(sizes)} connection{'s' if len(sizes) > 1 else ''}"
        for ip, sizes in ranked
    ]
