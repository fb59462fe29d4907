"""Task Scheduler .job: plaso's wintask.job through the ingest (values as plaso's test states
them), its local times under another zone, and damaged or foreign input."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

from parsers.base import HEAD_BYTES, Options
from parsers.scheduled_task import ScheduledTaskParser
from tests.parsers.artifact_helpers import ARTIFACTS, ingest, rows, summary

PARSER = ScheduledTaskParser()
APP = "C:\\Program Files (x86)\\Google\\Update\\GoogleUpdate.exe"


def test_wintask_job(corpus: Path, tmp_path: Path) -> None:
    path = corpus / ARTIFACTS / "tasks/wintask.job"
    case, results = ingest(tmp_path, path)
    assert summary(results["wintask.job"]) == ("ok", "windows_job", 1, 0, [])
    (row,) = rows(case, path)
    assert (row["datetime"], row["timestamp_desc"], row["event_action"], row["user_name"]) == (
        datetime(2013, 8, 24, 12, 42, 0, 112000, tzinfo=UTC), "Last Run", "scheduled-task", "Brian",
    )  # fmt: skip
    assert (row["process_executable"], row["process_command_line"]) == (
        APP,
        f"{APP} /ua /installsource scheduler",
    )
    fields = row["fields"]
    assert fields["comment"].startswith("Keeps your Google software up to date.")
    assert {k: fields[k] for k in ("status", "priority", "product_version", "time_zone", "trigger_0")} == {
        "status": "ready", "priority": "normal", "product_version": "0x0601", "time_zone": "UTC",
        "trigger_0": "DAILY from 2013-07-12T15:42:00+00:00, every 60 min for 1440 min",
    }  # fmt: skip


def test_local_times_use_the_host_zone(corpus: Path) -> None:
    data = (corpus / ARTIFACTS / "tasks/wintask.job").read_bytes()
    (batch,) = PARSER.parse(io.BytesIO(data), None, Options(timezone="Europe/Amsterdam"))
    row = batch.to_pylist()[0]
    assert row["datetime"] == datetime(2013, 8, 24, 10, 42, 0, 112000, tzinfo=UTC)  # CEST
    # plaso, with timezone CET: the trigger starts 2013-07-12 13:42 UTC
    assert dict(row["fields"])["trigger_0"].startswith("DAILY from 2013-07-12T13:42:00+00:00")


def test_truncated_job_is_a_warning(corpus: Path) -> None:
    data = (corpus / ARTIFACTS / "tasks/wintask.job").read_bytes()
    (warning,) = PARSER.parse(io.BytesIO(data[:100]), None, Options())
    assert (warning.location, warning.offset) == ("file", 0)
    assert warning.reason.startswith("unreadable .job variable section: EOFError")


def test_sniff(corpus: Path) -> None:
    head = (corpus / ARTIFACTS / "tasks/wintask.job").read_bytes()[:HEAD_BYTES]
    assert PARSER.sniff(head)
    assert not PARSER.sniff(head[:2] + b"\x02\x00" + head[4:])  # file version 2
    assert not PARSER.sniff(head[:0x14] + b"\x48\x00" + head[0x16:])  # name offset elsewhere
    assert not PARSER.sniff(b"\x00" * HEAD_BYTES)
