"""Sigma over a case: value semantics and modifiers on hand-made rows, loading problems,
correlations, findings; the SigmaHQ regression data (every sample fires its own rule); the
sample case (which rules fire on which ground-truth record, and what fires on benign rows)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import tarfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from forensics import Case
from forensics.detect import sigma as sigma_module
from forensics.detect.sigma import (
    CompiledRule,
    compile_rules,
    detect_sigma,
    evaluate,
    findings_from,
    load_rules,
    rule_attack,
    technique_name,
)
from forensics.schema import TIMELINE

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "case01"
T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
SYSMON = "Microsoft-Windows-Sysmon/Operational"
ENC = base64.b64encode("IEX (New-Object Net.WebClient)".encode("utf-16le")).decode()


def _row(
    record: int, code: str, fields: dict[str, str], *, channel: str = SYSMON, seconds: int | None = None
) -> dict:
    return {
        "datetime": T0 + timedelta(seconds=record if seconds is None else seconds), "timestamp_desc": "Event Recorded",
        "message": f"{channel} {code}", "host_name": "WS01", "source": "windows_evtx",
        "source_file": "test.evtx", "source_record": record, "evidence_id": "e1", "event_code": code,
        "event_channel": channel, "event_provider": "p", "fields": list(fields.items()),
    }  # fmt: skip


ROWS = [
    _row(1, "1", {"Image": r"C:\Windows\System32\cmd.exe", "CommandLine": "cmd.exe /c whoami",
                  "ParentImage": r"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE",
                  "User": r"CORP\alice", "IntegrityLevel": "High", "TerminalSessionId": "1"}),
    _row(2, "1", {"Image": r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
                  "CommandLine": f"powershell -nop -enc {ENC}", "ParentImage": r"C:\Windows\System32\cmd.exe",
                  "TerminalSessionId": "2"}),
    _row(3, "1", {"Image": r"C:\Temp\a_b%c.exe", "CommandLine": "a*b literal star", "TerminalSessionId": "3"}),
    _row(4, "1", {"Image": r"C:\Tools\PsExec.exe", "CommandLine": "psexec /s cmd",
                  "ParentImage": r"C:\Tools\PsExec.exe"}),
    _row(5, "1", {"Image": r"C:\x\y.exe", "CommandLine": "y.exe " + base64.b64encode(b"run whoami").decode(),
                  "Description": "tool"}),
    _row(10, "4688", {"NewProcessName": r"C:\Windows\System32\whoami.exe", "CommandLine": "whoami /all",
                      "ParentProcessName": r"C:\Windows\System32\cmd.exe", "ProcessId": "0x10"},
         channel="Security"),
    _row(20, "3", {"Image": r"C:\x\y.exe", "DestinationIp": "10.1.2.3", "DestinationPort": "445"}),
    _row(21, "3", {"Image": r"C:\x\y.exe", "DestinationIp": "192.168.7.5", "DestinationPort": "80"}),
    _row(22, "3", {"Image": r"C:\x\y.exe", "DestinationIp": "100.1.2.3", "DestinationPort": "443"}),
    _row(30, "400", {"Data[1]": "Available", "Data[2]": "None",
                     "Data[3]": "NewEngineState=Available HostName=ConsoleHost HostApplication=powershell"},
         channel="Windows PowerShell"),
]  # fmt: skip


def _write_rows(case: Case, rows: list[dict], name: str = "test") -> None:
    folder = case.store / "windows_evtx"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=TIMELINE), folder / f"{name}.parquet")


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Case:
    case = Case.open(tmp_path_factory.mktemp("sigma") / "case")
    _write_rows(case, ROWS)
    return case


def _rule(
    detection: str, *, logsource: str = "category: process_creation", title: str = "t", extra: str = ""
) -> str:
    body = "\n".join("    " + line for line in detection.strip().splitlines())
    return (
        f"title: {title}\nid: 00000000-0000-0000-0000-{abs(hash(title + detection)) % 10**12:012d}\n"
        f"status: test\nlevel: high\n{extra}logsource:\n    product: windows\n    {logsource}\n"
        f"detection:\n{body}\n"
    )


def _matches(case: Case, texts: list[str], tmp_path: Path, **options) -> dict[str, list[int]]:
    paths = []
    for i, text in enumerate(texts):
        paths.append(tmp_path / f"r{i}.yml")
        paths[-1].write_text(text)
    rules, problems = load_rules(paths)
    assert not [p for p in problems if p.kind == "error"], problems
    compiled, problems = compile_rules(rules, **options)
    assert not [p for p in problems if p.kind != "note"], problems
    with case.connect() as con:
        result = evaluate(con, compiled)
        records = dict(
            con.execute("SELECT row_file || ':' || row_number, source_record FROM timeline_rows").fetchall()
        )
    found: dict[str, list[int]] = {c.rule.title: [] for c in compiled}
    for m in result["matches"].to_pylist():
        found[result["rules"][m["rule"]].rule.title].append(records[f"{m['row_file']}:{m['row_number']}"])
    return {k: sorted(v) for k, v in found.items()}


SEMANTICS = [
    # plain values: whole value, case-insensitive; wildcards; escapes; LIKE characters are literal
    (r"Image|endswith: '\CMD.EXE'", [1]),
    (r"Image: 'c:\windows\system32\cmd.exe'", [1]),
    (r"Image: 'C:\Windows\\*\cmd.exe'", [1]),  # \\ is a backslash, then a wildcard
    (r"Image: 'C:\Windows\*\cmd.exe'", []),  # \* is a literal star
    (r"Image: 'C:\Temp\a?b%c.exe'", [3]),
    (r"Image: 'C:\Temp\a_b%c.exe'", [3]),
    (r"Image: 'C:\Temp\aXb%c.exe'", []),
    (r"CommandLine: 'a\*b literal star'", [3]),
    (r"CommandLine|contains: 'a\*b'", [3]),
    (r"CommandLine: 'a*b'", []),
    (r"CommandLine: 'cmd.exe'", []),
    ("CommandLine|contains|all: ['cmd', 'whoami']", [1]),
    ("CommandLine|contains|all: ['cmd', 'nothing']", []),
    ("CommandLine|startswith: 'POWERSHELL'", [2]),
    # regular expressions: case-sensitive unless i; RE2; Python for look-behind
    ("CommandLine|re: '-[e]nc '", [2]),
    ("CommandLine|re: 'WHOAMI'", []),
    ("CommandLine|re|i: 'WHOAMI$'", [1]),
    (r"CommandLine|re: '(?<=/c )whoami'", [1]),
    # encodings
    ("CommandLine|wide|base64offset|contains: 'IEX (New-Object'", [2]),
    ("CommandLine|utf16le|base64offset|contains: 'Net.WebClient'", [2]),
    ("CommandLine|base64|contains: 'run whoami'", [5]),
    ("CommandLine|windash|contains: ' -s cmd'", [4]),
    # existence, null, comparison, field reference, case-sensitive strings
    ("IntegrityLevel|exists: true", [1]),
    ("Description: null", [1, 2, 3, 4, 10]),
    ("TerminalSessionId|gte: 2", [2, 3]),
    ("TerminalSessionId|lt: 2", [1]),
    ("ParentImage|fieldref: Image", [4]),
    (r"User|cased: 'CORP\alice'", [1]),
    (r"User|cased: 'corp\alice'", []),
    # Security 4688 read with Sysmon names
    (r"Image|endswith: '\whoami.exe'", [10]),
    (r"ParentImage|endswith: '\cmd.exe'", [2, 10]),
    ("ProcessId: 16", []),
    ("ProcessId: '0x10'", []),
]


@pytest.mark.parametrize(("detection", "records"), SEMANTICS, ids=[d for d, _ in SEMANTICS])
def test_values_and_modifiers(case: Case, tmp_path: Path, detection: str, records: list[int]) -> None:
    text = _rule(f"selection:\n    {detection}\ncondition: selection")
    assert _matches(case, [text], tmp_path) == {"t": records}


CONDITIONS = [
    # a filter on a field the event lacks does not match, so "not filter" does
    ("sel:\n    Image|endswith: '.exe'\nfilter:\n    Description: 'tool'\ncondition: sel and not filter",
     [1, 2, 3, 4, 10]),
    ("sel_a:\n    Image|endswith: '\\cmd.exe'\nsel_b:\n    CommandLine|contains: psexec\ncondition: 1 of sel_*",
     [1, 4]),
    ("sel_a:\n    Image|endswith: '.exe'\nsel_b:\n    CommandLine|contains: whoami\ncondition: all of sel_*",
     [1, 10]),
    ("a:\n    CommandLine|contains: whoami\nb:\n    CommandLine|contains: psexec\ncondition: 1 of them", [1, 4, 10]),
    ("a:\n    CommandLine|contains: whoami\nb:\n    Image|endswith: cmd.exe\ncondition: a and not (b or a)", []),
    ("sel:\n    - Image|endswith: PsExec.exe\n    - CommandLine|startswith: a\ncondition: sel", [3, 4]),
]  # fmt: skip


@pytest.mark.parametrize(("detection", "records"), CONDITIONS)
def test_conditions(case: Case, tmp_path: Path, detection: str, records: list[int]) -> None:
    assert _matches(case, [_rule(detection)], tmp_path) == {"t": records}


def test_keywords_cidr_lists_and_placeholders(case: Case, tmp_path: Path) -> None:
    rules = [
        _rule("keywords:\n    - 'WHOAMI'\ncondition: keywords", logsource="service: security", title="kw"),
        _rule("sel:\n    DestinationIp|cidr: '10.0.0.0/8'\ncondition: sel", logsource="category: network_connection",
              title="cidr10"),
        _rule("sel:\n    DestinationIp|cidr:\n        - '192.168.0.0/16'\n        - '100.0.0.0/30'\ncondition: sel",
              logsource="category: network_connection", title="cidr_list"),
        _rule("sel:\n    Data|contains: 'HostName=ConsoleHost'\ncondition: sel", logsource="category: ps_classic_start",
              title="classic"),
        _rule("sel:\n    Image|expand: '%tools%'\ncondition: sel", title="expand"),
    ]  # fmt: skip
    found = _matches(case, rules, tmp_path, placeholders={"tools": [r"*\cmd.exe", r"*\PsExec.exe"]})
    assert found == {"kw": [10], "cidr10": [20], "cidr_list": [21], "classic": [30], "expand": [1, 4]}
    # without the placeholder's values the rule is reported, the others run
    rules_, _ = load_rules([tmp_path / "r4.yml", tmp_path / "r0.yml"])
    compiled, problems = compile_rules(rules_)
    assert [c.rule.title for c in compiled] == ["kw"]
    assert [(p.kind, p.reason) for p in problems] == [
        ("unsupported", "placeholder %tools% not provided (expand modifier)")
    ]


def test_keywords_are_case_insensitive_searches_with_sigma_wildcards_only(case: Case, tmp_path: Path) -> None:
    rules = [
        _rule("keywords:\n    - 'WH?AMI /ALL'\ncondition: keywords", logsource="service: security", title="single"),
        # '_', '%' and '.' are literal (not LIKE's or a regex's wildcards); '*' inside is one
        _rule("keywords:\n    - 'c:\\temp\\A_B%C.EXE'\ncondition: keywords", title="literal"),
        _rule("keywords:\n    - 'c:\\temp\\aXb'\n    - 'a.b%c'\ncondition: keywords", title="no_wildcard"),
        _rule("keywords:\n    - 'A*B LITERAL'\ncondition: keywords", title="star"),
        _rule("keywords:\n    - 'nothere'\n    - 'PSEXEC /S'\n    - 'other'\ncondition: keywords", title="any"),
    ]  # fmt: skip
    found = _matches(case, rules, tmp_path)
    assert found == {"single": [10], "literal": [3], "no_wildcard": [], "star": [3], "any": [4]}
    # each finding names the keywords found in its row, as the rule writes them
    compiled, _ = compile_rules(load_rules([tmp_path / "r0.yml", tmp_path / "r4.yml"])[0])
    with case.connect() as con:
        findings = findings_from(con, evaluate(con, compiled)).to_pylist()
    assert sorted((f["rule_title"], dict(f["matched"])["keywords"]) for f in findings) == [
        ("any", "PSEXEC /S"),
        ("single", "WH?AMI /ALL"),
    ]


def _other(record: int, source: str, fields: dict[str, str], **columns: object) -> dict:
    row = _row(record, "", fields)
    row.update({"source": source, "event_code": None, "event_channel": None, "event_provider": None})
    row.update(columns)
    return row


def test_linux_web_network_and_cloud_sources(tmp_path: Path) -> None:
    case = Case.open(tmp_path / "case")
    _write_rows(case, [
        _other(1, "web_access", {"method": "GET", "status": "200", "user_agent": "sqlmap/1.5"},
               url_full="/index.php?file=../../etc/passwd"),
        _other(2, "network_dns", {"qtype_name": "TXT"}, dns_question_name="c2.example.net"),
        _other(3, "aws_cloudtrail", {"requestParameters": '{"userName": "backdoor"}'},
               event_provider="iam.amazonaws.com", event_action="CreateUser"),
        _other(4, "linux_audit", {"types": "SYSCALL,EXECVE,PATH", "execve.a0": "chmod", "execve.a1": "+x",
                                  "path.0.name": "/tmp/x", "path.1.name": "/lib64/ld-linux.so"},
               process_executable="/usr/bin/chmod", process_command_line="chmod +x /tmp/x"),
        _other(5, "syslog", {}, source_file="/var/log/auth.log", process_executable="sshd",
               message="sshd[7]: Failed password for root from 203.0.113.9 port 4242 ssh2"),
        _other(6, "syslog", {}, source_file="/var/log/syslog", process_executable="cron",
               message="CRON[8]: Failed password (not really)"),
    ])  # fmt: skip

    def rule(title: str, logsource: str, detection: str) -> str:
        body = "\n".join("    " + line for line in detection.strip().splitlines())
        return f"title: {title}\nstatus: test\nlogsource:\n{logsource}\ndetection:\n{body}\n"

    rules = [
        rule("web", "    category: webserver",
             "sel:\n    cs-uri-query|contains: '../../'\n    c-useragent|startswith: sqlmap\n    cs-method: GET\n"
             "    sc-status: 200\n    cs-uri-stem: /index.php\ncondition: sel"),
        rule("zeek_dns", "    product: zeek\n    service: dns",
             "sel:\n    query|endswith: '.example.net'\n    qtype_name: TXT\ncondition: sel"),
        rule("dns", "    category: dns", "sel:\n    query: c2.example.net\n    record_type: txt\ncondition: sel"),
        rule("cloudtrail", "    product: aws\n    service: cloudtrail",
             "sel:\n    eventSource: iam.amazonaws.com\n    eventName: CreateUser\n"
             "    requestParameters.userName: backdoor\ncondition: sel"),
        rule("auditd", "    product: linux\n    service: auditd",
             "sel:\n    type: EXECVE\n    a0: chmod\n    name|startswith: /tmp/\ncondition: sel"),
        rule("linux_proc", "    product: linux\n    category: process_creation",
             "sel:\n    Image|endswith: /chmod\n    CommandLine|contains: ' +x '\ncondition: sel"),
        rule("auth", "    product: linux\n    service: auth", "keywords:\n    - 'Failed password'\ncondition: keywords"),
        rule("sshd", "    product: linux\n    service: sshd", "keywords:\n    - 'failed PASSWORD'\ncondition: keywords"),
        rule("any_linux", "    product: linux", "keywords:\n    - 'Failed password'\ncondition: keywords"),
    ]  # fmt: skip
    assert _matches(case, rules, tmp_path) == {
        "web": [1], "zeek_dns": [2], "dns": [2], "cloudtrail": [3], "auditd": [4], "linux_proc": [4],
        "auth": [5], "sshd": [5], "any_linux": [5, 6],
    }  # fmt: skip


def test_python_regex_is_counted_and_sql_is_one_expression(tmp_path: Path) -> None:
    (tmp_path / "r.yml").write_text(
        _rule("sel:\n    CommandLine|re: '(?<!x)whoami'\n    Image|endswith:\n"
              + "".join(f"        - '\\{n}.exe'\n" for n in "abcdef") + "condition: sel")
    )  # fmt: skip
    rules, _ = load_rules([tmp_path / "r.yml"])
    (compiled,), notes = compile_rules(rules)
    assert isinstance(compiled, CompiledRule) and compiled.python_regex == 1
    assert [p.kind for p in notes] == ["note"]
    # six endswith of one field: one RE2 alternation; the Python regex runs last in the AND
    assert compiled.sql.startswith('(regexp_matches("l:Image", ')
    assert re.search(r' AND sigma_py_regex\("r:CommandLine", \d+\)\)$', compiled.sql), compiled.sql


def test_loading_reports_each_bad_file_and_reads_archives_in_memory(tmp_path: Path) -> None:
    good = _rule("sel:\n    Image|endswith: cmd.exe\ncondition: sel", title="good")
    files = {
        "rules/good.yml": good,
        "rules/bad_yaml.yml": "title: [unclosed\n",
        "rules/bad_modifier.yml": _rule("sel:\n    Image|sideways: x\ncondition: sel", title="bad_mod"),
        "rules/bad_condition.yml": _rule("sel:\n    Image: x\ncondition: sel and missing", title="bad_cond"),
        "rules/macos.yml": good.replace("product: windows", "product: macos").replace(
            "title: good", "title: mac"
        ),
        "deprecated/old.yml": good.replace("title: good", "title: old"),
    }
    archive = tmp_path / "rules.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"sigma/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    rules, problems = load_rules([archive])
    assert sorted(r.title for r in rules) == ["bad_cond", "good", "mac"]
    by_file = {p.file.rsplit("/", 1)[-1]: (p.kind, p.reason) for p in problems}
    assert by_file["bad_yaml.yml"][0] == "error" and by_file["bad_yaml.yml"][1].startswith("YAML:")
    assert by_file["bad_modifier.yml"] == ("error", "Unknown modifier 'sideways'")
    assert by_file["old.yml"] == ("ignored", "retired rule folder")
    compiled, problems = compile_rules(rules)
    assert [c.rule.title for c in compiled] == ["good"]
    assert sorted((p.title, p.kind) for p in problems) == [
        ("bad_cond", "unsupported"),
        ("mac", "not_applicable"),
    ]


def test_findings_carry_the_rule_the_row_and_attack(tmp_path: Path) -> None:
    case = Case.open(tmp_path / "case")
    _write_rows(case, ROWS)
    extra = "tags:\n    - attack.execution\n    - attack.t1059.001\n    - attack.g0016\n    - attack.defense_evasion\n"
    (tmp_path / "r.yml").write_text(_rule("sel:\n    CommandLine|contains: whoami\ncondition: sel", title="Whoami",
                                          extra=extra))  # fmt: skip
    report = detect_sigma(case, [tmp_path / "r.yml"], run="t")
    assert (report.rules_loaded, report.applicable, report.compiled, report.findings) == (1, 1, 1, 2)
    assert report.by_level == {"high": 2}
    found = case.arrow("SELECT * FROM findings ORDER BY source_record").to_pylist()
    assert [f["source_record"] for f in found] == [1, 10]
    first = found[0]
    assert (first["engine"], first["rule_title"], first["level"], first["status"]) == (
        "sigma",
        "Whoami",
        "high",
        "test",
    )
    assert (first["tactics"], first["techniques"]) == (["execution", "defense-evasion"], ["T1059.001"])
    assert dict(first["matched"]) == {"CommandLine": "cmd.exe /c whoami"}
    assert first["message"] == "Sigma high Whoami"
    assert technique_name("T1059.001") == "PowerShell"
    row = case.arrow("SELECT tags FROM timeline WHERE source_record = 1").to_pylist()[0]
    assert row["tags"] == ["Whoami"]
    again = detect_sigma(case, [tmp_path / "r.yml"], run="t")  # same ids, same file replaced
    assert again.findings == 2
    assert case.sql("SELECT count(DISTINCT finding_id) AS n FROM findings").n[0] == 2


# -- correlations ----------------------------------------------------------------------------

BASES = """title: Failed logon
name: failed_logon
id: 11111111-0000-0000-0000-000000000001
status: test
level: low
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4625
    condition: selection
---
title: Successful logon
name: good_logon
id: 11111111-0000-0000-0000-000000000002
status: test
level: low
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4624
    condition: selection
"""


def _correlation(kind: str, body: str, *, rules: str = "failed_logon", title: str = "c") -> str:
    return (
        f"---\ntitle: {title}\nid: 22222222-0000-0000-0000-{abs(hash(title)) % 10**12:012d}\nstatus: test\n"
        f"level: critical\ncorrelation:\n    type: {kind}\n    rules:\n"
        + "".join(f"        - {r}\n" for r in rules.split(","))
        + body
    )


def test_correlations(tmp_path: Path) -> None:
    case = Case.open(tmp_path / "case")
    logons = [
        _row(
            100 + i,
            "4625",
            {"TargetUserName": "bob", "IpAddress": "10.0.0.9"},
            channel="Security",
            seconds=10 * i,
        )
        for i in range(5)
    ]
    logons += [
        _row(
            110 + i,
            "4625",
            {"TargetUserName": f"u{i}", "IpAddress": "10.0.0.9"},
            channel="Security",
            seconds=200 + i,
        )
        for i in range(3)
    ]
    logons += [
        _row(120, "4624", {"TargetUserName": "bob", "IpAddress": "10.0.0.9"}, channel="Security", seconds=45),
        _row(121, "4624", {"TargetUserName": "eve", "IpAddress": "10.0.0.7"}, channel="Security", seconds=46),
        _row(122, "4625", {"TargetUserName": "eve", "IpAddress": "10.0.0.7"}, channel="Security", seconds=50),
    ]
    _write_rows(case, logons)  # fmt: skip
    text = BASES + "".join(
        [
            _correlation("event_count", "    group-by:\n        - TargetUserName\n    timespan: 1m\n"
                         "    condition:\n        gte: 5\n", title="brute"),
            _correlation("value_count", "    group-by:\n        - IpAddress\n    timespan: 1m\n"
                         "    condition:\n        field: TargetUserName\n        gte: 3\n", title="spray"),
            _correlation("temporal", "    group-by:\n        - TargetUserName\n    timespan: 30s\n",
                         rules="failed_logon,good_logon", title="both"),
            _correlation("temporal_ordered", "    group-by:\n        - TargetUserName\n    timespan: 30s\n",
                         rules="failed_logon,good_logon", title="fail_then_success"),
        ]
    )  # fmt: skip
    (tmp_path / "c.yml").write_text(text)
    report = detect_sigma(case, [tmp_path / "c.yml"])
    assert report.correlations == 4
    found = case.sql(
        "SELECT rule_title, source_record, matched FROM findings ORDER BY rule_title, source_record"
    )
    got = [(t, r, dict(m)) for t, r, m in found.itertuples(index=False)]
    assert got == [
        # bob: failures at 20..40 s and the success at 45 s; eve: success at 46 s, failure at 50 s
        ("both", 120, {"correlation": "temporal", "count": "2", "TargetUserName": "bob"}),
        ("both", 122, {"correlation": "temporal", "count": "2", "TargetUserName": "eve"}),
        # five failures for bob within a minute (0..40 s): one finding on the fifth
        ("brute", 104, {"correlation": "event_count", "count": "5", "TargetUserName": "bob"}),
        # in order only for bob (eve succeeded first)
        (
            "fail_then_success",
            120,
            {"correlation": "temporal_ordered", "count": "2", "TargetUserName": "bob"},
        ),
        # u0, u1, u2 from 10.0.0.9 within a minute (200..202 s; bob's last was at 40 s)
        ("spray", 112, {"correlation": "value_count", "count": "3", "IpAddress": "10.0.0.9"}),
    ]
    # the base rules (generate: false) make no findings of their own
    assert set(found.rule_title) == {"brute", "both", "fail_then_success", "spray"}


# -- SigmaHQ regression data -----------------------------------------------------------------

#: Regression samples that do not fire their rule, and why. Empty but for the one that is not EVTX.
EXPECTED_MISSES = {
    "ef0ff092-a24a-4fbc-beea-06c08d53e085": "not applicable: Cisco AAA CLI log (.raw), not ingested",
}


def _regression_tests(corpus: Path) -> list[tuple[str, Path, Path]]:
    """(rule id, sample file, its info.yml folder) for every SigmaHQ regression test."""
    tests = []
    for info in sorted((corpus / "sigma" / "regression_data").rglob("info.yml")):
        data = yaml.safe_load(info.read_text())
        rule_id = data["rule_metadata"][0]["id"]
        listed = data.get("regression_tests_info")  # the Cisco test has it commented out
        paths = (
            [corpus / "sigma" / t["path"] for t in listed]
            if listed
            else sorted(info.parent.glob(f"{rule_id}.*"))
        )
        tests += [(rule_id, p, info.parent) for p in paths if p.suffix in (".evtx", ".raw")]
    return tests


@pytest.fixture(scope="module")
def regression(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> dict:
    tests = _regression_tests(corpus)
    case = Case.open(tmp_path_factory.mktemp("regression") / "case")
    case.ingest([p for _, p, _ in tests if p.suffix == ".evtx"], jobs=2)
    sigma = corpus / "sigma"
    rules, _ = load_rules([sigma / "rules", sigma / "rules-emerging-threats"])
    have = {str(r.id) for r in rules}
    # Two tested rules are only in the full tree (the unpacked subset misses them).
    names = {folder.name + ".yml" for _, _, folder in tests}
    more, _ = load_rules([sigma / "sigmahq-all-rules.tar.gz"], select=lambda n: n.rsplit("/", 1)[-1] in names)
    rules += [r for r in more if str(r.id) not in have]
    wanted = {rule_id for rule_id, _, _ in tests}
    compiled, problems = compile_rules([r for r in rules if str(r.id) in wanted])
    with case.connect() as con:
        result = evaluate(con, compiled)
        evidence = dict(con.execute("SELECT DISTINCT row_file, evidence_id FROM timeline_rows").fetchall())
    fired: dict[str, set[str]] = {}
    for m in result["matches"].to_pylist():
        fired.setdefault(result["rules"][m["rule"]].rule_id, set()).add(evidence[m["row_file"]])
    return {"tests": tests, "fired": fired, "problems": problems, "compiled": compiled}


@pytest.mark.corpus
@pytest.mark.slow
def test_sigmahq_regression_samples_fire_their_own_rule(regression: dict) -> None:
    tests, fired = regression["tests"], regression["fired"]
    assert len(tests) == 153
    misses = {}
    for rule_id, path, _ in tests:
        # a rule counts only on its own file's rows (same sha256 = same evidence id)
        if hashlib.sha256(path.read_bytes()).hexdigest() not in fired.get(rule_id, set()):
            misses[rule_id] = path.name
    assert set(misses) == set(EXPECTED_MISSES), misses
    assert (len(tests) - len(misses)) / len(tests) >= 0.98
    not_applicable = {p.rule_id for p in regression["problems"] if p.kind == "not_applicable"}
    assert not_applicable == {"ef0ff092-a24a-4fbc-beea-06c08d53e085"}
    assert len(regression["compiled"]) == 152


# -- the sample case -------------------------------------------------------------------------

#: Rules that fire on each ground-truth record (step, log, record id); each checked against the
#: rule text: the encoded PowerShell started by WINWORD (S03) matches the Office-child, encoded
#: command, WebClient-in-base64 and non-interactive PowerShell rules, and so on.
STEP_RULES = {
    ("S01", "Sysmon", 4286): {  # OUTLOOK.EXE writes invoice.docm into INetCache\Content.Outlook
        "0e29e3a7-1ad8-40aa-b691-9f82ecd33d66",  # Office Macro File Download (.docm from Outlook)
        "91174a41-dc8f-401b-be89-7bfc140612a0",  # Office Macro File Creation (.docm)
    },
    ("S03", "Sysmon", 4289): {  # WINWORD.EXE -> powershell.exe -nop -w hidden -enc ...
        "438025f9-5856-4663-83f7-52f878a70a50",  # Suspicious Microsoft Office Child Process
        "b9d9cc83-380b-4ba3-8d8f-60c0e7e2930c",  # Suspicious PowerShell Encoded Command Patterns (-enc JAB)
        "c86133ad-4725-4bd0-8170-210788e0a7ba",  # Net WebClient Casing Anomalies (UTF-16 base64 of Net.WebClient)
        "ca2092a1-c273-4878-9b4b-0d60115bf5ea",  # Suspicious Encoded PowerShell Command Line (-enc JAB...)
        "f4bbd493-b796-416e-bbf2-121235348529",  # Non Interactive PowerShell Process Spawned (parent not explorer)
        "fb843269-508c-4b76-8b8d-88679db22ce7",  # Suspicious Execution of Powershell with Base64 (-enc)
    },
    ("S05", "Sysmon", 4292): {"7047d730-036f-4f40-b9d8-1c63e36d5e62"},  # PowerShell writes an .exe to AppData
    ("S07", "Sysmon", 4295): {  # Run key MsUpdate -> %APPDATA%\MsUpdate\msupdate.exe
        "02ee49e2-e294-4d0f-9278-f5b3212fc588",  # New RUN Key Pointing to Suspicious Folder (\AppData\Roaming\)
        "20f0ee37-5942-4e45-b7d5-c5b5db9df5cd",  # CurrentVersion Autorun Keys Modification
    },
    ("S08", "Sysmon", 4296): {  # schtasks /create /sc onlogon /tr %APPDATA%\...\msupdate.exe
        "24c8392b-aa3c-46b7-a545-43f71657fe98",  # Suspicious Schtasks Schedule Types (onlogon)
        "81325ce1-be01-4250-944f-b4789644556f",  # Schedule Task Creation From ... Suspicious Path (\AppData\)
        "92626ddd-662c-49e3-ac59-f6535f12d189",  # Scheduled Task Creation Via Schtasks.EXE
    },
    ("S10", "Sysmon", 4702): {  # rundll32.exe comsvcs.dll, MiniDump 692 ... full
        "646ea171-dded-4578-8a4d-65e9822892e3",  # Process Memory Dump Via Comsvcs.DLL
        "e593cf51-88db-4ee1-b920-37e89012a3c9",  # Potentially Suspicious Rundll32 Activity (comsvcs MiniDump)
    },
    ("S10", "Sysmon", 4703): {  # rundll32.exe opens lsass.exe 0x1FFFFF, call trace through comsvcs.dll
        "a49fa4d5-11db-418c-8473-1e014a8dd462",  # Lsass Memory Dump via Comsvcs DLL
        "5ef9853e-4d0e-4a70-846f-a9ca37d876da",  # Potential Credential Dumping Activity Via LSASS
    },
    ("S17", "Sysmon", 4874): {"cc36992a-4671-4f21-a91d-6c2b72a2edf5"},  # wevtutil.exe cl Security
    ("S17", "Security", 1): {"d99b79d2-0a6f-4f46-ad8b-260b6e17f982"},  # 1102: the audit log was cleared
}
#: EVTX-evidenced steps no SigmaHQ rule catches, and why (checked against the rule set).
STEPS_WITHOUT_RULES = {
    "S02": "WINWORD.EXE opening a .docm from Outlook's cache is ordinary",
    "S04": "a DNS query for a look-alike domain: no rule knows the domain (an IOC's job)",
    "S06": "msupdate.exe from %APPDATA% started by PowerShell: no rule covers that path/parent pair",
    "S09": "HTTPS beacons from msupdate.exe: periodicity is the beacon detector's job",
    "S11": "ssh.exe to a LAN server: legitimate-looking",
}
#: Findings on benign rows (rows that are no ground-truth evidence), by level: no high or critical.
BENIGN_BY_LEVEL = {"medium": 745, "low": 79, "informational": 33}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> dict:
    case = Case.open(tmp_path_factory.mktemp("sample") / "case")
    case.ingest([SAMPLE / "WS01", SAMPLE / "SRV01", SAMPLE / "network"], jobs=2)
    report = detect_sigma(
        case,
        [corpus / "sigma" / "sigmahq-all-rules.tar.gz"],
        select=lambda name: name.startswith(("sigma/rules/windows/", "sigma/rules/linux/")),
    )
    truth = json.loads((SAMPLE / "ground_truth.json").read_text())
    evidence = {}
    for step in truth["steps"]:
        for item in step["evidence"]:
            if "record_id" in item["locator"]:
                log = (
                    "Sysmon"
                    if "Sysmon" in item["artifact"]
                    else item["artifact"].rsplit("/", 1)[-1].split(".")[0]
                )
                evidence[(item["artifact"].rsplit("/", 1)[-1], item["locator"]["record_id"])] = (
                    step["id"],
                    log,
                )
    found = case.sql("SELECT rule_id, level, source_file, source_record FROM findings")
    by_step: dict[tuple, set[str]] = {}
    benign: Counter = Counter()
    benign_high: set[str] = set()
    for rule_id, level, source_file, record in found.itertuples(index=False):
        where = evidence.get((source_file.rsplit("/", 1)[-1], record))
        if where:
            by_step.setdefault((where[0], where[1], record), set()).add(rule_id)
        else:
            benign[level] += 1
            if level in ("high", "critical"):
                benign_high.add(rule_id)
    steps_with_evtx = {s for s, _ in evidence.values()}
    return {"report": report, "by_step": by_step, "benign": benign, "benign_high": benign_high,
            "steps": steps_with_evtx, "case": case, "corpus": corpus}  # fmt: skip


@pytest.mark.corpus
@pytest.mark.slow
def test_sample_case_steps_fire_their_rules(sample: dict) -> None:
    report = sample["report"]
    assert report.skipped == []
    assert (report.rules_loaded, report.not_applicable) == (2617, 21)
    assert sample["by_step"] == STEP_RULES
    fired = {step for step, _, _ in STEP_RULES}
    assert "S03" in fired
    assert sample["steps"] - fired == set(STEPS_WITHOUT_RULES)


@pytest.mark.corpus
@pytest.mark.slow
def test_rules_over_distinct_values_match_the_rows_they_would_over_rows(
    sample: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules, _ = load_rules(
        [sample["corpus"] / "sigma" / "sigmahq-all-rules.tar.gz"],
        select=lambda name: name.startswith("sigma/rules/windows/"),
    )
    compiled, _ = compile_rules(rules)
    over_values: list[int] = []
    real = sigma_module._over_distinct

    def counting(con, table, rows, members, lowered, name):
        found = real(con, table, rows, members, lowered, name)
        over_values.extend(i for i, _ in members if found is not None)
        return found

    monkeypatch.setattr(sigma_module, "_over_distinct", counting)
    with sample["case"].connect() as con:
        by_values = evaluate(con, compiled)["matches"]
    monkeypatch.setattr(sigma_module, "DISTINCT_FROM_RULES", 1)  # every group, even one rule's
    with sample["case"].connect() as con:
        all_by_values = evaluate(con, compiled)["matches"]
    monkeypatch.setattr(sigma_module, "DISTINCT_FROM_RULES", 10**9)  # every rule over the rows
    with sample["case"].connect() as con:
        by_rows = evaluate(con, compiled)["matches"]
    assert len(over_values) > 1000  # most process-creation, registry, file... rules took that path
    key = ["rule", "row_file", "row_number"]
    assert by_values.num_rows == by_rows.num_rows == 877
    order = [(k, "ascending") for k in key]
    assert by_values.sort_by(order).equals(by_rows.sort_by(order))
    assert all_by_values.sort_by(order).equals(by_rows.sort_by(order))


@pytest.mark.corpus
@pytest.mark.slow
def test_sample_case_benign_rows(sample: dict) -> None:
    assert dict(sample["benign"]) == BENIGN_BY_LEVEL
    assert sample["benign_high"] == set()


def test_attack_tags() -> None:
    from sigma.rule import SigmaRule

    rule = SigmaRule.from_yaml(_rule("sel:\n    Image: x\ncondition: sel",
                                     extra="tags:\n    - attack.t1003.001\n    - attack.credential-access\n"))  # fmt: skip
    assert rule_attack(rule) == (["credential-access"], ["T1003.001"])
