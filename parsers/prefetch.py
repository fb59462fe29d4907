"""Windows prefetch files (``*.pf``, SCCA versions 17/23/26/30/31, MAM-compressed on Windows 10+)
-> one row per recorded run time (``Last Run``), with the files and volumes the program touched.

A prefetch file says which executable ran (its name, cut to 29 characters by Windows), how often
(run count) and when: the last run on XP/2003 (17) and Vista/7 (23), the last eight on 8.1 and
later (26, 30). The file-name strings list every file loaded in the first seconds of the run, and
the volume entries give each volume's device path, serial number and creation time. Rows carry
the run count, the executable's full path (the referenced file ending in its name, the volume
device prefix dropped) and the volumes; the files referenced are listed in full on the row of the
latest run only (``files``), counted on the others. Windows 10+ compresses the file (``MAM\\x04``
header, LZXPRESS Huffman), decompressed here with dissect.util.

dissect.target has a prefetch reader, but as a plugin of an image (it misreads version 17's run
count and lacks version 26 and the volumes), so the format is read here with ``struct``.

References: libyal libscca, "Windows Prefetch File (PF) format" (github.com/libyal/libscca,
documentation/Windows Prefetch File (PF) format.asciidoc); [MS-XCA] 2.2 LZXPRESS Huffman.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

import pyarrow as pa

from forensics.timeutil import filetime_to_utc
from parsers.base import Options, Parser, ParseWarning
from parsers.textlog import Row, batched

__all__ = ["Prefetch", "PrefetchParser", "Volume", "read_prefetch", "to_rows"]

VERSIONS = (17, 23, 26, 30, 31)
#: Largest prefetch file read (real ones are well under a megabyte).
MAX_SIZE = 64 << 20
_VOLUME_ENTRY = {17: 40, 23: 104, 26: 104, 30: 96, 31: 96}


@dataclass(slots=True)
class Volume:
    """One volume the program touched."""

    device_path: str
    serial: int
    created: datetime | None
    directories: int


@dataclass(slots=True)
class Prefetch:
    """What one prefetch file records."""

    version: int
    executable: str
    prefetch_hash: int
    run_count: int
    run_times: list[datetime]
    files: list[str] = field(default_factory=list)
    volumes: list[Volume] = field(default_factory=list)
    compressed: bool = False

    @property
    def path(self) -> str | None:
        """The executable's path on its volume: the referenced file that ends in its name."""
        name = self.executable.upper()
        for path in self.files:
            if path.upper().rsplit("\\", 1)[-1].startswith(name):
                for volume in self.volumes:
                    if volume.device_path and path.upper().startswith(volume.device_path.upper() + "\\"):
                        return path[len(volume.device_path) :]
                return path
        return None


def _utf16(data: bytes) -> str:
    text = data.decode("utf-16-le", "replace")
    return text.split("\x00", 1)[0]


def decompress(data: bytes) -> bytes:
    """The SCCA content of a MAM-compressed (Windows 10+) prefetch file."""
    from dissect.util.compression import lzxpress_huffman

    size = struct.unpack_from("<I", data, 4)[0]
    out = lzxpress_huffman.decompress(io.BytesIO(data[8:]))
    if len(out) != size:
        raise ValueError(f"decompressed {len(out)} bytes, header says {size}")
    return out


def read_prefetch(fh: BinaryIO) -> Iterator[Prefetch | ParseWarning]:
    """The prefetch file's content; a part that cannot be read is a warning, the rest is kept."""
    fh.seek(0)
    data = fh.read(MAX_SIZE + 1)
    if len(data) > MAX_SIZE:
        yield ParseWarning("file", 0, f"over {MAX_SIZE >> 20} MiB: not a prefetch file")
        return
    compressed = data[:4] == b"MAM\x04"
    if compressed:
        try:
            data = decompress(data)
        except Exception as exc:
            yield ParseWarning(
                "file", 8, f"MAM (LZXPRESS Huffman) data corrupt: {type(exc).__name__}: {exc}"[:300]
            )
            return
    if len(data) < 0x54 + 68 or data[4:8] != b"SCCA":
        yield ParseWarning("header", 0, "no SCCA header" + (" after decompression" if compressed else ""))
        return
    version = struct.unpack_from("<I", data, 0)[0]
    if version not in VERSIONS:
        yield ParseWarning("header", 0, f"unknown prefetch version {version}")
        return
    executable = _utf16(data[0x10:0x4C])
    prefetch_hash = struct.unpack_from("<I", data, 0x4C)[0]
    (_, _, _, _, names_at, names_size, volumes_at, volume_count, volumes_size) = struct.unpack_from(
        "<9I", data, 0x54
    )
    if version == 17:
        times, run_count = [struct.unpack_from("<Q", data, 0x78)[0]], struct.unpack_from("<I", data, 0x90)[0]
    elif version == 23:
        times, run_count = [struct.unpack_from("<Q", data, 0x80)[0]], struct.unpack_from("<I", data, 0x98)[0]
    else:  # 26 and 30 (variant 1: metrics at 0x130, run count at 0xD0; variant 2: 0x128, 0xC8)
        times = list(struct.unpack_from("<8Q", data, 0x80))
        metrics_at = struct.unpack_from("<I", data, 0x54)[0]
        run_count = struct.unpack_from("<I", data, 0xC8 if metrics_at == 0x128 else 0xD0)[0]
    record = Prefetch(
        version,
        executable,
        prefetch_hash,
        run_count,
        [t for t in map(filetime_to_utc, times) if t is not None],
        compressed=compressed,
    )
    if names_at + names_size <= len(data):
        record.files = [
            s
            for s in data[names_at : names_at + names_size].decode("utf-16-le", "replace").split("\x00")
            if s
        ]
    else:
        yield ParseWarning("file names", names_at, f"file-name strings ({names_size} bytes) run past the end")
    entry = _VOLUME_ENTRY[version]
    for n in range(volume_count):
        at = volumes_at + n * entry
        try:
            path_at, path_chars, created, serial, _, _, _, directories = struct.unpack_from(
                "<IIQIIIII", data, at
            )
            start = volumes_at + path_at
            if start + path_chars * 2 > len(data) or at + entry > volumes_at + volumes_size:
                raise ValueError("entry or device path past the volumes section")
            path = data[start : start + path_chars * 2].decode("utf-16-le", "replace")
            record.volumes.append(Volume(path, serial, filetime_to_utc(created), directories))
        except (struct.error, ValueError) as exc:
            yield ParseWarning(f"volume {n}", at, f"unreadable volume entry: {exc}")
    yield record


def to_rows(record: Prefetch, source: str) -> list[Row]:
    """One row per run time, newest first; no run time at all -> one row without a time."""
    path = record.path
    volumes = "; ".join(
        f"{v.device_path} serial {v.serial:08X}" + (f" created {v.created.isoformat()}" if v.created else "")
        for v in record.volumes
    )
    common: dict[str, str | None] = {
        "executable": record.executable,
        "run_count": str(record.run_count),
        "prefetch_hash": f"{record.prefetch_hash:08X}",
        "format_version": str(record.version),
        "compressed": str(record.compressed).lower(),
        "files_count": str(len(record.files)),
        "volumes": volumes or None,
        "volume_serials": "; ".join(f"{v.serial:08X}" for v in record.volumes) or None,
    }
    times: list[datetime | None] = list(record.run_times) or [None]
    rows: list[Row] = []
    for n, when in enumerate(times):
        fields = dict(common)
        fields["run_index"] = str(n)
        if n == 0:
            fields["files"] = "; ".join(record.files) or None
        which = "last run" if n == 0 else f"earlier run {n}"
        row: dict[str, Any] = {
            "datetime": when,
            "timestamp_desc": "Last Run",
            "message": f"prefetch {record.executable} {which} (run count {record.run_count})",
            "source": source,
            "source_record": n,
            "event_action": "program-run",
            "event_provider": "prefetch",
            "process_executable": path or record.executable,
            "file_path": path or record.executable,
        }
        rows.append((row, fields))
    return rows


def _rows(fh: BinaryIO, source: str) -> Iterator[Row | ParseWarning]:
    for item in read_prefetch(fh):
        if isinstance(item, ParseWarning):
            yield item
        else:
            yield from to_rows(item, source)


class PrefetchParser(Parser):
    """Windows prefetch (SCCA, or MAM-compressed SCCA) -> one ``Last Run`` row per run time."""

    name = "windows_prefetch"

    def sniff(self, head: bytes) -> bool:
        if head[:4] == b"MAM\x04":
            return len(head) >= 8 and 0 < struct.unpack_from("<I", head, 4)[0] <= MAX_SIZE
        return len(head) >= 8 and head[4:8] == b"SCCA" and struct.unpack_from("<I", head, 0)[0] in VERSIONS

    def parse(self, fh: BinaryIO, unit: Any, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        yield from batched(_rows(fh, self.name), options.batch_rows)
