"""Loose Windows artifacts through the real ingest, for tests: what each file became, and its rows."""

from __future__ import annotations

import io
from pathlib import Path

from forensics import Case
from parsers import HEAD_BYTES, sniff
from parsers.base import Options, Parser, ParseWarning

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


def parse_bytes(
    parser: Parser, data: bytes, options: Options | None = None
) -> tuple[list[dict], list[ParseWarning]]:
    """Rows (fields as dicts) and warnings ``parser`` yields for ``data`` as one whole file."""
    found: list[ParseWarning] = []
    out: list[dict] = []
    for item in parser.parse(io.BytesIO(data), None, options or Options()):
        if isinstance(item, ParseWarning):
            found.append(item)
        else:
            out.extend(dict(r, fields=dict(r["fields"] or [])) for r in item.to_pylist())
    return out, found


def claimed(corpus: Path, *parsers: Parser) -> list[str]:
    """Corpus files (relative paths) that any of ``parsers`` sniffs or the registry hands them."""
    names = {p.name for p in parsers}
    taken = []
    for path in sorted(p for p in corpus.rglob("*") if p.is_file()):
        head = path.read_bytes()[:HEAD_BYTES]
        chosen = sniff(head, str(path))
        if any(p.sniff(head) for p in parsers) or (chosen is not None and chosen.name in names):
            taken.append(str(path.relative_to(corpus)))
    return taken
