"""Chains on real recordings nobody here wrote: mdecrevoisier's EVTX_full_APT_attack_steps (one
lateral-movement technique per file, recorded on a lab domain). Each test states what the
recording documents, starts from the row of the technique's effect, and checks that the chain
goes back to the attacker's entry and through the documented steps, each with its record."""

from __future__ import annotations

from pathlib import Path

import pytest

from forensics import Case
from forensics.graph import Chain, case_chain

FOLDER = "evtx/evtx-to-mitre-attack/EVTX_full_APT_attack_steps"


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Case:
    case = Case.open(tmp_path_factory.mktemp("apt") / "case")
    case.ingest([corpus / FOLDER], jobs=2)
    return case


def _root(chain: Chain) -> tuple[str, str, str] | None:
    """The root cause as (actor, action, object)."""
    root = chain.root_cause
    return (root.actor, root.action, root.object) if root else None


def _steps(chain: Chain) -> list[tuple[str, str, str, list[int]]]:
    return [(s.actor, s.action, s.object, [e["source_record"] for e in s.evidence]) for s in chain.steps]


def test_atexec_remote_task(case: Case) -> None:
    """ATexec: a network logon from 10.23.123.11, the atsvc pipe, a second session of the same
    client creates task \\bouWFQYO running ``cmd.exe /C whoami > %windir%\\Temp\\bouWFQYO.tmp``,
    the Task Scheduler starts it, and the output is read back over ADMIN$."""
    chain = case_chain(case, row="ATexec remote trask creation (GLOBAL).evtx:10")  # whoami.exe started
    assert chain.root_cause is not None
    assert (chain.root_cause.actor, chain.root_cause.action, chain.root_cause.time) == (
        "10.23.123.11", "logged on", "2021-06-10T21:21:26.357649Z",
    )  # fmt: skip
    steps = _steps(chain)
    assert ("admmig@fs01 (0x5a41984)", "accessed share", "atsvc", [3]) in steps
    assert ("admmig@fs01 (0x5a41984)", "logged on", "admmig@fs01 (0x5a419bc)", [4]) in steps
    assert ("admmig@fs01 (0x5a419bc)", "created task", "task \\bouWFQYO", [5]) in steps
    assert ("task \\bouWFQYO", "ran", "cmd.exe", [5]) in steps
    assert ("admmig@fs01 (0x5a41984)", "accessed share", "bouWFQYO.tmp", [9, 11, 12]) in steps
    assert steps[-1] == ("cmd.exe", "spawned", "whoami.exe", [10])


def test_wmiexec_commands_run_in_the_attackers_session(case: Case) -> None:
    """WMIexec: logons from 10.23.123.11; WmiPrvSE.exe starts ``cmd.exe /Q /c ... 1>
    \\\\127.0.0.1\\ADMIN$\\__1619425227.894209`` in the attacker's logon session (0x4da32af), and the
    output file is read back over ADMIN$."""
    chain = case_chain(case, row="WMIexec execution via SMB (GLOBAL).evtx:60")  # the second cmd.exe
    assert chain.root_cause is not None
    assert (chain.root_cause.actor, chain.root_cause.object) == (
        "10.23.123.11",
        "admmig@srvdefender01 (0x4da32af)",
    )
    steps = _steps(chain)
    assert steps[0] == ("10.23.123.11", "logged on", "admmig@srvdefender01 (0x4da32af)", [20])
    assert ("admmig@srvdefender01 (0x4da32af)", "started", "cmd.exe", [22, 60]) in steps
    assert ("WmiPrvSE.exe", "spawned", "cmd.exe", [60]) in steps
    assert ("cmd.exe", "created", "__1619425227.894209", [22]) in steps
    assert (
        "admmig@srvdefender01 (0x4da32af)",
        "accessed share",
        "__1619425227.894209",
        [51, 52, 70, 71],
    ) in steps


def test_payload_deployed_as_a_service(case: Case) -> None:
    """A service installed over SMB (svcctl) by the session from 10.23.123.11 runs ``%COMSPEC%
    /b /c start /b /min powershell.exe -nop -w hidden ...``: services.exe starts cmd.exe, which
    starts the PowerShell payload, which starts a 32-bit PowerShell."""
    chain = case_chain(case, row="Encrypted payload deployed with service over SMB (GLOBAL).evtx:10")
    assert chain.root_cause is not None
    assert (chain.root_cause.actor, chain.root_cause.object) == (
        "10.23.123.11",
        "admmig@srvdefender01 (0x1659379)",
    )
    steps = _steps(chain)
    assert ("admmig@srvdefender01 (0x1659379)", "accessed share", "svcctl", [5]) in steps
    assert ("admmig@srvdefender01 (0x1659379)", "installed service", "service iOWamcEn", [6]) in steps
    assert ("service iOWamcEn", "ran", "cmd.exe", [6]) in steps
    assert ("cmd.exe", "spawned", "powershell.exe", [8]) in steps
    assert ("powershell.exe", "spawned", "powershell.exe", [10]) in steps


def test_psexec_service_binary_runs_cmd_as_system(case: Case) -> None:
    """PsExec64 -i -s cmd (Sysmon): PsExec64 writes C:\\Windows\\PSEXESVC.exe, whose process
    (its start not recorded, its pipes are) starts cmd.exe as SYSTEM."""
    chain = case_chain(case, row="PSexec as system execution.evtx:14")
    assert _root(chain) == ("cmd.exe", "spawned", "PsExec64.exe")
    steps = _steps(chain)
    assert ("PsExec64.exe", "created", "PSEXESVC.exe", [3]) in steps
    assert ("PSEXESVC.exe", "spawned", "cmd.exe", [14]) in steps


OTRF = "evtx/otrf-json/windows"


@pytest.fixture(scope="module")
def otrf(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Case:
    case = Case.open(tmp_path_factory.mktemp("otrf") / "case")
    case.ingest(
        [
            corpus / OTRF / "credential_access/host/psh_lsass_memory_dump_comsvcs_2020-10-18T19500924.json",
            corpus / OTRF / "defense_evasion/host/cmd_mshta_vbscript_execute_psh_2020-10-2202580804.json",
        ],
        jobs=2,
    )
    return case


def test_otrf_lsass_dump_via_comsvcs(otrf: Case) -> None:
    """OTRF SDWIN-201018195009 (T1003.001): the operator's PowerShell starts ``rundll32.exe
    comsvcs.dll MiniDump`` on lsass, which writes lsass-comsvcs.dmp. The recording starts with
    that PowerShell running: the chain's root is its first recorded act. Its second recording
    on the same host, four days later, does not leak in through lsass.exe (an access passes no
    control)."""
    chain = case_chain(otrf, row="psh_lsass_memory_dump_comsvcs_2020-10-18T19500924.json:76")
    assert _steps(chain) == [
        ("powershell.exe", "spawned", "rundll32.exe", [107]),
        ("rundll32.exe", "created", "lsass-comsvcs.dmp", [75]),
        ("rundll32.exe", "accessed", "lsass.exe", [76, 74]),
    ]
    assert chain.impact["files"] == ["C:\\Users\\wardog\\AppData\\Local\\Temp\\lsass-comsvcs.dmp"]


def test_otrf_mshta_vbscript_runs_powershell(otrf: Case) -> None:
    """OTRF SDWIN-201022025808 (T1218.005): cmd.exe starts ``mshta vbscript:Execute(...)``, whose
    script starts ``powershell -noexit -command Get-Service sysmon``. The settings mshta and
    PowerShell write as they run are one step each, counted."""
    chain = case_chain(otrf, row="cmd_mshta_vbscript_execute_psh_2020-10-2202580804.json:275")
    assert _root(chain) == ("cmd.exe", "spawned", "mshta.exe")
    steps = _steps(chain)
    assert ("mshta.exe", "spawned", "powershell.exe", [398]) in steps
    assert ("powershell.exe", "spawned", "conhost.exe", [422]) in steps
    routine = [s for s in chain.steps if s.object == "registry values"]
    assert [(s.actor, s.count) for s in routine] == [("mshta.exe", 18), ("powershell.exe", 397)]
    assert len(chain.steps) == 17
