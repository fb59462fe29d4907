"""``python -m forensics.samples --out DIR [--seed N] [--scale K]``: write the sample case."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from forensics.samples.generate import generate_case


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m forensics.samples", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("sample_data/case01"), help="case folder to write")
    parser.add_argument("--seed", type=int, default=1, help="same seed, byte-identical case (default 1)")
    parser.add_argument("--scale", type=int, default=1, help="multiply the background volume (benchmarks)")
    args = parser.parse_args(argv)
    if args.scale < 1:
        parser.error("--scale must be at least 1")
    started = time.perf_counter()
    try:
        truth = generate_case(args.out, args.seed, args.scale)
    except RuntimeError as exc:  # a missing system tool, said in one line
        print(f"error: {exc}", file=sys.stderr)
        return 2
    size = sum(a["size"] for a in truth["artifacts"]) / 2**20
    print(
        f"wrote {len(truth['artifacts'])} artifacts ({size:.1f} MiB) to {args.out} in {time.perf_counter() - started:.1f} s"
    )
    for host, noise in truth["noise"].items():
        print(
            f"  {host:8s} {noise['events']:>9,} events, {noise['malicious']:>5,} malicious ({noise['benign_per_malicious']}x background)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
