"""SSH identification lines (RFC 4253 §4.2), by hand and from the corpus captures."""

from __future__ import annotations

from pathlib import Path

import dpkt
import pytest

from parsers.network.ssh import SSHIdentification, parse_ssh_banner


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3\r\n", ("2.0", "OpenSSH_8.9p1", "Ubuntu-3")),
        (b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3\r\n\x00\x00\x05\xdc\x07\x14", ("2.0", "OpenSSH_8.9p1", "Ubuntu-3")),
        (b"SSH-1.99-OpenSSH_3.9p1\n", ("1.99", "OpenSSH_3.9p1", None)),  # LF only
        (b"SSH-2.0-Go\r\n", ("2.0", "Go", None)),
        (b"SSH-2.0-paramiko_3.4.0\r\n", ("2.0", "paramiko_3.4.0", None)),
        (b"SSH-2.0-Cisco-1.25\r\n", ("2.0", "Cisco-1.25", None)),  # "-" in software, off-RFC
        (b"SSH-2.0-libssh_0.9.6 with spaces here\r\n", ("2.0", "libssh_0.9.6", "with spaces here")),
        # the server may send other lines before its identification
        (
            b"Welcome\r\nauthorised use only\r\nSSH-2.0-dropbear_2022.83\r\n",
            ("2.0", "dropbear_2022.83", None),
        ),
        (b"SSH-2.0-X\xffY\r\n", ("2.0", "X\\xffY", None)),  # non-ASCII kept visible
    ],
)
def test_banners(data, expected):
    banner = parse_ssh_banner(data)
    assert banner == SSHIdentification(*expected)
    assert banner.software == expected[1]
    original = data[data.index(b"SSH-") :].split(b"\n")[0].rstrip(b"\r")
    assert banner.line == original.decode("ascii", "backslashreplace")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"SSH-2.0-OpenSSH_8.9p1",  # not complete yet
        b"SSH-2.0-\r\n",
        b"SSH--OpenSSH\r\n",
        b"SSH-2.0\r\n",
        b"SSH-2 0-x\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        b"x" * 5000 + b"\nSSH-2.0-late\r\n",  # a first line longer than any banner
        b"\x00\x01\n" * 3 + b"SSH-2.0-x\r\n",  # binary before it: not SSH
        b"\n" * 40 + b"SSH-2.0-x\r\n",  # too many lines first
    ],
)
def test_not_banners(data):
    assert parse_ssh_banner(data) is None


def _first_payloads(path: Path) -> dict[tuple[int, int], bytes]:
    """First payload segment of each TCP direction, keyed by (source port, destination port)."""
    firsts: dict[tuple[int, int], bytes] = {}
    with path.open("rb") as fh:
        for _ts, frame in dpkt.pcap.Reader(fh):
            ip = dpkt.ethernet.Ethernet(frame).data
            if isinstance(ip, dpkt.ip.IP) and isinstance(ip.data, dpkt.tcp.TCP) and ip.data.data:
                firsts.setdefault((ip.data.sport, ip.data.dport), bytes(ip.data.data))
    return firsts


# tshark 4.0.17's ssh.protocol for the same connections (port 80 decoded as SSH).
CORPUS = [
    ("single-conn.pcap", 49244, 22, ("2.0", "OpenSSH_3.8.1p1", None)),
    ("single-conn.pcap", 22, 49244, ("1.99", "OpenSSH_3.9p1", None)),
    ("sshguess.pcap", 22, 55470, ("2.0", "OpenSSH_6.7p1", "Debian-3")),
    ("ssh-on-port-80.pcap", 49656, 80, ("2.0", "OpenSSH_5.2", None)),
    ("ssh-on-port-80.pcap", 80, 49656, ("2.0", "OpenSSH_5.8p1", "Debian-1ubuntu3")),
]


@pytest.mark.parametrize(("name", "sport", "dport", "expected"), CORPUS)
def test_corpus_banners(corpus, name, sport, dport, expected):
    payloads = _first_payloads(corpus / "pcap/zeek-traces/ssh" / name)
    assert parse_ssh_banner(payloads[sport, dport]) == SSHIdentification(*expected)


def test_corpus_every_ssh_connection_has_two_banners(corpus):
    payloads = _first_payloads(corpus / "pcap/zeek-traces/ssh/sshguess.pcap")
    banners = {key: parse_ssh_banner(data) for key, data in payloads.items() if 22 in key}
    assert banners and all(banners.values())
    assert {b.software for b in banners.values()} == {"OpenSSH_6.2", "OpenSSH_6.7p1"}
