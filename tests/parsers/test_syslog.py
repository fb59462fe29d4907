"""Syslog: the real EC2 auth.log (SSH brute force), plaso's dialect samples, year inference,
time zones, RFC 5424, and the auth.log semantics line by line."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from parsers.base import HEAD_BYTES, Options
from parsers.syslog import SyslogParser
from tests.parsers.evtx_helpers import parse_file

PARSER = SyslogParser()
AUTH = "linux/auth/elastic-examples/auth.log"
PLASO = "linux/syslog/plaso"
# The EC2 auth.log has no year. It was written in 2017 (it downloads filebeat 5.2.2, released in
# February 2017), on an EC2 host whose zone is UTC; the test states both through the options the
# ingest would set from the file's modification time and the investigator's --timezone.
EC2 = Options(timezone="UTC", file_mtime=datetime(2017, 4, 30, tzinfo=UTC))


def _rows(path: Path, options: Options) -> tuple[list[dict], list]:
    rows, found = parse_file(PARSER, path, options)
    for row in rows:
        row["fields"] = dict(row["fields"])
    return rows, found


def _text(text: str, options: Options) -> tuple[list[dict], list]:
    rows, found = [], []
    for item in PARSER.parse(io.BytesIO(text.encode()), None, options):
        if hasattr(item, "to_pylist"):
            rows.extend(item.to_pylist())
        else:
            found.append(item)
    for row in rows:
        row["fields"] = dict(row["fields"])
    return rows, found


# --- the EC2 auth.log ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ec2(corpus: Path) -> list[dict]:
    rows, found = _rows(corpus / AUTH, EC2)
    assert found == []  # every one of the 7,121 lines is read
    return rows


def test_ec2_auth_log_brute_force_figures(ec2: list[dict]) -> None:
    assert len(ec2) == 7121
    actions = Counter(r["event_action"] for r in ec2)
    # 713 "Failed password" lines (85 of them "message repeated N times: [ Failed password ...]")
    # and 4 "Failed publickey"; with the repeats, 1,042 failed attempts.
    failed = [r for r in ec2 if r["event_action"] == "ssh-login-failed"]
    assert len(failed) == 717
    assert sum(1 for r in failed if r["fields"]["auth_method"] == "password") == 713
    assert sum(int(r["fields"].get("repeated", 1)) for r in failed) == 1042
    assert sum(1 for r in failed if r["fields"].get("user_state") == "invalid") == 331
    assert actions["ssh-invalid-user"] == 178
    assert (actions["ssh-login"], actions["sudo-command"], actions["cron-command"]) == (226, 186, 0)
    assert Counter(r["source_ip"] for r in failed).most_common(2) == [
        ("24.151.103.17", 157),
        ("34.204.227.175", 43),
    ]
    invalid = Counter(r["source_ip"] for r in ec2 if r["event_action"] == "ssh-invalid-user")
    assert invalid.most_common(1) == [("91.197.232.109", 58)]


def test_ec2_auth_log_times_hosts_and_assumptions(ec2: list[dict]) -> None:
    times = [r["datetime"] for r in ec2]
    assert times[0] == datetime(2017, 3, 27, 13, 6, 56, tzinfo=UTC)
    assert times[-1] == datetime(2017, 4, 20, 14, 14, 29, tzinfo=UTC)
    assert min(times) == times[0] and max(times) == times[-1]
    assert {r["host_name"] for r in ec2} == {"ip-10-77-20-248"}
    assert {(r["fields"]["time_zone"], r["fields"]["year_inferred"]) for r in ec2} == {("UTC", "true")}
    assert [r["source_record"] for r in ec2] == list(range(1, 7122))


def test_ec2_auth_log_rows_in_detail(ec2: list[dict]) -> None:
    last = ec2[
        -3
    ]  # Apr 20 14:14:29 ... sshd[3964]: Accepted publickey for ubuntu from 85.245.107.41 port 51816 ...
    assert (last["event_action"], last["user_name"], last["source_ip"], last["source_port"]) == (
        "ssh-login", "ubuntu", "85.245.107.41", 51816,
    )  # fmt: skip
    assert (last["process_executable"], last["process_pid"]) == ("sshd", 3964)
    assert last["fields"]["key_fingerprint"] == "SHA256:Kl8kPGZrTiz7g4FO1hyqHdsSBBb5Fge6NWOobN03XJg"
    sudo = next(r for r in ec2 if r["event_action"] == "sudo-command")
    assert (sudo["user_name"], sudo["fields"]["target_user"], sudo["fields"]["tty"]) == (
        "ubuntu",
        "root",
        "pts/0",
    )
    assert sudo["process_command_line"].startswith("/usr/bin/curl -L -O https://artifacts.elastic.co/")
    repeated = next(r for r in ec2 if "repeated" in r["fields"])
    assert repeated["message"].startswith("sshd[6402]: message repeated 5 times: [ Failed password for root")
    assert (repeated["user_name"], repeated["source_ip"], repeated["fields"]["repeated"]) == (
        "root", "218.60.136.106", "5",
    )  # fmt: skip


# --- plaso's dialects ----------------------------------------------------------------------------

# (file, rows, warnings as (location, reason)); file_mtime 2015-12-01: plaso's syslog then puts its
# leap-day line in 2012 ("events take place in 2012"), its three year changes walking back from Nov.
DIALECTS = [
    ("syslog", 16, [("line 8", "unknown month 'MMM'")]),
    ("syslog_chromeos", 8, []),
    ("syslog_cron.log", 9, []),
    ("syslog_rsyslog", 5, []),
    ("syslog_rsyslog_SyslogProtocol23Format", 9, []),
    ("syslog_rsyslog_traditional", 8, []),
]


@pytest.mark.parametrize(("name", "count", "warnings"), DIALECTS)
def test_plaso_dialects(corpus: Path, name: str, count: int, warnings: list) -> None:
    rows, found = _rows(corpus / PLASO / name, Options(file_mtime=datetime(2015, 12, 1, tzinfo=UTC)))
    assert len(rows) == count
    assert [(w.location, w.reason) for w in found] == warnings


def test_plaso_syslog_years_and_shapes(corpus: Path) -> None:
    rows, _ = _rows(corpus / PLASO / "syslog", Options(file_mtime=datetime(2015, 12, 1, tzinfo=UTC)))
    by_line = {r["source_record"]: r for r in rows}
    assert by_line[7]["datetime"] == datetime(2012, 2, 29, 1, 15, 43, tzinfo=UTC)
    assert by_line[7]["host_name"] is None and by_line[7]["message"].startswith("--- testing leap year")
    assert by_line[11]["datetime"] == datetime(2013, 3, 23, 23, 1, 18, 123000, tzinfo=UTC)
    assert (
        by_line[13]["message"]
        == "aprocess[10100]: This is a multi-line message that screws up\n\tmany syslog parsers."
    )
    assert (by_line[17]["host_name"], by_line[17]["process_executable"]) == (None, "kernel")
    assert (by_line[18]["host_name"], by_line[18]["process_executable"]) == ("victoria", "kernel")
    assert by_line[18]["datetime"] == datetime(2015, 11, 18, 8, 31, 20, tzinfo=UTC)
    # The same file with a modification time in 2026: the leap day would fall in 2023.
    _, found = _rows(corpus / PLASO / "syslog", Options(file_mtime=datetime(2026, 11, 29, tzinfo=UTC)))
    assert (found[0].location, found[0].reason) == (
        "line 7",
        "'Feb 29 01:15:43:' is not a time in 2023 (year inferred)",
    )


def test_chromeos_severity_and_rfc5424(corpus: Path) -> None:
    rows, _ = _rows(corpus / PLASO / "syslog_chromeos", Options())
    assert rows[0]["datetime"] == datetime(2016, 10, 25, 19, 37, 23, 297265, tzinfo=UTC)
    assert (rows[0]["host_name"], rows[0]["fields"], rows[0]["process_pid"]) == (
        None,
        {"severity": "info"},
        13707,
    )
    rows, _ = _rows(corpus / PLASO / "syslog_rsyslog_SyslogProtocol23Format", Options())
    assert rows[0]["fields"] == {"facility": "user", "severity": "debug", "msgid": "123"}
    assert rows[1]["message"] == "log_tag: this is info\nwith another line"
    assert (rows[-1]["process_executable"], rows[-1]["process_pid"], rows[-1]["fields"]["facility"]) == (
        "cron",
        18898,
        "cron",
    )


def test_rfc5424_structured_data() -> None:
    line = (
        '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" '
        'eventSource="Application" eventID="1011"][examplePriority@32473 class="high"] An application event\n'
    )
    (row,), found = _text(line, Options())
    assert found == []
    assert row["datetime"] == datetime(2003, 10, 11, 22, 14, 15, 3000, tzinfo=UTC)
    assert (row["host_name"], row["process_executable"], row["message"]) == (
        "mymachine.example.com", "evntslog", "evntslog: An application event",
    )  # fmt: skip
    assert row["fields"]["exampleSDID@32473.eventID"] == "1011"
    assert row["fields"]["examplePriority@32473.class"] == "high"
    assert (row["fields"]["facility"], row["fields"]["severity"], row["fields"]["msgid"]) == (
        "local4",
        "notice",
        "ID47",
    )


# --- year inference and zones --------------------------------------------------------------------


def test_year_inference_across_new_year() -> None:
    text = "Dec 31 23:59:58 h cron[1]: a\nJan  1 00:00:02 h cron[1]: b\n"
    rows, _ = _text(text, Options(file_mtime=datetime(2024, 1, 1, 0, 0, 5, tzinfo=UTC)))
    assert [r["datetime"] for r in rows] == [
        datetime(2023, 12, 31, 23, 59, 58, tzinfo=UTC),
        datetime(2024, 1, 1, 0, 0, 2, tzinfo=UTC),
    ]
    # A last line later in the year than the file's time belongs to the year before.
    rows, _ = _text("Nov  5 10:00:00 h x: a\n", Options(file_mtime=datetime(2024, 3, 1, tzinfo=UTC)))
    assert rows[0]["datetime"] == datetime(2023, 11, 5, 10, tzinfo=UTC)
    # Two year changes: Nov 2022 -> Feb 2023 -> Jan 2024.
    text = "Nov  5 10:00:00 h x: a\nFeb  1 10:00:00 h x: b\nJan  3 10:00:00 h x: c\n"
    rows, _ = _text(text, Options(file_mtime=datetime(2024, 1, 4, tzinfo=UTC)))
    assert [r["datetime"].year for r in rows] == [2022, 2023, 2024]


def test_europe_berlin_local_time_to_utc() -> None:
    text = "Mar 10 12:05:03 web1 sshd[7]: Accepted password for bob from 203.0.113.9 port 50000 ssh2\n"
    text += "Jul 10 12:05:03 web1 sshd[7]: Failed password for bob from 203.0.113.9 port 50001 ssh2\n"
    mtime = datetime(2026, 7, 11, tzinfo=UTC)
    rows, _ = _text(text, Options(timezone="Europe/Berlin", file_mtime=mtime))
    assert [r["datetime"] for r in rows] == [
        datetime(2026, 3, 10, 11, 5, 3, tzinfo=UTC),  # CET, UTC+1
        datetime(2026, 7, 10, 10, 5, 3, tzinfo=UTC),  # CEST, UTC+2
    ]
    assert {r["fields"]["time_zone"] for r in rows} == {"Europe/Berlin"}
    # ISO times with an offset need no zone; an unknown zone falls back to UTC with a note.
    iso = "2026-03-10T12:05:03.123456+01:00 web1 sshd[7]: Connection from 203.0.113.9 port 50002\n"
    rows, found = _text(iso, Options(timezone="Mars/Olympus"))
    assert rows[0]["datetime"] == datetime(2026, 3, 10, 11, 5, 3, 123456, tzinfo=UTC)
    assert "time_zone" not in rows[0]["fields"]
    assert [(w.reason, w.count) for w in found] == [
        ("unknown time zone 'Mars/Olympus': local times read as UTC", 0)
    ]


# --- auth.log semantics --------------------------------------------------------------------------

SEMANTICS = [
    ("sshd[1]: Invalid user admin from 198.51.100.7 port 4242", "ssh-invalid-user",
     {"user_name": "admin", "source_ip": "198.51.100.7", "source_port": 4242}, {}),
    ("sshd[1]: Failed password for invalid user oracle from 198.51.100.7 port 4243 ssh2", "ssh-login-failed",
     {"user_name": "oracle", "source_ip": "198.51.100.7"}, {"user_state": "invalid", "auth_method": "password"}),
    ("sshd[1]: Disconnected from authenticating user root 198.51.100.7 port 4244 [preauth]", "ssh-disconnect",
     {"user_name": "root", "source_port": 4244}, {"user_state": "authenticating"}),
    ("sshd[1]: Received disconnect from 198.51.100.7 port 4245:11: Bye Bye [preauth]", "ssh-disconnect",
     {"source_ip": "198.51.100.7"}, {"reason_code": "11", "reason": "Bye Bye [preauth]"}),
    ("sshd[1]: pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)", "session-opened",
     {"user_name": "alice"}, {"service": "sshd", "by_uid": "0"}),
    ("sshd[1]: pam_unix(sshd:session): session closed for user alice", "session-closed", {"user_name": "alice"}, {}),
    ("sshd[1]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.7  user=root",
     "auth-failure", {"user_name": "root"}, {"rhost": "198.51.100.7", "tty": "ssh"}),
    ("sudo:    alice : TTY=pts/1 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id -u", "sudo-command",
     {"user_name": "alice", "process_command_line": "/usr/bin/id -u"}, {"target_user": "root", "pwd": "/home/alice"}),
    ("sudo:      eve : user NOT in sudoers ; TTY=pts/2 ; PWD=/tmp ; USER=root ; COMMAND=/bin/bash", "sudo-command-denied",
     {"user_name": "eve", "process_command_line": "/bin/bash"}, {"sudo_error": "user NOT in sudoers"}),
    ("su[9]: Successful su for root by alice", "su", {"user_name": "alice"}, {"target_user": "root"}),
    ("su[9]: FAILED SU (to root) eve on pts/2", None, {}, {}),
    ("useradd[9]: new user: name=mallory, UID=1001, GID=1001, home=/home/mallory, shell=/bin/bash, from=/dev/pts/0",
     "user-created", {"user_name": "mallory"}, {"uid": "1001", "shell": "/bin/bash"}),
    ("groupadd[9]: group added to /etc/group: name=ops, GID=1002", "group-created", {}, {"group": "ops", "gid": "1002"}),
    ("usermod[9]: add 'mallory' to group 'sudo'", "user-added-to-group", {"user_name": "mallory"}, {"group": "sudo"}),
    ("passwd[9]: pam_unix(passwd:chauthtok): password changed for mallory", "password-changed",
     {"user_name": "mallory"}, {"service": "passwd"}),
    ("CRON[9]: (root) CMD (/usr/local/bin/backup.sh >/dev/null 2>&1)", "cron-command",
     {"user_name": "root", "process_command_line": "/usr/local/bin/backup.sh >/dev/null 2>&1"}, {}),
    ("crontab[9]: (mallory) REPLACE (mallory)", "crontab", {"user_name": "mallory"}, {"crontab_op": "REPLACE"}),
    ("crontab[9]: (root) BEGIN EDIT (mallory)", "crontab", {"user_name": "root"},
     {"crontab_op": "BEGIN EDIT", "crontab_owner": "mallory"}),
    ("systemd-logind[5]: New session 12 of user alice.", "session-created", {"user_name": "alice"}, {"session": "12"}),
]  # fmt: skip


@pytest.mark.parametrize(("tail", "action", "core", "extra"), SEMANTICS)
def test_auth_semantics(tail: str, action: str | None, core: dict, extra: dict) -> None:
    (row,), found = _text(
        f"Mar 10 12:05:03 host {tail}\n", Options(file_mtime=datetime(2026, 4, 1, tzinfo=UTC))
    )
    assert found == []
    assert row["event_action"] == action
    assert {k: row[k] for k in core} == core
    assert {k: row["fields"].get(k) for k in extra} == extra
    assert row["host_name"] == "host"


# --- sniffing and damaged lines ------------------------------------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        b"2016-10-06T00:17:09.669794202Z stdout P log content 1\n2016-10-06T00:17:09.6Z stderr F log 2\n",
        b"2022-04-12 00:16:05.526 UTC [7755] LOG:  starting PostgreSQL 12.9\n",
        b"2016-08-06 17:35:39 install base-passwd:amd64 <none> 3.5.33\n",
        b'Mon Jun  6 18:43:28 2016 [pid 2] CONNECT: Client "192.168.1.9"\n',
        b"# linux/ - SOURCES\n\nMar 10 12:05:03 host prog: text\n",
    ],
)
def test_sniff_refuses_other_text(head: bytes) -> None:
    assert not PARSER.sniff(head)


def test_sniff_accepts_each_shape(corpus: Path) -> None:
    for name in ("syslog", "syslog_chromeos", "syslog_rsyslog", "syslog_rsyslog_SyslogProtocol23Format"):
        assert PARSER.sniff((corpus / PLASO / name).read_bytes()[:HEAD_BYTES]), name
    assert PARSER.sniff((corpus / AUTH).read_bytes()[:HEAD_BYTES])


def test_bad_lines_are_located_warnings_and_the_file_goes_on() -> None:
    text = "orphan line\nMar 10 12:05:03 h a: one\nMar 32 12:05:03 h a: bad day\nMar 10 Wrong\nMar 10 12:05:04 h a: two\n"
    rows, found = _text(text, Options(file_mtime=datetime(2026, 4, 1, tzinfo=UTC)))
    assert [r["message"] for r in rows] == ["a: one", "a: two"]
    assert [(w.location, w.offset, w.reason, w.count) for w in found] == [
        ("line 1", 0, "text before the first syslog line", 1),
        ("line 3", 37, "'Mar 32 12:05:03' is not a time in 2026 (year inferred)", 1),
        ("line 4", 66, "not a syslog header: 'Mar 10 Wrong'", 1),
    ]
