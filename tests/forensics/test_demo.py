"""The demo evidence: deterministic, committed as generated, and it tells its story."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from forensics import Case
from forensics.demo import SAMPLE, demo_events, main
from forensics.writers.evtx import write_evtx


def test_demo_evtx_is_byte_identical_to_a_fresh_write(tmp_path: Path) -> None:
    fresh = tmp_path / "demo.evtx"
    write_evtx(fresh, demo_events())
    assert fresh.read_bytes() == SAMPLE.read_bytes()


def test_demo_runs_and_finds_the_encoded_powershell(tmp_path: Path) -> None:
    assert main(["--case", str(tmp_path / "case")]) == 0
    case = Case.open(tmp_path / "case")
    assert case.sql("SELECT count(*) AS n FROM timeline").n[0] == 186
    ps = case.timeline(code=1, grep="-enc")
    assert len(ps) == 1
    assert ps.datetime[0] == datetime(2024, 5, 14, 10, 14, 7, 250000, tzinfo=UTC)
    assert ps.process_parent_executable[0].endswith("WINWORD.EXE")
    assert (ps.process_pid[0], ps.process_parent_pid[0], ps.user_name[0]) == (6240, 6112, "alice")
    net = case.timeline(code=3)
    assert (net.destination_ip[0], net.destination_port[0], net.network_protocol[0]) == (
        "203.0.113.45",
        80,
        "tcp",
    )
