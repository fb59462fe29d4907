"""``make demo``: it ingests the committed sample case and the intrusion is where the story says."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from forensics import Case
from forensics.demo import SAMPLE, _sigma, main
from forensics.graph import case_chain
from forensics.samples import payloads, story
from tests.forensics.test_chain import score


def test_demo_ingests_the_sample_case_and_finds_the_encoded_powershell(tmp_path: Path) -> None:
    assert main(["--case", str(tmp_path / "case")]) == 0
    case = Case.open(tmp_path / "case")
    by_source = dict(
        case.sql("SELECT source, count(*) AS n FROM timeline GROUP BY 1").itertuples(index=False)
    )
    assert by_source["windows_evtx"] == 6656
    ps = case.timeline(code=1, grep="-enc")
    assert len(ps) == 1
    assert ps.datetime[0] == story.attack_time("S03")
    assert ps.process_parent_executable[0].endswith("WINWORD.EXE")
    assert ps.process_command_line[0] == f"powershell.exe -nop -w hidden -enc {payloads.encoded_command()}"
    assert (ps.user_name[0], ps.host_name[0]) == ("alice", "WS01.corp.example.com")
    download = case.timeline(code=3, where=f"destination_ip = '{story.PAYLOAD_HOST.ip}'")
    assert (download.destination_port[0], download.network_protocol[0], download.process_executable[0]) == (
        80, "tcp", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    )  # fmt: skip


def test_demo_shows_the_server_side_in_utc(tmp_path: Path) -> None:
    """SRV01 logs in local time (CET); the timeline has the attacker's logon at its UTC time."""
    assert main(["--case", str(tmp_path / "case")]) == 0
    case = Case.open(tmp_path / "case")
    logon = case.timeline(host="srv01", where=f"event_action = 'ssh-login' AND source_ip = '{story.WS01.ip}'")
    assert len(logon) == 1
    assert logon.user_name[0] == "bob"
    assert logon.datetime[0] == (story.attack_time("S11") + story.SSH_AUTH_DELAY).replace(microsecond=0)
    assert logon.fields[0]["time_zone"] == "Europe/Berlin"


def test_demo_reads_the_lan_tap(tmp_path: Path) -> None:
    """The capture's download carries the payload the workstation saved, and the beacon ranks first."""
    assert main(["--case", str(tmp_path / "case")]) == 0
    case = Case.open(tmp_path / "case")
    payload = hashlib.sha256((SAMPLE / "WS01" / "files" / "msupdate.exe").read_bytes()).hexdigest()
    download = case.sql(
        "SELECT source_ip, destination_ip FROM timeline "
        f"WHERE source = 'network_files' AND file_hash_sha256 = '{payload}'"
    )
    assert list(download.itertuples(index=False, name=None)) == [(story.WS01.ip, story.PAYLOAD_HOST.ip)]
    best = case.beacons().iloc[0]
    assert (best.source_ip, best.destination_ip, best.connections) == (story.WS01.ip, story.C2.ip, 46)


def test_demo_ends_with_the_chain_back_to_the_phishing_attachment(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """From the demo's findings (intel, YARA, SigmaHQ's rules when the corpus is there) the chain
    starts at S01 and crosses to SRV01; the report follows, with its three-line summary."""
    assert main(["--case", str(tmp_path / "case")]) == 0
    last = capsys.readouterr().out.splitlines()[-4:]
    assert last[0] == f"report:         {tmp_path / 'case' / 'report.html'}"
    assert last[1:3] == [
        "root cause:     2026-03-10T09:12:04Z ws01 OUTLOOK.EXE created invoice.docm",
        "hosts affected: srv01 (reached by the attacker), ws01 (entry point)",
    ]
    assert last[3].startswith("findings:       ") and "high" in last[3]
    assert "OUTLOOK.EXE created invoice.docm" in (tmp_path / "case" / "report.html").read_text(
        encoding="utf-8"
    )
    chain = json.loads((tmp_path / "case" / "chains" / "latest.json").read_text())
    root = chain["root_cause"]
    assert (root["time"], root["actor"], root["action"], root["object"]) == (
        "2026-03-10T09:12:04.318000Z", "OUTLOOK.EXE", "created", "invoice.docm",
    )  # fmt: skip
    assert chain["impact"]["hosts"] == ["srv01", "ws01"]
    assert (tmp_path / "case" / "chains" / "latest.png").stat().st_size > 20_000
    scored = case_chain(Case.open(tmp_path / "case"), auto=True, name="scored")
    truth = json.loads((SAMPLE / "ground_truth.json").read_text())
    assert score(scored, truth) == (1.0, 1.0, [])  # every step, nothing else
    if _sigma():  # SigmaHQ's rules in the corpus: the strongest finding on a row is the LSASS dump
        assert scored.point_of_interest["rule_title"] == "Lsass Memory Dump via Comsvcs DLL"
    else:  # intel alone: the other IOC hits' chains share the first one's entities
        assert len(scored.point_of_interest["merged"]) == 11
