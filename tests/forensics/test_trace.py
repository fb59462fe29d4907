"""Tracing rules on small graphs built from real-shaped edges: time is respected both ways,
system processes and busy nodes stop the walk, recycled pids do not join unrelated processes."""

from __future__ import annotations

import pytest

from forensics.graph import nodes
from forensics.graph.build import graph_from
from forensics.graph.chain import root_cause
from forensics.graph.edges import Edge, Node
from forensics.graph.trace import MAX_FANOUT, backward, forward
from forensics.graph.windows import _REDIRECT, map_rows


def _edge(src: str, dst: str, t: int, action: str, record: int) -> Edge:
    return Edge(src, dst, t, action, "ws01", "windows_evtx", "e" * 64, record, "Sysmon.evtx")


def _labels(**names: str) -> dict[str, Node]:
    return {key: Node(key, label) for key, label in names.items()}


def test_backward_only_takes_what_happened_before() -> None:
    """A file written after the process that reads it started is not its cause."""
    edges = [
        _edge("proc:ws01:A", "file:ws01:c:\\x.exe", 10, "created", 1),
        _edge("file:ws01:c:\\x.exe", "proc:ws01:B", 20, "executed", 2),
        _edge("proc:ws01:C", "file:ws01:c:\\x.exe", 30, "created", 3),  # overwritten later
    ]
    graph = graph_from(edges, {})
    found = backward(graph, [("proc:ws01:B", 20)])
    assert [e.source_record for e in found] == [2, 1]
    assert [e.source_record for e in forward(graph, [("proc:ws01:A", 10)])] == [1, 2]
    assert [e.source_record for e in forward(graph, [("file:ws01:c:\\x.exe", 25)])] == []


def test_system_parents_and_busy_nodes_stop_the_walk() -> None:
    edges = [_edge("proc:ws01:SVC", "proc:ws01:P", 5, "spawned", 1)]
    edges += [
        _edge("proc:ws01:SVC", f"proc:ws01:N{i}", 6 + i, "spawned", 10 + i) for i in range(MAX_FANOUT + 1)
    ]
    edges += [_edge("proc:ws01:WININIT", "proc:ws01:SVC", 1, "spawned", 100)]
    graph = graph_from(edges, _labels(**{"proc:ws01:SVC": "helper.exe", "proc:ws01:WININIT": "wininit.exe"}))
    # helper.exe spawned more than MAX_FANOUT processes: its own parent is not reached
    assert [e.source_record for e in backward(graph, [("proc:ws01:P", 5)])] == [1]
    graph = graph_from(edges[:1] + edges[-1:], _labels(**{"proc:ws01:SVC": "services.exe"}))
    assert [e.source_record for e in backward(graph, [("proc:ws01:P", 5)])] == [1]


def test_root_cause_is_the_first_artifact_brought_in_and_used() -> None:
    edges = [
        _edge("proc:ws01:EXPLORER", "proc:ws01:MAIL", 1, "spawned", 1),
        _edge("proc:ws01:MAIL", "file:ws01:c:\\doc.docm", 10, "created", 2),
        _edge("file:ws01:c:\\doc.docm", "proc:ws01:WORD", 12, "opened", 3),
        _edge("proc:ws01:WORD", "proc:ws01:PS", 14, "spawned", 4),
    ]
    graph = graph_from(
        edges, _labels(**{"proc:ws01:EXPLORER": "explorer.exe", "proc:ws01:MAIL": "OUTLOOK.EXE"})
    )
    history = backward(graph, [("proc:ws01:PS", 14)])
    assert root_cause(graph, history) == edges[1]


def _row(record: int, t: int, code: str, pid: int, ppid: int, image: str) -> dict:
    return {
        "t": t, "host_name": "WS02", "event_channel": "Security", "event_code": code, "evidence_id": "f" * 64,
        "source": "windows_evtx", "source_file": "Security.evtx", "source_record": record, "process_guid": None,
        "process_parent_guid": None, "process_pid": pid, "process_parent_pid": ppid, "process_executable": image,
        "process_command_line": image, "process_parent_executable": None, "user_name": "u", "user_domain": None,
        "file_path": None, "source_ip": None, "source_port": None, "destination_ip": None,
        "destination_port": None, "network_protocol": None, "dns_question_name": None, "target_object": None,
        "details": None, "query_results": None, "initiated": None, "target_guid": None, "target_image": None,
        "granted": None, "target_logon": None, "file_hash_sha256": None, "execution_pid": None,
        "script_text": None, "script_id": None,
    }  # fmt: skip


def test_security_4688_parents_are_the_latest_process_with_that_pid() -> None:
    """pid 100 is used twice: the child started after the second start belongs to the second."""
    rows = [
        _row(1, 1_000, "4688", 100, 4, "C:\\a.exe"),
        _row(2, 2_000, "4688", 200, 100, "C:\\child-of-a.exe"),
        _row(3, 3_000, "4688", 100, 4, "C:\\b.exe"),  # pid 100 recycled
        _row(4, 4_000, "4688", 300, 100, "C:\\child-of-b.exe"),
    ]
    edges, labels, _ = map_rows(iter(rows), set())
    spawned = {labels[e.dst].label: e.src for e in edges if e.action == "spawned"}
    assert spawned["child-of-a.exe"] == nodes.process("ws02", None, 100, 1_000)
    assert spawned["child-of-b.exe"] == nodes.process("ws02", None, 100, 3_000)


@pytest.mark.parametrize(
    ("command", "outputs"),
    [
        ("cmd.exe /Q /c whoami 1> \\\\127.0.0.1\\ADMIN$\\__1678 2>&1", ["\\\\127.0.0.1\\ADMIN$\\__1678"]),
        ('cmd /c type x >> "C:\\a b.txt"', ['"C:\\a b.txt"']),
        ('ssh.exe -o "SetEnv=MOTD=<img src=x onerror="t=1">" bob@10.20.0.10', []),  # quoted: text
        ("cmd /c echo a^>b", []),  # escaped
    ],
)
def test_redirections_are_read_as_cmd_reads_them(command: str, outputs: list[str]) -> None:
    assert [o for o in _REDIRECT.findall(command) if o] == outputs
