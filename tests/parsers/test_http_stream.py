"""HTTP/1.x stream inspection: handcrafted framing cases, then public captures checked against
Zeek's logs and tshark."""

from __future__ import annotations

import gzip
import hashlib
import io
import random
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from parsers.network import records
from parsers.network.capture import Packet, read_capture
from parsers.network.decode import Defragmenter, Segment, decode
from parsers.network.http import (
    MAX_HEADER,
    MAX_PENDING,
    Body,
    BodyInfo,
    HttpConversation,
    Transaction,
    file_uid,
    files_record,
    http_record,
    looks_like_http_request,
    looks_like_http_response,
    unescape_uri,
)

ORIG, RESP = ("10.0.0.5", 49152), ("203.0.113.9", 80)
T0 = 1_700_000_000_000_000_000


def run(exchanges, conv: HttpConversation | None = None, step: int | None = None) -> list[Transaction]:
    """Feed (from_orig, bytes) pieces in order (each piece its own packet, 1 ms apart; split
    further into ``step``-byte pieces when given) and end the connection."""
    conv = conv if conv is not None else HttpConversation()
    out: list[Transaction] = []
    for number, (from_orig, data) in enumerate(exchanges, 1):
        ts = T0 + number * 1_000_000
        pieces = [data] if step is None else [data[i : i + step] for i in range(0, len(data), step)]
        for piece in pieces:
            out += conv.data(from_orig, piece, ts, number)
    return out + conv.end(T0 + 10**9)


def request(method: str = "GET", uri: str = "/", headers: str = "", body: bytes = b"") -> bytes:
    head = f"{method} {uri} HTTP/1.1\r\nHost: example.com\r\n{headers}"
    if body:
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def response(status: str = "200 OK", headers: str = "", body: bytes = b"", length: bool = True) -> bytes:
    head = f"HTTP/1.1 {status}\r\n{headers}"
    if length:
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def zeek_time(ts_ns: int) -> str:
    return f"{ts_ns // 10**9}.{ts_ns % 10**9:09d}"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chunked(*parts: bytes, trailer: bytes = b"") -> bytes:
    return b"".join(b"%x;name=value\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n" + trailer + b"\r\n"


# --- framing ---------------------------------------------------------------------------------


def test_content_length_transaction_and_records():
    page = b"<!DOCTYPE html><html><body>hello</body></html>"
    txs = run(
        [
            (True, request(uri="/a%20b?q=1", headers="User-Agent: curl/8\r\nReferer: http://r/\r\n")),
            (False, response(headers="Content-Type: text/html\r\nServer: nginx\r\n", body=page)),
        ]
    )
    (tx,) = txs
    assert (tx.method, tx.uri, tx.version) == ("GET", "/a%20b?q=1", "1.1")
    assert (tx.host, tx.user_agent) == ("example.com", "curl/8")
    assert (tx.status_code, tx.status_msg, tx.response_version, tx.server) == (200, "OK", "1.1", "nginx")
    assert (tx.ts_ns, tx.packet, tx.trans_depth) == (T0 + 1_000_000, 1, 1)
    assert (tx.request_body_len, tx.response_body_len) == (0, len(page))
    assert tx.request_complete and tx.response_complete and tx.orig_body is None
    body = tx.resp_body
    assert (body.sha256, body.md5) == (sha256(page), hashlib.md5(page).hexdigest())
    assert body.size == body.total_bytes == len(page) == 46
    assert body.mime_type == "text/html" and body.complete

    record = http_record(tx, "CabcdefghijklmnopQ", ORIG, RESP)
    assert record["uri"] == "/a b?q=1"  # Zeek logs the unescaped URI
    assert record["id.orig_h"] == "10.0.0.5" and record["id.resp_p"] == 80
    assert record["resp_fuids"] == [file_uid("CabcdefghijklmnopQ", False, 1)]
    assert record["resp_mime_types"] == ["text/html"] and record["orig_fuids"] is None
    assert record["version"] == "1.1" and record["referrer"] == "http://r/"
    assert tx.record("CabcdefghijklmnopQ", ORIG, RESP) == record
    row, fields = records.to_row("http", dict(record, ts=zeek_time(record["ts"])))
    assert row["url_full"] == "http://example.com/a b?q=1" and row["event_code"] == "200"
    assert fields["trans_depth"] == "1" and fields["resp_mime_types"] == "text/html"

    files = files_record(body, "CabcdefghijklmnopQ", ORIG, RESP)
    assert files["fuid"] == record["resp_fuids"][0] and files["source"] == "HTTP"
    assert (files["seen_bytes"], files["total_bytes"], files["missing_bytes"]) == (46, 46, 0)
    assert files["sha256"] == sha256(page) and files["is_orig"] is False and files["ts"] == T0 + 2_000_000
    row, fields = records.to_row("files", dict(files, ts=zeek_time(files["ts"])))
    assert row["file_hash_sha256"] == sha256(page)


CHUNKED_CONVERSATION = [
    (True, request(uri="/one") + request(uri="/two")),
    (False, response(headers="Transfer-Encoding: chunked\r\n", length=False)
     + chunked(b"Wiki", b"pedia ", b"in\r\n\r\nchunks.", trailer=b"Expires: never\r\nX-Sum: 1\r\n")),
    (False, response(headers="Content-Encoding: gzip\r\n", body=gzip.compress(b"zipped " * 50, mtime=0))),
]  # fmt: skip


def test_chunked_with_extensions_and_trailer():
    first, second = run(CHUNKED_CONVERSATION)
    assert first.resp_body.sha256 == sha256(b"Wikipedia in\r\n\r\nchunks.")
    assert first.response_body_len == 23 and first.resp_body.total_bytes is None
    assert (second.uri, second.response_body_len) == ("/two", 350)  # the trailer was skipped


def test_byte_by_byte_gives_the_same_result():
    whole = [http_record(tx, "C1") for tx in run(CHUNKED_CONVERSATION)]
    for step in (1, 2, 3, 7):
        conv = HttpConversation()
        assert [http_record(tx, "C1") for tx in run(CHUNKED_CONVERSATION, conv, step)] == whole
        assert not conv.weirds


def test_body_delimited_by_close():
    conv = HttpConversation()
    assert conv.data(True, b"GET /x HTTP/1.0\r\n\r\n", T0, 1) == []
    head = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"
    assert conv.data(False, head + b"first part, ", T0 + 5, 2) == []
    assert conv.data(False, b"second part", T0 + 9, 3) == []  # not over until the connection is
    (tx,) = conv.end(T0 + 20)
    assert tx.response_body_len == 23 and tx.response_complete
    assert tx.resp_body.sha256 == sha256(b"first part, second part")
    assert (tx.resp_body.first_ts_ns, tx.resp_body.last_ts_ns) == (T0 + 5, T0 + 9)


def test_responses_without_bodies():
    txs = run(
        [
            (True, request("HEAD", "/big") + request(uri="/gone") + request(uri="/same") + request()),
            (False, response(headers="Content-Length: 100000\r\n", length=False)),  # HEAD: no body follows
            (False, response("204 No Content", headers="Content-Length: 5\r\n", length=False)),
            (False, response("304 Not Modified", headers="Content-Length: 5\r\n", length=False)),
            (False, response(body=b"final")),
        ]
    )
    assert [(t.uri, t.status_code, t.response_body_len) for t in txs] == [
        ("/big", 200, 0), ("/gone", 204, 0), ("/same", 304, 0), ("/", 200, 5)
    ]  # fmt: skip
    assert all(t.resp_body is None for t in txs[:3])


def test_100_continue_is_not_the_final_response():
    conv = HttpConversation()
    head = b"POST /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"
    assert conv.data(True, head, T0, 1) == []
    assert conv.data(False, b"HTTP/1.1 100 Continue\r\n\r\n", T0 + 1, 2) == []
    assert conv.data(True, b"DATA", T0 + 2, 3) == []
    (tx,) = conv.data(False, response("201 Created"), T0 + 3, 4)
    assert (tx.info_code, tx.info_msg, tx.status_code, tx.request_body_len) == (100, "Continue", 201, 4)
    assert tx.response_packet == 4 and tx.trans_depth == 1
    assert http_record(tx, "C")["info_code"] == 100


def test_pipelined_requests_pair_in_order():
    conv = HttpConversation()
    assert conv.data(True, request(uri="/1") + request("POST", "/2", body=b"xyz"), T0, 1) == []
    (first,) = conv.data(False, response(body=b"one"), T0 + 1, 2)
    (second,) = conv.data(False, response("404 Not Found", body=b"two!"), T0 + 2, 3)
    assert (first.uri, first.trans_depth, first.response_body_len) == ("/1", 1, 3)
    assert (second.uri, second.trans_depth, second.status_code, second.request_body_len) == ("/2", 2, 404, 3)
    assert second.packet == 1 and second.response_packet == 3
    assert conv.end(T0 + 3) == []


@pytest.mark.parametrize(
    "encoding, encode",
    [
        ("gzip", lambda d: gzip.compress(d, mtime=0)),
        ("x-gzip", lambda d: gzip.compress(d, mtime=0)),
        ("deflate", zlib.compress),  # zlib-wrapped, as RFC 9110 says
        ("deflate", lambda d: zlib.compress(d)[2:-4]),  # raw deflate, as some servers send
    ],
)
def test_content_encoding_is_decoded_before_hashing(encoding, encode):
    plain = b"MZ" + bytes(range(256)) * 300  # 76,802 bytes: more than one zlib output step
    captured = io.BytesIO()
    captured.close = lambda: None  # keep it readable after the conversation closes it
    conv = HttpConversation(lambda info: captured)
    answer = response(headers=f"Content-Encoding: {encoding}\r\n", body=encode(plain))
    (tx,) = run([(True, request()), (False, answer)], conv, 1000)
    body = tx.resp_body
    assert body.sha256 == sha256(plain) and body.size == tx.response_body_len == len(plain)
    assert body.total_bytes is None  # the declared length is of the encoded bytes
    assert body.mime_type == "application/x-dosexec" and captured.getvalue() == plain
    assert not conv.weirds and not tx.tags


def test_broken_gzip_falls_back_to_the_bytes_sent():
    conv = HttpConversation()
    answer = response(headers="Content-Encoding: gzip\r\n", body=b"plain, not gzip")
    (tx,) = run([(True, request()), (False, answer)], conv)
    assert tx.resp_body.sha256 == sha256(b"plain, not gzip") and tx.response_body_len == 15
    assert "content-encoding-not-decoded" in tx.tags
    assert conv.weirds["HTTP_content_decoding_failed"] == 1
    assert http_record(tx, "C")["tags"] == ["content-encoding-not-decoded"]


def test_gzip_cut_short_keeps_what_was_decoded():
    plain = bytes(random.Random(1).randbytes(5000)).hex().encode()
    encoded = gzip.compress(plain, mtime=0)
    conv = HttpConversation()
    answer = response(headers="Content-Encoding: gzip\r\n", length=False) + encoded[:-100]
    (tx,) = run([(True, request()), (False, answer)], conv)
    assert 0 < tx.response_body_len < len(plain) and plain.startswith(tx.resp_body.head)
    assert conv.weirds["HTTP_encoded_body_truncated"] == 1


def test_gap_inside_a_body_is_counted_and_reading_goes_on():
    data = bytes(range(100))
    captured = io.BytesIO()
    captured.close = lambda: None
    conv = HttpConversation(lambda info: captured)
    conv.data(True, request(uri="/f") + request(uri="/next"), T0, 1)
    conv.data(False, response(headers="Content-Length: 100\r\n", length=False) + data[:30], T0 + 1, 2)
    conv.gap(False, 40)
    (tx,) = conv.data(False, data[70:], T0 + 2, 3)
    assert tx.resp_body.missing_bytes == 40 and tx.resp_body.size == 60 and tx.response_body_len == 100
    assert tx.resp_body.sha256 == sha256(data[:30] + data[70:])  # the captured bytes
    assert captured.getvalue() == data[:30] + bytes(40) + data[70:]  # zeros keep the offsets right
    record = files_record(tx.resp_body, "C")
    assert record["missing_bytes"] == 40 and record["sha256"] is None  # Zeek reports no hash then
    (after,) = run([(False, response(body=b"ok"))], conv)
    assert (after.uri, after.response_body_len) == ("/next", 2)


def test_gap_in_headers_resynchronises_at_the_next_message():
    conv = HttpConversation()
    conv.data(True, b"GET /lost HTTP/1.1\r\nHost: a\r\nUser-Ag", T0, 1)
    conv.gap(True, 500)
    conv.data(True, b"ent: x\r\n\r\nstray bytes\r\n" + request(uri="/found"), T0 + 1, 2)
    (tx,) = conv.data(False, response(body=b"!"), T0 + 2, 3)
    assert (tx.uri, tx.status_code) == ("/found", 200)
    assert conv.weirds["HTTP_resynchronised"] == 1 and conv.wants_more()


def test_response_without_request():
    conv = HttpConversation()
    (tx,) = run([(False, response(body=b"late"))], conv)
    assert tx.method is None and tx.uri is None and tx.status_code == 200
    assert (tx.ts_ns, tx.packet, tx.response_body_len) == (T0 + 1_000_000, 1, 4)
    assert conv.weirds["unmatched_HTTP_reply"] == 1
    assert http_record(tx, "C")["method"] is None


def test_requests_never_answered_come_out_at_the_end():
    conv = HttpConversation()
    assert conv.data(True, request(uri="/a") + request("PUT", "/b", body=b"12345678")[:-3], T0, 1) == []
    first, second = conv.end(T0 + 5)
    assert (first.uri, first.status_code, first.request_complete) == ("/a", None, True)
    assert (second.request_body_len, second.request_complete) == (5, False)
    assert second.orig_body.total_bytes == 8 and not second.orig_body.complete


@pytest.mark.parametrize(
    "first",
    [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40),  # a TLS ClientHello
        b"SSH-2.0-OpenSSH_9.6\r\n",
        b"EHLO mail.example.com\r\n",  # SMTP: an all-caps token, but no HTTP version
        b"\x00\x00\x00\x85\xffSMB",
        b"GET/ HTTP/1.1\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",  # HTTP/2 prior knowledge is not HTTP/1
    ],
)
def test_not_http_is_recognised_from_the_first_bytes(first):
    conv = HttpConversation()
    assert conv.data(True, first, T0, 1) == [] and not conv.wants_more()
    assert conv.data(False, b"HTTP/1.1 200 OK\r\n\r\n", T0, 2) == []
    assert conv.end(T0) == []
    assert not looks_like_http_request(first)


def test_garbage_never_raises():
    rng = random.Random(7)
    headers = "Content-Encoding: gzip\r\nContent-Disposition: attachment; filename=x\r\n"
    conversation = [
        (True, request("POST", "/p", "Transfer-Encoding: chunked\r\n") + chunked(b"abc")),
        (False, response(headers=headers, body=gzip.compress(b"x" * 3000))),
    ]
    for _ in range(300):
        pieces = []
        for from_orig, data in conversation:
            data = bytearray(data)
            for _ in range(rng.randint(0, 6)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            pieces.append((from_orig, bytes(data)))
        if rng.random() < 0.3:
            pieces.append((rng.random() < 0.5, rng.randbytes(rng.randint(1, 300))))
        conv = HttpConversation(expect_http=rng.random() < 0.5)
        for from_orig, data in pieces:
            cut = rng.randint(0, len(data))
            conv.data(from_orig, data[:cut], T0, 1)
            if rng.random() < 0.3:
                conv.gap(from_orig, rng.randint(1, 50))
            conv.data(from_orig, data[cut:], T0, 2)
        for tx in conv.end(T0):
            http_record(tx, "C")
            for body in tx.bodies:
                files_record(body, "C")


def test_header_block_overflow():
    conv = HttpConversation()
    conv.data(True, b"GET / HTTP/1.1\r\nX-Long: " + b"a" * (MAX_HEADER + 10), T0, 1)
    assert not conv.wants_more() and conv.weirds["HTTP_header_too_long"] == 1
    # after good messages, an overflow only breaks that direction
    conv = HttpConversation()
    conv.data(True, request(uri="/ok"), T0, 1)
    for _ in range(5):
        conv.data(True, b"GET /x HTTP/1.1\r\nX: " + b"b" * 20000, T0, 2)
    assert conv.wants_more() and len(conv._sides[True].buf) == 0
    (tx,) = conv.data(False, response(body=b"1"), T0, 3)
    assert tx.uri == "/ok"


def test_basic_authorization_gives_the_username_only():
    asked = request(headers="Authorization: Basic dXNlcjpzM2NyM3Q6cGFzcw==\r\nCookie: s=1\r\n")
    (tx,) = run([(True, asked), (False, response())])
    assert (tx.auth_scheme, tx.username, tx.cookie) == ("Basic", "user", True)
    record = http_record(tx, "C")
    assert record["username"] == "user" and "s3cr3t" not in repr(record) and "s3cr3t" not in repr(tx)
    (tx,) = run([(True, request(headers="Proxy-Authorization: Basic !!!\r\n")), (False, response())])
    assert tx.username == "<problem-decoding>"
    (tx,) = run([(True, request(headers="Authorization: Bearer abc.def\r\n")), (False, response())])
    assert (tx.auth_scheme, tx.username) == ("Bearer", None)


@pytest.mark.parametrize(
    "disposition, name",
    [
        ('attachment; filename="invoice.pdf.exe"', "invoice.pdf.exe"),
        ("attachment; filename=plain.txt", "plain.txt"),
        ("attachment; filename=\"plain.doc\"; filename*=UTF-8''my%20r%C3%A9sum%C3%A9.doc", "my résumé.doc"),
        ('inline; filename="quoted \\"name\\".bin"', 'quoted "name".bin'),
        ("inline", None),
    ],
)  # fmt: skip
def test_content_disposition_filename(disposition, name):
    answer = response(headers=f"Content-Disposition: {disposition}\r\n", body=b"data")
    (tx,) = run([(True, request(uri="/download/not-the-name.bin")), (False, answer)])
    assert tx.resp_body.info.filename == name
    assert http_record(tx, "C")["resp_filenames"] == ([name] if name else None)
    assert files_record(tx.resp_body, "C")["filename"] == name  # never the URI's last segment


def test_carving_into_the_callers_file():
    opened: list[BodyInfo] = []
    kept: dict[bool, bytes] = {}

    class Sink(io.BytesIO):
        name = "/cases/42/extract-F1.bin"

        def __init__(self, info: BodyInfo) -> None:
            super().__init__()
            self.info = info

        def close(self) -> None:
            kept[self.info.is_orig] = self.getvalue()
            super().close()

    def open_body(info: BodyInfo):
        opened.append(info)
        return Sink(info) if not info.is_orig else None  # carve responses only

    upload, page = b"field=value", b"\x89PNG\r\n\x1a\n" + bytes(500)
    conv = HttpConversation(open_body)
    asked = request("POST", "/up", "Content-Type: application/x-www-form-urlencoded\r\n", upload)
    answer = response(headers="Transfer-Encoding: chunked\r\nContent-Type: image/png\r\n", length=False)
    (tx,) = run([(True, asked), (False, answer + chunked(page[:100], page[100:]))], conv)
    assert [(i.is_orig, i.trans_depth, i.method, i.uri, i.host, i.content_type) for i in opened] == [
        (True, 1, "POST", "/up", "example.com", "application/x-www-form-urlencoded"),
        (False, 1, "POST", "/up", "example.com", "image/png"),
    ]
    assert kept == {False: page}  # decoded (dechunked) bytes, closed at the body's end
    assert tx.orig_body.extracted is None  # not carved,
    assert tx.orig_body.sha256 == sha256(upload)  # still hashed
    assert files_record(tx.resp_body, "C")["extracted"] == "extract-F1.bin"
    assert tx.resp_body.mime_type == "image/png"
    assert tx.request_content_type == "application/x-www-form-urlencoded"


def test_carved_file_named_at_close_and_failing_writers():
    class NamedAtClose(io.BytesIO):  # like a sink that renames itself to its hash when closed
        name = None

        def close(self) -> None:
            self.name = f"/carve/{hashlib.sha256(self.getvalue()).hexdigest()}"
            super().close()

    (tx,) = run(
        [(True, request()), (False, response(body=b"payload"))], HttpConversation(lambda i: NamedAtClose())
    )
    assert tx.resp_body.extracted == sha256(b"payload")

    class Full(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, data) -> int:
            raise OSError(28, "No space left on device")

    conv = HttpConversation(lambda info: Full())
    (tx,) = run([(True, request()), (False, response(body=b"payload"))], conv)
    assert tx.resp_body.sha256 == sha256(b"payload") and tx.resp_body.extracted is None
    assert conv.weirds["HTTP_body_write_failed"] == 1


def test_connect_tunnel_ends_http():
    conv = HttpConversation()
    conv.data(True, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", T0, 1)
    (tx,) = conv.data(False, b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03\x00\x50", T0, 2)
    assert (tx.method, tx.uri, tx.status_code, tx.response_body_len) == ("CONNECT", "example.com:443", 200, 0)
    assert conv.tunnel == "CONNECT" and not conv.wants_more()
    assert conv.data(True, b"\x16\x03\x01\x00\x10" + bytes(16), T0, 3) == [] and conv.end(T0) == []
    # a refused CONNECT is an ordinary response
    conv = HttpConversation()
    conv.data(True, b"CONNECT example.com:443 HTTP/1.1\r\n\r\n", T0, 1)
    (tx,) = conv.data(False, response("407 Proxy Authentication Required", body=b"no"), T0, 2)
    assert conv.tunnel is None and conv.wants_more() and tx.response_body_len == 2


def test_protocol_upgrade_ends_http():
    conv = HttpConversation()
    conv.data(True, request(uri="/chat", headers="Upgrade: websocket\r\nConnection: Upgrade\r\n"), T0, 1)
    switch = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
    (tx,) = conv.data(False, switch + b"\x81\x05hello", T0, 2)
    assert tx.status_code == 101 and conv.tunnel == "websocket" and not conv.wants_more()


def test_server_speaking_first_swaps_the_roles():
    # The capture began after the first request: the flow's originator is the server.
    conv = HttpConversation()
    (orphan,) = conv.data(True, response(body=b"tail of a page"), T0, 1)
    assert conv.flipped and orphan.method is None and orphan.response_body_len == 14
    assert conv.data(False, request(uri="/next"), T0 + 1, 2) == []
    (tx,) = conv.data(True, response(body=b"next"), T0 + 2, 3)
    assert (tx.uri, tx.trans_depth, tx.packet, tx.response_packet) == ("/next", 2, 2, 3)
    assert tx.resp_body.info.is_orig is False  # the HTTP roles, whatever the flow's


def test_expect_http_skips_to_the_first_message():
    # The capture began inside a response body, on a port known to carry HTTP.
    conv = HttpConversation(expect_http=True)
    assert conv.data(False, bytes(range(256)) * 4 + b"\r\nmore of the body\n", T0, 1) == []
    assert conv.wants_more()
    conv.data(True, request(uri="/after"), T0 + 1, 2)
    (tx,) = conv.data(False, response(body=b"ok"), T0 + 2, 3)
    assert tx.uri == "/after" and not conv.flipped


def test_http09_simple_request():
    conv = HttpConversation()
    conv.data(True, b"GET /old\r\n", T0, 1)
    conv.data(False, b"<html>raw document</html>", T0 + 1, 2)
    (tx,) = conv.end(T0 + 2)
    assert (tx.version, tx.response_version, tx.response_body_len) == ("0.9", "0.9", 25)
    assert tx.resp_body.mime_type == "text/html"


def test_lenient_line_ends_folding_and_leading_empty_lines():
    data = b"\r\n\nGET /lf HTTP/1.1\nHost: a\nUser-Agent: part one\n  part two\n\n"
    (tx,) = run([(True, data), (False, b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok")])
    assert (tx.uri, tx.host, tx.user_agent, tx.response_body_len) == ("/lf", "a", "part one part two", 2)


def test_chunked_multipart_and_bad_chunk_size_are_weird():
    conv = HttpConversation()
    upload = "Content-Type: multipart/form-data; boundary=x\r\nTransfer-Encoding: chunked\r\n"
    answer = response(headers="Transfer-Encoding: chunked\r\n", length=False) + b"zz\r\nbroken\r\n"
    run([(True, request("POST", "/m", upload) + chunked(b"--x--")), (False, answer)], conv)
    assert conv.weirds["HTTP_chunked_transfer_for_multipart_message"] == 1
    assert conv.weirds["HTTP_bad_chunk_size"] == 1


def test_excessive_pipelining_stays_bounded():
    conv = HttpConversation()
    out = conv.data(True, request() * (MAX_PENDING + 20), T0, 1)
    assert len(out) == 20 and all(t.status_code is None for t in out)
    assert conv.weirds["HTTP_excessive_pipelining"] == 20
    assert len(conv.end(T0)) == MAX_PENDING


def test_a_large_body_streams_without_growing_buffers():
    conv = HttpConversation()
    conv.data(True, request(), T0, 1)
    conv.data(False, b"HTTP/1.1 200 OK\r\nContent-Length: 20000000\r\n\r\n", T0, 2)
    block = bytes(range(256)) * 256
    digest = hashlib.sha256()
    for _ in range(20_000_000 // len(block)):
        conv.data(False, block, T0, 3)
        digest.update(block)
    (tx,) = conv.data(False, block[: 20_000_000 % len(block)], T0, 4)
    digest.update(block[: 20_000_000 % len(block)])
    assert tx.resp_body.sha256 == digest.hexdigest() and len(tx.resp_body.head) == 1024


@pytest.mark.parametrize(
    "data, verdict",
    [
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", True),
        (b"PROPFIND /dav/ HTTP/1.1\r\n", True),
        (b"CCM_POST /ccm_system/request HTTP/1.1\r\n", True),
        (b"FROB /x HTTP/1.0\r\n", True),  # an unknown all-caps method with a version
        (b"FROB /x\r\n", False),
        (b"POST /upload?id=1 HTT", True),  # a known method, line not complete yet
        (b"GET /old\r\n", True),  # HTTP/0.9
        (b"get / HTTP/1.1\r\n", False),
        (b"HTTP/1.1 200 OK\r\n", False),
        (b"", False),
    ],
)
def test_looks_like_http_request(data, verdict):
    assert looks_like_http_request(data) is verdict


@pytest.mark.parametrize(
    "data, verdict",
    [
        (b"HTTP/1.1 200 OK\r\n", True),
        (b"HTTP/1.0 404 Not Found", True),
        (b"HTTP/1.1 204\r\n", True),
        (b"HTTP/2 200\r\n", False),
        (b"HTTP/1.1 20", False),
        (b"GET / HTTP/1.1\r\n", False),
    ],
)
def test_looks_like_http_response(data, verdict):
    assert looks_like_http_response(data) is verdict


def test_file_uid_is_zeek_shaped_and_deterministic():
    fuid = file_uid("CHhAvVGS1DHFjwGM9", False, 1)
    assert fuid.startswith("F") and len(fuid) == 18 and fuid.isalnum()
    assert fuid == file_uid("CHhAvVGS1DHFjwGM9", False, 1) != file_uid("CHhAvVGS1DHFjwGM9", True, 1)
    assert fuid != file_uid("CHhAvVGS1DHFjwGM9", False, 2)


def test_unescape_uri():
    assert unescape_uri(b"/a%20b/%2e%2e%2Fetc%zz%") == "/a b/../etc%zz%"
    assert unescape_uri(b"/%00%ff") == "/\\x00\\xff"  # as Zeek writes non-printable bytes


def test_body_can_be_used_alone():
    info = BodyInfo(False, 1, "GET", "/", "h", None, None, "deflate", None)
    body = Body(info, T0)
    for byte in zlib.compress(b"hello world " * 10):
        body.feed(bytes([byte]), T0 + 1)
    body.finish()
    assert body.sha256 == sha256(b"hello world " * 10) and body.mime_type == "text/plain"


# --- public captures -------------------------------------------------------------------------


@dataclass
class Connection:
    """One TCP connection of a capture, replayed into an HttpConversation."""

    orig: tuple[str, int]
    resp: tuple[str, int]
    conv: HttpConversation
    txs: list[Transaction] = field(default_factory=list)
    streams: dict[bool, bytearray] = field(default_factory=lambda: {True: bytearray(), False: bytearray()})
    base: dict[bool, int] = field(default_factory=dict)  # the sequence number of stream offset 0
    done: dict[bool, int] = field(default_factory=lambda: {True: 0, False: 0})  # bytes delivered
    held: dict[bool, dict[int, tuple[bytes, int, int]]] = field(default_factory=lambda: {True: {}, False: {}})


def replay(path: Path, **options) -> list[Connection]:
    """Each TCP connection of a capture fed to its own conversation: segments in sequence
    order (held back when they arrive early), retransmitted bytes dropped, each piece with the
    time and number of the packet that brought it; the originator is the SYN's sender."""
    connections: dict[frozenset, Connection] = {}
    defrag = Defragmenter()
    last = 0
    with path.open("rb") as fh:
        for packet in read_capture(fh):
            if not isinstance(packet, Packet):
                continue
            seg = decode(packet.linktype, packet.data, packet.ts_ns, defrag)
            if not isinstance(seg, Segment) or seg.proto != 6:
                continue
            last = packet.ts_ns
            a, b = (seg.src, seg.sport), (seg.dst, seg.dport)
            conn = connections.get(frozenset((a, b)))
            if conn is None:
                orig, resp = (b, a) if seg.flags & 0x12 == 0x12 else (a, b)
                conn = connections[frozenset((a, b))] = Connection(orig, resp, HttpConversation(**options))
            from_orig = a == conn.orig
            if seg.flags & 0x02:
                conn.base[from_orig] = (seg.seq + 1) & 0xFFFFFFFF
                continue
            if not seg.payload:
                continue
            offset = (seg.seq - conn.base.setdefault(from_orig, seg.seq)) & 0xFFFFFFFF
            conn.held[from_orig].setdefault(offset, (seg.payload, packet.ts_ns, packet.number))
            _deliver(conn, from_orig)
    for conn in connections.values():
        conn.txs += conn.conv.end(last)
    return list(connections.values())


def _deliver(conn: Connection, from_orig: bool) -> None:
    held = conn.held[from_orig]
    while held and min(held) <= conn.done[from_orig]:
        offset = min(held)
        data, ts_ns, number = held.pop(offset)
        fresh = data[conn.done[from_orig] - offset :]
        if fresh:
            conn.streams[from_orig] += fresh
            conn.done[from_orig] += len(fresh)
            conn.txs += conn.conv.data(from_orig, fresh, ts_ns, number)


def only_transaction(corpus: Path, name: str) -> tuple[Connection, Transaction]:
    path = corpus / "pcap" / name
    if not path.exists():
        pytest.skip(f"{name} not in the corpus")
    (conn,) = [c for c in replay(path) if c.txs]
    (tx,) = conn.txs
    assert not conn.conv.weirds
    return conn, tx


def test_zeek_get_trace(corpus):
    # zeek-traces/http/get.pcap is Zeek's testing/btest/Traces/http/get.trace. Zeek's http.log
    # for it (the HTTP::Info record printed in Zeek's own test baselines) has ts 1362692526.939527,
    # GET bro.org /download/CHANGES.bro-aux.txt, version 1.1, user_agent Wget/1.14 (darwin12.2.0),
    # request_body_len 0, response_body_len 4705, 200 OK, resp_mime_types text/plain. Its files.log
    # line (as quoted in logstash-patterns-core's BRO_FILES test): ts 1362692527.009512, source
    # HTTP, mime_type text/plain, duration 0.000263, is_orig F, seen_bytes 4705, total_bytes 4705,
    # missing_bytes 0, md5 397168fd09991a0e712254df7bc639ac (also in Zeek's file-analysis docs),
    # sha1 1dd7ac0398df6cbc0696445a91ec681facf4dc47. The SHA-256 is of the body tshark 4.0
    # exports (--export-objects http): CHANGES.bro-aux.txt.
    conn, tx = only_transaction(corpus, "zeek-traces/http/get.pcap")
    record = http_record(tx, "CHhAvVGS1DHFjwGM9", conn.orig, conn.resp)
    assert {k: v for k, v in record.items() if v is not None} == {
        "ts": 1362692526939527000, "uid": "CHhAvVGS1DHFjwGM9",
        "id.orig_h": "141.142.228.5", "id.orig_p": 59856, "id.resp_h": "192.150.187.43", "id.resp_p": 80,
        "trans_depth": 1, "method": "GET", "host": "bro.org", "uri": "/download/CHANGES.bro-aux.txt",
        "version": "1.1", "user_agent": "Wget/1.14 (darwin12.2.0)", "request_body_len": 0,
        "response_body_len": 4705, "status_code": 200, "status_msg": "OK",
        "resp_fuids": [file_uid("CHhAvVGS1DHFjwGM9", False, 1)], "resp_mime_types": ["text/plain"],
    }  # fmt: skip
    files = files_record(tx.resp_body, "CHhAvVGS1DHFjwGM9", conn.orig, conn.resp)
    assert (files["ts"], files["duration"], files["mime_type"], files["is_orig"]) == (
        1362692527009512000, "0.000263", "text/plain", False
    )  # fmt: skip
    assert (files["seen_bytes"], files["total_bytes"], files["missing_bytes"]) == (4705, 4705, 0)
    assert files["md5"] == "397168fd09991a0e712254df7bc639ac"
    assert files["sha1"] == "1dd7ac0398df6cbc0696445a91ec681facf4dc47"
    assert files["sha256"] == "4e7c7ef0984119447e743e3ec77e1de52713e345cde03fe7df753a35849bed18"


def test_zeek_post_trace(corpus):
    # zeek-traces/http/post.pcap: curl POSTing "hello world" to httpbin.org. Values from tshark
    # 4.0 (http.request.method, http.host, http.user_agent, http.content_length; the status line
    # alone is packet 6, 17 bytes, the rest of the response packet 8) and the SHA-256 of the two
    # objects its --export-objects http writes (request and response bodies).
    conn, tx = only_transaction(corpus, "zeek-traces/http/post.pcap")
    assert (tx.method, tx.host, tx.uri, tx.user_agent) == ("POST", "httpbin.org", "/post", "curl/7.29.0")
    assert (tx.ts_ns, tx.packet, tx.response_packet) == (1363709111086948000, 4, 6)
    assert tx.request_content_type == "application/x-www-form-urlencoded"
    assert (tx.request_body_len, tx.response_body_len, tx.status_code) == (11, 366, 200)
    assert tx.orig_body.sha256 == "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
    assert tx.resp_body.sha256 == "8eb24c16df7cb45cb6a1790b0d26ad2571f754228d0ac111b3ac59adbfecbeb8"
    assert (tx.orig_body.mime_type, tx.resp_body.mime_type) == ("text/plain", "text/json")
    record = http_record(tx, "C1", conn.orig, conn.resp)
    assert record["orig_fuids"] == [file_uid("C1", True, 1)] and record["orig_mime_types"] == ["text/plain"]


def test_google_gzip_response(corpus):
    # chrissanders-packets/http_google.pcapng: Firefox fetching www.google.com, answered with
    # Content-Encoding: gzip and Content-Length 4633. tshark 4.0 exports the decoded page (11,308
    # bytes, SHA-256 below); the response spans packets 6 to 12 (frame.time_epoch).
    _, tx = only_transaction(corpus, "chrissanders-packets/http_google.pcapng")
    assert (tx.method, tx.host, tx.uri, tx.status_code) == ("GET", "www.google.com", "/", 200)
    assert tx.user_agent.startswith("Mozilla/5.0 (Windows; U; Windows NT 6.1; en-US; rv:1.9.1.7)")
    assert tx.response_content_length == 4633 and tx.response_body_len == 11308
    body = tx.resp_body
    assert body.sha256 == "7e5a5ed57fbe98a2b91a13455924b568f999a652accf60183c860b6ba161a685"
    assert (body.mime_type, body.total_bytes, body.first_ts_ns, body.last_ts_ns) == (
        "text/html", None, 1265678319719274000, 1265678319752467000
    )  # fmt: skip


def test_basic_auth_with_colon_in_the_password(corpus):
    # zeek-traces/http/basic-auth-with-colon.pcap (Zeek's test for it): "Basic  dGVzdDoxOjM0",
    # i.e. test:1:34 (tshark's http.authbasic); the user name ends at the first colon.
    _, tx = only_transaction(corpus, "zeek-traces/http/basic-auth-with-colon.pcap")
    assert (tx.username, tx.host, tx.response_version) == ("test", "172.24.133.205:8000", "1.0")
    assert "1:34" not in repr(http_record(tx, "C"))


def test_pe_single_is_ftp_not_http(corpus):
    # zeek-traces/pe/pe-single.pcap carries its PE over FTP (vsFTPd, passive mode), not HTTP:
    # neither connection is taken for HTTP. The data connection's stream is the file tshark 4.0
    # exports with --export-objects ftp-data (VMwareXferlogs.exe, 43,568 bytes, SHA-256 below).
    path = corpus / "pcap" / "zeek-traces" / "pe" / "pe-single.pcap"
    if not path.exists():
        pytest.skip("pe-single.pcap not in the corpus")
    connections = {conn.resp[1]: conn for conn in replay(path)}
    assert sorted(connections) == [21, 11886]
    for conn in connections.values():
        assert not conn.conv.wants_more() and conn.txs == [] and not conn.conv.weirds
    pe = bytes(connections[11886].streams[False])
    assert len(pe) == 43568 and pe.startswith(b"MZ")
    assert sha256(pe) == "b53d48d42cfcddf6fdb9a39ef0f7a1d01b9d6388b8b4ff6d4d7bc9423f87ca8c"
