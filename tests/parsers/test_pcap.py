"""Packet captures -> connection, DNS, TLS and SSH rows: the sample case's LAN tap against its
ground truth, corpus captures against tshark (counts recorded here from tshark 4.0 of Debian,
and compared live when tshark is installed), and bad input as counted warnings."""

from __future__ import annotations

import base64
import hashlib
import io
import ipaddress
import json
import re
import shutil
import struct
import subprocess
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from functools import cache
from itertools import pairwise
from pathlib import Path

import pytest

from forensics import Case
from forensics.cli import main
from forensics.demo import SAMPLE
from parsers.base import Options, ParseWarning
from parsers.network.http import unescape_uri
from parsers.pcap import PcapParser
from tests.parsers import artifact_helpers

PARSER = PcapParser()
PCAP = "pcap"
LAN_TAP = SAMPLE / "network" / "lan-tap.pcapng"

#: Captures whose connections tshark counts as we do: file -> (TCP, UDP) conversations
#: (``tshark -n -q -z conv,tcp`` / ``conv,udp``).
CONVERSATIONS = {
    "chrissanders-packets/arppoison.pcapng": (2, 27),
    "chrissanders-packets/dns_isp_hijack.pcapng": (3, 2),
    "chrissanders-packets/http_ip4and6.pcapng": (2, 0),
    "chrissanders-packets/sessionhijacking.pcapng": (14, 0),
    "chrissanders-packets/synscan.pcapng": (1994, 0),
    "otrf/covenant_sharpsc_query_dcerpc_smb_svcctl_2020-08-06012009.cap": (4, 2),
    "otrf/empire_shell_samr_EnumDomainUsers_2020-09-21193527.cap": (4, 3),
    "zeek-traces/http/bro.org.pcap": (13, 0),
    "zeek-traces/http/methods.pcap": (49, 0),
    "zeek-traces/radiotap.pcap": (0, 2),
}


@cache
def _parsed(path: Path) -> tuple[list[dict], list]:
    return artifact_helpers.parse_bytes(PARSER, path.read_bytes())


def _by_source(rows: list[dict]) -> Counter:
    return Counter(r["source"] for r in rows)


def _tshark(*args: str) -> str:
    return subprocess.run(["tshark", "-n", *args], capture_output=True, text=True, check=True).stdout


# -- the sample case: every network step of the story is where the ground truth says ---------


@pytest.fixture(scope="module")
def lan_tap() -> tuple[list[dict], list]:
    return _parsed(LAN_TAP)


@pytest.fixture(scope="module")
def truth() -> list[tuple[str, dict]]:
    steps = json.loads((SAMPLE / "ground_truth.json").read_text())["steps"]
    return [(s["id"], e) for s in steps for e in s["evidence"] if e["artifact"] == "network/lan-tap.pcapng"]


def _at(rows: list[dict], evidence: dict, source: str) -> dict:
    """The row of ``source`` the ground truth's evidence points at: same packet, same time."""
    when = datetime.fromisoformat(evidence["time"].replace("Z", "+00:00"))
    found = [r for r in rows if r["source"] == source and r["source_record"] == evidence["locator"]["packet"]]
    assert len(found) == 1, (evidence, found)
    assert found[0]["datetime"] == when
    src, _, rest = evidence["locator"]["flow"].partition(" > ")
    dst, _, proto = rest.partition("/")
    row = found[0]
    assert (f"{row['source_ip']}:{row['source_port']}", f"{row['destination_ip']}:{row['destination_port']}") == (
        src, dst,
    )  # fmt: skip
    assert row["fields"].get("proto", proto) == proto
    return row


def test_sample_capture_rows_and_no_warnings(lan_tap: tuple[list[dict], list]) -> None:
    rows, warnings = lan_tap
    assert warnings == []
    counts = _by_source(rows)
    assert (counts["network_conn"], counts["network_dns"], counts["network_tls"], counts["network_ssh"]) == (
        2903, 1654, 499, 64,
    )  # fmt: skip
    # tshark -q -z conv,tcp / conv,udp: 1,118 and 1,764 conversations, one per 5-tuple. Zeek,
    # and we, start a new connection after the inactivity timeout (TCP 5 min, UDP 1 min): the
    # NTP client's 18 polls and three idle SSH sessions are the 21 extra connections.
    conns = [r for r in rows if r["source"] == "network_conn"]
    tuples: dict[tuple, list[dict]] = {}
    for r in conns:
        ends = sorted([(r["source_ip"], r["source_port"]), (r["destination_ip"], r["destination_port"])])
        tuples.setdefault((r["fields"]["proto"], *ends), []).append(r)
    assert Counter(key[0] for key in tuples) == {"tcp": 1118, "udp": 1764}
    assert len(conns) - len(tuples) == 21
    for split in (v for v in tuples.values() if len(v) > 1):
        for before, after in pairwise(split):
            idle = (after["datetime"] - before["datetime"]).total_seconds() - float(
                before["fields"]["duration"]
            )
            assert idle > (300 if before["fields"]["proto"] == "tcp" else 60)


def test_sample_capture_dns_steps(lan_tap: tuple[list[dict], list], truth: list[tuple[str, dict]]) -> None:
    dns = [(step, e) for step, e in truth if e["what"].startswith("DNS ")]
    assert [step for step, _ in dns] == ["S04", "S09", "S15"]
    for _, evidence in dns:
        _, qtype, name, _, answer = evidence["what"].split()
        row = _at(lan_tap[0], evidence, "network_dns")
        assert (row["dns_question_name"], row["fields"]["qtype_name"], row["fields"]["answers"]) == (
            name, qtype, answer,
        )  # fmt: skip
        assert row["fields"]["rcode_name"] == "NOERROR"


def test_sample_capture_beacons_over_tls(
    lan_tap: tuple[list[dict], list], truth: list[tuple[str, dict]]
) -> None:
    hellos = [e for step, e in truth if step == "S09" and e["what"].startswith("TLS ")]
    assert len(hellos) == 46
    for evidence in hellos:
        row = _at(lan_tap[0], evidence, "network_tls")
        assert row["tls_server_name"] == "telemetry.micros0ft-cdn.example.net"
        assert (row["fields"]["version"], row["fields"]["established"]) == ("TLSv13", "true")
    fingerprints = {
        (r["fields"]["ja3"], r["fields"]["ja4"])
        for r in lan_tap[0]
        if r["source"] == "network_tls" and r["tls_server_name"] == "telemetry.micros0ft-cdn.example.net"
    }
    assert len(fingerprints) == 1  # one client library behind every beacon


def test_sample_capture_ssh_session(lan_tap: tuple[list[dict], list], truth: list[tuple[str, dict]]) -> None:
    (evidence,) = [e for step, e in truth if step == "S11"]
    row = _at(lan_tap[0], evidence, "network_ssh")
    assert row["fields"]["client"] == "SSH-2.0-OpenSSH_for_Windows_8.1"
    assert row["fields"]["server"] == "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6"
    conn = [
        r for r in lan_tap[0] if r["source"] == "network_conn" and r["fields"]["uid"] == row["fields"]["uid"]
    ]
    assert len(conn) == 1 and conn[0]["network_protocol"] == "ssh"
    assert row["community_id"] == conn[0]["community_id"] == "1:" + _community_id(row)


def test_sample_capture_http_steps(lan_tap: tuple[list[dict], list], truth: list[tuple[str, dict]]) -> None:
    """The download (S05), the tool fetched on the server (S12) and the exfiltration (S15)."""
    http = [(step, e) for step, e in truth if e["what"].startswith("HTTP ")]
    assert [step for step, _ in http] == ["S05", "S12", "S15"]
    for _, evidence in http:
        row = _at(lan_tap[0], evidence, "network_http")
        words = evidence["what"].split()
        assert (row["fields"]["method"], row["url_full"], row["event_code"]) == (words[1], words[2], "200")
        sizes = [int(w.split("-")[0]) for w in words if w.endswith("-byte")]
        sent = int(row["fields"].get("request_body_len", 0))
        assert [*([sent] if sent else []), int(row["fields"]["response_body_len"])] == sizes


def test_sample_capture_download_is_the_payload(
    lan_tap: tuple[list[dict], list], truth: list[tuple[str, dict]]
) -> None:
    """The body of the S05 download hashes to the payload the workstation saved (WS01/files)."""
    payload = hashlib.sha256((SAMPLE / "WS01" / "files" / "msupdate.exe").read_bytes()).hexdigest()
    (evidence,) = [e for step, e in truth if step == "S05"]
    request = _at(lan_tap[0], evidence, "network_http")
    (body,) = [
        r
        for r in lan_tap[0]
        if r["source"] == "network_files" and r["fields"]["uid"] == request["fields"]["uid"]
    ]
    assert (body["file_hash_sha256"], body["fields"]["mime_type"], body["fields"]["total_bytes"]) == (
        payload, "application/x-dosexec", "48356",
    )  # fmt: skip
    assert (body["source_ip"], body["destination_ip"]) == (request["source_ip"], request["destination_ip"])
    assert body["fields"]["fuid"] == request["fields"]["resp_fuids"]


def test_carving_writes_each_object_once_by_its_hash(tmp_path: Path) -> None:
    rows, _ = artifact_helpers.parse_bytes(PARSER, LAN_TAP.read_bytes(), Options(carve_dir=str(tmp_path)))
    files = [r for r in rows if r["source"] == "network_files"]
    carved = {p.name: p for p in tmp_path.iterdir()}
    assert set(carved) == {r["file_hash_sha256"] for r in files if r["file_hash_sha256"]}
    assert all(hashlib.sha256(p.read_bytes()).hexdigest() == name for name, p in carved.items())
    assert all(r["fields"]["extracted"] == r["file_hash_sha256"] for r in files if r["file_hash_sha256"])
    payload = (SAMPLE / "WS01" / "files" / "msupdate.exe").read_bytes()
    assert carved[hashlib.sha256(payload).hexdigest()].read_bytes() == payload


def _community_id(row: dict) -> str:
    """Community ID v1 of a row's TCP flow computed here from the spec (seed 0, smaller end first)."""
    ends = sorted(
        (ipaddress.ip_address(ip).packed, port)
        for ip, port in (
            (row["source_ip"], row["source_port"]),
            (row["destination_ip"], row["destination_port"]),
        )
    )
    data = b"\0\0" + ends[0][0] + ends[1][0] + bytes([6, 0]) + struct.pack("!HH", ends[0][1], ends[1][1])
    return base64.b64encode(hashlib.sha1(data).digest()).decode()


def test_every_row_of_a_connection_carries_its_community_id(lan_tap: tuple[list[dict], list]) -> None:
    by_uid: dict[str, set] = {}
    for r in lan_tap[0]:
        by_uid.setdefault(r["fields"]["uid"], set()).add(r["community_id"])
    assert all(len(ids) == 1 and None not in ids for ids in by_uid.values())


# -- corpus captures against tshark ----------------------------------------------------------


@pytest.mark.parametrize("capture", sorted(CONVERSATIONS))
def test_connections_as_tshark_counts_them(corpus: Path, capture: str) -> None:
    rows, _ = _parsed(corpus / PCAP / capture)
    protos = Counter(r["fields"]["proto"] for r in rows if r["source"] == "network_conn")
    assert (protos["tcp"], protos["udp"]) == CONVERSATIONS[capture]


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed (apt-get install tshark)")
@pytest.mark.parametrize(
    "capture", ["chrissanders-packets/arppoison.pcapng", "zeek-traces/http/bro.org.pcap"]
)
def test_connections_and_dns_names_live_against_tshark(corpus: Path, capture: str) -> None:
    path = corpus / PCAP / capture
    rows, _ = _parsed(path)
    for proto in ("tcp", "udp"):
        conversations = sum(
            "<->" in line for line in _tshark("-r", str(path), "-q", "-z", f"conv,{proto}").splitlines()
        )
        assert (
            sum(1 for r in rows if r["source"] == "network_conn" and r["fields"]["proto"] == proto)
            == conversations
        )
    names = _tshark(
        "-r", str(path), "-Y", "dns.flags.response == 0", "-T", "fields", "-e", "dns.qry.name"
    ).split()
    assert Counter(r["dns_question_name"] for r in rows if r["source"] == "network_dns") == Counter(names)


#: HTTP captures and their requests as tshark lists them (``-Y http.request``).
HTTP_REQUESTS = {
    "zeek-traces/http/bro.org.pcap": 31,
    "chrissanders-packets/http_google.pcapng": 1,
    "chrissanders-packets/http_dvwa_sqlinjection.pcapng": 3,
    "chrissanders-packets/http_ip4and6.pcapng": 2,
    "chrissanders-packets/http_post.pcapng": 2,
}


@pytest.mark.parametrize("capture", sorted(HTTP_REQUESTS))
def test_http_requests_as_tshark_counts_them(corpus: Path, capture: str) -> None:
    rows, _ = _parsed(corpus / PCAP / capture)
    assert sum(r["source"] == "network_http" for r in rows) == HTTP_REQUESTS[capture]


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed (apt-get install tshark)")
@pytest.mark.parametrize("capture", sorted(HTTP_REQUESTS))
def test_http_hosts_and_uris_live_against_tshark(corpus: Path, capture: str) -> None:
    """Method, Host and URI of every request (Zeek logs the URI %-decoded; so do we)."""
    path = corpus / PCAP / capture
    rows, _ = _parsed(path)
    listed = _tshark("-r", str(path), "-Y", "http.request", "-T", "fields", "-E", "separator=|",
                     "-e", "http.request.method", "-e", "http.host", "-e", "http.request.uri")  # fmt: skip
    theirs = Counter(
        (method, host or None, unescape_uri(uri))
        for method, host, uri in (line.split("|") for line in listed.splitlines())
    )
    ours = Counter(
        (r["fields"]["method"], r["fields"].get("host"), r["fields"]["uri"])
        for r in rows
        if r["source"] == "network_http"
    )
    assert ours == theirs


def test_http_bodies_hash_as_zeek_does(corpus: Path) -> None:
    """get.pcap: Zeek's files.log gives md5 397168fd09991a0e712254df7bc639ac and sha1
    1dd7ac0398df6cbc0696445a91ec681facf4dc47 for CHANGES.bro-aux.txt (4,705 bytes)."""
    rows, _ = _parsed(corpus / PCAP / "zeek-traces/http/get.pcap")
    (body,) = [r for r in rows if r["source"] == "network_files"]
    assert (body["fields"]["md5"], body["fields"]["sha1"], body["fields"]["total_bytes"]) == (
        "397168fd09991a0e712254df7bc639ac", "1dd7ac0398df6cbc0696445a91ec681facf4dc47", "4705",
    )  # fmt: skip
    (request,) = [r for r in rows if r["source"] == "network_http"]
    assert request["url_full"] == "http://bro.org/download/CHANGES.bro-aux.txt"


def test_the_pe_download_capture_yields_the_pe_hash(corpus: Path) -> None:
    """pe-single.pcap is an FTP session (vsFTPd, passive mode); of the data connections of its
    four RETRs only one was captured. tshark --export-objects ftp-data writes VMwareXferlogs.exe,
    43,568 bytes, sha256 b53d48d4...ca8c."""
    rows, _ = _parsed(corpus / PCAP / "zeek-traces/pe/pe-single.pcap")
    (pe,) = [r for r in rows if r["source"] == "network_files"]
    assert (pe["file_path"], pe["file_hash_sha256"], pe["fields"]["mime_type"], pe["fields"]["seen_bytes"]) == (
        "VMwareXferlogs.exe", "b53d48d42cfcddf6fdb9a39ef0f7a1d01b9d6388b8b4ff6d4d7bc9423f87ca8c",
        "application/x-dosexec", "43568",
    )  # fmt: skip
    assert pe["fields"]["source"] == "FTP_DATA" and pe["source_record"] == 56
    control = [r for r in rows if r["source"] == "network_ftp"]
    assert pe["fields"]["ftp_uid"] == control[0]["fields"]["uid"]
    retrs = [
        (r["fields"]["arg"], r["fields"]["reply_code"]) for r in control if r["fields"]["command"] == "RETR"
    ]
    # tshark -Y 'ftp.request.command == "RETR"': frames 35, 43, 54, 116, each answered 226.
    assert retrs == [
        ("MSVIDEO.DLL", "226"),
        ("NOTEPAD.EXE", "226"),
        ("VMwareXferlogs.exe", "226"),
        ("test1.bin", "226"),
    ]
    assert control[0]["user_name"] == "anonymous"


def test_ftp_passive_and_active_data_connections(corpus: Path) -> None:
    """ipv4.pcap: LIST and RETR robots.txt in passive mode, then again with PORT (the server
    connects back): four files, the two listings and the two copies of robots.txt alike."""
    rows, _ = _parsed(corpus / PCAP / "zeek-traces/ftp/ipv4.pcap")
    files = [
        (r["file_path"], r["fields"]["seen_bytes"], r["source_ip"])
        for r in rows
        if r["source"] == "network_files"
    ]
    assert files == [
        (None, "342", "141.142.220.235"), ("robots.txt", "77", "141.142.220.235"),
        (None, "342", "199.233.217.249"), ("robots.txt", "77", "199.233.217.249"),
    ]  # fmt: skip
    hashes = [r["file_hash_sha256"] for r in rows if r["source"] == "network_files"]
    assert hashes[0] == hashes[2] and hashes[1] == hashes[3] and hashes[0] != hashes[1]
    conns = {r["fields"]["uid"]: r["network_protocol"] for r in rows if r["source"] == "network_conn"}
    assert sorted(conns.values()) == ["ftp", "ftp-data", "ftp-data", "ftp-data", "ftp-data"]
    (password,) = {r["fields"].get("password") for r in rows if r["source"] == "network_ftp"} - {None}
    assert password == "test"  # anonymous: the password is an e-mail address, logged as Zeek does


def test_dns_over_tcp_and_record_types_dpkt_does_not_know(corpus: Path) -> None:
    """dns_tcp.pcapng: ANY ripe.net over UDP (2 DNSKEY answers), then over TCP, the response
    split over two segments (tshark frames 8 and 10: 8 DNSKEY/RRSIG/DS answers)."""
    rows, warnings = _parsed(corpus / PCAP / "chrissanders-packets/dns_tcp.pcapng")
    dns = [
        (r["source_record"], r["fields"]["proto"], r["fields"]["answers"])
        for r in rows
        if r["source"] == "network_dns"
    ]
    assert dns == [
        (1, "udp", "<DNSKEY>,<DNSKEY>"),
        (6, "tcp", "<DNSKEY>,<DNSKEY>,<DNSKEY>,<DNSKEY>,<RRSIG>,<DS>,<DS>,<RRSIG>"),
    ]
    assert warnings == []


def test_community_id_as_tshark_computes_it(corpus: Path) -> None:
    """``tshark --enable-protocol communityid -T fields -e communityid`` on get.pcap."""
    rows, _ = _parsed(corpus / PCAP / "zeek-traces/http/get.pcap")
    (conn,) = [r for r in rows if r["source"] == "network_conn"]
    assert conn["community_id"] == "1:yvyB8h+3dnggTZW0UEITWCst97w="


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed (apt-get install tshark)")
@pytest.mark.parametrize(
    "capture",
    ["chrissanders-packets/arppoison.pcapng", "chrissanders-packets/http_ip4and6.pcapng",
     "zeek-traces/linux_dlt_sll2.pcap", "otrf/empire_shell_samr_EnumDomainUsers_2020-09-21193527.cap"],
)  # fmt: skip
def test_community_ids_live_against_tshark(corpus: Path, capture: str) -> None:
    """TCP, UDP, IPv6 and ICMP echo flows. (ICMP errors differ on purpose: tshark hashes the
    datagram quoted inside them, the Community ID spec the outer header.)"""
    path = corpus / PCAP / capture
    rows, _ = _parsed(path)
    theirs = _tshark("-r", str(path), "--enable-protocol", "communityid", "-T", "fields", "-e", "communityid")
    assert {r["community_id"] for r in rows if r["source"] == "network_conn"} == set(theirs.split())


def test_tls_handshakes_of_the_zeek_traces(corpus: Path) -> None:
    """Server names, versions and ciphers as Zeek's own ssl.log baselines give them."""
    rows, _ = _parsed(corpus / PCAP / "zeek-traces/tls/tls13-ech.pcap")
    tls = [r for r in rows if r["source"] == "network_tls"]
    assert [(r["tls_server_name"], r["fields"]["version"], r["fields"]["cipher"]) for r in tls] == [
        ("cloudflare-ech.com", "TLSv13", "TLS_AES_128_GCM_SHA256")
    ] * 2
    rows, _ = _parsed(corpus / PCAP / "zeek-traces/tls/tls1.2.pcap")
    (tls12,) = [r for r in rows if r["source"] == "network_tls"]
    assert (tls12["fields"]["version"], tls12["fields"]["cipher"], tls12["fields"]["established"]) == (
        "TLSv12", "TLS_RSA_WITH_RC4_128_MD5", "true",
    )  # fmt: skip


def test_ssh_on_a_non_standard_port(corpus: Path) -> None:
    """A connection is read by what it says, not by its port."""
    rows, _ = _parsed(corpus / PCAP / "zeek-traces/ssh/ssh-on-port-80.pcap")
    ssh = [r for r in rows if r["source"] == "network_ssh"]
    assert [r["destination_port"] for r in ssh] == [80]
    assert ssh[0]["fields"]["client"].startswith("SSH-2.0-")


def test_every_corpus_capture_gives_rows_or_reasons(corpus: Path) -> None:
    """All 112 captures parse; the only ones without a row carry no IP at all (802.11
    authentication, ARP: tshark shows no IP in them) or have their only packet cut (warned)."""
    captures = sorted(p for p in (corpus / PCAP).rglob("*") if p.suffix in (".pcap", ".pcapng", ".cap"))
    assert len(captures) == 112
    silent, sources = [], Counter()
    for path in captures:
        rows, warnings = _parsed(path)
        sources.update(r["source"] for r in rows)
        if not rows and not warnings:
            silent.append(path.name)
        assert all(w.location for w in warnings)
    assert silent == ["3e80211_wpaauth.pcapng", "arp_gratuitous.pcapng", "snap-arp.pcapng"]
    assert set(sources) == {f"network_{s}" for s in ("conn", "dns", "http", "files", "ftp", "tls", "ssh")}


# -- bad input --------------------------------------------------------------------------------


def test_truncated_and_bad_checksum_captures_are_counted_warnings(corpus: Path) -> None:
    _, warnings = _parsed(corpus / PCAP / "zeek-traces/trunc/trunc-hdr.pcap")
    assert [(w.location, w.reason, w.count) for w in warnings] == [
        ("packets 1", "1 packets not decoded: link layer cut short or malformed: NeedData", 1),
        ("packets 1", "1 packets cut short by the snap length (decoded as far as captured)", 0),
    ]
    rows, warnings = _parsed(corpus / PCAP / "zeek-traces/chksums/ip4-tcp-bad-chksum.pcap")
    assert [(w.reason, w.count) for w in warnings] == [
        ("1 of 1 packets with a bad TCP/UDP checksum (used; often checksum offload)", 0)
    ]
    (conn,) = [r for r in rows if r["source"] == "network_conn"]
    assert "C" in conn["fields"]["history"]


def test_garbage_after_the_last_packet_and_an_impostor(tmp_path: Path, corpus: Path) -> None:
    data = (corpus / PCAP / "zeek-traces/http/get.pcap").read_bytes()
    rows, warnings = artifact_helpers.parse_bytes(PARSER, data + b"\x00" * 7)
    assert _by_source(rows) == _by_source(_parsed(corpus / PCAP / "zeek-traces/http/get.pcap")[0])
    assert [(w.reason, w.count) for w in warnings] == [("truncated record header (7 of 16 bytes)", 1)]


def test_impostors_and_unknown_link_types(tmp_path: Path, corpus: Path) -> None:
    """Files named .pcap are read by what they are; a link type we cannot decode is a counted
    warning with packet numbers, and the capture's other interfaces still give their rows."""
    text = tmp_path / "notes.pcap"
    text.write_text("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
    evtx = tmp_path / "capture.pcap"
    evtx.write_bytes((corpus / "evtx/deepbluecli/new-user-security.evtx").read_bytes())
    _, results = artifact_helpers.ingest(tmp_path, text, evtx)
    assert (results["notes.pcap"].status, results["notes.pcap"].parser) == ("unrecognised", None)
    assert (results["capture.pcap"].status, results["capture.pcap"].parser) == ("ok", "windows_evtx")
    # A pcap header declaring link type 147 (USER0), then the 14 frames of get.pcap.
    data = bytearray((corpus / PCAP / "zeek-traces/http/get.pcap").read_bytes())
    data[20:24] = (147).to_bytes(4, "little")
    rows, warnings = artifact_helpers.parse_bytes(PARSER, bytes(data))
    assert rows == []
    assert [(w.location, w.reason, w.count) for w in warnings] == [
        (
            "packets 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 4 more",
            "14 packets not decoded: unsupported link type 147",
            14,
        )
    ]


def test_the_ingest_hashes_and_counts_a_capture(tmp_path: Path, corpus: Path) -> None:
    path = corpus / PCAP / "zeek-traces/tls/tls1.2.pcap"
    case, results = artifact_helpers.ingest(tmp_path, path)
    status, parser, records, lost, warnings = artifact_helpers.summary(results[path.name])
    assert (status, parser, records, lost, warnings) == ("ok", "pcap", 2, 0, [])
    got = artifact_helpers.rows(case, path)
    assert [(r["source"], r["source_record"]) for r in got] == [("network_conn", 1), ("network_tls", 4)]
    manifest = case.manifest().set_index("path")
    assert {r["evidence_id"] for r in got} == {manifest.loc[str(path), "sha256"]}


def test_ingest_carve_writes_the_bodies_into_the_case(tmp_path: Path, corpus: Path) -> None:
    """``tracehound ingest --carve``: get.pcap's one body lands in CASE/carved under its sha256."""
    path = corpus / PCAP / "zeek-traces/http/get.pcap"
    assert main(["ingest", str(path), "--case", str(tmp_path / "case"), "--carve", "--quiet"]) == 0
    case = Case.open(tmp_path / "case")
    (sha256,) = case.sql(
        "SELECT file_hash_sha256 FROM timeline WHERE source = 'network_files'"
    ).file_hash_sha256
    assert [p.name for p in case.carved.iterdir()] == [sha256]
    body = (case.carved / sha256).read_bytes()
    assert len(body) == 4705 and body.startswith(b"\n0.26 | 2012-08-24 15:10:04 -0700\n")


@pytest.mark.parametrize(
    "capture",
    [
        "sample",
        "zeek-traces/ftp/ipv4.pcap",
        "zeek-traces/chksums/ip4-tcp-bad-chksum.pcap",
        "otrf/covenant_copy_smb_CreateRequest_2020-09-22145302.cap",  # bad checksums on several pairs
        "zeek-traces/ipv6-fragmented-dns.pcap",  # fragments, one datagram never completed
        "zeek-traces/http/methods.pcap",  # Zeek weirds
    ],
)
def test_shards_together_give_the_same_rows_as_one_pass(corpus: Path, capture: str) -> None:
    """Workers sharing a large capture by host pair lose nothing and repeat nothing; FTP data
    connections stay with their control connection; each packet's warning is counted once (by
    the worker owning its host pair), the capture's by the first worker."""
    data = LAN_TAP.read_bytes() if capture == "sample" else (corpus / PCAP / capture).read_bytes()
    whole, warnings = artifact_helpers.parse_bytes(PARSER, data)

    def shard(i: int, n: int) -> tuple[list[dict], list]:
        found, rows = [], []
        for item in PARSER.parse(io.BytesIO(data), (i, n), Options()):
            if isinstance(item, ParseWarning):
                found.append(item)
            else:
                rows.extend(dict(r, fields=dict(r["fields"] or [])) for r in item.to_pylist())
        return rows, found

    parts = [shard(i, 3) for i in range(3)]
    key = lambda r: (r["source"], r["source_record"], r["fields"].get("uid"), r["message"])  # noqa: E731
    assert sorted(map(key, (r for rows, _ in parts for r in rows))) == sorted(map(key, whole))
    assert sum(len(rows) for rows, _ in parts) == len(whole)
    assert _counted(w for _, found in parts for w in found) == _counted(warnings)
    if capture == "sample":
        assert all(rows for rows, _ in parts)  # every shard got a share


def _counted(warnings: Iterable[ParseWarning]) -> Counter:
    """Warnings summed by what they say: "3 of 10 packets with..." counts 3 "packets with..."."""
    out: Counter = Counter()
    for w in warnings:
        found = re.match(r"([\d,]+)(?: of [\d,]+)? (.*)", w.reason)
        if found:
            out[found.group(2)] += int(found.group(1).replace(",", ""))
        else:
            out[w.reason] += max(w.count, 1)
    return out


def test_the_ingest_shares_large_captures_among_workers(tmp_path: Path) -> None:
    assert PARSER.plan(io.BytesIO(), 100 << 20, Options(workers=2)) == [(0, 2), (1, 2)]
    assert PARSER.plan(io.BytesIO(), 1 << 20, Options(workers=2)) == [None]
    assert PARSER.plan(io.BytesIO(), 100 << 20, Options(workers=1)) == [None]


def test_options_batch_rows_split_batches(corpus: Path) -> None:
    path = corpus / PCAP / "chrissanders-packets/synscan.pcapng"
    with open(path, "rb") as fh:
        batches = [b for b in PARSER.parse(fh, None, Options(batch_rows=500)) if not hasattr(b, "reason")]
    assert [b.num_rows for b in batches] == [500, 500, 500, 494]
