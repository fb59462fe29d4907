"""PowerShell transcripts (``Start-Transcript``, or the ``EnableTranscripting`` policy's
``PowerShell_transcript.<host>.<random>.<time>.txt``) -> rows for the transcript's start, each
command, and its end.

A transcript opens with a header between lines of asterisks::

    **********************
    Windows PowerShell transcript start
    Start time: 20220721023749
    Username: MSEDGEWIN10\\IEUser
    RunAs User: MSEDGEWIN10\\IEUser
    Machine: MSEDGEWIN10 (Microsoft Windows NT 10.0.17763.0)
    Host Application: C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe
    Process ID: 6456
    PSVersion: 5.1.17763.1852
    **********************

then prompts with their output (``PS C:\\Windows\\system32> whoami``; a script's prompt is
``PS>``, a remote session's ``[host]: PS C:\\>``), and ends with ``Windows PowerShell transcript
end`` / ``End time: ...``. With ``-IncludeInvocationHeader`` each command is preceded by a
``Command start time: ...`` block; without it a command's time is the transcript's start (the
``time_from`` field says which). PowerShell 7 writes ``PowerShell transcript start``. An
appended transcript holds several headers. Times (``yyyyMMddHHmmss``) are the host's local
time: read in ``Options.timezone`` and stated in the ``time_zone`` field. Text is UTF-8
(Windows PowerShell 5.1 writes a BOM) or UTF-16 with a BOM.

References: Microsoft Learn, "Start-Transcript" (``-IncludeInvocationHeader``) and
"about_Group_Policy_Settings" (Turn on PowerShell Transcription); PowerShell source
``src/System.Management.Automation/engine/hostifaces/MshHostUserInterface.cs``
(``TranscriptionData``, the header and prompt format).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from datetime import datetime, tzinfo
from typing import Any, BinaryIO

import pyarrow as pa

from forensics.timeutil import local_to_utc
from parsers.base import Options, Parser, ParseWarning, row_message
from parsers.textlog import Row, batched, head_lines, host_zone, numbered_lines

__all__ = ["PowerShellTranscriptParser", "read_transcript"]

_STARS = re.compile(r"\*{10,}\s*$")
_START = re.compile(r"(?:Windows )?PowerShell transcript start\s*$")
_END = re.compile(r"(?:Windows )?PowerShell transcript end\s*$")
_KEY = re.compile(r"(?P<key>[A-Za-z][A-Za-z ]*?):\s?(?P<value>.*)$")
_PROMPT = re.compile(r"(?:\[(?P<remote>[^\]]+)\]: )?PS(?: (?P<cwd>[^>]*))?>\s?(?P<command>.*)$")
_MACHINE = re.compile(r"(?P<host>[^\s(]+)(?: \((?P<os>.*)\))?$")
_EXE = re.compile(r'"?(?P<exe>[^"]*?\.exe)"?(?:\s|$)', re.I)
#: How much of a command's output is kept in its row's ``output`` field.
OUTPUT_LIMIT = 4096


def lines_of(fh: BinaryIO) -> Iterator[tuple[int, int, str]]:
    """(line number, byte offset, text) for UTF-8 text, or UTF-16 text with a BOM."""
    fh.seek(0)
    bom = fh.read(2)
    if bom not in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        yield from numbered_lines(fh)
        return
    encoding = "utf-16-le" if bom == codecs.BOM_UTF16_LE else "utf-16-be"
    text = fh.read().decode(encoding, "replace")
    offset = 2
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        yield number, offset, line.rstrip("\r\n")
        offset += len(line.encode(encoding))


def _local(text: str, tz: tzinfo) -> datetime | None:
    text = text.strip()
    if not (len(text) == 14 and text.isdigit()):  # strptime would take 2022072102374 too
        return None
    try:
        return local_to_utc(datetime.strptime(text, "%Y%m%d%H%M%S"), tz)
    except ValueError:
        return None


class _Transcript:
    """What the current header said: the session every command row belongs to."""

    def __init__(self, line: int, zone_name: str) -> None:
        self.line = line
        self.header: dict[str, str] = {}
        self.start: datetime | None = None
        self.zone_name = zone_name

    def columns(self) -> dict[str, Any]:
        user = self.header.get("Username") or ""
        domain, _, name = user.rpartition("\\")
        machine = _MACHINE.match(self.header.get("Machine", ""))
        pid = self.header.get("Process ID", "")
        app = self.header.get("Host Application") or None
        exe = _EXE.match(app) if app else None
        return {
            "user_name": name or None,
            "user_domain": domain or None,
            "host_name": machine["host"] if machine else None,
            "process_pid": int(pid) if pid.isdigit() else None,
            "process_command_line": app,
            "process_executable": exe["exe"] if exe else None,
        }

    def fields(self) -> dict[str, str | None]:
        machine = _MACHINE.match(self.header.get("Machine", ""))
        fields: dict[str, str | None] = {"time_zone": self.zone_name}
        for key in (
            "RunAs User",
            "Configuration Name",
            "PSVersion",
            "PSEdition",
            "BuildVersion",
            "CLRVersion",
        ):
            if self.header.get(key):
                fields[key.lower().replace(" ", "_")] = self.header[key]
        if machine and machine["os"]:
            fields["os"] = machine["os"]
        return fields


def read_transcript(fh: BinaryIO, tz: tzinfo, zone_name: str, source: str) -> Iterator[Row | ParseWarning]:
    """Transcript lines -> start, command and end rows."""
    session: _Transcript | None = None
    state = "body"  # "header" (after a start line), "end" (after an end line) or "body"
    command: tuple[int, dict[str, Any], dict[str, str | None], list[str]] | None = None
    pending_time: datetime | None = None

    def base(line: int) -> dict[str, Any]:
        return {
            "source": source,
            "source_record": line,
            "event_provider": "PowerShell",
            "timestamp_desc": "Event Recorded",
        }

    def flush() -> Iterator[Row]:
        nonlocal command
        if command is not None:
            _line, row, fields, output = command
            text = "\n".join(output).strip("\n")
            if text:
                fields["output"] = text[:OUTPUT_LIMIT]
            fields["output_lines"] = str(len(output))
            yield row, {k: v for k, v in fields.items() if v is not None}
        command = None

    def started(session: _Transcript) -> Row:
        row = {**base(session.line), **session.columns(), "datetime": session.start}
        row["event_action"] = "powershell-transcript-start"
        header = session.header
        row["message"] = row_message(
            f"PowerShell transcript start: {header.get('Username') or '?'} on {row['host_name'] or '?'} "
            f"({header.get('Host Application') or '?'}, pid {header.get('Process ID') or '?'})"
        )
        return row, {k: v for k, v in session.fields().items() if v is not None}

    for number, offset, text in lines_of(fh):
        if _STARS.match(text):
            if state == "header" and session is not None:  # the header is complete
                yield started(session)
                state = "body"
            continue
        if _START.match(text):
            yield from flush()
            session, state, pending_time = _Transcript(number, zone_name), "header", None
            continue
        if _END.match(text):
            yield from flush()
            state = "end"
            continue
        if state in ("header", "end") or text.startswith("Command start time:"):
            m = _KEY.match(text)
            if m is None:
                if state == "header":
                    yield ParseWarning(
                        f"line {number}", offset, f"not a transcript header line: {text[:80]!r}"
                    )
                continue
            key, value = m["key"].strip(), m["value"].strip()
            if key == "Command start time":
                yield from flush()
                pending_time = _local(value, tz)
                if pending_time is None:
                    yield ParseWarning(f"line {number}", offset, f"invalid command start time {value!r}")
            elif state == "end" and key == "End time":
                when = _local(value, tz)
                if when is None:
                    yield ParseWarning(f"line {number}", offset, f"invalid end time {value!r}")
                columns = session.columns() if session else {}
                row = {
                    **base(number),
                    **columns,
                    "datetime": when,
                    "event_action": "powershell-transcript-end",
                }
                row["message"] = "PowerShell transcript end"
                yield row, session.fields() if session else {"time_zone": zone_name}
                session, state = None, "body"
            elif state == "header" and session is not None:
                session.header[key] = value
                if key == "Start time":
                    session.start = _local(value, tz)
                    if session.start is None:
                        yield ParseWarning(f"line {number}", offset, f"invalid start time {value!r}")
            continue
        m = _PROMPT.match(text)
        if m and m["command"].strip():
            yield from flush()
            if session is None:
                yield ParseWarning(
                    f"line {number}", offset, "command outside a transcript (no header before it)", 0
                )
            when = pending_time or (session.start if session else None)
            fields: dict[str, str | None] = session.fields() if session else {"time_zone": zone_name}
            fields.update(
                command=m["command"], working_directory=m["cwd"], remote_host=m["remote"],
                time_from="command start time" if pending_time else "transcript start",
            )  # fmt: skip
            row = {**base(number), **(session.columns() if session else {}), "datetime": when}
            row.update(event_action="powershell-command", message=row_message(m["command"]))
            command = (number, row, fields, [])
            pending_time = None
        elif command is not None:
            command[3].append(text)
    yield from flush()
    if state == "header" and session is not None:
        yield started(session)
        yield ParseWarning(f"line {session.line}", None, "transcript header cut short", 1)
    elif session is not None:
        yield ParseWarning(
            f"line {session.line}", None, "transcript has no end (session killed or file cut short)", 0
        )


class PowerShellTranscriptParser(Parser):
    """PowerShell transcripts -> transcript start, one row per command, transcript end."""

    name = "powershell_transcript"

    def sniff(self, head: bytes) -> bool:
        if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            encoding = "utf-16-le" if head[:2] == codecs.BOM_UTF16_LE else "utf-16-be"
            text = head[2 : len(head) & ~1].decode(encoding, "replace")
            lines = [line for line in text.splitlines() if line.strip()][:3]
        else:
            lines = head_lines(head, 3)
        return (
            any(_START.match(line) for line in lines) and bool(lines) and _STARS.match(lines[0]) is not None
        )

    def parse(self, fh: BinaryIO, unit: object, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        tz, zone_name, note = host_zone(options)
        if note:
            yield note
        yield from batched(read_transcript(fh, tz, zone_name, self.name), options.batch_rows)
