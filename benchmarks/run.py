"""``make bench``: every benchmark, each against its reference measured in the same run."""

from __future__ import annotations

import os

from benchmarks import evtx_ingest


def main() -> None:
    records = int(os.environ.get("BENCH_RECORDS", "500000"))
    print(f"== EVTX -> case store ({records:,} records; the writer makes the file once, cached)")
    for key, value in evtx_ingest.main(records).items():
        print(f"  {key:28s} {value:,.2f}" if isinstance(value, float) else f"  {key:28s} {value}")


if __name__ == "__main__":
    main()
