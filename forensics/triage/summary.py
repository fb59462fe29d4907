"""The triage summary of one item's case: which host, what evidence, what it covers, what fired,
and a score to sort hosts by (the few that matter first).

Score: each finding level weighs ``LEVEL_WEIGHTS`` times log2(1 + count), IOC and YARA hits
``IOC_WEIGHT`` and ``YARA_WEIGHT`` the same way: one critical finding outweighs hundreds of
informational ones, and a host with many medium findings does not bury one with a single high.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from forensics.case import Case
from forensics.timeutil import iso_z

__all__ = ["IOC_WEIGHT", "LEVEL_WEIGHTS", "YARA_WEIGHT", "score", "summarise"]

LEVEL_WEIGHTS = {"critical": 40.0, "high": 20.0, "medium": 5.0, "low": 1.0, "informational": 0.0}
IOC_WEIGHT = 15.0
YARA_WEIGHT = 25.0
#: Findings from this level up are "malicious activity" for the first/last times.
MALICIOUS = ("critical", "high", "medium")
_WINDOWS = ("windows_evtx", "windows_event_json", "registry", "prefetch", "ntfs_mft", "lnk")
_LINUX = ("syslog", "shell_history", "linux_utmp", "linux_packages", "audit")


def score(findings: dict[str, int], ioc_hits: int, yara_hits: int) -> float:
    total = sum(LEVEL_WEIGHTS.get(level, 0.0) * math.log2(1 + n) for level, n in findings.items())
    total += IOC_WEIGHT * math.log2(1 + ioc_hits) + YARA_WEIGHT * math.log2(1 + yara_hits)
    return round(total, 2)


def _iso(value: Any) -> str | None:
    return iso_z(value) if value is not None else None


def summarise(case: Case, item: str) -> dict[str, Any]:
    """The summary of ``case`` (one item's), as plain JSON-able values."""
    with case.connect() as con:
        hosts = con.execute(
            "SELECT host_name, count(*) AS n FROM timeline WHERE host_name IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1"
        ).fetchall()
        by_source = dict(
            con.execute("SELECT source, count(*) FROM timeline GROUP BY 1 ORDER BY 1").fetchall()
        )
        first, last = con.execute("SELECT min(datetime), max(datetime) FROM timeline").fetchall()[0]
        findings = dict(
            con.execute("SELECT level, count(*) FROM findings WHERE engine = 'sigma' GROUP BY 1").fetchall()
        )
        ioc = con.execute("SELECT count(*) FROM findings WHERE engine = 'ioc'").fetchall()[0][0]
        yara = con.execute("SELECT count(*) FROM findings WHERE engine = 'yara'").fetchall()[0][0]
        levels = ", ".join(f"'{level}'" for level in MALICIOUS)
        bad_first, bad_last = con.execute(
            f"SELECT min(datetime), max(datetime) FROM findings WHERE level IN ({levels}) OR engine IN ('ioc', 'yara')"
        ).fetchall()[0]
        evidence = [
            {"path": p, "sha256": s, "parser": parser, "status": status}
            for p, s, parser, status in con.execute(
                "SELECT path, sha256, parser, status FROM manifest ORDER BY path"
            ).fetchall()
        ]
    sources = set(by_source)
    os_family = (
        "windows" if sources & set(_WINDOWS) else "linux" if sources & set(_LINUX)
        else "network" if any(s.startswith("network_") for s in sources) else "unknown"
    )  # fmt: skip
    return {
        "item": item,
        "host": hosts[0][0] if hosts else Path(item).name,  # a capture names no host: the item does
        "hosts": [h for h, _ in hosts],
        "os": os_family,
        "evidence": evidence,
        "first": _iso(first),
        "last": _iso(last),
        "rows": sum(by_source.values()),
        "by_source": by_source,
        "findings": findings,
        "ioc_hits": ioc,
        "yara_hits": yara,
        "first_malicious": _iso(bad_first),
        "last_malicious": _iso(bad_last),
        "score": score(findings, ioc, yara),
    }
