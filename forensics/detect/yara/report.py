"""``detect_yara``: a case's files scanned, the matches stored as findings and timeline rows.

``detect_yara`` writes the matches into the case as findings (engine ``yara``, ``rule_id`` =
namespace:rule) and as timeline rows (source ``yara``, action ``yara-match``) in
``store/yara/<run>.parquet``, replaced by a rerun of the same run. A match is dated by what the
case knows of its file: a file inside an image by its modification time in the image's
file-system rows (the ingest lists ``/tmp`` and the like always, every file with
``--fs-timeline``); otherwise by the earliest timeline row naming the same sha256 (a Sysmon
process start, an HTTP transfer); otherwise a loose file by its modification time on disk;
otherwise it has no time (the ``dated_by`` field says which).

Levels. A rule's ``severity`` (or ``level``) meta, when it is one of the finding levels, is its
level; otherwise its ``score`` meta (signature-base, THOR and LOKI: 0-100) maps >= 75 to
``high``, >= 60 to ``medium``, >= 40 to ``low`` and below to ``informational``; a rule with
neither is taken as score 75 (``high``): unscored rules are mostly written for one threat or
case, to alert.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from forensics.detect.findings import LEVELS, finding_id, findings_table, write_findings
from forensics.detect.yara.results import ON_DISK, ScanResult, YaraMatch, YaraWarning
from forensics.detect.yara.rules import _YARA_PYTHON, _YARA_X, RuleFile, compile_rules
from forensics.detect.yara.scanner import DEFAULT_MAX_SIZE, DEFAULT_TIMEOUT, scan
from forensics.detect.yara.targets import DiskImage, _abs

if TYPE_CHECKING:
    from forensics.case import Case

ENGINE = "yara"
_LEVEL_ALIASES = {"info": "informational", "moderate": "medium", "severe": "high", "crit": "critical"}


@dataclass(slots=True)
class YaraReport:
    """``detect_yara``: the rules, what was scanned, what matched, where it was written."""

    run: str
    rule_files: list[RuleFile]
    result: ScanResult
    findings_path: Path | None = None
    timeline_path: Path | None = None

    @property
    def matches(self) -> list[YaraMatch]:
        return self.result.matches

    @property
    def warnings(self) -> list[YaraWarning]:
        return self.result.warnings

    def summary(self) -> dict[str, Any]:
        engines = Counter(f.engine or "failed" for f in self.rule_files)
        return {
            "rule_files": len(self.rule_files),
            "compiled_yara_x": engines[_YARA_X],
            "compiled_yara_python": engines[_YARA_PYTHON],
            "failed_rule_files": engines["failed"],
            "files_scanned": self.result.files,
            "bytes_scanned": self.result.bytes,
            "matches": len(self.result.matches),
            "files_matched": len({(m.image, m.path, m.sha256) for m in self.result.matches}),
            "skipped_too_large": self.result.skipped,
            "timeouts": self.result.counts["timeout"],
            "warnings": dict(self.result.counts),
            "seconds": round(self.result.seconds, 3),
        }


def detect_yara(
    case: Case,
    rule_paths: Iterable[str | Path] | str | Path,
    targets: Iterable[str | Path | DiskImage] | None = None,
    *,
    run: str = "default",
    jobs: int = 2,
    max_size: int | None = DEFAULT_MAX_SIZE,
    timeout: float | None = DEFAULT_TIMEOUT,
    prefilter: bool = True,
) -> YaraReport:
    """Scan a case's files with the rules and store the matches as findings and timeline rows.

    ``targets`` default: the objects carved from its captures (``case.carved``) and its
    evidence, as the manifest lists it: the files inside disk images, every other file as it
    is. Loose files and images the manifest knows carry its evidence id into the results."""
    ruleset, compile_warnings = compile_rules(rule_paths, prefilter=prefilter)
    evidence = _manifest(case)
    if targets is None:
        chosen: list[str | Path | DiskImage] = [case.carved] if Path(case.carved).is_dir() else []
        for path, (_, parser) in evidence.items():
            chosen.append(DiskImage(path) if parser == "disk_image" else path)
    else:
        chosen = list(targets)
    chosen = [
        DiskImage(t.path, t.evidence_id or evidence.get(_abs(t.path), (None, None))[0])
        if isinstance(t, DiskImage)
        else t
        for t in chosen
    ]
    result = scan(ruleset, chosen, jobs=jobs, max_size=max_size, timeout=timeout, prefilter=prefilter)
    result.warnings[:0] = compile_warnings
    result.matches = [
        m if m.image or m.evidence_id else _with_evidence(m, evidence.get(m.path, (None, None))[0])
        for m in result.matches
    ]
    report = YaraReport(run, ruleset.files, result)
    context = _dates_and_hosts(case, result.matches)
    report.findings_path = write_findings(
        case.root, ENGINE, findings_table(_findings(result.matches, context)), run
    )
    report.timeline_path = _write_rows(case.root, run, result.matches, context)
    case.record_detect_warnings(ENGINE, run, ((w.path, "", w.kind, w.reason, 1) for w in result.warnings))
    return report


def level_of(meta: dict[str, Any]) -> str:
    """A rule's finding level from its meta (see the module's documentation)."""
    for key in ("severity", "level"):
        word = str(meta.get(key, "")).strip().lower()
        word = _LEVEL_ALIASES.get(word, word)
        if word in LEVELS:
            return word
    try:
        score = float(meta.get("score", 75))
    except (TypeError, ValueError):
        score = 75.0
    if score >= 75:
        return "high"
    if score >= 60:
        return "medium"
    return "low" if score >= 40 else "informational"


def _with_evidence(match: YaraMatch, evidence_id: str | None) -> YaraMatch:
    if evidence_id is None:
        return match
    from dataclasses import replace

    return replace(match, evidence_id=evidence_id)


def _manifest(case: Case) -> dict[str, tuple[str | None, str | None]]:
    """Evidence path -> (evidence id, parser), the latest ingest of each path."""
    rows = case.arrow(
        "SELECT path, arg_max(evidence_id, ingested_at) AS evidence_id, arg_max(parser, ingested_at) AS parser "
        "FROM manifest GROUP BY path ORDER BY path"
    ).to_pylist()
    return {r["path"]: (r["evidence_id"], r["parser"]) for r in rows}


#: The earliest row of the case about a matched file: the file's own modification time inside
#: its image, or else any row naming the same sha256 (a process start, a transfer...).
_OWN_MTIME = """
SELECT k.i, arg_min(struct_pack(datetime := r.datetime, timestamp_desc := r.timestamp_desc,
                                host_name := r.host_name, source := r.source), r.datetime) AS row
FROM yara_keys k JOIN timeline_rows r ON r.evidence_id = k.evidence_id AND r.file_path = k.path
WHERE k.image AND r.timestamp_desc = 'Modified' AND r.source <> 'yara' AND r.datetime IS NOT NULL
GROUP BY k.i
"""
_SAME_HASH = """
SELECT k.i, arg_min(struct_pack(datetime := r.datetime, timestamp_desc := r.timestamp_desc,
                                host_name := r.host_name, source := r.source), r.datetime) AS row
FROM yara_keys k JOIN timeline_rows r ON r.file_hash_sha256 = k.sha256
WHERE r.source <> 'yara' AND r.datetime IS NOT NULL
GROUP BY k.i
"""
_HOSTS = """
SELECT r.evidence_id, min(r.host_name) AS host_name FROM timeline_rows r
WHERE r.evidence_id IN (SELECT evidence_id FROM yara_keys WHERE image) AND r.host_name IS NOT NULL
GROUP BY r.evidence_id
"""


def _dates_and_hosts(
    case: Case, matches: list[YaraMatch]
) -> list[tuple[datetime | None, str, str, str | None]]:
    """Per match: (datetime, timestamp_desc, dated_by, host_name), from what the case knows."""
    keys = pa.table(
        {
            "i": pa.array(range(len(matches)), pa.int64()),
            "image": pa.array([m.image is not None for m in matches], pa.bool_()),
            "evidence_id": pa.array([m.evidence_id for m in matches], pa.string()),
            "path": pa.array([m.path for m in matches], pa.string()),
            "sha256": pa.array([m.sha256 for m in matches], pa.string()),
        }
    )
    own: dict[int, dict] = {}
    same: dict[int, dict] = {}
    hosts: dict[str, str] = {}
    if matches:
        with case.connect() as con:
            con.register("yara_keys", keys)
            own = {r["i"]: r["row"] for r in con.sql(_OWN_MTIME).to_arrow_table().to_pylist()}
            same = {r["i"]: r["row"] for r in con.sql(_SAME_HASH).to_arrow_table().to_pylist()}
            hosts = {r["evidence_id"]: r["host_name"] for r in con.sql(_HOSTS).to_arrow_table().to_pylist()}
    out = []
    for i, match in enumerate(matches):
        host = hosts.get(match.evidence_id or "") if match.image else None
        if i in own:
            row = own[i]
            out.append(
                (row["datetime"], "Modified", "modification time in the image", host or row["host_name"])
            )
        elif i in same:
            row = same[i]
            dated_by = f"earliest {row['source']} row with this sha256"
            out.append((row["datetime"], row["timestamp_desc"], dated_by, host or row["host_name"]))
        elif match.mtime is not None:
            out.append((match.mtime, "Modified", ON_DISK, host))
        else:
            out.append((None, "Event Recorded", "no time known", host))
    return out


_TECHNIQUE = re.compile(r"\bT\d{4}(?:\.\d{3})?\b")


def _title(match: YaraMatch) -> str:
    description = str(match.meta.get("description", "")).strip()
    return f"{match.rule}: {description}" if description else match.rule


def _techniques(meta: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for key, value in meta.items():
        if any(word in key.lower() for word in ("attack", "mitre", "technique")):
            found.extend(_TECHNIQUE.findall(str(value)))
    return list(dict.fromkeys(found))


def _shown(data: bytes) -> str:
    """Matched bytes for people: printable ASCII as is, the rest as \\xNN."""
    return "".join(chr(b) if 32 <= b < 127 and b != 92 else f"\\x{b:02x}" for b in data)


def _matched(match: YaraMatch) -> dict[str, str]:
    """The finding's ``matched`` map: the strings that matched (``strings``: their names), per
    string its first match's bytes, the offsets of its first ``MAX_OFFSETS`` matches and how
    many there were; the rule's namespace, engine, tags and meta (``meta.<key>``)."""
    out = {"strings": " ".join(s.identifier for s in match.strings)}
    for s in match.strings:
        out[s.identifier] = _shown(s.data)
        out[f"{s.identifier} offsets"] = " ".join(map(str, s.offsets))
        out[f"{s.identifier} count"] = str(s.count)
    out.update(namespace=match.namespace, engine=match.engine, sha256=match.sha256, size=str(match.size))
    if match.tags:
        out["tags"] = " ".join(match.tags)
    for key, value in match.meta.items():
        out[f"meta.{key}"] = str(value)
    return out


def _findings(matches: list[YaraMatch], context: list[tuple]) -> Iterator[dict[str, Any]]:
    for match, (when, _, dated_by, host) in zip(matches, context, strict=True):
        matched = _matched(match)
        matched["dated_by"] = dated_by
        yield {
            "finding_id": finding_id(ENGINE, match.rule_id, match.image or "", match.path, match.sha256),
            "engine": ENGINE,
            "rule_id": match.rule_id,
            "rule_title": _title(match),
            "level": level_of(match.meta),
            "status": str(match.meta["status"]) if "status" in match.meta else None,
            "tactics": [],
            "techniques": _techniques(match.meta),
            "datetime": when,
            "host_name": host,
            "source_file": match.image or match.path,
            "evidence_id": match.evidence_id,
            "file_path": match.path,
            "file_hash_sha256": match.sha256,
            "matched": matched,
            "message": f"YARA {match.rule} {match.location}",
        }


def _write_rows(root: Path, run: str, matches: list[YaraMatch], context: list[tuple]) -> Path:
    """The matches as timeline rows in ``store/yara/<run>.parquet`` (replacing that run's)."""
    from forensics.rows import RowBuilder
    from forensics.schema import TIMELINE

    builder = RowBuilder()
    for n, (match, (when, desc, dated_by, host)) in enumerate(zip(matches, context, strict=True)):
        fields = {
            "rule": match.rule, "namespace": match.namespace, "engine": match.engine,
            "description": str(match.meta.get("description", "")) or None,
            "author": str(match.meta.get("author", "")) or None,
            "score": str(match.meta["score"]) if "score" in match.meta else None,
            "reference": str(match.meta.get("reference", "")) or None,
            "level": level_of(match.meta), "strings": " ".join(s.identifier for s in match.strings),
            "image": match.image, "size": str(match.size), "dated_by": dated_by,
        }  # fmt: skip
        builder.add(
            {
                "datetime": when, "timestamp_desc": desc, "message": f"YARA {match.rule} {match.location}",
                "host_name": host, "source": ENGINE, "source_file": match.image or match.path,
                "source_record": n, "evidence_id": match.evidence_id, "event_code": match.rule_id,
                "event_provider": match.engine, "event_action": "yara-match", "file_path": match.path,
                "file_hash_sha256": match.sha256, "tags": [match.rule],
            },
            {k: v for k, v in fields.items() if v is not None},
        )  # fmt: skip
    batch = builder.flush()
    table = pa.Table.from_batches([batch]) if batch is not None else TIMELINE.empty_table()
    folder = root / "store" / ENGINE
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{run}.parquet"
    temp = path.with_suffix(".parquet.tmp")
    pq.write_table(table, temp, compression="zstd")
    temp.replace(path)
    return path
