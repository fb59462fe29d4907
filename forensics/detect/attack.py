"""MITRE ATT&CK names, offline, and the ATT&CK Navigator layer of a case's findings.

Technique and tactic names come from the copy of ATT&CK Enterprise that pySigma 0.11 ships
(``sigma.data.mitre_attack``, ATT&CK v17): nothing is fetched at run time, so a case on an
isolated analysis machine reads the same as anywhere. Rule tags name techniques in several
spellings (``attack.t1059.001``, ``T1059.001``, ``t1059``); ``technique_id`` makes them one.

The layer (Navigator layer format 4.5) scores each technique by the number of findings on it,
with a comment listing the rules, so the case's coverage can be opened in the ATT&CK Navigator
(https://mitre-attack.github.io/attack-navigator/) next to a threat group's own layer.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from sigma.data.mitre_attack import (
    mitre_attack_tactics,
    mitre_attack_techniques,
    mitre_attack_techniques_tactics_mapping,
    mitre_attack_version,
)

__all__ = [
    "ATTACK_VERSION",
    "TACTICS",
    "navigator_layer",
    "tactic_name",
    "tactics_of",
    "technique_id",
    "technique_name",
]

ATTACK_VERSION = mitre_attack_version
_TECHNIQUE = re.compile(r"^(?:attack\.)?(t\d{4}(?:\.\d{3})?)$", re.IGNORECASE)
#: Tactic short names (``initial-access``) -> display names (``Initial Access``).
_TACTIC_NAMES = {
    short: short.replace("-", " ").title().replace("And", "and") for short in mitre_attack_tactics.values()
}
#: Enterprise tactics (short names) in the matrix's column order, reconnaissance to impact.
TACTICS = (
    "reconnaissance", "resource-development", "initial-access", "execution", "persistence",
    "privilege-escalation", "defense-evasion", "credential-access", "discovery", "lateral-movement",
    "collection", "command-and-control", "exfiltration", "impact",
)  # fmt: skip
assert set(TACTICS) == set(mitre_attack_tactics.values()), "ATT&CK's tactics changed"


def technique_id(tag: str) -> str | None:
    """``attack.t1059.001`` / ``T1059.001`` / ``t1059`` -> ``T1059.001`` / ``T1059``; None when
    the tag names no technique."""
    found = _TECHNIQUE.match(tag.strip())
    return found.group(1).upper() if found else None


def technique_name(technique: str) -> str | None:
    """``T1059.001`` -> ``Command and Scripting Interpreter: PowerShell`` (the parent's name
    first for a sub-technique, as ATT&CK writes it); None for an unknown id."""
    name = mitre_attack_techniques.get(technique)
    if name is None:
        return None
    parent = technique.split(".")[0]
    if parent != technique and parent in mitre_attack_techniques:
        return f"{mitre_attack_techniques[parent]}: {name}"
    return name


def tactics_of(technique: str) -> list[str]:
    """The tactics (short names) a technique serves: ``T1059.001`` -> ``["execution"]``."""
    return list(mitre_attack_techniques_tactics_mapping.get(technique, []))


def tactic_name(tactic: str) -> str:
    """``command-and-control`` -> ``Command and Control``."""
    return _TACTIC_NAMES.get(tactic, tactic)


def navigator_layer(findings: Iterable[dict[str, Any]], name: str = "Tracehound findings") -> dict[str, Any]:
    """An ATT&CK Navigator layer (format 4.5) from findings (dicts with ``techniques`` and
    ``rule_title``): one entry per technique, scored by its number of findings."""
    counts: Counter[str] = Counter()
    rules: defaultdict[str, set[str]] = defaultdict(set)
    for finding in findings:
        for technique in finding.get("techniques") or []:
            counts[technique] += 1
            rules[technique].add(str(finding.get("rule_title") or finding.get("rule_id")))
    top = max(counts.values(), default=1)
    return {
        "name": name,
        "versions": {"attack": ATTACK_VERSION.split(".")[0], "navigator": "5.1.0", "layer": "4.5"},
        "domain": "enterprise-attack",
        "description": f"{sum(counts.values())} findings on {len(counts)} techniques (ATT&CK v{ATTACK_VERSION})",
        "sorting": 3,
        "gradient": {"colors": ["#ffe766", "#ff6666"], "minValue": 0, "maxValue": top},
        "techniques": [
            {
                "techniqueID": technique,
                "score": count,
                "comment": "; ".join(sorted(rules[technique])),
                "enabled": True,
                "showSubtechniques": True,
            }
            for technique, count in sorted(counts.items())
        ],
    }
