"""``match``: indicators against a case's timeline rows, in DuckDB, as findings of engine ``ioc``.

Matching runs over the case's ``timeline_rows`` without a Python loop over rows. (1) The values
inside ``fields`` are read once into a temporary table; one scan then collects the distinct
observed values of each family: IP addresses (``source_ip``, ``destination_ip``), names or
addresses (DNS ``fields.answers``, Sysmon ``fields.QueryResults``, HTTP ``fields.host``), domains
(``dns_question_name``, ``tls_server_name``, Sysmon ``fields.DestinationHostname``), URLs
(``url_full``: the URL, and its host as a name or address), hashes (``file_hash_sha256``,
``fields.md5``/``sha1``/``sha256``, Sysmon ``fields.Hashes``/``Hash`` split into ``ALG=value``;
IMPHASH is not a file hash), paths (``file_path``, ``process_executable``,
``process_parent_executable``) and e-mail addresses (``user_name``, mail fields). (2) Those
values, far fewer than rows, are matched: equality joins for addresses, URLs, hashes and e-mail;
domains by joining every suffix of an observed name, so ``example.net`` matches
``a.b.example.net`` but never ``badexample.net``; IPv4 CIDR by integer arithmetic, one equality
join per distinct prefix length (the address's network number at that length); IPv6 (rare, and
DuckDB's inet extension cannot be installed offline) in Python over the distinct IPv6-looking
values only; file-name regular expressions with RE2 inside DuckDB over the distinct paths, 200
alternated per pass and then 16 (larger alternations leave RE2's fast DFA: 3,828 signature-base
patterns over 200,000 paths take 1.3 s in passes of 250, 34 s in one), the few candidates
confirmed with Python's ``re`` (the patterns' own dialect; a pattern RE2 rejects is run in Python
alone) and their false-positive exclusions. (3) A second scan joins the matched values back to
their rows, then one aggregation per (indicator, row). Free text, command lines
(``process_command_line``) and PowerShell script blocks (``fields.ScriptBlockText``), is searched
for the URLs and the host names or IPv4 addresses written in it (``certutil -urlcache -f
http://...``, ``ping 203.0.113.9``), tokens inside paths left out; file-name indicators are not
matched against it: a path named as an argument is not a file seen on the host. 10,000
indicators over 1,000,000 synthetic rows: 3.5 s on two shared cores
(``benchmarks/intel_match.py``).

Each (indicator, row) is one finding of engine ``ioc``: ``rule_id`` the indicator id, the title
``IOC <kind> <value> (<feed>)``, ``matched`` the columns and values that matched, the indicator
value, kind and source. The level follows confidence (>= 80 high, >= 50 medium, lower low,
unknown medium); a row outside the indicator's validity window is still reported, one level
lower, with ``matched['outside_validity'] = 'true'``: intel usually arrives after the activity
it describes, so a row before ``valid_from`` is evidence too.

Reference: RE2 syntax (github.com/google/re2/wiki/Syntax).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from forensics.detect.findings import FINDINGS, LEVELS, empty_findings
from forensics.detect.intel.indicators import SCHEMA, _short
from forensics.detect.sqltext import sql_string

if TYPE_CHECKING:
    from forensics.case import Case

#: The engine name of IOC findings (``forensics.detect.findings``).
ENGINE = "ioc"
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
#: Free text (command lines, PowerShell script blocks) searched for URLs and host names or IPv4
#: addresses: the column (or ``fields`` key) and how its rows are read.
_TEXT_COLUMNS = ("process_command_line",)
_TEXT_FIELDS = ("ScriptBlockText",)
_TEXT_URL_RE = r"""[A-Za-z][A-Za-z0-9+.\-]*://[^\s"'<>|^`]+"""
#: A run of host characters holding a dot, not inside a path (after ``\``, ``/``) or a word.
_TEXT_HOST_RE = r"(?:^|[^A-Za-z0-9.\\/_\-])([A-Za-z0-9][A-Za-z0-9.\-]*\.[A-Za-z0-9\-]+)"
#: Which observed families each indicator kind needs.
_NEEDS = {
    "ipv4": ("ip", "host", "url"), "ipv6": ("ip", "host", "url"), "cidr": ("ip", "host", "url"),
    "domain": ("domain", "host", "url"), "url": ("url",), "email": ("email",),
    "md5": ("hash",), "sha1": ("hash",), "sha256": ("hash",), "filename": ("path",),
}  # fmt: skip
_SCHEME = r"^[A-Za-z][A-Za-z0-9+.\-]*://"
_DOTTED = r"[0-9]{1,3}(\.[0-9]{1,3}){3}"
#: What a text token must look like to be a host: a dotted IPv4, or labels ending in a letter's.
_HOSTLIKE = rf"regexp_full_match(raw, '{_DOTTED}') OR regexp_full_match(raw, '([A-Za-z0-9\-]+\.)+[A-Za-z][A-Za-z0-9\-]*')"
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
    addresses). Values inside ``fields`` and those found in free text are read once, by the
    first statement returned (None when none is wanted), into the temporary table ``th_fobs``
    that the second one reads: the second pass over the case then costs no map look-ups and no
    regular expressions."""
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
    # Free text: (its column in th_f, SQL for it, the name findings give it).
    texts = [(f"t_{c}", c, c) for c in _TEXT_COLUMNS] + [
        (f"f_{k}", f"map_extract(fields, '{k}')[1]", f"fields.{k}") for k in _TEXT_FIELDS
    ]
    if not families & {"url", "host"}:
        texts = []
    if not keys and not texts:
        return None, " UNION ALL ".join(branches)
    read = {f"f_{key}": f"map_extract(fields, '{key}')[1]" for key, _, _ in keys}
    read.update((alias, sql) for alias, sql, _ in texts)
    extracted = ", ".join(f'{sql} AS "{alias}"' for alias, sql in read.items())
    present = " OR ".join(f'"{alias}" IS NOT NULL' for alias in read)
    inner = []
    for alias, _, name in texts:
        inner += _text_branches(f'"{alias}"', f"'{name}'", families)
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
        f"WITH th_f AS (SELECT * FROM (SELECT row_file, row_number, {extracted} FROM timeline_rows) "
        f"WHERE {present}) "
        f"SELECT row_file, row_number, col, family, trim(raw) AS raw FROM ({' UNION ALL '.join(inner)}) "
        "WHERE trim(raw) <> ''"
    )
    branches.append("SELECT row_file, row_number, col, family, raw, NULL::INTEGER AS port FROM th_fobs")
    return setup, " UNION ALL ".join(branches)


def _text_branches(column: str, name: str, families: set[str]) -> list[str]:
    """SQL over ``th_f`` (see ``_observations``) for the URLs (family ``url``) and the host names
    and IPv4 addresses (family ``host``) written in its free-text column ``column``."""
    out = []
    if "url" in families:
        out.append(
            f"SELECT row_file, row_number, {name} AS col, 'url' AS family, rtrim(raw, '),;.''\"') AS raw "
            f"FROM (SELECT row_file, row_number, unnest(regexp_extract_all({column}, {sql_string(_TEXT_URL_RE)})) AS raw "
            f"FROM th_f WHERE contains({column}, '://'))"
        )
    if "host" in families:
        out.append(
            f"SELECT row_file, row_number, {name} AS col, 'host' AS family, raw "
            f"FROM (SELECT row_file, row_number, rtrim(unnest(regexp_extract_all({column}, {sql_string(_TEXT_HOST_RE)}, 1)), '.') AS raw "
            f"FROM th_f WHERE {column} IS NOT NULL) WHERE {_HOSTLIKE}"
        )
    return out


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
