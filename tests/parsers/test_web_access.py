"""Web access logs: Apache/nginx Common and Combined (vhost, quotes and raw bytes in requests,
zone offsets), a real attack log, IIS W3C with changing #Fields."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from parsers.base import HEAD_BYTES, Options
from parsers.web_access import WebAccessParser
from tests.parsers.evtx_helpers import parse_file

PARSER = WebAccessParser()
ATTACK = "linux/web/evtx-attack-samples/web_attack_and_isp_webshell_localhost_access_log.txt"


def _rows(path: Path) -> tuple[list[dict], list]:
    rows, found = parse_file(PARSER, path)
    return [dict(r, fields=dict(r["fields"])) for r in rows], found


def test_plaso_apache_log(corpus: Path) -> None:
    rows, found = _rows(corpus / "linux/web/plaso/apache_access.log")
    assert (len(rows), found) == (15, [])
    first = rows[0]
    assert (first["datetime"], first["source_ip"], first["url_full"], first["event_code"]) == (
        datetime(2016, 1, 13, 19, 31, 16, tzinfo=UTC), "10.0.0.1", "/wp-content/themes/darkmode/header.php?install2", "200",
    )  # fmt: skip
    assert first["fields"] == {"method": "GET", "protocol": "HTTP/1.1", "status": "200", "bytes": "494"}
    assert rows[4]["datetime"] == datetime(2016, 1, 13, 17, 31, 20, tzinfo=UTC)  # +0200
    assert rows[4]["fields"]["referrer"] == "http://localhost/"
    assert (
        rows[7]["fields"]["user_agent"]
        == "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html"
    )
    assert rows[8]["fields"]["vhost"] == "plaso.log2timeline.net:443" and rows[8]["source_ip"] == "10.1.1.2"
    assert rows[12]["url_full"] == '/aaaa.xxxx/SomeText?action=edit&template=<script>alert("text")</script>'
    assert rows[14]["user_name"] == "pyllyukko@EXAMPLE.COM"
    assert rows[6]["message"] == "GET /files/logstash/logstash-1.1.0-monolithic.jar -> 304"


def test_attack_log(corpus: Path) -> None:
    rows, found = _rows(corpus / ATTACK)
    assert (len(rows), found) == (2661, [])
    status = Counter(r["event_code"] for r in rows)
    assert status.most_common(3) == [("404", 1484), ("200", 981), ("400", 154)]
    assert rows[0]["datetime"] == datetime(2018, 7, 11, 5, 41, 28, tzinfo=UTC)  # +0300
    junk = rows[26]  # a TLS hello sent to the HTTP port: kept whole, no method
    assert junk["url_full"] is None and junk["fields"]["request"].startswith("\x16\x03\x01")
    assert rows[9]["user_name"] == "admin"


def test_iis_w3c(corpus: Path) -> None:
    (row,), found = _rows(corpus / "linux/web/plaso/iis10.log")
    assert found == []
    assert (row["datetime"], row["source_ip"], row["destination_ip"], row["destination_port"]) == (
        datetime(2021, 4, 1, 0, 0, 21, tzinfo=UTC), "222.222.222.222", "111.111.111.111", 80,
    )  # fmt: skip
    assert (row["url_full"], row["event_code"], row["source_record"]) == ("/foo/bar/baz.asp", "200", 5)
    assert row["fields"]["user_agent"].startswith(
        "Mozilla/5.0 (Windows NT 5.1) AppleWebKit/537.36 (KHTML, like Gecko)"
    )
    assert row["fields"]["time-taken"] == "65"


def test_w3c_fields_change_and_bad_lines() -> None:
    text = (
        "#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n"
        "#Fields: date time c-ip cs-method cs-uri-stem cs-uri-query sc-status\n"
        "2021-04-01 00:00:21 198.51.100.4 GET /a.aspx cmd=whoami 200\n"
        "2021-04-01 00:00:22 198.51.100.4 GET /b.aspx\n"
        "#Fields: time c-ip cs-method cs-uri-stem sc-status\n#Date: 2021-04-02 00:00:00\n"
        "01:02:03 198.51.100.5 POST /upload.aspx 500\n"
    )
    rows, found = [], []
    for item in PARSER.parse(io.BytesIO(text.encode()), None, Options()):
        if hasattr(item, "to_pylist"):
            rows.extend(item.to_pylist())
        else:
            found.append(item)
    assert [(r["datetime"], r["url_full"], r["event_code"]) for r in rows] == [
        (datetime(2021, 4, 1, 0, 0, 21, tzinfo=UTC), "/a.aspx?cmd=whoami", "200"),
        (datetime(2021, 4, 2, 1, 2, 3, tzinfo=UTC), "/upload.aspx", "500"),
    ]
    assert [(w.location, w.reason) for w in found] == [("line 5", "5 values for 7 fields")]


def test_sniff(corpus: Path) -> None:
    for name in ("linux/web/plaso/apache_access.log", "linux/web/plaso/iis10.log", ATTACK):
        assert PARSER.sniff((corpus / name).read_bytes()[:HEAD_BYTES]), name
    assert not PARSER.sniff(b"Mar 10 12:05:03 host sshd[1]: Accepted\n")
    assert not PARSER.sniff(b"#fields\tts\tuid\n")
