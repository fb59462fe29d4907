"""``detect_intel``: load intel, match it against a case, store the findings, and report what it did."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from forensics.detect.findings import empty_findings, write_findings
from forensics.detect.intel.indicators import KINDS, IntelWarning
from forensics.detect.intel.load import load_indicators
from forensics.detect.intel.match import ENGINE, _matched_values, match

if TYPE_CHECKING:
    from forensics.case import Case


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


def detect_intel(case: Case, paths: str | Path | Iterable[str | Path], run: str = "default") -> IntelReport:
    """Load the intel at ``paths``, match it against ``case`` and store the findings (engine
    ``ioc``, replacing the same run's last ones)."""
    started = time.perf_counter()
    indicators, warnings = load_indicators(paths)
    findings = match(case, indicators)
    written = write_findings(case.root, ENGINE, findings, run)
    case.record_detect_warnings(
        ENGINE, run, ((w.file, w.location, "intel", w.reason, w.count) for w in warnings)
    )
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
