"""Loose Windows artifacts through the real ingest, for tests: what each file became, and its rows."""

from __future__ import annotations

from pathlib import Path

from forensics import Case

ARTIFACTS = "images/artifacts"


def ingest(tmp_path: Path, *paths: Path) -> tuple[Case, dict[str, object]]:
    """Ingest ``paths`` into a new case; (case, file name -> FileResult)."""
    case = Case.open(tmp_path / "case")
    report = case.ingest(list(paths), jobs=1)
    return case, {Path(f.path).name: f for f in report.files}


def summary(result: object) -> tuple:
    """(status, parser, rows, records lost, [(location, offset, reason, count)]) of one file."""
    warnings = [(w.location, w.offset, w.reason, w.count) for w in result.warnings]  # type: ignore[attr-defined]
    return result.status, result.parser, result.records, result.lost, warnings  # type: ignore[attr-defined]


def rows(case: Case, path: Path) -> list[dict]:
    """The file's rows as dicts (fields as a dict), by record, then time, then message."""
    query = (
        "SELECT * FROM timeline WHERE source_file = ? "
        "ORDER BY source_record, datetime NULLS LAST, event_action, message"
    )
    out = case.arrow(query, [str(path)]).to_pylist()
    for row in out:
        row["fields"] = dict(row["fields"] or [])
    return out
