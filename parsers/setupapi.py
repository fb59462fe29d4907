"""Windows SetupAPI text logs (``%windir%\\INF\\setupapi.dev.log``, ``setupapi.setup.log``,
Vista and later) -> a row for each section's start and end, and for each boot session.

The log opens with a ``[Device Install Log]`` header (``OS Version = ...``), then
``[Boot Session: 2015/11/22 17:52:29.492]`` lines and sections::

    >>>  [Device Install (Hardware initiated) - USB\\VID_0781&PID_5567\\4C530001231223112423]
    >>>  Section start 2019/02/12 14:26:45.123
         ump: ... (body lines, ``!`` warnings, ``!!!`` errors)
    <<<  Section end 2019/02/12 14:26:46.002
    <<<  [Exit status: SUCCESS]

A section's start row is ``Installed`` when its title is a device install (the first time a
device, a USB stick say, was set up on the machine) and ``Event Recorded`` otherwise; the end
row carries the exit status. Device instance ids in the title become fields (``vid``,
``pid``, ``serial`` for ``USB\\VID_xxxx&PID_xxxx\\<serial>``; ``vendor``, ``product``,
``revision``, ``serial`` for ``USBSTOR\\Disk&Ven_..&Prod_..&Rev_..\\<serial>&0``); a serial whose
second character is ``&`` was made up by Windows (the device has none) and is given as
``instance`` only. USB instance ids named in a section's body (``set: USB\\VID_...``) are listed
in the start row's ``usb_devices``. Times are the host's local time: read in
``Options.timezone``, stated in the ``time_zone`` field. Windows XP's ``setupapi.log`` is a
different format and is not read here.

References: Microsoft Learn, "SetupAPI Device Installation Log Entries" / "Format of a
Text Log Section" and "Format of a Text Log Section Header"; SANS "USB Device Tracking"
(setupapi.dev.log first-install times).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, BinaryIO

import pyarrow as pa

from forensics.timeutil import local_to_utc
from parsers.base import Options, Parser, ParseWarning, row_message
from parsers.textlog import Row, batched, head_lines, host_zone, numbered_lines

__all__ = ["SetupApiParser", "device_fields", "read_setupapi"]

_TIME = r"(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})?)"
_TITLE = re.compile(r">>>\s+\[(?P<title>.*)\]\s*$")
_START = re.compile(rf">>>\s+Section start {_TIME}\s*$")
_END = re.compile(rf"<<<\s+Section end {_TIME}\s*$")
_EXIT = re.compile(r"<<<\s+\[Exit status:\s*(?P<status>[^\]]*)\]\s*$")
_BOOT = re.compile(rf"\[Boot Session: {_TIME}\]\s*$")
_HEADER = re.compile(r"\s+(?P<key>[A-Za-z ]+?) = (?P<value>.*)$")
_USB = re.compile(
    r"USB\\VID_(?P<vid>[0-9A-F]{4})&PID_(?P<pid>[0-9A-F]{4})[^\\\s]*\\(?P<instance>[^\s\\\]\}]+)", re.I
)
_USBSTOR = re.compile(
    r"USBSTOR\\(?P<kind>[^&\\\s]+)&Ven_(?P<vendor>[^&\\]*)&Prod_(?P<product>[^&\\]*)"
    r"(?:&Rev_(?P<revision>[^\\]*))?\\(?P<instance>[^\s\\\]\}]+)",
    re.I,
)


def device_fields(text: str) -> dict[str, str]:
    """Fields for the first USB or USBSTOR device instance id in ``text`` (a section title)."""
    fields: dict[str, str] = {}
    m = _USBSTOR.search(text)
    if m:
        fields["device_instance_id"] = m[0]
        fields.update({k: m[k] for k in ("vendor", "product", "revision") if m[k]})
        instance = m["instance"]
        serial = instance.rsplit("&", 1)[0] if re.search(r"&\d+$", instance) else instance
    elif m := _USB.search(text):
        fields.update(device_instance_id=m[0], vid=m["vid"].upper(), pid=m["pid"].upper())
        instance = serial = m["instance"]
    else:
        return fields
    fields["instance"] = instance
    if not (len(serial) > 1 and serial[1] == "&"):  # 5&35F564D4&0&1: made up by Windows
        fields["serial"] = serial
    return fields


@dataclass(slots=True)
class _Section:
    line: int
    offset: int
    title: str | None
    start: tuple[int, datetime] | None = None
    end: tuple[int, datetime] | None = None
    status: str | None = None
    errors: int = 0
    warnings: int = 0
    usb: dict[str, None] = field(default_factory=dict)


def _local(text: str, tz: tzinfo) -> datetime | None:
    try:
        return local_to_utc(
            datetime.strptime(text, "%Y/%m/%d %H:%M:%S.%f" if "." in text else "%Y/%m/%d %H:%M:%S"), tz
        )
    except ValueError:
        return None


def _rows(section: _Section, common: dict[str, str], source: str) -> Iterator[Row | ParseWarning]:
    title = section.title or "(no section title)"
    kind, _, subject = title.partition(" - ")
    install = "device install" in kind.lower()
    prefix = "device-install" if install else "setupapi"
    fields: dict[str, str | None] = {**common, "section": title, "section_kind": kind}
    if subject:
        fields["section_subject"] = subject
    fields.update(device_fields(title))
    if section.start is not None:
        line, when = section.start
        extra = dict(fields)
        if section.usb:
            extra["usb_devices"] = "; ".join(section.usb)
        yield (
            {
                "datetime": when, "timestamp_desc": "Installed" if install else "Event Recorded",
                "message": row_message(title), "source": source, "source_record": line,
                "event_provider": "SetupAPI", "event_action": f"{prefix}-section-start",
            },
            extra,
        )  # fmt: skip
    if section.end is not None:
        line, when = section.end
        status = section.status or "unknown"
        extra = {
            **fields,
            "exit_status": section.status,
            "errors": str(section.errors),
            "warnings": str(section.warnings),
        }
        yield (
            {
                "datetime": when, "timestamp_desc": "Event Recorded",
                "message": row_message(f"{title}: {status}"), "source": source, "source_record": line,
                "event_provider": "SetupAPI", "event_action": f"{prefix}-section-end", "event_code": section.status,
            },
            {k: v for k, v in extra.items() if v is not None},
        )  # fmt: skip
    if section.end is None:
        yield ParseWarning(
            f"line {section.line}", section.offset, f"section [{title}] has no end (file cut short?)", 0
        )


def read_setupapi(fh: BinaryIO, tz: tzinfo, zone_name: str, source: str) -> Iterator[Row | ParseWarning]:
    """SetupAPI text log lines -> section start/end and boot session rows."""
    common: dict[str, str] = {"time_zone": zone_name}
    section: _Section | None = None
    in_header = False
    for number, offset, text in numbered_lines(fh):
        if not text.strip():
            continue
        if text.startswith(">>>"):
            if m := _TITLE.match(text):
                if section is not None:
                    yield from _rows(section, common, source)
                section = _Section(number, offset, m["title"])
                continue
            if m := _START.match(text):
                when = _local(m[1], tz)
                if when is None:
                    yield ParseWarning(f"line {number}", offset, f"invalid time {m[1]!r}")
                    continue
                if section is None or section.start is not None:
                    if section is not None:
                        yield from _rows(section, common, source)
                    section = _Section(number, offset, None)
                    yield ParseWarning(f"line {number}", offset, "section start without a section title", 0)
                section.start = (number, when)
                continue
        elif text.startswith("<<<"):
            if (m := _END.match(text)) and section is not None:
                when = _local(m[1], tz)
                if when is None:
                    yield ParseWarning(f"line {number}", offset, f"invalid time {m[1]!r}")
                    continue
                section.end = (number, when)
                continue
            if (m := _EXIT.match(text)) and section is not None:
                section.status = m["status"].strip()
                if section.end is None:  # an exit status with no end time: the end is its line
                    yield ParseWarning(f"line {number}", offset, "exit status without a section end time")
                yield from _rows(section, common, source)
                section = None
                continue
        elif text.startswith("["):
            in_header = text.strip() == "[Device Install Log]"
            if m := _BOOT.match(text):
                when = _local(m[1], tz)
                if when is None:
                    yield ParseWarning(f"line {number}", offset, f"invalid time {m[1]!r}")
                    continue
                row: dict[str, Any] = {
                    "datetime": when, "timestamp_desc": "Event Recorded", "message": f"boot session {m[1]}",
                    "source": source, "source_record": number, "event_provider": "SetupAPI",
                    "event_action": "setupapi-boot-session",
                }  # fmt: skip
                yield row, dict(common)
            continue
        else:
            if in_header and (m := _HEADER.match(text)):
                if m["key"].strip() in ("OS Version", "Architecture"):
                    common[m["key"].strip().lower().replace(" ", "_")] = m["value"].strip()
                continue
            if section is not None:
                if text.startswith("!!!"):
                    section.errors += 1
                elif text.startswith("!"):
                    section.warnings += 1
                for pattern in (_USB, _USBSTOR):
                    for found in pattern.finditer(text):
                        section.usb.setdefault(found[0], None)
            continue
        yield ParseWarning(f"line {number}", offset, f"unexpected section line: {text[:80]!r}")
    if section is not None:
        yield from _rows(section, common, source)


class SetupApiParser(Parser):
    """Windows ``setupapi.dev.log``/``setupapi.setup.log`` -> section start/end rows (device installs)."""

    name = "windows_setupapi"

    def sniff(self, head: bytes) -> bool:
        lines = head_lines(head, 20)
        if not lines:
            return False
        if lines[0].strip() == "[Device Install Log]":
            return True
        return any(_TITLE.match(line) for line in lines) and any(_START.match(line) for line in lines)

    def parse(self, fh: BinaryIO, unit: object, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        tz, zone_name, note = host_zone(options)
        if note:
            yield note
        yield from batched(read_setupapi(fh, tz, zone_name, self.name), options.batch_rows)
