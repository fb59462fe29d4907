"""Batch triage: many evidence items (images, collections, folders of logs, captures), each one
task (ingest, detections, summary) into its own case under ``<batch>/items/<key>/``, run in
parallel; then the hosts sorted by what fired on them.

Each item runs in a process of its own (``item.run_limited``), at most ``workers`` at once here,
or as tasks of a Dask cluster (``scheduler``), with optional time and memory limits. A process
that dies or overruns is replaced and its item tried once more, then recorded as failed with its
reason; the batch goes on. Finished items are those with
``done.json``: a rerun of the same command skips them and redoes the rest from scratch, so an
interrupted batch (Ctrl-C, a killed worker or main process) loses nothing and doubles nothing.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from forensics.triage.item import DONE, Detections, ItemResult, item_key, run_limited

__all__ = [
    "Detections",
    "ItemResult",
    "TriageReport",
    "stacking_frame",
    "summaries",
    "summary_frame",
    "triage",
]


@dataclass
class TriageReport:
    items: list[ItemResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[ItemResult]:
        return [i for i in self.items if i.status == "failed"]


def triage(
    inputs: list[str | Path],
    root: str | Path,
    *,
    workers: int | None = None,
    detections: Detections | None = None,
    time_limit: float | None = None,
    memory_mb: int | None = None,
    scheduler: str | None = None,
) -> TriageReport:
    """Triage every item of ``inputs`` into the batch folder ``root`` (see the module notes):
    here, ``workers`` items at once; with ``scheduler`` (``tcp://host:8786``), as tasks of that
    Dask cluster, whose workers must see ``root`` and the inputs at the same paths."""
    started = time.perf_counter()
    detections = detections or Detections()
    batch = Path(root).expanduser().resolve()
    (batch / "items").mkdir(parents=True, exist_ok=True)
    jobs = []
    for given in inputs:
        path = str(Path(given).expanduser().resolve())
        jobs.append((path, str(batch / "items" / item_key(path)), detections, time_limit, memory_mb))
    if scheduler:
        from distributed import Client

        with Client(scheduler) as client:
            futures = [
                client.submit(run_limited, *job, key=f"triage-{Path(job[1]).name}", pure=False)
                for job in jobs
            ]
            results = client.gather(futures)
    else:
        with ThreadPoolExecutor(
            max_workers=workers or os.cpu_count() or 1
        ) as pool:  # each waits on its process
            results = list(pool.map(lambda job: run_limited(*job), jobs))
    report = TriageReport(list(results), time.perf_counter() - started)
    (batch / "triage.json").write_text(json.dumps([asdict(i) for i in report.items], indent=1, default=str))
    return report


def summaries(root: str | Path) -> list[dict[str, Any]]:
    """The finished items' summaries of a batch, the highest score first."""
    found = [json.loads(p.read_text()) for p in sorted(Path(root).glob(f"items/*/{DONE}"))]
    return sorted(found, key=lambda s: (-s["score"], s.get("host") or ""))


def summary_frame(root: str | Path) -> Any:
    """``summaries`` as a pandas DataFrame, one row per host, the highest score first (findings by
    level as columns ``critical``...``informational``)."""
    import pandas as pd

    rows = []
    for s in summaries(root):
        levels = {
            level: s["findings"].get(level, 0)
            for level in ("critical", "high", "medium", "low", "informational")
        }
        rows.append(
            {k: v for k, v in s.items() if k not in ("findings", "by_source", "evidence", "ingest")} | levels
        )
    return pd.DataFrame(rows)


def stacking_frame(root: str | Path) -> Any:
    """The batch's stacking (``stacking.stack``) as a pandas DataFrame, rarest first."""
    import pandas as pd

    from forensics.triage.stacking import stack

    return pd.DataFrame(stack(root))
