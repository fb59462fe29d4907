"""SRV01, the sample case's Ubuntu 22.04 server: its files and what it logged, as a raw ext4 image.

What the server logged: two days of routine work (cron, systemd timers, an admin's and a
deploy account's SSH sessions, a kernel upgrade and reboot on Monday, a monitoring probe,
intranet web traffic) and, on Tuesday, the attack: bob's stolen password used from WS01
(S11), a tool fetched into /tmp (S12) and run by a new cron job (S13), /srv/data archived
with sudo (S14) and posted out (S15), and the shell history truncated (S16) -- which bash
then refilled with the whole session when the attacker logged out.

Who used the server and when (SSH sessions, the monitor's probes, page views) comes from
``office``, which the LAN capture renders too, so logs and packets agree; ``ext4`` packs the
file tree into a byte-reproducible image. Logs use local time (Europe/Berlin, UTC+1 on these
days) in the traditional syslog format of Ubuntu 22.04; every time kept in the code is UTC.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import ipaddress
import random
import struct
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from zoneinfo import ZoneInfo

from forensics.samples import ext4, office, payloads, story
from forensics.samples.office import BOOT, REBOOT_CMD, Hit, Probe, Session
from forensics.samples.story import Attack
from forensics.samples.truth import ArtifactReport, Ref

__all__ = ["ARTIFACT", "generate"]

ARTIFACT = "SRV01/srv01.img"
HOSTNAME = "srv01"
TZ = ZoneInfo(story.SRV01.timezone)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
NOISE_RATIO = 50  # background entries per malicious entry, at least

# Clock of the server's life (Monday's reboot is in ``office``: bob's sudo caused it).
INSTALLED = datetime(2025, 6, 12, 9, 41, 7, tzinfo=UTC)  # Ubuntu installed, accounts created
ACCOUNTS = datetime(2025, 9, 3, 13, 22, 48, tzinfo=UTC)  # deploy account and web app added
ROTATED = story.START + timedelta(hours=23)  # logrotate.timer, Tuesday 00:00 local: nginx logs rotate
OLD_KERNEL, KERNEL = "5.15.0-101-generic", "5.15.0-105-generic"

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


@dataclass(frozen=True, slots=True)
class Login:
    """An office session as logind saw it: its pseudo-terminal and session number."""

    s: Session
    tty: int
    sid: int


def _pubkey(name: str) -> tuple[str, str]:
    """A deterministic ed25519 public key line and its OpenSSH SHA256 fingerprint."""
    blob = struct.pack(">I", 11) + b"ssh-ed25519" + struct.pack(">I", 32)
    blob += hashlib.sha256(f"srv01-key:{name}".encode()).digest()
    fingerprint = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"ssh-ed25519 {base64.b64encode(blob).decode()}", fingerprint


SUDO_TAKES = {"apt update": 6.2, "apt upgrade": 93.5, "tar czf": 0.64, "restart webapp": 1.3}


def _assign_ttys(sessions: tuple[Session, ...]) -> list[Login]:
    """Give each session the lowest free pts and logind's next session number for its boot."""
    busy: dict[int, datetime] = {}
    sid = {False: 186, True: 0}
    logins = []
    for s in sorted(sessions, key=lambda s: s.auth):
        busy = {tty: until for tty, until in busy.items() if until > s.auth}
        tty = next(n for n in count() if n not in busy)
        busy[tty] = s.until
        sid[s.auth >= BOOT] += 1
        logins.append(Login(s, tty, sid[s.auth >= BOOT]))
    return logins


def _others_open(s: Session, sessions: tuple[Session, ...], t: datetime) -> bool:
    """Whether another session of the same user is open at ``t`` (its user manager keeps running)."""
    return any(o is not s and o.user == s.user and o.auth <= t < o.until for o in sessions)


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


def _logon(srv: Server, lg: Login, sessions: tuple[Session, ...], keys: dict[str, str]) -> tuple[Proc, Proc]:
    """sshd's lines from the password attempts to the open session; returns sshd's connection
    process (forked at the SYN; it logs the PAM session) and the user's session process (it logs
    the disconnect)."""
    s = lg.s
    a, t0 = s.attack, s.auth
    pre = srv.pids.spawn(s.syn + secs(0.002))
    for tf in s.failed:
        srv.log("auth.log", tf - secs(0.9), "sshd", "pam_unix(sshd:auth): authentication failure; logname= uid=0 "
                f"euid=0 tty=ssh ruser= rhost={s.src}  user={s.user}", pre)  # fmt: skip
        srv.log("auth.log", tf, "sshd", f"Failed password for {s.user} from {s.src} port {s.sport} ssh2", pre)
        srv.btmp.append(Utmp(6, tf, pre, "ssh:notty", user=s.user, host=s.src))
    how = f"publickey for {s.user} from {s.src} port {s.sport} ssh2: ED25519 SHA256:{keys[s.user]}"
    if s.method == "password":
        how = f"password for {s.user} from {s.src} port {s.sport} ssh2"
    what = f"sshd accepted bob's password from {s.src} (WS01)"
    srv.log("auth.log", t0, "sshd", f"Accepted {how}", pre, attack=a, ref=s.step, what=what if a else "")
    uid = UID[s.user]
    srv.log(
        "auth.log",
        t0 + secs(0.031),
        "sshd",
        f"pam_unix(sshd:session): session opened for user {s.user}(uid={uid}) by (uid=0)",
        pre,
        attack=a,
    )
    srv.log("auth.log", t0 + secs(0.048), "systemd-logind", f"New session {lg.sid} of user {s.user}.",
            daemon("systemd-logind", t0), attack=a)  # fmt: skip
    if not _others_open(s, sessions, t0):
        _user_manager(srv, s, t0 + secs(0.052), starting=True)
    srv.systemd(t0 + secs(0.231), f"Started Session {lg.sid} of User {s.user}.", attack=a)
    child = srv.pids.spawn(t0 + secs(0.262))
    srv.wtmp.append(
        Utmp(7, t0 + secs(0.405), child, f"pts/{lg.tty}", f"ts/{lg.tty}", s.user, s.src, attack=a,
             ref=s.step, what=f"wtmp: bob logged on to pts/{lg.tty} from {s.src}" if a else "")
    )  # fmt: skip
    return pre, child


def _logoff(srv: Server, lg: Login, sessions: tuple[Session, ...], pre: Proc, child: Proc) -> None:
    """sshd's, logind's and systemd's lines when the client disconnects, and the wtmp logout record."""
    s = lg.s
    a, t = s.attack, s.until
    srv.log("auth.log", t, "sshd", f"Received disconnect from {s.src} port {s.sport}:11: disconnected by user",
            child, attack=a)  # fmt: skip
    srv.log("auth.log", t + secs(0.001), "sshd", f"Disconnected from user {s.user} {s.src} port {s.sport}", child,
            attack=a)  # fmt: skip
    srv.log("auth.log", t + secs(0.012), "sshd", f"pam_unix(sshd:session): session closed for user {s.user}",
            pre, attack=a)  # fmt: skip
    srv.wtmp.append(Utmp(8, t + secs(0.016), child, f"pts/{lg.tty}", f"ts/{lg.tty}", attack=a))
    logind = daemon("systemd-logind", t)
    srv.log(
        "auth.log",
        t + secs(0.021),
        "systemd-logind",
        f"Session {lg.sid} logged out. Waiting for processes to exit.",
        logind,
        attack=a,
    )
    srv.log("auth.log", t + secs(0.034), "systemd-logind", f"Removed session {lg.sid}.", logind, attack=a)
    srv.systemd(t + secs(0.03), f"session-{lg.sid}.scope: Deactivated successfully.", attack=a)
    if not _others_open(s, sessions, t):
        _user_manager(srv, s, t + secs(10.11), starting=False)


def _sudo(srv: Server, lg: Login, t: datetime, cwd: str, cmd: str) -> None:
    """sudo's command line and its PAM session (the reboot never closes its session)."""
    s = lg.s
    srv.pids.spawn(t)
    a = s.attack
    what = "sudo ran tar over /srv/data as root" if a else ""
    srv.log("auth.log", t, "sudo", f"{s.user:>8} : TTY=pts/{lg.tty} ; PWD={cwd} ; USER=root ; COMMAND={cmd}",
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


def _session_events(srv: Server, logins: list[Login], keys: dict[str, str]) -> None:
    """Every session's logon, sudo commands and logoff (sessions cut by the reboot never log off)."""
    sessions = tuple(lg.s for lg in logins)
    for lg in logins:
        pre, child = _logon(srv, lg, sessions, keys)
        for t, cwd, cmd in lg.s.sudo:
            _sudo(srv, lg, t, cwd, cmd)
        if lg.s.end is not None:
            _logoff(srv, lg, sessions, pre, child)


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
        if not office.down(t):
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


def _probes(srv: Server, probes: tuple[Probe, ...]) -> None:
    """The monitor's check_ssh: sshd forks at the SYN and logs the close before authentication."""
    for p in probes:
        proc = srv.pids.spawn(p.syn)
        srv.log(
            "auth.log",
            p.closed,
            "sshd",
            f"Connection closed by {office.MONITOR} port {p.sport} [preauth]",
            proc,
        )


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
                if not office.down(t) and t < story.COLLECTED:
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
                f'server: {office.INTRANET}, request: "{h.request}"{upstream}, host: "{office.INTRANET}", referrer: "{h.referer}"',
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


DEPLOY_OLD = (
    "cd /srv/webapp", "git status", "git log --oneline -5", "python3 -m venv .venv", ".venv/bin/pip install -r requirements.txt",
    "sudo systemctl restart webapp", "systemctl status webapp --no-pager", "curl -s http://127.0.0.1:8000/healthz",
    "ls -la /srv/data/finance", "du -sh /srv/data", "git pull --ff-only", ".venv/bin/pip install -r requirements.txt",
    "sudo systemctl restart webapp", "exit",
)  # fmt: skip
ROOT_HISTORY = (
    "apt update", "apt install -y nginx python3-venv sysstat", "adduser bob", "usermod -aG sudo,adm bob",
    "adduser --disabled-password --gecos 'Web app deploy' deploy", "mkdir -p /srv/data /srv/webapp",
    "chown -R deploy:deploy /srv/data /srv/webapp", "chmod 750 /srv/data", "visudo -f /etc/sudoers.d/deploy",
    "systemctl daemon-reload", "systemctl enable --now webapp data-backup.timer", "ufw allow OpenSSH",
    "ufw allow 'Nginx HTTP'", "ufw enable", "nginx -t && systemctl reload nginx", "exit",
)  # fmt: skip


# --- the file tree ------------------------------------------------------------------------------


def _tzif(posix: str, name: str, offset: int) -> bytes:
    """A version-2 TZif file with no transitions, only the POSIX rule (RFC 8536)."""
    counts = struct.pack(">6I", 0, 0, 0, 0, 1, len(name) + 1)
    block = struct.pack(">ib", offset, 0) + b"\x00" + name.encode() + b"\x00"
    header = b"TZif2" + bytes(15) + counts
    return header + block + header + block + f"\n{posix}\n".encode()


def _etc(tree: ext4.Tree, seed: int, fs_uuid: str, keys: dict[str, str]) -> None:
    """/etc: identity, accounts, time zone, cron, sshd, systemd units, nginx, sudo."""
    r = story.rng(seed, "srv01-etc")
    tree.add("/etc/hostname", f"{HOSTNAME}\n")
    tree.add("/etc/hosts", f"127.0.0.1 localhost\n127.0.1.1 {story.SRV01.fqdn} {HOSTNAME}\n"
             f"{story.SRV01.ip} {story.SRV01.fqdn} {HOSTNAME} {office.INTRANET}\n\n"
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


def _accounts(tree: ext4.Tree, r: random.Random) -> None:
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
ExecStart=/usr/bin/rsync -a --delete /srv/data/ backup@{office.NAS}::srvdata/
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
    server_name {office.INTRANET};

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


def _services(tree: ext4.Tree) -> None:
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


def _homes(tree: ext4.Tree, attack: Session, bash: dict[str, list[str]], deploy_last: datetime) -> None:
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
    written = _command(attack, "exit").time + secs(0.002)  # bash appends the session at exit
    tree.add("/home/bob/.bash_history", "\n".join(bash["bob"]) + "\n", owner="bob", group="bob", mode=0o600,
             mtime=written, atime=attack.auth + secs(0.52), crtime=INSTALLED + timedelta(hours=1, minutes=2))  # fmt: skip
    tree.add("/home/deploy/.bash_history", "\n".join(bash["deploy"]) + "\n", owner="deploy", group="deploy",
             mode=0o600, mtime=deploy_last, crtime=ACCOUNTS + timedelta(minutes=9))  # fmt: skip
    tree.dir("/root", mode=0o700, mtime=ACCOUNTS + timedelta(hours=1))
    tree.add(
        "/root/.bash_history", "\n".join(bash["root"]) + "\n", mode=0o600, mtime=ACCOUNTS + timedelta(hours=1)
    )


def _command(session: Session, prefix: str) -> office.Command:
    """The session's first command that starts with ``prefix``."""
    return next(c for c in session.commands if c.text.startswith(prefix))


def _attack_files(tree: ext4.Tree, plan: Attack, attack: Session) -> None:
    """What the attacker left: the tool in /tmp and bob's crontab (the archive was deleted)."""
    s = plan.step
    t12, t13 = s("S12").time, s("S13").time
    chmod = _command(attack, "chmod").time + secs(0.002)
    first_run = _next_ten(t13) + secs(1.0)
    tree.add(story.TOOL_PATH, payloads.tool(), owner="bob", group="bob", mode=0o755, mtime=t12 + secs(1),
             atime=first_run, ctime=chmod, crtime=t12 + secs(0.05))  # fmt: skip
    removed = _command(attack, "rm -f").time + secs(0.002)
    tree.dir("/tmp", mode=0o1777, mtime=removed, atime=BOOT + timedelta(minutes=15))
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


def _data(tree: ext4.Tree, plan: Attack) -> None:
    """/srv/data (read by tar at S14, so its atimes are S14's) and the web app's code."""
    read = plan.step("S14").time
    owner = payloads.DATA_OWNER[1]
    for i, (name, data) in enumerate(sorted(payloads.data_files().items())):
        tree.add(f"{story.DATA_DIR}/{name}", data, owner=owner, group=owner, mode=0o640,
                 mtime=payloads.data_mtime(name), atime=read + secs(0.05 + 0.02 * i))  # fmt: skip
    for sub, newest in (("", "README"), ("/contracts", "README"), ("/finance", "2026-Q1")):
        made = payloads.data_mtime(newest)
        tree.dir(f"{story.DATA_DIR}{sub}", owner=owner, group=owner, mode=0o750, mtime=made, atime=read)
    app = office.APP_DEPLOYED
    tree.add("/srv/webapp/app.py", "from intranet import create_app\n\napp = create_app()\n", owner="deploy",
             group="deploy", mtime=app)  # fmt: skip
    tree.add("/srv/webapp/requirements.txt", "flask==3.0.3\ngunicorn==20.1.0\n", owner="deploy", group="deploy",
             mtime=app)  # fmt: skip
    for path, (data, _) in office.ASSETS.items():  # what nginx serves (and logs the size of)
        tree.add(f"/srv/webapp{path}", data, owner="deploy", group="deploy", mtime=app)
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
    plan: Attack, sessions: tuple[Session, ...]
) -> tuple[dict[str, list[str]], list[Ref], datetime]:
    """bob's history is exactly the attack session (S16 emptied it, logout refilled it); deploy's
    holds older work plus what each finished deploy session typed; root's is from the installation."""
    refs, whats = [], {"S12": "curl fetched the tool", "S13": "crontab installed the job", "S14": "sudo tar",
                       "S15": "curl posted the archive", "S16": "history truncated"}  # fmt: skip
    attack = next(s for s in sessions if s.attack)
    bob = []
    for i, command in enumerate(attack.commands, 1):
        bob.append(command.text)
        if command.step:
            locator = {"path": "/home/bob/.bash_history", "line": i}
            step = plan.step(command.step)
            refs.append(Ref(step.id, ARTIFACT, step.time, locator, f"bash history: {whats[step.id]}"))
    deploy = list(DEPLOY_OLD)
    done = [s for s in sessions if s.user == "deploy" and s.end]
    for s in sorted(done, key=lambda s: s.until):
        deploy.extend(c.text for c in s.commands)
    last = max(s.until for s in done)
    return {"bob": bob, "deploy": deploy, "root": list(ROOT_HISTORY)}, refs, last


# --- the image ----------------------------------------------------------------------------------


def _uuids(seed: int) -> tuple[str, str]:
    """The file system's UUID and directory hash seed, fixed per seed."""
    r = story.rng(seed, "srv01-uuid")
    return str(uuid.UUID(int=r.getrandbits(128), version=4)), str(
        uuid.UUID(int=r.getrandbits(128), version=4)
    )


# --- putting it together ------------------------------------------------------------------------


def _restarts(sessions: tuple[Session, ...]) -> list[datetime]:
    """When deploys restarted the web app."""
    return sorted(t for s in sessions for t, _, cmd in s.sudo if cmd.endswith("restart webapp"))


def _run_server(plan: Attack, seed: int, act: office.Activity, fs_uuid: str, keys: dict[str, str]) -> Server:
    """Let SRV01 live through both days and collect what it wrote."""
    srv = Server(story.rng(seed, "srv01-logs"), Pids(story.rng(seed, "srv01-pids")))
    logins = _assign_ttys(act.sessions)
    attack = next(lg for lg in logins if lg.s.attack)
    if attack.tty != 1:
        raise AssertionError(f"the attacker's session should get pts/1, got pts/{attack.tty}")
    app, cut = Webapp(srv), next(lg for lg in logins if lg.s.end is None)
    for t in sorted([BOOT, *_restarts(act.sessions)]):  # gunicorn's PIDs change in this order
        if t == BOOT:
            _reboot(srv, app, cut.sid, fs_uuid)
        else:
            app.restart(t)
    _session_events(srv, logins, keys)
    _cron(srv, plan)
    _crontab_edit(srv, plan)
    _probes(srv, act.probes)
    _timers(srv)
    srv.pids.assign()
    return srv


def generate(out: Path, plan: Attack, seed: int, scale: int = 1) -> list[ArtifactReport]:
    """Write ``out/SRV01/srv01.img`` and report its events and where each step shows."""
    for name in ("mke2fs", "debugfs"):  # fail before the work when e2fsprogs is missing
        ext4.tool(name)
    fs_uuid, hash_seed = _uuids(seed)
    bob_line, bob_fp = _pubkey("bob")
    deploy_line, deploy_fp = _pubkey("deploy")
    keys = {"bob": bob_fp, "deploy": deploy_fp, "bob_line": bob_line, "deploy_line": deploy_line}
    act = office.activity(plan, seed, scale)
    srv = _run_server(plan, seed, act, fs_uuid, keys)
    nginx = _render_nginx(list(act.hits))
    upgrade = next(t for s in act.sessions for t, _, cmd in s.sudo if cmd.endswith("apt upgrade"))
    history, dpkg = _packages(upgrade + secs(2.1), upgrade + secs(SUDO_TAKES["apt upgrade"] - 0.4))
    bash, bash_refs, deploy_last = _bash_histories(plan, act.sessions)
    attack = next(s for s in act.sessions if s.attack)

    tree = ext4.Tree(INSTALLED)
    written = {
        "/var/log/auth.log": _render_syslog(srv.logs["auth.log"], "/var/log/auth.log"),
        "/var/log/syslog": _render_syslog(srv.logs["syslog"], "/var/log/syslog"),
        "/var/log/kern.log": _render_syslog(srv.logs["kern.log"], "/var/log/kern.log"),
        "/var/log/wtmp": _render_utmp(srv.wtmp, "/var/log/wtmp"),
        "/var/log/btmp": _render_utmp(srv.btmp, "/var/log/btmp"),
    }
    _add_logs(tree, written, nginx, history, dpkg, srv)
    _etc(tree, seed, fs_uuid, keys)
    _homes(tree, attack, bash, deploy_last)
    _attack_files(tree, plan, attack)
    _data(tree, plan)
    for path in ("/run", "/opt", "/boot", "/usr/bin", "/usr/sbin", "/var/tmp"):
        tree.dir(path)
    tree.link("/bin", "usr/bin")
    tree.link("/sbin", "usr/sbin")
    tree.dir("/var/tmp", mode=0o1777)

    img = out / ARTIFACT
    img.parent.mkdir(parents=True, exist_ok=True)
    stamp = ext4.Stamp(fs_uuid, hash_seed, made=INSTALLED, mounted=BOOT, mounts=14, clock=story.COLLECTED)
    ext4.build(tree.all(), img, UID, GID, stamp)

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


def _add_logs(tree: ext4.Tree, written: dict[str, Written], nginx: dict[str, TextLog], history: list[str],
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
