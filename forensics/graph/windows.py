"""Windows events -> causality edges: Sysmon (process creation and access, file, registry, DNS,
network, pipes), PowerShell script blocks (4104, joined to their process by pid and time) and, on
hosts without Sysmon process events, Security 4688 process creation.

Sysmon names processes by GUID, so parents and children meet exactly. Security 4688 names
them by pid only: a parent is the latest process started with that pid on that host before
the child (pids are recycled, so never "any process with that pid").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from forensics.graph import nodes
from forensics.graph.edges import Edge, Node
from forensics.graph.winlogon import Process
from parsers.network.community_id import community_id

__all__ = ["QUERY", "map_rows"]

_SYSMON = "Microsoft-Windows-Sysmon/Operational"
_POWERSHELL = "Microsoft-Windows-PowerShell/Operational"
QUERY = f"""
SELECT epoch_us(datetime) AS t, host_name, event_channel, event_code, evidence_id, source, source_file,
       source_record, process_guid, process_parent_guid, process_pid, process_parent_pid,
       process_executable, process_command_line, process_parent_executable, user_name, user_domain,
       file_path, file_hash_sha256, source_ip, source_port, destination_ip, destination_port, network_protocol,
       dns_question_name,
       map_extract(fields, 'TargetObject')[1] AS target_object,
       map_extract(fields, 'Details')[1] AS details,
       map_extract(fields, 'QueryResults')[1] AS query_results,
       map_extract(fields, 'Initiated')[1] AS initiated,
       map_extract(fields, 'TargetProcessGUID')[1] AS target_guid,
       map_extract(fields, 'TargetImage')[1] AS target_image,
       map_extract(fields, 'GrantedAccess')[1] AS granted,
       map_extract(fields, 'TargetLogonId')[1] AS target_logon,
       map_extract(fields, 'Execution_ProcessID')[1] AS execution_pid,
       map_extract(fields, 'ScriptBlockText')[1] AS script_text,
       map_extract(fields, 'ScriptBlockId')[1] AS script_id
FROM timeline
WHERE datetime IS NOT NULL AND (
    (event_channel = '{_SYSMON}' AND event_code IN ('1', '3', '10', '11', '12', '13', '14', '17', '18', '22', '23', '26'))
    OR (event_channel = 'Security' AND event_code = '4688')
    OR (event_channel = '{_POWERSHELL}' AND event_code = '4104'))
ORDER BY t
"""
#: Hosts with Sysmon process creations (their Security 4688 events are the same, with less).
SYSMON_HOSTS = (
    f"SELECT DISTINCT host_name FROM timeline WHERE event_channel = '{_SYSMON}' AND event_code = '1'"
)
_PROTOCOLS = {"tcp": 6, "udp": 17}
#: Where a command line's output goes (``> file``, ``1> \\\\host\\share\\file``); a ``>`` inside a
#: quoted argument or escaped (``^>``) is text, as cmd.exe reads it: the first alternative eats those.
_REDIRECT = re.compile(r"\"[^\"]*\"?|\^>|\d?>>?\s*(\"[^\"]+\"|[^\s\"<>|&]+)")
#: A Windows path with an extension, as command lines name the documents they open.
_PATH = re.compile(r"[A-Za-z]:\\[^\"<>|*?\r\n]*?\.[A-Za-z0-9]{1,8}(?=[\s\"',]|$)")


def _base(path: str | None) -> str:
    return (path or "?").replace("/", "\\").rsplit("\\", 1)[-1]


class _Pids:
    """Processes by pid (Security 4688's parents, a script block's PowerShell): the latest start
    before a time, per host."""

    def __init__(self) -> None:
        self._started: dict[tuple[str, int], list[tuple[int, str]]] = {}

    def start(self, host: str, pid: int, t: int, key: str) -> None:
        self._started.setdefault((host, pid), []).append((t, key))

    def at(self, host: str, pid: int, t: int) -> str:
        for start, key in reversed(self._started.get((host, pid), [])):
            if start <= t:
                return key
        return nodes.process(host, None, pid, None)  # started before the evidence begins


def map_rows(
    rows: Iterator[dict[str, Any]], sysmon_hosts: set[str], contents: frozenset[str] | set[str] = frozenset()
) -> tuple[list[Edge], dict[str, Node], list[Process]]:
    """Edges and node labels of the Windows rows (in time order), and the processes started
    (for ``winlogon`` to join services and tasks with what they ran)."""
    edges: list[Edge] = []
    processes: list[Process] = []
    labels: dict[str, Node] = {}
    pids = _Pids()
    created: set[str] = set()  # file keys some process created
    for r in rows:
        host = nodes.host_key(r["host_name"])
        code, sysmon = r["event_code"], r["event_channel"] == _SYSMON
        if code == "4688" and host in sysmon_hosts:
            continue  # the same creations as Sysmon's, with less detail
        t = r["t"]

        def edge(
            src: str, dst: str, action: str, text: str = "", r: dict = r, t: int = t, host: str = host
        ) -> None:
            edges.append(
                Edge(src, dst, t, action, host, r["source"], r["evidence_id"], r["source_record"],
                     r["source_file"], text)
            )  # fmt: skip

        if code == "4104":  # a script block, of the PowerShell process with that pid then
            pid = int(r["execution_pid"]) if (r["execution_pid"] or "").isdigit() else -1
            if r["script_text"] and pid >= 0:
                script = f"script:{host}:{(r['script_id'] or str(r['source_record'])).lower()}"
                if script not in labels:
                    first = r["script_text"].strip().splitlines()[0] if r["script_text"].strip() else "script"
                    labels[script] = Node(
                        script, f"script {first[:60]}", (("text", r["script_text"][:4000]),)
                    )
                edge(pids.at(host, pid, t), script, "ran script", r["script_text"][:300])
            continue
        if sysmon:
            proc = nodes.process(host, r["process_guid"], r["process_pid"], None)
        else:
            proc = nodes.process(host, None, r["process_pid"], t)
        if code in ("1", "4688"):
            pids.start(host, r["process_pid"] or -1, t, proc)
            if sysmon:
                parent = nodes.process(host, r["process_parent_guid"], r["process_parent_pid"], None)
            else:
                parent = pids.at(host, r["process_parent_pid"] or -1, t)
            image = r["process_executable"] or "?"
            labels[proc] = Node(proc, _base(image), (("image", image), ("command_line", r["process_command_line"]),
                                                     ("user", r["user_name"]), ("pid", r["process_pid"])))  # fmt: skip
            parent_image = r["process_parent_executable"]
            if parent not in labels and parent_image:
                labels[parent] = Node(parent, _base(parent_image), (("image", parent_image),))
                if (
                    nodes.file(host, parent_image) in created
                ):  # its start not recorded, its image's writing is
                    edge(nodes.file(host, parent_image), parent, "executed", parent_image)
            edge(parent, proc, "spawned", r["process_command_line"] or image)
            if nodes.file(host, image) in created:
                edge(nodes.file(host, image), proc, "executed", image)
            if r["file_hash_sha256"] and nodes.content(r["file_hash_sha256"]) in contents:
                edge(
                    nodes.content(r["file_hash_sha256"]),
                    proc,
                    "executed",
                    f"{image} (sha256 {r['file_hash_sha256']})",
                )
            processes.append((host, t, proc, r["process_command_line"] or image))
            logon = (r["target_logon"] or "").lower()
            if (
                logon and logon not in nodes.MACHINE_LOGONS
            ):  # started in a user's session (WMI, runas, a remote shell)
                edge(nodes.logon_session(host, logon), proc, "started", r["process_command_line"] or image)
            outputs = set()
            command = r["process_command_line"] or ""
            for output in _REDIRECT.findall(command) if ">" in command else ():
                output = output.strip('"')
                if output and output.lower() != "nul":
                    target = nodes.file(host, output)
                    labels.setdefault(target, Node(target, output.rsplit("\\", 1)[-1], (("path", output),)))
                    edge(proc, target, "created", output)
                    outputs.add(target)
            for path in _PATH.findall(command) if created and ":\\" in command else ():
                document = nodes.file(host, path)
                if document in created and document != nodes.file(host, image) and document not in outputs:
                    edge(document, proc, "opened", path)
            created.update(outputs)
        elif code in ("11", "23", "26") and r["file_path"]:
            target = nodes.file(host, r["file_path"])
            if target not in labels:
                labels[target] = Node(target, _base(r["file_path"]), (("path", r["file_path"]),))
            edge(proc, target, "created" if code == "11" else "deleted", r["file_path"])
            created.add(target)
        elif code in ("12", "13", "14") and r["target_object"]:
            key = nodes.registry(host, r["target_object"])
            if key not in labels:
                labels[key] = Node(
                    key, r["target_object"].rsplit("\\", 1)[-1], (("key", r["target_object"]),)
                )
            edge(proc, key, "set", f"{r['target_object']} = {r['details'] or ''}".rstrip(" ="))
        elif code == "22" and r["dns_question_name"]:
            name = nodes.domain(r["dns_question_name"])
            if name not in labels:
                labels[name] = Node(name, r["dns_question_name"].lower())
            edge(proc, name, "resolved", r["dns_question_name"])
            for answer in (r["query_results"] or "").split(";"):
                answer = answer.strip().removeprefix("::ffff:")
                if answer and answer[0].isdigit():
                    edge(name, nodes.address(answer), "resolved to", answer)
        elif code == "10" and r["target_guid"]:
            target = nodes.process(host, r["target_guid"])
            if target not in labels:
                labels[target] = Node(target, _base(r["target_image"]), (("image", r["target_image"]),))
            edge(proc, target, "accessed", f"{r['target_image']} ({r['granted'] or '?'})")
        elif code == "3" and r["destination_ip"]:
            edges.extend(_connection(r, host, proc, t))
        if proc not in labels and r["process_executable"]:
            # a process first seen doing something (its start not recorded): its image ran it
            labels[proc] = Node(proc, _base(r["process_executable"]), (("image", r["process_executable"]),))
            if nodes.file(host, r["process_executable"]) in created:
                edge(nodes.file(host, r["process_executable"]), proc, "executed", r["process_executable"])
    return edges, labels, processes


def _connection(r: dict[str, Any], host: str, proc: str, t: int) -> Iterator[Edge]:
    """A Sysmon network connection: the process and the flow (its Community ID, the key the
    capture's rows carry too), the flow and the remote address."""
    proto = _PROTOCOLS.get((r["network_protocol"] or "").lower())
    try:
        cid = community_id(
            r["source_ip"], r["destination_ip"], proto or 6, r["source_port"], r["destination_port"]
        )
    except (ValueError, TypeError):
        cid = f"{r['source_ip']}:{r['source_port']}-{r['destination_ip']}:{r['destination_port']}"
    flow = nodes.flow(cid)
    outbound = (r["initiated"] or "true").lower() == "true"
    remote = r["destination_ip"] if outbound else r["source_ip"]
    text = f"{r['source_ip']}:{r['source_port']} -> {r['destination_ip']}:{r['destination_port']}"
    common = (host, r["source"], r["evidence_id"], r["source_record"], r["source_file"], text)
    if outbound:
        yield Edge(proc, flow, t, "connected", *common)
        yield Edge(flow, nodes.address(remote), t, "to", *common)
    else:
        yield Edge(nodes.address(remote), flow, t, "connected", *common)
        yield Edge(flow, proc, t, "accepted by", *common)
