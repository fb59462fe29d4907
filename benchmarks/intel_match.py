"""IOC matching: ``forensics.detect.intel.match`` of 10,000 indicators over a million timeline rows,
against references measured in the same run.

Builds a case whose store holds synthetic rows written straight into ``store/bench/`` as Parquet of
the timeline schema (the ``timeline_rows`` view reads every ``store/*/*.parquet``): connections,
DNS (question and answers), HTTP (URL, Host), TLS (server name), transferred files (SHA-256 and
MD5/SHA-1 in ``fields``) and Sysmon-like process rows (executable, file path, ``Hashes``). The
indicators (ipv4, CIDR, domains, URLs, hashes, file-name regexes, e-mail) are written to a CSV and
loaded with ``load_indicators``; about one in three points at values that occur in the rows.

References: ``scan_s``, DuckDB reading the searched columns once (the length of every value,
the ``fields`` keys extracted): the floor any matcher over the case pays; ``pandas_isin_s``, the
naive way: the core columns read into pandas and ``isin`` against the exact values (no
``fields``, subdomains, networks or regexes, so it does less). Machines here are shared and
noisy: read the ratios, not the seconds.
"""

from __future__ import annotations

import ipaddress
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from forensics import Case
from forensics.detect.intel import load_indicators, match
from forensics.schema import TIMELINE

_T0 = np.datetime64("2026-03-01T00:00:00", "us")
_TLDS = np.array(["example.com", "example.net", "example.org", "test", "invalid"])


def _ips(rng: np.random.Generator, n: int, internal: bool = False) -> np.ndarray:
    if internal:
        octets = [np.full(n, 10), rng.integers(0, 4, n), rng.integers(0, 256, n), rng.integers(1, 255, n)]
    else:
        octets = [
            rng.integers(1, 224, n),
            rng.integers(0, 256, n),
            rng.integers(0, 256, n),
            rng.integers(1, 255, n),
        ]
    out = octets[0].astype(str)
    for octet in octets[1:]:
        out = np.char.add(np.char.add(out, "."), octet.astype(str))
    return out


def _hex(rng: np.random.Generator, n: int, digits: int) -> np.ndarray:
    raw = rng.integers(0, 256, (n, digits // 2), dtype=np.uint8)
    return np.array([row.tobytes().hex() for row in raw])


def _pools(rng: np.random.Generator) -> dict[str, np.ndarray]:
    sites = np.char.add(np.char.add("site", rng.integers(0, 5000, 20_000).astype(str)), ".")
    hosts = np.char.add(np.char.add("h", rng.integers(0, 50, 20_000).astype(str)), ".")
    domains = np.unique(np.char.add(np.char.add(hosts, sites), rng.choice(_TLDS, 20_000)))
    names = np.char.add(np.char.add("tool", np.arange(5_000).astype(str)), ".exe")
    folders = np.array(
        ["C:\\Windows\\System32\\", "C:\\Users\\alice\\AppData\\Local\\Temp\\", "C:\\ProgramData\\x\\"]
    )
    url_hosts = rng.choice(domains, 50_000)
    url_paths = np.char.add("/p/", rng.integers(0, 100_000, 50_000).astype(str))
    return {
        "url_hosts": url_hosts,
        "url_paths": url_paths,
        "external": np.unique(_ips(rng, 50_000)),
        "internal": np.unique(_ips(rng, 2_000, internal=True)),
        "domains": domains,
        "sha256": _hex(rng, 50_000, 64),
        "md5": _hex(rng, 50_000, 32),
        "sha1": _hex(rng, 50_000, 40),
        "paths": np.char.add(rng.choice(folders, 20_000), rng.choice(names, 20_000)),
    }


def _map(keys: list[str], columns: list[np.ndarray], n: int) -> pa.MapArray:
    """Rows with the same keys: ``fields`` = {keys[i]: columns[i][row]}."""
    k = len(keys)
    if not k:
        return pa.nulls(n, TIMELINE.field("fields").type)
    offsets = pa.array(np.arange(0, (n + 1) * k, k, dtype=np.int32))
    flat_keys = pa.array(np.tile(np.array(keys), n))
    flat_items = pa.array(np.stack(columns, axis=1).reshape(-1))
    return pa.MapArray.from_arrays(offsets, flat_keys, flat_items)


def _rows(
    rng: np.random.Generator, pools: dict[str, np.ndarray], source: str, n: int, start: int
) -> pa.Table:
    cols: dict[str, object] = {}
    when = _T0 + np.sort(rng.integers(0, 14 * 86_400 * 10**6, n)).astype("timedelta64[us]")
    cols["datetime"] = pa.array(when, type=pa.timestamp("us", tz="UTC"))
    cols["timestamp_desc"] = pa.array(["Event Recorded"] * n)
    cols["message"] = pa.array([source] * n)
    cols["source"] = pa.array([source] * n)
    cols["source_file"] = pa.array(["/evidence/bench"] * n)
    cols["source_record"] = pa.array(np.arange(start, start + n))
    src, dst = rng.choice(pools["internal"], n), rng.choice(pools["external"], n)
    domain = rng.choice(pools["domains"], n)
    fields = _map([], [], n)
    if source in ("network_conn", "network_dns", "network_http", "network_tls", "network_files"):
        cols["source_ip"], cols["destination_ip"] = pa.array(src), pa.array(dst)
        cols["source_port"] = pa.array(rng.integers(1024, 65535, n).astype(np.int32))
        cols["destination_port"] = pa.array(rng.choice(np.array([53, 80, 443], dtype=np.int32), n))
    if source == "network_dns":
        cols["dns_question_name"] = pa.array(domain)
        answers = np.char.add(
            np.char.add(rng.choice(pools["external"], n), ","), rng.choice(pools["external"], n)
        )
        fields = _map(["qtype_name", "answers"], [np.full(n, "A"), answers], n)
    elif source == "network_http":
        pick = rng.integers(0, len(pools["url_hosts"]), n)
        host = pools["url_hosts"][pick]
        cols["url_full"] = pa.array(np.char.add(np.char.add("http://", host), pools["url_paths"][pick]))
        fields = _map(["method", "host"], [np.full(n, "GET"), host], n)
    elif source == "network_tls":
        cols["tls_server_name"] = pa.array(domain)
    elif source == "network_files":
        pick = rng.integers(0, len(pools["sha256"]), n)
        cols["file_hash_sha256"] = pa.array(pools["sha256"][pick])
        fields = _map(["md5", "sha1"], [pools["md5"][pick], pools["sha1"][pick]], n)
    elif source == "windows_evtx":
        pick = rng.integers(0, len(pools["sha256"]), n)
        cols["process_executable"] = pa.array(rng.choice(pools["paths"], n))
        cols["file_path"] = pa.array(rng.choice(pools["paths"], n))
        cols["file_hash_sha256"] = pa.array(pools["sha256"][pick])
        hashes = np.char.add(
            np.char.add(np.char.add("SHA1=", np.char.upper(pools["sha1"][pick])), ",MD5="),
            np.char.upper(pools["md5"][pick]),
        )
        fields = _map(["Image", "Hashes"], [np.asarray(cols["process_executable"]), hashes], n)
    cols["fields"] = fields
    arrays = [cols[f.name] if f.name in cols else pa.nulls(n, f.type) for f in TIMELINE]
    return pa.Table.from_arrays(
        [a if isinstance(a, pa.Array) else pa.array(a) for a in arrays], schema=TIMELINE
    )


_MIX = (
    ("network_conn", 0.40),
    ("network_dns", 0.15),
    ("network_http", 0.10),
    ("network_tls", 0.05),
    ("network_files", 0.05),
    ("windows_evtx", 0.25),
)


def build_case(root: Path, events: int, seed: int = 7) -> tuple[Case, dict[str, np.ndarray]]:
    """A case at ``root`` with ``events`` synthetic rows (files of at most 250,000 rows)."""
    rng = np.random.default_rng(seed)
    pools = _pools(rng)
    case = Case.open(root)
    folder = case.store / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    record = 0
    for source, share in _MIX:
        total = int(events * share) if source != "windows_evtx" else events - record
        for part, offset in enumerate(range(0, total, 250_000)):
            n = min(250_000, total - offset)
            pq.write_table(
                _rows(rng, pools, source, n, record),
                folder / f"{source}-{part:03d}.parquet",
                compression="zstd",
            )
            record += n
    return case, pools


def _values(rng: np.random.Generator, pools: dict[str, np.ndarray], kind: str, n: int) -> np.ndarray:
    """``n`` indicator values of ``kind``, a third of them (about) drawn from values in the rows."""
    hit = rng.random(n) < 1 / 3
    if kind == "ip":
        return np.where(hit, rng.choice(pools["external"], n), _ips(rng, n))
    if kind == "cidr":
        return np.char.add(np.char.add(_ips(rng, n), "/"), rng.integers(16, 29, n).astype(str))
    if kind == "domain":  # the site (a parent of the observed names: subdomain matching) or a miss
        parent = np.array([d.split(".", 1)[1] for d in rng.choice(pools["domains"], n)])
        miss = np.char.add(np.char.add("x", rng.integers(0, 10**7, n).astype(str)), ".bad.example")
        return np.where(hit, parent, miss)
    if kind == "url":  # written unnormalised: upper-case scheme, default port
        pick = rng.integers(0, len(pools["url_hosts"]), n)
        real = np.char.add(np.char.add("HTTP://", np.char.upper(pools["url_hosts"][pick])), ":80")
        real = np.char.add(real, pools["url_paths"][pick])
        return np.where(hit, real, np.char.add("http://miss.example/", rng.integers(0, 10**7, n).astype(str)))
    if kind in ("sha256", "md5"):
        return np.where(
            hit, np.char.upper(rng.choice(pools[kind], n)), _hex(rng, n, 64 if kind == "sha256" else 32)
        )
    if kind == "filename":  # LOKI-style regexes over paths
        return np.char.add(np.char.add(r"\\tool", rng.integers(0, 20_000, n).astype(str)), r"\.exe$")
    return np.char.add(np.char.add("user", rng.integers(0, 10**7, n).astype(str)), "@mail.example")


def _canonical(kind: str, value: str) -> str:
    if kind == "cidr":
        return str(ipaddress.ip_network(value, strict=False))
    return value.lower() if kind != "filename" else value


def write_indicators(path: Path, pools: dict[str, np.ndarray], count: int, seed: int = 11) -> dict[str, int]:
    """A CSV of ``count`` distinct indicators of every kind."""
    rng = np.random.default_rng(seed)
    shares = {
        "ip": 0.30,
        "cidr": 0.03,
        "domain": 0.30,
        "url": 0.10,
        "sha256": 0.12,
        "md5": 0.08,
        "filename": 0.05,
    }
    wanted = {kind: int(count * share) for kind, share in shares.items()}
    wanted["email"] = count - sum(wanted.values())
    lines = ["type,value,description,confidence"]
    for kind, n in wanted.items():
        chosen: dict[str, str] = {}
        while len(chosen) < n:
            for value in _values(rng, pools, kind, n):
                chosen.setdefault(_canonical(kind, str(value)), str(value))
        for value in list(chosen.values())[:n]:
            shown = "filename-regex" if kind == "filename" else kind
            lines.append(f"{shown},{value},bench {kind},{int(rng.integers(30, 100))}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return wanted


def _scan(case: Case) -> float:
    """DuckDB reading every searched value once (``strlen`` sums: ``count`` alone is answered
    from Parquet statistics without reading the values)."""
    columns = [
        "source_ip", "destination_ip", "dns_question_name", "tls_server_name", "url_full", "file_hash_sha256",
        "file_path", "process_executable", "process_parent_executable",
        *(f"map_extract(fields, '{key}')[1]" for key in ("answers", "host", "Hashes", "md5", "sha1")),
    ]  # fmt: skip
    started = time.perf_counter()
    case.sql(f"SELECT {', '.join(f'sum(strlen({c}))' for c in columns)} FROM timeline_rows")
    return time.perf_counter() - started


def _pandas_isin(case: Case, indicators) -> tuple[float, int]:
    started = time.perf_counter()
    frame = case.sql(
        "SELECT source_ip, destination_ip, dns_question_name, tls_server_name, url_full, file_hash_sha256 "
        "FROM timeline_rows"
    )
    exact = set(indicators["value"].astype(str))
    hits = 0
    for column in frame.columns:
        hits += int(frame[column].isin(exact).sum())
    return time.perf_counter() - started, hits


def main(events: int = 1_000_000, indicators: int = 10_000) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        case, pools = build_case(Path(tmp) / "case", events)
        build_s = time.perf_counter() - started
        made = write_indicators(Path(tmp) / "iocs.csv", pools, indicators)
        started = time.perf_counter()
        table, warnings = load_indicators(Path(tmp) / "iocs.csv")
        load_s = time.perf_counter() - started
        assert len(table) == indicators and not warnings, (len(table), warnings[:3], made)
        scan_s = min(_scan(case) for _ in range(2))
        pandas_s, pandas_hits = _pandas_isin(case, table)
        started = time.perf_counter()
        findings = match(case, table)
        match_s = time.perf_counter() - started
        rules = len(set(findings.column("rule_id").to_pylist()))
    return {
        "events": events,
        "indicators": len(table),
        "build_case_s": build_s,
        "load_indicators_s": load_s,
        "match_s": match_s,
        "match_events_per_s": events / match_s,
        "findings": findings.num_rows,
        "indicators_hit": rules,
        "scan_s": scan_s,
        "pandas_isin_s": pandas_s,
        "pandas_isin_hits": pandas_hits,
        "match_vs_scan": match_s / scan_s,
        "match_vs_pandas_isin": match_s / pandas_s,
    }


if __name__ == "__main__":
    import sys

    for key, value in main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000).items():
        print(f"{key:24s} {value:,.3f}" if isinstance(value, float) else f"{key:24s} {value}")
