"""Batch triage: many evidence items (images, collections, folders of logs, captures), each one
task (ingest, detections, summary) into its own case under ``<batch>/items/<key>/``, run in
parallel; then the hosts sorted by what fired on them.

The local runner starts one process per item, at most ``workers`` at once, each with optional
time and memory limits. A process that dies or overruns is replaced and its item tried once
more, then recorded as failed with its reason; the batch goes on. Finished items are those with
``done.json``: a rerun of the same command skips them and redoes the rest from scratch, so an
interrupted batch (Ctrl-C, a killed worker or main process) loses nothing and doubles nothing.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import time
import traceback
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from forensics.triage.item import DONE, Detections, ItemResult, item_key, run_item

__all__ = ["Detections", "ItemResult", "TriageReport", "summaries", "triage"]

#: Attempts per item: the first, and one retry after a worker died or overran.
ATTEMPTS = 2
_ERROR = "error.txt"


@dataclass
class TriageReport:
    items: list[ItemResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[ItemResult]:
        return [i for i in self.items if i.status == "failed"]


def _child(path: str, folder: str, detections: Detections, memory_mb: int | None) -> None:
    """The item's process: limits, the task, and its error in ``error.txt`` if it raises."""
    if memory_mb:
        limit = memory_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        run_item(path, folder, detections)
    except BaseException as exc:  # recorded for the parent, which decides on a retry
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / _ERROR).write_text(f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        os._exit(1)
    os._exit(0)


def triage(
    inputs: list[str | Path],
    root: str | Path,
    *,
    workers: int | None = None,
    detections: Detections | None = None,
    time_limit: float | None = None,
    memory_mb: int | None = None,
) -> TriageReport:
    """Triage every item of ``inputs`` into the batch folder ``root`` (see the module notes)."""
    started = time.perf_counter()
    detections = detections or Detections()
    batch = Path(root).expanduser().resolve()
    (batch / "items").mkdir(parents=True, exist_ok=True)
    workers = workers or os.cpu_count() or 1
    report = TriageReport()
    todo: list[tuple[str, Path, int]] = []
    for given in inputs:
        path = str(Path(given).expanduser().resolve())
        folder = batch / "items" / item_key(path)
        if (folder / DONE).exists():
            summary = json.loads((folder / DONE).read_text())
            report.items.append(
                ItemResult(folder.name, path, "done", summary.get("seconds", 0.0), "already triaged", summary)
            )
        elif not Path(path).exists():
            report.items.append(ItemResult(folder.name, path, "failed", reason="no such file or folder"))
        else:
            todo.append((path, folder, 1))
    context = multiprocessing.get_context("fork")  # as the ingest's own workers: no re-import
    running: dict[Any, tuple[str, Path, int, float, Any]] = {}
    while todo or running:
        while todo and len(running) < workers:
            path, folder, attempt = todo.pop(0)
            process = context.Process(
                target=_child, args=(path, str(folder), detections, memory_mb), daemon=True
            )
            process.start()
            running[process.sentinel] = (path, folder, attempt, time.perf_counter(), process)
        ready = wait(list(running), timeout=1.0)
        now = time.perf_counter()
        for sentinel in list(running):
            path, folder, attempt, began, process = running[sentinel]
            overran = time_limit is not None and now - began > time_limit
            if sentinel not in ready and not overran:
                continue
            if overran and process.is_alive():
                process.kill()
            process.join()
            del running[sentinel]
            if (folder / DONE).exists():
                summary = json.loads((folder / DONE).read_text())
                report.items.append(ItemResult(folder.name, path, "done", now - began, "", summary))
                continue
            reason = _reason(folder, process.exitcode, overran, time_limit)
            if attempt < ATTEMPTS:
                todo.append((path, folder, attempt + 1))
            else:
                report.items.append(ItemResult(folder.name, path, "failed", now - began, reason))
    report.seconds = time.perf_counter() - started
    (batch / "triage.json").write_text(json.dumps([asdict(i) for i in report.items], indent=1, default=str))
    return report


def _reason(folder: Path, exitcode: int | None, overran: bool, time_limit: float | None) -> str:
    if overran:
        return f"stopped after the time limit of {time_limit:g} s"
    error = folder / _ERROR
    if error.exists():
        return error.read_text().splitlines()[0]
    if exitcode is not None and exitcode < 0:
        return f"its process was killed (signal {-exitcode})"
    return f"its process ended with code {exitcode} and no result"


def summaries(root: str | Path) -> list[dict[str, Any]]:
    """The finished items' summaries of a batch, the highest score first."""
    found = [json.loads(p.read_text()) for p in sorted(Path(root).glob(f"items/*/{DONE}"))]
    return sorted(found, key=lambda s: (-s["score"], s.get("host") or ""))
