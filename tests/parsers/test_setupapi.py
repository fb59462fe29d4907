"""SetupAPI text logs: the corpus's setupapi.setup.log (Windows 10 setup in VirtualBox) through
the ingest, its local times under another zone, USB device ids, and a cut or damaged log."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from parsers import HEAD_BYTES
from parsers.base import Options, ParseWarning
from parsers.setupapi import SetupApiParser, device_fields
from tests.parsers.artifact_helpers import ARTIFACTS, claimed, ingest, rows, summary
from tests.parsers.evtx_helpers import parse_file

PARSER = SetupApiParser()
LOG = "logs/setupapi.setup.log"
NIC = "Setup online Device Install (Hardware initiated) - PCI\\VEN_8086&DEV_100E&SUBSYS_001E8086&REV_02\\3&267a616a&1&18"


def test_corpus_log(corpus: Path, tmp_path: Path) -> None:
    path = corpus / ARTIFACTS / LOG
    case, results = ingest(tmp_path, path)
    assert summary(results["setupapi.setup.log"]) == ("ok", "windows_setupapi", 33, 0, [])
    got = rows(case, path)
    # 16 sections (12 of them device installs), each a start and an end row; one boot session
    assert Counter((r["event_action"], r["timestamp_desc"]) for r in got) == {
        ("device-install-section-start", "Installed"): 12,
        ("device-install-section-end", "Event Recorded"): 12,
        ("setupapi-section-start", "Event Recorded"): 4,
        ("setupapi-section-end", "Event Recorded"): 4,
        ("setupapi-boot-session", "Event Recorded"): 1,
    }
    boot = got[0]  # line 10: [Boot Session: 2015/11/22 17:52:29.492]
    assert (boot["datetime"], boot["source_record"], boot["source"]) == (
        datetime(2015, 11, 22, 17, 52, 29, 492000, tzinfo=UTC), 10, "windows_setupapi",
    )  # fmt: skip
    assert boot["fields"] == {"time_zone": "UTC", "os_version": "10.0.10240", "architecture": "amd64"}
    start, end = got[1], got[2]  # lines 13-14: the Sysprep Specialize section
    assert (start["datetime"], start["message"]) == (
        datetime(2015, 11, 22, 17, 53, 16, 599000, tzinfo=UTC),
        "Sysprep Specialize - {51198c35-bd73-bb4d-a3cb-65bd5f2ab9cb}",
    )
    assert (end["datetime"], end["event_code"], end["message"]) == (
        datetime(2015, 11, 22, 17, 53, 52, 849000, tzinfo=UTC), "SUCCESS",
        "Sysprep Specialize - {51198c35-bd73-bb4d-a3cb-65bd5f2ab9cb}: SUCCESS",
    )  # fmt: skip
    assert {r["event_code"] for r in got if r["event_action"].endswith("-end")} == {"SUCCESS"}
    pnp = next(r for r in got if r["source_record"] == 26)  # the USB HID named in the section's body
    assert (pnp["message"], pnp["fields"]["usb_devices"]) == (
        "Setup Plug and Play Device Install", "USB\\VID_80EE&PID_0021\\5&35F564D4&0&1",
    )  # fmt: skip
    nic = [r for r in got if r["message"].startswith(NIC)]  # lines 194 and 280
    assert [(r["source_record"], r["datetime"]) for r in nic] == [
        (194, datetime(2015, 11, 22, 17, 53, 29, 395000, tzinfo=UTC)),
        (280, datetime(2015, 11, 22, 17, 53, 37, 723000, tzinfo=UTC)),
    ]
    assert {k: nic[1]["fields"][k] for k in ("section_kind", "exit_status", "errors", "warnings")} == {
        "section_kind": "Setup online Device Install (Hardware initiated)", "exit_status": "SUCCESS",
        "errors": "0", "warnings": "4",
    }  # fmt: skip
    assert sum(int(r["fields"].get("warnings", 0)) for r in got) == 14  # the file's 14 "!    " lines


def test_local_times_use_the_host_zone(corpus: Path) -> None:
    got, found = parse_file(PARSER, corpus / ARTIFACTS / LOG, Options(timezone="Europe/Berlin"))
    assert found == [] and len(got) == 33
    assert got[0]["datetime"] == datetime(2015, 11, 22, 16, 52, 29, 492000, tzinfo=UTC)  # CET, UTC+1
    assert dict(got[0]["fields"])["time_zone"] == "Europe/Berlin"


def test_usb_device_ids() -> None:
    assert device_fields("Device Install (Hardware initiated) - USB\\VID_0781&PID_5567\\4C530001231223112423") == {
        "device_instance_id": "USB\\VID_0781&PID_5567\\4C530001231223112423", "vid": "0781", "pid": "5567",
        "instance": "4C530001231223112423", "serial": "4C530001231223112423",
    }  # fmt: skip
    stor = "Device Install (Hardware initiated) - USBSTOR\\Disk&Ven_SanDisk&Prod_Cruzer&Rev_1.26\\4C5300012&0"
    assert device_fields(stor) == {
        "device_instance_id": "USBSTOR\\Disk&Ven_SanDisk&Prod_Cruzer&Rev_1.26\\4C5300012&0", "vendor": "SanDisk",
        "product": "Cruzer", "revision": "1.26", "instance": "4C5300012&0", "serial": "4C5300012",
    }  # fmt: skip
    # no serial number on the device: Windows made up the instance id
    made_up = device_fields("Device Install - USB\\VID_80EE&PID_0021\\5&35F564D4&0&1")
    assert "serial" not in made_up and made_up["instance"] == "5&35F564D4&0&1"
    assert device_fields("Setup Plug and Play Device Install") == {}


def test_cut_and_damaged_log(corpus: Path) -> None:
    lines = (corpus / ARTIFACTS / LOG).read_bytes().splitlines(keepends=True)
    usb = b"USB\\VID_0781&PID_5567\\4C530001231223112423"
    title = b">>>  [Device Install (Hardware initiated) - " + usb + b"]\r\n"
    data = (
        b"".join(lines[:21])  # the header, a boot session, a section, a section up to its end time
        + title  # line 22
        + b">>>  Section start 2019/02/30 14:26:45.123\r\n"  # line 23: no 30 February
        + b">>>  Something else entirely\r\n"  # line 24
        + b"<<<  Section end 2019/02/12 14:26:46.002\r\n"  # line 25
        + b"<<<  [Exit status: FAILURE(0xe0000219)]\r\n"  # line 26
        + title  # line 27
        + b">>>  Section start 2019/02/12 14:30:00.000\r\n"  # line 28; the file ends inside the section
        + b"     ump: Creating Install Process: DrvInst.exe 14:30:00.001\r\n"
    )
    found: list[ParseWarning] = []
    got = []
    for item in PARSER.parse(io.BytesIO(data), None, Options()):
        if isinstance(item, ParseWarning):
            found.append(item)
        else:
            got.extend(dict(r, fields=dict(r["fields"])) for r in item.to_pylist())
    assert [(w.location, w.reason, w.count) for w in found] == [
        ("line 23", "invalid time '2019/02/30 14:26:45.123'", 1),
        ("line 24", "unexpected section line: '>>>  Something else entirely'", 1),
        (
            "line 27",
            f"section [Device Install (Hardware initiated) - {usb.decode()}] has no end (file cut short?)",
            0,
        ),
    ]
    assert [(r["source_record"], r["event_action"], r["event_code"]) for r in got] == [
        (10, "setupapi-boot-session", None),
        (13, "setupapi-section-start", None), (14, "setupapi-section-end", "SUCCESS"),
        (19, "setupapi-section-start", None), (21, "setupapi-section-end", None),  # its exit status cut off
        (25, "device-install-section-end", "FAILURE(0xe0000219)"),
        (28, "device-install-section-start", None),
    ]  # fmt: skip
    assert got[4]["message"] == "Setup Update Driver Package Signatures: unknown"
    last = got[-1]
    assert (last["datetime"], last["timestamp_desc"]) == (
        datetime(2019, 2, 12, 14, 30, tzinfo=UTC),
        "Installed",
    )
    assert {k: last["fields"][k] for k in ("vid", "pid", "serial")} == {
        "vid": "0781", "pid": "5567", "serial": "4C530001231223112423",
    }  # fmt: skip


def test_sniff(corpus: Path) -> None:
    assert PARSER.sniff((corpus / ARTIFACTS / LOG).read_bytes()[:HEAD_BYTES])
    assert PARSER.sniff(
        b">>>  [Device Install (Hardware initiated) - X]\r\n>>>  Section start 2019/02/12 14:26:45.123\r\n"
    )
    assert not PARSER.sniff(b">>>  [Device Install (Hardware initiated) - X]\r\n")
    xp = b"[SetupAPI Log]\r\n[2010/01/01 12:00:00 1234.5]\r\n"  # Windows XP's setupapi.log: another format
    assert not PARSER.sniff(xp)


def test_claims_nothing_else(corpus: Path) -> None:
    assert claimed(corpus, PARSER) == [f"{ARTIFACTS}/{LOG}"]
