"""Shell histories (bash ``~/.bash_history``, zsh ``~/.zsh_history``) -> one row per command.

bash writes one command per line; with ``HISTTIMEFORMAT`` set it writes a ``#<epoch>`` line
before each command, and a command that spans several lines is everything up to the next
``#<epoch>`` line. Without timestamps a row has no time and keeps its place in the file in
``source_record``. zsh's extended history (``setopt EXTENDED_HISTORY``) writes
``: <start epoch>:<elapsed seconds>;<command>``, a command's embedded newlines as a backslash at
the end of a line, and bytes 0x83-0x9f "metafied" (0x83 then the byte xor 0x20).

Plain histories have no magic: the timestamped forms are recognised by content, plain ones only
by their file name (``sniff_path``: ``.bash_history``, ``.zsh_history`` ...).

References: bash(1) ``HISTTIMEFORMAT`` and ``lithist``; zshparam(1)/zshoptions(1)
``EXTENDED_HISTORY``; zsh ``utils.c`` (``metafy``/``unmetafy``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, BinaryIO

import pyarrow as pa

from forensics.timeutil import ns_to_utc
from parsers.base import Options, Parser, ParseWarning
from parsers.textlog import Row, batched, head_lines

__all__ = ["Command", "ShellHistoryParser", "read_history", "to_row"]

#: File names a plain (untimed) history is recognised by.
HISTORY_NAMES = (".bash_history", "bash_history", ".zsh_history", "zsh_history", ".zhistory", ".sh_history")
_BASH_STAMP = re.compile(rb"#(\d{9,11})\s*$")
_ZSH = re.compile(rb": (\d{1,11}):(\d+);")
_META = re.compile(rb"\x83([\x00-\xff])")


@dataclass(slots=True)
class Command:
    """One command as the shell saved it."""

    line: int
    offset: int
    when: datetime | None
    command: str
    shell: str
    duration: int | None = None


def read_history(fh: BinaryIO) -> Iterator[Command | ParseWarning]:
    """Commands in file order; bash and zsh lines may be mixed (a user who changed shells)."""
    fh.seek(0)
    pending: Command | None = None
    stamp: tuple[int, int, datetime | None] | None = None  # a bash #<epoch> line waiting for its command
    joined = False  # pending takes the following lines (timed bash, zsh line ending in a backslash)
    offset = 0
    for number, raw in enumerate(fh, 1):
        start, offset = offset, offset + len(raw)
        line = raw.rstrip(b"\r\n")
        if m := _BASH_STAMP.match(line):
            if pending:
                yield pending
            pending, joined = None, False
            stamp = (number, start, _epoch(int(m[1])))
            continue
        if m := _ZSH.match(line):
            if pending:
                yield pending
            text = line[m.end() :]
            joined = text.endswith(b"\\")
            pending = Command(number, start, _epoch(int(m[1])), _zsh(text.removesuffix(b"\\") if joined else text),
                              "zsh", int(m[2]))  # fmt: skip
            stamp = None
            continue
        if stamp is not None:
            pending, joined = Command(stamp[0], stamp[1], stamp[2], _text(line), "bash"), True
            stamp = None
            continue
        if pending is not None and joined:
            if pending.shell == "zsh":
                joined = line.endswith(b"\\")
                line = line.removesuffix(b"\\") if joined else line
                pending.command += "\n" + _zsh(line)
            else:
                pending.command += "\n" + _text(line)
            continue
        if pending:
            yield pending
            pending = None
        if line.strip():
            pending = Command(number, start, None, _text(line), "unknown")
    if pending:
        yield pending
    if stamp is not None:
        yield ParseWarning(f"line {stamp[0]}", stamp[1], "timestamp line with no command after it")


def _epoch(seconds: int) -> datetime | None:
    try:
        return ns_to_utc(seconds * 1_000_000_000) if seconds else None
    except (OverflowError, OSError, ValueError):
        return None


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _zsh(raw: bytes) -> str:
    """zsh's metafied bytes back to the command's own bytes, then text."""
    return _text(_META.sub(lambda m: bytes([m[1][0] ^ 0x20]), raw))


def to_row(command: Command, source: str) -> Row:
    row: dict[str, Any] = {
        "datetime": command.when,
        "timestamp_desc": "Event Recorded",
        "message": command.command,
        "source": source,
        "source_record": command.line,
        "event_action": "command-executed",
        "process_command_line": command.command,
    }
    fields: dict[str, str | None] = {"shell": command.shell}
    if command.duration is not None:
        fields["duration_seconds"] = str(command.duration)
    return row, fields


class ShellHistoryParser(Parser):
    """bash and zsh command histories (timestamped or plain) -> one row per command."""

    name = "shell_history"

    def sniff(self, head: bytes) -> bool:
        lines = head_lines(head, 2)
        if not lines:
            return False
        first = lines[0].encode()
        if _ZSH.match(first):
            return True
        return bool(_BASH_STAMP.match(first)) and len(lines) > 1 and not _BASH_STAMP.match(lines[1].encode())

    def sniff_path(self, path: str, head: bytes) -> bool:
        return PurePosixPath(path.replace("\\", "/")).name.endswith(HISTORY_NAMES) and bool(
            head_lines(head, 1)
        )

    def parse(self, fh: BinaryIO, unit: object, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        rows = (c if isinstance(c, ParseWarning) else to_row(c, self.name) for c in read_history(fh))
        yield from batched(rows, options.batch_rows)
