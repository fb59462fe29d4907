"""dissect.target records of the sample case's SRV01 image mapped into timeline rows."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from forensics.samples import story
from parsers.dissect_records import record_row

IMAGE = Path(__file__).resolve().parents[2] / "sample_data" / "case01" / "SRV01" / "srv01.img"


@pytest.fixture(scope="module")
def target():  # type: ignore[no-untyped-def]
    from dissect.target import Target

    logging.getLogger("dissect").setLevel(logging.ERROR)
    return Target.open(IMAGE)


def test_the_attackers_cron_job(target) -> None:  # type: ignore[no-untyped-def]
    rows = [record_row(r) for r in target.cronjobs()]
    ((row, fields),) = [(r, f) for r, f in rows if r.get("user_name") == "bob"]
    assert row["process_command_line"] == "/tmp/.sysupd >/dev/null 2>&1"
    assert (row["event_code"], row["event_action"], row["host_name"]) == ("unix/cronjob", "cronjob", "srv01")
    assert "datetime" not in row  # a cron job has no time of its own
    assert fields["source"] == "/var/spool/cron/crontabs/bob"
    assert (fields["minute"], fields["hour"]) == ("*/10", "*")
    assert row["message"].startswith(
        "unix/cronjob: minute=*/10; hour=*; day=*; month=*; weekday=*; command=/tmp/.sysupd"
    )


def test_accounts_and_services(target) -> None:  # type: ignore[no-untyped-def]
    users = {row["user_name"]: fields for row, fields in (record_row(r) for r in target.users())}
    assert users["bob"]["uid"] == "1001" and users["bob"]["home"] == "/home/bob"
    assert users["bob"]["shell"] == "/bin/bash"
    services = {f["name"]: (r, f) for r, f in (record_row(s) for s in target.services())}
    row, fields = services["webapp.service"]
    assert row["datetime"] == datetime(2025, 9, 3, 13, 53, 48, tzinfo=UTC)
    assert fields["source"] == "/etc/systemd/system/webapp.service"


def test_the_attackers_login_record(target) -> None:  # type: ignore[no-untyped-def]
    logins = [record_row(r) for r in target.wtmp()]
    attack = [(r, f) for r, f in logins if r.get("source_ip") == story.WS01.ip]
    assert len(attack) == 1
    row, fields = attack[0]
    assert (row["user_name"], fields["ut_type"], fields["ut_line"]) == ("bob", "USER_PROCESS", "pts/1")
    assert timedelta(0) < row["datetime"] - story.attack_time("S11") < timedelta(seconds=10)  # SYN, then auth
    dead = [r for r, f in logins if f["ut_type"] == "DEAD_PROCESS"]
    assert dead and all("source_ip" not in r for r in dead)  # utmp's 0.0.0.0 means no address
