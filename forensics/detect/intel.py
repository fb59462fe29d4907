"""Threat-intelligence indicators (IOCs): load feeds, match them against a case, export what was seen.

An indicator of compromise is a value an attacker's activity leaves behind: the address or name of
a command-and-control server, the URL a payload came from, the hash or file name of a tool. This
module reads them from the formats they are shared in, into one table, and finds every timeline
row that carries one.

Loading (``load_indicators``). Each indicator becomes a row of ``COLUMNS``: its ``kind`` (one of
``KINDS``), its ``value`` normalised so that equal things compare equal (addresses through
``ipaddress``: ``::ffff:203.0.113.66`` is ``203.0.113.66``; domains and hashes lowercased, a
trailing dot and a ``*.`` prefix dropped, IDN in punycode; URLs with scheme and host lowercased,
the scheme's default port and the fragment dropped, an empty path made ``/``; defanged
``hxxp://evil[.]com`` refanged), where it came from (``source``: file and feed; ``indicator_id``),
what it means (``name``, ``description``, ``labels``, ATT&CK ``techniques`` and ``tactics``), how
sure the feed is (``confidence`` 0-100) and when it holds (``valid_from``/``valid_until``, UTC).
Formats, recognised by content:

- STIX 2.1 (OASIS, "STIX Version 2.1", part 9 "STIX Patterning"): every object is checked with
  ``stix2.parse``; Indicator patterns are parsed with the stix2 pattern visitor (the
  stix2-patterns ANTLR grammar), never with regular expressions. Comparisons joined by OR, within
  or across observations, each become an indicator: ``ipv4-addr``/``ipv6-addr`` ``value`` (=, IN,
  ISSUBSET for CIDR), ``domain-name``, ``url``, ``email-addr`` values, ``email-message`` sender and
  recipient refs, ``network-traffic`` ``src_ref``/``dst_ref`` values, ``file:hashes`` MD5/SHA-1/
  SHA-256, ``file:name`` (=, IN, MATCHES, LIKE). What cannot be matched row by row (AND, FOLLOWEDBY,
  qualifiers such as REPEATS or WITHIN, negation, other object types or properties, non-STIX
  pattern types) is reported per indicator id with the reason. ATT&CK ids come from
  ``kill_chain_phases`` of the ``mitre-attack`` chain (phase names are tactics, or technique ids),
  mitre-attack ``external_references`` and ``indicates`` relationships to attack-patterns.
  Cyber-observable objects of those types (top-level SCOs, or embedded in 2.0-style
  observed-data) load too, at confidence ``OBSERVED_CONFIDENCE``: they record what was seen, not
  that it is malicious.
- MISP events (``{"Event": ...}``, lists of them, or a REST ``{"response": [...]}``), attributes of
  the event and of its objects: ip-src/ip-dst (also CIDR), the ``|port`` variants (the port must
  be the matched side's), domain, hostname, domain|ip, url, uri (with a scheme), email-src/-dst,
  md5/sha1/sha256, filename and filename|hash, malware-sample. The attribute's ``first_seen``, else
  the event date, starts its validity; ``last_seen`` ends it. Confidence comes from a
  ``confidence-level`` taxonomy tag; ``to_ids: false`` (not meant for detection) caps it at
  ``NOT_FOR_IDS_CONFIDENCE``. Techniques from ``misp-galaxy:mitre-attack-pattern`` tags and
  galaxies and from tags that are technique ids. Other attribute types are counted, per type.
- CSV with a header (names matched case-insensitively: a value column such as value/indicator/
  ioc, or columns named by kind such as ip, domain, url, sha256; optional type, description,
  confidence, source, first_seen/valid_from, last_seen/valid_until, id, tags, technique). A
  commented-out header (abuse.ch exports) is found too.
- Plain lists, one indicator per line, kind inferred from the value, ``#`` comments (the last
  comment above a value describes it), and ``value;score;comment`` lines: the signature-base
  (LOKI) ``hash-iocs`` and ``c2-iocs`` files. A list whose file name contains ``filename`` is
  LOKI's file-name format, ``REGEX;SCORE[;FALSE-POSITIVE REGEX]``: Python regular expressions
  over full paths, case-sensitive unless they start with ``(?i)`` (LOKI's README).

Loaders never raise on bad input: every line or object that cannot be used is an ``IntelWarning``
with the file and line or object id; a file that cannot be read at all gets one, with the reason.

Matching (``match``) runs in DuckDB over the case's ``timeline_rows``, without a Python loop over
rows. (1) The values inside ``fields`` are read once into a temporary table; one scan then
collects the distinct observed values of each family: IP addresses (``source_ip``,
``destination_ip``), names or addresses (DNS ``fields.answers``, Sysmon ``fields.QueryResults``,
HTTP ``fields.host``), domains (``dns_question_name``, ``tls_server_name``, Sysmon
``fields.DestinationHostname``), URLs (``url_full``: the URL, and its host as a name or address),
hashes (``file_hash_sha256``, ``fields.md5``/``sha1``/``sha256``, Sysmon ``fields.Hashes``/``Hash``
split into ``ALG=value``; IMPHASH is not a file hash), paths (``file_path``,
``process_executable``, ``process_parent_executable``) and e-mail addresses (``user_name``, mail
fields). (2) Those values, far fewer than rows, are matched: equality joins for addresses, URLs,
hashes and e-mail; domains by joining every suffix of an observed name, so ``example.net``
matches ``a.b.example.net`` but never ``badexample.net``; IPv4 CIDR by integer arithmetic, one
equality join per distinct prefix length (the address's network number at that length); IPv6
(rare, and DuckDB's inet extension cannot be installed offline) in Python over the distinct
IPv6-looking values only; file-name regular expressions with RE2 inside DuckDB over the distinct
paths, 200 alternated per pass and then 16 (larger alternations leave RE2's fast DFA: 3,828
signature-base patterns over 200,000 paths take 1.3 s in passes of 250, 34 s in one), the few
candidates confirmed with Python's ``re`` (the patterns' own dialect; a pattern RE2 rejects is
run in Python alone) and their false-positive exclusions. (3) A second scan joins the matched
values back to their rows, then one aggregation per (indicator, row). Command lines are not
searched: a path named as an argument is not a file seen on the host (Sigma rules look at
command lines). 10,000 indicators over 1,000,000 synthetic rows: 3.5 s on two shared cores
(``benchmarks/intel_match.py``).

Each (indicator, row) is one finding of engine ``ioc``: ``rule_id`` the indicator id, the title
``IOC <kind> <value> (<feed>)``, ``matched`` the columns and values that matched, the indicator
value, kind and source. The level follows confidence (>= 80 high, >= 50 medium, lower low, unknown
medium); a row outside the indicator's validity window is still reported, one level lower, with
``matched['outside_validity'] = 'true'``: intel usually arrives after the activity it describes,
so a row before ``valid_from`` is evidence too.

Export (``export_seen``): the indicators that matched in the case, as a plain blocklist (values
grouped by kind) or as a STIX 2.1 bundle of Indicators and Sightings created by the identity
"Tracehound", checked by parsing it back with ``stix2``.

References: OASIS STIX 2.1 (docs.oasis-open.org/cti/stix/v2.1); MISP core format
(github.com/MISP/misp-rfc, misp-core-format); MISP taxonomies ``confidence-level``;
Neo23x0/signature-base ``iocs/`` and the LOKI scanner's README on its IOC files; RE2 syntax
(github.com/google/re2/wiki/Syntax).
"""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from forensics.detect.findings import FINDINGS, LEVELS, empty_findings, write_findings
from forensics.timeutil import epoch_to_utc, parse_iso

if TYPE_CHECKING:
    from forensics.case import Case

__all__ = [
    "COLUMNS",
    "ENGINE",
    "KINDS",
    "NOT_FOR_IDS_CONFIDENCE",
    "OBSERVED_CONFIDENCE",
    "SCHEMA",
    "IntelReport",
    "IntelWarning",
    "detect_intel",
    "export_seen",
    "load_indicators",
    "match",
    "normalise",
    "normalise_url",
]

ENGINE = "ioc"
KINDS = ("ipv4", "ipv6", "cidr", "domain", "url", "email", "md5", "sha1", "sha256", "filename")
#: Confidence of cyber observables found in a STIX bundle (seen, not necessarily malicious).
OBSERVED_CONFIDENCE = 30
#: The highest confidence of a MISP attribute marked ``to_ids: false``.
NOT_FOR_IDS_CONFIDENCE = 25

_TS = pa.timestamp("us", tz="UTC")
#: The indicator table, one row per value to match.
SCHEMA = pa.schema(
    [
        pa.field("kind", pa.string()),  # one of KINDS
        pa.field("value", pa.string()),  # normalised; for filename the name, glob or regex as given
        pa.field("pattern", pa.string()),  # filename: the regular expression matched over full paths
        pa.field("exclude", pa.string()),  # filename: a path matching this regex is no hit (LOKI)
        pa.field("port", pa.int32()),  # ip:port indicators: the port of the matched side
        pa.field("indicator_id", pa.string()),  # STIX/MISP id, or <file>:<line>
        pa.field("name", pa.string()),
        pa.field("description", pa.string()),
        pa.field("source", pa.string()),  # "<file> (<feed>)"
        pa.field("file", pa.string()),
        pa.field("feed", pa.string()),  # the producer: STIX identity, MISP org, CSV source column
        pa.field("confidence", pa.int32()),  # 0-100, null when the intel does not say
        pa.field("valid_from", _TS),
        pa.field("valid_until", _TS),
        pa.field("labels", pa.list_(pa.string())),
        pa.field("techniques", pa.list_(pa.string())),
        pa.field("tactics", pa.list_(pa.string())),
    ]
)
COLUMNS: tuple[str, ...] = tuple(SCHEMA.names)
_PANDAS_TYPES = {pa.string(): pd.StringDtype(), pa.int32(): pd.Int32Dtype(), pa.int64(): pd.Int64Dtype()}


# -- warnings and the report ------------------------------------------------------------------
@dataclass(frozen=True)
class IntelWarning:
    """Something in an intel file that could not be used: ``location`` is ``line N``, an object
    id, or empty for the whole file; ``count`` > 1 when several alike are summed up."""

    file: str
    location: str
    reason: str
    count: int = 1

    def __str__(self) -> str:
        where = f"{self.file} {self.location}".strip()
        times = f" ({self.count}x)" if self.count > 1 else ""
        return f"{where}: {self.reason}{times}"


@dataclass
class IntelReport:
    """What ``detect_intel`` did."""

    indicators: dict[str, int] = field(default_factory=dict)  # loaded, by kind
    hits: int = 0  # findings (indicator, row)
    hits_by_kind: dict[str, int] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)  # distinct indicator values that hit, by kind
    warnings: list[IntelWarning] = field(default_factory=list)
    path: Path | None = None  # the findings file written
    seconds: float = 0.0
    findings: pa.Table = field(default_factory=empty_findings, repr=False)

    @property
    def loaded(self) -> int:
        return sum(self.indicators.values())

    def summary(self) -> str:
        kinds = ", ".join(f"{n} {k}" for k, n in self.indicators.items()) or "none"
        seen = ", ".join(f"{n} {k}" for k, n in self.seen.items()) or "none"
        return (
            f"{self.loaded} indicators ({kinds}); {self.hits} hits on {seen}; "
            f"{len(self.warnings)} warnings; {self.seconds:.1f} s"
        )


# -- normalisation ------------------------------------------------------------------------------
_HASH_KINDS = {32: "md5", 40: "sha1", 64: "sha256"}
_HEX = re.compile(r"[0-9a-f]+")
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://([^/?#]*)([^#]*)")
_PORT_SUFFIX = re.compile(r":([0-9]*)$")
_DEFAULT_PORTS = {"http": "80", "https": "443", "ftp": "21", "ws": "80", "wss": "443"}
_DEFANG = re.compile(r"\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)", re.IGNORECASE)
_TECHNIQUE = re.compile(r"\bT\d{4}(?:\.\d{3})?\b")
_REGEX_SPECIAL = frozenset("\\.^$*+?{}[]|()")
#: Extensions that make ``name.ext`` a file name rather than a domain (none is a top-level domain).
_FILE_EXTENSIONS = frozenset(
    ("exe", "dll", "sys", "ps1", "psm1", "bat", "cmd", "vbs", "vbe", "js", "jse", "wsf", "hta", "lnk", "scr",
     "cpl", "msi", "msp", "docm", "dotm", "xlsm", "xlam", "pptm", "jar", "class", "elf", "dmp", "tmp", "dat",
     "bin", "iso", "img", "vhd", "vhdx", "pyc")
)  # fmt: skip


class _Unusable(ValueError):
    """A value or pattern that cannot become an indicator; the message says why."""


def _refang(text: str) -> str:
    text = _DEFANG.sub(".", text.strip())
    text = text.replace("[:]", ":").replace("[://]", "://").replace("[@]", "@").replace("[at]", "@")
    return re.sub(r"^h(?:xx|\*\*)p", "http", text, flags=re.IGNORECASE)


def _ip(text: str) -> tuple[str, str, int | None]:
    """An address, ``address:port``, ``[v6]:port`` or CIDR -> (kind, canonical value, port)."""
    text = text.strip()
    port: int | None = None
    bracketed = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?", text)
    if bracketed:
        text, port = bracketed[1], int(bracketed[2]) if bracketed[2] else None
    elif text.count(":") == 1 and "." in text:
        text, _, digits = text.partition(":")
        if not digits.isdigit():
            raise _Unusable("not an IP address")
        port = int(digits)
    if port is not None and not 0 <= port <= 65535:
        raise _Unusable(f"port {port} out of range")
    try:
        if "/" in text:
            net = ipaddress.ip_network(text, strict=False)
            if net.prefixlen < net.max_prefixlen:
                return "cidr", str(net), None
            addr: ipaddress.IPv4Address | ipaddress.IPv6Address = net.network_address
        else:
            addr = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError as exc:
        raise _Unusable("not an IP address or network") from exc
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return ("ipv4" if addr.version == 4 else "ipv6"), str(addr), port


def _domain(text: str) -> str:
    name = text.strip().lower().rstrip(".")
    if name.startswith("*."):
        name = name[2:]
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise _Unusable("not a domain name (IDNA)") from exc
    labels = name.split(".")
    if len(labels) < 2 or labels[-1].isdigit() or not all(_LABEL.fullmatch(label) for label in labels):
        raise _Unusable("not a domain name")
    return name


def normalise_url(text: str) -> str:
    """A URL as matching compares it: scheme and host lowercased, the host's trailing dot and the
    scheme's default port dropped, the fragment dropped, an empty path ``/``. The SQL macro
    ``th_url`` computes the same for observed URLs; a URL without a scheme is taken as http."""
    text = _refang(text)
    m = _URL.match(text)
    if not m:
        head = re.split(r"[/?#]", text, maxsplit=1)[0]
        try:
            _ip(head)
        except _Unusable:
            _domain(head.rsplit(":", 1)[0] if head.count(":") == 1 else head)
        m = _URL.match("http://" + text)
        if not m:
            raise _Unusable("not a URL")
    scheme, authority, rest = m[1].lower(), m[2], m[3]
    userinfo = authority[: authority.rfind("@") + 1]
    hostport = authority[authority.rfind("@") + 1 :].lower()
    pm = _PORT_SUFFIX.search(hostport)
    host, port = (hostport[: pm.start()], pm[1]) if pm else (hostport, "")
    host = host.rstrip(".")
    if not host:
        raise _Unusable("URL without a host")
    port_text = "" if port in ("", _DEFAULT_PORTS.get(scheme, "")) else f":{port}"
    path = "/" if rest == "" else ("/" + rest if rest.startswith("?") else rest)
    return f"{scheme}://{userinfo}{host}{port_text}{path}"


def _hash(text: str, kind: str | None = None) -> tuple[str, str]:
    value = re.sub(r"^(?:md5|sha-?1|sha-?256)[:=]", "", text.strip().lower())
    found = _HASH_KINDS.get(len(value))
    if found is None or not _HEX.fullmatch(value):
        raise _Unusable("not an MD5, SHA-1 or SHA-256 hash")
    if kind in _HASH_KINDS.values() and kind != found:
        raise _Unusable(f"not a {kind} hash ({len(value)} hex digits)")
    return found, value


def _email(text: str) -> str:
    value = text.strip().lower()
    if value.startswith("mailto:"):
        value = value[7:]
    local, at, domain = value.rpartition("@")
    if not at or not local or re.search(r"\s", local):
        raise _Unusable("not an e-mail address")
    return f"{local}@{_domain(domain)}"


def _escape(text: str) -> str:
    """A literal for both Python ``re`` and RE2 (only metacharacters escaped)."""
    return "".join("\\" + c if c in _REGEX_SPECIAL else c for c in text)


def _name_pattern(text: str) -> str:
    """A file name, path or glob (``*``, ``?``) -> a case-insensitive regex over full paths that
    matches it as the last path components."""
    parts = []
    for c in text.strip().lstrip("\\/"):
        if c == "*":
            parts.append(r"[^\\/]*")
        elif c == "?":
            parts.append(r"[^\\/]")
        elif c in "\\/":
            parts.append(r"[\\/]")
        else:
            parts.append(_escape(c))
    return r"(?i)(?:^|[\\/])" + "".join(parts) + "$"


def _name_regex(regex: str) -> str:
    """A regex over a file's name (STIX ``file:name MATCHES``) -> one over full paths: ``^``
    anchors at a path separator, and the match may not run past the last one."""
    body = regex[1:] if regex.startswith("^") else regex
    head = r"(?:^|[\\/])" if regex.startswith("^") else ""
    tail = "$" if body.endswith("$") and not body.endswith(r"\$") else r"[^\\/]*$"
    if tail == "$":
        body = body[:-1]
    return f"{head}(?:{body}){tail}"


def _compile(regex: str) -> re.Pattern[str]:
    try:
        return re.compile(regex)
    except (re.error, OverflowError, RecursionError) as exc:
        raise _Unusable(f"bad regular expression: {exc}") from exc


def _infer(text: str) -> str:
    """The kind a bare value looks like (a hint ``normalise`` refines)."""
    value = text.strip()
    low = value.lower()
    if (len(low) in _HASH_KINDS and _HEX.fullmatch(low)) or re.match(
        r"(?:md5|sha-?1|sha-?256)[:=][0-9a-f]+$", low
    ):
        return "hash"
    try:
        _ip(value)
        return "ip"
    except _Unusable:
        pass
    if "://" in value:
        return "url"
    if "@" in value and " " not in value:
        return "email"
    if value.startswith("/") or "\\" in value or re.match(r"[A-Za-z]:[\\/]", value):
        return "filename"
    head = value.split("/", 1)[0]
    if "." in head and head.rsplit(".", 1)[1].lower() in _FILE_EXTENSIONS and "/" not in value:
        return "filename"
    if "/" in value:
        return "url"
    return "domain"


def normalise(value: str, kind: str | None = None) -> tuple[str, str, str | None, int | None]:
    """One indicator value -> ``(kind, value, pattern, port)``; ``kind`` may be a kind of
    ``KINDS``, ``"ip"`` (address or network), ``"hash"`` (by length), ``"regex"`` (a file-name
    regex over full paths) or None (inferred). Raises ``ValueError`` with the reason."""
    if not isinstance(value, str) or not value.strip():
        raise _Unusable("empty value")
    if kind == "regex":
        _compile(value)
        return "filename", value, value, None
    hint = kind or _infer(value)
    if hint in ("md5", "sha1", "sha256", "hash"):
        found, hashed = _hash(value, hint)
        return found, hashed, None, None
    if hint == "filename":
        return "filename", value.strip(), _name_pattern(value), None
    text = _refang(value)
    if hint in ("ip", "ipv4", "ipv6", "cidr"):
        found, canonical, port = _ip(text)
        if hint != "ip" and found != hint and not (hint == "cidr" or found == "cidr"):
            raise _Unusable(f"not an {hint} value")
        return found, canonical, None, port
    if hint == "domain":
        try:  # feeds put addresses under "domain"/"hostname" too
            found, canonical, port = _ip(text)
            return found, canonical, None, port
        except _Unusable:
            pass
        name = text.rsplit(":", 1)[0] if re.search(r":\d+$", text) else text
        return "domain", _domain(name), None, None
    if hint == "url":
        return "url", normalise_url(text), None, None
    if hint == "email":
        return "email", _email(text), None, None
    raise _Unusable(f"unknown kind {kind!r}")


# -- time, confidence, techniques ---------------------------------------------------------------
def _time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return epoch_to_utc(value)
    text = str(value).strip()
    if re.fullmatch(r"\d{9,}(?:\.\d+)?", text):
        return epoch_to_utc(text)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        text += "T00:00:00Z"
    return parse_iso(text)


def _confidence(value: Any) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    words = {"high": 85, "medium": 60, "moderate": 60, "low": 30, "none": 0}
    text = str(value).strip().lower()
    if text in words:
        return words[text]
    try:
        number = float(text.rstrip("%"))
    except ValueError:
        return None
    if 0 < number < 1 or (number == 1 and "." in text):
        number *= 100
    return round(number) if 0 <= number <= 100 else None


def _techniques(texts: Iterable[str]) -> list[str]:
    found: list[str] = []
    for text in texts:
        for tid in _TECHNIQUE.findall(text or ""):
            if tid not in found:
                found.append(tid)
    return found


# -- loading ---------------------------------------------------------------------------------------
class _Collector:
    """Indicators and warnings of one file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: list[dict[str, Any]] = []
        self.warnings: list[IntelWarning] = []
        self._skipped: dict[str, list] = {}

    def warn(self, location: str, reason: str) -> None:
        self.warnings.append(IntelWarning(str(self.path), location, reason))

    def skip(self, reason: str, location: str) -> None:
        """Something alike that recurs (a MISP attribute type): summed into one warning."""
        entry = self._skipped.setdefault(reason, [0, location])
        entry[0] += 1

    def add(
        self,
        value: Any,
        kind: str | None,
        *,
        location: str,
        indicator_id: str,
        feed: str | None = None,
        port: int | None = None,
        exclude: str | None = None,
        **meta: Any,
    ) -> bool:
        """Normalise one value and keep it; a warning (and False) when it cannot be used."""
        try:
            found, normal, pattern, own_port = normalise(value if isinstance(value, str) else "", kind)
            if exclude:
                _compile(exclude)
        except ValueError as exc:
            shown = str(value) if len(str(value)) <= 80 else str(value)[:77] + "..."
            self.warn(location, f"{exc}: {shown!r}")
            return False
        source = f"{self.path.name} ({feed})" if feed else self.path.name
        self.rows.append(
            {
                "kind": found, "value": normal, "pattern": pattern, "exclude": exclude or None,
                "port": port if port is not None else own_port, "indicator_id": indicator_id,
                "source": source, "file": self.path.name, "feed": feed, **meta,
            }
        )  # fmt: skip
        return True

    def finish(self) -> list[IntelWarning]:
        summed = [
            IntelWarning(str(self.path), first, reason, count)
            for reason, (count, first) in self._skipped.items()
        ]
        return self.warnings + summed


def load_indicators(paths: str | Path | Iterable[str | Path]) -> tuple[pd.DataFrame, list[IntelWarning]]:
    """Read intel files (or every file under folders) -> (indicator table of ``COLUMNS``,
    warnings). Never raises for bad input."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    rows: list[dict[str, Any]] = []
    warnings: list[IntelWarning] = []
    for path in _files(paths):
        collector = _Collector(path)
        try:
            _load_file(path, collector)
        except Exception as exc:  # a loader bug or an unreadable file must not stop the others
            collector.warn("", f"cannot read: {type(exc).__name__}: {exc}".splitlines()[0])
        kept = _dedupe(collector)
        rows.extend(kept)
        warnings.extend(collector.finish())
    frame, duplicates = _frame(rows)
    warnings.extend(duplicates)
    return frame, warnings


def _files(paths: Iterable[str | Path]) -> Iterator[Path]:
    for given in paths:
        path = Path(given).expanduser()
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())
        else:
            yield path


def _dedupe(collector: _Collector) -> list[dict[str, Any]]:
    """Within a file, one row per (id, kind, value, port, pattern); lists whose ids are line
    numbers also keep one row per value (LOKI files repeat hashes)."""
    seen: dict[tuple, str] = {}
    kept, dropped = [], 0
    for row in collector.rows:
        by_line = row["indicator_id"].startswith(f"{collector.path.name}:")
        key = (
            None if by_line else row["indicator_id"], row["kind"], row["value"], row["port"], row["pattern"],
        )  # fmt: skip
        if key in seen:
            dropped += 1
            continue
        seen[key] = row["indicator_id"]
        kept.append(row)
    if dropped:
        collector.warnings.append(
            IntelWarning(str(collector.path), "", "duplicate indicators skipped (first kept)", dropped)
        )
    return kept


def _frame(rows: list[dict[str, Any]]) -> tuple[pd.DataFrame, list[IntelWarning]]:
    """Rows -> the indicator table; the same id and value from two files is kept once."""
    seen: set[tuple] = set()
    unique, repeats = [], Counter()
    for row in rows:
        key = (row["indicator_id"], row["kind"], row["value"], row["port"], row["pattern"])
        if key in seen:
            repeats[row["file"]] += 1
            continue
        seen.add(key)
        unique.append(row)
    columns = {name: [row.get(name) for row in unique] for name in COLUMNS}
    for name in ("labels", "techniques", "tactics"):
        columns[name] = [list(v) if v else [] for v in columns[name]]
    table = pa.table(columns, schema=SCHEMA)
    warnings = [
        IntelWarning(file, "", "indicators already loaded from another file skipped", n)
        for file, n in repeats.items()
    ]
    return table.to_pandas(types_mapper=_PANDAS_TYPES.get), warnings


def _load_file(path: Path, collector: _Collector) -> None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        collector.warn("", f"cannot read: {exc.strerror or exc}")
        return
    if b"\x00" in data[:4096]:
        collector.warn("", f"binary file, not intel (starts with {data[:8]!r})")
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("utf-8-sig", errors="replace")
        collector.warn("", "not UTF-8: undecodable bytes replaced")
    head = text.lstrip()[:1]
    if head in ("{", "["):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            collector.warn("", f"not valid JSON: {exc}")
            return
        if _is_stix(doc):
            _load_stix(doc, collector)
        elif _is_misp(doc):
            _load_misp(doc, collector)
        else:
            collector.warn("", "JSON, but neither a STIX 2 bundle nor a MISP event")
        return
    if path.suffix.lower() in (".yar", ".yara") or re.match(
        r"\s*(?:import\s+\"|(?:private\s+|global\s+)*rule\s)", text
    ):
        collector.warn("", "YARA rules, not indicators (the yara engine reads them)")
        return
    if not text.strip():
        collector.warn("", "empty file")
        return
    header = _csv_header(text)
    if header is not None:
        _load_csv(text, header, collector)
    elif "filename" in path.name.lower():
        _load_loki_filenames(text, collector)
    else:
        _load_list(text, collector)


# STIX -------------------------------------------------------------------------------------------
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


# MISP -------------------------------------------------------------------------------------------
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


# CSV and lists ----------------------------------------------------------------------------------
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


# -- matching ----------------------------------------------------------------------------------------
#: Timeline columns searched, with the family of values they hold and the port of the same side.
_COLUMN_SOURCES = (
    ("source_ip", "ip", "source_port"),
    ("destination_ip", "ip", "destination_port"),
    ("dns_question_name", "domain", None),
    ("tls_server_name", "domain", None),
    ("url_full", "url", None),
    ("file_hash_sha256", "hash", None),
    ("file_path", "path", None),
    ("process_executable", "path", None),
    ("process_parent_executable", "path", None),
)
#: ``fields`` keys searched: (key, family, separator of a list value; "email" = addresses in text).
_FIELD_SOURCES = (
    ("answers", "host", ","),
    ("QueryResults", "host", ";"),
    ("host", "host", None),
    ("DestinationHostname", "domain", None),
    ("Hashes", "hash", ","),
    ("Hash", "hash", ","),
    ("md5", "hash", None),
    ("sha1", "hash", None),
    ("sha256", "hash", None),
    ("mailfrom", "email", "email"),
    ("rcptto", "email", "email"),
    ("from", "email", "email"),
    ("to", "email", "email"),
    ("reply_to", "email", "email"),
    ("principalEmail", "email", "email"),
)
_EMAIL_RE = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"
#: Which observed families each indicator kind needs.
_NEEDS = {
    "ipv4": ("ip", "host", "url"), "ipv6": ("ip", "host", "url"), "cidr": ("ip", "host", "url"),
    "domain": ("domain", "host", "url"), "url": ("url",), "email": ("email",),
    "md5": ("hash",), "sha1": ("hash",), "sha256": ("hash",), "filename": ("path",),
}  # fmt: skip
_SCHEME = r"^[A-Za-z][A-Za-z0-9+.\-]*://"
_DOTTED = r"[0-9]{1,3}(\.[0-9]{1,3}){3}"
_MACROS = f"""
CREATE OR REPLACE TEMP MACRO th_is_ip(h) AS regexp_full_match(h, '{_DOTTED}')
    OR (contains(h, ':') AND regexp_full_match(h, '[0-9a-f:.]+'));
CREATE OR REPLACE TEMP MACRO th_ip(x) AS CASE WHEN regexp_full_match(x, '{_DOTTED}') THEN x
    ELSE regexp_replace(regexp_replace(regexp_replace(lower(x), '^\\[(.*)\\]$', '\\1'), '%.*$', ''),
                        '^::ffff:({_DOTTED})$', '\\1') END;
CREATE OR REPLACE TEMP MACRO th_host(x) AS CASE WHEN NOT regexp_matches(x, '[A-Z:\\[\\] ]') THEN x
    ELSE regexp_replace(regexp_replace(regexp_replace(lower(x), '^type:\\s*[0-9]+\\s+', ''),
         '^\\[([^\\]]+)\\](:[0-9]+)?$', '\\1'), '^([^:]+):[0-9]+$', '\\1') END;
CREATE OR REPLACE TEMP MACRO th_ip4int(x) AS
    (TRY_CAST(split_part(x, '.', 1) AS UTINYINT)::BIGINT << 24)
    + (TRY_CAST(split_part(x, '.', 2) AS UTINYINT)::BIGINT << 16)
    + (TRY_CAST(split_part(x, '.', 3) AS UTINYINT)::BIGINT << 8)
    + TRY_CAST(split_part(x, '.', 4) AS UTINYINT)::BIGINT;
"""
#: Observed URLs, normalised as ``normalise_url`` does, with their host (``th_urls(raw, url, host)``).
_URLS = f"""
CREATE OR REPLACE TEMP TABLE th_urls AS
SELECT raw, CASE WHEN parts IS NULL THEN NULL ELSE
           parts.scheme || '://' || regexp_extract(parts.auth, '^(.*@)', 1) || host
           || CASE WHEN port IN ('', CASE parts.scheme WHEN 'http' THEN '80' WHEN 'https' THEN '443'
                   WHEN 'ftp' THEN '21' WHEN 'ws' THEN '80' WHEN 'wss' THEN '443' ELSE '' END) THEN ''
                   ELSE ':' || port END
           || CASE WHEN parts.rest = '' THEN '/' WHEN starts_with(parts.rest, '?') THEN '/' || parts.rest
                   ELSE parts.rest END END AS url,
       CASE WHEN starts_with(hostport, '[') THEN regexp_extract(hostport, '^\\[([^\\]]*)\\]', 1)
            ELSE host END AS host
FROM (
    SELECT *, rtrim(regexp_replace(hostport, ':[0-9]*$', ''), '.') AS host,
           regexp_extract(hostport, ':([0-9]*)$', 1) AS port
    FROM (
        SELECT raw, parts, lower(regexp_replace(parts.auth, '^.*@', '')) AS hostport
        FROM (
            SELECT raw, CASE WHEN regexp_matches(raw, '{_SCHEME}') THEN struct_pack(
                       scheme := lower(regexp_extract(raw, '^([A-Za-z][A-Za-z0-9+.\\-]*)://', 1)),
                       auth := regexp_extract(raw, '{_SCHEME}([^/?#]*)', 1),
                       rest := regexp_extract(raw, '{_SCHEME}[^/?#]*([^#]*)', 1)) END AS parts
            FROM th_vals WHERE family = 'url'
        )
    )
)
"""
#: Observed hashes: ``ALG=value`` (Sysmon) or bare; IMPHASH and other algorithms are not file hashes.
_HASHES = """
SELECT family, raw,
       CASE WHEN alg NOT IN ('', 'MD5', 'SHA1', 'SHA-1', 'SHA256', 'SHA-256') THEN NULL
            WHEN NOT regexp_full_match(h, '[0-9a-f]+') THEN NULL
            WHEN length(h) = 32 THEN 'md5' WHEN length(h) = 40 THEN 'sha1'
            WHEN length(h) = 64 THEN 'sha256' END,
       h
FROM (SELECT family, raw,
             CASE WHEN contains(raw, '=') THEN upper(regexp_extract(raw, '^([A-Za-z0-9\\-]+)=', 1))
                  ELSE '' END AS alg,
             CASE WHEN contains(raw, '=') THEN lower(regexp_replace(raw, '^[A-Za-z0-9\\-]+=', ''))
                  ELSE lower(raw) END AS h
      FROM th_vals WHERE family = 'hash')
"""
_SEP = " | "  # between the values of one finding's matched['indicator'] (and ['kind'])
_CHUNK = 200  # file-name regexes alternated per RE2 pass (larger ones leave RE2's fast DFA)
_SUBCHUNK = 16


def _families(kinds: Iterable[str]) -> set[str]:
    return {family for kind in kinds for family in _NEEDS.get(kind, ())}


def _observations(families: set[str]) -> tuple[str | None, str]:
    """SQL: every observed value of the wanted families, one row per (row, column, value), with
    ``row_file``, ``row_number``, ``col``, ``family``, ``raw`` and ``port`` (the same side's, for
    addresses). Values inside ``fields`` are read once, by the first statement returned (None
    when none is wanted), into the temporary table ``th_fobs`` that the second one reads: the
    second pass over the case then costs no map look-ups."""
    branches = []
    for column, family, port in _COLUMN_SOURCES:
        if family in families:
            branches.append(
                f"SELECT row_file, row_number, '{column}' AS col, '{family}' AS family, {column} AS raw, "
                f"{port or 'NULL::INTEGER'} AS port FROM timeline_rows WHERE {column} IS NOT NULL"
            )
    if "email" in families:
        branches.append(
            "SELECT row_file, row_number, 'user_name', 'email', "
            f"unnest(regexp_extract_all(user_name, '{_EMAIL_RE}')), NULL::INTEGER "
            "FROM timeline_rows WHERE contains(user_name, '@')"
        )
    keys = [(key, family, sep) for key, family, sep in _FIELD_SOURCES if family in families]
    if not keys:
        return None, " UNION ALL ".join(branches)
    extracted = ", ".join(f"map_extract(fields, '{key}')[1] AS \"f_{key}\"" for key, _, _ in keys)
    present = " OR ".join(f'"f_{key}" IS NOT NULL' for key, _, _ in keys)
    inner = []
    for key, family, sep in keys:
        if sep == "email":
            value = f"unnest(regexp_extract_all(\"f_{key}\", '{_EMAIL_RE}'))"
        elif sep:
            value = f"unnest(string_split(\"f_{key}\", '{sep}'))"
        else:
            value = f'"f_{key}"'
        inner.append(
            f"SELECT row_file, row_number, 'fields.{key}' AS col, '{family}' AS family, {value} AS raw "
            f'FROM th_f WHERE "f_{key}" IS NOT NULL'
        )
    setup = (
        "CREATE OR REPLACE TEMP TABLE th_fobs AS "
        f"WITH th_f AS (SELECT * FROM (SELECT row_file, row_number, {extracted} FROM timeline_rows "
        f"WHERE fields IS NOT NULL) WHERE {present}) "
        f"SELECT row_file, row_number, col, family, trim(raw) AS raw FROM ({' UNION ALL '.join(inner)}) "
        "WHERE trim(raw) <> ''"
    )
    branches.append("SELECT row_file, row_number, col, family, raw, NULL::INTEGER AS port FROM th_fobs")
    return setup, " UNION ALL ".join(branches)


def _indicator_table(indicators: pd.DataFrame) -> pa.Table:
    """The indicator frame -> Arrow with ``ikey`` (row position) and match keys: ``cls`` (what
    it is compared as), ``plen``/``netkey`` for IPv4 networks."""
    frame = indicators.reset_index(drop=True)
    columns: dict[str, Any] = {}
    n = len(frame)
    for f in SCHEMA:
        if f.name in frame.columns:
            values = frame[f.name]
            if f.name in ("labels", "techniques", "tactics"):
                columns[f.name] = pa.array(
                    [list(v) if isinstance(v, (list, tuple, np.ndarray)) else [] for v in values], type=f.type
                )
            elif pa.types.is_timestamp(f.type):
                columns[f.name] = pa.array(pd.to_datetime(values, utc=True).dt.as_unit("us"), type=f.type)
            else:
                columns[f.name] = pa.array(
                    values.astype(object).where(values.notna(), None).tolist(), type=f.type
                )
        else:
            columns[f.name] = pa.nulls(n, type=f.type)
    kinds = frame["kind"].astype(str).tolist()
    values = frame["value"].astype(str).tolist()
    cls, plen, netkey = [], [], []
    for kind, value in zip(kinds, values, strict=True):
        length = key = None
        if kind in ("ipv4", "ipv6"):
            c = "ip"
        elif kind == "cidr":
            try:
                net = ipaddress.ip_network(value, strict=False)
            except ValueError:  # a hand-made table's bad value matches nothing
                c = "invalid"
            else:
                c = f"cidr{net.version}"
                if net.version == 4:
                    length = net.prefixlen
                    key = int(net.network_address) >> (32 - length)
        else:
            c = kind
        cls.append(c)
        plen.append(length)
        netkey.append(key)
    feeds = columns["feed"].to_pylist()
    files = columns["file"].to_pylist()
    titles = [
        f"IOC {kind} {_short(value)} ({feed or file or 'intel'})"
        for kind, value, feed, file in zip(kinds, values, feeds, files, strict=True)
    ]
    table = pa.table(columns, schema=SCHEMA)
    return (
        table.append_column("ikey", pa.array(range(n), type=pa.int64()))
        .append_column("cls", pa.array(cls, type=pa.string()))
        .append_column("plen", pa.array(plen, type=pa.int64()))
        .append_column("netkey", pa.array(netkey, type=pa.int64()))
        .append_column("title", pa.array(titles, type=pa.string()))
    )


def _short(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def match(case: Case, indicators: pd.DataFrame, *, detected_at: datetime | None = None) -> pa.Table:
    """Every (indicator, timeline row) of ``case`` where the row carries the indicator ->
    findings (``forensics.detect.findings.FINDINGS``, engine ``ioc``), ordered by time."""
    if indicators is None or len(indicators) == 0:
        return empty_findings()
    table = _indicator_table(indicators)
    families = _families(set(table.column("kind").to_pylist()))
    if not families:
        return empty_findings()
    setup, observations = _observations(families)
    with case.connect() as con:
        _run(con, _MACROS)
        con.register("th_ind", table)
        if setup:
            _run(con, setup)
        _run(
            con, f"CREATE OR REPLACE TEMP TABLE th_vals AS SELECT DISTINCT family, raw FROM ({observations})"
        )
        _value_matches(con, table)
        if _run(con, "SELECT count(*) FROM th_vm")[0][0] == 0:
            return empty_findings()
        _run(con, _HITS.format(observations=observations))
        when = detected_at or datetime.now(UTC)
        result = con.sql(_findings_sql(), params=[when]).to_arrow_table()
    return result.cast(FINDINGS)


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[tuple]:
    """Execute and fetch to the end (DuckDB 2 keeps an unfinished result blocking the connection)."""
    return con.execute(sql, params).fetchall()


def _value_matches(con: duckdb.DuckDBPyConnection, table: pa.Table) -> None:
    """``th_vm(family, raw, ikey)``: which distinct observed values match which indicators."""
    _run(con, _URLS)
    _run(
        con,
        f"""
        CREATE OR REPLACE TEMP TABLE th_keys AS
        SELECT family, raw, 'ip' AS cls, th_ip(raw) AS key FROM th_vals WHERE family = 'ip'
        UNION ALL SELECT family, raw, 'domain', rtrim(lower(raw), '.') FROM th_vals WHERE family = 'domain'
        UNION ALL SELECT family, raw, CASE WHEN th_is_ip(h) THEN 'ip' ELSE 'domain' END,
            CASE WHEN th_is_ip(h) THEN th_ip(h) ELSE rtrim(h, '.') END
            FROM (SELECT family, raw, th_host(raw) AS h FROM th_vals WHERE family = 'host')
        UNION ALL SELECT 'url', raw, 'url', url FROM th_urls
        UNION ALL SELECT 'url', raw, CASE WHEN th_is_ip(host) THEN 'ip' ELSE 'domain' END,
            CASE WHEN th_is_ip(host) THEN th_ip(host) ELSE host END FROM th_urls
        UNION ALL {_HASHES}
        UNION ALL SELECT family, raw, 'email', lower(raw) FROM th_vals WHERE family = 'email'
        """,
    )
    _run(
        con,
        f"""
        CREATE OR REPLACE TEMP TABLE th_vm AS
        SELECT k.family, k.raw, i.ikey FROM th_keys k JOIN th_ind i ON i.cls = k.cls AND i.value = k.key
            WHERE k.cls IN ('ip', 'url', 'email', 'md5', 'sha1', 'sha256')
        UNION
        SELECT k.family, k.raw, i.ikey FROM (
            SELECT family, raw,
                   unnest([array_to_string(list_slice(p, n, len(p)), '.') for n in range(1, len(p))]) AS s
            FROM (SELECT family, raw, string_split(key, '.') AS p FROM th_keys
                  WHERE cls = 'domain' AND key <> '')
        ) k JOIN th_ind i ON i.cls = 'domain' AND i.value = k.s
        UNION
        SELECT v.family, v.raw, i.ikey FROM (
            SELECT family, raw, th_ip4int(key) AS n FROM th_keys
            WHERE cls = 'ip' AND regexp_full_match(key, '{_DOTTED}')
        ) v CROSS JOIN (SELECT DISTINCT plen FROM th_ind WHERE cls = 'cidr4') l
        JOIN th_ind i ON i.cls = 'cidr4' AND i.plen = l.plen AND i.netkey = (v.n >> (32 - l.plen))
        WHERE v.n IS NOT NULL
        """,
    )
    extra = _ipv6_matches(con, table) + _path_matches(con, table)
    if extra:
        con.register(
            "th_extra",
            pa.table(
                {
                    "family": pa.array([e[0] for e in extra], pa.string()),
                    "raw": pa.array([e[1] for e in extra], pa.string()),
                    "ikey": pa.array([e[2] for e in extra], pa.int64()),
                }
            ),
        )
        _run(con, "INSERT INTO th_vm SELECT * FROM th_extra EXCEPT SELECT * FROM th_vm")


def _ipv6_matches(con: duckdb.DuckDBPyConnection, table: pa.Table) -> list[tuple[str, str, int]]:
    """Observed values written with ``:`` (IPv6, or IPv4 in a non-canonical IPv6 form) against
    IPv6 addresses and all networks, in Python over the distinct values only."""
    cls = table.column("cls").to_pylist()
    if not any(c in ("ip", "cidr4", "cidr6") for c in cls):
        return []
    rows = con.execute(
        "SELECT DISTINCT family, raw, key FROM th_keys WHERE cls = 'ip' AND contains(key, ':')"
    ).fetchall()
    if not rows:
        return []
    exact: dict[str, list[int]] = {}
    nets: dict[tuple[int, int], dict[Any, list[int]]] = {}
    for ikey, (c, value) in enumerate(zip(cls, table.column("value").to_pylist(), strict=True)):
        if c == "ip":
            exact.setdefault(value, []).append(ikey)
        elif c in ("cidr4", "cidr6"):
            net = ipaddress.ip_network(value, strict=False)
            nets.setdefault((net.version, net.prefixlen), {}).setdefault(net.network_address, []).append(ikey)
    out = []
    for family, raw, key in rows:
        try:
            addr = ipaddress.ip_address(key)
        except ValueError:
            continue
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        found = list(exact.get(str(addr), []))
        for (version, length), by_net in nets.items():
            if version == addr.version:
                found += by_net.get(ipaddress.ip_network((addr, length), strict=False).network_address, [])
        out += [(family, raw, ikey) for ikey in found]
    return out


def _path_matches(con: duckdb.DuckDBPyConnection, table: pa.Table) -> list[tuple[str, str, int]]:
    """File-name regexes over the distinct observed paths: RE2 alternations of ``_CHUNK`` and
    then ``_SUBCHUNK`` patterns narrow the candidates, Python's ``re`` decides."""
    kinds = table.column("kind").to_pylist()
    patterns = []
    for ikey, (kind, pattern, exclude) in enumerate(
        zip(kinds, table.column("pattern").to_pylist(), table.column("exclude").to_pylist(), strict=True)
    ):
        if kind == "filename" and pattern:
            try:
                patterns.append(
                    (ikey, pattern, re.compile(pattern), re.compile(exclude) if exclude else None)
                )
            except re.error:
                continue
    if not patterns:
        return []
    _run(
        con, "CREATE OR REPLACE TEMP TABLE th_paths AS SELECT DISTINCT raw FROM th_vals WHERE family = 'path'"
    )
    out: list[tuple[str, str, int]] = []
    python_only = []

    def candidates(source: str, chunk: list) -> list[str] | None:
        alternation = "|".join(f"(?:{p[1]})" for p in chunk).replace("'", "''")
        try:
            return [
                r[0]
                for r in con.execute(
                    f"SELECT raw FROM {source} WHERE regexp_matches(raw, '{alternation}')"
                ).fetchall()
            ]
        except duckdb.Error:
            return None

    def scan(source: str, chunk: list, size: int) -> None:
        found = candidates(source, chunk)
        if found is None:  # a pattern RE2 cannot compile (look-around, back-reference): split
            if len(chunk) == 1:
                python_only.append(chunk[0])
                return
            half = len(chunk) // 2
            scan(source, chunk[:half], size)
            scan(source, chunk[half:], size)
            return
        if not found:
            return
        if len(chunk) > _SUBCHUNK and size == _CHUNK:
            _run(con, "CREATE OR REPLACE TEMP TABLE th_cand AS SELECT unnest(?::VARCHAR[]) AS raw", [found])
            for start in range(0, len(chunk), _SUBCHUNK):
                scan("th_cand", chunk[start : start + _SUBCHUNK], _SUBCHUNK)
            return
        for raw in found:
            out.extend(
                ("path", raw, ikey)
                for ikey, _, rx, ex in chunk
                if rx.search(raw) and not (ex and ex.search(raw))
            )

    for start in range(0, len(patterns), _CHUNK):
        scan("th_paths", patterns[start : start + _CHUNK], _CHUNK)
    if python_only:
        paths = [r[0] for r in _run(con, "SELECT raw FROM th_paths")]
        for ikey, _, rx, ex in python_only:
            out.extend(("path", raw, ikey) for raw in paths if rx.search(raw) and not (ex and ex.search(raw)))
    return out


_HITS = """
CREATE OR REPLACE TEMP TABLE th_hits AS
SELECT o.row_file, o.row_number, o.col, o.raw, vm.ikey
FROM ({observations}) o JOIN th_vm vm USING (family, raw) JOIN th_ind i ON i.ikey = vm.ikey
WHERE i.port IS NULL OR o.port = i.port
"""


def _findings_sql() -> str:
    """The findings of the hits in ``th_hits`` (one row per observed value and indicator)."""
    levels = "[" + ", ".join(f"'{level}'" for level in LEVELS) + "]"
    return f"""
    WITH hits AS (
        SELECT DISTINCT h.row_file, h.row_number, h.col, h.raw, h.ikey, i.indicator_id,
               {{'v': i.value, 'k': i.kind}} AS what
        FROM th_hits h JOIN th_ind i ON i.ikey = h.ikey
    ),
    per_col AS (  -- plain aggregates, sorted afterwards: DISTINCT/ORDER BY ones are slow on small groups
        SELECT indicator_id, row_file, row_number, col,
               array_to_string(list_sort(list_distinct(list(raw))), ', ') AS raws,
               min(ikey) AS ikey, list(what) AS whats
        FROM hits GROUP BY ALL
    ),
    per_row AS (
        SELECT indicator_id, row_file, row_number, min(ikey) AS ikey,
               list_sort(list({{'key': col, 'value': raws}})) AS cols,
               min(col) AS first_col, arg_min(raws, col) AS first_raw,
               list_sort(list_distinct(flatten(list(whats)))) AS whats
        FROM per_col GROUP BY ALL
    ),
    located AS (
        SELECT p.*, t.datetime, t.host_name, t.source, t.source_file, t.source_record, t.evidence_id
        FROM per_row p JOIN timeline_rows t USING (row_file, row_number)
    ),
    judged AS (
        SELECT l.*, i.title, i.kind, i.value, i.pattern, i.source AS intel_source, i.description, i.name,
               i.techniques, i.tactics,
               coalesce((i.valid_from IS NOT NULL AND l.datetime < i.valid_from)
                        OR (i.valid_until IS NOT NULL AND l.datetime > i.valid_until), false) AS outside,
               CASE WHEN i.confidence IS NULL THEN 3 WHEN i.confidence >= 80 THEN 4
                    WHEN i.confidence >= 50 THEN 3 ELSE 2 END AS base
        FROM located l JOIN th_ind i ON i.ikey = l.ikey
    )
    SELECT substr(sha256(concat_ws(chr(31), '{ENGINE}', indicator_id, row_file, row_number::VARCHAR)), 1, 32)
               AS finding_id,
           '{ENGINE}' AS engine, indicator_id AS rule_id, title AS rule_title,
           {levels}[base - outside::INTEGER] AS level, NULL::VARCHAR AS status,
           tactics, techniques, datetime, host_name, source, source_file, source_record, evidence_id,
           row_file, row_number, NULL::VARCHAR AS file_path, NULL::VARCHAR AS file_hash_sha256,
           map_from_entries(list_concat(cols, [
               {{'key': 'indicator', 'value': array_to_string([w.v for w in whats], '{_SEP}')}},
               {{'key': 'kind', 'value': array_to_string([w.k for w in whats], '{_SEP}')}},
               {{'key': 'source', 'value': intel_source}}],
               CASE WHEN kind = 'filename' THEN [{{'key': 'pattern', 'value': pattern}}] ELSE [] END,
               CASE WHEN outside THEN [{{'key': 'outside_validity', 'value': 'true'}}] ELSE [] END
           )) AS matched,
           first_col || ' ' || first_raw || ' matches ' || kind || ' indicator ' || value
               || coalesce(': ' || coalesce(description, name), '') || ' [' || intel_source || ']'
               || CASE WHEN outside THEN ' (outside its validity)' ELSE '' END AS message,
           ?::TIMESTAMPTZ AS detected_at
    FROM judged
    ORDER BY datetime NULLS FIRST, row_file, row_number, rule_id
    """


def _matched_values(matched: Any) -> list[tuple[str, str]]:
    """A finding's ``matched`` map -> the (kind, indicator value) pairs it matched: one, or
    several for an OR indicator whose values sat on the same row (joined by ``_SEP``)."""
    entries = dict(matched or {})
    kinds, values = entries.get("kind") or "", entries.get("indicator") or ""
    if _SEP not in kinds:
        return [(kinds, values)]
    return list(zip(kinds.split(_SEP), values.split(_SEP), strict=False))


# -- running it on a case ------------------------------------------------------------------------------
def detect_intel(case: Case, paths: str | Path | Iterable[str | Path], run: str = "default") -> IntelReport:
    """Load the intel at ``paths``, match it against ``case`` and store the findings (engine
    ``ioc``, replacing the same run's last ones)."""
    started = time.perf_counter()
    indicators, warnings = load_indicators(paths)
    findings = match(case, indicators)
    written = write_findings(case.root, ENGINE, findings, run)
    kinds = Counter(indicators["kind"].astype(str)) if len(indicators) else Counter()
    hit_kinds: Counter = Counter()
    seen: dict[str, set[str]] = {}
    for entry in findings.column("matched").to_pylist():
        pairs = _matched_values(entry)
        hit_kinds[pairs[0][0]] += 1
        for kind, value in pairs:
            seen.setdefault(kind, set()).add(value)
    return IntelReport(
        indicators={k: kinds[k] for k in KINDS if kinds.get(k)},
        hits=findings.num_rows,
        hits_by_kind=dict(sorted(hit_kinds.items())),
        seen={k: len(v) for k, v in sorted(seen.items())},
        warnings=warnings,
        path=written,
        seconds=time.perf_counter() - started,
        findings=findings,
    )


# -- export ---------------------------------------------------------------------------------------------
_NAMESPACE = uuid.UUID("5c8f3a8e-2f0e-4f43-9a55-8f1f6f0c7e11")  # Tracehound's, for stable STIX ids


def _seen(case: Case) -> list[dict[str, Any]]:
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
    seen = _seen(case)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if format == "blocklist":
        lines = [f"# Tracehound: {len(seen)} indicators seen in case {case.root.name}"]
        for kind in KINDS:
            values = [row["value"] for row in seen if row["kind"] == kind]
            if values:
                lines += ["", f"# {kind} ({len(values)})", *values]
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")
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
