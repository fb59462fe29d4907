"""Capture and Zeek rows -> causality edges, and the index the other sources join flows with.

A flow is keyed by its Community ID, the key Sysmon's network connections are given too
(``windows``), so a process's connection and what the capture saw in it meet on one node:
HTTP requests (flow -> URL), DNS answers (domain -> address). ``Flows`` finds a flow from what
a log line names of it (the client's address and port and the server's port: sshd's
"Accepted password for bob from 10.20.0.21 port 50203"), which is how a logon on one host
is joined with the connection another host made.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from forensics.graph import nodes
from forensics.graph.edges import Edge, Node

__all__ = ["QUERY", "Flows", "map_rows"]

QUERY = """
SELECT epoch_us(datetime) AS t, source, evidence_id, source_file, source_record, source_ip, source_port,
       destination_ip, destination_port, community_id, dns_question_name, url_full,
       map_extract(fields, 'answers')[1] AS answers, map_extract(fields, 'method')[1] AS method,
       file_hash_sha256, message, map_extract(fields, 'orig_bytes')[1] AS orig_bytes
FROM timeline
WHERE source IN ('network_conn', 'network_dns', 'network_http', 'network_ssh', 'network_files') AND datetime IS NOT NULL
ORDER BY t
"""
#: A log line's time and the flow's start may differ by the handshake and by clock skew.
JOIN_WINDOW_US = 120_000_000


class Flows:
    """Flows by (client address, client port, server port): their Community ID, server, start."""

    def __init__(self) -> None:
        self._by_client: dict[tuple[str, int, int], list[tuple[int, str, str]]] = {}
        self.by_url: dict[str, list[tuple[int, str, dict[str, Any]]]] = {}
        #: Contents the capture saw carried (by ``nodes.content`` key): a host running the same
        #: bytes is joined to the transfer, whichever host wrote them to disk.
        self.contents: set[str] = set()
        #: Bytes each flow carried from its client (conn rows' orig_bytes), with the server's address.
        self.sent: dict[str, tuple[str, int]] = {}
        #: When the capture saw each flow start (conn rows), by flow node key: the sensor's clock.
        self.started: dict[str, int] = {}

    def add(self, client: str, client_port: int, server_port: int, t: int, cid: str, server: str) -> None:
        self._by_client.setdefault((client, client_port, server_port), []).append((t, cid, server))

    def find(self, client: str, client_port: int, server_port: int, t: int) -> tuple[str, str] | None:
        """(Community ID, server address) of the flow nearest ``t`` within the join window."""
        best = None
        for start, cid, server in self._by_client.get((client, client_port, server_port), []):
            gap = abs(start - t)
            if gap <= JOIN_WINDOW_US and (best is None or gap < best[0]):
                best = (gap, cid, server)
        return (best[1], best[2]) if best else None


def map_rows(rows: Iterator[dict[str, Any]], flows: Flows) -> tuple[list[Edge], dict[str, Node]]:
    edges: list[Edge] = []
    labels: dict[str, Node] = {}
    for r in rows:
        cid = r["community_id"]
        if cid and r["source_ip"] and r["source_port"] is not None and r["destination_port"] is not None:
            flows.add(
                r["source_ip"], r["source_port"], r["destination_port"], r["t"], cid, r["destination_ip"]
            )
        common = ("net", r["source"], r["evidence_id"], r["source_record"], r["source_file"])
        flow = nodes.flow(cid) if cid else None
        if flow and r["source"] == "network_conn":
            flows.started.setdefault(flow, r["t"])
            if (r["orig_bytes"] or "").isdigit() and r["destination_ip"]:
                flows.sent[flow] = (r["destination_ip"], int(r["orig_bytes"]))
        if r["source"] == "network_http" and r["url_full"] and flow:
            target = nodes.url(r["url_full"])
            labels.setdefault(target, Node(target, r["url_full"]))
            edges.append(
                Edge(
                    flow, target, r["t"], "requested", *common, f"{r['method'] or ''} {r['url_full']}".strip()
                )
            )
            flows.by_url.setdefault(r["url_full"], []).append((r["t"], flow, r))
        elif r["source"] == "network_files" and r["file_hash_sha256"] and flow:
            content = nodes.content(r["file_hash_sha256"])
            labels.setdefault(
                content,
                Node(content, f"sha256 {r['file_hash_sha256'][:12]}", (("sha256", r["file_hash_sha256"]),)),
            )
            edges.append(Edge(flow, content, r["t"], "transferred", *common, r["message"] or ""))
            flows.contents.add(content)
        elif r["source"] == "network_dns" and r["dns_question_name"] and r["answers"]:
            name = nodes.domain(r["dns_question_name"])
            labels.setdefault(name, Node(name, r["dns_question_name"].lower()))
            for answer in r["answers"].split(","):
                if answer and answer[0].isdigit():
                    edges.append(Edge(name, nodes.address(answer), r["t"], "resolved to", *common, answer))
            if flow:
                edges.append(Edge(flow, name, r["t"], "resolved", *common, r["dns_question_name"]))
        if flow and r["destination_ip"]:
            labels.setdefault(
                flow,
                Node(
                    flow,
                    f"{r['source_ip']}:{r['source_port']} -> {r['destination_ip']}:{r['destination_port']}",
                ),
            )
    return edges, labels
