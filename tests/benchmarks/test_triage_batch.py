"""The triage benchmark's batch: distinct hosts, the intrusion on exactly the chosen ones (no timings)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import triage_batch
from forensics.samples import story, windows


def test_generated_hosts_carry_their_names_and_only_the_chosen_ones_the_intrusion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(triage_batch, "CACHE", tmp_path)
    monkeypatch.setattr(triage_batch, "COMPROMISED", (2,))
    hosts = triage_batch.make_batch(hosts=3)
    assert [h.name for h in hosts] == ["WS-01", "WS-02", "WS-03"]
    assert sorted(p.name for p in hosts[0].iterdir()) == sorted(Path(n).name for n in windows.LOGS.values())
    sysmon = [(h / "Microsoft-Windows-Sysmon%4Operational.evtx").read_bytes() for h in hosts]
    marker = "msupdate.exe".encode("utf-16-le")
    assert [marker in data for data in sysmon] == [False, True, False]
    assert all(f"WS-0{i}.{story.DOMAIN}".encode("utf-16-le") in data for i, data in enumerate(sysmon, 1))
