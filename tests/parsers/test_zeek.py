"""Zeek logs: the APT29 emulation's logs (JSON lines with ``_`` scoped names and ``@stream``),
the same records as Zeek TSV (several header blocks) and as Zeek's own JSON giving identical
rows, located warnings for bad lines, the log type from fields or file name, the ingest; and
``network.records.to_row`` on hand-made records."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from parsers import HEAD_BYTES, PARSERS, sniff
from parsers.base import Options
from parsers.network.records import source_for, text, to_row
from parsers.zeek import ZeekParser, infer_log, log_from_name, normalise
from tests.parsers import artifact_helpers
from tests.parsers.evtx_helpers import parse_file

PARSER = ZeekParser()
APT29 = "pcap/zeek-logs/apt29-day1"
#: file -> records (``grep -vc '^#'``: every line is a record), row source, event_action.
COUNTS = {
    "SCRANTON_conn.log": (134, "network_conn", "connection"),
    "SCRANTON_dce_rpc.log": (66, "network_dce_rpc", "dce-rpc-call"),
    "SCRANTON_dns.log": (32, "network_dns", "dns-query"),
    "SCRANTON_dpd.log": (6, "network_dpd", "protocol-violation"),
    "SCRANTON_files.log": (69, "network_files", "file-transferred"),
    "SCRANTON_http.log": (62, "network_http", "http-request"),
    "SCRANTON_kerberos.log": (22, "network_kerberos", "kerberos-request"),
    "SCRANTON_notice.log": (1, "network_notice", "notice"),
    "SCRANTON_pe.log": (1, "network_pe", "pe-analyzed"),
    "SCRANTON_smb_files.log": (6, "network_smb_files", "smb-file-open"),
    "SCRANTON_smb_mapping.log": (6, "network_smb_mapping", "smb-tree-connect"),
    "SCRANTON_ssl.log": (2, "network_tls", "tls-handshake"),
    "SCRANTON_weird.log": (6, "network_weird", "weird"),
    "SCRANTON_x509.log": (2, "network_x509", "x509-certificate"),
}
#: What the shipper of the APT29 logs added to every record (kept in fields).
SHIPPER = {"@system": "simplerockbuild.simplerock.lan", "@proc": "zeek"}


def _rows(path: Path, options: Options | None = None) -> tuple[list[dict], list]:
    rows, found = parse_file(PARSER, path, options)
    return [dict(r, fields=dict(r["fields"])) for r in rows], found


def _warnings(found: list) -> list[tuple]:
    return [(w.location, w.offset, w.reason, w.count) for w in found]


def _core(row: dict, *columns: str) -> tuple:
    return tuple(row[c] for c in columns)


def _at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# -- the APT29 logs -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_apt29_log_counts(corpus: Path, name: str) -> None:
    path = corpus / APT29 / name
    records, source, action = COUNTS[name]
    assert sum(1 for line in path.read_text().splitlines() if not line.startswith("#")) == records
    rows, found = _rows(path)
    assert (len(rows), found) == (records, [])
    assert {r["source"] for r in rows} == {source} and {r["event_action"] for r in rows} == {action}
    assert [r["source_record"] for r in rows] == list(range(1, records + 1))
    assert all(r["datetime"] is not None and r["message"] for r in rows)
    assert all(r["fields"]["@system"] == SHIPPER["@system"] for r in rows)


def test_apt29_conn(corpus: Path) -> None:
    rows, _ = _rows(corpus / APT29 / "SCRANTON_conn.log")
    first = rows[0]
    assert _core(first, "datetime", "timestamp_desc", "source_ip", "source_port", "destination_ip", "destination_port", "network_protocol") == (
        _at(2020, 4, 30, 0, 6, 38, 899710), "Connection Start", "10.0.1.4", 64842, "10.0.0.4", 53, "dns",
    )  # fmt: skip
    assert first["message"] == "udp 10.0.1.4:64842 -> 10.0.0.4:53 dns SF 1.6 ms 39 B/55 B"
    assert first["fields"] == SHIPPER | {
        "uid": "Cw1Hz43UWS4qXFei8f", "proto": "udp", "service": "dns", "duration": "0.001578",
        "orig_bytes": "39", "resp_bytes": "55", "conn_state": "SF", "missed_bytes": "0", "history": "Dd",
        "orig_pkts": "1", "orig_ip_bytes": "67", "resp_pkts": "1", "resp_ip_bytes": "83",
        "orig_l2_addr": "00:0d:3a:4d:42:f2", "resp_l2_addr": "12:34:56:78:9a:bc",
    }  # fmt: skip
    assert rows[1]["message"] == "tcp 10.0.1.4:60595 -> 10.0.0.4:445 krb,smb,gssapi RSTO 10.7 s 4.1 kB/1.7 kB"
    assert rows[1]["datetime"] == _at(2020, 4, 30, 0, 6, 38, 903350)  # written 1588205198.90335


def test_apt29_dns_http_files(corpus: Path) -> None:
    dns, _ = _rows(corpus / APT29 / "SCRANTON_dns.log")
    assert _core(dns[0], "datetime", "dns_question_name", "destination_port", "message") == (
        _at(2020, 4, 30, 0, 6, 38, 899710), "newyork.dmevals.local", 53, "dns A newyork.dmevals.local -> 10.0.0.4 (NOERROR)",
    )  # fmt: skip
    assert (dns[0]["fields"]["answers"], dns[0]["fields"]["TTLs"], dns[0]["fields"]["AA"]) == ("10.0.0.4", "3600.000000", "true")  # fmt: skip
    assert dns[1]["message"] == "dns A wpad.dmevals.local (NXDOMAIN)" and "rtt" not in dns[1]["fields"]

    http, _ = _rows(corpus / APT29 / "SCRANTON_http.log")
    assert _core(http[0], "datetime", "source_ip", "source_port", "destination_ip", "url_full", "event_code") == (
        _at(2020, 4, 30, 0, 32, 18, 95510), "10.0.1.4", 60757, "192.168.0.4", "http://192.168.0.4/", "403",
    )  # fmt: skip
    assert http[0]["message"] == "OPTIONS http://192.168.0.4/ -> 403 text/html 209 B"
    assert http[0]["fields"]["user_agent"] == "DavClnt" and "tags" not in http[0]["fields"]  # [] is absent
    download = http[61]
    assert download["message"] == (
        "GET http://192.168.0.4/webdav/python.exe -> 200 application/x-dosexec 5,305,104 B"
    )
    assert download["fields"]["resp_fuids"] == "FV8BmBzhLupORXNNc"

    files, _ = _rows(corpus / APT29 / "SCRANTON_files.log")
    first = files[0]
    assert _core(first, "datetime", "source_ip", "destination_ip", "file_path", "file_hash_sha256") == (
        _at(2020, 4, 30, 0, 12, 1, 662286), "10.0.0.4", "10.0.1.4",
        r"dmevals.local\Policies\{31B2F340-016D-11D2-945F-00C04FB984F9}\gpt.ini", None,
    )  # fmt: skip
    assert first["message"] == (
        r"file dmevals.local\Policies\{31B2F340-016D-11D2-945F-00C04FB984F9}\gpt.ini text/ini 22 B over SMB "
        "10.0.0.4 -> 10.0.1.4 sha1 1a1a10b819f321b91b47d7dd73668406a15992db"
    )
    assert (first["fields"]["tx_hosts"], first["fields"]["analyzers"], first["fields"]["source"]) == ("10.0.0.4", "MD5,SHA1", "SMB")  # fmt: skip
    exe = files[68]  # the PE carried by the HTTP download above, not complete: no hashes
    assert (exe["fields"]["fuid"], exe["fields"]["conn_uids"], exe["fields"]["extracted"]) == (
        "FV8BmBzhLupORXNNc", "C1OVTv1ML8aw5ffxn6", "HTTP-FV8BmBzhLupORXNNc.exe",
    )  # fmt: skip


def test_apt29_windows_protocols(corpus: Path) -> None:
    kerberos, _ = _rows(corpus / APT29 / "SCRANTON_kerberos.log")
    assert kerberos[0]["message"] == "kerberos 10.0.1.4:60595 -> 10.0.0.4:445"  # only its connection
    assert kerberos[0]["fields"] == SHIPPER | {"uid": "CbD9Ha1JtdoSnfM4Mf"}
    failed = kerberos[3]
    assert _core(failed, "datetime", "user_name", "user_domain", "destination_port", "message") == (
        _at(2020, 4, 30, 0, 24, 19, 110490), "pbeesly", "DMEVALS.LOCAL", 88,
        "kerberos AS pbeesly/DMEVALS.LOCAL -> krbtgt/DMEVALS.LOCAL failed KDC_ERR_PREAUTH_REQUIRED",
    )  # fmt: skip
    assert kerberos[5]["message"] == "kerberos TGS pbeesly/DMEVALS.LOCAL -> cifs/NEWYORK ok"
    domains = Counter(
        r["user_domain"] for r in kerberos if r["user_name"] == "pbeesly"
    )  # grep -c '"client":"pbeesly/'
    assert domains == {"DMEVALS.LOCAL": 10, "dmevals": 6}

    smb, _ = _rows(corpus / APT29 / "SCRANTON_smb_files.log")
    assert smb[0]["file_path"] == r"\\NEWYORK.dmevals.local\sysvol\dmevals.local\Policies\{31B2F340-016D-11D2-945F-00C04FB984F9}\gpt.ini"  # fmt: skip
    assert smb[0]["message"] == f"smb FILE_OPEN {smb[0]['file_path']} (22 B)"
    assert (smb[0]["fields"]["times.changed"], smb[0]["fields"]["path"]) == ("1588187912.766740", r"\\NEWYORK.dmevals.local\sysvol")  # fmt: skip

    mapping, _ = _rows(corpus / APT29 / "SCRANTON_smb_mapping.log")
    assert mapping[0]["message"] == r"smb map \\NEWYORK.dmevals.local\IPC$ (PIPE)"

    rpc, _ = _rows(corpus / APT29 / "SCRANTON_dce_rpc.log")
    assert rpc[2]["message"] == "dce_rpc drsuapi::DRSCrackNames 10.0.1.4:60621 -> 10.0.0.4:49667 (pipe 49667)"
    assert sum(r["fields"]["endpoint"] == "drsuapi" for r in rpc) == 3


def test_apt29_tls_and_file_analysis(corpus: Path) -> None:
    (ssl, _), found = _rows(corpus / APT29 / "SCRANTON_ssl.log")
    assert found == [] and ssl["tls_server_name"] is None  # no SNI in these handshakes
    assert ssl["message"] == (
        "tls TLSv12 (no SNI) -> 192.168.0.5:443 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 established (self signed certificate)"
    )
    assert (ssl["fields"]["ja3"], ssl["fields"]["ja3s"]) == ("72a589da586844d7f0818ce684948eea", "ec74a5c51106f0419184d0dd08fb05bc")  # fmt: skip

    x509, _ = _rows(corpus / APT29 / "SCRANTON_x509.log")
    subject = "emailAddress=parse@conn.sons.info,CN=conn.sons.info,OU=parse,O=Conn and Sons,ST=SC,C=US"
    assert x509[0]["message"] == f"x509 {subject} self-signed valid 2016-11-22 to 2025-11-20"
    assert x509[0]["fields"]["certificate.serial"] == "06743FC495E54B7B"  # certificate_serial, dotted
    assert x509[0]["fields"]["basic_constraints.ca"] == "true"

    (notice,), _ = _rows(corpus / APT29 / "SCRANTON_notice.log")
    assert _core(notice, "datetime", "destination_ip", "destination_port") == (_at(2020, 4, 30, 0, 15, 18, 392851), "192.168.0.5", 443)  # fmt: skip
    assert notice["message"].startswith("notice SSL::Invalid_Server_Cert: SSL certificate validation failed")

    (pe,), _ = _rows(corpus / APT29 / "SCRANTON_pe.log")
    assert pe["message"] == "pe AMD64 exe WINDOWS_CUI compiled 2018-09-04 sections UPX0,UPX1,.rsrc"
    assert pe["fields"]["id"] == "FV8BmBzhLupORXNNc" and pe["source_ip"] is None

    dpd, _ = _rows(corpus / APT29 / "SCRANTON_dpd.log")
    assert (dpd[0]["network_protocol"], dpd[0]["destination_ip"]) == ("smb", "10.0.1.6")
    weird, _ = _rows(corpus / APT29 / "SCRANTON_weird.log")
    assert [r["message"] for r in weird[:2]] == [
        "weird ip_hdr_len_zero", "weird unknown_dce_rpc_auth_type 68 10.0.1.4:60636 -> 10.0.0.4:49667",
    ]  # fmt: skip


def test_apt29_ingest(corpus: Path, tmp_path: Path) -> None:
    paths = sorted((corpus / APT29).glob("*.log"))
    case, results = artifact_helpers.ingest(tmp_path, *paths)
    got = {name: artifact_helpers.summary(result) for name, result in results.items()}
    assert got == {name: ("ok", "zeek", records, 0, []) for name, (records, _, _) in COUNTS.items()}
    rows = artifact_helpers.rows(case, corpus / APT29 / "SCRANTON_dns.log")
    assert len(rows) == 32 and rows[0]["source_file"] == str(corpus / APT29 / "SCRANTON_dns.log")


def test_registered_once_and_before_the_text_grammars(corpus: Path) -> None:
    names = [p.name for p in PARSERS]
    assert names.index("zeek") < min(
        names.index(n) for n in ("linux_audit", "web_access", "syslog", "shell_history")
    )
    for path in sorted((corpus / APT29).glob("*.log")):
        head = path.read_bytes()[:HEAD_BYTES]
        assert [p.name for p in PARSERS if p.sniff(head)] == ["zeek"], path


# -- the same records as Zeek TSV and as Zeek's own JSON -------------------------------------------

_HEADER = (
    "#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-",
)  # fmt: skip
#: Four header blocks in one file (a concatenated log), values as Zeek's TSV writer prints the
#: APT29 records above: six decimals for times and intervals, T/F, ``\\`` and ``\x5c`` escapes.
TSV_BLOCKS = {
    "conn": (
        "ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto service duration orig_bytes resp_bytes conn_state "
        "missed_bytes history orig_pkts orig_ip_bytes resp_pkts resp_ip_bytes orig_l2_addr resp_l2_addr",
        "time string addr port addr port enum string interval count count string count string count count count "
        "count string string",
        [
            "1588205198.899710 Cw1Hz43UWS4qXFei8f 10.0.1.4 64842 10.0.0.4 53 udp dns 0.001578 39 55 SF 0 Dd 1 67 "
            "1 83 00:0d:3a:4d:42:f2 12:34:56:78:9a:bc",
            "1588205198.903350 CbD9Ha1JtdoSnfM4Mf 10.0.1.4 60595 10.0.0.4 445 tcp krb,smb,gssapi 10.706617 4060 "
            "1681 RSTO 0 ShADdaR 12 1307 11 2133 00:0d:3a:4d:42:f2 12:34:56:78:9a:bc",
        ],
    ),
    "dns": (
        "ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto trans_id rtt query qclass qclass_name qtype "
        "qtype_name rcode rcode_name AA TC RD RA Z answers TTLs rejected",
        "time string addr port addr port enum count interval string count string count string count string bool "
        "bool bool bool count vector[string] vector[interval] bool",
        [
            "1588205198.899710 Cw1Hz43UWS4qXFei8f 10.0.1.4 64842 10.0.0.4 53 udp 8564 0.001578 newyork.dmevals.local "
            "1 C_INTERNET 1 A 0 NOERROR T F T T 0 10.0.0.4 3600.000000 F",
            "1588205279.132979 CCworw1fI2gPWTcRR2 10.0.1.4 58559 10.0.0.4 53 udp 51878 - wpad.dmevals.local 1 "
            "C_INTERNET 1 A 3 NXDOMAIN F F T F 0 - - F",
        ],
    ),
    "http": (
        "ts uid id.orig_h id.orig_p id.resp_h id.resp_p trans_depth method host uri version user_agent "
        "request_body_len response_body_len status_code status_msg tags resp_fuids resp_mime_types "
        "client_header_names",
        "time string addr port addr port count string string string string string count count count string "
        "set[enum] vector[string] vector[string] vector[string]",
        [
            "1588206925.658110 C1OVTv1ML8aw5ffxn6 10.0.1.4 60802 192.168.0.4 80 12 GET 192.168.0.4 "
            "/webdav/python.exe 1.1 Microsoft-WebDAV-MiniRedir/10.0.18362 0 5305104 200 OK (empty) "
            "FV8BmBzhLupORXNNc application/x-dosexec "
            "CACHE-CONTROL,CONNECTION,PRAGMA,USER-AGENT,TRANSLATE,HOST,AUTHORIZATION",
        ],
    ),
    "smb_files": (
        "ts uid id.orig_h id.orig_p id.resp_h id.resp_p action path name size times.modified times.accessed "
        "times.created times.changed",
        "time string addr port addr port enum string string count time time time time",
        [
            "1588205521.659592 C6niUh1gdPBNBhfNDe 10.0.1.4 60624 10.0.0.4 445 SMB::FILE_OPEN "
            "\\\\\\\\NEWYORK.dmevals.local\\\\sysvol "
            "dmevals.local\\x5cPolicies\\x5c{31B2F340-016D-11D2-945F-00C04FB984F9}\\x5cgpt.ini 22 "
            "1588187906.664602 1588187906.664602 1588187906.664602 1588187912.766740",
        ],
    ),
}
#: The same six records as Zeek's JSON writer prints them: dotted names, full-precision floats,
#: true/false, lists, unset fields left out, no log path (each log is told by its fields).
JSON_LINES = [
    '{"ts":1588205198.89971,"uid":"Cw1Hz43UWS4qXFei8f","id.orig_h":"10.0.1.4","id.orig_p":64842,"id.resp_h":"10.0.0.4","id.resp_p":53,"proto":"udp","service":"dns","duration":0.0015780925750732422,"orig_bytes":39,"resp_bytes":55,"conn_state":"SF","missed_bytes":0,"history":"Dd","orig_pkts":1,"orig_ip_bytes":67,"resp_pkts":1,"resp_ip_bytes":83,"orig_l2_addr":"00:0d:3a:4d:42:f2","resp_l2_addr":"12:34:56:78:9a:bc"}',
    '{"ts":1588205198.90335,"uid":"CbD9Ha1JtdoSnfM4Mf","id.orig_h":"10.0.1.4","id.orig_p":60595,"id.resp_h":"10.0.0.4","id.resp_p":445,"proto":"tcp","service":"krb,smb,gssapi","duration":10.706616878509521,"orig_bytes":4060,"resp_bytes":1681,"conn_state":"RSTO","missed_bytes":0,"history":"ShADdaR","orig_pkts":12,"orig_ip_bytes":1307,"resp_pkts":11,"resp_ip_bytes":2133,"orig_l2_addr":"00:0d:3a:4d:42:f2","resp_l2_addr":"12:34:56:78:9a:bc"}',
    '{"ts":1588205198.89971,"uid":"Cw1Hz43UWS4qXFei8f","id.orig_h":"10.0.1.4","id.orig_p":64842,"id.resp_h":"10.0.0.4","id.resp_p":53,"proto":"udp","trans_id":8564,"rtt":0.0015780925750732422,"query":"newyork.dmevals.local","qclass":1,"qclass_name":"C_INTERNET","qtype":1,"qtype_name":"A","rcode":0,"rcode_name":"NOERROR","AA":true,"TC":false,"RD":true,"RA":true,"Z":0,"answers":["10.0.0.4"],"TTLs":[3600.0],"rejected":false}',
    '{"ts":1588205279.132979,"uid":"CCworw1fI2gPWTcRR2","id.orig_h":"10.0.1.4","id.orig_p":58559,"id.resp_h":"10.0.0.4","id.resp_p":53,"proto":"udp","trans_id":51878,"query":"wpad.dmevals.local","qclass":1,"qclass_name":"C_INTERNET","qtype":1,"qtype_name":"A","rcode":3,"rcode_name":"NXDOMAIN","AA":false,"TC":false,"RD":true,"RA":false,"Z":0,"rejected":false}',
    '{"ts":1588206925.65811,"uid":"C1OVTv1ML8aw5ffxn6","id.orig_h":"10.0.1.4","id.orig_p":60802,"id.resp_h":"192.168.0.4","id.resp_p":80,"trans_depth":12,"method":"GET","host":"192.168.0.4","uri":"/webdav/python.exe","version":"1.1","user_agent":"Microsoft-WebDAV-MiniRedir/10.0.18362","request_body_len":0,"response_body_len":5305104,"status_code":200,"status_msg":"OK","tags":[],"resp_fuids":["FV8BmBzhLupORXNNc"],"resp_mime_types":["application/x-dosexec"],"client_header_names":["CACHE-CONTROL","CONNECTION","PRAGMA","USER-AGENT","TRANSLATE","HOST","AUTHORIZATION"]}',
    '{"ts":1588205521.659592,"uid":"C6niUh1gdPBNBhfNDe","id.orig_h":"10.0.1.4","id.orig_p":60624,"id.resp_h":"10.0.0.4","id.resp_p":445,"action":"SMB::FILE_OPEN","path":"\\\\\\\\NEWYORK.dmevals.local\\\\sysvol","name":"dmevals.local\\\\Policies\\\\{31B2F340-016D-11D2-945F-00C04FB984F9}\\\\gpt.ini","size":22,"times.modified":1588187906.664602,"times.accessed":1588187906.664602,"times.created":1588187906.664602,"times.changed":1588187912.7667403}',
]  # fmt: skip


def _tsv() -> str:
    lines: list[str] = []
    for path, (names, kinds, records) in TSV_BLOCKS.items():
        lines += [*_HEADER, f"#path\t{path}", "#open\t2020-04-30-00-00-00"]
        lines += ["#fields\t" + names.replace(" ", "\t"), "#types\t" + kinds.replace(" ", "\t")]
        lines += [r.replace(" ", "\t") for r in records]
        lines.append("#close\t2020-04-30-01-00-00")
    return "\n".join(lines) + "\n"


def _comparable(row: dict) -> dict:
    """A row without what differs by file: its line number and the shipper's fields."""
    fields = {k: v for k, v in row["fields"].items() if k not in SHIPPER}
    return {k: v for k, v in row.items() if k not in ("source_record", "fields")} | {"fields": fields}


def test_tsv_and_json_give_the_same_rows_as_the_corpus(corpus: Path, tmp_path: Path) -> None:
    tsv, json = tmp_path / "concatenated.log", tmp_path / "zeek.json"
    tsv.write_text(_tsv())
    json.write_text("\n".join(JSON_LINES) + "\n")
    assert PARSER.sniff(tsv.read_bytes()[:HEAD_BYTES]) and PARSER.sniff(json.read_bytes()[:HEAD_BYTES])
    from_tsv, found_tsv = _rows(tsv)
    from_json, found_json = _rows(json)
    assert (len(from_tsv), found_tsv, len(from_json), found_json) == (6, [], 6, [])
    assert [r["source_record"] for r in from_tsv] == [9, 10, 20, 21, 31, 41]  # four header blocks
    assert [_comparable(r) for r in from_tsv] == [_comparable(r) for r in from_json]
    corpus_rows = []
    for name, line in [("conn", 0), ("conn", 1), ("dns", 0), ("dns", 1), ("http", 61), ("smb_files", 0)]:
        corpus_rows.append(_rows(corpus / APT29 / f"SCRANTON_{name}.log")[0][line])
    assert [_comparable(r) for r in from_tsv] == [_comparable(r) for r in corpus_rows]
    assert from_tsv[5]["fields"]["name"] == r"dmevals.local\Policies\{31B2F340-016D-11D2-945F-00C04FB984F9}\gpt.ini"  # fmt: skip


TSV_BAD = "\n".join(
    [
        *_HEADER, "#path\tconn", "#open\t2020-04-30-00-00-00",
        "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto",
        "#types\ttime\tstring\taddr\tport\taddr\tport\tenum",
        "1588205198.899710\tC1\t10.0.1.4\t64842\t10.0.0.4\t53\tudp",
        "1588205198.903350\tC2\t10.0.1.4\t60595\t10.0.0.4",
        "yesterday\tC3\t10.0.1.4\t1\t10.0.0.4\t2\ttcp",
        "",
        "1588205279.132979\tC4\t10.0.1.4\tnone\t10.0.0.4\t53\tudp",
        "#close\t2020-04-30-01-00-00",
    ]
)  # fmt: skip


def test_malformed_tsv_lines_are_located_warnings(tmp_path: Path) -> None:
    path = tmp_path / "conn.log"
    path.write_text(TSV_BAD + "\n")
    rows, found = _rows(path)
    assert [r["fields"]["uid"] for r in rows] == ["C1", "C4"]
    assert _warnings(found) == [
        ("line 10", TSV_BAD.index("1588205198.903350"), "5 columns where #fields names 7", 1),
        ("line 11", TSV_BAD.index("yesterday"), "invalid time 'yesterday'", 1),
    ]
    assert (rows[1]["source_port"], rows[1]["fields"]["id.orig_p"]) == (None, "none")  # kept as written
    assert [r["source_record"] for r in rows] == [9, 13]

    before = tmp_path / "headless.log"
    before.write_text("#separator \\x09\n1588205198.899710\tC1\n")
    rows, found = _rows(before)
    assert (rows, _warnings(found)) == ([], [("line 2", 16, "data line before a #fields header", 1)])


def test_malformed_json_lines_are_located_warnings(tmp_path: Path) -> None:
    good = '{"ts":1588205198.89971,"uid":"Cw1Hz43UWS4qXFei8f","id.orig_h":"10.0.1.4","id.orig_p":1,"id.resp_h":"10.0.0.4","id.resp_p":2,"conn_state":"SF"}'  # fmt: skip
    lines = [
        good,
        '{"ts":1588205198.9,"uid":',
        "[1, 2]",
        good.replace("1588205198.89971", '"never"'),
        "",
        good,
    ]
    path = tmp_path / "conn.json"
    path.write_text("\n".join(lines) + "\n")
    rows, found = _rows(path)
    assert [r["source_record"] for r in rows] == [1, 6] and {r["source"] for r in rows} == {"network_conn"}
    assert [(w.location, w.reason[:12], w.count) for w in found] == [
        ("line 2", "invalid JSON", 1),
        ("line 3", "not a JSON o", 1),
        ("line 4", "invalid time", 1),
    ]
    assert found[2].reason == "invalid time 'never'" and found[2].offset == sum(
        len(line) + 1 for line in lines[:3]
    )


def test_tsv_escapes_sets_and_markers(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    lines = [
        *_HEADER, "#path\tfiles",
        "#fields\tts\tfuid\ttx_hosts\trx_hosts\tanalyzers\tfilename\tmime_type\ttotal_bytes\tsha256\tlocal_orig",
        "#types\ttime\tstring\tset[addr]\tset[addr]\tset[string]\tstring\tstring\tcount\tstring\tbool",
        "1588206925.659819\tFabc123456789\t192.168.0.4\t10.0.1.4,10.0.1.5\t(empty)\ta\\x09b\\xc3\\xa9.exe\t-\t12345\t"
        + "ab" * 32 + "\tT",
    ]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    (row,), found = _rows(path)
    assert found == []
    assert _core(row, "source", "file_path", "file_hash_sha256", "source_ip", "destination_ip") == (
        "network_files", "a\tbé.exe", "ab" * 32, "192.168.0.4", None,  # two receivers: no single destination
    )  # fmt: skip
    assert row["fields"] == {
        "fuid": "Fabc123456789", "tx_hosts": "192.168.0.4", "rx_hosts": "10.0.1.4,10.0.1.5",
        "total_bytes": "12345", "local_orig": "true",
    }  # fmt: skip
    assert row["message"] == f"file a\tbé.exe 12,345 B 192.168.0.4 -> ? sha256 {'ab' * 32}"


# -- which log a record is -------------------------------------------------------------------------

BARE = '{"ts":1588205198.908336,"uid":"CbD9Ha1JtdoSnfM4Mf","id_orig_h":"10.0.1.4","id_orig_p":60595,"id_resp_h":"10.0.0.4","id_resp_p":445}'  # fmt: skip


def test_log_type_from_the_file_name_when_fields_do_not_tell(tmp_path: Path) -> None:
    named = tmp_path / "SCRANTON_kerberos.log"
    named.write_text(BARE + "\n")
    (row,), found = _rows(named, Options(source_path=str(named)))
    assert (row["source"], row["event_action"], row["source_port"], found) == ("network_kerberos", "kerberos-request", 60595, [])  # fmt: skip

    anonymous = tmp_path / "export.json"
    anonymous.write_text(BARE + "\n")
    (row,), found = _rows(anonymous, Options(source_path=str(anonymous)))
    assert (row["source"], row["event_action"], row["message"]) == ("network_zeek", "zeek", "zeek 10.0.1.4:60595 -> 10.0.0.4:445")  # fmt: skip
    reason = "1 records of an unknown Zeek log (no path, fields and file name tell none): mapped generically"
    assert _warnings(found) == [("file", None, reason, 0)]


def test_kafka_tagged_json(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text('{"kerberos": ' + BARE + "}\n")
    assert PARSER.sniff(path.read_bytes())
    (row,), found = _rows(path)
    assert (row["source"], row["source_ip"], row["fields"], found) == ("network_kerberos", "10.0.1.4", {"uid": "CbD9Ha1JtdoSnfM4Mf"}, [])  # fmt: skip


def test_infer_log_and_names() -> None:
    assert log_from_name("/evidence/SCRANTON_smb_files.log") == "smb_files"
    assert log_from_name("conn.00:00:00-01:00:00.log.gz") == "conn"
    assert log_from_name("/x/dns.log") == "dns" and log_from_name("ssl.json") == "ssl"
    assert log_from_name("/x/capture.json") is None and log_from_name(None) is None
    assert normalise({"id_orig_h": "a", "certificate_not_valid_after": 1.0, "times_created": 2, "id": "F1"}) == {
        "id.orig_h": "a", "certificate.not_valid_after": 1.0, "times.created": 2, "id": "F1",
    }  # fmt: skip
    assert normalise({"id": {"orig_h": "a", "resp_p": 80}}) == {"id.orig_h": "a", "id.resp_p": 80}
    assert infer_log({"ts": 1, "conn_state": "S0"}) == "conn"
    assert infer_log({"ts": 1, "query": "x", "qtype": 1}) == "dns"
    assert infer_log({"ts": 1, "fuid": "F1", "note": "X::Y"}) == "notice"  # a notice about a file
    assert infer_log({"ts": 1, "fuid": "F1", "seen_bytes": 3}) == "files"
    assert infer_log({"ts": 1, "name": "bad_TCP_checksum", "notice": False}) == "weird"
    assert infer_log({"ts": 1, "uid": "C1"}) is None


def test_sniff() -> None:
    assert PARSER.sniff(b"#separator \\x09\n#set_separator\t,\n")
    assert PARSER.sniff(b'{"ts":1.5,"uid":"CbD9Ha1JtdoSnfM4Mf","id.orig_h":"10.0.0.1"}\n')
    assert PARSER.sniff(
        b'{"_path":"pe","_write_ts":"2020-01-01T00:00:00Z","ts":1.5,"id":"FV8BmBzhLupORXNNc"}\n'
    )
    assert PARSER.sniff(b'{"ts":1.5,"fuid":"FV8BmBzhLupORXNNc","seen_bytes":3}\n')
    assert not PARSER.sniff(b'{"ts":1.5,"uid":1000,"comm":"sshd"}\n')
    assert not PARSER.sniff(b'{"uid":"CbD9Ha1JtdoSnfM4Mf","id.orig_h":"10.0.0.1"}\n')  # no ts
    assert not PARSER.sniff(b"#fields\tts\tuid\n") and sniff(b"#fields\tts\tuid\n") is None
    assert getattr(sniff(b"#separator \\x09\n#set_separator\t,\n"), "name", None) == "zeek"


# -- records.to_row on hand-made records (the shape the pcap parser builds) -------------------------


def test_to_row_conn() -> None:
    record = {
        "ts": "1700000000.123456", "uid": "CAbc", "id.orig_h": "10.0.0.5", "id.orig_p": 49152,
        "id.resp_h": "203.0.113.9", "id.resp_p": 443, "proto": "tcp", "service": "ssl", "duration": 1.2,
        "orig_bytes": 3400, "resp_bytes": 12000, "conn_state": "SF", "history": "ShADadFf",
        "community_id": "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "tunnel_parents": [], "local_orig": None,
    }  # fmt: skip
    row, fields = to_row("conn", record)
    assert row == {
        "datetime": _at(2023, 11, 14, 22, 13, 20, 123456), "timestamp_desc": "Connection Start",
        "source": "network_conn", "source_ip": "10.0.0.5", "source_port": 49152, "destination_ip": "203.0.113.9",
        "destination_port": 443, "community_id": "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "event_action": "connection",
        "network_protocol": "ssl", "message": "tcp 10.0.0.5:49152 -> 203.0.113.9:443 ssl SF 1.2 s 3.4 kB/12 kB",
    }  # fmt: skip
    assert fields == {
        "uid": "CAbc", "proto": "tcp", "service": "ssl", "duration": "1.200000", "orig_bytes": "3400",
        "resp_bytes": "12000", "conn_state": "SF", "history": "ShADadFf",
    }  # fmt: skip
    half_open = {"ts": 1700000000.5, "id.orig_h": "2001:db8::1", "id.orig_p": 5, "id.resp_h": "2001:db8::2", "id.resp_p": 6, "proto": "tcp", "conn_state": "S0"}  # fmt: skip
    assert to_row("conn", half_open)[0]["message"] == "tcp [2001:db8::1]:5 -> [2001:db8::2]:6 S0"


def test_to_row_dns_http_ssl_files() -> None:
    base = {"ts": "1700000000.000001", "uid": "CAbc", "id.orig_h": "10.0.0.5", "id.orig_p": 53001, "id.resp_h": "10.0.0.1", "id.resp_p": 53}  # fmt: skip
    dns = base | {"proto": "udp", "query": "micros0ft-cdn.example.net", "qtype_name": "A", "rcode_name": "NOERROR",
                  "answers": ["203.0.113.9", "203.0.113.10"], "TTLs": [60.0, 60.0], "rtt": "0.010000"}  # fmt: skip
    row, fields = to_row("dns", dns)
    assert (row["message"], row["dns_question_name"], row["event_action"], row["network_protocol"]) == (
        "dns A micros0ft-cdn.example.net -> 203.0.113.9, 203.0.113.10 (NOERROR)", "micros0ft-cdn.example.net",
        "dns-query", "dns",
    )  # fmt: skip
    assert (fields["answers"], fields["TTLs"], "query" in fields) == ("203.0.113.9,203.0.113.10", "60.000000,60.000000", False)  # fmt: skip
    assert to_row("dns", base | {"query": "x.example", "qtype_name": "TXT"})[0]["message"] == "dns TXT x.example (no response)"  # fmt: skip

    http = base | {"id.resp_p": 8080, "method": "GET", "host": "dl.example.net:8080", "uri": "/a/b.exe?x=1",
                   "user_agent": "curl/8.0", "status_code": 200, "resp_mime_types": ["application/x-dosexec"],
                   "response_body_len": 12345}  # fmt: skip
    row, fields = to_row("http", http)
    assert (row["url_full"], row["event_code"], row["source"], row["event_action"]) == (
        "http://dl.example.net:8080/a/b.exe?x=1", "200", "network_http", "http-request",
    )  # fmt: skip
    assert (
        row["message"] == "GET http://dl.example.net:8080/a/b.exe?x=1 -> 200 application/x-dosexec 12,345 B"
    )
    assert (
        fields["user_agent"] == "curl/8.0"
        and fields["host"] == "dl.example.net:8080"
        and "status_code" not in fields
    )
    no_host = to_row("http", base | {"id.resp_p": 8080, "method": "POST", "uri": "/up"})[0]
    assert (no_host["url_full"], no_host["message"]) == (
        "http://10.0.0.1:8080/up",
        "POST http://10.0.0.1:8080/up",
    )
    connect = to_row("http", base | {"method": "CONNECT", "uri": "example.com:443", "host": "example.com"})[0]
    assert (connect["url_full"], connect["message"]) == (None, "CONNECT example.com:443")

    ssl = base | {"id.resp_p": 443, "version": "TLSv13", "server_name": "c2.example.org", "ja3": "e7d705a3286e19ea42f587b344ee6865",
                  "ja4": "t13d1516h2_8daaf6152771_02713d6af862", "established": True}  # fmt: skip
    row, fields = to_row("ssl", ssl)
    assert (row["source"], row["event_action"], row["tls_server_name"], row["network_protocol"]) == (
        "network_tls", "tls-handshake", "c2.example.org", "tls",
    )  # fmt: skip
    assert row["message"] == "tls TLSv13 c2.example.org -> 10.0.0.1:443 established"
    assert (fields["ja3"], fields["ja4"], fields["established"], "server_name" in fields) == (
        "e7d705a3286e19ea42f587b344ee6865", "t13d1516h2_8daaf6152771_02713d6af862", "true", False,
    )  # fmt: skip

    files = {"ts": "1700000000.5", "fuid": "FAbc", "tx_hosts": ["203.0.113.9"], "rx_hosts": ["10.0.0.5"],
             "source": "HTTP", "mime_type": "application/x-dosexec", "filename": "invoice.exe", "total_bytes": 12345,
             "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "md5": "d41d8cd98f00b204e9800998ecf8427e"}  # fmt: skip
    row, fields = to_row("files", files)
    assert _core(row, "source", "event_action", "source_ip", "destination_ip", "file_path", "file_hash_sha256") == (
        "network_files", "file-transferred", "203.0.113.9", "10.0.0.5", "invoice.exe", files["sha256"],
    )  # fmt: skip
    assert row["message"] == (
        f"file invoice.exe application/x-dosexec 12,345 B over HTTP 203.0.113.9 -> 10.0.0.5 sha256 {files['sha256']}"
    )
    assert "sha256" not in fields and "filename" not in fields and fields["md5"] == files["md5"]


def test_to_row_times_and_other_logs() -> None:
    assert to_row("conn", {"ts": datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC)})[0]["datetime"] == _at(2024, 1, 2, 3, 4, 5, 6)  # fmt: skip
    assert to_row("dns", {"ts": "2020-04-30T00:06:38.899710Z"})[0]["datetime"] == _at(
        2020, 4, 30, 0, 6, 38, 899710
    )
    assert to_row("dns", {"ts": "1588205198.8997109"})[0]["datetime"] == _at(
        2020, 4, 30, 0, 6, 38, 899710
    )  # truncated
    with pytest.raises(ValueError, match="invalid time"):
        to_row("conn", {"ts": "soon"})
    assert to_row("loaded_scripts", {"name": "/zeek/base/init.zeek"}) == (
        {"datetime": None, "timestamp_desc": "Event Recorded", "source": "network_loaded_scripts",
         "event_action": "loaded-scripts", "message": "loaded_scripts name=/zeek/base/init.zeek"},
        {"name": "/zeek/base/init.zeek"},
    )  # fmt: skip
    ntlm = to_row("ntlm", {"ts": 1.0, "username": "alice", "domainname": "CORP", "hostname": "WS1", "server_nb_computer_name": "FS1", "success": True})  # fmt: skip
    assert _core(ntlm[0], "user_name", "user_domain", "message") == ("alice", "CORP", "ntlm CORP\\alice from WS1 -> FS1 success")  # fmt: skip
    ssh = to_row("ssh", {"ts": 1.0, "client": "SSH-2.0-libssh-0.6.3", "server": "SSH-2.0-OpenSSH_8.2p1", "auth_success": False, "auth_attempts": 3})  # fmt: skip
    assert ssh[0]["message"] == "ssh SSH-2.0-libssh-0.6.3 -> SSH-2.0-OpenSSH_8.2p1 auth failed (3 attempts)"
    dhcp = to_row("dhcp", {"ts": 1.0, "client_addr": "10.0.0.5", "server_addr": "10.0.0.1", "mac": "aa:bb:cc:dd:ee:ff", "host_name": "laptop1", "assigned_addr": "10.0.0.5", "msg_types": ["REQUEST", "ACK"], "lease_time": 86400.0})  # fmt: skip
    assert _core(dhcp[0], "source_ip", "destination_ip", "event_action") == (
        "10.0.0.5",
        "10.0.0.1",
        "dhcp-lease",
    )
    assert dhcp[0]["message"] == "dhcp REQUEST,ACK aa:bb:cc:dd:ee:ff laptop1 -> 10.0.0.5 lease 86400 s"
    assert (source_for("ssl"), source_for("conn"), text([True, 1, 0.5, "x"]), text([])) == (
        "network_tls", "network_conn", "true,1,0.500000,x", None,
    )  # fmt: skip
