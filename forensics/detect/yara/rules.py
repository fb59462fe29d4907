"""``compile_rules``: rule files into a ``RuleSet``, with yara-x and yara-python for what it rejects.

``compile_rules`` takes rule files and folders (``*.yar``, ``*.yara``, recursive); each file is
one namespace (its name without the suffix). Every file is compiled with yara-x; a file yara-x
rejects is compiled with yara-python instead, and a file neither accepts is left out and
reported with the compiler's one-line reason while the other files' rules still run. The
external variables (``externals``) are defined, empty, at compile time. ``prefilter`` chooses the
rules of each class's yara-x rule set; they are compiled here, and the ``RuleSet`` keeps them
serialised (for spawned workers) and live (for this process and forked workers).
"""

from __future__ import annotations

import io
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forensics.detect.yara.externals import EXTERNALS
from forensics.detect.yara.prefilter import _classes, _count_rules, _Rule, _size_class, _split, _text
from forensics.detect.yara.results import YaraWarning, _one_line

RULE_SUFFIXES = (".yar", ".yara")
_YARA_X, _YARA_PYTHON = "yara-x", "yara-python"


@dataclass(frozen=True, slots=True)
class RuleFile:
    """One rule file: which engine compiled it, or why none did."""

    path: str
    namespace: str
    engine: str | None  # "yara-x", "yara-python" or None (not compiled: see ``reason``)
    #: yara-x's one-line reason when it rejected the file; yara-python's too when both did.
    reason: str | None = None
    rules: int = 0


class RuleSet:
    """Compiled rules: yara-x rule sets (one per prefilter class; serialised, and kept live in
    this process), the yara-python rules for files yara-x rejected, and the files' outcome."""

    def __init__(
        self,
        files: list[RuleFile],
        sets: list[bytes],
        classes: dict[tuple[int, int], int],
        python: bytes | None,
        externals: tuple[str, ...],
        uses_externals: frozenset[str] = frozenset(),
        live: list[Any] | None = None,
        warnings: int = 0,
    ) -> None:
        self.files = files
        self.externals = externals
        #: namespace:rule of the rules whose condition reads an external variable.
        self.uses_externals = uses_externals
        #: yara-x's compiler warnings (slow or redundant patterns...), counted.
        self.compiler_warnings = warnings
        self._sets = sets
        self._classes = classes  # (kind, size class) -> index into _sets; (-1, 0): all rules
        self._python = python
        self._live: list[Any] = live if live is not None else [None] * len(sets)
        self._live_python: Any = None

    def __getstate__(self) -> dict[str, Any]:  # spawned workers get bytes, not live rules
        state = dict(self.__dict__)
        state["_live"] = [None] * len(self._sets)
        state["_live_python"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    @property
    def counts(self) -> dict[str, int]:
        """Rule files compiled with yara-x, with yara-python, and not compiled."""
        engines = Counter(f.engine or "failed" for f in self.files)
        return {_YARA_X: engines[_YARA_X], _YARA_PYTHON: engines[_YARA_PYTHON], "failed": engines["failed"]}

    @property
    def rules(self) -> int:
        return sum(f.rules for f in self.files)

    @property
    def warnings(self) -> list[YaraWarning]:
        return [YaraWarning("compile", f.path, f.reason or "") for f in self.files if f.engine is None]

    def yara_x(self, kind: int, size: int, prefilter: bool = True) -> Any:
        """The yara-x rules for a file of ``kind`` and ``size`` (None when there are none)."""
        if not self._sets:
            return None
        index = self._classes[(kind, _size_class(size))] if prefilter else self._classes[(-1, 0)]
        if self._live[index] is None:
            import yara_x

            self._live[index] = yara_x.Rules.deserialize_from(io.BytesIO(self._sets[index]))
        return self._live[index]

    def yara_python(self) -> Any:
        if self._python is None:
            return None
        if self._live_python is None:
            import yara

            self._live_python = yara.load(file=io.BytesIO(self._python))
        return self._live_python


def compile_rules(
    paths: Iterable[str | Path] | str | Path,
    *,
    externals: Sequence[str] = EXTERNALS,
    prefilter: bool = True,
) -> tuple[RuleSet, list[YaraWarning]]:
    """Compile rule files and folders (recursive: ``*.yar``, ``*.yara``); -> (rules, warnings
    naming each file neither engine compiles, with the reason)."""
    import yara_x

    files = _rule_paths(paths)
    namespaces = _namespaces(files)
    compiler = _compiler(externals)
    sources: dict[str, str] = {}
    outcome: dict[str, RuleFile] = {}
    rejected: list[str] = []
    for path in files:
        ns = namespaces[path]
        try:
            source = Path(path).read_bytes().decode("utf-8", errors="surrogateescape")
        except OSError as exc:
            outcome[path] = RuleFile(path, ns, None, _one_line(exc))
            continue
        compiler.new_namespace(ns)
        try:
            compiler.add_source(source, origin=path)
        except (yara_x.CompileError, ValueError, TypeError) as exc:  # yara-x keeps this file's good rules:
            rejected.append(path)  # such a file is left out of every yara-x set below
            outcome[path] = RuleFile(path, ns, None, _reason(exc))
            continue
        sources[path] = source
    warnings = len(compiler.warnings())
    # Without the rejected files' rules yara-x took (it keeps a file's rules before an error).
    full = _build(sources, namespaces, externals) if rejected else compiler.build()
    python = _fallback(rejected, namespaces, externals, outcome)

    # What each rule requires (prefilter), and the rule count per file.
    split: dict[str, tuple[list[str], list[_Rule]] | None] = {}
    uses_externals: set[str] = set()
    for path, source in sources.items():
        try:
            heads, rules, linked = _split(source)
        except (ValueError, IndexError):
            split[path] = None
            outcome[path] = RuleFile(path, namespaces[path], _YARA_X, rules=_count_rules(source))
            continue
        uses_externals.update(f"{namespaces[path]}:{r.name}" for r in rules if r.externals)
        outcome[path] = RuleFile(path, namespaces[path], _YARA_X, rules=len(rules))
        split[path] = None if linked or not prefilter else (heads, rules)

    # One rule set per prefilter class, the same ones shared; a class that keeps nearly all
    # the rules (MZ files under 1 MiB, with signature-base) uses them all: ``full``.
    sets: list[bytes] = []
    live: list[Any] = []
    classes: dict[tuple[int, int], int] = {}
    if sources:
        sets.append(_serialise(full))
        live.append(full)
        classes[(-1, 0)] = 0
        chosen: dict[tuple | None, int] = {None: 0}  # None: all the rules
        for key, selection in _classes(sources, split):
            if selection not in chosen:
                texts = {p: _text(sources[p], split[p], kept) for p, kept in selection if kept != ()}  # type: ignore[union-attr]
                try:
                    rules_x = _build(texts, namespaces, externals)
                except (yara_x.CompileError, ValueError):  # not read as expected: all rules
                    chosen[selection] = 0
                else:
                    chosen[selection] = len(sets)
                    sets.append(_serialise(rules_x))
                    live.append(rules_x)
            classes[key] = chosen[selection]
    rule_files = [outcome[p] for p in files]
    ruleset = RuleSet(
        rule_files, sets, classes, python, tuple(externals), frozenset(uses_externals), live, warnings
    )
    if not files:
        given = ", ".join(map(str, [paths] if isinstance(paths, (str, Path)) else paths))
        return ruleset, [YaraWarning("compile", given, "no rule files (*.yar, *.yara) found")]
    return ruleset, ruleset.warnings


def _rule_paths(paths: Iterable[str | Path] | str | Path) -> list[str]:
    if isinstance(paths, (str, Path)):
        paths = [paths]
    found: list[str] = []
    for given in paths:
        path = Path(given).expanduser().absolute()
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs.sort()
                found.extend(str(Path(root) / n) for n in sorted(names) if n.lower().endswith(RULE_SUFFIXES))
        else:
            found.append(str(path))
    return list(dict.fromkeys(found))


def _namespaces(files: list[str]) -> dict[str, str]:
    """Each file's namespace: its name without the suffix (``name~2``... when names repeat)."""
    out: dict[str, str] = {}
    used: Counter[str] = Counter()
    for path in files:
        stem = Path(path).name
        for suffix in RULE_SUFFIXES:
            if stem.lower().endswith(suffix):
                stem = stem[: -len(suffix)]
        used[stem] += 1
        out[path] = stem if used[stem] == 1 else f"{stem}~{used[stem]}"
    return out


def _compiler(externals: Sequence[str]) -> Any:
    import yara_x

    compiler = yara_x.Compiler()
    for name in externals:
        compiler.define_global(name, "")
    return compiler


def _build(texts: dict[str, str], namespaces: dict[str, str], externals: Sequence[str]) -> Any:
    compiler = _compiler(externals)
    for path, text in texts.items():
        compiler.new_namespace(namespaces[path])
        compiler.add_source(text, origin=path)
    return compiler.build()


def _serialise(rules: Any) -> bytes:
    out = io.BytesIO()
    rules.serialize_into(out)
    return out.getvalue()


def _reason(exc: BaseException) -> str:
    """A compiler error in one line: its first line, and where (``line N``) when it says."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    where = re.search(r"-->\s*.*?:(\d+):(\d+)", text)
    return f"{first} (line {where.group(1)})" if where else first


def _fallback(
    rejected: list[str], namespaces: dict[str, str], externals: Sequence[str], outcome: dict[str, RuleFile]
) -> bytes | None:
    """The files yara-x rejected, compiled with yara-python (the ones it takes) -> saved rules."""
    if not rejected:
        return None
    import yara

    defaults = dict.fromkeys(externals, "")
    accepted: dict[str, str] = {}
    for path in rejected:
        ns, first = namespaces[path], outcome[path].reason
        try:
            yara.compile(filepath=path, externals=defaults)
        except (yara.Error, OSError) as exc:
            reason = f"yara-x: {first}; yara-python: {_reason(exc)}"
            outcome[path] = RuleFile(path, ns, None, reason)
            continue
        accepted[ns] = path
        text = Path(path).read_bytes().decode("utf-8", errors="replace")
        outcome[path] = RuleFile(path, ns, _YARA_PYTHON, first, _count_rules(text))
    if not accepted:
        return None
    rules = yara.compile(filepaths=accepted, externals=defaults)
    out = io.BytesIO()
    rules.save(file=out)
    return out.getvalue()
