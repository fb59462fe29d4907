"""WS01's event logs: Sysmon, Security, PowerShell and System, written with the EVTX writer.

Each log is a list of events with the fields Windows writes for that event id (Sysmon 13+
schema, Security auditing, PowerShell 4103/4104, Service Control Manager), sorted by time
and numbered from record 1, the way a log exported after the incident looks:
- Sysmon logs process creation/termination, network connections of a few watched processes,
  file creation, Run-key writes, DNS queries and LSASS access, over the whole case;
- the Security log was cleared by the attacker at step S17, so it starts with 1102 and holds
  only what followed (process creation auditing is on, so 4688/4689 mirror Sysmon 1/5);
- PowerShell holds the malicious script block among an hourly inventory script;
- System holds service-control and event-log housekeeping.
Process GUIDs, ids and logon ids are consistent across logs; parents exist before children.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from forensics.samples import payloads, story
from forensics.samples.story import ALICE, BOB, COLLECTED, START, WS01, Attack
from forensics.samples.truth import ArtifactReport, Ref
from forensics.writers.evtx import Guid, Hex32, Hex64, Sid, write_evtx

__all__ = ["LOGS", "generate"]

_SYSMON = (
    "Microsoft-Windows-Sysmon",
    "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}",
    "Microsoft-Windows-Sysmon/Operational",
)
_SECURITY = ("Microsoft-Windows-Security-Auditing", "{54849625-5478-4994-A5BA-3E3B0328C30D}", "Security")
_EVENTLOG = ("Microsoft-Windows-Eventlog", "{FC65DDD8-D6EF-4962-83D5-6E5CFE9CE148}", "Security")
_POWERSHELL = (
    "Microsoft-Windows-PowerShell",
    "{A0C1853B-5C40-4B15-8766-3CF1C58F985A}",
    "Microsoft-Windows-PowerShell/Operational",
)
_SCM = ("Service Control Manager", "{555908D1-A6D7-4695-8E1E-26931D2012F4}", "System")
_TIME = ("Microsoft-Windows-Time-Service", "{06EDCFEB-0FD0-4E53-ACCA-A6F8BBF81BCB}", "System")

#: File names as in C:\Windows\System32\winevt\Logs.
LOGS = {
    "sysmon": "WS01/Microsoft-Windows-Sysmon%4Operational.evtx",
    "security": "WS01/Security.evtx",
    "powershell": "WS01/Microsoft-Windows-PowerShell%4Operational.evtx",
    "system": "WS01/System.evtx",
}

_SYS32 = "C:\\Windows\\System32\\"
_PS = _SYS32 + "WindowsPowerShell\\v1.0\\powershell.exe"
_OFFICE = "C:\\Program Files\\Microsoft Office\\root\\Office16\\"
_EDGE = "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe"
_LSASS = _SYS32 + "lsass.exe"
_SYSTEM_USER = "NT AUTHORITY\\SYSTEM"
_ALICE_USER = "CORP\\alice"
_DAY_LOGON = {0: 0x2B10C4, 1: 0x3E2A1F}  # alice's interactive logon id, Monday and Tuesday
_LSASS_PID = 692
_SYSMON_PID = 2980


@dataclass
class _Proc:
    """A process as Sysmon knows it."""

    guid: Guid
    pid: int
    image: str
    command: str
    user: str
    logon_id: int
    integrity: str
    start: datetime


@dataclass
class _Entry:
    log: str
    event: dict[str, Any]
    step: str = ""
    what: str = ""


def _utc(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


class _Host:
    """WS01's state while events are generated: processes, pids, the output entries."""

    def __init__(self, rand: random.Random, machine: story.Host = WS01) -> None:
        self.r = rand
        self.machine = machine
        self.entries: list[_Entry] = []
        self.next_pid = 4000
        base = self._proc(START, "C:\\Windows\\System32\\services.exe", "C:\\Windows\\system32\\services.exe",
                          _SYSTEM_USER, 0x3E7, "System", log=False)  # fmt: skip
        self.services = base
        self.svchost = self._proc(START, _SYS32 + "svchost.exe", "C:\\Windows\\system32\\svchost.exe -k netsvcs -p",
                                  _SYSTEM_USER, 0x3E7, "System", parent=base, log=False)  # fmt: skip
        self.explorer: dict[int, _Proc] = {}
        self.outlook: _Proc | None = None  # started at the morning logon

    # -- identity -----------------------------------------------------------------------------
    def _guid(self, when: datetime) -> Guid:
        # Sysmon's GUID: machine part, then a time-derived part, then a counter.
        stamp = int(when.timestamp())
        return Guid(f"B7C3F1A2-{stamp >> 16 & 0xFFFF:04X}-{stamp & 0xFFFF:04X}-{self.r.getrandbits(16):04X}-"
                    f"{self.r.getrandbits(48):012X}")  # fmt: skip

    def _pid(self) -> int:
        self.next_pid += self.r.randint(4, 60) * 4
        if self.next_pid > 15000:
            self.next_pid = 1000 + self.r.randint(0, 200) * 4
        return self.next_pid

    # -- events -------------------------------------------------------------------------------
    def add(self, log: str, source: tuple, event_id: int, when: datetime, data: dict, step: str = "",
            what: str = "", **system: Any) -> None:  # fmt: skip
        provider, guid, channel = source
        sysmon = provider == _SYSMON[0]
        event = {
            "provider": provider, "event_id": event_id, "time_created": when, "channel": channel,
            "computer": self.machine.fqdn, "event_data": data,
            "version": system.pop("version", 0), "level": system.pop("level", 4),
            "task": system.pop("task", event_id if sysmon else 0), "opcode": system.pop("opcode", 0),
            "keywords": system.pop("keywords", 0x8000000000000000),
            "process_id": system.pop("pid", _SYSMON_PID if sysmon else 4),
            "thread_id": system.pop("tid", 3000 + self.r.randint(0, 900) * 4),
        }  # fmt: skip
        if guid:
            event["provider_guid"] = guid
        if sysmon:
            event["user_sid"] = Sid("S-1-5-18")
        event.update(system)
        self.entries.append(_Entry(log, event, step, what))

    def _proc(self, when: datetime, image: str, command: str, user: str, logon_id: int, integrity: str,
              parent: _Proc | None = None, step: str = "", what: str = "", log: bool = True,
              pid: int | None = None, hashes: str | None = None, meta: tuple[str, str, str, str] | None = None) -> _Proc:  # fmt: skip
        proc = _Proc(self._guid(when), pid or self._pid(), image, command, user, logon_id, integrity, when)
        if not log:
            return proc
        parent = parent or self.services
        name = image.rsplit("\\", 1)[-1]
        version, description, product, company = meta or _META.get(name.lower(), ("10.0.19041.1 (WinBuild.160101.0800)", name, "Microsoft® Windows® Operating System", "Microsoft Corporation"))  # fmt: skip
        digest = hashes or _hashes(image)
        self.add("sysmon", _SYSMON, 1, when, {
            "RuleName": "-", "UtcTime": _utc(when), "ProcessGuid": proc.guid, "ProcessId": proc.pid,
            "Image": image, "FileVersion": version, "Description": description, "Product": product,
            "Company": company, "OriginalFileName": name, "CommandLine": command,
            "CurrentDirectory": "C:\\Windows\\system32\\" if user == _SYSTEM_USER else "C:\\Users\\alice\\",
            "User": user, "LogonGuid": Guid(f"B7C3F1A2-0000-0000-0000-{logon_id:012X}"), "LogonId": Hex64(logon_id),
            "TerminalSessionId": 0 if user == _SYSTEM_USER else 1, "IntegrityLevel": integrity, "Hashes": digest,
            "ParentProcessGuid": parent.guid, "ParentProcessId": parent.pid, "ParentImage": parent.image,
            "ParentCommandLine": parent.command, "ParentUser": parent.user,
        }, step, what or f"process {name} started", version=5, task=1)  # fmt: skip
        if when >= _cleared():
            self._security_4688(when, proc, parent, step)
        return proc

    def _security_4688(self, when: datetime, proc: _Proc, parent: _Proc, step: str) -> None:
        user, domain = _split_user(proc.user)
        self.add("security", _SECURITY, 4688, when + timedelta(microseconds=self.r.randint(100, 900)), {
            "SubjectUserSid": Sid(_sid(proc.user)), "SubjectUserName": user, "SubjectDomainName": domain,
            "SubjectLogonId": Hex64(proc.logon_id), "NewProcessId": Hex64(proc.pid), "NewProcessName": proc.image,
            "TokenElevationType": "%%1938" if proc.integrity == "Medium" else "%%1936", "ProcessId": Hex64(parent.pid),
            "CommandLine": proc.command, "TargetUserSid": Sid("S-1-0-0"), "TargetUserName": "-",
            "TargetDomainName": "-", "TargetLogonId": Hex64(0), "ParentProcessName": parent.image,
            "MandatoryLabel": Sid("S-1-16-8192" if proc.integrity == "Medium" else "S-1-16-16384"),
        }, step, f"process {proc.image.rsplit(chr(92), 1)[-1]} created", version=2, level=0, task=13312,
            keywords=0x8020000000000000, pid=4, tid=self.r.randint(100, 300) * 4)  # fmt: skip

    def end(self, when: datetime, proc: _Proc, step: str = "") -> None:
        self.add("sysmon", _SYSMON, 5, when, {
            "RuleName": "-", "UtcTime": _utc(when), "ProcessGuid": proc.guid, "ProcessId": proc.pid,
            "Image": proc.image, "User": proc.user,
        }, step, "process ended", version=3, task=5)  # fmt: skip
        if when >= _cleared():
            user, domain = _split_user(proc.user)
            self.add("security", _SECURITY, 4689, when, {
                "SubjectUserSid": Sid(_sid(proc.user)), "SubjectUserName": user, "SubjectDomainName": domain,
                "SubjectLogonId": Hex64(proc.logon_id), "Status": Hex32(0), "ProcessId": Hex64(proc.pid),
                "ProcessName": proc.image,
            }, step, version=0, level=0, task=13313, keywords=0x8020000000000000)  # fmt: skip

    def file(self, when: datetime, proc: _Proc, path: str, step: str = "", what: str = "") -> None:
        self.add("sysmon", _SYSMON, 11, when, {
            "RuleName": "-", "UtcTime": _utc(when), "ProcessGuid": proc.guid, "ProcessId": proc.pid,
            "Image": proc.image, "TargetFilename": path, "CreationUtcTime": _utc(when), "User": proc.user,
        }, step, what or f"file {path} created", version=2, task=11)  # fmt: skip

    def registry(self, when: datetime, proc: _Proc, key: str, details: str, step: str = "") -> None:
        self.add("sysmon", _SYSMON, 13, when, {
            "RuleName": "-", "EventType": "SetValue", "UtcTime": _utc(when), "ProcessGuid": proc.guid,
            "ProcessId": proc.pid, "Image": proc.image, "TargetObject": key, "Details": details, "User": proc.user,
        }, step, f"registry value {key} set", version=2, task=13)  # fmt: skip

    def dns(self, when: datetime, proc: _Proc, name: str, answer: str, step: str = "") -> None:
        self.add("sysmon", _SYSMON, 22, when, {
            "RuleName": "-", "UtcTime": _utc(when), "ProcessGuid": proc.guid, "ProcessId": proc.pid,
            "QueryName": name, "QueryStatus": "0", "QueryResults": f"::ffff:{answer};", "Image": proc.image,
            "User": proc.user,
        }, step, f"DNS {name} -> {answer}", version=5, task=22)  # fmt: skip

    def connect(self, when: datetime, proc: _Proc, sport: int, dst: str, dport: int, name: str = "",
                step: str = "") -> None:  # fmt: skip
        self.add("sysmon", _SYSMON, 3, when, {
            "RuleName": "-", "UtcTime": _utc(when), "ProcessGuid": proc.guid, "ProcessId": proc.pid,
            "Image": proc.image, "User": proc.user, "Protocol": "tcp", "Initiated": True, "SourceIsIpv6": False,
            "SourceIp": self.machine.ip, "SourceHostname": self.machine.fqdn, "SourcePort": sport, "SourcePortName": "-",
            "DestinationIsIpv6": False, "DestinationIp": dst, "DestinationHostname": name or "-",
            "DestinationPort": dport, "DestinationPortName": _PORT_NAMES.get(dport, "-"),
        }, step, f"connection to {dst}:{dport}", version=5, task=3)  # fmt: skip

    def access(self, when: datetime, source: _Proc, access: int, trace: str, step: str = "") -> None:
        self.add("sysmon", _SYSMON, 10, when, {
            "RuleName": "-", "UtcTime": _utc(when), "SourceProcessGUID": source.guid, "SourceProcessId": source.pid,
            "SourceThreadId": self.r.randint(1000, 9000), "SourceImage": source.image,
            "TargetProcessGUID": Guid("B7C3F1A2-69A8-0000-0010-0000A1B2C3D4"), "TargetProcessId": _LSASS_PID,
            "TargetImage": _LSASS, "GrantedAccess": Hex32(access), "CallTrace": trace,
            "SourceUser": source.user, "TargetUser": _SYSTEM_USER,
        }, step, f"{source.image.rsplit(chr(92), 1)[-1]} opened lsass.exe (0x{access:X})", version=3, task=10)  # fmt: skip


_META = {
    "powershell.exe": ("10.0.19041.3803 (WinBuild.160101.0800)", "Windows PowerShell", "Microsoft® Windows® Operating System", "Microsoft Corporation"),
    "winword.exe": ("16.0.17328.20162", "Microsoft Word", "Microsoft Office", "Microsoft Corporation"),
    "excel.exe": ("16.0.17328.20162", "Microsoft Excel", "Microsoft Office", "Microsoft Corporation"),
    "outlook.exe": ("16.0.17328.20162", "Microsoft Outlook", "Microsoft Office", "Microsoft Corporation"),
    "msedge.exe": ("122.0.2365.80", "Microsoft Edge", "Microsoft Edge", "Microsoft Corporation"),
    "ms-teams.exe": ("24033.1005.2701.4483", "Microsoft Teams", "Microsoft Teams", "Microsoft Corporation"),
    "onedrive.exe": ("24.020.0128.0003", "Microsoft OneDrive", "Microsoft OneDrive", "Microsoft Corporation"),
    "acrord32.exe": ("23.8.20533.0", "Adobe Acrobat Reader", "Adobe Acrobat Reader", "Adobe Systems Incorporated"),
}  # fmt: skip
_PORT_NAMES = {80: "http", 443: "https", 22: "ssh", 88: "kerberos", 445: "microsoft-ds", 389: "ldap"}


def _hashes(image: str) -> str:
    """Stable per-image hashes in Sysmon's ``Hashes`` format."""
    r = random.Random(image.lower())
    return (f"SHA1={r.getrandbits(160):040X},MD5={r.getrandbits(128):032X},SHA256={r.getrandbits(256):064X},"
            f"IMPHASH={r.getrandbits(128):032X}")  # fmt: skip


def _split_user(user: str) -> tuple[str, str]:
    if user == _SYSTEM_USER:
        return "WS01$", "CORP"
    domain, name = user.split("\\", 1)
    return name, domain


def _sid(user: str) -> str:
    return {_ALICE_USER: ALICE[2], "CORP\\bob": BOB[2]}.get(user, "S-1-5-18")


def _cleared() -> datetime:
    return story.attack_time("S17")


# --- the attack -------------------------------------------------------------------------------


def _attack(host: _Host, plan: Attack) -> None:
    s = plan.step
    conn = {c.step: c for c in plan.connections if c.step in ("S05", "S11")}
    look = {item.step: item for item in plan.lookups}
    tuesday = _DAY_LOGON[1]
    outlook = host.outlook
    t = s("S01").time
    host.file(t, outlook, story.ATTACHMENT, "S01", "invoice.docm saved from an e-mail by OUTLOOK.EXE")
    word_image = _OFFICE + "WINWORD.EXE"
    word = host._proc(s("S02").time, word_image, f'"{word_image}" /n "{story.ATTACHMENT}" /o ""', _ALICE_USER,
                      tuesday, "Medium", outlook, "S02", "WINWORD.EXE opened invoice.docm")  # fmt: skip
    ps = host._proc(s("S03").time, _PS, f"powershell.exe -nop -w hidden -enc {payloads.encoded_command()}",
                    _ALICE_USER, tuesday, "Medium", word, "S03", "WINWORD.EXE started an encoded PowerShell")  # fmt: skip
    host.add("powershell", _POWERSHELL, 4104, s("S03").time + timedelta(milliseconds=912), {
        "MessageNumber": 1, "MessageTotal": 1, "ScriptBlockText": payloads.DOWNLOAD_SCRIPT,
        "ScriptBlockId": Guid("5E8A1C3B-7D2F-4B61-9A0E-3C4D5E6F7081"), "Path": None,
    }, "S03", "script block: download and start msupdate.exe", version=1, level=5, task=2, opcode=15,
        keywords=0x0, pid=ps.pid, user_sid=Sid(ALICE[2]))  # fmt: skip
    lookup = look["S04"]
    host.dns(lookup.time + timedelta(milliseconds=31), ps, lookup.name, lookup.answer, "S04")
    download = conn["S05"]
    host.connect(download.time, ps, download.sport, download.dst, 80, story.LOOKALIKE, "S05")
    host.file(
        s("S05").time + timedelta(milliseconds=1480), ps, story.PAYLOAD_PATH, "S05", "msupdate.exe written"
    )
    implant = host._proc(
        s("S06").time, story.PAYLOAD_PATH, f'"{story.PAYLOAD_PATH}"', _ALICE_USER, tuesday, "Medium", ps, "S06",
        "msupdate.exe started by PowerShell", hashes=_payload_hashes(),
        meta=("10.0.19041.1 (WinBuild.160101.0800)", "Microsoft Update Health Tools", "Microsoft® Windows® Operating System", "Microsoft Corporation"),
    )  # fmt: skip
    host.end(s("S06").time + timedelta(seconds=3, milliseconds=211), ps, "S06")
    host.registry(s("S07").time, implant, story.RUN_KEY, story.PAYLOAD_PATH, "S07")
    task_cmd = f'schtasks.exe /create /sc onlogon /tn "{story.TASK_NAME[1:]}" /tr "{story.PAYLOAD_PATH}" /rl limited /f'
    schtasks = host._proc(s("S08").time, _SYS32 + "schtasks.exe", task_cmd, _ALICE_USER, tuesday, "Medium",
                          implant, "S08", "scheduled task MicrosoftEdgeUpdateTaskCore created")  # fmt: skip
    host.file(s("S08").time + timedelta(milliseconds=140), host.svchost,
              "C:\\Windows\\System32\\Tasks" + story.TASK_NAME, "S08", "task file written")  # fmt: skip
    host.end(s("S08").time + timedelta(milliseconds=402), schtasks, "S08")
    beacon = look["S09"]
    host.dns(beacon.time + timedelta(milliseconds=22), implant, beacon.name, beacon.answer, "S09")
    for c in plan.connections:
        if c.step == "S09":
            host.connect(c.time, implant, c.sport, c.dst, c.dport, c.server_name, "S09")
    t = s("S10").time
    dump_cmd = f"\"C:\\Windows\\System32\\rundll32.exe\" C:\\Windows\\System32\\comsvcs.dll, MiniDump {_LSASS_PID} {story.DUMP_PATH} full"  # fmt: skip
    rundll = host._proc(t, _SYS32 + "rundll32.exe", dump_cmd, _ALICE_USER, tuesday, "High", implant, "S10",
                        "rundll32.exe comsvcs.dll MiniDump of lsass")  # fmt: skip
    host.access(t + timedelta(milliseconds=63), rundll, 0x1FFFFF,
                "C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|C:\\Windows\\System32\\KERNELBASE.dll+2c13e|"
                "C:\\Windows\\System32\\comsvcs.dll+2b9c3|C:\\Windows\\System32\\rundll32.exe+3bd4", "S10")  # fmt: skip
    host.file(t + timedelta(milliseconds=388), rundll, story.DUMP_PATH, "S10", "LSASS dump written")
    host.end(t + timedelta(seconds=2, milliseconds=510), rundll, "S10")
    ssh_conn = conn["S11"]
    ssh = host._proc(s("S11").time - timedelta(milliseconds=240), _SYS32 + "OpenSSH\\ssh.exe",
                     f'ssh.exe -o StrictHostKeyChecking=no -o "SetEnv=MOTD={payloads.PLANTED[1]}{payloads.PLANTED[2]}" bob@{story.SRV01.ip}', _ALICE_USER, tuesday, "Medium",
                     implant, "S11", "ssh.exe to SRV01 as bob")  # fmt: skip
    host.connect(ssh_conn.time, ssh, ssh_conn.sport, ssh_conn.dst, 22, "", "S11")
    host.end(story.attack_time("S16") + story.SSH_LOGOUT_AFTER, ssh, "S11")
    t = s("S17").time
    cmd = host._proc(t - timedelta(milliseconds=420), _SYS32 + "cmd.exe", "cmd.exe /c wevtutil.exe cl Security",
                     _ALICE_USER, tuesday, "High", implant, "S17", "cmd.exe to clear the Security log")  # fmt: skip
    wevtutil = host._proc(t - timedelta(milliseconds=180), _SYS32 + "wevtutil.exe", "wevtutil.exe cl Security",
                          _ALICE_USER, tuesday, "High", cmd, "S17", "wevtutil.exe cl Security")  # fmt: skip
    host.add("security", _EVENTLOG, 1102, t, {
        "SubjectUserSid": Sid(ALICE[2]), "SubjectUserName": "alice", "SubjectDomainName": "CORP",
        "SubjectLogonId": Hex64(tuesday),
    }, "S17", "the audit log was cleared", version=0, level=4, task=104, keywords=0x4020000000000000,
        pid=1364, tid=4412)  # fmt: skip
    host.end(t + timedelta(milliseconds=240), wevtutil, "S17")
    host.end(t + timedelta(milliseconds=310), cmd, "S17")


def _payload_hashes() -> str:
    import hashlib

    data = payloads.payload()
    return (f"SHA1={hashlib.sha1(data).hexdigest().upper()},MD5={hashlib.md5(data).hexdigest().upper()},"
            f"SHA256={hashlib.sha256(data).hexdigest().upper()},IMPHASH=F34D5F2D4577ED6D9CEEC516C1F5A744")  # fmt: skip


# --- the background ---------------------------------------------------------------------------

_APPS = (  # image, command, weight
    ("C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe", '"{img}" --single-argument https://intranet.corp.example.com/', 8),
    (_OFFICE + "EXCEL.EXE", '"{img}" "C:\\Users\\alice\\Documents\\Budget 2026.xlsx"', 3),
    (_OFFICE + "WINWORD.EXE", '"{img}" /n "C:\\Users\\alice\\Documents\\Minutes-{n}.docx"', 3),
    ("C:\\Windows\\System32\\notepad.exe", '"{img}" C:\\Users\\alice\\Desktop\\todo.txt', 1),
    ("C:\\Program Files (x86)\\Adobe\\Acrobat Reader DC\\Reader\\AcroRd32.exe", '"{img}" "C:\\Users\\alice\\Downloads\\statement-{n}.pdf"', 2),
    ("C:\\Windows\\System32\\mspaint.exe", '"{img}"', 1),
    ("C:\\Windows\\System32\\SnippingTool.exe", '"{img}"', 1),
)  # fmt: skip
_SYSTEM_JOBS = (  # image, command, weight
    (_SYS32 + "svchost.exe", "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s BITS", 4),
    (_SYS32 + "taskhostw.exe", "taskhostw.exe Install $(Arg0)", 3),
    (_SYS32 + "backgroundTaskHost.exe", '"C:\\Windows\\system32\\backgroundTaskHost.exe" -ServerName:BackgroundTaskHost.WebAccountProvider', 3),
    (_SYS32 + "RuntimeBroker.exe", "C:\\Windows\\System32\\RuntimeBroker.exe -Embedding", 3),
    (_SYS32 + "SearchProtocolHost.exe", '"C:\\Windows\\system32\\SearchProtocolHost.exe" Global\\UsGthrFltPipeMssGthrPipe5_', 2),
    (_SYS32 + "conhost.exe", "\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1", 2),
    ("C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24010.12-0\\MpCmdRun.exe", '"C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24010.12-0\\MpCmdRun.exe" -IdleTask -TaskName WdCacheMaintenance', 1),
    (_SYS32 + "wuauclt.exe", '"C:\\Windows\\system32\\wuauclt.exe" /RunHandlerComServer', 1),
    (_SYS32 + "CompatTelRunner.exe", "C:\\Windows\\system32\\compattelrunner.exe -m:appraiser.dll -f:DoScheduledTelemetryRun", 1),
    (_SYS32 + "sppsvc.exe", "C:\\Windows\\system32\\sppsvc.exe", 1),
)  # fmt: skip
_SITES = (
    ("www.example.com", "192.0.2.10"), ("news.example.org", "198.51.100.80"), ("cdn.example.net", "203.0.113.15"),
    ("login.example.com", "192.0.2.44"), ("outlook.office.example.com", "198.51.100.140"),
    ("teams.example.net", "203.0.113.120"), ("docs.example.org", "192.0.2.91"), ("weather.example.com", "198.51.100.7"),
)  # fmt: skip
_SERVICES = (
    "Windows Update", "Background Intelligent Transfer Service", "Windows Modules Installer", "Microsoft Edge Update Service (edgeupdate)",
    "Windows Defender Antivirus Network Inspection Service", "Delivery Optimization", "WinHTTP Web Proxy Auto-Discovery Service",
    "Microsoft Store Install Service", "Windows Error Reporting Service", "Device Setup Manager",
)  # fmt: skip


def _activity(when: datetime) -> float:
    """Relative activity of a user on WS01 at ``when`` (UTC, office hours 08-17)."""
    hour = when.hour + when.minute / 60
    if 8 <= hour < 12 or 13 <= hour < 17:
        return 1.0
    if 12 <= hour < 13:
        return 0.35
    return 0.0


def _poisson(r: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method for small means, normal approximation above)."""
    if mean > 30:
        return max(0, round(r.gauss(mean, mean**0.5)))
    limit, k, p = 2.718281828459045**-mean, 0, 1.0
    while True:
        p *= r.random()
        if p <= limit:
            return k
        k += 1


def _minutes(r: random.Random, rate_per_hour: float, weight: Any) -> Iterator[datetime]:
    """Event times over the case window with ``rate_per_hour`` scaled by ``weight(time)``."""
    t = START
    while t < COLLECTED:
        mean = rate_per_hour / 6 * weight(t)
        for _ in range(_poisson(r, mean)):
            yield t + timedelta(seconds=r.uniform(0, 600))
        t += timedelta(minutes=10)


def _background(host: _Host, scale: int) -> None:
    r = host.r
    # alice logs on each morning (Sysmon sees userinit and explorer), Outlook and Teams start.
    for day in (0, 1):
        logon = START + timedelta(days=day, hours=7, minutes=52 + 3 * day, seconds=r.randint(0, 59))
        logon_id = _DAY_LOGON[day]
        userinit = host._proc(logon, _SYS32 + "userinit.exe", "C:\\Windows\\system32\\userinit.exe", _ALICE_USER,
                              logon_id, "Medium", host.services)  # fmt: skip
        explorer = host._proc(logon + timedelta(seconds=2), "C:\\Windows\\explorer.exe", "C:\\Windows\\Explorer.EXE",
                              _ALICE_USER, logon_id, "Medium", userinit)  # fmt: skip
        host.end(logon + timedelta(seconds=31), userinit)
        host.explorer[day] = explorer
        outlook_img = _OFFICE + "OUTLOOK.EXE"
        host.outlook = host._proc(logon + timedelta(minutes=1, seconds=14), outlook_img, f'"{outlook_img}" ',
                                  _ALICE_USER, logon_id, "Medium", explorer)  # fmt: skip
        teams = host._proc(logon + timedelta(minutes=1, seconds=40), "C:\\Program Files\\WindowsApps\\MSTeams_24033.1005.2701.4483_x64__8wekyb3d8bbwe\\ms-teams.exe",
                           '"ms-teams.exe" msteams:system-initiated', _ALICE_USER, logon_id, "Medium", explorer)  # fmt: skip
        onedrive_img = "C:\\Users\\alice\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe"
        onedrive = host._proc(logon + timedelta(seconds=40), onedrive_img, f'"{onedrive_img}" /background',
                              _ALICE_USER, logon_id, "Medium", explorer)  # fmt: skip
        # A benign Run-key write that looks like S07's: OneDrive refreshing its own entry.
        host.registry(logon + timedelta(seconds=44), onedrive,
                      f"HKU\\{ALICE[2]}\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\OneDrive",
                      f'"{onedrive_img}" /background')  # fmt: skip
        for proc in (teams, onedrive):
            host.connect(logon + timedelta(minutes=2, seconds=r.randint(0, 50)), proc, r.randint(49152, 65000),
                         r.choice(_SITES)[1], 443)  # fmt: skip
        if day == 0:
            _admin_visit(host, logon_id)
    # Office hours: applications, documents, attachments, browsing.
    for when in sorted(_minutes(r, 14 * scale, _activity)):
        day = (when - START).days
        if day not in host.explorer or when < host.explorer[day].start:
            continue
        logon_id = _DAY_LOGON[day]
        image, template, _ = _pick(r, _APPS)
        app = host._proc(when, image, template.format(img=image, n=r.randint(1, 99)), _ALICE_USER, logon_id,
                         "Medium", host.explorer[day])  # fmt: skip
        if image.endswith("msedge.exe"):
            for _ in range(r.randint(1, 4)):
                name, address = r.choice(_SITES)
                at = when + timedelta(seconds=r.uniform(1, 400))
                host.dns(at, app, name, address)
                host.connect(
                    at + timedelta(milliseconds=r.randint(5, 60)),
                    app,
                    r.randint(49152, 65000),
                    address,
                    443,
                    name,
                )
            host.file(when + timedelta(seconds=r.uniform(5, 500)), app,
                      f"C:\\Users\\alice\\Downloads\\report-{r.randint(1000, 9999)}.pdf")  # fmt: skip
        if r.random() < 0.15:
            # Benign attachments saved by Outlook, like S01's.
            name = r.choice(["statement.pdf", "agenda.docx", "timesheet.xlsx", "quote-4471.pdf", "photo.jpg"])
            host.file(when - timedelta(seconds=r.uniform(2, 30)), host.outlook,
                      f"C:\\Users\\alice\\AppData\\Local\\Microsoft\\Windows\\INetCache\\Content.Outlook\\Q7W2M1ZK\\{name}")  # fmt: skip
        host.end(when + timedelta(seconds=r.uniform(60, 2400)), app)
    # Around the clock: services spawn helpers, Defender queries lsass, scheduled jobs run.
    for when in sorted(_minutes(r, 34 * scale, lambda t: 1.0 + 1.5 * _activity(t))):
        image, command, _ = _pick(r, _SYSTEM_JOBS)
        job = host._proc(when, image, command, _SYSTEM_USER, 0x3E7, "System", host.svchost)
        host.end(when + timedelta(seconds=r.uniform(0.5, 90)), job)
        if r.random() < 0.08:
            host.access(when + timedelta(seconds=1), job, 0x1000,
                        "C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|C:\\Windows\\System32\\KERNELBASE.dll+2c13e|UNKNOWN(00007FF8A1B2C3D4)")  # fmt: skip
    for when in sorted(_minutes(r, 3 * scale, lambda t: 1.0)):
        host.dns(when, host.svchost, r.choice(["ctldl.windowsupdate.example.com", "time.example.net", "dc01.corp.example.com"]),
                 r.choice(["192.0.2.200", "10.20.0.5"]))  # fmt: skip
    _inventory_script(host, scale)
    _system_log(host, scale)
    _security_after_clear(host, scale)


def _pick(r: random.Random, table: tuple) -> tuple:
    return r.choices(table, weights=[row[-1] for row in table])[0]


def _admin_visit(host: _Host, alice_logon: int) -> None:
    """Monday 15:31: bob (IT) fixes Outlook on WS01 with an elevated console; his logon is why
    his credentials sat in LSASS the next day. The Security log that recorded it was cleared."""
    when = START + timedelta(hours=15, minutes=31, seconds=12)
    bob_logon = 0x4C77A9
    console = host._proc(when, _PS, "powershell.exe", "CORP\\bob", bob_logon, "High", host.explorer[0])
    host.add("powershell", _POWERSHELL, 4104, when + timedelta(seconds=41), {
        "MessageNumber": 1, "MessageTotal": 1, "ScriptBlockText": "Get-Process OUTLOOK | Stop-Process -Force; "
        "Remove-Item \"$env:LOCALAPPDATA\\Microsoft\\Outlook\\*.ost.tmp\" -ErrorAction SilentlyContinue",
        "ScriptBlockId": Guid(uuid.UUID(int=host.r.getrandbits(128))), "Path": None,
    }, version=1, level=5, task=2, opcode=15, keywords=0x0, pid=console.pid, user_sid=Sid(BOB[2]))  # fmt: skip
    host.end(when + timedelta(minutes=6, seconds=3), console)


def _inventory_script(host: _Host, scale: int) -> None:
    """Every hour the IT inventory task runs a PowerShell script as SYSTEM."""
    r = host.r
    script = "C:\\ProgramData\\CorpIT\\inventory.ps1"
    t = START + timedelta(minutes=17)
    blocks = (
        "$os = Get-CimInstance Win32_OperatingSystem; $disk = Get-CimInstance Win32_LogicalDisk -Filter \"DeviceID='C:'\"",
        "$apps = Get-ItemProperty HKLM:\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\* | Select DisplayName, DisplayVersion",
        "Invoke-RestMethod -Uri https://inventory.corp.example.com/api/report -Method Post -Body ($report | ConvertTo-Json) -UseDefaultCredentials",
    )  # fmt: skip
    while t < COLLECTED:
        for _ in range(scale):
            proc = host._proc(t, _PS, f"powershell.exe -NoProfile -ExecutionPolicy Bypass -File {script}",
                              _SYSTEM_USER, 0x3E7, "System", host.svchost)  # fmt: skip
            host.add("powershell", _POWERSHELL, 40961, t + timedelta(milliseconds=300), {},
                     version=1, level=4, task=4, opcode=1, keywords=0x0, pid=proc.pid, user_sid=Sid("S-1-5-18"))  # fmt: skip
            for i, block in enumerate(blocks, 1):
                host.add("powershell", _POWERSHELL, 4104, t + timedelta(seconds=1 + i), {
                    "MessageNumber": 1, "MessageTotal": 1, "ScriptBlockText": block,
                    "ScriptBlockId": Guid(uuid.UUID(int=r.getrandbits(128))), "Path": script,
                }, version=1, level=5, task=2, opcode=15, keywords=0x0, pid=proc.pid, user_sid=Sid("S-1-5-18"))  # fmt: skip
            host.add("powershell", _POWERSHELL, 4103, t + timedelta(seconds=5), {
                "ContextInfo": f"        Severity = Informational\r\n        Host Name = ConsoleHost\r\n        Host Application = powershell.exe -NoProfile -ExecutionPolicy Bypass -File {script}\r\n        Command Name = Invoke-RestMethod\r\n        Command Type = Cmdlet\r\n        Script Name = {script}\r\n",
                "UserData": "", "Payload": "CommandInvocation(Invoke-RestMethod): \"Invoke-RestMethod\"\r\nParameterBinding(Invoke-RestMethod): name=\"Uri\"; value=\"https://inventory.corp.example.com/api/report\"\r\n",
            }, version=1, level=4, task=106, opcode=20, keywords=0x0, pid=proc.pid, user_sid=Sid("S-1-5-18"))  # fmt: skip
            host.end(t + timedelta(seconds=7), proc)
        t += timedelta(hours=1, seconds=r.randint(-40, 40))


def _system_log(host: _Host, scale: int) -> None:
    r = host.r
    for when in sorted(_minutes(r, 8 * scale, lambda t: 1.0 + _activity(t))):
        service = r.choice(_SERVICES)
        state = r.choice(["running", "stopped"])
        host.add("system", _SCM, 7036, when, {"param1": service, "param2": state},
                 version=0, level=4, task=0, keywords=0x8080000000000000, pid=_SERVICES_PID)  # fmt: skip
    t = START + timedelta(hours=2, minutes=11)
    while t < COLLECTED:  # the time service reports its source every 8 hours
        host.add("system", _TIME, 37, t, {
            "TimeSource": f"dc01.corp.example.com,0x8 (ntp.d|0x8|{host.machine.ip}:123->{story.DC01.ip}:123)",
        }, version=0, level=4, task=0, keywords=0x8000000000000000, pid=1880)  # fmt: skip
        t += timedelta(hours=8, seconds=r.randint(0, 30))
    # A benign service install Monday afternoon (an Edge update), a look-alike of S08's task name.
    host.add("system", _SCM, 7045, START + timedelta(hours=14, minutes=2, seconds=9), {
        "ServiceName": "Microsoft Edge Elevation Service (MicrosoftEdgeElevationService)",
        "ImagePath": '"C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\122.0.2365.80\\elevation_service.exe"',
        "ServiceType": "user mode service", "StartType": "demand start", "AccountName": "LocalSystem",
    }, version=0, level=4, task=0, keywords=0x8080000000000000, pid=_SERVICES_PID,
        user_sid=Sid("S-1-5-18"))  # fmt: skip


_SERVICES_PID = 748


def _security_after_clear(host: _Host, scale: int) -> None:
    """Network and service logons after the clear (S17) until collection."""
    r = host.r
    start = _cleared()
    for when in sorted(t for t in _minutes(r, 30 * scale, lambda t: 1.0) if t > start + timedelta(seconds=5)):
        kind = r.random()
        logon_id = r.getrandbits(24) | 0x100000
        if kind < 0.5:
            host.add("security", _SECURITY, 4624, when, {
                "SubjectUserSid": Sid("S-1-0-0"), "SubjectUserName": "-", "SubjectDomainName": "-",
                "SubjectLogonId": Hex64(0), "TargetUserSid": Sid("S-1-5-21-3623811015-3361044348-30300820-1000"),
                "TargetUserName": "DC01$", "TargetDomainName": "CORP", "TargetLogonId": Hex64(logon_id),
                "LogonType": 3, "LogonProcessName": "Kerberos", "AuthenticationPackageName": "Kerberos",
                "WorkstationName": "-", "LogonGuid": Guid(uuid.UUID(int=r.getrandbits(128))),
                "TransmittedServices": "-", "LmPackageName": "-", "KeyLength": 0, "ProcessId": Hex64(0),
                "ProcessName": "-", "IpAddress": story.DC01.ip, "IpPort": str(r.randint(49152, 65535)),
                "ImpersonationLevel": "%%1833", "RestrictedAdminMode": "-", "TargetOutboundUserName": "-",
                "TargetOutboundDomainName": "-", "VirtualAccount": "%%1843", "TargetLinkedLogonId": Hex64(0),
                "ElevatedToken": "%%1842",
            }, version=2, level=0, task=12544, keywords=0x8020000000000000, pid=_LSASS_PID)  # fmt: skip
            host.add("security", _SECURITY, 4634, when + timedelta(seconds=r.uniform(0.2, 3)), {
                "TargetUserSid": Sid("S-1-5-21-3623811015-3361044348-30300820-1000"), "TargetUserName": "DC01$",
                "TargetDomainName": "CORP", "TargetLogonId": Hex64(logon_id), "LogonType": 3,
            }, version=0, level=0, task=12545, keywords=0x8020000000000000, pid=_LSASS_PID)  # fmt: skip
        elif kind < 0.8:
            host.add("security", _SECURITY, 4672, when, {
                "SubjectUserSid": Sid("S-1-5-18"), "SubjectUserName": "SYSTEM", "SubjectDomainName": "NT AUTHORITY",
                "SubjectLogonId": Hex64(0x3E7), "PrivilegeList": "SeAssignPrimaryTokenPrivilege\r\n\t\t\tSeTcbPrivilege\r\n\t\t\tSeSecurityPrivilege",
            }, version=0, level=0, task=12548, keywords=0x8020000000000000, pid=_LSASS_PID)  # fmt: skip
        else:
            host.add("security", _SECURITY, 4798, when, {
                "TargetUserName": "alice", "TargetDomainName": host.machine.name, "TargetSid": Sid(ALICE[2]),
                "SubjectUserSid": Sid(ALICE[2]), "SubjectUserName": "alice", "SubjectDomainName": "CORP",
                "SubjectLogonId": Hex64(_DAY_LOGON[1]), "CallerProcessId": Hex64(host.explorer[1].pid),
                "CallerProcessName": "C:\\Windows\\explorer.exe",
            }, version=0, level=0, task=13824, keywords=0x8020000000000000, pid=_LSASS_PID)  # fmt: skip


# --- writing ----------------------------------------------------------------------------------


def generate(
    out: Path, plan: Attack, seed: int, scale: int = 1, machine: story.Host = WS01, compromised: bool = True
) -> list[ArtifactReport]:
    """Write WS01's four logs under ``out/WS01``; one report per log. ``machine`` and
    ``compromised`` make other workstations of the same office (a triage batch's hosts): the same
    background under another name, with the intrusion or without it."""
    host = _Host(story.rng(seed, "windows"), machine)
    _background(host, scale)
    if compromised:
        _attack(host, plan)
    reports = []
    for log, name in LOGS.items():
        name = name.replace("WS01/", f"{machine.name}/", 1)
        entries = sorted((e for e in host.entries if e.log == log), key=lambda e: e.event["time_created"])
        if log == "security":  # the log was cleared at S17: only what followed remains
            entries = [e for e in entries if e.event["time_created"] >= _cleared()]
        report = ArtifactReport(name, machine.name, "evtx", events=len(entries))
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_evtx(path, (e.event for e in entries))
        for record_id, entry in enumerate(entries, 1):
            if entry.step:
                report.malicious += 1
                report.refs.append(Ref(entry.step, name, entry.event["time_created"],
                                       {"record_id": record_id, "event_id": entry.event["event_id"]}, entry.what))  # fmt: skip
        reports.append(report)
    return reports
