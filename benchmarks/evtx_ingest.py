"""EVTX -> case store throughput and memory, against the bare Rust parse in the same run.

Generates a large EVTX with the project's writer (cached in benchmarks/.cache), then measures:
- reference: the Rust ``evtx`` parse alone, one process, one thread, JSON decoded with orjson;
- ``tracehound ingest`` end to end (hash, parse, map, Parquet, DuckDB) in a child process,
  all cores, with its peak RSS (largest process: the ingest or one of its workers);
- python-evtx on a slice, the reference backend.
Machines here are shared and noisy: read the ratios, not the seconds.
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from forensics.writers.evtx import Guid, Hex64, write_evtx

CACHE = Path(__file__).resolve().parent / ".cache"
_IMAGES = [
    f"C:\\Windows\\System32\\{n}.exe"
    for n in ("svchost", "cmd", "powershell", "conhost", "rundll32", "taskhostw")
]


def bench_events(count: int, seed: int = 1) -> list[dict]:
    """Varied Sysmon 1/3/11 and Security 4624 events, deterministic."""
    rng = random.Random(seed)
    start = datetime(2024, 5, 1, tzinfo=UTC)
    sysmon = ("Microsoft-Windows-Sysmon", "Microsoft-Windows-Sysmon/Operational")
    out = []
    for i in range(count):
        when = start + timedelta(microseconds=i * 173_001 + rng.randint(0, 999))
        kind = rng.random()
        pid = rng.randint(100, 60000)
        base = {
            "time_created": when,
            "computer": f"WS{i % 40:02d}.corp.example.com",
            "process_id": 3112,
            "thread_id": 4480,
        }
        if kind < 0.55:
            image = rng.choice(_IMAGES)
            base |= {"provider": sysmon[0], "channel": sysmon[1], "event_id": 1, "version": 5, "level": 4, "task": 1,
                     "keywords": 0x8000000000000000, "user_sid": "S-1-5-18", "event_data": {
                         "RuleName": "-", "UtcTime": when.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
                         "ProcessGuid": Guid(f"7A3C1F20-{pid % 65536:04X}-6650-0000-0010{i % 2**32:08X}"), "ProcessId": pid,
                         "Image": image, "CommandLine": f"{image} /c task{rng.randint(0, 9999)} --flag {i}",
                         "CurrentDirectory": "C:\\Windows\\system32\\", "User": "CORP\\alice", "LogonId": Hex64(0x2A61F),
                         "IntegrityLevel": "Medium", "Hashes": f"SHA256={rng.getrandbits(256):064X}",
                         "ParentProcessId": rng.randint(100, 60000), "ParentImage": rng.choice(_IMAGES)}}  # fmt: skip
        elif kind < 0.75:
            base |= {"provider": sysmon[0], "channel": sysmon[1], "event_id": 3, "version": 5, "level": 4, "task": 3,
                     "event_data": {"Image": rng.choice(_IMAGES), "ProcessId": pid, "Protocol": "tcp",
                                    "SourceIp": f"10.0.{rng.randint(0, 9)}.{rng.randint(1, 254)}", "SourcePort": rng.randint(1024, 65535),
                                    "DestinationIp": f"203.0.113.{rng.randint(1, 254)}", "DestinationPort": 443}}  # fmt: skip
        elif kind < 0.9:
            base |= {"provider": sysmon[0], "channel": sysmon[1], "event_id": 11, "version": 2, "level": 4, "task": 11,
                     "event_data": {"Image": rng.choice(_IMAGES), "ProcessId": pid,
                                    "TargetFilename": f"C:\\Users\\alice\\AppData\\Local\\Temp\\f{i}.tmp"}}  # fmt: skip
        else:
            base |= {"provider": "Microsoft-Windows-Security-Auditing", "channel": "Security", "event_id": 4624, "version": 2,
                     "level": 0, "task": 12544, "keywords": 0x8020000000000000, "event_data": {
                         "TargetUserName": rng.choice(["alice", "bob", "svc_backup"]), "TargetDomainName": "CORP",
                         "TargetLogonId": Hex64(rng.getrandbits(32)), "LogonType": rng.choice([2, 3, 10]),
                         "IpAddress": f"10.0.{rng.randint(0, 9)}.{rng.randint(1, 254)}", "IpPort": str(rng.randint(1024, 65535))}}  # fmt: skip
        out.append(base)
    return out


def bench_file(records: int) -> Path:
    path = CACHE / f"bench-{records}.evtx"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        write_evtx(tmp, bench_events(records))
        tmp.replace(path)
    return path


def rust_bare(path: Path) -> tuple[int, float]:
    from evtx import PyEvtxParser

    started = time.perf_counter()
    n = 0
    for record in PyEvtxParser(str(path), number_of_threads=1).records_json():
        orjson.loads(record["data"])
        n += 1
    return n, time.perf_counter() - started


def python_evtx_slice(path: Path, limit: int) -> tuple[int, float]:
    from Evtx.Evtx import Evtx

    started = time.perf_counter()
    n = 0
    with Evtx(str(path)) as log, warnings.catch_warnings():
        for record in log.records():
            record.xml()
            n += 1
            if n >= limit:
                break
    return n, time.perf_counter() - started


def ingest(path: Path) -> tuple[int, float, float]:
    """(records, seconds, peak RSS MiB of the largest process) for ``tracehound ingest``."""
    with tempfile.TemporaryDirectory() as tmp:
        code = (
            "import json, resource as r, time; from forensics import Case; t = time.perf_counter(); "
            f"n = Case.open({tmp!r} + '/case').ingest([{str(path)!r}]).records; s = time.perf_counter() - t; "
            "print(json.dumps([n, s, max(r.getrusage(r.RUSAGE_SELF).ru_maxrss, r.getrusage(r.RUSAGE_CHILDREN).ru_maxrss)]))"
        )
        # Measured inside the child: a forked child's pre-exec pages would count the benchmark's own.
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
        records, seconds, peak_kib = orjson.loads(out.strip().splitlines()[-1])
    return records, seconds, peak_kib / 1024


def main(records: int = 500_000) -> dict:
    path = bench_file(records)
    size = path.stat().st_size / 2**20
    ours_n, ours_s, rss = ingest(path)
    bare_n, bare_s = rust_bare(path)
    py_n, py_s = python_evtx_slice(path, 2_000)
    result = {
        "input": f"{path.name} ({size:.0f} MiB, {bare_n:,} records)",
        "rust_bare_records_per_s": bare_n / bare_s,
        "ingest_records_per_s": ours_n / ours_s,
        "python_evtx_records_per_s": py_n / py_s,
        "ingest_vs_rust_bare": (ours_n / ours_s) / (bare_n / bare_s),
        "ingest_vs_python_evtx": (ours_n / ours_s) / (py_n / py_s),
        "peak_rss_mib": rss,
        "records_match": ours_n == bare_n,
    }
    return result


if __name__ == "__main__":
    for key, value in main(int(sys.argv[1]) if len(sys.argv) > 1 else 500_000).items():
        print(f"{key:28s} {value:,.2f}" if isinstance(value, float) else f"{key:28s} {value}")
