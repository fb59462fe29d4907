"""Debian package logs -> one row per package change: ``/var/log/dpkg.log`` and
``/var/log/apt/history.log``.

dpkg.log has one line per step, ``YYYY-MM-DD HH:MM:SS <what> ...``: ``install``/``upgrade``/
``remove``/``purge``/``configure``/``trigproc <package> <old version> <new version>``,
``status <state> <package> <version>``, ``startup archives|packages <command>`` and
``conffile <path> <decision>``. apt's history.log has one block per apt run (``Start-Date``,
``Commandline``, ``Requested-By``, then ``Install``/``Upgrade``/``Remove``/``Purge``/
``Downgrade``/``Reinstall`` lists such as ``pkg:amd64 (1.0-1, automatic), other (2.0)``,
``Error``, ``End-Date``); each listed package becomes one row with the run's command line and
user. Both write local time without a zone: it is read in ``Options.timezone`` and stated in
the row's ``time_zone`` field.

References: dpkg(1) "FILES" (the log format, dpkg ``src/main/...`` log_message calls);
apt ``apt-pkg/deb/dpkgpm.cc`` (history.log writer); Debian Reference, "Package management".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, tzinfo
from typing import Any, BinaryIO

import pyarrow as pa

from forensics.timeutil import local_to_utc
from parsers.base import Options, Parser, ParseWarning
from parsers.textlog import Row, batched, head_lines, host_zone, numbered_lines

__all__ = ["PackagesParser", "read_apt_history", "read_dpkg"]

_DPKG = re.compile(
    r"(?P<date>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (?P<what>startup|status|install|upgrade|remove|purge|configure|"
    r"trigproc|conffile) (?P<rest>.*)$"
)
_APT_KEY = re.compile(r"(?P<key>[A-Z][A-Za-z-]*): ?(?P<value>.*)$")
_APT_PACKAGE = re.compile(r"(?P<package>[^\s,()]+) \((?P<versions>[^)]*)\)")
_APT_ACTIONS = {"Install", "Upgrade", "Remove", "Purge", "Downgrade", "Reinstall"}
_REQUESTED_BY = re.compile(r"(?P<user>\S+)(?: \((?P<uid>\d+)\))?")


def _local(text: str, tz: tzinfo) -> datetime | None:
    try:
        return local_to_utc(datetime.strptime(" ".join(text.split()), "%Y-%m-%d %H:%M:%S"), tz)
    except ValueError:
        return None


def _version(text: str | None) -> str | None:
    return None if text in (None, "<none>", "") else text


def _row(source: str, line: int, when: datetime | None, action: str, message: str) -> dict[str, Any]:
    return {
        "datetime": when,
        "timestamp_desc": "Installed" if action == "package-install" else "Event Recorded",
        "message": message,
        "source": source,
        "source_record": line,
        "event_action": action,
    }


def read_dpkg(fh: BinaryIO, tz: tzinfo, zone_name: str, source: str) -> Iterator[Row | ParseWarning]:
    """dpkg.log lines -> rows."""
    for number, offset, text in numbered_lines(fh):
        if not text.strip():
            continue
        m = _DPKG.match(text)
        when = _local(m["date"], tz) if m else None
        if m is None or when is None:
            yield ParseWarning(
                f"line {number}", offset, "not a dpkg.log line" if m is None else "invalid time"
            )
            continue
        what, parts = m["what"], m["rest"].split(" ")
        fields: dict[str, str | None] = {"log": "dpkg", "time_zone": zone_name}
        package = version = None
        if what == "status" and len(parts) == 3:
            fields["state"], package, version = parts
        elif what in ("startup", "conffile"):
            fields["argument"] = m["rest"]
        elif len(parts) == 3:
            package, old, version = parts
            fields["old_version"] = _version(old)
            if what in ("remove", "purge"):
                version = old
        else:
            yield ParseWarning(f"line {number}", offset, f"unexpected dpkg {what} line")
            continue
        action = f"package-{what}" if what != "startup" else "dpkg-startup"
        row = _row(source, number, when, action, f"dpkg {what} {m['rest']}")
        if what == "conffile":
            row["file_path"] = parts[0]
        if package:
            fields["package"], fields["version"] = package, _version(version)
        yield row, {k: v for k, v in fields.items() if v is not None}


def read_apt_history(fh: BinaryIO, tz: tzinfo, zone_name: str, source: str) -> Iterator[Row | ParseWarning]:
    """apt history.log blocks -> one row per package listed in a block."""
    block: dict[str, str] = {}
    actions: list[tuple[int, str, str]] = []  # (line, action, list text)
    start: tuple[int, int] | None = None

    def flush() -> Iterator[Row | ParseWarning]:
        if start is None:
            return
        when = _local(block.get("Start-Date", ""), tz)
        if when is None:
            yield ParseWarning(
                f"line {start[0]}", start[1], f"invalid Start-Date {block.get('Start-Date')!r}"
            )
        user = _REQUESTED_BY.match(block.get("Requested-By", ""))
        common: dict[str, str | None] = {"log": "apt", "time_zone": zone_name}
        for key in ("End-Date", "Error", "Requested-By"):
            if key in block:
                common[key.lower().replace("-", "_")] = block[key]
        if not actions:  # a run that changed nothing still happened
            actions.append((start[0], "", ""))
        for line, action, listed in actions:
            packages = list(_APT_PACKAGE.finditer(listed)) or [None]
            for m in packages:
                fields = dict(common)
                version = None
                if m is not None:
                    versions = [v.strip() for v in m["versions"].split(",")]
                    if "automatic" in versions:
                        versions.remove("automatic")
                        fields["automatic"] = "true"
                    if len(versions) == 2:
                        fields["old_version"], version = versions
                    elif versions:
                        version = versions[0]
                    fields["package"], fields["version"] = m["package"], version
                name = f"package-{action.lower()}" if action else "apt-run"
                text = f"apt {action.lower()} {m['package']} {version or ''}".strip() if m else "apt run"
                row = _row(source, line, when, name, text)
                row["process_command_line"] = block.get("Commandline")
                row["user_name"] = user["user"] if user else None
                yield row, fields

    for number, offset, text in numbered_lines(fh):
        if not text.strip():
            continue
        m = _APT_KEY.match(text)
        if m is None:
            yield ParseWarning(f"line {number}", offset, "not an apt history line (Key: value)")
            continue
        key, value = m["key"], m["value"]
        if key == "Start-Date":
            yield from flush()
            block, actions, start = {}, [], (number, offset)
        elif start is None:
            yield ParseWarning(f"line {number}", offset, f"{key} before the first Start-Date")
            continue
        if key in _APT_ACTIONS:
            actions.append((number, key, value))
        else:
            block[key] = value
    yield from flush()


class PackagesParser(Parser):
    """Debian dpkg.log and apt history.log -> one row per package change."""

    name = "linux_packages"

    def sniff(self, head: bytes) -> bool:
        lines = head_lines(head, 1)
        return bool(lines) and (_DPKG.match(lines[0]) is not None or lines[0].startswith("Start-Date: "))

    def parse(self, fh: BinaryIO, unit: object, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        tz, zone_name, note = host_zone(options)
        if note:
            yield note
        fh.seek(0)
        first = head_lines(fh.read(4096), 1)
        apt = bool(first) and first[0].startswith("Start-Date: ")
        reader = read_apt_history if apt else read_dpkg
        yield from batched(reader(fh, tz, zone_name, self.name), options.batch_rows)
