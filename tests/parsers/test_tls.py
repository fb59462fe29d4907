"""TLS hello parsing and JA3 / JA3S / JA4 against the specs' vectors, tshark and the corpus."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import dpkt
import pytest

from parsers.network import tls

# --- building hellos from the specs' field lists -------------------------------------------


def _u16s(values) -> bytes:
    return b"".join(v.to_bytes(2, "big") for v in values)


def _vec16(data: bytes) -> bytes:
    return len(data).to_bytes(2, "big") + data


def _vec8(data: bytes) -> bytes:
    return bytes([len(data)]) + data


def ext_sni(name: str) -> bytes:
    host = name.encode()
    return _vec16(b"\x00" + _vec16(host))


def ext_alpn(*protocols: bytes) -> bytes:
    return _vec16(b"".join(_vec8(p) for p in protocols))


def ext_u16_list(values) -> bytes:  # supported_groups, signature_algorithms
    return _vec16(_u16s(values))


def ext_versions(values) -> bytes:
    return _vec8(_u16s(values))


def client_hello(ciphers, extensions, *, version=0x0303, session_id=b"\x11" * 32) -> bytes:
    """A ClientHello handshake message; ``extensions`` are (type, body) pairs or None for none."""
    body = version.to_bytes(2, "big") + bytes(range(32)) + _vec8(session_id) + _vec16(_u16s(ciphers))
    body += b"\x01\x00"
    if extensions is not None:
        body += _vec16(b"".join(t.to_bytes(2, "big") + _vec16(d) for t, d in extensions))
    return b"\x01" + len(body).to_bytes(3, "big") + body


def records(message: bytes, *, version=0x0301, size: int = 1 << 14) -> bytes:
    """The message in TLS handshake records of at most ``size`` bytes each."""
    out = b""
    for i in range(0, len(message), size):
        chunk = message[i : i + size]
        out += b"\x16" + version.to_bytes(2, "big") + len(chunk).to_bytes(2, "big") + chunk
    return out


def _hexes(text: str) -> list[int]:
    return [int(v, 16) for v in text.split(",")]


def hello_from_lists(
    ciphers: str,
    exts: str,
    sigs: str,
    *,
    sni="example.com",
    alpn=(b"h2", b"http/1.1"),
    groups="001d,0017,0018",
    versions="0304,0303",
):
    """A ClientHello with the spec's comma-separated hex lists; extension bodies are made up
    where the fingerprint does not look inside them."""
    bodies = {
        0x0000: ext_sni(sni),
        0x0010: ext_alpn(*alpn),
        0x000D: ext_u16_list(_hexes(sigs) if sigs else []),
        0x000A: ext_u16_list(_hexes(groups)),
        0x000B: _vec8(b"\x00"),
        0x002B: ext_versions(_hexes(versions)),
    }
    extensions = [(e, bodies.get(e, b"")) for e in _hexes(exts)]
    return client_hello(_hexes(ciphers), extensions)


# --- JA4 spec (FoxIO technical_details/JA4.md, "Cipher hash" / "Extension hash" / "Raw Output")

SPEC_CIPHERS = "1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035"
SPEC_EXTS = "001b,0000,0033,0010,4469,0017,002d,000d,0005,0023,0012,002b,ff01,000b,000a,0015"
SPEC_SIGS = "0403,0804,0401,0503,0805,0501,0806,0601"


def test_ja4_spec_example():
    hello = tls.parse_client_hello(records(hello_from_lists(SPEC_CIPHERS, SPEC_EXTS, SPEC_SIGS)))
    assert hello is not None
    assert tls.ja4(hello) == "t13d1516h2_8daaf6152771_e5627efa2ab1"
    assert tls.ja4_raw(hello) == (
        "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_"
        "0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_"
        "0403,0804,0401,0503,0805,0501,0806,0601"
    )
    assert tls.ja4_raw(hello, original=True) == (
        "t13d1516h2_1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035_"
        "001b,0000,0033,0010,4469,0017,002d,000d,0005,0023,0012,002b,ff01,000b,000a,0015_"
        "0403,0804,0401,0503,0805,0501,0806,0601"
    )
    assert tls.ja4(hello, original=True) == "t13d1516h2_acb858a92679_18f69afefd3d"
    assert tls.ja4(hello, "q").startswith("q13d1516h2_")


def test_ja4_spec_without_signature_algorithms():
    # "If there are no signature algorithms in the hello packet, then the string ends without
    # an underscore and is hashed": 0005,...,ff01 = 6d807ffa2a79.
    hello = tls.parse_client_hello(records(hello_from_lists(SPEC_CIPHERS, SPEC_EXTS, "")))
    assert tls.ja4(hello) == "t13d1516h2_8daaf6152771_6d807ffa2a79"


def test_ja4_ignores_grease_everywhere():
    # FoxIO test capture sigalg-grease.pcapng (python/test/testdata/sigalg-grease.pcapng.json and
    # the Rust snapshot): its JA4_ro gives the wire order; GREASE cipher, extensions, version,
    # group and signature algorithm are added here as the capture's name says.
    ciphers = "0a0a," + SPEC_CIPHERS
    exts = "2a2a,fe0d,0010,0017,0033,44cd,ff01,000a,000d,0023,002b,000b,ca34,002d,0000,0005,001b,0012,3a3a"
    sigs = "5a5a,0904,0905,0906,0403,0804,0401,0503,0805,0501,0806,0601"
    message = hello_from_lists(
        ciphers,
        exts,
        sigs,
        sni="optimizationguide-pa.googleapis.com",
        groups="6a6a,001d",
        versions="7a7a,0304,0303",
    )
    hello = tls.parse_client_hello(records(message))
    assert 0x5A5A in hello.signature_algorithms and 0x6A6A in hello.supported_groups
    assert hello.supported_versions[0] == 0x7A7A and hello.version == 0x0304
    assert tls.ja4(hello) == "t13d1517h2_8daaf6152771_cb7bf5808d99"
    assert tls.ja4(hello, original=True) == "t13d1517h2_acb858a92679_88bf22a3e888"
    assert tls.ja4_raw(hello) == (
        "t13d1517h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_"
        "0005,000a,000b,000d,0012,0017,001b,0023,002b,002d,0033,44cd,ca34,fe0d,ff01_"
        "0904,0905,0906,0403,0804,0401,0503,0805,0501,0806,0601"
    )


def test_ja3_and_ja4_agree_on_one_chrome_hello():
    # browserleaks.com output for Chrome 143 on Android (recorded in the public repository
    # service0427/v2_cp_app, tls.md): ja3_text, ja3_hash, ja4 and ja4_o of one ClientHello.
    exts = "002d,0033,0010,fe0d,0017,44cd,0000,000b,000a,002b,ff01,0023,0012,0005,000d,001b"
    message = hello_from_lists(SPEC_CIPHERS, exts, SPEC_SIGS, groups="11ec,001d,0017,0018")
    hello = tls.parse_client_hello(records(message))
    assert tls.ja3_string(hello) == (
        "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,"
        "45-51-16-65037-23-17613-0-11-10-43-65281-35-18-5-13-27,4588-29-23-24,0"
    )
    assert tls.ja3(hello) == "98487aa16281980e7d1120d399efb6a4"
    assert tls.ja4(hello) == "t13d1516h2_8daaf6152771_d8a2da3f94cd"
    assert tls.ja4(hello, original=True) == "t13d1516h2_acb858a92679_f96a17c57971"


# --- JA3 README (github.com/salesforce/ja3) ------------------------------------------------


def test_ja3_readme_examples():
    with_ext = client_hello(
        [47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4],
        [(0, ext_sni("example.org")), (10, ext_u16_list([23, 24, 25])), (11, _vec8(b"\x00"))],
        version=0x0301,
    )
    hello = tls.parse_client_hello(records(with_ext))
    assert tls.ja3_string(hello) == "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0"
    assert tls.ja3(hello) == "ada70206e40642a3e4461f35503241d5"

    bare = client_hello([4, 5, 10, 9, 100, 98, 3, 6, 19, 18, 99], None, version=0x0301)
    hello = tls.parse_client_hello(records(bare))
    assert hello.extensions == ()
    assert tls.ja3_string(hello) == "769,4-5-10-9-100-98-3-6-19-18-99,,,"
    assert tls.ja3(hello) == "de350869b8c85de67a350c8d186f11e6"
    assert tls.ja4(hello) == "t10i110000_3609b414f052_000000000000"


def test_ja3_drops_grease():
    message = client_hello(
        [0x1A1A, 4865, 4866],
        [(0x0A0A, b""), (10, ext_u16_list([0x2A2A, 29, 23])), (11, _vec8(b"\x00")), (0xFAFA, b"\x00")],
    )
    hello = tls.parse_client_hello(records(message))
    assert hello.cipher_suites == (0x1A1A, 4865, 4866)  # kept as seen
    assert tls.ja3_string(hello) == "771,4865-4866,10-11,29-23,0"


# --- ALPN rules of JA4 ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("protocols", "expected"),
    [
        ((b"h2", b"http/1.1"), "h2"),
        ((b"http/1.1",), "h1"),
        ((b"h",), "hh"),  # one character is both first and last
        ((), "00"),
        ((b"",), "00"),
        # non-alphanumeric first or last byte: first and last characters of the hex (JA4.md)
        ((b"\xab",), "ab"),
        ((b"\xab\xcd",), "ad"),
        ((b"\x30\xab",), "3b"),
        ((b"\x30\x31\xab\xcd",), "3d"),
        ((b"\x30\xab\xcd\x31",), "01"),
    ],
)
def test_ja4_alpn_characters(protocols, expected):
    extensions = [(0x0010, ext_alpn(*protocols))] if protocols else []
    hello = tls.parse_client_hello(records(client_hello([0x1301], extensions)))
    assert tls.ja4(hello)[8:10] == expected


def test_ja4_version_and_counts():
    many = client_hello(list(range(1, 120)), [(0x002B, ext_versions([0x7A7A, 0x0304, 0x0303]))])
    hello = tls.parse_client_hello(records(many))
    assert hello.version == 0x0304
    assert tls.ja4(hello).startswith("t13i9901")  # counts stop at 99
    old = tls.parse_client_hello(records(client_hello([0x0004], [], version=0x0300)))
    assert tls.ja4(old).startswith("ts3i")
    odd = tls.parse_client_hello(records(client_hello([0x0004], [], version=0x0399)))
    assert tls.ja4(odd).startswith("t00i")
    with pytest.raises(ValueError):
        tls.ja4(hello, "x")


# --- record layer, reassembly, garbage ------------------------------------------------------


def _spec_message() -> bytes:
    return hello_from_lists(SPEC_CIPHERS, SPEC_EXTS, SPEC_SIGS)


def test_hello_split_across_records_and_segments():
    message = _spec_message()
    whole = tls.parse_client_hello(records(message))
    stream = records(message, size=37) + b"\x17\x03\x03\x00\x05hello"  # then application data
    split = tls.parse_client_hello(stream)
    assert split == whole
    assert split.record_version == 0x0301
    assert split.server_name == "example.com"
    assert split.alpn == ("h2", "http/1.1")
    assert split.supported_versions == (0x0304, 0x0303)
    assert split.signature_algorithms == tuple(_hexes(SPEC_SIGS))
    assert split.supported_groups == (0x001D, 0x0017, 0x0018)
    assert split.ec_point_formats == (0,)
    assert tls.handshake_missing_bytes(stream) == 0
    # every proper prefix (the first TCP segments of a longer hello) is incomplete, never wrong
    hello_records = records(message, size=37)
    for cut in range(len(hello_records)):
        prefix = hello_records[:cut]
        assert tls.parse_client_hello(prefix) is None
        missing = tls.handshake_missing_bytes(prefix)
        assert missing is not None and missing > 0
        assert cut + missing <= len(hello_records)


def test_bare_message_and_wrong_direction():
    message = _spec_message()
    bare = tls.parse_client_hello_message(message)
    framed = tls.parse_client_hello(records(message))
    assert bare.record_version is None and framed.record_version == 0x0301
    assert {**_fields(bare), "record_version": 0x0301} == _fields(framed)
    assert tls.parse_server_hello(records(message)) is None
    assert tls.handshake_missing_bytes(records(message), server=True) is None
    assert tls.parse_client_hello_message(message[:-1]) is None


def _fields(hello) -> dict:
    return {name: getattr(hello, name) for name in hello.__slots__}


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"GET / HTTP/1.1\r\n\r\n",
        b"SSH-2.0-OpenSSH_8.9\r\n",
        b"\x16\x03\x01\x00\x00",  # empty record
        b"\x16\x03\x01\x40\x01" + b"\x01" * 20,  # record too long
        b"\x15\x03\x03\x00\x02\x02\x28",  # an alert
        b"\x80\x2e\x01\x00\x02",  # SSLv2-compatible ClientHello: not parsed
        b"\x16\x03\x01\x00\x04\x01\x00\x00\x00",  # ClientHello with an empty body
    ],
)
def test_not_a_hello(data):
    assert tls.parse_client_hello(data) is None
    assert tls.parse_server_hello(data) is None


def test_implausible_length_stops_buffering():
    huge = b"\x16\x03\x01\x00\x09\x01\xff\xff\xff" + b"\x03\x03\x00\x00\x00"
    assert tls.handshake_missing_bytes(huge) is None
    plausible = b"\x16\x03\x01\x00\x09\x01\x00\x10\x00" + b"\x03\x03\x00\x00\x00"
    # a next record header (5) and the rest of the 4 + 0x1000 byte message (9 are here)
    assert tls.handshake_missing_bytes(plausible) == 5 + (4 + 0x1000 - 9)


def test_random_bytes_and_mutations_never_raise():
    rng = random.Random(8701)
    message = records(_spec_message(), size=200)
    for _ in range(3000):
        kind = rng.random()
        if kind < 0.3:
            data = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 300)))
        elif kind < 0.5:
            data = b"\x16\x03\x01" + bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 300)))
        else:
            data = bytearray(message)
            for _ in range(rng.randrange(1, 6)):
                data[rng.randrange(len(data))] = rng.getrandbits(8)
            data = bytes(data[: rng.randrange(len(data) + 1)])
        for server, parse in ((False, tls.parse_client_hello), (True, tls.parse_server_hello)):
            hello = parse(data)
            if hello is not None:  # whatever parses is complete and must fingerprint
                assert tls.handshake_missing_bytes(data, server=server) == 0
                if isinstance(hello, tls.ClientHello):
                    tls.ja3(hello)
                    tls.ja4(hello)
                    tls.ja4_raw(hello, original=True)
                else:
                    tls.ja3s(hello)
        tls.handshake_missing_bytes(data)
        tls.parse_client_hello_message(data)
        tls.parse_server_hello_message(data)


def test_malformed_extension_keeps_its_type():
    message = client_hello([0x1301], [(0x0000, b"\x00\x09\x00"), (0x0010, b"\xff"), (0x002B, b"")])
    hello = tls.parse_client_hello(records(message))
    assert hello.extensions == (0x0000, 0x0010, 0x002B)
    assert hello.server_name is None and hello.alpn == () and hello.supported_versions == ()
    assert tls.ja4(hello).startswith("t12d010300_")


def test_version_names_follow_zeek():
    assert [tls.version_name(v) for v in (0x0300, 0x0301, 0x0303, 0x0304, 0xFEFD)] == [
        "SSLv3",
        "TLSv10",
        "TLSv12",
        "TLSv13",
        "DTLSv12",
    ]
    assert tls.version_name(0x7A7A) == "unknown-31354"


def test_is_grease():
    assert [v for v in range(0x10000) if tls.is_grease(v)] == [0x0A0A + 0x1010 * i for i in range(16)]


# --- QUIC: a ClientHello without record layer ------------------------------------------------

# The ClientHello and ServerHello handshake messages of zeek-traces/quic/curl-8.1.2-dev-http3-
# www-google-de.pcap, decrypted from the QUIC Initial packets by tshark 4.0.17
# (`-T json -x`, field tls.handshake_raw). tshark's JA3/JA3S of them are asserted below.
QUIC_CLIENT_HELLO = bytes.fromhex(
    "01000107030349603f8f6037a9b3d7a454fe1a415dcff179df935c2e0fddf5df2ef1c8da4cc80000061301130213"
    "03010000d800000012001000000d7777772e676f6f676c652e6465000a00080006001d0017001800100017001502"
    "68330568332d32390568332d32380568332d3237000d001400120403080404010503080505010806060102010033"
    "00260024001d0020784cdcf700b230314d6957f5dbd7c2c03e0ee11fc64b40928c4111fc4d604b19002d00020101"
    "002b0003020304003900480102538803048000fff704048010000005048002000006048002000007048002000008"
    "024064090240640a01030b01190c000f14e5ec6b26584229be98a164349ae910351c40d10b"
)
QUIC_SERVER_HELLO = bytes.fromhex(
    "0200005603031ff5c4079b69042c6c3369314219a3a4baaa6fe5b7eb9774c873c827489bd21600130100002e0033"
    "0024001d0020f49ba420260401c38b1306c373042ff1b8ac368a88417af65d76b26c1a791f77002b00020304"
)


def test_quic_client_hello_from_the_corpus_capture():
    hello = tls.parse_client_hello_message(QUIC_CLIENT_HELLO)
    assert hello is not None and hello.record_version is None
    assert hello.server_name == "www.google.de"
    assert hello.alpn == ("h3", "h3-29", "h3-28", "h3-27")
    assert tls.ja3_string(hello) == "771,4865-4866-4867,0-10-16-13-51-45-43-57,29-23-24,"
    assert tls.ja3(hello) == "f75253b5e2b4dcb3fdae9b78ce8c6e49"  # tshark's tls.handshake.ja3
    assert tls.ja4(hello, "q") == "q13d0308h3_55b375c5d22e_f0736a66fa6b"
    server = tls.parse_server_hello_message(QUIC_SERVER_HELLO)
    assert server.version == 0x0304
    assert tls.ja3s_string(server) == "771,4865,51-43"
    assert tls.ja3s(server) == "eb1d94daa7e0344597e756a1fb6e7054"  # tshark's tls.handshake.ja3s


# --- the corpus captures ----------------------------------------------------------------------


def first_payloads(path: Path) -> dict[tuple[int, int], bytes]:
    """Each TCP direction's payload from its first segment, in sequence order, up to a gap
    (what a flow builder hands to the TLS parser). Keyed by (source port, destination port)."""
    segments: dict[tuple[int, int], dict[int, bytes]] = {}
    with path.open("rb") as fh:
        reader = dpkt.pcap.Reader(fh)
        for _ts, frame in reader:
            ip = dpkt.ethernet.Ethernet(frame).data
            if not isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)) or not isinstance(ip.data, dpkt.tcp.TCP):
                continue
            tcp = ip.data
            if tcp.data:
                segments.setdefault((tcp.sport, tcp.dport), {}).setdefault(tcp.seq, bytes(tcp.data))
    streams = {}
    for key, by_seq in segments.items():
        first, data = min(by_seq), b""
        for seq in sorted(by_seq):
            offset = seq - first
            if offset > len(data):
                break
            data += by_seq[seq][len(data) - offset :]
        streams[key] = data
    return streams


# (capture, client port, JA3, JA3S, JA4, SNI). JA3/JA3S are tshark 4.0.17's
# tls.handshake.ja3/ja3s of the same hellos; JA4 (tshark 4.0 has none) was checked against an
# independent implementation (the ja4plus package, 1.4.0) on the same bytes.
CORPUS_HELLOS = [
    (
        "plaso/test.pcap",
        1046,
        "85c420ab089dac5025034444789a8fb5",
        "e07f21892995126f4b539c02215c8456",
        "t10d360500_77f462745360_51f6d7389324",
        "www.google.com",
    ),
    (
        "plaso/test.pcap",
        1049,
        "85c420ab089dac5025034444789a8fb5",
        "d965ef789755d847e466aa5682436fca",
        "t10d360500_77f462745360_51f6d7389324",
        "ssl.gstatic.com",
    ),
    (
        "plaso/test.pcap",
        1065,
        "c8a0d08d2cbee4bed7cd90e47588ab9b",
        "280ca4511bfaa384b2e931c058e8816e",
        "t10i110100_3609b414f052_bc98f8e001b5",
        None,
    ),
    (
        "zeek-traces/smtp.pcap",
        49655,
        "799135475da362592a4be9199d258726",
        "c253ec3ad88e42f8da4032682892f9a0",
        "t12d370500_07a749158664_d075105c1994",
        "p31-keyvalueservice.icloud.com",
    ),
    (
        "zeek-traces/tls/client-certificate.pcap",
        49480,
        "579ccef312d18482fc42e2b822ca2430",
        "d154fcfa5bb4f0748e1dd1992c681104",
        "t13d1715h2_5b57614c22b0_3d5424432f57",
        "certauth.idrix.fr",
    ),
    (
        "zeek-traces/tls/ecdhe.pcap",
        56981,
        "29d8afc9e0a4d38d138ec2643966815f",
        "a8d2a5625ef8f3aada2fb53dad3f2921",
        "t12i020500_d0ac5cb1209a_a1e935682795",
        None,
    ),
    (
        "zeek-traces/tls/heartbleed-encrypted.pcap",
        56323,
        "20c9baf81bfe96ff89722899e75d0190",
        "699a80bdb17efe157c861f92c5bf5d1d",
        "t12d130600_2d7513195f68_021165082e1c",
        "www.lilawelt.net",
    ),
    (
        "zeek-traces/tls/heartbleed.pcap",
        46592,
        "0fbff214b79f536d55d3d39fb31f4d8d",
        "a95ca7eab4d47d051a5cd4fb7b6005dc",
        "t12i640400_2797659a203c_354ff7b397c3",
        None,
    ),
    (
        "zeek-traces/tls/missing-intermediate.pcap",
        58529,
        "99faefb55d94da8c713fd5c89f8dc5a1",
        "53611273a714cb4789c8222932efd5a7",
        "t12i740500_c43983326036_a1e935682795",
        None,
    ),
    (
        "zeek-traces/tls/missing-intermediate.pcap",
        58530,
        "99faefb55d94da8c713fd5c89f8dc5a1",
        "f6e234011390444c303f74d09d87322d",
        "t12i740500_c43983326036_a1e935682795",
        None,
    ),
    (
        "zeek-traces/tls/tls-expired-cert.pcap",
        60540,
        "bd9c99b3a0f752c3ab8b052a79e9de3e",
        "ab1e32eeaf70ee94c0af00f08d126891",
        "t12i800500_15c493246000_a1e935682795",
        None,
    ),
    (
        "zeek-traces/tls/tls1.2.pcap",
        56637,
        "bd9c99b3a0f752c3ab8b052a79e9de3e",
        "c253ec3ad88e42f8da4032682892f9a0",
        "t12i800500_15c493246000_3eafcbe19126",
        None,
    ),
    (
        "zeek-traces/tls/tls13-ech.pcap",
        51066,
        "2fcbf8655473005933c5869b2b5d8044",
        "f4febc55ea12b31ae17cfb7e614afda8",
        "t13d1517h2_8daaf6152771_b1ff8ab2d16f",
        "cloudflare-ech.com",
    ),
    (
        "zeek-traces/tls/tls13-ech.pcap",
        51071,
        "fa58f5ffd45a2d590a1677134966dc64",
        "f4febc55ea12b31ae17cfb7e614afda8",
        "t13d1517h2_8daaf6152771_b1ff8ab2d16f",
        "cloudflare-ech.com",
    ),
    (
        "zeek-traces/tls/tls13_wolfssl.pcap",
        43056,
        "39cef737bf0cabc32c28f95d09b97702",
        "907bf3ecef1c987c889946b737b43de8",
        "t13i010600_ee47968ec53b_5af53a18c712",
        None,
    ),
]


def _server_of(streams: dict[tuple[int, int], bytes], client_port: int) -> tuple[bytes, bytes]:
    ((key, data),) = [(k, v) for k, v in streams.items() if k[0] == client_port]
    return data, streams[(key[1], key[0])]


@pytest.mark.parametrize(("name", "port", "ja3", "ja3s", "ja4", "sni"), CORPUS_HELLOS)
def test_corpus_hellos(corpus, name, port, ja3, ja3s, ja4, sni):
    client, server = _server_of(first_payloads(corpus / "pcap" / name), port)
    hello = tls.parse_client_hello(client)
    assert hello is not None
    assert (tls.ja3(hello), tls.ja4(hello), hello.server_name) == (ja3, ja4, sni)
    server_hello = tls.parse_server_hello(server)
    assert server_hello is not None
    assert tls.ja3s(server_hello) == ja3s


def test_corpus_tls13_server_hello(corpus):
    _client, server = _server_of(first_payloads(corpus / "pcap/zeek-traces/tls/tls13-ech.pcap"), 51066)
    hello = tls.parse_server_hello(server)
    assert (hello.legacy_version, hello.version, hello.cipher_suite) == (0x0303, 0x0304, 0x1301)
    assert not hello.is_hello_retry_request
    _client, server = _server_of(
        first_payloads(corpus / "pcap/zeek-traces/tls/client-certificate.pcap"), 49480
    )
    assert tls.parse_server_hello(server).alpn == "http/1.1"


def test_corpus_starttls(corpus):
    # LDAP StartTLS: TLS begins mid-stream; the caller hands over the payload from there.
    streams = first_payloads(corpus / "pcap/zeek-traces/ldap/ldap-starttls.pcap")
    client = next(v for (sp, dp), v in streams.items() if dp == 389)
    assert tls.parse_client_hello(client) is None
    hello = tls.parse_client_hello(client[client.index(b"\x16\x03") :])
    assert hello.server_name == "ubuntu-01.example.com"
    assert tls.ja3(hello) == "bbd93e4d01ef0837dc31289c0db204c4"  # tshark's tls.handshake.ja3


# --- live comparison with tshark, when installed ----------------------------------------------


@pytest.fixture(scope="module")
def tshark_ja3_fields() -> set[str]:
    exe = shutil.which("tshark")
    if exe is None:
        pytest.skip("tshark is not installed (apt-get install tshark)")
    listing = subprocess.run([exe, "-G", "fields"], capture_output=True, text=True).stdout
    fields = {line.split("\t")[2] for line in listing.splitlines() if line.startswith("F\t")}
    if "tls.handshake.ja3_full" not in fields:
        pytest.skip("this tshark has no JA3 fields")
    return fields


@pytest.mark.parametrize("name", sorted({row[0] for row in CORPUS_HELLOS}))
def test_matches_tshark(corpus, tshark_ja3_fields, name):
    path = corpus / "pcap" / name
    wanted = ["tcp.srcport", "tcp.dstport", "tls.handshake.ja3_full", "tls.handshake.ja3s_full"]
    has_ja4 = "tls.handshake.ja4" in tshark_ja3_fields  # Wireshark >= 4.2
    if has_ja4:
        wanted.append("tls.handshake.ja4")
    cmd = ["tshark", "-n", "-r", str(path), "-Y", "tls.handshake.type == 1 || tls.handshake.type == 2"]
    cmd += ["-T", "fields", "-E", "separator=|"] + [x for f in wanted for x in ("-e", f)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    streams = first_payloads(path)
    checked = 0
    for line in out.splitlines():
        row = dict(zip(wanted, line.split("|"), strict=True))
        data = streams[int(row["tcp.srcport"]), int(row["tcp.dstport"])]
        if row["tls.handshake.ja3_full"]:
            hello = tls.parse_client_hello(data)
            assert tls.ja3_string(hello) == row["tls.handshake.ja3_full"]
            if has_ja4:
                assert tls.ja4(hello) == row["tls.handshake.ja4"]
            checked += 1
        if row["tls.handshake.ja3s_full"]:
            assert tls.ja3s_string(tls.parse_server_hello(data)) == row["tls.handshake.ja3s_full"]
            checked += 1
    assert checked >= 2
