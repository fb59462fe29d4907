"""The whole registry over the corpus's loose Windows artifacts: which parser takes each file
(by content; a path only breaks ties for formats without magic), and that the Windows artifact
parsers take nothing anywhere else in the corpus."""

from __future__ import annotations

from pathlib import Path

from parsers import HEAD_BYTES, PARSERS, sniff
from tests.parsers.artifact_helpers import ARTIFACTS

WINDOWS = {
    "windows_registry", "windows_prefetch", "windows_lnk", "windows_jumplist", "ntfs_mft", "ntfs_usnjrnl",
    "ntfs_logfile", "windows_recyclebin", "windows_job",
}  # fmt: skip

EXPECTED = {
    "browser/chrome/History": "browser_history",  # SQLite; schema past the head: claimed by file name
    "browser/firefox/places.sqlite": "browser_history",
    "jumplists/1b4dd67f29cb1962.automaticDestinations-ms": "windows_jumplist",
    "jumplists/5afe4de1b92fc382.customDestinations-ms": "windows_jumplist",
    "lnk/NeroInfoTool.lnk": "windows_lnk",
    "lnk/example.lnk": "windows_lnk",
    "logs/powershell_transcript.txt": "powershell_transcript",
    "logs/setupapi.setup.log": "windows_setupapi",
    "logs/windows_firewall.log": "windows_firewall",  # W3C extended, like IIS's: #Software says firewall
    "ntfs/LogFile_10.bin": "ntfs_logfile",
    "ntfs/UsnJrnl.raw": "ntfs_usnjrnl",
    "ntfs/deleted.mft": "ntfs_mft",
    "ntfs/mft_entry_102130_fixup_issue": "ntfs_mft",
    "ntfs/mft_entry_single_file": "ntfs_mft",
    "ntfs/unicode.mft": "ntfs_mft",
    "ntfs/usnjrnlj.bin": "ntfs_usnjrnl",
    "ntfs/usnjrnlj.fsutil.txt": None,
    "prefetch/AM_DELTA_PATCH_1.443.990.0.EX-7037CF86.pf": "windows_prefetch",
    "prefetch/CMD.EXE-087B4001.pf": "windows_prefetch",
    "prefetch/NOTEPAD.EXE-D8414F97.pf": "windows_prefetch",
    "prefetch/PING.EXE-B29F6629.pf": "windows_prefetch",
    "prefetch/TASKHOST.EXE-3AE259FC.pf": "windows_prefetch",
    "prefetch/WUAUCLT.EXE-830BCC14.pf": "windows_prefetch",
    "recyclebin/$II3DF3L.zip": "windows_recyclebin",  # a $I file despite its name
    "recyclebin/INFO2": "windows_recyclebin",
    "registry/100_sub_keys.hiv": "windows_registry",
    "registry/NTUSER.DAT": "windows_registry",
    "registry/SAM": "windows_registry",
    "registry/corrupt_sub_key_list.hiv": "windows_registry",
    "registry/ntuser.dat.LOG": "windows_registry",
    "registry/win10-Amcache.hve": "windows_registry",
    "tasks/wintask.job": "windows_job",
    "timeline/bodyfile": "bodyfile",
    "timeline/bodyfile.corrupt": "bodyfile",
    "timeline/nist-hacking-case.fls": "tsk_fls",  # fls -l -r -p: the long listing has times
}


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_each_artifact_goes_to_one_parser(corpus: Path) -> None:
    root = corpus / ARTIFACTS
    got = {}
    for path in _files(root):
        head = path.read_bytes()[:HEAD_BYTES]
        parser = sniff(head, str(path))
        got[str(path.relative_to(root))] = parser.name if parser else None
        if (
            parser is not None and parser.name in WINDOWS
        ):  # content alone decides, and only one parser claims it
            assert [p.name for p in PARSERS if p.sniff(head)] == [parser.name], path
    assert got == EXPECTED


def test_windows_parsers_take_nothing_else(corpus: Path) -> None:
    taken = []
    for path in _files(corpus):
        if ARTIFACTS in path.as_posix():
            continue
        parser = sniff(path.read_bytes()[:HEAD_BYTES], str(path))
        if parser is not None and parser.name in WINDOWS:
            taken.append((str(path.relative_to(corpus)), parser.name))
    assert taken == []


def test_registered_after_the_container_magic_and_before_the_text_grammars() -> None:
    names = [p.name for p in PARSERS]
    first = min(names.index(n) for n in WINDOWS)
    assert names[:first] == ["windows_evtx", "disk_image", "collection"]
    assert names[first : first + len(WINDOWS)] == [
        "windows_registry", "windows_prefetch", "windows_lnk", "windows_jumplist", "ntfs_mft", "ntfs_usnjrnl",
        "ntfs_logfile", "windows_recyclebin", "windows_job",
    ]  # fmt: skip
    assert names.index("syslog") > first + len(WINDOWS)
