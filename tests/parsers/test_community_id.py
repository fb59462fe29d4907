"""Community ID v1 against the spec's published vectors and against tshark on the corpus."""

from __future__ import annotations

import ipaddress
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from parsers.network.community_id import community_id, community_id_digest, icmp_port_equivalents


def _rows(text: str) -> list[tuple]:
    """Whitespace-separated vector lines; "-" is None, digits are ints."""
    return [
        tuple(None if c == "-" else int(c) if c.isdigit() else c for c in line.split())
        for line in text.strip().splitlines()
    ]


# community-id-spec, baseline/README.md: "Default settings" and "A custom seed=1 value" tables.
# proto, src, dst, sport, dport, id with seed 0, id with seed 1; ICMP ports are type, code.
SPEC_TABLE = _rows(
    """
6 1.2.3.4 5.6.7.8 1122 3344 1:wCb3OG7yAFWelaUydu0D+125CLM= 1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=
6 5.6.7.8 1.2.3.4 3344 1122 1:wCb3OG7yAFWelaUydu0D+125CLM= 1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=
17 1.2.3.4 5.6.7.8 1122 3344 1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg= 1:OShq+iKDAMVouh/4bMxB9Sz4amw=
17 5.6.7.8 1.2.3.4 3344 1122 1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg= 1:OShq+iKDAMVouh/4bMxB9Sz4amw=
132 1.2.3.4 5.6.7.8 1122 3344 1:EKt4MsxuyaE6mL+hmrEkQ9csDD8= 1:uitchpn5MMGAQKBJh7bIr/bAr7s=
132 5.6.7.8 1.2.3.4 3344 1122 1:EKt4MsxuyaE6mL+hmrEkQ9csDD8= 1:uitchpn5MMGAQKBJh7bIr/bAr7s=
1 1.2.3.4 5.6.7.8 8 0 1:crodRHL2FEsHjbv3UkRrfbs4bZ0= 1:9pr4ZGTICiuZoIh90RRYE2RyXpU=
1 5.6.7.8 1.2.3.4 0 0 1:crodRHL2FEsHjbv3UkRrfbs4bZ0= 1:9pr4ZGTICiuZoIh90RRYE2RyXpU=
1 1.2.3.4 5.6.7.8 11 0 1:f/YiSyWqczrTgfUCZlBUnvHRcPk= 1:1DD7cWGC/Yg91YGsQeni8du3pIA=
58 fe80:0001:0203:0405:0607:0809:0A0B:0C0D fe80:1011:1213:1415:1617:1819:1A1B:1C1D 128 0 1:0bf7hyMJUwt3fMED7z8LIfRpBeo= 1:IO27GQzPuCtNnwFvjWALMHu5tJE=
58 fe80:1011:1213:1415:1617:1819:1A1B:1C1D fe80:0001:0203:0405:0607:0809:0A0B:0C0D 129 0 1:0bf7hyMJUwt3fMED7z8LIfRpBeo= 1:IO27GQzPuCtNnwFvjWALMHu5tJE=
58 fe80:0001:0203:0405:0607:0809:0A0B:0C0D fe80:1011:1213:1415:1617:1819:1A1B:1C1D 146 0 1:fYC8+pz24E+EhANP1EZhpX0Dw10= 1:Cv4IKJe56BNkF0MBW2YxQ3Nwc3s=
46 1.2.3.4 5.6.7.8 - - 1:ikv3kmf89luf73WPz1jOs49S768= 1:/buhqeOmaRCopOZFy9HnoJd5XW8=
46 5.6.7.8 1.2.3.4 - - 1:ikv3kmf89luf73WPz1jOs49S768= 1:/buhqeOmaRCopOZFy9HnoJd5XW8=
46 fe80:0001:0203:0405:0607:0809:0A0B:0C0D fe80:1011:1213:1415:1617:1819:1A1B:1C1D - - 1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0= 1:j6EyyfBzL4vWKHFXgUqb5Az3OxM=
46 fe80:1011:1213:1415:1617:1819:1A1B:1C1D fe80:0001:0203:0405:0607:0809:0A0B:0C0D - - 1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0= 1:j6EyyfBzL4vWKHFXgUqb5Az3OxM=
"""
)

# community-id-spec, baseline/baseline_deflt.json and baseline_seed1.json (the reference tool run
# over pcaps/combined.pcap.gz). For ICMP the JSON's sport/dport are the mapped "ports"; passed as
# type/code they map to themselves, so they work as input too.
SPEC_JSON = _rows(
    """
58 fe80::200:86ff:fe05:80da fe80::260:97ff:fe07:69ea 135 136 1:dGHyGvjMfljg6Bppwm3bg0LO8TY= 1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY=
58 fe80::260:97ff:fe07:69ea fe80::200:86ff:fe05:80da 136 135 1:dGHyGvjMfljg6Bppwm3bg0LO8TY= 1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY=
58 fe80::260:97ff:fe07:69ea fe80::200:86ff:fe05:80da 135 136 1:zavyT/cezQr1fmImYCwYnMXbgck= 1:2hSqmsDZ2kdcY9kbiUzOEBic0iM=
58 fe80::200:86ff:fe05:80da fe80::260:97ff:fe07:69ea 136 135 1:zavyT/cezQr1fmImYCwYnMXbgck= 1:2hSqmsDZ2kdcY9kbiUzOEBic0iM=
58 3ffe:501:1800:2345::2 3ffe:507:0:1:200:86ff:fe05:80da 3 0 1:2ObVBgIn28oZvibYZhZMBgh7WdQ= 1:lVEtCZpYu84Xqaa++3lXFyuu2n4=
58 3ffe:501:410:0:2c0:dfff:fe47:33e 3ffe:507:0:1:200:86ff:fe05:80da 1 4 1:hLZd0XGWojozrvxqE0dWB1iM6R0= 1:W8MHwXpWzpoSTD+cGcaJr4u0ys8=
58 3ffe:507:0:1:200:86ff:fe05:80da 3ffe:501:0:1001::2 128 129 1:+TW+HtLHvV1xnGhV1lv7XoJrqQg= 1:GfZxjAkDk2MkegpBYHV6tadtFXQ=
58 3ffe:501:0:1001::2 3ffe:507:0:1:200:86ff:fe05:80da 129 128 1:+TW+HtLHvV1xnGhV1lv7XoJrqQg= 1:GfZxjAkDk2MkegpBYHV6tadtFXQ=
58 fe80::200:86ff:fe05:80da ff02::2 133 134 1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0= 1:L7Ka0ZMYu+J3bL4ulW2PrqyXNo8=
58 fe80::260:97ff:fe07:69ea ff02::1 134 133 1:pkvHqCL88/tg1k4cPigmZXUtL00= 1:K/ee5UCqAMAQXDorP5nSa2CGLjc=
1 192.168.0.89 192.168.0.1 8 0 1:X0snYXpgwiv9TZtqg64sgzUn6Dk= 1:03g6IloqVBdcZlPyX8r0hgoE7kA=
1 192.168.0.1 192.168.0.89 0 8 1:X0snYXpgwiv9TZtqg64sgzUn6Dk= 1:03g6IloqVBdcZlPyX8r0hgoE7kA=
1 10.0.0.1 10.0.0.2 11 0 1:YHxtAirCG//0OzkcVAukqKQN9xM= 1:XjUibYHaafLQ3pxQeiMI8g25q20=
6 2001:470:e5bf:dead:4957:2174:e82c:4887 2607:f8b0:400c:c03::1a 63943 25 1:/qFaeAR+gFe1KYjMzVDsMv+wgU4= 1:eJYTW6AOzFLlSUoESovMjnu7rMw=
6 2607:f8b0:400c:c03::1a 2001:470:e5bf:dead:4957:2174:e82c:4887 25 63943 1:/qFaeAR+gFe1KYjMzVDsMv+wgU4= 1:eJYTW6AOzFLlSUoESovMjnu7rMw=
132 192.168.170.8 192.168.170.56 7 7 1:MP2EtRCAUIZvTw6MxJHLV7N7JDs= 1:5w3ZRjeKBzqT3zsaEECDGjUbYeg=
132 192.168.170.56 192.168.170.8 7 7 1:MP2EtRCAUIZvTw6MxJHLV7N7JDs= 1:5w3ZRjeKBzqT3zsaEECDGjUbYeg=
6 128.232.110.120 66.35.250.204 34855 80 1:LQU9qZlK+B5F3KDmev6m5PMibrg= 1:3V71V58M3Ksw/yuFALMcW0LAHvc=
6 66.35.250.204 128.232.110.120 80 34855 1:LQU9qZlK+B5F3KDmev6m5PMibrg= 1:3V71V58M3Ksw/yuFALMcW0LAHvc=
17 192.168.1.52 8.8.8.8 54585 53 1:d/FP5EW3wiY1vCndhwleRRKHowQ= 1:Q9We8WO3piVF8yEQBNJF4uiSVrI=
17 8.8.8.8 192.168.1.52 53 54585 1:d/FP5EW3wiY1vCndhwleRRKHowQ= 1:Q9We8WO3piVF8yEQBNJF4uiSVrI=
46 10.1.12.1 10.1.12.2 - - 1:KHlLkgoJW7ifUTyTSgyVfkFHzKw= 1:rYir8gphR31noO9iDRQmF/BteEI=
46 10.1.12.2 10.1.12.1 - - 1:KHlLkgoJW7ifUTyTSgyVfkFHzKw= 1:rYir8gphR31noO9iDRQmF/BteEI=
"""
)

# pycommunityid (the spec's reference implementation), tests/communityid_test.py: proto, src,
# dst, sport, dport, seed 0 base64, seed 0 hex digest, seed 1 base64. Covers ICMP type 20 (no
# counterpart: code hashed, one-way), echo reply with a code (ignored), ICMPv6 ND and
# unreachable, SCTP, pycommunityid issue 3 (ports compared as numbers), port-less IP.
REFERENCE_TESTS = _rows(
    """
1 192.168.0.89 192.168.0.1 20 0 1:3o2RFccXzUgjl7zDpqmY7yJi8rI= de8d9115c717cd482397bcc3a6a998ef2262f2b2 1:lCXHHxavE1Vq3oX9NH5ladQg02o=
1 192.168.0.89 192.168.0.1 20 1 1:tz/fHIDUHs19NkixVVoOZywde+I= b73fdf1c80d41ecd7d3648b1555a0e672c1d7be2 1:Ie3wmFyxiEyikbsbcO03d2nh+PM=
1 192.168.0.1 192.168.0.89 0 20 1:X0snYXpgwiv9TZtqg64sgzUn6Dk= 5f4b27617a60c22bfd4d9b6a83ae2c833527e839 1:03g6IloqVBdcZlPyX8r0hgoE7kA=
58 fe80::200:86ff:fe05:80da fe80::260:97ff:fe07:69ea 135 0 1:dGHyGvjMfljg6Bppwm3bg0LO8TY= 7461f21af8cc7e58e0e81a69c26ddb8342cef136 1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY=
58 fe80::260:97ff:fe07:69ea fe80::200:86ff:fe05:80da 136 0 1:dGHyGvjMfljg6Bppwm3bg0LO8TY= 7461f21af8cc7e58e0e81a69c26ddb8342cef136 1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY=
58 3ffe:507:0:1:260:97ff:fe07:69ea 3ffe:507:0:1:200:86ff:fe05:80da 3 0 1:NdobDX8PQNJbAyfkWxhtL2Pqp5w= 35da1b0d7f0f40d25b0327e45b186d2f63eaa79c 1:OlOWx9psIbBFi7lOCw/4MhlKR9M=
58 3ffe:507:0:1:200:86ff:fe05:80da 3ffe:507:0:1:260:97ff:fe07:69ea 3 0 1:/OGBt9BN1ofenrmSPWYicpij2Vc= fce181b7d04dd687de9eb9923d66227298a3d957 1:Ij4ZxnC87/MXzhOjvH2vHu7LRmE=
132 192.168.170.8 192.168.170.56 7 80 1:jQgCxbku+pNGw8WPbEc/TS/uTpQ= 8d0802c5b92efa9346c3c58f6c473f4d2fee4e94 1:Y1/0jQg6e+I3ZwZZ9LP65DNbTXU=
132 192.168.170.56 192.168.170.8 80 7 1:jQgCxbku+pNGw8WPbEc/TS/uTpQ= 8d0802c5b92efa9346c3c58f6c473f4d2fee4e94 1:Y1/0jQg6e+I3ZwZZ9LP65DNbTXU=
6 10.0.0.1 10.0.0.2 10 11569 1:SXBGMX1lBOwhhoDrZynfROxnhnM= 497046317d6504ec218680eb6729df44ec678673 1:HmBRGR+fUyXF4t8WEtal7Y0gEAo=
46 10.1.24.4 10.1.12.1 - - 1:/nQI4Rh/TtY3mf0R2gJFBkVlgS4= fe7408e1187f4ed63799fd11da0245064565812e 1:BK3BVW3U2eemuwVQVN3zd/GULno=
46 10.1.12.1 10.1.24.4 - - 1:/nQI4Rh/TtY3mf0R2gJFBkVlgS4= fe7408e1187f4ed63799fd11da0245064565812e 1:BK3BVW3U2eemuwVQVN3zd/GULno=
"""
)


@pytest.mark.parametrize(("proto", "src", "dst", "sport", "dport", "seed0", "seed1"), SPEC_TABLE + SPEC_JSON)
def test_spec_baseline(proto, src, dst, sport, dport, seed0, seed1):
    assert community_id(src, dst, proto, sport, dport) == seed0
    assert community_id(src, dst, proto, sport, dport, seed=1) == seed1


@pytest.mark.parametrize(("proto", "src", "dst", "sport", "dport", "seed0", "hex0", "seed1"), REFERENCE_TESTS)
def test_reference_implementation_vectors(proto, src, dst, sport, dport, seed0, hex0, seed1):
    assert community_id(src, dst, proto, sport, dport) == seed0
    assert community_id_digest(src, dst, proto, sport, dport).hex() == hex0
    assert community_id(src, dst, proto, sport, dport, seed=1) == seed1
    # packed addresses, as taken from a packet header, give the same value
    packed = (ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed)
    assert community_id(*packed, proto, sport, dport) == seed0


def test_spec_readme_ordering_example():
    # README: both tuples are ordered into 10.0.0.1, 127.0.0.1, 1234, 80.
    assert community_id("10.0.0.1", "127.0.0.1", 6, 1234, 80) == community_id(
        "127.0.0.1", "10.0.0.1", 6, 80, 1234
    )


def test_equal_addresses_ordered_by_port():
    a = community_id("10.0.0.1", "10.0.0.1", 6, 5000, 80)
    assert a == community_id("10.0.0.1", "10.0.0.1", 6, 80, 5000)
    assert a != community_id("10.0.0.1", "10.0.0.1", 6, 5000, 81)


def test_both_directions_match_for_random_flows():
    rng = random.Random(5)
    for _ in range(300):
        v6 = rng.random() < 0.5
        bits = 128 if v6 else 32
        make = ipaddress.IPv6Address if v6 else ipaddress.IPv4Address
        a, b = str(make(rng.getrandbits(bits))), str(make(rng.getrandbits(bits)))
        proto = rng.choice([6, 17, 132, 47, 50])
        sp, dp = rng.randrange(65536), rng.randrange(65536)
        assert community_id(a, b, proto, sp, dp) == community_id(b, a, proto, dp, sp)


def test_icmp_mapping():
    assert icmp_port_equivalents(1, 8, 0) == (8, 0, False)
    assert icmp_port_equivalents(1, 0, 5) == (0, 8, False)
    assert icmp_port_equivalents(1, 3, 1) == (3, 1, True)
    assert icmp_port_equivalents(58, 128, 0) == (128, 129, False)
    assert icmp_port_equivalents(58, 1, 4) == (1, 4, True)
    # one-way messages keep their direction
    assert community_id("1.2.3.4", "5.6.7.8", 1, 3, 1) != community_id("5.6.7.8", "1.2.3.4", 1, 3, 1)


def test_ports_ignored_for_portless_protocols():
    assert community_id("1.2.3.4", "5.6.7.8", 46, 1, 2) == "1:ikv3kmf89luf73WPz1jOs49S768="


@pytest.mark.parametrize(
    "args",
    [
        ("1.2.3.4", "::1", 6, 1, 2),  # mixed IP versions
        ("1.2.3.4", "5.6.7.8", 6, None, 80),  # missing port
        ("1.2.3.4", "5.6.7.8", 1, None, None),  # ICMP without type/code
        ("not-an-ip", "5.6.7.8", 6, 1, 2),
        ("1.2.3.4", "5.6.7.8", 6, 1, 70000),
        ("1.2.3.4", "5.6.7.8", 256, None, None),
        (b"\x01\x02\x03", "5.6.7.8", 6, 1, 2),
    ],
)
def test_bad_input_raises_value_error(args):
    with pytest.raises(ValueError):
        community_id(*args)


# --- tshark's communityid post-dissector on the corpus -------------------------------------

TSHARK_FILES = [
    "plaso/test.pcap",  # IPv4 + IPv6 TCP/UDP
    "chrissanders-packets/icmp_traceroute.pcapng",  # ICMP echo and time exceeded
    "chrissanders-packets/http_ip4and6.pcapng",  # IPv6 TCP
    "chrissanders-packets/sessionhijacking.pcapng",  # a port-less protocol
    "zeek-traces/dns/mdns.pcap",  # ICMPv6 MLD behind hop-by-hop, IGMP, IPv6 UDP
    "zeek-traces/linux_dlt_sll2.pcap",  # ICMP and ICMPv6 echo
    "zeek-traces/dns-edns-ecs.pcap",  # IPv4/IPv6 UDP, fragments
    "zeek-traces/smtp-attachment-msg.pcap",  # IPv6 TCP
]
_FIELDS = [
    "frame.number",
    "ip.src",
    "ip.dst",
    "ip.proto",
    "ip.flags.mf",
    "ip.frag_offset",
    "ipv6.src",
    "ipv6.dst",
    "ipv6.nxt",
    "ipv6.fragment",
    "tcp.srcport",
    "tcp.dstport",
    "udp.srcport",
    "udp.dstport",
    "sctp.srcport",
    "sctp.dstport",
    "icmp.type",
    "icmp.code",
    "icmpv6.type",
    "icmpv6.code",
    "communityid",
]


def _tshark_rows(path: Path) -> list[dict[str, str]]:
    cmd = [
        "tshark",
        "-n",
        "-r",
        str(path),
        "--enable-protocol",
        "communityid",
        "-T",
        "fields",
        "-E",
        "separator=|",
    ]
    for field in _FIELDS:
        cmd += ["-e", field]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [dict(zip(_FIELDS, line.split("|"), strict=True)) for line in out.splitlines()]


def _expected_from_tshark(row: dict[str, str]) -> tuple | None:
    """The flow tuple tshark decoded, or None when the frame is not a plain single-IP packet."""
    if row["ip.src"]:
        src, dst = row["ip.src"], row["ip.dst"]
        if "," in src or row["ip.flags.mf"] == "1" or row["ip.frag_offset"] not in ("", "0"):
            return None  # tunnels / ICMP errors quoting a packet / fragments
    elif row["ipv6.src"]:
        src, dst = row["ipv6.src"], row["ipv6.dst"]
        if "," in src or row["ipv6.fragment"]:
            return None
    else:
        return None
    for proto, sport, dport in (
        (6, "tcp.srcport", "tcp.dstport"),
        (17, "udp.srcport", "udp.dstport"),
        (132, "sctp.srcport", "sctp.dstport"),
        (1, "icmp.type", "icmp.code"),
        (58, "icmpv6.type", "icmpv6.code"),
    ):
        if row[sport]:
            if "," in row[sport]:
                return None
            return src, dst, proto, int(row[sport]), int(row[dport])
    last = (row["ip.proto"] or row["ipv6.nxt"]).split(",")[-1]
    return src, dst, int(last), None, None


@pytest.fixture(scope="module")
def tshark_with_community_id() -> str:
    exe = shutil.which("tshark")
    if exe is None:
        pytest.skip("tshark is not installed (apt-get install tshark)")
    protocols = subprocess.run([exe, "-G", "protocols"], capture_output=True, text=True).stdout
    if "\tcommunityid\t" not in protocols and "\tcommunityid\n" not in protocols:
        pytest.skip("this tshark has no communityid post-dissector (Wireshark >= 3.4 needed)")
    return exe


@pytest.mark.parametrize("name", TSHARK_FILES)
def test_matches_tshark_on_corpus(corpus, tshark_with_community_id, name):
    path = corpus / "pcap" / name
    compared = 0
    for row in _tshark_rows(path):
        flow = _expected_from_tshark(row)
        if flow is None or not row["communityid"]:
            continue
        assert community_id(*flow) == row["communityid"], (name, row["frame.number"], flow)
        compared += 1
    assert compared > 0
