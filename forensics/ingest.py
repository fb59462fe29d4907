"""Evidence -> case store: find files, hash them, pick parsers by content, parse in parallel.

Each evidence file is hashed (sha256) while opened read-only; a file whose hash is already in
the manifest is skipped, so re-ingesting adds no rows. Its parser (chosen by magic bytes, never
by name) splits it into work units that run in a process pool, each writing its own Parquet
file; the main process hashes the next file meanwhile. Anything that cannot be read becomes a
located warning, and each file gets one manifest row with a status and a one-line reason.
gzip, bzip2 and xz files (rotated logs) are sniffed and parsed through a decompressing stream;
the parser is the inner format's, and the manifest's reason names the compression. Each file's
modification time goes to its parser in ``Options.file_mtime`` (syslog years are inferred from it).
With ``defer_hash`` the full hash waits for ``tracehound hash`` (forensics.integrity).
"""

from __future__ import annotations

import dataclasses
import gc
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from forensics import __version__
from forensics.case import Case, CaseError
from forensics.integrity import quick_id, sha256_file
from forensics.rows import ROW_GROUP_ROWS, with_host_name
from forensics.schema import TIMELINE
from forensics.timeutil import ns_to_utc
from parsers import HEAD_BYTES, Options, Parser, ParseWarning, by_name, sniff
from parsers.collection import with_context
from parsers.compressed import DecompressedReader, decompressed_size, detect, open_decompressed
from parsers.target_info import HostContext, host_context

__all__ = ["FileResult", "IngestReport", "discover", "ingest"]

_EVIDENCE_ID = TIMELINE.get_field_index("evidence_id")
_SOURCE_FILE = TIMELINE.get_field_index("source_file")
Progress = Callable[..., None]


@dataclass
class FileResult:
    """What happened to one evidence file."""

    path: str
    size: int = 0
    sha256: str | None = None
    #: The id rows carry: the sha256, or a provisional ``quick-`` id when hashing is deferred.
    evidence_id: str | None = None
    parser: str | None = None
    status: str = "ok"
    reason: str = ""
    records: int = 0
    warnings: list[ParseWarning] = field(default_factory=list)
    seconds: float = 0.0
    compression: str | None = None

    @property
    def lost(self) -> int:
        return sum(w.count for w in self.warnings)


@dataclass
class IngestReport:
    """Per-file results of one ingest run."""

    files: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0
    #: Evidence folders recognised as a host's collection -> that host.
    contexts: dict[str, HostContext] = field(default_factory=dict)

    @property
    def records(self) -> int:
        return sum(f.records for f in self.files)

    @property
    def warnings(self) -> int:
        return sum(len(f.warnings) for f in self.files)

    @property
    def ingested_anything(self) -> bool:
        return any(f.status in ("ok", "partial", "duplicate") for f in self.files)


def discover(paths: Iterable[str | Path], case_root: Path) -> Iterator[Path]:
    """Files under the given paths, recursively, in a stable order; the case itself is
    never evidence, and a case folder inside an evidence folder is refused."""
    for given in paths:
        path = Path(given).expanduser().absolute()
        if path.is_dir():
            if case_root == path.resolve() or case_root.is_relative_to(path.resolve()):
                raise CaseError(
                    f"the case folder {case_root} is inside the evidence folder {path}: choose a case folder outside it"
                )
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    yield Path(root) / name
        else:
            yield path


def ingest(
    case: Case,
    paths: Iterable[str | Path],
    *,
    options: Options | None = None,
    jobs: int | None = None,
    progress: Progress | None = None,
    defer_hash: bool = False,
) -> IngestReport:
    """Ingest every file under ``paths`` into ``case``; never raises for bad evidence.

    ``defer_hash`` skips the full sha256 before parsing (hours for a multi-terabyte image):
    rows then carry a provisional ``quick-`` evidence id and the manifest's sha256 stays empty
    until ``Case.hash_evidence()`` (``tracehound hash``) reads the files."""
    jobs = jobs or os.cpu_count() or 1
    options = dataclasses.replace(options or Options(), workers=jobs)
    report = IngestReport()
    started = time.perf_counter()
    known = case.known_evidence()
    pool = ProcessPoolExecutor(max_workers=jobs) if jobs > 1 else None
    warm_up = threading.Thread(target=_import_pandas, daemon=True)
    warm_up.start()
    pending: list[tuple[FileResult, list[Future], list[Path], float]] = []
    finished: list[FileResult] = []  # recorded in the manifest in batches
    try:
        for path, folder_options in _with_context(paths, case.root, options, report):
            result, units, file_options = _prepare(path, known, folder_options, progress, defer_hash)
            report.files.append(result)
            if progress:
                progress("file", result=result, units=len(units))
            if not units:
                if result.status != "duplicate":
                    finished.append(result)
                continue
            known.add(result.evidence_id or "")
            warm_up.join()  # before any fork: a fork during an import can deadlock
            outputs = [
                case.store / result.parser / f"{result.evidence_id}-{i:05d}.parquet"
                for i in range(len(units))
            ]
            outputs[0].parent.mkdir(parents=True, exist_ok=True)
            jobs_args = [
                (
                    result.parser,
                    str(path),
                    unit,
                    file_options,
                    str(out),
                    result.evidence_id,
                    str(path),
                    result.compression,
                )
                for unit, out in zip(units, outputs, strict=True)
            ]
            if pool is None:
                futures = [_done(run_unit(*args)) for args in jobs_args]
            else:
                futures = [pool.submit(run_unit, *args) for args in jobs_args]
            pending.append((result, futures, outputs, time.perf_counter()))
            _collect(pending, finished, progress, block=False)
            if len(finished) >= 256:
                _record(case, finished)
        _collect(pending, finished, progress, block=True)
    finally:
        _record(case, finished)
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    report.seconds = time.perf_counter() - started
    return report


def _import_pandas() -> None:
    """pyarrow imports pandas on its first conversion of Python objects (0.3 s), as every
    parser's first batch is. Imported once here, in a thread while the first file is hashed
    (hashing lets go of the interpreter), the workers forked after it are spared it."""
    import pandas  # noqa: F401


def _with_context(
    paths: Iterable[str | Path], case_root: Path, options: Options, report: IngestReport
) -> Iterator[tuple[Path, Options]]:
    """Each evidence file with the options to parse it with: a folder that dissect.target
    recognises as a host's collection (acquire, KAPE, Velociraptor, UAC, a root tree) gives
    its files that host's time zone and name (``report.contexts``)."""
    for given in paths:
        folder_options = options
        if Path(given).is_dir():
            context = host_context(Path(given).expanduser().absolute())
            if context is not None:
                report.contexts[str(given)] = context
                folder_options = with_context(options, context)
        for path in discover([given], case_root):
            if not path.is_relative_to(case_root):
                yield path, folder_options


def _prepare(
    path: Path,
    known: set[str],
    options: Options,
    progress: Progress | None = None,
    defer_hash: bool = False,
) -> tuple[FileResult, list[object], Options]:
    """Hash, sniff and plan one file; a file that cannot go further gets its reason."""
    result = FileResult(path=str(path))
    try:
        info = path.stat()
        result.size = info.st_size
        options = dataclasses.replace(options, file_mtime=ns_to_utc(info.st_mtime_ns), source_path=str(path))
        if not os.access(path, os.R_OK):
            raise PermissionError("permission denied")
        hashed = None
        if progress is not None:

            def hashed(done: int) -> None:
                progress("hash", result=result, done=done, total=result.size)

        if defer_hash:
            result.evidence_id = quick_id(path)
        else:
            result.sha256 = result.evidence_id = sha256_file(path, done=hashed)
        if result.evidence_id in known:
            same = "quick id" if defer_hash else "sha256"
            result.status, result.reason = "duplicate", f"already ingested (same {same})"
            return result, [], options
        if result.size == 0:
            result.status, result.reason = "unrecognised", "empty file"
            return result, [], options
        with open(path, "rb") as file:
            head = file.read(HEAD_BYTES)
            result.compression = detect(head)
            fh: BinaryIO = file
            if result.compression:
                fh = stream = open_decompressed(file, result.compression)
                head = stream.read(HEAD_BYTES)
                if not head and stream.error:
                    result.status = "unreadable"
                    result.reason = f"corrupt {result.compression} data: {stream.error}"
                    return result, [], options
            parser = sniff(head, _inner_name(str(path), result.compression))
            if parser is None:
                what = "not a supported format"
                if result.compression:
                    what = f"{result.compression}-compressed; {what} inside"
                result.status, result.reason = "unrecognised", f"{what} (starts with {head[:8]!r})"
                return result, [], options
            result.parser = parser.name
            size = result.size
            if result.compression:  # one pass to learn the size plans need (and where data breaks)
                size = decompressed_size(fh)
                result.reason = f"{result.compression}-compressed ({size:,} bytes decompressed)"
            fh.seek(0)
            return result, parser.plan(fh, size, options), options
    except OSError as exc:
        result.status, result.reason = "unreadable", f"cannot read: {exc.strerror or exc}"
    except Exception as exc:
        result.status, result.reason = "failed", f"{type(exc).__name__}: {exc}"
    return result, [], options


def _inner_name(path: str, compression: str | None) -> str:
    """The path without its compression suffix (``.bash_history.gz`` -> ``.bash_history``)."""
    suffixes = {"gzip": (".gz", ".gzip"), "bz2": (".bz2",), "xz": (".xz",)}
    for suffix in suffixes.get(compression or "", ()):
        if path.lower().endswith(suffix):
            return path[: -len(suffix)]
    return path


#: The garbage collector's thresholds while a unit is parsed: parsers allocate millions of small
#: objects that die young and make few cycles, so collecting the young generation every 50,000
#: allocations instead of 700 costs little memory and ~8 % of a capture's parse time.
PARSE_GC_THRESHOLD = (50_000, 20, 100)


def run_unit(
    parser_name: str,
    path: str,
    unit: object,
    options: Options,
    out: str,
    evidence_id: str,
    source_file: str,
    compression: str | None = None,
) -> tuple[int, list[ParseWarning]]:
    """Parse one work unit into one Parquet file (written under a temporary name); a
    compressed file is read through a decompressing stream, and where its data breaks is a warning."""
    parser: Parser = by_name(parser_name)
    rows = 0
    found: list[ParseWarning] = []
    writer: pq.ParquetWriter | None = None
    collecting = gc.get_threshold()
    gc.set_threshold(*PARSE_GC_THRESHOLD)  # restored below: a notebook's own process is left as it was
    tmp = out + ".tmp"
    pending: list[pa.RecordBatch] = []  # parsers yield small batches; row groups are larger

    def write() -> None:
        nonlocal writer, rows
        if writer is None:
            writer = pq.ParquetWriter(tmp, TIMELINE, compression="zstd")
        table = pa.Table.from_batches(pending)
        writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        rows += table.num_rows
        pending.clear()

    try:
        with open(path, "rb") as file:
            fh: BinaryIO = open_decompressed(file, compression) if compression else file
            for item in parser.parse(fh, unit, options):
                if isinstance(item, ParseWarning):
                    found.append(item)
                    continue
                pending.append(with_host_name(_stamp(item, evidence_id, source_file), options.host_name))
                if sum(b.num_rows for b in pending) >= ROW_GROUP_ROWS:
                    write()
            if isinstance(fh, DecompressedReader) and fh.error:
                at = fh.error_at or 0
                found.append(
                    ParseWarning("file", at, f"{compression} data corrupt after {at:,} bytes: {fh.error}", 1)
                )
        if pending:
            write()
    except Exception as exc:
        found.append(ParseWarning("unit", None, f"parser stopped: {type(exc).__name__}: {exc}", 0))
    finally:
        gc.set_threshold(*collecting)
        if writer is not None:
            writer.close()
    return rows, found


def _stamp(batch: pa.RecordBatch, evidence_id: str, source_file: str) -> pa.RecordBatch:
    """Fill the evidence id and source file columns the parser leaves to the ingest."""
    n = batch.num_rows
    columns = list(batch.columns)
    if columns[_EVIDENCE_ID].null_count == n:
        columns[_EVIDENCE_ID] = pa.array([evidence_id] * n, pa.string())
    if columns[_SOURCE_FILE].null_count == n:
        columns[_SOURCE_FILE] = pa.array([source_file] * n, pa.string())
    return pa.RecordBatch.from_arrays(columns, schema=TIMELINE)


def _done(value: Any) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


def _collect(pending: list, finished: list[FileResult], progress: Progress | None, *, block: bool) -> None:
    """Finish files whose units are all done (in order): rename their outputs into place."""
    while pending:
        result, futures, outputs, started = pending[0]
        if not block and not all(f.done() for f in futures):
            return
        pending.pop(0)
        failed = 0
        for future, out in zip(futures, outputs, strict=True):
            try:
                rows, found = future.result()
            except Exception as exc:
                rows, found = 0, [ParseWarning("unit", None, f"worker failed: {exc}", 0)]
                failed += 1
            result.records += rows
            result.warnings.extend(found)
            tmp = Path(str(out) + ".tmp")
            if tmp.exists():
                tmp.replace(out)
            if progress:
                progress("unit", result=result, records=rows)
        result.seconds += time.perf_counter() - started
        if failed == len(futures):
            result.status, result.reason = "failed", result.warnings[-1].reason
        elif result.lost or failed or any(w.location == "unit" for w in result.warnings):
            result.status = "partial"
            result.reason = f"{result.lost} records unreadable, see warnings"
            if result.compression:
                result.reason = f"{result.compression}-compressed; {result.reason}"
        finished.append(result)
        if progress:
            progress("done", result=result)


def _record(case: Case, results: list[FileResult]) -> None:
    """Manifest rows and warnings of finished files, in one transaction."""
    if not results:
        return
    now = datetime.now(UTC)
    manifest = [
        [
            r.evidence_id, r.path, r.size, r.sha256, r.parser, r.status, r.reason, r.records,
            len(r.warnings), r.lost, round(r.seconds, 3), __version__, now,
        ]
        for r in results
    ]  # fmt: skip
    warnings = [
        [r.evidence_id, r.path, r.parser, w.location, w.offset, w.reason, w.count]
        for r in results
        for w in r.warnings
    ]
    with case.connect() as con:
        con.execute("BEGIN")
        con.executemany("INSERT INTO manifest VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", manifest)
        if warnings:
            con.executemany("INSERT INTO warnings VALUES (?, ?, ?, ?, ?, ?, ?)", warnings)
        con.execute("COMMIT")
    results.clear()
