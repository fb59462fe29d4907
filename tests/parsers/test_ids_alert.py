"""IDS alerts: plaso's Snort 3 and "Suricata" fast alert samples (year inference, two-digit-year
order, IPv6 with ports, local time), the real Suricata and Snort 2 shapes, odd lines, EVE JSON."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from parsers import sniff
from parsers.base import Options, ParseWarning
from parsers.ids_alert import IdsAlertParser
from tests.parsers.artifact_helpers import ingest, parse_bytes, rows, summary
from tests.parsers.evtx_helpers import parse_file

PARSER = IdsAlertParser()
IDS = "linux/ids/plaso"
# Snort 3 without -y writes no year: the file's modification time (here, as the ingest would pass
# it) is the latest its last line (02/04) can be, so it is 2022 and the December lines 2021.
MARCH_2022 = Options(file_mtime=datetime(2022, 3, 1, tzinfo=UTC))


def _rows(path: Path, options: Options) -> tuple[list[dict], list[ParseWarning]]:
    out, found = parse_file(PARSER, path, options)
    for row in out:
        row["fields"] = dict(row["fields"])
    return out, found


def _text(text: str, options: Options = MARCH_2022) -> tuple[list[dict], list[ParseWarning]]:
    out, found = parse_bytes(PARSER, text.encode(), options)
    return sorted(out, key=lambda r: r["source_record"]), found


def test_snort3_alert_fast(corpus: Path) -> None:
    got, found = _rows(corpus / IDS / "snort3_alert_fast.log", MARCH_2022)
    assert found == []
    assert [(r["datetime"], r["event_code"]) for r in got] == [
        (datetime(2021, 12, 28, 12, 55, 38, 765402, tzinfo=UTC), "1:366:11"),
        (datetime(2021, 12, 28, 12, 55, 38, 885027, tzinfo=UTC), "1:408:8"),
        (datetime(2022, 1, 2, 11, 30, 23, 358639, tzinfo=UTC), "1:648:18"),  # the year turns
        (datetime(2022, 2, 4, 23, 41, 31, 115933, tzinfo=UTC), "1:20035:1000"),
    ]
    assert {r["event_action"] for r in got} == {"ids-alert"} and {r["source"] for r in got} == {"ids_alert"}
    ping, reply, shellcode, cnc = got
    # ICMP has no ports: the eight-group IPv6 addresses are whole (and written compressed).
    assert (ping["source_ip"], ping["source_port"], ping["destination_ip"], ping["destination_port"]) == (
        "2001:df1:c200:c::35", None, "2001:4860:4860::8888", None,
    )  # fmt: skip
    assert ping["network_protocol"] == "icmp"
    assert ping["fields"] == {
        "time_zone": "UTC", "year_inferred": "true", "priority": "3", "msg": "PROTOCOL-ICMP PING Unix",
        "engine": "snort3", "gid": "1", "sid": "366", "rev": "11",
    }  # fmt: skip
    assert ping["message"] == (
        "[1:366:11] PROTOCOL-ICMP PING Unix (priority 3) {ICMP} 2001:df1:c200:c::35 -> 2001:4860:4860::8888"
    )
    assert reply["fields"]["classification"] == "Misc activity" and "priority" not in reply["fields"]
    assert (shellcode["source_ip"], shellcode["source_port"]) == ("10.6.6.254", 80)
    assert (shellcode["destination_ip"], shellcode["destination_port"]) == ("10.6.6.103", 60884)
    assert shellcode["fields"]["classification"] == "Executable code was detected"
    # TCP has ports: a ninth group is the port.
    assert (cnc["source_ip"], cnc["source_port"], cnc["destination_ip"], cnc["destination_port"]) == (
        "2001:df1:c200:c::35", 60884, "2001:4860:4860::8888", 80,
    )  # fmt: skip
    assert (cnc["fields"]["msg"], cnc["fields"]["priority"]) == ("MALWARE-CNC outbound connection", "1")


def test_snort_local_time_and_year_from_the_file_time(corpus: Path) -> None:
    path = corpus / IDS / "snort3_alert_fast.log"
    berlin, _ = _rows(path, Options(timezone="Europe/Berlin", file_mtime=datetime(2022, 3, 1, tzinfo=UTC)))
    assert berlin[0]["datetime"] == datetime(2021, 12, 28, 11, 55, 38, 765402, tzinfo=UTC)  # 12:55 CET
    assert berlin[0]["fields"]["time_zone"] == "Europe/Berlin"
    # Modified on 3 Feb 2023: the last line (4 Feb, 23:41) cannot be from 2023, so it is 2022.
    early, _ = _rows(path, Options(file_mtime=datetime(2023, 2, 3, tzinfo=UTC)))
    assert [r["datetime"].year for r in early] == [2021, 2021, 2022, 2022]


def test_plaso_suricata_sample_two_digit_years(corpus: Path) -> None:
    got, found = _rows(corpus / IDS / "suricata_alert_fast.log", Options())
    assert found == []
    # Four lines can only be YY/MM/DD (21/12/28...), so the file's order is that one, and the first
    # line, 10/05/10, is 10 May 2010 (as plaso reads it); no year is inferred.
    assert [r["datetime"] for r in got] == [
        datetime(2010, 5, 10, 10, 8, 59, 667372, tzinfo=UTC),
        datetime(2021, 12, 28, 12, 55, 38, 765402, tzinfo=UTC),
        datetime(2021, 12, 28, 12, 55, 38, 885027, tzinfo=UTC),
        datetime(2022, 1, 2, 11, 30, 23, 358639, tzinfo=UTC),
        datetime(2022, 2, 4, 23, 41, 31, 115933, tzinfo=UTC),
    ]
    first = got[0]
    assert first["event_code"] == "1:2009187:4"
    assert (first["source_ip"], first["source_port"], first["destination_ip"], first["destination_port"]) == (
        "11.11.232.144", 80, "192.168.1.4", 56068,
    )  # fmt: skip
    assert first["fields"] == {
        "time_zone": "UTC", "date_order": "yy/mm/dd", "classification": "Web Application Attack",
        "priority": "3", "gid": "1", "sid": "2009187", "rev": "4", "engine": "snort3",
        "msg": "ET WEB_CLIENT ACTIVEX iDefense COMRaider ActiveX Control Arbitrary File Deletion",
    }  # fmt: skip
    assert {r["fields"]["date_order"] for r in got} == {"yy/mm/dd"}
    assert not any("year_inferred" in r["fields"] for r in got)


def test_real_suricata_and_snort2_shapes() -> None:
    suricata = (
        "10/05/2010-10:08:59.667372  [**] [1:2009187:4] ET WEB_CLIENT COMRaider [**] "
        "[Classification: Web Application Attack] [Priority: 3] {TCP} 11.11.232.144:80 -> 192.168.1.4:56068\n"
        "10/05/2010-10:09:00.000001  [Drop] [**] [1:2100498:7] GPL ATTACK_RESPONSE id check returned root [**] "
        "[Classification: Potentially Bad Traffic] [Priority: 2] {UDP} [2001:db8::1]:53 -> [2001:db8::2]:5353\n"
        "10/05/2010-10:09:01.000000  [**] [1:2200025:2] SURICATA ICMPv6 unknown type [**] "
        "[Classification: Generic Protocol Command Decode] [Priority: 3] {IPv6-ICMP} 2001:db8::1:128 -> 2001:db8::2:0\n"
    )
    got, found = _text(suricata, Options(timezone="America/New_York"))
    assert found == []
    assert [r["datetime"] for r in got] == [
        datetime(2010, 10, 5, 14, 8, 59, 667372, tzinfo=UTC),  # 10:08:59 EDT
        datetime(2010, 10, 5, 14, 9, 0, 1, tzinfo=UTC),
        datetime(2010, 10, 5, 14, 9, 1, tzinfo=UTC),
    ]
    assert {r["fields"]["engine"] for r in got} == {"suricata"}
    assert got[1]["fields"]["action"] == "Drop"
    assert (got[1]["source_ip"], got[1]["source_port"], got[1]["destination_ip"], got[1]["destination_port"]) == (
        "2001:db8::1", 53, "2001:db8::2", 5353,
    )  # fmt: skip
    # Suricata prints ports for every protocol (ICMP type and code): the last group is one.
    assert (got[2]["source_ip"], got[2]["source_port"], got[2]["destination_ip"], got[2]["destination_port"]) == (
        "2001:db8::1", 128, "2001:db8::2", 0,
    )  # fmt: skip
    assert got[2]["network_protocol"] == "ipv6-icmp"
    # Snort 2 with -y: MM/DD/YY, unquoted; every date reads both ways, so the unquoted messages
    # decide for Snort 2's order. A compressed IPv6 address with a port under TCP is split.
    snort2 = (
        "10/05/10-10:08:59.667372 [**] [1:1000001:1] local rule [**] [Priority: 0] {TCP} "
        "2001:db8::5:443 -> 10.0.0.1:51000\n"
    )
    got, found = _text(snort2)
    assert found == [] and got[0]["datetime"] == datetime(2010, 10, 5, 10, 8, 59, 667372, tzinfo=UTC)
    assert (got[0]["fields"]["date_order"], got[0]["fields"]["engine"]) == ("mm/dd/yy", "snort")
    assert (got[0]["source_ip"], got[0]["source_port"]) == ("2001:db8::5", 443)


def test_odd_lines_are_located_warnings(corpus: Path, tmp_path: Path) -> None:
    path = tmp_path / "alert_fast.txt"
    shutil.copy(corpus / IDS / "snort3_alert_fast.log", path)
    lines = path.read_text().splitlines()
    lines.insert(1, "12/28-12:55:38.800000 [**] truncated by a full disk")
    lines.insert(3, "snort: restarting")
    lines.append('13/45-10:00:00.000000 [**] [1:1:1] "x" [**] [Priority: 1] {TCP} 1.2.3.4:1 -> 5.6.7.8:2')
    lines.append('02/05-10:00:00.000000 [**] [1:1:1] "x" [**] [Priority: 1] {TCP} 1.2.3:1 -> 5.6.7.8:2')
    path.write_text("\n".join(lines) + "\n")
    got, found = _rows(path, MARCH_2022)
    assert len(got) == 4
    assert [(w.location, w.count) for w in found] == [
        ("line 2", 1),
        ("line 4", 1),
        ("line 7", 1),
        ("line 8", 1),
    ]
    assert found[0].reason.startswith("not a fast alert line: ")
    assert found[1].reason == "text that is not a fast alert: 'snort: restarting'"
    assert found[2].reason == "invalid date '13/45' (read as 2022-13-45)"
    assert found[3].reason == "not an address: '1.2.3:1'"
    assert found[0].offset == len(lines[0]) + 1
    # Through the ingest: the copy is partial, with the same four located warnings.
    _, results = ingest(tmp_path, path)
    status, parser, records, lost, warnings = summary(results["alert_fast.txt"])
    assert (status, parser, records, lost) == ("partial", "ids_alert", 4, 4)
    assert [w[0] for w in warnings] == ["line 2", "line 4", "line 7", "line 8"]


def test_corpus_files_through_the_ingest(corpus: Path, tmp_path: Path) -> None:
    snort, suricata = corpus / IDS / "snort3_alert_fast.log", corpus / IDS / "suricata_alert_fast.log"
    case, results = ingest(tmp_path, snort, suricata)
    assert summary(results["snort3_alert_fast.log"]) == ("ok", "ids_alert", 4, 0, [])
    assert summary(results["suricata_alert_fast.log"]) == ("ok", "ids_alert", 5, 0, [])
    stored = rows(case, snort)
    # The years come from the corpus file's modification time: its last line, 4 Feb 23:41:31, is in
    # the year of that time (a day of slack) unless that would put it later.
    limit = datetime.fromtimestamp(snort.stat().st_mtime, UTC) + timedelta(days=1)
    late = (limit.month, limit.day, limit.hour, limit.minute, limit.second) < (2, 4, 23, 41, 31)
    last = limit.year - late
    assert [r["datetime"].year for r in stored] == [last - 1, last - 1, last, last]
    assert all(r["fields"]["year_inferred"] == "true" for r in stored)
    assert [r["source_port"] for r in rows(case, suricata)] == [80, None, None, 80, 60884]


# --- EVE JSON ------------------------------------------------------------------------------------

EVE = "\n".join(
    (
        '{"timestamp":"2017-06-15T10:35:46.146532+0200","flow_id":1193466012938937,"in_iface":"eth0",'
        '"event_type":"alert","src_ip":"10.16.1.11","src_port":49718,"dest_ip":"91.189.91.23","dest_port":80,'
        '"proto":"TCP","community_id":"1:7x2c1Fhxb3bR0nE1vWwlQ0LGC1c=","alert":{"action":"allowed","gid":1,'
        '"signature_id":2013028,"rev":7,"signature":"ET POLICY curl User-Agent Outbound",'
        '"category":"Attempted Information Leak","severity":2},"http":{"hostname":"archive.ubuntu.com",'
        '"url":"/ubuntu/dists/","http_user_agent":"curl/7.58.0"},"app_proto":"http","host":"sensor1"}',
        '{"timestamp":"2017-06-15T08:35:47.000001Z","event_type":"dns","src_ip":"10.16.1.11",'
        '"src_port":53535,"dest_ip":"10.16.1.1","dest_port":53,"proto":"UDP","dns":{"type":"query",'
        '"id":4660,"rrname":"evil.example.com","rrtype":"A"}}',
        '{"timestamp":"2017-06-15T08:35:48+00:00","event_type":"tls","src_ip":"10.16.1.11","src_port":50000,'
        '"dest_ip":"2001:db8::443","dest_port":443,"proto":"TCP","tls":{"sni":"login.example.net",'
        '"version":"TLS 1.2"}}',
        "{not json",
        '{"timestamp":"2017-06-15T08:35:49Z","event_type":"stats","stats":{"uptime":3600}}',
        '{"timestamp":"yesterday","event_type":"flow"}',
        '{"timestamp":"2017-06-15T08:35:50Z","note":"no type"}',
    )
)


def test_suricata_eve_json() -> None:
    assert PARSER.sniff(EVE.encode()) and sniff(EVE.encode()).name == "ids_alert"
    got, found = _text(EVE + "\n")
    assert [(w.location, w.reason[:20]) for w in found] == [
        ("line 4", "invalid JSON: Expect"),
        ("line 6", "invalid timestamp 'y"),
        ("line 7", "not an EVE record (n"),
    ]
    assert [(r["datetime"], r["event_action"]) for r in got] == [
        (datetime(2017, 6, 15, 8, 35, 46, 146532, tzinfo=UTC), "ids-alert"),
        (datetime(2017, 6, 15, 8, 35, 47, 1, tzinfo=UTC), "suricata-dns"),
        (datetime(2017, 6, 15, 8, 35, 48, tzinfo=UTC), "suricata-tls"),
        (datetime(2017, 6, 15, 8, 35, 49, tzinfo=UTC), "suricata-stats"),
    ]
    alert, dns, tls, stats = got
    assert (alert["event_code"], alert["source_ip"], alert["source_port"]) == (
        "1:2013028:7",
        "10.16.1.11",
        49718,
    )
    assert (alert["destination_ip"], alert["destination_port"], alert["network_protocol"]) == (
        "91.189.91.23", 80, "tcp",
    )  # fmt: skip
    assert (alert["host_name"], alert["community_id"]) == ("sensor1", "1:7x2c1Fhxb3bR0nE1vWwlQ0LGC1c=")
    assert alert["url_full"] == "http://archive.ubuntu.com/ubuntu/dists/"
    assert {k: alert["fields"][k] for k in ("msg", "classification", "priority", "engine", "alert.action")} == {
        "msg": "ET POLICY curl User-Agent Outbound", "classification": "Attempted Information Leak",
        "priority": "2", "engine": "suricata", "alert.action": "allowed",
    }  # fmt: skip
    assert alert["fields"]["http.http_user_agent"] == "curl/7.58.0"
    assert dns["dns_question_name"] == "evil.example.com" and dns["destination_port"] == 53
    assert (tls["tls_server_name"], tls["destination_ip"]) == ("login.example.net", "2001:db8::443")
    assert stats["source_ip"] is None and stats["fields"]["stats.uptime"] == "3600"


def test_sniff_is_strict() -> None:
    assert not PARSER.sniff(b"Mar 10 12:05:03 host snort[12]: [1:366:11] PING\n")
    assert not PARSER.sniff(b'{"timestamp":"2017-06-15T10:35:46Z","message":"x"}\n')
    assert not PARSER.sniff(b"12/28-12:55:38.765402 something else entirely\n")
