"""Batch triage over the sample case's three evidence folders (and one that does not exist): each
item its own case, summaries sorted by score, a broken item recorded and the batch going on, a
rerun skipping what is done, and a run killed mid-way resumed without losing or doubling rows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from forensics import Case
from forensics.triage import Detections, summaries, triage
from forensics.triage.item import DONE, item_key
from forensics.triage.stacking import stack

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "case01"
ITEMS = [SAMPLE / "WS01", SAMPLE / "SRV01", SAMPLE / "network"]
INTEL = Detections(intel=(str(SAMPLE / "intel"),))


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("triage") / "batch"
    report = triage([*ITEMS, root.parent / "missing"], root, workers=2, detections=INTEL)
    assert sorted((Path(i.path).name, i.status, i.reason) for i in report.items) == [
        ("SRV01", "done", ""), ("WS01", "done", ""), ("missing", "failed", "no such file or folder"), ("network", "done", ""),
    ]  # fmt: skip
    return root


def test_hosts_sorted_by_score_with_their_evidence_and_hits(batch: Path) -> None:
    found = summaries(batch)
    assert [(s["host"], s["os"], s["rows"], s["ioc_hits"]) for s in found] == [
        ("network", "network", 6959, 418),
        ("WS01.corp.example.com", "windows", 6656, 366),
        ("srv01", "linux", 6102, 2),
    ]
    ws01 = found[1]
    assert ws01["first_malicious"] == "2026-03-10T09:12:31.964000Z"  # S03's script block names the domain
    assert ws01["by_source"] == {"windows_evtx": 6656}
    assert [e["path"].rsplit("/", 1)[-1] for e in ws01["evidence"]][:2] == [
        "Microsoft-Windows-PowerShell%4Operational.evtx", "Microsoft-Windows-Sysmon%4Operational.evtx",
    ]  # fmt: skip
    assert found[0]["score"] > found[1]["score"] > found[2]["score"] > 0


def test_rerun_skips_finished_items(batch: Path) -> None:
    stamps = {p: p.stat().st_mtime_ns for p in batch.glob(f"items/*/{DONE}")}
    report = triage(ITEMS, batch, workers=2, detections=INTEL)
    assert {i.status for i in report.items} == {"done"}
    assert {i.reason for i in report.items} == {"already triaged"}
    assert {p: p.stat().st_mtime_ns for p in batch.glob(f"items/*/{DONE}")} == stamps  # nothing rewritten


def test_an_item_over_its_time_limit_is_retried_once_then_recorded(tmp_path: Path) -> None:
    """The capture takes seconds to ingest: with a 0.3 s limit both attempts are stopped, the
    item is recorded as failed with the reason, and nothing of it counts as done."""
    report = triage([SAMPLE / "network"], tmp_path / "batch", workers=1, time_limit=0.3)
    (item,) = report.items
    assert (item.status, item.reason) == ("failed", "stopped after the time limit of 0.3 s")
    assert not (tmp_path / "batch" / "items" / item_key(SAMPLE / "network") / DONE).exists()


def test_killed_run_resumes_without_losing_or_doubling(tmp_path: Path) -> None:
    """kill -9 of the main process once the first item is finished; the same command again
    finishes the rest, and every item's case holds exactly the rows of an uninterrupted run."""
    root = tmp_path / "batch"
    code = "import sys; from forensics.triage import triage; triage(sys.argv[2:], sys.argv[1], workers=1)"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    run = subprocess.Popen(
        [sys.executable, "-c", code, str(root), *map(str, ITEMS)], env=env, start_new_session=True
    )
    deadline = time.time() + 120
    while time.time() < deadline and not list(root.glob(f"items/*/{DONE}")):
        time.sleep(0.2)
    os.killpg(run.pid, signal.SIGKILL)  # the main process and the item's worker with it
    run.wait()
    finished = {p.parent.name for p in root.glob(f"items/*/{DONE}")}
    assert 1 <= len(finished) < len(ITEMS)
    report = triage(ITEMS, root, workers=2)
    assert {i.key for i in report.items if i.reason == "already triaged"} == finished
    assert {i.status for i in report.items} == {"done"}
    rows = {
        Path(s["item"]).name: Case.open(root / "items" / item_key(s["item"]))
        .sql("SELECT count(*) AS n FROM timeline")
        .n[0]
        for s in summaries(root)
    }
    assert rows == {"WS01": 6656, "SRV01": 6102, "network": 6959}
    assert json.loads((root / "triage.json").read_text())[0]["status"] == "done"


def test_cli_prints_hosts_and_writes_the_csv(batch: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from forensics.cli import main as cli

    assert cli(["triage", *map(str, ITEMS), "--case", str(batch), "--format", "jsonl"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["host"], r["ioc_hits"]) for r in lines] == [
        ("network", 418),
        ("WS01.corp.example.com", 366),
        ("srv01", 2),
    ]
    header = (batch / "triage.csv").read_text().splitlines()[0]
    assert header.startswith('"score","host","os","rows","high","medium","ioc_hits"')


def test_stacking_puts_the_persistence_among_the_rarest(batch: Path) -> None:
    """One host each: persistence is rare by nature; the sample's three mechanisms are there with
    the host each is on (S07 Run key, S08 scheduled task, S13 crontab)."""
    rows = stack(batch)
    found = {(r["category"], r["value"]): r["hosts"] for r in rows}
    assert found[("autoruns", "crontab of bob")] == ["srv01"]
    assert found[("scheduled_tasks", "c:\\windows\\system32\\tasks\\microsoftedgeupdatetaskcore")] == [
        "WS01.corp.example.com"
    ]
    run_key = next(
        v
        for c, v in found
        if c == "autoruns"
        and v.endswith("\\run\\msupdate = C:\\Users\\alice\\AppData\\Roaming\\MsUpdate\\msupdate.exe")
    )
    assert found[("autoruns", run_key)] == ["WS01.corp.example.com"]
    assert rows[0]["host_count"] == 1 and rows == sorted(
        rows, key=lambda r: (r["host_count"], r["count"], r["category"], r["value"])
    )


def test_same_batch_on_a_dask_cluster(batch: Path, tmp_path: Path) -> None:
    """A real distributed LocalCluster with two worker processes runs the same tasks: the same
    hosts, rows and hits as the local run, and a rerun on the cluster skips them all."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        report = triage(ITEMS, tmp_path / "dask", detections=INTEL, scheduler=cluster.scheduler_address)
        assert {i.status for i in report.items} == {"done"}
        again = triage(ITEMS, tmp_path / "dask", detections=INTEL, scheduler=cluster.scheduler_address)
        assert {i.reason for i in again.items} == {"already triaged"}
    local = [(s["host"], s["rows"], s["ioc_hits"], s["score"]) for s in summaries(batch)]
    assert [(s["host"], s["rows"], s["ioc_hits"], s["score"]) for s in summaries(tmp_path / "dask")] == local


def test_frames_for_notebooks(batch: Path) -> None:
    from forensics.triage import stacking_frame, summary_frame

    hosts = summary_frame(batch)
    assert list(hosts.host) == ["network", "WS01.corp.example.com", "srv01"]
    assert list(hosts.ioc_hits) == [418, 366, 2] and int(hosts.critical.sum()) == 0
    stacked = stacking_frame(batch)
    assert list(stacked.columns[:3]) == ["category", "value", "hosts"]
    assert int(stacked.host_count.max()) == 1  # three items, each its own host
