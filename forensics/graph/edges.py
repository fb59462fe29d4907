"""The causality graph's edge record, declared once, and the rows it is read from.

An edge says "``src`` caused or touched ``dst`` at ``time``" (a parent spawned a child, a
process created a file, a flow carried a logon) and names the timeline row that shows it, so
every step of a chain can be checked against its evidence (``evidence_id`` is the sha256 of
the evidence file, ``source_record`` the record or line in it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

__all__ = ["Edge", "Node", "rows"]


class Edge(NamedTuple):
    """One causal link (a named tuple: a million of them are built for a million events)."""

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


class Node(NamedTuple):
    """What is known of an entity besides its key: a label to print and details."""

    key: str
    label: str
    details: tuple[tuple[str, Any], ...] = ()


#: Columns whose values repeat from row to row: one string object per distinct value.
_REPEATED = frozenset({"host_name", "event_channel", "event_code", "evidence_id", "source", "source_file"})


def rows(result: Any, batch_rows: int = 65_536) -> Iterator[dict[str, Any]]:
    """The rows of a DuckDB query result as dicts, a batch at a time (one conversion per column
    of a batch, not per cell; memory bounded by the batch, not the result)."""
    reader = result.to_arrow_reader(batch_rows)
    shared: dict[str, str] = {}
    for batch in reader:
        names = batch.schema.names
        columns = []
        for name, column in zip(names, batch.columns, strict=True):
            values = column.to_pylist()
            if name in _REPEATED:
                values = [shared.setdefault(v, v) if v is not None else None for v in values]
            columns.append(values)
        for values in zip(*columns, strict=True):
            yield dict(zip(names, values, strict=True))
