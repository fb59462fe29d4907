"""The sample case's LAN tap: a pcapng of the office switch's SPAN port on the attack morning.

Why: the network is the one witness the attacker cannot clean up. The capture must show the
same look-ups and connections as the host logs (``story.Attack``, ``office``), byte for byte
where the traffic is clear text, buried in a realistic office morning, so that an analyst (or
a tool under test) has to find it the way one would in a real case.

What is written: ``network/lan-tap.pcapng`` covering ``story.CAPTURE_START``..``CAPTURE_END``,
framed by ``packets`` (well-formed Ethernet/IPv4/TCP/UDP, handshakes, slow start, delayed
ACKs, ~0.3 ms LAN and 20-60 ms Internet round trips). DC01 answers DNS for corp.example.com
and forwards the rest to 192.0.2.53 with a TTL-honouring cache.

* Attack (``plan.lookups``/``plan.connections`` inside the window): DNS look-ups (WS01's and
  SRV01's curl before S15), the HTTP download, tool fetch and exfiltration POST with the plan's
  exact bytes, TLS 1.3 beacons with a Schannel-like ClientHello, and the SSH session WS01 ->
  SRV01 (``office``'s attacker session): banner and KEXINIT exchange, the password accepted when
  auth.log says, each command of bob's refilled history when it ran, the disconnect at logout.
* SRV01's routine use (``office``, the same items SRV01's logs show): bob's and deploy's SSH
  sessions (same source port; SYN, "Accepted", sudo commands and disconnect in the logged
  second), the monitor's check_ssh probes (the FIN in the second sshd logged "Connection
  closed") and /healthz checks, and every intranet request nginx logged in the window (the
  response written in the logged second, its body exactly the logged size), over keep-alive
  connections as browsers open them.
* Other background (``story.rng(seed, "network")``, ``scale`` times the volume): browsing (DNS
  then Chromium-like TLS, resumed sessions after the first), update checks over HTTP, Kerberos
  and a Group Policy read of SYSVOL over SMB on DC01, NTP to the gateway, ARP, the DC locator,
  WPAD/typo NXDOMAINs; shaped by office hours and ``office``'s desks (arrivals, lunch).

A transaction (the report's ``events``) is a DNS look-up (client query and answer, including
DC01's forwarding), a TCP connection, a Kerberos UDP exchange, an NTP exchange or an ARP
request/reply pair.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import dpkt

from forensics.samples import office, story
from forensics.samples.office import BOB_LAPTOP, CI_RUNNER, CLIENTS, MONITOR, NAS, OFFICE_PCS, Hit, Session
from forensics.samples.packets import (
    CLIENT,
    SEC,
    SERVER,
    WINDOWS,
    Capture,
    Mark,
    Tcp,
    file_order,
    flow_label,
    from_us,
    ip_bytes,
    mac_of,
    stack,
    to_us,
    udp,
    wan_rtt,
    write_pcapng,
)
from forensics.samples.protocols import (
    HOSTKEYS_89,
    HOSTKEYS_96,
    HOSTKEYS_WIN81,
    KEX_89,
    KEX_96,
    KEX_WIN81,
    REALM,
    SSH_SERVER_BANNER,
    Ssh,
    a_record,
    as_req,
    dns_query,
    dns_reply,
    http_date,
    http_response,
    preauth_required,
    smb2,
    smb_negotiate,
    smb_read_file,
    smb_session_setup,
    soa,
    tgs_rep,
    tgs_req,
    tls,
)
from forensics.samples.story import DC01, GATEWAY, SRV01, WS01, Attack, Connection, Lookup
from forensics.samples.truth import ArtifactReport, Ref

__all__ = ["ARTIFACT", "generate"]

ARTIFACT = "network/lan-tap.pcapng"
UPSTREAM_DNS = "192.0.2.53"  # the ISP resolver DC01 forwards to
NOISE_RATIO = 50  # background transactions per malicious one, at least


# ---------------------------------------------------------------------------------------------
# DNS service on DC01


#: Internet names of the background: addresses (none of the attacker's) and TTL.
SITES: dict[str, tuple[tuple[str, ...], int]] = {
    "www.example.com": (("192.0.2.10",), 300),
    "login.example.com": (("192.0.2.25",), 300),
    "api.example.com": (("192.0.2.31", "192.0.2.32"), 60),
    "analytics.example.com": (("192.0.2.140",), 300),
    "mail.example.com": (("198.51.100.60",), 300),
    "news.example.org": (("198.51.100.41", "198.51.100.42"), 120),
    "docs.example.org": (("198.51.100.12",), 3600),
    "cdn.example.net": (("203.0.113.15", "203.0.113.16"), 60),
    "static.example.net": (("203.0.113.30",), 600),
    "fonts.example.net": (("203.0.113.44",), 3600),
    "update.example.com": (("203.0.113.90",), 3600),
}
#: A page view: its host and the hosts its sub-resources come from.
PAGES = (
    ("mail.example.com", ("api.example.com", "static.example.net")),
    ("www.example.com", ("cdn.example.net", "static.example.net", "analytics.example.com")),
    ("news.example.org", ("cdn.example.net", "fonts.example.net", "analytics.example.com")),
    ("login.example.com", ("static.example.net",)),
    ("docs.example.org", ("fonts.example.net", "cdn.example.net")),
)
_PAGE_WEIGHTS = (5, 3, 3, 1, 2)
#: Misspelt names users type (forwarded, NXDOMAIN upstream).
TYPOS = ("wwww.example.com", "mial.example.com", "nwes.example.org", "logon.example.com", "doc.example.org")
_ZONE = story.DOMAIN.lower()
_ZONE_HOSTS = {"dc01": DC01.ip, "srv01": SRV01.ip, "ws01": WS01.ip, "gw": GATEWAY.ip}
_ZONE_ALIASES = {"intranet": "srv01"}  # CNAMEs
_LDAP_SRV = f"_ldap._tcp.dc._msdcs.{_ZONE}"


class _Resolver:
    """DC01's DNS server: authoritative for corp.example.com, forwarding other names to
    192.0.2.53 and caching answers (and NXDOMAINs) for their TTL."""

    def __init__(self, cap: Capture, plan: Attack):
        self.cap = cap
        self.cache: dict[tuple[str, int], int] = {}  # (name, qtype) -> expiry µs
        self.attacker = {lk.name: lk.answer for lk in plan.lookups}

    def _external(self, name: str) -> tuple[tuple[str, ...], int] | None:
        """An Internet name's addresses and TTL: the attacker's from the plan, else the background sites."""
        if name in self.attacker:
            return (self.attacker[name],), 86_400  # long TTL: the implant never looks it up again
        return SITES.get(name)

    def _internal(self, query: dpkt.dns.DNS) -> bytes:
        """DC01 answers its own zone: host A records, the DC locator SRV, else NXDOMAIN."""
        q = query.qd[0]
        host = q.name[: -len(_ZONE) - 1].lower()
        if q.type == dpkt.dns.DNS_SRV and q.name.lower() == _LDAP_SRV:
            srv = dpkt.dns.DNS.RR(
                name=q.name, type=dpkt.dns.DNS_SRV, cls=dpkt.dns.DNS_IN, ttl=600, priority=0, weight=100,
                port=389, srvname=DC01.fqdn.lower(),
            )  # fmt: skip
            return dns_reply(query, 0, [srv], [], aa=True)
        if q.type == dpkt.dns.DNS_A and host in _ZONE_ALIASES:
            target = f"{_ZONE_ALIASES[host]}.{_ZONE}"
            alias = dpkt.dns.DNS.RR(
                name=q.name, type=dpkt.dns.DNS_CNAME, cls=dpkt.dns.DNS_IN, ttl=1200, cname=target
            )
            return dns_reply(
                query, 0, [alias, a_record(target, _ZONE_HOSTS[_ZONE_ALIASES[host]], 1200)], [], aa=True
            )
        if q.type == dpkt.dns.DNS_A and host in _ZONE_HOSTS:
            return dns_reply(query, 0, [a_record(q.name, _ZONE_HOSTS[host], 1200)], [], aa=True)
        return dns_reply(query, 3, [], [soa(_ZONE, 3600)], aa=True)

    def lookup(
        self, rng: random.Random, t: int, client: str, sport: int, name: str, qtype: int = dpkt.dns.DNS_A,
        mark: Mark | None = None,
    ) -> tuple[int, str | None]:  # fmt: skip
        """Query at t from client:sport; returns when the answer shows and the first address."""
        query = dns_query(rng.randrange(65536), name, qtype, edns=False)
        udp(self.cap, rng, t, client, sport, DC01.ip, 53, bytes(query), mark)
        t += rng.randint(150, 450)
        if name.lower().endswith("." + _ZONE):
            reply = self._internal(query)
        else:
            t, reply = self._recurse(rng, t, query)
        udp(self.cap, rng, t, DC01.ip, 53, client, sport, reply)
        found = [rr for rr in dpkt.dns.DNS(reply).an if rr.type == dpkt.dns.DNS_A]
        return t, socket.inet_ntoa(found[0].ip) if found else None

    def _recurse(self, rng: random.Random, t: int, query: dpkt.dns.DNS) -> tuple[int, bytes]:
        """Answer from the cache (TTL counted down) or forward upstream and cache the result."""
        name, qtype = query.qd[0].name, query.qd[0].type
        known = self._external(name)
        expiry = self.cache.get((name, qtype), 0)
        if expiry > t:
            left = max(1, (expiry - t) // SEC)
            if known:
                return t, dns_reply(query, 0, [a_record(name, ip, left) for ip in known[0]], [], aa=False)
            return t, dns_reply(query, 3, [], [soa(_parent(name), left)], aa=False)
        fwd = dns_query(rng.randrange(65536), name, qtype, edns=True)
        port = rng.randint(49152, 65535)
        udp(self.cap, rng, t, DC01.ip, port, UPSTREAM_DNS, 53, bytes(fwd))
        t += int(wan_rtt(UPSTREAM_DNS) * rng.uniform(0.95, 1.1)) + rng.randint(100, 4000)
        if known:
            ttl = rng.randint(max(1, known[1] * 2 // 3), known[1])
            up = dns_reply(fwd, 0, [a_record(name, ip, ttl) for ip in known[0]], [], aa=False, udp=1232)
            mine = dns_reply(query, 0, [a_record(name, ip, ttl) for ip in known[0]], [], aa=False)
        else:
            ttl = 300
            up = dns_reply(fwd, 3, [], [soa(_parent(name), ttl)], aa=False, udp=1232)
            mine = dns_reply(query, 3, [], [soa(_parent(name), ttl)], aa=False)
        udp(self.cap, rng, t, UPSTREAM_DNS, 53, DC01.ip, port, up)
        self.cache[(name, qtype)] = t + ttl * SEC
        return t + rng.randint(90, 300), mine


def _parent(name: str) -> str:
    """The registered domain of a name (the zone whose SOA an NXDOMAIN cites)."""
    return ".".join(name.split(".")[-2:])


# ---------------------------------------------------------------------------------------------
# The attack


def _http_what(conn: Connection) -> str:
    """One line: method, URL and sizes of a plan HTTP exchange."""
    method, path = conn.request.split(b"\r\n", 1)[0].decode().split(" ")[:2]
    status = conn.response.split(b"\r\n", 1)[0].decode().split(" ", 1)[1]
    up = len(conn.request) - conn.request.index(b"\r\n\r\n") - 4
    down = len(conn.response) - conn.response.index(b"\r\n\r\n") - 4
    sent = f" with a {up}-byte body" if up else ""
    return f"HTTP {method} http://{conn.server_name or conn.dst}{path}{sent} -> {status}, {down}-byte body"


def _attack_lookup(cap: Capture, res: _Resolver, rng: random.Random, lk: Lookup) -> None:
    """A plan look-up: the client's query at the plan's time, DC01 forwarding it, the answer."""
    mark = Mark(
        lk.step, flow_label(lk.client, lk.sport, DC01.ip, 53, "udp"), f"DNS A {lk.name} -> {lk.answer}"
    )
    res.lookup(rng, to_us(lk.time), lk.client, lk.sport, lk.name, mark=mark)
    cap.count(malicious=True)


def _attack_http(cap: Capture, rng: random.Random, conn: Connection) -> None:
    """The plan's HTTP exchange, exact bytes both ways; the server closes (Connection: close)."""
    flow = Tcp(cap, rng, conn.src, conn.sport, conn.dst, conn.dport)
    flow.open(to_us(conn.time), anchor=True)
    flow.send(
        CLIENT,
        conn.request,
        think=rng.randint(300, 1500),
        mark=Mark(conn.step, flow.label, _http_what(conn)),
    )
    flow.send(SERVER, conn.response, think=rng.randint(4_000, 30_000))
    flow.close(SERVER, think=rng.randint(50, 400))
    cap.count(malicious=True)


def _attack_tls(cap: Capture, rng: random.Random, conn: Connection) -> None:
    """A beacon: Schannel ClientHello with the plan's SNI, self-signed server flight, a few
    small request/response records, close."""
    flow = Tcp(cap, rng, conn.src, conn.sport, conn.dst, conn.dport)
    flow.open(to_us(conn.time), anchor=True)
    what = f"TLS ClientHello SNI {conn.server_name} -> {conn.dst}:{conn.dport}"
    rounds = [
        (rng.randint(20_000, 300_000), rng.randint(200, 600), rng.randint(200, 600))
        for _ in range(rng.randint(1, 2))
    ]
    tls(
        flow,
        rng,
        conn.server_name,
        False,
        False,
        rng.randint(1050, 1300),
        rounds,
        mark=Mark(conn.step, flow.label, what),
    )
    cap.count(malicious=True)


#: Shell work at each SRV01 step: (characters pasted, bytes of output), larger than other commands.
_STEP_BURSTS = {"S12": (83, 2600), "S13": (96, 1400), "S14": (46, 5200), "S15": (88, 3100), "S16": (38, 1200)}
#: Each SSH client's software: banner, KEX and host key algorithms it offers.
_SSH_CLIENTS = {
    WS01.ip: (b"SSH-2.0-OpenSSH_for_Windows_8.1", KEX_WIN81, HOSTKEYS_WIN81),
    BOB_LAPTOP: (b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5", KEX_96, HOSTKEYS_96),
    CI_RUNNER: (b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10", KEX_89, HOSTKEYS_89),
}


def _ssh_session(cap: Capture, rng: random.Random, s: Session) -> None:
    """An office SSH session to SRV01 as auth.log tells it: the SYN from the logged source port,
    the KEX, the credentials accepted (or refused) in the logged second, each command when the
    shell ran it (the attacker's steps pasted, with an output burst after each step's effect),
    the DISCONNECT when sshd logged it. The attacker's session is marked for the report."""
    banner, kex, hostkeys = _SSH_CLIENTS[s.src]
    flow = Tcp(cap, rng, s.src, s.sport, SRV01.ip, 22)
    flow.open(to_us(s.syn), anchor=s.attack)
    ssh = Ssh(flow, rng)
    mark = Mark(s.step, flow.label, f"SSH {banner.decode()} -> {SRV01.ip}:22") if s.attack else None
    ssh.handshake(banner, kex, hostkeys, mark=mark)
    ssh.login(to_us(s.auth), s.method == "password", tuple(to_us(t) for t in s.failed))
    assert s.end is not None and s.commands[-1].text == "exit", s
    for command in s.commands[:-1]:
        if command.step:
            chars, output = _STEP_BURSTS[command.step]
            done = to_us(story.attack_time(command.step)) + rng.randint(5_000, 400_000)
            ssh.command(to_us(command.time), chars, output + rng.randint(-200, 200), pasted=True, done=done)
        else:
            ssh.command(to_us(command.time), len(command.text), rng.randint(40, 900), pasted=False)
    ssh.logout(to_us(s.commands[-1].time), to_us(s.end))
    cap.count(malicious=s.attack)


def _ssh_probe(cap: Capture, rng: random.Random, p: office.Probe) -> None:
    """The monitor's check_ssh: sshd's banner, the plugin's own, and its FIN in the second sshd
    logs "Connection closed by ... [preauth]"."""
    flow = Tcp(cap, rng, MONITOR, p.sport, SRV01.ip, 22)
    flow.open(to_us(p.syn))
    flow.send(SERVER, SSH_SERVER_BANNER + b"\r\n", think=rng.randint(2000, 5000))
    flow.send(CLIENT, b"SSH-2.0-check_ssh_2.3.3\r\n", think=rng.randint(100, 400))
    flow.close(CLIENT, at=to_us(p.closed) - rng.randint(50, 150))
    cap.count(malicious=False)


# ---------------------------------------------------------------------------------------------
# The office's day


_DAY_SHAPE = ((8.0, 0.2), (8.75, 1.0), (10.2, 1.0), (10.3, 0.65), (10.55, 0.65), (10.65, 1.0), (12.0, 0.95),
              (12.1, 0.4), (12.8, 0.45), (13.0, 0.8))  # fmt: skip


def _activity(us: int) -> float:
    """Office activity (0..1) at a UTC time: arrivals, a coffee dip, lunch."""
    h = (us - to_us(story.ATTACK_DAY)) / 3600 / SEC
    for (h0, v0), (h1, v1) in itertools.pairwise(_DAY_SHAPE):
        if h0 <= h <= h1:
            return v0 + (v1 - v0) * (h - h0) / (h1 - h0)
    return _DAY_SHAPE[-1][1] if h > _DAY_SHAPE[-1][0] else _DAY_SHAPE[0][1]


@dataclass
class _Office:
    """Who is at their desk when (``office``'s desks for the attack day, in µs) and the source
    ports other traffic must not take."""

    start: int
    end: int
    desks: dict[str, tuple[int, int, int]]  # client -> (arrive, lunch, back)
    reserved: set[tuple[str, int]]

    def present(self, ip: str, t: int) -> bool:
        """Whether the client's user is at the desk at t (arrived and not at lunch)."""
        arrive, lunch, back = self.desks[ip]
        return t >= arrive and not lunch <= t < back

    def port(self, rng: random.Random, ip: str) -> int:
        """A free ephemeral port (Windows and Linux ranges), never one the attack or SRV01's
        logged sessions and probes use."""
        low = 49152 if stack(ip) is WINDOWS else 32768
        while True:
            port = rng.randint(low, 65535 if low == 49152 else 60999)
            if (ip, port) not in self.reserved:
                return port


def _office(act: office.Activity, start: int, end: int, plan: Attack) -> _Office:
    """The desks of the attack day (alice arrives before her 09:12 e-mail, bob early) and the
    source ports the plan and SRV01's logs already name."""
    desks = {}
    for ip in CLIENTS:
        d = act.desk(ip, story.ATTACK_DAY)
        desks[ip] = (to_us(d.arrive), to_us(d.lunch), to_us(d.back))
    reserved = {(c.src, c.sport) for c in plan.connections} | {(lk.client, lk.sport) for lk in plan.lookups}
    reserved |= {(s.src, s.sport) for s in act.sessions} | {(MONITOR, p.sport) for p in act.probes}
    return _Office(start, end, desks, reserved)


def _instants(rng: random.Random, n: int, start: int, end: int, shaped: bool = True) -> list[int]:
    """n times in [start, end) with density following office activity (rejection sampling)."""
    out: list[int] = []
    while len(out) < n:
        t = rng.randrange(start, end)
        if not shaped or rng.random() < _activity(t):
            out.append(t)
    return sorted(out)


def _user_at(rng: random.Random, desks: _Office, t: int, pool: tuple[str, ...]) -> str | None:
    """A client whose user is at the desk at t, or None."""
    here = [ip for ip in pool if desks.present(ip, t)]
    return rng.choice(here) if here else None


# ---------------------------------------------------------------------------------------------
# Background transactions


@dataclass
class _Ctx:
    """What every background job renders into."""

    cap: Capture
    res: _Resolver
    rng: random.Random
    office: _Office
    names: dict[tuple[str, str], int] = field(default_factory=dict)  # client's DNS cache: expiry µs


def _resolve(ctx: _Ctx, t: int, client: str, name: str) -> tuple[int, str]:
    """The client's cached address of a site, or a look-up through DC01 first."""
    ips, ttl = SITES[name]
    if ctx.names.get((client, name), 0) > t:
        return t, ips[0]
    done, ip = ctx.res.lookup(ctx.rng, t, client, ctx.office.port(ctx.rng, client), name)
    ctx.cap.count(malicious=False)
    ctx.names[(client, name)] = done + ttl * SEC
    return done + ctx.rng.randint(200, 1500), ip or ips[0]


def _browse(ctx: _Ctx, t: int, client: str, page: int) -> None:
    """One page view: the page's host and some sub-resource hosts, each resolved (client cache
    permitting) and fetched over TLS; a host the browser still has an open connection to is
    reused, the first connection to a host is a full handshake, later ones resume."""
    r = ctx.rng
    host, subs = PAGES[page]
    hosts = [host] + [h for h in subs if r.random() < 0.6]
    for i, name in enumerate(hosts):
        start = t + (i and r.randint(120_000, 900_000))
        if ctx.names.get((client, "conn:" + name), 0) > start:
            continue
        ready, ip = _resolve(ctx, start, client, name)
        resume = ctx.names.get((client, "tls:" + name), 0) > ready
        ctx.names[(client, "tls:" + name)] = ready + 7200 * SEC
        flow = Tcp(ctx.cap, r, client, ctx.office.port(r, client), ip, 443)
        flow.open(ready)
        rounds = [
            (r.randint(20_000, 3_000_000), r.randint(90, 500), _page_bytes(r))
            for _ in range(1 + (r.random() < 0.3))
        ]
        ctx.names[(client, "conn:" + name)] = tls(flow, r, name, True, resume, r.randint(1900, 3400), rounds)
        ctx.cap.count(malicious=False)


def _page_bytes(rng: random.Random) -> int:
    """A response size: log-normal around 800 bytes, capped at 24 KB."""
    return min(24_000, int(math.exp(rng.gauss(math.log(800), 0.9))))


_UPDATE_PATHS = (
    "/msdownload/update/v3/static/trustedr/en/disallowedcertstl.cab",
    "/msdownload/update/v3/static/trustedr/en/authrootstl.cab",
    "/msdownload/update/v3/static/trustedr/en/pinrulesstl.cab",
)


def _update_check(ctx: _Ctx, t: int, client: str) -> None:
    """CryptoAPI's certificate-list refresh over plain HTTP: usually 304, sometimes a new .cab."""
    r = ctx.rng
    ready, ip = _resolve(ctx, t, client, "update.example.com")
    flow = Tcp(ctx.cap, r, client, ctx.office.port(r, client), ip, 80)
    flow.open(ready)
    etag = f'"0{r.getrandbits(48):012x}:0"'
    stamp = http_date(t - r.randint(2, 20) * 86_400 * SEC)
    request = (
        f"GET {r.choice(_UPDATE_PATHS)}?{r.getrandbits(64):016x} HTTP/1.1\r\nConnection: Keep-Alive\r\nAccept: */*\r\n"
        f"If-Modified-Since: {stamp}\r\nIf-None-Match: {etag}\r\nUser-Agent: Microsoft-CryptoAPI/10.0\r\n"
        "Host: update.example.com\r\n\r\n"
    ).encode()
    head = f"Cache-Control: public,max-age=900\r\nLast-Modified: {stamp}\r\nETag: {etag}\r\n"
    if r.random() < 0.8:
        response = http_response(t, "304 Not Modified", b"", "", head, server="ECAcc (ama/8A2D)")
    else:
        cab = b"MSCF" + bytes(4) + r.randbytes(r.randint(3000, 9000))
        response = http_response(
            t, "200 OK", cab, "application/vnd.ms-cab-compressed", head, server="ECAcc (ama/8A2D)"
        )
    flow.send(CLIENT, request, think=r.randint(300, 2000))
    flow.send(SERVER, response, think=r.randint(1000, 15_000))
    flow.close(CLIENT, think=r.randint(100_000, 2_000_000))
    ctx.cap.count(malicious=False)


# ---------------------------------------------------------------------------------------------
# SRV01's nginx: every request it logged in the window, on the connections browsers open

_KEEPALIVE = 75 * SEC  # nginx's keepalive_timeout: it closes a connection idle this long
_REASONS = {200: "OK", 302: "Moved Temporarily", 304: "Not Modified", 404: "Not Found", 502: "Bad Gateway"}
_HOST = office.INTRANET.lower()


def _cookie(client: str) -> str:
    """The app's session cookie in a client's browser (set by the login form's answer)."""
    return hashlib.sha256(f"intranet-session:{client}".encode()).hexdigest()[:32]


def _http_request(h: Hit) -> bytes:
    """What the client sent for a logged request: a browser's GET or login POST (with its
    cookie, and the validators that earn a 304), check_http's probe or the CI runner's curl."""
    head = f"{h.method} {h.path} HTTP/1.1\r\nHost: {_HOST}\r\nUser-Agent: {h.agent}\r\n"
    if h.client == MONITOR:
        return (head + "Connection: close\r\n\r\n").encode()
    if h.client == CI_RUNNER:
        return (head + "Accept: */*\r\n\r\n").encode()
    head += (
        f"Accept: {_accept(h.path)}\r\nAccept-Encoding: gzip, deflate\r\nAccept-Language: en-US,en;q=0.9\r\n"
    )
    head += f"Referer: {h.referer}\r\nConnection: keep-alive\r\n"
    if h.method == "POST":
        head += f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(h.form)}\r\n"
        head += f"Origin: http://{_HOST}\r\n"
    else:
        head += f"Cookie: session={_cookie(h.client)}\r\n"
    if h.status == 304:
        head += f"If-None-Match: {_etag(h.path)}\r\nIf-Modified-Since: {http_date(to_us(office.APP_DEPLOYED))}\r\n"
    return (head + "\r\n").encode() + h.form


def _accept(path: str) -> str:
    """A browser's Accept header: a page, the app script's fetch() of its API, an asset."""
    if path.startswith("/api/"):
        return "application/json"
    if path.startswith("/static/"):
        return "text/css,*/*;q=0.1" if path.endswith(".css") else "*/*"
    return "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def _content_type(h: Hit) -> str:
    """What nginx labels a body: a static file by its type, its own error pages as HTML, the
    app's JSON and HTML pages (and Werkzeug's redirect page) as the app says."""
    if h.path in office.ASSETS:
        return office.ASSETS[h.path][1]
    if h.status in (404, 502):
        return "text/html"
    return "application/json" if h.body.startswith(b"{") else "text/html; charset=utf-8"


def _etag(path: str) -> str:
    """nginx's ETag of a static file: its mtime and size in hex."""
    data, _ = office.ASSETS[path]
    return f'"{int(office.APP_DEPLOYED.timestamp()):x}-{len(data):x}"'


def _http_answer(h: Hit) -> bytes:
    """nginx's response to a logged request: its status, the headers nginx and the app send,
    and exactly the body whose size nginx logged."""
    when = to_us(h.time)
    head = (
        f"HTTP/1.1 {h.status} {_REASONS[h.status]}\r\nServer: {office.NGINX}\r\nDate: {http_date(when)}\r\n"
    )
    if h.path in office.ASSETS and h.status in (200, 304):
        if h.status == 200:
            head += f"Content-Type: {_content_type(h)}\r\nContent-Length: {h.size}\r\n"
        head += f"Last-Modified: {http_date(to_us(office.APP_DEPLOYED))}\r\nConnection: keep-alive\r\n"
        head += f"ETag: {_etag(h.path)}\r\nExpires: {http_date(when + 7 * 86_400 * SEC)}\r\n"
        head += "Cache-Control: max-age=604800\r\n" + ("Accept-Ranges: bytes\r\n" if h.status == 200 else "")
        return (head + "\r\n").encode() + h.body
    head += f"Content-Type: {_content_type(h)}\r\nContent-Length: {h.size}\r\n"
    head += "Connection: close\r\n" if h.client in (MONITOR, CI_RUNNER) else "Connection: keep-alive\r\n"
    if h.status == 302:
        head += (
            f"Location: /\r\nVary: Cookie\r\nSet-Cookie: session={_cookie(h.client)}; HttpOnly; Path=/\r\n"
        )
    return (head + "\r\n").encode() + h.body


def _serve_time(rng: random.Random, h: Hit) -> int:
    """µs from the request's arrival to nginx writing the answer: a static file or error page
    at once, the app behind it in 8-60 ms."""
    if h.path in office.ASSETS or h.status in (404, 502):
        return rng.randint(200, 1500)
    return rng.randint(8_000, 60_000)


def _visits(hits: tuple[Hit, ...], start: int, end: int) -> list[list[Hit]]:
    """The logged requests whose connections the window sees, per client, in visits: requests
    closer than nginx's keep-alive share a browser's connections; check_http's and curl's each
    open their own."""
    by_client: dict[str, list[Hit]] = {}
    for h in hits:
        if start - _KEEPALIVE - 10 * SEC <= to_us(h.time) < end:
            by_client.setdefault(h.client, []).append(h)
    visits = []
    for client, mine in by_client.items():
        if client in (MONITOR, CI_RUNNER):
            visits += [[h] for h in mine]
            continue
        visits.append([mine[0]])
        for before, h in itertools.pairwise(mine):
            if to_us(h.time) - to_us(before.time) > _KEEPALIVE - 5 * SEC:
                visits.append([])
            visits[-1].append(h)
    return visits


def _visit(ctx: _Ctx, hits: list[Hit]) -> None:
    """A client's requests over as many keep-alive connections as it needs at once (a browser
    fetches the stylesheet and the script in parallel): each request reaches nginx just before
    its logged second and the answer leaves at the logged instant; nginx closes idle
    connections after 75 s, check_http and curl hang up themselves."""
    r, client = ctx.rng, hits[0].client
    single = client in (MONITOR, CI_RUNNER)
    flows: list[Tcp] = []
    for h in hits:
        done = to_us(h.time)
        ask = done - _serve_time(r, h)
        flow = next((f for f in flows if max(e.sent_at for e in f.ends) + 1_000 <= ask), None)
        if flow is None:
            opened = ask - r.randint(600, 2_500)
            if client != MONITOR and ctx.names.get((client, _HOST), 0) <= opened:
                looked = opened - r.randint(1_500, 6_000)
                ctx.res.lookup(r, looked, client, ctx.office.port(r, client), _HOST)
                ctx.cap.count(malicious=False)
                ctx.names[(client, _HOST)] = looked + 1200 * SEC
            flow = Tcp(ctx.cap, r, client, ctx.office.port(r, client), SRV01.ip, 80)
            flow.open(opened)
            flows.append(flow)
            ctx.cap.count(malicious=False)
        flow.send(CLIENT, _http_request(h), at=ask)
        sent = flow.send(SERVER, _http_answer(h), at=done)
        assert sent == done, (flow.label, h)
    for flow in flows:
        if single:
            flow.close(SERVER if client == MONITOR else CLIENT, think=r.randint(50, 400))
        else:
            flow.close(SERVER, think=_KEEPALIVE)


def _srv01_jobs(
    ctx: _Ctx, act: office.Activity, start: int, end: int
) -> list[tuple[int, Callable[[], None]]]:
    """SRV01's logged use inside the window (``office``): SSH sessions that overlap it, the
    monitor's probes, nginx's requests; each starts when its first packet would."""
    jobs: list[tuple[int, Callable[[], None]]] = []
    for s in act.sessions:
        if not s.attack and to_us(s.syn) < end and to_us(s.until) >= start:
            jobs.append((to_us(s.syn), partial(_ssh_session, ctx.cap, ctx.rng, s)))
    for p in act.probes:
        if start <= to_us(p.syn) < end:
            jobs.append((to_us(p.syn), partial(_ssh_probe, ctx.cap, ctx.rng, p)))
    for visit in _visits(act.hits, start, end):
        jobs.append((to_us(visit[0].time) - 100_000, partial(_visit, ctx, visit)))
    return jobs


# Kerberos: service tickets and pre-authentication from DC01 (the messages are in ``protocols``).


_DC = DC01.fqdn.lower()
_SERVICES = (("cifs", _DC), ("ldap", _DC, _ZONE), ("ldap", _DC), ("host", _DC), ("krbtgt", REALM))


def _account(client: str, machine: bool) -> str:
    """The user at a client, or its machine account (PC40$ ...)."""
    if machine:
        return "WS01$" if client == WS01.ip else f"PC{client.rsplit('.', 1)[1]}$"
    return office.USERS[client]


def _kerberos(ctx: _Ctx, t: int, client: str) -> None:
    """A service ticket over TCP 88 (length-prefixed TGS-REQ/REP), or an AS-REQ without
    pre-authentication over UDP 88 answered by PREAUTH_REQUIRED."""
    r = ctx.rng
    user = _account(client, machine=r.random() < 0.35)
    if r.random() < 0.3:
        port = ctx.office.port(r, client)
        udp(ctx.cap, r, t, client, port, DC01.ip, 88, as_req(r, user))
        udp(ctx.cap, r, t + r.randint(300, 1500), DC01.ip, 88, client, port, preauth_required(t, user))
    else:
        service = r.choice(_SERVICES)
        flow = Tcp(ctx.cap, r, client, ctx.office.port(r, client), DC01.ip, 88)
        flow.open(t)
        req, rep = tgs_req(r, service), tgs_rep(r, user, service)
        flow.send(CLIENT, struct.pack("!I", len(req)) + req, think=r.randint(100, 600))
        flow.send(SERVER, struct.pack("!I", len(rep)) + rep, think=r.randint(400, 3000))
        flow.close(CLIENT, think=r.randint(200, 2000))
    ctx.cap.count(malicious=False)


# SMB2/3: Group Policy reading gpt.ini from DC01's SYSVOL, signed, not encrypted.

_GPOS = ("{31B2F340-016D-11D2-945F-00C04FB984F9}", "{7D2F1A4C-5E3B-4A8F-9C61-2B0D4E7F8A13}")
_GPT_INI = (
    b"[General]\r\nVersion=3\r\n",
    b"[General]\r\nVersion=65541\r\ndisplayName=Office Workstations\r\n",
)
_GPO_TIME = to_us(datetime(2026, 2, 17, 14, 3, 11, tzinfo=UTC))


def _smb(ctx: _Ctx, t: int, client: str) -> None:
    """Group Policy refresh: negotiate 3.1.1, Kerberos session setup, tree connect to SYSVOL,
    read each GPO's gpt.ini, disconnect, log off; signed after the session is set up."""
    r = ctx.rng
    flow = Tcp(ctx.cap, r, client, ctx.office.port(r, client), DC01.ip, 445)
    flow.open(t)
    share = f"\\\\{_DC}\\SYSVOL".encode("utf-16-le")
    steps = [
        (0, smb_negotiate(r, client, False, t), smb_negotiate(r, client, True, t)),
        (1, smb_session_setup(r, False, _DC), smb_session_setup(r, True, _DC)),
        (
            3,
            struct.pack("<HHHH", 9, 0, 72, len(share)) + share,
            struct.pack("<HBBIII", 16, 1, 0, 0, 0, 0x001200A9),
        ),
    ]
    for guid, ini in zip(_GPOS, _GPT_INI, strict=True):
        steps += smb_read_file(r, f"{_ZONE}\\Policies\\{guid}\\gpt.ini", ini, _GPO_TIME)
    steps += [
        (4, struct.pack("<HH", 4, 0), struct.pack("<HH", 4, 0)),
        (2, struct.pack("<HH", 4, 0), struct.pack("<HH", 4, 0)),
    ]
    session, tree = r.getrandbits(62) | 1 << 44, r.randint(1, 9)
    for msg_id, (command, request, reply) in enumerate(steps):
        s_id = session if command != 0 and msg_id > 1 else 0
        t_id = tree if command not in (0, 1, 3) else 0
        sig = r.randbytes(16) if s_id else b""
        flow.send(CLIENT, smb2(command, msg_id, False, s_id, t_id, sig, request), think=r.randint(100, 4000))
        s_reply = session if command == 1 else s_id
        t_reply = tree if command == 3 else t_id
        sig = r.randbytes(16) if s_reply and command != 0 else b""
        flow.send(
            SERVER, smb2(command, msg_id, True, s_reply, t_reply, sig, reply), think=r.randint(150, 2500)
        )
    flow.close(CLIENT, think=r.randint(5, 40) * SEC)
    ctx.cap.count(malicious=False)


def _ntp_stamp(us: int) -> bytes:
    """An NTP timestamp (seconds since 1900, 32-bit fraction)."""
    sec, frac = divmod(us, SEC)
    return struct.pack("!II", sec + 2_208_988_800, (frac << 32) // SEC)


def _ntp(ctx: _Ctx, t: int, client: str) -> None:
    """A client poll of the gateway's NTP server and its mode-4 answer with consistent stamps."""
    r = ctx.rng
    sport = 123 if stack(client) is WINDOWS else ctx.office.port(r, client)
    skew = r.randint(-3000, 3000)
    query = bytes([0x23, 0, 10, 0xE9]) + bytes(8) + bytes(4) + bytes(24) + _ntp_stamp(t + skew)
    udp(ctx.cap, r, t, client, sport, GATEWAY.ip, 123, query)
    recv = t + r.randint(40, 120)
    send = recv + r.randint(10, 60)
    head = (
        bytes([0x24, 2, 10, 0xE8]) + struct.pack("!II", 0x0000_0A3C, 0x0000_1F00) + ip_bytes("198.51.100.123")
    )
    answer = (
        head
        + _ntp_stamp(t - r.randint(60, 900) * SEC)
        + _ntp_stamp(t + skew)
        + _ntp_stamp(recv)
        + _ntp_stamp(send)
    )
    udp(ctx.cap, r, send + r.randint(20, 60), GATEWAY.ip, 123, client, sport, answer)
    ctx.cap.count(malicious=False)


def _arp(ctx: _Ctx, t: int, asker: str, target: str) -> None:
    """who-has (broadcast, or unicast when refreshing a stale entry) and the unicast is-at."""
    r = ctx.rng
    unicast = r.random() < 0.35
    for when, op, sha, spa, tha, tpa, dst in (
        (t, dpkt.arp.ARP_OP_REQUEST, asker, asker, None, target, target if unicast else None),
        (t + r.randint(80, 400), dpkt.arp.ARP_OP_REPLY, target, target, asker, asker, asker),
    ):
        arp = dpkt.arp.ARP(
            op=op, sha=mac_of(sha), spa=ip_bytes(spa), tha=mac_of(tha) if tha else bytes(6), tpa=ip_bytes(tpa)
        )
        eth = dpkt.ethernet.Ethernet(
            src=mac_of(sha),
            dst=mac_of(dst) if dst else b"\xff" * 6,
            type=dpkt.ethernet.ETH_TYPE_ARP,
            data=arp,
        )
        ctx.cap.add(when, bytes(eth).ljust(60, b"\x00"))
    ctx.cap.count(malicious=False)


def _misc_dns(ctx: _Ctx, t: int, client: str) -> None:
    """Windows chatter in DC01's own zone: the DC locator, the DC's and the intranet's names,
    WPAD/ISATAP probes (NXDOMAIN), now and then a mistyped Internet name (NXDOMAIN upstream)."""
    r = ctx.rng
    pick = r.random()
    if pick < 0.4:
        name, qtype = _LDAP_SRV, dpkt.dns.DNS_SRV
    elif pick < 0.72:
        name, qtype = r.choice((DC01.fqdn.lower(), _HOST, SRV01.fqdn.lower())), dpkt.dns.DNS_A
    elif pick < 0.92:
        name, qtype = f"{r.choice(('wpad', 'wpad', 'isatap'))}.{_ZONE}", dpkt.dns.DNS_A
    else:
        name, qtype = r.choice(TYPOS), dpkt.dns.DNS_A
    ctx.res.lookup(r, t, client, ctx.office.port(r, client), name, qtype)
    ctx.cap.count(malicious=False)


# ---------------------------------------------------------------------------------------------
# Scheduling and output


Job = tuple[int, int, Callable[[], None]]  # (µs, serial, render)
#: Background volume at scale 1 (browse: sessions of 1-5 page views; the others: transactions).
_VOLUME = {
    "browse": 80,
    "update_check": 45,
    "kerberos": 170,
    "smb": 60,
    "misc_dns": 800,
    "arp": 760,
}


def _background_jobs(ctx: _Ctx, act: office.Activity, scale: int) -> list[Job]:
    """Every background transaction's start time and renderer, volumes times ``scale``; SRV01's
    share comes from ``office``, as its logs show it."""
    r, o = ctx.rng, ctx.office
    jobs = _srv01_jobs(ctx, act, o.start, o.end)
    lo, hi = o.start + 2 * SEC, o.end - 2 * SEC
    for t in _instants(r, _VOLUME["browse"] * scale, lo, hi):  # sessions: a burst of page views
        client = _user_at(r, o, t, CLIENTS)
        for _ in range(r.randint(1, 5) if client else 0):
            page = r.choices(range(len(PAGES)), _PAGE_WEIGHTS)[0]
            jobs.append((t, partial(_browse, ctx, t, client, page)))
            t += int(r.expovariate(1 / 25) * SEC) + SEC
    windows = [WS01.ip, *OFFICE_PCS]
    for kind, shaped in ((_update_check, False), (_kerberos, True), (_smb, True), (_misc_dns, True)):
        for t in _instants(r, _VOLUME[kind.__name__.strip("_")] * scale, lo, hi, shaped):
            jobs.append((t, partial(kind, ctx, t, r.choice(windows))))
    for client, period in ((DC01.ip, 1024), (SRV01.ip, 2048), (BOB_LAPTOP, 1024), (CI_RUNNER, 2048),
                           (NAS, 2048), (MONITOR, 2048)):  # fmt: skip
        t = lo + r.randint(0, period) * SEC // scale
        while t < hi:
            jobs.append((t, partial(_ntp, ctx, t, client)))
            t += period * SEC // scale + r.randint(-20, 20) * SEC
    lan = [GATEWAY.ip, DC01.ip, SRV01.ip, CI_RUNNER, NAS, MONITOR, *CLIENTS]
    for t in _instants(r, _VOLUME["arp"] * scale, lo, hi, shaped=False):
        asker = r.choice(lan)
        target = r.choice([ip for ip in (GATEWAY.ip, DC01.ip, SRV01.ip, r.choice(CLIENTS)) if ip != asker])
        jobs.append((t, partial(_arp, ctx, t, asker, target)))
    return [(t, 1_000_000 + i, job) for i, (t, job) in enumerate(jobs)]


def _attack_jobs(
    cap: Capture, res: _Resolver, plan: Attack, act: office.Activity, seed: int, start: int, end: int
) -> list[Job]:
    """The plan's look-ups and connections inside the capture window, as jobs; the SSH session
    is ``office``'s attacker session (what SRV01 logged of it)."""
    rng = story.rng(seed, "network:attack")
    jobs: list[Job] = []
    for i, lk in enumerate(plan.lookups):
        if start <= to_us(lk.time) < end:
            jobs.append((to_us(lk.time), i, partial(_attack_lookup, cap, res, rng, lk)))
    render = {"http": _attack_http, "tls": _attack_tls}
    for i, conn in enumerate(plan.connections, start=len(jobs)):
        if not start <= to_us(conn.time) < end:
            continue
        if conn.kind == "ssh":
            session = next(s for s in act.sessions if s.step == conn.step)
            assert (session.src, session.sport, session.syn) == (conn.src, conn.sport, conn.time), conn
            jobs.append((to_us(conn.time), i, partial(_ssh_session, cap, rng, session)))
        else:
            jobs.append((to_us(conn.time), i, partial(render[conn.kind], cap, rng, conn)))
    return jobs


def generate(out: Path, plan: Attack, seed: int, scale: int = 1) -> list[ArtifactReport]:
    """Write ``out/network/lan-tap.pcapng`` and report its transactions and the attack's packets."""
    start, end = to_us(story.CAPTURE_START), to_us(story.CAPTURE_END)
    cap = Capture()
    res = _Resolver(cap, plan)
    rng = story.rng(seed, "network")
    act = office.activity(plan, seed, scale)
    ctx = _Ctx(cap, res, rng, _office(act, start, end, plan))
    jobs = _attack_jobs(cap, res, plan, act, seed, start, end) + _background_jobs(ctx, act, scale)
    for _, _, job in sorted(jobs, key=lambda j: (j[0], j[1])):
        job()
    frames, where = file_order(cap, start, end)
    moved = [s for s, us in cap.anchors.items() if where.get(s, (0, -1))[1] != us]
    assert not moved, f"plan-timed packets moved or fell outside the window: {moved}"
    assert cap.background >= NOISE_RATIO * cap.malicious, (cap.background, cap.malicious)
    write_pcapng(out / ARTIFACT, frames)
    return [_report(cap, where)]


def _report(cap: Capture, where: dict[int, tuple[int, int]]) -> ArtifactReport:
    """Counts and one ref per malicious transaction, in file order. Should an evidence packet
    fall after the window's end (a connection opened in its last instant), the ref names the
    transaction's first packet, which the window always holds."""
    refs = []
    for serial, (mark, anchor) in cap.marks.items():
        number, us = where.get(serial, where[anchor])
        refs.append(Ref(mark.step, ARTIFACT, from_us(us), {"packet": number, "flow": mark.flow}, mark.what))
    refs.sort(key=lambda ref: ref.locator["packet"])
    return ArtifactReport(ARTIFACT, "network", "pcapng", cap.background + cap.malicious, cap.malicious, refs)
