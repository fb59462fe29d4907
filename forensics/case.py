"""A case folder: evidence manifest, Parquet store per source, DuckDB views over both.

Layout of a case folder::

    case.duckdb                  manifest and warnings tables, the ``timeline`` view
    store/_schema.parquet        zero rows: keeps ``timeline`` valid on an empty case
    store/<source>/<sha256>-<unit>.parquet   rows, zstd, streaming-sized row groups
    findings/<engine>/<run>.parquet          detections (``forensics.detect.findings``)

The view reads the Parquet files by a path relative to the case folder, so a case can be
moved or copied whole; every connection sets DuckDB's ``file_search_path`` to the folder
(from the DuckDB shell: ``cd`` into the case folder first). Connections are short-lived, so
a notebook and the CLI can take turns on one case.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from forensics.detect.findings import FINDINGS_DIR, empty_findings, findings_query
from forensics.schema import CORE_COLUMNS, empty_table
from forensics.timeutil import parse_iso

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Case", "CaseError"]

DB_NAME = "case.duckdb"
STORE = "store"

_MANIFEST_DDL = """
CREATE TABLE IF NOT EXISTS manifest (
    evidence_id VARCHAR,      -- sha256 of the evidence file, or quick-<id> when hashing was deferred
    path VARCHAR,             -- absolute path as given
    size BIGINT,
    sha256 VARCHAR,           -- NULL until a deferred hash is recorded (tracehound hash)
    parser VARCHAR,
    status VARCHAR,           -- ok | partial | failed | unrecognised | unreadable
    reason VARCHAR,           -- one line when status is not ok
    records BIGINT,
    warnings BIGINT,          -- warning rows
    lost BIGINT,              -- records counted as unreadable
    seconds DOUBLE,
    tool_version VARCHAR,
    ingested_at TIMESTAMPTZ
)"""
_WARNINGS_DDL = """
CREATE TABLE IF NOT EXISTS warnings (
    evidence_id VARCHAR, source_file VARCHAR, parser VARCHAR, location VARCHAR,
    "offset" BIGINT, reason VARCHAR, count BIGINT
)"""
#: What a detection run could not use (a rule that does not parse or compile, an intel line, a
#: file not scanned), by name and reason: ``engine`` sigma | ioc | yara, ``run`` its run name.
_DETECT_WARNINGS_DDL = """
CREATE TABLE IF NOT EXISTS detect_warnings (
    engine VARCHAR, run VARCHAR, file VARCHAR, location VARCHAR, kind VARCHAR, reason VARCHAR,
    count BIGINT, recorded_at TIMESTAMPTZ
)"""
#: Every stored row, with its exact locator: the Parquet file and the row number in it.
_ROWS_VIEW = (
    f"CREATE OR REPLACE VIEW timeline_rows AS SELECT {', '.join(CORE_COLUMNS)}, "
    "regexp_replace(filename, '^.*/(store/[^/]+/[^/]+)$', '\\1') AS row_file, file_row_number AS row_number "
    f"FROM read_parquet('{STORE}/*/*.parquet', union_by_name = true, filename = true, file_row_number = true)"
)
_FINDINGS_VIEW = f"CREATE OR REPLACE VIEW findings AS SELECT * FROM read_parquet('{FINDINGS_DIR}/*/*.parquet', union_by_name = true)"
#: The timeline: the stored rows, their ``tags`` joined with the titles of the findings on them.
_TIMELINE_VIEW = (
    "CREATE OR REPLACE VIEW timeline AS SELECT "
    + ", ".join(
        "CASE WHEN f.titles IS NULL THEN r.tags ELSE list_distinct(list_concat(coalesce(r.tags, []), f.titles)) "
        "END AS tags"
        if c == "tags"
        else f"r.{c}"
        for c in CORE_COLUMNS
    )
    + " FROM timeline_rows r LEFT JOIN (SELECT row_file, row_number, list(DISTINCT rule_title) AS titles "
    "FROM findings WHERE row_file IS NOT NULL GROUP BY ALL) f USING (row_file, row_number)"
)
#: ``Case.findings``: what a person reads first, the locators last.
_FINDINGS_COLUMNS = ("datetime", "level", "engine", "rule_title", "host_name", "techniques", "message",
                     "source", "source_file", "source_record", "file_path", "finding_id")  # fmt: skip
# ``fields['k']`` gives a one-value list in older DuckDB and the value in newer ones (2.0 here);
# ``map_extract`` gives the list in both, so ``map_extract(fields, 'k')[1]`` is the value either way.
_BEACON_CONNECTIONS = """
SELECT datetime, source_ip, destination_ip, destination_port,
       TRY_CAST(map_extract(fields, 'orig_bytes')[1] AS BIGINT) AS orig_bytes
FROM timeline
WHERE source = 'network_conn' AND datetime IS NOT NULL
"""
_BEACON_NAMES = """
SELECT DISTINCT source_ip, destination_ip, destination_port, tls_server_name,
       NULL::VARCHAR AS dns_question_name, NULL::VARCHAR AS answers
FROM timeline WHERE source = 'network_tls' AND tls_server_name IS NOT NULL
UNION ALL
SELECT DISTINCT source_ip, NULL, NULL, NULL, dns_question_name, map_extract(fields, 'answers')[1]
FROM timeline
WHERE source = 'network_dns' AND dns_question_name IS NOT NULL AND map_extract(fields, 'answers')[1] IS NOT NULL
"""


class CaseError(Exception):
    """A case folder that cannot be created or used."""


class Case:
    """One investigation's folder. ``Case.open(path)`` creates it when absent."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def open(cls, path: str | Path) -> Case:
        root = Path(path).expanduser().resolve()
        if root.exists() and not root.is_dir():
            raise CaseError(f"{root} is not a folder")
        root.mkdir(parents=True, exist_ok=True)
        (root / STORE / "_schema").mkdir(parents=True, exist_ok=True)
        placeholder = root / STORE / "_schema" / "empty.parquet"
        if not placeholder.exists():
            pq.write_table(empty_table(), placeholder)
        (root / FINDINGS_DIR / "_schema").mkdir(parents=True, exist_ok=True)
        no_findings = root / FINDINGS_DIR / "_schema" / "empty.parquet"
        if not no_findings.exists():
            pq.write_table(empty_findings(), no_findings)
        case = cls(root)
        with case.connect() as con:
            con.execute(_MANIFEST_DDL)
            con.execute(_WARNINGS_DDL)
            con.execute(_DETECT_WARNINGS_DDL)
            con.execute(_ROWS_VIEW)
            con.execute(_FINDINGS_VIEW)
            con.execute(_TIMELINE_VIEW)
        return case

    def __repr__(self) -> str:
        return f"Case({str(self.root)!r})"

    def _repr_html_(self) -> str:
        """In a notebook: the folder, the evidence and the counts (``forensics.display``)."""
        from forensics.display import case_html

        return case_html(self)

    @property
    def store(self) -> Path:
        return self.root / STORE

    @property
    def carved(self) -> Path:
        """Where objects carved from network evidence go (``ingest --carve``), named by sha256."""
        return self.root / "carved"

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A DuckDB connection to the case, closed on exit."""
        con = duckdb.connect(str(self.root / DB_NAME))
        try:
            con.execute("SET file_search_path = ?", [str(self.root)])
            con.execute("SET TimeZone = 'UTC'")
            yield con
        finally:
            con.close()

    # -- querying -------------------------------------------------------------------------
    def sql(self, query: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Run DuckDB SQL over the case (``timeline``, ``warnings``, ``manifest``) -> pandas."""
        with self.connect() as con:
            return to_pandas(con.sql(query, params=params or None).to_arrow_table())

    def arrow(self, query: str, params: Sequence[Any] | None = None) -> pa.Table:
        with self.connect() as con:
            return con.sql(query, params=params or None).to_arrow_table()

    def timeline(
        self,
        start: str | datetime | None = None,
        end: str | datetime | None = None,
        *,
        columns: Iterable[str] | None = None,
        where: str | None = None,
        host: str | None = None,
        code: str | int | None = None,
        grep: str | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Timeline rows in time order, filtered; ``where`` is extra DuckDB SQL."""
        query, params = timeline_query(
            start, end, columns=columns, where=where, host=host, code=code, grep=grep, limit=limit
        )
        return self.sql(query, params)

    def manifest(self) -> pd.DataFrame:
        return self.sql("SELECT * FROM manifest ORDER BY ingested_at, path")

    def findings(
        self, min_level: str = "informational", engine: str | None = None, limit: int | None = None
    ) -> pd.DataFrame:
        """The findings, most severe first, then by time (as ``tracehound findings`` lists them)."""
        query, params = findings_query(_FINDINGS_COLUMNS, min_level, engine)
        return self.sql(query + (f" LIMIT {int(limit)}" if limit else ""), params)

    def warnings(self) -> pd.DataFrame:
        return self.sql('SELECT * FROM warnings ORDER BY source_file, "offset"')

    def detect_warnings(self) -> pd.DataFrame:
        """What detection runs could not use, by engine and run (``record_detect_warnings``)."""
        return self.sql("SELECT * FROM detect_warnings ORDER BY engine, run, file, location")

    def record_detect_warnings(
        self, engine: str, run: str, rows: Iterable[tuple[str, str, str, str, int]]
    ) -> int:
        """Replace the ``detect_warnings`` of one engine run with ``rows`` of (file, location,
        kind, reason, count); the number recorded."""
        now = datetime.now(UTC)
        values = [(engine, run, *row, now) for row in rows]
        with self.connect() as con:
            con.execute("DELETE FROM detect_warnings WHERE engine = ? AND run = ?", [engine, run])
            if values:
                con.executemany("INSERT INTO detect_warnings VALUES (?, ?, ?, ?, ?, ?, ?, ?)", values)
        return len(values)

    def known_evidence(self) -> set[str]:
        """sha256 of every evidence already ingested (status ok or partial)."""
        with self.connect() as con:
            rows = con.execute(
                "SELECT evidence_id FROM manifest WHERE status IN ('ok', 'partial')"
            ).fetchall()
        return {r[0] for r in rows}

    def chain(self, **options: Any) -> Any:
        """The attack chain through a point of interest (``finding_id=``, ``row="SOURCE:RECORD"``
        or ``auto=True``): root cause, ordered steps, impact (``forensics.graph.case_chain``)."""
        from forensics.graph import case_chain

        return case_chain(self, **options)

    def beacons(self, **options: Any) -> pd.DataFrame:
        """Beacon candidates among the case's ``network_conn`` rows, destinations labelled by
        its TLS server names and DNS answers; ``options`` as ``forensics.detect.beacons.beacons``
        takes them (``min_connections``, ``include_internal``, ``internal``...)."""
        from forensics.detect.beacons import beacons

        conns = self.sql(_BEACON_CONNECTIONS)
        names = options.pop("names", None)
        return beacons(conns, names=self.sql(_BEACON_NAMES) if names is None else names, **options)

    def ingest(self, paths: Iterable[str | Path], **options: Any) -> Any:
        """Ingest evidence files or folders into this case; see ``forensics.ingest.ingest``."""
        from forensics.ingest import ingest

        return ingest(self, paths, **options)

    def hash_evidence(self, *, verify: bool = False, progress: Any = None) -> list[Any]:
        """Record deferred evidence hashes; ``verify`` re-hashes all evidence against the
        manifest. See ``forensics.integrity.hash_evidence``."""
        from forensics.integrity import hash_evidence

        return hash_evidence(self, verify=verify, progress=progress)


def timeline_query(
    start: str | datetime | None = None,
    end: str | datetime | None = None,
    *,
    columns: Iterable[str] | None = None,
    where: str | None = None,
    host: str | None = None,
    code: str | int | None = None,
    grep: str | None = None,
    limit: int | None = None,
) -> tuple[str, list[Any]]:
    """The SQL and parameters behind ``Case.timeline`` and ``tracehound timeline``."""
    cols = list(columns) if columns else list(CORE_COLUMNS)
    unknown = [c for c in cols if c not in CORE_COLUMNS]
    if unknown:
        raise CaseError(f"unknown timeline columns: {unknown}")
    clauses, params = [], []
    for bound, op in ((start, ">="), (end, "<=")):
        if bound is not None:
            when = parse_iso(bound) if isinstance(bound, str) else bound
            if when is None or when.tzinfo is None:
                raise CaseError(f"not an ISO 8601 time (UTC or with an offset): {bound!r}")
            clauses.append(f"datetime {op} ?")
            params.append(when)
    if host:
        clauses.append("lower(host_name) = lower(?)")
        params.append(host)
    if code is not None:
        clauses.append("event_code = ?")
        params.append(str(code))
    if grep:
        clauses.append("message ILIKE ?")
        params.append(f"%{grep}%")
    if where:
        clauses.append(f"({where})")
    query = f"SELECT {', '.join(cols)} FROM timeline"
    if clauses:
        query += " WHERE " + " AND ".join(clauses)
    query += " ORDER BY datetime NULLS FIRST, source_file, source_record"
    if limit:
        query += f" LIMIT {int(limit)}"
    return query, params


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow -> pandas with nullable ints and strings, UTC microsecond times, maps as dicts.
    pandas (and the ``.timeline`` accessor on its frames) is loaded here, on the first frame:
    ingesting and detecting need neither, and loading pandas costs half a second a process."""
    import pandas as pd

    import forensics.timeline  # noqa: F401  (registers df.timeline)

    types = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int32Dtype(), pa.string(): pd.StringDtype()}
    return table.to_pandas(types_mapper=types.get, maps_as_pydicts="lossy")
