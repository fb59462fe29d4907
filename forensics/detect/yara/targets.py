"""What ``scan`` scans, cut into work units for its workers, and reading those files.

Targets are loose files and folders (recursive, not through symbolic links; a file reached twice
is scanned once) and ``DiskImage``s: the files inside a disk image, read through dissect.target
(``image_files``: the image is opened read-only and never extracted; gzip/bz2/xz-compressed
images are decompressed in memory as the ingest does). The work units are batches of loose files
and shares of an image's files; files over the size limit and paths that cannot be read are
reported as warnings, not scanned. Each file is read whole.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from forensics.detect.yara.results import ScanResult, YaraWarning, _one_line

#: Loose files per work unit, and bytes.
_UNIT_FILES, _UNIT_BYTES = 128, 32 << 20
#: Image shards: one per this many bytes of image (at most 4 per worker).
_SHARD_BYTES = 256 << 20


@dataclass(frozen=True, slots=True)
class DiskImage:
    """A scan target: the files inside a disk image (not the image's own bytes)."""

    path: str
    #: The image's evidence id in a case (its sha256), carried into findings.
    evidence_id: str | None = None


def _plan(
    targets: list[str | Path | DiskImage], max_size: int | None, jobs: int
) -> tuple[list[tuple], ScanResult]:
    """Work units: ("files", ((path, size), ...)) batches of loose files, ("image", path,
    evidence_id, shard, shards) shares of an image's files. Files over ``max_size`` and paths
    that cannot be read are reported in the result here."""
    result = ScanResult()
    units: list[tuple] = []
    batch: list[tuple[str, int]] = []
    total = 0
    seen: set[str] = set()  # a file reached twice (a folder and a file in it) is scanned once
    for target in targets:
        if isinstance(target, DiskImage):
            image = _abs(target.path)
            try:
                size = os.stat(image).st_size
            except OSError as exc:
                result.warnings.append(YaraWarning("image", image, _one_line(exc)))
                continue
            shards = max(1, min(4 * jobs, math.ceil(size / _SHARD_BYTES)))
            units.extend(("image", image, target.evidence_id, k, shards) for k in range(shards))
            continue
        for path, size, problem in _walk(Path(target)):
            if path in seen:
                continue
            seen.add(path)
            if problem is not None:
                result.warnings.append(YaraWarning("read", path, problem))
            elif max_size is not None and size > max_size:
                result.warnings.append(YaraWarning("size", path, _too_large(size, max_size)))
            else:
                batch.append((path, size))
                total += size
                if len(batch) >= _UNIT_FILES or total >= _UNIT_BYTES:
                    units.append(("files", tuple(batch)))
                    batch, total = [], 0
    if batch:
        units.append(("files", tuple(batch)))
    return units, result


def _walk(path: Path) -> Iterator[tuple[str, int, str | None]]:
    """(path, size, None) of every regular file at or under ``path``; (path, 0, reason) for
    what cannot be read. Folders are not followed through symbolic links."""
    path = path.expanduser().absolute()
    try:
        info = path.stat()
    except OSError as exc:
        yield str(path), 0, _one_line(exc)
        return
    if not stat.S_ISDIR(info.st_mode):
        if stat.S_ISREG(info.st_mode):
            yield str(path), info.st_size, None
        return
    for root, dirs, names in os.walk(path, onerror=None):
        dirs.sort()
        for name in sorted(names):
            if name.startswith(".carving-"):  # a carve still being written (forensics ingest --carve)
                continue
            full = os.path.join(root, name)
            try:
                info = os.stat(full)
            except OSError as exc:
                yield full, 0, _one_line(exc)
                continue
            if stat.S_ISREG(info.st_mode):
                yield full, info.st_size, None


def _too_large(size: int, max_size: int) -> str:
    return f"{size:,} bytes, over the {max_size:,}-byte limit: not scanned"


def _unit_name(unit: tuple) -> str:
    """A work unit for a warning: its first file (and how many more), or the image's share."""
    if unit[0] == "files":
        more = len(unit[1]) - 1
        return unit[1][0][0] + (f" and {more} more files" if more else "")
    return f"{unit[1]} (share {unit[3] + 1} of {unit[4]})" if unit[4] > 1 else unit[1]


def _abs(path: str | Path) -> str:
    return str(Path(path).expanduser().absolute())


def _read(path: str, max_size: int | None, out: ScanResult) -> tuple[str, bytes, os.stat_result] | None:
    """A loose file: (path, its bytes, its stat), or None when it cannot be read or is now over
    ``max_size`` (reported in ``out``)."""
    try:
        with open(path, "rb") as fh:
            info = os.fstat(fh.fileno())
            data = fh.read() if max_size is None else fh.read(max_size + 1)
    except OSError as exc:
        out.warnings.append(YaraWarning("read", path, _one_line(exc)))
        return None
    if max_size is not None and len(data) > max_size:  # grew since it was listed
        out.warnings.append(YaraWarning("size", path, _too_large(len(data), max_size)))
        return None
    return path, data, info


class _Images:
    """A worker's disk image: its files, the image kept open for the worker's next share of it."""

    def __init__(self) -> None:
        self._image: tuple[str, list[Any] | str, BinaryIO | None] | None = None

    def close(self) -> None:
        if self._image is not None and self._image[2] is not None:
            self._image[2].close()
        self._image = None

    def share(
        self, image: str, shard: int, shards: int, max_size: int | None, out: ScanResult
    ) -> Iterator[tuple[str, bytes]]:
        """(path inside, bytes) of the files of one share of ``image``; what cannot be read, and
        files over ``max_size``, reported in ``out``."""
        files = self._listing(image)
        if isinstance(files, str):
            if shard == 0:
                out.warnings.append(YaraWarning("image", image, files))
            return
        if not files and shard == 0:
            out.warnings.append(
                YaraWarning("image", image, "no files read: no readable file system, or empty")
            )
        for entry in files[shard::shards]:
            where = f"{entry.path} (in {image})"
            if max_size is not None and entry.size > max_size:
                out.warnings.append(YaraWarning("size", where, _too_large(entry.size, max_size)))
                continue
            try:
                with entry.open() as stream:
                    data = stream.read()
            except Exception as exc:  # dissect raises its own errors for damaged file systems
                out.warnings.append(YaraWarning("read", where, _one_line(exc)))
                continue
            yield entry.path, data

    def _listing(self, image: str) -> list[Any] | str:
        """The regular files of ``image`` (kept open for this worker's next share of it), or
        why it cannot be read."""
        if self._image is not None and self._image[0] == image:
            return self._image[1]
        self.close()
        from parsers.compressed import detect, open_decompressed
        from parsers.disk_image import image_files

        fh: BinaryIO | None = None
        try:
            fh = open(image, "rb")  # noqa: SIM115 (kept open while this worker reads the image)
            kind = detect(fh.read(8))
            fh.seek(0)
            stream: BinaryIO = open_decompressed(fh, kind) if kind else fh
            listing: list[Any] | str = list(image_files(stream))
        except Exception as exc:  # an image dissect.target cannot open: reported, others go on
            listing = f"cannot open the image: {_one_line(exc)}"
        self._image = (image, listing, fh)
        return listing
