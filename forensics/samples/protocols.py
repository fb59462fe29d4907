"""What the office's protocols put in their packets: DNS, HTTP, TLS 1.3, SSH, Kerberos, SMB2.

Why: the capture must read as real traffic to any dissector and to fingerprinting (JA3-like
ClientHellos, SSH KEXINIT lists, Kerberos and SMB2 structures), while the encrypted parts stay
opaque random bytes of realistic sizes. ``packets`` frames these payloads; ``network`` decides
who sends them when. Everything random comes from the caller's ``random.Random``, so the same
seed gives the same bytes.
"""

from __future__ import annotations

import random
import struct
from email.utils import format_datetime

import dpkt

from forensics.samples import story
from forensics.samples.packets import CLIENT, SEC, SERVER, Mark, Tcp, from_us, ip_bytes

__all__ = [
    "HOSTKEYS_89",
    "HOSTKEYS_96",
    "HOSTKEYS_WIN81",
    "KEX_89",
    "KEX_96",
    "KEX_WIN81",
    "REALM",
    "SSH_SERVER_BANNER",
    "Ssh",
    "a_record",
    "as_req",
    "dns_query",
    "dns_reply",
    "http_date",
    "http_response",
    "preauth_required",
    "smb2",
    "smb_negotiate",
    "smb_read_file",
    "smb_session_setup",
    "soa",
    "tgs_rep",
    "tgs_req",
    "tls",
]

SSH_SERVER_BANNER = b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6"


# ---------------------------------------------------------------------------------------------
# Helpers, DNS, HTTP


def _u16(n: int) -> bytes:
    return struct.pack("!H", n)


def _u24(n: int) -> bytes:
    return struct.pack("!I", n)[1:]


def _v8(b: bytes) -> bytes:
    return bytes([len(b)]) + b


def _v16(b: bytes) -> bytes:
    return _u16(len(b)) + b


def http_date(us: int) -> str:
    """An HTTP Date header value (RFC 7231, GMT) for a capture time."""
    return format_datetime(from_us(us).replace(microsecond=0), usegmt=True)


def dns_query(txid: int, name: str, qtype: int, edns: bool) -> dpkt.dns.DNS:
    """A recursive query as Windows sends it; DC01's forwarded ones carry an EDNS OPT record."""
    q = dpkt.dns.DNS(id=txid, op=0x0100, qd=[dpkt.dns.DNS.Q(name=name, type=qtype, cls=dpkt.dns.DNS_IN)])
    if edns:
        q.ar = [dpkt.dns.DNS.RR(name="", type=dpkt.dns.DNS_OPT, cls=4000, ttl=0)]
    return q


def dns_reply(query: dpkt.dns.DNS, rcode: int, an: list, ns: list, aa: bool, udp: int = 0) -> bytes:
    """The answer to ``query``: same id and question, QR+RD+RA (+AA for DC01's own zone)."""
    reply = dpkt.dns.DNS(
        id=query.id, op=0x8180 | (0x0400 if aa else 0) | rcode, qd=query.qd, an=an, ns=ns,
        ar=[dpkt.dns.DNS.RR(name="", type=dpkt.dns.DNS_OPT, cls=udp, ttl=0)] if udp else [],
    )  # fmt: skip
    return bytes(reply)


def http_response(
    us: int, status: str, body: bytes, ctype: str, extra: str = "", server: str = "nginx"
) -> bytes:
    """A response head (status, Server, Date, type and length when there is a body) and its body."""
    head = f"HTTP/1.1 {status}\r\nServer: {server}\r\nDate: {http_date(us)}\r\n"
    if body or status.startswith("200"):
        head += f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
    return (head + extra + "\r\n").encode() + body


def soa(zone: str, ttl: int) -> dpkt.dns.DNS.RR:
    """The zone's SOA record, as NXDOMAIN answers carry it in their authority section."""
    return dpkt.dns.DNS.RR(
        name=zone, type=dpkt.dns.DNS_SOA, cls=dpkt.dns.DNS_IN, ttl=ttl, mname=f"ns1.{zone}",
        rname=f"hostmaster.{zone}", serial=2026030901, refresh=900, retry=600, expire=86400, minimum=300,
    )  # fmt: skip


def a_record(name: str, ip: str, ttl: int) -> dpkt.dns.DNS.RR:
    """An A record."""
    return dpkt.dns.DNS.RR(name=name, type=dpkt.dns.DNS_A, cls=dpkt.dns.DNS_IN, ttl=ttl, ip=ip_bytes(ip))


# ---------------------------------------------------------------------------------------------
# TLS 1.3


def _ext(kind: int, body: bytes) -> bytes:
    """A TLS extension: type, length, body."""
    return _u16(kind) + _v16(body)


def _record(kind: int, body: bytes, version: int = 0x0303) -> bytes:
    """A TLS record: content type, version, length, body."""
    return bytes([kind]) + _u16(version) + _v16(body)


def _sealed(rng: random.Random, size: int) -> bytes:
    """An encrypted TLS 1.3 record (application_data) of ``size`` ciphertext bytes."""
    return _record(23, rng.randbytes(size))


def _sealed_data(rng: random.Random, plain: int) -> bytes:
    """``plain`` bytes of application data as 16 KiB records (+1 type byte, +16 tag each)."""
    parts, left = [], max(1, plain)
    while left > 0:
        n = min(left, 16_384)
        parts.append(_sealed(rng, n + 17))
        left -= n
    return b"".join(parts)


_CCS = _record(20, b"\x01")


_SIGALGS = (0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0201, 0x0403, 0x0503, 0x0203, 0x0202, 0x0601, 0x0603)


_SCHANNEL_SUITES = (
    0x1302, 0x1301, 0xC02C, 0xC02B, 0xC030, 0xC02F, 0xC024, 0xC023, 0xC028, 0xC027, 0xC00A, 0xC009,
    0xC014, 0xC013, 0x009D, 0x009C, 0x003D, 0x003C, 0x0035, 0x002F, 0x000A,
)  # fmt: skip


_CHROMIUM_SUITES = (
    0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035,
)  # fmt: skip


_ALPN = _v16(_v8(b"h2") + _v8(b"http/1.1"))


def _list16(values: tuple[int, ...] | list[int]) -> bytes:
    """16-bit values, big-endian, back to back (cipher suites, groups, versions)."""
    return b"".join(_u16(v) for v in values)


def _sni(name: str) -> bytes:
    """The server_name extension for one host name."""
    return _ext(0, _v16(b"\x00" + _v16(name.encode())))


def _schannel_exts(rng: random.Random, sni: str) -> bytes:
    """Windows Schannel's extension set and order (TLS 1.3 enabled), no GREASE."""
    return b"".join((
        _sni(sni), _ext(5, b"\x01\x00\x00\x00\x00"), _ext(10, _v16(_list16((0x1D, 0x17, 0x18)))),
        _ext(11, _v8(b"\x00")), _ext(13, _v16(_list16(_SIGALGS))), _ext(35, b""), _ext(16, _ALPN),
        _ext(23, b""), _ext(0xFF01, b"\x00"), _ext(43, _v8(_list16((0x0304, 0x0303)))), _ext(45, _v8(b"\x01")),
        _ext(51, _v16(_u16(0x1D) + _v16(rng.randbytes(32)))),
    ))  # fmt: skip


def _chromium_exts(rng: random.Random, sni: str, resume: bool, hello_len: int) -> bytes:
    """Chromium's set: GREASE first and last, the rest shuffled per connection, padding to 512
    bytes (BoringSSL), pre_shared_key last when resuming."""
    grease = [0x0A0A + 0x1010 * rng.randrange(16) for _ in range(4)]
    middle = [
        _sni(sni), _ext(23, b""), _ext(0xFF01, b"\x00"), _ext(10, _v16(_list16((grease[1], 0x1D, 0x17, 0x18)))),
        _ext(11, _v8(b"\x00")), _ext(35, b""), _ext(16, _ALPN), _ext(5, b"\x01\x00\x00\x00\x00"),
        _ext(13, _v16(_list16((0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)))), _ext(18, b""),
        _ext(51, _v16(_u16(grease[1]) + _v16(b"\x00") + _u16(0x1D) + _v16(rng.randbytes(32)))),
        _ext(45, _v8(b"\x01")), _ext(43, _v8(_list16((grease[2], 0x0304, 0x0303)))), _ext(27, _v8(_u16(2))),
        _ext(17513, _v16(_v8(b"h2"))),
    ]  # fmt: skip
    rng.shuffle(middle)
    exts = _ext(grease[0], b"") + b"".join(middle) + _ext(grease[3], b"\x00")
    psk = b""
    if resume:
        ident = _v16(rng.randbytes(rng.choice((160, 176, 192)))) + struct.pack("!I", rng.getrandbits(32))
        psk = _ext(41, _v16(ident) + _v16(_v8(rng.randbytes(32))))
    size = hello_len + 2 + len(exts) + len(psk)
    if 0xFF < size < 0x200:
        exts += _ext(21, bytes(max(1, 0x200 - size - 4)))
    return exts + psk


def _client_hello(rng: random.Random, sni: str, chromium: bool, resume: bool = False) -> tuple[bytes, bytes]:
    """A ClientHello record and its session id (TLS 1.3 middlebox-compatibility mode)."""
    session = rng.randbytes(32)
    suites = ([0x0A0A + 0x1010 * rng.randrange(16)] if chromium else []) + list(
        _CHROMIUM_SUITES if chromium else _SCHANNEL_SUITES
    )
    head = _u16(0x0303) + rng.randbytes(32) + _v8(session) + _v16(_list16(suites)) + b"\x01\x00"
    exts = _chromium_exts(rng, sni, resume, 4 + len(head)) if chromium else _schannel_exts(rng, sni)
    body = head + _v16(exts)
    return _record(22, b"\x01" + _u24(len(body)) + body, version=0x0301), session


def _server_hello(rng: random.Random, session: bytes, suite: int, resume: bool) -> bytes:
    """ServerHello (TLS 1.3 in supported_versions, x25519 key share) and the compat CCS."""
    exts = _ext(43, _u16(0x0304)) + _ext(51, _u16(0x1D) + _v16(rng.randbytes(32)))
    if resume:
        exts += _ext(41, _u16(0))
    body = _u16(0x0303) + rng.randbytes(32) + _v8(session) + _u16(suite) + b"\x00" + _v16(exts)
    return _record(22, b"\x02" + _u24(len(body)) + body) + _CCS


def tls(
    flow: Tcp, rng: random.Random, sni: str, chromium: bool, resume: bool, cert: int,
    exchanges: list[tuple[int, int, int]], mark: Mark | None = None,
) -> int:  # fmt: skip
    """A TLS 1.3 connection: hello, server flight (``cert`` bytes of encrypted handshake),
    client Finished, then (think µs, request bytes, response bytes) exchanges and close_notify."""
    hello, session = _client_hello(rng, sni, chromium, resume)
    flow.send(CLIENT, hello, think=rng.randint(200, 1500), mark=mark)
    suite = 0x1302 if not chromium else 0x1301
    finished = 69 if suite == 0x1302 else 53
    flight = _server_hello(rng, session, suite, resume) + _sealed(rng, 90 if resume else cert)
    flow.send(SERVER, flight, think=rng.randint(300, 2500))
    first = True
    for think, up, down in exchanges:
        lead = (_CCS + _sealed(rng, finished)) if first else b""
        flow.send(CLIENT, lead + _sealed_data(rng, up), think=rng.randint(200, 900) if first else think)
        if first:  # NewSessionTicket: two after a full handshake, one after a resumption
            tickets = b"".join(_sealed(rng, rng.choice((233, 249, 265))) for _ in range(1 if resume else 2))
            flow.send(SERVER, tickets, think=rng.randint(100, 600))
        flow.send(SERVER, _sealed_data(rng, down), think=rng.randint(2_000, 60_000))
        first = False
    who = CLIENT if rng.random() < 0.6 else SERVER
    idle = rng.randint(50_000, 900_000) if mark else rng.randint(5, 120) * SEC
    flow.send(who, _sealed(rng, 19), think=idle)
    return flow.close(who, think=rng.randint(20, 200))


# ---------------------------------------------------------------------------------------------
# SSH


def _ssh_string(b: bytes) -> bytes:
    """An SSH ``string``: 32-bit length and bytes."""
    return struct.pack("!I", len(b)) + b


def _ssh_plain(rng: random.Random, payload: bytes) -> bytes:
    """A binary packet before NEWKEYS: length, padding length, payload, 4+ bytes of padding."""
    pad = 8 - (5 + len(payload)) % 8
    pad += 8 if pad < 4 else 0
    return struct.pack("!IB", 1 + len(payload) + pad, pad) + payload + rng.randbytes(pad)


def _ssh_sealed(rng: random.Random, payload: int) -> bytes:
    """A chacha20-poly1305@openssh.com packet carrying ``payload`` bytes: 4 + padded + 16 tag."""
    body = 1 + payload
    pad = 8 - body % 8
    pad += 8 if pad < 4 else 0
    return rng.randbytes(4 + body + pad + 16)


def _ssh_data(rng: random.Random, size: int) -> bytes:
    """Channel data (shell output) of ``size`` bytes as sshd writes it, up to 4 KiB per packet."""
    out = []
    while size > 0:
        n = min(size, rng.choice((1024, 2048, 4096)))
        out.append(_ssh_sealed(rng, 9 + n))
        size -= n
    return b"".join(out)


KEX_WIN81 = (
    "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,"
    "diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,"
    "diffie-hellman-group14-sha256,diffie-hellman-group14-sha1,ext-info-c"
)


KEX_96 = (
    "sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,"
    "ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,"
    "diffie-hellman-group18-sha512,diffie-hellman-group14-sha256,ext-info-c,kex-strict-c-v00@openssh.com"
)


_KEX_SERVER = (
    "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,"
    "sntrup761x25519-sha512@openssh.com,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,"
    "diffie-hellman-group18-sha512,diffie-hellman-group14-sha256"
)


KEX_89 = _KEX_SERVER + ",ext-info-c"


HOSTKEYS_WIN81 = (
    "ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384-cert-v01@openssh.com,"
    "ssh-ed25519-cert-v01@openssh.com,rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,"
    "ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,ssh-ed25519,rsa-sha2-512,rsa-sha2-256,ssh-rsa"
)


HOSTKEYS_96 = "ssh-ed25519-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256"


HOSTKEYS_89 = (
    "ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,rsa-sha2-512-cert-v01@openssh.com,"
    "rsa-sha2-256-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,rsa-sha2-512,rsa-sha2-256"
)


_HOSTKEYS_SERVER = "rsa-sha2-512,rsa-sha2-256,ecdsa-sha2-nistp256,ssh-ed25519"


_CIPHERS = "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com"


_MACS = (
    "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,"
    "hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1"
)


def _kexinit(rng: random.Random, kex: str, hostkeys: str, compression: str) -> bytes:
    """SSH_MSG_KEXINIT: cookie and the ten name-lists, as OpenSSH sends them."""
    lists = (kex, hostkeys, _CIPHERS, _CIPHERS, _MACS, _MACS, compression, compression, "", "")
    body = b"\x14" + rng.randbytes(16) + b"".join(_ssh_string(x.encode()) for x in lists) + b"\x00" + bytes(4)
    return _ssh_plain(rng, body)


def _ssh_kex(rng: random.Random, client_kex: str, client_hostkeys: str) -> tuple[bytes, bytes, bytes]:
    """The client's KEX init, the server's reply + NEWKEYS and the client's NEWKEYS for the first
    kex and host key algorithm of the client that the server also offers."""
    kex = next(k for k in client_kex.split(",") if k in _KEX_SERVER.split(","))
    hostkey = next(k for k in client_hostkeys.split(",") if k in _HOSTKEYS_SERVER.split(","))
    pq = kex.startswith("sntrup761")
    client_pub, server_pub = (1190, 1071) if pq else (32, 32)
    if hostkey == "ssh-ed25519":
        blob = _ssh_string(b"ssh-ed25519") + _ssh_string(rng.randbytes(32))
        sig = _ssh_string(b"ssh-ed25519") + _ssh_string(rng.randbytes(64))
    else:
        blob = (
            _ssh_string(hostkey.encode())
            + _ssh_string(b"nistp256")
            + _ssh_string(b"\x04" + rng.randbytes(64))
        )
        sig = _ssh_string(hostkey.encode()) + _ssh_string(
            _ssh_string(rng.randbytes(33)) + _ssh_string(rng.randbytes(32))
        )
    init = _ssh_plain(rng, b"\x1e" + _ssh_string(rng.randbytes(client_pub)))
    reply = b"\x1f" + _ssh_string(blob) + _ssh_string(rng.randbytes(server_pub)) + _ssh_string(sig)
    newkeys = _ssh_plain(rng, b"\x15")
    return init, _ssh_plain(rng, reply) + newkeys, newkeys


class Ssh:
    """An interactive OpenSSH session over a ``Tcp``: banners, key exchange, authentication,
    a shell, typed or pasted commands with their output, logout."""

    def __init__(self, flow: Tcp, rng: random.Random):
        self.flow, self.rng = flow, rng

    def handshake(self, banner: bytes, kex: str, hostkeys: str, mark: Mark | None = None) -> None:
        """Banners (client first, as OpenSSH does), KEXINITs, ECDH/sntrup exchange, NEWKEYS."""
        f, r = self.flow, self.rng
        f.send(CLIENT, banner + b"\r\n", think=r.randint(800, 3000), mark=mark)
        f.send(SERVER, SSH_SERVER_BANNER + b"\r\n", think=r.randint(2000, 9000))
        f.send(CLIENT, _kexinit(r, kex, hostkeys, "none,zlib@openssh.com,zlib"), think=r.randint(300, 2000))
        f.send(
            SERVER,
            _kexinit(r, _KEX_SERVER, _HOSTKEYS_SERVER, "none,zlib@openssh.com"),
            think=r.randint(300, 900),
        )
        init, reply, newkeys = _ssh_kex(r, kex, hostkeys)
        f.send(CLIENT, init, think=r.randint(400, 3000))
        f.send(SERVER, reply, think=r.randint(1500, 6000))
        f.send(CLIENT, newkeys + _ssh_sealed(r, 17), think=r.randint(2000, 40_000))  # + SERVICE_REQUEST

    def login(self, auth: int, password: bool, failed: tuple[int, ...] = ()) -> None:
        """ssh-userauth: none, then a public key or typed passwords; sshd's SUCCESS leaves at
        ``auth`` (when it logs "Accepted"), each wrong password's FAILURE at its ``failed`` time
        (when it logs "Failed password", PAM's delay after the check); then the shell and MOTD."""
        f, r = self.flow, self.rng
        f.send(
            SERVER, _ssh_sealed(r, 190) + _ssh_sealed(r, 17), think=r.randint(200, 900)
        )  # EXT_INFO, ACCEPT
        f.send(CLIENT, _ssh_sealed(r, 34), think=r.randint(200, 900))  # USERAUTH_REQUEST none
        f.send(SERVER, _ssh_sealed(r, 24), think=r.randint(800, 3000))  # FAILURE publickey,password
        if password:
            for wrong in failed:
                f.send(CLIENT, _ssh_sealed(r, 60), at=wrong - 900_000 - r.randint(5_000, 40_000))
                f.send(SERVER, _ssh_sealed(r, 24), at=wrong + r.randint(200, 900))
            f.send(CLIENT, _ssh_sealed(r, 60), at=auth - r.randint(20_000, 80_000))
        else:
            f.send(CLIENT, _ssh_sealed(r, 110), think=r.randint(1000, 8000))  # publickey query
            f.send(SERVER, _ssh_sealed(r, 90), think=r.randint(300, 1500))  # PK_OK
            f.send(CLIENT, _ssh_sealed(r, 200), at=auth - r.randint(2_000, 12_000))  # signed request
        accepted = f.send(SERVER, _ssh_sealed(r, 1) + _ssh_sealed(r, 680), at=auth)  # SUCCESS, hostkeys
        assert accepted == auth, (f.label, accepted, auth)
        f.send(CLIENT, _ssh_sealed(r, 24), think=r.randint(500, 3000))  # CHANNEL_OPEN session
        f.send(SERVER, _ssh_sealed(r, 17), think=r.randint(2000, 9000))  # OPEN_CONFIRMATION
        f.send(
            CLIENT, _ssh_sealed(r, 320) + _ssh_sealed(r, 40) + _ssh_sealed(r, 24), think=r.randint(300, 1500)
        )
        f.send(
            SERVER,
            _ssh_sealed(r, 9) + _ssh_sealed(r, 5) * 2 + _ssh_data(r, r.randint(1500, 1900)),
            think=r.randint(9000, 40_000),
        )

    def command(self, enter: int, chars: int, output: int, pasted: bool, done: int | None = None) -> None:
        """A command whose Enter key reaches the tap at ``enter``: typed key by key with echoes
        (36-byte packets, faster when the previous output leaves less room) or pasted in one
        packet, then ``output`` bytes of shell output soon after, or at ``done``."""
        f, r = self.flow, self.rng
        ready = max(end.sent_at for end in f.ends) + 2_000
        if pasted:
            f.send(CLIENT, _ssh_sealed(r, 9 + chars), at=max(ready, enter - r.randint(300_000, 900_000)))
            f.send(SERVER, _ssh_sealed(r, 9 + chars), think=r.randint(150, 400))
        else:
            gaps = [r.randint(90_000, 260_000) for _ in range(chars + 1)]
            room = (enter - ready) / sum(gaps)
            gaps = [int(g * min(1.0, room)) for g in gaps]
            t = enter - sum(gaps)
            for gap in gaps[:-1]:
                t += gap
                f.send(CLIENT, _ssh_sealed(r, 10), at=t)
                f.send(SERVER, _ssh_sealed(r, 10), think=r.randint(100, 300))
        pressed = f.send(CLIENT, _ssh_sealed(r, 10), at=enter)
        assert pressed == enter, (f.label, pressed, enter)
        f.send(SERVER, _ssh_sealed(r, 11), think=r.randint(100, 300))
        f.send(SERVER, _ssh_data(r, output), think=r.randint(3_000, 400_000), at=done)

    def logout(self, enter: int, disconnect: int) -> None:
        """``exit`` reaching the shell at ``enter``: the shell says logout, sshd sends the exit
        status and closes the channel, the client's DISCONNECT leaves at ``disconnect`` (sshd logs
        "Received disconnect"), then TCP closes."""
        f, r = self.flow, self.rng
        self.command(enter, 4, 8, pasted=False, done=enter + r.randint(1_000, 20_000))
        f.send(
            SERVER, _ssh_sealed(r, 24) + _ssh_sealed(r, 5) + _ssh_sealed(r, 5), think=r.randint(2000, 9000)
        )
        sent = f.send(CLIENT, _ssh_sealed(r, 5) + _ssh_sealed(r, 40), at=disconnect)
        assert sent == disconnect, (f.label, sent, disconnect)
        f.close(CLIENT, think=r.randint(200, 900))


# ---------------------------------------------------------------------------------------------
# Kerberos (RFC 4120) in DER: the real structure, the encrypted parts opaque as on the wire


REALM = story.DOMAIN.upper()


_TILL = b"20370913024805Z"  # what Windows asks for as "till"


_OID_SPNEGO = bytes.fromhex("06062b0601050502")


_OID_MS_KRB5 = bytes.fromhex("06092a864882f712010202")


_OID_KRB5 = bytes.fromhex("06092a864886f712010202")


_OID_NEGOEX = bytes.fromhex("060a2b06010401823702021e")


_OID_NTLM = bytes.fromhex("060a2b06010401823702020a")


def _der(tag: int, body: bytes) -> bytes:
    """One DER TLV with a definite length (short or long form)."""
    n = len(body)
    size = bytes([n]) if n < 0x80 else bytes([0x81, n]) if n < 0x100 else b"\x82" + _u16(n)
    return bytes([tag]) + size + body


def _tag(n: int, body: bytes) -> bytes:
    """A context-specific [n] wrapper."""
    return _der(0xA0 | n, body)


def _seq(*parts: bytes) -> bytes:
    """A DER SEQUENCE of already encoded parts."""
    return _der(0x30, b"".join(parts))


def _int(v: int) -> bytes:
    """A DER INTEGER (two's complement, minimal length)."""
    return _der(0x02, v.to_bytes(v.bit_length() // 8 + 1, "big", signed=True))


def _kstr(s: str) -> bytes:
    """A KerberosString (GeneralString)."""
    return _der(0x1B, s.encode())


def _flags32(v: int) -> bytes:
    """KerberosFlags / APOptions: a 32-bit BIT STRING."""
    return _der(0x03, b"\x00" + struct.pack("!I", v))


def _principal(kind: int, *names: str) -> bytes:
    """A PrincipalName: name type and components."""
    return _seq(_tag(0, _int(kind)), _tag(1, _seq(*(_kstr(n) for n in names))))


def _enc(rng: random.Random, size: int, kvno: int | None = None) -> bytes:
    """EncryptedData: AES256-CTS-HMAC-SHA1-96 (etype 18) ciphertext of ``size`` bytes."""
    kv = _tag(1, _int(kvno)) if kvno is not None else b""
    return _seq(_tag(0, _int(18)), kv, _tag(2, _der(0x04, rng.randbytes(size))))


def _ticket(rng: random.Random, sname: bytes) -> bytes:
    """A service ticket; its enc-part carries the PAC, hence ~1.1 KB."""
    enc = _enc(rng, rng.randint(1000, 1250), kvno=rng.randint(2, 9))
    return _der(0x61, _seq(_tag(0, _int(5)), _tag(1, _kstr(REALM)), _tag(2, sname), _tag(3, enc)))


def _ap_req(rng: random.Random, sname: bytes, options: int) -> bytes:
    """An AP-REQ: a ticket for ``sname`` and an encrypted authenticator."""
    auth = _enc(rng, rng.randint(160, 200))
    body = _seq(
        _tag(0, _int(5)),
        _tag(1, _int(14)),
        _tag(2, _flags32(options)),
        _tag(3, _ticket(rng, sname)),
        _tag(4, auth),
    )
    return _der(0x6E, body)


def _pa(kind: int, value: bytes) -> bytes:
    """A PA-DATA entry: type and OCTET STRING value."""
    return _seq(_tag(1, _int(kind)), _tag(2, _der(0x04, value)))


def _kdc_body(rng: random.Random, sname: bytes, cname: bytes = b"") -> bytes:
    """KDC-REQ-BODY: forwardable, renewable, canonicalize; Windows' etype list."""
    etypes = _seq(*(_int(e) for e in (18, 17, 23, 24, -135)))
    return _seq(
        _tag(0, _flags32(0x40810000)), _tag(1, cname) if cname else b"", _tag(2, _kstr(REALM)), _tag(3, sname),
        _tag(5, _der(0x18, _TILL)), _tag(7, _int(rng.getrandbits(31))), _tag(8, etypes),
    )  # fmt: skip


_KRBTGT = _principal(2, "krbtgt", REALM)


def tgs_req(rng: random.Random, service: tuple[str, ...]) -> bytes:
    """TGS-REQ: the TGT in a PA-TGS-REQ AP-REQ, PA-PAC-OPTIONS, the service's name."""
    pa = _seq(_pa(1, _ap_req(rng, _KRBTGT, 0)), _pa(167, _seq(_tag(0, _flags32(0x40000000)))))
    body = _seq(
        _tag(1, _int(5)), _tag(2, _int(12)), _tag(3, pa), _tag(4, _kdc_body(rng, _principal(2, *service)))
    )
    return _der(0x6C, body)


def tgs_rep(rng: random.Random, user: str, service: tuple[str, ...]) -> bytes:
    """TGS-REP: the client's name, the service ticket, the encrypted session key part."""
    body = _seq(
        _tag(0, _int(5)), _tag(1, _int(13)), _tag(3, _kstr(REALM)), _tag(4, _principal(1, user)),
        _tag(5, _ticket(rng, _principal(2, *service))), _tag(6, _enc(rng, rng.randint(300, 380))),
    )  # fmt: skip
    return _der(0x6D, body)


def as_req(rng: random.Random, user: str) -> bytes:
    """AS-REQ without pre-authentication (only PA-PAC-REQUEST), as Windows' first try."""
    pa = _seq(_pa(128, _seq(_tag(0, _der(0x01, b"\xff")))))
    body = _kdc_body(rng, _KRBTGT, _principal(1, user))
    return _der(0x6A, _seq(_tag(1, _int(5)), _tag(2, _int(10)), _tag(3, pa), _tag(4, body)))


def preauth_required(t: int, user: str) -> bytes:
    """KRB-ERROR 25 (PREAUTH_REQUIRED) with the ETYPE-INFO2 salt Windows uses (REALM + user)."""
    info = _seq(_seq(_tag(0, _int(18)), _tag(1, _kstr(REALM + user))), _seq(_tag(0, _int(23))))
    edata = _seq(_pa(19, info), _pa(2, b""), _pa(16, b""), _pa(15, b""))
    stamp = _der(0x18, from_us(t).strftime("%Y%m%d%H%M%SZ").encode())
    body = _seq(
        _tag(0, _int(5)), _tag(1, _int(30)), _tag(4, stamp), _tag(5, _int(t % SEC)), _tag(6, _int(25)),
        _tag(9, _kstr(REALM)), _tag(10, _KRBTGT), _tag(12, _der(0x04, edata)),
    )  # fmt: skip
    return _der(0x7E, body)


# ---------------------------------------------------------------------------------------------
# SMB2/3 (MS-SMB2): signed, not encrypted


_DC_GUID = bytes.fromhex("4f9c2a17d05b8e41a3c6e2f1b7d90a58")


def _filetime(us: int) -> int:
    """A Windows FILETIME (100 ns ticks since 1601) for a capture time."""
    return us * 10 + 116_444_736_000_000_000


def smb2(
    command: int, msg_id: int, response: bool, session: int, tree: int, sig: bytes, body: bytes
) -> bytes:
    """An SMB2 message (64-byte header; signed when ``sig`` is given) in its NetBIOS frame."""
    flags = (1 if response else 0) | (8 if sig else 0)
    credits = 1 if msg_id else 31
    head = b"\xfeSMB" + struct.pack(
        "<HHIHHIIQIIQ", 64, 1, 0, command, credits, flags, 0, msg_id, 0xFEFF, tree, session
    )
    msg = head + (sig or bytes(16)) + body
    return b"\x00" + _u24(len(msg)) + msg


def _negotiate_contexts(rng: random.Random, response: bool) -> bytes:
    """PREAUTH_INTEGRITY (SHA-512 + salt) and ENCRYPTION capabilities, 8-byte aligned."""
    preauth = struct.pack("<HHH", 1, 32, 1) + rng.randbytes(32)
    ciphers = struct.pack("<HH", 1, 2) if response else struct.pack("<5H", 4, 2, 1, 4, 3)
    first = struct.pack("<HHI", 1, len(preauth), 0) + preauth
    return first + bytes(-len(first) % 8) + struct.pack("<HHI", 2, len(ciphers), 0) + ciphers


def smb_negotiate(rng: random.Random, client: str, response: bool, t: int) -> bytes:
    """NEGOTIATE: the client's dialects up to 3.1.1, or DC01's choice with its SPNEGO hint."""
    dialects = struct.pack("<5H", 0x0202, 0x0210, 0x0300, 0x0302, 0x0311)
    if not response:
        guid = random.Random(f"guid:{client}").randbytes(16)
        return (
            struct.pack("<HHHHI16sIHH", 36, 5, 1, 0, 0x7F, guid, 112, 2, 0)
            + dialects
            + bytes(2)
            + _negotiate_contexts(rng, False)
        )
    hints = _tag(3, _seq(_tag(0, _kstr("not_defined_in_RFC4178@please_ignore"))))
    blob = _der(
        0x60,
        _OID_SPNEGO + _tag(0, _seq(_tag(0, _seq(_OID_MS_KRB5, _OID_KRB5, _OID_NEGOEX, _OID_NTLM)), hints)),
    )
    pad = bytes(-(128 + len(blob)) % 8)
    fixed = struct.pack("<HHHH16sIIIIQQHHI", 65, 3, 0x0311, 2, _DC_GUID, 0x2F, 8_388_608, 8_388_608, 8_388_608,
                        _filetime(t), 0, 128, len(blob), 128 + len(blob) + len(pad))  # fmt: skip
    return fixed + blob + pad + _negotiate_contexts(rng, True)


def smb_session_setup(rng: random.Random, response: bool, server: str) -> bytes:
    """SPNEGO with a Kerberos AP-REQ for cifs/DC01 (mutual auth) and the AP-REP back."""
    if not response:
        token = _der(0x60, _OID_KRB5 + b"\x01\x00" + _ap_req(rng, _principal(2, "cifs", server), 0x20000000))
        mechs = _tag(0, _seq(_OID_MS_KRB5, _OID_KRB5, _OID_NEGOEX, _OID_NTLM))
        blob = _der(0x60, _OID_SPNEGO + _tag(0, _seq(mechs, _tag(2, _der(0x04, token)))))
        return struct.pack("<HBBIIHHQ", 25, 0, 1, 1, 0, 88, len(blob), 0) + blob
    rep = _der(0x6F, _seq(_tag(0, _int(5)), _tag(1, _int(15)), _tag(2, _enc(rng, rng.randint(100, 120)))))
    token = _der(0x60, _OID_KRB5 + b"\x02\x00" + rep)
    blob = _tag(1, _seq(_tag(0, _der(0x0A, b"\x00")), _tag(1, _OID_MS_KRB5), _tag(2, _der(0x04, token))))
    return struct.pack("<HHHH", 9, 0, 72, len(blob)) + blob


def smb_read_file(
    rng: random.Random, name: str, data: bytes, modified: int
) -> list[tuple[int, bytes, bytes]]:
    """CREATE, READ, CLOSE of one file: (command, request body, response body)."""
    path = name.encode("utf-16-le")
    fid = rng.randbytes(16)
    stamp = _filetime(modified)
    create = (
        struct.pack("<HBBIQQIIIIIHHII", 57, 0, 0, 2, 0, 0, 0x00120089, 0, 3, 1, 0x60, 120, len(path), 0, 0)
        + path
    )
    created = struct.pack(
        "<HBBIQQQQQQII16sII", 89, 0, 0, 1, stamp, stamp, stamp, stamp, 0, len(data), 0x20, 0, fid, 0, 0
    )
    read = struct.pack("<HBBIQ16sIIIHH", 49, 0x50, 0, len(data), 0, fid, 0, 0, 0, 0, 0) + b"\x00"
    got = struct.pack("<HBBIII", 17, 0x50, 0, len(data), 0, 0) + data
    close = struct.pack("<HHI16s", 24, 0, 0, fid)
    closed = struct.pack("<HHIQQQQQQI", 60, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    return [(5, create, created), (8, read, got), (6, close, closed)]
