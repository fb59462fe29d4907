"""``make demo``: write a small EVTX with the project's own writer, ingest it, show the result.

Until the generated sample case lands, the demo evidence is a short, deterministic Sysmon and
Security log of one workstation (a logon, a phishing document spawning an encoded PowerShell
that downloads and runs a payload) among routine activity, written to
``sample_data/evtx/WS01-demo.evtx``.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from forensics.writers.evtx import Guid, Hex64, write_evtx

__all__ = ["demo_events", "main"]

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "evtx" / "WS01-demo.evtx"
_SYSMON = (
    "Microsoft-Windows-Sysmon",
    "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}",
    "Microsoft-Windows-Sysmon/Operational",
)
_SECURITY = ("Microsoft-Windows-Security-Auditing", "{54849625-5478-4994-A5BA-3E3B0328C30D}", "Security")
_ROUTINE = (
    (
        "C:\\Windows\\System32\\svchost.exe",
        "C:\\Windows\\system32\\svchost.exe -k netsvcs -p",
        "C:\\Windows\\System32\\services.exe",
    ),
    (
        "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
        '"chrome.exe" --type=renderer',
        "C:\\Windows\\explorer.exe",
    ),
    ("C:\\Windows\\System32\\taskhostw.exe", "taskhostw.exe", "C:\\Windows\\System32\\svchost.exe"),
    (
        "C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE",
        '"OUTLOOK.EXE"',
        "C:\\Windows\\explorer.exe",
    ),
)


def _event(source: tuple[str, str, str], event_id: int, when: datetime, data: dict, **system: object) -> dict:
    provider, guid, channel = source
    return {
        "provider": provider, "provider_guid": guid, "event_id": event_id, "version": 5 if provider.endswith("Sysmon") else 2,
        "level": 4, "task": event_id if provider.endswith("Sysmon") else 12544, "keywords": 0x8000000000000000,
        "time_created": when, "channel": channel, "computer": "WS01.corp.example.com",
        "process_id": 3112, "thread_id": 4480, "event_data": data, **system,
    }  # fmt: skip


def _process(
    when: datetime, pid: int, image: str, command: str, parent: str, ppid: int, user: str = "CORP\\alice"
) -> dict:
    guid = Guid(f"7A3C1F20-{pid:04X}-6650-0000-00100000{pid:04X}")
    return _event(_SYSMON, 1, when, {
        "RuleName": "-", "UtcTime": when.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3], "ProcessGuid": guid,
        "ProcessId": pid, "Image": image, "CommandLine": command, "CurrentDirectory": "C:\\Users\\alice\\",
        "User": user, "LogonId": Hex64(0x2A61F), "IntegrityLevel": "Medium",
        "Hashes": f"SHA256={random.Random(image).getrandbits(256):064X}",
        "ParentProcessId": ppid, "ParentImage": parent,
    }, user_sid="S-1-5-18")  # fmt: skip


def demo_events(seed: int = 7) -> list[dict]:
    """The demo log: routine activity all day, the intrusion at 10:14 UTC."""
    rng = random.Random(seed)
    start = datetime(2024, 5, 14, 7, 30, tzinfo=UTC)
    events = [
        _event(_SECURITY, 4624, start + timedelta(minutes=2), {
            "TargetUserName": "alice", "TargetDomainName": "CORP", "TargetLogonId": Hex64(0x2A61F),
            "LogonType": 2, "IpAddress": "-", "IpPort": "-", "LogonProcessName": "User32",
        }),
    ]  # fmt: skip
    for i in range(180):
        when = start + timedelta(seconds=60 * i + rng.randint(0, 50))
        image, command, parent = rng.choice(_ROUTINE)
        events.append(_process(when, 2000 + i, image, command, parent, 900 + i % 7))
    attack = datetime(2024, 5, 14, 10, 14, 3, 250000, tzinfo=UTC)
    office = "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE"
    encoded = "JABjAD0AbgBlAHcALQBvAGIAagBlAGMAdAAgAE4AZQB0AC4AVwBlAGIAQwBsAGkAZQBuAHQA"
    events += [
        _process(attack, 6112, office, f'"{office}" /n "C:\\Users\\alice\\Downloads\\invoice.docm"', "C:\\Windows\\explorer.exe", 4120),
        _process(attack + timedelta(seconds=4), 6240, "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                 f"powershell.exe -nop -w hidden -enc {encoded}", office, 6112),
        _event(_SYSMON, 3, attack + timedelta(seconds=6), {
            "Image": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", "ProcessId": 6240,
            "Protocol": "tcp", "SourceIp": "10.0.10.21", "SourcePort": 49722, "DestinationIp": "203.0.113.45",
            "DestinationPort": 80, "User": "CORP\\alice",
        }),
        _event(_SYSMON, 11, attack + timedelta(seconds=7), {
            "Image": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", "ProcessId": 6240,
            "TargetFilename": "C:\\Users\\alice\\AppData\\Roaming\\updsvc.exe",
        }),
        _process(attack + timedelta(seconds=9), 6388, "C:\\Users\\alice\\AppData\\Roaming\\updsvc.exe", "updsvc.exe",
                 "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", 6240),
    ]  # fmt: skip
    return sorted(events, key=lambda e: e["time_created"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="sample_data/demo_case")
    args = parser.parse_args(argv)
    from forensics.cli import main as cli

    if not SAMPLE.exists():
        SAMPLE.parent.mkdir(parents=True, exist_ok=True)
        write_evtx(SAMPLE, demo_events())
    case = Path(args.case)
    if case.exists():
        shutil.rmtree(case)
    status = cli(["ingest", str(SAMPLE.parent), "--case", str(case), "--quiet"])
    if status:
        return status
    cli(["timeline", "--case", str(case), "--start", "2024-05-14T10:13:00Z", "--end", "2024-05-14T10:15:00Z"])
    print(f"\nevidence: {SAMPLE}\ncase:     {case.resolve()} (case.duckdb, store/*.parquet)")
    print(
        f'next:     .venv/bin/tracehound query --case {case} --sql "SELECT event_code, count(*) FROM timeline GROUP BY 1"'
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
