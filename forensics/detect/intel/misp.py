"""MISP events into indicators.

MISP events (``{"Event": ...}``, lists of them, or a REST ``{"response": [...]}``), attributes of
the event and of its objects: ip-src/ip-dst (also CIDR), the ``|port`` variants (the port must be
the matched side's), domain, hostname, domain|ip, url, uri (with a scheme), email-src/-dst,
md5/sha1/sha256, filename and filename|hash, malware-sample. The attribute's ``first_seen``, else
the event date, starts its validity; ``last_seen`` ends it. Confidence comes from a
``confidence-level`` taxonomy tag; ``to_ids: false`` (not meant for detection) caps it at
``NOT_FOR_IDS_CONFIDENCE``. Techniques from ``misp-galaxy:mitre-attack-pattern`` tags and galaxies
and from tags that are technique ids. Other attribute types are counted, per type.

References: MISP core format (github.com/MISP/misp-rfc, misp-core-format); MISP taxonomies
``confidence-level``.
"""

from __future__ import annotations

import re
from typing import Any

from forensics.detect.intel.indicators import _TECHNIQUE, _Collector, _techniques, _time

#: The highest confidence of a MISP attribute marked ``to_ids: false``.
NOT_FOR_IDS_CONFIDENCE = 25
_MISP_TYPES: dict[str, tuple[str, ...]] = {
    "ip-src": ("ip",), "ip-dst": ("ip",), "ip-src|port": ("ip", "port"), "ip-dst|port": ("ip", "port"),
    "domain": ("domain",), "hostname": ("domain",), "domain|ip": ("domain", "ip"),
    "hostname|port": ("domain", "port"), "url": ("url",), "uri": ("url",),
    "email": ("email",), "email-src": ("email",), "email-dst": ("email",), "email-reply-to": ("email",),
    "md5": ("md5",), "sha1": ("sha1",), "sha256": ("sha256",), "filename": ("filename",),
    "filename|md5": ("filename", "md5"), "filename|sha1": ("filename", "sha1"),
    "filename|sha256": ("filename", "sha256"), "malware-sample": ("filename", "md5"),
}  # fmt: skip
_MISP_CONFIDENCE = {
    "completely-confident": 100, "usually-confident": 75, "fairly-confident": 50,
    "rarely-confident": 25, "unconfident": 0,
}  # fmt: skip


def _is_misp(doc: Any) -> bool:
    if isinstance(doc, dict):
        return "Event" in doc or isinstance(doc.get("response"), list) or "Attribute" in doc
    return (
        bool(doc)
        and isinstance(doc, list)
        and isinstance(doc[0], dict)
        and ("Event" in doc[0] or "Attribute" in doc[0])
    )


def _tag_names(item: dict) -> list[str]:
    names = [str(t.get("name", "")) for t in item.get("Tag") or [] if isinstance(t, dict)]
    for galaxy in item.get("Galaxy") or []:
        for cluster in (galaxy or {}).get("GalaxyCluster") or []:
            if isinstance(cluster, dict):
                names.append(str(cluster.get("tag_name") or cluster.get("value") or ""))
                names.extend(str(x) for x in ((cluster.get("meta") or {}).get("external_id") or []))
    return [n for n in names if n]


def _misp_techniques(tags: list[str]) -> list[str]:
    return _techniques(t for t in tags if "mitre-attack" in t.lower() or _TECHNIQUE.fullmatch(t))


def _misp_confidence(tags: list[str]) -> int | None:
    for tag in tags:
        m = re.search(r'confidence-level[:=]"?([a-z-]+)', tag)
        if m and m[1] in _MISP_CONFIDENCE:
            return _MISP_CONFIDENCE[m[1]]
    return None


def _load_misp(doc: Any, collector: _Collector) -> None:
    if isinstance(doc, dict) and isinstance(doc.get("response"), list):
        doc = doc["response"]
    events = doc if isinstance(doc, list) else [doc]
    for number, item in enumerate(events):
        event = item.get("Event", item) if isinstance(item, dict) else None
        if not isinstance(event, dict):
            collector.warn(f"event {number}", "not a MISP event object")
            continue
        tags = _tag_names(event)
        org = event.get("Orgc") or event.get("Org") or {}
        context = {
            "event": str(event.get("uuid") or event.get("id") or number), "info": event.get("info"),
            "date": _time(event.get("date")), "feed": org.get("name") if isinstance(org, dict) else None,
            "tags": tags,
        }  # fmt: skip
        for attr in event.get("Attribute") or []:
            _misp_attribute(attr, None, context, collector)
        for obj in event.get("Object") or []:
            if isinstance(obj, dict):
                for attr in obj.get("Attribute") or []:
                    _misp_attribute(attr, obj, context, collector)


def _misp_attribute(attr: Any, obj: dict | None, context: dict, collector: _Collector) -> None:
    if not isinstance(attr, dict):
        collector.warn(f"event {context['event']}", "attribute is not a JSON object")
        return
    ident = str(attr.get("uuid") or f"{context['event']}/attribute {attr.get('id', '?')}")
    if attr.get("deleted") in (True, "1", 1):
        return
    mtype, value = str(attr.get("type", "")), attr.get("value")
    parts = _MISP_TYPES.get(mtype)
    if parts is None:
        collector.skip(f"MISP attribute type {mtype!r} is not an indicator kind matched here", ident)
        return
    if not isinstance(value, str) or not value.strip():
        collector.warn(ident, f"{mtype} attribute without a value")
        return
    values = value.split("|") if len(parts) > 1 else [value]
    if len(values) != len(parts):
        collector.warn(ident, f"{mtype} value is not {len(parts)} parts joined by '|': {value!r}")
        return
    tags = _tag_names(attr) + context["tags"]
    confidence = _misp_confidence(_tag_names(attr))
    if confidence is None:
        confidence = _misp_confidence(context["tags"])
    labels = [str(attr.get("category"))] if attr.get("category") else []
    labels += [
        t
        for t in tags
        if not t.startswith(("misp-galaxy:", "confidence-level")) and not _TECHNIQUE.fullmatch(t)
    ]
    to_ids = attr.get("to_ids", True) not in (False, "0", 0, "false")
    if not to_ids:
        confidence = min(
            confidence if confidence is not None else NOT_FOR_IDS_CONFIDENCE, NOT_FOR_IDS_CONFIDENCE
        )
        labels.append("to_ids:false")
    port = None
    if "port" in parts:
        digits = values[parts.index("port")].strip()
        if not digits.isdigit() or int(digits) > 65535:
            collector.warn(ident, f"{mtype} with a bad port: {value!r}")
            return
        port = int(digits)
    comment = attr.get("comment") or None
    if obj is not None and obj.get("name"):
        labels.append(f"object:{obj['name']}")
    meta = {
        "name": context["info"], "description": comment, "confidence": confidence,
        "valid_from": _time(attr.get("first_seen")) or context["date"],
        "valid_until": _time(attr.get("last_seen")), "labels": list(dict.fromkeys(labels)),
        "techniques": _misp_techniques(tags),
    }  # fmt: skip
    for hint, text in zip(parts, values, strict=True):
        if hint == "port":
            continue
        if mtype == "uri" and "://" not in text:
            collector.warn(ident, f"uri without a scheme and host cannot be matched: {text!r}")
            continue
        collector.add(
            text, hint, location=ident, indicator_id=ident, feed=context["feed"],
            port=port if hint == "ip" else None, **meta,
        )  # fmt: skip
