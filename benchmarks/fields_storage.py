"""Where the non-core fields live: one ``map<string,string>`` column vs a long detail table.

Builds both from the same ingested rows and measures, in the same run, the bytes on disk and a
Sigma-like lookup (rows whose CommandLine contains a text, with their core columns). The map
keeps every row self-contained (no join); the detail table needs a join back on
(evidence, file, record).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import duckdb

from forensics import Case


def _timed(con: duckdb.DuckDBPyConnection, sql: str, runs: int = 3) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(runs):
        started = time.perf_counter()
        result = con.execute(sql).fetchall()
        best = min(best, time.perf_counter() - started)
    return best, result


def main(evtx: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        case = Case.open(Path(tmp) / "case")
        case.ingest([evtx])
        with case.connect() as con:
            con.execute(
                f"COPY (SELECT * EXCLUDE (fields) FROM timeline) TO '{tmp}/core.parquet' (FORMAT PARQUET, COMPRESSION ZSTD)"
            )
            con.execute(
                f"COPY (SELECT evidence_id, source_file, source_record, unnest(map_keys(fields)) AS key, "
                f"unnest(map_values(fields)) AS value FROM timeline) TO '{tmp}/detail.parquet' (FORMAT PARQUET, COMPRESSION ZSTD)"
            )
            map_bytes = sum(p.stat().st_size for p in case.store.rglob("*.parquet"))
            detail_bytes = sum((Path(tmp) / n).stat().st_size for n in ("core.parquet", "detail.parquet"))
            map_s, map_rows = _timed(
                con,
                "SELECT count(*), min(datetime) FROM timeline WHERE fields['CommandLine'] LIKE '%task12%'",
            )
            detail_s, detail_rows = _timed(
                con,
                f"SELECT count(*), min(c.datetime) FROM read_parquet('{tmp}/core.parquet') c JOIN "
                f"(SELECT * FROM read_parquet('{tmp}/detail.parquet') WHERE key = 'CommandLine' AND value LIKE '%task12%') d "
                "USING (evidence_id, source_file, source_record)",
            )
    assert map_rows == detail_rows, (map_rows, detail_rows)
    return {
        "map_total_mib": map_bytes / 2**20,
        "detail_total_mib": detail_bytes / 2**20,
        "map_lookup_s": map_s,
        "detail_lookup_s": detail_s,
        "detail_vs_map_lookup_time": detail_s / map_s,
    }
