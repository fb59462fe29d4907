"""Windows Task Scheduler 1.0 ``.job`` files (``C:\\Windows\\Tasks\\*.job``: at.exe jobs and
legacy scheduled tasks, a favourite persistence trick) -> one row per task, timed by its last run.

A ``.job`` file is a fixed-length section (product version, file version 1, a job UUID, the
offsets of the variable section, priority, status, flags and the last run time as a SYSTEMTIME),
then a variable-length section: application, parameters, working directory, author (the account
that scheduled it), comment, user data and the triggers. It has no magic number; it is
recognised by its fixed layout (file version 1, a known product version, the application name's
length at its fixed offset 0x46, a known priority class, a valid or zero SYSTEMTIME).
Times in a ``.job`` are the host's local time: they are converted to UTC with
``Options.timezone`` and the row says which zone was used. Read with the ``ATJOB_DATA`` cstruct
definition of dissect.target's Task Scheduler plugin.

References: [MS-TSCH] Task Scheduler Service Remoting Protocol, 2.4 ".JOB File Format";
libyal dtformats "Windows Job file format"; dissect.target ``plugins.os.windows.tasks.job``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from datetime import datetime
from typing import Any, BinaryIO

import pyarrow as pa

from forensics.timeutil import local_to_utc
from parsers.base import Options, Parser, ParseWarning
from parsers.textlog import Row, batched, host_zone

__all__ = ["ScheduledTaskParser", "read_job"]

_PRODUCT_VERSIONS = frozenset((0x0400, 0x0500, 0x0501, 0x0502, 0x0600, 0x0601, 0x0602, 0x0603, 0x0A00))
_PRIORITIES = {0x20: "normal", 0x40: "idle", 0x80: "high", 0x100: "realtime"}
_STATUS = {
    0x41300: "ready",
    0x41301: "running",
    0x41302: "disabled",
    0x41303: "has not run",
    0x41304: "no more runs",
    0x41305: "not scheduled",
    0x41306: "terminated",
    0x41307: "no valid triggers",
    0x41308: "event trigger",
}
_FLAGS = {
    0x1: "interactive",
    0x2: "delete_when_done",
    0x4: "disabled",
    0x10: "start_only_if_idle",
    0x20: "kill_on_idle_end",
    0x40: "dont_start_on_batteries",
    0x80: "kill_on_batteries",
    0x200: "hidden",
    0x800: "restart_on_idle_resume",
    0x1000: "system_required",
    0x2000: "run_only_if_logged_on",
}
_TRIGGERS = ("ONCE", "DAILY", "WEEKLY", "MONTHLYDATE", "MONTHLYDOW", "ON_IDLE", "AT_SYSTEMSTART", "AT_LOGON")
_MAX_SIZE = 1 << 20


def _systemtime(
    year: int, month: int, day: int, hour: int, minute: int, second: int, ms: int
) -> datetime | None:
    if not year:
        return None
    try:
        return datetime(year, month, day, hour, minute, second, ms * 1000)
    except ValueError:
        return None


def read_job(fh: BinaryIO) -> Iterator[dict[str, Any] | ParseWarning]:
    """The job's fields (local times naive), or a warning saying why it could not be read."""
    from dissect.target.plugins.os.windows.tasks.job import c_atjob

    fh.seek(0)
    data = fh.read(_MAX_SIZE)
    try:
        job = c_atjob.ATJOB_DATA(data)
    except Exception as exc:
        yield ParseWarning("file", 0, f"unreadable .job variable section: {type(exc).__name__}: {exc}"[:300])
        return
    flags = struct.unpack_from("<I", data, 0x30)[0]
    triggers = []
    for n, trigger in enumerate(job.task_triggers):
        start = _systemtime(
            trigger.begin_year,
            trigger.begin_month,
            trigger.begin_day,
            trigger.start_hour,
            trigger.start_minute,
            0,
            0,
        )
        kind = (
            _TRIGGERS[trigger.trigger_type]
            if trigger.trigger_type < len(_TRIGGERS)
            else str(trigger.trigger_type)
        )
        triggers.append((n, kind, start, trigger.minutes_interval, trigger.minutes_duration))
    yield {
        "product_version": job.windows_version,
        "uuid": data[4:20].hex(),
        "application": job.app_name.rstrip("\x00"),
        "parameters": job.parameters.rstrip("\x00"),
        "working_dir": job.working_dir.rstrip("\x00"),
        "author": job.author.rstrip("\x00"),
        "comment": job.comment.rstrip("\x00"),
        "status": job.status,
        "exit_code": job.exit_code,
        "flags": flags,
        "priority": struct.unpack_from("<I", data, 0x20)[0],
        "last_run": _systemtime(
            job.last_year,
            job.last_month,
            job.last_day,
            job.last_hour,
            job.last_minute,
            job.last_second,
            job.last_millisecond,
        ),
        "triggers": triggers,
    }


def to_row(job: dict[str, Any], source: str, options: Options) -> Iterator[Row | ParseWarning]:
    tz, tz_name, note = host_zone(options)
    if note:
        yield note
    command = " ".join(p for p in (job["application"], job["parameters"]) if p)
    author = job["author"] or None
    user = author.rsplit("\\", 1)[-1] if author else None
    fields: dict[str, str | None] = {
        "application": job["application"] or None,
        "parameters": job["parameters"] or None,
        "working_dir": job["working_dir"] or None,
        "author": author,
        "comment": job["comment"] or None,
        "status": _STATUS.get(job["status"], f"0x{job['status']:08x}"),
        "exit_code": str(job["exit_code"]),
        "flags": ", ".join(name for bit, name in _FLAGS.items() if job["flags"] & bit) or None,
        "priority": _PRIORITIES.get(job["priority"] & 0x1E0, f"0x{job['priority']:08x}"),
        "job_uuid": job["uuid"],
        "product_version": f"0x{job['product_version']:04x}",
        "time_zone": tz_name,
    }
    for n, kind, start, interval, duration in job["triggers"]:
        begins = local_to_utc(start, tz).isoformat() if start else "no start date"
        fields[f"trigger_{n}"] = f"{kind} from {begins}" + (
            f", every {interval} min for {duration} min" if interval else ""
        )
    last = local_to_utc(job["last_run"], tz) if job["last_run"] else None
    row: dict[str, Any] = {
        "datetime": last,
        "timestamp_desc": "Last Run",
        "source": source,
        "source_record": 0,
        "event_provider": "task-scheduler-1.0",
        "event_action": "scheduled-task",
        "process_executable": job["application"] or None,
        "process_command_line": command or None,
        "file_path": job["application"] or None,
        "user_name": user,
        "message": f"scheduled task (.job) {command}"
        + (f" by {author}" if author else "")
        + ("" if last else " (never run)"),
    }
    yield row, {k: v for k, v in fields.items() if v is not None}


class ScheduledTaskParser(Parser):
    """Task Scheduler 1.0 ``.job`` files -> one row per task (last run, command, author)."""

    name = "windows_job"

    def sniff(self, head: bytes) -> bool:
        if len(head) < 0x48:
            return False
        product, file_version = struct.unpack_from("<HH", head, 0)
        name_at, triggers_at = struct.unpack_from("<HH", head, 0x14)
        priority = struct.unpack_from("<I", head, 0x20)[0]
        year, month, weekday, day, hour, minute, second, ms = struct.unpack_from("<8H", head, 0x34)
        valid_time = year == month == day == 0 or (
            1990 <= year <= 2100
            and 1 <= month <= 12
            and weekday <= 6
            and 1 <= day <= 31
            and hour <= 23
            and minute <= 59
            and second <= 59
            and ms <= 999
        )
        return (
            product in _PRODUCT_VERSIONS
            and file_version == 1
            and name_at == 0x46
            and triggers_at > 0x46
            and priority & 0x1E0 in _PRIORITIES
            and valid_time
        )

    def parse(self, fh: BinaryIO, unit: Any, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        def rows() -> Iterator[Row | ParseWarning]:
            for item in read_job(fh):
                if isinstance(item, ParseWarning):
                    yield item
                else:
                    yield from to_row(item, self.name, options)

        yield from batched(rows(), options.batch_rows)
