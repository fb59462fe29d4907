"""Linux audit logs: enriched auditd, SELinux AVC and plaso's broken lines, OTRF's execve events,
grouping of interleaved records."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

from parsers.audit import AuditParser
from parsers.base import HEAD_BYTES, Options
from tests.parsers.evtx_helpers import parse_file

PARSER = AuditParser()


def _rows(path: Path) -> tuple[list[dict], list]:
    rows, found = parse_file(PARSER, path, Options())
    for row in rows:
        row["fields"] = dict(row["fields"])
    return rows, found


def _text(text: str) -> tuple[list[dict], list]:
    rows, found = [], []
    for item in PARSER.parse(io.BytesIO(text.encode()), None, Options()):
        if hasattr(item, "to_pylist"):
            rows.extend(dict(r, fields=dict(r["fields"])) for r in item.to_pylist())
        else:
            found.append(item)
    return rows, found


def test_enriched_auditd_events(corpus: Path) -> None:
    rows, found = _rows(corpus / "linux/audit/plaso/audit_enriched.log")
    assert found == []
    # 30 records, 12 events: the LOGIN at :447 has its SYSCALL and PROCTITLE, each execve 6 records.
    assert len(rows) == 12
    assert [r["event_code"] for r in rows[:4]] == ["DEL_USER", "ADD_USER", "USER_CMD", "USER_AUTH"]
    auth = rows[3]
    assert (auth["event_action"], auth["user_name"], auth["source_ip"], auth["fields"]["user_auth.res"]) == (
        "user-auth", "root", "172.23.112.1", "failed",
    )  # fmt: skip
    assert auth["fields"]["user_auth.AUID"] == "unset"  # the enriched part after 0x1d
    login = rows[6]
    assert login["fields"]["types"] == "LOGIN,SYSCALL,PROCTITLE"
    assert login["process_command_line"] == "sshd-session: root [priv]"  # hex proctitle, NULs as spaces
    cat = rows[-1]
    assert cat["datetime"] == datetime(2026, 7, 7, 9, 23, 37, 830000, tzinfo=UTC)
    assert cat["process_command_line"] == "/usr/bin/cat /tmp/my report.txt"  # a1 hex-decoded
    assert (cat["process_pid"], cat["process_parent_pid"], cat["process_executable"]) == (
        2525,
        2485,
        "/usr/bin/cat",
    )
    assert (cat["fields"]["syscall.SYSCALL"], cat["fields"]["path.1.name"], cat["fields"]["cwd.cwd"]) == (
        "execve", "/lib64/ld-linux-x86-64.so.2", "/root",
    )  # fmt: skip
    assert (cat["source_record"], cat["fields"]["serial"]) == (24, "735")
    sh = rows[-2]
    assert sh["process_command_line"] == "/bin/sh -c grep -c . /etc/hostname"


def test_selinux_avc_and_plaso_broken_lines(corpus: Path) -> None:
    rows, found = _rows(corpus / "linux/audit/plaso/selinux.log")
    # plaso's file says which lines "should be skipped by parser": here they are located warnings.
    assert [(w.location, w.offset, w.reason) for w in found] == [
        ("line 2", 123, "bad audit stamp '1337845201' (need <seconds>.<ms>:<serial>)"),
        ("line 4", 268, "bad audit stamp '' (need <seconds>.<ms>:<serial>)"),
        ("line 6", 337, "not an audit record (no type=)"),
        ("line 7", 424, "not an audit record (no type=)"),
    ]
    assert [r["event_code"] for r in rows] == [
        "LOGIN",
        "SHORTDATE",
        "NOMSG",
        "UNDER_SCORE",
        "UNKNOWN[1323]",
        "AVC",
    ]
    login = rows[0]["fields"]
    assert (login["login.old_auid"], login["login.new_auid"], login["login.new_ses"]) == (
        "4294967295",
        "0",
        "1165",
    )
    assert rows[1]["datetime"] == datetime(2012, 5, 24, 7, 40, 1, tzinfo=UTC)
    assert rows[1]["fields"]["shortdate.text"] == "check rounding"
    avc = rows[-1]
    assert (avc["event_action"], avc["file_path"], avc["process_executable"], avc["process_pid"]) == (
        "avc-denied", "/usr/lib/locale/locale-archive", "/bin/ls", 2714,
    )  # fmt: skip
    assert (avc["fields"]["avc.permissions"], avc["fields"]["avc.tclass"], avc["fields"]["types"]) == (
        "getattr", "file", "AVC,SYSCALL",
    )  # fmt: skip


def test_otrf_execve_events(corpus: Path) -> None:
    rows, found = _rows(corpus / "linux/otrf/sh_arp_cache_2020-11-10074812.log")
    assert found == []
    assert [r["process_command_line"] for r in rows] == ["arp -a", "grep -v ^?"]
    assert rows[0]["datetime"] == datetime(2020, 11, 10, 7, 48, 16, 155000, tzinfo=UTC)
    assert rows[0]["fields"]["proctitle.proctitle"] == "arp -a"


def test_interleaved_records_are_grouped_and_eoe_closes() -> None:
    text = (
        'type=SYSCALL msg=audit(1700000000.001:10): syscall=59 pid=5 ppid=1 exe="/bin/x"\n'
        'type=SYSCALL msg=audit(1700000000.002:11): syscall=59 pid=6 ppid=1 exe="/bin/y"\n'
        'type=EXECVE msg=audit(1700000000.001:10): argc=2 a0="x" a1="--flag"\n'
        "type=EOE msg=audit(1700000000.001:10): \n"
        'type=EXECVE msg=audit(1700000000.002:11): argc=1 a0="y"\n'
        'node=srv1 type=USER_LOGIN msg=audit(1700000001.000:12): pid=7 uid=0 msg=\'op=login acct="bob" '
        'exe="/usr/sbin/sshd" hostname=? addr=203.0.113.5 terminal=sshd res=failed\'\n'
    )
    rows, found = _text(text)
    assert found == []
    assert [(r["process_command_line"], r["fields"]["types"]) for r in rows] == [
        ("x --flag", "SYSCALL,EXECVE,EOE"),
        ("y", "SYSCALL,EXECVE"),
        (None, "USER_LOGIN"),
    ]
    login = rows[2]
    assert (login["host_name"], login["user_name"], login["source_ip"], login["event_action"]) == (
        "srv1", "bob", "203.0.113.5", "user-login",
    )  # fmt: skip


def test_sniff() -> None:
    assert PARSER.sniff(b"type=DAEMON_START msg=audit(1364481363.243:24287): op=start ver=2.2\n")
    assert PARSER.sniff(b"node=a type=SYSCALL msg=audit(1364481363.243:1): arch=c000003e\n")
    assert not PARSER.sniff(b"Mar 10 12:05:03 host kernel: audit: type=1400 audit(1.2:3): avc: denied\n")
    assert not PARSER.sniff(b"\x00" * HEAD_BYTES)
