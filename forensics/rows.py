"""Column-wise accumulation of timeline rows into Arrow record batches.

Parsers hand over one plain dict per row (core column -> value) plus the record's other
fields; the builder keeps one Python list per column and turns them into typed Arrow arrays
in one go, so no per-record DataFrame or pyarrow object is ever created. Times arrive as
ISO strings or aware datetimes and are converted vectorised at the end (see timeutil).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import pyarrow as pa

from forensics.schema import CORE_COLUMNS, TIMELINE
from forensics.timeutil import TS, iso_array

__all__ = ["DEFAULT_BATCH_ROWS", "RowBuilder"]

#: Rows per record batch: large enough for Parquet efficiency, small enough to stream.
DEFAULT_BATCH_ROWS = 65_536
_SCALAR = tuple(c for c in CORE_COLUMNS if c not in ("datetime", "fields", "tags"))
_TYPES = {f.name: f.type for f in TIMELINE}


class RowBuilder:
    """Accumulate rows; ``flush()`` returns them as one ``pa.RecordBatch`` in TIMELINE."""

    __slots__ = ("_cols", "_keys", "_offsets", "_tags", "_times", "_values")

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._cols: dict[str, list] = {c: [] for c in _SCALAR}
        self._times: list = []
        self._tags: list = []
        self._keys: list[str] = []
        self._values: list[str | None] = []
        self._offsets: list[int] = [0]

    def __len__(self) -> int:
        return len(self._times)

    def add(
        self,
        row: Mapping[str, object],
        fields: Mapping[str, str | None] | Iterable[tuple[str, str | None]] = (),
    ) -> None:
        """Append one row. ``row['datetime']`` is an ISO string, an aware datetime or None."""
        get = row.get
        for name, col in self._cols.items():
            col.append(get(name))
        self._times.append(get("datetime"))
        self._tags.append(get("tags"))
        if isinstance(fields, Mapping):
            self._keys.extend(fields.keys())
            self._values.extend(fields.values())
        else:
            for k, v in fields:
                self._keys.append(k)
                self._values.append(v)
        self._offsets.append(len(self._keys))

    def flush(self) -> pa.RecordBatch | None:
        """The rows added since the last flush as a record batch (None when empty)."""
        if not self._times:
            return None
        arrays = []
        for name in CORE_COLUMNS:
            if name == "datetime":
                arrays.append(_times(self._times))
            elif name == "tags":
                arrays.append(pa.array(self._tags, type=_TYPES["tags"]))
            elif name == "fields":
                arrays.append(
                    pa.MapArray.from_arrays(
                        pa.array(self._offsets, type=pa.int32()),
                        pa.array(self._keys, type=pa.string()),
                        pa.array(self._values, type=pa.string()),
                    ).cast(_TYPES["fields"])
                )
            else:
                arrays.append(pa.array(self._cols[name], type=_TYPES[name]))
        self._reset()
        return pa.RecordBatch.from_arrays(arrays, schema=TIMELINE)


def _times(values: list) -> pa.Array:
    """ISO strings and/or datetimes -> timestamp[us, UTC]."""
    if any(isinstance(v, datetime) for v in values):
        return pa.array(values, type=TS)
    return iso_array(values)
