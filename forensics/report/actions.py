"""Containment, eradication, recovery and lessons learned, drawn from what the case shows.

The phases of incident response after analysis (NIST SP 800-61): each action names what was
found that calls for it, with the evidence rows, so a responder can check why it is there.
Rules look at the chain's steps (what was run, written, set, scheduled, who logged on where,
what left the network) and the findings' ATT&CK techniques; nothing is listed for what the
evidence does not show.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from forensics.detect.beacons import is_external
from forensics.detect.yara.results import ON_DISK
from forensics.graph.chain import Step

if TYPE_CHECKING:
    from forensics.report.content import Affected, Report, Statement

__all__ = ["PHASES", "actions"]

PHASES = ("containment", "eradication", "recovery", "lessons learned")
_TASK = re.compile(r"/tn\s+\"?([^\"/]+?)\"?\s+/", re.IGNORECASE)
#: Programs the system ships (a LOLBin calling out is stopped, not deleted).
_SYSTEM = re.compile(r'^"?(c:\\windows\\|%systemroot%|/usr/|/bin/|/sbin/)|^(powershell|cmd|rundll32|wevtutil|schtasks|ssh)(\.exe)?\b',
                     re.IGNORECASE)  # fmt: skip
_AUTOSTART = re.compile(r"\\(run|runonce|winlogon|services)(\\|$)", re.IGNORECASE)


def _steps(report: Report, test: Callable[[Step], bool]) -> list[Step]:
    return [s for s in report.chain.steps if test(s)] if report.chain else []


def _first_on(report: Report, host: str) -> list[Step]:
    """The chain's first step on ``host`` (as a list, for ``_say``)."""
    return _steps(report, lambda s: s.host == host)[:1]


def _say(report: Report, text: str, steps: list[Step]) -> Statement:
    from forensics.report.content import Statement

    refs = [ref for s in steps[:3] for ref in report.references.cite(s.evidence, 1)[0]]
    return Statement(text, refs)


def _techniques(report: Report) -> set[str]:
    found = {t for g in report.findings for t in g.techniques}
    found |= {t for row in report.chain_rows for t in row.step.techniques}
    return found


def _chain_hosts(report: Report) -> Iterator[tuple[Affected, list[Step]]]:
    """The hosts the chain has steps on, each with its first step (to cite)."""
    for host in report.hosts:
        if host.steps:
            yield host, _first_on(report, host.name)


def _containment(report: Report) -> Iterator[Statement]:
    for host, first in _chain_hosts(report):
        yield _say(report, f"Isolate {host.name} from the network ({host.role}, {host.steps} chain steps "
                           f"from {host.first[:19]}Z); keep it powered for memory capture.", first)  # fmt: skip
    remote = [
        a for a in (report.chain.impact.get("remote_addresses", []) if report.chain else []) if is_external(a)
    ]
    domains = sorted({s.object for s in _steps(report, lambda s: s.action == "resolved")})
    if remote or report.indicators:
        shown = ", ".join([*remote, *domains][:8])
        yield _say(report, f"Block at the egress firewall, proxy and DNS: {shown}; and every value in the "
                           f"blocklist below ({len(report.indicators)} indicators seen).",
                   _steps(report, lambda s: s.action in ("connected", "resolved") and
                          (s.object in remote or s.object in domains)))  # fmt: skip
    for account in report.accounts:
        said = _say(report, f"Disable {account.name} or reset its password and end its sessions "
                            f"(first use: {account.evidence.text}).", [])  # fmt: skip
        said.refs = list(account.evidence.refs)
        yield said
    dumps = _steps(report, lambda s: s.action == "accessed" and "lsass" in s.object.lower())
    if dumps or any(t.startswith("T1003") for t in _techniques(report)):
        hosts = sorted({s.host for s in dumps}) or ["the affected hosts"]
        yield _say(report, f"Credentials were read from LSASS on {', '.join(hosts)}: treat every account with "
                           f"a session there since the intrusion as stolen and reset it (administrators first).",
                   dumps)  # fmt: skip


def _eradication(report: Report) -> Iterator[Statement]:
    for step in _steps(report, lambda s: s.action == "set" and _AUTOSTART.search(s.text or s.object)):
        yield _say(report, f"Remove the autostart value {step.text or step.object} on {step.host}.", [step])
    for step in _steps(report, lambda s: "schtasks" in s.object.lower() and "/create" in s.text.lower()):
        task = _TASK.search(step.text)
        yield _say(report, f"Delete the scheduled task {task.group(1) if task else step.text} on {step.host}.",
                   [step])  # fmt: skip
    for step in _steps(
        report, lambda s: "crontab" in s.object and s.action in ("replaced", "created", "set")
    ):
        yield _say(report, f"Restore {step.object} on {step.host} to its state before {step.time[:19]}Z "
                           f"(the jobs it ran are in the chain).", [step])  # fmt: skip
    for step in _steps(report, lambda s: "service" in s.action or s.object.lower().startswith("service")):
        yield _say(report, f"Remove the service {step.object} on {step.host}.", [step])
    dropped = _steps(report, lambda s: s.action == "created" and s.object)
    if dropped:
        names = ", ".join(dict.fromkeys(f"{s.text or s.object} ({s.host})" for s in dropped))
        yield _say(report, f"Preserve (hash, copy) then delete what the intrusion wrote: {names}.", dropped)
    started = _steps(report, lambda s: s.action in ("spawned", "started") and not _SYSTEM.search(s.text))
    implants = [s for s in started if any(t.actor == s.object for t in report.chain.steps if t.action == "connected"
                                          and is_external(t.object))]  # fmt: skip
    for step in implants[:3]:
        yield _say(report, f"Stop {step.object} on {step.host} and remove its image: it called outside "
                           f"addresses.", [step])  # fmt: skip


def _recovery(report: Report) -> Iterator[Statement]:
    for host, first in _chain_hosts(report):
        yield _say(report, f"Rebuild {host.name} from known-good media or a backup from before "
                           f"{host.first[:19]}Z, then patch and restore its data.", first)  # fmt: skip
    sent = report.chain.impact.get("sent_out", []) if report.chain else []
    if sent:
        yield _say(report, f"Assess the data that left: {'; '.join(sent)}. Decide on notification (legal, "
                           f"customers, regulator) from what the archive held.",
                   _steps(report, lambda s: s.action in ("ran", "connected") and "upload" in s.text))  # fmt: skip
    cleared = _steps(report, lambda s: "wevtutil" in s.object.lower() or "clear" in s.text.lower())
    if cleared or "T1070.001" in _techniques(report):
        yield _say(report, "Re-enable and check the logging the attacker cleared, and watch the restored hosts "
                           "for the blocklist's values for at least 30 days.", cleared)  # fmt: skip


def _lessons(report: Report) -> Iterator[Statement]:
    root = report.chain.root_cause if report.chain else None
    techniques = _techniques(report)
    if root is not None and (root.actor.lower() == "outlook.exe" or "T1566.001" in techniques):
        yield _say(report, f"The entry was a mail attachment ({root.object}) opened by the user: block macros in "
                           f"documents from the internet and detonate attachments before delivery.", [root])  # fmt: skip
    elif root is not None:
        yield _say(
            report, f"The entry was {root.actor} {root.action} {root.object}: close that path.", [root]
        )
    encoded = _steps(report, lambda s: "powershell" in s.object.lower() and " -enc" in s.text.lower())
    if encoded:
        yield _say(report, "An Office process started encoded PowerShell: alert on it, and use PowerShell's "
                           "constrained language mode for users.", encoded)  # fmt: skip
    dumps = _steps(report, lambda s: s.action == "accessed" and "lsass" in s.object.lower())
    if dumps:
        yield _say(report, "An administrator's credentials were in a workstation's memory: enable LSA protection "
                           "(Credential Guard) and keep administrators off workstations (tiered accounts).",
                   dumps)  # fmt: skip
    ssh = _steps(report, lambda s: s.action == "logged on" and ":22 " in f"{s.actor} ")
    if ssh:
        yield _say(report, "A password SSH logon from a workstation reached the server: require keys or MFA and "
                           "allow SSH only from administration hosts.", ssh)  # fmt: skip
    beacons = _steps(report, lambda s: s.action == "connected" and s.count > 5 and is_external(s.object))
    if beacons:
        yield _say(report, "A workstation called an outside address at a regular interval for hours: alert on "
                           "beacons and send workstations' web traffic through the proxy only.", beacons)  # fmt: skip
    cleared = _steps(report, lambda s: "wevtutil" in s.object.lower())
    if cleared:
        yield _say(
            report, "The attacker cleared a log: forward logs off the host as they are written.", cleared
        )
    severe = [
        g for g in report.findings if g.level in ("critical", "high") and g.first and g.dated_by != ON_DISK
    ]
    if severe and report.chain and report.chain.steps:
        first = min(severe, key=lambda g: g.first)
        said = _say(report, f"Detection: the first high finding ({first.title}) is at {first.first[:19]}Z, "
                            f"the first malicious step at {report.chain.steps[0].time[:19]}Z; run these rules live.",
                    report.chain.steps[:1])  # fmt: skip
        said.refs += first.evidence.refs[:1]
        yield said


def actions(report: Report) -> dict[str, list[Statement]]:
    """The four phases' actions for ``report`` (phase -> statements, each with its evidence)."""
    rules = {"containment": _containment, "eradication": _eradication, "recovery": _recovery,
             "lessons learned": _lessons}  # fmt: skip
    out = {}
    for phase in PHASES:
        seen: dict[str, Statement] = {}
        for statement in rules[phase](report):
            seen.setdefault(statement.text, statement)
        out[phase] = list(seen.values())
    return out
