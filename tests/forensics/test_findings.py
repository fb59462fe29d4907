"""Findings in a case: written per engine run, read through the ``findings`` view, shown as tags
on exactly the timeline rows they matched, and still there when the case folder moves."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from forensics import Case
from forensics.detect.findings import FINDINGS, finding_id, findings_table, write_findings

EVTX = "evtx/deepbluecli/new-user-security.evtx"


@pytest.fixture
def case(tmp_path: Path, corpus: Path) -> Case:
    case = Case.open(tmp_path / "case")
    case.ingest([corpus / EVTX], jobs=1)
    return case


def _finding(row: dict, title: str) -> dict:
    return {
        "finding_id": finding_id("sigma", "r1", row["row_file"], row["row_number"]),
        "engine": "sigma", "rule_id": "r1", "rule_title": title, "level": "high",
        "techniques": ["T1136.001"], "tactics": ["persistence"], "datetime": row["datetime"],
        "host_name": row["host_name"], "source": row["source"], "row_file": row["row_file"],
        "row_number": row["row_number"], "matched": {"EventID": "4720"},
    }  # fmt: skip


def test_an_empty_case_has_an_empty_findings_view(tmp_path: Path) -> None:
    case = Case.open(tmp_path / "empty")
    assert case.sql("SELECT count(*) AS n FROM findings").n[0] == 0
    assert list(case.arrow("SELECT * FROM findings").schema.names) == FINDINGS.names


def test_findings_tag_exactly_their_rows(case: Case) -> None:
    rows = case.arrow(
        "SELECT * FROM timeline_rows WHERE event_code = '4720' ORDER BY source_record"
    ).to_pylist()
    assert len(rows) == 1
    write_findings(case.root, "sigma", findings_table([_finding(rows[0], "New user created")]))
    tagged = case.sql("SELECT source_record, tags FROM timeline WHERE len(tags) > 0")
    assert tagged.source_record.tolist() == [rows[0]["source_record"]]
    assert list(tagged.tags[0]) == ["New user created"]
    assert (
        case.sql("SELECT count(*) AS n FROM timeline").n[0]
        == case.sql("SELECT count(*) AS n FROM timeline_rows").n[0]
    )
    # A rerun of the same engine and run replaces its findings; the case can move.
    write_findings(case.root, "sigma", findings_table([_finding(rows[0], "Account created")]))
    moved = Path(shutil.move(case.root, case.root.parent / "moved"))
    again = Case.open(moved)
    found = again.sql("SELECT rule_title, level, techniques FROM findings")
    assert (found.rule_title.tolist(), found.level.tolist(), list(found.techniques[0])) == (
        ["Account created"], ["high"], ["T1136.001"],
    )  # fmt: skip
    assert list(again.sql("SELECT tags FROM timeline WHERE len(tags) > 0").tags[0]) == ["Account created"]
