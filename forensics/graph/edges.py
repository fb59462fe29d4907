"""The causality graph's edge record, declared once, and the rows it is read from.

An edge says "``src`` caused or touched ``dst`` at ``time``" (a parent spawned a child, a
process created a file, a flow carried a logon) and names the timeline row that shows it, so
every step of a chain can be checked against its evidence (``evidence_id`` is the sha256 of
the evidence file, ``source_record`` the record or line in it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

__all__ = ["Edge", "Node", "rows"]


@dataclass(frozen=True, slots=True)
class Edge:
    src: str
    dst: str
    time: int  # microseconds since 1970 UTC
    action: str  # spawned, executed, created, set, resolved, connected, logged on...
    host: str
    source: str  # the timeline source of the row
    evidence_id: str | None
    source_record: int | None
    source_file: str | None = None
    text: str = ""  # one line for people: the command line, the URL, the key


@dataclass(frozen=True, slots=True)
class Node:
    """What is known of an entity besides its key: a label to print and details."""

    key: str
    label: str
    details: tuple[tuple[str, Any], ...] = ()


def rows(table: pa.Table) -> Iterator[dict[str, Any]]:
    """The rows of a query's Arrow result as dicts (one conversion per column, not per cell)."""
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    names = list(columns)
    for values in zip(*columns.values(), strict=True):
        yield dict(zip(names, values, strict=True))
