"""One evidence item of a triage batch: its own case folder, ingested, detected on, summarised.

An item (a disk image, a triage collection, a folder of logs, a capture) gets a case of its own
under the batch's ``items/<key>/``: items never share a DuckDB file or a store, so any number of
processes, on one machine or on a Dask cluster sharing the path, work on a batch at once. The
item is finished when ``done.json`` (its summary) is in its folder, written last and atomically:
a folder without it is the trace of an interrupted run, removed and redone, so a rerun neither
repeats finished work nor doubles a row.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ATTEMPTS", "DONE", "Detections", "ItemResult", "item_key", "run_item", "run_limited"]

#: Attempts per item: the first, and one retry after its process died or overran.
ATTEMPTS = 2
_ERROR = "error.txt"

#: The file that says an item is finished (its summary).
DONE = "done.json"


@dataclass(frozen=True)
class Detections:
    """What to run over every item once ingested (paths as the detect command takes them)."""

    sigma: tuple[str, ...] = ()
    intel: tuple[str, ...] = ()
    yara: tuple[str, ...] = ()


@dataclass
class ItemResult:
    key: str
    path: str
    status: str  # done | failed
    seconds: float = 0.0
    reason: str = ""
    summary: dict[str, Any] = field(default_factory=dict)


def item_key(path: str | Path) -> str:
    """A folder name for an item: its name and a hash of its absolute path (the same input always
    lands in the same folder, so a rerun finds what it finished)."""
    absolute = str(Path(path).expanduser().resolve())
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(absolute).name)[:40] or "item"
    return f"{name}-{hashlib.sha256(absolute.encode()).hexdigest()[:10]}"


def run_item(path: str, folder: str, detections: Detections) -> dict[str, Any]:
    """Ingest ``path`` into the case at ``folder``, run ``detections``, write and return the
    summary. Any earlier unfinished attempt in ``folder`` is removed first."""
    from forensics.case import Case
    from forensics.triage.summary import summarise

    started = time.perf_counter()
    target = Path(folder)
    if target.exists():
        shutil.rmtree(target)
    case = Case.open(target)
    report = case.ingest([path], jobs=1)
    if detections.sigma:
        from forensics.detect.sigma import detect_sigma

        detect_sigma(case, detections.sigma, run="triage")
    if detections.intel:
        from forensics.detect.intel import detect_intel

        detect_intel(case, detections.intel, run="triage")
    if detections.yara:
        from forensics.detect.yara import detect_yara

        detect_yara(case, detections.yara, run="triage", jobs=1)
    summary = summarise(case, path)
    summary["ingest"] = {
        "files": len(report.files),
        "records": report.records,
        "warnings": report.warnings,
        "not_ingested": [
            f"{f.path}: {f.status} ({f.reason})" for f in report.files if f.status not in ("ok", "partial")
        ][:20],
    }
    summary["seconds"] = round(time.perf_counter() - started, 3)
    tmp = target / (DONE + ".tmp")
    tmp.write_text(json.dumps(summary, indent=1, default=str))
    os.replace(tmp, target / DONE)
    return summary


def run_limited(
    path: str,
    folder: str,
    detections: Detections,
    time_limit: float | None = None,
    memory_mb: int | None = None,
) -> ItemResult:
    """``run_item`` in a process of its own (``python -m forensics.triage``), with a time and
    a memory limit, tried ``ATTEMPTS`` times; never raises. The same function runs the local
    batch (a thread per slot waits on it) and each task on a Dask cluster (a Dask worker may not
    fork, a subprocess it may start)."""
    target = Path(folder)
    done = target / DONE
    if done.exists():
        summary = json.loads(done.read_text())
        return ItemResult(target.name, path, "done", summary.get("seconds", 0.0), "already triaged", summary)
    if not Path(path).exists():
        return ItemResult(target.name, path, "failed", reason="no such file or folder")
    started = time.perf_counter()
    reason = ""
    limit = (memory_mb << 20) if memory_mb else None
    for _ in range(ATTEMPTS):
        command = [sys.executable, "-m", "forensics.triage", path, folder, json.dumps(asdict(detections))]
        try:
            finished = subprocess.run(
                command, timeout=time_limit, capture_output=True, text=True, check=False,
                preexec_fn=(lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit))) if limit else None,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            reason = f"stopped after the time limit of {time_limit:g} s"
            continue
        if done.exists():
            summary = json.loads(done.read_text())
            return ItemResult(target.name, path, "done", time.perf_counter() - started, "", summary)
        error = target / _ERROR
        if error.exists():
            reason = error.read_text().splitlines()[0]
        elif finished.returncode < 0:
            reason = f"its process was killed (signal {-finished.returncode})"
        else:
            last = (finished.stderr.strip().splitlines() or [""])[-1]
            reason = f"its process ended with code {finished.returncode}: {last}".rstrip(": ")
    return ItemResult(target.name, path, "failed", time.perf_counter() - started, reason)


def main(argv: list[str] | None = None) -> int:
    """``python -m forensics.triage PATH FOLDER DETECTIONS_JSON``: one item, its error (if it
    raises) in the item folder's ``error.txt`` for the runner."""
    path, folder, spec = argv if argv is not None else sys.argv[1:]
    detections = Detections(**{k: tuple(v) for k, v in json.loads(spec).items()})
    import pyarrow as pa

    # One item per core: Arrow's pools sized to every core only spin on the others' (measured on
    # a corpus image alone: 6.5 s of CPU with them, 5.4 s without).
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    try:
        run_item(path, folder, detections)
    except Exception as exc:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / _ERROR).write_text(f"{type(exc).__name__}: {exc}\n")
        return 1
    return 0
