"""Disk images (E01, VMDK, VHD/VHDX, QCOW2, raw disks and file systems) through dissect.target.

An image is not one artifact but a container of many, so its work plan has three kinds of unit:
- ``files``: log files inside the image that a registered parser recognises (EVTX under
  ``winevt/Logs``, Linux logs under ``/var/log``, shell histories) are parsed by that same
  parser, so an EVTX inside an image gives the rows a loose copy gives; each row's
  ``source_file`` is its path inside the image;
- ``plugins``: artifacts that are not log files (accounts, cron jobs, services, Run keys,
  prefetch, amcache...) come from dissect.target's plugins, mapped by ``dissect_records``;
- ``fs``: the file-system timeline (one row per file and time kind, MACB), behind
  ``Options.fs_timeline`` because of its size, and always when the OS is unknown, since it is
  then all the image offers; the temporary folders (``/tmp``...) are always listed.
Units are independent (each worker reopens the image read-only), so one image uses every core.
The first unit also describes the image (OS, host name, time zone, disks, volumes, file systems)
in one ``image-opened`` row; encrypted volumes (BitLocker, LUKS) and images without a readable
file system are reported as warnings with the reason.

References: dissect.target (docs.dissect.tools: loaders, containers, plugins); the container
formats' magic numbers from their specifications: EWF (libyal libewf "Expert Witness
Compression Format"), QCOW2 (QEMU docs/interop/qcow2), VMDK (VMware Virtual Disk Format 1.1),
VHD (Microsoft Virtual Hard Disk Image Format Specification), VHDX ([MS-VHDX]).
"""

from __future__ import annotations

import dataclasses
import io
import logging
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import pyarrow as pa

from forensics.rows import RowBuilder
from forensics.timeutil import ns_to_utc
from parsers.base import Options, Parser, ParseWarning
from parsers.dissect_records import record_row
from parsers.target_info import describe, safe, timezone
from parsers.target_info import family as target_family

__all__ = ["DiskImageParser", "ImageFile", "image_files"]

#: dissect.target functions run per OS family; missing ones are skipped.
PLUGINS: dict[str, tuple[str, ...]] = {
    "windows": (
        "users", "services", "tasks", "runkeys", "prefetch", "amcache", "shimcache", "userassist",
        "shellbags", "lnk", "powershell_history", "browser.history", "browser.downloads",
    ),
    "linux": ("users", "groups", "cronjobs", "services", "ssh.authorized_keys", "browser.history"),
}  # fmt: skip
#: Where log files live, per OS family (globs on the target's root file system).
LOG_GLOBS: dict[str, tuple[str, ...]] = {
    "windows": ("sysvol/windows/system32/winevt/logs/*.evtx",),
    "linux": ("var/log/**/*", "root/.*history", "home/*/.*history"),
    "unknown": ("**/*",),  # no OS to go by: every file is offered to the parsers (sniffed)
}
#: Folders whose file-system timeline is always written (without ``--fs-timeline``): where
#: intruders drop tools, and small on any normal system.
TEMP_DIRS: dict[str, tuple[str, ...]] = {"linux": ("/tmp", "/var/tmp", "/dev/shm")}
#: Largest compressed image decompressed into memory.
MAX_IN_MEMORY = 1 << 30
#: Bytes of inner files per ``files`` unit.
FILES_PER_UNIT = 4 << 20
_ENCRYPTED = ((3, b"-FVE-FS-", "BitLocker"), (0, b"LUKS\xba\xbe", "LUKS"))
_log = logging.getLogger(__name__)


def _image_magic(head: bytes) -> bool:
    """Containers and raw disks or file systems dissect.target opens."""
    if head[:8] in (b"EVF\x09\x0d\x0a\xff\x00", b"LVF\x09\x0d\x0a\xff\x00") or head[:4] == b"QFI\xfb":
        return True  # EWF (E01/L01), QCOW2
    if (
        head[:4] == b"KDMV"
        or head.startswith(b"# Disk DescriptorFile")
        or head[:8] in (b"vhdxfile", b"conectix")
    ):
        return True  # VMDK sparse/descriptor, VHDX, VHD (dynamic copy of the footer at the start)
    if len(head) >= 1082 and head[1080:1082] == b"\x53\xef":
        return True  # ext2/3/4 superblock
    if head[3:11] in (b"NTFS    ", b"EXFAT   ", b"-FVE-FS-") or head[:6] == b"LUKS\xba\xbe":
        return True
    if len(head) >= 512 and head[510:512] == b"\x55\xaa":
        if head[82:87] == b"FAT32" or head[54:59] in (b"FAT12", b"FAT16"):
            return True
        if len(head) >= 520 and head[512:520] == b"EFI PART":
            return True
        return any(head[446 + 16 * i + 4] not in (0,) and head[446 + 16 * i] in (0, 0x80) for i in range(4))
    return False


@dataclass(frozen=True, slots=True)
class ImageFile:
    """A regular file inside an image: its path, size, and how to read it (read-only)."""

    path: str
    size: int
    open: Callable[[], BinaryIO]


def image_files(fh: BinaryIO, under: str = "/") -> Iterator[ImageFile]:
    """Every regular file of the image (all its file systems, as dissect.target mounts them),
    for scanners that need content rather than timeline rows (YARA, hashing)."""
    target = _open(fh)
    if not target.filesystems:
        return
    top = target.fs.path(under)
    for entry in top.rglob("*"):
        try:
            info = entry.lstat()
        except Exception:
            continue
        if stat.S_ISREG(info.st_mode):
            yield ImageFile(str(entry), info.st_size, lambda entry=entry: entry.open("rb"))


class DiskImageParser(Parser):
    """Disk images and raw file systems, opened read-only with dissect.target."""

    name = "disk_image"

    def sniff(self, head: bytes) -> bool:
        return _image_magic(head)

    def plan(self, fh: BinaryIO, size: int, options: Options) -> list[object]:
        target = _open(fh)
        family = target_family(target)
        units: list[object] = [("info",)]
        functions = [f for f in PLUGINS.get(family, ()) if _has(target, f)]
        if functions:
            units.append(("plugins", tuple(functions)))
        batch: list[str] = []
        total = 0
        for path, length in _log_files(target, family):
            batch.append(path)
            total += length
            if total >= FILES_PER_UNIT:
                units.append(("files", tuple(batch)))
                batch, total = [], 0
        if batch:
            units.append(("files", tuple(batch)))
        if options.fs_timeline or family == "unknown":
            roots = sorted(str(p) for p in target.fs.path("/").iterdir()) if target.filesystems else []
            for i in range(0, len(roots), 16):
                units.append(("fs", tuple(roots[i : i + 16])))
        elif family in TEMP_DIRS:  # small, and where dropped tools sit: always listed
            units.append(("fs", TEMP_DIRS[family]))
        return units

    def parse(self, fh: BinaryIO, unit: Any, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        target = _open(fh)
        kind = unit[0]
        if kind == "info":
            yield from _info(target, fh)
        elif kind == "plugins":
            yield from _plugins(target, unit[1], options)
        elif kind == "files":
            yield from _files(target, unit[1], options)
        elif kind == "fs":
            yield from _fs_timeline(target, unit[1], options)


def _open(fh: BinaryIO) -> Any:
    """The image as a dissect.target Target, from the open (read-only) evidence file."""
    from dissect.target import Target, container

    logging.getLogger("dissect").setLevel(logging.ERROR)
    fh = _random_access(fh)
    target = Target()
    target.disks.add(container.open(fh))
    target.apply()
    return target


def _random_access(fh: BinaryIO) -> BinaryIO:
    """``fh`` itself when it can seek anywhere; a compressed image (``.raw.gz``, read through a
    decompressing stream that cannot seek from its end) is decompressed into memory, up to
    MAX_IN_MEMORY: the evidence file is never unpacked onto disk."""
    try:
        fh.seek(0, io.SEEK_END)
    except (io.UnsupportedOperation, OSError):
        fh.seek(0)
        data = fh.read(MAX_IN_MEMORY + 1)
        if len(data) > MAX_IN_MEMORY:
            raise ValueError(
                f"compressed image expands past {MAX_IN_MEMORY >> 30} GiB: decompress it to a file first"
            ) from None
        return io.BytesIO(data)
    fh.seek(0)
    return fh


def _has(target: Any, function: str) -> bool:
    try:
        return bool(target.has_function(function.split(".")[0]))
    except Exception:
        return False


def _log_files(target: Any, family: str) -> Iterator[tuple[str, int]]:
    """(path, size) of the regular files at the OS's log locations."""
    seen: set[str] = set()
    root = target.fs.path("/")
    for pattern in LOG_GLOBS.get(family, ()):
        for path in sorted(root.glob(pattern), key=str):
            try:
                info = path.lstat()
            except Exception:
                continue
            if stat.S_ISREG(info.st_mode) and info.st_size and str(path) not in seen:
                seen.add(str(path))
                yield str(path), info.st_size


def _info(target: Any, fh: BinaryIO) -> Iterator[pa.RecordBatch | ParseWarning]:
    """One row that says what the image is; warnings for what cannot be read in it."""
    fields = {
        **describe(target),
        "disks": str(len(target.disks)),
        "volumes": str(len(target.volumes)),
        "filesystems": "; ".join(
            type(f).__name__.removesuffix("Filesystem").lower() for f in target.filesystems
        ),
    }
    builder = RowBuilder()
    builder.add(
        {
            "timestamp_desc": "Event Recorded",
            "host_name": fields["hostname"],
            "source": DiskImageParser.name,
            "event_provider": "dissect.target",
            "event_action": "image-opened",
            "message": "image: " + "; ".join(f"{k}={v}" for k, v in fields.items() if v),
        },
        fields,
    )
    yield builder.flush()  # type: ignore[misc]
    for offset, magic, name in _ENCRYPTED:
        for volume in target.volumes:
            try:
                volume.seek(offset)
                if volume.read(len(magic)) == magic:
                    yield ParseWarning(f"volume {volume.name or volume.number}", None,
                                       f"{name} encrypted volume: contents not readable without the key", 0)  # fmt: skip
            except Exception:
                continue
    if not target.filesystems:
        yield ParseWarning("image", 0, "no readable file system (unknown, damaged or encrypted)", 0)


def _plugins(
    target: Any, functions: tuple[str, ...], options: Options
) -> Iterator[pa.RecordBatch | ParseWarning]:
    builder = RowBuilder()
    for function in functions:
        try:
            call = target
            for part in function.split("."):
                call = getattr(call, part)
            records = call()
            for n, record in enumerate(records):
                row, fields = record_row(record)
                row["source"] = DiskImageParser.name
                row["source_record"] = n
                source = fields.get("source")
                if source:
                    row["source_file"] = source
                    if "datetime" not in row:
                        _date_by_source(target, row, fields, source)
                builder.add(row, fields)
                if len(builder) >= options.batch_rows:
                    yield builder.flush()  # type: ignore[misc]
        except Exception as exc:  # one plugin failing must not stop the others
            yield ParseWarning(f"plugin {function}", None, f"{type(exc).__name__}: {exc}"[:300], 0)
    batch = builder.flush()
    if batch is not None:
        yield batch


def _date_by_source(target: Any, row: dict, fields: dict, source: str) -> None:
    """A record with no time of its own (a cron job, an account) is dated by when its source
    file last changed, and says so."""
    try:
        mtime = target.fs.path(source).stat().st_mtime_ns
    except Exception:
        return
    row["datetime"] = ns_to_utc(mtime)
    row["timestamp_desc"] = "Modified"
    fields["dated_by_source"] = "true"


def _files(target: Any, paths: tuple[str, ...], options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
    """Log files inside the image, each through the parser that recognises it."""
    from parsers import parse_contained

    zone = timezone(target) or options.timezone  # the image knows better than the default
    host = safe(lambda: target.hostname) or options.host_name
    for path in paths:
        entry = target.fs.path(path)
        try:
            info = entry.stat()
            inner = entry.open("rb")
        except Exception as exc:
            yield ParseWarning(path, None, f"cannot open inside the image: {exc}"[:300], 0)
            continue
        with _buffered(inner, info.st_size) as inner:
            inner_options = _inner_options(options, zone, host, info.st_mtime_ns)
            yield from parse_contained(path, inner, info.st_size, inner_options, DiskImageParser.name)


def _buffered(stream: Any, size: int) -> BinaryIO:
    """A file inside the image, read in large blocks: dissect's streams are slow at the small
    reads line-oriented parsers make. Small files are read into memory whole."""
    if size <= 32 << 20:
        with stream:
            return io.BytesIO(stream.read())
    return io.BufferedReader(stream, buffer_size=1 << 20)


def _inner_options(options: Options, zone: str, host: str | None, mtime_ns: int) -> Options:
    """The ingest's options, plus what the image knows about this file (host, zone and time)."""
    return dataclasses.replace(options, timezone=zone, host_name=host, file_mtime=ns_to_utc(mtime_ns))


_MACB = (
    ("st_mtime_ns", "Modified"),
    ("st_atime_ns", "Accessed"),
    ("st_ctime_ns", "Changed"),
    ("st_birthtime_ns", "Created"),
)


def _fs_timeline(
    target: Any, roots: tuple[str, ...], options: Options
) -> Iterator[pa.RecordBatch | ParseWarning]:
    """One row per file and distinct time (times that coincide share a row, MACB style)."""
    builder = RowBuilder()
    for root in roots:
        top = target.fs.path(root)
        if not top.exists():
            continue
        entries = [top, *top.rglob("*")] if top.is_dir() else [top]
        for entry in entries:
            try:
                info = entry.lstat()
            except Exception as exc:
                yield ParseWarning(
                    str(entry), None, f"cannot stat: {type(exc).__name__} {exc}".strip()[:300], 1
                )
                continue
            kinds: dict[int, list[str]] = {}
            for attr, desc in _MACB:
                value = getattr(info, attr, None)
                if value:
                    kinds.setdefault(value, []).append(desc)
            for when, descs in sorted(kinds.items()):
                macb = "".join(
                    c if d in descs else "."
                    for c, d in zip("MACB", ("Modified", "Accessed", "Changed", "Created"), strict=True)
                )
                path = str(entry)
                fields = {"macb": macb, "size": str(info.st_size), "mode": oct(info.st_mode), "uid": str(info.st_uid), "gid": str(info.st_gid), "inode": str(info.st_ino)}  # fmt: skip
                builder.add(
                    {
                        "datetime": ns_to_utc(when), "timestamp_desc": descs[0],
                        "source": DiskImageParser.name, "source_file": path, "file_path": path,
                        "event_provider": "dissect.target", "event_action": "file-" + "-".join(d.lower() for d in descs),
                        "message": f"{macb} {path} ({info.st_size} bytes)",
                    },
                    fields,
                )  # fmt: skip
                if len(builder) >= options.batch_rows:
                    yield builder.flush()  # type: ignore[misc]
    batch = builder.flush()
    if batch is not None:
        yield batch
