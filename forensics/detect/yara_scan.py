"""YARA over a case: loose files, files inside disk images and objects carved from captures.

Rules. ``compile_rules`` takes rule files and folders (``*.yar``, ``*.yara``, recursive); each
file is one namespace (its name without the suffix). Every file is compiled with yara-x; a
file yara-x rejects is compiled with yara-python instead, and a file neither accepts is left
out and reported with the compiler's one-line reason while the other files' rules still run.
The externals signature-base and LOKI-style rules use (``filename``, ``filepath``,
``extension``, ``filetype``, ``owner``) are defined, empty, at compile time and set for every
file scanned: ``filename`` its name, ``filepath`` its path (inside an image: the path there),
``extension`` its suffix, lowercase with the dot (``.exe``, LOKI's form), ``filetype`` what its
first bytes say (``EXE``, ``ELF``, ``MACH-O``, ``ZIP``, ``PDF``, ``RTF``, ``MDMP``, ``OLE``) or
else its suffix (``VBS``, ``PHP``, ``JSP``, ``ASP``, ``BATCH``, ``Python``, ``PowerShell``) and
``owner`` the owning account of a loose file (empty inside images).

Prefilter. Scanning time grows with the rules and patterns searched, and many rules can only
match some files: of signature-base's 5,883 rules, 2,102 require ``uint16(0) == 0x5a4d`` (an MZ
header) and 2,209 a ``filesize`` under 1 MiB. ``compile_rules`` reads each rule's condition
and, when it is a conjunction (no ``or`` outside parentheses) with ``filesize < N`` or
``uintNN(0) == X`` terms, leaves the rule out of the rule sets for files those terms rule out:
one yara-x rule set per class of file (starts with ``MZ`` or not; under 1 MiB or not), each
with only the rules that can still match such a file, and all the rules where a class would
drop fewer than 10 % (with signature-base: MZ files under 1 MiB). Results are the same as with
all the rules (a rule left out could not match: one of its required terms is false); the tests
check it on signature-base. Files whose rules refer to each other (by name or ``name*``
sets), have ``global`` rules or ``include`` files stay whole in every set. It costs compile
time (signature-base: ~10 s for four sets rather than ~3 s for one) and saves a fifth to a
quarter of the scanning CPU time on the benchmark's files.

Scanning. ``scan`` runs in worker processes (``jobs``, default 2). The rules are compiled once,
in the parent: workers forked from it share them; where processes are spawned (or the parent
already scanned with a timeout, see below) they get the serialised rules and deserialise them
once. Each file is read whole (up to ``max_size``, 64 MiB by default: larger files are skipped
and counted), hashed (sha256) and scanned; a scan longer than ``timeout`` seconds is abandoned
and counted (yara-x then reports nothing for that file: its other rules' matches are lost
too, as with YARA). Files inside disk images are read through dissect.target (``image_files``: the
image is opened read-only and never extracted; gzip/bz2/xz-compressed images are decompressed
in memory as the ingest does). yara-x times scans out with a heartbeat thread a forked process
does not inherit, so once this process has scanned with a timeout itself (``jobs=1``), later
pools are spawned rather than forked.

Results. Each match names the file (loose: its path; inside an image: the image's path and the
path inside), its sha256, the rule, namespace, tags, meta and the matched strings with the
offsets of their first 10 matches. ``detect_yara`` writes them into the case as findings
(engine ``yara``, ``rule_id`` = namespace:rule) and as timeline rows (source ``yara``, action
``yara-match``) in ``store/yara/<run>.parquet``, replaced by a rerun of the same run. A match
is dated by what the case knows of its file: a file inside an image by its modification time
in the image's file-system rows (the ingest lists ``/tmp`` and the like always, every file
with ``--fs-timeline``); otherwise by the earliest timeline row naming the same sha256
(a Sysmon process start, an HTTP transfer); otherwise a loose file by its modification time on
disk; otherwise it has no time (the ``dated_by`` field says which).

Levels. A rule's ``severity`` (or ``level``) meta, when it is one of the finding levels, is
its level; otherwise its ``score`` meta (signature-base, THOR and LOKI: 0-100) maps >= 75 to
``high``, >= 60 to ``medium``, >= 40 to ``low`` and below to ``informational``; a rule with
neither is taken as score 75 (``high``): unscored rules are mostly written for one threat or
case, to alert.

References: YARA's documentation (yara.readthedocs.io: writing rules, external variables,
yara-python), YARA-X's (virustotal.github.io/yara-x: differences with YARA, the Python API).
"""

from __future__ import annotations

import hashlib
import io
import math
import multiprocessing
import os
import re
import stat
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from forensics.detect.findings import LEVELS, finding_id, findings_table, write_findings

if TYPE_CHECKING:
    from forensics.case import Case

__all__ = [
    "DEFAULT_MAX_SIZE",
    "DEFAULT_TIMEOUT",
    "EXTERNALS",
    "MAX_OFFSETS",
    "DiskImage",
    "RuleFile",
    "RuleSet",
    "ScanResult",
    "StringMatch",
    "YaraMatch",
    "YaraReport",
    "YaraWarning",
    "compile_rules",
    "detect_yara",
    "level_of",
    "scan",
]

#: Largest file scanned (bytes); larger ones are skipped and counted.
DEFAULT_MAX_SIZE = 64 << 20
#: Seconds one file's scan may take.
DEFAULT_TIMEOUT = 60
#: Offsets kept per matched string.
MAX_OFFSETS = 10
#: Bytes of a matched string's first match kept for display.
MAX_DATA = 64
#: External variables defined for every rule file and set for every file scanned.
EXTERNALS = ("filename", "filepath", "extension", "filetype", "owner")
#: Lower bounds of the prefilter's size classes (a file of size s is in the last class <= s).
SIZE_CLASSES = (0, 1 << 20)
#: A prefilter class that would leave out no more than this share of the rules uses them all.
_KEEP_ALL = 0.1
RULE_SUFFIXES = (".yar", ".yara")
ENGINE = "yara"
_YARA_X, _YARA_PYTHON = "yara-x", "yara-python"
#: Loose files per work unit, and bytes.
_UNIT_FILES, _UNIT_BYTES = 128, 32 << 20
#: Image shards: one per this many bytes of image (at most 4 per worker).
_SHARD_BYTES = 256 << 20
_FILETYPES = (
    (b"MZ", "EXE"),
    (b"\x7fELF", "ELF"),
    (b"\xca\xfe\xba\xbe", "MACH-O"),
    (b"\xcf\xfa\xed\xfe", "MACH-O"),
    (b"\xce\xfa\xed\xfe", "MACH-O"),
    (b"\xfe\xed\xfa\xce", "MACH-O"),
    (b"\xfe\xed\xfa\xcf", "MACH-O"),
    (b"PK\x03\x04", "ZIP"),
    (b"%PDF", "PDF"),
    (b"{\\rt", "RTF"),
    (b"MDMP", "MDMP"),
    (b"\xd0\xcf\x11\xe0", "OLE"),
)
_SUFFIX_TYPES = {
    ".vbs": "VBS", ".vbe": "VBS", ".php": "PHP", ".jsp": "JSP", ".asp": "ASP", ".aspx": "ASP",
    ".bat": "BATCH", ".cmd": "BATCH", ".py": "Python", ".ps1": "PowerShell", ".psm1": "PowerShell",
}  # fmt: skip
_LEVEL_ALIASES = {"info": "informational", "moderate": "medium", "severe": "high", "crit": "critical"}
#: Whether this process has scanned with a yara-x timeout (its heartbeat thread then exists
#: here and would be missing, yet marked as started, in a forked child).
_HEARTBEAT = False


# -- what goes in and out ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DiskImage:
    """A scan target: the files inside a disk image (not the image's own bytes)."""

    path: str
    #: The image's evidence id in a case (its sha256), carried into findings.
    evidence_id: str | None = None


@dataclass(frozen=True, slots=True)
class RuleFile:
    """One rule file: which engine compiled it, or why none did."""

    path: str
    namespace: str
    engine: str | None  # "yara-x", "yara-python" or None (not compiled: see ``reason``)
    #: yara-x's one-line reason when it rejected the file; yara-python's too when both did.
    reason: str | None = None
    rules: int = 0


@dataclass(frozen=True, slots=True)
class YaraWarning:
    """Something not scanned as asked: ``kind`` compile | size | timeout | read | image | scan."""

    kind: str
    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class StringMatch:
    """One string of a matching rule: where it matched (first ``MAX_OFFSETS``) and how often."""

    identifier: str
    offsets: tuple[int, ...]
    count: int
    #: The bytes of its first match (at most ``MAX_DATA``).
    data: bytes


@dataclass(frozen=True, slots=True)
class YaraMatch:
    """A rule that matched a file."""

    path: str  # the file's path (inside an image: its path there)
    sha256: str
    size: int
    rule: str
    namespace: str
    tags: tuple[str, ...]
    meta: dict[str, Any]
    strings: tuple[StringMatch, ...]
    engine: str  # yara-x | yara-python
    image: str | None = None  # the image's path, for a file inside one
    evidence_id: str | None = None
    mtime: datetime | None = None  # loose files: modification time on disk

    @property
    def rule_id(self) -> str:
        return f"{self.namespace}:{self.rule}"

    @property
    def location(self) -> str:
        """The file for people: its path, and the image's when inside one."""
        return f"{self.path} (in {self.image})" if self.image else self.path


@dataclass(slots=True)
class ScanResult:
    """What ``scan`` found and what it could not do."""

    matches: list[YaraMatch] = field(default_factory=list)
    warnings: list[YaraWarning] = field(default_factory=list)
    files: int = 0  # files scanned
    bytes: int = 0  # bytes scanned
    seconds: float = 0.0

    @property
    def counts(self) -> Counter[str]:
        """Warnings by kind (``size`` = files skipped as too large, ``timeout``...)."""
        return Counter(w.kind for w in self.warnings)

    @property
    def skipped(self) -> int:
        return self.counts["size"]


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


# -- reading rule files: rules, their conditions and what those rule out ------------------------

#: YARA's tokens, as far as splitting rules and reading conditions needs: a hex string or a
#: regular expression is one token with the ``=`` or ``matches`` before it (comments allowed
#: inside hex strings; no bare "/" inside a regular expression, as in YARA's lexer).
_TOKEN = re.compile(
    r"""
    (?P<skip>\s+|//[^\n]*|/\*.*?\*/)
  | "(?:[^"\\\n]|\\.)*"
  | ==|!=|<=|>=|<<|>>|\.\.
  | (?:=|\bmatches)\s*(?:\{(?:[^}/]+|//[^\n]*|/\*.*?\*/)*\}|/(?:[^/\\\n]|\\.)*/[a-z]*)
  | [A-Za-z_][A-Za-z0-9_]*|[$#@!][A-Za-z0-9_]*\*?
  | 0x[0-9A-Fa-f]+|0o[0-7]+|\d+(?:\.\d+)?(?:KB|MB)?
  | .
    """,
    re.VERBOSE | re.DOTALL,
)
_UNITS = {"KB": 1 << 10, "MB": 1 << 20}
_WIDTHS = {"uint8": (1, "little"), "uint16": (2, "little"), "uint32": (4, "little"),
           "uint16be": (2, "big"), "uint32be": (4, "big")}  # fmt: skip
#: Files starting with these go to their own prefilter rule sets.
_KINDS = (b"MZ",)


@dataclass(frozen=True, slots=True)
class _Token:
    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _Rule:
    """One rule of a file: its text and what its condition requires of any file it matches."""

    name: str
    text: str
    max_size: int | None  # matches only files smaller than this
    prefix: bytes | None  # ... that start with these bytes
    externals: bool  # its condition reads external variables


def _tokens(source: str) -> list[_Token]:
    return [_Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(source) if m.lastgroup is None]


def _split(source: str) -> tuple[list[str], list[_Rule], bool]:
    """A rule file -> (its import/include lines, its rules, whether they must stay together:
    rules naming other rules, ``global`` rules, includes). Raises ValueError when the text is
    not read as expected (the file is then kept whole)."""
    tokens = _tokens(source)
    heads: list[str] = []
    parsed: list[tuple[str, str, list[_Token]]] = []
    linked = False
    i = 0
    while i < len(tokens):
        if tokens[i].text in ("import", "include"):
            linked |= tokens[i].text == "include"
            heads.append(source[tokens[i].start : tokens[i + 1].end])
            i += 2
            continue
        start = tokens[i].start
        while tokens[i].text in ("private", "global"):
            linked |= tokens[i].text == "global"
            i += 1
        if tokens[i].text != "rule":
            raise ValueError(f"unexpected {tokens[i].text!r} at offset {tokens[i].start}")
        name = tokens[i + 1].text
        j = i + 2
        while tokens[j].text != "{":
            j += 1
        condition = None
        k = j + 1
        while tokens[k].text != "}":
            if condition is None and tokens[k].text == "condition" and tokens[k + 1].text == ":":
                condition = k + 2
            k += 1
        if condition is None:
            raise ValueError(f"rule {name} has no condition")
        parsed.append((name, source[start : tokens[k].end], tokens[condition:k]))
        i = k + 1
    names = {name for name, _, _ in parsed}
    rules = []
    for name, text, condition in parsed:
        words = [t.text for t in condition]
        for n, word in enumerate(words):
            if word in names or (
                word[0].isalpha() and words[n + 1 : n + 2] == ["*"] and n and words[n - 1] in ("(", ",")
            ):
                linked = True  # a rule naming another rule, or a set of rules (name*)
        max_size, prefix = _requires(words)
        rules.append(_Rule(name, text, max_size, prefix, any(w in EXTERNALS for w in words)))
    return heads, rules, linked


def _requires(words: list[str]) -> tuple[int | None, bytes | None]:
    """(size bound, first bytes) a condition requires: its top-level ``and`` terms of the forms
    ``filesize < N`` / ``filesize <= N`` and ``uintNN[be](0) == X``; nothing when it has an
    ``or`` outside parentheses (its terms are then not all required)."""
    terms: list[list[str]] = [[]]
    depth = 0
    for word in words:
        depth += (word in ("(", "[")) - (word in (")", "]"))
        if depth == 0 and word == "or":
            return None, None
        if depth == 0 and word == "and":
            terms.append([])
        else:
            terms[-1].append(word)
    max_size: int | None = None
    prefix: bytes | None = None
    for term in terms:
        while len(term) > 2 and term[0] == "(" and term[-1] == ")" and "(" not in term[1:-1]:
            term = term[1:-1]
        if len(term) == 3 and term[0] == "filesize" and term[1] in ("<", "<="):
            bound = _number(term[2])
            if bound is not None:
                bound += term[1] == "<="
                max_size = bound if max_size is None else min(max_size, bound)
        elif len(term) == 6 and term[0] in _WIDTHS and term[1:5] == ["(", "0", ")", "=="]:
            value = _number(term[5])
            width, order = _WIDTHS[term[0]]
            if value is not None and 0 <= value < 1 << (8 * width):
                first = value.to_bytes(width, order)  # type: ignore[arg-type]
                if prefix is None or len(first) > len(prefix):
                    prefix = first
    return max_size, prefix


def _number(text: str) -> int | None:
    factor = 1
    for unit, size in _UNITS.items():
        if text.endswith(unit):
            text, factor = text[: -len(unit)], size
    try:
        return int(text, 0) * factor
    except ValueError:
        return None


def _kind(head: bytes) -> int:
    """The prefilter kind of a file: the index of the first of ``_KINDS`` it starts with, or
    ``len(_KINDS)`` (none)."""
    for n, magic in enumerate(_KINDS):
        if head.startswith(magic):
            return n
    return len(_KINDS)


def _fits(rule: _Rule, kind: int, low: int) -> bool:
    """Whether ``rule`` can match some file of ``kind`` whose size is at least ``low``."""
    if rule.max_size is not None and rule.max_size <= low:
        return False
    if rule.prefix is None:
        return True
    if kind < len(_KINDS):
        magic = _KINDS[kind]
        common = min(len(magic), len(rule.prefix))
        return rule.prefix[:common] == magic[:common]
    return not any(rule.prefix.startswith(magic) for magic in _KINDS)


# -- compiling ---------------------------------------------------------------------------------


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
        if prefilter:
            band = max(n for n, low in enumerate(SIZE_CLASSES) if size >= low)
            index = self._classes[(kind, band)]
        else:
            index = self._classes[(-1, 0)]
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
        everything = tuple((p, None) for p in sources)
        total = sum(len(s[1]) for s in split.values() if s is not None)
        chosen: dict[tuple, int] = {everything: 0}
        for kind in range(len(_KINDS) + 1):
            for band, low in enumerate(SIZE_CLASSES):
                selection = tuple((p, _selection(split[p], kind, low)) for p in sources)
                dropped = sum(len(split[p][1]) - len(kept) for p, kept in selection if kept is not None)  # type: ignore[index]
                if dropped <= total * _KEEP_ALL:
                    selection = everything
                if selection not in chosen:
                    texts = {p: _text(sources[p], split[p], kept) for p, kept in selection if kept != ()}
                    try:
                        rules_x = _build(texts, namespaces, externals)
                    except (yara_x.CompileError, ValueError):  # not read as expected: all rules
                        chosen[selection] = 0
                    else:
                        chosen[selection] = len(sets)
                        sets.append(_serialise(rules_x))
                        live.append(rules_x)
                classes[(kind, band)] = chosen[selection]
    rule_files = [outcome[p] for p in files]
    ruleset = RuleSet(
        rule_files, sets, classes, python, tuple(externals), frozenset(uses_externals), live, warnings
    )
    if not files:
        given = ", ".join(map(str, [paths] if isinstance(paths, (str, Path)) else paths))
        return ruleset, [YaraWarning("compile", given, "no rule files (*.yar, *.yara) found")]
    return ruleset, ruleset.warnings


def _count_rules(text: str) -> int:
    """Rules in a source the splitter could not read: lines that start one (a close count)."""
    return len(re.findall(r"^\s*(?:(?:private|global)\s+)*rule\s+\w", text, re.MULTILINE))


def _selection(split: tuple[list[str], list[_Rule]] | None, kind: int, low: int) -> tuple[str, ...] | None:
    """The names of a file's rules that can match a file of ``kind`` of at least ``low``
    bytes; None for all of them (or a file kept whole)."""
    if split is None:
        return None
    kept = tuple(r.name for r in split[1] if _fits(r, kind, low))
    return None if len(kept) == len(split[1]) else kept


def _text(source: str, split: tuple[list[str], list[_Rule]] | None, kept: tuple[str, ...] | None) -> str:
    """A file's source with only the ``kept`` rules (None: all, as written)."""
    if kept is None or split is None:
        return source
    names = set(kept)
    heads, rules = split
    return "\n".join([*heads, *(r.text for r in rules if r.name in names)]) + "\n"


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


# -- scanning ----------------------------------------------------------------------------------


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


def _unit_name(unit: tuple) -> str:
    """A work unit for a warning: its first file (and how many more), or the image's share."""
    if unit[0] == "files":
        more = len(unit[1]) - 1
        return unit[1][0][0] + (f" and {more} more files" if more else "")
    return f"{unit[1]} (share {unit[3] + 1} of {unit[4]})" if unit[4] > 1 else unit[1]


def _merge(into: ScanResult, part: ScanResult) -> None:
    into.matches.extend(part.matches)
    into.warnings.extend(part.warnings)
    into.files += part.files
    into.bytes += part.bytes


def _plan(
    targets: list[str | Path | DiskImage], max_size: int | None, jobs: int
) -> tuple[list[tuple], ScanResult]:
    """Work units: ("files", ((path, size), ...)) batches of loose files, ("image", path,
    evidence_id, shard, shards) shares of an image's files. Files over ``max_size`` and paths
    that cannot be read are reported in the result here."""
    result = ScanResult()
    units: list[tuple] = []
    batch: list[tuple[str, int]] = []
    total = 0
    seen: set[str] = set()  # a file reached twice (a folder and a file in it) is scanned once
    for target in targets:
        if isinstance(target, DiskImage):
            image = _abs(target.path)
            try:
                size = os.stat(image).st_size
            except OSError as exc:
                result.warnings.append(YaraWarning("image", image, _one_line(exc)))
                continue
            shards = max(1, min(4 * jobs, math.ceil(size / _SHARD_BYTES)))
            units.extend(("image", image, target.evidence_id, k, shards) for k in range(shards))
            continue
        for path, size, problem in _walk(Path(target)):
            if path in seen:
                continue
            seen.add(path)
            if problem is not None:
                result.warnings.append(YaraWarning("read", path, problem))
            elif max_size is not None and size > max_size:
                result.warnings.append(YaraWarning("size", path, _too_large(size, max_size)))
            else:
                batch.append((path, size))
                total += size
                if len(batch) >= _UNIT_FILES or total >= _UNIT_BYTES:
                    units.append(("files", tuple(batch)))
                    batch, total = [], 0
    if batch:
        units.append(("files", tuple(batch)))
    return units, result


def _walk(path: Path) -> Iterator[tuple[str, int, str | None]]:
    """(path, size, None) of every regular file at or under ``path``; (path, 0, reason) for
    what cannot be read. Folders are not followed through symbolic links."""
    path = path.expanduser().absolute()
    try:
        info = path.stat()
    except OSError as exc:
        yield str(path), 0, _one_line(exc)
        return
    if not stat.S_ISDIR(info.st_mode):
        if stat.S_ISREG(info.st_mode):
            yield str(path), info.st_size, None
        return
    for root, dirs, names in os.walk(path, onerror=None):
        dirs.sort()
        for name in sorted(names):
            if name.startswith(".carving-"):  # a carve still being written (forensics ingest --carve)
                continue
            full = os.path.join(root, name)
            try:
                info = os.stat(full)
            except OSError as exc:
                yield full, 0, _one_line(exc)
                continue
            if stat.S_ISREG(info.st_mode):
                yield full, info.st_size, None


def _too_large(size: int, max_size: int) -> str:
    return f"{size:,} bytes, over the {max_size:,}-byte limit: not scanned"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


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
        self._image: tuple[str, list[Any] | str, BinaryIO | None] | None = None

    def close(self) -> None:
        if self._image is not None and self._image[2] is not None:
            self._image[2].close()
        self._image = None

    def run(self, unit: tuple) -> ScanResult:
        out = ScanResult()
        if unit[0] == "files":
            # Read the batch, then scan it grouped by rule set: a scanner stays warm in the
            # CPU caches for its files (a few % faster than alternating scanners).
            loaded = [self._read(path, out) for path, _ in unit[1]]
            files = sorted((x for x in loaded if x is not None), key=lambda x: self._set_of(x[1]))
            for path, data, info in files:
                mtime = datetime.fromtimestamp(info.st_mtime, UTC)
                self._scan(data, path, _owner(info.st_uid), out, None, None, mtime)
        else:
            self._image_share(*unit[1:], out)
        return out

    def _set_of(self, data: bytes) -> int:
        return id(self.ruleset.yara_x(_kind(data[:8]), len(data), self.prefilter))

    # -- reading ---------------------------------------------------------------------------
    def _read(self, path: str, out: ScanResult) -> tuple[str, bytes, os.stat_result] | None:
        try:
            with open(path, "rb") as fh:
                info = os.fstat(fh.fileno())
                data = fh.read() if self.max_size is None else fh.read(self.max_size + 1)
        except OSError as exc:
            out.warnings.append(YaraWarning("read", path, _one_line(exc)))
            return None
        if self.max_size is not None and len(data) > self.max_size:  # grew since it was listed
            out.warnings.append(YaraWarning("size", path, _too_large(len(data), self.max_size)))
            return None
        return path, data, info

    def _image_share(
        self, image: str, evidence_id: str | None, shard: int, shards: int, out: ScanResult
    ) -> None:
        files = self._listing(image)
        if isinstance(files, str):
            if shard == 0:
                out.warnings.append(YaraWarning("image", image, files))
            return
        if not files and shard == 0:
            out.warnings.append(
                YaraWarning("image", image, "no files read: no readable file system, or empty")
            )
        for entry in files[shard::shards]:
            where = f"{entry.path} (in {image})"
            if self.max_size is not None and entry.size > self.max_size:
                out.warnings.append(YaraWarning("size", where, _too_large(entry.size, self.max_size)))
                continue
            try:
                with entry.open() as stream:
                    data = stream.read()
            except Exception as exc:  # dissect raises its own errors for damaged file systems
                out.warnings.append(YaraWarning("read", where, _one_line(exc)))
                continue
            self._scan(data, entry.path, "", out, image, evidence_id, None)

    def _listing(self, image: str) -> list[Any] | str:
        """The regular files of ``image`` (kept open for this worker's next share of it), or
        why it cannot be read."""
        if self._image is not None and self._image[0] == image:
            return self._image[1]
        self.close()
        from parsers.compressed import detect, open_decompressed
        from parsers.disk_image import image_files

        fh: BinaryIO | None = None
        try:
            fh = open(image, "rb")  # noqa: SIM115 (kept open while this worker reads the image)
            kind = detect(fh.read(8))
            fh.seek(0)
            stream: BinaryIO = open_decompressed(fh, kind) if kind else fh
            listing: list[Any] | str = list(image_files(stream))
        except Exception as exc:  # an image dissect.target cannot open: reported, others go on
            listing = f"cannot open the image: {_one_line(exc)}"
        self._image = (image, listing, fh)
        return listing

    # -- scanning --------------------------------------------------------------------------
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


def _externals(path: str, head: bytes, owner: str) -> dict[str, str]:
    """The external variables' values for one file (see the module's documentation)."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    dot = name.rfind(".")
    extension = name[dot:].lower() if dot > 0 else ""
    filetype = next((kind for magic, kind in _FILETYPES if head.startswith(magic)), None)
    if filetype is None:
        filetype = _SUFFIX_TYPES.get(extension, "")
    return {"filename": name, "filepath": path, "extension": extension, "filetype": filetype, "owner": owner}


def _owner(uid: int) -> str:
    try:
        import pwd
    except ImportError:  # Windows: no account database here
        return ""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


# -- over a case -------------------------------------------------------------------------------


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


def _abs(path: str | Path) -> str:
    return str(Path(path).expanduser().absolute())


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
            out.append((match.mtime, "Modified", "modification time on disk", host))
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
