"""A case in a notebook: its rich display (folder, evidence, counts; every value escaped) and
``Case.findings``, most severe first, on the sample case's workstation evidence and intel."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pytest

from forensics import Case
from forensics.demo import SAMPLE
from forensics.detect.findings import LEVELS, findings_query
from forensics.detect.intel import detect_intel
from forensics.detect.yara import detect_yara
from forensics.samples import story

INTEL = SAMPLE / "intel"


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Case:
    case = Case.open(tmp_path_factory.mktemp("display") / "case")
    case.ingest([SAMPLE / "WS01"], jobs=2)
    detect_intel(case, [INTEL / "iocs.csv", INTEL / "msupdate.stix2.json"])
    detect_yara(case, [INTEL / "msupdate.yar"])
    return case


def _cells(html: str) -> list[list[str]]:
    return [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", html)]


def test_case_html_shows_folder_evidence_and_counts(case: Case) -> None:
    html = case._repr_html_()
    assert html.startswith('<div class="tracehound-case">') and "<script" not in html
    assert f"<code>{case.root}</code>" in html
    rows = [r for r in _cells(html) if r]
    evidence = {r[0]: r[1:] for r in rows if len(r) == 5}
    sysmon = hashlib.sha256(
        (SAMPLE / "WS01" / "Microsoft-Windows-Sysmon%4Operational.evtx").read_bytes()
    ).hexdigest()[:12]
    assert evidence["Microsoft-Windows-Sysmon%4Operational.evtx"] == ["windows_evtx", "ok", "5479", sysmon]
    assert evidence["Security.evtx"][:3] == ["windows_evtx", "ok", "566"]
    assert evidence["msupdate.exe"][:3] == ["", "unrecognised", "0"]  # kept for YARA, not a log
    assert len(evidence) == 6
    counts = {r[0]: int(r[1]) for r in rows if len(r) == 2}
    assert counts["windows_evtx"] == 6656
    by_level = case.sql("SELECT level, count(*) AS n FROM findings GROUP BY 1")
    assert {k: counts[k] for k in by_level.level} == dict(zip(by_level.level, by_level.n, strict=True))
    assert counts["high"] == 2  # YARA: the invoice and the implant the responders kept
    assert html.index("<td>high</td>") < html.index("<td>medium</td>")  # most severe first
    total = sum(counts[k] for k in by_level.level)
    assert (
        f"6 evidence, {sum(counts[s] for s in ('windows_evtx', 'yara')):,} rows, {total:,} findings" in html
    )


def test_case_html_escapes_what_the_evidence_names(tmp_path: Path) -> None:
    """File names come from the evidence: markup in them is shown as text, never as markup."""
    name = '"><img src=x onerror=alert(1)>&.evtx'
    (tmp_path / "ev").mkdir()
    shutil.copy(SAMPLE / "WS01" / "System.evtx", tmp_path / "ev" / name)
    case = Case.open(tmp_path / "case")
    case.ingest([tmp_path / "ev"], jobs=1)
    html = case._repr_html_()
    assert "<img" not in html and "onerror=alert(1)>&" not in html
    shown = "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;&amp;.evtx"
    assert _cells(html)[1][:4] == [shown, "windows_evtx", "ok", "419"]


def test_empty_case_html(tmp_path: Path) -> None:
    html = Case.open(tmp_path / "empty")._repr_html_()
    assert "0 evidence, 0 rows, 0 findings" in html and "no evidence yet" in html


def test_findings_most_severe_first(case: Case) -> None:
    found = case.findings()
    assert len(found) == case.sql("SELECT count(*) AS n FROM findings").n[0]
    ranks = [LEVELS.index(level) for level in found.level]
    assert ranks == sorted(ranks, reverse=True)
    high = found[found.level == "high"]
    assert list(high.engine) == ["yara", "yara"]
    assert {Path(p).name for p in high.file_path} == {"invoice.docm", "msupdate.exe"}
    medium = found[found.level == "medium"]
    assert list(medium.datetime) == sorted(medium.datetime)  # then in time order
    first_ioc = medium.iloc[0]
    assert (first_ioc.engine, first_ioc.host_name) == ("ioc", story.WS01.fqdn)
    assert first_ioc.rule_title == f"IOC domain {story.LOOKALIKE} (Example CERT feed)"
    assert first_ioc.datetime == story.attack_time("S03").replace(microsecond=964000)  # the script block
    assert list(found.columns[:5]) == ["datetime", "level", "engine", "rule_title", "host_name"]
    assert len(case.findings(min_level="high")) == 2
    assert set(case.findings(engine="ioc").engine) == {"ioc"}
    assert len(case.findings(limit=3)) == 3


def test_findings_query_refuses_unknown_columns_and_levels() -> None:
    with pytest.raises(ValueError, match="unknown findings columns"):
        findings_query(["level; DROP TABLE manifest"])
    with pytest.raises(ValueError, match="unknown level"):
        findings_query(min_level="severe")
