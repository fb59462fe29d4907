"""``make bench``: every benchmark, each against its reference measured in the same run."""

from __future__ import annotations

import os

from benchmarks import (
    capture_ingest,
    evtx_ingest,
    fields_storage,
    graph_chain,
    image_ingest,
    intel_match,
    sigma_eval,
    triage_batch,
    yara_scan,
)


def main() -> None:
    records = int(os.environ.get("BENCH_RECORDS", "500000"))
    print(f"== EVTX -> case store ({records:,} records; the writer makes the file once, cached)")
    for key, value in evtx_ingest.main(records).items():
        _show(key, value)
    print("== fields storage: map column vs detail table (100,000 records)")
    for key, value in fields_storage.main(evtx_ingest.bench_file(100_000)).items():
        _show(key, value)
    scale = int(os.environ.get("BENCH_IMAGE_SCALE", "20"))
    print(
        f"== disk image -> timeline, against plaso (generated SRV01 at scale {scale}; largest corpus image)"
    )
    for key, value in image_ingest.main(scale).items():
        _show(key, value)
    packets = int(os.environ.get("BENCH_PACKETS", "2000000"))
    print(
        f"== packet capture -> case store, against tshark's field export ({packets:,} packets, "
        f"and {packets // 4:,} for memory; generated once, cached)"
    )
    for key, value in capture_ingest.main(packets).items():
        _show(key, value)
    print(
        "== YARA: signature-base over ~400 MB of files (corpus images, sample case, generated binaries "
        "and text), Tracehound (yara-x, 2 processes) against yara -p 2"
    )
    for key, value in yara_scan.main(int(os.environ.get("BENCH_YARA_REPEATS", "3"))).items():
        _show(key, value)
    events = int(os.environ.get("BENCH_INTEL_EVENTS", "1000000"))
    print(
        f"== IOC matching: 10,000 indicators over {events:,} timeline rows, against a DuckDB scan of the "
        "searched columns and pandas isin"
    )
    for key, value in intel_match.main(events, 10_000).items():
        _show(key, value)
    events = int(os.environ.get("BENCH_SIGMA_EVENTS", "1000000"))
    print(
        f"== Sigma: SigmaHQ's Windows rules over {events:,} WS01 events, against Zircolite's method "
        "(pySigma's SQLite backend over a flattened in-memory table; case built once, cached)"
    )
    for key, value in sigma_eval.main(events).items():
        _show(key, value)
    print(
        f"== root cause: the causality graph of the {events:,}-event case (against reading its rows into "
        "pandas) and a backward trace over 1M edges (against networkx ancestors)"
    )
    for key, value in graph_chain.main(events).items():
        _show(key, value)
    hosts = int(os.environ.get("BENCH_TRIAGE_HOSTS", "20"))
    print(
        f"== batch triage: {hosts} generated workstations, one worker against two (batch generated once, cached)"
    )
    for key, value in triage_batch.main(hosts).items():
        _show(key, value)


def _show(key: str, value: object) -> None:
    print(f"  {key:32s} {value:,.3f}" if isinstance(value, float) else f"  {key:32s} {value}")


if __name__ == "__main__":
    main()
