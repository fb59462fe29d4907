"""The indicator table and its values: schema, kinds, normalisation, per-file collection, warnings.

Every reader (``stix``, ``misp``, ``lists``) turns what it reads into rows of ``COLUMNS``
through a ``_Collector``, so that all formats give the same table: an indicator's ``kind`` (one
of ``KINDS``), its ``value`` normalised so that equal things compare equal (addresses through
``ipaddress``: ``::ffff:203.0.113.66`` is ``203.0.113.66``; domains and hashes lowercased, a
trailing dot and a ``*.`` prefix dropped, IDN in punycode; URLs with scheme and host lowercased,
the scheme's default port and the fragment dropped, an empty path made ``/``; defanged
``hxxp://evil[.]com`` refanged), where it came from (``source``: file and feed; ``indicator_id``),
what it means (``name``, ``description``, ``labels``, ATT&CK ``techniques`` and ``tactics``), how
sure the feed is (``confidence`` 0-100) and when it holds (``valid_from``/``valid_until``, UTC).

Readers never raise on bad input: every line or object that cannot be used is an
``IntelWarning`` with the file and line or object id; a file that cannot be read at all gets one,
with the reason.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from forensics.timeutil import epoch_to_utc, parse_iso

KINDS = ("ipv4", "ipv6", "cidr", "domain", "url", "email", "md5", "sha1", "sha256", "filename")

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


def _short(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
            self.warn(location, f"{exc}: {_short(str(value), 80)!r}")
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
