"""Transparent decompression: gzip/bzip2/xz rotated logs sniffed and parsed inside, the same rows
as the plain file, and corrupt or truncated data reported in one line while the run goes on."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
from pathlib import Path

import pytest

from forensics import Case
from parsers.compressed import decompressed_size, detect, open_decompressed

PLASO = "linux/syslog/plaso"
IGNORED = ("evidence_id", "source_file")


def test_detect() -> None:
    assert detect(gzip.compress(b"x")) == "gzip"
    assert detect(bz2.compress(b"x")) == "bz2"
    assert detect(lzma.compress(b"x")) == "xz"
    assert detect(b"BZhello world") is None
    assert detect(b"Mar 10 12:05:03") is None


def test_stream_reads_seeks_and_stops_at_corruption() -> None:
    data = b"".join(b"line %d\n" % i for i in range(20000))
    packed = gzip.compress(data)
    stream = open_decompressed(io.BytesIO(packed), "gzip")
    assert decompressed_size(stream) == len(data)
    assert stream.readline() == b"line 0\n"
    cut = open_decompressed(io.BytesIO(packed[: len(packed) // 2]), "gzip")
    got = cut.read()
    assert 0 < len(got) < len(data) and data.startswith(got)
    assert cut.error == "EOFError: Compressed file ended before the end-of-stream marker was reached"
    assert cut.error_at == len(got)
    cut.seek(0)
    assert cut.read() == got  # a second pass (syslog's year walk) sees the same bytes


def _rows(case: Case) -> list[dict]:
    table = case.sql("SELECT * EXCLUDE (evidence_id, source_file) FROM timeline ORDER BY source_record")
    return [
        {k: (dict(v) if k == "fields" else v) for k, v in row.items()} for row in table.to_dict("records")
    ]


def test_compressed_syslogs_give_the_rows_of_the_plain_file(corpus: Path, tmp_path: Path) -> None:
    # plaso's .gz/.bz2/.xz hold an older version of its plain ``syslog``: compare each with its own
    # decompressed bytes, written beside it with the same modification time.
    seen = []
    for name, opener in (("syslog.gz", gzip.open), ("syslog.bz2", bz2.open), ("syslog.xz", lzma.open)):
        packed = corpus / PLASO / name
        plain = tmp_path / name.replace(".", "-") / "syslog"
        plain.parent.mkdir()
        with opener(packed, "rb") as fh:
            plain.write_bytes(fh.read())
        mtime = packed.stat().st_mtime_ns
        os.utime(plain, ns=(mtime, mtime))
        a, b = Case.open(tmp_path / f"{name}-a"), Case.open(tmp_path / f"{name}-b")
        (packed_result,) = a.ingest([packed], jobs=1).files
        (plain_result,) = b.ingest([plain], jobs=1).files
        assert (packed_result.parser, packed_result.records, packed_result.lost) == ("syslog", 12, 2)
        assert packed_result.warnings == plain_result.warnings
        assert (
            packed_result.reason
            == f"{name.rsplit('.', 1)[1].replace('gz', 'gzip')}-compressed; 2 records unreadable, see warnings"
        )
        rows = _rows(a)
        assert rows == _rows(b)
        seen.append(rows)
    assert seen[0] == seen[1] == seen[2]


@pytest.fixture
def packed(corpus: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "evidence"
    folder.mkdir()
    ssh = (corpus / "linux/auth/plaso/syslog_ssh.log").read_bytes()
    (folder / "auth.log.2.gz").write_bytes(gzip.compress(ssh))
    # Cut after 300 of its 423 compressed bytes: 620 bytes come out, five whole lines and the sixth
    # up to "port 32889" (so 6 rows), then the data ends.
    (folder / "auth.log.3.gz").write_bytes(gzip.compress(ssh)[:300])
    (folder / "garbage.gz").write_bytes(b"\x1f\x8b\x08" + b"\x00" * 7 + b"not deflate data at all")
    (folder / "other.xz").write_bytes(lzma.compress(b"%PDF-1.4 something else\n"))
    (folder / ".bash_history.gz").write_bytes(gzip.compress(b"id\nwhoami\n"))
    return folder


def test_compressed_evidence_reasons(packed: Path, tmp_path: Path) -> None:
    case = Case.open(tmp_path / "case")
    report = case.ingest([packed], jobs=1)
    got = {Path(f.path).name: (f.status, f.parser, f.records, f.reason) for f in report.files}
    assert got == {
        "auth.log.2.gz": ("ok", "syslog", 9, "gzip-compressed (1,026 bytes decompressed)"),
        "auth.log.3.gz": ("partial", "syslog", 6, "gzip-compressed; 1 records unreadable, see warnings"),
        "garbage.gz": (
            "unreadable",
            None,
            0,
            "corrupt gzip data: zlib.error: Error -3 while decompressing data: invalid block type",
        ),
        "other.xz": (
            "unrecognised",
            None,
            0,
            "xz-compressed; not a supported format inside (starts with b'%PDF-1.4')",
        ),
        ".bash_history.gz": ("ok", "shell_history", 2, "gzip-compressed (10 bytes decompressed)"),
    }
    (cut,) = [f for f in report.files if f.path.endswith("auth.log.3.gz")]
    assert [(w.location, w.reason) for w in cut.warnings] == [
        (
            "file",
            "gzip data corrupt after 620 bytes: EOFError: Compressed file ended before the end-of-stream marker was reached",
        )
    ]
    manifest = case.manifest().set_index("path")
    assert manifest.loc[str(packed / "auth.log.2.gz"), "parser"] == "syslog"
