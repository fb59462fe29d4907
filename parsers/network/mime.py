"""The MIME type of a transferred file from its first bytes, named as Zeek's files.log names it.

A file carried over HTTP has a declared Content-Type, which the sender chooses; an analyst
wants what the bytes are (an executable served as ``image/gif`` is the interesting case), so
Zeek's files.log ``mime_type`` and http.log ``resp_mime_types`` come from content sniffing, and
so does :func:`sniff_mime`. It looks at the first bytes only (1 KiB is plenty: every magic
number below sits in the first 300 bytes) and knows the common cases, not everything libmagic
knows: executables, archives and compressors, documents, images, pcaps, scripts, markup, JSON
and plain text. Anything else is ``None`` (Zeek leaves the field unset).

Names and byte patterns follow Zeek's signatures (scripts/base/frameworks/files/magic/*.sig:
executable.sig, archive.sig, image.sig, general.sig, msoffice.sig, and libmagic.sig for PDF),
which come from file(1)'s magic database; where Zeek's name differs from libmagic's, Zeek's is
used (``application/x-gzip``, ``application/x-dosexec``, ``text/json``). The markup rules (skip
a byte order mark, white space and comments before the first tag) are those of Zeek's
general.sig and the WHATWG MIME Sniffing standard, §7.1 ("identifying a resource with an
unknown MIME type"). Plain text is stricter than Zeek (whose rule only checks that the first
ten bytes are printable): here the whole head must decode as UTF-8 (or UTF-16 with a byte
order mark) without control characters, and be at least ten characters long, as in Zeek.
"""

from __future__ import annotations

import re

__all__ = ["SNIFF_BYTES", "sniff_mime"]

#: How many leading bytes :func:`sniff_mime` wants (more are ignored).
SNIFF_BYTES = 1024

# (offset, magic bytes, MIME type), tried in order: more specific prefixes come first.
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    # executables (executable.sig)
    (0, b"MZ", "application/x-dosexec"),
    (0, b"\xce\xfa\xed\xfe", "application/x-mach-o-executable"),  # 32-bit, little-endian
    (0, b"\xcf\xfa\xed\xfe", "application/x-mach-o-executable"),  # 64-bit, little-endian
    (0, b"\xfe\xed\xfa\xce", "application/x-mach-o-executable"),  # big-endian (file(1))
    (0, b"\xfe\xed\xfa\xcf", "application/x-mach-o-executable"),
    # archives and compressed data (archive.sig)
    (0, b"PK\x07\x08PK\x03\x04", "application/zip"),
    (0, b"Rar!", "application/x-rar"),
    (0, b"\x1f\x8b", "application/x-gzip"),
    (0, b"BZh", "application/x-bzip2"),
    (0, b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (0, b"\xfd7zXZ\x00", "application/x-xz"),
    (0, b"MSCF\x00\x00\x00\x00", "application/vnd.ms-cab-compressed"),
    (0, b"xar!", "application/x-xar"),
    (0, b"\x04\x22\x4d\x18", "application/x-lz4"),
    (0, b"\x1f\x9d", "application/x-compress"),
    (257, b"ustar", "application/x-tar"),  # POSIX tar header magic (file(1): "POSIX tar archive")
    # documents (libmagic.sig, msoffice.sig)
    (0, b"%PDF-", "application/pdf"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/msword"),  # any OLE2 compound file
    (0, b"{\\rtf", "text/rtf"),
    (
        0,
        b"L\x00\x00\x00\x01\x14\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00F",
        "application/x-ms-shortcut",
    ),
    # images (image.sig)
    (0, b"\x89PNG", "image/png"),
    (0, b"\xff\xd8", "image/jpeg"),
    (0, b"GIF8", "image/gif"),
    (0, b"\x00\x00\x01\x00", "image/x-icon"),
    (0, b"\x00\x00\x02\x00", "image/x-cursor"),
    (0, b"MM\x00\x2a", "image/tiff"),
    (0, b"II\x2a\x00", "image/tiff"),
    (0, b"8BPS", "image/vnd.adobe.photoshop"),
    # flash (general.sig)
    (0, b"FWS", "application/x-shockwave-flash"),
    (0, b"CWS", "application/x-shockwave-flash"),
    (0, b"ZWS", "application/x-shockwave-flash"),
    # packet captures (general.sig)
    (0, b"\xa1\xb2\xc3\xd4", "application/vnd.tcpdump.pcap"),
    (0, b"\xd4\xc3\xb2\xa1", "application/vnd.tcpdump.pcap"),
    (0, b"\xa1\xb2\x3c\x4d", "application/vnd.tcpdump.pcap"),  # nanosecond pcap (file(1))
    (0, b"\x4d\x3c\xb2\xa1", "application/vnd.tcpdump.pcap"),
    (0, b"\x0a\x0d\x0d\x0a", "application/vnd.tcpdump.pcap"),  # pcapng section header block
    (0, b"-----BEGIN CERTIFICATE-----", "application/x-pem"),
)

_ELF_TYPES = {1: "application/x-object", 2: "application/x-executable", 3: "application/x-sharedlib",
              4: "application/x-coredump"}  # fmt: skip
_OOXML = ((b"word/", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
          (b"xl/", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
          (b"ppt/", "application/vnd.openxmlformats-officedocument.presentationml.presentation"))  # fmt: skip
_SHEBANG = re.compile(rb"#![^\n]{0,15}bin/(?:env[ \t]+)?(\w+)")
_INTERPRETERS = {
    b"sh": "text/x-shellscript", b"bash": "text/x-shellscript", b"dash": "text/x-shellscript",
    b"zsh": "text/x-shellscript", b"ksh": "text/x-shellscript", b"csh": "text/x-shellscript",
    b"tcsh": "text/x-shellscript", b"ash": "text/x-shellscript", b"python": "text/x-python",
    b"python2": "text/x-python", b"python3": "text/x-python", b"perl": "text/x-perl",
    b"ruby": "text/x-ruby", b"php": "text/x-php", b"node": "application/javascript",
}  # fmt: skip
_SPACE = b" \t\r\n\x0c"
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<title", b"<body", b"<meta http-equiv")
# Zeek's file-json and file-json2: an object opening with a key, an array opening with a value.
_JSON = re.compile(
    rb"""\{\s*("[^"]+"|[A-Za-z][A-Za-z0-9\\_]*)\s*:\s*(["\[{0-9-]|true|false|null)"""
    rb"""|\[\s*((("[^"]*"|-?[0-9]+(\.[0-9]+)?|true|false|null)\s*[,\]])|\{|\[)"""
    rb"""|(\[\s*\]|\{\s*\})\s*$"""
)
_TEXT_CONTROLS = frozenset(range(32)) - {9, 10, 12, 13, 27}
#: One regular expression for "any of those, or DEL": a character-by-character test costs a
#: Python step per character of every body's head.
_CONTROL_CHARS = re.compile("[" + "".join(f"\\x{c:02x}" for c in sorted(_TEXT_CONTROLS)) + "\\x7f]")


def sniff_mime(head: bytes | bytearray) -> str | None:
    """The MIME type of a file starting with ``head`` (its first bytes; 1 KiB is enough), as
    Zeek reports it, or None when none of the known kinds fits."""
    head = bytes(head[:SNIFF_BYTES])
    if not head:
        return None
    return _binary(head) or _textual(head)


def _binary(head: bytes) -> str | None:
    if head.startswith(b"\x7fELF") and len(head) >= 18 and head[4] in (1, 2) and head[5] in (1, 2):
        e_type = int.from_bytes(head[16:18], "little" if head[5] == 1 else "big")
        return _ELF_TYPES.get(e_type)
    if head.startswith(b"\xca\xfe\xba\xbe") and len(head) >= 8:
        if 0x2D <= head[7] <= 0x34:  # a Java class file: major version 45 (1.1) to 52 (8)
            return "application/x-java-applet"
        if head[6] == 0 and 1 <= head[7] <= 20:  # a universal binary: a small count of architectures
            return "application/x-mach-o-executable"
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(head)
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if (
        head.startswith(b"BM")
        and len(head) >= 16
        and head[14] in b"\x0c\x28\x40\x6c\x7c\x80"
        and head[15] == 0
    ):
        return "image/x-ms-bmp"
    for offset, magic, mime in _MAGIC:
        if head.startswith(magic, offset):
            return mime
    return None


def _zip_kind(head: bytes) -> str:
    """A zip archive, or what is built on one: a Java archive (its manifest is near the start),
    or an Office Open XML document (a local file header naming a part under word/, xl/ or ppt/)."""
    if b"META-INF/MANIFEST.MF" in head[:260]:
        return "application/java-archive"
    pos = 0
    while (pos := head.find(b"PK\x03\x04", pos)) >= 0:
        name = head[pos + 30 : pos + 40]  # the file name follows the 30-byte local file header
        for prefix, mime in _OOXML:
            if name.startswith(prefix):
                return mime
        pos += 4
    return "application/zip"


def _textual(head: bytes) -> str | None:
    if match := _SHEBANG.match(head):  # a script, even with a binary payload after it (makeself)
        return _INTERPRETERS.get(match.group(1), "text/plain" if _decode_text(head) else None)
    text = _decode_text(head)
    if text is None:
        return None
    data = text.encode("utf-8", "replace")
    markup, has_xml_declaration = _skip_prolog(data)
    lowered = markup[:32].lower()
    if any(lowered.startswith(start) for start in _HTML_STARTS):
        return "text/html"
    if has_xml_declaration:
        return "application/xml"
    if _JSON.match(data.lstrip(_SPACE)):
        return "text/json"
    return "text/plain" if len(text) >= 10 else None


def _decode_text(head: bytes) -> str | None:
    """The head as text when it is text (UTF-8, or UTF-16 after its byte order mark), else None.
    A multi-byte character cut at the end of the head is allowed."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        body = head[2:]
        text = body[: len(body) - len(body) % 2].decode(
            "utf-16-le" if head[0] == 0xFF else "utf-16-be", "replace"
        )
    else:
        body = head.removeprefix(b"\xef\xbb\xbf")
        text = None
        for cut in range(4):  # a character cut by the end of the head
            try:
                text = body[: len(body) - cut].decode("utf-8")
                break
            except UnicodeDecodeError as error:
                if error.start < len(body) - 4:
                    return None
    if text is None or "\ufffd" in text:
        return None
    return None if _CONTROL_CHARS.search(text) else text


def _skip_prolog(data: bytes) -> tuple[bytes, bool]:
    """The markup after leading white space, comments and an XML declaration; and whether there
    was an XML declaration."""
    has_declaration = False
    pos = 0
    while True:
        while pos < len(data) and data[pos] in _SPACE:
            pos += 1
        if data.startswith(b"<!--", pos):
            end = data.find(b"-->", pos + 4)
            if end < 0:
                return b"", has_declaration
            pos = end + 3
        elif data.startswith(b"<?xml", pos) and not has_declaration:
            has_declaration = True
            end = data.find(b"?>", pos)
            if end < 0:
                return b"", True
            pos = end + 2
        else:
            return data[pos:], has_declaration
