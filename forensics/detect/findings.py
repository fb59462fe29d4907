"""Findings: what every detection engine (Sigma, IOCs, YARA, beacons) reports, in one shape.

A finding says which rule matched what, how bad it is, which ATT&CK tactics and techniques it
points to, and where the evidence is: the host and time, and the timeline row it matched,
located exactly by the row's Parquet file and its row number in that file (``row_file``,
``row_number``: the store is written once, so they never change). Findings of a file that is
not in the timeline (a YARA hit on a carved object) leave the row locator empty and name the
file in ``file_path``/``file_hash_sha256``.

Each engine run writes one Parquet file under ``findings/<engine>/`` of the case (a rerun of
the same engine and run name replaces it), and the case's ``findings`` view reads them all;
the ``timeline`` view shows each matched row's rule titles in its ``tags``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = [
    "FINDINGS",
    "FINDINGS_DIR",
    "LEVELS",
    "empty_findings",
    "finding_id",
    "findings_query",
    "findings_table",
    "write_findings",
]

FINDINGS_DIR = "findings"
#: Sigma's levels, least to most severe; other engines use the same words.
LEVELS = ("informational", "low", "medium", "high", "critical")
_TS = pa.timestamp("us", tz="UTC")

FINDINGS = pa.schema(
    [
        pa.field("finding_id", pa.string(), nullable=False),  # stable: engine, rule, row or file
        pa.field("engine", pa.string(), nullable=False),  # sigma | ioc | yara | beacon
        pa.field("rule_id", pa.string(), nullable=False),  # Sigma id, indicator id, YARA rule name
        pa.field("rule_title", pa.string()),
        pa.field("level", pa.string()),  # one of LEVELS
        pa.field("status", pa.string()),  # the rule's maturity (Sigma: stable, test, experimental...)
        pa.field("tactics", pa.list_(pa.string())),  # ATT&CK tactic short names (execution, ...)
        pa.field("techniques", pa.list_(pa.string())),  # ATT&CK technique ids (T1059.001, ...)
        pa.field("datetime", _TS),
        pa.field("host_name", pa.string()),
        pa.field("source", pa.string()),  # the matched row's source (windows_evtx, network_dns...)
        pa.field("source_file", pa.string()),
        pa.field("source_record", pa.int64()),
        pa.field("evidence_id", pa.string()),
        pa.field("row_file", pa.string()),  # the matched timeline row: its Parquet file in the case
        pa.field("row_number", pa.int64()),  # ... and its row number there (0-based)
        pa.field("file_path", pa.string()),  # a scanned file outside the timeline (YARA)
        pa.field("file_hash_sha256", pa.string()),
        pa.field("matched", pa.map_(pa.string(), pa.string())),  # what matched: field -> value, strings...
        pa.field("message", pa.string()),  # one line for people
        pa.field("detected_at", _TS),
    ]
)


def empty_findings() -> pa.Table:
    return FINDINGS.empty_table()


def finding_id(engine: str, rule_id: str, *where: Any) -> str:
    """A stable id: the same rule on the same row (or file) gives the same id in every run."""
    key = "\x1f".join([engine, rule_id, *map(str, where)])
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def findings_table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Findings as dicts (keys of ``FINDINGS``; missing ones null, ``detected_at`` now) -> table."""
    now = datetime.now(UTC)
    columns: dict[str, list] = {name: [] for name in FINDINGS.names}
    for row in rows:
        for name in FINDINGS.names:
            value = row.get(name)
            if name == "detected_at" and value is None:
                value = now
            elif name == "matched" and isinstance(value, Mapping):
                value = [(str(k), str(v)) for k, v in value.items()]
            columns[name].append(value)
    return pa.table(columns, schema=FINDINGS)


def write_findings(root: Path, engine: str, table: pa.Table, run: str = "default") -> Path:
    """Store one engine run's findings in the case folder ``root`` (replacing that run's last)."""
    folder = root / FINDINGS_DIR / engine
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{run}.parquet"
    temp = path.with_suffix(".parquet.tmp")
    pq.write_table(table.cast(FINDINGS), temp, compression="zstd")
    temp.replace(path)
    return path


#: The columns ``tracehound findings`` lists, in its order.
LISTED = ("datetime", "level", "engine", "rule_title", "host_name", "source", "source_record", "file_path",
          "message", "techniques", "rule_id", "row_file", "row_number")  # fmt: skip


def findings_query(
    columns: Iterable[str] = LISTED, min_level: str = "informational", engine: str | None = None
) -> tuple[str, list[Any]]:
    """The SQL and parameters listing a case's findings most severe first, then by time: from
    ``min_level`` up, of one ``engine`` or all (``tracehound findings``, ``Case.findings``)."""
    cols = list(columns)
    unknown = [c for c in cols if c not in FINDINGS.names]
    if unknown:
        raise ValueError(f"unknown findings columns: {unknown}")
    if min_level not in LEVELS:
        raise ValueError(f"unknown level {min_level!r}: one of {', '.join(LEVELS)}")
    levels = list(LEVELS)
    query = (
        f"SELECT {', '.join(cols)} FROM findings WHERE list_position(?, level) >= ? AND (? IS NULL OR engine = ?) "
        "ORDER BY list_position(?, level) DESC, datetime, finding_id"
    )
    return query, [levels, levels.index(min_level) + 1, engine, engine, levels]
