"""SSH identification strings ("banners"): which SSH software each end of a session runs.

Both ends of an SSH connection open with a clear-text line, ``SSH-protoversion-softwareversion
SP comments CR LF`` (RFC 4253 §4.2), before anything is encrypted. The software and comments
name the implementation and often the OS package ("OpenSSH_8.9p1 Ubuntu-3ubuntu0.1"), which is
what an analyst checks against known-vulnerable or unexpected clients (a Go or Paramiko client
on a workstation, a scanner's libssh). RFC 4253 lets the server send other lines first, and
old implementations end the line with LF alone; both are accepted here. Software strings that
break the RFC by containing "-" (``SSH-2.0-Cisco-1.25``) are kept whole.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["SSHIdentification", "parse_ssh_banner"]

#: RFC 4253 caps the line at 255 characters; real servers stay far below that. Longer lines
#: are accepted up to this bound and then treated as not SSH.
_MAX_LINE = 1024
#: How many lines a server may send before its identification line.
_MAX_PRE_LINES = 32


class SSHIdentification(NamedTuple):
    """``SSH-2.0-OpenSSH_8.9p1 Ubuntu-3`` -> ("2.0", "OpenSSH_8.9p1", "Ubuntu-3")."""

    proto_version: str
    software: str
    comments: str | None

    @property
    def line(self) -> str:
        """The identification line without CR LF, as Zeek's ssh.log ``client``/``server``."""
        tail = f" {self.comments}" if self.comments else ""
        return f"SSH-{self.proto_version}-{self.software}{tail}"


def parse_ssh_banner(data: bytes) -> SSHIdentification | None:
    """The identification line at the start of one direction's TCP payload, or None.

    None when the payload does not start with an SSH identification (after at most a few
    other lines, which servers may send) or when the line is not complete yet.
    """
    pos = 0
    for _ in range(_MAX_PRE_LINES + 1):
        end = data.find(b"\n", pos, pos + _MAX_LINE)
        if end < 0:
            return None
        line = data[pos:end]
        if line.startswith(b"SSH-"):
            return _identification(line.removesuffix(b"\r"))
        if b"\x00" in line:
            return None
        pos = end + 1
    return None


def _identification(line: bytes) -> SSHIdentification | None:
    text = line.decode("ascii", errors="backslashreplace")
    proto, sep, rest = text[4:].partition("-")
    if not sep or not proto or not rest or any(c.isspace() for c in proto):
        return None
    software, _, comments = rest.partition(" ")
    if not software:
        return None
    return SSHIdentification(proto, software, comments or None)
