"""Disk image -> queryable timeline: Tracehound against plaso (log2timeline + psort), same run.

Images: the largest image of the corpus (when present) and the sample case's Linux server
generated at a larger scale (its logs grow with ``scale``; cached in benchmarks/.cache).
Tracehound runs ``tracehound ingest --fs-timeline`` (plaso's default extraction includes a
file-system timeline too); plaso runs ``log2timeline`` then ``psort -o l2tcsv``, both as whole
processes, timed from start to a timeline one can query. plaso lives in its own virtualenv
(benchmarks/.cache/plaso-venv, created on first use with ``pip install plaso``); when it cannot
be installed the plaso columns say so. Read the ratios, not the seconds.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from forensics.samples import linux, story

CACHE = Path(__file__).resolve().parent / ".cache"
CORPUS_IMAGES = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "images" / "disk"
PLASO = CACHE / "plaso-venv"


def generated_image(scale: int) -> Path:
    """SRV01 at ``scale`` times the sample case's background, built once."""
    out = CACHE / f"srv01-scale{scale}"
    image = out / "SRV01" / "srv01.img"
    if not image.exists():
        linux.generate(out, story.attack(1), 1, scale)
    return image


def largest_corpus_image() -> Path | None:
    if not CORPUS_IMAGES.is_dir():
        return None
    images = [
        p
        for p in CORPUS_IMAGES.rglob("*")
        if p.is_file() and p.suffix.lower() in (".e01", ".vhd", ".vmdk", ".qcow2", ".raw", ".dd")
    ]
    return max(images, key=lambda p: p.stat().st_size, default=None)


def plaso_bin() -> Path | None:
    """The plaso virtualenv's bin folder, installing plaso on first use; None if it cannot be."""
    log2timeline = PLASO / "bin" / "log2timeline"
    if not log2timeline.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        made = subprocess.run([sys.executable, "-m", "venv", str(PLASO)], capture_output=True, check=False)
        if made.returncode == 0:
            subprocess.run(
                [str(PLASO / "bin" / "pip"), "install", "-q", "plaso"], capture_output=True, check=False
            )
    return log2timeline.parent if log2timeline.exists() else None


def _timed(cmd: list[str], cwd: str | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=cwd)
    return time.perf_counter() - started


def tracehound(image: Path) -> tuple[int, float]:
    """(rows, seconds) of ``tracehound ingest --fs-timeline`` into a fresh case."""
    with tempfile.TemporaryDirectory() as tmp:
        seconds = _timed([sys.executable, "-m", "forensics.cli", "ingest", str(image), "--case", f"{tmp}/case",
                          "--quiet", "--fs-timeline"])  # fmt: skip
        from forensics import Case

        rows = int(Case.open(f"{tmp}/case").sql("SELECT count(*) AS n FROM timeline").n[0])
    return rows, seconds


def plaso(image: Path, bin_dir: Path) -> tuple[int, float]:
    """(events, seconds) of log2timeline + psort to CSV."""
    with tempfile.TemporaryDirectory() as tmp:
        storage, csv = f"{tmp}/image.plaso", f"{tmp}/timeline.csv"
        log2timeline = [str(bin_dir / "log2timeline"), "--quiet", "--status_view", "none"]
        psort = [str(bin_dir / "psort"), "--status_view", "none", "-o", "l2tcsv", "-w", csv, storage]
        # plaso writes its log files into the working directory: keep them in the temporary one.
        seconds = _timed([*log2timeline, "--storage-file", storage, str(image)], cwd=tmp)
        seconds += _timed(psort, cwd=tmp)
        with open(csv, encoding="utf-8", errors="replace") as fh:
            events = sum(1 for _ in fh) - 1
    return events, seconds


def main(scale: int = 20) -> dict[str, object]:
    images = {"generated": generated_image(scale)}
    corpus = largest_corpus_image()
    if corpus is not None:
        images["corpus"] = corpus
    bin_dir = plaso_bin()
    result: dict[str, object] = {}
    for name, image in images.items():
        rows, seconds = tracehound(image)
        result[f"{name}_image"] = f"{image.name} ({image.stat().st_size / 2**20:.1f} MiB)"
        result[f"{name}_tracehound_rows"] = rows
        result[f"{name}_tracehound_s"] = seconds
        result[f"{name}_tracehound_rows_per_s"] = rows / seconds
        if bin_dir is None:
            result[f"{name}_plaso"] = "not installed (pip install plaso failed)"
            continue
        events, plaso_s = plaso(image, bin_dir)
        result[f"{name}_plaso_events"] = events
        result[f"{name}_plaso_s"] = plaso_s
        result[f"{name}_speedup_vs_plaso"] = plaso_s / seconds
    return result


if __name__ == "__main__":
    for key, value in main(int(sys.argv[1]) if len(sys.argv) > 1 else 20).items():
        print(f"{key:32s} {value:,.2f}" if isinstance(value, float) else f"{key:32s} {value}")
