"""Evidence references: every statement of fact in the report points at the rows that show it.

A reference names the source file, the record in it (an EVTX record, a capture's packet, a log
line) and the sha256 of the evidence item it came from. References are numbered in the order
the report first cites them (E1, E2, ...), so a statement carries short links and the appendix
lists each one once, in full.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

__all__ = ["Ref", "References"]

_CAPTURES = (".pcap", ".pcapng", ".cap")
#: Sources read from text files line by line: their record is the line number.
_LINES = {"syslog", "web_access", "shell_history", "linux_packages"}


@dataclass(frozen=True)
class Ref:
    """One evidence row: ``number`` is its place in the report (``E{number}``)."""

    number: int
    source: str  # the timeline source (windows_evtx, network_http...) or the engine (yara)
    source_file: str
    record: int | None
    evidence_sha256: str
    evidence_name: str  # the evidence item's file name, from the manifest
    time: str  # ISO 8601 UTC, or "" when the row has none

    @property
    def anchor(self) -> str:
        return f"E{self.number}"

    @property
    def where(self) -> str:
        """``record 4286``, ``packet 5674``, ``line 12``; ``whole file`` without a record."""
        if self.record is None:
            return "whole file"
        name = self.source_file.lower()
        if name.endswith(_CAPTURES):
            return f"packet {self.record}"
        if name.endswith(".evtx"):
            return f"record {self.record}"
        if self.source in _LINES or self.source.startswith(("zeek", "cloud")):
            return f"line {self.record}"
        return f"record {self.record}"

    @property
    def file_name(self) -> str:
        return PurePath(self.source_file).name or self.source_file


class References:
    """The report's numbered references, one per distinct (file, record, evidence)."""

    def __init__(self, evidence_names: Mapping[str, str]) -> None:
        self._names = evidence_names  # evidence sha256 -> file name
        self._refs: dict[tuple[str, int | None, str], Ref] = {}

    def add(self, row: Mapping[str, Any]) -> Ref:
        """The reference of one row (keys ``source_file``, ``source_record``, ``evidence_id``,
        ``source``, ``time`` or ``datetime``), numbered when first seen."""
        evidence = row.get("evidence_id") or ""
        record = row.get("source_record")
        key = (row.get("source_file") or "", None if record is None else int(record), evidence)
        ref = self._refs.get(key)
        if ref is None:
            when = row.get("time") or row.get("datetime") or ""
            if not isinstance(when, str):
                when = when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            ref = Ref(
                len(self._refs) + 1, row.get("source") or "", key[0], key[1], evidence,
                self._names.get(evidence, PurePath(key[0]).name), when,
            )  # fmt: skip
            self._refs[key] = ref
        return ref

    def cite(self, rows: Iterable[Mapping[str, Any]], limit: int = 3) -> tuple[list[Ref], int]:
        """References of the first ``limit`` rows and how many more rows there are."""
        rows = list(rows)
        return [self.add(r) for r in rows[:limit]], max(0, len(rows) - limit)

    def __iter__(self):
        return iter(sorted(self._refs.values(), key=lambda r: r.number))

    def __len__(self) -> int:
        return len(self._refs)
