"""Rich displays for notebooks: a case as HTML (``Case._repr_html_``).

Evidence names, parsers' reasons and sources come from the evidence, which the attacker may
have written: every value is escaped (``html.escape``), and the HTML is plain tables, no script.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forensics.detect.findings import LEVELS

if TYPE_CHECKING:
    from forensics.case import Case

__all__ = ["case_html"]

_EVIDENCE = (
    "SELECT path, parser, status, records, sha256, evidence_id FROM manifest ORDER BY path, ingested_at"
)
_BY_SOURCE = "SELECT source, count(*) FROM timeline GROUP BY 1 ORDER BY 2 DESC, 1"
_BY_LEVEL = "SELECT level, count(*) FROM findings GROUP BY 1"


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape('' if v is None else str(v))}</td>" for v in row) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def case_html(case: Case) -> str:
    """The case folder, its evidence (file name, parser, status, records, sha256 prefix) and its
    counts (rows by source, findings by level, most severe first) as an HTML fragment."""
    with case.connect() as con:
        evidence = con.execute(_EVIDENCE).fetchall()
        by_source = con.execute(_BY_SOURCE).fetchall()
        by_level = dict(con.execute(_BY_LEVEL).fetchall())
    rows = sum(n for _, n in by_source)
    levels = [(level, by_level[level]) for level in reversed(LEVELS) if level in by_level]
    levels += [(level, n) for level, n in sorted(by_level.items(), key=str) if level not in LEVELS]
    parts = [
        f"<p><b>Case</b> <code>{escape(str(case.root))}</code>: {len(evidence)} evidence, "
        f"{rows:,} rows, {sum(by_level.values()):,} findings</p>",
        _table(
            ("evidence", "parser", "status", "records", "sha256"),
            (
                (Path(p).name, parser, status, n, (sha or eid or "")[:12])
                for p, parser, status, n, sha, eid in evidence
            ),
        )
        if evidence
        else "<p>no evidence yet</p>",
        "<details open><summary>rows by source</summary>"
        + _table(("source", "rows"), by_source)
        + "</details>",
    ]
    if levels:
        parts.append(
            "<details open><summary>findings by level</summary>"
            + _table(("level", "findings"), levels)
            + "</details>"
        )
    return '<div class="tracehound-case">' + "".join(parts) + "</div>"
