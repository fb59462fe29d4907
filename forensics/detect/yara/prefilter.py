"""The prefilter: rules' conditions read, and which rules each class of file (header, size) gets.

Scanning time grows with the rules and patterns searched, and many rules can only match some
files: of signature-base's 5,883 rules, 2,102 require ``uint16(0) == 0x5a4d`` (an MZ header) and
2,209 a ``filesize`` under 1 MiB. Each rule's condition is read and, when it is a conjunction (no
``or`` outside parentheses) with ``filesize < N`` or ``uintNN(0) == X`` terms, the rule is left
out of the rule sets for files those terms rule out: one yara-x rule set per class of file
(starts with ``MZ`` or not; under 1 MiB or not), each with only the rules that can still match
such a file, and all the rules where a class would drop fewer than 10 % (with signature-base: MZ
files under 1 MiB). Results are the same as with all the rules (a rule left out could not match:
one of its required terms is false); the tests check it on signature-base. Files whose rules
refer to each other (by name or ``name*`` sets), have ``global`` rules or ``include`` files stay
whole in every set. It costs compile time (signature-base: ~10 s for four sets rather than ~3 s
for one) and saves a fifth to a quarter of the scanning CPU time on the benchmark's files.

This module only reads rule text (a tokenizer as far as splitting rules and reading conditions
needs) and chooses; ``rules`` compiles the sets and ``RuleSet.yara_x`` hands out one per file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from forensics.detect.yara.externals import EXTERNALS

#: Lower bounds of the prefilter's size classes (a file of size s is in the last class <= s).
SIZE_CLASSES = (0, 1 << 20)
#: A prefilter class that would leave out no more than this share of the rules uses them all.
_KEEP_ALL = 0.1

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


def _size_class(size: int) -> int:
    """The prefilter size class of a file of ``size`` bytes: an index into ``SIZE_CLASSES``."""
    return max(n for n, low in enumerate(SIZE_CLASSES) if size >= low)


def _classes(
    sources: dict[str, str], split: dict[str, tuple[list[str], list[_Rule]] | None]
) -> Iterator[tuple[tuple[int, int], tuple[tuple[str, tuple[str, ...] | None], ...] | None]]:
    """Per prefilter class, (kind, size class): the rules its set keeps, as (path, the names of
    the rules kept or None for all) per rule file; None for all the rules, where the class
    would leave out no more than ``_KEEP_ALL`` of them."""
    total = sum(len(s[1]) for s in split.values() if s is not None)
    for kind in range(len(_KINDS) + 1):
        for band, low in enumerate(SIZE_CLASSES):
            selection = tuple((p, _selection(split[p], kind, low)) for p in sources)
            dropped = sum(len(split[p][1]) - len(kept) for p, kept in selection if kept is not None)  # type: ignore[index]
            yield (kind, band), None if dropped <= total * _KEEP_ALL else selection


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
