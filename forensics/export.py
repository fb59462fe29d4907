"""Case -> files other tools read: Timesketch CSV / JSONL, Parquet.

DuckDB writes the files (``COPY``), streaming and multi-threaded, so exporting a case of
millions of rows needs no more memory than a query. Timesketch's importer needs ``message``,
``datetime`` (ISO 8601) and ``timestamp_desc`` (and takes ``timestamp`` in microseconds);
rows without a time cannot be placed on its timeline and are left out, and counted.
Column names go back to their ECS paths (``user_name`` -> ``user.name``).
"""

from __future__ import annotations

from pathlib import Path

from forensics.case import Case
from forensics.schema import CORE_COLUMNS, ECS_NAMES

__all__ = ["FORMATS", "export"]

FORMATS = ("timesketch-csv", "timesketch-jsonl", "parquet")
_ORDER = "ORDER BY datetime NULLS FIRST, source_file, source_record"


def _timesketch_select(*, fields_as_json_text: bool) -> str:
    columns = [
        "message",
        "strftime(datetime, '%Y-%m-%dT%H:%M:%S.%f+00:00') AS datetime",
        "epoch_us(datetime) AS timestamp",
        "timestamp_desc",
    ]
    for name in CORE_COLUMNS:
        if name in ("message", "datetime", "timestamp_desc"):
            continue
        if name == "fields":
            columns.append(f'to_json(fields){"::VARCHAR" if fields_as_json_text else ""} AS "fields"')
        else:
            columns.append(f'{name} AS "{ECS_NAMES[name]}"')
    return f"SELECT {', '.join(columns)} FROM timeline WHERE datetime IS NOT NULL {_ORDER}"


def export(case: Case, fmt: str, out: str | Path) -> tuple[int, int]:
    """Write the case's timeline to ``out``; returns (rows written, rows left out)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    target = Path(out).expanduser().absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    quoted = str(target).replace("'", "''")
    with case.connect() as con:
        total, untimed = con.execute("SELECT count(*), count(*) - count(datetime) FROM timeline").fetchone()
        if fmt == "parquet":
            con.execute(
                f"COPY (SELECT * FROM timeline {_ORDER}) TO '{quoted}' (FORMAT PARQUET, COMPRESSION ZSTD)"
            )
            return total, 0
        if fmt == "timesketch-csv":
            con.execute(
                f"COPY ({_timesketch_select(fields_as_json_text=True)}) TO '{quoted}' (FORMAT CSV, HEADER)"
            )
        else:
            con.execute(f"COPY ({_timesketch_select(fields_as_json_text=False)}) TO '{quoted}' (FORMAT JSON)")
    return total - untimed, untimed
