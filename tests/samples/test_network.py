"""The sample case's LAN tap capture (forensics.samples.network), read back with dpkt and scapy,
and checked against SRV01's image: what the server logged is on the wire in the same second.

One generation per module (seed 1) serves every test; determinism tests generate twice more.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import socket
import struct
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dpkt
import pytest
from scapy.layers.dns import DNS
from scapy.layers.inet import TCP
from scapy.layers.l2 import Ether
from scapy.utils import RawPcapNgReader

from forensics.samples import linux, network, office, payloads, story
from forensics.samples.truth import ArtifactReport, Ref

SEED = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _us(when: datetime) -> int:
    """Microseconds since the epoch (the capture's clock)."""
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@pytest.fixture(scope="module")
def plan() -> story.Attack:
    """The story's attack for seed 1."""
    return story.attack(SEED)


@pytest.fixture(scope="module")
def activity(plan: story.Attack) -> office.Activity:
    """Who used SRV01 and when, for seed 1 (what both the capture and the image render)."""
    return office.activity(plan, SEED)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory, plan: story.Attack) -> tuple[Path, ArtifactReport]:
    """The capture written once for the module, and its report."""
    out = tmp_path_factory.mktemp("net")
    reports = network.generate(out, plan, SEED)
    assert len(reports) == 1
    return out / network.ARTIFACT, reports[0]


@pytest.fixture(scope="module")
def report(generated: tuple[Path, ArtifactReport]) -> ArtifactReport:
    """The generator's report."""
    return generated[1]


@pytest.fixture(scope="module")
def frames(generated: tuple[Path, ArtifactReport]) -> list[tuple[int, bytes]]:
    """(µs, frame) in file order, read with dpkt."""
    with generated[0].open("rb") as f:
        return [(round(ts * 1_000_000), bytes(buf)) for ts, buf in dpkt.pcapng.Reader(f)]


@pytest.fixture(scope="module")
def packets(frames: list[tuple[int, bytes]]) -> list[tuple[int, dpkt.ip.IP | None]]:
    """(µs, IPv4 packet or None for ARP) in file order, dissected by dpkt once."""
    return [(us, _ip(frame)) for us, frame in frames]


@pytest.fixture(scope="module")
def scapy_frames(generated: tuple[Path, ArtifactReport]) -> list[bytes]:
    """The frames as scapy's pcapng reader returns them (dissected on demand: it is slow)."""
    with RawPcapNgReader(str(generated[0])) as reader:
        return [bytes(frame) for frame, _ in reader]


def _ip(frame: bytes) -> dpkt.ip.IP | None:
    """The IPv4 packet in a frame, or None (ARP)."""
    eth = dpkt.ethernet.Ethernet(frame)
    return eth.data if isinstance(eth.data, dpkt.ip.IP) else None


def _tcp(packets: list, key: tuple[str, int, str, int]) -> list[tuple[int, dpkt.tcp.TCP]]:
    """One direction of one TCP connection: (µs, segment) in file order."""
    src, sport, dst, dport = key
    return [
        (us, ip.data) for us, ip in packets
        if ip and ip.p == 6 and ip.data.sport == sport and ip.data.dport == dport and _addr(ip.src) == src
        and _addr(ip.dst) == dst
    ]  # fmt: skip


def _addr(raw: bytes) -> str:
    """Dotted-quad text of 4 address bytes."""
    return socket.inet_ntoa(raw)


def _inside(when: datetime) -> bool:
    """Whether a time falls in the capture window."""
    return story.CAPTURE_START <= when < story.CAPTURE_END


def _in_window(plan: story.Attack) -> tuple[list[story.Lookup], list[story.Connection]]:
    """The plan's look-ups and connections inside the capture window."""
    return [lk for lk in plan.lookups if _inside(lk.time)], [c for c in plan.connections if _inside(c.time)]


def _refs(report: ArtifactReport, step: str, proto: str = "") -> list[Ref]:
    """The report's refs of one step, optionally only those of one protocol (``/tcp``, ``/udp``)."""
    return [r for r in report.refs if r.step == step and r.locator["flow"].endswith(proto)]


def _stream(packets: list, src: str, sport: int, dst: str, dport: int) -> bytes:
    """The bytes one side of a TCP connection sent, reassembled by sequence number (every
    segment must continue the previous one exactly: no gaps, no overlaps)."""
    segments = [(tcp.seq, bytes(tcp.data)) for _, tcp in _tcp(packets, (src, sport, dst, dport)) if tcp.data]
    data, expect = b"", segments[0][0]
    for seq, chunk in segments:
        assert seq == expect
        data, expect = data + chunk, (seq + len(chunk)) & 0xFFFFFFFF
    return data


def _flow_of(ref: Ref) -> tuple[str, int, str, int]:
    """(src, sport, dst, dport) of a ref's flow string."""
    left, right = ref.locator["flow"].split(" > ")
    dst, dport = right.split("/")[0].rsplit(":", 1)
    src, sport = left.rsplit(":", 1)
    return src, int(sport), dst, int(dport)


# --- report -----------------------------------------------------------------------------------


def test_report_counts_and_noise_ratio(report: ArtifactReport, plan: story.Attack) -> None:
    """One malicious transaction per plan item in the window, 50x background at least."""
    lookups, conns = _in_window(plan)
    assert (report.artifact, report.host, report.kind) == ("network/lan-tap.pcapng", "network", "pcapng")
    assert len(lookups) == 3 and len(conns) == 50  # S04, S09, S15 look-ups; S05, 46 beacons, S11, S12, S15
    assert report.malicious == len(lookups) + len(conns) == len(report.refs) == 53
    assert report.events - report.malicious >= 50 * report.malicious


def test_every_plan_item_in_the_window_has_a_ref(report: ArtifactReport, plan: story.Attack) -> None:
    """Each plan look-up and connection has exactly one ref, with its one-line what."""
    lookups, conns = _in_window(plan)
    expected = {(lk.step, f"{lk.client}:{lk.sport} > {story.DC01.ip}:53/udp") for lk in lookups}
    expected |= {(c.step, f"{c.src}:{c.sport} > {c.dst}:{c.dport}/tcp") for c in conns}
    assert {(r.step, r.locator["flow"]) for r in report.refs} == expected
    assert all(r.artifact == network.ARTIFACT for r in report.refs)
    whats = {(r.step, r.what) for r in report.refs if r.step != "S09"}
    assert whats == {
        ("S04", "DNS A micros0ft-cdn.example.net -> 203.0.113.66"),
        (
            "S05",
            f"HTTP GET http://micros0ft-cdn.example.net/dl/msupdate.exe -> 200 OK, {len(payloads.payload())}-byte body",
        ),
        ("S11", "SSH SSH-2.0-OpenSSH_for_Windows_8.1 -> 10.20.0.10:22"),
        ("S12", f"HTTP GET http://203.0.113.66/t/sysupd -> 200 OK, {len(payloads.tool())}-byte body"),
        ("S15", "DNS A files.example.org -> 192.0.2.77"),
        (
            "S15",
            f"HTTP POST http://files.example.org/upload with a {len(payloads.archive())}-byte body -> 200 OK, 15-byte body",
        ),
    }
    assert {r.what for r in report.refs if r.step == "S09"} == {
        "DNS A telemetry.micros0ft-cdn.example.net -> 198.51.100.23",
        "TLS ClientHello SNI telemetry.micros0ft-cdn.example.net -> 198.51.100.23:443",
    }


def test_ref_times_are_their_packets(report: ArtifactReport, frames: list[tuple[int, bytes]]) -> None:
    """A ref's time is its packet's timestamp, to the microsecond."""
    for ref in report.refs:
        assert frames[ref.locator["packet"] - 1][0] == _us(ref.time)


# --- the wire -----------------------------------------------------------------------------------

#: What seed 1 writes (the generator is deterministic; a change to it changes these on purpose).
PACKETS, CONNECTIONS, EVENTS, REQUESTS = 25_851, 1_117, 3_359, 1_115


def test_file_header_is_fixed(generated: tuple[Path, ArtifactReport]) -> None:
    """Section header options are constants (no host, no clock); one Ethernet interface in µs."""
    raw = generated[0].read_bytes()
    shb = dpkt.pcapng.SectionHeaderBlockLE(raw[: struct.unpack_from("<I", raw, 4)[0]])
    assert {o.code: o.data for o in shb.opts} == {
        dpkt.pcapng.PCAPNG_OPT_SHB_HARDWARE: b"office switch SPAN port",
        dpkt.pcapng.PCAPNG_OPT_SHB_OS: b"Linux",
        dpkt.pcapng.PCAPNG_OPT_SHB_USERAPPL: b"Tracehound sample generator (dpkt)",
        dpkt.pcapng.PCAPNG_OPT_ENDOFOPT: b"",
    }
    with generated[0].open("rb") as f:
        reader = dpkt.pcapng.Reader(f)
        assert reader.datalink() == dpkt.pcapng.DLT_EN10MB
        assert {o.code: o.data for o in reader.idb.opts}[dpkt.pcapng.PCAPNG_OPT_IF_TSRESOL] == b"\x06"


def test_packet_count_is_what_was_written(
    generated: tuple[Path, ArtifactReport], frames: list, scapy_frames: list[bytes]
) -> None:
    """Enhanced packet blocks counted by walking the raw block chain, by dpkt and by scapy."""
    raw = generated[0].read_bytes()
    blocks, offset = [], 0
    while offset < len(raw):
        kind, size = struct.unpack_from("<II", raw, offset)
        assert size % 4 == 0 and struct.unpack_from("<I", raw, offset + size - 4)[0] == size
        blocks.append(kind)
        offset += size
    assert offset == len(raw) <= 9_000_000
    assert blocks[:2] == [0x0A0D0D0A, 1] and set(blocks[2:]) == {6}
    assert len(blocks) - 2 == len(frames) == len(scapy_frames) == PACKETS
    assert [f for _, f in frames] == scapy_frames
    assert generated[1].events == EVENTS


def test_strictly_increasing_times_inside_the_window(frames: list[tuple[int, bytes]]) -> None:
    """Packets in strictly increasing time, all within 08:00-13:00."""
    times = [us for us, _ in frames]
    assert all(a < b for a, b in itertools.pairwise(times))
    assert _us(story.CAPTURE_START) <= times[0] and times[-1] < _us(story.CAPTURE_END)


def _sum16(data: bytes) -> int:
    """One's-complement sum of 16-bit words (0xFFFF over a packet with a valid checksum)."""
    data += b"\x00" * (len(data) % 2)
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def test_lengths_and_checksums(frames: list[tuple[int, bytes]]) -> None:
    """IPv4 header, TCP and UDP checksums (pseudo-header included) all verify; lengths agree;
    frames are padded to the 60-byte Ethernet minimum and no more."""
    kinds: dict[int, int] = defaultdict(int)
    for _, frame in frames:
        if struct.unpack("!H", frame[12:14])[0] == dpkt.ethernet.ETH_TYPE_ARP:
            assert len(frame) == 60
            kinds[0] += 1
            continue
        header = frame[14:34]
        total = struct.unpack("!H", header[2:4])[0]
        assert len(frame) == max(60, 14 + total)
        assert _sum16(header) == 0xFFFF
        segment = frame[34 : 14 + total]
        proto = header[9]
        pseudo = header[12:20] + struct.pack("!BBH", 0, proto, len(segment))
        assert _sum16(pseudo + segment) == 0xFFFF
        if proto == 17:
            assert struct.unpack("!H", segment[4:6])[0] == len(segment)
        kinds[proto] += 1
    assert sorted(kinds) == [0, 6, 17] and sum(kinds.values()) == PACKETS


def test_tcp_handshakes_sequences_and_acks(packets: list, activity: office.Activity) -> None:
    """Every connection opens SYN, SYN/ACK, ACK, except SSH sessions already open when the tap
    started (SRV01's logs say which); each side's bytes are contiguous; no packet acknowledges
    bytes (or a FIN) that have not appeared before it; segments carry <= 1460 bytes."""
    sent: dict[tuple, int] = {}  # (src, sport, dst, dport) -> next sequence number
    opened: dict[tuple, list[int]] = defaultdict(list)
    midstream: set[tuple] = set()
    for _, ip in packets:
        if not ip or ip.p != 6:
            continue
        tcp = ip.data
        key, back = (ip.src, tcp.sport, ip.dst, tcp.dport), (ip.dst, tcp.dport, ip.src, tcp.sport)
        assert len(tcp.data) <= 1460
        if tcp.flags & dpkt.tcp.TH_SYN:
            opened[back if tcp.flags & dpkt.tcp.TH_ACK else key].append(tcp.flags)
            sent[key] = tcp.seq
        elif key not in sent:  # the connection began before the capture
            midstream.add((_addr(ip.src), tcp.sport, _addr(ip.dst), tcp.dport))
            sent[key] = tcp.seq
        assert tcp.seq == sent[key]
        step = len(tcp.data) + (1 if tcp.flags & (dpkt.tcp.TH_SYN | dpkt.tcp.TH_FIN) else 0)
        sent[key] = (tcp.seq + step) & 0xFFFFFFFF
        if tcp.flags & dpkt.tcp.TH_ACK and back in sent:
            assert (sent[back] - tcp.ack) & 0xFFFFFFFF < 1 << 30  # at or behind what the peer sent
    assert all(flags == [dpkt.tcp.TH_SYN, dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK] for flags in opened.values())
    assert len(opened) == CONNECTIONS
    already = [s for s in activity.sessions if s.syn < story.CAPTURE_START <= s.until]
    assert len(already) == 1  # bob's session from 07:48
    assert midstream == {flow for s in already for flow in ((s.src, s.sport, story.SRV01.ip, 22),
                                                            (story.SRV01.ip, 22, s.src, s.sport))}  # fmt: skip


def test_lan_hosts_and_gateway_macs(frames: list[tuple[int, bytes]]) -> None:
    """The story's MACs on the LAN; everything beyond it comes and goes through the gateway."""
    hosts = (story.WS01, story.SRV01, story.DC01, story.GATEWAY)
    macs = {h.ip: bytes.fromhex(h.mac.replace(":", "")) for h in hosts}
    checked = 0
    for _, frame in frames:
        eth = dpkt.ethernet.Ethernet(frame)
        if isinstance(eth.data, dpkt.ip.IP):
            for ip, mac in ((_addr(eth.data.src), eth.src), (_addr(eth.data.dst), eth.dst)):
                lan = ip if ip.startswith("10.20.0.") else story.GATEWAY.ip
                if lan in macs:
                    assert mac == macs[lan]
                    checked += 1
    assert checked > PACKETS


def test_attacker_addresses_only_in_plan_flows(packets: list, plan: story.Attack) -> None:
    """Background traffic never touches the attacker's servers."""
    bad = {story.PAYLOAD_HOST.ip, story.C2.ip, story.EXFIL.ip}
    flows = {(c.src, c.sport, c.dst, c.dport) for c in plan.connections}
    assert not bad & {ip for ips, _ in network.SITES.values() for ip in ips}
    seen = 0
    for _, ip in packets:
        if ip and bad & {_addr(ip.src), _addr(ip.dst)}:
            ends = (_addr(ip.src), ip.data.sport, _addr(ip.dst), ip.data.dport)
            assert ends in flows or (ends[2], ends[3], ends[0], ends[1]) in flows
            seen += 1
    assert seen > 500


def test_background_mix_and_host_roles(packets: list) -> None:
    """Who does what on the LAN: Windows TTL 128 for WS01, DC01 and the office PCs, Linux 64 for
    SRV01, bob's laptop, the CI runner, NAS, monitor and gateway; Kerberos and SMB only from
    Windows clients; and the exact mix seed 1 writes."""
    linux = {
        story.SRV01.ip,
        office.BOB_LAPTOP,
        office.CI_RUNNER,
        office.NAS,
        office.MONITOR,
        story.GATEWAY.ip,
    }
    mix: dict[str, int] = defaultdict(int)
    for _, ip in packets:
        if not ip:
            mix["arp"] += 1
            continue
        src, dst, t = _addr(ip.src), _addr(ip.dst), ip.data
        if src.startswith("10.20.0."):
            assert ip.ttl == (64 if src in linux else 128), src
        if ip.p == 6 and t.dport in (88, 445):
            assert src in (story.WS01.ip, *office.OFFICE_PCS)
        if ip.p == 17 and t.sport == 53 and src == story.DC01.ip:
            mix[
                "nxdomain" if dpkt.dns.DNS(t.data).rcode == dpkt.dns.DNS_RCODE_NXDOMAIN else "dns answer"
            ] += 1
        if ip.p == 17 and t.dport == 53 and dst == network.UPSTREAM_DNS:
            mix["forwarded"] += 1
        if ip.p == 17 and t.dport in (88, 123):
            mix[f"udp {t.dport}"] += 1
        if ip.p == 6 and t.flags == dpkt.tcp.TH_SYN:
            mix[f"tcp {t.dport}"] += 1
        if ip.p == 6 and t.dport == 80 and t.data.startswith((b"GET /healthz ", b"GET / ")):
            mix[t.data.split(b" ")[1].decode()] += 1
    assert dict(mix) == {
        "arp": 1520, "dns answer": 1137, "nxdomain": 216, "forwarded": 301, "udp 88": 57, "udp 123": 89,
        "tcp 22": 64, "tcp 80": 381, "tcp 88": 113, "tcp 443": 499, "tcp 445": 60, "/healthz": 63, "/": 52,
    }  # fmt: skip


# --- the attack ---------------------------------------------------------------------------------


def test_s04_dns_query_and_answer(report: ArtifactReport, packets: list, plan: story.Attack) -> None:
    """S04: WS01's query at the plan's time, DC01 forwarding it, the answer 203.0.113.66."""
    (ref,) = _refs(report, "S04")
    lookup = next(lk for lk in plan.lookups if lk.step == "S04")
    n = ref.locator["packet"]
    us, ip = packets[n - 1]
    query = dpkt.dns.DNS(ip.data.data)
    assert us == _us(lookup.time) == _us(datetime(2026, 3, 10, 9, 12, 32, 410000, tzinfo=UTC))
    assert (_addr(ip.src), ip.data.sport, _addr(ip.dst), ip.data.dport) == (
        story.WS01.ip,
        lookup.sport,
        "10.20.0.5",
        53,
    )
    assert query.qr == dpkt.dns.DNS_Q and query.qd[0].name == "micros0ft-cdn.example.net"
    udp = [(_addr(p.src), p.data.sport, _addr(p.dst), p.data.dport, dpkt.dns.DNS(p.data.data))
           for _, p in packets[n : n + 60] if p and p.p == 17]  # fmt: skip
    forwarded = next(m for src, _, dst, _, m in udp if dst == network.UPSTREAM_DNS)
    answer = next(
        m for src, sport, _, dport, m in udp if (src, sport, dport) == ("10.20.0.5", 53, lookup.sport)
    )
    assert forwarded.qd[0].name == "micros0ft-cdn.example.net"
    assert answer.id == query.id and answer.rcode == dpkt.dns.DNS_RCODE_NOERR
    assert [_addr(rr.ip) for rr in answer.an] == ["203.0.113.66"]


def test_s05_download(report: ArtifactReport, packets: list, plan: story.Attack) -> None:
    """S05: the plan's GET byte for byte, the SYN at the plan's time, the payload's sha256 in the response."""
    (ref,) = _refs(report, "S05")
    conn = next(c for c in plan.connections if c.step == "S05")
    request = dpkt.http.Request(packets[ref.locator["packet"] - 1][1].data.data)
    assert (request.method, request.uri, request.headers["host"]) == (
        "GET",
        "/dl/msupdate.exe",
        "micros0ft-cdn.example.net",
    )
    src, sport, dst, dport = _flow_of(ref)
    assert (src, sport, dst, dport) == (story.WS01.ip, conn.sport, "203.0.113.66", 80)
    assert _tcp(packets, (src, sport, dst, dport))[0][0] == _us(conn.time)  # the SYN at the plan's time
    assert _stream(packets, src, sport, dst, dport) == conn.request
    response = dpkt.http.Response(_stream(packets, dst, dport, src, sport))
    assert response.status == "200"
    assert hashlib.sha256(response.body).hexdigest() == hashlib.sha256(payloads.payload()).hexdigest()


def test_s12_tool_fetch(report: ArtifactReport, packets: list, plan: story.Attack) -> None:
    """S12: SRV01 fetches the tool by address; the response body is the tool."""
    (ref,) = _refs(report, "S12")
    conn = next(c for c in plan.connections if c.step == "S12")
    src, sport, dst, dport = _flow_of(ref)
    assert (src, sport, dst, dport) == (story.SRV01.ip, conn.sport, "203.0.113.66", 80)
    assert _stream(packets, src, sport, dst, dport) == conn.request
    assert dpkt.http.Response(_stream(packets, dst, dport, src, sport)).body == payloads.tool()


def test_s15_lookup_before_the_post(report: ArtifactReport, packets: list, plan: story.Attack) -> None:
    """S15: SRV01's curl asks DC01 for files.example.org a fraction of a second before its SYN;
    DC01 forwards the question upstream and answers 192.0.2.77 before the connection opens."""
    (ref,) = _refs(report, "S15", "/udp")
    lookup = next(lk for lk in plan.lookups if lk.step == "S15")
    conn = next(c for c in plan.connections if c.step == "S15")
    n = ref.locator["packet"]
    us, ip = packets[n - 1]
    query = dpkt.dns.DNS(ip.data.data)
    assert us == _us(lookup.time) and 0 < _us(conn.time) - us < 1_000_000
    assert (_addr(ip.src), ip.data.sport, _addr(ip.dst), ip.data.dport) == (
        story.SRV01.ip, lookup.sport, story.DC01.ip, 53,
    )  # fmt: skip
    assert (query.qd[0].name, lookup.process) == ("files.example.org", "/usr/bin/curl")
    before = [p for u, p in packets[n:] if p and p.p == 17 and u < _us(conn.time)]
    forwarded = [dpkt.dns.DNS(p.data.data) for p in before if _addr(p.dst) == network.UPSTREAM_DNS]
    answers = [
        dpkt.dns.DNS(p.data.data)
        for p in before
        if (_addr(p.src), p.data.dport) == (story.DC01.ip, lookup.sport)
    ]
    assert [m.qd[0].name for m in forwarded if m.qd[0].name == "files.example.org"] == ["files.example.org"]
    assert [(m.id, _addr(rr.ip)) for m in answers for rr in m.an] == [(query.id, "192.0.2.77")]


def test_s15_exfiltration_post(report: ArtifactReport, packets: list) -> None:
    """S15: the POST body reassembles to the archive exactly."""
    (ref,) = _refs(report, "S15", "/tcp")
    src, sport, dst, dport = _flow_of(ref)
    assert (src, dst, dport) == (story.SRV01.ip, "192.0.2.77", 80)
    request = dpkt.http.Request(_stream(packets, src, sport, dst, dport))
    assert (request.method, request.uri, request.headers["host"]) == ("POST", "/upload", "files.example.org")
    assert request.body == payloads.archive()
    assert dpkt.http.Response(_stream(packets, dst, dport, src, sport)).body == b'{"status":"ok"}'


def _client_hello(record: bytes) -> dict[int, bytes]:
    """Extensions (type -> body) of a TLS ClientHello record, parsed by hand."""
    kind, version, length = struct.unpack("!BHH", record[:5])
    assert (kind, version, length) == (22, 0x0301, len(record) - 5)
    body = record[5:]
    assert body[0] == 1 and int.from_bytes(body[1:4], "big") == len(body) - 4
    at = 4 + 2 + 32
    at += 1 + body[at]  # session id
    at += 2 + int.from_bytes(body[at : at + 2], "big")  # cipher suites
    at += 1 + body[at]  # compression methods
    end = at + 2 + int.from_bytes(body[at : at + 2], "big")
    assert end == len(body)
    exts, at = {}, at + 2
    while at < end:
        kind, size = struct.unpack("!HH", body[at : at + 4])
        exts[kind] = body[at + 4 : at + 4 + size]
        at += 4 + size
    return exts


def test_s09_beacons_client_hello(report: ArtifactReport, packets: list) -> None:
    """S09: every beacon has a ref; the ClientHello carries the C2's SNI and Schannel's extensions."""
    beacons = _refs(report, "S09", "/tcp")
    assert len(beacons) == 46
    for ref in (beacons[0], beacons[-1]):
        record = bytes(packets[ref.locator["packet"] - 1][1].data.data)
        exts = _client_hello(record)
        assert exts[0][5:].decode() == "telemetry.micros0ft-cdn.example.net"
        assert exts[43] == b"\x04\x03\x04\x03\x03"  # supported_versions: TLS 1.3, 1.2
        assert exts[16] == b"\x00\x0c\x02h2\x08http/1.1"
        assert {10, 11, 13} <= set(exts) and not any(
            k & 0x0F0F == 0x0A0A for k in exts
        )  # Schannel: no GREASE
        records, used = dpkt.ssl.tls_multi_factory(record)
        assert used == len(record) and [r.type for r in records] == [22]
    assert _flow_of(beacons[0])[2:] == ("198.51.100.23", 443)


def test_s11_ssh_session(report: ArtifactReport, packets: list, plan: story.Attack) -> None:
    """S11: banners and KEXINITs, the SYN at the plan's time, sshd's SUCCESS story.SSH_AUTH_DELAY
    later, each command of bob's refilled history when it ran, bursts at S12..S16, the DISCONNECT
    story.SSH_LOGOUT_AFTER after S16 (11:16:45)."""
    (ref,) = _refs(report, "S11")
    src, sport, dst, dport = _flow_of(ref)
    assert (src, dst, dport) == (story.WS01.ip, story.SRV01.ip, 22)
    client, server = _stream(packets, src, sport, dst, dport), _stream(packets, dst, dport, src, sport)
    client_banner, server_banner = (
        b"SSH-2.0-OpenSSH_for_Windows_8.1\r\n",
        b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6\r\n",
    )
    assert bytes(packets[ref.locator["packet"] - 1][1].data.data) == client_banner
    assert client.startswith(client_banner) and server.startswith(server_banner)
    assert client[len(client_banner) + 5] == server[len(server_banner) + 5] == 20  # SSH_MSG_KEXINIT
    up, down = _tcp(packets, (src, sport, dst, dport)), _tcp(packets, (dst, dport, src, sport))
    assert up[0][0] == _us(plan.step("S11").time)
    logout = _us(datetime(2026, 3, 10, 11, 16, 45, tzinfo=UTC))
    assert logout <= max(up[-1][0], down[-1][0]) < logout + 3_000_000
    for step in ("S12", "S13", "S14", "S15", "S16"):  # the shell's output burst right after each step
        at = _us(plan.step(step).time)
        assert sum(len(tcp.data) for us, tcp in down if at - 100_000 <= us < at + 1_500_000) >= 1000, step
    accepted = _us(plan.step("S11").time + story.SSH_AUTH_DELAY)
    assert [len(tcp.data) > 0 for us, tcp in down if us == accepted] == [True]  # USERAUTH_SUCCESS
    sent = [us for us, tcp in up if tcp.data]
    assert sent[-1] == _us(plan.step("S16").time + story.SSH_LOGOUT_AFTER)  # DISCONNECT
    commands = office.attack_commands(plan)
    assert [c.text for c in commands][-1] == "exit" and len(commands) == 11
    assert all(_us(c.time) in sent for c in commands)  # each Enter key when the shell ran the command


# --- scapy --------------------------------------------------------------------------------------


def test_scapy_reads_the_same(report: ArtifactReport, scapy_frames: list[bytes], plan: story.Attack) -> None:
    """scapy dissects the S04 query and the S11 client banner at the refs' packet numbers."""
    dns = Ether(scapy_frames[_refs(report, "S04")[0].locator["packet"] - 1])
    assert dns[DNS].qd[0].qname == b"micros0ft-cdn.example.net."
    ssh = Ether(scapy_frames[_refs(report, "S11")[0].locator["packet"] - 1])
    conn = next(c for c in plan.connections if c.step == "S11")
    assert (ssh[TCP].sport, ssh[TCP].dport) == (conn.sport, 22)
    assert bytes(ssh[TCP].payload) == b"SSH-2.0-OpenSSH_for_Windows_8.1\r\n"


# --- what SRV01 logged is on the wire -------------------------------------------------------------


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory, plan: story.Attack) -> Any:
    """SRV01's image for the same seed, opened with dissect.target as an investigator would."""
    pytest.importorskip("dissect.extfs", reason="dissect.target needs it to read ext4")
    from dissect.target import Target

    from forensics.samples import ext4

    try:
        ext4.tool("mke2fs")
    except RuntimeError:
        pytest.skip("e2fsprogs is not installed")
    out = tmp_path_factory.mktemp("srv01")
    (report,) = linux.generate(out, plan, SEED)
    return Target.open(out / report.artifact)


def _in_capture(ts: datetime) -> bool:
    """Whether a logged second lies inside the capture window."""
    return story.CAPTURE_START <= ts < story.CAPTURE_END


def _conversations(packets: list, port: int) -> dict[tuple[str, int], list[tuple[int, int, int, bytes]]]:
    """TCP segments to and from SRV01's ``port`` by (client, client port): (µs, 0 from the
    client or 1 from SRV01, flags, payload), in file order."""
    found: dict[tuple[str, int], list[tuple[int, int, int, bytes]]] = defaultdict(list)
    for us, ip in packets:
        if not ip or ip.p != 6:
            continue
        tcp, src, dst = ip.data, _addr(ip.src), _addr(ip.dst)
        if dst == story.SRV01.ip and tcp.dport == port:
            found[(src, tcp.sport)].append((us, 0, tcp.flags, bytes(tcp.data)))
        elif src == story.SRV01.ip and tcp.sport == port:
            found[(dst, tcp.dport)].append((us, 1, tcp.flags, bytes(tcp.data)))
    return found


def _second(us: int) -> int:
    return us // 1_000_000


def test_sshd_log_in_the_window_is_on_the_wire(image: Any, packets: list, plan: story.Attack) -> None:
    """Every sshd line of auth.log in the window that names a client (read by dissect) is a
    connection on the wire from that address and source port: "Accepted" after its SYN with
    sshd's SUCCESS in the logged second, "Received disconnect" with the client's DISCONNECT in
    its second, a monitor probe's "Connection closed" with the FIN in its second; and every
    connection to port 22 on the wire is one auth.log names."""
    wire = _conversations(packets, 22)
    logged = [
        r
        for r in image.authlog()
        if r.service == "sshd" and getattr(r, "remote_ip", None) and _in_capture(r.ts)
    ]
    kinds: Counter[str] = Counter()
    for r in logged:
        segments = wire.get((str(r.remote_ip), r.port), [])
        second = int(r.ts.timestamp())
        if r.message.startswith("Accepted"):
            syn = [us for us, side, flags, _ in segments if side == 0 and flags == dpkt.tcp.TH_SYN]
            assert syn and _second(syn[0]) <= second, r.message
            assert any(side == 1 and data and _second(us) == second for us, side, _, data in segments), (
                r.message
            )
        elif r.message.startswith(("Received disconnect", "Disconnected from")):
            assert any(side == 0 and data and _second(us) == second for us, side, _, data in segments), (
                r.message
            )
        else:
            assert r.message.endswith("[preauth]") and str(r.remote_ip) == office.MONITOR, r.message
            fin = [us for us, side, flags, _ in segments if side == 0 and flags & dpkt.tcp.TH_FIN]
            assert [_second(us) for us in fin] == [second], r.message
        kinds[r.message.split(" ")[0]] += 1
    assert dict(kinds) == {"Accepted": 4, "Received": 5, "Disconnected": 5, "Connection": 60}
    assert set(wire) == {(str(r.remote_ip), r.port) for r in logged}
    s11 = next(c for c in plan.connections if c.step == "S11")
    accepted = [r for r in logged if r.message.startswith("Accepted password")]
    assert [(str(r.remote_ip), r.port, r.ts) for r in accepted] == [
        (story.WS01.ip, s11.sport, (s11.time + story.SSH_AUTH_DELAY).replace(microsecond=0))
    ]


def _messages(
    segments: list[tuple[int, int, int, bytes]], side: int, starts: tuple[bytes, ...]
) -> list[list]:
    """One side's HTTP messages on a connection: [µs of the first segment, bytes], a message
    starting with a segment that starts with ``starts`` (no Content-Length needed)."""
    found: list[list] = []
    for us, who, _, data in segments:
        if who == side and data:
            if data.startswith(starts) or not found:
                found.append([us, data])
            else:
                found[-1][1] += data
    return found


def test_nginx_log_in_the_window_is_on_the_wire(image: Any, packets: list) -> None:
    """Every access.log line in the window (read by dissect) is a request on the wire and every
    request on the wire is a line: same client, the response written in the logged second, the
    same request line, status, referer and user agent, and as many body bytes after the
    response head as nginx logged."""
    on_wire: Counter[tuple] = Counter()
    for (client, _), segments in _conversations(packets, 80).items():
        asked = _messages(segments, 0, (b"GET ", b"POST "))
        answered = _messages(segments, 1, (b"HTTP/1.1 ",))
        assert len(asked) == len(answered), client
        for (_, request), (us, response) in zip(asked, answered, strict=True):
            head, body = response.split(b"\r\n\r\n", 1)
            line, *fields = request.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")
            headers = dict(f.split(": ", 1) for f in fields)
            length = re.search(rb"\r\nContent-Length: (\d+)", head)
            assert int(length[1]) == len(body) if length else body == b"", (client, line)
            method, uri, _ = line.split(" ")
            status = int(head.split(b" ")[1])
            on_wire[(client, _second(us), method, uri, status, len(body), headers.get("Referer", "-"),
                     headers["User-Agent"])] += 1  # fmt: skip
    in_log: Counter[tuple] = Counter()
    for r in image.nginx.access():
        if _in_capture(r.ts):
            in_log[(str(r.remote_ip), int(r.ts.timestamp()), r.method, r.uri, r.status_code, r.bytes_sent, r.referer,
                    r.useragent)] += 1  # fmt: skip
    assert on_wire == in_log
    assert sum(in_log.values()) == REQUESTS
    assert {key[4] for key in in_log} == {200, 302, 304, 404, 502}


# --- determinism and shape ----------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_bytes(
    tmp_path: Path, generated: tuple[Path, ArtifactReport], plan: story.Attack
) -> None:
    """Byte-identical output and report for one seed; another seed differs."""
    first = generated[0].read_bytes()
    again = network.generate(tmp_path / "again", plan, SEED)
    assert (tmp_path / "again" / network.ARTIFACT).read_bytes() == first
    assert again[0] == generated[1]
    network.generate(tmp_path / "other", story.attack(2), 2)
    assert (tmp_path / "other" / network.ARTIFACT).read_bytes() != first


def test_times_follow_the_office_day(frames: list[tuple[int, bytes]]) -> None:
    """More traffic mid-morning than in the first half hour or at lunch."""
    day = _us(story.ATTACK_DAY)

    def count(h0: float, h1: float) -> int:
        """Packets between two hours of the attack day (UTC)."""
        return sum(day + h0 * 3600e6 <= us < day + h1 * 3600e6 for us, _ in frames)

    assert count(9.5, 10.0) > 1.5 * count(8.0, 8.5) and count(11.0, 11.5) > 1.3 * count(12.25, 12.75)
    assert frames[-1][0] - frames[0][0] > (4 * 60 + 50) * 60 * 1_000_000
