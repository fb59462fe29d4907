"""Packet capture -> case store, against tshark's field export of the same capture, same run.

The capture is generated (``capture_gen``: an office's edge traffic, TLS, HTTP/1.1, DNS, SSH,
NTP, ICMP; ~500 packets a second; cached in benchmarks/.cache) at N packets and at N/4, the
N/4 one being the first quarter of the N one. Measured, each command a whole process timed
from start to exit, its peak RSS the largest of the process and its children (read by a
fresh helper process: ``RUSAGE_CHILDREN`` of a process whose only child is the command, the
same figure as GNU time's ``%M``, which needs no /usr/bin/time):
- ``tracehound ingest FILE --case TMP --quiet`` (``python -m forensics.cli``; hash, parse,
  map, Parquet, DuckDB), packets/s and peak RSS, and the rows the case then holds per source,
  checked against what the generator wrote (flows, DNS queries, TLS hellos, SSH sessions,
  HTTP requests);
- the reference, tshark's field export to /dev/null (one pass, no name resolution), with the
  fields one would need to rebuild the same rows from tshark (TShark 4.0 is the Debian
  package, /usr/bin/tshark; its columns are skipped when it is not installed):
  frame number and time, IPv4/IPv6 addresses and protocol, TCP/UDP ports, TCP flags and
  segment length, IP length (a flow's packets, bytes, history and state); DNS id, response
  flag, query name and type, rcode and A answers (dns.log); HTTP method, host, URI and status
  (http.log); TLS server name and JA3 (ssl.log: Tracehound computes JA3 and JA4 too); SSH
  protocol line (ssh.log). tshark only dissects and prints packets: it neither groups them
  into flows nor pairs queries with answers, so the comparison favours it;
- the capture parser alone in one process (``PcapParser.parse`` counting rows, no case
  store), to see how much of the ingest is parsing and how much is storing;
- memory flatness: the ingest's peak RSS at N/4 and at N packets (goal: a ratio near 1, as
  flows are closed and flushed on FIN/RST and timeouts); tshark's at both sizes for contrast.
The goal is an ingest at least twice tshark's packets/s. Machines here are shared and
noisy: read the ratios, not the seconds.
"""

from __future__ import annotations

import cProfile
import json
import pstats
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import capture_gen

ROOT = Path(__file__).resolve().parents[1]
TSHARK_FIELDS = (
    "frame.number", "frame.time_epoch", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "ip.proto",
    "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport", "tcp.flags", "tcp.len", "ip.len",
    "dns.id", "dns.flags.response", "dns.qry.name", "dns.qry.type", "dns.flags.rcode", "dns.a",
    "http.request.method", "http.host", "http.request.uri", "http.response.code",
    "tls.handshake.extensions_server_name", "tls.handshake.ja3", "ssh.protocol",
)  # fmt: skip
#: Rows the parser should write per timeline source, from the generator's counts.
EXPECTED = {
    "network_conn": "connections",
    "network_dns": "dns",
    "network_tls": "tls",
    "network_ssh": "ssh",
    "network_http": "http",
}
# Runs argv[1:] as its only child: wall seconds and that child's peak RSS (KiB, with its own
# reaped children, e.g. the ingest's worker processes).
_MEASURE = (
    "import json, resource, subprocess, sys, time; t = time.perf_counter(); "
    "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); s = time.perf_counter() - t; "
    "print(json.dumps([s, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))"
)
_PARSE_ONLY = """
import json, resource, sys, time
from parsers.base import Options, ParseWarning
from parsers.pcap import PcapParser
started, rows, warnings = time.perf_counter(), 0, 0
with open(sys.argv[1], "rb") as fh:
    for item in PcapParser().parse(fh, None, Options()):
        if isinstance(item, ParseWarning):
            warnings += 1
        else:
            rows += item.num_rows
seconds = time.perf_counter() - started
print(json.dumps([rows, warnings, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss]))
"""


def tshark_bin() -> str | None:
    return shutil.which("tshark") or ("/usr/bin/tshark" if Path("/usr/bin/tshark").exists() else None)


def measured(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of ``cmd`` run as a process."""
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, *cmd], check=True, capture_output=True, text=True, cwd=ROOT
    ).stdout
    seconds, peak_kib = json.loads(out.strip().splitlines()[-1])
    return seconds, peak_kib / 1024


def ingest(path: Path) -> tuple[dict[str, int], int, float, float]:
    """(rows per source, warning rows, seconds, peak RSS MiB) of ``tracehound ingest``."""
    with tempfile.TemporaryDirectory() as tmp:
        case_dir = f"{tmp}/case"
        seconds, rss = measured(
            [sys.executable, "-m", "forensics.cli", "ingest", str(path), "--case", case_dir, "--quiet"]
        )
        from forensics import Case

        case = Case.open(case_dir)
        rows = case.sql("SELECT source, count(*) AS n FROM timeline GROUP BY 1 ORDER BY 1")
        warnings = int(case.sql("SELECT count(*) AS n FROM warnings").n[0])
    return {str(s): int(n) for s, n in zip(rows.source, rows.n, strict=True)}, warnings, seconds, rss


def tshark(path: Path, binary: str) -> tuple[float, float]:
    """(seconds, peak RSS MiB) of tshark's field export of ``path`` to /dev/null."""
    fields = [arg for field in TSHARK_FIELDS for arg in ("-e", field)]
    return measured([binary, "-r", str(path), "-n", "-T", "fields", *fields])


def parser_only(path: Path) -> tuple[int, int, float, float]:
    """(rows, warnings, seconds, peak RSS MiB) of the capture parser alone, in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", _PARSE_ONLY, str(path)], check=True, capture_output=True, text=True, cwd=ROOT
    ).stdout
    rows, warnings, seconds, peak_kib = json.loads(out.strip().splitlines()[-1])
    return rows, warnings, seconds, peak_kib / 1024


def main(packets: int = 2_000_000) -> dict[str, object]:
    path, wrote = capture_gen.bench_file(packets)
    quarter, wrote_quarter = capture_gen.bench_file(packets // 4)
    result: dict[str, object] = {
        "input": f"{path.name} ({path.stat().st_size / 2**20:.0f} MiB, {packets:,} packets, "
        f"{wrote['seconds']:,} s of traffic, {wrote['connections']:,} flows)",
    }
    rows, warnings, ingest_s, ingest_rss = ingest(path)
    result["ingest_s"] = ingest_s
    result["ingest_packets_per_s"] = packets / ingest_s
    binary = tshark_bin()
    if binary is None:
        result["tshark"] = "not installed (Debian: apt-get install tshark): tshark columns skipped"
    else:
        version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.splitlines()
        name = version[0].rstrip(".") if version else "tshark"
        result["tshark"] = f"{name} ({binary}), {len(TSHARK_FIELDS)} fields"
        tshark_s, tshark_rss = tshark(path, binary)
        result["tshark_s"] = tshark_s
        result["tshark_packets_per_s"] = packets / tshark_s
        result["ingest_vs_tshark"] = tshark_s / ingest_s
    parsed, parse_warnings, parse_s, parse_rss = parser_only(path)
    result["parser_only_s"] = parse_s
    result["parser_only_packets_per_s"] = packets / parse_s
    result["parsing_share_of_ingest"] = parse_s / ingest_s
    result["rows"] = ", ".join(f"{source} {n:,}" for source, n in rows.items())
    result["rows_per_s"] = sum(rows.values()) / ingest_s
    result["rows_match_generator"] = _matches(rows, wrote)
    result["parser_only_rows_match"] = parsed == sum(rows.values())
    result["warnings"] = f"ingest {warnings}, parser {parse_warnings}"
    quarter_rows, _, quarter_s, quarter_rss = ingest(quarter)
    result["rows_match_generator_at_n/4"] = _matches(quarter_rows, wrote_quarter)
    result["ingest_peak_rss_mib_at_n/4"] = quarter_rss
    result["ingest_peak_rss_mib_at_n"] = ingest_rss
    result["ingest_rss_ratio_n_vs_n/4"] = ingest_rss / quarter_rss
    result["parser_only_peak_rss_mib_at_n"] = parse_rss
    result["ingest_packets_per_s_at_n/4"] = (packets // 4) / quarter_s
    if binary is not None:
        result["tshark_peak_rss_mib_at_n/4"] = tshark(quarter, binary)[1]
        result["tshark_peak_rss_mib_at_n"] = tshark_rss
    return result


def _matches(rows: dict[str, int], wrote: dict[str, int]) -> str:
    """``yes``, or the sources whose row count differs from what the generator wrote."""
    wrong = {s: (rows.get(s, 0), wrote[key]) for s, key in EXPECTED.items() if rows.get(s, 0) != wrote[key]}
    if not wrong:
        return "yes"
    found = "no: " + ", ".join(f"{s} {got:,} (wrote {want:,})" for s, (got, want) in wrong.items())
    if wrong.get("network_http", (1, 0))[0] == 0:
        found += "; no network_http rows at all: HTTP not wired into the parser yet?"
    return found


def profile(packets: int = 50_000, top: int = 15) -> None:
    """The capture parser alone under cProfile: the ``top`` functions by own time."""
    path, _ = capture_gen.bench_file(packets)
    from parsers.base import Options
    from parsers.pcap import PcapParser

    profiler = cProfile.Profile()
    with open(path, "rb") as fh:
        profiler.enable()
        for _ in PcapParser().parse(fh, None, Options()):
            pass
        profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--profile"]:
        profile(int(sys.argv[2]) if len(sys.argv) > 2 else 50_000)
    else:
        for key, value in main(int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000).items():
            print(f"{key:32s} {value:,.2f}" if isinstance(value, float) else f"{key:32s} {value}")
