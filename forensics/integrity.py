"""Evidence integrity: the sha256 every evidence file is known by, a provisional id when that
hash is deferred, and the later pass that records deferred hashes and re-verifies recorded ones.

Hashing a multi-terabyte image before parsing can take hours; investigators triaging under time
pressure defer it (``tracehound ingest --defer-hash``), and the chain of custody is completed
afterwards with ``tracehound hash``. Evidence is only ever opened read-only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from forensics.case import Case

__all__ = ["QUICK_BYTES", "HashResult", "hash_ahead", "hash_evidence", "quick_id", "sha256_file"]

#: Bytes read from each end of a file for its provisional id when hashing is deferred.
QUICK_BYTES = 1 << 20
#: Progress is reported every this many bytes on large files.
PROGRESS_BYTES = 64 << 20


#: Hashes started by ``hash_ahead``, by (absolute path, size, modification time in ns): the
#: future digest and the bytes hashed so far.
_AHEAD: dict[tuple[str, int, int], tuple[Future[str], list[int]]] = {}


def _key(path: Path) -> tuple[str, int, int]:
    info = path.stat()
    return str(path.absolute()), info.st_size, info.st_mtime_ns


def hash_ahead(paths: Iterable[str | Path]) -> None:
    """Start hashing the evidence files among ``paths`` (not folders) in a thread, now: hashlib
    lets go of the interpreter, so the hash of a large capture or image overlaps the imports and
    set-up before parsing (about a second for 1.3 GB) instead of preceding them. ``sha256_file``
    takes the result; a file changed since is hashed again."""
    files = [Path(p) for p in paths if Path(p).is_file()]
    if not files:
        return
    pool = ThreadPoolExecutor(1, thread_name_prefix="hash-ahead")
    for path in files:
        read = [0]
        _AHEAD[_key(path)] = (pool.submit(_sha256, path, done=partial(read.__setitem__, 0)), read)
    pool.shutdown(wait=False)


def sha256_file(path: Path, block: int = 1 << 20, done: Callable[[int], None] | None = None) -> str:
    """sha256 of a file, read in blocks (never loaded whole); ``done(bytes so far)`` is called
    every 64 MiB, for progress on large images. A hash ``hash_ahead`` started is waited for."""
    ahead = _AHEAD.pop(_key(path), None) if _AHEAD else None
    if ahead is None:
        return _sha256(path, block, done)
    future, read = ahead
    while done is not None and not wait([future], timeout=0.5).done:
        done(read[0])  # progress of the hash in the background
    return future.result()


def _sha256(path: Path, block: int = 1 << 20, done: Callable[[int], None] | None = None) -> str:
    digest = hashlib.sha256()
    read = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
            read += len(chunk)
            if done is not None and read % PROGRESS_BYTES < block:
                done(read)
    return digest.hexdigest()


def quick_id(path: Path) -> str:
    """A provisional evidence id, ``quick-`` + sha256 of the size and the first and last MiB:
    stable across runs (so a re-ingest is still recognised) and read in milliseconds. It is not
    an integrity hash; ``hash_evidence`` records the real sha256 later."""
    size = path.stat().st_size
    digest = hashlib.sha256(size.to_bytes(8, "little"))
    with open(path, "rb") as fh:
        digest.update(fh.read(QUICK_BYTES))
        if size > QUICK_BYTES:
            fh.seek(max(QUICK_BYTES, size - QUICK_BYTES))
            digest.update(fh.read(QUICK_BYTES))
    return "quick-" + digest.hexdigest()


@dataclass(frozen=True, slots=True)
class HashResult:
    """One evidence file after ``hash_evidence``: ``status`` is ``hashed`` (a deferred hash now
    recorded), ``verified`` (matches the recorded hash), ``mismatch``, ``changed`` (size differs
    from the ingest: not hashed, the file is no longer what was parsed) or ``missing``."""

    path: str
    evidence_id: str
    sha256: str | None
    status: str
    reason: str = ""


def hash_evidence(
    case: Case, *, verify: bool = False, progress: Callable[[str, int, int], None] | None = None
) -> list[HashResult]:
    """Record the sha256 of every ingested evidence file whose hash was deferred; with
    ``verify``, also re-hash the others and compare with what the manifest recorded."""
    with case.connect() as con:
        rows = con.execute(
            "SELECT DISTINCT evidence_id, path, size, sha256 FROM manifest "
            "WHERE status IN ('ok', 'partial') ORDER BY path"
        ).fetchall()
    results: list[HashResult] = []
    for evidence_id, path, size, recorded in rows:
        if recorded and not verify:
            continue
        file = Path(path)
        if not file.is_file():
            results.append(HashResult(path, evidence_id, recorded, "missing", "file not found"))
            continue
        now = file.stat().st_size
        if now != size:
            reason = f"size is {now:,} bytes, {size:,} at ingest"
            results.append(HashResult(path, evidence_id, recorded, "changed", reason))
            continue

        def done(read: int, path: str = path, size: int = size) -> None:
            if progress is not None:
                progress(path, read, size)

        digest = sha256_file(file, done=done)
        if recorded is None:
            results.append(HashResult(path, evidence_id, digest, "hashed"))
        elif digest == recorded:
            results.append(HashResult(path, evidence_id, digest, "verified"))
        else:
            results.append(HashResult(path, evidence_id, digest, "mismatch", f"recorded {recorded}"))
    hashed = [(r.sha256, r.evidence_id, r.path) for r in results if r.status == "hashed"]
    if hashed:
        with case.connect() as con:
            con.executemany("UPDATE manifest SET sha256 = ? WHERE evidence_id = ? AND path = ?", hashed)
    return results
