"""Sigma rules over a case: load, compile to DuckDB SQL, evaluate in bulk, store findings.

``detect_sigma(case, paths)`` runs a rule set (files, folders, ``.tar.gz``/``.zip`` archives read in
memory, such as SigmaHQ's whole tree) over a case's timeline:

1. ``load_rules`` parses every rule with pySigma; a file that does not parse, or a rule with
   errors, is one warning (file name, one-line reason) and the rest load. Folders named
   ``deprecated`` and ``unsupported`` (SigmaHQ keeps retired rules there) and rules with those
   statuses are counted and left out.
2. ``compile_rules`` maps each rule's log source to its rows and fields
   (``forensics.detect.sigma_fields``) and its detection to one SQL boolean
   (``forensics.detect.sigma_sql``). Rules for logs the workbench never ingests are *not
   applicable* (counted, not errors); a rule using something unsupported is skipped with the
   reason; correlation rules compile in ``forensics.detect.sigma_correlation``.
3. Evaluation runs a few SQL queries over the whole case, never a loop over rows: per log source
   one *group table* holding the rows of that log with every field its rules use extracted once;
   then the rules run, in batches of one ``UNION ALL`` query each, over the *distinct values* of
   the fields they read (with the rows holding each value): logs repeat themselves, so a thousand
   process-creation rules test a few thousand values instead of a million rows. Rules reading a
   field unique to each row run over the rows; keyword rules search each row's text as the rows
   stream by, never storing it. Matches become findings in one more query
   (``forensics.detect.findings``: engine ``sigma``, the rule's id, title, level, status, ATT&CK
   tactics and techniques from its tags, the row's locator, host, time and source, and the rule's
   fields with their values on that row).
"""

from __future__ import annotations

import contextlib
import re
import tarfile
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.data.mitre_attack import mitre_attack_tactics, mitre_attack_techniques
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.filters import SigmaFilter
from sigma.rule import SigmaRule, SigmaRuleBase, SigmaStatus

from forensics.detect.findings import (
    FINDINGS,
    LEVELS,
    empty_findings,
    finding_id,
    findings_table,
    write_findings,
)
from forensics.detect.sigma_fields import Target, sql_string, target
from forensics.detect.sigma_sql import (
    KEYWORD_COLUMN,
    PY_REGEX_FUNCTION,
    Columns,
    SigmaUnsupported,
    compile_condition,
    python_regex,
    quote,
)

__all__ = [
    "CompiledRule",
    "RuleProblem",
    "SigmaReport",
    "compile_rules",
    "detect_sigma",
    "evaluate",
    "load_rules",
    "rule_attack",
    "technique_name",
]

ENGINE = "sigma"
#: SigmaHQ's folders of retired rules, left out when a folder or archive is loaded.
RETIRED_FOLDERS = frozenset({"deprecated", "unsupported"})
_RULE_SUFFIXES = (".yml", ".yaml")
_TACTICS = frozenset(mitre_attack_tactics.values())
_TECHNIQUE = re.compile(r"t\d{4}(?:\.\d{3})?")
_PYTHON_REGEX = (
    "regular expression RE2 cannot take (look-around or back-reference): matched with Python's re, "
    "on the rows the rest of the rule lets through"
)
#: Rules per UNION ALL query.
BATCH = 128
#: Rules run over the distinct values of the columns they read unless those number more than
#: this share of the rows ...
DISTINCT_AT_MOST = 0.5
#: ... and when this many rules read them (building the values costs a few rules' scans).
DISTINCT_FROM_RULES = 8
#: Up to this many rows to evaluate, they are copied into memory once (``_staged``).
STAGE_ROWS = 250_000
#: libyaml's loader when present: parsing SigmaHQ's tree takes 0.6 s instead of 5 s.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class RuleProblem:
    """A rule (or file) that does not run, or runs with a caveat: ``kind`` is ``error`` (does
    not parse), ``unsupported`` (uses what this engine cannot evaluate), ``not_applicable`` (its
    log source is never ingested), ``ignored`` (retired: deprecated/unsupported), ``warning``
    (a file read as Latin-1) or ``note`` (runs: a regular expression matched by Python)."""

    file: str
    reason: str
    kind: str = "error"
    rule_id: str | None = None
    title: str | None = None

    def __str__(self) -> str:
        what = f" {self.rule_id}" if self.rule_id else ""
        return f"{self.file}{what}: {self.kind}: {self.reason}"


@dataclass
class CompiledRule:
    """One Sigma rule ready to run: its target's group, SQL, and finding metadata."""

    rule: SigmaRule
    target: Target
    columns: Columns
    sql: str
    fields: list[str]
    keywords: dict[str, str] = field(default_factory=dict)  # as written -> regular expression
    python_regex: int = 0
    reads: tuple[str, ...] = ()  # the group-table columns ``sql`` reads

    @property
    def rule_id(self) -> str:
        return rule_key(self.rule)

    @property
    def output(self) -> bool:
        return bool(getattr(self.rule, "_output", True))


# -- loading ---------------------------------------------------------------------------------


def load_rules(
    paths: Iterable[str | Path], *, select: Callable[[str], bool] | None = None
) -> tuple[list[SigmaRuleBase], list[RuleProblem]]:
    """Parse the Sigma rules in files, folders and archives (``.tar.gz``, ``.tgz``, ``.tar``,
    ``.zip``, read in memory). ``select(name)`` keeps only the rule files it accepts.
    Returns the rules (detection and correlation rules) and one problem per file or rule that
    does not load."""
    rules: list[SigmaRuleBase] = []
    problems: list[RuleProblem] = []
    for name, text in _rule_texts(paths, select, problems):
        _parse(name, text, rules, problems)
    collection = SigmaCollection(rules)
    kept: list[SigmaRuleBase] = []
    filters = [r for r in rules if isinstance(r, SigmaFilter)]
    for rule in rules:
        if isinstance(rule, SigmaFilter):
            continue
        if isinstance(rule, SigmaCorrelationRule):
            try:
                rule.resolve_rule_references(collection)
            except SigmaError as e:
                problems.append(_problem(rule, f"correlation: {_one_line(e)}"))
                continue
        for f in filters:
            try:
                rule = f.apply_on_rule(rule)
            except SigmaError as e:
                problems.append(_problem(rule, f"filter {f.title}: {_one_line(e)}"))
        kept.append(rule)
    return kept, problems


def _rule_texts(
    paths: Iterable[str | Path], select: Callable[[str], bool] | None, problems: list[RuleProblem]
) -> Iterator[tuple[str, str]]:
    for given in paths:
        path = Path(given)
        if path.is_file() and not path.name.lower().endswith(_ARCHIVES):
            yield str(path), _read(path, problems)
            continue
        if not path.exists():
            problems.append(RuleProblem(str(path), "no such file or folder"))
            continue
        for key, folders, name, read in _members(path, problems):
            if select is not None and not select(key):
                continue
            if RETIRED_FOLDERS.intersection(folders):
                problems.append(RuleProblem(name, "retired rule folder", "ignored"))
            else:
                yield name, read()


_ARCHIVES = (".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz", ".zip")


def _members(
    path: Path, problems: list[RuleProblem]
) -> Iterator[tuple[str, tuple[str, ...], str, Callable[[], str]]]:
    """Each rule file of a folder, a tar or a zip archive (read in memory, member by member):
    (what ``select`` is given: the file's path, a member's name; the folders it is in; its
    name for reports; the reader of its text)."""
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.suffix.lower() in _RULE_SUFFIXES and p.is_file()):
            yield str(file), file.relative_to(path).parts[:-1], str(file), partial(_read, file, problems)
        return
    if path.name.lower().endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.is_dir() and info.filename.lower().endswith(_RULE_SUFFIXES):
                    name = f"{path}:{info.filename}"
                    read = partial(archive.read, info)
                    yield (
                        info.filename,
                        tuple(info.filename.split("/")[:-1]),
                        name,
                        partial(_text, read, name, problems),
                    )
        return
    with tarfile.open(path) as tar:
        for member in tar:
            if member.isfile() and member.name.lower().endswith(_RULE_SUFFIXES):
                name = f"{path}:{member.name}"
                read = partial(_tar_bytes, tar, member)
                yield (
                    member.name,
                    tuple(member.name.split("/")[:-1]),
                    name,
                    partial(_text, read, name, problems),
                )


def _tar_bytes(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    data = tar.extractfile(member)
    return data.read() if data else b""


def _text(read: Callable[[], bytes], name: str, problems: list[RuleProblem]) -> str:
    return _decode(read(), name, problems)


def _read(path: Path, problems: list[RuleProblem]) -> str:
    try:
        return _decode(path.read_bytes(), str(path), problems)
    except OSError as e:
        problems.append(RuleProblem(str(path), f"unreadable: {e.strerror or e}"))
        return ""


def _decode(data: bytes, name: str, problems: list[RuleProblem]) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        problems.append(RuleProblem(name, "not UTF-8; read as Latin-1", "warning"))
        return data.decode("latin-1")


def _parse(name: str, text: str, rules: list[SigmaRuleBase], problems: list[RuleProblem]) -> None:
    if not text.strip():
        return
    try:
        documents = list(yaml.load_all(text, Loader=_LOADER))
        collection = SigmaCollection.from_dicts(
            documents, collect_errors=True, source=SigmaRuleLocation(name)
        )
    except yaml.YAMLError as e:
        problems.append(RuleProblem(name, f"YAML: {_one_line(e)}"))
        return
    except (SigmaError, TypeError, AttributeError, ValueError) as e:
        problems.append(RuleProblem(name, _one_line(e)))
        return
    for error in collection.errors:
        if not any(error in r.errors for r in collection.rules):
            problems.append(RuleProblem(name, _one_line(error)))
    for rule in collection.rules:
        if rule.errors:
            problems.append(_problem(rule, _one_line(rule.errors[0]), file=name))
        elif rule.status is not None and rule.status in (SigmaStatus.DEPRECATED, SigmaStatus.UNSUPPORTED):
            problems.append(_problem(rule, f"status {rule.status}", kind="ignored", file=name))
        else:
            rules.append(rule)


def _one_line(error: BaseException) -> str:
    text = error.args[0] if error.args else str(error)
    return " ".join(str(text).split())[:300]


def rule_key(rule: SigmaRuleBase) -> str:
    """A rule's id for findings: its Sigma id, else its name, else its title."""
    return str(rule.id) if rule.id else (rule.name or rule.title or "?")


def rule_file(rule: SigmaRuleBase) -> str:
    return str(rule.source.path) if rule.source is not None else "?"


def _problem(rule: SigmaRuleBase, reason: str, kind: str = "error", file: str | None = None) -> RuleProblem:
    return RuleProblem(file or rule_file(rule), reason, kind, rule_key(rule), rule.title)


# -- ATT&CK ----------------------------------------------------------------------------------


def rule_attack(rule: SigmaRuleBase) -> tuple[list[str], list[str]]:
    """(tactics, techniques) of a rule's ``attack.*`` tags: ``attack.execution`` ->
    ``execution``, ``attack.t1059.001`` -> ``T1059.001``; groups and software are left out."""
    tactics: list[str] = []
    techniques: list[str] = []
    for tag in rule.tags or []:
        if (tag.namespace or "").lower() != "attack":
            continue
        name = tag.name.lower()
        if _TECHNIQUE.fullmatch(name):
            techniques.append(name.upper())
        elif name.replace("_", "-") in _TACTICS:
            tactics.append(name.replace("_", "-"))
    return list(dict.fromkeys(tactics)), list(dict.fromkeys(techniques))


def technique_name(technique: str) -> str | None:
    """The ATT&CK name of a technique id (``T1059.001`` -> ``PowerShell``), offline (pySigma's data)."""
    return mitre_attack_techniques.get(technique.upper())


# -- compilation -----------------------------------------------------------------------------


def compile_rules(
    rules: Iterable[SigmaRuleBase], *, placeholders: Mapping[str, Sequence[str]] | None = None
) -> tuple[list[Any], list[RuleProblem]]:
    """Compile rules to SQL. Returns the compiled rules (``CompiledRule``, then
    ``sigma_correlation.CompiledCorrelation``) and a problem for each rule that will not run
    (``not_applicable`` or ``unsupported``)."""
    from forensics.detect.sigma_correlation import compile_correlation

    groups: dict[str, Columns] = {}
    compiled: list[Any] = []
    problems: list[RuleProblem] = []
    by_rule: dict[int, CompiledRule] = {}
    correlations: list[SigmaCorrelationRule] = []
    for rule in rules:
        if isinstance(rule, SigmaCorrelationRule):
            correlations.append(rule)
            continue
        if not isinstance(rule, SigmaRule):
            continue
        where = target(rule.logsource)
        if where is None:
            source = rule.logsource
            what = "/".join(str(x) for x in (source.product, source.category, source.service) if x)
            problems.append(
                _problem(rule, f"log source {what or '(none)'} is not ingested", "not_applicable")
            )
            continue
        columns = groups.setdefault(where.key, Columns(where))
        before = (dict(columns.exprs), set(columns.lists))
        try:
            result = compile_condition(rule, columns, placeholders)
        except SigmaUnsupported as e:
            columns.exprs, columns.lists = before
            problems.append(_problem(rule, str(e), "unsupported"))
            continue
        except SigmaError as e:
            columns.exprs, columns.lists = before
            problems.append(_problem(rule, _one_line(e), "unsupported"))
            continue
        one = CompiledRule(
            rule,
            where,
            columns,
            result.sql,
            result.fields,
            result.keywords,
            result.python_regex,
            result.reads,
        )
        if result.python_regex:
            problems.append(_problem(rule, _PYTHON_REGEX, "note"))
        compiled.append(one)
        by_rule[id(rule)] = one
    for rule in correlations:
        try:
            compiled.append(compile_correlation(rule, by_rule))
        except SigmaUnsupported as e:
            problems.append(_problem(rule, str(e), "unsupported"))
    return compiled, problems


# -- evaluation ------------------------------------------------------------------------------


def _table_name(index: int) -> str:
    return f"sigma_group_{index}"


def evaluate(
    con: duckdb.DuckDBPyConnection, compiled: Sequence[CompiledRule], *, where: str | None = None
) -> dict[str, Any]:
    """Run compiled rules over ``timeline_rows`` (``where``: extra SQL narrowing the rows).
    Returns {"matches": Arrow table (rule, row_file, row_number), "groups": {target key: table},
    "rules": the rules, "keyword_hits": {(rule, row_file, row_number): keywords found}} and
    leaves one temporary group table per target on ``con`` (correlations read them)."""
    rules = [c for c in compiled if isinstance(c, CompiledRule)]
    if any(c.python_regex for c in rules):
        with contextlib.suppress(duckdb.Error):  # already registered on this connection
            con.create_function(
                PY_REGEX_FUNCTION, python_regex, [duckdb.sqltype("VARCHAR"), duckdb.sqltype("INTEGER")],
                duckdb.sqltype("BOOLEAN"), side_effects=False,
            )  # fmt: skip
    by_key: dict[str, list[int]] = {}
    for index, rule in enumerate(rules):
        by_key.setdefault(rule.target.key, []).append(index)
    keys = list(by_key)
    narrow = f" AND ({where})" if where else ""
    # One scan counts every log source's rows: groups without rows cost nothing more.
    counts: list[int] = []
    for start in range(0, len(keys), 200):
        chunk = keys[start : start + 200]
        select = ", ".join(
            f"count(*) FILTER (WHERE ({rules[by_key[k][0]].target.where}){narrow})" for k in chunk
        )
        counts += list(con.execute(f"SELECT {select} FROM timeline_rows").fetchall()[0]) if chunk else []
    source = _staged(
        con, [rules[by_key[k][0]].target.where for k, n in zip(keys, counts, strict=True) if n], narrow
    )
    tables: dict[str, str] = {}
    found: list[tuple[int, str, int]] = []
    hits: dict[tuple[int, str, int], str] = {}  # keyword rule's match -> the keywords found
    for number, (key, count) in enumerate(zip(keys, counts, strict=True)):
        if not count:
            continue
        group = [(i, rules[i]) for i in by_key[key]]
        first = group[0][1]
        table = _table_name(number)
        tables[key] = table
        exprs = first.columns.exprs
        rows_where = f"({first.target.where}){narrow}"
        stored = "".join(f", {sql} AS {quote(name)}" for name, sql in exprs.items() if name.startswith("r:"))
        # Lower-cased copies are made where a query needs them: over distinct values, mostly.
        lowered = {name: sql for name, sql in exprs.items() if name.startswith("l:")}
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT row_file, row_number{stored} "
            f"FROM {source} WHERE {rows_where}"
        )
        # The row's whole text is not stored: keyword rules search it as the rows stream by.
        searching = [item for item in group if KEYWORD_COLUMN in item[1].reads]
        if searching:
            every = ", ".join(f"{sql} AS {quote(name)}" for name, sql in exprs.items())
            stream = f"(SELECT row_file, row_number, {every} FROM {source} WHERE {rows_where})"
            for i, row_file, row_number, text in _run_batches(
                con, searching, f"row_file, row_number, {quote(KEYWORD_COLUMN)} FROM {stream}"
            ):
                found.append((i, row_file, row_number))
                hits[(i, row_file, row_number)] = keyword_hits(rules[i], text)
        found += _run_group(
            con, table, count, [item for item in group if KEYWORD_COLUMN not in item[1].reads], lowered
        )
    matches = pa.table(
        {
            "rule": pa.array([m[0] for m in found], pa.int64()),
            "row_file": pa.array([m[1] for m in found], pa.string()),
            "row_number": pa.array([m[2] for m in found], pa.int64()),
        }
    )
    return {"matches": matches, "groups": tables, "rules": rules, "keyword_hits": hits}


def _staged(con: duckdb.DuckDBPyConnection, wheres: list[str], narrow: str) -> str:
    """Where the group tables read rows from: ``timeline_rows``, or for a case of at most
    ``STAGE_ROWS`` rules' rows spread over several log sources, a copy of those rows in memory
    (``sigma_rows``): one host's logs are hundreds of small Parquet files, which every log
    source's scan would open again."""
    if len(wheres) < 2:
        return "timeline_rows"
    wanted = f"({' OR '.join(f'({w})' for w in wheres)}){narrow}"
    (rows,) = con.execute(f"SELECT count(*) FROM timeline_rows WHERE {wanted}").fetchone() or (0,)
    if rows > STAGE_ROWS:
        return "timeline_rows"
    con.execute(f"CREATE OR REPLACE TEMP TABLE sigma_rows AS SELECT * FROM timeline_rows WHERE {wanted}")
    return "sigma_rows"


_KEYWORD_RE = re.IGNORECASE | re.DOTALL


def keyword_hits(rule: CompiledRule, text: str | None) -> str:
    """The rule's keywords found (case-insensitively) in a row's text, comma-separated."""
    return ", ".join(k for k, pattern in rule.keywords.items() if re.search(pattern, text or "", _KEYWORD_RE))


def _run_group(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: int,
    rules: list[tuple[int, CompiledRule]],
    lowered: dict[str, str],
) -> list[tuple[int, str, int]]:
    """(rule index, row_file, row_number) of the rows of ``table`` each rule matches.

    Rules run over the distinct values of the columns they read, each value with the list of
    rows holding it: logs repeat themselves (the same programs start with the same command
    lines all day), so a thousand rules test a few thousand values, not a million rows. Rules
    reading a column with nearly a distinct value per row (the keyword text, say) run over the
    rows. The rest share one table of distinct values if that is small enough, else one per set
    of columns read (by a few rules at least; the others run over the rows). ``lowered``: the
    lower-cased columns (``l:``) as SQL over the stored ones (``r:``)."""
    every = "".join(f", {sql} AS {quote(name)}" for name, sql in lowered.items())
    over_rows = f"row_file, row_number FROM (SELECT *{every} FROM {table})"
    columns = sorted({_stored(c) for _, rule in rules for c in rule.reads})
    wide: set[str] = set()
    if columns:
        counts = (
            con.execute(
                f"SELECT {', '.join(f'approx_count_distinct({quote(c)})' for c in columns)} FROM {table}"
            ).fetchone()
            or ()
        )
        wide = {c for c, n in zip(columns, counts, strict=True) if n > rows * DISTINCT_AT_MOST}
    direct = [item for item in rules if not item[1].reads or wide.intersection(map(_stored, item[1].reads))]
    rest = [item for item in rules if item[1].reads and not wide.intersection(map(_stored, item[1].reads))]
    if len(rest) < DISTINCT_FROM_RULES:
        return _run_batches(con, rules, over_rows)
    found = _over_distinct(con, table, rows, rest, lowered, f"{table}_d")
    if found is None:
        found = []
        by_reads: dict[tuple[str, ...], list[tuple[int, CompiledRule]]] = {}
        for item in rest:
            by_reads.setdefault(tuple(sorted(item[1].reads)), []).append(item)
        for number, members in enumerate(by_reads.values()):
            some = None
            if len(members) >= DISTINCT_FROM_RULES:
                some = _over_distinct(con, table, rows, members, lowered, f"{table}_d{number}")
            if some is None:
                direct += members
            else:
                found += some
    return found + _run_batches(con, direct, over_rows)


def _stored(column: str) -> str:
    """The stored column a rule's column comes from (``l:x`` is made from ``r:x``)."""
    return "r:" + column[2:] if column.startswith("l:") else column


def _over_distinct(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: int,
    rules: list[tuple[int, CompiledRule]],
    lowered: dict[str, str],
    name: str,
) -> list[tuple[int, str, int]] | None:
    """The rules' matches, run over the distinct values of the columns they read; None (nothing
    run) when those values number more than ``DISTINCT_AT_MOST`` of the rows.

    The values (``name``) and the rows holding each (``name_rows``) are two tables: the rules'
    queries read only the values and give (rule, value) pairs, which one join turns into rows."""
    reads = {c for _, rule in rules for c in rule.reads}
    columns = ", ".join(quote(c) for c in sorted({_stored(c) for c in reads}))
    derived = "".join(f", {lowered[c]} AS {quote(c)}" for c in sorted(reads) if c in lowered)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {name}_rows AS SELECT row_number() OVER () AS _value, * FROM "
        f"(SELECT {columns}, list(row_file) AS _files, list(row_number) AS _numbers FROM {table} GROUP BY ALL)"
    )
    try:
        (values,) = con.execute(f"SELECT count(*) FROM {name}_rows").fetchone() or (0,)
        if values > rows * DISTINCT_AT_MOST:
            return None
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT _value, {columns}{derived} FROM {name}_rows"
        )
        pairs = _run_batches(con, rules, f"_value FROM {name}")
        if not pairs:
            return []
        matched = pa.table({"rule": [p[0] for p in pairs], "value": [p[1] for p in pairs]})
        con.register(f"{name}_matched", matched)
        try:
            return con.execute(
                f"SELECT m.rule, unnest(r._files), unnest(r._numbers) FROM {name}_matched m "
                f"JOIN {name}_rows r ON r._value = m.value"
            ).fetchall()
        finally:
            con.unregister(f"{name}_matched")
    finally:
        con.execute(f"DROP TABLE IF EXISTS {name}")
        con.execute(f"DROP TABLE {name}_rows")


def _run_batches(con: duckdb.DuckDBPyConnection, rules: list[tuple[int, CompiledRule]], source: str) -> list:
    """Rules in batches of ``BATCH``, one ``UNION ALL`` query each, over ``source`` (what to
    select for a match and the relation it comes from): (rule index, *selected) tuples."""
    found: list = []
    for start in range(0, len(rules), BATCH):
        query = " UNION ALL ".join(
            f"SELECT {i} AS rule, {source} WHERE {rule.sql}" for i, rule in rules[start : start + BATCH]
        )
        found += con.execute(query).fetchall()
    return found


def findings_from(
    con: duckdb.DuckDBPyConnection, result: dict[str, Any], *, limit_value: int = 1000
) -> pa.Table:
    """The findings (``forensics.detect.findings.FINDINGS``) of the matches of ``evaluate``, made
    in one SQL query: the rules' metadata joined with the matched rows (their locators, host,
    time and source from ``timeline_rows``, the rule's fields from the group tables)."""
    rules: list[CompiledRule] = result["rules"]
    matches: pa.Table = result["matches"]
    output = [i for i, r in enumerate(rules) if r.output]
    if matches.num_rows == 0 or not output:
        return empty_findings()
    meta = _rule_table([(i, rules[i]) for i in output])
    hits = result.get("keyword_hits", {})
    keywords = pa.table(
        {
            "rule": pa.array([k[0] for k in hits], pa.int64()),
            "row_file": pa.array([k[1] for k in hits], pa.string()),
            "row_number": pa.array([k[2] for k in hits], pa.int64()),
            "keywords": pa.array([v[:limit_value] for v in hits.values()], pa.string()),
        }
    )
    parts = []
    for key, table in result["groups"].items():
        chosen = [i for i in output if rules[i].target.key == key]
        if not chosen:
            continue
        columns = rules[chosen[0]].columns  # the group table stores its "r:" columns
        names = [name[2:] for name in columns.exprs if name.startswith("r:")]
        lists = columns.lists
        entries = ", ".join(
            f"{{'key': {sql_string(n)}, 'value': left({_as_text(quote('r:' + n), 'r:' + n in lists)}, {limit_value})}}"
            for n in names
        )
        matched = (
            f"list_filter([{entries}], lambda e: e.value IS NOT NULL AND list_contains(r.fields, e.key))"
            if names
            else "[]::STRUCT(key VARCHAR, value VARCHAR)[]"
        )
        parts.append(
            f"SELECT m.rule, m.row_file, m.row_number, {matched} AS entries FROM sigma_matches m "
            f"JOIN {table} g ON g.row_file = m.row_file AND g.row_number = m.row_number "
            f"JOIN sigma_rule_meta r ON r.rule = m.rule WHERE m.rule IN ({', '.join(map(str, chosen))})"
        )
    if not parts:
        return empty_findings()
    con.register("sigma_matches", matches)
    con.register("sigma_rule_meta", meta)
    con.register("sigma_keyword_hits", keywords)
    try:
        return (
            con.sql(
                f"""
            SELECT left(sha256(concat_ws(chr(31), '{ENGINE}', r.rule_id, p.row_file, p.row_number::VARCHAR)), 32)
                       AS finding_id,
                   '{ENGINE}' AS engine, r.rule_id, r.rule_title, r.level, r.status, r.tactics, r.techniques,
                   t.datetime, t.host_name, t.source, t.source_file, t.source_record, t.evidence_id,
                   p.row_file, p.row_number, NULL::VARCHAR AS file_path, NULL::VARCHAR AS file_hash_sha256,
                   map_from_entries(CASE WHEN k.keywords IS NULL OR k.keywords = '' THEN p.entries
                       ELSE list_append(p.entries, {{'key': 'keywords', 'value': k.keywords}}) END) AS matched,
                   'Sigma ' || r.level || ' ' || r.rule_title AS message,
                   now() AS detected_at
            FROM ({" UNION ALL ".join(parts)}) p
            JOIN sigma_rule_meta r ON r.rule = p.rule
            JOIN timeline_rows t ON t.row_file = p.row_file AND t.row_number = p.row_number
            LEFT JOIN sigma_keyword_hits k
                ON k.rule = p.rule AND k.row_file = p.row_file AND k.row_number = p.row_number
            ORDER BY t.datetime, r.rule_id, p.row_file, p.row_number
            """
            )
            .to_arrow_table()
            .cast(FINDINGS)
        )
    finally:
        for name in ("sigma_matches", "sigma_rule_meta", "sigma_keyword_hits"):
            con.unregister(name)


def _as_text(column: str, is_list: bool) -> str:
    """A group-table column as the text a finding shows (a list's values comma-separated)."""
    if is_list:
        return f"nullif(array_to_string(list_filter({column}, lambda v: v IS NOT NULL), ', '), '')"
    return f"CAST({column} AS VARCHAR)"


def _rule_table(rules: list[tuple[int, CompiledRule]]) -> pa.Table:
    """Per rule index: its id, title, level, status, ATT&CK tags and the fields a finding shows."""
    attack = [rule_attack(r.rule) for _, r in rules]
    return pa.table(
        {
            "rule": pa.array([i for i, _ in rules], pa.int64()),
            "rule_id": [r.rule_id for _, r in rules],
            "rule_title": [r.rule.title for _, r in rules],
            "level": [_level(r.rule) for _, r in rules],
            "status": [str(r.rule.status) if r.rule.status else None for _, r in rules],
            "tactics": pa.array([a[0] for a in attack], pa.list_(pa.string())),
            "techniques": pa.array([a[1] for a in attack], pa.list_(pa.string())),
            "fields": pa.array([list(r.fields) for _, r in rules], pa.list_(pa.string())),
        }
    )


def _level(rule: SigmaRuleBase) -> str:
    return str(rule.level) if rule.level else "medium"


def _finding_row(
    rule: SigmaRuleBase, base: Mapping[str, Any], matched: dict[str, str], rule_id: str, note: str = ""
) -> dict[str, Any]:
    tactics, techniques = rule_attack(rule)
    level = _level(rule)
    return {
        "finding_id": finding_id(ENGINE, rule_id, base["row_file"], base["row_number"]),
        "engine": ENGINE,
        "rule_id": rule_id,
        "rule_title": rule.title,
        "level": level,
        "status": str(rule.status) if rule.status else None,
        "tactics": tactics,
        "techniques": techniques,
        "datetime": base.get("datetime"),
        "host_name": base.get("host_name"),
        "source": base.get("source"),
        "source_file": base.get("source_file"),
        "source_record": base.get("source_record"),
        "evidence_id": base.get("evidence_id"),
        "row_file": base["row_file"],
        "row_number": base["row_number"],
        "matched": matched,
        "message": f"Sigma {level} {rule.title}{note}",
    }


# -- the whole run ---------------------------------------------------------------------------


#: The rule problems recorded as the case's detection warnings (not applicable, retired and
#: Python-regex notes are counts in the report, not problems).
_WARNING_KINDS = ("error", "unsupported", "warning")


@dataclass
class SigmaReport:
    """What a Sigma run did."""

    rules_loaded: int = 0
    applicable: int = 0
    not_applicable: int = 0
    compiled: int = 0
    correlations: int = 0
    skipped: list[RuleProblem] = field(default_factory=list)  # errors and unsupported, with reasons
    ignored: int = 0  # retired rules (deprecated/unsupported folders or status)
    findings: int = 0
    by_level: dict[str, int] = field(default_factory=dict)
    rules_matched: int = 0
    python_regex: int = 0  # rules with a regular expression RE2 cannot take (Python matches it)
    seconds: float = 0.0
    path: Path | None = None

    def summary(self) -> str:
        levels = ", ".join(f"{lvl} {self.by_level.get(lvl, 0)}" for lvl in reversed(LEVELS))
        return (
            f"{self.rules_loaded} rules loaded, {self.applicable} applicable ({self.not_applicable} not), "
            f"{self.compiled} compiled ({self.correlations} correlations), {len(self.skipped)} skipped, "
            f"{self.ignored} retired left out; {self.findings} findings from {self.rules_matched} rules "
            f"({levels}) in {self.seconds:.1f} s"
        )


def detect_sigma(
    case: Any,
    paths: Iterable[str | Path],
    run: str = "default",
    *,
    placeholders: Mapping[str, Sequence[str]] | None = None,
    where: str | None = None,
    select: Callable[[str], bool] | None = None,
    write: bool = True,
) -> SigmaReport:
    """Run the Sigma rules under ``paths`` over ``case`` and store the findings as engine
    ``sigma``, run ``run``. ``where`` narrows the rows (SQL over ``timeline_rows``)."""
    from forensics.detect.sigma_correlation import CompiledCorrelation, correlate

    started = time.perf_counter()
    rules, problems = load_rules(paths, select=select)
    compiled, compile_problems = compile_rules(rules, placeholders=placeholders)
    problems += compile_problems
    report = SigmaReport(rules_loaded=len(rules))
    report.not_applicable = sum(p.kind == "not_applicable" for p in problems)
    report.ignored = sum(p.kind == "ignored" for p in problems)
    report.skipped = [p for p in problems if p.kind in ("error", "unsupported")]
    report.applicable = len(rules) - report.not_applicable
    report.compiled = len(compiled)
    report.python_regex = sum(p.kind == "note" for p in problems)
    report.correlations = sum(isinstance(c, CompiledCorrelation) for c in compiled)
    with case.connect() as con:
        result = evaluate(con, compiled, where=where)
        table = findings_from(con, result)
        correlated: list[dict[str, Any]] = []
        for correlation in (c for c in compiled if isinstance(c, CompiledCorrelation)):
            correlated += correlate(con, correlation, result)
    if correlated:
        table = pa.concat_tables([table, findings_table(correlated)])
    report.findings = table.num_rows
    report.by_level = dict(Counter(table.column("level").to_pylist()))
    report.rules_matched = len(set(table.column("rule_id").to_pylist()))
    if write:
        report.path = write_findings(case.root, ENGINE, table, run)
        case.record_detect_warnings(
            ENGINE,
            run,
            ((p.file, p.rule_id or "", p.kind, p.reason, 1) for p in problems if p.kind in _WARNING_KINDS),
        )
    report.seconds = time.perf_counter() - started
    return report
