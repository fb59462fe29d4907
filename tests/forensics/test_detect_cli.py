"""``tracehound detect`` and ``tracehound findings`` end to end on the sample case's network
evidence and intel: findings stored, listed by severity, exported as a blocklist and a layer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forensics import Case
from forensics.cli import main
from forensics.demo import SAMPLE
from forensics.samples import story


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("detect") / "case"
    assert main(["ingest", str(SAMPLE / "network"), "--case", str(root), "--quiet"]) == 0
    return root


def test_detect_intel_then_list_and_export(
    case_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    intel = [str(SAMPLE / "intel" / name) for name in ("iocs.csv", "msupdate.stix2.json")]
    assert main(["detect", "--case", str(case_dir), "--intel", *intel]) == 0
    case = Case.open(case_dir)
    hits = case.sql("SELECT DISTINCT matched['indicator'] AS value FROM findings WHERE engine = 'ioc'")
    assert {story.C2.ip, story.PAYLOAD_HOST.ip} <= set(hits.value)
    tagged = case.sql("SELECT count(*) AS n FROM timeline WHERE len(tags) > 0").n[0]
    assert tagged == case.sql("SELECT count(DISTINCT (row_file, row_number)) AS n FROM findings").n[0]
    capsys.readouterr()
    blocklist, layer = tmp_path / "seen.txt", tmp_path / "layer.json"
    args = ["findings", "--case", str(case_dir), "--format", "jsonl", "--blocklist", str(blocklist)]
    assert main([*args, "--attack-layer", str(layer)]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(listed) == case.sql("SELECT count(*) AS n FROM findings").n[0]
    assert {row["engine"] for row in listed} == {"ioc"}
    values = {line for line in blocklist.read_text().splitlines() if line and not line.startswith("#")}
    assert {story.C2.ip, story.PAYLOAD_HOST.ip, story.C2.names[0]} <= values
    assert json.loads(layer.read_text())["domain"] == "enterprise-attack"
    assert [p.name for p in (case_dir / "findings" / "ioc").iterdir()] == [
        "default.parquet"
    ]  # the run's name


def test_detect_needs_an_engine(case_dir: Path) -> None:
    assert main(["detect", "--case", str(case_dir)]) == 2


def test_detect_sigma_on_a_regression_sample(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture
) -> None:
    """A SigmaHQ regression EVTX and its rule, through the command line: the rule fires and its
    finding is listed with its level."""
    rule = corpus / "sigma/rules/windows/file/file_event/file_event_win_creation_system_file.yml"
    evtx = corpus / "sigma/regression_data" / rule.relative_to(corpus / "sigma").with_suffix("")
    root = str(tmp_path / "case")
    assert (
        main(["ingest", str(evtx / "d5866ddf-ce8f-4aea-b28e-d96485a20d3d.evtx"), "--case", root, "--quiet"])
        == 0
    )
    assert main(["detect", "--case", root, "--sigma", str(rule)]) == 0
    capsys.readouterr()
    assert main(["findings", "--case", root, "--engine", "sigma", "--format", "jsonl"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {(f["rule_id"], f["level"]) for f in listed} == {
        ("d5866ddf-ce8f-4aea-b28e-d96485a20d3d", "medium")
    }


def test_detect_names_each_rule_and_line_it_cannot_use(
    case_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A broken rule, an unsupported one and a bad intel line are named with their reasons on
    the console and kept in the case's detect_warnings; the good rule and indicator still run."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "broken.yml").write_text("title: broken\ndetection: [unclosed\n")
    (rules / "timestamp.yml").write_text(
        "title: minute part\nid: 11111111-2222-3333-4444-555555555555\nlogsource:\n    category: dns\n"
        "detection:\n    sel:\n        timestamp|minute: 5\n    condition: sel\n"
    )
    (rules / "dns.yml").write_text(
        "title: C2 name asked\nid: 66666666-2222-3333-4444-555555555555\nlogsource:\n    category: dns\n"
        f"detection:\n    sel:\n        query|endswith: '{story.C2.names[0]}'\n    condition: sel\nlevel: high\n"
    )
    feed = tmp_path / "feed.csv"
    feed.write_text(f"indicator,type\n{story.C2.ip},ip\nnot an address,ip\n")
    capsys.readouterr()
    assert (
        main(["detect", "--case", str(case_dir), "--sigma", str(rules), "--intel", str(feed), "--run", "bad"])
        == 0
    )
    shown = capsys.readouterr().err
    assert "broken.yml" in shown and "timestamp part modifier on timestamp" in shown
    assert "feed.csv" in shown
    case = Case.open(case_dir)
    kept = case.detect_warnings()
    kept = kept[kept.run == "bad"]
    assert sorted(zip(kept.engine, kept.file.map(lambda f: Path(f).name), kept.kind, strict=True)) == [
        ("ioc", "feed.csv", "intel"),
        ("sigma", "broken.yml", "error"),
        ("sigma", "timestamp.yml", "unsupported"),
    ]
    fired = case.sql("SELECT DISTINCT rule_id, engine FROM findings WHERE engine IN ('sigma', 'ioc')")
    assert "66666666-2222-3333-4444-555555555555" in set(fired.rule_id)


def test_detect_yara_over_the_carved_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """``--yara`` scans the case's evidence and the files the capture carried (``--carve``)."""
    case_dir = tmp_path / "case"
    assert main(["ingest", str(SAMPLE / "network"), "--case", str(case_dir), "--carve", "--quiet"]) == 0
    assert main(["detect", "--case", str(case_dir), "--yara", str(SAMPLE / "intel" / "msupdate.yar")]) == 0
    assert "matches 2; files_matched 2" in capsys.readouterr().err.replace("\n", " ")
    hits = (
        Case.open(case_dir)
        .sql("SELECT DISTINCT rule_id FROM findings WHERE engine = 'yara' ORDER BY 1")
        .rule_id.tolist()
    )
    assert hits == [
        "msupdate:Tracehound_Sample_MsUpdate_Implant",
        "msupdate:Tracehound_Sample_Sysupd_Backdoor",
    ]
