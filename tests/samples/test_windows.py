"""WS01's generated event logs: readable by both EVTX backends, consistent, as the story says."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path

import pytest

from forensics.samples import payloads, story, windows
from forensics.samples.truth import ArtifactReport
from forensics.timeutil import parse_iso
from parsers.base import Options
from parsers.evtx import EvtxParser
from tests.parsers.evtx_helpers import parse_file

PARSER = EvtxParser()


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[ArtifactReport]]:
    out = tmp_path_factory.mktemp("case")
    return out, windows.generate(out, story.attack(1), 1)


def _rows(out: Path, log: str, backend: str = "rust") -> list[dict]:
    rows, found = parse_file(PARSER, out / windows.LOGS[log], Options(evtx_backend=backend))
    assert found == []
    return rows


def _fields(row: dict) -> dict[str, str]:
    return dict(row["fields"])


@pytest.mark.parametrize("log", sorted(windows.LOGS))
def test_both_backends_read_identical_values(generated: tuple[Path, list[ArtifactReport]], log: str) -> None:
    """python-evtx converts FILETIME through a float, so times may differ by 1-2 us; all else is equal."""
    out, reports = generated
    rust, reference = _rows(out, log), _rows(out, log, "python-evtx")
    expected = next(r.events for r in reports if r.artifact == windows.LOGS[log])
    assert len(rust) == len(reference) == expected
    for a, b in zip(rust, reference, strict=True):
        assert abs(a["datetime"] - b["datetime"]) <= timedelta(microseconds=2)
        fa, fb = _fields(a), _fields(b)
        assert fa == fb, [(k, fa.get(k), fb.get(k)) for k in fa.keys() | fb.keys() if fa.get(k) != fb.get(k)]
        assert {k: v for k, v in a.items() if k not in ("datetime", "fields")} == {
            k: v for k, v in b.items() if k not in ("datetime", "fields")
        }


def test_counts_and_noise(generated: tuple[Path, list[ArtifactReport]]) -> None:
    _, reports = generated
    counts = {r.artifact.split("/")[-1]: (r.events, r.malicious) for r in reports}
    assert counts == {
        "Microsoft-Windows-Sysmon%4Operational.evtx": (5479, 82),
        "Security.evtx": (566, 3),
        "Microsoft-Windows-PowerShell%4Operational.evtx": (192, 1),
        "System.evtx": (419, 0),
    }
    events, malicious = sum(r.events for r in reports), sum(r.malicious for r in reports)
    assert events - malicious >= 50 * malicious


def test_every_ref_is_the_record_it_names(generated: tuple[Path, list[ArtifactReport]]) -> None:
    out, reports = generated
    for report in reports:
        log = next(k for k, v in windows.LOGS.items() if v == report.artifact)
        by_id = {r["source_record"]: r for r in _rows(out, log)}
        for ref in report.refs:
            row = by_id[ref.locator["record_id"]]
            assert row["event_code"] == str(ref.locator["event_id"])
            assert row["datetime"] == ref.time
    steps = {ref.step for report in reports for ref in report.refs}
    assert steps == {f"S{i:02d}" for i in (*range(1, 12), 17)}


def test_the_malicious_process_tree(generated: tuple[Path, list[ArtifactReport]]) -> None:
    out, _ = generated
    created = [r for r in _rows(out, "sysmon") if r["event_code"] == "1"]
    by_image = {r["process_executable"]: r for r in created if r["process_executable"].endswith("powershell.exe")
                and "-enc" in r["process_command_line"]}  # fmt: skip
    (ps,) = by_image.values()
    assert (
        ps["process_parent_executable"] == "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE"
    )
    assert ps["process_command_line"] == f"powershell.exe -nop -w hidden -enc {payloads.encoded_command()}"
    assert ps["datetime"] == story.attack_time("S03")
    assert ps["user_name"] == "alice" and ps["user_domain"] == "CORP"
    implant = next(r for r in created if r["process_executable"] == story.PAYLOAD_PATH)
    assert implant["process_parent_guid"] == ps["process_guid"]
    assert implant["file_hash_sha256"] == story.sha256(payloads.payload())
    dump = next(r for r in created if "comsvcs.dll, MiniDump" in (r["process_command_line"] or ""))
    assert dump["process_parent_guid"] == implant["process_guid"]
    assert dump["datetime"] == story.attack_time("S10")
    # Every parent is a process the log saw start, or one of the two services roots.
    guids = {r["process_guid"] for r in created}
    roots = {r["process_parent_guid"] for r in created} - guids
    assert len(roots) == 2
    assert {r["process_parent_executable"] for r in created if r["process_parent_guid"] in roots} == {
        "C:\\Windows\\System32\\services.exe",
        "C:\\Windows\\System32\\svchost.exe",
    }


def test_lsass_access_and_beacons(generated: tuple[Path, list[ArtifactReport]]) -> None:
    out, _ = generated
    rows = _rows(out, "sysmon")
    access = [r for r in rows if r["event_code"] == "10" and _fields(r)["GrantedAccess"] == "0x1fffff"]
    assert [(r["datetime"], r["process_executable"]) for r in access] == [
        (story.attack_time("S10") + timedelta(milliseconds=63), "C:\\Windows\\System32\\rundll32.exe")
    ]
    plan = story.attack(1)
    beacons = [r for r in rows if r["event_code"] == "3" and r["destination_ip"] == story.C2.ip]
    expected = [(c.time, c.sport) for c in plan.connections if c.step == "S09"]
    assert [(r["datetime"], r["source_port"]) for r in beacons] == expected
    assert len(expected) == 58
    gaps = [(b - a).total_seconds() for (a, _), (b, _) in itertools.pairwise(expected)]
    assert min(gaps) >= 225 and max(gaps) <= 375  # 300 s +- 25 % jitter


def test_security_log_starts_with_the_clear(generated: tuple[Path, list[ArtifactReport]]) -> None:
    out, _ = generated
    rows = _rows(out, "security")
    first = rows[0]
    assert (first["source_record"], first["event_code"], first["event_provider"]) == (
        1, "1102", "Microsoft-Windows-Eventlog",
    )  # fmt: skip
    assert first["datetime"] == story.attack_time("S17")
    assert _fields(first)["SubjectUserName"] == "alice"
    assert all(r["datetime"] >= first["datetime"] for r in rows)
    assert parse_iso("2026-03-10T11:20:33.760Z") == first["datetime"]
