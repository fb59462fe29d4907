"""Sigma over a case: Tracehound against Zircolite's method, same events, same rules, same run.

Events: the sample case's workstation (WS01: Sysmon, Security, PowerShell, System) generated at a
scale that gives about ``BENCH_SIGMA_EVENTS`` events (default 1,000,000), ingested once into a
case cached in benchmarks/.cache. Rules: the Windows rules of SigmaHQ's whole tree (the corpus
archive; retired folders left out).

* Tracehound: ``compile_rules`` + ``evaluate`` + findings (``forensics.detect.sigma``): per log
  source one group table with the fields extracted once, then batched SQL over it, on DuckDB.
* Reference, Zircolite's method: the events flattened into one in-memory SQLite table, one TEXT
  column per field (``COLLATE NOCASE``, as Zircolite creates it), each rule converted by pySigma's
  SQLite backend (``sigma.backends.sqlite.sqliteBackend``, the backend Zircolite uses) with a
  processing pipeline adding the log source's channel and event ids (what Zircolite's
  sysmon/windows pipelines do), then one query per rule, with a Python ``REGEXP`` function. The
  log-source mapping is Tracehound's, so that the comparison is of the engines: categories are
  Sysmon event ids, and ``process_creation`` rules also read Security 4688 rows, from a table
  where those rows carry their fields under Sysmon's names (a Zircolite field mapping). The
  tables' loading is timed apart from the queries.

Agreement compares the (rule, record) matches of the rules both sides run; each disagreement
is put down to a cause: absent fields under ``not`` (SQL's NULL makes the reference's ``NOT``
false), non-ASCII case folding (SQLite's NOCASE/LIKE fold ASCII only), Security 4688 rows, or
other (listed by rule).

pySigma 0.11 with pyparsing >= 3.3 cannot post-process parenthesised conditions; for the
reference's backend the benchmark makes ``SigmaCondition.parsed`` go through
``forensics.detect.sigma_sql.parse_condition`` (the same fix Tracehound's compiler uses).
Both sides get the same 2 cores (DuckDB threads = 2; SQLite is single-threaded anyway).
"""

from __future__ import annotations

import math
import os
import re
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

from forensics import Case
from forensics.detect.sigma import compile_rules, evaluate, findings_from, load_rules, rule_key
from forensics.detect.sigma_fields import SECURITY_4688, WINDOWS_CATEGORIES, WINDOWS_SERVICES
from forensics.detect.sigma_sql import parse_condition

CACHE = Path(__file__).resolve().parent / ".cache"
RULES = (
    Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "sigma" / "sigmahq-all-rules.tar.gz"
)
#: WS01 events per unit of scale, rounded down (6,656 at scale 1, 967,597 at scale 151), so the
#: default 1,000,000 gets at least that many.
EVENTS_PER_SCALE = 6400
_CORE = {
    "event_code": "EventID",
    "event_channel": "Channel",
    "event_provider": "Provider_Name",
    "host_name": "Computer",
}


def bench_case(events: int) -> Case:
    """A case holding WS01's logs at the scale giving about ``events`` events, built once."""
    from forensics.samples import story, windows

    scale = max(1, math.ceil(events / EVENTS_PER_SCALE))
    out = CACHE / f"sigma-ws01-scale{scale}"
    logs = out / "WS01"
    if not logs.is_dir():
        windows.generate(out, story.attack(1), 1, scale)
    case = Case.open(CACHE / f"sigma-case-scale{scale}")
    if not case.known_evidence():
        case.ingest([logs], jobs=2)
    return case


def windows_rules() -> list[Any]:
    rules, _ = load_rules(
        [RULES], select=lambda name: name.startswith(("sigma/rules/", "sigma/rules-emerging-threats/",
                                                       "sigma/rules-threat-hunting/"))
    )  # fmt: skip
    return [r for r in rules if getattr(r, "logsource", None) and r.logsource.product == "windows"]


def ours(case: Case, rules: list[Any]) -> dict[str, Any]:
    started = time.perf_counter()
    compiled, problems = compile_rules(rules)
    compiled_at = time.perf_counter()
    with case.connect() as con:
        con.execute("SET threads = 2")
        result = evaluate(con, compiled)
        evaluated_at = time.perf_counter()
        findings = findings_from(con, result)
    done = time.perf_counter()
    matches = {
        (result["rules"][m["rule"]].rule_id, f"{m['row_file']}:{m['row_number']}")
        for m in result["matches"].to_pylist()
    }
    return {
        "seconds": done - started, "compile_seconds": compiled_at - started,
        "evaluate_seconds": evaluated_at - compiled_at, "findings": len(findings), "matches": matches,
        "rules": {c.rule_id for c in compiled}, "skipped": len(problems),
    }  # fmt: skip


# -- the reference: Zircolite's method --------------------------------------------------------


def _pipeline() -> Any:
    """Log source -> Channel/EventID conditions, as Zircolite's pySigma pipelines add them, with
    the same channels and event ids as Tracehound's mapping (``process_creation``: Sysmon 1 and
    Security 4688, the latter read from its own table, see ``_process_creation``)."""
    from sigma.processing.conditions import LogsourceCondition
    from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
    from sigma.processing.transformations import AddConditionTransformation

    items = []
    for category, alternatives in WINDOWS_CATEGORIES.items():
        channels = list(dict.fromkeys(c for chans, _ in alternatives for c in chans))
        codes = list(dict.fromkeys(int(c) for _, ids in alternatives for c in ids))
        items.append(
            ProcessingItem(
                AddConditionTransformation({"Channel": channels, "EventID": codes}),
                rule_conditions=[LogsourceCondition(category=category, product="windows")],
            )
        )
    for service, channels in WINDOWS_SERVICES.items():
        items.append(
            ProcessingItem(
                AddConditionTransformation({"Channel": list(channels)}),
                rule_conditions=[LogsourceCondition(service=service, product="windows")],
            )
        )
    return ProcessingPipeline(name="zircolite-like windows", priority=20, items=items)


def _process_creation(db: sqlite3.Connection, columns: list[str]) -> None:
    """The table ``process_creation`` rules query: Sysmon 1 and Security 4688 rows, the latter's
    fields under Sysmon's names (``SECURITY_4688``), as a Zircolite field mapping would give."""
    present = set(columns)
    renamed = {
        name: source for name, source in SECURITY_4688.items() if name in present and source in present
    }
    select = ", ".join(
        f'CASE WHEN "Channel" = \'Security\' THEN "{renamed[c]}" ELSE "{c}" END' if c in renamed else f'"{c}"'
        for c in columns
    )
    (ddl,) = db.execute("SELECT sql FROM sqlite_master WHERE name = 'logs'").fetchone()
    db.execute(ddl.replace("CREATE TABLE logs", "CREATE TABLE process_creation", 1))  # NOCASE columns
    db.execute(
        f"INSERT INTO process_creation SELECT row_id, {select} FROM logs WHERE "
        "(\"Channel\" = 'Microsoft-Windows-Sysmon/Operational' AND \"EventID\" = '1') OR "
        "(\"Channel\" = 'Security' AND \"EventID\" = '4688')"
    )


def _regexp(pattern: str, value: Any) -> bool:
    if value is None:
        return False
    try:
        return re.search(pattern, str(value)) is not None
    except re.error:
        return False


def reference(case: Case, rules: list[Any], compare: set[tuple[str, str]]) -> dict[str, Any]:
    """Zircolite's method over the case's events; ``compare``: Tracehound's matches, whose
    differing rules are run again (untimed) with a two-valued NOT."""
    from sigma.backends.sqlite import sqliteBackend
    from sigma.conditions import SigmaCondition

    SigmaCondition.parsed = property(parse_condition)  # pyparsing >= 3.3 (see the module notes)
    started = time.perf_counter()
    with case.connect() as con:
        keys = [
            k
            for (k,) in con.execute("SELECT DISTINCT unnest(map_keys(fields)) FROM timeline_rows").fetchall()
        ]
        columns = list(dict.fromkeys([*_CORE.values(), *keys]))
        index = {c: i for i, c in enumerate(columns)}
        db = sqlite3.connect(":memory:")
        db.create_function("regexp", 2, _regexp, deterministic=True)
        db.execute(
            "CREATE TABLE logs (row_id INTEGER PRIMARY KEY, "
            + ", ".join(f'"{c}" TEXT COLLATE NOCASE' for c in columns) + ")"
        )  # fmt: skip
        insert = f"INSERT INTO logs VALUES (?, {', '.join('?' * len(columns))})"
        records: list[str] = []  # row_id -> the row's locator in the case
        reader = con.sql(
            f"SELECT row_file || ':' || row_number AS row, {', '.join(_CORE)}, fields FROM timeline_rows"
        ).to_arrow_reader(50_000)
        for batch in reader:
            values = []
            for row in batch.to_pylist():
                out = [None] * len(columns)
                for core, name in _CORE.items():
                    out[index[name]] = row[core]
                for k, v in row["fields"] or []:
                    out[index[k]] = v
                values.append((len(records), *out))
                records.append(row["row"])
            db.executemany(insert, values)
        _process_creation(db, columns)
    loaded_at = time.perf_counter()
    run = _runner(db, records)
    backend = sqliteBackend(processing_pipeline=_pipeline())
    matches: set[tuple[str, str]] = set()
    failed: Counter = Counter()
    ran: set[str] = set()
    for rule in rules:
        found = run(backend, rule, failed)
        if found is not None:
            ran.add(rule_key(rule))
            matches |= found
    done = time.perf_counter()
    # Untimed: the rules whose matches differ from Tracehound's, again with NOT made two-valued.
    two_valued = _two_valued_backend()
    ours_by_rule: dict[str, set] = {}
    for m in compare:
        ours_by_rule.setdefault(m[0], set()).add(m)
    theirs_by_rule: dict[str, set] = {}
    for m in matches:
        theirs_by_rule.setdefault(m[0], set()).add(m)
    rerun: set[tuple[str, str]] = set()
    for rule in rules:
        rule_id = rule_key(rule)
        if rule_id in ran and ours_by_rule.get(rule_id, set()) != theirs_by_rule.get(rule_id, set()):
            found = run(two_valued, rule, Counter())
            rerun |= theirs_by_rule.get(rule_id, set()) if found is None else found
        elif rule_id in ran:
            rerun |= theirs_by_rule.get(rule_id, set())
    db.close()
    return {
        "load_seconds": loaded_at - started, "seconds": done - loaded_at, "matches": matches, "rules": ran,
        "failed": dict(failed), "events": len(records), "two_valued_matches": rerun,
    }  # fmt: skip


def _runner(db: sqlite3.Connection, records: list[str]) -> Any:
    """run(backend, rule, failures) -> the rule's (rule, row) matches, or None if it cannot run."""

    def run(backend: Any, rule: Any, failed: Counter) -> set[tuple[str, str]] | None:
        try:
            queries = backend.convert_rule(rule)
        except Exception as e:  # the reference's own limits are counted, not fatal
            failed[type(e).__name__] += 1
            return None
        table = "process_creation" if rule.logsource.category == "process_creation" else "logs"
        rule_id = rule_key(rule)
        out: set[tuple[str, str]] = set()
        for query in queries:
            try:
                found = db.execute(
                    query.replace("SELECT * FROM <TABLE_NAME>", f"SELECT row_id FROM {table}")
                ).fetchall()
            except sqlite3.Error:
                failed["sqlite3.Error"] += 1
                return None
            out.update((rule_id, records[r]) for (r,) in found)
        return out

    return run


def _two_valued_backend() -> Any:
    """The reference's backend with ``NOT x`` as ``NOT coalesce(x, 0)``: an absent field makes
    ``x`` NULL, and Sigma (like the Splunk and Elastic backends) reads its negation as true."""
    from sigma.backends.sqlite import sqliteBackend
    from sigma.conversion.deferred import DeferredQueryExpression

    class TwoValued(sqliteBackend):
        def convert_condition_not(self, cond: Any, state: Any) -> Any:
            arg = cond.args[0]
            if arg.__class__ in self.precedence:
                expr = self.convert_condition_group(arg, state)
            else:
                expr = self.convert_condition(arg, state)
            if isinstance(expr, DeferredQueryExpression):
                return expr.negate()
            return f"NOT coalesce({expr}, 0)"

    return TwoValued(processing_pipeline=_pipeline())


def _row_kinds(case: Case) -> dict[str, str]:
    """Row locator -> "<channel> <event id>[ nonascii]", to put disagreements down to causes."""
    with case.connect() as con:
        return dict(
            con.execute(
                "SELECT row_file || ':' || row_number, event_channel || ' ' || event_code || CASE WHEN "
                "regexp_matches(array_to_string(map_values(fields), ' '), '[^\\x00-\\x7f]') THEN ' nonascii' "
                "ELSE '' END FROM timeline_rows"
            ).fetchall()
        )


def _causes(kinds: dict[str, str], ours_only: set, theirs_only: set, explained: set) -> Counter:
    """Each disagreeing (rule, row) put down to a cause (see the module notes); ``explained``:
    the pairs that agree once the reference's NOT is two-valued."""
    causes: Counter = Counter()
    for side, pairs in (("tracehound only", ours_only), ("reference only", theirs_only)):
        for rule_id, row in pairs:
            kind = kinds.get(row, "")
            if (rule_id, row) in explained:
                cause = "absent field under not (reference's SQL NULL)"
            elif "nonascii" in kind:
                cause = "non-ASCII case folding"
            elif kind.startswith("Security 4688"):
                cause = f"Security 4688 rows ({rule_id})"
            else:
                cause = f"other ({rule_id})"
            causes[f"{side}: {cause}"] += 1
    return causes


def main(events: int | None = None) -> dict[str, Any]:
    events = events or int(os.environ.get("BENCH_SIGMA_EVENTS", "1000000"))
    if not RULES.exists():
        return {"skipped": f"no SigmaHQ archive at {RULES}"}
    case = bench_case(events)
    rules = windows_rules()
    mine = ours(case, rules)
    ref = reference(case, rules, mine["matches"])
    n = ref["events"]
    both = mine["rules"] & ref["rules"]
    a = {m for m in mine["matches"] if m[0] in both}
    b = {m for m in ref["matches"] if m[0] in both}
    b2 = {m for m in ref["two_valued_matches"] if m[0] in both}
    union = a | b
    kinds = _row_kinds(case)
    causes = _causes(kinds, a - b, b - a, (a ^ b) - (a ^ b2))
    only_ours = {m for m in mine["matches"] if m[0] not in ref["rules"]}
    out: dict[str, Any] = {
        "events": n,
        "windows rules": len(rules),
        "tracehound rules run": len(mine["rules"]),
        "reference rules run": len(ref["rules"]),
        "reference conversion failures": ", ".join(f"{k} {v}" for k, v in sorted(ref["failed"].items()))
        or "none",
        "tracehound seconds": mine["seconds"],
        "  of which compile": mine["compile_seconds"],
        "  of which evaluate": mine["evaluate_seconds"],
        "tracehound events/s": n / mine["seconds"],
        "reference load seconds": ref["load_seconds"],
        "reference query seconds": ref["seconds"],
        "reference events/s (queries)": n / ref["seconds"],
        "speed ratio (queries)": ref["seconds"] / mine["seconds"],
        "speed ratio (with load)": (ref["seconds"] + ref["load_seconds"]) / mine["seconds"],
        "tracehound findings": mine["findings"],
        "matches (rules both run)": f"tracehound {len(a)}, reference {len(b)}, identical {len(a & b)}",
        "agreement": len(a & b) / len(union) if union else 1.0,
        "agreement, reference's NOT two-valued": len(a & b2) / len(a | b2) if a | b2 else 1.0,
        "tracehound matches, rules the reference cannot run": len(only_ours),
    }
    for cause, count in causes.most_common(12):
        out[f"  {cause}"] = count
    titles = {rule_key(r): r.title for r in rules}
    for rule_id, count in Counter(m[0] for m in only_ours).most_common(5):
        out[f"  not in reference: {titles[rule_id][:48]}"] = count
    return out


if __name__ == "__main__":
    for key, value in main().items():
        print(f"  {key:40s} {value:,.3f}" if isinstance(value, float) else f"  {key:40s} {value}")
