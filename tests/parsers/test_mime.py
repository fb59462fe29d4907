"""MIME sniffing of file heads, named as Zeek's files.log names them."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import struct
import tarfile
import zipfile
from pathlib import Path

import pytest

from parsers.network.mime import SNIFF_BYTES, sniff_mime


def elf(e_type: int, big_endian: bool = False, bits: int = 64) -> bytes:
    ident = b"\x7fELF" + bytes([2 if bits == 64 else 1, 2 if big_endian else 1, 1]) + bytes(9)
    return ident + struct.pack(">HH" if big_endian else "<HH", e_type, 0x3E) + bytes(40)


def zipped(*names: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            archive.writestr(name, "<x/>")
    return out.getvalue()


def tarred() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        info = tarfile.TarInfo("notes.txt")
        info.size = 5
        archive.addfile(info, io.BytesIO(b"notes"))
    return out.getvalue()


# Magic numbers as Zeek's base/frameworks/files/magic/*.sig (from file(1)'s magic database) has
# them, with Zeek's names.
MAGIC = [
    (b"MZ\x90\x00\x03\x00\x00\x00" + bytes(56), "application/x-dosexec"),
    (elf(2), "application/x-executable"),
    (elf(3), "application/x-sharedlib"),
    (elf(1, big_endian=True, bits=32), "application/x-object"),
    (elf(4), "application/x-coredump"),
    (b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + bytes(24), "application/x-mach-o-executable"),
    (b"\xca\xfe\xba\xbe\x00\x00\x00\x02" + bytes(24), "application/x-mach-o-executable"),  # universal
    (b"\xca\xfe\xba\xbe\x00\x00\x00\x34" + bytes(24), "application/x-java-applet"),  # class file, Java 8
    (zipped("a.txt"), "application/zip"),
    (zipped("META-INF/MANIFEST.MF", "Main.class"), "application/java-archive"),
    (zipped("[Content_Types].xml", "word/document.xml"),
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (zipped("[Content_Types].xml", "xl/workbook.xml"),
     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (gzip.compress(b"data"), "application/x-gzip"),
    (bz2.compress(b"data"), "application/x-bzip2"),
    (lzma.compress(b"data"), "application/x-xz"),
    (b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(24), "application/x-7z-compressed"),
    (b"Rar!\x1a\x07\x01\x00" + bytes(8), "application/x-rar"),
    (b"MSCF\x00\x00\x00\x00" + bytes(8), "application/vnd.ms-cab-compressed"),
    (tarred(), "application/x-tar"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "application/pdf"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(24), "application/msword"),
    (b"{\\rtf1\\ansi\\deff0", "text/rtf"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
    (b"GIF89a\x01\x00\x01\x00", "image/gif"),
    (b"\x00\x00\x01\x00\x01\x00\x10\x10", "image/x-icon"),
    (b"BM" + bytes(12) + b"\x28\x00\x00\x00", "image/x-ms-bmp"),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
    (b"II*\x00\x08\x00\x00\x00", "image/tiff"),
    (b"CWS\x0a\x10\x00\x00\x00x\x9c", "application/x-shockwave-flash"),
    (b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + bytes(16), "application/vnd.tcpdump.pcap"),
    (b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c\x2b\x1a", "application/vnd.tcpdump.pcap"),
    (b"-----BEGIN CERTIFICATE-----\nMIIB", "application/x-pem"),
    (b"#!/bin/bash\necho hi\n", "text/x-shellscript"),
    (b"#!/usr/bin/env python3\nprint(1)\n", "text/x-python"),
    (b"#!/usr/bin/perl -w\n", "text/x-perl"),
]  # fmt: skip


@pytest.mark.parametrize("head, mime", MAGIC, ids=[mime for _, mime in MAGIC])  # zips and gzips hold the time
def test_magic_numbers(head, mime):
    assert sniff_mime(head) == mime
    assert sniff_mime(head + bytes(range(256)) * 8) == mime  # what follows does not matter


# Markup, as Zeek's general.sig and the WHATWG MIME Sniffing standard §7.1 find it: after an
# optional byte order mark, white space, comments and an XML declaration.
@pytest.mark.parametrize(
    "head, mime",
    [
        (b"<!DOCTYPE html>\n<html><head>", "text/html"),
        (b"\xef\xbb\xbf\r\n  \t<!doctype HTML><title>x</title>", "text/html"),
        (b"<!-- generated -->\n<HTML>\n<BODY>", "text/html"),
        (b"  <head><meta charset=utf-8>", "text/html"),
        (b'<?xml version="1.0"?>\n<!DOCTYPE html>\n<html xmlns="http://www.w3.org/1999/xhtml">', "text/html"),
        (b'<?xml version="1.0" encoding="UTF-8"?>\n<feed/>', "application/xml"),
        (b'{"user": "alice", "id": 7}', "text/json"),
        (b"  [1, 2, 3]", "text/json"),
        (b'[{"a": 1}]', "text/json"),
        (b"{}", "text/json"),
        (b"{ not json at all, just braces }", "text/plain"),
        (b"hello world, this is text\r\n", "text/plain"),
        ("Привет, это обычный текст в UTF-8".encode(), "text/plain"),
        ("text cut in the middle of é".encode()[:-1], "text/plain"),  # the head may cut a character
        (b"\xff\xfe" + "UTF-16 little-endian text".encode("utf-16-le"), "text/plain"),
        (b"short", None),  # fewer than ten characters: Zeek says nothing either
        (b"SQLite format 3\x00\x10\x00\x01\x01", None),  # text-looking start, binary after
        (b"\x00\x01\x02\x03binary", None),
        (b"caf\xe9 au lait, latin-1 is not UTF-8", None),
        (b"", None),
    ],
)
def test_text_and_markup(head, mime):
    assert sniff_mime(head) == mime


def test_only_the_head_is_looked_at():
    assert SNIFF_BYTES == 1024
    assert sniff_mime(b"a" * SNIFF_BYTES + b"\x00\x01\x02") == "text/plain"


# --- corpus files: their first KiB --------------------------------------------------------


@pytest.mark.parametrize(
    "name, mime",
    [
        ("images/artifacts/lnk/example.lnk", "application/x-ms-shortcut"),
        ("linux/syslog/plaso/syslog.xz", "application/x-xz"),
        ("linux/syslog/plaso/syslog.bz2", "application/x-bzip2"),
        ("images/disk/dfir_ntfs/fat32_small.raw.gz", "application/x-gzip"),
        ("pcap/chrissanders-packets/http_google.pcapng", "application/vnd.tcpdump.pcap"),
        ("pcap/zeek-traces/http/get.pcap", "application/vnd.tcpdump.pcap"),
        ("linux/cloud/plaso/aws_cloudtrail.jsonl", "text/json"),
        ("images/artifacts/browser/firefox/places.sqlite", None),
    ],
)
def test_corpus_files(corpus: Path, name: str, mime: str | None):
    path = corpus / name
    if not path.exists():
        pytest.skip(f"{name} not in the corpus")
    with path.open("rb") as fh:
        assert sniff_mime(fh.read(SNIFF_BYTES)) == mime


def test_pe_carried_in_a_capture(corpus: Path):
    # zeek-traces/pe/pe-single.pcap: the FTP data connection carries VMwareXferlogs.exe, which
    # Zeek's files.log types application/x-dosexec (Zeek's Spicy PE test on this trace).
    from tests.parsers.test_http_stream import replay

    path = corpus / "pcap" / "zeek-traces" / "pe" / "pe-single.pcap"
    if not path.exists():
        pytest.skip("pe-single.pcap not in the corpus")
    (data,) = [c for c in replay(path) if c.resp[1] == 11886]
    assert sniff_mime(bytes(data.streams[False][:SNIFF_BYTES])) == "application/x-dosexec"
