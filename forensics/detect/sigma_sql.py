"""Sigma detections -> DuckDB SQL boolean expressions.

The compiler walks the condition tree pySigma parses (``SigmaRule.detection.parsed_condition``:
AND/OR/NOT over field = value leaves, with ``1 of``/``all of`` selectors, modifiers and
expansions such as ``windash`` and ``base64offset`` already applied) rather than subclassing
pySigma's ``TextQueryBackend``: the leaves need the target's field meanings (a Sigma field is a
column, a map value, a CASE over two event kinds or a list), and a text backend's token tables
cannot say "this field is a list, match any element" or "this regex is not RE2, call Python".

An expression is over one *group table* per target (``forensics.detect.sigma``): each Sigma
field a rule uses is a column there, extracted once, ``"r:<field>"`` as stored and
``"l:<field>"`` lower-cased (made from it where a query needs it), so the thousands of rules of a
log source never read the ``fields`` map again. ``Compiled.reads`` lists the columns a rule
reads, so that it can run over their distinct values. Sigma's value semantics:

* strings match whole values, case-insensitively (``cased``: exactly); ``*`` and ``?`` are
  wildcards (``\\*``, ``\\?`` literal): plain values compare with ``=``/``IN``, ``x*``, ``*x``,
  ``*x*`` use ``starts_with``/``ends_with``/``contains``, others ``LIKE``;
* ``re`` uses RE2 (``regexp_matches``, a partial match, ``i``/``m``/``s`` as inline flags); a
  pattern RE2 cannot take (look-around, back-references) is matched by Python's ``re`` in a
  DuckDB function, on the rows the rest of the rule lets through;
* ``cidr`` expands to address prefixes, ``lt``/``gt``... compare numbers, ``exists`` tests the
  field, ``fieldref`` compares two fields, ``null`` matches absent or empty values, numbers and
  booleans compare as the text Windows writes;
* ``expand`` placeholders take the values given to ``compile_rule``; a missing one is reported;
* keywords (values without a field) are searched, case-insensitively (RE2 ``(?is)``, ``*``
  and ``?`` the only wildcards), anywhere in the row's text (``"k:keywords"``: for Windows
  events their data values, for other logs the message and values);
* a missing field matches nothing, and ``not`` of it is true (two-valued logic: ``NOT``
  wraps its argument in ``coalesce(..., false)``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import duckdb
from pyparsing import ParseResults
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
    SigmaCondition,
)
from sigma.exceptions import SigmaError, SigmaValueError
from sigma.modifiers import SigmaValueModifier, SigmaWideModifier, modifier_mapping, reverse_modifier_mapping
from sigma.rule import SigmaRule
from sigma.types import (
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from forensics.detect.sigma_fields import Target, sql_string

__all__ = [
    "KEYWORD_COLUMN",
    "PY_REGEX_FUNCTION",
    "Columns",
    "SigmaUnsupported",
    "compile_condition",
    "parse_condition",
    "python_regex",
]

#: The DuckDB function (registered by the evaluator) matching Python-only regular expressions.
PY_REGEX_FUNCTION = "sigma_py_regex"
KEYWORDS = "keywords"
#: The group-table column keywords search ("k:", apart from the "r:"/"l:" of Sigma fields).
KEYWORD_COLUMN = f"k:{KEYWORDS}"


class SigmaUnsupported(Exception):
    """A rule uses something this engine cannot evaluate; the message says what, in one line."""


# -- modifiers pySigma 0.11 lacks: utf16le / utf16be (Sigma spec), registered once -----------


class _Utf16BEModifier(SigmaValueModifier):
    """Encode a string as UTF-16BE (each character preceded by a zero byte)."""

    def modify(self, val: SigmaString) -> SigmaString:
        parts = []
        for item in val.s:
            if isinstance(item, str):
                if not item.isascii():
                    raise SigmaValueError("utf16be only applies to ASCII strings", source=self.source)
                parts.append("".join("\x00" + c for c in item))
            else:
                parts.append(item)
        s = SigmaString()
        s.s = tuple(parts)
        return s


for _name, _cls in (("utf16le", SigmaWideModifier), ("utf16be", _Utf16BEModifier)):
    modifier_mapping.setdefault(_name, _cls)
reverse_modifier_mapping.setdefault(_Utf16BEModifier.__name__, "utf16be")


# -- columns of a group table ----------------------------------------------------------------


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class Columns:
    """The group-table columns compiled rules of one target use: name -> SQL over timeline_rows."""

    target: Target
    exprs: dict[str, str] = field(default_factory=dict)
    lists: set[str] = field(default_factory=set)

    def raw(self, name: str) -> tuple[str, bool]:
        ref = self.target.field(name)
        column = f"r:{name}"
        self.exprs.setdefault(column, ref.sql)
        if ref.is_list:
            self.lists.add(column)
        return quote(column), ref.is_list

    def lower(self, name: str) -> tuple[str, bool]:
        """The lower-cased column, computed from the raw one (a DuckDB lateral alias)."""
        raw, is_list = self.raw(name)
        column = f"l:{name}"
        if column not in self.exprs:
            self.exprs[column] = f"list_transform({raw}, lambda v: lower(v))" if is_list else f"lower({raw})"
        if is_list:
            self.lists.add(column)
        return quote(column), is_list

    def keywords(self) -> str:
        """The row's whole text (message and field values) as stored, for keyword searches."""
        self.exprs.setdefault(KEYWORD_COLUMN, self.target.keywords)
        return quote(KEYWORD_COLUMN)


# -- Python-only regular expressions ---------------------------------------------------------

_PY_PATTERNS: list[re.Pattern] = []
_PY_INDEX: dict[tuple[str, int], int] = {}


def python_regex(value: str | None, index: int) -> bool | None:
    """The function behind ``sigma_py_regex(value, pattern index)``."""
    if value is None:
        return None
    return _PY_PATTERNS[index].search(value) is not None


_RE2_CHECK: list[duckdb.DuckDBPyConnection] = []


@lru_cache(maxsize=4096)
def re2_accepts(pattern: str) -> bool:
    """Whether DuckDB's RE2 compiles ``pattern`` (look-around and back-references it does not)."""
    if not _RE2_CHECK:
        _RE2_CHECK.append(duckdb.connect())
    try:
        _RE2_CHECK[0].execute(f"SELECT regexp_matches('', {sql_string(pattern)})").fetchall()
    except duckdb.Error:
        return False
    return True


_PY_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
    SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
    SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
}
_RE2_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: "i",
    SigmaRegularExpressionFlag.MULTILINE: "m",
    SigmaRegularExpressionFlag.DOTALL: "s",
}


# -- compilation -----------------------------------------------------------------------------


@dataclass
class _Sql:
    """A compiled node. ``simple`` = (op, column, text) for the plain leaves an OR merges:
    ``eq`` into ``IN``, many ``contains``/``prefix``/``suffix`` of one column into one RE2
    alternation (one automaton instead of hundreds of scans and a long OR to plan)."""

    text: str
    simple: tuple[str, str, str] | None = None
    cost: int = 0  # 1: calls Python, evaluated after the rest of an AND


#: From this many contains/starts_with/ends_with of one column in one OR, use one regex.
MERGE_AT = 4
#: Keywords: case-insensitive, ``.`` (Sigma's ``?``, ``*``) across the text's line breaks.
_KEYWORD_FLAGS = "(?is)"


@dataclass
class Compiled:
    sql: str
    fields: list[str]
    keywords: dict[str, str]  # keyword as written -> regular expression (case-insensitive, dotall)
    python_regex: int = 0
    #: The group-table columns the SQL reads (unquoted names), for evaluating it over their
    #: distinct values.
    reads: tuple[str, ...] = ()


def compile_condition(
    rule: SigmaRule, columns: Columns, placeholders: Mapping[str, Sequence[str]] | None = None
) -> Compiled:
    """The rule's detection as one SQL boolean over the group table of ``columns.target``."""
    compiler = _Compiler(columns, placeholders or {})
    try:
        trees = [parse_condition(condition) for condition in rule.detection.parsed_condition]
    except SigmaError as e:
        raise SigmaUnsupported(f"condition: {_one_line(e)}") from e
    parts = [compiler.node(tree).text for tree in trees]
    sql = parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"
    return Compiled(
        sql,
        list(dict.fromkeys(compiler.fields)),
        compiler.keywords,
        compiler.python,
        tuple(compiler.columns.read),
    )


def parse_condition(condition: SigmaCondition) -> object:
    """``condition.parsed``, also under pyparsing >= 3.3, where a parenthesised sub-condition
    comes back wrapped in a ``ParseResults`` that pySigma 0.11's post-processing cannot take
    (``'str' object is not callable``): unwrap the parse tree, then post-process it."""
    tree = _unwrap(condition.parse(postprocess=False))
    return tree.postprocess(condition.detections, source=condition.source)


def _unwrap(node: object) -> object:
    while isinstance(node, ParseResults):
        node = node[0]
    if isinstance(node, (ConditionAND, ConditionOR, ConditionNOT)):
        node.args = [_unwrap(a) for a in node.args]
    return node


def _one_line(error: BaseException) -> str:
    text = error.args[0] if error.args else str(error)
    return " ".join(str(text).split())


class _Reads:
    """The ``Columns`` of a group, recording which columns one rule's SQL reads."""

    def __init__(self, columns: Columns) -> None:
        self.columns = columns
        self.read: dict[str, None] = {}

    def _note(self, quoted: str) -> str:
        self.read[quoted[1:-1].replace('""', '"')] = None
        return quoted

    def raw(self, name: str) -> tuple[str, bool]:
        column, is_list = self.columns.raw(name)
        return self._note(column), is_list

    def lower(self, name: str) -> tuple[str, bool]:
        column, is_list = self.columns.lower(name)
        return self._note(column), is_list

    def keywords(self) -> str:
        return self._note(self.columns.keywords())


class _Compiler:
    def __init__(self, columns: Columns, placeholders: Mapping[str, Sequence[str]]) -> None:
        self.columns = _Reads(columns)
        self.placeholders = placeholders
        self.fields: list[str] = []
        self.keywords: dict[str, str] = {}  # keyword as written -> its regular expression
        self.python = 0

    def node(self, node: object) -> _Sql:
        if isinstance(node, ConditionAND):
            children = sorted((self.node(a) for a in node.args), key=lambda c: c.cost)
            return _Sql(
                "(" + " AND ".join(c.text for c in children) + ")", cost=max(c.cost for c in children)
            )
        if isinstance(node, ConditionOR):
            return self._or([self.node(a) for a in node.args])
        if isinstance(node, ConditionNOT):
            inner = self.node(node.args[0])
            return _Sql(f"(NOT coalesce({inner.text}, false))", cost=inner.cost)
        if isinstance(node, ConditionFieldEqualsValueExpression):
            self.fields.append(node.field)
            return self.leaf(node.field, node.value)
        if isinstance(node, ConditionValueExpression):
            return self.keyword(node.value)
        raise SigmaUnsupported(f"condition element {type(node).__name__}")

    @staticmethod
    def _or(children: list[_Sql]) -> _Sql:
        if len(children) == 1:
            return children[0]
        merged: dict[tuple[str, str], list[str]] = {}
        rest: list[_Sql] = []
        for child in children:
            if child.simple:
                op, column, text = child.simple
                merged.setdefault((op, column), []).append(text)
            else:
                rest.append(child)
        texts = []
        for (op, column), values in merged.items():
            unique = list(dict.fromkeys(values))
            if op == "keyword":
                alternation = unique[0] if len(unique) == 1 else "(?:" + "|".join(unique) + ")"
                texts.append(f"regexp_matches({column}, {sql_string(_KEYWORD_FLAGS + alternation)})")
            elif op == "eq":
                literals = ", ".join(map(sql_string, unique))
                texts.append(f"{column} = {literals}" if len(unique) == 1 else f"{column} IN ({literals})")
            elif len(unique) >= MERGE_AT:
                alternation = "|".join(re.escape(v) for v in unique)
                pattern = {"contains": "(?:{})", "prefix": "^(?:{})", "suffix": "(?:{})$"}[op].format(
                    alternation
                )
                # escaped literals: always RE2
                texts.append(f"regexp_matches({column}, {sql_string(pattern)})")
            else:
                texts += [_simple_sql(op, column, v) for v in unique]
        rest.sort(key=lambda c: c.cost)
        texts += [c.text for c in rest]
        cost = max((c.cost for c in rest), default=0)
        if len(texts) == 1:
            return _Sql(texts[0], cost=cost)
        return _Sql("(" + " OR ".join(texts) + ")", cost=cost)

    # -- leaves --------------------------------------------------------------------------
    def keyword(self, value: object) -> _Sql:
        column = self.columns.keywords()
        if isinstance(value, SigmaNumber):
            value = SigmaString(str(value.number))
        if isinstance(value, SigmaExpansion):
            return self._or([self.keyword(v) for v in value.values])
        if isinstance(value, SigmaRegularExpression):
            return self._regex(column, False, value, lowered=True)
        if not isinstance(value, SigmaString):
            raise SigmaUnsupported(f"keyword of type {type(value).__name__}")
        texts = [self._keyword_string(column, s) for s in self._expand(value)]
        return texts[0] if len(texts) == 1 else self._or(texts)

    def _keyword_string(self, column: str, value: SigmaString) -> _Sql:
        """A keyword: found anywhere in the row's text, case-insensitively, as an RE2 search of
        the text as stored (cheaper than lower-casing every row's whole text first)."""
        parts = list(value.s)
        multi, single = SpecialChars.WILDCARD_MULTI, SpecialChars.WILDCARD_SINGLE
        written = "".join(p if isinstance(p, str) else "*" if p == multi else "?" for p in parts)
        while parts and parts[0] == multi:  # a search: leading and trailing '*' add nothing
            parts.pop(0)
        while parts and parts[-1] == multi:
            parts.pop()
        pattern = []
        for p in parts:
            if isinstance(p, Placeholder):
                raise SigmaUnsupported(f"placeholder %{p.name}% not provided (expand modifier)")
            pattern.append(".*" if p == multi else "." if p == single else re.escape(p))
        text = "".join(pattern)
        self.keywords[written] = text
        return _Sql(
            f"regexp_matches({column}, {sql_string(_KEYWORD_FLAGS + text)})", ("keyword", column, text)
        )

    def leaf(self, name: str, value: object) -> _Sql:
        if isinstance(value, SigmaExpansion):
            return self._or([self.leaf(name, v) for v in value.values])
        if isinstance(value, SigmaString):  # SigmaCasedString (the cased modifier) is one too
            lower = not isinstance(value, SigmaCasedString)
            column, is_list = (self.columns.lower if lower else self.columns.raw)(name)
            return _on(
                column,
                is_list,
                lambda c: [string_match(c, list(s.s), lower=lower) for s in self._expand(value)],
            )
        if isinstance(value, SigmaBool):
            column, is_list = self.columns.lower(name)
            literal = sql_string("true" if value.boolean else "false")
            return _on(column, is_list, lambda c: [_Sql(f"{c} = {literal}", ("eq", c, literal[1:-1]))])
        if isinstance(value, SigmaNumber):
            if getattr(value, "timestamp_part", None) is not None:
                raise SigmaUnsupported(f"timestamp part modifier on {name}")
            column, is_list = self.columns.raw(name)
            text = str(value.number)
            return _on(column, is_list, lambda c: [_Sql(f"{c} = {sql_string(text)}", ("eq", c, text))])
        if isinstance(value, SigmaNull):
            column, is_list = self.columns.raw(name)
            if is_list:
                return _Sql(
                    f"coalesce(len(list_filter({column}, lambda v: v IS NOT NULL AND v <> '')) = 0, true)"
                )
            return _Sql(f"({column} IS NULL OR {column} = '')")
        if isinstance(value, SigmaExists):
            column, is_list = self.columns.raw(name)
            test = f"coalesce(len({column}) > 0, false)" if is_list else f"{column} IS NOT NULL"
            return _Sql(test if value.exists else f"(NOT {test})")
        if isinstance(value, SigmaRegularExpression):
            column, is_list = self.columns.raw(name)
            return _on(column, is_list, lambda c: [self._regex(c, False, value, lowered=False)])
        if isinstance(value, SigmaCIDRExpression):
            column, is_list = self.columns.lower(name)
            prefixes = [SigmaString(p.lower()) for p in value.expand()]
            return _on(column, is_list, lambda c: [string_match(c, list(p.s), lower=True) for p in prefixes])
        if isinstance(value, SigmaCompareExpression):
            column, is_list = self.columns.raw(name)
            op = {"LT": "<", "LTE": "<=", "GT": ">", "GTE": ">="}[value.op.name]
            number = value.number.number
            return _on(column, is_list, lambda c: [_Sql(f"TRY_CAST({c} AS DOUBLE) {op} {number!r}")])
        if isinstance(value, SigmaFieldReference):
            left, left_list = self.columns.lower(name)
            right, right_list = self.columns.lower(value.field)
            self.fields.append(value.field)
            if left_list or right_list:
                raise SigmaUnsupported(f"fieldref between list-valued fields {name}, {value.field}")
            return _Sql(f"{left} = {right}")
        raise SigmaUnsupported(f"value of type {type(value).__name__} on field {name}")

    def _regex(self, column: str, is_list: bool, value: SigmaRegularExpression, *, lowered: bool) -> _Sql:
        flags = "".join(sorted(_RE2_FLAGS[f] for f in value.flags))
        if lowered and "i" not in flags:
            flags += "i"  # the keyword column is lower-cased: only a case-insensitive match is exact
        pattern = (f"(?{flags})" if flags else "") + value.regexp
        if re2_accepts(pattern):
            return _Sql(f"regexp_matches({column}, {sql_string(pattern)})")
        py_flags = 0
        for flag in value.flags:
            py_flags |= _PY_FLAGS[flag]
        if lowered:
            py_flags |= re.IGNORECASE
        key = (value.regexp, py_flags)
        index = _PY_INDEX.get(key)
        if index is None:
            index = _PY_INDEX[key] = len(_PY_PATTERNS)
            _PY_PATTERNS.append(re.compile(value.regexp, py_flags))
        self.python += 1
        return _Sql(f"{PY_REGEX_FUNCTION}({column}, {index})", cost=1)

    def _expand(self, value: SigmaString) -> list[SigmaString]:
        """A string with ``%name%`` placeholders (``expand``) -> one string per combination of
        the values given for them (values may hold wildcards)."""
        if not value.contains_placeholder():
            return [value]
        results = [SigmaString()]
        for part in value.s:
            if isinstance(part, Placeholder):
                given = self.placeholders.get(part.name)
                if not given:
                    raise SigmaUnsupported(f"placeholder %{part.name}% not provided (expand modifier)")
                results = [r + SigmaString(v) for r in results for v in given]
            else:
                results = [r + part for r in results]
        return results


def _on(column: str, is_list: bool, make) -> _Sql:
    """Leaves over ``column``; for a list-valued field, true when any element matches."""
    if not is_list:
        leaves = make(column)
        return leaves[0] if len(leaves) == 1 else _Compiler._or(leaves)
    leaves = make("v")
    inner = leaves[0] if len(leaves) == 1 else _Compiler._or(leaves)
    return _Sql(f"(len(list_filter({column}, lambda v: {inner.text})) > 0)", cost=inner.cost)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _simple_sql(op: str, column: str, text: str) -> str:
    function = {"contains": "contains", "prefix": "starts_with", "suffix": "ends_with"}.get(op)
    if function is None:
        return f"{column} = {sql_string(text)}"
    return f"{function}({column}, {sql_string(text)})"


def string_match(column: str, parts: list, *, lower: bool) -> _Sql:
    """SQL for a Sigma string (plain text and wildcard parts) against ``column``."""
    parts = [p.lower() if lower and isinstance(p, str) else p for p in parts]
    for p in parts:
        if isinstance(p, Placeholder):
            raise SigmaUnsupported(f"placeholder %{p.name}% not provided (expand modifier)")
    multi, single = SpecialChars.WILDCARD_MULTI, SpecialChars.WILDCARD_SINGLE
    collapsed: list = []  # runs of '*' as one, adjacent texts joined
    for p in parts:
        if p == multi and collapsed and collapsed[-1] == multi:
            continue
        if isinstance(p, str) and collapsed and isinstance(collapsed[-1], str):
            collapsed[-1] += p
        else:
            collapsed.append(p)
    parts = collapsed
    if not parts:
        return _Sql(f"{column} = ''", ("eq", column, ""))
    if parts == [multi]:
        return _Sql(f"{column} IS NOT NULL")
    if single not in parts:
        texts = [p for p in parts if isinstance(p, str)]
        if len(texts) == 1:
            op = {
                (False,): "eq",
                (True, False, True): "contains",
                (False, True): "prefix",
                (True, False): "suffix",
            }.get(tuple(p == multi for p in parts))
            if op:
                return _Sql(_simple_sql(op, column, texts[0]), (op, column, texts[0]))
    pattern = "".join("%" if p == multi else "_" if p == single else _escape_like(p) for p in parts)
    if "\\" in pattern:
        return _Sql(f"{column} LIKE {sql_string(pattern)} ESCAPE '\\'")
    return _Sql(f"{column} LIKE {sql_string(pattern)}")
