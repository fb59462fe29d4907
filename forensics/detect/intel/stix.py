"""STIX 2.1 bundles (and 2.0-style observed-data) into indicators.

Every object is checked with ``stix2.parse``; Indicator patterns are parsed with the stix2
pattern visitor (the stix2-patterns ANTLR grammar), never with regular expressions. Comparisons
joined by OR, within or across observations, each become an indicator: ``ipv4-addr``/``ipv6-addr``
``value`` (=, IN, ISSUBSET for CIDR), ``domain-name``, ``url``, ``email-addr`` values,
``email-message`` sender and recipient refs, ``network-traffic`` ``src_ref``/``dst_ref`` values,
``file:hashes`` MD5/SHA-1/SHA-256, ``file:name`` (=, IN, MATCHES, LIKE). What cannot be matched row
by row (AND, FOLLOWEDBY, qualifiers such as REPEATS or WITHIN, negation, other object types or
properties, non-STIX pattern types) is reported per indicator id with the reason. ATT&CK ids come
from ``kill_chain_phases`` of the ``mitre-attack`` chain (phase names are tactics, or technique
ids), mitre-attack ``external_references`` and ``indicates`` relationships to attack-patterns.
Cyber-observable objects of those types (top-level SCOs, or embedded in 2.0-style observed-data)
load too, at confidence ``OBSERVED_CONFIDENCE``: they record what was seen, not that it is
malicious.

Reference: OASIS STIX 2.1 (docs.oasis-open.org/cti/stix/v2.1), part 9 "STIX Patterning".
"""

from __future__ import annotations

import re
from typing import Any

from forensics.detect.intel.indicators import (
    _TECHNIQUE,
    _Collector,
    _confidence,
    _techniques,
    _time,
    _Unusable,
)

#: Confidence of cyber observables found in a STIX bundle (seen, not necessarily malicious).
OBSERVED_CONFIDENCE = 30
_SCO_TYPES = {
    "ipv4-addr": "ip",
    "ipv6-addr": "ip",
    "domain-name": "domain",
    "url": "url",
    "email-addr": "email",
}
_STIX_HASHES = {"md5": "md5", "sha-1": "sha1", "sha1": "sha1", "sha-256": "sha256", "sha256": "sha256"}


def _is_stix(doc: Any) -> bool:
    if isinstance(doc, dict):
        return doc.get("type") == "bundle" or ("type" in doc and "--" in str(doc.get("id", "")))
    return (
        bool(doc) and isinstance(doc, list) and isinstance(doc[0], dict) and "--" in str(doc[0].get("id", ""))
    )


def _load_stix(doc: Any, collector: _Collector) -> None:
    import stix2

    objects = doc.get("objects", []) if isinstance(doc, dict) and doc.get("type") == "bundle" else doc
    if isinstance(objects, dict):
        objects = [objects]
    if not isinstance(objects, list):
        collector.warn("", "bundle without an objects list")
        return
    by_id = {o["id"]: o for o in objects if isinstance(o, dict) and isinstance(o.get("id"), str)}
    techniques: dict[str, list[str]] = {}
    for rel in by_id.values():
        if rel.get("type") == "relationship" and rel.get("relationship_type") == "indicates":
            target = by_id.get(rel.get("target_ref", ""), {})
            if target.get("type") == "attack-pattern":
                ids = _mitre_ids(target.get("external_references"))
                techniques.setdefault(rel.get("source_ref", ""), []).extend(ids)
    observed_by: dict[str, str] = {}
    observables: list[dict] = []
    for number, obj in enumerate(objects):
        where = (
            obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), str) else f"object {number}"
        )
        if not isinstance(obj, dict):
            collector.warn(where, "not a JSON object")
            continue
        checked = obj
        stix_pattern = obj.get("pattern_type") in (None, "stix") and isinstance(obj.get("pattern"), str)
        if obj.get("type") == "indicator" and stix_pattern:
            # every other property is checked here, the pattern once, below, by the grammar's
            # visitor: stix2.parse runs the grammar only for pattern_type "stix" (twice the time)
            checked = {**obj, "pattern_type": "stix-checked-by-visitor"}
        try:
            stix2.parse(checked, allow_custom=True)
        except Exception as exc:
            collector.warn(where, f"not valid STIX: {_first_line(exc)}")
            continue
        kind = obj.get("type")
        if kind == "indicator":
            _stix_indicator(obj, by_id, techniques.get(where, []), collector)
        elif kind in _SCO_TYPES or kind == "file":
            observables.append(obj)
        elif kind == "observed-data":
            for ref in obj.get("object_refs") or []:
                observed_by.setdefault(ref, where)
            for key, embedded in (obj.get("objects") or {}).items():  # STIX 2.0 style
                if isinstance(embedded, dict):
                    _stix_observable(embedded, f"{where}/objects/{key}", where, collector)
    for obj in observables:
        _stix_observable(obj, obj["id"], observed_by.get(obj["id"]), collector)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _mitre_ids(refs: Any) -> list[str]:
    out = []
    for ref in refs or []:
        if isinstance(ref, dict) and str(ref.get("source_name", "")).startswith("mitre"):
            out.extend(_techniques([str(ref.get("external_id", ""))]))
    return out


def _stix_indicator(obj: dict, by_id: dict[str, dict], related: list[str], collector: _Collector) -> None:
    from stix2.pattern_visitor import create_pattern_object
    from stix2patterns.exceptions import ParseException

    ident = obj["id"]
    if obj.get("revoked"):
        collector.warn(ident, "revoked indicator")
        return
    pattern_type = obj.get("pattern_type", "stix")
    if pattern_type != "stix":
        collector.warn(ident, f"pattern_type {pattern_type!r} is not STIX patterning")
        return
    pattern = obj.get("pattern", "")
    version = "2.0" if obj.get("spec_version", "2.1" if "pattern_type" in obj else "2.0") == "2.0" else "2.1"
    try:
        tree = create_pattern_object(pattern, version=version)
    except ParseException as exc:
        collector.warn(ident, f"not valid STIX: pattern {pattern!r}: {_first_line(exc)}")
        return
    except Exception as exc:
        reason = _first_line(exc)
        if "AND" in reason and "same object type" in reason:
            reason = "AND across object types"
        collector.warn(ident, f"unsupported pattern ({reason}): {pattern}")
        return
    try:
        terms = _pattern_terms(tree)
    except _Unusable as exc:
        collector.warn(ident, f"unsupported pattern ({exc}): {pattern}")
        return
    creator = by_id.get(obj.get("created_by_ref", ""), {})
    feed = creator.get("name") if creator.get("type") == "identity" else None
    tactics, techs = [], list(related) + _mitre_ids(obj.get("external_references"))
    for phase in obj.get("kill_chain_phases") or []:
        if isinstance(phase, dict) and str(phase.get("kill_chain_name", "")).startswith("mitre"):
            name = str(phase.get("phase_name", ""))
            if _TECHNIQUE.fullmatch(name.upper()):  # some producers put technique ids here
                techs.append(name.upper())
            else:
                tactics.append(name)
    labels = [str(x) for x in (obj.get("indicator_types") or []) + (obj.get("labels") or [])]
    techs += _techniques(x for x in labels if _TECHNIQUE.fullmatch(x))
    meta = {
        "name": obj.get("name"), "description": obj.get("description"),
        "confidence": _confidence(obj.get("confidence")), "valid_from": _time(obj.get("valid_from")),
        "valid_until": _time(obj.get("valid_until")), "labels": list(dict.fromkeys(labels)),
        "techniques": list(dict.fromkeys(techs)), "tactics": list(dict.fromkeys(tactics)),
    }  # fmt: skip
    skipped = []
    for path, operator, value in terms:
        try:
            kind, text = _stix_term(path, operator, value)
        except _Unusable as exc:
            skipped.append(str(exc))
            continue
        collector.add(text, kind, location=ident, indicator_id=ident, feed=feed, **meta)
    if skipped:
        loaded = len(terms) - len(skipped)
        collector.warn(
            ident, f"comparisons not matched ({loaded} of {len(terms)} loaded): {'; '.join(skipped)}"
        )


def _pattern_terms(node: Any) -> list[tuple[str, str, Any]]:
    """A parsed STIX pattern -> its comparisons ``(object path, operator, value)``, when they
    are joined by OR only; anything else raises ``_Unusable``."""
    from stix2 import patterns as p

    if isinstance(node, p.QualifiedObservationExpression):
        raise _Unusable(f"qualifier {node.qualifier}")
    if isinstance(node, p.ParentheticalExpression):
        return _pattern_terms(node.expression)
    if isinstance(node, (p.OrObservationExpression, p.OrBooleanExpression)):
        return [term for operand in node.operands for term in _pattern_terms(operand)]
    if isinstance(node, p.FollowedByObservationExpression):
        raise _Unusable("FOLLOWEDBY")
    if isinstance(node, p.AndObservationExpression):
        raise _Unusable("AND of observations")
    if isinstance(node, p.AndBooleanExpression):
        raise _Unusable("AND of comparisons")
    if isinstance(node, p.ObservationExpression):
        return _pattern_terms(node.operand)
    if isinstance(node, p._ComparisonExpression):
        path = _object_path(node.lhs)
        operator = ("NOT " if node.negated else "") + node.operator
        rhs = node.rhs
        values = [c.value for c in rhs.value] if isinstance(rhs, p.ListConstant) else [rhs.value]
        # the parse tree keeps string literals escaped (\\ and \'): unescape them
        return [(path, operator, re.sub(r"\\(.)", r"\1", v) if isinstance(v, str) else v) for v in values]
    raise _Unusable(type(node).__name__)


def _object_path(path: Any) -> str:
    from stix2 import patterns as p

    parts = []
    for component in path.property_path:
        name = str(component.property_name)
        parts.append(f"{name}[*]" if isinstance(component, p.ListObjectPathComponent) else name)
    return f"{path.object_type_name}:{'.'.join(parts)}"


def _stix_term(path: str, operator: str, value: Any) -> tuple[str, str]:
    """One comparison -> (kind hint for ``normalise``, value)."""
    obj, _, prop = path.partition(":")
    text = value if isinstance(value, str) else str(value)
    plain = operator in ("=", "IN")
    if (obj in ("ipv4-addr", "ipv6-addr") and prop == "value") or (
        obj == "network-traffic" and prop in ("src_ref.value", "dst_ref.value")
    ):
        if plain:
            return "ip", text
        if operator == "ISSUBSET":
            return "cidr" if "/" in text else "ip", text
    elif obj == "domain-name" and prop == "value" and plain:
        return "domain", text
    elif obj == "url" and prop == "value" and plain:
        return "url", text
    elif plain and (
        (obj == "email-addr" and prop == "value")
        or (
            obj == "email-message"
            and prop in ("from_ref.value", "sender_ref.value", "to_refs[*].value", "cc_refs[*].value")
        )
    ):
        return "email", text
    elif obj == "file" and prop.lower().startswith("hashes.") and plain:
        algorithm = _STIX_HASHES.get(prop.split(".", 1)[1].strip("'").lower())
        if algorithm:
            return algorithm, text
    elif obj == "file" and prop == "name":
        if plain:
            return "filename", text
        if operator == "MATCHES":
            return "regex", _name_regex(text)
        if operator == "LIKE":
            glob = text.replace("*", r"\*").replace("?", r"\?").replace("%", "*").replace("_", "?")
            return "filename", glob
    raise _Unusable(f"{path} {operator}")


def _name_regex(regex: str) -> str:
    """A regex over a file's name (STIX ``file:name MATCHES``) -> one over full paths: ``^``
    anchors at a path separator, and the match may not run past the last one."""
    body = regex[1:] if regex.startswith("^") else regex
    head = r"(?:^|[\\/])" if regex.startswith("^") else ""
    tail = "$" if body.endswith("$") and not body.endswith(r"\$") else r"[^\\/]*$"
    if tail == "$":
        body = body[:-1]
    return f"{head}(?:{body}){tail}"


def _stix_observable(obj: dict, ident: str, observed_in: str | None, collector: _Collector) -> None:
    kind = obj.get("type")
    meta = {
        "name": f"{kind} observed",
        "description": f"observed in {observed_in}" if observed_in else "cyber observable",
        "confidence": OBSERVED_CONFIDENCE, "labels": ["observed-data"],
    }  # fmt: skip
    if kind in _SCO_TYPES and isinstance(obj.get("value"), str):
        collector.add(obj["value"], _SCO_TYPES[kind], location=ident, indicator_id=ident, **meta)
    elif kind == "file":
        for algorithm, value in (obj.get("hashes") or {}).items():
            hashed = _STIX_HASHES.get(str(algorithm).lower())
            if hashed and isinstance(value, str):
                collector.add(value, hashed, location=ident, indicator_id=ident, **meta)
