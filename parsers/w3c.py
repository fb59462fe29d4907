"""Shared reading of W3C extended log files (IIS, Windows Firewall ``pfirewall.log``): the
directives and the records, with no mapping to the timeline.

Not a parser itself: ``parsers.web_access`` maps the records of web servers (IIS) and
``parsers.windows_firewall`` those of the Windows Firewall. A W3C log starts with ``#``
directives (``#Version``, ``#Software``, ``#Date``, ``#Time Format``, ``#Fields``); the
``#Fields:`` directive names the space-separated columns of the lines after it and may appear
again mid-file (a new log session, a changed configuration); ``-`` means no value.

Format reference: W3C Working Draft "Extended Log File Format"
(https://www.w3.org/TR/WD-logfile.html); Microsoft "W3C Logging" (IIS) and "Configure the
Windows Defender Firewall log" (``pfirewall.log``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from parsers.base import ParseWarning
from parsers.textlog import numbered_lines

__all__ = ["FIREWALL_FIELDS", "W3cRecord", "directives", "is_firewall", "is_w3c", "read_records"]

#: Columns only the Windows Firewall writes (``pfirewall.log``).
FIREWALL_FIELDS = frozenset({"action", "src-ip", "dst-ip", "src-port", "dst-port"})


@dataclass(frozen=True, slots=True)
class W3cRecord:
    """One data line: its place in the file, its values by column (``None`` for ``-``) and the
    directives in force on it (the latest value of each, ``Fields`` included)."""

    line: int
    offset: int
    values: dict[str, str | None]
    directives: dict[str, str]


def _nil(value: str) -> str | None:
    return None if value in ("-", "") else value


def read_records(fh: BinaryIO) -> Iterator[W3cRecord | ParseWarning]:
    """Records in file order, with the columns of the latest ``#Fields:`` directive; a line
    before any ``#Fields:`` or with another number of values is a located warning."""
    names: list[str] = []
    seen: dict[str, str] = {}
    for number, offset, text in numbered_lines(fh):
        if not text.strip():
            continue
        if text.startswith("#"):
            directive, _, value = text[1:].partition(":")
            seen = {**seen, directive.strip(): value.strip()}
            if directive.strip() == "Fields":
                names = value.split()
            continue
        values = text.split(" ")
        if not names or len(values) != len(names):
            reason = "no #Fields: directive before the line" if not names else (
                f"{len(values)} values for {len(names)} fields")  # fmt: skip
            yield ParseWarning(f"line {number}", offset, reason)
            continue
        yield W3cRecord(number, offset, dict(zip(names, map(_nil, values), strict=True)), seen)


def directives(lines: list[str]) -> dict[str, str]:
    """The directives among ``lines`` (a file's first lines), the latest value of each."""
    found: dict[str, str] = {}
    for line in lines:
        if line.startswith("#"):
            directive, _, value = line[1:].partition(":")
            found[directive.strip()] = value.strip()
    return found


def is_w3c(lines: list[str]) -> bool:
    """True when ``lines`` (a file's first lines) open with directives that declare ``#Fields``."""
    return bool(lines) and lines[0].startswith("#") and "Fields" in directives(lines)


def is_firewall(found: dict[str, str]) -> bool:
    """True when the directives are the Windows Firewall's: its ``#Software`` or its columns."""
    software = found.get("Software", "").lower()
    columns = set(found.get("Fields", "").split())
    return ("windows" in software and "firewall" in software) or columns >= FIREWALL_FIELDS
