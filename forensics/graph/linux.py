"""Linux logs -> causality edges: SSH logons (joined with the flow that carried them), the
shell history typed in the session, placed in time by what corroborates each line, and the
crontabs written in a session with the jobs cron then ran from them.

A shell history line has no time of its own (without HISTTIMEFORMAT). A line is given the
time of the evidence that shows it happening: the HTTP request for the URL it names (from the
capture), the ``sudo`` log of the same command, the ``crontab`` REPLACE of a line that installs
a crontab. Lines between corroborated ones follow their predecessor (the file's order is the
order they were typed); one that only names what the line before it named (``chmod +x`` of
the file just fetched) is part of that line's step. A line that names nothing (``id``,
``exit``) makes no edge.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from forensics.graph import nodes
from forensics.graph.edges import Edge, Node
from forensics.graph.network import Flows

__all__ = ["QUERY", "map_rows"]

QUERY = """
SELECT epoch_us(datetime) AS t, host_name, source, evidence_id, source_file, source_record, user_name,
       source_ip, source_port, event_action, message, process_command_line
FROM timeline
WHERE source = 'shell_history'
   OR (source = 'syslog' AND (event_action IN ('ssh-login', 'sudo-command')
                              OR regexp_matches(message, '^crontab\\[\\d+\\]: \\(\\S+\\) REPLACE')
                              OR regexp_matches(message, '^CRON\\[\\d+\\]: \\(\\S+\\) CMD ')))
ORDER BY source, source_file, source_record
"""
_PORT = re.compile(r" port (\d+)")
_URL = re.compile(r"\bhttps?://[^\s'\"|;)]+")
_PATH = re.compile(r"(?:(?<=[\s@>=])|^)(~?/[^\s'\"|;)]+)")
_SUDO = re.compile(r"COMMAND=(.+)$")
_CRONTAB = re.compile(r"^crontab\[\d+\]: \((\S+)\) REPLACE")
_CRON_RUN = re.compile(r"^CRON\[\d+\]: \((\S+)\) CMD \((.*)\)$")
_HISTORY_USER = re.compile(r"/home/([^/]+)/|^/(root)/")


def map_rows(rows: Iterator[dict[str, Any]], flows: Flows) -> tuple[list[Edge], dict[str, Node]]:
    edges: list[Edge] = []
    labels: dict[str, Node] = {}
    sessions: dict[tuple[str, str], list[int]] = {}
    sudo: list[dict[str, Any]] = []
    crontab: list[dict[str, Any]] = []
    history: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    runs: list[tuple[str, str, str, dict[str, Any]]] = []
    for r in rows:
        host = nodes.host_key(r["host_name"])
        if r["source"] == "shell_history":
            found = _HISTORY_USER.search(r["source_file"] or "")
            user = (found.group(1) or found.group(2)) if found else (r["user_name"] or "?")
            history.setdefault((host, user, r["source_file"]), []).append(r)
        elif r["event_action"] == "ssh-login" and r["user_name"] and r["t"] is not None:
            edges.append(_logon(r, host, flows, labels))
            sessions.setdefault((host, r["user_name"].lower()), []).append(r["t"])
        elif r["event_action"] == "sudo-command":
            sudo.append(r)
        elif _CRONTAB.match(r["message"] or ""):
            crontab.append(r)
        elif found := _CRON_RUN.match(r["message"] or ""):
            runs.append((host, found.group(1), found.group(2), r))
    for (host, user, _), lines in history.items():
        edges.extend(
            _history(host, user, lines, sessions.get((host, user.lower()), []), flows, sudo, crontab, labels)
        )
    edges.extend(_cron(crontab, runs, sessions, labels))
    return edges, labels


def _cron(
    crontab: list[dict[str, Any]],
    runs: list[tuple[str, str, str, dict[str, Any]]],
    sessions: dict[tuple[str, str], list[int]],
    labels: dict[str, Node],
) -> Iterator[Edge]:
    """A user's crontab replaced in a session, and what cron then ran from it: the crontab is
    the node between the session that wrote it and the jobs it starts (persistence)."""
    installed: dict[tuple[str, str], int] = {}
    for r in crontab:
        host = nodes.host_key(r["host_name"])
        user = _CRONTAB.match(r["message"]).group(1)  # type: ignore[union-attr]
        table = f"crontab:{host}:{user.lower()}"
        labels.setdefault(table, Node(table, f"{user}'s crontab"))
        starts = [t for t in sessions.get((host, user.lower()), []) if t <= r["t"]]
        src = nodes.session(host, user, max(starts)) if starts else nodes.account(host, user)
        yield Edge(src, table, r["t"], "replaced", host, r["source"], r["evidence_id"], r["source_record"],
                   r["source_file"], (r["message"] or "").strip())  # fmt: skip
        installed.setdefault((host, user.lower()), r["t"])
    for host, user, command, r in runs:
        since = installed.get((host, user.lower()))
        if since is None or r["t"] < since:
            continue  # jobs of crontabs the evidence does not show being written
        table = f"crontab:{host}:{user.lower()}"
        paths = _PATH.findall(command)
        target = nodes.file(host, paths[0]) if paths else f"job:{host}:{command}"
        labels.setdefault(target, Node(target, paths[0].rsplit("/", 1)[-1] if paths else command[:40]))
        yield Edge(table, target, r["t"], "ran", host, r["source"], r["evidence_id"], r["source_record"],
                   r["source_file"], command)  # fmt: skip


def _logon(r: dict[str, Any], host: str, flows: Flows, labels: dict[str, Node]) -> Edge:
    user, t = r["user_name"], r["t"]
    port = r["source_port"]
    if port is None and (found := _PORT.search(r["message"] or "")):
        port = int(found.group(1))
    session = nodes.session(host, user, t)
    labels[session] = Node(session, f"{user}@{host}", (("user", user), ("from", r["source_ip"])))
    joined = flows.find(r["source_ip"], port, 22, t) if r["source_ip"] and port is not None else None
    src = nodes.flow(joined[0]) if joined else nodes.address(r["source_ip"] or "?")
    return Edge(src, session, t, "logged on", host, r["source"], r["evidence_id"], r["source_record"],
                r["source_file"], (r["message"] or "").strip())  # fmt: skip


def _history(
    host: str,
    user: str,
    lines: list[dict[str, Any]],
    starts: list[int],
    flows: Flows,
    sudo: list[dict[str, Any]],
    crontab: list[dict[str, Any]],
    labels: dict[str, Node],
) -> Iterator[Edge]:
    """Edges from the session each line was typed in to what the line names."""
    timed = [
        (line, _corroborated(line["process_command_line"] or "", host, user, flows, sudo, crontab))
        for line in lines
    ]
    first = next((t for _, t in timed if t is not None), None)
    if first is None:
        return  # nothing places these lines in time: no session to hang them on
    opened = [s for s in starts if s <= first]
    session = nodes.session(host, user, max(opened)) if opened else nodes.account(host, user)
    if session not in labels:
        labels[session] = Node(session, f"{user}@{host}")
    last, named = None, set()
    for line, t in timed:
        if t is None and last is None:
            continue  # before the first line this session can be shown to have typed
        command = line["process_command_line"] or ""
        targets = _objects(command, host, labels)
        if t is None:  # typed after the previous line: part of its step if it only names the same
            t = last if targets and set(targets) <= named else last + 1
        if t != last:
            named = set()
        named.update(targets)
        last = t
        for target in targets:
            yield Edge(session, target, t, "ran", host, line["source"], line["evidence_id"], line["source_record"],
                       line["source_file"], command)  # fmt: skip


def _corroborated(
    command: str,
    host: str,
    user: str,
    flows: Flows,
    sudo: list[dict[str, Any]],
    crontab: list[dict[str, Any]],
) -> int | None:
    """The time of the evidence showing ``command`` run, or None."""
    for url in _URL.findall(command):
        seen = flows.by_url.get(url)
        if seen:
            return seen[0][0]
    if command.startswith("sudo "):
        wanted = command[5:].strip()
        for r in sudo:
            found = _SUDO.search(r["message"] or "")
            if (
                found
                and nodes.host_key(r["host_name"]) == host
                and found.group(1).strip().endswith(wanted.split(" ", 1)[-1])
            ):
                return r["t"]
    if "crontab" in command:
        for r in crontab:
            found = _CRONTAB.match(r["message"] or "")
            if found and found.group(1) == user and nodes.host_key(r["host_name"]) == host:
                return r["t"]
    return None


def _objects(command: str, host: str, labels: dict[str, Node]) -> list[str]:
    """The URLs and paths a command line names (its objects), as node keys."""
    out: list[str] = []
    for found in _URL.findall(command):
        key = nodes.url(found)
        labels.setdefault(key, Node(key, found))
        out.append(key)
    stripped = _URL.sub(" ", command)
    for path in _PATH.findall(stripped):
        if path.startswith("/dev/"):
            continue
        key = nodes.file(host, path)
        labels.setdefault(key, Node(key, path.rsplit("/", 1)[-1] or path, (("path", path),)))
        out.append(key)
    return out
