"""Batch triage: one worker against two on the same batch, same run.

The batch: ``hosts`` workstations of the sample office (WS-01, WS-02, ...), each its four Windows
logs from the sample generator with its own seed (about 6,600 events each at scale 1), three of
them compromised by the sample's intrusion, the others not (generated once, cached in
benchmarks/.cache); and the corpus's small disk images, two of them deliberately broken. Detections: the sample case's own intel. Each run is a fresh process timed
whole (``tracehound triage`` as Python), with the peak RSS of the largest item process (read
from ``RUSAGE_CHILDREN``: the item processes are waited for, so their peaks are counted).
Checked in the same run: the compromised hosts rank first and the stacking puts the intrusion's
Run key on exactly them. Goal: two workers at least 1.8x the throughput of one.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(__file__).resolve().parent / ".cache"
INTEL = ROOT / "sample_data" / "case01" / "intel"
#: The corpus's small disk images (E01, QCOW2, VMDK, VHD, raw; two deliberate negatives) join the batch.
CORPUS_IMAGES = ROOT.parent / "shared" / "corpus" / "images" / "disk"
#: Which hosts of the batch carry the intrusion (1-based).
COMPROMISED = (3, 11, 17)
_RUN = """
import json, resource, sys, time
from forensics.triage import Detections, triage
started = time.perf_counter()
report = triage(sys.argv[3:], sys.argv[1], workers=int(sys.argv[2]), detections=Detections(intel=("{intel}",)))
seconds = time.perf_counter() - started
print(json.dumps([seconds, sum(i.status == "done" for i in report.items), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024]))
"""


def make_batch(hosts: int = 20, scale: int = 1) -> list[Path]:
    """The batch's host folders (generated once)."""
    from forensics.samples import story, windows

    out = CACHE / f"triage-{hosts}-scale{scale}"
    names = [f"WS-{i:02d}" for i in range(1, hosts + 1)]
    if not all((out / n).is_dir() for n in names):
        shutil.rmtree(out, ignore_errors=True)
        for i, name in enumerate(names, 1):
            machine = story.Host(name, f"{name}.{story.DOMAIN}", f"10.20.1.{i}", f"52:54:00:3a:11:{i:02x}",
                                 "Windows 10 Pro 22H2", "UTC")  # fmt: skip
            windows.generate(out, story.attack(i), i, scale, machine=machine, compromised=i in COMPROMISED)
    return [out / n for n in names]


def run(items: list[Path], workers: int, root: Path) -> tuple[float, int, float]:
    """(seconds, items done, peak RSS MiB of the largest item process) of one triage run."""
    code = _RUN.replace("{intel}", str(INTEL))
    out = subprocess.run(
        [sys.executable, "-c", code, str(root), str(workers), *map(str, items)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    seconds, done, rss = json.loads(out.strip().splitlines()[-1])
    return seconds, done, rss


def main(hosts: int = 20) -> dict[str, object]:
    from forensics.triage import summaries
    from forensics.triage.stacking import stack

    images = sorted(p for p in CORPUS_IMAGES.glob("*/*") if p.is_file()) if CORPUS_IMAGES.is_dir() else []
    items = [*make_batch(hosts), *images]
    result: dict[str, object] = {
        "batch": f"{hosts} generated workstations ({len(COMPROMISED)} compromised) and {len(images)} corpus disk "
        "images, the sample's intel"
    }
    with tempfile.TemporaryDirectory() as tmp:
        one = run(items, 1, Path(tmp) / "one")
        two = run(items, 2, Path(tmp) / "two")
        ranked = [s["host"].split(".")[0] for s in summaries(Path(tmp) / "two") if s["rows"]]
        run_key = [r for r in stack(Path(tmp) / "two", ("autoruns",)) if "\\run\\msupdate" in r["value"]]
    for name, (seconds, done, rss) in (("1 worker", one), ("2 workers", two)):
        result[name] = (
            f"{seconds:.1f} s, {len(items) / seconds * 60:.1f} items/min ({done} of {len(items)} done), "
            f"item peak RSS {rss:.0f} MiB"
        )
    result["2 workers / 1 (goal >= 1.8)"] = f"{one[0] / two[0]:.2f}x"
    expected = {f"WS-{i:02d}" for i in COMPROMISED}
    result["compromised hosts ranked first"] = (
        f"{set(ranked[: len(expected)]) == expected} ({', '.join(ranked[:4])}, ...)"
    )
    result["stacking: the intrusion's Run key"] = (
        ", ".join(h.split(".")[0] for r in run_key for h in r["hosts"]) or "not found"
    )
    return result


if __name__ == "__main__":
    for key, value in main(int(sys.argv[1]) if len(sys.argv) > 1 else 20).items():
        print(f"{key}: {value}")
