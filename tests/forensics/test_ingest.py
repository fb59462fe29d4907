"""Ingest into a real case folder: counts, idempotence, untouched evidence, bad input, CLI."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from forensics import Case, CaseError
from forensics.cli import main as cli
from forensics.export import export
from forensics.integrity import sha256_file
from parsers import Options


def test_corpus_evtx_folder_ingests_every_file_idempotently(corpus: Path, tmp_path: Path) -> None:
    case = Case.open(tmp_path / "case")
    report = case.ingest([corpus / "evtx"])
    by_status: dict[str, int] = {}
    for f in report.files:
        by_status[f.status] = by_status.get(f.status, 0) + 1
    # 303 EVTX (302 whole, the half-zeroed HelloForBusiness partial) and 15 OTRF NDJSON; the .evt,
    # binxml.dat, SOURCES and licences are unrecognised.
    assert by_status == {"ok": 302 + 15, "partial": 1, "unrecognised": 12}
    assert case.sql("SELECT count(*) AS n FROM timeline").n[0] == report.records == 20_248 + 7_644
    assert case.sql("SELECT sum(count) AS n FROM warnings").n[0] == 14
    again = case.ingest([corpus / "evtx"])
    assert again.records == 0
    assert {f.status for f in again.files} <= {"duplicate", "unrecognised"}
    assert case.sql("SELECT count(*) AS n FROM timeline").n[0] == report.records


def test_evidence_is_not_modified(corpus: Path, tmp_path: Path) -> None:
    index = {e["path"]: e["sha256"] for e in json.loads((corpus / "index.json").read_text())["files"]}
    folder = corpus / "evtx" / "deepbluecli"
    Case.open(tmp_path / "case").ingest([folder])
    for path in folder.iterdir():
        assert sha256_file(path) == index[str(path.relative_to(corpus))]


def test_manifest_row_describes_the_evidence(corpus: Path, tmp_path: Path) -> None:
    path = corpus / "evtx/evtx-rs-samples/sysmon.evtx"
    case = Case.open(tmp_path / "case")
    case.ingest([path])
    row = case.manifest().iloc[0]
    assert row.sha256 == sha256_file(path) == row.evidence_id
    assert (row.parser, row.status, row.records, row["size"]) == (
        "windows_evtx",
        "ok",
        358,
        path.stat().st_size,
    )
    assert row.warnings == 9 and row.lost == 0  # the dirty header and 8 slack slots, all notes
    rows = case.timeline(columns=["evidence_id", "source_file"])
    assert set(rows.evidence_id) == {row.sha256}
    assert set(rows.source_file) == {str(path)}


def test_parquet_store_is_zstd_and_typed(corpus: Path, tmp_path: Path) -> None:
    case = Case.open(tmp_path / "case")
    case.ingest([corpus / "evtx/evtx-rs-samples/sysmon.evtx"])
    (part,) = (case.store / "windows_evtx").glob("*.parquet")
    meta = pq.ParquetFile(part).metadata
    assert meta.num_rows == 358
    assert meta.row_group(0).column(0).compression == "ZSTD"
    assert str(pq.read_schema(part).field("datetime").type) == "timestamp[us, tz=UTC]"


def test_small_parser_batches_become_one_row_group(corpus: Path, tmp_path: Path) -> None:
    case = Case.open(tmp_path / "case")
    case.ingest([corpus / "evtx/evtx-rs-samples/sysmon.evtx"], options=Options(batch_rows=50))
    (part,) = (case.store / "windows_evtx").glob("*.parquet")
    meta = pq.ParquetFile(part).metadata
    assert (meta.num_rows, meta.num_row_groups) == (358, 1)


@pytest.fixture
def bad_inputs(corpus: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "evidence dir é"
    folder.mkdir()
    shutil.copy(corpus / "evtx/deepbluecli/sliver-sysmon.evtx", folder / "good log ü.evtx")
    (folder / "not-a-log.evtx").write_text("this is not an event log\n")
    (folder / "empty.evtx").write_bytes(b"")
    data = (corpus / "evtx/evtx-rs-samples/2-vss_7-System.evtx").read_bytes()
    (folder / "truncated.evtx").write_bytes(data[: 4096 + 65536 + 368])
    (folder / "gone.evtx").symlink_to(tmp_path / "nowhere.evtx")
    return folder


def test_bad_input_gets_one_line_reasons_and_the_run_continues(bad_inputs: Path, tmp_path: Path) -> None:
    case = Case.open(tmp_path / "case")
    report = case.ingest([bad_inputs])
    got = {Path(f.path).name: (f.status, f.reason) for f in report.files}
    assert got["good log ü.evtx"] == ("ok", "")
    assert got["not-a-log.evtx"] == ("unrecognised", "not a supported format (starts with b'this is ')")
    assert got["empty.evtx"] == ("unrecognised", "empty file")
    assert got["truncated.evtx"] == ("partial", "107 records unreadable, see warnings")
    assert got["gone.evtx"][0] == "unreadable"
    assert all("\n" not in reason for _, reason in got.values())
    assert report.records == 24 + 131
    manifest = case.manifest().set_index("path")
    assert manifest.loc[str(bad_inputs / "empty.evtx"), "status"] == "unrecognised"


def test_cli_exit_status_is_nonzero_only_when_nothing_ingested(bad_inputs: Path, tmp_path: Path) -> None:
    assert cli(["ingest", str(bad_inputs), "--case", str(tmp_path / "c1"), "--quiet"]) == 0
    only_bad = tmp_path / "bad only"
    only_bad.mkdir()
    (only_bad / "x.evtx").write_text("nope")
    assert cli(["ingest", str(only_bad), "--case", str(tmp_path / "c2"), "--quiet"]) == 1


def test_case_inside_the_evidence_tree_is_refused(bad_inputs: Path) -> None:
    case = Case.open(bad_inputs / "case")
    with pytest.raises(CaseError, match="inside the evidence folder"):
        case.ingest([bad_inputs])
    assert cli(["ingest", str(bad_inputs), "--case", str(bad_inputs / "case2"), "--quiet"]) == 1


def test_timeline_filters_and_sql(corpus: Path, tmp_path: Path) -> None:
    case = Case.open(tmp_path / "case")
    case.ingest([corpus / "evtx/deepbluecli"], jobs=1)
    logons = case.timeline(code=4688, columns=["datetime", "user_name", "host_name"])
    assert len(logons) == case.sql("SELECT count(*) n FROM timeline WHERE event_code = '4688'").n[0] == 55
    window = case.timeline(start="2019-04-27T21:04:00Z", end="2019-04-27T21:06:00Z")
    assert len(window) and window.datetime.min().isoformat() >= "2019-04-27T21:04:00+00:00"
    assert window.datetime.is_monotonic_increasing
    sliver = case.timeline(host="valkyrie.GALACTICA.cc", code=1, grep='wevtutil.exe" cl')
    assert [c.split(" cl ", 1)[1] for c in sliver.process_command_line] == [
        "security", "system", "application", "Microsoft-Windows-Sysmon/Operational",
        '"Microsoft-Windows-Windows Defender/Operational"',
    ]  # fmt: skip
    assert sliver.datetime[0].isoformat() == "2023-05-18T18:28:20.173882+00:00"
    with pytest.raises(CaseError):
        case.timeline(start="yesterday")
    field = case.sql(
        "SELECT fields['IntegrityLevel'] AS v FROM timeline WHERE process_command_line LIKE '%wevtutil%'"
    )
    assert field.v[0] == "High"


def test_exports(corpus: Path, tmp_path: Path) -> None:
    case = Case.open(tmp_path / "case")
    case.ingest([corpus / "evtx/deepbluecli/sliver-sysmon.evtx"])
    assert export(case, "timesketch-csv", tmp_path / "t.csv") == (24, 0)
    with open(tmp_path / "t.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 24
    assert {"message", "datetime", "timestamp_desc", "timestamp", "user.name"} <= rows[0].keys()
    assert rows[0]["datetime"].endswith("+00:00") and rows[0]["timestamp_desc"] == "Event Recorded"
    assert export(case, "timesketch-jsonl", tmp_path / "t.jsonl") == (24, 0)
    lines = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert lines[0]["timestamp"] == int(lines[0]["timestamp"]) and isinstance(lines[0]["fields"], dict)
    export(case, "parquet", tmp_path / "t.parquet")
    assert pq.read_metadata(tmp_path / "t.parquet").num_rows == 24


def test_python_evtx_backend_through_the_cli(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = corpus / "evtx/deepbluecli/sliver-sysmon.evtx"
    assert (
        cli(["ingest", str(path), "--case", str(tmp_path / "c"), "--evtx-backend", "python-evtx", "--quiet"])
        == 0
    )
    capsys.readouterr()
    assert (
        cli(
            [
                "query",
                "--case",
                str(tmp_path / "c"),
                "--sql",
                "SELECT count(*) AS n FROM timeline",
                "--format",
                "csv",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out == "n\n24\n"
    assert cli(["timeline", "--case", str(tmp_path / "c"), "--code", "1", "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == case_count(tmp_path / "c", "1")


def case_count(case_dir: Path, code: str) -> int:
    return int(Case.open(case_dir).sql("SELECT count(*) n FROM timeline WHERE event_code = ?", [code]).n[0])


def test_options_reject_unknown_backend(tmp_path: Path, corpus: Path) -> None:
    report = Case.open(tmp_path / "c").ingest(
        [corpus / "evtx/deepbluecli/sliver-sysmon.evtx"], options=Options(evtx_backend="nope")
    )
    assert report.files[0].status == "failed" and "unknown EVTX backend" in report.files[0].reason


def test_hashing_a_large_file_reports_progress(tmp_path: Path) -> None:
    big = tmp_path / "evidence" / "disk.raw"
    big.parent.mkdir()
    with open(big, "wb") as fh:
        fh.truncate(130 << 20)  # sparse: 130 MiB of zeros, no file system
    seen: list[tuple[int, int]] = []

    def progress(event: str, result: object, **info: object) -> None:
        if event == "hash":
            seen.append((info["done"], info["total"]))  # type: ignore[arg-type]

    Case.open(tmp_path / "case").ingest([big], progress=progress)
    assert seen == [(64 << 20, 130 << 20), (128 << 20, 130 << 20)]
