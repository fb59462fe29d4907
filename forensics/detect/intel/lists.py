"""CSV files and plain indicator lists (signature-base / LOKI) into indicators.

- CSV with a header (names matched case-insensitively: a value column such as value/indicator/
  ioc, or columns named by kind such as ip, domain, url, sha256; optional type, description,
  confidence, source, first_seen/valid_from, last_seen/valid_until, id, tags, technique). A
  commented-out header (abuse.ch exports) is found too. MISP's CSV export, with composite types
  such as ``domain|ip``, is read with ``misp``'s type table.
- Plain lists, one indicator per line, kind inferred from the value, ``#`` comments (the last
  comment above a value describes it), and ``value;score;comment`` lines: the signature-base
  (LOKI) ``hash-iocs`` and ``c2-iocs`` files. A list whose file name contains ``filename`` is
  LOKI's file-name format, ``REGEX;SCORE[;FALSE-POSITIVE REGEX]``: Python regular expressions
  over full paths, case-sensitive unless they start with ``(?i)`` (LOKI's README).

References: Neo23x0/signature-base ``iocs/`` and the LOKI scanner's README on its IOC files.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

from forensics.detect.intel.indicators import (
    IntelWarning,
    _Collector,
    _confidence,
    _techniques,
    _time,
    normalise,
)
from forensics.detect.intel.misp import _MISP_TYPES

_VALUE_COLUMNS = (
    "value",
    "indicator",
    "ioc",
    "ioc_value",
    "observable",
    "observable_value",
    "ioc value",
    "data",
)
_KIND_COLUMNS = {
    "ip": "ip", "ip_address": "ip", "ipaddress": "ip", "ipv4": "ip", "ipv6": "ip", "dst_ip": "ip",
    "ip-dst": "ip", "cidr": "cidr", "domain": "domain", "hostname": "domain", "fqdn": "domain",
    "url": "url", "uri": "url", "md5": "md5", "md5_hash": "md5", "sha1": "sha1", "sha1_hash": "sha1",
    "sha256": "sha256", "sha256_hash": "sha256", "filename": "filename", "file_name": "filename",
    "email": "email",
}  # fmt: skip
_META_COLUMNS = {
    "type": ("type", "kind", "ioc_type", "indicator_type", "type_of_indicator", "attribute_type"),
    "description": ("description", "comment", "desc", "details", "info", "threat"),
    "name": ("name", "title"),
    "confidence": ("confidence", "confidence_level", "score"),
    "feed": ("source", "feed", "provider", "reporter", "org"),
    "valid_from": (
        "valid_from", "first_seen", "first_seen_utc", "firstseen", "dateadded", "date_added", "created",
        "date",
    ),
    "valid_until": (
        "valid_until", "last_seen", "last_seen_utc", "lastseen", "expiration", "expires", "expiry",
    ),
    "id": ("id", "uuid", "ioc_id", "indicator_id"),
    "labels": ("tags", "labels", "label", "threat_type", "malware", "malware_family", "malware_printable"),
    "techniques": ("technique", "techniques", "mitre", "attack", "mitre_attack", "ttp", "ttps"),
}  # fmt: skip


def _kind_of_type(text: str) -> str | None:
    """A type column's word -> a ``normalise`` hint; '' when it names something not matched."""
    t = text.strip().lower()
    if not t:
        return None
    if "|" in t:
        return ""
    if "regex" in t:  # "filename-regex": LOKI-style, over full paths
        return "regex"
    for needle, hint in (
        ("sha256", "sha256"), ("sha-256", "sha256"), ("sha1", "sha1"), ("sha-1", "sha1"), ("md5", "md5"),
        ("cidr", "cidr"), ("netblock", "cidr"), ("subnet", "cidr"), ("mail", "email"),
        ("url", "url"), ("uri", "url"), ("link", "url"), ("domain", "domain"), ("host", "domain"),
        ("fqdn", "domain"), ("dns", "domain"), ("filename", "filename"), ("file_name", "filename"),
        ("file-name", "filename"), ("path", "filename"),
    ):  # fmt: skip
        if needle in t:
            return hint
    if t in ("hash", "hashes", "filehash", "file_hash", "file hash"):
        return "hash"
    if re.search(r"(?:^|[^a-z])ip(?:v[46])?(?:[^a-z]|$)|^ip|address", t):
        return "ip"
    if t in ("file", "name"):
        return "filename"
    return ""


def _split_header(line: str) -> tuple[str, list[str]] | None:
    best = None
    for delimiter in (",", "\t", ";", "|"):
        cells = next(csv.reader([line], delimiter=delimiter))
        if len(cells) >= 2 and (best is None or len(cells) > len(best[1])):
            best = (delimiter, cells)
    return best


def _header_names(cells: list[str]) -> list[str]:
    return [c.strip().strip('"').strip().lstrip("#").strip().lower() for c in cells]


def _csv_header(text: str) -> tuple[int, str, list[str]] | None:
    """(line index, delimiter, lowercased names) of a CSV header: the first line that is not a
    comment, or the comment just above it (abuse.ch comments its header out); None for a list."""
    last_comment: tuple[int, str] | None = None
    for index, line in enumerate(text.splitlines()):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            last_comment = (index, stripped.lstrip("#"))
            continue
        for where, candidate in [(index, stripped)] + ([last_comment] if last_comment else []):
            split = _split_header(candidate)
            if split is not None:
                names = _header_names(split[1])
                if any(n in _VALUE_COLUMNS or n in _KIND_COLUMNS for n in names):
                    return where, split[0], names
        return None
    return None


def _column(names: list[str], wanted: tuple[str, ...]) -> int | None:
    for name in wanted:
        if name in names:
            return names.index(name)
    return None


def _load_csv(text: str, header: tuple[int, str, list[str]], collector: _Collector) -> None:
    start, delimiter, names = header
    value_col = _column(names, _VALUE_COLUMNS)
    kind_cols = (
        []
        if value_col is not None
        else [(i, _KIND_COLUMNS[n]) for i, n in enumerate(names) if n in _KIND_COLUMNS]
    )
    cols = {key: _column(names, wanted) for key, wanted in _META_COLUMNS.items()}
    lines = text.splitlines()
    reader = csv.reader(io.StringIO("\n".join(lines[start + 1 :])), delimiter=delimiter)
    for row in reader:
        number = start + 1 + reader.line_num
        if not row or not any(c.strip() for c in row) or row[0].lstrip().startswith("#"):
            continue

        def cell(i: int | None, row: list[str] = row) -> str | None:
            return row[i].strip() if i is not None and i < len(row) and row[i].strip() else None

        where = f"line {number}"
        tags = [t.strip() for t in re.split(r"[,;|]", cell(cols["labels"]) or "") if t.strip()]
        meta = {
            "name": cell(cols["name"]), "description": cell(cols["description"]),
            "confidence": _confidence(cell(cols["confidence"])),
            "valid_from": _time(cell(cols["valid_from"])),
            "valid_until": _time(cell(cols["valid_until"])), "labels": tags,
            "techniques": _techniques([cell(cols["techniques"]) or "", *tags]),
        }  # fmt: skip
        ident = cell(cols["id"]) or f"{collector.path.name}:{number}"
        feed = cell(cols["feed"])
        if value_col is not None:
            value = cell(value_col)
            if value is None:
                collector.warn(where, "no value")
                continue
            type_text = cell(cols["type"])
            composite = _MISP_TYPES.get((type_text or "").lower(), ())
            if len(composite) > 1:  # MISP's CSV export: "domain|ip" with "evil.example|192.0.2.1"
                parts = value.split("|")
                if len(parts) != len(composite):
                    collector.warn(where, f"{type_text} value is not {len(composite)} parts joined by '|'")
                    continue
                port = (
                    int(parts[composite.index("port")])
                    if "port" in composite and parts[-1].strip().isdigit()
                    else None
                )
                for hint, part in zip(composite, parts, strict=True):
                    if hint != "port":
                        collector.add(
                            part, hint, location=where, indicator_id=ident, feed=feed,
                            port=port if hint == "ip" else None, **meta,
                        )  # fmt: skip
                continue
            hint = _kind_of_type(type_text) if type_text else None
            if hint == "":
                collector.skip(f"type {type_text!r} is not an indicator kind matched here", where)
                continue
            collector.add(value, hint, location=where, indicator_id=ident, feed=feed, **meta)
        else:
            present = [(i, hint) for i, hint in kind_cols if cell(i)]
            if not present:
                collector.warn(where, "no value")
            for i, hint in present:
                collector.add(cell(i), hint, location=where, indicator_id=ident, feed=feed, **meta)


def _list_lines(text: str) -> Iterator[tuple[int, str, str | None]]:
    """(line number, line, the last comment above it) of every non-comment line."""
    comment = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            comment = stripped.lstrip("#").strip() or comment
            continue
        yield number, stripped, comment


def _load_list(text: str, collector: _Collector) -> None:
    """One indicator per line: ``value[;score][;comment]`` (also tab-separated), kind inferred.
    A file of which no line is an indicator (a README) gets one warning, not one per line."""
    for number, line, comment in _list_lines(text):
        where = f"line {number}"
        line = re.sub(r"\s+#.*$", "", line)
        fields = re.split(r"[;\t]", line)
        value = fields[0].strip()
        rest = [f.strip() for f in fields[1:]]
        if re.search(r"[\s,]", value):  # "value comment" or "value,comment"
            first = re.split(r"[\s,]+", value, maxsplit=1)
            try:
                normalise(value)
            except ValueError:
                value, rest = first[0], ([first[1], *rest] if len(first) > 1 else rest)
        confidence = _confidence(rest[0]) if rest and rest[0].isdigit() else None
        description = "; ".join(r for r in (rest[1:] if confidence is not None else rest) if r) or comment
        collector.add(
            value, None, location=where, indicator_id=f"{collector.path.name}:{number}",
            confidence=confidence, description=description, techniques=_techniques([description or ""]),
        )  # fmt: skip
    if not collector.rows and len(collector.warnings) > 1:
        first = collector.warnings[0]
        collector.warnings = [
            IntelWarning(
                str(collector.path), "",
                f"not an indicator list: no line is an indicator ({first.location}: {first.reason})",
                len(collector.warnings),
            )
        ]  # fmt: skip


def _load_loki_filenames(text: str, collector: _Collector) -> None:
    """LOKI's file-name IOCs: ``REGEX;SCORE[;FALSE-POSITIVE REGEX]`` per line."""
    for number, line, comment in _list_lines(text):
        where = f"line {number}"
        fields = line.split(";")
        score = fields[1].strip() if len(fields) > 1 else ""
        if len(fields) > 1 and not score.isdigit():
            collector.warn(where, f"score is not a number: {score!r}")
            continue
        collector.add(
            fields[0], "regex", location=where, indicator_id=f"{collector.path.name}:{number}",
            confidence=_confidence(score), description=comment,
            exclude=fields[2].strip() if len(fields) > 2 and fields[2].strip() else None,
        )  # fmt: skip
