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

from forensics.case import Case
from forensics.detect.attack import ATTACK_VERSION, TACTICS, tactic_name, tactics_of, technique_name
from forensics.detect.findings import LEVELS
from forensics.detect.yara.results import ON_DISK
from forensics.graph.chain import Chain, Step
from forensics.graph.nodes import host_key
from forensics.report.evidence import Ref, References
from forensics.timeutil import iso_z

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
    libraries: dict[str, str]
    warnings: dict[str, int]
    references: References

    def levels_text(self) -> str:
        """``5 high, 825 medium, ...``: the findings by level, most severe first."""
        return ", ".join(f"{n} {level}" for level, n in self.levels.items() if n) or "none"


def _iso(value: datetime | str | None) -> str:
    """A time from the case as the report writes it (``iso_z``); empty when there is none."""
    if value is None or isinstance(value, str):
        return value or ""
    return iso_z(value.astimezone(UTC))


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

        return Chain.from_dict(orjson.loads(stored.read_bytes()))
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


#: A finding's evidence row, as ``References.add`` takes it.
_ROW = (
    "struct_pack(source := source, source_file := source_file, source_record := source_record, "
    "evidence_id := coalesce(evidence_id, map_extract(matched, 'sha256')[1]), datetime := datetime)"
)
_IN_ORDER = "ORDER BY datetime NULLS LAST, source_file, source_record"
#: The findings grouped by rule: counts, span, hosts, ATT&CK, and the first rows to cite.
_GROUPS = f"""
SELECT coalesce(level, 'informational') AS level, engine, rule_id, first(rule_title {_IN_ORDER}) AS title,
       first(status {_IN_ORDER}) AS status, count(*) AS hits, min(datetime) AS first, max(datetime) AS last,
       coalesce(list(DISTINCT host_name) FILTER (WHERE host_name IS NOT NULL), []) AS hosts,
       list_distinct(flatten(list(coalesce(techniques, [])))) AS techniques,
       list_distinct(flatten(list(coalesce(tactics, [])))) AS tactics,
       coalesce(first(map_extract(matched, 'dated_by')[1] {_IN_ORDER}), '') AS dated_by,
       list({_ROW} {_IN_ORDER})[1:{{cited}}] AS rows
FROM findings GROUP BY ALL ORDER BY min(datetime) NULLS LAST, engine, rule_id
"""
#: Findings per host and level (a rule that fired on two hosts counts on each its own hits).
_BY_HOST = "SELECT host_name, level, count(*) AS n FROM findings WHERE host_name IS NOT NULL GROUP BY ALL"
#: The first sighting of each indicator value, and its hits.
_SIGHTINGS = f"""
SELECT map_extract(matched, 'indicator')[1] AS indicator, count(*) AS hits,
       first({_ROW} {_IN_ORDER}) AS row, first(host_name {_IN_ORDER}) AS host_name,
       first(level {_IN_ORDER}) AS level
FROM findings
WHERE engine = 'ioc' AND datetime IS NOT NULL AND map_extract(matched, 'indicator')[1] IS NOT NULL
GROUP BY 1
"""
#: YARA hits dated by the evidence (not by a loose file's time on the analysis machine).
_YARA = f"""
SELECT rule_id, rule_title, level, host_name, map_extract(matched, 'dated_by')[1] AS dated_by, {_ROW} AS row
FROM findings
WHERE engine = 'yara' AND datetime IS NOT NULL AND coalesce(map_extract(matched, 'dated_by')[1], '') <> '{ON_DISK}'
"""
#: Evidence rows cited per finding rule; the rest are counted.
CITED = 3


def _findings(case: Case, refs: References) -> list[FindingGroup]:
    """The case's findings grouped by rule (in SQL: a case can hold millions), most severe first."""
    out = []
    for g in case.arrow(_GROUPS.format(cited=CITED)).to_pylist():
        techniques = sorted(g["techniques"])
        # a YARA rule's or an indicator's techniques give tactics too
        tactics = sorted(
            set(g["tactics"]) | {t for tech in techniques for t in tactics_of(tech)}, key=_tactic_rank
        )
        cited = [refs.add(row) for row in g["rows"]]
        out.append(FindingGroup(
            g["level"], g["engine"], g["rule_id"], g["title"] or g["rule_id"], g["status"] or "", g["hits"],
            _iso(g["first"]), _iso(g["last"]), sorted({host_key(h) for h in g["hosts"]}), techniques, tactics,
            Statement(g["title"] or g["rule_id"], cited, g["hits"] - len(cited)), g["dated_by"],
        ))  # fmt: skip
    out.sort(
        key=lambda g: (-LEVELS.index(g.level) if g.level in LEVELS else 1, g.first or "~", g.title, g.rule_id)
    )
    return out


def _host(name: str | None) -> str:
    """A row's host as the chain names it; ``net`` for what only the capture saw."""
    return host_key(name) if name else "net"


def _tactic_rank(tactic: str) -> int:
    return TACTICS.index(tactic) if tactic in TACTICS else len(TACTICS)


def _key_events(
    case: Case, rows: list[ChainRow], groups: list[FindingGroup], refs: References
) -> list[Event]:
    """Chain steps, the first hit of each finding rule at least ``KEY_LEVEL``, the first sighting of
    each indicator value and every YARA hit dated by evidence: in time order."""
    events = []
    for row in rows:
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
        events.append(Event(group.first, ", ".join(group.hosts), group.engine.capitalize(), group.level,
                            Statement(text, group.evidence.refs[:1], group.count - 1)))  # fmt: skip
    for hit in case.arrow(_YARA).to_pylist():
        text = f"YARA {hit['rule_title'] or hit['rule_id']} ({hit['dated_by']})"
        events.append(Event(_iso(hit["row"]["datetime"]), _host(hit["host_name"]), "YARA", hit["level"] or "",
                            Statement(text, [refs.add(hit["row"])])))  # fmt: skip
    for seen in case.arrow(_SIGHTINGS).to_pylist():
        text = f"indicator {seen['indicator']} first seen ({seen['hits']} hits in all)"
        events.append(Event(_iso(seen["row"]["datetime"]), _host(seen["host_name"]), "IOC", seen["level"] or "",
                            Statement(text, [refs.add(seen["row"])])))  # fmt: skip
    return sorted(events, key=lambda e: (e.time, e.kind != "chain step"))


def chain_rows(chain: Chain, refs: References) -> list[ChainRow]:
    out = []
    for step in chain.steps:
        cited, more = refs.cite(step.evidence)
        names = [f"{t} {technique_name(t) or ''}".strip() for t in step.techniques]
        out.append(ChainRow(step, names, Statement(step.text or step.object, cited, more)))
    return out


def _affected(case: Case, chain: Chain | None, refs: References) -> tuple[list[Affected], list[Affected]]:
    """Hosts with chain steps or findings of at least ``KEY_LEVEL``; accounts of the chain."""
    steps_by_host: dict[str, list[Step]] = defaultdict(list)
    for step in chain.steps if chain else []:
        if step.host != "net":
            steps_by_host[step.host].append(step)
    root_host = chain.root_cause.host if chain and chain.root_cause else ""
    floor = LEVELS.index(KEY_LEVEL)
    by_host: dict[str, Counter[str]] = defaultdict(Counter)
    for row in case.arrow(_BY_HOST).to_pylist():
        by_host[host_key(row["host_name"])][row["level"] or "informational"] += row["n"]
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
    levels = report.levels_text()
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
    groups = _findings(case, refs)
    levels = {lv: sum(g.count for g in groups if g.level == lv) for lv in reversed(LEVELS)}
    seen = seen_indicators(case)
    indicators = [Indicator(s["kind"], s["value"], s["hits"], _iso(s["first"]), _iso(s["last"]),
                            sorted({host_key(h) for h in s["hosts"]}), s["sources"]) for s in seen]  # fmt: skip
    hosts, accounts = _affected(case, chain, refs)
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
        events=_key_events(case, rows, groups, refs),
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
        libraries={**{name: _version(name) for name in LIBRARIES}, "python": platform.python_version()},
        warnings=warnings,
        references=refs,
    )
    report.summary = _summary(report)
    report.actions = actions(report)
    return report
