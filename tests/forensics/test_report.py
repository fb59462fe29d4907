"""The post-incident report on the sample case: what it states, that every fact cites its
evidence, and that attacker-controlled text is inert in a real browser (headless Chromium)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from forensics import Case
from forensics.cli import main as cli
from forensics.demo import SAMPLE
from forensics.report import build_report, gather, summary_lines
from forensics.samples import payloads, story
from tests.browser import open_page, require_chromium


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Case:
    case = Case.open(tmp_path_factory.mktemp("report") / "case")
    case.ingest([SAMPLE / "WS01", SAMPLE / "SRV01", SAMPLE / "network"], jobs=2)
    sigma = [corpus / "sigma/rules/windows/process_access", corpus / "sigma/rules/windows/builtin/security"]
    args = ["detect", "--case", str(case.root), "--intel", str(SAMPLE / "intel"), "--sigma", *map(str, sigma)]
    assert cli([*args, "--yara", str(SAMPLE / "intel" / "msupdate.yar")]) == 0
    return case


@pytest.fixture(scope="module")
def html(case: Case, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_report(case, tmp_path_factory.mktemp("out") / "report.html")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_report_is_inert_in_a_browser(html: Path) -> None:
    """Planted markup shows as text: no script parsed, nothing requested but the file itself."""
    require_chromium()
    page = open_page(html)
    assert page.scripts == [] and page.dialogs == [] and page.exceptions == [] and page.console == []
    assert [url for url in page.requests if not url.startswith("data:image/svg+xml;base64,")] == [
        html.as_uri()
    ]
    assert len(page.requests) == 4  # the document and its three embedded figures
    assert page.title == "Incident report: case case"
    for planted in payloads.PLANTED:
        assert planted in page.text  # shown as the attacker wrote it, not as markup
    assert "<script" not in page.html.split("<body", 1)[1]
    assert "192.0.2.1" not in " ".join(page.requests + page.blocked)


def test_summary_states_the_root_cause_with_its_evidence(case: Case) -> None:
    report = gather(case)
    sysmon = SAMPLE / "WS01" / "Microsoft-Windows-Sysmon%4Operational.evtx"
    root = next(s for s in report.summary if s.text.startswith("Root cause"))
    assert root.text.startswith(
        f"Root cause: at 2026-03-10T09:12:04Z on ws01, OUTLOOK.EXE created invoice.docm ({story.ATTACHMENT})"
    )
    (ref,) = root.refs
    assert (ref.file_name, ref.where, ref.evidence_sha256) == (sysmon.name, "record 4286", _sha256(sysmon))
    crossing = next(s for s in report.summary if s.text.startswith("From there"))
    assert "reached srv01 at 2026-03-10T11:05:06Z" in crossing.text and "logged on bob@srv01" in crossing.text
    assert summary_lines(report) == [
        "root cause:     2026-03-10T09:12:04Z ws01 OUTLOOK.EXE created invoice.docm",
        "hosts affected: srv01 (reached by the attacker), ws01 (entry point)",
        "findings:       " + ", ".join(f"{n} {lv}" for lv, n in report.levels.items() if n),
    ]
    counted = dict(case.sql("SELECT level, count(*) AS n FROM findings GROUP BY 1").itertuples(index=False))
    assert {lv: n for lv, n in report.levels.items() if n} == counted
    assert len(report.chain_rows) == 28 and sum(e.kind == "chain step" for e in report.events) == 28
    per_host = case.sql("SELECT lower(split_part(host_name, '.', 1)) AS host, count(*) AS n FROM findings "
                        "WHERE host_name IS NOT NULL GROUP BY 1")  # fmt: skip
    assert {h.name: sum(h.findings.values()) for h in report.hosts} == dict(per_host.itertuples(index=False))
    tactics = {tactic: (rules, techniques) for tactic, _, rules, techniques in report.tactics}
    assert tactics["initial-access"] == (1, ["T1566.001"])  # the dropper's YARA rule names its techniques
    assert "T1003.001" in tactics["credential-access"][1]


def test_scope_lists_every_evidence_item_with_its_hash(case: Case) -> None:
    report = gather(case)
    files = sorted(
        p for name in ("WS01", "SRV01", "network") for p in (SAMPLE / name).rglob("*") if p.is_file()
    )
    assert sorted((e.name, e.sha256, e.size) for e in report.evidence) == sorted(
        (p.name, _sha256(p), p.stat().st_size) for p in files
    )
    assert {e.records for e in report.evidence if e.name == "lan-tap.pcapng"} == {6959}


def test_every_reference_resolves_to_a_row_of_the_appendix(html: Path, case: Case) -> None:
    text = html.read_text(encoding="utf-8")
    cited = set(re.findall(r'href="#(E\d+)"', text))
    listed = re.findall(r'<tr id="(E\d+)"><td>E\d+</td><td class="text">([^<]*)</td><td class="text">([^<]*)</td>'
                        r"<td>([^<]*)</td><td>[^<]*</td><td[^>]*>[^<]*</td><td class=\"hash\">([0-9a-f]{64})</td>",
                        text)  # fmt: skip
    assert cited and cited == {row[0] for row in listed}
    hashes = set(case.sql("SELECT sha256 FROM manifest").sha256)
    assert {row[4] for row in listed} <= hashes
    assert ("lan-tap.pcapng", "packet") in {(row[1], row[3].split()[0]) for row in listed}


def test_actions_follow_from_what_was_found(case: Case) -> None:
    actions = gather(case).actions
    texts = {phase: " | ".join(s.text for s in said) for phase, said in actions.items()}
    assert "Isolate ws01" in texts["containment"] and "Isolate srv01" in texts["containment"]
    assert (
        story.C2.ip in texts["containment"]
        and "Credentials were read from LSASS on ws01" in texts["containment"]
    )
    assert f"Remove the autostart value {story.RUN_KEY}" in texts["eradication"]
    assert f"Delete the scheduled task {story.TASK_NAME[1:]} on ws01" in texts["eradication"]
    assert "Restore bob's crontab on srv01" in texts["eradication"]
    assert "192.0.2.77: 11,576 B over 1 connection" in texts["recovery"]
    assert "mail attachment (invoice.docm)" in texts["lessons learned"]
    assert all(s.refs for phase in ("eradication", "recovery") for s in actions[phase])


def test_markdown_escapes_markup_and_keeps_its_tables(case: Case, tmp_path: Path) -> None:
    out = build_report(case, tmp_path / "report.md")
    text = out.read_text(encoding="utf-8")
    for planted in payloads.PLANTED:
        assert planted not in text
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in text
    for name in ("activity", "chain", "tactics"):
        assert (
            f"](report_files/{name}.svg)" in text
            and (tmp_path / "report_files" / f"{name}.svg").stat().st_size
        )
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    cells = [len(re.findall(r"(?<!\\)\|", line)) for line in rows]
    header = {line: n for line, n in zip(rows, cells, strict=True) if line.startswith("| time (UTC) | host")}
    assert header and all(n in (7, 9, 11, 8, 10) for n in cells)


def test_pdf_and_the_cli(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli(["report", "--case", str(case.root), "--out", str(tmp_path / "r.pdf")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"report:         {tmp_path / 'r.pdf'}"
    assert lines[1] == "root cause:     2026-03-10T09:12:04Z ws01 OUTLOOK.EXE created invoice.docm"
    pdf = PdfReader(tmp_path / "r.pdf")
    text = "".join("".join(page.extract_text().split()) for page in pdf.pages)  # without line breaks
    assert len(pdf.pages) >= 5 and "Executivesummary" in text and "OUTLOOK.EXEcreatedinvoice.docm" in text
    assert "".join(payloads.PLANTED[0].split()) in text  # the planted markup, printed as text


def test_a_case_without_findings_still_reports(tmp_path: Path) -> None:
    case = Case.open(tmp_path / "case")
    case.ingest([SAMPLE / "network"])
    report = gather(case)
    assert report.summary[0].text.startswith("No attack chain was reconstructed")
    assert report.events == [] and report.findings == []
    assert "No findings" in build_report(case, tmp_path / "r.html").read_text(encoding="utf-8")
