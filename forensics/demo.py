"""``make demo``: ingest the generated sample case and show the intrusion's first minute.

The evidence is ``sample_data/case01`` (written by ``python -m forensics.samples``; see its
README for the story). The demo ingests the evidence folders of the two hosts and the
network into a case (``sample_data/demo_case``), prints the ingest summary, then the WS01
timeline from the phishing document to the payload's first beacon, SRV01's side (its disk
image), from the LAN capture the beacon found by its period and the files carried over HTTP,
then matches the case's threat intel, YARA rules and (when the shared corpus is there)
SigmaHQ's rules, draws the attack chain back to its root cause and writes the report.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

__all__ = ["SAMPLE", "main"]

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "case01"
#: The evidence folders of the case (intel/ and the ground truth are not evidence).
EVIDENCE = ("WS01", "SRV01", "network")


#: SigmaHQ's rules, when the shared corpus is beside the project (the project ships none of its own).
SIGMA = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "sigma" / "rules"


def _sigma() -> list[str]:
    """``--sigma`` over SigmaHQ's Windows and Linux rules when they are there, else nothing."""
    folders = [SIGMA / "windows", SIGMA / "linux"]
    return ["--sigma", *map(str, folders)] if all(f.is_dir() for f in folders) else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="sample_data/demo_case")
    parser.add_argument("--evidence", type=Path, default=SAMPLE, help="the sample case folder")
    args = parser.parse_args(argv)
    from forensics.cli import main as cli

    if not (args.evidence / "ground_truth.json").exists():
        from forensics.samples.generate import generate_case

        print(f"generating the sample case into {args.evidence} ...")
        generate_case(args.evidence)
    case = Path(args.case)
    if case.exists():
        shutil.rmtree(case)
    status = cli(["ingest", *(str(args.evidence / name) for name in EVIDENCE), "--case", str(case)])
    if status:
        return status
    print("\nWS01, 10 March 2026 09:12-09:13 UTC: Sysmon process, network, file and registry events")
    cli([
        "timeline", "--case", str(case), "--start", "2026-03-10T09:12:00Z", "--end", "2026-03-10T09:13:10Z",
        "--host", "WS01.corp.example.com", "--limit", "30",
    ])  # fmt: skip
    print("\nSRV01, 11:05-11:17 UTC: the stolen account logs on over SSH, adds a cron job, archives the data")
    cli([
        "timeline", "--case", str(case), "--start", "2026-03-10T11:05:00Z", "--end", "2026-03-10T11:17:00Z",
        "--host", "srv01", "--grep", "bob", "--limit", "30",
    ])  # fmt: skip
    print("\nLAN tap: hosts calling outside at a regular period (C2 beacons first)")
    cli(["beacons", "--case", str(case), "--limit", "5"])
    print("\nLAN tap: executables fetched from outside and data posted out (hashes as in Zeek's files.log)")
    cli([
        "query", "--case", str(case), "--sql",
        "SELECT datetime, source_ip, destination_ip, message FROM timeline "
        "WHERE source IN ('network_http', 'network_files') AND NOT regexp_matches(destination_ip, '^10\\.') "
        "AND (regexp_matches(message, 'x-dosexec|x-executable') OR map_extract(fields, 'method')[1] = 'POST' "
        "OR map_extract(fields, 'is_orig')[1] = 'true') ORDER BY datetime",
    ])  # fmt: skip
    print("\nthreat intel, YARA and Sigma rules flag rows; the chain goes back from the strongest")
    cli(["detect", "--case", str(case), "--intel", str(args.evidence / "intel"),
         "--yara", str(args.evidence / "intel" / "msupdate.yar"), *_sigma()])  # fmt: skip
    print("\nthe attack chain: root cause, steps across hosts and the wire, impact")
    cli(["chain", "--case", str(case), "--auto", "--figure", str(case / "chains" / "latest.png")])
    print(f"\nevidence:     {args.evidence.resolve()} (story in README.md, answers in ground_truth.json)")
    print(f"case:         {case.resolve()} (case.duckdb, store/*.parquet)")
    print(
        f'next:         .venv/bin/tracehound query --case {case} --sql "SELECT event_code, count(*) FROM timeline GROUP BY 1"'
    )
    print("\nthe post-incident report: summary, evidence, timeline, chain, findings, indicators, actions")
    cli(["report", "--case", str(case), "--out", str(case / "report.html")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
