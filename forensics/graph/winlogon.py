"""Windows logon sessions -> causality edges: who came in from where, and what the session did.

The logon id is the join key Windows gives: Security 4624 opens a session (from an address for
network logons), and the events a session causes name it as ``SubjectLogonId``: share access
(5140/5145, which also carry the client's address), a service installed (4697), a scheduled task
created (4698); a process started in the session names it as ``TargetLogonId`` (4688, WMI's
remote commands). A service or a task then runs its command: the process whose command line is
that command (environment variables expanded), started after it, is joined to it (services.exe
or the Task Scheduler is the parent on record, and says nothing of who asked).

A network logon without an address (a second session of the same client a few milliseconds
later, as ATexec and PsExec open) is joined to the same account's latest session from an
address on that host within ``SAME_CLIENT_US``: stated, not guessed silently, by the edge's text.
"""

from __future__ import annotations

import bisect
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

from forensics.graph import nodes
from forensics.graph.edges import Edge, Node

__all__ = ["QUERY", "Process", "map_rows"]

QUERY = """
SELECT epoch_us(datetime) AS t, host_name, event_channel, event_code, evidence_id, source, source_file,
       source_record, user_name, user_domain, logon_id, source_ip,
       map_extract(fields, 'SubjectLogonId')[1] AS subject_logon,
       map_extract(fields, 'TargetLogonId')[1] AS target_logon,
       map_extract(fields, 'LogonType')[1] AS logon_type,
       map_extract(fields, 'IpAddress')[1] AS ip,
       map_extract(fields, 'ShareName')[1] AS share,
       map_extract(fields, 'RelativeTargetName')[1] AS share_path,
       map_extract(fields, 'ServiceName')[1] AS service,
       coalesce(map_extract(fields, 'ServiceFileName')[1], map_extract(fields, 'ImagePath')[1]) AS service_command,
       map_extract(fields, 'TaskName')[1] AS task,
       map_extract(fields, 'TaskContent')[1] AS task_content
FROM timeline
WHERE datetime IS NOT NULL AND ((event_channel = 'Security' AND event_code IN ('4624', '4697', '4698', '5140', '5145'))
                                OR (event_channel = 'System' AND event_code = '7045'))
ORDER BY t
"""
#: A session without an address joins the same account's session from an address this close before.
SAME_CLIENT_US = 10_000_000
_ENV = {
    "%comspec%": "c:\\windows\\system32\\cmd.exe",
    "%windir%": "c:\\windows",
    "%systemroot%": "c:\\windows",
}
_SPACES = re.compile(r"\s+")
_TASK_NS = "{http://schemas.microsoft.com/windows/2004/02/mit/task}"
#: (host, start, process key, command line) of the processes the ``windows`` module found.
Process = tuple[str, int, str, str]


def _command(text: str) -> str:
    """A command line compared with others: environment expanded, case and spacing folded."""
    text = text.lower()
    for name, value in _ENV.items():
        text = text.replace(name, value)
    return _SPACES.sub(" ", text.replace('"', "")).strip()


def _task_command(content: str | None) -> str | None:
    """The command and arguments of a task's first Exec action (the 4698 event's XML)."""
    if not content:
        return None
    try:
        root = ET.fromstring(
            content.encode("utf-16") if content.startswith("<?xml") and "UTF-16" in content[:60] else content
        )
    except ET.ParseError:
        return None
    exec_ = root.find(f".//{_TASK_NS}Exec")
    if exec_ is None:
        return None
    command = exec_.findtext(f"{_TASK_NS}Command") or ""
    return f"{command} {exec_.findtext(f'{_TASK_NS}Arguments') or ''}".strip()


class _Sessions:
    """The latest session from an address per (host, user)."""

    def __init__(self) -> None:
        self._from_address: dict[tuple[str, str], tuple[int, str]] = {}

    def remember(self, host: str, user: str, t: int, session: str) -> None:
        self._from_address[(host, user.lower())] = (t, session)

    def same_client(self, host: str, user: str, t: int) -> str | None:
        last = self._from_address.get((host, user.lower()))
        return last[1] if last and 0 <= t - last[0] <= SAME_CLIENT_US else None


def map_rows(rows: Iterator[dict[str, Any]], processes: list[Process]) -> tuple[list[Edge], dict[str, Node]]:
    edges: list[Edge] = []
    labels: dict[str, Node] = {}
    sessions = _Sessions()
    launched: list[tuple[str, int, str, str, dict[str, Any]]] = []  # host, t, service/task key, command, row
    for r in rows:
        host, t, code = nodes.host_key(r["host_name"]), r["t"], r["event_code"]

        def edge(
            src: str, dst: str, action: str, text: str, r: dict = r, t: int = t, host: str = host
        ) -> None:
            edges.append(Edge(src, dst, t, action, host, r["source"], r["evidence_id"], r["source_record"],
                              r["source_file"], text))  # fmt: skip

        logon = (r["target_logon"] if code == "4624" else r["subject_logon"]) or ""
        session = nodes.logon_session(host, logon) if logon and logon not in nodes.MACHINE_LOGONS else None
        if session and session not in labels:
            labels[session] = Node(
                session, f"{r['user_name'] or '?'}@{host} ({logon})", (("logon_id", logon),)
            )
        address = r["ip"] if r["ip"] and r["ip"] not in ("-", "::1", "127.0.0.1") else None
        if code == "4624" and session:
            if address:
                edge(
                    nodes.address(address),
                    session,
                    "logged on",
                    f"{r['user_name']} from {address} (type {r['logon_type']})",
                )
                sessions.remember(host, r["user_name"] or "?", t, session)
            elif (earlier := sessions.same_client(host, r["user_name"] or "?", t)) is not None:
                edge(
                    earlier,
                    session,
                    "logged on",
                    f"{r['user_name']}: a second session of the same client (no address given)",
                )
        elif code in ("5140", "5145") and session:
            if address:
                edge(
                    nodes.address(address),
                    session,
                    "logged on",
                    f"{r['user_name']} from {address} (share access)",
                )
                sessions.remember(host, r["user_name"] or "?", t, session)
            path = f"{r['share'] or ''}\\{r['share_path'] or ''}".rstrip("\\")
            target = nodes.file(host, path)
            labels.setdefault(target, Node(target, path.rsplit("\\", 1)[-1] or path, (("path", path),)))
            edge(session, target, "accessed share", path)
        elif code in ("4697", "7045") and r["service"]:
            service = f"service:{host}:{r['service'].lower()}"
            labels.setdefault(
                service, Node(service, f"service {r['service']}", (("command", r["service_command"]),))
            )
            edge(
                session or nodes.account(host, r["user_name"] or "?"),
                service,
                "installed service",
                r["service_command"] or "",
            )
            if r["service_command"]:
                launched.append((host, t, service, _command(r["service_command"]), r))
        elif code == "4698" and r["task"]:
            task = f"task:{host}:{r['task'].lower()}"
            command = _task_command(r["task_content"])
            labels.setdefault(task, Node(task, f"task {r['task']}", (("command", command),)))
            edge(
                session or nodes.account(host, r["user_name"] or "?"),
                task,
                "created task",
                command or r["task"],
            )
            if command:
                launched.append((host, t, task, _command(command), r))
    edges.extend(_runs(launched, processes))
    return edges, labels


def _runs(
    launched: list[tuple[str, int, str, str, dict[str, Any]]], processes: list[Process]
) -> Iterator[Edge]:
    """Service or task -> the first process started after it with its command line. Processes
    come in time order; they are indexed by (host, command) once, and only when something was
    launched."""
    if not launched:
        return
    started: dict[tuple[str, str], list[tuple[int, str, str]]] = {}
    for host, start, key, line in processes:
        started.setdefault((host, _command(line)), []).append((start, key, line))
    for host, t, source, command, r in launched:
        candidates = started.get((host, command), [])
        at = bisect.bisect_left(candidates, (t,))
        if at < len(candidates):
            start, key, line = candidates[at]
            yield Edge(source, key, start, "ran", host, r["source"], r["evidence_id"], r["source_record"],
                       r["source_file"], line)  # fmt: skip
