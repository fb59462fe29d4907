"""``load_indicators``: intel files into one indicator table, each file's format recognised by content.

JSON is a STIX 2 bundle (``stix``) or a MISP event (``misp``); text with a header naming a value
or kind column is CSV, a file whose name contains ``filename`` is LOKI's file-name list, any other
text a plain list (``lists``). YARA rules and binary files are refused with a warning. Values are
kept once per file (LOKI files repeat hashes) and once across files (the same indicator id and
value from two feeds).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from forensics.detect.intel.indicators import COLUMNS, SCHEMA, IntelWarning, _Collector
from forensics.detect.intel.lists import _csv_header, _load_csv, _load_list, _load_loki_filenames
from forensics.detect.intel.misp import _is_misp, _load_misp
from forensics.detect.intel.stix import _is_stix, _load_stix

_PANDAS_TYPES = {pa.string(): pd.StringDtype(), pa.int32(): pd.Int32Dtype(), pa.int64(): pd.Int64Dtype()}


def load_indicators(paths: str | Path | Iterable[str | Path]) -> tuple[pd.DataFrame, list[IntelWarning]]:
    """Read intel files (or every file under folders) -> (indicator table of ``COLUMNS``,
    warnings). Never raises for bad input."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    rows: list[dict[str, Any]] = []
    warnings: list[IntelWarning] = []
    for path in _files(paths):
        collector = _Collector(path)
        try:
            _load_file(path, collector)
        except Exception as exc:  # a loader bug or an unreadable file must not stop the others
            collector.warn("", f"cannot read: {type(exc).__name__}: {exc}".splitlines()[0])
        kept = _dedupe(collector)
        rows.extend(kept)
        warnings.extend(collector.finish())
    frame, duplicates = _frame(rows)
    warnings.extend(duplicates)
    return frame, warnings


def _files(paths: Iterable[str | Path]) -> Iterator[Path]:
    for given in paths:
        path = Path(given).expanduser()
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())
        else:
            yield path


def _dedupe(collector: _Collector) -> list[dict[str, Any]]:
    """Within a file, one row per (id, kind, value, port, pattern); lists whose ids are line
    numbers also keep one row per value (LOKI files repeat hashes)."""
    seen: dict[tuple, str] = {}
    kept, dropped = [], 0
    for row in collector.rows:
        by_line = row["indicator_id"].startswith(f"{collector.path.name}:")
        key = (
            None if by_line else row["indicator_id"], row["kind"], row["value"], row["port"], row["pattern"],
        )  # fmt: skip
        if key in seen:
            dropped += 1
            continue
        seen[key] = row["indicator_id"]
        kept.append(row)
    if dropped:
        collector.warnings.append(
            IntelWarning(str(collector.path), "", "duplicate indicators skipped (first kept)", dropped)
        )
    return kept


def _frame(rows: list[dict[str, Any]]) -> tuple[pd.DataFrame, list[IntelWarning]]:
    """Rows -> the indicator table; the same id and value from two files is kept once."""
    seen: set[tuple] = set()
    unique, repeats = [], Counter()
    for row in rows:
        key = (row["indicator_id"], row["kind"], row["value"], row["port"], row["pattern"])
        if key in seen:
            repeats[row["file"]] += 1
            continue
        seen.add(key)
        unique.append(row)
    columns = {name: [row.get(name) for row in unique] for name in COLUMNS}
    for name in ("labels", "techniques", "tactics"):
        columns[name] = [list(v) if v else [] for v in columns[name]]
    table = pa.table(columns, schema=SCHEMA)
    warnings = [
        IntelWarning(file, "", "indicators already loaded from another file skipped", n)
        for file, n in repeats.items()
    ]
    return table.to_pandas(types_mapper=_PANDAS_TYPES.get), warnings


def _load_file(path: Path, collector: _Collector) -> None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        collector.warn("", f"cannot read: {exc.strerror or exc}")
        return
    if b"\x00" in data[:4096]:
        collector.warn("", f"binary file, not intel (starts with {data[:8]!r})")
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("utf-8-sig", errors="replace")
        collector.warn("", "not UTF-8: undecodable bytes replaced")
    head = text.lstrip()[:1]
    if head in ("{", "["):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            collector.warn("", f"not valid JSON: {exc}")
            return
        if _is_stix(doc):
            _load_stix(doc, collector)
        elif _is_misp(doc):
            _load_misp(doc, collector)
        else:
            collector.warn("", "JSON, but neither a STIX 2 bundle nor a MISP event")
        return
    if path.suffix.lower() in (".yar", ".yara") or re.match(
        r"\s*(?:import\s+\"|(?:private\s+|global\s+)*rule\s)", text
    ):
        collector.warn("", "YARA rules, not indicators (the yara engine reads them)")
        return
    if not text.strip():
        collector.warn("", "empty file")
        return
    header = _csv_header(text)
    if header is not None:
        _load_csv(text, header, collector)
    elif "filename" in path.name.lower():
        _load_loki_filenames(text, collector)
    else:
        _load_list(text, collector)
