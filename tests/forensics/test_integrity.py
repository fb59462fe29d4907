"""Deferred hashing: provisional ids at ingest, the real sha256 recorded later, re-verification."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd

from forensics import Case
from forensics.cli import main as cli
from forensics.integrity import QUICK_BYTES, quick_id, sha256_file

SYSMON = "evtx/evtx-rs-samples/sysmon.evtx"


def _sha256(corpus: Path, relative: str) -> str:
    index = json.loads((corpus / "index.json").read_text())["files"]
    return next(e["sha256"] for e in index if e["path"] == relative)


def test_deferred_hash_then_recorded(corpus: Path, tmp_path: Path) -> None:
    evidence = tmp_path / "sysmon copy.evtx"
    shutil.copyfile(corpus / SYSMON, evidence)
    case = Case.open(tmp_path / "case")
    report = case.ingest([evidence], defer_hash=True)
    (result,) = report.files
    assert result.sha256 is None and result.evidence_id == quick_id(evidence)
    assert result.evidence_id.startswith("quick-") and result.records == 358
    row = case.manifest().iloc[0]
    assert row.evidence_id == result.evidence_id and pd.isna(row.sha256)
    assert set(case.timeline(columns=["evidence_id"]).evidence_id) == {result.evidence_id}

    again = case.ingest([evidence], defer_hash=True)
    assert [(f.status, f.reason) for f in again.files] == [("duplicate", "already ingested (same quick id)")]

    (hashed,) = case.hash_evidence()
    assert (hashed.status, hashed.sha256) == ("hashed", _sha256(corpus, SYSMON))
    assert case.manifest().iloc[0].sha256 == _sha256(corpus, SYSMON)
    assert case.hash_evidence() == []  # nothing deferred any more
    assert [r.status for r in case.hash_evidence(verify=True)] == ["verified"]


def test_verify_reports_changed_and_missing_evidence(corpus: Path, tmp_path: Path) -> None:
    kept, changed, gone = (tmp_path / n for n in ("kept.evtx", "changed.evtx", "gone.evtx"))
    for path, source in (
        (kept, SYSMON),
        (changed, "evtx/deepbluecli/metasploit-psexec-native-target-security.evtx"),
        (gone, SYSMON),
    ):
        shutil.copyfile(corpus / source, path)
    gone.write_bytes(gone.read_bytes()[:-65536])  # a different file from kept: its own evidence
    case = Case.open(tmp_path / "case")
    case.ingest([kept, changed, gone])
    with changed.open("ab") as fh:
        fh.write(b"\x00")
    gone.unlink()
    status = {Path(r.path).name: (r.status, r.reason) for r in case.hash_evidence(verify=True)}
    size = (corpus / "evtx/deepbluecli/metasploit-psexec-native-target-security.evtx").stat().st_size
    assert status == {
        "kept.evtx": ("verified", ""),
        "changed.evtx": ("changed", f"size is {size + 1:,} bytes, {size:,} at ingest"),
        "gone.evtx": ("missing", "file not found"),
    }
    assert cli(["hash", "--case", str(tmp_path / "case"), "--verify", "--quiet"]) == 1


def test_same_size_tamper_is_a_mismatch(corpus: Path, tmp_path: Path) -> None:
    evidence = tmp_path / "sysmon.evtx"
    shutil.copyfile(corpus / SYSMON, evidence)
    case = Case.open(tmp_path / "case")
    case.ingest([evidence])
    data = bytearray(evidence.read_bytes())
    data[-1] ^= 0xFF
    evidence.write_bytes(bytes(data))
    (result,) = case.hash_evidence(verify=True)
    assert result.status == "mismatch" and result.reason == f"recorded {_sha256(corpus, SYSMON)}"
    assert result.sha256 == sha256_file(evidence)


def test_cli_defer_then_hash(corpus: Path, tmp_path: Path) -> None:
    case_dir = str(tmp_path / "case")
    assert cli(["ingest", str(corpus / SYSMON), "--case", case_dir, "--defer-hash", "--quiet"]) == 0
    assert Case.open(case_dir).manifest().iloc[0].sha256 is pd.NA
    assert cli(["hash", "--case", case_dir, "--quiet"]) == 0
    assert Case.open(case_dir).manifest().iloc[0].sha256 == _sha256(corpus, SYSMON)


def test_quick_id_reads_both_ends(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    body = bytes(3 * QUICK_BYTES)
    a.write_bytes(body + b"x")
    b.write_bytes(body + b"y")  # same size, same start: only the tail differs
    assert quick_id(a) != quick_id(b)
    assert quick_id(a) == quick_id(a)


def test_hash_ahead_gives_the_same_digest_and_a_changed_file_is_hashed_again(tmp_path: Path) -> None:
    from forensics import integrity

    path = tmp_path / "evidence.bin"
    path.write_bytes(b"\x01" * 3_000_000)
    integrity.hash_ahead([path, tmp_path])  # folders are left to the ingest
    assert len(integrity._AHEAD) == 1
    assert integrity.sha256_file(path) == hashlib.sha256(b"\x01" * 3_000_000).hexdigest()
    assert integrity._AHEAD == {}  # taken
    integrity.hash_ahead([path])
    path.write_bytes(b"\x02" * 10)  # changed after the hash began: its key no longer matches
    assert integrity.sha256_file(path) == hashlib.sha256(b"\x02" * 10).hexdigest()
    integrity._AHEAD.clear()
