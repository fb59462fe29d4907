"""The sample case's story: who, where, when, and the attack's steps, declared once.

Every artifact generator (Windows logs, the Linux server image, the network capture, the
threat intelligence) renders its evidence from these facts, so the same process, address,
port and second appear consistently in every artifact, as they would in a real intrusion.

The story (times UTC; ATT&CK ids from attack.mitre.org):
WS01 (Windows 10, user alice) and SRV01 (Ubuntu, ssh + nginx + /srv/data, clock in
Europe/Berlin) on 10.20.0.0/24 behind gateway 10.20.0.1; DC01 (10.20.0.5) answers DNS.
On Tuesday 2026-03-10 alice opens a phishing attachment, invoice.docm; its macro runs an
encoded PowerShell that resolves a look-alike domain and downloads msupdate.exe, which
persists (Run key, scheduled task), beacons over HTTPS with jitter, dumps LSASS with
comsvcs.dll and uses bob's stolen password to SSH into SRV01. There, bob's account fetches a
tool into /tmp, adds a cron job, archives /srv/data and posts it to a second external
address, then truncates its shell history; back on WS01 the Security log is cleared.
Everything else is routine work of a small office over two days (the background).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

__all__ = [
    "ATTACK_DAY",
    "COLLECTED",
    "DC01",
    "DOMAIN",
    "EXFIL",
    "GATEWAY",
    "PAYLOAD_HOST",
    "SRV01",
    "SSH_AUTH_DELAY",
    "SSH_LOGOUT_AFTER",
    "START",
    "STEPS",
    "WS01",
    "Attack",
    "Connection",
    "Host",
    "Lookup",
    "Step",
    "attack",
    "attack_time",
    "rng",
]  # fmt: skip

#: The case covers Monday and Tuesday until the responders collected the evidence.
START = datetime(2026, 3, 9, 0, 0, tzinfo=UTC)
ATTACK_DAY = datetime(2026, 3, 10, tzinfo=UTC)
COLLECTED = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
#: The network tap export covers the attack morning.
CAPTURE_START = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
CAPTURE_END = datetime(2026, 3, 10, 13, 0, tzinfo=UTC)
DOMAIN = "corp.example.com"


@dataclass(frozen=True, slots=True)
class Host:
    name: str
    fqdn: str
    ip: str
    mac: str
    os: str
    timezone: str


WS01 = Host("WS01", f"WS01.{DOMAIN}", "10.20.0.21", "52:54:00:3a:10:21", "Windows 10 Pro 22H2", "UTC")
SRV01 = Host(
    "SRV01", f"srv01.{DOMAIN}", "10.20.0.10", "52:54:00:3a:10:10", "Ubuntu 22.04 LTS", "Europe/Berlin"
)
DC01 = Host("DC01", f"DC01.{DOMAIN}", "10.20.0.5", "52:54:00:3a:10:05", "Windows Server 2019", "UTC")
GATEWAY = Host("GW", f"gw.{DOMAIN}", "10.20.0.1", "52:54:00:3a:10:01", "gateway", "UTC")


@dataclass(frozen=True, slots=True)
class Outside:
    """An external party: its address and the names it answers to."""

    ip: str
    names: tuple[str, ...]


#: The look-alike domain that serves the payload (typo-squats microsoft with a zero).
LOOKALIKE = "micros0ft-cdn.example.net"
PAYLOAD_HOST = Outside("203.0.113.66", (LOOKALIKE,))
C2 = Outside("198.51.100.23", (f"telemetry.{LOOKALIKE}",))
EXFIL = Outside("192.0.2.77", ("files.example.org",))

# Accounts. alice's SID is also the HKU hive the Run key lands in.
DOMAIN_SID = "S-1-5-21-3623811015-3361044348-30300820"
ALICE = ("alice", "CORP", f"{DOMAIN_SID}-1104")
BOB = ("bob", "CORP", f"{DOMAIN_SID}-1107")  # IT admin; also an account on SRV01

# Paths on WS01.
ATTACHMENT = (
    "C:\\Users\\alice\\AppData\\Local\\Microsoft\\Windows\\INetCache\\Content.Outlook\\Q7W2M1ZK\\invoice.docm"
)
PAYLOAD_PATH = "C:\\Users\\alice\\AppData\\Roaming\\MsUpdate\\msupdate.exe"
PAYLOAD_URL = f"http://{LOOKALIKE}/dl/msupdate.exe"
DUMP_PATH = "C:\\Users\\alice\\AppData\\Local\\Temp\\dbg.dmp"
RUN_KEY = f"HKU\\{ALICE[2]}\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\MsUpdate"
TASK_NAME = "\\MicrosoftEdgeUpdateTaskCore"
# Paths on SRV01.
TOOL_PATH = "/tmp/.sysupd"
TOOL_URL = f"http://{PAYLOAD_HOST.ip}/t/sysupd"
ARCHIVE_PATH = "/tmp/.cache.tgz"
EXFIL_URL = f"http://{EXFIL.names[0]}/upload"
DATA_DIR = "/srv/data"
CRON_LINE = f"*/10 * * * * {TOOL_PATH} >/dev/null 2>&1"
#: The attacker's SSH session (S11, whose time is WS01's SYN): sshd logs "Accepted password"
#: this long after the SYN (key exchange, then the password typed at the prompt) ...
SSH_AUTH_DELAY = timedelta(seconds=3, milliseconds=412)
#: ... and the session ends (ssh.exe disconnects and exits) this long after S16.
SSH_LOGOUT_AFTER = timedelta(seconds=5)


def rng(seed: int, part: str) -> random.Random:
    """An independent, reproducible random stream per generator (a str seed is hashed
    with SHA-512 by ``random``, so it does not depend on PYTHONHASHSEED)."""
    return random.Random(f"tracehound-sample:{seed}:{part}")


@dataclass(frozen=True, slots=True)
class Step:
    """One malicious action of the chain, as ground truth."""

    id: str
    time: datetime
    host: str
    actor: str  # account or process that acts
    action: str
    object: str
    technique: str  # ATT&CK technique id
    tactic: str


@dataclass(frozen=True, slots=True)
class Connection:
    """One TCP connection both a host log and the capture show (same ports, same second).
    ``step`` names the malicious step it belongs to, or is empty for background."""

    time: datetime
    src: str
    sport: int
    dst: str
    dport: int
    process: str  # image on the source host ("" when not known)
    step: str = ""
    kind: str = "tls"  # tls | http | ssh
    server_name: str = ""  # TLS SNI / HTTP Host
    request: bytes = b""  # what the client sends (HTTP request head and body)
    response: bytes = b""  # what the server answers


@dataclass(frozen=True, slots=True)
class Lookup:
    """One DNS query and its answer, seen on the wire (and by Sysmon 22 when WS01 asks)."""

    time: datetime
    client: str
    sport: int
    name: str
    answer: str
    process: str
    step: str = ""


@dataclass
class Attack:
    steps: list[Step]
    connections: list[Connection] = field(default_factory=list)
    lookups: list[Lookup] = field(default_factory=list)

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.id == step_id)


def _at(hms: str, ms: int = 0) -> datetime:
    h, m, s = (int(x) for x in hms.split(":"))
    return ATTACK_DAY + timedelta(hours=h, minutes=m, seconds=s, milliseconds=ms)


def _steps() -> list[Step]:
    """The chain's steps; their times are part of the story, not of the seed."""
    steps = [
        Step("S01", _at("09:12:04", 318), "WS01", "OUTLOOK.EXE", "saved attachment", ATTACHMENT, "T1566.001", "initial-access"),
        Step("S02", _at("09:12:09", 771), "WS01", "alice", "opened document in WINWORD.EXE", ATTACHMENT, "T1204.002", "execution"),
        Step("S03", _at("09:12:31", 52), "WS01", "WINWORD.EXE", "started encoded PowerShell", "powershell.exe -enc", "T1059.001", "execution"),
        Step("S04", _at("09:12:32", 410), "WS01", "powershell.exe", "resolved look-alike domain", LOOKALIKE, "T1105", "command-and-control"),
        Step("S05", _at("09:12:32", 655), "WS01", "powershell.exe", "downloaded payload", PAYLOAD_URL, "T1105", "command-and-control"),
        Step("S06", _at("09:12:36", 902), "WS01", "powershell.exe", "executed payload", PAYLOAD_PATH, "T1036.005", "defense-evasion"),
        Step("S07", _at("09:12:40", 118), "WS01", "msupdate.exe", "set Run key", RUN_KEY, "T1547.001", "persistence"),
        Step("S08", _at("09:12:44", 530), "WS01", "msupdate.exe", "created scheduled task", TASK_NAME, "T1053.005", "persistence"),
        Step("S09", _at("09:13:02", 77), "WS01", "msupdate.exe", "beaconed over HTTPS", C2.names[0], "T1071.001", "command-and-control"),
        Step("S10", _at("10:41:17", 204), "WS01", "rundll32.exe", "dumped LSASS memory", DUMP_PATH, "T1003.001", "credential-access"),
        Step("S11", _at("11:05:02", 880), "WS01", "ssh.exe", "logged on to SRV01 over SSH as bob", f"bob@{SRV01.ip}", "T1021.004", "lateral-movement"),
        Step("S12", _at("11:06:10", 310), "SRV01", "bob", "fetched tool into /tmp", TOOL_PATH, "T1105", "command-and-control"),
        Step("S13", _at("11:07:31", 642), "SRV01", "bob", "added cron job", CRON_LINE, "T1053.003", "persistence"),
        Step("S14", _at("11:12:05", 127), "SRV01", "bob", "archived the data folder", ARCHIVE_PATH, "T1560.001", "collection"),
        Step("S15", _at("11:14:22", 488), "SRV01", "bob", "sent the archive out over HTTP POST", EXFIL_URL, "T1048.003", "exfiltration"),
        Step("S16", _at("11:16:40", 35), "SRV01", "bob", "truncated shell history", "/home/bob/.bash_history", "T1070.003", "defense-evasion"),
        Step("S17", _at("11:20:33", 760), "WS01", "wevtutil.exe", "cleared the Security log", "Security", "T1070.001", "defense-evasion"),
    ]  # fmt: skip
    return steps


#: The attack's steps, in order.
STEPS: tuple[Step, ...] = tuple(_steps())


def attack_time(step_id: str) -> datetime:
    """When step ``step_id`` happened (UTC)."""
    return next(s.time for s in STEPS if s.id == step_id)


def attack(seed: int = 1) -> Attack:
    """The chain with its connections and lookups; jitter and ports come from ``seed``."""
    from forensics.samples import payloads

    r = rng(seed, "attack")
    plan = Attack(list(STEPS))
    s = plan.step
    plan.lookups.append(
        Lookup(
            s("S04").time,
            WS01.ip,
            r.randint(49152, 65535),
            LOOKALIKE,
            PAYLOAD_HOST.ip,
            "powershell.exe",
            "S04",
        )
    )
    download = payloads.payload()
    plan.connections.append(
        Connection(
            s("S05").time, WS01.ip, r.randint(49700, 52000), PAYLOAD_HOST.ip, 80, "powershell.exe", "S05", "http",
            LOOKALIKE, _http_get("/dl/msupdate.exe", LOOKALIKE, "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.19041.3803"),
            _http_ok(download, "application/octet-stream", s("S05").time),
        )
    )  # fmt: skip
    # Beacon: every 300 s +-25 % from S09 until collection; a DNS lookup before the first.
    when = s("S09").time
    plan.lookups.append(
        Lookup(when - timedelta(milliseconds=180), WS01.ip, r.randint(49152, 65535), C2.names[0], C2.ip, "msupdate.exe", "S09")
    )  # fmt: skip
    sport = r.randint(52000, 54000)
    while when < COLLECTED:
        plan.connections.append(
            Connection(when, WS01.ip, sport, C2.ip, 443, PAYLOAD_PATH, "S09", "tls", C2.names[0])
        )
        sport += r.randint(1, 6)
        when += timedelta(seconds=300 * r.uniform(0.75, 1.25))
    plan.connections.append(
        Connection(s("S11").time, WS01.ip, r.randint(50000, 51000), SRV01.ip, 22, "C:\\Windows\\System32\\OpenSSH\\ssh.exe", "S11", "ssh")
    )  # fmt: skip
    # S12's curl names the tool server by address: no look-up.
    plan.connections.append(
        Connection(
            s("S12").time, SRV01.ip, r.randint(40000, 60000), PAYLOAD_HOST.ip, 80, "/usr/bin/curl", "S12", "http",
            PAYLOAD_HOST.ip, _http_get("/t/sysupd", PAYLOAD_HOST.ip, "curl/7.81.0"),
            _http_ok(payloads.tool(), "application/octet-stream", s("S12").time),
        )
    )  # fmt: skip
    archive = payloads.archive()
    plan.connections.append(
        Connection(
            s("S15").time, SRV01.ip, r.randint(40000, 60000), EXFIL.ip, 80, "/usr/bin/curl", "S15", "http",
            EXFIL.names[0],
            _http_post("/upload", EXFIL.names[0], "curl/7.81.0", archive),
            _http_ok(b'{"status":"ok"}', "application/json", s("S15").time),
        )
    )  # fmt: skip
    # S15's curl resolves the exfiltration host through DC01 just before it connects (drawn
    # last, so the earlier ports and jitter do not depend on it).
    lead = timedelta(milliseconds=r.randint(120, 260))
    plan.lookups.append(
        Lookup(s("S15").time - lead, SRV01.ip, r.randint(32768, 60999), EXFIL.names[0], EXFIL.ip, "/usr/bin/curl", "S15")
    )  # fmt: skip
    return plan


def _http_get(path: str, host: str, agent: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {agent}\r\nAccept: */*\r\nConnection: close\r\n\r\n".encode()


def _http_post(path: str, host: str, agent: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {agent}\r\nAccept: */*\r\n"
        f"Content-Length: {len(body)}\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n"
    )
    return head.encode() + body


def _http_ok(body: bytes, content_type: str, when: datetime) -> bytes:
    head = (
        f"HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: {format_datetime(when, usegmt=True)}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
