"""Sigma correlation rules (``event_count``, ``value_count``, ``temporal``, ``temporal_ordered``)
evaluated in SQL over the base rules' matches.

The base rules run first (``forensics.detect.sigma.evaluate``); their matches, with the time and
the group-by values of each matched row (read from the group tables, aliases resolved per base
rule), become one events table. Then one query per correlation:

* ``event_count``: per group, ``count(*)`` over a time-ordered window of ``timespan``
  (``RANGE ... PRECEDING``) compared with the condition;
* ``value_count``: the same with ``count(DISTINCT field)``;
* ``temporal``: the number of distinct base rules in the window, at least the rule count (or the
  condition);
* ``temporal_ordered``: the rules must match in their listed order within ``timespan``: for each
  match of rule *k*, an ``ASOF JOIN`` finds the latest preceding chain through rules 1..k-1 in the
  same group, and the chain counts when it started at most ``timespan`` earlier.

A run of consecutive rows of one group satisfying the condition is one finding, on the run's
last row (the event that completed the group), carrying the window's count and the group's
values. Correlations of correlations are not supported (reported).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb
from sigma.correlations import SigmaCorrelationConditionOperator, SigmaCorrelationRule, SigmaCorrelationType

from forensics.detect.sigma_sql import SigmaUnsupported, quote

__all__ = ["CompiledCorrelation", "compile_correlation", "correlate"]

_OPS = {
    SigmaCorrelationConditionOperator.LT: "<",
    SigmaCorrelationConditionOperator.LTE: "<=",
    SigmaCorrelationConditionOperator.GT: ">",
    SigmaCorrelationConditionOperator.GTE: ">=",
    SigmaCorrelationConditionOperator.EQ: "=",
}


@dataclass
class CompiledCorrelation:
    rule: SigmaCorrelationRule
    #: Per base rule (in the correlation's order): the compiled base rule, its group-by field
    #: names (aliases resolved) and the value_count field name.
    bases: list[tuple[Any, list[str], str | None]] = field(default_factory=list)

    @property
    def rule_id(self) -> str:
        from forensics.detect.sigma import rule_key

        return rule_key(self.rule)


def compile_correlation(rule: SigmaCorrelationRule, by_rule: Mapping[int, Any]) -> CompiledCorrelation:
    """Check a correlation's base rules compiled, and make their group tables carry the
    group-by (and value) fields the correlation reads."""
    if rule.type is None:
        raise SigmaUnsupported("correlation without a valid type")
    compiled = CompiledCorrelation(rule)
    aliases = {alias.alias: alias for alias in rule.aliases}
    for reference in rule.rules:
        base_rule = getattr(reference, "rule", None)
        if isinstance(base_rule, SigmaCorrelationRule):
            raise SigmaUnsupported(f"correlation of correlation {reference.reference}")
        base = by_rule.get(id(base_rule)) if base_rule is not None else None
        if base is None:
            raise SigmaUnsupported(
                f"base rule {reference.reference} not compiled (not applicable or unsupported)"
            )
        names = []
        for group in rule.group_by or []:
            alias = aliases.get(group)
            name = group
            if alias is not None:
                name = next(
                    (f for ref, f in alias.mapping.items() if getattr(ref, "rule", None) is base_rule), group
                )
            names.append(name)
            base.columns.raw(name)
        value = None
        if rule.type == SigmaCorrelationType.VALUE_COUNT:
            value = rule.condition.fieldref
            alias = aliases.get(value)
            if alias is not None:
                value = next(
                    (f for ref, f in alias.mapping.items() if getattr(ref, "rule", None) is base_rule), value
                )
            base.columns.raw(value)
        compiled.bases.append((base, names, value))
    return compiled


def _text(column: str, lists: set[str]) -> str:
    name = column
    col = quote(column)
    return f"array_to_string({col}, ',')" if name in lists else col


def correlate(
    con: duckdb.DuckDBPyConnection, corr: CompiledCorrelation, result: dict[str, Any]
) -> list[dict[str, Any]]:
    """Findings of one correlation rule from the base rules' matches in ``result``."""
    from forensics.detect.sigma import _finding_row

    rules = result["rules"]
    index = {id(r): i for i, r in enumerate(rules)}
    groups = len(corr.rule.group_by or [])
    selects = []
    con.register("sigma_corr_matches", result["matches"])
    try:
        for position, (base, names, value) in enumerate(corr.bases):
            table = result["groups"].get(base.target.key)
            if table is None:
                continue
            lists = base.columns.lists
            group_cols = [f"{_text('r:' + n, lists)} AS g{i}" for i, n in enumerate(names)]
            value_col = f"{_text('r:' + value, lists)} AS v" if value else "NULL::VARCHAR AS v"
            selects.append(
                f"SELECT {position} AS ref, g.row_file, g.row_number, t.datetime, t.host_name, t.source, "
                f"t.source_file, t.source_record, t.evidence_id, {', '.join([*group_cols, value_col])} "
                f"FROM sigma_corr_matches m JOIN {table} g ON g.row_file = m.row_file AND g.row_number = m.row_number "
                "JOIN timeline_rows t ON t.row_file = g.row_file AND t.row_number = g.row_number "
                f"WHERE m.rule = {index[id(base)]} AND t.datetime IS NOT NULL"
            )
        if not selects:
            return []
        con.execute(f"CREATE OR REPLACE TEMP TABLE sigma_corr_events AS {' UNION ALL '.join(selects)}")
    finally:
        con.unregister("sigma_corr_matches")
    keys = [f"g{i}" for i in range(groups)]
    partition = f"PARTITION BY {', '.join(keys)} " if keys else ""
    seconds = corr.rule.timespan.seconds
    frame = f"ORDER BY datetime RANGE BETWEEN INTERVAL {seconds} SECOND PRECEDING AND CURRENT ROW"
    kind = corr.rule.type
    if kind == SigmaCorrelationType.TEMPORAL_ORDERED:
        rows = _ordered(con, corr, keys, seconds)
    else:
        if kind == SigmaCorrelationType.EVENT_COUNT:
            measure = "count(*)"
        elif kind == SigmaCorrelationType.VALUE_COUNT:
            measure = "count(DISTINCT v)"
        else:
            measure = "count(DISTINCT ref)"
        cond = corr.rule.condition
        op, count = (_OPS[cond.op], cond.count) if cond is not None else (">=", len(corr.bases))
        order = "ORDER BY datetime, row_file, row_number"
        rows = con.execute(
            f"""
            WITH w AS (
                SELECT *, {measure} OVER ({partition}{frame}) AS n
                FROM sigma_corr_events
            ), c AS (
                SELECT *, n {op} {count} AS hit FROM w
            ), r AS (
                SELECT *, coalesce(lead(hit) OVER ({partition}{order}), false) AS next_hit FROM c
            )
            SELECT row_file, row_number, datetime, host_name, source, source_file, source_record, evidence_id,
                   n, {", ".join(keys) if keys else "NULL"}
            FROM r WHERE hit AND NOT next_hit ORDER BY datetime
            """
        ).fetchall()
    out = []
    for row in rows:
        base = dict(
            zip(
                ("row_file", "row_number", "datetime", "host_name", "source", "source_file", "source_record",
                 "evidence_id", "count"),
                row[:9],
                strict=True,
            )
        )  # fmt: skip
        matched = {"correlation": str(kind), "count": str(base.pop("count"))}
        for name, value in zip(corr.rule.group_by or [], row[9:], strict=False):
            matched[name] = "" if value is None else str(value)
        note = f" ({matched['count']} events)" if kind != SigmaCorrelationType.TEMPORAL_ORDERED else ""
        out.append(_finding_row(corr.rule, base, matched, corr.rule_id, note))
    return out


def _ordered(
    con: duckdb.DuckDBPyConnection, corr: CompiledCorrelation, keys: list[str], seconds: int
) -> list:
    """Chains of the base rules in order, each within ``seconds`` of its start, per group."""
    key_cols = ", ".join(f"coalesce({k}, '') AS {k}" for k in keys)
    on = " AND ".join([f"e.{k} = p.{k}" for k in keys] + ["e.datetime >= p.datetime"])
    base_cols = "row_file, row_number, datetime, host_name, source, source_file, source_record, evidence_id"
    ctes = [
        f"s0 AS (SELECT {base_cols}{', ' + key_cols if keys else ''}, datetime AS chain_start "
        "FROM sigma_corr_events WHERE ref = 0)"
    ]
    for step in range(1, len(corr.bases)):
        ctes.append(
            f"s{step} AS (SELECT {', '.join('e.' + c.strip() for c in base_cols.split(','))}"
            f"{''.join(', e.' + k for k in keys)}, p.chain_start FROM "
            f"(SELECT {base_cols}{', ' + key_cols if keys else ''} FROM sigma_corr_events WHERE ref = {step}) e "
            f"ASOF JOIN s{step - 1} p ON {on})"
        )
    last = f"s{len(corr.bases) - 1}"
    return con.execute(
        f"WITH {', '.join(ctes)} SELECT {base_cols}, {len(corr.bases)} AS n{''.join(', ' + k for k in keys)} "
        f"FROM {last} WHERE datetime - chain_start <= INTERVAL {seconds} SECOND ORDER BY datetime"
    ).fetchall()
