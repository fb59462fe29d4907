"""YARA over a case: the sample case's rules on its files and its Linux image, signature-base
compiled whole (counts per engine are facts of that corpus and these versions), externals,
the yara-python fallback, broken rules, timeouts, size limits, images, and the case outputs."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yara

from forensics import Case
from forensics.detect.yara import (
    DiskImage,
    RuleSet,
    compile_rules,
    detect_yara,
    level_of,
    scan,
)
from forensics.detect.yara import prefilter as yara_prefilter
from forensics.detect.yara import scanner as yara_scanner
from parsers.disk_image import image_files

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "case01"
RULES = SAMPLE / "intel" / "msupdate.yar"
FILES = SAMPLE / "WS01" / "files"
SRV01 = SAMPLE / "SRV01" / "srv01.img"
GROUND_TRUTH = json.loads((SAMPLE / "ground_truth.json").read_text())
IMPLANT, DROPPER, BACKDOOR = (
    "Tracehound_Sample_MsUpdate_Implant",
    "Tracehound_Sample_Invoice_Dropper",
    "Tracehound_Sample_Sysupd_Backdoor",
)


def _truth_sha256(path: str) -> str:
    return next(f["sha256"] for f in GROUND_TRUTH["entities"]["files"] if f["path"] == path)


def _offsets_by_yara_python(rule_file: Path, data: bytes, rule: str) -> dict[str, tuple[int, ...]]:
    """The matched strings' offsets as yara-python finds them: the independent check."""
    (match,) = [m for m in yara.compile(filepath=str(rule_file)).match(data=data) if m.rule == rule]
    return {s.identifier: tuple(i.offset for i in s.instances) for s in match.strings}


def _image_file(image: Path, inner: str) -> bytes:
    with image.open("rb") as fh:
        (entry,) = [f for f in image_files(fh) if f.path == inner]
        with entry.open() as stream:
            return stream.read()


def test_sample_rules_match_the_implant_and_the_dropper_only() -> None:
    rules, warnings = compile_rules(RULES)
    assert warnings == [] and rules.counts == {"yara-x": 1, "yara-python": 0, "failed": 0}
    assert rules.rules == 3
    result = scan(rules, [FILES], jobs=1)
    assert result.files == 2 and result.warnings == []
    by_file = {(Path(m.path).name, m.rule) for m in result.matches}
    # The implant rule matches the PE and only it; the dropper rule targets the document.
    assert by_file == {("msupdate.exe", IMPLANT), ("invoice.docm", DROPPER)}
    (implant,) = [m for m in result.matches if m.rule == IMPLANT]
    data = (FILES / "msupdate.exe").read_bytes()
    assert implant.sha256 == _truth_sha256(r"C:\Users\alice\AppData\Roaming\MsUpdate\msupdate.exe")
    assert implant.namespace == "msupdate" and implant.rule_id == f"msupdate:{IMPLANT}"
    assert implant.meta["mitre_attack"] == "T1071.001, T1003.001" and implant.engine == "yara-x"
    offsets = {s.identifier: s.offsets for s in implant.strings}
    assert offsets == _offsets_by_yara_python(RULES, data, IMPLANT)
    assert offsets == {"$mutex": (40153,), "$url": (40176,), "$cfg": (40226,), "$dump": (40334,)}
    for s in implant.strings:
        assert data[s.offsets[0] : s.offsets[0] + len(s.data)] == s.data
    assert data.find(b"MsUpdSync-7f3a") == 40153
    (dropper,) = [m for m in result.matches if m.rule == DROPPER]
    docm = (FILES / "invoice.docm").read_bytes()
    assert {s.identifier: s.offsets for s in dropper.strings} == _offsets_by_yara_python(RULES, docm, DROPPER)


def test_sample_image_backdoor_found_inside_srv01() -> None:
    rules, _ = compile_rules(RULES)
    result = scan(rules, [DiskImage(str(SRV01))], jobs=1)
    assert result.warnings == [] and result.files == 59
    (match,) = result.matches  # the story planted one tool on SRV01, and the rule targets it
    assert (match.rule, match.path, match.image) == (BACKDOOR, "/tmp/.sysupd", str(SRV01))
    assert match.sha256 == _truth_sha256("/tmp/.sysupd")
    data = _image_file(SRV01, "/tmp/.sysupd")
    assert hashlib.sha256(data).hexdigest() == match.sha256
    assert {s.identifier: s.offsets for s in match.strings} == _offsets_by_yara_python(RULES, data, BACKDOOR)
    assert [s.offsets[0] for s in match.strings] == [
        data.find(b"sysupd v0.9"),
        data.find(b"198.51.100.23:443"),
    ]


@pytest.mark.corpus
def test_files_inside_corpus_images(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Workers forked from this process (no timeouts fire here, so yara-x's heartbeat thread,
    # which an earlier in-process scan may have started, does not matter).
    monkeypatch.setattr(yara_scanner, "_HEARTBEAT", False)
    disk = corpus / "images" / "disk"
    rule = tmp_path / "passwords.yar"
    rule.write_text(
        'rule Password_List { strings: $head = "place,user,password" $pw = "superrich" '
        'condition: $head at 0 and $pw and filepath == "/passwords.txt" }\n'
        'rule Other_Name { condition: filename == "a_file" }\n'
    )
    rules, _ = compile_rules(rule)
    images = [disk / "dfvfs" / "ext2.E01", disk / "plaso" / "image.qcow2", disk / "dfvfs" / "bogus.001"]
    result = scan(rules, [DiskImage(str(p)) for p in images], jobs=2)
    found = sorted((Path(m.image or "").name, m.path, m.rule) for m in result.matches)
    assert found == [
        ("ext2.E01", "/a_directory/a_file", "Other_Name"),
        ("ext2.E01", "/passwords.txt", "Password_List"),
        ("image.qcow2", "/a_directory/a_file", "Other_Name"),
        ("image.qcow2", "/passwords.txt", "Password_List"),
    ]
    text = _image_file(images[0], "/passwords.txt")
    (match,) = [m for m in result.matches if m.rule == "Password_List" and m.image == str(images[0])]
    assert {s.identifier: s.offsets for s in match.strings} == {
        "$head": (0,),
        "$pw": (text.find(b"superrich"),),
    }
    assert match.sha256 == hashlib.sha256(text).hexdigest()
    # Not an image (bogus data with a split-raw name): said, not raised.
    assert [(w.kind, Path(w.path).name) for w in result.warnings] == [("image", "bogus.001")]
    assert result.files == 3 + 2


def test_externals_are_set_per_file(tmp_path: Path) -> None:
    rule = tmp_path / "names.yar"
    rule.write_text(
        'rule By_Name { condition: filename == "invoice.docm" }\n'
        'rule By_Extension_And_Type { condition: extension == ".exe" and filetype == "EXE" }\n'
        'rule By_Path { condition: filepath endswith "/files/msupdate.exe" and owner != "" }\n'
        'rule Inside_Image { condition: filepath == "/tmp/.sysupd" and filetype == "ELF" }\n'
    )
    rules, _ = compile_rules(rule)
    result = scan(rules, [FILES, DiskImage(str(SRV01))], jobs=1)
    assert sorted((Path(m.path).name, m.rule) for m in result.matches) == [
        (".sysupd", "Inside_Image"),
        ("invoice.docm", "By_Name"),
        ("msupdate.exe", "By_Extension_And_Type"),
        ("msupdate.exe", "By_Path"),
    ]


def test_fallback_to_yara_python_and_a_broken_file_reported(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    shutil.copy(RULES, folder / "msupdate.yar")
    # yara-x does not support ``entrypoint``; yara-python does.
    (folder / "legacy.yara").write_text(
        'rule Legacy_Entry { strings: $m = "MsUpdSync-7f3a" condition: $m or entrypoint == 12345 }\n'
    )
    (folder / "broken.yar").write_text("rule Broken { condition: undefined_thing and }\n")
    (folder / "notes.txt").write_text("not a rule file")
    rules, warnings = compile_rules(folder)
    assert rules.counts == {"yara-x": 1, "yara-python": 1, "failed": 1}
    by_name = {Path(f.path).name: f for f in rules.files}
    assert set(by_name) == {"broken.yar", "legacy.yara", "msupdate.yar"}
    assert by_name["legacy.yara"].engine == "yara-python"
    assert by_name["legacy.yara"].reason == "error[E017]: `entrypoint` is unsupported (line 1)"
    assert [(w.kind, Path(w.path).name) for w in warnings] == [("compile", "broken.yar")]
    assert "syntax error" in warnings[0].reason and "undefined identifier" in warnings[0].reason
    assert "\n" not in warnings[0].reason
    result = scan(rules, [FILES], jobs=1)
    assert sorted((Path(m.path).name, m.rule, m.engine, m.namespace) for m in result.matches) == [
        ("invoice.docm", DROPPER, "yara-x", "msupdate"),
        ("msupdate.exe", "Legacy_Entry", "yara-python", "legacy"),
        ("msupdate.exe", IMPLANT, "yara-x", "msupdate"),
    ]
    (legacy,) = [m for m in result.matches if m.engine == "yara-python"]
    assert legacy.strings[0].offsets == (40153,) and legacy.strings[0].data == b"MsUpdSync-7f3a"
    # No rule files at all is said too.
    (tmp_path / "empty").mkdir()
    _, warnings = compile_rules(tmp_path / "empty")
    assert [(w.kind, w.reason) for w in warnings] == [("compile", "no rule files (*.yar, *.yara) found")]


_SLOW = """import "math"
rule Slow_On_Large_Files { condition: for any i in (0..filesize - 1) : (math.entropy(i, 1024) > 8.0) }
rule Tiny { strings: $a = "MsUpdSync" condition: $a }
"""


@pytest.mark.parametrize("jobs", [1, 2])
def test_slow_rule_times_out_and_big_file_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    if jobs > 1:  # spawned workers: their own yara-x heartbeat, whatever this process did before
        monkeypatch.setattr(yara_scanner, "_HEARTBEAT", True)
    rule = tmp_path / "slow.yar"
    rule.write_text(_SLOW)
    big = tmp_path / "data" / "big.bin"
    big.parent.mkdir()
    big.write_bytes(bytes(range(256)) * (20 << 12))  # 20 MiB
    huge = tmp_path / "data" / "huge.bin"
    huge.write_bytes(b"\0" * (21 << 20))
    shutil.copy(FILES / "msupdate.exe", tmp_path / "data")
    rules, _ = compile_rules(rule)
    result = scan(rules, [big.parent], jobs=jobs, timeout=1, max_size=20 << 20)
    assert [(w.kind, Path(w.path).name) for w in result.warnings] == [
        ("size", "huge.bin"),
        ("timeout", "big.bin"),
    ]
    assert result.counts == {"size": 1, "timeout": 1} and result.skipped == 1
    assert "22,020,096 bytes" in result.warnings[0].reason
    # The small file is scanned in full by the same rules (the slow one is quick on it).
    assert [(Path(m.path).name, m.rule) for m in result.matches] == [("msupdate.exe", "Tiny")]
    assert result.files == 2  # the timed-out file was read and counted; the huge one was not


def test_levels() -> None:
    assert [level_of({"score": s}) for s in (100, 75, 74, 60, 59, 40, 39, 0)] == [
        "high", "high", "medium", "medium", "low", "low", "informational", "informational",
    ]  # fmt: skip
    assert level_of({}) == "high"  # unscored: 75, as signature-base's scanners count it
    assert level_of({"severity": "Critical", "score": 10}) == "critical"
    assert level_of({"severity": "bogus", "score": "65"}) == "medium"


def test_condition_reading_for_the_prefilter() -> None:
    source = """
    import "pe"
    rule A : tag { meta: s = "x { y" strings: $h = { 4D 5A // comment with }
        90 } $r = /a\\/b{1,2}/ condition: uint16(0) == 0x5a4d and (filesize < 100KB) and $h }
    private rule B { condition: filesize <= 2MB and uint32be(0) == 0x7f454c46 }
    rule C { condition: uint16(0) == 0x5a4d or filesize < 10KB }
    """
    heads, rules, linked = yara_prefilter._split(source)
    assert heads == ['import "pe"'] and not linked
    assert [(r.name, r.max_size, r.prefix) for r in rules] == [
        ("A", 100 << 10, b"MZ"), ("B", (2 << 20) + 1, b"\x7fELF"), ("C", None, None),
    ]  # fmt: skip
    assert rules[0].text.startswith("rule A : tag {") and rules[0].text.endswith("$h }")
    assert yara_prefilter._split("rule X { condition: true } rule Y { condition: X }")[2]  # Y names X
    assert yara_prefilter._split("global rule G { condition: filesize < 1KB }")[2]


# -- signature-base ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def signature_base(corpus: Path) -> RuleSet:
    rules, warnings = compile_rules(corpus / "yara" / "signature-base" / "yara")
    assert warnings == []
    return rules


@pytest.mark.corpus
@pytest.mark.slow
def test_signature_base_compiles_with_yara_x(signature_base: RuleSet) -> None:
    # yara-x 1.23 takes every one of the 741 rule files (5,883 rules) with the externals
    # defined; none needs yara-python. 285 compiler warnings (text as hex, duplicate patterns...).
    assert signature_base.counts == {"yara-x": 741, "yara-python": 0, "failed": 0}
    assert signature_base.rules == 5883 and signature_base.compiler_warnings == 285
    assert len(signature_base.uses_externals) == 594


@pytest.mark.corpus
@pytest.mark.slow
def test_signature_base_prefilter_gives_the_same_matches(
    signature_base: RuleSet, corpus: Path, tmp_path: Path
) -> None:
    # Files of each prefilter class: MZ and not, under and over 1 MiB, plus real evidence.
    data = tmp_path / "data"
    data.mkdir()
    implant = (FILES / "msupdate.exe").read_bytes()
    (data / "big.exe").write_bytes(implant + bytes(range(256)) * (5 << 12))
    (data / "big.log").write_bytes(b"powershell.exe -nop -w hidden -enc JAB\n" * 40_000)
    targets = [data, FILES, SAMPLE / "WS01" / "Security.evtx", corpus / "images" / "artifacts" / "registry"]
    fast = scan(signature_base, targets, jobs=1)
    full = scan(signature_base, targets, jobs=1, prefilter=False)
    assert fast.files == full.files == 11 and not fast.warnings and not full.warnings
    key = [(m.path, m.rule_id, tuple((s.identifier, s.offsets) for s in m.strings)) for m in fast.matches]
    assert key == [
        (m.path, m.rule_id, tuple((s.identifier, s.offsets) for s in m.strings)) for m in full.matches
    ]
    assert {(Path(m.path).name, m.rule_id) for m in fast.matches} >= {
        ("SAM", "thor_inverse_matches:SAM_Hive_Backup"),
        ("invoice.docm", "gen_susp_ps_jab:SUSP_PS1_JAB_Pattern_Jun22_1"),
    }


# -- over a case -------------------------------------------------------------------------------


def test_detect_yara_writes_findings_and_timeline_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(yara_scanner, "_HEARTBEAT", False)  # forked workers, as above
    case = Case.open(tmp_path / "case")
    case.ingest([SRV01, FILES], jobs=1)
    implant = (FILES / "msupdate.exe").read_bytes()
    case.carved.mkdir()
    (case.carved / hashlib.sha256(implant).hexdigest()).write_bytes(implant)  # as ingest --carve names it
    report = detect_yara(case, [RULES], jobs=2)
    summary = report.summary()
    assert (summary["matches"], summary["compiled_yara_x"], summary["warnings"]) == (4, 1, {})
    assert summary["files_scanned"] == 1 + 2 + 59  # the carved object, the loose files, the image's
    findings = case.sql(  # by file name: the full paths sort differently wherever the checkout lives
        "SELECT * FROM findings WHERE engine = 'yara' ORDER BY regexp_extract(file_path, '[^/]+$')"
    ).to_dict("records")
    assert [(f["rule_id"], Path(f["file_path"]).name) for f in findings] == [
        (f"msupdate:{BACKDOOR}", ".sysupd"),  # /tmp/.sysupd, inside the image
        (f"msupdate:{IMPLANT}", hashlib.sha256(implant).hexdigest()),  # CASE/carved/<sha256>
        (f"msupdate:{DROPPER}", "invoice.docm"),
        (f"msupdate:{IMPLANT}", "msupdate.exe"),
    ]
    backdoor = findings[0]
    assert backdoor["source_file"] == str(SRV01) and backdoor["file_path"] == "/tmp/.sysupd"
    assert backdoor["file_hash_sha256"] == _truth_sha256("/tmp/.sysupd")
    assert backdoor["level"] == "high" and list(backdoor["techniques"]) == ["T1105", "T1053.003"]
    assert backdoor["rule_title"] == f"{BACKDOOR}: sysupd Linux backdoor dropped on SRV01"
    assert pd.isna(backdoor["row_file"]) and pd.isna(backdoor["row_number"])
    manifest = case.manifest().set_index("path")
    assert backdoor["evidence_id"] == manifest.loc[str(SRV01), "evidence_id"]
    # Dated by the file's modification time in the image's own file-system rows (S12 + 1 s).
    assert backdoor["datetime"].isoformat() == "2026-03-10T11:06:11.310000+00:00"
    assert backdoor["host_name"] is not None
    matched = backdoor["matched"]
    assert matched["strings"] == "$name $c2" and matched["$name offsets"] == "24065"
    assert matched["$c2"] == "198.51.100.23:443" and matched["meta.author"] == "Tracehound sample generator"
    # The same rows in the timeline: source yara, tagged with the rule.
    rows = case.sql(
        "SELECT * FROM timeline WHERE source = 'yara' ORDER BY regexp_extract(file_path, '[^/]+$')"
    ).to_dict("records")
    assert len(rows) == 4 and {r["event_action"] for r in rows} == {"yara-match"}
    assert rows[0]["message"] == f"YARA {BACKDOOR} /tmp/.sysupd (in {SRV01})"
    assert list(rows[0]["tags"]) == [BACKDOOR] and rows[0]["file_hash_sha256"] == backdoor["file_hash_sha256"]
    assert rows[0]["timestamp_desc"] == "Modified" and rows[0]["fields"]["dated_by"].startswith(
        "modification"
    )
    # A rerun of the same run replaces both.
    detect_yara(case, [RULES], jobs=1)
    assert case.sql("SELECT count(*) AS n FROM findings WHERE engine = 'yara'").n[0] == 4
    assert case.sql("SELECT count(*) AS n FROM timeline WHERE source = 'yara'").n[0] == 4
