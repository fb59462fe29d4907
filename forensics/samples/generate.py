"""Write the whole sample case: every artifact, its ground truth and a README.

Layout of the case folder (paths are what ``ground_truth.json`` refers to)::

    WS01/*.evtx                 Sysmon, Security (cleared at S17), PowerShell, System
    WS01/files/                 invoice.docm and msupdate.exe, collected by the responders
    SRV01/srv01.img             raw ext4 image of the Linux server (clock in Europe/Berlin)
    network/lan-tap.pcapng      the LAN tap, 08:00-13:00 UTC on the attack day
    intel/                      STIX 2.1 bundle, CSV IOC list, YARA rules
    ground_truth.json           the chain, the malicious entities, the root cause
    README.md                   the story
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from forensics import __version__
from forensics.integrity import sha256_file
from forensics.samples import intel, linux, network, payloads, story, windows
from forensics.samples.story import Attack
from forensics.samples.truth import ArtifactReport

__all__ = ["GENERATORS", "generate_case"]

#: Each artifact family's generator, in the order they are written.
GENERATORS: tuple[Callable[[Path, Attack, int, int], list[ArtifactReport]], ...] = (
    windows.generate,
    linux.generate,
    network.generate,
    intel.generate,
)


def _iso(when: datetime) -> str:
    return when.astimezone(story.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ground_truth(
    out: Path, plan: Attack, reports: list[ArtifactReport], seed: int, scale: int
) -> dict[str, Any]:
    """The answer key: ordered steps with their evidence, entities, root cause, noise."""
    refs = [ref for report in reports for ref in report.refs]
    steps = []
    for step in plan.steps:
        evidence = sorted((r for r in refs if r.step == step.id), key=lambda r: (r.time, r.artifact))
        steps.append({
            "id": step.id, "time": _iso(step.time), "host": step.host, "actor": step.actor, "action": step.action,
            "object": step.object, "technique": step.technique, "tactic": step.tactic,
            "evidence": [{"artifact": r.artifact, "time": _iso(r.time), "locator": r.locator, "what": r.what}
                         for r in evidence],
        })  # fmt: skip
    noise: dict[str, dict[str, int | float]] = {}
    for report in reports:
        if report.events:
            entry = noise.setdefault(report.host, {"events": 0, "malicious": 0})
            entry["events"] += report.events
            entry["malicious"] += report.malicious
    for entry in noise.values():
        benign = entry["events"] - entry["malicious"]
        entry["benign_per_malicious"] = round(benign / entry["malicious"], 1) if entry["malicious"] else None
    first = plan.steps[0]
    return {
        "case": out.name,
        "generator": f"tracehound {__version__} forensics.samples",
        "seed": seed,
        "scale": scale,
        "window": {
            "start": _iso(story.START),
            "collected": _iso(story.COLLECTED),
            "capture": [_iso(story.CAPTURE_START), _iso(story.CAPTURE_END)],
        },
        "hosts": [
            {"name": h.name, "fqdn": h.fqdn, "ip": h.ip, "mac": h.mac, "os": h.os, "timezone": h.timezone}
            for h in (story.WS01, story.SRV01, story.DC01, story.GATEWAY)
        ],
        "root_cause": {
            "step": first.id,
            "time": _iso(first.time),
            "host": first.host,
            "action": first.action,
            "object": first.object,
            "technique": first.technique,
        },
        "steps": steps,
        "entities": _entities(),
        "artifacts": [
            {
                "artifact": r.artifact,
                "host": r.host,
                "kind": r.kind,
                "size": (out / r.artifact).stat().st_size,
                "sha256": sha256_file(out / r.artifact),
                "events": r.events,
                "malicious": r.malicious,
            }
            for r in reports
        ],
        "noise": noise,
    }


def _entities() -> dict[str, list[dict[str, str]]]:
    """What an investigator should end up marking as malicious."""
    return {
        "accounts": [
            {"name": "CORP\\alice", "host": "WS01", "role": "victim: opened the attachment"},
            {
                "name": "bob",
                "host": "SRV01",
                "role": "stolen: password dumped from LSASS on WS01, used over SSH",
            },
        ],
        "processes": [
            {
                "host": "WS01",
                "image": "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE",
                "role": "opened the dropper",
            },
            {
                "host": "WS01",
                "image": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                "role": "encoded download cradle",
            },
            {"host": "WS01", "image": story.PAYLOAD_PATH, "role": "implant"},
            {"host": "WS01", "image": "C:\\Windows\\System32\\schtasks.exe", "role": "persistence"},
            {
                "host": "WS01",
                "image": "C:\\Windows\\System32\\rundll32.exe",
                "role": "LSASS dump via comsvcs.dll",
            },
            {"host": "WS01", "image": "C:\\Windows\\System32\\OpenSSH\\ssh.exe", "role": "lateral movement"},
            {"host": "WS01", "image": "C:\\Windows\\System32\\wevtutil.exe", "role": "log clearing"},
            {"host": "SRV01", "image": story.TOOL_PATH, "role": "backdoor run by cron"},
        ],
        "files": [
            {"host": "WS01", "path": story.ATTACHMENT, "sha256": story.sha256(payloads.dropper())},
            {"host": "WS01", "path": story.PAYLOAD_PATH, "sha256": story.sha256(payloads.payload())},
            {"host": "WS01", "path": story.DUMP_PATH, "sha256": ""},
            {"host": "SRV01", "path": story.TOOL_PATH, "sha256": story.sha256(payloads.tool())},
            {"host": "SRV01", "path": story.ARCHIVE_PATH, "sha256": story.sha256(payloads.archive())},
            {"host": "SRV01", "path": "/var/spool/cron/crontabs/bob", "sha256": ""},
        ],
        "registry": [{"host": "WS01", "key": story.RUN_KEY, "value": story.PAYLOAD_PATH}],
        "scheduled_tasks": [{"host": "WS01", "name": story.TASK_NAME, "command": story.PAYLOAD_PATH}],
        "addresses": [
            {"ip": story.PAYLOAD_HOST.ip, "role": "payload and tool server"},
            {"ip": story.C2.ip, "role": "C2 (HTTPS beacon)"},
            {"ip": story.EXFIL.ip, "role": "exfiltration server"},
        ],
        "domains": [
            {"name": story.LOOKALIKE, "role": "look-alike payload domain"},
            {"name": story.C2.names[0], "role": "C2 domain (TLS SNI)"},
            {"name": story.EXFIL.names[0], "role": "exfiltration host name"},
        ],
    }


_README = """# Sample case {name}: phishing to exfiltration across two hosts

Generated by `python -m forensics.samples --out DIR --seed {seed} --scale {scale}`: every
byte here comes from the project's own generator, deterministic for a given seed. Nothing is
real: addresses are documentation ranges, domains are under example.com/.net/.org, the
"malware" is inert bytes with the right shape and strings.

## The story
The office of a small company: **WS01** ({ws_ip}, Windows 10, user alice) and **SRV01**
({srv_ip}, Ubuntu 22.04 with ssh, an nginx web app and the finance share in /srv/data, clock
in Europe/Berlin), DC01 ({dc_ip}) for DNS, one gateway ({gw_ip}). On Monday bob from IT fixed
alice's Outlook with an elevated console on WS01, which left his credentials in LSASS.
On Tuesday {day}:

| step | time (UTC) | host | who | what | ATT&CK |
|---|---|---|---|---|---|
{steps}

The responders collected the evidence at {collected} UTC. Everything else in the artifacts is
routine work over the two days: logons, applications, services, an hourly inventory
script, browsing, intranet use, bob's admin sessions, cron jobs; at least 50 benign
events for every malicious one on each host and on the wire (see `ground_truth.json`,
`noise`).

## What is here
| artifact | host | events | of which malicious |
|---|---|---|---|
{artifacts}

Quirks worth knowing, as in real cases: the Security log was cleared at S17, so it starts
with event 1102 and nothing before it remains (Sysmon kept the earlier activity); SRV01's
logs are in local time (CET, UTC+1) without a year; bob's shell history was truncated but
bash wrote the attack session back at logout; the capture covers only 08:00-13:00 UTC.

## Ground truth
`ground_truth.json` lists the steps in order with every record that shows them (EVTX record
ids, packet numbers, file and line inside the image), the malicious entities, and the root
cause: the first malicious action, {root}. Later stages (detection, root cause, report) are
scored against it.
"""


def readme(truth: dict[str, Any]) -> str:
    steps = "\n".join(
        f"| {s['id']} | {s['time'][11:19]} | {s['host']} | {s['actor']} | {s['action']}: `{s['object']}` | {s['technique']} |"
        for s in truth["steps"]
    )
    artifacts = "\n".join(
        f"| `{a['artifact']}` | {a['host']} | {a['events'] or '-'} | {a['malicious'] or '-'} |"
        for a in truth["artifacts"]
    )
    root = truth["root_cause"]
    return _README.format(
        name=truth["case"], seed=truth["seed"], scale=truth["scale"], ws_ip=story.WS01.ip,
        srv_ip=story.SRV01.ip, dc_ip=story.DC01.ip, gw_ip=story.GATEWAY.ip, day=story.ATTACK_DAY.date(),
        steps=steps, collected=truth["window"]["collected"][11:16], artifacts=artifacts,
        root=f"{root['step']} at {root['time']}, {root['action']} ({root['object']})",
    )  # fmt: skip


def generate_case(out: Path, seed: int = 1, scale: int = 1) -> dict[str, Any]:
    """Write the case into ``out`` (created; existing files overwritten) and return its truth."""
    out.mkdir(parents=True, exist_ok=True)
    plan = story.attack(seed)
    reports = [report for make in GENERATORS for report in make(out, plan, seed, scale)]
    truth = ground_truth(out, plan, reports, seed, scale)
    (out / "ground_truth.json").write_text(
        json.dumps(truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (out / "README.md").write_text(readme(truth), encoding="utf-8")
    return truth
