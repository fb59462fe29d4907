"""The causality graph's node keys, declared once: one function per kind of entity.

A key is a readable string, ``kind:host:name`` (``proc:ws01:{GUID}``, ``file:ws01:c:\\users\\...``)
so that two sources naming the same entity meet on the same node without a lookup table:
hosts by their short lower-case name (``WS01.corp.example.com`` and ``ws01`` are one host),
Windows paths and registry keys case-folded (Windows compares them without case), POSIX paths
as written. Addresses and domains are global (no host part): they are where hosts meet.
"""

from __future__ import annotations

import functools
import ipaddress

__all__ = [
    "MACHINE_LOGONS",
    "MEETING_KINDS",
    "account",
    "address",
    "content",
    "domain",
    "file",
    "flow",
    "host_key",
    "logon_session",
    "process",
    "registry",
    "session",
    "unc",
    "url",
]

#: Kinds of node where unrelated activity meets (many hosts ask for one domain, reach one
#: address): traces do not walk through them and chains are not merged on them.
MEETING_KINDS = frozenset({"ip", "domain", "url"})
#: Windows logon ids of the machine's own sessions (none, SYSTEM, LOCAL SERVICE, NETWORK
#: SERVICE): no user session to join.
MACHINE_LOGONS = frozenset({"0x0", "0x3e7", "0x3e4", "0x3e5"})


@functools.lru_cache(maxsize=4096)
def host_key(name: str | None) -> str:
    """A host's short lower-case name (an IP address stays whole); ``?`` when unknown."""
    if not name:
        return "?"
    name = name.strip().lower()
    try:
        ipaddress.ip_address(name)
        return name
    except ValueError:
        return name.split(".", 1)[0]


def _windows(path: str) -> bool:
    return "\\" in path or (len(path) > 1 and path[1] == ":")


def process(host: str, guid: str | None, pid: int | None = None, start_us: int | None = None) -> str:
    """A process: by its Sysmon GUID, else by pid and start time (pids are recycled)."""
    if guid:
        return f"proc:{host}:{guid.strip('{}').upper()}"
    return f"proc:{host}:{pid}@{start_us}"


def file(host: str, path: str) -> str:
    path = unc(path)
    return f"file:{host}:{path.lower() if _windows(path) else path}"


def registry(host: str, key: str) -> str:
    return f"reg:{host}:{key.lower()}"


def domain(name: str) -> str:
    return f"domain:{name.lower().rstrip('.')}"


def address(ip: str) -> str:
    return f"ip:{ip.removeprefix('::ffff:')}"


def flow(community_id: str) -> str:
    return f"flow:{community_id}"


def content(sha256: str) -> str:
    """Bytes by their hash, wherever they are: a download on the wire, an image on a host."""
    return f"hash:{sha256.lower()}"


def url(value: str) -> str:
    return f"url:{value}"


def account(host: str, user: str) -> str:
    return f"acct:{host}:{user.lower()}"


def session(host: str, user: str, start_us: int) -> str:
    """A logon session on ``host`` (an SSH or interactive logon), by its start."""
    return f"session:{host}:{user.lower()}@{start_us}"


def logon_session(host: str, logon_id: str) -> str:
    """A Windows logon session, by the logon id every event of the session names."""
    return f"session:{host}:{logon_id.lower()}"


def unc(path: str) -> str:
    """A share path as both ends name it: ``\\\\127.0.0.1\\ADMIN$\\x`` (a command's redirection)
    and ``\\\\*\\ADMIN$`` + ``x`` (the server's 5145) are ``\\\\*\\admin$\\x``."""
    if path.startswith("\\\\"):
        parts = path[2:].split("\\", 1)
        return "\\\\*\\" + (parts[1] if len(parts) > 1 else "")
    return path
