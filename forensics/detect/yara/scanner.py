"""``scan``: the rules over the targets' files in worker processes, within size and time limits.

``scan`` runs in worker processes (``jobs``, default 2). The rules are compiled once, in the
parent: workers forked from it share them; where processes are spawned (or the parent already
scanned with a timeout, see below) they get the serialised rules and deserialise them once. Each
file is read whole (up to ``max_size``, 64 MiB by default: larger files are skipped and
counted), hashed (sha256) and scanned with the rule set of its prefilter class; a scan longer
than ``timeout`` seconds is abandoned and counted (yara-x then reports nothing for that file:
its other rules' matches are lost too, as with YARA). yara-x times scans out with a heartbeat
thread a forked process does not inherit, so once this process has scanned with a timeout itself
(``jobs=1``), later pools are spawned rather than forked.
"""

from __future__ import annotations

import hashlib
import math
import multiprocessing
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from forensics.detect.yara.externals import _externals, _owner
from forensics.detect.yara.prefilter import _kind
from forensics.detect.yara.results import (
    MAX_DATA,
    MAX_OFFSETS,
    ScanResult,
    StringMatch,
    YaraMatch,
    YaraWarning,
    _one_line,
)
from forensics.detect.yara.rules import _YARA_PYTHON, _YARA_X, RuleSet
from forensics.detect.yara.targets import DiskImage, _Images, _plan, _read, _unit_name

#: Largest file scanned (bytes); larger ones are skipped and counted.
DEFAULT_MAX_SIZE = 64 << 20
#: Seconds one file's scan may take.
DEFAULT_TIMEOUT = 60
#: Whether this process has scanned with a yara-x timeout (its heartbeat thread then exists
#: here and would be missing, yet marked as started, in a forked child).
_HEARTBEAT = False


def scan(
    ruleset: RuleSet,
    targets: Iterable[str | Path | DiskImage] | str | Path | DiskImage,
    *,
    jobs: int = 2,
    max_size: int | None = DEFAULT_MAX_SIZE,
    timeout: float | None = DEFAULT_TIMEOUT,
    prefilter: bool = True,
) -> ScanResult:
    """Scan loose files and folders (recursive) and the files inside ``DiskImage``s with the
    rules; ``max_size`` bytes per file at most (None: no limit), ``timeout`` seconds per file
    (None: none). ``prefilter=False`` scans every file with all the rules (same results)."""
    global _HEARTBEAT
    started = time.perf_counter()
    if isinstance(targets, (str, Path, DiskImage)):
        targets = [targets]
    units, result = _plan(list(targets), max_size, max(1, jobs))
    if units and jobs <= 1:
        state = _Worker(ruleset, max_size, timeout, prefilter)
        try:
            for unit in units:
                try:
                    _merge(result, state.run(unit))
                except Exception as exc:  # reported like a worker's failure below
                    result.warnings.append(YaraWarning("scan", _unit_name(unit), _one_line(exc)))
        finally:
            state.close()
        _HEARTBEAT |= bool(timeout) and bool(ruleset._sets)
    elif units:
        context = multiprocessing.get_context(
            "fork" if "fork" in multiprocessing.get_all_start_methods() and not _HEARTBEAT else "spawn"
        )
        with ProcessPoolExecutor(
            max_workers=min(jobs, len(units)),
            mp_context=context,
            initializer=_init_worker,
            initargs=(ruleset, max_size, timeout, prefilter),
        ) as pool:
            futures: list[Future[ScanResult]] = [pool.submit(_run_unit, unit) for unit in units]
            for unit, future in zip(units, futures, strict=True):
                try:
                    _merge(result, future.result())
                except Exception as exc:  # a worker that died (BrokenProcessPool) or failed
                    result.warnings.append(YaraWarning("scan", _unit_name(unit), _one_line(exc)))
    result.matches.sort(key=lambda m: (m.image or "", m.path, m.namespace, m.rule))
    result.warnings.sort(key=lambda w: (w.kind, w.path))
    result.seconds = time.perf_counter() - started
    return result


def _merge(into: ScanResult, part: ScanResult) -> None:
    into.matches.extend(part.matches)
    into.warnings.extend(part.warnings)
    into.files += part.files
    into.bytes += part.bytes


_STATE: _Worker | None = None


def _init_worker(ruleset: RuleSet, max_size: int | None, timeout: float | None, prefilter: bool) -> None:
    global _STATE
    _STATE = _Worker(ruleset, max_size, timeout, prefilter)


def _run_unit(unit: tuple) -> ScanResult:
    assert _STATE is not None
    return _STATE.run(unit)


class _Worker:
    """A process's scanning state: the rules, one yara-x scanner per rule set, the open image."""

    def __init__(
        self, ruleset: RuleSet, max_size: int | None, timeout: float | None, prefilter: bool
    ) -> None:
        self.ruleset = ruleset
        self.max_size = max_size
        self.timeout = timeout
        self.prefilter = prefilter
        self._scanners: dict[int, Any] = {}
        self._images = _Images()

    def close(self) -> None:
        self._images.close()

    def run(self, unit: tuple) -> ScanResult:
        out = ScanResult()
        if unit[0] == "files":
            # Read the batch, then scan it grouped by rule set: a scanner stays warm in the
            # CPU caches for its files (a few % faster than alternating scanners).
            loaded = [_read(path, self.max_size, out) for path, _ in unit[1]]
            files = sorted((x for x in loaded if x is not None), key=lambda x: self._set_of(x[1]))
            for path, data, info in files:
                mtime = datetime.fromtimestamp(info.st_mtime, UTC)
                self._scan(data, path, _owner(info.st_uid), out, None, None, mtime)
        else:
            image, evidence_id, shard, shards = unit[1:]
            for path, data in self._images.share(image, shard, shards, self.max_size, out):
                self._scan(data, path, "", out, image, evidence_id, None)
        return out

    def _set_of(self, data: bytes) -> int:
        return id(self.ruleset.yara_x(_kind(data[:8]), len(data), self.prefilter))

    def _scanner(self, rules: Any) -> Any:
        scanner = self._scanners.get(id(rules))
        if scanner is None:
            import yara_x

            scanner = yara_x.Scanner(rules)
            if self.timeout:
                scanner.set_timeout(max(1, math.ceil(self.timeout)))
            self._scanners[id(rules)] = scanner
        return scanner

    def _scan(
        self,
        data: bytes,
        path: str,
        owner: str,
        out: ScanResult,
        image: str | None,
        evidence_id: str | None,
        mtime: datetime | None,
    ) -> None:
        import yara_x

        sha256 = hashlib.sha256(data).hexdigest()
        where = f"{path} (in {image})" if image else path
        values = _externals(path, data[:8], owner)
        found: list[tuple[str, str, tuple[str, ...], dict[str, Any], tuple[StringMatch, ...], str]] = []
        rules = self.ruleset.yara_x(_kind(data[:8]), len(data), self.prefilter)
        if rules is not None:
            scanner = self._scanner(rules)
            for name in self.ruleset.externals:
                scanner.set_global(name, values.get(name, ""))
            try:
                results = scanner.scan(data)
            except yara_x.TimeoutError:
                out.warnings.append(
                    YaraWarning("timeout", where, f"yara-x: over {self.timeout} s, not scanned")
                )
            except Exception as exc:
                out.warnings.append(YaraWarning("scan", where, f"yara-x: {_one_line(exc)}"))
            else:
                found.extend(_from_yara_x(results, data))
        python = self.ruleset.yara_python()
        if python is not None:
            import yara

            externals = {name: values.get(name, "") for name in self.ruleset.externals}
            try:
                matches = python.match(data=data, externals=externals, timeout=math.ceil(self.timeout or 0))
            except yara.TimeoutError:
                out.warnings.append(YaraWarning("timeout", where, f"yara-python: over {self.timeout} s"))
            except yara.Error as exc:
                out.warnings.append(YaraWarning("scan", where, f"yara-python: {_one_line(exc)}"))
            else:
                found.extend(_from_yara_python(matches))
        out.files += 1
        out.bytes += len(data)
        for rule, namespace, tags, meta, strings, engine in found:
            out.matches.append(
                YaraMatch(
                    path,
                    sha256,
                    len(data),
                    rule,
                    namespace,
                    tags,
                    meta,
                    strings,
                    engine,
                    image,
                    evidence_id,
                    mtime,
                )
            )


def _from_yara_x(results: Any, data: bytes) -> Iterator[tuple]:
    for rule in results.matching_rules:
        strings = []
        for pattern in rule.patterns:
            hits = pattern.matches
            if hits:
                first = hits[0]
                offsets = tuple(m.offset for m in hits[:MAX_OFFSETS])
                snippet = data[first.offset : first.offset + min(first.length, MAX_DATA)]
                strings.append(StringMatch(pattern.identifier, offsets, len(hits), snippet))
        yield rule.identifier, rule.namespace, tuple(rule.tags), _meta(rule.metadata), tuple(strings), _YARA_X


def _from_yara_python(matches: list[Any]) -> Iterator[tuple]:
    for match in matches:
        strings = []
        for string in match.strings:
            hits = string.instances
            if hits:
                offsets = tuple(h.offset for h in hits[:MAX_OFFSETS])
                strings.append(
                    StringMatch(string.identifier, offsets, len(hits), bytes(hits[0].matched_data[:MAX_DATA]))
                )
        yield (
            match.rule,
            match.namespace,
            tuple(match.tags),
            _meta(match.meta.items()),
            tuple(strings),
            _YARA_PYTHON,
        )


def _meta(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """A rule's meta; a key given more than once (signature-base's ``hash``) joins its values."""
    meta: dict[str, Any] = {}
    for key, value in pairs:
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        meta[key] = f"{meta[key]}, {value}" if key in meta else value
    return meta
