"""Windows Firewall pfirewall.log: the corpus log through the ingest (not taken as a web log any
more), its local times under another zone, fields changing mid-file and damaged lines."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from parsers import HEAD_BYTES, PARSERS
from parsers.base import Options, ParseWarning
from parsers.web_access import WebAccessParser
from parsers.windows_firewall import WindowsFirewallParser
from tests.parsers.artifact_helpers import ARTIFACTS, claimed, ingest, parse_bytes, rows, summary
from tests.parsers.evtx_helpers import parse_file

PARSER = WindowsFirewallParser()
LOG = "logs/windows_firewall.log"
HEADER = (
    "#Version: 1.5\n#Software: Microsoft Windows Firewall\n#Time Format: Local\n"
    "#Fields: date time action protocol src-ip dst-ip src-port dst-port size tcpflags tcpsyn tcpack tcpwin "
    "icmptype icmpcode info path\n"
)


def _parse(text: str, options: Options | None = None) -> tuple[list[dict], list[ParseWarning]]:
    return parse_bytes(PARSER, text.encode(), options)


def test_corpus_log(corpus: Path, tmp_path: Path) -> None:
    path = corpus / ARTIFACTS / LOG
    case, results = ingest(tmp_path, path)
    assert summary(results["windows_firewall.log"]) == ("ok", "windows_firewall", 15, 0, [])
    got = rows(case, path)
    first = got[0]  # line 5: 2005-04-11 08:05:57 DROP UDP 123.45.78.90 123.156.78.255 137 137 78 ... RECEIVE
    assert (first["datetime"], first["source"], first["source_record"], first["event_action"]) == (
        datetime(2005, 4, 11, 8, 5, 57, tzinfo=UTC), "windows_firewall", 5, "firewall-drop",
    )  # fmt: skip
    assert (first["source_ip"], first["source_port"], first["destination_ip"], first["destination_port"]) == (
        "123.45.78.90", 137, "123.156.78.255", 137,
    )  # fmt: skip
    assert first["network_protocol"] == "udp"
    assert first["message"] == "DROP UDP 123.45.78.90:137 -> 123.156.78.255:137 RECEIVE"
    assert first["fields"] == {"size": "78", "path": "RECEIVE", "time_zone": "UTC"}
    assert Counter(r["event_action"] for r in got) == {
        "firewall-drop": 9, "firewall-close": 3, "firewall-open": 2, "firewall-info-events-lost": 1,
    }  # fmt: skip
    assert Counter(r["network_protocol"] for r in got) == {"udp": 7, "tcp": 6, "icmp": 1, None: 1}
    opened = [r for r in got if r["event_action"] == "firewall-open"]
    assert {r["timestamp_desc"] for r in opened} == {"Connection Start"}
    assert (opened[1]["source_port"], opened[1]["destination_port"]) == (1606, 445)  # SMB, line 15
    tcp = next(r for r in got if r["source_record"] == 12)  # 80 -> 1774, flags A
    assert {k: tcp["fields"][k] for k in ("tcpflags", "tcpsyn", "tcpack", "tcpwin")} == {
        "tcpflags": "A", "tcpsyn": "123456789", "tcpack": "987654321", "tcpwin": "12345",
    }  # fmt: skip
    icmp = next(r for r in got if r["network_protocol"] == "icmp")
    assert icmp["message"] == "DROP ICMP 123.45.78.90:7 -> 123.156.78.90:7 icmp type 8 code 0 RECEIVE"
    lost = got[-1]  # line 19: 2005-04-11 08:52:26 INFO-EVENTS-LOST - ... 59 -
    assert (lost["datetime"], lost["source_ip"], lost["message"], lost["fields"]["info"]) == (
        datetime(2005, 4, 11, 8, 52, 26, tzinfo=UTC), None, "INFO-EVENTS-LOST: 59 events not written to the log", "59",
    )  # fmt: skip


def test_local_time_uses_the_host_zone(corpus: Path) -> None:
    got, found = parse_file(PARSER, corpus / ARTIFACTS / LOG, Options(timezone="America/New_York"))
    assert found == [] and len(got) == 15
    assert got[0]["datetime"] == datetime(2005, 4, 11, 12, 5, 57, tzinfo=UTC)  # EDT, UTC-4
    assert dict(got[0]["fields"])["time_zone"] == "America/New_York"


def test_utc_log_pid_ipv6_fields_change_and_bad_lines() -> None:
    text = (
        HEADER
        + "2024-01-02 03:04:05 ALLOW TCP 10.0.0.5 198.51.100.7 50000 443 0 - 0 0 0 - - - SEND\n"
        + "2024-01-02 03:04:06 DROP TCP 10.0.0.5 198.51.100.7 50001\n"  # cut short
        + "2024-13-02 03:04:07 DROP TCP 10.0.0.5 198.51.100.7 50002 443 0 - 0 0 0 - - - SEND\n"
        + "#Time Format: UTC\n"
        + "#Fields: date time action protocol src-ip dst-ip src-port dst-port size tcpflags tcpsyn tcpack "
        + "tcpwin icmptype icmpcode info path pid\n"
        + "2024-01-02 03:04:08 ALLOW UDP fe80::1 ff02::fb 5353 5353 0 - - - - - - - SEND 4242\n"
    )
    got, found = _parse(text, Options(timezone="Europe/Berlin"))
    assert [(w.location, w.reason, w.count) for w in found] == [
        ("line 6", "7 values for 17 fields", 1),
        ("line 7", "invalid time 2024-13-02 03:04:07", 1),
    ]
    assert [(r["datetime"], r["event_action"], r["fields"]["time_zone"]) for r in got] == [
        (datetime(2024, 1, 2, 2, 4, 5, tzinfo=UTC), "firewall-allow", "Europe/Berlin"),
        (datetime(2024, 1, 2, 3, 4, 8, tzinfo=UTC), "firewall-allow", "UTC"),
    ]
    assert got[1]["message"] == "ALLOW UDP [fe80::1]:5353 -> [ff02::fb]:5353 SEND"
    assert (got[1]["process_pid"], got[1]["source_ip"]) == (4242, "fe80::1")


def test_sniff_and_iis_stays_web(corpus: Path) -> None:
    head = (corpus / ARTIFACTS / LOG).read_bytes()[:HEAD_BYTES]
    assert PARSER.sniff(head) and not WebAccessParser().sniff(head)
    iis = (corpus / "linux/web/plaso/iis10.log").read_bytes()[:HEAD_BYTES]
    assert WebAccessParser().sniff(iis) and not PARSER.sniff(iis)
    # no #Software line: the firewall's own columns are enough
    assert PARSER.sniff(HEADER.replace("#Software: Microsoft Windows Firewall\n", "").encode())
    assert not PARSER.sniff(b"#Software: Microsoft Windows Firewall\n")


def test_claims_nothing_else(corpus: Path) -> None:
    assert claimed(corpus, PARSER) == [f"{ARTIFACTS}/{LOG}"]
    assert [p.name for p in PARSERS].index(PARSER.name) < [p.name for p in PARSERS].index("web_access")
