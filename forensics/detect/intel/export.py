"""``export_seen``: the indicators that matched in a case, as a blocklist or a STIX 2.1 bundle.

A plain blocklist (values grouped by kind, for firewalls and DNS sinkholes) or a STIX 2.1 bundle
of Indicators and Sightings created by the identity "Tracehound", checked by parsing it back with
``stix2``. What was seen is read back from the case's stored ``ioc`` findings.

Reference: OASIS STIX 2.1 (docs.oasis-open.org/cti/stix/v2.1).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from forensics.detect.intel.indicators import KINDS, _name_pattern, _short, _time
from forensics.detect.intel.match import ENGINE, _matched_values

if TYPE_CHECKING:
    from forensics.case import Case

_NAMESPACE = uuid.UUID("5c8f3a8e-2f0e-4f43-9a55-8f1f6f0c7e11")  # Tracehound's, for stable STIX ids


def seen_indicators(case: Case) -> list[dict[str, Any]]:
    """One entry per (kind, indicator value) that matched in the case, in ``KINDS`` order."""
    rows = case.arrow(
        f"""
        SELECT matched, rule_id, datetime, host_name, techniques, tactics, row_file, row_number
        FROM findings WHERE engine = '{ENGINE}'
        """
    ).to_pylist()
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        entries = dict(row["matched"] or {})
        for kind, value in _matched_values(row["matched"]):
            have = merged.get((kind, value))
            if have is None:
                have = merged[(kind, value)] = {
                    "kind": kind,
                    "value": value,
                    "pattern": entries.get("pattern"),
                }
                have.update(first=None, last=None, rows=set(), hosts=set(), rules=set())
                have.update(techniques=set(), tactics=set(), sources=set())
            have["rows"].add((row["row_file"], row["row_number"]))
            when = row["datetime"]
            if when is not None:
                have["first"] = when if have["first"] is None else min(have["first"], when)
                have["last"] = when if have["last"] is None else max(have["last"], when)
            if row["host_name"]:
                have["hosts"].add(row["host_name"])
            have["rules"].add(row["rule_id"])
            have["techniques"].update(row["techniques"] or [])
            have["tactics"].update(row["tactics"] or [])
            if entries.get("source"):
                have["sources"].add(entries["source"])
    order = {kind: i for i, kind in enumerate(KINDS)}
    out = []
    for have in merged.values():
        have["hits"] = len(have.pop("rows"))  # rows, however many feeds named the value
        out.append(
            {**have, **{k: sorted(have[k]) for k in ("hosts", "rules", "techniques", "tactics", "sources")}}
        )
    return sorted(out, key=lambda r: (order.get(r["kind"], len(KINDS)), r["value"]))


def blocklist(seen: list[dict[str, Any]], case_name: str) -> str:
    """``seen_indicators`` as a blocklist: values one per line, grouped by kind under ``#`` headers."""
    lines = [f"# Tracehound: {len(seen)} indicators seen in case {case_name}"]
    for kind in KINDS:
        values = [row["value"] for row in seen if row["kind"] == kind]
        if values:
            lines += ["", f"# {kind} ({len(values)})", *values]
    return "\n".join(lines) + "\n"


def _stix_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _stix_pattern(kind: str, value: str, pattern: str | None) -> str:
    if kind == "cidr":
        family = "ipv6-addr" if ":" in value else "ipv4-addr"
        return f"[{family}:value ISSUBSET {_stix_string(value)}]"
    paths = {
        "ipv4": "ipv4-addr:value", "ipv6": "ipv6-addr:value", "domain": "domain-name:value",
        "url": "url:value",
        "email": "email-addr:value", "md5": "file:hashes.MD5", "sha1": "file:hashes.'SHA-1'",
        "sha256": "file:hashes.'SHA-256'",
    }  # fmt: skip
    if kind in paths:
        return f"[{paths[kind]} = {_stix_string(value)}]"
    if kind == "filename":
        if (pattern and pattern != _name_pattern(value)) or re.search(r"[\\/]", value):
            return f"[file:name MATCHES {_stix_string(pattern or value)}]"  # a regex over the path
        if re.search(r"[*?]", value):
            like = value.replace("%", r"\%").replace("_", r"\_").replace("*", "%").replace("?", "_")
            return f"[file:name LIKE {_stix_string(like)}]"
        return f"[file:name = {_stix_string(value)}]"
    raise ValueError(f"unknown kind {kind!r}")


def export_seen(
    case: Case,
    path: str | Path,
    format: str = "blocklist",
    *,
    indicators: pd.DataFrame | None = None,
) -> Path:
    """Write the indicators that matched in ``case`` (its ``ioc`` findings) to ``path``:
    ``format="blocklist"``, values one per line grouped by kind under ``#`` headers (for
    firewalls and DNS sinkholes), or ``"stix"``, a STIX 2.1 bundle: the identity "Tracehound",
    an Indicator per value (pattern, valid_from, labels, ATT&CK) and a Sighting of it (count,
    first and last seen in the case). ``indicators`` (the loaded table) supplies the original
    valid_from, labels and descriptions; without it valid_from is the first sighting."""
    if format not in ("blocklist", "stix"):
        raise ValueError(f"format must be 'blocklist' or 'stix', not {format!r}")
    seen = seen_indicators(case)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if format == "blocklist":
        out.write_text(blocklist(seen, case.root.name), encoding="utf-8")
        return out
    text = _stix_bundle(case, seen, indicators)
    out.write_text(text, encoding="utf-8")
    return out


def _stix_bundle(case: Case, seen: list[dict[str, Any]], indicators: pd.DataFrame | None) -> str:
    import stix2

    details: dict[tuple[str, str], dict[str, Any]] = {}
    if indicators is not None and len(indicators):
        for row in indicators.to_dict("records"):
            details.setdefault((str(row["kind"]), str(row["value"])), row)
    now = datetime.now(UTC)
    identity = stix2.Identity(
        id=f"identity--{uuid.uuid5(_NAMESPACE, 'Tracehound')}", name="Tracehound", identity_class="system",
        created=datetime(2026, 1, 1, tzinfo=UTC), modified=datetime(2026, 1, 1, tzinfo=UTC),
        description="Tracehound forensic workbench: indicators seen in a case",
    )  # fmt: skip
    objects: list[Any] = [identity]
    for row in seen:
        info = details.get((row["kind"], row["value"]), {})
        first = row["first"]
        valid_from = _time(info.get("valid_from")) if pd.notna(info.get("valid_from", None)) else None
        labels = [str(x) for x in (info.get("labels") if info.get("labels") is not None else [])]
        external = [{"source_name": "mitre-attack", "external_id": t} for t in row["techniques"]]
        phases = [{"kill_chain_name": "mitre-attack", "phase_name": t} for t in row["tactics"]]
        description = info.get("description") if isinstance(info.get("description"), str) else None
        indicator = stix2.Indicator(
            id=f"indicator--{uuid.uuid5(_NAMESPACE, row['kind'] + chr(31) + row['value'])}",
            created_by_ref=identity.id, created=now, modified=now,
            name=f"{row['kind']} {_short(row['value'])}",
            description=description or f"Seen in case {case.root.name} ({', '.join(row['sources'])})",
            indicator_types=["malicious-activity"],
            pattern=_stix_pattern(row["kind"], row["value"], row["pattern"]),
            pattern_type="stix", pattern_version="2.1", valid_from=valid_from or first or now,
            labels=list(dict.fromkeys(["tracehound-seen", row["kind"], *labels])),
            kill_chain_phases=phases or None, external_references=external or None,
        )  # fmt: skip
        sighting = stix2.Sighting(
            id=f"sighting--{uuid.uuid5(_NAMESPACE, chr(31).join(['seen', case.root.name, indicator.id]))}",
            created_by_ref=identity.id, created=now, modified=now, sighting_of_ref=indicator.id,
            count=int(row["hits"]), first_seen=first, last_seen=row["last"] if first else None,
            description=f"{row['hits']} timeline rows of case {case.root.name}"
            + (f" on {', '.join(row['hosts'])}" if row["hosts"] else ""),
        )  # fmt: skip
        objects += [indicator, sighting]
    bundle = stix2.Bundle(objects=objects, allow_custom=False)
    text = bundle.serialize(pretty=True)
    parsed = stix2.parse(text, allow_custom=False)  # validation: what we wrote reads back
    if len(parsed.objects) != len(objects):
        raise RuntimeError("the STIX bundle did not read back whole")
    return text + "\n"
