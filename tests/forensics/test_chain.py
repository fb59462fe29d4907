"""The attack chain on the sample case, scored against its ground truth: every ground-truth step
is found (recall), every chain step is one (precision), and the root cause is the phishing
attachment saved by Outlook (S01), whether the chain starts from the strongest finding, from a
row, or from the CLI."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from forensics import Case
from forensics.cli import main as cli
from forensics.graph import Chain, ChainError, case_chain, clock
from forensics.graph.build import build_graph, collect, describe
from forensics.graph.figure import chain_figure, links

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "case01"


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Case:
    case = Case.open(tmp_path_factory.mktemp("chain") / "case")
    case.ingest([SAMPLE / "WS01", SAMPLE / "SRV01", SAMPLE / "network"], jobs=2)
    from forensics.detect.sigma import detect_sigma

    detect_sigma(
        case, [corpus / "sigma/rules/windows/process_access", corpus / "sigma/rules/windows/builtin/security"]
    )
    return case


@pytest.fixture(scope="module")
def truth() -> dict[str, Any]:
    return json.loads((SAMPLE / "ground_truth.json").read_text(encoding="utf-8"))


def _locator(evidence: dict[str, Any]) -> tuple[str, int | None]:
    """A ground-truth evidence row as (file, record): EVTX record, capture packet, log line."""
    where = evidence["locator"]
    artifact = evidence["artifact"].rsplit("/", 1)[-1]
    if "record_id" in where:
        return artifact, where["record_id"]
    if "packet" in where:
        return artifact, where["packet"]
    return where["path"], where.get("line", where.get("record"))


def _row(evidence: dict[str, Any]) -> tuple[str, int | None]:
    """A chain step's evidence row the same way: evidence files by name, files in an image by path."""
    name = evidence["source_file"] or ""
    if name.endswith((".evtx", ".pcapng")):
        name = name.rsplit("/", 1)[-1]
    return name, evidence["source_record"]


def score(chain: Chain, truth: dict[str, Any]) -> tuple[float, float, list[str]]:
    """(precision, recall, ground-truth steps missed): a chain step is right when one of its
    evidence rows is one of a ground-truth step's."""
    steps = {s["id"]: {_locator(e) for e in s["evidence"]} for s in truth["steps"]}
    found: set[str] = set()
    right = 0
    for step in chain.steps:
        ids = {sid for sid, rows in steps.items() if any(_row(e) in rows for e in step.evidence)}
        right += bool(ids)
        found |= ids
    return right / len(chain.steps), len(found) / len(steps), sorted(set(steps) - found)


def test_auto_chain_finds_every_step_and_the_root_cause(case: Case, truth: dict[str, Any]) -> None:
    chain = case_chain(case, auto=True)
    assert chain.point_of_interest["rule_title"] == "Lsass Memory Dump via Comsvcs DLL"
    precision, recall, missed = score(chain, truth)
    assert (precision, recall, missed) == (1.0, 1.0, [])
    assert len(chain.steps) == 28  # one screen
    script = next(s for s in chain.steps if s.action == "ran script")
    assert (script.actor, [e["source_record"] for e in script.evidence]) == ("powershell.exe", [167])
    assert script.object.startswith("script $u='http://micros0ft-cdn.example.net/dl/msupdate.exe'")
    wire = next(s for s in chain.steps if s.action == "requested")  # the download, as the capture saw it
    assert [e["source_record"] for e in wire.evidence] == [5681, 5682]
    assert wire.object == "http://micros0ft-cdn.example.net/dl/msupdate.exe, sha256 b537681e7f73"
    cron = next(s for s in chain.steps if s.actor == "bob's crontab")
    assert (cron.action, cron.object, cron.count, cron.time) == (
        "ran",
        ".sysupd",
        17,
        "2026-03-10T11:10:01.000000Z",
    )
    opened = next(s for s in chain.steps if s.object == "WINWORD.EXE")
    assert (opened.actor, opened.action) == ("OUTLOOK.EXE", "spawned")
    assert opened.text.endswith("(opening invoice.docm)")
    root = chain.root_cause
    assert root is not None
    assert (root.time, root.host, root.actor, root.action) == (
        truth["root_cause"]["time"],
        "ws01",
        "OUTLOOK.EXE",
        "created",
    )
    assert [_row(e) for e in root.evidence] == [("Microsoft-Windows-Sysmon%4Operational.evtx", 4286)]
    assert root.evidence[0]["evidence_id"] == next(
        a["sha256"] for a in truth["artifacts"] if a["artifact"].endswith("Sysmon%4Operational.evtx")
    )
    assert chain.impact["hosts"] == ["srv01", "ws01"]
    assert chain.impact["remote_addresses"] == ["192.0.2.77", "198.51.100.23", "203.0.113.66"]
    assert chain.impact["sent_out"] == [  # the capture's bytes from client to server, per destination
        "198.51.100.23: 47,887 B over 46 connections",
        "192.0.2.77: 11,576 B over 1 connection",
        "203.0.113.66: 296 B over 2 connections",
    ]
    assert "/tmp/.cache.tgz" in chain.impact["files"]
    beacon = next(s for s in chain.steps if s.action == "connected" and s.object == "198.51.100.23")
    assert beacon.count == 58  # the beacon's connections, one step
    lsass = next(s for s in chain.steps if s.action == "accessed")
    assert lsass.techniques == ["T1003.001"]
    stored = json.loads((case.root / "chains" / "latest.json").read_text())
    assert stored["root_cause"]["evidence"][0]["source_record"] == 4286


def test_chain_crosses_hosts_through_the_ssh_flow(case: Case) -> None:
    chain = case_chain(case, row="/home/bob/.bash_history:8")
    logon = next(s for s in chain.steps if s.action == "logged on")
    assert (logon.host, logon.object, logon.time) == ("srv01", "bob@srv01", "2026-03-10T11:05:06.000000Z")
    assert [e["source_file"] for e in logon.evidence] == ["/var/log/auth.log"]
    exfil = next(s for s in chain.steps if "http://files.example.org/upload" in s.object)
    assert exfil.time == "2026-03-10T11:14:22.523433Z"  # placed by the capture's HTTP POST
    assert [e["source_record"] for e in exfil.evidence] == [8, 9]
    assert chain.root_cause is not None and chain.root_cause.actor == "OUTLOOK.EXE"


def test_a_row_without_causal_links_gets_a_plain_answer(case: Case) -> None:
    chain = case_chain(case, row="Security.evtx:1")  # the log cleared: no process named
    assert (chain.root_cause, chain.steps) == (None, [])
    assert chain.answer == "no causal links in the evidence for this row"


def test_unknown_points_of_interest_are_refused(case: Case) -> None:
    with pytest.raises(ChainError, match="no row windows_evtx:999999"):
        case_chain(case, row="windows_evtx:999999")
    with pytest.raises(ChainError, match="no finding"):
        case_chain(case, finding_id="ffffffff")


def test_cli_prints_the_chain_as_json(case: Case, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["chain", "--case", str(case.root), "--auto", "--format", "json", "--name", "cli"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["root_cause"]["object"] == "invoice.docm"
    assert out["steps"][-1]["object"] == "wevtutil.exe"
    assert (case.root / "chains" / "cli.json").exists()


def test_a_row_named_by_source_alone_must_be_unambiguous(case: Case) -> None:
    """Every history file in the image has a line 8: the file has to be named."""
    with pytest.raises(ChainError, match=r"shell_history:8 names \d+ rows .*\.bash_history"):
        case_chain(case, row="shell_history:8")


def test_a_host_clock_off_the_capture_is_measured_and_corrected(case: Case) -> None:
    """WS01's clock agrees with the capture in the sample (0 s over the 48 connections both saw).
    With WS01's events 95 s fast, the offset is measured on the same flows and taken off."""
    chain = case_chain(case, auto=True)
    assert chain.clock == [
        "ws01: 0.000 s ahead of the capture over 48 flows (within tolerance, not corrected)"
    ]
    found = collect(case)
    fast = [e._replace(time=e.time + 95_000_000) if e.host == "ws01" else e for e in found.host_edges]
    measured = clock.offsets(fast, found.flows.started)
    assert [(o.host, o.offset_us, o.flows, o.applied) for o in measured] == [("ws01", 95_000_000, 48, True)]
    assert measured[0].describe() == "ws01: 95.000 s ahead of the capture over 48 flows (corrected)"
    assert clock.correct(fast, measured) == found.host_edges


def test_figure_puts_hosts_in_lanes_and_links_the_move_across(case: Case, tmp_path: Path) -> None:
    chain = case_chain(case, auto=True)
    out = chain_figure(chain, tmp_path / "chain.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000
    crossing = [
        (a.host, b.host, a.action, b.action) for (_, a), (_, b) in links(chain.steps) if a.host != b.host
    ]
    assert ("ws01", "srv01", "connected", "logged on") in crossing  # ssh.exe's flow carried bob's logon
    assert ("ws01", "net", "connected", "requested") in crossing  # the download seen on the wire
    assert cli(["chain", "--case", str(case.root), "--auto", "--figure", str(tmp_path / "c.svg")]) == 0
    assert (tmp_path / "c.svg").read_text().startswith("<?xml")


def test_the_download_on_the_wire_is_joined_to_the_process_running_it(case: Case) -> None:
    """The capture's files row (sha256 of the HTTP body) and WS01's Sysmon process creation of
    msupdate.exe (its image's SHA256) name the same bytes: the graph joins them."""
    graph = build_graph(case)
    sha = "b537681e7f73e7f645488479bf0d1e7d0293d82e39e0a3a3ab38779624e87fef"
    into = [
        (describe(graph, d).label, e["edge"].source_record)
        for _, d, e in graph.out_edges(f"hash:{sha}", data=True)
    ]
    assert into == [("msupdate.exe", 4293)]
    carried = [
        (e["edge"].source, e["edge"].source_record) for _, _, e in graph.in_edges(f"hash:{sha}", data=True)
    ]
    assert carried == [("network_files", 5682)]


def test_notebook_view_is_svg_with_each_steps_evidence_on_hover(case: Case) -> None:
    chain = case_chain(case, auto=True)
    svg = ET.fromstring(chain._repr_html_())
    ns = "{http://www.w3.org/2000/svg}"
    assert len(svg.findall(f".//{ns}circle")) == len(chain.steps)
    titles = [t.text or "" for t in svg.findall(f".//{ns}title")]
    lsass = next(t for t in titles if "accessed lsass.exe" in t)
    assert "ATT&CK: T1003.001" in lsass
    sysmon = hashlib.sha256((SAMPLE / "WS01" / "Microsoft-Windows-Sysmon%4Operational.evtx").read_bytes())
    assert f"Microsoft-Windows-Sysmon%4Operational.evtx #4703 ({sysmon.hexdigest()[:12]})" in lsass
    assert [t.text for t in svg.findall(f"./{ns}text")][:2] == ["ws01", "srv01"]


def test_chain_from_one_finding_by_id_prefix(case: Case) -> None:
    lsass = case.sql("SELECT finding_id FROM findings WHERE rule_title = 'Lsass Memory Dump via Comsvcs DLL'")
    finding = str(lsass.finding_id[0])
    chain = case_chain(case, finding_id=finding[:10], name="lsass")
    assert chain.point_of_interest["finding_id"] == finding
    assert "merged" not in chain.point_of_interest  # one finding: no merging
    assert chain.root_cause is not None and chain.root_cause.object == "invoice.docm"
    assert (
        json.loads((case.root / "chains" / "lsass.json").read_text())["point_of_interest"]["finding_id"]
        == finding
    )


def test_chain_as_a_table(case: Case) -> None:
    steps = case_chain(case, auto=True).frame()
    assert len(steps) == 28 and list(steps.columns[:5]) == ["time", "host", "actor", "action", "object"]
    first = steps.iloc[0]
    assert (first.time, first.actor, first.action, first.object) == (
        "2026-03-10T09:12:04.318000Z", "OUTLOOK.EXE", "created", "invoice.docm",
    )  # fmt: skip
    assert first.evidence == "Microsoft-Windows-Sysmon%4Operational.evtx #4286"
    lsass = steps[steps.object == "lsass.exe"].iloc[0]
    assert (lsass.actor, lsass.techniques) == ("rundll32.exe", "T1003.001")
