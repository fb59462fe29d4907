"""Every file of the corpus's linux/ folder through the ingest: what each becomes, exactly, and
why the rest is not read; the CLI's --timezone."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from forensics import Case
from forensics.cli import main as cli

# path -> (status, parser, rows, records lost); warnings that are notes (count 0) are listed below.
EXPECTED = {
    "audit/plaso/audit_enriched.log": ("ok", "linux_audit", 12, 0),
    # plaso's file says four of its lines "should be skipped by parser": located warnings here.
    "audit/plaso/selinux.log": ("partial", "linux_audit", 6, 4),
    "auth/elastic-examples/auth.log": ("ok", "syslog", 7121, 0),
    "auth/plaso/syslog_ssh.log": ("ok", "syslog", 9, 0),
    "auth/plaso/utmp": ("ok", "linux_utmp", 14, 0),
    "auth/plaso/wtmp.1": ("partial", "linux_utmp", 2, 1),  # a trailing byte after 4 records
    "cloud/otrf/ec2_proxy_s3_exfiltration_2020-09-14011940.json": ("ok", "aws_cloudtrail", 103, 0),
    "cloud/plaso/aws_cloudtrail.jsonl": ("ok", "aws_cloudtrail", 6, 0),
    "cloud/plaso/gcp_logging.jsonl": ("ok", "gcp_logging", 11, 0),
    "containers/plaso/cri.log": ("ok", "container_log", 17, 0),
    "containers/plaso/docker-container-json.log": ("ok", "container_log", 10, 0),
    "ids/plaso/snort3_alert_fast.log": ("ok", "ids_alert", 4, 0),
    "ids/plaso/suricata_alert_fast.log": ("ok", "ids_alert", 5, 0),
    "otrf/sh_arp_cache_2020-11-10074812.log": ("ok", "linux_audit", 2, 0),
    "pkg/plaso/apt_history.log": ("ok", "linux_packages", 797, 0),
    "pkg/plaso/dpkg.log": ("ok", "linux_packages", 4, 0),
    "services/plaso/postgresql.log": ("ok", "postgresql", 18, 0),
    "services/plaso/vsftpd.log": ("ok", "vsftpd", 25, 0),
    "shell/plaso/bash_history": ("ok", "shell_history", 4, 0),
    "shell/plaso/zsh_extended_history.txt": ("ok", "shell_history", 4, 0),
    # "MMM 22" and "Mar 23 Wrong line that should not be able to get through" (plaso's negatives).
    "syslog/plaso/syslog.bz2": ("partial", "syslog", 12, 2),
    "syslog/plaso/syslog.gz": ("partial", "syslog", 12, 2),
    "syslog/plaso/syslog.xz": ("partial", "syslog", 12, 2),
    "syslog/plaso/syslog_chromeos": ("ok", "syslog", 8, 0),
    "syslog/plaso/syslog_cron.log": ("ok", "syslog", 9, 0),
    "syslog/plaso/syslog_rsyslog": ("ok", "syslog", 5, 0),
    "syslog/plaso/syslog_rsyslog_SyslogProtocol23Format": ("ok", "syslog", 9, 0),
    "syslog/plaso/syslog_rsyslog_traditional": ("ok", "syslog", 8, 0),
    "web/evtx-attack-samples/web_attack_and_isp_webshell_localhost_access_log.txt": (
        "ok",
        "web_access",
        2661,
        0,
    ),
    "web/plaso/apache_access.log": ("ok", "web_access", 15, 0),
    "web/plaso/iis10.log": ("ok", "web_access", 1, 0),
}
NOTES = {
    "auth/plaso/wtmp.1": ["2 empty records (ut_type 0) skipped"],
    "cloud/otrf/ec2_proxy_s3_exfiltration_2020-09-14011940.json": [
        "103 records have no eventTime: @timestamp used"
    ],
}
# Formats out of this parser family's scope, reported unrecognised with the reason the ingest gives.
UNRECOGNISED = {
    "SOURCES.md": "# linux/",
    "LICENSES/OTRF__Security-Datasets__LICENSE": "MIT Lice",
    "LICENSES/elastic__examples__LICENSE": "Apache L",
    "LICENSES/log2timeline__plaso__LICENSE": "\n       ",
    "LICENSES/sbousseaden__EVTX-ATTACK-SAMPLES__LICENSE.GPL": "        ",
}


def _plain_syslog_lost(path: Path) -> int:
    """plaso's plain ``syslog`` has a leap-day line whose year comes from the file's modification
    time (three year changes back from its last line, Nov 18 08:31:20): unreadable unless that
    year is a leap year; plus its "MMM 22" line."""
    mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None)
    last = datetime(mtime.year, 11, 18, 8, 31, 20)
    year = mtime.year if last <= mtime + timedelta(days=1) else mtime.year - 1
    return 1 + (not calendar.isleap(year - 3))


def test_every_linux_corpus_file(corpus: Path, tmp_path: Path) -> None:
    root = corpus / "linux"
    case = Case.open(tmp_path / "case")
    report = case.ingest([root], jobs=2)
    got = {str(Path(f.path).relative_to(root)): f for f in report.files}
    expected = dict(EXPECTED)
    lost = _plain_syslog_lost(root / "syslog/plaso/syslog")
    expected["syslog/plaso/syslog"] = ("partial", "syslog", 16 - (lost - 1), lost)
    assert {p: (f.status, f.parser, f.records, f.lost) for p, f in got.items() if f.parser} == expected
    for path, result in got.items():
        notes = [w.reason for w in result.warnings if w.count == 0]
        assert notes == NOTES.get(path, []), path
    unrecognised = {p: f.reason for p, f in got.items() if not f.parser}
    assert unrecognised == {
        p: f"not a supported format (starts with {start.encode()!r})" for p, start in UNRECOGNISED.items()
    }
    total = sum(n for _, _, n, _ in expected.values())
    assert report.records == case.sql("SELECT count(*) AS n FROM timeline").n[0] == total
    assert case.sql("SELECT count(*) AS n FROM timeline WHERE datetime IS NULL").n[0] == 0


def test_cli_timezone(corpus: Path, tmp_path: Path) -> None:
    dpkg = corpus / "linux/pkg/plaso/dpkg.log"
    assert (
        cli(["ingest", str(dpkg), "--case", str(tmp_path / "c"), "--timezone", "Europe/Berlin", "--quiet"])
        == 0
    )
    times = Case.open(tmp_path / "c").sql("SELECT datetime FROM timeline ORDER BY source_record").datetime
    assert times[2] == datetime(2016, 8, 6, 15, 35, 39, tzinfo=UTC)  # 17:35:39 CEST
    with pytest.raises(SystemExit) as exit_:
        cli(["ingest", str(dpkg), "--case", str(tmp_path / "d"), "--timezone", "Berlin", "--quiet"])
    assert exit_.value.code == 2
