"""TSK bodyfile and fls -l listings: plaso's bodyfile and bodyfile.corrupt and the NIST hacking
case fls listing through the ingest, MACB rows, name suffixes, damaged lines and the sniffers."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from parsers import HEAD_BYTES, sniff
from parsers.base import Options
from parsers.bodyfile import BodyfileParser, FlsParser
from tests.parsers.artifact_helpers import ARTIFACTS, claimed, ingest, rows, summary
from tests.parsers.evtx_helpers import parse_file

BODY, FLS = BodyfileParser(), FlsParser()
TIMELINE = f"{ARTIFACTS}/timeline"
NO_TIME = "4 entries have no time set, no rows (lines 5, 7, 14, 15)"


def _by_line(got: list[dict], line: int) -> list[tuple]:
    return [
        (r["datetime"], r["timestamp_desc"], r["event_action"], r["fields"]["macb"])
        for r in got
        if r["source_record"] == line
    ]


def test_plaso_bodyfile(corpus: Path, tmp_path: Path) -> None:
    path = corpus / TIMELINE / "bodyfile"
    case, results = ingest(tmp_path, path)
    # 25 lines: a comment, 4 entries with every time 0 (no rows, one note), 20 entries -> 40 rows.
    assert summary(results["bodyfile"]) == ("ok", "bodyfile", 40, 0, [("file", None, NO_TIME, 0)])
    got = rows(case, path)
    assert Counter(r["timestamp_desc"] for r in got) == {
        "Modified": 20,
        "Changed": 10,
        "Accessed": 7,
        "Created": 3,
    }
    # 0|/a_directory/another_file|16|r/rrw-------|151107|5000|22|1337961583|1337961584|1337961585|0
    assert _by_line(got, 3) == [
        (datetime(2012, 5, 25, 15, 59, 43, tzinfo=UTC), "Accessed", "file-accessed", ".A.."),
        (datetime(2012, 5, 25, 15, 59, 44, tzinfo=UTC), "Modified", "file-modified", "M..."),
        (datetime(2012, 5, 25, 15, 59, 45, tzinfo=UTC), "Changed", "file-changed", "..C."),
    ]
    first = next(r for r in got if r["source_record"] == 3)
    assert (first["file_path"], first["source"], first["message"]) == (
        "/a_directory/another_file", "bodyfile", ".A.. /a_directory/another_file (22 bytes)",
    )  # fmt: skip
    assert first["fields"] == {
        "inode": "16", "mode": "r/rrw-------", "uid": "151107", "gid": "5000", "size": "22", "macb": ".A..",
    }  # fmt: skip
    lost_found = _by_line(got, 1)  # atime = mtime = ctime: one row, as mactime shows it
    assert lost_found == [
        (datetime(2012, 5, 25, 15, 55, 50, tzinfo=UTC), "Modified", "file-modified-accessed-changed", "MAC.")
    ]
    orphan = next(r for r in got if r["source_record"] == 16)
    assert (orphan["file_path"], orphan["fields"]["deleted"]) == ("/$OrphanFiles/OrphanFile-13", "true")
    link = next(r for r in got if r["source_record"] == 23)  # 1597862881 for M, A and C
    assert (link["datetime"], link["file_path"], link["fields"]["symlink_target"]) == (
        datetime(2020, 8, 19, 18, 48, 1, tzinfo=UTC), "/file_symboliclink1", "/mnt/ext/testdir1/testfile1",
    )  # fmt: skip
    # fractional seconds, an escaped pipe kept as written, NTFS $FILE_NAME times as a field
    assert _by_line(got, 22) == [
        (datetime(2020, 7, 30, 6, 41, 5, 352070, tzinfo=UTC), "Created", "file-created", "...B"),
        (datetime(2020, 7, 30, 6, 41, 5, 352146, tzinfo=UTC), "Modified", "file-modified-accessed", "MA.."),
        (datetime(2020, 7, 30, 6, 41, 5, 354067, tzinfo=UTC), "Changed", "file-changed", "..C."),
    ]
    fn = next(r for r in got if r["source_record"] == 21)
    assert (fn["file_path"], fn["fields"]["times_from"], fn["fields"]["inode"]) == (
        "/file\\|with\\|pipes", "$FILE_NAME", "64-48-3",
    )  # fmt: skip
    empty_ids = next(r for r in got if r["source_record"] == 25)  # 0|\\testdir2|48-1|drwxrwxrwx|||256|...
    assert "uid" not in empty_ids["fields"] and empty_ids["fields"]["mode"] == "drwxrwxrwx"


def test_plaso_bodyfile_corrupt(corpus: Path, tmp_path: Path) -> None:
    path = corpus / TIMELINE / "bodyfile.corrupt"
    case, results = ingest(tmp_path, path)
    # all three lines are readable; the raw CR inside a name (line 2) is kept, with a note
    note = ("line 2", 83, "control character in the name (kept as written)", 0)
    assert summary(results["bodyfile.corrupt"]) == ("ok", "bodyfile", 6, 0, [note])
    got = rows(case, path)
    assert [r["file_path"] for r in got if r["source_record"] == 2] == ["/passwords\r.txt"] * 2
    assert _by_line(got, 2) == [
        (datetime(2012, 5, 25, 16, 0, 53, tzinfo=UTC), "Modified", "file-modified-accessed", "MA.."),
        (datetime(2012, 5, 25, 16, 1, 3, tzinfo=UTC), "Changed", "file-changed", "..C."),
    ]
    windows = next(r for r in got if r["source_record"] == 3)  # a 64-bit NTFS file reference as inode
    assert (windows["file_path"], windows["fields"]["inode"]) == ("/Windows\\System32", "1688849860339456")
    assert _by_line(got, 3) == [
        (datetime(2019, 3, 19, 4, 37, 22, tzinfo=UTC), "Changed", "file-changed-created", "..CB"),
        (datetime(2021, 1, 12, 12, 26, 1, tzinfo=UTC), "Modified", "file-modified-accessed", "MA.."),
    ]


def test_damaged_bodyfile_lines(corpus: Path, tmp_path: Path) -> None:
    lines = (corpus / TIMELINE / "bodyfile").read_bytes().splitlines(keepends=True)
    damaged = tmp_path / "body.txt"
    damaged.write_bytes(
        b"".join(lines[:3])
        + b"0|/cut|11|d/drwx------|0|0\n"  # line 4: cut short
        + b"0|/bad|11|d/drwx------|0|0|1|yesterday|1337961350|1337961350|0\n"  # line 5
        + b"d41d8cd98f00b204e9800998ecf8427e|/hashed|12|r/r---------|0|0|0|-86400|0|0|0\n"  # line 6
        + lines[3][:40]  # line 7: the file ends mid-line
    )
    got, found = parse_file(BODY, damaged)
    assert [(w.location, w.reason, w.count) for w in found] == [
        ("line 4", "6 values, a bodyfile line has 11", 1),
        (
            "line 5",
            "not a number in atime: '0|/bad|11|d/drwx------|0|0|1|yesterday|1337961350|1337961350|0'",
            1,
        ),
        ("line 7", "5 values, a bodyfile line has 11", 1),
    ]
    hashed = got[-1]
    assert (hashed["datetime"], hashed["timestamp_desc"], dict(hashed["fields"])["md5"]) == (
        datetime(1969, 12, 31, tzinfo=UTC), "Accessed", "d41d8cd98f00b204e9800998ecf8427e",
    )  # fmt: skip
    assert len(got) == 1 + 2 + 3 + 1


def test_nist_fls_listing(corpus: Path, tmp_path: Path) -> None:
    path = corpus / TIMELINE / "nist-hacking-case.fls"
    case, results = ingest(tmp_path, path)
    # 12180 fls -l -r -p lines; the last, V/V $OrphanFiles, has every time 0000-00-00.
    note = ("file", None, "1 entries have no time set, no rows (lines 12180)", 0)
    assert summary(results["nist-hacking-case.fls"]) == ("ok", "tsk_fls", 27927, 0, [note])
    got = rows(case, path)
    assert Counter(r["timestamp_desc"] for r in got) == {
        "Modified": 12179, "Accessed": 9405, "Changed": 4591, "Created": 1752,
    }  # fmt: skip
    # d/d 3671-144-7: Documents and Settings  mtime 2004-08-19 23:04:05  atime 2004-08-27 15:08:05
    #                 ctime 2004-08-19 23:04:05  crtime 2004-08-19 16:59:01  56  0  0
    assert _by_line(got, 2) == [
        (datetime(2004, 8, 19, 16, 59, 1, tzinfo=UTC), "Created", "file-created", "...B"),
        (datetime(2004, 8, 19, 23, 4, 5, tzinfo=UTC), "Modified", "file-modified-changed", "M.C."),
        (datetime(2004, 8, 27, 15, 8, 5, tzinfo=UTC), "Accessed", "file-accessed", ".A.."),
    ]
    first = got[0]
    assert (first["source"], first["file_path"], first["message"]) == (
        "tsk_fls", "DETLOG.TXT", ".A.. DETLOG.TXT (70936 bytes)",
    )  # fmt: skip
    # TSK prints gid, then uid: "70936  0  48" is size 70936, gid 0, uid 48 (NTFS's uid, as in bodyfiles)
    assert first["fields"] == {
        "type": "r/r", "inode": "128-128-3", "size": "70936", "uid": "48", "gid": "0", "macb": ".A..",
    }  # fmt: skip


def test_fls_zones_and_damaged_lines(tmp_path: Path) -> None:
    times = "\t".join(["2004-08-19 23:04:05 (UTC)"] * 4)
    text = (
        f"r/r 128-128-3:\tA.TXT\t{times}\t10\t0\t48\n"
        "r/r 129-128-3:\tB.TXT\n"  # a plain fls line: no times
        f"r/r * 130-128-3(realloc):\tC.TXT\t{times.replace('23:04:05', '25:04:05', 1)}\t10\t0\t48\n"
        f"+ r/r * 131-128-1:\tD.TXT\t{times.replace('(UTC)', '(EST)')}\t10\t0\t48\n"
    )
    path = tmp_path / "listing.fls"
    path.write_text(text)
    got, found = parse_file(FLS, path, Options(timezone="America/New_York"))
    assert [(w.location, w.reason, w.count) for w in found] == [
        ("line 2", "1 tab-separated values, fls -l has 8", 1),
        ("line 3", f"unreadable time or number: {text.splitlines()[2][:80]!r}", 1),
        ("file", "times written in zone EST: read in America/New_York", 0),
    ]
    assert [(r["source_record"], r["datetime"]) for r in got] == [
        (1, datetime(2004, 8, 19, 23, 4, 5, tzinfo=UTC)),
        (4, datetime(2004, 8, 20, 3, 4, 5, tzinfo=UTC)),  # EDT in August: UTC-4
    ]
    assert {k: dict(got[1]["fields"])[k] for k in ("deleted", "depth", "time_zone")} == {
        "deleted": "true", "depth": "1", "time_zone": "America/New_York",
    }  # fmt: skip


def test_sniff(corpus: Path) -> None:
    assert BODY.sniff(b"# comment\n0|/a|1|r/r---------|0|0|5|1|2|3|0\n")
    assert not BODY.sniff(b"0|/a|1|r/r---------|0|0|5|1|2|3\n")  # 10 values
    assert not BODY.sniff(b"0|/a|1|r/r---------|0|0|5|x|2|3|0\n")
    assert not BODY.sniff(b"00|/a|1|r/r---------|0|0|5|1|2|3|0\n")
    plain = b"r/r 128-128-3:\tDETLOG.TXT\nd/d 3671-144-7:\tDocuments and Settings\n"
    assert not FLS.sniff(plain) and sniff(plain) is None  # a plain listing has no times: not read
    for name in ("bodyfile", "bodyfile.corrupt", "nist-hacking-case.fls"):
        head = (corpus / TIMELINE / name).read_bytes()[:HEAD_BYTES]
        assert [BODY.sniff(head), FLS.sniff(head)] == [not name.endswith(".fls"), name.endswith(".fls")]


def test_claims_nothing_else(corpus: Path) -> None:
    assert claimed(corpus, BODY, FLS) == [
        f"{TIMELINE}/bodyfile",
        f"{TIMELINE}/bodyfile.corrupt",
        f"{TIMELINE}/nist-hacking-case.fls",
    ]
