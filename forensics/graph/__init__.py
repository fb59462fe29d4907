"""Root cause: the case's causality graph and the attack chain through a point of interest.

``build`` reads the rows that carry causality from the case store into a networkx graph
(``windows``, ``network``, ``linux``: one module per family of sources, ``nodes`` and
``edges`` declaring what they make); ``trace`` walks it back and forward in time; ``chain``
turns a walk into the ordered steps, root cause and impact an investigator reads. This module
picks the point of interest (a finding, a row, or the strongest findings) and stores the chain
in the case (``chains/<name>.json``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from forensics.graph.build import build_graph
from forensics.graph.chain import Chain, Step, chain_from, merge

if TYPE_CHECKING:
    from forensics.case import Case

__all__ = ["Chain", "ChainError", "Step", "build_graph", "case_chain"]

_LEVELS = ("critical", "high", "medium", "low", "informational")
_POINT = ("finding_id", "rule_title", "level", "evidence_id", "source_file", "source_record")
#: Findings ``auto`` starts from, strongest first, among those whose rows the graph links.
AUTO_FINDINGS = 20


class ChainError(ValueError):
    """A point of interest that cannot be found in the case."""


#: A row of the case: evidence file, the file inside it (a log in a disk image), record or line.
RowKey = tuple[str | None, str | None, int | None]


def _techniques(case: Case) -> dict[RowKey, list[str]]:
    with case.connect() as con:
        found = con.sql(
            "SELECT evidence_id, source_file, source_record, list_distinct(flatten(list(techniques))) "
            "FROM findings GROUP BY ALL"
        ).fetchall()
    return {(e, f, r): sorted(t or []) for e, f, r, t in found}


def _row(case: Case, where: str, record: int) -> RowKey:
    """The row ``WHERE:RECORD`` names: WHERE a timeline source, an evidence id prefix, or the
    path (or the end of the path) of the file the row is from."""
    with case.connect() as con:
        found = con.execute(
            "SELECT DISTINCT evidence_id, source_file FROM timeline WHERE source_record = ? AND (source = ? "
            "OR starts_with(evidence_id, lower(?)) OR ends_with(source_file, ?))",
            [record, where, where, where],
        ).fetchall()
    if not found:
        raise ChainError(f"no row {where}:{record} in the case")
    if len(found) > 1:
        files = ", ".join(sorted(f or e[:12] for e, f in found)[:5])
        raise ChainError(f"{where}:{record} names {len(found)} rows ({files}...): name the file instead")
    return found[0][0], found[0][1], record


def case_chain(
    case: Case,
    *,
    finding_id: str | None = None,
    row: str | None = None,
    auto: bool = False,
    name: str | None = None,
) -> Chain:
    """The attack chain through a finding, a row (``SOURCE:RECORD``) or, with ``auto``, the
    strongest findings (the chain that explains the most severe of them, then the most of them,
    merged with the other findings' chains that share an entity with it); stored as
    ``chains/<name>.json``."""
    graph = build_graph(case)
    techniques = _techniques(case)
    points: list[dict[str, Any]] = []
    with case.connect() as con:
        if finding_id:
            found = con.execute(
                "SELECT finding_id, rule_title, level, evidence_id, source_file, source_record FROM findings "
                "WHERE starts_with(finding_id, ?)",
                [finding_id],
            ).fetchall()
            if not found:
                raise ChainError(f"no finding {finding_id} in the case")
            points = [
                dict(
                    zip(
                        _POINT,
                        found[0],
                        strict=True,
                    )
                )
            ]
        elif auto:
            order = " ".join(f"WHEN '{lvl}' THEN {i}" for i, lvl in enumerate(_LEVELS))
            found = con.execute(
                f"SELECT finding_id, rule_title, level, evidence_id, source_file, source_record FROM findings "
                f"WHERE source_record IS NOT NULL ORDER BY CASE level {order} ELSE 9 END, datetime"
            ).fetchall()
            found = [f for f in found if (f[3], f[4], f[5]) in graph.graph["rows"]][:AUTO_FINDINGS]
            points = [dict(zip(_POINT, f, strict=True)) for f in found]
    if row:
        source, _, record = row.rpartition(":")
        if not source or not record.isdigit():
            raise ChainError(f"--from-row wants SOURCE:RECORD, not {row!r}")
        evidence_id, source_file, number = _row(case, source, int(record))
        points = [
            {"evidence_id": evidence_id, "source_file": source_file, "source_record": number, "row": row}
        ]
    if not points:
        raise ChainError("no point of interest: give a finding, a row, or run detect first for --auto")
    best: tuple[tuple[int, int, int], Chain] | None = None
    candidates: list[Chain] = []
    for point in points:
        edges = graph.graph["rows"].get(
            (point["evidence_id"], point["source_file"], point["source_record"]), []
        )
        if not edges:
            candidate = Chain(point, None, [], {}, "no causal links in the evidence for this row")
        else:
            candidate = chain_from(graph, edges, point, techniques)
        candidates.append(candidate)
        score = _explains(candidate, points)
        if best is None or score > best[0]:
            best = (score, candidate)
    assert best is not None
    best_chain = merge(best[1], candidates) if auto else best[1]
    best_chain.clock = [offset.describe() for offset in graph.graph.get("clock", [])]
    _store(case, best_chain, name or "latest")
    return best_chain


def _explains(chain: Chain, points: list[dict[str, Any]]) -> tuple[int, int, int]:
    """How well a chain explains the points of interest: the most severe level among the points
    whose rows it holds, then how many of them it holds, then its own point's rank (earlier
    points, the stronger findings, first)."""
    rows = {(e["evidence_id"], e["source_file"], e["source_record"]) for s in chain.steps for e in s.evidence}
    held = [p for p in points if (p["evidence_id"], p["source_file"], p["source_record"]) in rows]
    severity = min(
        (_LEVELS.index(p["level"]) for p in held if p.get("level") in _LEVELS), default=len(_LEVELS)
    )
    return -severity, len(held), -points.index(chain.point_of_interest)


def _store(case: Case, chain: Chain, name: str) -> None:
    folder = case.root / "chains"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(chain.to_dict(), indent=1))
