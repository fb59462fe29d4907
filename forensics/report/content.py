"""What the report says, read from a case: evidence, findings, indicators, the chain, hosts.

``gather(case)`` returns a ``Report``: plain data (no HTML, no Markdown), so the HTML, PDF and
Markdown renderings say the same thing. Every statement of fact carries the references
(``evidence.Ref``) of the rows that show it. Values from evidence stay as they are: the
renderers escape them.
"""

from __future__ import annotations

import platform
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from forensics.case import Case
from forensics.detect.attack import ATTACK_VERSION, TACTICS, tactic_name, tactics_of, technique_name
from forensics.detect.findings import LEVELS
from forensics.detect.yara.results import ON_DISK
from forensics.graph.chain import Chain, Step
from forensics.graph.nodes import host_key
from forensics.report.evidence import Ref, References

__all__ = ["Report", "Statement", "gather"]

#: Libraries whose versions the appendix states (what read the evidence and ran the rules).
LIBRARIES = ("tracehound", "evtx", "python-evtx", "dissect.target", "dpkt", "pysigma", "yara-x", "yara-python",
             "stix2", "duckdb", "pyarrow", "pandas", "networkx", "matplotlib", "jinja2")  # fmt: skip
#: Key events: finding groups at least this severe (IOC and YARA hits always).
KEY_LEVEL = "medium"


@dataclass
class Statement:
    """One sentence or table cell of fact, and the evidence rows that show it."""

    text: str
    refs: list[Ref] = field(default_factory=list)
    more: int = 0  # rows showing it beyond the cited ones


@dataclass
class EvidenceItem:
    name: str
    path: str
    size: int | None
    sha256: str
    parser: str
    status: str
    reason: str
    records: int
    warnings: int
    lost: int
    ingested_at: str
    tool_version: str
    modified: str  # the file's modification time now (the acquisition, as far as the file says)


@dataclass
class Event:
    time: str
    host: str
    kind: str  # chain step | Sigma | IOC | YARA
    level: str
    what: Statement


@dataclass
class FindingGroup:
    level: str
    engine: str
    rule_id: str
    title: str
    status: str
    count: int
    first: str
    last: str
    hosts: list[str]
    techniques: list[str]
    tactics: list[str]
    evidence: Statement
    dated_by: str = ""


@dataclass
class Indicator:
    kind: str
    value: str
    hits: int
    first: str
    last: str
    hosts: list[str]
    sources: list[str]


@dataclass
class Affected:
    """A host or an account the intrusion touched."""

    name: str
    role: str
    first: str
    last: str
    steps: int
    findings: dict[str, int]
    evidence: Statement


@dataclass
class ChainRow:
    step: Step
    techniques: list[str]  # with names
    evidence: Statement


@dataclass
class Report:
    title: str
    case: str
    generated_at: str
    tool_version: str
    attack_version: str
    summary: list[Statement]
    evidence: list[EvidenceItem]
    events: list[Event]
    chain: Chain | None
    chain_rows: list[ChainRow]
    findings: list[FindingGroup]
    levels: dict[str, int]
    indicators: list[Indicator]
    blocklist: str
    hosts: list[Affected]
    accounts: list[Affected]
    actions: dict[str, list[Statement]]
    tactics: list[tuple[str, str, int, list[str]]]  # tactic, name, rules, techniques
    rules: list[dict[str, Any]]
    libraries: dict[str, str]
    warnings: dict[str, int]
    references: References
    first_malicious: str = ""
    last_malicious: str = ""


def _iso(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def load_chain(case: Case, name: str = "latest") -> Chain | None:
    """The stored chain ``chains/<name>.json`` (``tracehound chain --name``), else the chain of
    the case's strongest findings, computed now; None when the case has no finding to start from."""
    from forensics.graph import ChainError

    stored = case.root / "chains" / f"{name}.json"
    if stored.exists():
        import orjson

        data = orjson.loads(stored.read_bytes())
        root = Step(**data["root_cause"]) if data.get("root_cause") else None
        steps = [Step(**s) for s in data["steps"]]
        return Chain(data["point_of_interest"], root, steps, data["impact"], data.get("answer", ""),
                     data.get("clock", []))  # fmt: skip
    try:
        return case.chain(auto=True, name=name)
    except ChainError:
        return None


def _evidence(case: Case) -> list[EvidenceItem]:
    items = []
    for row in case.arrow("SELECT * FROM manifest ORDER BY path, ingested_at").to_pylist():
        path = Path(row["path"])
        try:
            modified = _iso(datetime.fromtimestamp(path.stat().st_mtime, UTC))
        except OSError:
            modified = ""
        items.append(EvidenceItem(
            path.name, row["path"], row["size"], row["sha256"] or "", row["parser"] or "", row["status"] or "",
            row["reason"] or "", row["records"] or 0, row["warnings"] or 0, row["lost"] or 0,
            _iso(row["ingested_at"]), row["tool_version"] or "", modified,
        ))  # fmt: skip
    return items


_FINDINGS = """
SELECT engine, rule_id, rule_title, level, status, tactics, techniques, datetime, host_name, source,
       source_file, source_record, coalesce(evidence_id, matched['sha256']) AS evidence_id,
       coalesce(matched['dated_by'], '') AS dated_by, coalesce(matched['indicator'], '') AS indicator
FROM findings ORDER BY datetime NULLS LAST, source_file, source_record
"""


def _findings(case: Case, refs: References) -> tuple[list[FindingGroup], list[dict[str, Any]]]:
    rows = case.arrow(_FINDINGS).to_pylist()
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["level"] or "informational", row["engine"], row["rule_id"])].append(row)
    out = []
    for (level, engine, rule), members in groups.items():
        dated = [m for m in members if m["datetime"] is not None]
        evidence, more = refs.cite(members)
        out.append(FindingGroup(
            level, engine, rule, members[0]["rule_title"] or rule, members[0]["status"] or "", len(members),
            _iso(dated[0]["datetime"]) if dated else "", _iso(dated[-1]["datetime"]) if dated else "",
            sorted({host_key(m["host_name"]) for m in members if m["host_name"]}),
            sorted({t for m in members for t in m["techniques"] or []}),
            sorted({t for m in members for t in m["tactics"] or []}
                   | {t for m in members for tech in m["techniques"] or [] for t in tactics_of(tech)},
                   key=_tactic_rank),  # a YARA rule's or an indicator's techniques give tactics too
            Statement(members[0]["rule_title"] or rule, evidence, more), members[0]["dated_by"],
        ))  # fmt: skip
    out.sort(key=lambda g: (-LEVELS.index(g.level) if g.level in LEVELS else 1, g.first or "~", g.title))
    return out, rows


def _host(name: str | None) -> str:
    """A row's host as the chain names it; ``net`` for what only the capture saw."""
    return host_key(name) if name else "net"


def _tactic_rank(tactic: str) -> int:
    return TACTICS.index(tactic) if tactic in TACTICS else len(TACTICS)


def _key_events(chain: Chain | None, groups: list[FindingGroup], rows: list[dict[str, Any]],
                refs: References) -> list[Event]:  # fmt: skip
    """Chain steps, the first hit of each finding rule at least ``KEY_LEVEL``, the first sighting of
    each indicator value and every YARA hit dated by evidence: in time order."""
    events = []
    for row in chain_rows(chain, refs) if chain else []:
        step = row.step
        times = f" ({step.count} times)" if step.count > 1 else ""
        text = f"{step.actor} {step.action} {step.object}{times}"
        events.append(Event(step.time, step.host, "chain step", "", Statement(text, row.evidence.refs)))
    floor = LEVELS.index(KEY_LEVEL)
    for group in groups:
        if group.engine in ("ioc", "yara") or not group.first or LEVELS.index(group.level) < floor:
            continue
        text = f"{group.title}" + (
            f" ({group.count} hits, last {group.last[:19]}Z)" if group.count > 1 else ""
        )
        host = ", ".join(group.hosts)
        events.append(Event(group.first, host, group.engine.capitalize(), group.level,
                            Statement(text, group.evidence.refs[:1], group.count - 1)))  # fmt: skip
    first_seen: dict[str, dict[str, Any]] = {}
    counts: Counter[str] = Counter()
    for row in rows:
        if row["engine"] == "ioc" and row["indicator"] and row["datetime"] is not None:
            first_seen.setdefault(row["indicator"], row)
            counts[row["indicator"]] += 1
        elif row["engine"] == "yara" and row["datetime"] is not None and row["dated_by"] != ON_DISK:
            text = f"YARA {row['rule_title'] or row['rule_id']} ({row['dated_by']})"
            events.append(Event(_iso(row["datetime"]), _host(row["host_name"]),
                                "YARA", row["level"] or "", Statement(text, [refs.add(row)])))  # fmt: skip
    for value, row in first_seen.items():
        text = f"indicator {value} first seen ({counts[value]} hits in all)"
        events.append(Event(_iso(row["datetime"]), _host(row["host_name"]), "IOC", row["level"] or "",
                            Statement(text, [refs.add(row)])))  # fmt: skip
    return sorted(events, key=lambda e: (e.time, e.kind != "chain step"))


def chain_rows(chain: Chain, refs: References) -> list[ChainRow]:
    out = []
    for step in chain.steps:
        cited, more = refs.cite(step.evidence)
        names = [f"{t} {technique_name(t) or ''}".strip() for t in step.techniques]
        out.append(ChainRow(step, names, Statement(step.text or step.object, cited, more)))
    return out


def _affected(
    chain: Chain | None, groups: list[FindingGroup], refs: References
) -> tuple[list[Affected], list[Affected]]:
    """Hosts with chain steps or findings of at least ``KEY_LEVEL``; accounts of the chain."""
    steps_by_host: dict[str, list[Step]] = defaultdict(list)
    for step in chain.steps if chain else []:
        if step.host != "net":
            steps_by_host[step.host].append(step)
    root_host = chain.root_cause.host if chain and chain.root_cause else ""
    floor = LEVELS.index(KEY_LEVEL)
    by_host: dict[str, Counter[str]] = defaultdict(Counter)
    for group in groups:
        for host in group.hosts:
            by_host[host][group.level] += group.count
    names = set(steps_by_host) | {h for h, c in by_host.items() if any(LEVELS.index(lv) >= floor for lv in c)}
    hosts = []
    for name in sorted(names):
        steps = steps_by_host.get(name, [])
        role = (
            "entry point" if name == root_host else ("reached by the attacker" if steps else "findings only")
        )
        first = steps[0] if steps else None
        cited = refs.cite(first.evidence, 1)[0] if first else []
        text = f"{first.actor} {first.action} {first.object}" if first else "no chain step on this host"
        hosts.append(Affected(name, role, steps[0].time if steps else "", steps[-1].time if steps else "",
                              len(steps), dict(by_host.get(name, {})), Statement(text, cited)))  # fmt: skip
    accounts = []
    for account in chain.impact.get("accounts", []) if chain else []:
        user, _, host = account.partition("@")
        acting = [s for s in chain.steps if s.host == host and (s.actor == account or user in s.object
                                                                or user in s.text)]  # fmt: skip
        first = acting[0] if acting else None
        text = f"{first.actor} {first.action} {first.object}" if first else "named in the chain's impact"
        accounts.append(Affected(account, "used by the attacker" if first else "", first.time if first else "",
                                 acting[-1].time if acting else "", len(acting), {},
                                 Statement(text, refs.cite(first.evidence, 1)[0] if first else [])))  # fmt: skip
    return hosts, accounts


def _tactics(groups: list[FindingGroup]) -> list[tuple[str, str, int, list[str]]]:
    """Per ATT&CK tactic in matrix order: (tactic, name, rules that fired on it, their techniques).
    Rules, not hits: an hourly inventory script's 38 hits are one rule."""
    rules: Counter[str] = Counter()
    techniques: dict[str, set[str]] = defaultdict(set)
    for group in groups:
        for tactic in group.tactics:
            rules[tactic] += 1
            # a technique under the tactics ATT&CK puts it in (unknown ones under all the rule's)
            techniques[tactic].update(
                t for t in group.techniques if tactic in (tactics_of(t) or group.tactics)
            )
    return [(t, tactic_name(t), rules[t], sorted(techniques[t])) for t in TACTICS]


def _summary(report: Report) -> list[Statement]:
    """The executive summary: what happened, when, impact, the root cause in two sentences."""
    chain, refs = report.chain, report.references
    out = []
    levels = ", ".join(f"{n} {lv}" for lv, n in report.levels.items() if n) or "none"
    if chain is None or chain.root_cause is None:
        answer = chain.answer if chain else "the case has no finding to start an attack chain from"
        out.append(Statement(f"No attack chain was reconstructed: {answer}."))
        out.append(Statement(f"Findings by severity: {levels}."))
        return out
    steps, root = chain.steps, chain.root_cause
    hosts = [h for h in chain.impact.get("hosts", [])]
    out.append(Statement(
        f"An intrusion touched {len(hosts)} host{'s' if len(hosts) != 1 else ''} ({', '.join(hosts)}) between "
        f"{steps[0].time[:19]}Z and {steps[-1].time[:19]}Z UTC: {len(steps)} steps are reconstructed from the "
        f"evidence, each with the rows that show it.",
        refs.cite(steps[0].evidence, 1)[0] + refs.cite(steps[-1].evidence, 1)[0],
    ))  # fmt: skip
    out.append(Statement(
        f"Root cause: at {root.time[:19]}Z on {root.host}, {root.actor} {root.action} {root.object} "
        f"({root.text or root.object}), and it then acted in turn.", refs.cite(root.evidence, 1)[0],
    ))  # fmt: skip
    crossing = next((s for s in steps if s.host not in (root.host, "net")), None)
    if crossing is not None:
        out.append(Statement(
            f"From there the attacker reached {crossing.host} at {crossing.time[:19]}Z "
            f"({crossing.actor} {crossing.action} {crossing.object}).", refs.cite(crossing.evidence, 1)[0],
        ))  # fmt: skip
    sent = chain.impact.get("sent_out", [])
    accounts = chain.impact.get("accounts", [])
    impact = f"Accounts used: {', '.join(accounts) or 'none found'}. "
    impact += (
        f"Data sent to outside addresses: {'; '.join(sent)}." if sent else "No data seen leaving the network."
    )
    addresses = [line.split(":", 1)[0] for line in sent]  # "198.51.100.23: 47,887 B over 46 connections"
    carried = [next((s for s in steps if s.object == a or a in s.text), None) for a in addresses]
    cited = [a.evidence.refs[0] for a in report.accounts if a.evidence.refs]
    cited += [refs.cite(s.evidence, 1)[0][0] for s in carried if s is not None and s.evidence]
    out.append(Statement(impact, list(dict.fromkeys(cited))))
    severe = [g for g in report.findings if g.level in ("critical", "high")]
    out.append(Statement(
        f"Findings by severity: {levels}"
        + (f"; the most severe: {', '.join(dict.fromkeys(g.title for g in severe[:5]))}." if severe else "."),
        [g.evidence.refs[0] for g in severe[:5] if g.evidence.refs],
    ))  # fmt: skip
    return out


def gather(
    case: Case, *, chain: Chain | None = None, chain_name: str = "latest", title: str | None = None
) -> Report:
    """Everything the report states about ``case``; the chain is ``chain``, else the stored one
    named ``chain_name``, else the chain of the strongest findings."""
    from forensics import __version__
    from forensics.detect.intel import blocklist, seen_indicators
    from forensics.report.actions import actions

    evidence = _evidence(case)
    refs = References({e.sha256: e.name for e in evidence if e.sha256})
    chain = chain if chain is not None else load_chain(case, chain_name)
    rows = chain_rows(chain, refs) if chain else []
    groups, finding_rows = _findings(case, refs)
    levels = {lv: sum(g.count for g in groups if g.level == lv) for lv in reversed(LEVELS)}
    seen = seen_indicators(case)
    indicators = [Indicator(s["kind"], s["value"], s["hits"], _iso(s["first"]), _iso(s["last"]),
                            sorted({host_key(h) for h in s["hosts"]}), s["sources"]) for s in seen]  # fmt: skip
    hosts, accounts = _affected(chain, groups, refs)
    warnings = {
        r["parser"]: r["n"]
        for r in case.arrow(
            "SELECT coalesce(parser, '?') AS parser, sum(count)::BIGINT AS n FROM warnings GROUP BY 1 ORDER BY 1"
        ).to_pylist()
    }
    report = Report(
        title=title or f"Incident report: case {case.root.name}",
        case=str(case.root),
        generated_at=_iso(datetime.now(UTC)),
        tool_version=__version__,
        attack_version=str(ATTACK_VERSION),
        summary=[],
        evidence=evidence,
        events=_key_events(chain, groups, finding_rows, refs),
        chain=chain,
        chain_rows=rows,
        findings=groups,
        levels=levels,
        indicators=indicators,
        blocklist=blocklist(seen, case.root.name),
        hosts=hosts,
        accounts=accounts,
        actions={},
        tactics=_tactics(groups),
        rules=[
            {
                "engine": g.engine,
                "rule_id": g.rule_id,
                "title": g.title,
                "status": g.status,
                "level": g.level,
                "hits": g.count,
            }
            for g in sorted(groups, key=lambda g: (g.engine, g.rule_id))
        ],
        libraries={**{name: _version(name) for name in LIBRARIES}, "python": platform.python_version()},
        warnings=warnings,
        references=refs,
    )
    if chain and chain.steps:
        report.first_malicious, report.last_malicious = chain.steps[0].time, chain.steps[-1].time
    report.summary = _summary(report)
    report.actions = actions(report)
    return report
