"""ATT&CK names offline (pySigma's copy of ATT&CK v17) and the Navigator layer of findings."""

from __future__ import annotations

import json

from forensics.detect.attack import (
    ATTACK_VERSION,
    navigator_layer,
    tactic_name,
    tactics_of,
    technique_id,
    technique_name,
)


def test_technique_ids_from_the_spellings_rules_use() -> None:
    assert [technique_id(t) for t in ("attack.t1059.001", "T1566.001", "t1105", "attack.execution", "car.2016")] == [
        "T1059.001", "T1566.001", "T1105", None, None,
    ]  # fmt: skip


def test_names_and_tactics_without_network() -> None:
    assert ATTACK_VERSION == "17.0"
    assert technique_name("T1059.001") == "Command and Scripting Interpreter: PowerShell"
    assert technique_name("T1566.001") == "Phishing: Spearphishing Attachment"
    assert technique_name("T1105") == "Ingress Tool Transfer"
    assert technique_name("T9999") is None
    assert tactics_of("T1071.001") == ["command-and-control"]
    assert tactic_name("command-and-control") == "Command and Control"
    assert tactic_name("initial-access") == "Initial Access"


def test_navigator_layer_scores_techniques_by_findings() -> None:
    findings = [
        {"rule_title": "Encoded PowerShell", "techniques": ["T1059.001"]},
        {"rule_title": "Office spawns PowerShell", "techniques": ["T1059.001", "T1204.002"]},
        {"rule_title": "IOC domain", "techniques": []},
    ]
    layer = navigator_layer(findings)
    assert layer["versions"] == {"attack": "17", "navigator": "5.1.0", "layer": "4.5"}
    assert [(t["techniqueID"], t["score"], t["comment"]) for t in layer["techniques"]] == [
        ("T1059.001", 2, "Encoded PowerShell; Office spawns PowerShell"),
        ("T1204.002", 1, "Office spawns PowerShell"),
    ]
    assert layer["gradient"]["maxValue"] == 2
    json.dumps(layer)  # serialisable as the Navigator reads it
